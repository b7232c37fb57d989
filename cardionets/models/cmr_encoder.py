"""CMR encoder: a ViT-B/16 over 96 x 96 four-chamber cine CMR with the 50 frames as input channels.

36 patches of 16 x 16 (each carrying all 50 frames) plus a CLS token; fixed 2-D sine-cosine
positions (MAE). The CLS embedding (768-d at base size) is the CMR feature: it is the frozen target
of the contrastive alignment and, through PCA-128, defines the InfoNCE weights. The patch tokens
are exposed for interpretability heatmaps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..errors import InputError
from .blocks import Block, init_weights, sincos_2d


@dataclass
class CMREncoderConfig:
    frames: int = 50  # cine frames, used as input channels
    image_size: int = 96
    patch_size: int = 16  # -> 6 x 6 = 36 patches
    width: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    drop_path: float = 0.0

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid ** 2


class CMREncoder(nn.Module):
    def __init__(self, cfg: CMREncoderConfig):
        super().__init__()
        if cfg.image_size % cfg.patch_size:
            raise ValueError(f"image_size {cfg.image_size} is not a multiple of patch_size {cfg.patch_size}")
        self.cfg = cfg
        D = cfg.width
        self.patch_embed = nn.Conv2d(cfg.frames, D, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(D))
        self.register_buffer("pos_embed", sincos_2d(D, cfg.grid), persistent=False)  # [N, D], fixed
        dpr = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()
        self.blocks = nn.ModuleList(Block(D, cfg.heads, cfg.mlp_ratio, cfg.dropout, dpr[i]) for i in range(cfg.depth))
        self.norm = nn.LayerNorm(D, eps=1e-6)
        self.apply(init_weights)
        w = self.patch_embed.weight.data  # MAE: initialise the patch projection like a linear layer
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)

    @property
    def width(self) -> int:
        return self.cfg.width

    def check(self, x: torch.Tensor) -> None:
        c = self.cfg
        if x.dim() != 4 or tuple(x.shape[1:]) != (c.frames, c.image_size, c.image_size):
            raise InputError(f"CMR batch must be [batch, {c.frames} frames, {c.image_size}, {c.image_size}], "
                             f"got shape {tuple(x.shape)}")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """[B, F, H, W] -> patch tokens with positions [B, N, D] (no CLS yet)."""
        tok = self.patch_embed(x)  # [B, D, H/p, W/p]
        tok = tok.flatten(2).transpose(1, 2)  # [B, N, D], row-major patch order
        return tok + self.pos_embed

    def forward_tokens(self, tok: torch.Tensor) -> torch.Tensor:
        """Prepend CLS, run the blocks, final norm: [B, K, D] -> [B, 1+K, D]."""
        cls = self.cls_token.expand(tok.shape[0], 1, -1)  # CLS has no position
        x = torch.cat([cls, tok], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_encoder(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens [B, 1+N, D]: index 0 is CLS, 1.. are the 36 patches in row-major order."""
        self.check(x)
        return self.forward_tokens(self.embed(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The CLS embedding [B, D]."""
        return self.forward_encoder(x)[:, 0]

    def patch_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens as a grid [B, D, 6, 6] (for heatmaps)."""
        g = self.cfg.grid
        tok = self.forward_encoder(x)[:, 1:]  # [B, N, D]
        return tok.transpose(1, 2).reshape(tok.shape[0], -1, g, g)


CMR_PRESETS = {
    # ViT-B/16 with 50 input channels: about 95 M parameters.
    "base": dict(width=768, depth=12, heads=12, mlp_ratio=4.0),
    "tiny": dict(width=128, depth=4, heads=4, mlp_ratio=4.0),
}


def cmr_config(size: str, **overrides) -> CMREncoderConfig:
    if size not in CMR_PRESETS:
        raise ValueError(f"unknown CMR encoder size {size!r}; presets: {', '.join(CMR_PRESETS)}")
    return CMREncoderConfig(**{**CMR_PRESETS[size], **overrides})


def cmr_vit_base_patch16(**overrides) -> CMREncoder:
    return CMREncoder(cmr_config("base", **overrides))


def cmr_vit_tiny_patch16(**overrides) -> CMREncoder:
    return CMREncoder(cmr_config("tiny", **overrides))
