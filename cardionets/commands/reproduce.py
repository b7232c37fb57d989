"""`cardionets reproduce`: the paper's comparison on a cohort in one command -- pretraining,
alignment and every baseline (scratch, ssl, phen_sup, cardionets, cmr_ref) for phenotype regression
and screening of CAD, HF, CM (PH and PERI where labelled), negative:positive ratios, label efficiency,
cardiomyopathy subtypes, ECG-CMR similarity maps, t-SNE of embeddings, with --kfold K a k-fold
cross-validation of the main disease and, with --generator, the generator's metrics -- into a
self-contained HTML report with results.json and PNGs.

Resumable: run it again with the same --out and finished runs are reused, not retrained.
See docs/reproduce.md for the grid of each preset and its cost."""
from __future__ import annotations

import argparse

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="the paper's full comparison on a cohort -> HTML report (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", choices=["tiny", "base"],
                   help="model size and experiment grid (tiny: CPU-sized, about an hour on 3,000 subjects)")
    p.add_argument("--cohort", required=True, help="cohort directory (e.g. written by `cardionets synth`)")
    p.add_argument("--out", required=True, help="output directory: report.html, results.json, figures/, runs/")
    p.add_argument("--generator", default=None, metavar="RUN",
                   help="MAR run directory (train-generator): adds the generator's SSIM/PSNR/MAE/RMSE and strips")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the training runs and the statistics")
    p.add_argument("--finetune-epochs", type=int, default=None, help="epochs of every fine-tuning run (grid default)")
    p.add_argument("--ratio-models", default=None, help="comma-separated models of the ratio study")
    p.add_argument("--fraction-models", default=None, help="comma-separated models of the label-efficiency study")
    p.add_argument("--screening", choices=["multilabel", "binary"], default=None,
                   help="one multi-label model per init (tiny default) or one binary model per disease (base default)")
    p.add_argument("--kfold", type=int, default=None, metavar="K",
                   help="add K-fold cross-validation of the main disease (K >= 3; 0 = off, the default): "
                        "per-fold AUC, mean +/- SD and the pooled AUC")
    p.add_argument("--kfold-models", default=None, help="comma-separated models of the k-fold study (scratch,cardionets)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (paper: 1,000)")
    p.add_argument("--n-perm", type=int, default=10000, help="permutations of the paired tests (paper: 10,000)")
    p.add_argument("--set", action="append", default=[], metavar="STAGE:KEY=VALUE",
                   help="training override for one stage or all (all:KEY=VALUE), e.g. finetune:optim.lr=3e-4")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_argument(p, extra_help="every training run, the similarity maps and the generator run there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments import grid_for, reproduce

    changes: dict = {}
    over: dict[str, dict[str, str]] = {}
    for s in args.set:
        stage, kv = s.split(":", 1) if ":" in s.split("=", 1)[0] else ("all", s)
        k, v = kv.split("=", 1)
        over.setdefault(stage, {})[k] = v
    if over:
        changes["overrides"] = over
    if args.finetune_epochs is not None:
        changes["finetune_epochs"] = args.finetune_epochs
    if args.ratio_models:
        changes["ratio_models"] = tuple(args.ratio_models.split(","))
    if args.fraction_models:
        changes["fraction_models"] = tuple(args.fraction_models.split(","))
    if args.screening:
        changes["screening"] = args.screening
    if args.kfold is not None:
        changes["kfold"] = args.kfold
    if args.kfold_models:
        changes["kfold_models"] = tuple(args.kfold_models.split(","))
    grid = grid_for(args.preset, **changes)
    res = reproduce(args.cohort, args.out, args.preset, grid=grid, generator=args.generator, seed=args.seed,
                    n_boot=args.n_boot, n_perm=args.n_perm, progress=not args.no_progress, device=args.device)
    print(f"report: {res['report']}")
    print(f"results: {res['results_json']}  ({res['total_seconds']:.0f} s)")
    for k, v in res["not_run"].items():
        print(f"not run: {k}: {v}")
    return 0
