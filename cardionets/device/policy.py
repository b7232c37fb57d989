"""Which device and precision a command computes with, and how tensors get there.

:func:`resolve_device` turns a ``--device`` spec into a ``torch.device`` (``auto`` = CUDA when a GPU
is visible). :class:`DevicePolicy` is the one object a stage asks for everything device-dependent:

* ``module(m)`` / ``to(batch)``: the only places models and batches are moved (non-blocking copies
  from pinned memory on CUDA);
* ``autocast()`` and ``grad_scaler()``: mixed precision by :func:`autocast_dtype` (bf16 on CUDA,
  fp16 + a gradient scaler on GPUs without bf16; on the CPU what the configuration asks, fp32 by
  default because fp32 GEMMs are the fast ones on the CPUs measured, docs/method.md);
* ``loader_kwargs(workers)``: pinned memory and prefetching workers for the DataLoader;
* ``ddp_backend`` / ``ddp_kwargs``: NCCL with one GPU per process on CUDA, gloo on the CPU;
* :func:`runtime_record`: what a run writes into its config/record (device, precision, backends).

A ``torch.device`` object is taken as it is (Python API), so any device PyTorch supports can be
passed programmatically; the command line accepts ``auto|cpu|cuda[:N]``.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InputError
from .spec import PRECISIONS, parse_device_spec
from ..sysinfo import cpu_model


def _local_rank() -> int | None:
    """LOCAL_RANK of a torchrun process group of more than one process, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return int(os.environ.get("LOCAL_RANK", "0"))
    return None


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` (or a ``torch.device``) -> the device to compute on.

    ``auto`` picks CUDA when PyTorch sees a GPU. Under torchrun (WORLD_SIZE > 1) ``auto`` and ``cuda``
    mean ``cuda:LOCAL_RANK`` (one GPU per process); another explicit index is refused there. Raises
    :class:`~cardionets.errors.InputError` naming the problem when the device does not exist."""
    if isinstance(spec, torch.device):
        if spec.type == "cuda":
            return resolve_device(str(spec))
        return spec
    text = parse_device_spec("auto" if spec is None else spec)
    if text == "cpu":
        return torch.device(text)
    rank = _local_rank()
    if text == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        text = "cuda"
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise InputError(f"device {text!r}: no CUDA device is visible to PyTorch (torch {torch.__version__}, "
                         f"{build}; CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); "
                         "use --device cpu or auto")
    count = torch.cuda.device_count()
    if text == "cuda":
        index = rank if rank is not None else torch.cuda.current_device()
    else:
        index = int(text.split(":", 1)[1])
        if rank is not None and index != rank:
            raise InputError(f"device {text!r}: under torchrun every process uses cuda:LOCAL_RANK (this one is "
                             f"cuda:{rank}); pass --device cuda or auto")
    if index >= count:
        raise InputError(f"device cuda:{index}: only {count} CUDA device(s) are visible (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)


def cuda_has_bf16(device: torch.device) -> bool:
    """Native bf16 tensor cores (compute capability >= 8.0), not emulation."""
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None = plain fp32).

    ``auto``: bf16 on CUDA GPUs that have it, fp16 (with a gradient scaler) on older GPUs, fp32
    elsewhere. ``fp32``: never autocast. ``bf16``: CPU or CUDA autocast (refused on a GPU without
    bf16). ``fp16``: CUDA only."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    kind = device.type
    if precision == "fp32":
        return None
    if precision == "auto":
        if kind != "cuda":
            return None
        return torch.bfloat16 if cuda_has_bf16(device) else torch.float16
    if precision == "bf16":
        if kind == "cpu":
            return torch.bfloat16
        if kind == "cuda":
            if not cuda_has_bf16(device):
                raise InputError(f"precision bf16: {torch.cuda.get_device_name(device)} has no native bf16 "
                                 "(compute capability < 8.0); use precision fp16 or auto")
            return torch.bfloat16
        raise InputError(f"precision bf16: no autocast on device {device}; use fp32")
    if kind != "cuda":
        raise InputError(f"precision fp16 needs a CUDA device (got {device}); on the CPU use fp32 (fastest "
                         "here) or bf16")
    return torch.float16


def _move(obj: Any, device: torch.device, non_blocking: bool) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, dict):
        return {k: _move(v, device, non_blocking) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and obj and any(isinstance(v, torch.Tensor) for v in obj):
        return type(obj)(_move(v, device, non_blocking) for v in obj)
    return obj


@dataclass(frozen=True)
class DevicePolicy:
    device: torch.device
    precision: str = "auto"                  # as requested (auto | fp32 | bf16 | fp16)
    amp_dtype: torch.dtype | None = None     # what autocast uses (None = fp32)

    @classmethod
    def create(cls, device: str | torch.device | None = "auto", precision: str = "auto") -> "DevicePolicy":
        dev = resolve_device(device)
        return cls(dev, precision, autocast_dtype(dev, precision))

    @classmethod
    def like(cls, tensor: torch.Tensor) -> "DevicePolicy":
        """fp32 on the device ``tensor`` lives on (for code handed tensors rather than a flag)."""
        return cls(tensor.device, "fp32", None)

    # -- facts ------------------------------------------------------------------------------
    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def precision_in_use(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]

    @property
    def pin_memory(self) -> bool:
        return self.is_cuda

    @property
    def ddp_backend(self) -> str:
        return "nccl" if self.is_cuda else "gloo"

    def ddp_kwargs(self) -> dict:
        return {"device_ids": [self.device.index], "output_device": self.device.index} if self.is_cuda else {}

    # -- moving -----------------------------------------------------------------------------
    def module(self, m: torch.nn.Module) -> torch.nn.Module:
        return m.to(self.device)

    def to(self, obj: Any) -> Any:
        """Tensors (alone or in dicts / lists / tuples) on the device; strings and other values kept."""
        return _move(obj, self.device, self.is_cuda)

    def loader_kwargs(self, num_workers: int = 0) -> dict:
        """DataLoader options: pinned host memory on CUDA; with workers, two batches prefetched each."""
        kw: dict[str, Any] = {"num_workers": int(num_workers), "pin_memory": self.pin_memory}
        if num_workers > 0:
            kw["prefetch_factor"] = 2
        return kw

    # -- precision --------------------------------------------------------------------------
    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def grad_scaler(self) -> "torch.amp.GradScaler | None":
        """A gradient scaler for fp16 autocast (bf16 and fp32 need none)."""
        if self.amp_dtype is torch.float16:
            return torch.amp.GradScaler(self.device.type)
        return None

    def synchronize(self) -> None:
        if self.is_cuda:
            torch.cuda.synchronize(self.device)

    def describe(self) -> dict:
        out: dict[str, Any] = {"device": str(self.device), "precision": self.precision,
                               "autocast": None if self.amp_dtype is None else self.precision_in_use,
                               "grad_scaler": self.amp_dtype is torch.float16, "pin_memory": self.pin_memory}
        if self.is_cuda:
            props = torch.cuda.get_device_properties(self.device)
            out.update(device_name=props.name, capability=f"{props.major}.{props.minor}",
                       memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
        else:
            out.update(device_name=cpu_model() if self.device.type == "cpu" else self.device.type,
                       torch_threads=torch.get_num_threads())
        return out


def runtime_record(policy: DevicePolicy, *, backends: dict | None = None, world: int = 1) -> dict:
    """What a run writes about how it ran: device, precision, DDP, and the op backends that ran
    (``backends``: {op: {backend: calls}} from :func:`cardionets.ops.dispatch.count_backends`)."""
    rec = {**policy.describe(), "torch": torch.__version__}
    if world > 1:
        rec["ddp"] = {"backend": policy.ddp_backend, "world_size": world}
    if backends is not None:
        rec["backends"] = backends
    return rec
