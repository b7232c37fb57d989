"""Learning-rate schedule (linear warm-up, then cosine) and an exponential moving average of weights.

Both are pure functions of the step / the weights, so their whole state is the step counter and
the EMA tensors, which the checkpoint stores.
"""
from __future__ import annotations

import math

import torch


def lr_at(step: int, *, base_lr: float, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """Learning rate for optimiser step ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return base_lr * (min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


class EMA:
    """Shadow copy of a module's floating-point state: shadow = d * shadow + (1 - d) * current."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        for k, v in module.state_dict().items():
            if k in self.shadow:
                self.shadow[k].mul_(self.decay).add_(v.detach(), alpha=1.0 - self.decay)

    def swap_into(self, module: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Load the EMA weights into ``module``; returns the previous weights (to restore)."""
        backup = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module.load_state_dict({**backup, **self.shadow})
        return backup
