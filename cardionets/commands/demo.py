"""`cardionets demo`: the end-to-end job (the stages live in cardionets/demo/)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    from ..demo import STAGES  # lazy: `cardionets --help` must not import the whole engine

    p = sub.add_parser(
        "demo", help="run the engine end to end: the method vs scratch, real ECGs screened, ECG -> cine, a report",
        description="Run every stage of the engine end to end on a synthetic paired cohort and the real ECG "
                    "fixtures, printing what each stage did, where its outputs are, and, from inside every long "
                    "loop (synthesis, caches, training steps), a progress line every 10 s; ends with the cardionets-vs-scratch table and OUT/report/demo.html. About 10 "
                    "minutes on 2 CPU cores; a rerun with the same --out reuses the cohort and finished runs "
                    "(docs/demo.md). Stages: " + ", ".join(n for n, _ in STAGES),
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: runs/demo)")
    p.add_argument("--seed", type=int, default=0, help="random seed for every stage (default 0)")
    p.add_argument("--quick", action="store_true",
                   help="smallest sizes: checks the wiring in about a minute; its numbers mean nothing")
    p.add_argument("--only", nargs="+", metavar="STAGE", help="run only these stages (later stages need earlier ones)")
    add_device_argument(p, extra_help="training, generation and the op self-check run there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(args.out, seed=args.seed, quick=args.quick, only=args.only, device=args.device)
    return 0
