"""`cardionets read-ecg FILE...`: read ECG files in any supported format (WFDB incl. CinC .mat,
GE CardioSoft XML, HL7 aECG, Philips Sierra XML, DICOM waveform, .npy/.npz) and print what each
holds: format, leads, rate, duration, metadata, and the quality flags of the preprocessing
pipeline. Optionally write the preprocessed crops [n_crops, 12, 2250] as .npy."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("read-ecg", help="summarise ECG files (any supported format) and their quality flags",
                       description=__doc__)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="ECG files (WFDB: the .hea, .dat/.mat or record name)")
    p.add_argument("--fs", type=float, default=None, help="sampling rate for .npy arrays, which do not store one")
    p.add_argument("--json", action="store_true", help="one JSON document per file instead of text")
    p.add_argument("--preprocess-to", type=Path, default=None, metavar="DIR",
                   help="also write the preprocessed crops of each file to DIR/<name>.npy")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import dsp
    from ..errors import CardioNetsError
    from ..io import read_ecg

    failed = 0
    for path in args.files:
        try:
            ecg = read_ecg(path, fs=args.fs) if args.fs else read_ecg(path)
            res = dsp.preprocess_ecg(ecg, on_fatal="nan")
        except CardioNetsError as exc:
            print(f"{path}: error: {exc}")
            failed += 1
            continue
        flags = dsp.describe_flags(int(res.flags))
        if args.preprocess_to:
            args.preprocess_to.mkdir(parents=True, exist_ok=True)
            import numpy as np

            np.save(args.preprocess_to / f"{Path(path).stem}.npy", res.signal)
        if args.json:
            meta = {k: v for k, v in ecg.meta.items() if k != "measurements"}
            print(json.dumps({"file": str(path), "leads": ecg.leads, "fs": ecg.fs, "samples": ecg.n_samples,
                              "seconds": ecg.duration, "meta": meta, "quality_flags": flags}, default=str))
        else:
            print(ecg.summary())
            print(f"  quality: {', '.join(flags) if flags else 'ok'}; preprocessed to {tuple(res.signal.shape)}")
    return 1 if failed else 0
