"""--engine ray on a local Ray instance started here on loopback: same rows as the local engine."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cardionets.screen import screen

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")


def test_ray_engine_matches_local(screen_cohort, screen_model, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    heas = sorted(screen_cohort.glob("*.hea"))[:12]
    for h in heas:
        for suf in (".hea", ".dat"):
            (inputs / (h.stem + suf)).symlink_to(h.with_suffix(suf))
    (inputs / "junk.bin").write_bytes(b"\x00junk" * 10)
    (inputs / "empty.xml").write_bytes(b"")
    local = screen([inputs], screen_model, tmp_path / "local", merge=True, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        s = screen([inputs], screen_model, tmp_path / "ray", engine="ray", merge=True, batch_size=4, chunk=4,
                   progress=False)
        assert s.processed == 14 and s.ok == 12
        again = screen([inputs], screen_model, tmp_path / "ray", engine="ray", progress=False)  # resume: nothing left
        assert again.processed == 0 and again.skipped_done == 14
    finally:
        ray.shutdown()
    a = pd.read_parquet(tmp_path / "local" / "screen.parquet").set_index("path").sort_index()
    b = pd.read_parquet(tmp_path / "ray" / "screen.parquet").set_index("path").sort_index()
    assert list(a.index) == list(b.index)
    assert (a["error"].isna() == b["error"].isna()).all()
    cols = [c for c in a.columns if c.startswith(("phenotype.", "prob."))]
    np.testing.assert_allclose(b[cols].to_numpy(), a[cols].to_numpy(), rtol=1e-5, atol=1e-5)
