"""Seconds per generated cine and where they go: MAR transformer vs diffusion head vs VAE decode.

``python -m cardionets.generate.benchmark [--size base|tiny] [--cfg 3] [--backend cpu] [--batch 1]``

Random weights (the cost does not depend on the values; the diffusion head's zero-initialised
modulation is randomised so every term runs). Prints one JSON line per configuration.
"""
from __future__ import annotations

import argparse
import json
import time

import torch


def measure(size: str = "base", cfg_scale: float = 1.0, backend: str = "cpu", batch: int = 1, steps: int = 16,
            sampling_steps: int | None = None, repeats: int = 1, seed: int = 0) -> dict:
    from ..models.diffusion_head import randomize_
    from ..models.mar import build_mar
    from ..models.vae3d import build_vae

    torch.manual_seed(seed)
    mar = build_mar(size).eval()
    randomize_(mar.head, torch.Generator().manual_seed(seed))
    vae = build_vae(size).eval()
    cond = torch.randn(batch, mar.cfg.cond_dim)
    runs = []
    for r in range(repeats + 1):  # the first run warms up (allocations, one-time plans)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        with torch.no_grad():
            lat = mar.sample_tokens(cond, steps=steps, cfg_scale=cfg_scale, generator=torch.Generator().manual_seed(r),
                                    sampling_steps=sampling_steps, backend=backend, timings=timings)
            t1 = time.perf_counter()
            vae.decode_latents(lat)
        t2 = time.perf_counter()
        timings["vae_decode"] = t2 - t1
        timings["total"] = t2 - t0
        if r > 0 or repeats == 0:
            runs.append(timings)
    avg = {k: sum(t[k] for t in runs) / len(runs) for k in runs[0]}
    mar_time = avg["transformer"] + avg["diffusion_head"]
    return {"size": size, "batch": batch, "cfg_scale": cfg_scale, "backend": backend, "steps": steps,
            "sampling_steps": sampling_steps or mar.cfg.sampling_steps, "threads": torch.get_num_threads(),
            "seconds_per_cine": avg["total"] / batch, "transformer_s": avg["transformer"],
            "diffusion_head_s": avg["diffusion_head"], "vae_decode_s": avg["vae_decode"],
            "share_transformer": avg["transformer"] / mar_time, "share_diffusion_head": avg["diffusion_head"] / mar_time}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=["tiny", "base"], nargs="+", default=["base"])
    p.add_argument("--cfg", type=float, nargs="+", default=[1.0])
    p.add_argument("--backend", nargs="+", default=["cpu"])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args(argv)
    for size in args.size:
        for cfg in args.cfg:
            for backend in args.backend:
                print(json.dumps(measure(size, cfg, backend, args.batch, repeats=args.repeats)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
