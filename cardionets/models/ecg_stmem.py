"""ST-MEM masked pretraining of the ECG encoder (spatio-temporal masked ECG modelling).

75% of the patches of every lead are masked independently per lead; the encoder sees the visible
patches of all leads (plus their SEP tokens) in one sequence; a light decoder (width 256, 4 blocks)
puts mask tokens back in place and predicts the 75 samples of every patch. The loss is the mean
squared error over the masked patches only (optionally on per-patch normalised targets).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn

from ..errors import InputError
from .blocks import Block, check_finite, init_weights, random_keep
from .ecg_encoder import ECGEncoder, ECGEncoderConfig, ecg_config, resolve_leads


@dataclass
class STMEMConfig:
    encoder: ECGEncoderConfig = field(default_factory=ECGEncoderConfig)
    decoder_width: int = 256
    decoder_depth: int = 4
    decoder_heads: int = 4
    mask_ratio: float = 0.75
    norm_patch_loss: bool = False  # normalise each target patch by its own mean/std


class ECGMaskedAutoencoder(nn.Module):
    def __init__(self, cfg: STMEMConfig):
        super().__init__()
        self.cfg = cfg
        e = cfg.encoder
        Dd = cfg.decoder_width
        self.encoder = ECGEncoder(e)
        self.decoder_embed = nn.Linear(e.width, Dd)
        self.mask_token = nn.Parameter(torch.zeros(Dd))
        self.decoder_pos = nn.Parameter(torch.zeros(e.num_patches + 2, Dd))
        self.decoder_lead = nn.Parameter(torch.zeros(e.n_leads, Dd))
        self.decoder_blocks = nn.ModuleList(Block(Dd, cfg.decoder_heads) for _ in range(cfg.decoder_depth))
        self.decoder_norm = nn.LayerNorm(Dd, eps=1e-6)
        self.decoder_pred = nn.Linear(Dd, e.patch_size)
        for m in (self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            m.apply(init_weights)
        for p in (self.mask_token, self.decoder_pos, self.decoder_lead):
            nn.init.normal_(p, std=0.02)

    def forward_encoder(self, x: torch.Tensor, leads: list[int], mask_ratio: float, noise: torch.Tensor | None = None):
        """x [B, C, T] -> latent [B, C, K+2, D], mask [B, C, N] (1 = masked), ids_restore [B, C, N].

        ``noise [B, C, N]`` fixes the per-lead masks (None: drawn from the global RNG)."""
        B, C, _ = x.shape
        N = self.cfg.encoder.num_patches
        keep = max(1, int(N * (1.0 - mask_ratio)))
        flat_noise = None if noise is None else noise.reshape(B * C, N)
        ids_keep, ids_restore, mask = random_keep(B * C, N, keep, device=x.device, noise=flat_noise)  # [B*C, .]
        ids_keep = ids_keep.reshape(B, C, keep)
        tok = self.encoder.embed(x, leads, ids_keep)  # [B, C, K+2, D]
        latent = self.encoder.norm(self.encoder.forward_tokens(tok))
        return latent, mask.reshape(B, C, N), ids_restore.reshape(B, C, N)

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor, leads: list[int]) -> torch.Tensor:
        """latent [B, C, K+2, D] -> predicted patches [B, C, N, P]."""
        B, C, K2, _ = latent.shape
        N, Dd = self.cfg.encoder.num_patches, self.cfg.decoder_width
        y = self.decoder_embed(latent)  # [B, C, K+2, Dd]
        vis = y[:, :, 1:-1]  # [B, C, K, Dd]
        fill = self.mask_token.expand(B, C, N - (K2 - 2), Dd)
        full = torch.cat([vis, fill], dim=2)  # shuffled order: [B, C, N, Dd]
        full = torch.gather(full, 2, ids_restore[..., None].expand(B, C, N, Dd))  # original order
        lead = self.decoder_lead[torch.tensor(leads, device=latent.device)][None, :, None, :]  # [1, C, 1, Dd]
        full = full + self.decoder_pos[1:N + 1] + lead
        first = y[:, :, :1] + self.decoder_pos[0] + lead
        last = y[:, :, -1:] + self.decoder_pos[N + 1] + lead
        z = torch.cat([first, full, last], dim=2).reshape(B, C * (N + 2), Dd)  # [B, C*(N+2), Dd]
        for blk in self.decoder_blocks:
            z = blk(z)
        z = self.decoder_pred(self.decoder_norm(z)).reshape(B, C, N + 2, -1)  # [B, C, N+2, P]
        return z[:, :, 1:-1]  # drop SEP predictions: [B, C, N, P]

    def forward_loss(self, x: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor, per_sample: bool = False):
        """Mean squared error on the masked patches. x [B, C, T], pred [B, C, N, P], mask [B, C, N].
        Returns a scalar, or [B] with ``per_sample``."""
        target = self.encoder.patchify(x)  # [B, C, N, P]
        if self.cfg.norm_patch_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        per_patch = ((pred - target) ** 2).mean(dim=-1)  # [B, C, N]
        if per_sample:
            return (per_patch * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp_min(1.0)
        return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)

    def forward(self, x: torch.Tensor, leads: Sequence[int | str] | None = None, mask_ratio: float | None = None,
                noise: torch.Tensor | None = None, per_sample: bool = False):
        if x.dim() != 3:
            raise InputError(f"ECG batch must be [batch, leads, samples], got shape {tuple(x.shape)}")
        idx = resolve_leads(leads, x.shape[1], self.cfg.encoder.n_leads)
        ratio = self.cfg.mask_ratio if mask_ratio is None else mask_ratio
        latent, mask, ids_restore = self.forward_encoder(x, idx, ratio, noise)
        pred = self.forward_decoder(latent, ids_restore, idx)
        loss = self.forward_loss(x, pred, mask, per_sample)
        check_finite(loss, "ST-MEM pretraining")
        return loss, pred, mask


def stmem_config(size: str, encoder_overrides: dict | None = None, **overrides) -> STMEMConfig:
    dec = {"base": dict(decoder_width=256, decoder_depth=4, decoder_heads=4),
           "tiny": dict(decoder_width=128, decoder_depth=2, decoder_heads=4)}
    if size not in dec:
        raise ValueError(f"unknown ST-MEM size {size!r}; presets: {', '.join(dec)}")
    return STMEMConfig(encoder=ecg_config(size, **(encoder_overrides or {})), **{**dec[size], **overrides})


def stmem_vit_base_patch75(**overrides) -> ECGMaskedAutoencoder:
    return ECGMaskedAutoencoder(stmem_config("base", **overrides))


def stmem_vit_tiny_patch75(**overrides) -> ECGMaskedAutoencoder:
    return ECGMaskedAutoencoder(stmem_config("tiny", **overrides))
