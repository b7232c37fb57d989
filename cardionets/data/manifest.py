"""The cohort manifest: three Parquet tables in one directory, the same for the synthetic cohort and
for real exports (UK Biobank, MIMIC-IV-ECG, a hospital's PACS + ECG archive).

``subjects.parquet`` (or ``manifest.parquet``), one row per paired exam:
    subject_id (str, required)    grouping key for splits (one person may have several rows)
    ecg_path, cmr_path (str)      relative to the manifest directory (or absolute); either may be
                                  missing/empty for ECG-only or CMR-only cohorts
    ecg_date, imaging_date        dates used by the label rule (a diagnosis counts only if dated on
                                  or before them); either defaults to the other
    age, sex (optional)           ... plus any other columns, kept as they are
    exam_id (optional)            unique row key (defaults to subject_id)
``phenotypes.parquet`` (optional): subject_id (+ exam_id) and any of PHENOTYPE_NAMES; missing -> NaN.
``diagnoses.parquet`` (optional): subject_id, icd10, date (hospital records, any codes).

``cardionets ingest ukb`` / ``cardionets ingest mimic-iv-ecg`` (:mod:`cardionets.cohorts`) write
these tables from a UK Biobank or MIMIC-IV-ECG download (docs/cohorts.md), adding ``ecg_error`` /
``cmr_error`` (why a row has no usable ECG / cine) and ``issues``; missing paths load as None.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .schema import PHENOTYPE_NAMES

SUBJECT_FILES = ("subjects.parquet", "manifest.parquet")


@dataclass
class Manifest:
    root: Path
    subjects: pd.DataFrame       # one row per exam, columns as documented above
    phenotypes: pd.DataFrame     # aligned with subjects rows, columns PHENOTYPE_NAMES (NaN = missing)
    diagnoses: pd.DataFrame      # subject_id, icd10, date

    def __len__(self) -> int:
        return len(self.subjects)

    @property
    def ids(self) -> list[str]:
        return self.subjects["subject_id"].astype(str).tolist()

    def resolve(self, rel: str | None) -> Path | None:
        if rel is None or (isinstance(rel, float) and np.isnan(rel)) or str(rel) == "":
            return None
        p = Path(str(rel))
        return p if p.is_absolute() else self.root / p

    def phenotype_matrix(self) -> np.ndarray:
        """float64 [n, len(PHENOTYPE_NAMES)] with NaN where missing."""
        return self.phenotypes[PHENOTYPE_NAMES].to_numpy(dtype=np.float64)

    def subset(self, rows) -> "Manifest":
        rows = np.asarray(rows)
        return Manifest(self.root, self.subjects.iloc[rows].reset_index(drop=True),
                        self.phenotypes.iloc[rows].reset_index(drop=True), self.diagnoses)


def load_manifest(path: str | Path) -> Manifest:
    """Load a cohort directory (or the path of its subjects/manifest Parquet file)."""
    p = Path(path)
    if p.is_file():
        root, subj_file = p.parent, p
    else:
        root = p
        subj_file = next((p / f for f in SUBJECT_FILES if (p / f).is_file()), None)
        if subj_file is None:
            raise InputError(f"{p}: no {' or '.join(SUBJECT_FILES)} (is this a cohort directory?)")
    subjects = pd.read_parquet(subj_file)
    if "subject_id" not in subjects.columns:
        raise InputError(f"{subj_file}: needs a 'subject_id' column; has {list(subjects.columns)}")
    subjects = subjects.copy()
    subjects["subject_id"] = subjects["subject_id"].astype(str)
    if "exam_id" not in subjects.columns:
        subjects["exam_id"] = subjects["subject_id"]
    if subjects["exam_id"].duplicated().any():
        dup = subjects.loc[subjects["exam_id"].duplicated(), "exam_id"].iloc[0]
        raise InputError(f"{subj_file}: exam_id {dup!r} appears twice (add an exam_id column for repeat exams)")
    for col in ("ecg_path", "cmr_path"):                 # missing paths are None (never NaN or "")
        vals = subjects[col] if col in subjects.columns else [None] * len(subjects)
        subjects[col] = pd.Series([v if isinstance(v, str) and v.strip() else None for v in vals],
                                  index=subjects.index, dtype=object)
    for col in ("ecg_date", "imaging_date"):
        if col in subjects.columns:
            subjects[col] = pd.to_datetime(subjects[col])
    if "ecg_date" not in subjects.columns and "imaging_date" in subjects.columns:
        subjects["ecg_date"] = subjects["imaging_date"]
    if "imaging_date" not in subjects.columns and "ecg_date" in subjects.columns:
        subjects["imaging_date"] = subjects["ecg_date"]
    phen_file = root / "phenotypes.parquet"
    if phen_file.is_file():
        ph = pd.read_parquet(phen_file)
        if "subject_id" not in ph.columns:
            raise InputError(f"{phen_file}: needs a 'subject_id' column")
        ph = ph.copy()
        ph["subject_id"] = ph["subject_id"].astype(str)
        key = "exam_id" if "exam_id" in ph.columns else "subject_id"
        if ph[key].duplicated().any():
            raise InputError(f"{phen_file}: several rows for one {key}; add an exam_id column")
        unknown = [c for c in ph.columns if c not in PHENOTYPE_NAMES and c not in ("subject_id", "exam_id")]
        if unknown and not any(c in PHENOTYPE_NAMES for c in ph.columns):
            raise InputError(f"{phen_file}: none of its columns are PHENOTYPE_NAMES (first ones: {unknown[:5]})")
        ph = subjects[[key]].merge(ph, on=key, how="left")
    else:
        ph = pd.DataFrame(index=range(len(subjects)))
    for name in PHENOTYPE_NAMES:
        if name not in ph.columns:
            ph[name] = np.nan
    phenotypes = ph[PHENOTYPE_NAMES].astype(np.float64).reset_index(drop=True)
    diag_file = root / "diagnoses.parquet"
    if diag_file.is_file():
        diag = pd.read_parquet(diag_file)
        missing = {"subject_id", "icd10", "date"} - set(diag.columns)
        if missing:
            raise InputError(f"{diag_file}: missing column(s) {sorted(missing)}")
        diag = diag.copy()
        diag["subject_id"] = diag["subject_id"].astype(str)
        diag["date"] = pd.to_datetime(diag["date"])
    else:
        diag = pd.DataFrame({"subject_id": pd.Series([], dtype=str), "icd10": pd.Series([], dtype=str),
                             "date": pd.Series([], dtype="datetime64[ns]")})
    return Manifest(root=root, subjects=subjects.reset_index(drop=True), phenotypes=phenotypes, diagnoses=diag)


def write_manifest(root: str | Path, subjects: pd.DataFrame, phenotypes: pd.DataFrame | None = None,
                   diagnoses: pd.DataFrame | None = None) -> Path:
    """Write the tables of a manifest (the way to plug a real export in)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if "subject_id" not in subjects.columns:
        raise InputError("subjects table needs a 'subject_id' column")
    subjects.to_parquet(root / "subjects.parquet", index=False)
    if phenotypes is not None:
        phenotypes.to_parquet(root / "phenotypes.parquet", index=False)
    if diagnoses is not None:
        diagnoses.to_parquet(root / "diagnoses.parquet", index=False)
    return root
