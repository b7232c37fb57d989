"""Optional dependencies: the one way CardioNets imports a package that an extra provides.

Everything else is imported at the top of its module. A package that only some installs have
(an extra in pyproject.toml, or a GPU-only build) is imported inside the function that needs it,
through :func:`require`, which raises :class:`~cardionets.errors.BackendUnavailable` naming the
extra to install; :func:`installed` answers the question without importing (dispatch uses it to
say why a backend is not available). Modules that import such a package at their top (the
Triton kernel files, ``cardionets/ops/_*_triton.py``) are themselves only imported through a
function-level import marked ``# lazy:`` in the op that dispatches to them.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
from types import ModuleType

from .errors import BackendUnavailable

# top-level package -> (extra that installs it, what it is for)
EXTRAS: dict[str, tuple[str, str]] = {
    "onnx": ("export", "ONNX export"),
    "onnxruntime": ("export", "ONNX Runtime (export checks, --precision onnx)"),
    "tensorrt": ("gpu", "TensorRT engines (on a machine with an NVIDIA GPU and CUDA)"),
    "flash_attn": ("gpu", "the flash-attn attention backend (CUDA)"),
    "triton": ("gpu", "the Triton kernels"),
    "ray": ("distributed", "--engine ray (Ray Data)"),
    "tensorboard": ("", "tensorboard logging (pip install tensorboard)"),
}


@functools.lru_cache(maxsize=None)
def installed(module: str) -> bool:
    """Whether ``module`` can be imported (found on the path; nothing is imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken module spec
        return False


def install_hint(module: str) -> str:
    top = module.split(".")[0]
    extra, what = EXTRAS.get(top, ("", ""))
    how = f"pip install 'cardionets[{extra}]'" if extra else f"pip install {top}"
    return f"{what}: {how}" if what else how


def require(module: str, purpose: str | None = None) -> ModuleType:
    """Import the optional ``module``, or raise BackendUnavailable saying what needs it and which
    extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        need = f"{purpose} needs {module}" if purpose else f"{module} is not installed"
        raise BackendUnavailable(f"{need} ({install_hint(module)})") from exc


__all__ = ["EXTRAS", "install_hint", "installed", "require"]
