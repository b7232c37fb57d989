"""Multi-head attention for the ViT, ST-MEM and MAR blocks.

``attention(q, k, v, *, attn_mask=None, dropout_p=0.0, scale=None, backend="auto")`` with
``q, k, v: [B, H, L, Dh]`` (the layout of ``torch.nn.functional.scaled_dot_product_attention``),
returning ``[B, H, Lq, Dh]``. Backends in priority order:

* ``flash``: flash-attn's ``flash_attn_func`` (CUDA, fp16/bf16, head size <= 256 and a multiple of
  8, no mask); imported only when chosen.
* ``sdpa``: PyTorch's fused scaled-dot-product attention (every device; on CPU a flash-style kernel).
* ``reference``: the equation, softmax(q k^T * scale + mask) v, in plain PyTorch.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .checks import dtypes_in, package_installed, tensors_on
from ..optional import require
from .dispatch import define_op

attention_op = define_op("attention", "softmax(q k^T / sqrt(d) + mask) v over [B, H, L, Dh] tensors")


def attention_reference(q, k, v, attn_mask=None, dropout_p: float = 0.0, scale: float | None = None):
    """softmax(q k^T * scale + mask) v, computed in fp32 for low-precision inputs."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    qf, kf, vf = (t.float() for t in (q, k, v))
    logits = torch.matmul(qf, kf.transpose(-2, -1)) * scale  # [B, H, Lq, Lk]
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            logits = logits.masked_fill(~attn_mask, float("-inf"))
        else:
            logits = logits + attn_mask.float()
    probs = torch.softmax(logits, dim=-1)
    if dropout_p > 0.0:
        probs = F.dropout(probs, p=dropout_p)
    return torch.matmul(probs, vf).to(q.dtype)  # [B, H, Lq, Dh]


def _flash_env() -> list[str]:
    if not package_installed("flash_attn"):
        return ["flash-attn is not installed (optional extra: pip install 'cardionets[gpu]')"]
    if not torch.cuda.is_available():
        return ["flash-attn needs a CUDA device and none is present"]
    return []


def _flash_inputs(q, k, v, attn_mask=None, dropout_p=0.0, scale=None) -> list[str]:
    reasons = tensors_on((q, k, v), "cuda")
    reasons += dtypes_in((q, k, v), (torch.float16, torch.bfloat16))
    d = q.shape[-1]
    if d > 256 or d % 8:
        reasons.append(f"head size {d} unsupported by flash-attn (needs <= 256 and a multiple of 8)")
    if attn_mask is not None:
        reasons.append("flash-attn path takes no attention mask")
    return reasons


@attention_op.register("flash", env_check=_flash_env, input_check=_flash_inputs)
def attention_flash(q, k, v, attn_mask=None, dropout_p: float = 0.0, scale: float | None = None):
    """flash-attn 2 (expects [B, L, H, Dh])."""
    flash_attn_func = require("flash_attn", "the flash attention backend").flash_attn_func
    out = flash_attn_func(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), dropout_p=dropout_p, softmax_scale=scale
    )
    return out.transpose(1, 2)


def _sdpa_env() -> list[str]:
    return [] if hasattr(F, "scaled_dot_product_attention") else ["this torch has no scaled_dot_product_attention"]


@attention_op.register("sdpa", env_check=_sdpa_env)
def attention_sdpa(q, k, v, attn_mask=None, dropout_p: float = 0.0, scale: float | None = None):
    """torch.nn.functional.scaled_dot_product_attention."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)


attention_op.register("reference")(attention_reference)


def _example():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 37, 32, generator=g) for _ in range(3))
    return (q, k, v), {}


attention_op.example = _example


def attention(q, k, v, *, attn_mask=None, dropout_p: float = 0.0, scale: float | None = None,
              backend: str | None = "auto"):
    """Scaled dot-product attention over ``[B, H, L, Dh]`` through the dispatch registry."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"attention expects [B, H, L, Dh] tensors, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    return attention_op(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale, backend=backend)
