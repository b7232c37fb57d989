"""`cardionets info`: versions, native build flags, CPU features, the instruction-set path the native
kernels run (avx512 / avx2 / scalar, and why not the others; CARDIONETS_ISA forces one) and, for every
op, which backends can run in this process and why the others cannot (in the spirit of
`python -m xformers.info`)."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions, native build, CPU features, available backends per op",
                       description=__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.set_defaults(func=run)


def collect() -> dict:
    from .. import sysinfo
    from ..ops import registered_ops

    info = sysinfo.machine()
    info["ops"] = {
        name: [{"backend": b, "available": not r, "reasons": r} for b, r in op.environment_report()]
        for name, op in sorted(registered_ops().items())
    }
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
    lines += ["", "ops (backends in priority order):"]
    for op, backends in info["ops"].items():
        lines.append(f"  {op}")
        for b in backends:
            state = "available" if b["available"] else "unavailable: " + "; ".join(b["reasons"])
            lines.append(f"    {b['backend']:<10} {state}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = collect()
    print(json.dumps(info, indent=2) if args.json else format_text(info))
    return 0
