"""bench/gpu_check.sh --dry-run: every step of the GPU check runs on the CPU at toy sizes (what CI
runs; on a GPU machine the same script runs the real sizes on CUDA)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = ["environment", "gpu-tests", "bench:attention", "bench:weighted_infonce", "bench:diffusion_sample",
         "train:pretrain_cmr", "train:pretrain_ecg", "train:align", "train:finetune", "train:vae", "train:generator",
         "train:cross_decoder", "generate", "screen:fp32", "screen:bf16", "screen:tensorrt", "screen:onnx"]


def test_dry_run_exercises_every_step(tmp_path):
    from bench.gpu_check import main

    assert main(["--dry-run", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "gpu_check.json").read_text())
    steps = {s["name"]: s for s in res["steps"]}
    assert list(steps) == STEPS and res["meta"]["dry_run"] and res["meta"]["device"] == "cpu"
    assert steps["gpu-tests"]["status"] == "skipped" and "collected" in steps["gpu-tests"]["figure"]
    expected_skips = {"gpu-tests", "screen:tensorrt"}  # CUDA / TensorRT only: skipped with the reason
    for name, s in steps.items():
        assert s["status"] == ("skipped" if name in expected_skips else "ok"), (name, s["detail"])
    assert "TensorRT" in steps["screen:tensorrt"]["detail"]
    assert steps["train:align"]["data"]["runtime"]["device"] == "cpu"
    assert "weighted_infonce" in steps["train:align"]["data"]["runtime"]["backends"]
    assert steps["screen:fp32"]["data"]["summary"]["processed"] == 24
    md = (tmp_path / "gpu_check.md").read_text()
    assert md.startswith("# GPU check (dry run on cpu") and all(f"| {n} |" in md for n in STEPS)


def test_shell_wrapper_and_help():
    out = subprocess.run([str(ROOT / "bench" / "gpu_check.sh"), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--dry-run" in out.stdout and "under 10 minutes" in out.stdout
