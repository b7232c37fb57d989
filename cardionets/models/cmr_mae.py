"""Masked autoencoding of the CMR encoder (MAE, He et al. 2022) on 50-frame cine CMR.

75% of the 36 patches are masked (all 50 frames of a patch together); the encoder sees the 9
visible patches + CLS; the decoder restores mask tokens in place and predicts the 16 x 16 x 50
pixels of every patch. Loss: mean squared error over the masked patches, optionally on per-patch
normalised pixels (``norm_pix_loss``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from .blocks import Block, check_finite, init_weights, random_keep, sincos_2d
from .cmr_encoder import CMREncoder, CMREncoderConfig, cmr_config


@dataclass
class CMRMAEConfig:
    encoder: CMREncoderConfig = field(default_factory=CMREncoderConfig)
    decoder_width: int = 512
    decoder_depth: int = 8
    decoder_heads: int = 16
    mask_ratio: float = 0.75
    norm_pix_loss: bool = True


class CMRMaskedAutoencoder(nn.Module):
    def __init__(self, cfg: CMRMAEConfig):
        super().__init__()
        self.cfg = cfg
        e = cfg.encoder
        Dd = cfg.decoder_width
        self.encoder = CMREncoder(e)
        self.decoder_embed = nn.Linear(e.width, Dd)
        self.mask_token = nn.Parameter(torch.zeros(Dd))
        self.register_buffer("decoder_pos", sincos_2d(Dd, e.grid), persistent=False)  # [N, Dd]
        self.decoder_blocks = nn.ModuleList(Block(Dd, cfg.decoder_heads) for _ in range(cfg.decoder_depth))
        self.decoder_norm = nn.LayerNorm(Dd, eps=1e-6)
        self.decoder_pred = nn.Linear(Dd, e.patch_size ** 2 * e.frames)
        for m in (self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            m.apply(init_weights)
        nn.init.normal_(self.mask_token, std=0.02)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, F, H, W] -> [B, N, p*p*F] (row-major patches; pixels ordered p_row, p_col, frame)."""
        B, F, H, W = x.shape
        p, g = self.cfg.encoder.patch_size, self.cfg.encoder.grid
        x = x.reshape(B, F, g, p, g, p)  # [B, F, gh, p, gw, p]
        x = x.permute(0, 2, 4, 3, 5, 1)  # [B, gh, gw, p, p, F]
        return x.reshape(B, g * g, p * p * F)

    def unpatchify(self, y: torch.Tensor) -> torch.Tensor:
        """[B, N, p*p*F] -> [B, F, H, W]."""
        B = y.shape[0]
        e = self.cfg.encoder
        p, g, F = e.patch_size, e.grid, e.frames
        y = y.reshape(B, g, g, p, p, F).permute(0, 5, 1, 3, 2, 4)  # [B, F, gh, p, gw, p]
        return y.reshape(B, F, g * p, g * p)

    def forward_encoder(self, x: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None = None):
        """x [B, F, H, W] -> latent [B, 1+K, D], mask [B, N] (1 = masked), ids_restore [B, N].
        ``noise [B, N]`` fixes the masks (None: drawn from the global RNG)."""
        self.encoder.check(x)
        tok = self.encoder.embed(x)  # [B, N, D]
        B, N, D = tok.shape
        keep = max(1, int(N * (1.0 - mask_ratio)))
        ids_keep, ids_restore, mask = random_keep(B, N, keep, device=x.device, noise=noise)
        tok = torch.gather(tok, 1, ids_keep[..., None].expand(B, keep, D))  # [B, K, D]
        return self.encoder.forward_tokens(tok), mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent [B, 1+K, D] -> predicted pixels per patch [B, N, p*p*F]."""
        y = self.decoder_embed(latent)  # [B, 1+K, Dd]
        B, K1, Dd = y.shape
        N = ids_restore.shape[1]
        fill = self.mask_token.expand(B, N - (K1 - 1), Dd)
        full = torch.cat([y[:, 1:], fill], dim=1)  # shuffled: [B, N, Dd]
        full = torch.gather(full, 1, ids_restore[..., None].expand(B, N, Dd)) + self.decoder_pos
        z = torch.cat([y[:, :1], full], dim=1)  # [B, 1+N, Dd]
        for blk in self.decoder_blocks:
            z = blk(z)
        return self.decoder_pred(self.decoder_norm(z))[:, 1:]  # drop CLS: [B, N, p*p*F]

    def forward_loss(self, x: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor, per_sample: bool = False):
        """Mean squared error on the masked patches (scalar, or [B] with ``per_sample``)."""
        target = self.patchify(x)  # [B, N, p*p*F]
        if self.cfg.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        per_patch = ((pred - target) ** 2).mean(dim=-1)  # [B, N]
        if per_sample:
            return (per_patch * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)

    def forward(self, x: torch.Tensor, mask_ratio: float | None = None, noise: torch.Tensor | None = None,
                per_sample: bool = False):
        ratio = self.cfg.mask_ratio if mask_ratio is None else mask_ratio
        latent, mask, ids_restore = self.forward_encoder(x, ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        loss = self.forward_loss(x, pred, mask, per_sample)
        check_finite(loss, "CMR MAE pretraining")
        return loss, pred, mask


def cmr_mae_config(size: str, encoder_overrides: dict | None = None, **overrides) -> CMRMAEConfig:
    dec = {"base": dict(decoder_width=512, decoder_depth=8, decoder_heads=16),
           "tiny": dict(decoder_width=128, decoder_depth=2, decoder_heads=4)}
    if size not in dec:
        raise ValueError(f"unknown CMR MAE size {size!r}; presets: {', '.join(dec)}")
    return CMRMAEConfig(encoder=cmr_config(size, **(encoder_overrides or {})), **{**dec[size], **overrides})


def mae_cmr_vit_base_patch16(**overrides) -> CMRMaskedAutoencoder:
    return CMRMaskedAutoencoder(cmr_mae_config("base", **overrides))


def mae_cmr_vit_tiny_patch16(**overrides) -> CMRMaskedAutoencoder:
    return CMRMaskedAutoencoder(cmr_mae_config("tiny", **overrides))
