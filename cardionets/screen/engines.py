"""The screening model on other runtimes, on a device: ONNX Runtime and TensorRT.

Each runner maps ``x [B, n_crops, 12, crop_len]`` float32 to ``(phenotypes [B, P], probabilities [B, D])``
float32 numpy, like the torch runners of :mod:`.model`, and carries ``describe``: what ran, for the
run's summary.

* ``onnx``: :func:`cardionets.export.onnx.ort_session` with the device's execution providers -- on CUDA
  TensorRT then CUDA when the installed onnxruntime has them, else the CPU provider (logged, and named
  in ``describe``).
* ``tensorrt``: a serialised engine through the TensorRT 10 runtime
  (:class:`cardionets.export.trt_runtime.TensorRTRunner`). :func:`engine_for` returns the engine of a
  model under a directory, building it (ONNX export, then :func:`~cardionets.export.tensorrt.build_engine`)
  when there is none for this model version and GPU. An engine whose sidecar names another model
  version is refused. Without TensorRT or a CUDA device these raise
  :class:`~cardionets.errors.BackendUnavailable` saying what is missing.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CardioNetsError
from ..export.onnx import CPU_PROVIDER, OUTPUTS, export_onnx, ort_session
from ..export import tensorrt as trt_export
from ..optional import require
from ..preprocess import PreprocessSpec

log = logging.getLogger("cardionets.screen")


class OnnxRunner:
    def __init__(self, onnx_path: str | Path, device: torch.device, threads: int | None = None):
        self.outputs = list(OUTPUTS)
        self.session = ort_session(onnx_path, threads=threads, device=device)
        ran = list(self.session.get_providers())
        if device.type == "cuda" and (not ran or ran[0] == CPU_PROVIDER):
            log.warning("--precision onnx on %s: ONNX Runtime runs the CPU provider (no CUDA / TensorRT execution "
                        "provider in this onnxruntime: pip install onnxruntime-gpu)", device)
        onnxruntime = require("onnxruntime", "--precision onnx")
        self.describe = f"ONNX Runtime {onnxruntime.__version__} ({', '.join(ran)}) for device {device}"

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, d = self.session.run(self.outputs, {"ecg": np.ascontiguousarray(x, np.float32)})
        return p, d


def tensorrt_runner(engine_path: str | Path, device: torch.device, model_version: str | None = None) -> Any:
    """The TensorRT runner of ``engine_path`` on ``device``, refusing an engine of another model version."""
    built_for = trt_export.sidecar(engine_path).get("model_version")
    if model_version and built_for and built_for != model_version:
        raise CardioNetsError(f"TensorRT engine {engine_path} was built for model version {built_for}, the model is "
                              f"{model_version}: rebuild it (cardionets export --format tensorrt) or let screen build one")
    return trt_export.load_engine(engine_path, device)


def engine_for(model: Any, directory: str | Path, device: torch.device, *, spec: PreprocessSpec | None = None,
               fp16: bool = True, max_batch: int = 64) -> Path:
    """``directory/model.engine`` for ``model`` on ``device``: reused when its sidecar names this model
    version and this GPU, else built now from an ONNX export (``directory/model.onnx``)."""
    trt_export._import_tensorrt(device)  # fail before exporting when TensorRT or the GPU is missing
    directory = Path(directory)
    engine, onnx_path = directory / "model.engine", directory / "model.onnx"
    meta = trt_export.sidecar(engine)
    gpu = torch.cuda.get_device_name(device)
    if engine.is_file() and meta.get("model_version") == model.version and meta.get("gpu") == gpu:
        return engine
    spec = spec or model.spec
    onnx_meta = trt_export.sidecar(onnx_path)
    if onnx_meta.get("model_version") != model.version or onnx_meta.get("preprocess") != spec.to_dict():
        export_onnx(model, onnx_path, spec=spec)
    log.info("building a TensorRT engine for %s on %s (once per model and GPU)", onnx_path, gpu)
    return trt_export.build_engine(onnx_path, engine, fp16=fp16, max_batch=max_batch, device=device)


__all__ = ["OnnxRunner", "engine_for", "tensorrt_runner"]
