"""Running a serialised TensorRT engine of the screening model (the TensorRT 10 runtime API).

:class:`TensorRTRunner` deserialises the engine built by :func:`cardionets.export.tensorrt.build_engine`
(``cardionets export --format tensorrt``, or on the fly by ``cardionets screen --precision tensorrt``)
and runs ``x [B, n_crops, 12, 2250]`` -> ``(phenotypes [B, P], probabilities [B, D])``:

* the dynamic batch: ``set_input_shape("ecg", (B, ...))`` per call, within the engine's optimisation
  profile (larger batches are split into chunks of the profile's maximum);
* tensors live in torch CUDA memory: the input is copied to the GPU, the outputs are allocated with the
  shapes the execution context reports, and their addresses are bound with ``set_tensor_address``;
* ``execute_async_v3`` on a dedicated CUDA stream, on which the input copy is also issued; the outputs
  are read back after synchronising that stream.

The tensor names and dtypes are read from the engine and checked against the export contract
(:mod:`cardionets.export.onnx`), so an engine of some other model is refused with a clear message.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CardioNetsError
from .onnx import INPUT, OUTPUTS


def _torch_dtype(trt: Any, dt: Any) -> torch.dtype:
    table = {trt.float32: torch.float32, trt.float16: torch.float16}
    if dt not in table:
        raise CardioNetsError(f"TensorRT engine tensor dtype {dt} is not float32/float16")
    return table[dt]


class TensorRTRunner:
    """x [B, K, 12, 2250] float32 numpy -> (phenotypes, probabilities) float32 numpy, via an engine."""

    def __init__(self, engine_path: str | Path, device: torch.device, trt: Any):
        self.path, self.device, self.trt = Path(engine_path), device, trt
        if not self.path.is_file():
            raise CardioNetsError(f"TensorRT engine {self.path} not found (cardionets export --format tensorrt)")
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        with self._on_device():
            self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise CardioNetsError(f"{self.path}: TensorRT could not deserialise the engine (built by another "
                                  "TensorRT version or for another GPU? rebuild it on this machine)")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = {n: self.engine.get_tensor_mode(n) for n in names}
        inputs = [n for n in names if mode[n] == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if mode[n] == trt.TensorIOMode.OUTPUT]
        if inputs != [INPUT] or sorted(outputs) != sorted(OUTPUTS):
            raise CardioNetsError(f"{self.path}: engine tensors are inputs {inputs}, outputs {outputs}; the screening "
                                  f"model exports input {INPUT!r} and outputs {list(OUTPUTS)}")
        self.dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        lo, _, hi = self.engine.get_tensor_profile_shape(INPUT, 0)
        self.min_batch, self.max_batch, self.sample_shape = int(lo[0]), int(hi[0]), tuple(int(d) for d in hi[1:])
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream(device=device) if device.type == "cuda" else None
        self.describe = (f"TensorRT {getattr(trt, '__version__', '?')} engine {self.path.name} on {device} "
                         f"(batch {self.min_batch}..{self.max_batch})")

    def _on_device(self):
        return torch.cuda.device(self.device) if self.device.type == "cuda" else contextlib.nullcontext()

    def _stream(self):
        return torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = x.shape[0]
        with self._on_device(), self._stream():
            xt = torch.from_numpy(np.ascontiguousarray(x)).to(self.device, dtype=self.dtypes[INPUT])
            if not self.context.set_input_shape(INPUT, (b, *self.sample_shape)):
                raise CardioNetsError(f"TensorRT rejected input shape {(b, *self.sample_shape)} (engine profile "
                                      f"batch {self.min_batch}..{self.max_batch})")
            self.context.set_tensor_address(INPUT, xt.data_ptr())
            outs = {}
            for name in OUTPUTS:
                shape = tuple(int(d) for d in self.context.get_tensor_shape(name))
                outs[name] = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
                self.context.set_tensor_address(name, outs[name].data_ptr())
            handle = self.stream.cuda_stream if self.stream is not None else 0
            if not self.context.execute_async_v3(handle):
                raise CardioNetsError(f"{self.path}: TensorRT execution failed (execute_async_v3 returned False)")
            if self.stream is not None:
                self.stream.synchronize()
            return tuple(outs[n].float().cpu().numpy() for n in OUTPUTS)  # type: ignore[return-value]

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, np.float32)
        if tuple(x.shape[1:]) != self.sample_shape:
            raise CardioNetsError(f"input records are {tuple(x.shape[1:])}, the engine takes {self.sample_shape} "
                                  "(--n-crops must match the export)")
        parts = [self._run(x[i:i + self.max_batch]) for i in range(0, x.shape[0], self.max_batch)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


__all__ = ["TensorRTRunner"]
