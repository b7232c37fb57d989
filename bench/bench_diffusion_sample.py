"""Diffusion-head sampler at the paper's size: width 1024, 3 AdaLN blocks, 320-value tokens, a
768-wide condition, 180 tokens per sample with classifier-free guidance (the head runs on 360 rows
per sample), batch 1 and 16. Reference loop vs the fused ``cpu`` loop (and ``triton`` on a GPU).

    python -m bench.bench_diffusion_sample [--threads 2] [--steps 10] [--batches 1 16] [--device auto|cpu|cuda[:N]]

A full sample takes 100 steps; on a 2-core CPU that is tens of seconds at batch 1 and minutes at
batch 16, so by default fewer steps are timed (every step costs the same) and the per-sample time
is scaled to 100 steps: "per sample" = median time x (100 / steps) / batch. On CUDA the ``triton``
loop is captured as a CUDA graph on its first (warm-up) call and replayed; ``triton (no graph)`` times
the same loop launched eagerly (CARDIONETS_CUDA_GRAPHS=0).
"""
from __future__ import annotations

import argparse

import torch

from cardionets.models.diffusion_head import DiffusionHeadConfig, SimpleMLPAdaLN, selfcheck_init_
from cardionets.ops.diffusion_sample import diffusion_sample_op

from .harness import Report, add_device_flag, bench_device, compare

TOKENS = 180
FULL_STEPS = 100


def macs_per_row_step(cfg: DiffusionHeadConfig) -> int:
    """Multiply-adds of one head evaluation for one row in the fused loop (the reference also
    recomputes the timestep MLP and the condition embedding every step)."""
    W, D = cfg.width, cfg.token_dim
    return D * W + (3 * cfg.depth + 2) * W * W + cfg.depth * 2 * W * W + W * 2 * D


def main(argv: list[str] | None = None) -> Report:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10, help="sampling steps timed (of the 100 of a sample)")
    ap.add_argument("--steps-batched", type=int, default=2, help="steps timed for batches > 1")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--width", type=int, default=1024, help="head width (paper: 1024)")
    ap.add_argument("--tokens", type=int, default=TOKENS, help="tokens per sample (paper: 180)")
    ap.add_argument("--token-dim", type=int, default=320, help="values per token (paper: 320)")
    ap.add_argument("--cond-dim", type=int, default=768, help="condition width (paper: 768)")
    ap.add_argument("--no-peaks", action="store_true", help="skip measuring the machine's GEMM / copy peaks")
    add_device_flag(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = bench_device(args.device)
    cfg = DiffusionHeadConfig(token_dim=args.token_dim, cond_dim=args.cond_dim, width=args.width, depth=3)
    g = torch.Generator().manual_seed(0)
    head = selfcheck_init_(SimpleMLPAdaLN(cfg).eval(), g).to(device)
    report = Report("diffusion_sample" + ("" if device.type == "cpu" else f"_{device.type}"), device=device,
                    measure_peaks=not args.no_peaks)
    for batch in args.batches:
        n = batch * args.tokens
        steps = args.steps if batch == 1 else args.steps_batched
        cond = torch.randn(2 * n, cfg.cond_dim, generator=g).to(device)  # [conditional; unconditional] rows
        kw = dict(num_steps=steps, train_steps=1000, cfg_scale=3.0, temperature=1.0,
                  generator=None)
        providers, skips = {}, {}
        for be in diffusion_sample_op.backends:
            reasons = be.reasons(head, cond, **kw)
            if reasons:
                providers[be.name], skips[be.name] = None, "; ".join(reasons)
            else:
                providers[be.name] = (lambda f=be.impl: f(head, cond, **{**kw, "generator": torch.Generator().manual_seed(1)}))
        if device.type == "cuda" and providers.get("triton") is not None:
            providers["triton (no graph)"] = lambda: _without_graphs(head, cond, kw)
        flops = 2.0 * macs_per_row_step(cfg) * 2 * n * steps
        cmp = compare(f"diffusion_sample batch={batch} ({args.tokens} tokens, CFG: {2 * n} head rows), {steps} steps timed",
                      providers, reference="reference", items=batch * steps / FULL_STEPS,
                      params={"threads": args.threads, "loadavg_1min": round(__import__("os").getloadavg()[0], 1),
                              "width": cfg.width, "depth": cfg.depth, "token_dim": cfg.token_dim, "dtype": "fp32",
                              "device": str(device)},
                      flops=flops, skip_reasons=skips, peaks=report.peaks, repeats=args.repeats, device=device)
        for row in cmp.rows:
            if row.median_s is not None:
                row.note = (row.note + " " if row.note else "") + \
                    f"{row.median_s * FULL_STEPS / steps / batch:.2f} s per sample (100 steps)"
        report.add(cmp)
    report.write(args.out)
    print(report.markdown())
    return report


def _without_graphs(head, cond, kw):
    """The triton backend with CUDA-graph capture switched off (eager launches of the same loop)."""
    import os

    from cardionets.ops._diffusion_sample_triton import GRAPHS_ENV, sample_fused

    old = os.environ.get(GRAPHS_ENV)
    os.environ[GRAPHS_ENV] = "0"
    try:
        return sample_fused(head, cond, **{**kw, "generator": torch.Generator().manual_seed(1)})
    finally:
        if old is None:
            os.environ.pop(GRAPHS_ENV)
        else:
            os.environ[GRAPHS_ENV] = old


if __name__ == "__main__":
    main()
