"""`cardionets info`: versions, native build flags, CPU features, the instruction-set path the native
kernels run (avx512 / avx2 / scalar, and why not the others; CARDIONETS_ISA forces one), the device
commands compute on (`--device auto` resolved: CUDA when a GPU is visible) with the precision they
would use, and for every op which backends can run in this process, why the others cannot, and which
one runs the op's example inputs on that device (in the spirit of `python -m xformers.info`)."""
from __future__ import annotations

import argparse
import json

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions, native build, CPU features, available backends per op",
                       description=__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    add_device_argument(p, extra_help="the device to report on")
    p.set_defaults(func=run)


def device_report(device: str = "auto") -> dict:
    """The resolved device, the precision ``auto`` gives there, and per op the backend that runs the
    op's example inputs on it (with the reasons the earlier ones were passed over)."""
    import torch

    from ..device.policy import DevicePolicy
    from ..errors import BackendUnavailable
    from ..ops import registered_ops

    policy = DevicePolicy.create(device, "auto")
    out = {**policy.describe(), "backends": {}}
    for name, op in sorted(registered_ops().items()):
        if op.example is None:
            continue
        args, kwargs = op.example()
        args = tuple(policy.module(a) if isinstance(a, torch.nn.Module) else policy.to(a) for a in args)
        kwargs = {k: policy.to(v) for k, v in kwargs.items()}
        try:
            chosen, rejected = op.select(*args, **kwargs)
            out["backends"][name] = {"runs": chosen.name, "passed_over": rejected}
            if policy.amp_dtype is not None:  # what autocast hands the op (fp32 tensors in low precision)
                low = tuple(a.to(policy.amp_dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                            for a in args)
                out["backends"][name]["runs_under_autocast"] = op.select(*low, **kwargs)[0].name
        except BackendUnavailable as exc:
            out["backends"][name] = {"runs": None, "error": str(exc)}
    return out


def collect(device: str = "auto") -> dict:
    from .. import sysinfo
    from ..ops import registered_ops

    info = sysinfo.machine()
    info["ops"] = {
        name: [{"backend": b, "available": not r, "reasons": r} for b, r in op.environment_report()]
        for name, op in sorted(registered_ops().items())
    }
    info["device"] = device_report(device)
    return info


def format_text(info: dict) -> str:
    lines = [f"cardionets {info['cardionets']}  (python {info['python']}, {info['platform']})", ""]
    lines.append("packages:")
    for name, ver in info["packages"].items():
        lines.append(f"  {name:<14} {ver or 'not installed'}")
    lines += ["", f"cpu: {info['cpu']}  ({info['logical_cpus']} logical CPUs, torch threads {info['torch_threads']}, "
              f"torch CPU capability {info['torch_cpu_capability']})"]
    lines.append(f"cuda: {'yes: ' + ', '.join(info['cuda_devices']) if info['cuda'] else 'no CUDA device'}")
    nat = info["native"]
    lines.append("")
    if nat["available"]:
        lines.append(f"native extension: {nat['path']}")
        lines.append(f"  build: {nat['build']}")
        lines.append(f"  baseline compiled for: {' '.join(nat['compiled_isa']) or 'x86-64'}")
        lines.append(f"  cpu features: {' '.join(nat['cpu_features'])}")
        isa = nat["isa"]
        if isa["active"]:
            lines.append(f"  ISA path: {isa['active']}  ({isa['chosen_by']}; CARDIONETS_ISA=avx512|avx2|scalar forces one)")
        else:
            lines.append(f"  ISA path: none: {isa['error']}")
        for p in isa["paths"]:
            state = "in use" if p["active"] else "; ".join(p["reasons"])
            lines.append(f"    {p['path']:<8} {state}")
        lines.append(f"  threads: {nat['threads']}")
    else:
        lines.append(f"native extension: unavailable: {nat['reason']}")
    dev = info["device"]
    lines += ["", f"device: {dev['device']} ({dev['device_name']}); precision auto -> "
                  f"{dev['autocast'] or 'fp32'}" + (" with a gradient scaler" if dev["grad_scaler"] else "")]
    for op, b in dev["backends"].items():
        why = "; ".join(f"{n}: {', '.join(r)}" for n, r in b.get("passed_over", {}).items())
        amp = f"; under autocast: {b['runs_under_autocast']}" if "runs_under_autocast" in b else ""
        lines.append(f"  {op:<18} runs on {b['runs']}{amp}" + (f"  (passed over: {why})" if why else "")
                     if b["runs"] else f"  {op:<18} {b['error']}")
    lines += ["", "ops (backends in priority order):"]
    for op, backends in info["ops"].items():
        lines.append(f"  {op}")
        for b in backends:
            state = "available" if b["available"] else "unavailable: " + "; ".join(b["reasons"])
            lines.append(f"    {b['backend']:<10} {state}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = collect(args.device)
    print(json.dumps(info, indent=2) if args.json else format_text(info))
    return 0
