"""ONNX export of the screening model (encoder(s) + heads) and an ONNX Runtime session.

Graph contract (what TensorRT and ONNX Runtime rely on):

* input  ``ecg``            float32 [batch, n_crops, 12, crop_len]  -- only ``batch`` is dynamic; n_crops
  and crop_len are the model's preprocessing spec, written into the sidecar ``<path>.json``
  (``preprocess``) with the output names and the model version
* output ``phenotypes``     float32 [batch, P]  (physical units, mean over crops)
* output ``probabilities``  float32 [batch, D]  (disease probabilities, mean over crops)
* opset :data:`OPSET` (17: the first with a native ``LayerNormalization``; TensorRT >= 8.6 parses
  it), TorchScript-based exporter (deterministic, no onnxscript needed), attention exported through
  the ``reference`` backend (MatMul + Softmax, the ops every runtime has).

Verified against PyTorch by :func:`verify_onnx` (max abs difference). :func:`ort_session` runs the graph
with ONNX Runtime's execution providers for a device (:func:`ort_providers`): on CUDA the TensorRT and
CUDA providers when the installed onnxruntime has them (``onnxruntime-gpu``), the CPU provider
otherwise; the session's ``get_providers()`` says which were enabled.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..optional import require
from ..preprocess import PreprocessSpec
from .reference import example_input, export_spec, reference_attention, reference_outputs

OPSET = 17
INPUT, OUTPUTS = "ecg", ("phenotypes", "probabilities")


def export_onnx(model: Any, path: str | Path, *, spec: PreprocessSpec | None = None, n_crops: int | None = None,
                opset: int = OPSET) -> Path:
    """Write ``model`` (a :class:`cardionets.screen.ScreenModel`) as ONNX with a dynamic batch axis,
    plus ``<path>.json`` with the output names, the model version and the preprocessing spec
    (``spec``, default the model's; ``n_crops`` overrides its crops) the input is made with."""
    require("onnx", "ONNX export")
    spec = export_spec(model, spec, n_crops)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = example_input(2, spec)
    with reference_attention(), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks traced as constants: intended
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is chosen on purpose (see top)
        torch.onnx.export(model.eval(), (x,), str(path), input_names=[INPUT], output_names=list(OUTPUTS),
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUTS[0]: {0: "batch"}, OUTPUTS[1]: {0: "batch"}},
                          opset_version=opset, do_constant_folding=True, dynamo=False)
    _static_output_widths(path, [len(model.phenotype_names), len(model.disease_names)])
    meta = dict(model.meta(), preprocess=spec.to_dict(), opset=opset, input=INPUT, outputs=list(OUTPUTS))
    Path(str(path) + ".json").write_text(json.dumps(meta, indent=1))
    return path


def _static_output_widths(path: Path, widths: list[int]) -> None:
    """Pin the output widths (the tracer leaves them symbolic): only the batch axis stays dynamic."""
    onnx = require("onnx", "ONNX export")
    m = onnx.load(str(path))
    for out, w in zip(m.graph.output, widths):
        d = out.type.tensor_type.shape.dim[1]
        d.ClearField("dim_param")
        d.dim_value = int(w)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


CPU_PROVIDER = "CPUExecutionProvider"


def ort_providers(device: Any, available: list[str], cache_dir: str | Path | None = None) -> tuple[list, str]:
    """(providers to request, why) for ``device`` given ONNX Runtime's available providers.

    CUDA device: TensorRT then CUDA execution providers on that GPU, whichever the installed
    onnxruntime has, the CPU provider last (ONNX Runtime assigns nodes a provider cannot run to the
    next one); without either, the CPU provider alone and the reason. Any other device: the CPU."""
    if getattr(device, "type", "cpu") != "cuda":
        return [CPU_PROVIDER], f"device {device}: CPU provider"
    idx = int(device.index or 0)
    gpu = []
    if "TensorrtExecutionProvider" in available:
        opts: dict[str, Any] = {"device_id": idx, "trt_fp16_enable": False}
        if cache_dir is not None:  # TensorRT engines built by ONNX Runtime are cached beside the graph
            opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir))
        gpu.append(("TensorrtExecutionProvider", opts))
    if "CUDAExecutionProvider" in available:
        gpu.append(("CUDAExecutionProvider", {"device_id": idx}))
    if not gpu:
        return [CPU_PROVIDER], (f"device {device}: this onnxruntime has no CUDA or TensorRT execution provider "
                                f"(available: {', '.join(available)}; pip install onnxruntime-gpu), CPU provider")
    return gpu + [CPU_PROVIDER], f"device {device}: " + ", ".join(name for name, _ in gpu)


def ort_session(path: str | Path, threads: int | None = None, device: Any = None) -> Any:
    """An ONNX Runtime session for ``path`` with the providers of ``device`` (default: CPU)."""
    ort = require("onnxruntime", "running an ONNX model")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers, _ = ort_providers(device, list(ort.get_available_providers()), Path(path).parent)
    return ort.InferenceSession(str(path), opts, providers=providers)


def verify_onnx(model: Any, path: str | Path, x: np.ndarray) -> float:
    """Max abs difference between ONNX Runtime and eager PyTorch fp32 on ``x`` [B, K, 12, crop_len]."""
    sess = ort_session(path)
    got = sess.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(x, np.float32)})
    ref = reference_outputs(model, x)
    return float(max(np.abs(g - r).max() if g.size else 0.0 for g, r in zip(got, ref)))


def graph_ops(path: str | Path) -> set[str]:
    """Operator types used by the ONNX graph (including nested subgraphs)."""
    onnx = require("onnx", "ONNX export")
    ops: set[str] = set()

    def walk(g):
        for n in g.node:
            ops.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}")
            for a in n.attribute:
                if a.g is not None and len(a.g.node):
                    walk(a.g)
    walk(onnx.load(str(path), load_external_data=False).graph)
    return ops


def io_shapes(path: str | Path) -> dict[str, list]:
    """{tensor name: [dim value or symbolic name]} of the graph inputs and outputs."""
    onnx = require("onnx", "ONNX export")
    g = onnx.load(str(path), load_external_data=False).graph
    out = {}
    for v in list(g.input) + list(g.output):
        out[v.name] = [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]
    return out


__all__ = ["INPUT", "OPSET", "OUTPUTS", "example_input", "export_onnx", "graph_ops", "io_shapes", "ort_providers",
           "ort_session", "reference_attention", "verify_onnx"]
