"""Attention backends side by side: reference (math) vs SDPA (vs flash-attn on a GPU), at the ViT-B,
ST-MEM and MAR shapes.

    python -m bench.bench_attention [--threads 2] [--device auto|cpu|cuda[:N]] [--dtype fp32|bf16|fp16]

On CUDA the default dtype is bf16 (what training's autocast hands attention; flash-attn needs
fp16/bf16) and timings are CUDA events.
"""
from __future__ import annotations

import argparse

import torch

from cardionets.ops.attention import attention_op

from .harness import Report, add_device_flag, bench_device, compare

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

# (batch, heads, tokens, head size): CMR ViT-B (36 patches + CLS), ST-MEM base (384 tokens), MAR (181)
SHAPES = [(32, 12, 37, 64), (8, 12, 384, 64), (16, 12, 181, 64)]


def main(argv: list[str] | None = None) -> Report:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--dtype", choices=sorted(DTYPES), help="input dtype (default: fp32 on CPU, bf16 on CUDA)")
    ap.add_argument("--shapes", type=int, nargs=4, action="append", metavar=("B", "H", "L", "DH"),
                    help="shapes to time instead of the model shapes (repeatable)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--no-peaks", action="store_true", help="skip measuring the machine's GEMM / copy peaks")
    add_device_flag(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = bench_device(args.device)
    dtype = DTYPES[args.dtype or ("bf16" if device.type == "cuda" else "fp32")]
    report = Report("attention" + ("" if device.type == "cpu" else f"_{device.type}"), device=device,
                    measure_peaks=not args.no_peaks)
    for b, h, l, d in [tuple(s) for s in args.shapes] if args.shapes else SHAPES:
        q, k, v = (torch.randn(b, h, l, d, device=device, dtype=dtype) for _ in range(3))
        flops = 4.0 * b * h * l * l * d
        providers, skips = {}, {}
        for be in attention_op.backends:
            reasons = be.reasons(q, k, v)
            if reasons:
                providers[be.name], skips[be.name] = None, "; ".join(reasons)
            else:
                providers[be.name] = (lambda f=be.impl: f(q, k, v))
        with torch.inference_mode():
            report.add(compare(f"attention forward B={b} H={h} L={l} Dh={d}", providers, reference="reference",
                               params={"threads": args.threads, "dtype": str(dtype).replace("torch.", ""),
                                       "device": str(device)}, flops=flops, items=b,
                               skip_reasons=skips, peaks=report.peaks, repeats=args.repeats, device=device))
    report.write(args.out)
    return report


if __name__ == "__main__":
    main()
