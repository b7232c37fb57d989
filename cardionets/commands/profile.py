"""`cardionets profile A [B]`: feature distributions of an ECG (and cine) set, and with a second set
the distance between the two, feature by feature.

A set is a cohort directory (subjects.parquet with ecg_path / cmr_path, as `cardionets synth`
writes), a manifest (.csv / .parquet with a `path` or `ecg_path` and/or a `cmr_path` column), a
directory (walked: ECG files in any supported format, NIfTI cines, directories of MR DICOM
frames) or one file. ECG measurements: rate and rhythm, PR / QRS / QT, frontal QRS axis, R and S
in V1-V6 and the transition zone, Sokolow-Lyon and Cornell voltages, T amplitudes and T/QRS, ST
level, PR-segment depression, noise and baseline wander relative to the QRS
(cardionets.data.ecg_features). Cine measurements: intensity distribution, tissue classes, what a
simple threshold isolates, texture, edge sharpness, motion (cardionets.profile.cine_features).
With B, B is the reference: median of A and of B, difference, ratio A/B, Kolmogorov-Smirnov
statistic and Wasserstein distance per feature.

Example: cardionets profile runs/cohort tests/fixtures/ecg/cinc2021 --out runs/profile
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="feature distributions of ECG / cine sets and the distance between two sets",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", metavar="A", help="the set to profile (directory, manifest or file)")
    p.add_argument("b", metavar="B", nargs="?", default=None, help="optional reference set to compare A with")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write per-record tables (CSV), profile.json, compare_*.csv and PNG plots here")
    p.add_argument("--json", action="store_true", help="print the summary (and comparison) as JSON")
    p.add_argument("--max-records", type=int, default=None, metavar="N",
                   help="profile at most N ECGs and N cines per set (default: all)")
    p.set_defaults(func=run)


def _fmt(v) -> str:
    import math

    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..errors import InputError
    from ..profile import comparisons, measure_set, write_profile

    if args.max_records is not None and args.max_records < 1:
        raise InputError(f"--max-records must be at least 1, got {args.max_records}")
    quiet = args.json
    a = measure_set(args.a, max_records=args.max_records, progress=not quiet)
    b = measure_set(args.b, max_records=args.max_records, progress=not quiet) if args.b else None
    for s in (a, b):
        if s is not None and not len(s.ecg) and not len(s.cine):
            reasons = "; ".join(f"{p}: {r}" for p, r in s.errors[:3])
            raise InputError(f"{s.source}: no readable ECG or cine found" + (f" ({reasons})" if reasons else ""))
    if args.out:
        doc = write_profile(Path(args.out), a, b)
    else:
        doc = {"sets": [a.summary()] + ([b.summary()] if b is not None else [])}
        for kind, table in (comparisons(a, b) if b is not None else {}).items():
            doc[f"compare_{kind}"] = json.loads(table.to_json(orient="records"))
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
        return 0
    for s in doc["sets"]:
        print(f"{s['name']} ({s['source']}): {s['n_ecg']} ECGs, {s['n_cine']} cines, {s['n_errors']} unreadable")
        for e in s["errors"][:5]:
            print(f"  unreadable: {e['path']}: {e['reason']}")
        if s["n_warnings"]:
            print(f"  {s['n_warnings']} reader warning(s), e.g. {s['warnings'][0]['path']}: {s['warnings'][0]['warning']}")
    for kind in ("ecg", "cine"):
        rows = doc.get(f"compare_{kind}")
        if rows:
            print(f"\n{kind.upper()} {a.name} vs {b.name} (reference)")
            print(f"{'feature':24s} {'median A':>10s} {'median B':>10s} {'A-B':>9s} {'A/B':>7s} {'KS':>6s} {'W/IQR':>7s}")
            for r in rows:
                print(f"{r['feature']:24s} {_fmt(r['median_a']):>10s} {_fmt(r['median_b']):>10s} {_fmt(r['diff']):>9s} "
                      f"{_fmt(r['ratio']):>7s} {_fmt(r['ks']):>6s} {_fmt(r['wasserstein_iqr']):>7s}")
        elif b is None:
            stats = doc["sets"][0][kind]
            if stats:
                print(f"\n{kind.upper()} {a.name}")
                print(f"{'feature':24s} {'median':>10s} {'q10':>10s} {'q90':>10s} {'n':>5s}")
                for k, v in stats.items():
                    print(f"{k:24s} {_fmt(v['median']):>10s} {_fmt(v['q10']):>10s} {_fmt(v['q90']):>10s} {v['n']:5d}")
    if args.out:
        print(f"\nwrote {args.out}: " + ", ".join(Path(f).name for f in doc.get("files", [])))
    return 0
