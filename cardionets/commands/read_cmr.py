"""`cardionets read-cmr FILE...`: read cine CMRs (NIfTI, DICOM series folder or file, multi-frame
DICOM, zip of DICOM such as UK Biobank field 20208) and show what the model would get: source shape,
pixel spacing, frames, trigger times, the view check, the orientation applied, the heart centre
and the crop box, and warnings. --to-input writes the model input [50, 96, 96] (.npy) and a PNG
of what the model sees (source with the crop box, input frames, where the input moves).
Preprocessing steps: docs/io.md and cardionets/io/cmr.py."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("read-cmr", help="summarise cine CMRs and the model input they give (view, crop box)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="cine files or DICOM series folders")
    p.add_argument("--json", action="store_true", help="one JSON document per line per file (errors as objects)")
    p.add_argument("--to-input", type=Path, default=None, metavar="OUT",
                   help="write OUT/<name>.npy (the model input) and OUT/<name>.png (what the model sees)")
    p.add_argument("--slice", type=float, default=None, metavar="S",
                   help="slice of a stack to read (DICOM: slice location in mm, NIfTI: index)")
    p.add_argument("--center", default=None, metavar="ROW,COL",
                   help="centre the window here (canonically oriented source pixels) instead of localising the heart")
    p.add_argument("--strict-view", action="store_true", help="refuse cines whose view is not 4-chamber")
    p.set_defaults(func=run)


def _stem(path: Path, used: set[str]) -> str:
    name = path.name
    for ext in (".nii.gz", ".nii", ".zip", ".dcm"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    stem, k = name or "cine", 1
    while stem in used:                       # two inputs with one name: never overwrite
        k += 1
        stem = f"{name}_{k}"
    used.add(stem)
    return stem


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import CardioNetsError, InputError
    from ..io.cmr import inspect_cmr

    center = None
    if args.center:
        try:
            r, c = (float(v) for v in args.center.split(","))
        except ValueError:
            raise InputError(f"--center must be ROW,COL, got {args.center!r}") from None
        center = (r, c)
    failed, used = 0, set()
    for path in args.files:
        try:
            res = inspect_cmr(path, center=center, slice_location=args.slice,
                              on_view="raise" if args.strict_view else "warn")
        except CardioNetsError as exc:
            failed += 1
            if args.json:
                print(json.dumps({"file": str(path), "error": str(exc)}))
            else:
                print(f"{path}: error: {exc}")
            continue
        rep = dict(res.report)
        if args.to_input:
            from ..io.cmr_preview import write_preview

            args.to_input.mkdir(parents=True, exist_ok=True)
            stem = _stem(Path(path), used)
            np.save(args.to_input / f"{stem}.npy", res.x)
            rep["input_file"] = str(args.to_input / f"{stem}.npy")
            rep["preview_png"] = str(write_preview(res, args.to_input / f"{stem}.png"))
        if args.json:
            print(json.dumps(rep, default=str, allow_nan=False))
            continue
        v, box = rep["view"], rep["crop_box"]
        print(f"{path}: {rep['format']}, {rep['frames_source']} frames of {rep['source_shape'][1]} x "
              f"{rep['source_shape'][2]} px at {rep['spacing_mm'][0]:.3g} x {rep['spacing_mm'][1]:.3g} mm"
              + (f", series {rep['series_description']!r}" if rep.get("series_description") else ""))
        print(f"  view: {v['view']} ({v['source']})")
        print(f"  orientation: {rep['orientation']['transform']} (screen right = {rep['orientation']['right']}, "
              f"down = {rep['orientation']['down']}; {rep['orientation']['source']})")
        print(f"  heart centre: row {rep['heart_centre_px'][0]:.1f}, col {rep['heart_centre_px'][1]:.1f} "
              f"({rep['localisation']}); crop box rows {box['rows'][0]:.1f}-{box['rows'][1]:.1f}, "
              f"cols {box['cols'][0]:.1f}-{box['cols'][1]:.1f} ({box['placement']['rows']} / {box['placement']['cols']})")
        print(f"  input: {tuple(rep['input']['shape'])} at {rep['input']['spacing_mm']} mm; moving part "
              f"{rep['input_motion_offset_px']:.1f} px from its centre")
        for w in rep["warnings"]:
            print(f"  warning: {w}")
        if args.to_input:
            print(f"  wrote {rep['input_file']} and {rep['preview_png']}")
    return 1 if failed else 0
