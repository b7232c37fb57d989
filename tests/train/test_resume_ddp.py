"""Exact resume and DDP equivalence of the training loop (align stage, micro encoders)."""
import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import micro_cfg
from cardionets.train import align
from cardionets.train.checkpoint import load_tensors

HERE = Path(__file__).resolve().parent


def _losses(run: Path, key: str = "loss") -> list[float]:
    with (run / "train_log.csv").open() as fh:
        return [float(r[key]) for r in csv.DictReader(fh)]


def test_resume_reproduces_uninterrupted_run(toy, cmr_run, tmp_path):
    # stochastic depth and EMA on, so RNG and EMA state must survive the interruption too
    over = dict(align={"cmr_from": str(cmr_run)}, encoder={"drop_path": 0.2, "dropout": 0.1},
                optim={"ema_decay": 0.9}, epochs=2)
    full = align(micro_cfg("align", tmp_path / "full", **over), datasets=toy)
    assert full.fit.status == "completed" and full.fit.steps == 8
    part = tmp_path / "part"
    r1 = align(micro_cfg("align", part, stop_after=3, **over), datasets=toy)  # mid-epoch 1
    assert r1.fit.status == "paused" and r1.fit.steps == 3
    r2 = align(micro_cfg("align", part, stop_after=6, **over), datasets=toy)  # across the epoch-1 evaluation
    assert r2.fit.status == "paused" and r2.fit.steps == 6
    r3 = align(micro_cfg("align", part, **over), datasets=toy)
    assert r3.fit.status == "completed" and r3.fit.steps == 8
    for name in ("checkpoints/last/model.safetensors", "checkpoints/last/ema.safetensors", "model.safetensors"):
        a, b = load_tensors(tmp_path / "full" / name), load_tensors(part / name)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
    assert _losses(tmp_path / "full") == _losses(part)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_match_one(toy, cmr_run, tmp_path):
    one = align(micro_cfg("align", tmp_path / "one", align={"cmr_from": str(cmr_run)}, epochs=2), datasets=toy)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CARDIONETS_BACKEND_WEIGHTED_INFONCE": "reference"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
           str(HERE / "ddp_runner.py"), str(tmp_path / "two"), str(cmr_run)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == one.fit.steps
    assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    with (tmp_path / "one" / "eval_log.csv").open() as f1, (tmp_path / "two" / "eval_log.csv").open() as f2:
        va = [float(r["val_loss"]) for r in csv.DictReader(f1)]
        vb = [float(r["val_loss"]) for r in csv.DictReader(f2)]
    assert va == pytest.approx(vb, rel=1e-4, abs=1e-5)
