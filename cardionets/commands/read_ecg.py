"""`cardionets read-ecg FILE...`: read ECG files in any supported format (WFDB incl. CinC .mat,
GE CardioSoft XML, HL7 aECG, Philips Sierra XML, DICOM waveform, .npy/.npz) and print what each
holds: format, leads, rate, duration, metadata, and the quality flags of the preprocessing
pipeline. Optionally write the preprocessed crops [n_crops, 12, 2250] as .npy.

A file that cannot be read is reported (on stderr; with --json also as an error object on stdout)
and the next file is read; the exit status is 1 when any file failed, with a summary on stderr.
--json prints one JSON object per line (JSON Lines): valid JSON, non-finite numbers as null."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("read-ecg", help="summarise ECG files (any supported format) and their quality flags",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="ECG files (WFDB: the .hea, .dat/.mat or record name)")
    p.add_argument("--fs", type=float, default=None, help="sampling rate for .npy arrays, which do not store one")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per file and line: {file, format, leads, fs, ...} or {file, error: {type, message}}")
    p.add_argument("--preprocess-to", type=Path, default=None, metavar="DIR",
                   help="also write the preprocessed crops of each file to DIR/<name>.npy (<name>: the file's stem, "
                        "or its path relative to the inputs' common folder when two inputs share a stem)")
    p.set_defaults(func=run)


def _finite(x: Any) -> Any:
    """``x`` with every non-finite float replaced by None, numpy scalars as Python numbers (for JSON)."""
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 1) == 0:
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, (str, int, bool)):
        return x
    return str(x)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import dsp
    from ..errors import naming
    from ..io import read_ecg
    from ..io.naming import output_names

    names = output_names(args.files) if args.preprocess_to else [None] * len(args.files)
    failed: list[str] = []
    for path, name in zip(args.files, names):
        try:
            ecg = read_ecg(path, fs=args.fs) if args.fs else read_ecg(path)
            res = dsp.preprocess_ecg(ecg, on_fatal="nan")
        except Exception as exc:  # noqa: BLE001 -- report, go on with the next file
            exc = naming(exc, path)
            failed.append(str(path))
            print(f"{path}: error: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(path), "error": {"type": type(exc).__name__, "message": str(exc)}}))
            continue
        flags = dsp.describe_flags(int(res.flags))
        written = None
        if args.preprocess_to:
            args.preprocess_to.mkdir(parents=True, exist_ok=True)
            written = args.preprocess_to / f"{name}.npy"
            np.save(written, res.signal)
        if args.json:
            meta = {k: v for k, v in ecg.meta.items() if k != "measurements"}
            doc = {"file": str(path), "format": ecg.meta.get("format"), "leads": ecg.leads, "fs": ecg.fs,
                   "samples": ecg.n_samples, "seconds": ecg.duration, "meta": meta, "quality_flags": flags,
                   "preprocessed": str(written) if written else None}
            print(json.dumps(_finite(doc), allow_nan=False))
        else:
            print(ecg.summary())
            dropped = ecg.meta.get("dropped_signals")
            if dropped:
                listed = ", ".join(f"{d['name']} ({d['unit']})" for d in dropped)
                print(f"  dropped non-voltage signals: {listed}")
            print(f"  quality: {', '.join(flags) if flags else 'ok'}; preprocessed to {tuple(res.signal.shape)}"
                  + (f" -> {written}" if written else ""))
    if failed:
        print(f"read-ecg: {len(failed)} of {len(args.files)} file(s) could not be read", file=sys.stderr)
        return 1
    return 0
