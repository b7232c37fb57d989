"""Export of the screening model (ECG encoder(s) + heads): ONNX (+ ONNX Runtime check), TensorRT
engine (GPU machines), AOTInductor ``.pt2`` (Python and C++). See docs/export.md.

onnx / onnxruntime come with the optional extra ``cardionets[export]`` and are imported lazily.
"""
from __future__ import annotations

from .aoti import export_aoti, load_aoti, run_aoti
from .onnx import OPSET, export_onnx, graph_ops, io_shapes, ort_session, verify_onnx
from .tensorrt import TENSORRT_OPS, build_engine, check_onnx_for_tensorrt

__all__ = ["OPSET", "TENSORRT_OPS", "build_engine", "check_onnx_for_tensorrt", "export_aoti", "export_onnx",
           "graph_ops", "io_shapes", "load_aoti", "ort_session", "run_aoti", "verify_onnx"]
