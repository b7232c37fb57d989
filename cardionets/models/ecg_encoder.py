"""ST-MEM-style ECG encoder (Na et al., ICLR 2024), the ECG branch of CardioNets.

A 12-lead ECG of 2250 samples (9 s at 250 Hz) is cut into 30 patches of 75 samples per lead. Each
lead becomes ``[SEP, p_1 .. p_30, SEP]`` (32 tokens), so 12 leads give 384 tokens. Every token gets
a positional embedding (32 slots shared by all leads) and the learned embedding of its lead. There
is no CLS token: the ECG feature is the mean over the non-SEP tokens, then LayerNorm.

Lead subsets are explicit: pass ``leads=[...]`` (indices into :data:`STANDARD_LEADS` or the names
themselves) with an input of ``len(leads)`` channels; an input with fewer than 12 channels and no
``leads`` raises instead of silently broadcasting the lead embeddings (a pitfall of the original).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn

from ..errors import InputError
from ..preprocess import DEFAULT_SPEC, N_LEADS, STANDARD_LEADS
from .blocks import Block, init_weights


@dataclass
class ECGEncoderConfig:
    n_leads: int = N_LEADS  # size of the lead-embedding table (the standard 12 leads)
    seq_len: int = DEFAULT_SPEC.crop_len  # samples per crop (the preprocessing spec: 9 s at 250 Hz)
    patch_size: int = 75  # samples per patch -> 30 patches per lead
    width: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    drop_path: float = 0.0

    @property
    def num_patches(self) -> int:
        return self.seq_len // self.patch_size


def resolve_leads(leads: Sequence[int | str] | None, channels: int, n_leads: int = 12) -> list[int]:
    """Lead indices for an input with ``channels`` channels; raises on any ambiguity."""
    if leads is None:
        if channels != n_leads:
            raise InputError(
                f"ECG input has {channels} channels but no `leads` were given; pass leads=[...] (indices "
                f"or names from {', '.join(STANDARD_LEADS[:n_leads])}) to encode a subset of the {n_leads} leads")
        return list(range(n_leads))
    idx = []
    for lead in leads:
        if isinstance(lead, str):
            if lead not in STANDARD_LEADS[:n_leads]:
                raise InputError(f"unknown lead name {lead!r}; known: {', '.join(STANDARD_LEADS[:n_leads])}")
            idx.append(STANDARD_LEADS.index(lead))
        else:
            if not 0 <= int(lead) < n_leads:
                raise InputError(f"lead index {lead} out of range 0..{n_leads - 1}")
            idx.append(int(lead))
    if len(set(idx)) != len(idx):
        raise InputError(f"duplicate leads in {list(leads)}")
    if len(idx) != channels:
        raise InputError(f"ECG input has {channels} channels but {len(idx)} leads were named ({list(leads)})")
    return idx


class ECGEncoder(nn.Module):
    """ST-MEM ViT over lead-wise patch tokens."""

    def __init__(self, cfg: ECGEncoderConfig):
        super().__init__()
        if cfg.seq_len % cfg.patch_size:
            raise ValueError(f"seq_len {cfg.seq_len} is not a multiple of patch_size {cfg.patch_size}")
        self.cfg = cfg
        D, P = cfg.width, cfg.patch_size
        self.patch_embed = nn.Sequential(nn.LayerNorm(P), nn.Linear(P, D), nn.LayerNorm(D))
        self.pos_embed = nn.Parameter(torch.zeros(cfg.num_patches + 2, D))  # slots: SEP, p_1..p_N, SEP
        self.lead_embed = nn.Parameter(torch.zeros(cfg.n_leads, D))
        self.sep_embed = nn.Parameter(torch.zeros(D))
        dpr = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()
        self.blocks = nn.ModuleList(Block(D, cfg.heads, cfg.mlp_ratio, cfg.dropout, dpr[i]) for i in range(cfg.depth))
        self.norm = nn.LayerNorm(D, eps=1e-6)
        self.apply(init_weights)
        for p in (self.pos_embed, self.lead_embed, self.sep_embed):
            nn.init.normal_(p, std=0.02)

    @property
    def width(self) -> int:
        return self.cfg.width

    # -- tokens ------------------------------------------------------------------------------
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, C, N, P]."""
        B, C, T = x.shape
        if T != self.cfg.seq_len:
            raise InputError(f"ECG crop has {T} samples per lead; the encoder expects {self.cfg.seq_len} "
                             f"({self.cfg.num_patches} patches of {self.cfg.patch_size})")
        return x.reshape(B, C, self.cfg.num_patches, self.cfg.patch_size)

    def embed(self, x: torch.Tensor, leads: list[int], ids_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Patch tokens with SEPs, positions and lead embeddings: [B, C, T] -> [B, C, K+2, D].

        ``ids_keep [B, C, K]`` selects visible patches (masked pretraining); None keeps all N.
        """
        B, C, _ = x.shape
        N, D = self.cfg.num_patches, self.cfg.width
        lead = self.lead_embed[torch.tensor(leads, device=x.device)]  # [C, D] -- one row per input channel
        tok = self.patch_embed(self.patchify(x))  # [B, C, N, D]
        tok = tok + self.pos_embed[1:N + 1] + lead[:, None, :]
        if ids_keep is not None:
            K = ids_keep.shape[-1]
            tok = torch.gather(tok, 2, ids_keep[..., None].expand(B, C, K, D))  # [B, C, K, D]
        sep_first = (self.sep_embed + self.pos_embed[0] + lead)[None, :, None, :].expand(B, C, 1, D)
        sep_last = (self.sep_embed + self.pos_embed[N + 1] + lead)[None, :, None, :].expand(B, C, 1, D)
        return torch.cat([sep_first, tok, sep_last], dim=2)  # [B, C, K+2, D]

    def forward_tokens(self, tok: torch.Tensor) -> torch.Tensor:
        """[B, C, K+2, D] -> transformer -> [B, C, K+2, D] (before the final norm)."""
        B, C, L, D = tok.shape
        x = tok.reshape(B, C * L, D)  # all leads in one sequence: [B, C*(K+2), D]
        for blk in self.blocks:
            x = blk(x)
        return x.reshape(B, C, L, D)

    # -- features ----------------------------------------------------------------------------
    def forward_encoder(self, x: torch.Tensor, leads: Sequence[int | str] | None = None) -> torch.Tensor:
        """Token features [B, C, N+2, D] of a full (unmasked) ECG, SEP tokens included."""
        if x.dim() != 3:
            raise InputError(f"ECG input must be [batch, leads, samples], got shape {tuple(x.shape)}")
        idx = resolve_leads(leads, x.shape[1], self.cfg.n_leads)
        return self.forward_tokens(self.embed(x, idx))

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, C, N+2, D] -> mean over the non-SEP tokens of every lead -> LayerNorm -> [B, D]."""
        return self.norm(tokens[:, :, 1:-1].mean(dim=(1, 2)))

    def forward(self, x: torch.Tensor, leads: Sequence[int | str] | None = None) -> torch.Tensor:
        """The ECG feature [B, D]."""
        return self.pool(self.forward_encoder(x, leads))


# ---------------------------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------------------------
ECG_PRESETS = {
    # ST-MEM ViT-B: about 85 M parameters.
    "base": dict(width=768, depth=12, heads=12, mlp_ratio=4.0),
    # CPU-sized (0.6 M): all stages and baselines on a 3,000-subject cohort within an hour on 2 cores
    # (docs/method.md).
    "tiny": dict(width=128, depth=3, heads=4, mlp_ratio=4.0),
}


def ecg_config(size: str, **overrides) -> ECGEncoderConfig:
    if size not in ECG_PRESETS:
        raise ValueError(f"unknown ECG encoder size {size!r}; presets: {', '.join(ECG_PRESETS)}")
    return ECGEncoderConfig(**{**ECG_PRESETS[size], **overrides})


def ecg_vit_base_patch75(**overrides) -> ECGEncoder:
    return ECGEncoder(ecg_config("base", **overrides))


def ecg_vit_tiny_patch75(**overrides) -> ECGEncoder:
    return ECGEncoder(ecg_config("tiny", **overrides))
