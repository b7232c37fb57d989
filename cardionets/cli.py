"""The ``cardionets`` command line. Each subcommand lives in ``cardionets/commands/<name>.py``
with ``register(subparsers)``; this file only wires them together. Command modules keep heavy
imports (torch, models) inside their run functions so ``--help`` stays fast."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import CardioNetsError

# Order is the order in `cardionets --help`.
COMMAND_MODULES = [
    "demo",
    "info",
    "read_ecg",
    "read_cmr",
    "synth",
    "profile",
    "ingest",
    "pretrain_cmr",
    "pretrain_ecg",
    "align",
    "finetune",
    "train_vae",
    "train_generator",
    "generate",
    "evaluate_generation",
    "reader_study",
    "screen",
    "export",
    "reproduce",
    "evaluate",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cardionets",
        description="CardioNets: ECG-to-CMR translation engine (phenotypes, screening, synthetic cine CMR).",
    )
    parser.add_argument("--version", action="version", version=f"cardionets {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except CardioNetsError as exc:
        print(f"cardionets {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
