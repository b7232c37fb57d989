"""The main job: `cardionets demo` runs every stage of the engine end to end on the embedded
defaults and says what it did and where the outputs are.

Stages are listed in ``DEMO_STAGES`` as ``(name, "module:function")``; each function takes the
:class:`DemoContext` and returns a :class:`StageResult`. Each issue plugs its stage in here, in
pipeline order (read -> preprocess -> encode -> heads / generator -> report).
"""
from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

DEMO_STAGES: list[tuple[str, str]] = [
    ("environment", "cardionets.demo:stage_environment"),
    ("ops-selfcheck", "cardionets.demo:stage_ops_selfcheck"),
    ("ecg-preprocess", "cardionets.io.demo_stage:stage_ecg_preprocess"),
    ("cohort", "cardionets.data.demo_stage:stage_cohort"),
    ("method", "cardionets.train.demo_stage:stage_method"),
    ("generator", "cardionets.generate.demo_stage:stage_generator"),
    ("report", "cardionets.experiments.demo_stage:stage_report"),
]


@dataclass
class DemoContext:
    out: Path
    seed: int = 0
    quick: bool = False
    device: str = "auto"  # --device: training, generation and the op self-check run there
    results: dict[str, "StageResult"] = field(default_factory=dict)

    def stage_dir(self, name: str) -> Path:
        d = self.out / name
        d.mkdir(parents=True, exist_ok=True)
        return d


@dataclass
class StageResult:
    summary: str
    outputs: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _resolve(target: str) -> Callable[[DemoContext], StageResult]:
    mod, fn = target.split(":")
    return getattr(importlib.import_module(mod), fn)


def run_demo(out: Path, *, seed: int = 0, quick: bool = False, only: list[str] | None = None,
             device: str = "auto", echo: Callable[[str], None] = print) -> dict[str, StageResult]:
    from .device.policy import resolve_device

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out=out, seed=seed, quick=quick, device=str(resolve_device(device)))
    known = [n for n, _ in DEMO_STAGES]
    unknown = [n for n in (only or []) if n not in known]
    if unknown:
        from .errors import CardioNetsError

        raise CardioNetsError(f"unknown demo stage(s) {', '.join(unknown)}; stages are: {', '.join(known)}")
    stages = [(n, t) for n, t in DEMO_STAGES if not only or n in only]
    for i, (name, target) in enumerate(stages, 1):
        echo(f"[{i}/{len(stages)}] {name} ...")
        t0 = time.perf_counter()
        result = _resolve(target)(ctx)
        result.seconds = time.perf_counter() - t0
        ctx.results[name] = result
        echo(f"      {result.summary}  ({result.seconds:.1f} s)")
        for path in result.outputs:
            echo(f"      -> {path}")
    summary = {name: asdict(r) for name, r in ctx.results.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    echo(f"demo finished: {len(ctx.results)} stages; summary in {out / 'summary.json'}")
    return ctx.results


# ---------------------------------------------------------------------------------------------
# Foundation stages
# ---------------------------------------------------------------------------------------------
def stage_environment(ctx: DemoContext) -> StageResult:
    """Record versions, the native build and every op's available backends."""
    from .commands.info import collect, format_text

    d = ctx.stage_dir("environment")
    info = collect(ctx.device)
    (d / "info.json").write_text(json.dumps(info, indent=2))
    (d / "info.txt").write_text(format_text(info) + "\n")
    nat = info["native"]
    native_txt = f"native extension built ({nat['build'].split(';')[0]})" if nat["available"] else "native extension MISSING"
    n_avail = sum(b["available"] for bs in info["ops"].values() for b in bs)
    n_all = sum(len(bs) for bs in info["ops"].values())
    return StageResult(
        summary=(f"torch {info['packages']['torch']}, {native_txt}, {n_avail}/{n_all} op backends available; "
                 f"computing on {info['device']['device']} ({info['device']['device_name']})"),
        outputs=[str(d / "info.txt"), str(d / "info.json")],
        metrics={"native": nat["available"], "backends_available": n_avail},
    )


def stage_ops_selfcheck(ctx: DemoContext) -> StageResult:
    """Run every available backend of every op on its example inputs (on the demo's device) and
    compare with the reference."""
    import torch

    from .device.policy import DevicePolicy
    from .ops import registered_ops

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
            dt = time.perf_counter() - t0
            err = (outv.double() - ref.double()).abs().max().item()
            rows.append({"op": name, "backend": b.name, "device": str(policy.device),
                         "status": "ok" if err < 1e-3 else "MISMATCH", "max_abs_err": err, "ms": dt * 1e3})
    (d / "selfcheck.json").write_text(json.dumps(rows, indent=2))
    bad = [r for r in rows if r["status"] == "MISMATCH"]
    if bad:
        from .errors import CardioNetsError

        raise CardioNetsError(f"op self-check: backends disagree with the reference: {bad}")
    ran = [f"{r['op']}/{r['backend']}" for r in rows if r["status"] == "ok"]
    return StageResult(summary=f"{len(ran)} op backends agree with the reference: {', '.join(ran)}",
                       outputs=[str(d / "selfcheck.json")], metrics={"rows": rows})
