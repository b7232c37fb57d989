"""Batches handed out already on the device, the next one copied while the current one computes.

On CUDA, :class:`DevicePrefetcher` issues the copy of batch k+1 (pinned host memory -> GPU,
non-blocking) on a side stream while batch k runs on the current stream; the current stream waits
for that copy before the batch is used, and each tensor is recorded on it so the allocator does not
reuse its memory early. On other devices each batch is moved when it is taken (the DataLoader's
workers already overlap reading with compute).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import torch

from .policy import DevicePolicy


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


class DevicePrefetcher:
    def __init__(self, loader: Iterable, policy: DevicePolicy):
        self.loader, self.policy = loader, policy

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        if not self.policy.is_cuda:
            for batch in self.loader:
                yield self.policy.to(batch)
            return
        device = self.policy.device
        side = torch.cuda.Stream(device=device)
        it = iter(self.loader)

        def issue():
            batch = next(it, None)
            if batch is None:
                return None
            with torch.cuda.stream(side):
                return self.policy.to(batch)

        nxt = issue()
        while nxt is not None:
            main = torch.cuda.current_stream(device)
            main.wait_stream(side)
            cur = nxt
            for t in _tensors(cur):
                t.record_stream(main)
            nxt = issue()
            yield cur
