"""`cardionets synth`: write a synthetic paired ECG-CMR cohort with ground truth.

Per subject: a 12-lead ECG (WFDB, 500 Hz, 10 s, from a heart-vector model), a 4-chamber cine CMR
(NIfTI, 50 frames, 96x96 at 1.8 mm), 82 UK Biobank-style CMR phenotypes and ICD-10 diagnoses with
dates. Tables: subjects.parquet, phenotypes.parquet, diagnoses.parquet (+ truth.parquet); cohort.json
holds the generator version figures cite. The
directory is a cohort manifest: `cardionets.data.Cohort(DIR)` serves it to training. See
docs/cohort.md for the model and its sources.
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate a synthetic paired ECG + cine CMR cohort with ground truth",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="number of subjects (default 200)")
    p.add_argument("--out", required=True, help="output cohort directory")
    p.add_argument("--seed", type=int, default=0, help="random seed; the cohort is identical for any --workers")
    p.add_argument("--preset", choices=["ukb", "enriched"], default="ukb",
                   help="disease prevalences: 'ukb' (CAD 5.4%%, HF 0.6%%, CM 0.2%%, PH 0.3%%, PERI 0.25%%) "
                        "or 'enriched' for training demos")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: min(2, CPUs))")
    p.add_argument("--plots", action="store_true",
                   help="also write PNGs of a few subjects beside the real fixtures (under OUT/report)")
    p.add_argument("--fixtures", default=None, metavar="DIR",
                   help="real fixtures for --plots (default: the project's tests/fixtures, or CARDIONETS_FIXTURES)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ..data.synth import write_cohort

    t0 = time.perf_counter()
    out = write_cohort(args.out, n=args.n, seed=args.seed, preset=args.preset, workers=args.workers)
    dt = time.perf_counter() - t0
    print(f"wrote {args.n} subjects to {out} in {dt:.1f} s ({args.n / dt:.1f} subjects/s)")
    if args.plots:
        from ..data.plots import write_cohort_plots

        paths = write_cohort_plots(out, Path(out) / "report", fixtures=args.fixtures)
        for p in paths:
            print(f"  plot: {p}")
    return 0
