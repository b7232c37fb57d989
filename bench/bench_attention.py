"""Attention backends side by side: reference (math) vs SDPA, at the ViT-B and ST-MEM shapes.

    python -m bench.bench_attention [--threads 2]
"""
from __future__ import annotations

import argparse

import torch

from cardionets.ops.attention import attention_op

from .harness import Report, compare

# (batch, heads, tokens, head size): CMR ViT-B (36 patches + CLS), ST-MEM base (384 tokens), MAR (181)
SHAPES = [(32, 12, 37, 64), (8, 12, 384, 64), (16, 12, 181, 64)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = Report("attention")
    for b, h, l, d in SHAPES:
        q, k, v = (torch.randn(b, h, l, d) for _ in range(3))
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
                               params={"threads": args.threads, "dtype": "fp32"}, flops=flops, items=b,
                               skip_reasons=skips, peaks=report.peaks, repeats=10))
    report.write(args.out)


if __name__ == "__main__":
    main()
