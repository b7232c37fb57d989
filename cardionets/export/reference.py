"""What every export shares: the preprocessing spec it is made for, the traced example input,
attention routed through its plain reference while tracing, and the eager fp32 forward every
exported runtime is compared against."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..preprocess import DEFAULT_SPEC, N_LEADS, PreprocessSpec


@contextmanager
def reference_attention():
    """Route attention through its plain reference (traceable, exportable) while exporting."""
    key = "CARDIONETS_BACKEND_ATTENTION"
    old = os.environ.get(key)
    os.environ[key] = "reference"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def example_input(batch: int = 2, spec: PreprocessSpec = DEFAULT_SPEC, seed: int = 0) -> torch.Tensor:
    """Random float32 [batch, spec.n_crops, 12, spec.crop_len] (the traced input shape)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec.n_crops, N_LEADS, spec.crop_len, generator=g)


def export_spec(model: Any, spec: PreprocessSpec | None = None, n_crops: int | None = None) -> PreprocessSpec:
    """The spec an export is made for: ``spec``, else the model's (``n_crops`` overrides its crops)."""
    spec = spec or getattr(model, "spec", DEFAULT_SPEC)
    return spec if n_crops is None else spec.with_(n_crops=int(n_crops))


def reference_outputs(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plain eager fp32 forward of a ScreenModel (the reference every other path is compared
    to), on the model's device."""
    dev = next(model.parameters()).device
    with torch.inference_mode():
        p, d = model(torch.as_tensor(x, dtype=torch.float32).to(dev))
    return p.cpu().numpy(), d.cpu().numpy()


__all__ = ["example_input", "export_spec", "reference_attention", "reference_outputs"]
