"""`cardionets train-generator`: train the ECG-conditioned MAR over the VAE's latents (diffusion loss
on masked tokens; condition dropped 10% for classifier-free guidance), or with --model cross the
deterministic cross-modal decoder baseline (aligned ECG embedding -> cine, L1) on the same data.

Needs the VAE run (`cardionets train-vae`, for --model mar) and the align run (the frozen, aligned
ECG encoder). Uses the one training loop of cardionets.train (checkpoints, resume, logs)."""
from __future__ import annotations

import argparse
import json

from .train_vae import add_common, build_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-generator", help="train the ECG-to-cine MAR (or the cross-modal decoder baseline)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--model", choices=["mar", "cross"], default="mar",
                   help="mar: the generator (default); cross: the deterministic cross-modal decoder baseline")
    p.add_argument("--vae", help="run directory of the trained VAE (required for --model mar)")
    p.add_argument("--align", required=True, help="run directory of the align stage (aligned ECG encoder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..generate.training import train

    extra = {"gen.align_from": args.align}
    if args.vae:
        extra["gen.vae_from"] = args.vae
    cfg = build_config("generator" if args.model == "mar" else "cross_decoder", args, extra)
    _, summary = train(cfg, resume=args.resume)
    print(json.dumps(summary, indent=1, default=str))
    return 0
