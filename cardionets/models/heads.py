"""Heads on top of an encoder feature, their losses, and the encoder + head predictor.

* :class:`ProjectionHead` -- MLP used by the contrastive stage (ECG feature -> CMR embedding space).
* :class:`RegressionHead` -- all phenotypes at once on standardised targets; :func:`masked_mse`
  ignores missing (NaN) targets.
* :class:`ClassificationHead` -- binary (1 logit), multi-label (one logit per disease) or
  multi-class (softmax) screening; :func:`classification_loss` picks the matching loss and ignores
  NaN (multi-label) or negative (multi-class) labels.
* :class:`Predictor` -- encoder + head with test-time multi-crop averaging for ECG inputs.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import init_weights


class ProjectionHead(nn.Module):
    """Linear -> LayerNorm -> GELU -> Linear: [B, in_dim] -> [B, out_dim]."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or max(in_dim, out_dim)
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Linear(hidden, out_dim))
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RegressionHead(nn.Module):
    """Dropout -> Linear: [B, D] -> [B, n_outputs] standardised phenotypes."""

    def __init__(self, in_dim: int, n_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, n_outputs)
        nn.init.trunc_normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(x))


class ClassificationHead(RegressionHead):
    """Dropout -> Linear: [B, D] -> logits [B, n_classes] (1 logit for a binary task)."""


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite entries of ``target`` ([B, P]); NaN marks a missing value."""
    valid = torch.isfinite(target)
    diff = torch.where(valid, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    return (diff ** 2).sum() / valid.sum().clamp_min(1)


def classification_loss(logits: torch.Tensor, target: torch.Tensor, kind: str,
                        pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """``binary``/``multilabel``: BCE over finite float targets; ``multiclass``: CE over labels >= 0."""
    if kind in ("binary", "multilabel"):
        target = target.reshape(logits.shape).float()
        valid = torch.isfinite(target)
        per = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(target), pos_weight=pos_weight,
                                                 reduction="none")
        return (per * valid).sum() / valid.sum().clamp_min(1)
    if kind == "multiclass":
        target = target.long().reshape(-1)
        valid = target >= 0
        per = F.cross_entropy(logits, target.clamp_min(0), reduction="none")
        return (per * valid).sum() / valid.sum().clamp_min(1)
    raise ValueError(f"unknown classification kind {kind!r}")


def probabilities(logits: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "multiclass":
        return logits.softmax(dim=-1)
    if kind in ("binary", "multilabel"):
        return logits.sigmoid()
    return logits  # regression: the outputs themselves


class Predictor(nn.Module):
    """Encoder + head. ECG inputs may carry test-time crops: [B, n_crops, C, T] -> outputs averaged
    over crops (probabilities for classification, values for regression)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, modality: str, kind: str):
        super().__init__()
        if modality not in ("ecg", "cmr"):
            raise ValueError(f"modality must be 'ecg' or 'cmr', got {modality!r}")
        self.encoder, self.head, self.modality, self.kind = encoder, head, modality, kind

    def forward(self, x: torch.Tensor, leads: Sequence[int | str] | None = None) -> torch.Tensor:
        """Raw outputs (logits or standardised values) for one view per subject."""
        feat = self.encoder(x, leads) if self.modality == "ecg" else self.encoder(x)
        return self.head(feat)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, leads: Sequence[int | str] | None = None) -> torch.Tensor:
        """Probabilities / values; ECG [B, n_crops, C, T] inputs are averaged over the crops."""
        if self.modality == "ecg" and x.dim() == 4:
            B, K = x.shape[:2]
            out = probabilities(self(x.reshape(B * K, *x.shape[2:]), leads), self.kind)  # [B*K, O]
            return out.reshape(B, K, -1).mean(dim=1)
        return probabilities(self(x, leads), self.kind)
