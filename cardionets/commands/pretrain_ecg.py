"""`cardionets pretrain-ecg`: stage 2, ST-MEM masked pretraining (75% of the patches of every lead) of the ECG encoder: the 'SSL ECG' baseline and the initialisation of the alignment."""
from __future__ import annotations

import argparse

STAGE = "pretrain_ecg"


def register(sub: argparse._SubParsersAction) -> None:
    from .training import EPILOG, STAGE_HELP, add_common

    p = sub.add_parser("pretrain-ecg", help=STAGE_HELP[STAGE], description=__doc__,
                       epilog=EPILOG.format(stage=STAGE, cmd="pretrain-ecg"), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p, STAGE)
    p.add_argument("--mask-ratio", type=float, help="fraction of patches masked (default 0.75)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .training import run_stage_command

    return run_stage_command(args, STAGE, {"mae.mask_ratio": args.mask_ratio})
