"""Typed access to the native extension ``cardionets._C``.

``load()`` returns the module or raises NativeExtensionMissing with the reason and the fix;
``status()`` never raises and is what dispatch and ``cardionets info`` use.
"""
from __future__ import annotations

import functools
from types import ModuleType

from .errors import NativeExtensionMissing

_BUILD_HINT = "build it with `pip install --no-build-isolation -e .` (or `make install`)"


@functools.lru_cache(maxsize=1)
def _try_import() -> tuple[ModuleType | None, str | None]:
    try:
        from . import _C  # type: ignore[attr-defined]
    except ImportError as exc:  # not built, or built for another Python
        return None, f"cardionets._C could not be imported ({exc}); {_BUILD_HINT}"
    return _C, None


def load() -> ModuleType:
    """The extension module, or NativeExtensionMissing explaining why it is not usable."""
    mod, reason = _try_import()
    if mod is None:
        raise NativeExtensionMissing(reason)
    return mod


def available() -> bool:
    return _try_import()[0] is not None


def unavailable_reason() -> str | None:
    """None when the extension loads, else why not."""
    return _try_import()[1]


def status() -> dict:
    """Build facts for `cardionets info` (never raises)."""
    mod, reason = _try_import()
    if mod is None:
        return {"available": False, "reason": reason}
    return {
        "available": True,
        "path": getattr(mod, "__file__", "?"),
        "version": mod.version(),
        "build": mod.build_info(),
        "compiled_isa": list(mod.compiled_isa()),
        "cpu_features": list(mod.cpu_features()),
        "isa": mod.isa_report(),
        "threads": mod.num_threads(),
    }
