"""Reasons shared by many backends: is Triton usable, did the native extension load, are these
tensors on the right device with a supported dtype. Each returns a list of human-readable reasons
(empty when fine)."""
from __future__ import annotations

import os
from typing import Iterable

import torch

from ..optional import installed

from .. import native


def interpreter_mode() -> bool:
    """True when Triton kernels run on CPU in the interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def package_installed(name: str) -> bool:
    return installed(name)


def triton_env() -> list[str]:
    if not package_installed("triton"):
        return ["triton is not installed"]
    if not torch.cuda.is_available() and not interpreter_mode():
        return ["no CUDA device (set TRITON_INTERPRET=1 to run the Triton kernels on CPU in the interpreter)"]
    return []


def native_env() -> list[str]:
    reason = native.unavailable_reason()
    return [reason] if reason else []


def tensors_on(tensors: Iterable[torch.Tensor], device_type: str, what: str = "inputs") -> list[str]:
    devs = {t.device.type for t in tensors if isinstance(t, torch.Tensor)}
    if devs and devs != {device_type}:
        return [f"{what} are on {', '.join(sorted(devs))}, this backend needs {device_type}"]
    return []


def triton_inputs(tensors: Iterable[torch.Tensor]) -> list[str]:
    """Triton runs CUDA tensors, or CPU tensors when the interpreter is on."""
    tensors = list(tensors)
    if interpreter_mode():
        return tensors_on(tensors, "cpu", "inputs (interpreter mode)")
    return tensors_on(tensors, "cuda")


def dtypes_in(tensors: Iterable[torch.Tensor], allowed: tuple[torch.dtype, ...]) -> list[str]:
    bad = {t.dtype for t in tensors if isinstance(t, torch.Tensor) and t.dtype not in allowed}
    if bad:
        names = ", ".join(sorted(str(d).replace("torch.", "") for d in bad))
        ok = ", ".join(str(d).replace("torch.", "") for d in allowed)
        return [f"dtype {names} not supported (supports {ok})"]
    return []
