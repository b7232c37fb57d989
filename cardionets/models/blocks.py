"""Transformer building blocks shared by the ECG encoder, the CMR encoder and their decoders.

Pre-norm ViT blocks (LN -> attention -> residual, LN -> MLP -> residual) with attention through
:func:`cardionets.ops.attention` (flash / sdpa / reference dispatch), stochastic depth, and the
fixed sine-cosine position tables of MAE.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops.attention import attention  # the function from its module: safe while cardionets.ops initialises
from ..errors import CardioNetsError


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample with probability ``p``."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)  # [B, 1, 1]
        return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class Attention(nn.Module):
    """Multi-head self-attention; the score/softmax/value product runs through the ops dispatcher."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = dropout
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, L, D = x.shape
        qkv = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads)  # [B, L, 3, H, Dh]
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x [B, H, L, Dh]
        out = attention(q, k, v, attn_mask=attn_mask, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(B, L, D)  # [B, H, L, Dh] -> [B, L, D]
        return self.proj_drop(self.proj(out))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), attn_mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def init_weights(module: nn.Module) -> None:
    """MAE-style initialisation: xavier-uniform linears, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """[len(positions), dim] sine-cosine table (half sines, half cosines)."""
    if dim % 2:
        raise ValueError(f"sine-cosine embedding width must be even, got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", positions.reshape(-1).astype(np.float64), omega)  # [M, D/2]
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim: int, grid: int) -> torch.Tensor:
    """[grid*grid, dim] 2-D sine-cosine table (half the width per axis), row-major patch order."""
    if dim % 4:
        raise ValueError(f"2-D sine-cosine embedding width must be divisible by 4, got {dim}")
    ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    emb = np.concatenate([sincos_1d(dim // 2, ys), sincos_1d(dim // 2, xs)], axis=1)  # [G*G, D]
    return torch.from_numpy(emb).float()


def random_keep(batch: int, length: int, keep: int, *, device, noise: torch.Tensor | None = None):
    """Batched random masking by sorting noise (MAE).

    Returns ``ids_keep [batch, keep]`` (indices of visible items, in random order), ``ids_restore
    [batch, length]`` (argsort of the shuffle, to put decoder tokens back in place) and ``mask
    [batch, length]`` (1 = masked, 0 = visible) in the original order. ``noise [batch, length]``
    fixes the masks (evaluation uses per-subject seeded noise); by default it is drawn here.
    """
    if noise is None:
        noise = torch.rand(batch, length, device=device)  # [N, L]
    ids_shuffle = torch.argsort(noise, dim=1)  # ascending: small noise is kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]
    mask = torch.ones(batch, length, device=device)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)  # [N, L]
    return ids_keep, ids_restore, mask


def draw(fn, *args, generator: torch.Generator | None = None, device: torch.device, **kw) -> torch.Tensor:
    """``fn(*args)`` (``torch.rand`` / ``randn`` / ``randint``) on ``device``. A seeded ``generator``
    draws on its own device and the result is copied over, so the same seed gives the same numbers on
    every device; without one the draw happens on ``device`` from its default generator."""
    src = generator.device if generator is not None else device
    return fn(*args, generator=generator, device=src, **kw).to(device)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def check_finite(loss: torch.Tensor, what: str) -> None:
    """Raise a clear error when a loss is NaN or infinite (called by the training loop every step)."""
    if not torch.isfinite(loss).all():
        raise CardioNetsError(f"{what}: non-finite loss ({loss.detach().float().cpu().tolist()}); "
                              "lower the learning rate, check the inputs for NaN, or disable bf16 autocast")

