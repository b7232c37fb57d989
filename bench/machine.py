"""This machine's facts and measured peaks, the yardsticks every benchmark reports against."""
from __future__ import annotations

import functools
import time

import numpy as np


def info() -> dict:
    import torch

    from cardionets import native, sysinfo

    nat = native.status()
    return {
        "cpu": sysinfo.cpu_model(),
        "logical_cpus": __import__("os").cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "native_build": nat.get("build", nat.get("reason")),
    }


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
