"""What a profile set holds: its ECG records and its cines, found from one path.

A set is
* a cohort directory (``subjects.parquet`` or ``manifest.parquet`` with ``ecg_path`` / ``cmr_path``
  columns, as ``cardionets synth`` writes and real cohorts use, see docs/cohort.md);
* a screening-style manifest (``.csv`` / ``.parquet``) with a ``path`` column (ECGs) and/or a
  ``cmr_path`` column (cines); relative paths are relative to the manifest;
* any other directory, walked recursively: NIfTI files are cines, a directory of MR DICOM frames
  is one cine (a series, read with ``cardionets.io.read_cmr``), every other file is an ECG
  candidate (WFDB records count once, by their header);
* a single file (an ECG, a NIfTI cine or one frame of a DICOM cine series).
Files that are neither are reported as unreadable by the profile, never silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..screen.inputs import walk_dir
import pydicom
import pandas as pd

_MANIFESTS = ("subjects.parquet", "manifest.parquet")


@dataclass
class SetInputs:
    name: str
    ecgs: list[str] = field(default_factory=list)
    cines: list[str] = field(default_factory=list)


def _is_nifti(p: Path) -> bool:
    return p.name.endswith((".nii", ".nii.gz"))


def _dicom_modality(p: Path) -> str | None:
    """'MR', 'ECG', ... for a DICOM file (from its header), None if it is not DICOM."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return None
    if len(head) < 132 or head[128:132] != b"DICM":
        return None
    try:
        ds = pydicom.dcmread(str(p), stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - a broken header is reported when the file is read
        return None
    return str(getattr(ds, "Modality", "") or ("ECG" if "WaveformSequence" in ds else ""))


def _from_table(path: Path, df, base: Path, name: str) -> SetInputs:
    out = SetInputs(name)
    ecg_col = "ecg_path" if "ecg_path" in df.columns else ("path" if "path" in df.columns else None)
    if ecg_col is None and "cmr_path" not in df.columns:
        raise InputError(f"{path}: a profile manifest needs an 'ecg_path' (or 'path') and/or a 'cmr_path' column "
                         f"(has {', '.join(map(str, df.columns))})")

    def resolve(p) -> str | None:
        if p is None or (isinstance(p, float)) or str(p).strip() in ("", "nan", "None"):
            return None
        q = Path(str(p))
        return str(q if q.is_absolute() else base / q)
    if ecg_col:
        out.ecgs = [r for r in map(resolve, df[ecg_col].tolist()) if r]
    if "cmr_path" in df.columns:
        out.cines = [r for r in map(resolve, df["cmr_path"].tolist()) if r]
    return out


def _walk(root: Path, name: str) -> SetInputs:
    out = SetInputs(name)
    mr_dirs: dict[str, None] = {}
    for item in walk_dir(root):
        p = Path(item.path)
        if _is_nifti(p):
            out.cines.append(str(p))
        elif p.suffix.lower() in (".dcm", "") and _dicom_modality(p) == "MR":
            mr_dirs[str(p.parent)] = None
        elif p.suffix.lower() not in (".json", ".md", ".txt", ".png", ".parquet", ".csv", ".npy", ".py", ".xyz"):
            out.ecgs.append(str(p))
    out.cines += list(mr_dirs)
    return out


def discover(path: str | Path) -> SetInputs:
    """The ECGs and cines of one set (see the module docstring)."""
    p = Path(path)
    name = p.name or str(p)
    if p.is_dir():
        for m in _MANIFESTS:
            if (p / m).is_file():
                return _from_table(p / m, pd.read_parquet(p / m), p, name)
        return _walk(p, name)
    if p.is_file() and p.suffix.lower() in (".csv", ".parquet", ".pq"):
        df = pd.read_parquet(p) if p.suffix.lower() != ".csv" else pd.read_csv(p)
        return _from_table(p, df, p.parent, p.stem)
    if p.is_file() or Path(str(p) + ".hea").exists():
        if _is_nifti(p) or (p.suffix.lower() == ".dcm" and _dicom_modality(p) == "MR"):
            return SetInputs(name, cines=[str(p)])
        return SetInputs(name, ecgs=[str(p)])
    raise InputError(f"{p}: no such file or directory")
