"""`cardionets finetune`: stage 4, an encoder + head for phenotype regression or screening, with the
same recipe for every initialisation: scratch, ssl (pretrain-ecg run), phen_sup (a phenotype
fine-tuning run), cardionets (align run) and cmr_ref (pretrain-cmr run, on the paired CMR).
ECG models average their outputs over test-time crops. The selected model is evaluated once on
the held-out test split (test_metrics.json, test_predictions.npz)."""
from __future__ import annotations

import argparse

STAGE = "finetune"


def register(sub: argparse._SubParsersAction) -> None:
    from .training import EPILOG, STAGE_HELP, add_common

    p = sub.add_parser("finetune", help=STAGE_HELP[STAGE], description=__doc__,
                       epilog=EPILOG.format(stage=STAGE, cmd="finetune"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p, STAGE)
    p.add_argument("--task", help="phenotypes | diseases | disease:CAD|HF|CM|PH|PERI | cm_subtype (default phenotypes)")
    p.add_argument("--init", choices=["scratch", "ssl", "phen_sup", "cardionets", "cmr_ref"],
                   help="encoder initialisation (default scratch)")
    p.add_argument("--init-from", metavar="RUN", help="run directory the encoder comes from (all inits but scratch)")
    p.add_argument("--label-fraction", type=float, help="fraction of training labels used (label efficiency)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .training import run_stage_command

    return run_stage_command(args, STAGE, {"finetune.task": args.task, "finetune.init": args.init,
                                           "finetune.init_from": args.init_from,
                                           "finetune.label_fraction": args.label_fraction})
