"""`cardionets align`: stage 3, the ECG encoder + projector trained against the frozen CMR encoder
(eval mode) with the phenotype-weighted InfoNCE; phi = PCA-128 of the CMR CLS embeddings fitted
on the training split; the epoch with the lowest validation loss is kept."""
from __future__ import annotations

import argparse

STAGE = "align"


def register(sub: argparse._SubParsersAction) -> None:
    from .training import EPILOG, STAGE_HELP, add_common

    p = sub.add_parser("align", help=STAGE_HELP[STAGE], description=__doc__,
                       epilog=EPILOG.format(stage=STAGE, cmd="align"), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p, STAGE)
    p.add_argument("--cmr-from", metavar="RUN", help="pretrain-cmr run directory (required)")
    p.add_argument("--ecg-init-from", metavar="RUN", help="pretrain-ecg run directory to start the ECG encoder from")
    p.add_argument("--sigma", type=float, help="InfoNCE weight bandwidth, in units of the median pairwise phi distance (default 1.0)")
    p.add_argument("--tau", type=float, help="InfoNCE temperature (default 0.1)")
    p.add_argument("--pca-dim", type=int, help="phi dimension (default 128)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .training import run_stage_command

    return run_stage_command(args, STAGE, {"align.cmr_from": args.cmr_from, "align.ecg_init_from": args.ecg_init_from,
                                           "align.sigma": args.sigma, "align.tau": args.tau,
                                           "align.pca_dim": args.pca_dim})
