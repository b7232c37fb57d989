"""What every cohort ingester shares: per-subject rows that keep every problem as a reason, the
checks of one ECG and one cine, date parsing, and writing the cohort directory.

A cohort directory written here is what ``cardionets synth`` writes (:mod:`cardionets.data.manifest`:
``subjects.parquet``, ``phenotypes.parquet``, ``diagnoses.parquet``, ``cohort.json``) plus:

* ``ingest_summary.json`` -- counts: rows, usable ECGs / cines, label prevalence, and every reason;
* ``ingest_issues.csv``   -- one line per problem: subject_id, exam_id, code, detail;
* ``ecg_manifest.csv``    -- ``record_id, path`` of every ECG file found, for ``cardionets screen``.

Rows are never dropped: a subject whose ECG or cine is missing or broken keeps its row with an
empty ``ecg_path`` / ``cmr_path`` and the reason in ``ecg_error`` / ``cmr_error``; other problems
(a date that does not parse, a phenotype value that is not a number, ...) are listed in ``issues``.
Training and evaluation use a row for what it has (:meth:`cardionets.data.Cohort.usable`).
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import CardioNetsError, InputError
from ..io import read_ecg
from ..io.cmr import inspect_cmr
from ..data.labels import disease_labels
from ..data.manifest import write_manifest
from ..data.schema import DISEASES, icd10_disease
from concurrent.futures import ProcessPoolExecutor
from tqdm import tqdm
import shutil


@dataclass
class SubjectRow:
    """Everything ingested for one exam, and what went wrong (``issues``: (code, detail) pairs)."""
    subject: dict[str, Any]
    phenotypes: dict[str, float] = field(default_factory=dict)
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    issues: list[tuple[str, str]] = field(default_factory=list)

    def issue(self, code: str, detail: str) -> None:
        self.issues.append((code, detail))


def parse_date(value) -> tuple[pd.Timestamp | None, str | None]:
    """(timestamp, None) or (None, reason); missing values are (None, None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, None
    s = str(value).strip()
    if not s or s.lower() in ("nan", "nat", "none", "na"):
        return None, None
    try:
        ts = pd.Timestamp(s)
    except (ValueError, TypeError, OverflowError) as exc:
        return None, f"{s!r} is not a date ({type(exc).__name__})"
    if pd.isna(ts) or ts.year < 1850:          # no upper bound: MIMIC shifts dates into 2100-2200
        return None, f"{s!r} is not a plausible date"
    return ts, None


def check_ecg(path: Path) -> dict[str, Any]:
    """Read one ECG fully: {"ok", "error", "leads", "fs", "seconds", "date"}."""
    try:
        ecg = read_ecg(path)
        std = ecg.standard(missing="nan")
    except CardioNetsError as exc:
        return {"ok": False, "error": f"unreadable: {exc}"}
    except Exception as exc:  # noqa: BLE001 -- a reader bug must not stop the ingestion
        return {"ok": False, "error": f"unreadable: {type(exc).__name__}: {exc} ({path})"}
    present = int(np.isfinite(std.signal).all(axis=1).sum())
    if present == 0:
        return {"ok": False, "error": f"unreadable: no usable lead in {path}"}
    if ecg.duration < 9.0:
        return {"ok": False, "error": f"too short: {ecg.duration:.1f} s (the model needs 9 s) in {path}"}
    return {"ok": True, "error": None, "leads": present, "fs": float(ecg.fs), "seconds": round(ecg.duration, 2),
            "date": ecg.meta.get("date")}


def check_cine(path: Path) -> dict[str, Any]:
    """Read and preprocess one cine as training will: {"ok", "error", "series", "frames", "view", ...}."""
    try:
        res = inspect_cmr(path)
    except CardioNetsError as exc:
        return {"ok": False, "error": f"unreadable: {exc}"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": f"unreadable: {type(exc).__name__}: {exc} ({path})"}
    r = res.report
    box = r["crop_box"]
    return {"ok": True, "error": None, "series": r.get("series_description"), "series_number": r.get("series_number"),
            "series_uid": r.get("series_uid"),
            "frames": r["frames_source"], "view": r["view"]["view"], "view_ok": r["view"]["ok"],
            "crop_rows": box["rows"], "crop_cols": box["cols"], "warnings": r["warnings"]}


def run_rows(fn: Callable[[Any], SubjectRow], jobs: list, workers: int, desc: str, progress: bool) -> list[SubjectRow]:
    """``fn`` over ``jobs`` (in order), in ``workers`` processes when > 1, with a progress bar."""
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            it: Iterable = pool.map(fn, jobs, chunksize=8)
            return list(_progress(it, len(jobs), desc, progress))
    return list(_progress(map(fn, jobs), len(jobs), desc, progress))


def _progress(it, total: int, desc: str, enabled: bool):
    if not enabled:
        return it
    return tqdm(it, total=total, desc=desc, unit="subject")


def relative_or_absolute(path: Path | None, out: Path) -> str | None:
    """A path for the manifest: relative to the cohort directory when inside it, else absolute."""
    if path is None:
        return None
    p = Path(os.path.abspath(path))
    try:
        return p.relative_to(Path(os.path.abspath(out))).as_posix()
    except ValueError:
        return str(p)


def write_cohort_dir(out: Path, rows: list[SubjectRow], *, source: str, settings: dict, warnings: list[str],
                     phenotype_columns: list[str]) -> dict:
    """Write the cohort directory (module docstring); returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "cache").is_dir():                   # caches of an earlier cohort in this directory
        shutil.rmtree(out / "cache")
    subj = []
    for r in rows:
        s = dict(r.subject)
        own = (s.get("ecg_error"), s.get("cmr_error"))              # already in their own columns
        s["issues"] = "; ".join(f"{c}: {d}" for c, d in r.issues if d not in own) or None
        subj.append(s)
    subjects = pd.DataFrame(subj)
    for col in ("ecg_path", "cmr_path", "ecg_error", "cmr_error"):
        if col not in subjects.columns:
            subjects[col] = None
    for col in ("ecg_date", "imaging_date"):
        if col in subjects.columns:
            subjects[col] = pd.to_datetime(subjects[col])
    ph_rows = [{"subject_id": r.subject["subject_id"], "exam_id": r.subject["exam_id"], **r.phenotypes} for r in rows]
    phen = pd.DataFrame(ph_rows, columns=["subject_id", "exam_id", *phenotype_columns]) if phenotype_columns else None
    diag = pd.DataFrame([d for r in rows for d in r.diagnoses],
                        columns=["subject_id", "icd10", "date", "code", "icd_version", "source"])
    diag["date"] = pd.to_datetime(diag["date"])
    diag["subject_id"] = diag["subject_id"].astype(str)
    write_manifest(out, subjects, phen, diag)
    issues = pd.DataFrame([{"subject_id": r.subject["subject_id"], "exam_id": r.subject["exam_id"], "code": c,
                            "detail": d} for r in rows for c, d in r.issues],
                          columns=["subject_id", "exam_id", "code", "detail"])
    issues.to_csv(out / "ingest_issues.csv", index=False)
    ecg_files = subjects[subjects["ecg_file"].notna()] if "ecg_file" in subjects.columns else subjects.iloc[:0]
    pd.DataFrame({"record_id": ecg_files["exam_id"].astype(str), "path": ecg_files["ecg_file"]}).to_csv(
        out / "ecg_manifest.csv", index=False)
    labels = disease_labels(subjects.assign(ecg_date=subjects.get("ecg_date", pd.NaT)), diag)
    counts = Counter(c for r in rows for c, _ in r.issues)
    subjects_with = Counter(c for r in rows for c in {c for c, _ in r.issues})
    summary = {
        "source": source, "rows": len(rows), "subjects": int(subjects["subject_id"].nunique()),
        "ecg_usable": int(subjects["ecg_path"].notna().sum()), "cmr_usable": int(subjects["cmr_path"].notna().sum()),
        "phenotype_rows_with_any_value": int(sum(any(np.isfinite(v) for v in r.phenotypes.values()) for r in rows)),
        "diagnosis_rows": len(diag),
        "diagnosis_rows_for_a_disease": int(diag["icd10"].map(lambda c: isinstance(c, str) and icd10_disease(c) is not None).sum()),
        "label_positives": {d: int(labels[d].sum()) for d in DISEASES},
        "issues": dict(sorted(counts.items())), "rows_with_issue": dict(sorted(subjects_with.items())),
        "warnings": list(warnings),
    }
    (out / "ingest_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    (out / "cohort.json").write_text(json.dumps({"generator": f"cardionets ingest {source}", "cardionets": __version__,
                                                 "n": len(rows), "settings": settings}, indent=1, default=str))
    return summary


def require_columns(df: pd.DataFrame, cols: Iterable[str], source: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {missing}; has {list(df.columns)[:12]}")


def read_table(path: Path, **kw) -> pd.DataFrame:
    """A CSV (also .csv.gz), TSV or Parquet table, with a clear error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz", ".tab", ".txt")) else ","
        return pd.read_csv(path, sep=sep, low_memory=False, **kw)
    except Exception as exc:  # noqa: BLE001 -- pandas raises many types on broken files
        raise InputError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from exc


def print_summary(summary: dict, out: Path, echo=print) -> None:
    echo(f"cohort: {out}  ({summary['rows']} rows, {summary['subjects']} subjects)")
    echo(f"  usable ECGs {summary['ecg_usable']}, usable cines {summary['cmr_usable']}, "
         f"rows with phenotypes {summary['phenotype_rows_with_any_value']}, diagnosis rows {summary['diagnosis_rows']} "
         f"({summary['diagnosis_rows_for_a_disease']} for a screened disease)")
    echo("  label positives (dated on/before the exam): " + ", ".join(f"{k} {v}" for k, v in summary["label_positives"].items()))
    if summary["issues"]:
        echo("  issues (rows affected): " + ", ".join(f"{k} {summary['rows_with_issue'][k]}" for k in summary["issues"]))
        echo(f"  details: {out / 'ingest_issues.csv'}")
    for w in summary["warnings"]:
        echo(f"  warning: {w}")


__all__ = ["SubjectRow", "check_cine", "check_ecg", "parse_date", "print_summary", "read_table",
           "relative_or_absolute", "require_columns", "run_rows", "write_cohort_dir"]
