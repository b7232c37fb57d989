"""The exceptions CardioNets raises. Every message names the input and the problem."""
from __future__ import annotations

from pathlib import Path


class CardioNetsError(Exception):
    """Base class of every error raised on purpose by CardioNets."""


class NativeError(CardioNetsError, ValueError):
    """An error raised by the C++ library (cardionets._C)."""


class NativeExtensionMissing(CardioNetsError, ImportError):
    """The native extension cardionets._C is not built or failed to load."""


class BackendUnavailable(CardioNetsError, RuntimeError):
    """An explicitly requested backend cannot run these inputs; the message lists why."""


class InputError(CardioNetsError, ValueError):
    """Bad input data (a file, an array, a configuration), named in the message."""


class LimitExceeded(InputError):
    """An input would need more than a resource limit allows (:mod:`cardionets.limits`)."""


class OutputInUse(CardioNetsError):
    """An output directory cannot be used as asked: another run holds it, or it holds results of
    another configuration that a resume would mix with this one's."""


def naming(exc: BaseException, source: str | Path) -> CardioNetsError:
    """``exc`` as a CardioNets error whose message names ``source``: a CardioNets error that already
    names it is returned as is; any other exception becomes an InputError with its type and message."""
    src = str(source)
    msg = str(exc).strip() or type(exc).__name__
    if isinstance(exc, CardioNetsError):
        if src in msg or Path(src).name in msg:
            return exc
        try:
            return type(exc)(f"{src}: {msg}")
        except TypeError:  # an error class with another constructor
            return InputError(f"{src}: {msg}")
    if isinstance(exc, MemoryError):
        return LimitExceeded(f"{src}: out of memory while reading ({msg})")
    return InputError(f"{src}: {type(exc).__name__}: {msg}")
