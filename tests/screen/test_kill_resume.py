"""SIGKILL a screening run at several points, resume: exactly one row per input, equal to a clean run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cardionets.screen import ShardStore, screen


def _start(inputs, model, out, failpoint=None):
    cmd = [sys.executable, "-m", "cardionets", "screen", str(inputs), "--model", str(model), "--out", str(out),
           "--batch-size", "2", "--shard-size", "3", "--no-progress", "--threads", "1"]
    env = dict(os.environ)
    env.pop("CARDIONETS_FAILPOINT", None)
    if failpoint:
        env["CARDIONETS_FAILPOINT"] = failpoint
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env)


def test_sigkill_then_resume(screen_cohort, screen_model, tmp_path):
    clean = tmp_path / "clean"
    screen([screen_cohort], screen_model, clean, merge=True, progress=False)
    out = tmp_path / "killed"
    shards = out / "shards"
    # two SIGKILLs at known points (a timer alone races a fast machine: CI once finished all 40 records
    # before the kill landed): right after the first shard is durable, then between a shard's fsync
    # and its rename, which leaves a temp file behind
    for point in ("after_commit:1", "before_rename:2"):
        proc = _start(screen_cohort, screen_model, out, failpoint=point)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, err.decode()[-2000:])
    assert list(shards.glob(".tmp-*")), "the before_rename kill left no temp file"
    n_done = sum(pq.read_metadata(f).num_rows for f in sorted(shards.glob("part-*.parquet")))
    assert 0 < n_done < 40  # the kills did interrupt the run (counted without ShardStore, which cleans up)
    # then kills at timer points: at once after the start (usually mid-import), and after a short random
    # delay (mid-batch or mid-write); either may also land after the run has finished
    rng = np.random.default_rng(0)
    for wait in (0.0, float(rng.uniform(0.5, 2.0))):
        proc = _start(screen_cohort, screen_model, out)
        time.sleep(wait)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    # a crash can also leave a temp file behind; the next start removes it
    shards.mkdir(parents=True, exist_ok=True)
    (shards / ".tmp-part-dead-000000.parquet-1234").write_bytes(b"PAR1 half a shard")
    partial = ShardStore(out).done_paths()
    assert len(partial) >= n_done
    assert not list(shards.glob(".tmp-*"))
    s = screen([screen_cohort], screen_model, out, merge=True, progress=False)
    assert s.skipped_done == len(partial) and s.processed == 40 - len(partial)
    a = pd.read_parquet(clean / "screen.parquet").set_index("path").sort_index()
    b = pd.read_parquet(out / "screen.parquet").set_index("path").sort_index()
    assert len(b) == 40 and b.index.is_unique and list(a.index) == list(b.index)
    cols = [c for c in a.columns if c.startswith(("phenotype.", "prob."))]
    np.testing.assert_allclose(b[cols].to_numpy(), a[cols].to_numpy(), rtol=1e-5, atol=1e-5)
    # every shard row is unique across shards, and a duplicated shard could never duplicate rows
    store = ShardStore(out)
    n_rows = sum(pq.read_metadata(f).num_rows for f in store.shard_files())
    assert n_rows == 40
    f = store.shard_files()[0]
    (f.parent / ("part-zzcopy-" + f.name.split("-", 1)[1])).write_bytes(f.read_bytes())
    assert store.read_all().num_rows == 40


def test_failpoint_spec_errors_are_named(monkeypatch):
    import pytest

    from cardionets.screen.shards import failpoint

    monkeypatch.setenv("CARDIONETS_FAILPOINT", "after_comit:1")
    with pytest.raises(ValueError, match="unknown point 'after_comit'"):
        failpoint("after_commit")
    monkeypatch.setenv("CARDIONETS_FAILPOINT", "after_commit:x")
    with pytest.raises(ValueError, match="must be an integer"):
        failpoint("after_commit")
    monkeypatch.setenv("CARDIONETS_FAILPOINT", "after_commit:2")
    failpoint("before_rename")  # another point: no effect
