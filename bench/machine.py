"""This machine's facts and measured peaks, the yardsticks every benchmark reports against."""
from __future__ import annotations

import functools
import time

import numpy as np


def info(device=None) -> dict:
    import torch

    from cardionets import native, sysinfo

    nat = native.status()
    out = {
        "cpu": sysinfo.cpu_model(),
        "logical_cpus": __import__("os").cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "native_build": nat.get("build", nat.get("reason")),
    }
    if device is not None and device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out.update(device=str(device), device_name=props.name, cuda=torch.version.cuda,
                   capability=f"{props.major}.{props.minor}")
    return out


def _best_rate(fn, work: float, repeats: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return work / best


@functools.lru_cache(maxsize=None)
def gemm_gflops(dtype: str = "float32", n: int = 2048, threads: int | None = None) -> float:
    """Best-of-5 GFLOP/s of an n x n x n torch.matmul at the current (or given) thread count."""
    import torch

    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        dt = getattr(torch, dtype)
        a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
        return _best_rate(lambda: torch.matmul(a, b), 2.0 * n**3) / 1e9
    finally:
        torch.set_num_threads(old)


@functools.lru_cache(maxsize=None)
def copy_gbps(nbytes: int = 256 * 2**20) -> float:
    """Best-of-5 GB/s of a plain memory copy (bytes read + bytes written), one thread."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    return _best_rate(lambda: np.copyto(dst, src), 2.0 * nbytes) / 1e9


def peaks() -> dict[str, float]:
    return {"gemm_fp32_gflops": gemm_gflops("float32"), "copy_gbps": copy_gbps()}


def _cuda_best_rate(fn, work: float, device, repeats: int = 10) -> float:
    import torch

    fn()
    torch.cuda.synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return work / best


def gpu_peaks(device, n: int = 4096, nbytes: int = 512 * 2**20) -> dict[str, float]:
    """This GPU's measured fp32 (TF32 off) and bf16 GEMM GFLOP/s and device-to-device copy GB/s
    (bytes read + written), best of 10 with CUDA events."""
    import torch

    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        fp32 = _cuda_best_rate(lambda: a @ b, 2.0 * n**3, device) / 1e9
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    ah, bh = a.bfloat16(), b.bfloat16()
    bf16 = _cuda_best_rate(lambda: ah @ bh, 2.0 * n**3, device) / 1e9
    src = torch.empty(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    copy = _cuda_best_rate(lambda: dst.copy_(src), 2.0 * nbytes, device) / 1e9
    return {"gemm_fp32_gflops": fp32, "gemm_bf16_gflops": bf16, "copy_gbps": copy}
