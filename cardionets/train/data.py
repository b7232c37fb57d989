"""Data plumbing of the training loop: deterministic batch order, per-item seeding, collation.

* :class:`GlobalBatchSampler` -- the epoch's order is a permutation drawn from (seed, epoch); the
  global batch ``k`` is ``perm[k*B:(k+1)*B]`` and process ``r`` of ``W`` takes its ``r``-th
  slice of ``B/W`` items. One process and W processes therefore see the same global batches, and a
  resumed run continues from the batch where it stopped.
* :class:`SeededItems` -- wraps a dataset so that every item's randomness (the random ECG crop)
  depends only on (seed, epoch, index): independent of data-loader workers, process count and
  resumption. It seeds torch / numpy / python for the duration of ``__getitem__`` and restores
  the caller's RNG state afterwards. A dataset with a ``set_item_seed(seed)`` method (or an ``rng``
  attribute) gets the seed directly instead.
* :func:`collate` -- stacks the contract's dict items (tensors stacked, ``subject_id`` kept as a list).
"""
from __future__ import annotations

import random
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from ..errors import InputError


class GlobalBatchSampler(torch.utils.data.Sampler):
    def __init__(self, n: int, batch_size: int, *, seed: int, epoch: int, rank: int = 0, world: int = 1,
                 start_batch: int = 0, shuffle: bool = True):
        if batch_size % world:
            raise InputError(f"global batch {batch_size} is not divisible by the {world} processes")
        if n < batch_size:
            raise InputError(f"training split has {n} items, fewer than one batch of {batch_size}")
        self.n, self.B, self.seed, self.epoch = n, batch_size, seed, epoch
        self.rank, self.world, self.start, self.shuffle = rank, world, start_batch, shuffle

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.B  # drop_last: contrastive losses need full batches

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        perm = self.order()
        per = self.B // self.world
        for k in range(self.start, self.batches_per_epoch):
            glob = perm[k * self.B:(k + 1) * self.B]
            yield [(self.epoch, i) for i in glob[self.rank * per:(self.rank + 1) * per]]

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start


def shard_indices(n: int, rank: int, world: int) -> list[int]:
    """Evaluation shard of a process: every world-th item (no padding, no duplicates)."""
    return list(range(rank, n, world))


class SeededItems(torch.utils.data.Dataset):
    """``dataset[(epoch, index)]`` with all randomness seeded from (seed, epoch, index)."""

    def __init__(self, dataset, seed: int):
        self.dataset, self.seed = dataset, int(seed)

    def __len__(self) -> int:
        return len(self.dataset)

    def item_seed(self, epoch: int, index: int) -> int:
        return (self.seed * 1_000_003 + epoch * 100_019 + index) % (2**31 - 1)

    def __getitem__(self, key: tuple[int, int] | int):
        item = dict(self._get(key))
        item["index"] = key[1] if isinstance(key, tuple) else key
        return item

    def _get(self, key: tuple[int, int] | int):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        s = self.item_seed(epoch, index)
        base = self.dataset
        while isinstance(base, Subset):
            base = base.dataset
        if hasattr(base, "set_item_seed"):
            base.set_item_seed(s)
            return self.dataset[index]
        if isinstance(getattr(base, "rng", None), np.random.Generator):
            base.rng = np.random.default_rng(s)
            return self.dataset[index]
        t_state, n_state, p_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
        try:
            torch.manual_seed(s)
            np.random.seed(s)
            random.seed(s)
            return self.dataset[index]
        finally:
            torch.set_rng_state(t_state)
            np.random.set_state(n_state)
            random.setstate(p_state)


class IndexedItems(torch.utils.data.Dataset):
    """Evaluation view: ``dataset[i]`` plus its index (to reorder gathered outputs)."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        item = dict(self.dataset[self.indices[i]])
        item["index"] = self.indices[i]
        return item


def _to_tensor(v: Any) -> torch.Tensor:
    return v if torch.is_tensor(v) else torch.as_tensor(np.asarray(v))


def collate(items: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in items[0]:
        vals = [it[key] for it in items]
        if isinstance(vals[0], str):
            out[key] = vals
        else:
            out[key] = torch.stack([_to_tensor(v) for v in vals])
    return out


class Subset(torch.utils.data.Dataset):
    """A subset of a dataset (:class:`SeededItems` seeds the wrapped dataset through it)."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.dataset[self.indices[i]]

