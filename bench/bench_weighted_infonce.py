"""Weighted InfoNCE forward + backward: reference (eager and torch.compile) vs the fused C++ ``cpu``
backend on each instruction-set path this CPU runs (``cpu[avx512]``, ``cpu[avx2]``, forced one
after the other with ``cardionets._C.set_isa``; ``--isa`` chooses, ``scalar`` included on request),
and ``triton`` when a GPU is present; D = P = 128, in one process.

    python -m bench.bench_weighted_infonce [--threads 2] [--sizes 16384 65536] [--isa avx512 avx2]
                                           [--device auto|cpu|cuda[:N]]

On CUDA the ``triton`` kernels run against the eager reference (CUDA-event timings); the reference's
B x B matrices then have to fit in the GPU's memory (``--reference-max``).

The reference materialises several B x B fp32 matrices (1 GiB each at B = 16,384), so at
B = 65,536 (16 GiB per matrix) it is reported as skipped rather than run.
"""
from __future__ import annotations

import argparse
import os

import torch

from cardionets.ops.weighted_infonce import weighted_infonce_op, weighted_infonce_reference

from .harness import Report, add_device_flag, bench_device, compare

D = P = 128
SIGMA, TAU = 2.0, 0.1
REFERENCE_MAX_B = 16384  # beyond this the reference's B x B matrices do not fit in 24 GiB


def _inputs(b: int, device):
    g = torch.Generator().manual_seed(0)
    z_ecg = torch.randn(b, D, generator=g).to(device).requires_grad_()
    z_cmr = torch.randn(b, D, generator=g).to(device).requires_grad_()
    phi = torch.randn(b, P, generator=g).to(device)
    return z_ecg, z_cmr, phi


def _fwd_bwd(fn, z_ecg, z_cmr, phi):
    def run():
        z_ecg.grad = z_cmr.grad = None
        fn(z_ecg, z_cmr, phi, sigma=SIGMA, tau=TAU).backward()
    return run


def _isa_reasons(isa: str) -> str | None:
    """Why this CPU cannot run the instruction-set path (None when it can)."""
    from cardionets import native

    for p in native.load().isa_report()["paths"]:
        if p["path"] == isa:
            lacks = [r for r in p["reasons"] if "lacks" in r]
            return "; ".join(lacks) or None
    return f"unknown path {isa}"


def _on_isa(isa: str, run):
    """`run` with the native kernels forced onto one instruction-set path."""
    from cardionets import native

    def call():
        C = native.load()
        C.set_isa(isa)
        try:
            run()
        finally:
            C.set_isa("auto")
    return call


def main(argv: list[str] | None = None) -> Report:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16384, 65536])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile of the reference")
    ap.add_argument("--isa", nargs="+", default=["avx512", "avx2"],
                    help="instruction-set paths of the cpu backend to time (avx512, avx2, scalar); "
                         "paths this CPU cannot run are reported as skipped")
    ap.add_argument("--reference-max", type=int, default=REFERENCE_MAX_B,
                    help=f"largest B the eager reference runs at (default {REFERENCE_MAX_B})")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--no-peaks", action="store_true", help="skip measuring the machine's GEMM / copy peaks")
    add_device_flag(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = bench_device(args.device)
    from cardionets import native

    if native.available():
        native.load().set_num_threads(args.threads)
    report = Report("weighted_infonce" + ("" if device.type == "cpu" else f"_{device.type}"), device=device,
                    measure_peaks=not args.no_peaks)
    compiled_ref = torch.compile(weighted_infonce_reference, dynamic=False)
    for b in args.sizes:
        z_ecg, z_cmr, phi = _inputs(b, device)
        providers, skips = {}, {}
        too_big = f"not run: needs ~{8 * 4 * b * b / 2**30:.0f} GiB of B x B matrices (--reference-max {args.reference_max})"
        if b <= args.reference_max:
            providers["reference"] = _fwd_bwd(weighted_infonce_reference, z_ecg, z_cmr, phi)
            if args.no_compile:
                providers["reference+compile"], skips["reference+compile"] = None, "--no-compile"
            else:
                providers["reference+compile"] = _fwd_bwd(compiled_ref, z_ecg, z_cmr, phi)
        else:
            providers["reference"], skips["reference"] = None, too_big
            providers["reference+compile"], skips["reference+compile"] = None, too_big
        for be in weighted_infonce_op.backends:
            if be.name == "reference":
                continue
            reasons = be.reasons(z_ecg, z_cmr, phi, sigma=SIGMA, tau=TAU)
            names = [f"cpu[{isa}]" for isa in args.isa] if be.name == "cpu" else [be.name]
            for name in names:
                if reasons:
                    providers[name], skips[name] = None, "; ".join(reasons)
                elif be.name == "cpu":
                    isa = name[4:-1]
                    why = _isa_reasons(isa)
                    if why:
                        providers[name], skips[name] = None, why
                    else:
                        providers[name] = _on_isa(isa, _fwd_bwd(be.impl, z_ecg, z_cmr, phi))
                else:
                    providers[name] = _fwd_bwd(be.impl, z_ecg, z_cmr, phi)
        # GEMM work of the fused kernels: forward s and phi.phi tiles, backward recomputes them and
        # accumulates dz_ecg and dz_cmr: 3 x 2 B^2 (D + P) flop (the reference does about the same).
        flops = 3 * 2.0 * b * b * (D + P)
        fast = next((n for n in providers if n.startswith("cpu[") and providers[n] is not None), "reference") \
            if device.type == "cpu" else "triton"
        reference = "reference" if b <= args.reference_max else fast
        report.add(compare(f"weighted_infonce fwd+bwd B={b} D={D} P={P}", providers, reference=reference,
                           params={"threads": args.threads, "loadavg_1min": round(os.getloadavg()[0], 1),
                                   "dtype": "fp32", "sigma": SIGMA, "tau": TAU, "device": str(device)},
                           flops=flops, items=b, skip_reasons=skips, peaks=report.peaks, repeats=args.repeats,
                           warmup=1 if b <= args.reference_max or device.type == "cuda" else 0, device=device))
    report.write(args.out)
    print(report.markdown())
    return report


if __name__ == "__main__":
    main()
