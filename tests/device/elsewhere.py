"""A second device for CPU-only machines, to prove that nothing computes on a hard-coded device.

On a GPU host the bug this catches is a tensor made with a default or literal device (``torch.zeros(n)``,
``torch.arange(k)``, ``device="cpu"``) inside code whose model and batches the device policy put on
CUDA: the first op that combines the two raises. A CPU-only test cannot see that, because there every
tensor is on the CPU anyway. So the tests here give the policy another device:

* ``ELSEWHERE`` is ``torch.device("meta")``. Tensors "there" are :class:`Elsewhere` wrappers: they
  report ``device == meta`` (so ``x.device``, ``is_cuda``-style checks and ``.numpy()`` behave as
  on an accelerator: numpy conversion needs an explicit ``.cpu()``) but hold real CPU data, so the
  whole program -- training loops with their host synchronisations, checkpoints, metrics -- runs to
  the end with real numbers.
* :class:`ElsewhereMode` (a ``TorchDispatchMode``) runs every aten op on the wrapped data and wraps
  the results again. Moving is explicit, as on CUDA: ``.to(ELSEWHERE)`` wraps, ``.cpu()`` /
  ``.to(host)`` unwraps, ``copy_`` copies across. A factory op asked for ``device=ELSEWHERE`` (e.g.
  ``torch.zeros(n, device=x.device)``) is built on the host and wrapped.
* Any other op that meets an ``Elsewhere`` tensor *and* a host tensor with at least one dimension is a
  :class:`DeviceViolation` naming the op, the shapes and the stack. Zero-dimensional host tensors may
  mix in, as CUDA allows for CPU scalars.
* :class:`FromData` (a ``TorchFunctionMode``) does the same for ``torch.tensor`` / ``as_tensor`` /
  ``asarray`` with ``device=ELSEWHERE`` (their data path bypasses the dispatcher's factory ops).

The policy is pointed there by replacing :func:`cardionets.device.policy.resolve_device` (the one
function that turns a ``--device`` spec into a ``torch.device``), so every stage that asks the policy
for its device gets ELSEWHERE; code that takes a ``torch.device`` is given ELSEWHERE directly.
"""
from __future__ import annotations

import contextlib
import traceback
import warnings

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

aten = torch.ops.aten
ELSEWHERE = torch.device("meta")
HOST = torch.device("cpu")


class DeviceViolation(AssertionError):
    """A host tensor (made on a default or hard-coded device) met a tensor on the policy's device."""


class Elsewhere(torch.Tensor):
    """A CPU tensor that lives, as far as any code can tell, on ELSEWHERE."""

    @staticmethod
    def __new__(cls, data: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(cls, data.shape, strides=data.stride(),
                                                   storage_offset=data.storage_offset(), dtype=data.dtype,
                                                   device=ELSEWHERE, requires_grad=data.requires_grad)

    def __init__(self, data: torch.Tensor):
        self.host = data

    def tolist(self):  # CUDA tensors support it (one synchronisation); wrapper subclasses do not by default
        return self.host.tolist()

    def numpy(self, *args, **kwargs):  # as on CUDA
        raise TypeError(f"can't convert {ELSEWHERE} device type tensor to numpy. Use Tensor.cpu() to copy the "
                        "tensor to host memory first.")

    def __repr__(self) -> str:
        return f"Elsewhere({self.host!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("Elsewhere tensors are only usable inside ElsewhereMode")


def _unwrap(x):
    return x.host if isinstance(x, Elsewhere) else x


def _wrap(x):
    return Elsewhere(x) if isinstance(x, torch.Tensor) and not isinstance(x, Elsewhere) else x


def _is_elsewhere(device) -> bool:
    return device is not None and torch.device(device) == ELSEWHERE


class FromData(TorchFunctionMode):
    _FUNCS = {torch.tensor, torch.as_tensor, torch.asarray}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self._FUNCS and _is_elsewhere(kwargs.get("device")):
            kwargs["device"] = HOST
            return Elsewhere(func(*args, **kwargs))
        return func(*args, **kwargs)


class ElsewhereMode(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops_elsewhere = 0  # ops that ran on ELSEWHERE tensors (to check the test exercised something)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        leaves, _ = tree_flatten((args, kwargs))
        tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
        away = [t for t in tensors if isinstance(t, Elsewhere)]
        if func is aten._to_copy.default:  # .to(device) / .cpu() / dtype casts
            src = args[0]
            target = kwargs.get("device") or (ELSEWHERE if isinstance(src, Elsewhere) else HOST)
            out = func(_unwrap(src), **{**kwargs, "device": HOST})
            return Elsewhere(out) if _is_elsewhere(target) else out
        if func is aten.copy_.default:  # copies across devices are explicit transfers
            _unwrap(args[0]).copy_(_unwrap(args[1]), *args[2:])
            return args[0]
        host = [t for t in tensors if not isinstance(t, Elsewhere) and t.dim() > 0]
        if away and host:
            raise DeviceViolation(
                f"{func}: host tensor(s) of shape {[tuple(t.shape) for t in host]} (made on a default or "
                f"hard-coded device) meet tensor(s) on the policy's device\n"
                + "".join(traceback.format_stack(limit=14)))
        if _is_elsewhere(kwargs.get("device")):  # factory asked for the policy's device
            kwargs["device"] = HOST
            self.ops_elsewhere += 1
            return tree_map(_wrap, func(*tree_map(_unwrap, args), **kwargs))
        out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
        if not away:
            return out
        self.ops_elsewhere += 1
        if args and isinstance(args[0], Elsewhere) and out is args[0].host:  # in-place op: the same tensor
            return args[0]
        return tree_map(_wrap, out)


@contextlib.contextmanager
def elsewhere():
    """Run the block with ELSEWHERE usable as a device; yields the mode (its ``ops_elsewhere`` count)."""
    mode = ElsewhereMode()
    with warnings.catch_warnings():
        # load_state_dict warns that copying into a "meta" parameter is a no-op; here copy_ really copies
        warnings.filterwarnings("ignore", message=".*copying from a non-meta parameter.*")
        with FromData(), mode:
            yield mode
