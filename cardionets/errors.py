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
