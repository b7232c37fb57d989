"""TensorRT engine from the exported ONNX graph (needs the ``tensorrt`` package and a CUDA GPU).

:func:`check_onnx_for_tensorrt` is the part that runs anywhere: the graph must use only operators
the TensorRT ONNX parser supports at opset :data:`cardionets.export.onnx.OPSET` (17), and every
input/output dimension must be static except the batch axis (TensorRT's optimisation profile then
covers batch sizes ``min_batch..max_batch``). :func:`build_engine` checks the graph, then imports
TensorRT behind a guard: without tensorrt or a GPU it raises
:class:`~cardionets.errors.BackendUnavailable` saying which is missing and how to get it. It builds on
the given CUDA device (an engine is specific to the GPU model and the TensorRT version) and writes
``<engine>.json`` beside it: the ONNX sidecar (output names, model version) plus the TensorRT version,
precision and batch range. :func:`load_engine` runs one (:mod:`cardionets.export.trt_runtime`).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import BackendUnavailable, CardioNetsError
from ..optional import require
from .onnx import graph_ops, io_shapes
from .trt_runtime import TensorRTRunner

# ONNX operators the TensorRT 8.6 / 10.x ONNX parser implements (onnx-tensorrt docs/operators.md),
# restricted to the ones a ViT-style graph can contain. The exported graph must stay within it.
TENSORRT_OPS = frozenset({
    "Abs", "Add", "ArgMax", "Cast", "Ceil", "Clip", "Concat", "Constant", "ConstantOfShape", "Cos", "Div", "Einsum",
    "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "Gelu", "Gemm", "Greater",
    "Identity", "LayerNormalization", "Less", "Log", "MatMul", "Max", "Min", "Mul", "Neg", "Not", "Pad", "Pow",
    "Range", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Sin",
    "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Tile", "Transpose", "Unsqueeze", "Where",
})


def check_onnx_for_tensorrt(path: str | Path) -> dict:
    """Raise CardioNetsError if the graph uses an unsupported op or a dynamic non-batch dimension."""
    ops = graph_ops(path)
    bad = sorted(ops - TENSORRT_OPS)
    if bad:
        raise CardioNetsError(f"{path}: operators TensorRT's ONNX parser does not support: {', '.join(bad)}")
    shapes = io_shapes(path)
    for name, dims in shapes.items():
        if not dims or dims[0] != "batch" or any(not isinstance(d, int) or d <= 0 for d in dims[1:]):
            raise CardioNetsError(f"{path}: tensor {name!r} has shape {dims}; TensorRT profile needs "
                                  "[batch, static dims...]")
    return {"ops": sorted(ops), "shapes": shapes}


def _import_tensorrt(device: torch.device | None = None):
    """The tensorrt module, or BackendUnavailable naming what is missing (the package, a GPU, or a CUDA
    ``device``)."""
    trt = require("tensorrt", "a TensorRT engine")
    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs a CUDA GPU; none is visible to this process")
    if device is not None and device.type != "cuda":
        raise BackendUnavailable(f"TensorRT needs a CUDA device; this run computes on {device} (use --device cuda)")
    return trt


def sidecar(path: str | Path) -> dict:
    """The JSON written beside an exported file (``<file>.json``), or {} when there is none."""
    f = Path(str(path) + ".json")
    return json.loads(f.read_text()) if f.is_file() else {}


def build_engine(onnx_path: str | Path, out: str | Path, *, fp16: bool = True, min_batch: int = 1,
                 opt_batch: int = 16, max_batch: int = 64, workspace_gb: float = 4.0,
                 device: torch.device | None = None) -> Path:
    """Serialise a TensorRT engine for ``onnx_path`` with one optimisation profile over the batch, built
    on ``device`` (default: the current CUDA device)."""
    info = check_onnx_for_tensorrt(onnx_path)
    trt = _import_tensorrt(device)
    if device is not None:
        torch.cuda.set_device(device)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise CardioNetsError(f"{onnx_path}: TensorRT could not parse the graph: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    rest = info["shapes"]["ecg"][1:]
    profile.set_shape("ecg", (min_batch, *rest), (min(opt_batch, max_batch), *rest), (max_batch, *rest))
    config.add_optimization_profile(profile)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise CardioNetsError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    out = Path(out)
    out.write_bytes(bytes(blob))
    meta = {**sidecar(onnx_path), "tensorrt": getattr(trt, "__version__", None), "fp16": bool(fp16),
            "min_batch": min_batch, "opt_batch": min(opt_batch, max_batch), "max_batch": max_batch,
            "onnx": str(onnx_path)}
    if device is not None or torch.cuda.device_count() > 0:
        meta["gpu"] = torch.cuda.get_device_name(device)  # engines are specific to the GPU model
    Path(str(out) + ".json").write_text(json.dumps(meta, indent=1))
    return out


def load_engine(path: str | Path, device: torch.device):
    """A :class:`~cardionets.export.trt_runtime.TensorRTRunner` for a serialised engine on ``device``."""
    return TensorRTRunner(path, device, _import_tensorrt(device))


__all__ = ["TENSORRT_OPS", "build_engine", "check_onnx_for_tensorrt", "load_engine", "sidecar"]
