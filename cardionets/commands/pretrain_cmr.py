"""`cardionets pretrain-cmr`: stage 1, masked autoencoding (MAE, 75% of the 36 patches) of the ViT CMR encoder on 50-frame cine CMR."""
from __future__ import annotations

import argparse

STAGE = "pretrain_cmr"


def register(sub: argparse._SubParsersAction) -> None:
    from .training import EPILOG, STAGE_HELP, add_common

    p = sub.add_parser("pretrain-cmr", help=STAGE_HELP[STAGE], description=__doc__,
                       epilog=EPILOG.format(stage=STAGE, cmd="pretrain-cmr"), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p, STAGE)
    p.add_argument("--mask-ratio", type=float, help="fraction of patches masked (default 0.75)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .training import run_stage_command

    return run_stage_command(args, STAGE, {"mae.mask_ratio": args.mask_ratio})
