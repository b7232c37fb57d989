"""Facts about this process and machine, for `cardionets info`, benchmarks and reports.
Versions are read from package metadata so that optional GPU packages are never imported."""
from __future__ import annotations

import os
import platform
from importlib import metadata

from . import __version__, native

PACKAGES = ["torch", "triton", "numpy", "scipy", "wfdb", "scikit-learn", "safetensors", "pydicom",
            "nibabel", "onnx", "onnxruntime", "ray", "flash-attn", "tensorrt"]


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import torch

    return {
        "cardionets": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn_bf16": bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)()),
        "packages": package_versions(),
        "native": native.status(),
    }
