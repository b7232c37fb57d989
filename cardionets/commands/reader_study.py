"""`cardionets reader-study make|score`: the reader study of generated cines (the paper's Fig. 6).

make: a blinded, randomised pack of real and generated cines. Each case is one looping GIF and one
PNG strip under a neutral case id (C01, C02, ...), every case read and drawn the same way (read_cmr's
orientation, crop and intensity scaling; the same size, frame time and palette; no metadata; one
file date), with README.txt and case_sheet.csv for readers to fill in. The key (case -> source
file, real or generated, subject, true disease label, model prediction) is written to --key, which
must lie outside the pack, with the pack's fingerprint.

score: reads filled sheets, checks them against the key (unknown, missing or repeated cases, bad
values: every problem listed with its sheet and line) and writes results.json, table.md and
confusion.png: per reader and pooled, accuracy at telling real from generated with Wilson 95%
intervals, the truth x answer confusion matrix with sensitivity / specificity, Cohen's and Fleiss'
kappa between readers; for a disease study readers' and the model's accuracy on the same cases with
McNemar's exact test. See docs/reader_study.md."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reader-study", help="blinded reader study of real vs generated cines: make a pack, score sheets",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    act = p.add_subparsers(dest="action", metavar="ACTION")
    act.required = True
    m = act.add_parser("make", help="write a blinded, randomised pack of real and generated cines and its key",
                       description="Write a blinded pack (README.txt, case_sheet.csv, cases/C*.gif + .png) into "
                                   "--out and its key to --key (outside the pack). See docs/reader_study.md.")
    m.add_argument("--real", required=True, type=Path, metavar="COHORT_OR_DIR",
                   help="real cines: a cohort directory (its cmr_path column) or a folder of NIfTI / DICOM cines")
    m.add_argument("--generated", required=True, type=Path, metavar="DIR",
                   help="generated cines: the --out directory of `cardionets generate` (its .nii.gz files)")
    m.add_argument("--out", required=True, type=Path, metavar="PACK", help="pack directory to create (new or empty)")
    m.add_argument("--key", required=True, type=Path, metavar="KEY.json",
                   help="where to write the key (the answers); refused inside the pack")
    m.add_argument("--n-real", type=int, metavar="N", help="real cases (default: as many as generated ones)")
    m.add_argument("--n-generated", type=int, metavar="M", help="generated cases (default: every generated cine)")
    m.add_argument("--disease", choices=["CAD", "HF", "CM", "PH"],
                   help="also ask readers whether the disease is present (labels from the cohort's ICD-10 codes)")
    m.add_argument("--cohort", type=Path, metavar="DIR",
                   help="cohort giving subject ids and disease labels when --real is a folder (generated cines are "
                        "matched by their ECG's name)")
    m.add_argument("--predictions", type=Path, metavar="FILE",
                   help="model disease probabilities for the subjects (a `cardionets screen` output or CSV/Parquet "
                        "with subject_id or record_id and prob.DISEASE); needs --disease")
    m.add_argument("--threshold", type=float, default=0.5, help="probability at which the model says 'present' (default 0.5)")
    m.add_argument("--positive-fraction", type=float, default=0.5,
                   help="disease studies: share of label-positive cases among real and among generated (default 0.5)")
    m.add_argument("--split", choices=["all", "train", "val", "test"], default="all",
                   help="real cines from this split of the cohort (seed 0, as training) (default all)")
    m.add_argument("--allow-same-subject", action="store_true",
                   help="allow a subject's real cine in a pack that holds its generated one (default: left out)")
    m.add_argument("--seed", type=int, help="selection and order seed (default: drawn at random, stored in the key)")
    m.add_argument("--frame-ms", type=float, default=40.0, help="GIF frame time in ms (default 40: a 2 s loop of 50 frames)")
    m.add_argument("--gif-scale", type=int, default=3, help="GIF enlargement (default 3: 288 x 288 px)")
    m.add_argument("--strip-frames", type=int, default=10, help="evenly spaced frames in the PNG strip (default 10)")
    m.add_argument("--strip-scale", type=int, default=2, help="PNG strip enlargement (default 2)")
    m.add_argument("--force", action="store_true", help="overwrite an existing key file")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(func=run_make)
    s = act.add_parser("score", help="score filled case sheets against the key",
                       description="Validate filled sheets against the key and write results.json, table.md and "
                                   "confusion.png into --out. See docs/reader_study.md for the statistics.")
    s.add_argument("--key", required=True, type=Path, metavar="KEY.json", help="the key written by `reader-study make`")
    s.add_argument("--sheets", required=True, nargs="+", type=Path, metavar="SHEET.csv", help="filled sheets, one per reader")
    s.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    s.add_argument("--pack", type=Path, metavar="PACK", help="also check that this pack is the one the key was made with")
    s.add_argument("--allow-blank", action="store_true", help="score sheets with unanswered cases (they are left out)")
    s.add_argument("--no-plot", action="store_true", help="no confusion.png")
    s.add_argument("--json", action="store_true", help="print results.json to stdout instead of the table")
    s.set_defaults(func=run_score)


def run_make(args: argparse.Namespace) -> int:
    from ..readerstudy import PackSettings, make_pack

    settings = PackSettings(n_real=args.n_real, n_generated=args.n_generated, disease=args.disease,
                            positive_fraction=args.positive_fraction, threshold=args.threshold, seed=args.seed,
                            frame_ms=args.frame_ms, gif_scale=args.gif_scale, strip_frames=args.strip_frames,
                            strip_scale=args.strip_scale, split=args.split, allow_same_subject=args.allow_same_subject)
    key = make_pack(args.real, args.generated, args.out, args.key, cohort=args.cohort, predictions=args.predictions,
                    settings=settings, force=args.force, progress=not args.no_progress)
    n = key["counts"]
    print(f"pack {key['pack_id']}: {n['cases']} cases ({n['real']} real, {n['generated']} generated) -> {args.out}")
    print(f"key (keep it from the readers) -> {args.key}")
    for note in key["notes"]:
        print(f"note: {note}")
    for name, v in key["blinding_audit"]["varying"].items():
        auc = v["auc_generated_vs_real"]
        flag = "  <- separates the sources; share the pack through a viewer that hides file details" \
            if auc is not None and abs(auc - 0.5) > 0.25 else ""
        print(f"audit: {name} {v['min']}-{v['max']}, AUC generated vs real "
              f"{'n/a' if auc is None else f'{auc:.2f}'}{flag}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from ..readerstudy import score_sheets, table_markdown, write_results

    results = score_sheets(args.key, args.sheets, pack=args.pack, allow_blank=args.allow_blank)
    paths = write_results(results, args.out, plot=not args.no_plot)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(table_markdown(results))
        print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0
