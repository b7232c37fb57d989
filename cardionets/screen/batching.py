"""The default model batch of ``cardionets screen``: as many records as keep one activation tensor in the
L2 caches of the threads that run the model.

Why not a fixed batch: on this CPU the tiny screening model is fastest at 2-4 records per batch and
about 30% slower per record at 16 (docs/screening.md, "Batch size"). A batch of 16 tiny records is 48
crops x 384 tokens x 128 channels x 4 bytes = 9.4 MB per activation tensor and 38 MB for the MLP's
hidden layer, past the L2 (1 MiB per core here) and the 32 MiB L3, so the element-wise work (LayerNorm, GELU, bias,
residual adds), which is a large share at small width, runs from DRAM. At base width (768) the
GEMMs dominate and one record (1,152 token rows per GEMM) already keeps them efficient.

Rule: ``batch = clamp(threads x L2 bytes // (crops x tokens x width x 4 bytes), 1, max_batch)`` with the
widest encoder of the model and torch's intra-op thread count; the per-core L2 size comes from sysfs
(Linux), else 1 MiB. Here: 3 for tiny at 2 threads (1 at 1 thread), 1 for base. ``--batch-size N``
overrides.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

DEFAULT_L2 = 1 << 20
_SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")


def _parse_size(text: str) -> int:
    """'2048K' / '2M' / '512' -> bytes."""
    t = text.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    return int(t[:-1] if t[-1:] in "KMG" else t) * mult


def l2_cache_bytes(sysfs: Path = _SYSFS, default: int = DEFAULT_L2) -> int:
    """Per-core L2 (data or unified) cache size in bytes from sysfs, or ``default`` when unknown."""
    try:
        for idx in sorted(sysfs.glob("index*")):
            if (idx / "level").read_text().strip() == "2" and \
                    (idx / "type").read_text().strip() in ("Data", "Unified"):
                return _parse_size((idx / "size").read_text())
    except (OSError, ValueError):
        pass
    return default


def record_activation_bytes(model: nn.Module, n_crops: int) -> int:
    """Bytes of one fp32 activation tensor [crops, tokens, width] of one record, widest encoder of ``model``."""
    per = 0
    for m in model.modules():
        cfg = getattr(getattr(m, "encoder", None), "cfg", None)
        if cfg is not None and hasattr(cfg, "num_patches"):
            tokens = cfg.n_leads * (cfg.num_patches + 2)
            per = max(per, n_crops * tokens * cfg.width * 4)
    return per


def auto_batch_size(model: nn.Module, n_crops: int, *, cache_bytes: int | None = None, threads: int | None = None,
                    max_batch: int = 64) -> int:
    """Records per model batch for ``model`` on this CPU (see the module docstring).

    ``cache_bytes``: the whole cache budget (default: per-core L2 x ``threads``, torch's thread count)."""
    per = record_activation_bytes(model, n_crops)
    if per <= 0:
        return 16
    if cache_bytes is None:
        cache_bytes = l2_cache_bytes() * max(1, int(threads or torch.get_num_threads()))
    return max(1, min(int(max_batch), int(cache_bytes) // per))


__all__ = ["auto_batch_size", "l2_cache_bytes", "record_activation_bytes"]
