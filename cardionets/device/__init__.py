"""One device policy for everything that computes: which device, which precision, how models and
batches get there.

* :mod:`.spec` -- the ``--device auto|cpu|cuda[:N]`` flag (no torch import: ``--help`` stays fast).
* :mod:`.policy` -- :func:`resolve_device` and :class:`DevicePolicy`: autocast dtype, gradient
  scaler, pinned / non-blocking transfers, the DDP backend, and what a run records about them.

Names are imported on first use (``cardionets.device.DevicePolicy``), like :mod:`cardionets.train`.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEVICE_HELP": "spec", "add_device_argument": "spec", "parse_device_spec": "spec",
    "PRECISIONS": "spec", "DevicePolicy": "policy", "autocast_dtype": "policy", "resolve_device": "policy",
    "runtime_record": "policy", "DevicePrefetcher": "prefetch",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
