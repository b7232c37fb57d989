"""`cardionets demo`: the end-to-end job on the embedded defaults (see cardionets/demo.py)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    from ..demo import DEMO_STAGES

    p = sub.add_parser(
        "demo", help="run the whole engine end to end on the embedded defaults",
        description="Run every stage of the engine end to end on the embedded defaults and print what "
                    "was done and where the outputs are. Stages: " + ", ".join(n for n, _ in DEMO_STAGES),
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: runs/demo)")
    p.add_argument("--seed", type=int, default=0, help="random seed for every stage (default 0)")
    p.add_argument("--quick", action="store_true", help="smallest sizes, for smoke tests")
    p.add_argument("--only", nargs="+", metavar="STAGE", help="run only these stages")
    add_device_argument(p, extra_help="training, generation and the op self-check run there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(args.out, seed=args.seed, quick=args.quick, only=args.only, device=args.device)
    return 0
