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


class NativeUnsupported(NativeError):
    """A valid input the C++ library does not decode (WFDB formats 0, 8, 61, 160, 310, 311, FLAC,
    multi-segment records, multi-sample frames, skew): read it with another reader (``wfdb``)."""


class NativeLimitExceeded(NativeError, LimitExceeded):
    """An input whose declared sizes exceed a documented resource limit of the C++ readers
    (``cardionets._C.wfdb_default_limits``, ``xli_default_limits``); the message names the limit.
    A :class:`LimitExceeded` too: the Python readers pass :mod:`cardionets.limits` down to them."""


class OutputInUse(CardioNetsError):
    """An output directory cannot be used as asked: it cannot be created, another run holds it, or it
    holds results of another configuration that a resume would mix with this one's."""


def names(exc: BaseException, source: str | Path) -> bool:
    """Whether the message of ``exc`` names ``source`` (its path or file name)."""
    msg = str(exc)
    return str(source) in msg or Path(source).name in msg


def naming(exc: BaseException, source: str | Path) -> CardioNetsError:
    """``exc`` as a CardioNets error whose message names ``source``: a CardioNets error that already
    names it is returned as is; any other exception becomes an InputError with its type and message."""
    src = str(source)
    msg = str(exc).strip() or type(exc).__name__
    if isinstance(exc, CardioNetsError):
        if names(exc, src):
            return exc
        try:
            return type(exc)(f"{src}: {msg}")
        except TypeError:  # an error class with another constructor
            return InputError(f"{src}: {msg}")
    if isinstance(exc, MemoryError):
        return LimitExceeded(f"{src}: out of memory while reading ({msg})")
    return InputError(f"{src}: {type(exc).__name__}: {msg}")


def detached(exc: BaseException) -> BaseException:
    """``exc`` without its traceback and chained exceptions, to be kept as a value (a per-record error
    in a list): a stored exception's traceback references the frame that caught it, whose locals hold
    the list, a reference cycle that keeps every record of the batch alive until a full collection."""
    exc.__traceback__ = None
    exc.__cause__ = exc.__context__ = None
    return exc
