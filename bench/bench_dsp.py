"""ECG preprocessing: the native fused pipeline (cardionets.dsp, C++) against the float64 scipy
reference (cardionets.dsp_reference), on 12-lead 10 s records at 500 Hz.

    python -m bench.bench_dsp [--records 1000] [--quick]

One process; the reference runs single-threaded (OPENBLAS_NUM_THREADS=1); the native pipeline at
1 and 2 threads. "% copy BW" is the fraction of the memory-pass floor: a plain read + write of the
same bytes (input float32 [N, 12, 5000] + output float32 [N, 3, 12, 2250]) at this machine's copy rate.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # "one thread" for the scipy reference too

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from cardionets import dsp, native  # noqa: E402
from cardionets import dsp_reference as ref  # noqa: E402

from cardionets.fixtures import fixture_dir  # noqa: E402

from .harness import Report, compare  # noqa: E402

FS, T = 500, 5000


def records(n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """n records [n, 12, 5000] in mV: the real CinC fixtures tiled, or synthetic when absent."""
    from cardionets.io import read_ecg

    root = fixture_dir()
    heas = sorted((root / "ecg" / "cinc2021").glob("*.hea"))
    real = [e.signal for e in (read_ecg(h).standard() for h in heas) if e.fs == FS and e.n_samples == T]
    if real:
        base = np.stack(real)
        return np.ascontiguousarray(base[np.arange(n) % len(base)]), f"{len(base)} real CinC records, tiled"
    rng = np.random.default_rng(seed)
    t = np.arange(T) / FS
    x = np.sin(2 * np.pi * 1.1 * t)[None, None] + 0.1 * rng.standard_normal((n, 12, T))
    return x.astype(np.float32), "synthetic"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="100 records, one repeat")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args(argv)
    n = 100 if args.quick else args.records
    x, source = records(n)
    report = Report("dsp")

    def reference():
        for rec in x:
            ref.preprocess(rec.astype(np.float64), FS)

    buf = np.empty((n, 3, 12, 2250), dtype=np.float32)
    buf.fill(0.0)  # touch the pages once: a stream reuses its output buffer
    providers = {
        "scipy float64 reference (1 thread)": reference,
        "native fused (1 thread)": lambda: dsp.preprocess_batch(x, FS, threads=1, out=buf),
        "native fused (2 threads)": lambda: dsp.preprocess_batch(x, FS, threads=2, out=buf),
        "native fused (1 thread, fresh output array)": lambda: dsp.preprocess_batch(x, FS, threads=1),
    }
    out_bytes = n * 3 * 12 * 2250 * 4
    # On a shared machine wall time includes waiting for a core; CPU time of the one-thread runs
    # (time.process_time) is the steadier ratio, reported beside the harness's wall-clock table.
    cpu = {}
    for name in ("scipy float64 reference (1 thread)", "native fused (1 thread)"):
        t0 = time.process_time()
        providers[name]()
        cpu[name] = time.process_time() - t0
    cpu_ratio = cpu["scipy float64 reference (1 thread)"] / cpu["native fused (1 thread)"]
    print(f"CPU time, one pass over {n} records: reference {cpu['scipy float64 reference (1 thread)']:.2f} s, "
          f"native {cpu['native fused (1 thread)']:.3f} s -> {cpu_ratio:.1f}x", flush=True)
    load_before = os.getloadavg()[0]
    report.add(compare(
        f"preprocess {n} records of 12 x {T} @ {FS} Hz -> [N, 3, 12, 2250]", providers,
        reference="scipy float64 reference (1 thread)",
        params={"records": n, "data": source, "native_build": native.load().build_info(), "isa": native.load().isa(),
                "cpu_s_reference": round(cpu["scipy float64 reference (1 thread)"], 3),
                "cpu_s_native_1thread": round(cpu["native fused (1 thread)"], 4),
                "cpu_time_ratio_1thread": round(cpu_ratio, 1),
                # 1-minute load average of this 2-core machine when the timed runs started
                "load_avg_1min": round(load_before, 2)},
        items=n, bytes_moved=x.nbytes + out_bytes, peaks=report.peaks,
        warmup=0 if not args.quick else 1, repeats=2 if not args.quick else 1))
    report.write(args.out)


if __name__ == "__main__":
    main()
