"""Readers: ECG files of every supported format (:func:`read_ecg`) and CMR cines (:func:`read_cmr`).

``read_ecg(path) -> ECG`` detects the format from the file's content. ``ECG.standard()`` /
:func:`to_standard_order` put leads in the standard order I, II, III, aVR, aVL, aVF, V1-V6,
deriving III, aVR, aVL, aVF when only the 8 independent leads are stored.
"""
from __future__ import annotations

import importlib
from typing import Any

from .detect import detect_format
from .ecg import ECG, read_ecg
from ..preprocess import STANDARD_LEADS
from .leads import canonical_lead, to_standard_order


def read_cmr(path: Any, *args: Any, **kwargs: Any) -> Any:
    """Read a CMR cine (NIfTI or DICOM series); see :mod:`cardionets.io.cmr`."""
    return importlib.import_module(f"{__name__}.cmr").read_cmr(path, *args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "cmr":
        return importlib.import_module(f"{__name__}.cmr")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ECG", "STANDARD_LEADS", "canonical_lead", "detect_format", "read_cmr", "read_ecg",
           "to_standard_order"]
