"""CardioNets: from a 12-lead ECG to what a cardiac MRI would have shown.

The top-level import is deliberately light: it loads neither torch nor any GPU package
(triton, flash_attn, tensorrt). Sub-packages are imported on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY_SUBMODULES = {
    "cli", "data", "device", "dsp", "errors", "eval", "export", "io", "models", "native", "ops",
    "screen", "train",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "CardioNets":  # the Python API (cardionets/api.py), imported on first use
        return importlib.import_module(f"{__name__}.api").CardioNets
    raise AttributeError(f"module 'cardionets' has no attribute {name!r}")


__all__ = ["__version__", *sorted(_LAZY_SUBMODULES)]
