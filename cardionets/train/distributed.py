"""Distributed data parallel (torchrun) helpers: process group, gathers, rank-aware printing.

``torchrun --nproc_per_node N -m cardionets.cli align ...`` sets RANK / WORLD_SIZE / LOCAL_RANK;
:func:`init` then joins the process group with the backend of the run's device (NCCL when the
processes compute on CUDA -- each on ``cuda:LOCAL_RANK``, set as its current device first -- gloo on
the CPU). Every process holds the full model; the global batch is split evenly across processes (see
:mod:`.data`), gradients are averaged by DDP, and evaluation outputs are gathered so every process
computes the same metrics. The small tensors the collectives here reduce live on the same device.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


_COLLECTIVE_DEVICE: list[torch.device] = []  # the device of the joined process group's tensors


def init(device: torch.device | None = None) -> DistInfo:
    """Join the process group described by the torchrun environment variables (no-op without them).

    ``device`` is the device this process computes on (:func:`cardionets.device.resolve_device` gives
    ``cuda:LOCAL_RANK`` under torchrun): CUDA -> NCCL, after making it the current CUDA device;
    anything else -> gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = device is not None and device.type == "cuda"
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if cuda else "gloo", rank=rank, world_size=world)
        _COLLECTIVE_DEVICE[:] = [device] if cuda else []
    return DistInfo(rank=rank, world=world, local_rank=local)


def _scalar(x: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A one-element tensor where this process group's collectives run (the GPU under NCCL)."""
    return torch.tensor([x], dtype=dtype, device=_COLLECTIVE_DEVICE[0] if _COLLECTIVE_DEVICE else None)


def info() -> DistInfo:
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return DistInfo()


def all_gather_tensor(t: torch.Tensor) -> torch.Tensor:
    """Concatenate equally shaped tensors of all ranks along dim 0, in rank order (no gradient)."""
    d = info()
    if not d.enabled:
        return t
    parts = [torch.empty_like(t) for _ in range(d.world)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim=0)


def gather_with_local_grad(t: torch.Tensor) -> torch.Tensor:
    """All ranks' rows with this rank's slice still carrying its gradient (others are constants).

    A loss computed from the gathered batch on every rank, multiplied by the world size, then
    averaged by DDP, has exactly the gradient of the same loss on one process with the whole batch.
    """
    d = info()
    if not d.enabled:
        return t
    parts = [torch.empty_like(t) for _ in range(d.world)]
    dist.all_gather(parts, t.detach().contiguous())
    parts[d.rank] = t
    return torch.cat(parts, dim=0)


def all_gather_objects(obj):
    d = info()
    if not d.enabled:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(x: float) -> float:
    d = info()
    if not d.enabled:
        return x
    t = _scalar(x, torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / d.world


def any_true(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (to stop all processes together)."""
    d = info()
    if not d.enabled:
        return flag
    t = _scalar(1.0 if flag else 0.0)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def barrier() -> None:
    if info().enabled:
        dist.barrier()


def broadcast_tensors(tensors: dict[str, torch.Tensor]) -> None:
    """In place: every rank gets rank 0's values."""
    if not info().enabled:
        return
    for k in sorted(tensors):
        dist.broadcast(tensors[k], src=0)
