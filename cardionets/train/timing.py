"""Measure training-step time (forward + backward + AdamW) per model, fp32 vs bf16 autocast.

    python -m cardionets.train.timing [--batch 32] [--steps 5] [--models ecg_tiny,stmem_tiny,...] [--device cpu]

Reports the median wall time and the median process CPU time per step; on a shared machine the
CPU time is the steadier figure. The numbers in docs/method.md come from here (``--device cpu``).
On CUDA each step ends with a synchronisation, so the wall time is the GPU's.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from ..device.policy import DevicePolicy
from ..device.spec import add_device_argument
from ..preprocess import DEFAULT_SPEC, N_LEADS
from ..models import ECGEncoder, cmr_vit_base_patch16, cmr_vit_tiny_patch16, ecg_config, ecg_vit_base_patch75, mae_cmr_vit_tiny_patch16, stmem_vit_tiny_patch75


def _models():
    ecg = lambda b: torch.randn(b, N_LEADS, DEFAULT_SPEC.crop_len)  # noqa: E731
    cmr = lambda b: torch.rand(b, 50, 96, 96) * 2 - 1  # noqa: E731
    return {
        "ecg_tiny": (lambda: ECGEncoder(ecg_config("tiny")), ecg),
        "stmem_tiny": (stmem_vit_tiny_patch75, ecg),
        "cmr_mae_tiny": (mae_cmr_vit_tiny_patch16, cmr),
        "cmr_tiny": (cmr_vit_tiny_patch16, cmr),
        "ecg_base": (ecg_vit_base_patch75, ecg),
        "cmr_base": (cmr_vit_base_patch16, cmr),
    }


def step_times(name: str, batch: int, steps: int, precision: str, device: str = "auto") -> dict:
    policy = DevicePolicy.create(device, precision)
    build, data = _models()[name]
    torch.manual_seed(0)
    model = policy.module(build())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    x = policy.to(data(batch))
    wall, cpu = [], []
    for i in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        with policy.autocast():
            out = model(x)
            loss = out[0] if isinstance(out, tuple) else out.float().square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        policy.synchronize()
        if i:  # the first step warms up allocators and kernels
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {"model": name, "precision": precision, "batch": batch, "wall_s": statistics.median(wall),
            "cpu_s": statistics.median(cpu), "threads": torch.get_num_threads(), "device": str(policy.device)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cardionets.train.timing", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--models", default="ecg_tiny,stmem_tiny,cmr_mae_tiny,cmr_tiny")
    p.add_argument("--json", action="store_true")
    add_device_argument(p)
    a = p.parse_args(argv)
    rows = [step_times(m, a.batch, a.steps, prec, a.device) for m in a.models.split(",") for prec in ("fp32", "bf16")]
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['model']:<14} {r['precision']:<5} batch {r['batch']:>3}: wall {r['wall_s'] * 1e3:8.0f} ms, "
                  f"cpu {r['cpu_s'] * 1e3:8.0f} ms  ({r['threads']} threads, {r['device']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
