"""Ops with several backends (Triton, native C++, PyTorch reference) behind one dispatcher.

Importing this package imports torch but never triton, flash_attn or tensorrt: GPU packages are
imported by a backend only when it is chosen.
"""
from __future__ import annotations

import importlib

from .dispatch import Backend, Op, define_op, registered_ops

# Every op module, imported here so the registry (and `cardionets info`) sees all of them.
OP_MODULES = ["attention", "weighted_infonce", "diffusion_sample"]

for _m in OP_MODULES:
    importlib.import_module(f"{__name__}.{_m}")

from .attention import attention  # noqa: E402
from .weighted_infonce import weighted_infonce  # noqa: E402
from .diffusion_sample import diffusion_sample  # noqa: E402

__all__ = ["Backend", "Op", "attention", "define_op", "diffusion_sample", "registered_ops", "weighted_infonce"]
