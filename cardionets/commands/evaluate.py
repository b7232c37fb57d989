"""`cardionets evaluate --model RUN --cohort COHORT --out DIR`: external validation of trained
fine-tuning runs on a labelled cohort they never saw (the paper's FAHZU / SAHZU step). Every
fine-tuning run under RUN (one run, or a folder of runs such as reproduce's runs/) predicts every
cohort row it can use; the metrics, bootstrap CIs, permutation and DeLong tests and report pieces
are those of `cardionets reproduce` (report.html, results.json, figures/), plus metrics.md (the
headline table with CIs) and evaluate.json (which outputs could not be evaluated, and why: a
disease the cohort has no positives for, phenotypes it does not hold, labels no model predicts).
Thresholds come from the runs' development validation split, never from the external cohort."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="external validation of trained models on a labelled cohort -> report",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, metavar="RUN", help="fine-tuning run, or a folder of runs")
    p.add_argument("--cohort", type=Path, required=True, metavar="COHORT", help="labelled cohort directory")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (paper: 1,000)")
    p.add_argument("--n-perm", type=int, default=10000, help="permutations of the paired tests (paper: 10,000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the statistics")
    p.add_argument("--batch-size", type=int, default=16, help="inference batch size")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_argument(p, extra_help="the models run there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.external import evaluate_external

    s = evaluate_external(args.model, args.cohort, args.out, n_boot=args.n_boot, n_perm=args.n_perm, seed=args.seed,
                          batch_size=args.batch_size, progress=not args.no_progress, device=args.device)
    print(s["table"], end="")
    for k, v in s["not_evaluated"].items():
        print(f"not evaluated: {k}: {v}")
    print(f"report: {s['report']}\nresults: {s['results_json']}")
    return 0
