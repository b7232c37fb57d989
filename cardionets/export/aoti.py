"""AOTInductor package (``.pt2``) of the screening model, loadable from Python and from C++
(``torch::inductor::AOTIModelPackageLoader``, see examples/cpp).

The package is compiled for a device (``device=``, default the host; a CUDA package runs only on CUDA)
with a dynamic batch axis (``torch.export`` Dim, 1..max_batch);
input ``[batch, n_crops, 12, crop_len]`` float32, outputs ``(phenotypes [batch, P], probabilities [batch, D])``.
A JSON sidecar ``<pt2>.json`` holds the output names, the model version and the preprocessing spec
(``preprocess``: rate, filter, crop length and count, standardisation; the C++ example preprocesses
with it); for C++ (no JSON parser) ``<pt2>.names.txt`` has the names one per line and
``<pt2>.preprocess.txt`` the spec as ``key value`` lines (:meth:`PreprocessSpec.to_text`). Compilation runs the
Inductor C++ codegen and a compiler: about a minute for the tiny model on a loaded 2-core machine.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..preprocess import PreprocessSpec
from .reference import example_input, export_spec, reference_attention


def export_aoti(model: Any, path: str | Path, *, spec: PreprocessSpec | None = None, n_crops: int | None = None,
                max_batch: int = 256, device: Any = None) -> Path:
    """Compile ``model`` into ``path`` (.pt2) for inputs made with ``spec`` (default the model's;
    ``n_crops`` overrides its crops)."""
    spec = export_spec(model, spec, n_crops)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = example_input(2, spec)
    if device is not None:
        model, x = model.to(device), x.to(device)
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    with reference_attention(), torch.no_grad():
        ep = torch.export.export(model.eval(), (x,), dynamic_shapes=({0: batch},))
        out = torch._inductor.aoti_compile_and_package(ep, package_path=str(path))
    meta = dict(model.meta(), preprocess=spec.to_dict(), max_batch=max_batch,
                outputs=["phenotypes", "probabilities"], device=str(x.device))
    Path(str(out) + ".json").write_text(json.dumps(meta, indent=1))
    names = [f"phenotypes {n}" for n in model.phenotype_names] + [f"probabilities {n}" for n in model.disease_names]
    Path(str(out) + ".names.txt").write_text("\n".join(names) + "\n")  # for the C++ example (no JSON parser)
    Path(str(out) + ".preprocess.txt").write_text(spec.to_text())  # the spec the C++ example preprocesses with
    return Path(out)


def load_aoti(path: str | Path) -> Any:
    return torch._inductor.aoti_load_package(str(path))


def run_aoti(runner: Any, x: np.ndarray, device: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Run a loaded package on ``x``; ``device``: where its inputs go (the device it was compiled for)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    with torch.inference_mode():
        p, d = runner(xt.to(device) if device is not None else xt)
    return p.cpu().numpy(), d.cpu().numpy()


__all__ = ["export_aoti", "load_aoti", "run_aoti"]
