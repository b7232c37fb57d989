"""Where a reader study's cases come from.

* Real cines: a cohort directory (its ``cmr_path`` column, rows without a usable cine skipped, see
  :meth:`cardionets.data.Cohort.usable`) or a folder of cine files (NIfTI, DICOM zips, multi-frame
  DICOM files, one sub-folder per DICOM series).
* Generated cines: the NIfTI files a ``cardionets generate`` output directory holds (``NAME.nii.gz``,
  NAME being the ECG file's name without extensions).
* Identity and labels: a cohort (the ``--real`` cohort, or ``--cohort``) maps a file's name to its
  cohort row through the row's ECG file name, cine file name, exam id or (when unique) subject id;
  the row gives the subject id and its ICD-10 disease labels (:func:`cardionets.data.disease_labels`).
* Model predictions: a table of screening probabilities (``cardionets screen`` output: a directory of
  Parquet shards or ``screen.parquet``; or CSV / Parquet) with an id column (``subject_id``,
  ``record_id`` or ``path``) and ``prob.<DISEASE>`` (also accepted: ``p_<DISEASE>``,
  ``prob_<DISEASE>``, ``<DISEASE>``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..data import Cohort
from ..data.schema import DISEASES
from ..data.manifest import SUBJECT_FILES

CINE_SUFFIXES = (".nii.gz", ".nii", ".zip", ".dcm")
GENERATED_SUFFIXES = (".nii.gz", ".nii")


@dataclass
class Candidate:
    """One cine that may become a case."""

    truth: str                    # "real" | "generated"
    path: Path                    # what cardionets.io.read_cmr reads
    name: str                     # file name without extensions (the generated cine's ECG name)
    subject_id: str | None = None
    row: int | None = None        # cohort row, when known
    label: int | None = None      # true disease label (disease studies)
    probability: float | None = None
    prediction: int | None = None


def file_stem(path: str | Path) -> str:
    """A file's name without any extension (``ecg/S01.hea`` -> ``S01``, ``x.nii.gz`` -> ``x``), as
    ``cardionets generate`` names its outputs."""
    return Path(str(path)).name.split(".")[0]


class CohortIndex:
    """A cohort with a name -> row lookup (ECG / cine file names, exam ids, unique subject ids)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.cohort = Cohort(root)
        s = self.cohort.manifest.subjects
        self.subject_ids = s["subject_id"].astype(str).tolist()
        counts = s["subject_id"].value_counts()
        keys: dict[str, set[int]] = {}
        for i, row in enumerate(s.itertuples(index=False)):
            names = {str(row.exam_id)}
            names |= {file_stem(p) for p in (row.ecg_path, row.cmr_path) if p}
            if counts[row.subject_id] == 1:
                names.add(str(row.subject_id))
            for n in names:
                keys.setdefault(n, set()).add(i)
        self._rows = {k: next(iter(v)) for k, v in keys.items() if len(v) == 1}

    def row_of(self, name: str) -> int | None:
        return self._rows.get(name)

    def label(self, row: int, disease: str) -> int:
        if disease not in DISEASES:
            raise InputError(f"unknown disease {disease!r}; one of {', '.join(DISEASES)}")
        return int(self.cohort.labels[row, list(DISEASES).index(disease)])


def is_cohort_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in SUBJECT_FILES)


def real_from_cohort(index: CohortIndex, split: str = "all", split_seed: int = 0) -> list[Candidate]:
    """Rows of the cohort with a usable cine (optionally only one split's rows)."""
    cohort = index.cohort
    rows = np.flatnonzero(cohort.usable("cmr"))
    if split != "all":
        parts = cohort.split(seed=split_seed)
        if split not in parts:
            raise InputError(f"split must be all, train, val or test, got {split!r}")
        rows = np.intersect1d(rows, parts[split])
    s = cohort.manifest.subjects
    out = []
    for i in rows:
        path = cohort.manifest.resolve(s["cmr_path"].iloc[i])
        out.append(Candidate("real", path, file_stem(path), index.subject_ids[i], int(i)))
    if not out:
        raise InputError(f"{index.root}: no row with a usable cine (cmr_path)"
                         + (f" in the {split} split" if split != "all" else ""))
    return out


def _cine_entries(folder: Path, suffixes: tuple[str, ...], dirs: bool) -> list[Path]:
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.name.lower().endswith(suffixes):
            out.append(p)
        elif dirs and p.is_dir() and any(f.is_file() for f in p.iterdir()):
            out.append(p)                      # a DICOM series
    return out


def real_from_folder(folder: Path) -> list[Candidate]:
    entries = _cine_entries(folder, CINE_SUFFIXES, dirs=True)
    if not entries:
        raise InputError(f"{folder}: no cines (NIfTI .nii/.nii.gz, DICOM .zip/.dcm, or one folder per DICOM series)")
    return [Candidate("real", p, file_stem(p)) for p in entries]


def generated_from_folder(folder: Path) -> list[Candidate]:
    if not folder.is_dir():
        raise InputError(f"{folder}: not a directory (give the --out directory of `cardionets generate`)")
    entries = _cine_entries(folder, GENERATED_SUFFIXES, dirs=False)
    if not entries:
        raise InputError(f"{folder}: no generated NIfTI cines (.nii.gz); run `cardionets generate` with "
                         "--format nifti (the default writes it)")
    return [Candidate("generated", p, file_stem(p)) for p in entries]


def attach_identity(cands: list[Candidate], index: CohortIndex | None, disease: str | None) -> None:
    """Subject id (and the disease label) of every candidate; a disease study needs every label."""
    for c in cands:
        if c.row is None and index is not None:
            c.row = index.row_of(c.name)
            if c.row is not None:
                c.subject_id = index.subject_ids[c.row]
        if c.subject_id is None:
            c.subject_id = c.name
        if disease is not None:
            if c.row is None:
                where = f"cohort {index.root}" if index is not None else "no cohort (give --cohort DIR)"
                raise InputError(f"{c.path}: no disease label for {c.name!r}: its name matches no ECG, cine, exam "
                                 f"or unique subject id of {where}; a disease study needs every case's label")
            c.label = index.label(c.row, disease)


# ------------------------------------------------------------------------------------------ predictions
def _read_table(path: Path) -> pd.DataFrame:
    if path.is_dir():
        files = sorted(path.glob("screen.parquet")) or sorted(path.rglob("*.parquet"))
        if not files:
            raise InputError(f"{path}: no Parquet files (expected a `cardionets screen` output directory)")
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 -- any parser error is a bad input file
        raise InputError(f"{path}: not a readable CSV / Parquet table ({type(exc).__name__}: {exc})") from exc


def load_predictions(path: str | Path, disease: str) -> dict[str, float]:
    """name -> probability of ``disease`` (names: subject ids, or record ids / file names without
    extensions). Rows with a missing probability (screening errors) are left out."""
    path = Path(path)
    df = _read_table(path)
    col = next((c for c in (f"prob.{disease}", f"p_{disease}", f"prob_{disease}", disease) if c in df.columns), None)
    if col is None:
        raise InputError(f"{path}: no probability column for {disease} (prob.{disease}, p_{disease}, "
                         f"prob_{disease} or {disease}); columns: {list(df.columns)[:12]}")
    id_col = next((c for c in ("subject_id", "record_id", "path") if c in df.columns), None)
    if id_col is None:
        raise InputError(f"{path}: needs an id column: subject_id, record_id or path")
    out: dict[str, float] = {}
    for name, p in zip(df[id_col].astype(str), pd.to_numeric(df[col], errors="coerce")):
        if not math.isfinite(p):
            continue
        if not 0.0 <= p <= 1.0:
            raise InputError(f"{path}: {col} of {name!r} is {p}, not a probability in [0, 1]")
        key = name if id_col == "subject_id" else file_stem(name)
        if key in out and out[key] != float(p):
            raise InputError(f"{path}: two different {col} values for {key!r}")
        out[key] = float(p)
    if not out:
        raise InputError(f"{path}: no row with a finite {col}")
    return out


def attach_predictions(cands: list[Candidate], preds: dict[str, float], threshold: float,
                       index: CohortIndex | None) -> None:
    """Model probability and prediction (probability >= threshold) of each candidate's subject,
    matched by subject id, or by the predictions' record name through the cohort."""
    by_row: dict[int, float] = {}
    if index is not None:
        for name, p in preds.items():
            r = index.row_of(name)
            if r is not None:
                by_row[r] = p
    for c in cands:
        p = by_row.get(c.row) if c.row is not None else None
        if p is None:
            p = preds.get(c.subject_id or "", preds.get(c.name))
        if p is not None:
            c.probability = p
            c.prediction = int(p >= threshold)
