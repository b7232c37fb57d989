"""Demo stages "environment" and "ops-selfcheck": what this machine runs (versions, the native
build, each op's backends with the reasons any is unavailable, the load), then every available
backend of every op against its plain-PyTorch reference."""
from __future__ import annotations

import json
import os
import time

import torch

from ..commands.info import collect, format_text
from ..device.policy import DevicePolicy
from ..errors import CardioNetsError
from ..ops import registered_ops
from .context import DemoContext, StageResult


def stage_environment(ctx: DemoContext) -> StageResult:
    d = ctx.stage_dir("environment")
    info = collect(ctx.device)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    info["load_average"] = list(load)
    (d / "info.json").write_text(json.dumps(info, indent=2))
    (d / "info.txt").write_text(format_text(info) + "\n")
    nat = info["native"]
    native_txt = f"native extension built ({nat['build'].split(';')[0]})" if nat["available"] else "native extension MISSING"
    n_avail = sum(b["available"] for bs in info["ops"].values() for b in bs)
    n_all = sum(len(bs) for bs in info["ops"].values())
    return StageResult(
        summary=(f"torch {info['packages']['torch']}, {native_txt}, {n_avail}/{n_all} op backends available; "
                 f"computing on {info['device']['device']} ({info['device']['device_name']}), "
                 f"{os.cpu_count()} CPUs, load average {load[0]:.1f}"),
        outputs=[str(d / "info.txt"), str(d / "info.json")],
        metrics={"native": nat["available"], "backends_available": n_avail, "load_average": list(load),
                 "cpus": os.cpu_count()},
    )


def stage_ops_selfcheck(ctx: DemoContext) -> StageResult:
    d = ctx.stage_dir("ops-selfcheck")
    policy = DevicePolicy.create(ctx.device, "fp32")
    rows = []
    for name, op in sorted(registered_ops().items()):
        if op.example is None:
            continue
        args, kwargs = op.example()
        args = tuple(policy.module(a) if isinstance(a, torch.nn.Module) else policy.to(a) for a in args)
        kwargs = {k: policy.to(v) for k, v in kwargs.items()}
        ref = op.get("reference").impl(*args, **kwargs)
        for b in op.backends:
            reasons = b.reasons(*args, **kwargs)
            if reasons:
                rows.append({"op": name, "backend": b.name, "status": "skipped", "reason": "; ".join(reasons)})
                continue
            t0 = time.perf_counter()
            outv = b.impl(*args, **kwargs)
            policy.synchronize()
            err = (outv.double() - ref.double()).abs().max().item()
            rows.append({"op": name, "backend": b.name, "device": str(policy.device),
                         "status": "ok" if err < 1e-3 else "MISMATCH", "max_abs_err": err,
                         "ms": (time.perf_counter() - t0) * 1e3})
    (d / "selfcheck.json").write_text(json.dumps(rows, indent=2))
    bad = [r for r in rows if r["status"] == "MISMATCH"]
    if bad:
        raise CardioNetsError(f"op self-check: backends disagree with the reference: {bad}")
    ran = [f"{r['op']}/{r['backend']}" for r in rows if r["status"] == "ok"]
    worst = max((r["max_abs_err"] for r in rows if r["status"] == "ok"), default=0.0)
    return StageResult(summary=f"{len(ran)} op backends agree with the reference (max |error| {worst:.1e}): "
                               f"{', '.join(ran)}",
                       outputs=[str(d / "selfcheck.json")], metrics={"rows": rows})
