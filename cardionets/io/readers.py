"""Format name -> reader function. Each reader lives in its own module and is imported on use."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from .ecg import ECG

_TARGETS = {
    "wfdb": "cardionets.io.ecg_wfdb:read_wfdb",
}


def _lazy(target: str) -> Callable[[Path], ECG]:
    def call(path: Path) -> ECG:
        mod, fn = target.split(":")
        return getattr(importlib.import_module(mod), fn)(path)

    call.__name__ = target.split(":")[1]
    return call


READERS: dict[str, Callable[[Path], ECG]] = {name: _lazy(t) for name, t in _TARGETS.items()}
