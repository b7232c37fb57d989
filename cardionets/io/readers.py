"""Format name -> reader function. Each reader lives in its own module and is imported on use."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # annotations only: ecg.read_ecg imports this registry
    from .ecg import ECG

_TARGETS = {
    "wfdb": "cardionets.io.ecg_wfdb:read_wfdb",
    "cardiosoft": "cardionets.io.ecg_xml:read_cardiosoft",
    "hl7": "cardionets.io.ecg_xml:read_hl7",
    "sierra": "cardionets.io.ecg_xml:read_sierra",
    "dicom": "cardionets.io.ecg_dicom:read_dicom",
    "numpy": "cardionets.io.ecg_numpy:read_npy",
    "npz": "cardionets.io.ecg_numpy:read_npz",
}


_TAKES_OPTIONS = {"numpy", "npz"}


def _lazy(name: str, target: str) -> Callable[..., ECG]:
    resolved: list[Callable[..., ECG]] = []

    def call(path: Path, **options) -> ECG:
        if not resolved:  # import the reader module on first use, then reuse it
            mod, fn = target.split(":")
            resolved.append(getattr(importlib.import_module(mod), fn))
        func = resolved[0]
        return func(path, **options) if name in _TAKES_OPTIONS else func(path)

    call.__name__ = target.split(":")[1]
    return call


READERS: dict[str, Callable[..., ECG]] = {name: _lazy(name, t) for name, t in _TARGETS.items()}
