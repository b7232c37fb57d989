"""Deterministic cross-modal decoder: the baseline the generator is compared with.

In the spirit of the Cross-AE baseline of the paper: the aligned ECG embedding is decoded straight
into a cine by a convolutional decoder trained with L1 on the paired real cine. No latent sampling,
no masking: one ECG gives one cine, the conditional mean that L1 favours (typically blurred where
the ECG leaves the anatomy uncertain), which is what the generator's samples are measured against.

Layout: Linear(cond_dim -> C0 * seed grid) to a coarse [C0, 5, 6, 6] volume, trilinear upsampling
to the VAE latent grid [*, 25, 12, 12], then the same 3-D decoder stack as the VAE (so the two
models have comparable capacity and the same output resolution [1, 50, 96, 96]).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import check_finite
from .vae3d import Decoder3d, ResBlock3d, VAE3DConfig


@dataclass
class CrossDecoderConfig:
    cond_dim: int = 768
    seed_channels: int = 64
    seed_grid: tuple[int, int, int] = (5, 6, 6)
    hidden_channels: int = 16       # channels on the latent grid, the decoder's input
    vae: dict = field(default_factory=dict)  # VAE3DConfig overrides for the decoder stack
    dropout: float = 0.1

    def __post_init__(self):
        self.seed_grid = tuple(int(s) for s in self.seed_grid)

    def decoder_config(self) -> VAE3DConfig:
        return VAE3DConfig(**{**self.vae, "latent_channels": self.hidden_channels})


class CrossModalDecoder(nn.Module):
    def __init__(self, cfg: CrossDecoderConfig):
        super().__init__()
        self.cfg = cfg
        dcfg = cfg.decoder_config()
        self.grid = dcfg.latent_shape[1:]  # (25, 12, 12) for a 50x96x96 cine
        self.proj = nn.Sequential(nn.LayerNorm(cfg.cond_dim), nn.Dropout(cfg.dropout),
                                  nn.Linear(cfg.cond_dim, cfg.seed_channels * math.prod(cfg.seed_grid)))
        self.seed_block = ResBlock3d(cfg.seed_channels, cfg.hidden_channels, dcfg.groups)
        self.decoder = Decoder3d(dcfg, cfg.hidden_channels)

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        """ECG embedding [B, cond_dim] -> cine [B, 1, T, H, W] in [-1, 1]."""
        if cond.dim() != 2 or cond.shape[1] != self.cfg.cond_dim:
            raise ValueError(f"cross-modal decoder takes [B, {self.cfg.cond_dim}] ECG embeddings, got {tuple(cond.shape)}")
        B = cond.shape[0]
        h = self.proj(cond).reshape(B, self.cfg.seed_channels, *self.cfg.seed_grid)  # [B, C0, 5, 6, 6]
        h = F.interpolate(h, size=self.grid, mode="trilinear", align_corners=False)  # [B, C0, 25, 12, 12]
        h = self.seed_block(h)  # [B, hidden, 25, 12, 12]
        return torch.tanh(self.decoder(h))  # [B, 1, 50, 96, 96]

    def forward_loss(self, cond: torch.Tensor, cine: torch.Tensor) -> torch.Tensor:
        """L1 between the decoded cine and the paired real cine [B, 1, T, H, W]."""
        pred = self(cond)
        if pred.shape != cine.shape:
            raise ValueError(f"paired cine {tuple(cine.shape)} does not match the decoder output {tuple(pred.shape)}")
        loss = (pred - cine).abs().mean()
        check_finite(loss, "cross-modal decoder L1")
        return loss

    @torch.no_grad()
    def generate(self, cond: torch.Tensor) -> torch.Tensor:
        return self(cond)


def cross_decoder_tiny(**kw) -> CrossModalDecoder:
    """CPU preset: the tiny VAE's decoder stack (2x4x4 patch stem, widths 32 / 64)."""
    vae = {"channels": (32, 64), "res_blocks": 1, "groups": 8, "stem": (2, 4, 4), "time_down": (False,)}
    return CrossModalDecoder(CrossDecoderConfig(**{"seed_channels": 32, "vae": vae, **kw}))


def cross_decoder_base(**kw) -> CrossModalDecoder:
    """The base VAE's decoder stack (widths 64 / 128 / 256 / 256)."""
    return CrossModalDecoder(CrossDecoderConfig(**kw))


CROSS_PRESETS = {"tiny": cross_decoder_tiny, "base": cross_decoder_base}


def build_cross_decoder(preset: str = "tiny", **kw) -> CrossModalDecoder:
    if preset not in CROSS_PRESETS:
        raise ValueError(f"unknown cross-decoder preset {preset!r}; choose from {sorted(CROSS_PRESETS)}")
    return CROSS_PRESETS[preset](**kw)


def cross_decoder_from_config(d: dict) -> CrossModalDecoder:
    return CrossModalDecoder(CrossDecoderConfig(**{k: v for k, v in d.items()
                                                   if k in CrossDecoderConfig.__dataclass_fields__}))
