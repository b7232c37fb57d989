"""Seconds per generated cine and where they go: MAR transformer vs diffusion head vs VAE decode.

``python -m cardionets.generate.benchmark [--size base|tiny] [--arch 2d|3d] [--cfg 3] [--backend cpu] [--batch 1]``

Random weights (the cost does not depend on the values; the diffusion head's zero-initialised
modulation is randomised so every term runs). Prints one JSON line per configuration.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

from ..models.diffusion_head import randomize_
from ..models.mar import build_mar, default_patch
from ..models.vae import build_vae


def measure(size: str = "base", cfg_scale: float = 1.0, backend: str = "cpu", batch: int = 1, steps: int = 16,
            sampling_steps: int | None = None, repeats: int = 1, seed: int = 0, arch: str = "2d") -> dict:
    torch.manual_seed(seed)
    vae = build_vae(size, arch=arch).eval()
    C, T, H, W = vae.cfg.latent_shape
    mar = build_mar(size, latent_channels=C, latent_size=(T, H, W), patch=default_patch((T, H, W))).eval()
    randomize_(mar.head, torch.Generator().manual_seed(seed))
    cond = torch.randn(batch, mar.cfg.cond_dim)
    runs = []
    for r in range(repeats + 1):  # the first run warms up (allocations, one-time plans)
        timings: dict[str, float] = {}
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            lat = mar.sample_tokens(cond, steps=steps, cfg_scale=cfg_scale, generator=torch.Generator().manual_seed(r),
                                    sampling_steps=sampling_steps, backend=backend, timings=timings)
            t1, c1 = time.perf_counter(), time.process_time()
            vae.decode_latents(lat)
        t2, c2 = time.perf_counter(), time.process_time()
        timings.update(vae_decode=t2 - t1, vae_decode_cpu=c2 - c1, total=t2 - t0, total_cpu=c2 - c0)
        if r > 0 or repeats == 0:
            runs.append(timings)
    avg = {k: sum(t[k] for t in runs) / len(runs) for k in runs[0]}
    mar_cpu = avg["transformer_cpu"] + avg["diffusion_head_cpu"]
    return {"size": size, "vae_arch": arch, "tokens": mar.cfg.num_tokens, "batch": batch, "cfg_scale": cfg_scale, "backend": backend, "steps": steps,
            "sampling_steps": sampling_steps or mar.cfg.sampling_steps, "threads": torch.get_num_threads(),
            "load_average": os.getloadavg()[0],
            "wall_seconds_per_cine": avg["total"] / batch, "cpu_seconds_per_cine": avg["total_cpu"] / batch,
            "wall_s": {k: avg[k] for k in ("transformer", "diffusion_head", "vae_decode")},
            "cpu_s": {k: avg[k + "_cpu"] for k in ("transformer", "diffusion_head", "vae_decode")},
            "share_transformer_cpu": avg["transformer_cpu"] / mar_cpu,
            "share_diffusion_head_cpu": avg["diffusion_head_cpu"] / mar_cpu}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=["tiny", "base"], nargs="+", default=["base"])
    p.add_argument("--cfg", type=float, nargs="+", default=[1.0])
    p.add_argument("--backend", nargs="+", default=["cpu"])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--arch", choices=["2d", "3d"], default="2d", help="VAE architecture (default 2d, the presets')")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for size in args.size:
        for cfg in args.cfg:
            for backend in args.backend:
                print(json.dumps(measure(size, cfg, backend, args.batch, repeats=args.repeats, arch=args.arch)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
