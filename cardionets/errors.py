"""The exceptions CardioNets raises. Every message names the input and the problem."""
from __future__ import annotations


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


class NativeUnsupported(NativeError):
    """A valid input the C++ library does not decode (WFDB formats 0, 8, 61, 160, 310, 311, FLAC,
    multi-segment records, multi-sample frames, skew): read it with another reader (``wfdb``)."""


class NativeLimitExceeded(NativeError):
    """An input whose declared sizes exceed a documented resource limit of the C++ readers
    (``cardionets._C.wfdb_default_limits``, ``xli_default_limits``); the message names the limit."""
