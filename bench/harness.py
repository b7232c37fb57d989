"""The shared benchmark harness.

* :func:`time_callable` times one callable: warm-up, repeats, min / median / mean, and the peak
  *extra* resident memory during the timed calls (Linux: VmHWM after resetting it through
  /proc/self/clear_refs, minus the resident size before).
* :func:`compare` runs several providers of the same work side by side in one process and reports
  each one's ratio to the reference (speed-up = reference median / provider median), plus
  throughput against this machine's measured peaks when the work's FLOPs, bytes or items are given.
* :class:`Report` collects comparisons and writes JSON and a Markdown table with machine info.
* :func:`add_device_flag` / :func:`bench_device`: the ``--device`` flag every benchmark that computes
  takes (the CLI's own flag, :func:`cardionets.device.add_device_argument`). On CUDA, timings use CUDA
  events around each call after a synchronisation, and memory is the peak of the CUDA allocator.
"""
from __future__ import annotations

import gc
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import machine as _machine


# ---------------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------------
def _read_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Context manager: ``.extra_bytes`` is the peak resident memory above the level at entry."""

    def __enter__(self) -> "PeakMemory":
        gc.collect()
        self.supported = _reset_peak_rss()
        self._base = _read_status_kib("VmRSS") or 0
        self.extra_bytes: int | None = None
        return self

    def __exit__(self, *exc: Any) -> None:
        peak = _read_status_kib("VmHWM")
        if self.supported and peak is not None:
            self.extra_bytes = max(0, peak - self._base) * 1024


# ---------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------
@dataclass
class Timing:
    name: str
    times_s: list[float]
    peak_extra_bytes: int | None = None

    @property
    def min(self) -> float:
        return min(self.times_s)

    @property
    def median(self) -> float:
        return statistics.median(self.times_s)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times_s)


def add_device_flag(parser) -> None:
    """``--device auto|cpu|cuda[:N]`` for a benchmark (the CLI's flag; default auto)."""
    from cardionets.device.spec import add_device_argument

    add_device_argument(parser, extra_help="inputs and models are created there; CUDA timings use CUDA events")


def bench_device(spec: str):
    """The ``torch.device`` a benchmark runs on (``auto``: CUDA when present)."""
    from cardionets.device.policy import resolve_device

    return resolve_device(spec)


def _time_cuda(fn: Callable[[], Any], name: str, warmup: int, repeats: int, min_seconds: float, memory: bool,
               device) -> Timing:
    """CUDA events around each call on the current stream, synchronised before reading; peak memory
    from the CUDA caching allocator (allocated bytes above the level at the start)."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    if memory:
        torch.cuda.reset_peak_memory_stats(device)
    times: list[float] = []
    while len(times) < repeats or sum(times) < min_seconds:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    peak = torch.cuda.max_memory_allocated(device) - base if memory else None
    return Timing(name, times, max(0, peak) if peak is not None else None)


def time_callable(fn: Callable[[], Any], *, name: str = "fn", warmup: int = 1, repeats: int = 5,
                  min_seconds: float = 0.0, memory: bool = True, device=None) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then at least ``repeats`` timed calls (more until
    ``min_seconds`` of timed work). Peak memory is measured over the timed calls. With a CUDA
    ``device`` the calls are timed with CUDA events (see :func:`_time_cuda`)."""
    if device is not None and getattr(device, "type", None) == "cuda":
        return _time_cuda(fn, name, warmup, repeats, min_seconds, memory, device)
    for _ in range(warmup):
        fn()
    times: list[float] = []
    mem = PeakMemory() if memory else None
    if mem:
        mem.__enter__()
    total = 0.0
    while len(times) < repeats or total < min_seconds:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
    if mem:
        mem.__exit__(None, None, None)
    return Timing(name, times, mem.extra_bytes if mem else None)


# ---------------------------------------------------------------------------------------------
# side-by-side comparison
# ---------------------------------------------------------------------------------------------
@dataclass
class Row:
    provider: str
    median_s: float | None
    min_s: float | None
    speedup_vs_reference: float | None
    peak_extra_mib: float | None
    items_per_s: float | None = None
    gflops: float | None = None
    frac_peak_gemm: float | None = None
    gbps: float | None = None
    frac_peak_bw: float | None = None
    note: str = ""


@dataclass
class Comparison:
    title: str
    reference: str
    params: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    def row(self, provider: str) -> Row:
        return next(r for r in self.rows if r.provider == provider)

    def ratio(self, provider: str) -> float | None:
        return self.row(provider).speedup_vs_reference


def compare(title: str, providers: dict[str, Callable[[], Any] | None], *, reference: str,
            params: dict[str, Any] | None = None, items: float | None = None, flops: float | None = None,
            bytes_moved: float | None = None, warmup: int = 1, repeats: int = 5, min_seconds: float = 0.0,
            memory: bool = True, skip_reasons: dict[str, str] | None = None,
            peaks: dict[str, float] | None = None, device=None) -> Comparison:
    """Time every provider (a ``None`` provider is listed as skipped with its reason) in this process
    and express each as a speed-up over ``reference``. ``items`` / ``flops`` / ``bytes_moved``
    describe one call, for records/s, GFLOP/s and GB/s; ``peaks`` (from :func:`machine.peaks`)
    turns those into fractions of the machine's measured peak. ``device``: where the work runs (CUDA
    -> CUDA-event timing)."""
    skip_reasons = skip_reasons or {}
    timings: dict[str, Timing] = {}
    for name, fn in providers.items():
        if fn is not None:
            timings[name] = time_callable(fn, name=name, warmup=warmup, repeats=repeats,
                                          min_seconds=min_seconds, memory=memory, device=device)
    ref = timings.get(reference)
    cmp = Comparison(title, reference, dict(params or {}))
    for name in providers:
        t = timings.get(name)
        if t is None:
            cmp.rows.append(Row(name, None, None, None, None, note=skip_reasons.get(name, "skipped")))
            continue
        row = Row(
            provider=name, median_s=t.median, min_s=t.min,
            speedup_vs_reference=(ref.median / t.median) if ref else None,
            peak_extra_mib=None if t.peak_extra_bytes is None else t.peak_extra_bytes / 2**20,
        )
        if items:
            row.items_per_s = items / t.median
        if flops:
            row.gflops = flops / t.median / 1e9
            if peaks and peaks.get("gemm_fp32_gflops"):
                row.frac_peak_gemm = row.gflops / peaks["gemm_fp32_gflops"]
        if bytes_moved:
            row.gbps = bytes_moved / t.median / 1e9
            if peaks and peaks.get("copy_gbps"):
                row.frac_peak_bw = row.gbps / peaks["copy_gbps"]
        cmp.rows.append(row)
    return cmp


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def to_markdown(cmp: Comparison) -> str:
    params = ", ".join(f"{k}={v}" for k, v in cmp.params.items())
    out = [f"### {cmp.title}", "", f"{params}  (ratio = {cmp.reference} median / provider median)", "",
           "| provider | median | min | x vs ref | peak extra MiB | items/s | GFLOP/s | % GEMM peak | GB/s | % copy BW | note |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in cmp.rows:
        out.append(
            f"| {r.provider} | {_fmt_time(r.median_s)} | {_fmt_time(r.min_s)} | {_fmt(r.speedup_vs_reference, '.2f')} "
            f"| {_fmt(r.peak_extra_mib, '.1f')} | {_fmt(r.items_per_s, '.1f')} | {_fmt(r.gflops, '.1f')} "
            f"| {_fmt(None if r.frac_peak_gemm is None else 100 * r.frac_peak_gemm, '.1f')} | {_fmt(r.gbps, '.2f')} "
            f"| {_fmt(None if r.frac_peak_bw is None else 100 * r.frac_peak_bw, '.1f')} | {r.note} |"
        )
    return "\n".join(out)


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


class Report:
    """Collects comparisons; ``write`` saves ``<name>.json`` and ``<name>.md`` with machine info."""

    def __init__(self, name: str, *, measure_peaks: bool = True, device=None) -> None:
        self.name = name
        self.machine = _machine.info(device)
        cuda = device is not None and getattr(device, "type", None) == "cuda"
        self.peaks = ({} if not measure_peaks else _machine.gpu_peaks(device) if cuda else _machine.peaks())
        self.comparisons: list[Comparison] = []

    def add(self, cmp: Comparison) -> Comparison:
        self.comparisons.append(cmp)
        print(to_markdown(cmp), flush=True)
        print(flush=True)
        return cmp

    def markdown(self) -> str:
        m = self.machine
        head = [f"## {self.name}", "",
                f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, torch {m['torch']} "
                f"({m['torch_threads']} threads), native: {m['native_build']}"
                + (f"; device: {m['device']} ({m['device_name']})" if "device" in m else "")]
        if self.peaks:
            head.append("Measured peaks in this process: "
                        + ", ".join(f"{k} = {v:.1f}" for k, v in self.peaks.items()))
        return "\n".join(head + [""] + [to_markdown(c) + "\n" for c in self.comparisons])

    def write(self, out_dir: str | Path = "bench/results") -> tuple[Path, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        js, md = out / f"{self.name}.json", out / f"{self.name}.md"
        js.write_text(json.dumps({"machine": self.machine, "peaks": self.peaks,
                                  "comparisons": [asdict(c) for c in self.comparisons]}, indent=2))
        md.write_text(self.markdown())
        print(f"wrote {js} and {md}")
        return js, md
