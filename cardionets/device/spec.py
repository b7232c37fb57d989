"""The ``--device`` flag shared by every command that computes and by the benchmarks.

``auto`` (the default) is CUDA when PyTorch sees a GPU, else the CPU; ``cpu``; ``cuda`` (the
current GPU, or ``cuda:LOCAL_RANK`` under torchrun); ``cuda:N``. Only the spelling is checked here
(no torch import, so ``cardionets --help`` stays fast); :func:`cardionets.device.resolve_device`
checks that the device exists when a command runs.
"""
from __future__ import annotations

import argparse
import re

from ..errors import InputError

DEVICE_HELP = ("where to compute: auto (CUDA when a GPU is visible, else CPU; the default), cpu, cuda "
               "(under torchrun: cuda:LOCAL_RANK) or cuda:N")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # cardionets.device.autocast_dtype says what each means
_SPEC = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def parse_device_spec(text: str) -> str:
    """Normalise and check a ``--device`` value: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    spec = str(text).strip().lower()
    if not _SPEC.match(spec):
        raise InputError(f"device {text!r} is not one of auto, cpu, cuda, cuda:N")
    return spec


def _argparse_type(text: str) -> str:
    try:
        return parse_device_spec(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_device_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *,
                        default: str = "auto", extra_help: str = "") -> None:
    """Add ``--device`` (stored as ``args.device``, a checked spec string)."""
    parser.add_argument("--device", default=default, type=_argparse_type, metavar="auto|cpu|cuda[:N]",
                        help=DEVICE_HELP + (f"; {extra_help}" if extra_help else ""))
