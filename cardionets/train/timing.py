"""Measure training-step time (forward + backward + AdamW) per model, fp32 vs bf16 autocast on CPU.

    python -m cardionets.train.timing [--batch 32] [--steps 5] [--models ecg_tiny,stmem_tiny,...]

Reports the median wall time and the median process CPU time per step; on a shared machine the
CPU time is the steadier figure. The numbers in docs/method.md come from here.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

import torch


def _models():
    from ..models import (ECGEncoder, cmr_vit_base_patch16, cmr_vit_tiny_patch16, ecg_config, ecg_vit_base_patch75,
                          mae_cmr_vit_tiny_patch16, stmem_vit_tiny_patch75)

    ecg = lambda b: torch.randn(b, 12, 2250)  # noqa: E731
    cmr = lambda b: torch.rand(b, 50, 96, 96) * 2 - 1  # noqa: E731
    return {
        "ecg_tiny": (lambda: ECGEncoder(ecg_config("tiny")), ecg),
        "stmem_tiny": (stmem_vit_tiny_patch75, ecg),
        "cmr_mae_tiny": (mae_cmr_vit_tiny_patch16, cmr),
        "cmr_tiny": (cmr_vit_tiny_patch16, cmr),
        "ecg_base": (ecg_vit_base_patch75, ecg),
        "cmr_base": (cmr_vit_base_patch16, cmr),
    }


def step_times(name: str, batch: int, steps: int, precision: str) -> dict:
    build, data = _models()[name]
    torch.manual_seed(0)
    model = build()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    x = data(batch)
    wall, cpu = [], []
    for i in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        with ctx:
            out = model(x)
            loss = out[0] if isinstance(out, tuple) else out.float().square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step warms up allocators and kernels
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {"model": name, "precision": precision, "batch": batch, "wall_s": statistics.median(wall),
            "cpu_s": statistics.median(cpu), "threads": torch.get_num_threads()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cardionets.train.timing", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--models", default="ecg_tiny,stmem_tiny,cmr_mae_tiny,cmr_tiny")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    rows = [step_times(m, a.batch, a.steps, prec) for m in a.models.split(",") for prec in ("fp32", "bf16")]
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['model']:<14} {r['precision']:<5} batch {r['batch']:>3}: wall {r['wall_s'] * 1e3:8.0f} ms, "
                  f"cpu {r['cpu_s'] * 1e3:8.0f} ms  ({r['threads']} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
