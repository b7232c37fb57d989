"""`cardionets train-vae`: train the generator's VAE on the cines of a cohort (L1 + SSIM + KL + motion L1),
then compute the latent scale factor on the training split and store it in the checkpoint.

The presets train the frame-stack VAE (the 50 frames as channels of a 2-D network, latent
[16, 1, 12, 12]: one whole cardiac cycle per latent cell); `--set gen.model.arch=3d` trains the 3-D
convolutional VAE instead (latent [16, 25, 12, 12]). docs/generator.md compares them.

The run directory gets model.safetensors + config.json (kind "vae3d", with latent_scale), train and
eval CSV logs, and checkpoints/last for resuming (the one training loop of cardionets.train)."""
from __future__ import annotations

import argparse
import json

from ..device.spec import PRECISIONS, add_device_argument


def add_common(p: argparse.ArgumentParser, default_size: str = "tiny") -> None:
    p.add_argument("--cohort", required=True, help="cohort directory (written by `cardionets synth` or a manifest)")
    p.add_argument("--size", choices=["tiny", "base"], default=default_size,
                   help="model preset: tiny (CPU) or base (paper size); default %(default)s")
    p.add_argument("--out", help="run directory (default: runs/<stage>_<size>)")
    p.add_argument("--config", help="YAML file with TrainConfig keys (epochs, batch_size, optim, gen, ...)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set epochs=5 --set optim.lr=3e-4 (repeatable)")
    p.add_argument("--seed", type=int, help="random seed (default: the config's, 0)")
    p.add_argument("--resume", choices=["auto", "never"], default="auto",
                   help="auto: continue from <out>/checkpoints/last when it exists (default); never: start over")
    add_device_argument(p, default=None, extra_help="default: the config's device, auto")
    p.add_argument("--precision", choices=list(PRECISIONS),
                   help="auto (default: bf16 autocast on CUDA, fp16 + gradient scaler without bf16, fp32 on CPU), "
                        "fp32, bf16 or fp16 (CUDA)")


def build_config(stage: str, args: argparse.Namespace, extra: dict | None = None):
    from ..generate.training import load_generator_config

    overrides = {"cohort_dir": args.cohort, **(extra or {})}
    if args.out:
        overrides["out_dir"] = args.out
    for flag in ("seed", "device", "precision"):
        if getattr(args, flag) is not None:
            overrides[flag] = getattr(args, flag)
    for text in args.overrides:
        if "=" not in text:
            from ..errors import InputError

            raise InputError(f"--set {text!r} is not KEY=VALUE")
        k, v = text.split("=", 1)
        overrides[k.strip()] = v.strip()
    return load_generator_config(stage, args.size, args.config, overrides)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-vae", help="train the generator's VAE on a cohort's cines", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..generate.training import train

    cfg = build_config("vae", args)
    _, summary = train(cfg, resume=args.resume)
    print(json.dumps(summary, indent=1, default=str))
    return 0
