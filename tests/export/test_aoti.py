"""AOTInductor package of the screening model (one compile: slow on a loaded 2-core CPU, ~1 min)."""
from __future__ import annotations

import numpy as np

from cardionets.screen import load_screen_model
from cardionets.export.reference import reference_outputs


def test_aoti_package_matches_pytorch(export_model_dir, real_batch, tmp_path):
    from cardionets.export import export_aoti, load_aoti, run_aoti

    m = load_screen_model(export_model_dir)
    pkg = export_aoti(m, tmp_path / "model.pt2", max_batch=8)
    assert pkg.exists() and (tmp_path / "model.pt2.json").exists()
    runner = load_aoti(pkg)
    for x in (real_batch, real_batch[:1]):  # dynamic batch
        got, ref = run_aoti(runner, x), reference_outputs(m, x)
        for g, r in zip(got, ref):
            assert g.shape == r.shape and np.abs(g - r).max() <= 1e-4
