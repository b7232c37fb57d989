"""MIMIC-IV-ECG (+ MIMIC-IV hosp) -> an ECG-only cohort directory (``cardionets ingest mimic-iv-ecg``;
docs/cohorts.md).

Inputs:

* ``--ecg-root``: the MIMIC-IV-ECG folder: ``record_list.csv`` (subject_id, study_id, file_name,
  ecg_time, path), the WFDB records under ``files/pNNNN/pNNNNNNNN/sNNNNNNNN/`` and, optionally,
  ``machine_measurements.csv`` (the cart's measurements, kept as ``mm_*`` columns, and its
  report lines joined into ``machine_report``);
* ``--hosp``: MIMIC-IV's ``hosp`` folder: ``diagnoses_icd`` (subject_id, hadm_id, icd_code,
  icd_version 9 or 10) and ``admissions`` (hadm_id, admittime, dischtime); ``patients``
  (gender, anchor_age, anchor_year) when present gives sex and the age at each ECG.
  ``.csv`` or ``.csv.gz``.

One row per ECG (``exam_id`` = study_id; ``subject_id`` groups a patient's ECGs in one split).

**Time window**: hospital codes carry no date of their own; each diagnosis is dated with its
admission's ``admittime`` (``--diagnosis-time admit``, the default) or ``dischtime``
(``discharge``), and counts for an ECG when that date is on or before the ECG's ``ecg_time``
(the paper's rule, :mod:`cardionets.data.labels`). With ``admit`` an ECG recorded during a stay
counts the diagnoses of that stay (conditions present during it) and of every earlier stay;
``discharge`` counts only stays finished before the ECG. ICD-9 codes are mapped by
:mod:`cardionets.cohorts.icd`. Diagnoses of admissions missing from ``admissions`` are kept,
undated (they cannot count), and counted in the summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from .common import (SubjectRow, check_ecg, parse_date, read_table, relative_or_absolute, require_columns,
                     run_rows, write_cohort_dir)
from .icd import normalise_code, to_icd10

RECORD_COLUMNS = ("subject_id", "study_id", "ecg_time", "path")


def _find(folder: Path, name: str, required: bool) -> Path | None:
    for cand in (folder / f"{name}.csv", folder / f"{name}.csv.gz", folder / f"{name}.parquet"):
        if cand.is_file():
            return cand
    if required:
        raise InputError(f"{folder}: no {name}.csv or {name}.csv.gz")
    return None


def _int_id(v) -> str:
    s = str(v).strip()
    return s[:-2] if s.endswith(".0") and s[:-2].isdigit() else s


@dataclass
class _Job:
    subject: str
    study: str
    ecg_time: Any
    rel: str
    root: str
    out: str
    check: bool
    extra: dict


def _row(job: _Job) -> SubjectRow:
    r = SubjectRow({"subject_id": job.subject, "exam_id": job.study, **job.extra})
    s = r.subject
    t, why = parse_date(job.ecg_time)
    if why:
        r.issue("ecg_time_unparsed", f"ecg_time {why}; no disease label can be dated")
    s["ecg_date"] = t
    s["imaging_date"] = t
    rel = str(job.rel or "").strip()
    hea = (Path(job.root) / rel).with_suffix(".hea") if rel else None
    if hea is None or ".." in Path(rel).parts or Path(rel).is_absolute():
        s["ecg_error"] = f"missing: record path {rel!r} is empty or leaves the MIMIC-IV-ECG folder"
    elif not hea.is_file():
        s["ecg_error"] = f"missing: no {hea}"
    else:
        s["ecg_file"] = str(hea)
        chk = check_ecg(hea) if job.check else {"ok": True}
        if chk["ok"]:
            s["ecg_path"] = relative_or_absolute(hea, Path(job.out))
            if job.check:
                s["ecg_fs"], s["ecg_seconds"] = chk["fs"], chk["seconds"]
        else:
            s["ecg_error"] = chk["error"]
    if s.get("ecg_error"):
        r.issue("ecg_" + s["ecg_error"].split(":", 1)[0].replace(" ", "_"), s["ecg_error"])
    s["cmr_error"] = "missing: ECG-only cohort"
    return r


def ingest_mimic_ecg(ecg_root: str | Path, out: str | Path, *, hosp: str | Path | None = None,
                     diagnosis_time: str = "admit", check_ecg_files: bool = True, limit: int | None = None,
                     workers: int = 1, progress: bool = True) -> dict:
    """Write the cohort directory ``out`` (module docstring); returns the summary."""
    if diagnosis_time not in ("admit", "discharge"):
        raise InputError(f"--diagnosis-time must be admit or discharge, got {diagnosis_time!r}")
    root, out = Path(ecg_root), Path(out)
    rl_path = _find(root, "record_list", True)
    rl = read_table(rl_path, dtype=str)
    require_columns(rl, RECORD_COLUMNS, rl_path)
    if limit:
        rl = rl.iloc[:int(limit)]
    warnings: list[str] = []
    dup = rl["study_id"].duplicated()
    if dup.any():
        warnings.append(f"{rl_path.name}: {int(dup.sum())} repeated study_id row(s) kept once")
        rl = rl[~dup]
    extra: dict[str, dict] = {sid: {} for sid in rl["study_id"].map(_int_id)}
    mm_path = _find(root, "machine_measurements", False)
    if mm_path is not None:
        mm = read_table(mm_path, dtype=str)
        require_columns(mm, ("study_id",), mm_path)
        reports = [c for c in mm.columns if c.startswith("report_")]
        keep = [c for c in mm.columns if c not in ("subject_id", "study_id", "ecg_time", "cart_id") and c not in reports]
        for _, row in mm.iterrows():
            sid = _int_id(row["study_id"])
            if sid not in extra:
                continue
            d = extra[sid]
            for c in keep:
                v = pd.to_numeric(pd.Series([row[c]]), errors="coerce").iloc[0]
                d[f"mm_{c}"] = float(v) if pd.notna(v) else None
            lines = [str(row[c]).strip() for c in reports if isinstance(row[c], str) and row[c].strip()]
            d["machine_report"] = "; ".join(lines) or None
    patients = None
    diag_rows: dict[str, list[dict]] = {}
    diag_issues: dict[str, list[tuple[str, str]]] = {}
    if hosp is not None:
        hosp = Path(hosp)
        dx_path, adm_path = _find(hosp, "diagnoses_icd", True), _find(hosp, "admissions", True)
        dx, adm = read_table(dx_path, dtype=str), read_table(adm_path, dtype=str)
        require_columns(dx, ("subject_id", "hadm_id", "icd_code", "icd_version"), dx_path)
        require_columns(adm, ("hadm_id", "admittime", "dischtime"), adm_path)
        when = dict(zip(adm["hadm_id"].map(_int_id), adm["admittime" if diagnosis_time == "admit" else "dischtime"]))
        wanted = set(rl["subject_id"].map(_int_id))
        for _, d in dx.iterrows():
            subj = _int_id(d["subject_id"])
            if subj not in wanted:
                continue
            code = normalise_code(d["icd_code"])
            try:
                version = int(float(d["icd_version"]))
            except (TypeError, ValueError):
                version = 0
            if version not in (9, 10):
                diag_issues.setdefault(subj, []).append(("diagnosis_version_unknown", f"{code}: icd_version "
                                                         f"{d['icd_version']!r} is neither 9 nor 10; not counted"))
                continue
            hadm = _int_id(d["hadm_id"])
            date, why = parse_date(when.get(hadm))
            if hadm not in when:
                diag_issues.setdefault(subj, []).append(("diagnosis_admission_unknown", f"ICD-{version} {code}: "
                                                         f"admission {hadm} not in {adm_path.name}; not counted"))
            elif why:
                diag_issues.setdefault(subj, []).append(("diagnosis_date_unparsed", f"ICD-{version} {code}: admission "
                                                         f"{hadm} {diagnosis_time} time {why}; not counted"))
            diag_rows.setdefault(subj, []).append({"subject_id": subj, "icd10": to_icd10(code, version) or None,
                                                   "date": date, "code": code, "icd_version": version,
                                                   "source": f"hadm {hadm}"})
        pat_path = _find(hosp, "patients", False)
        if pat_path is not None:
            patients = read_table(pat_path, dtype=str)
            patients = {_int_id(r["subject_id"]): r for _, r in patients.iterrows()}
    else:
        warnings.append("no --hosp folder: no diagnoses, so every disease label is 0")
    jobs = []
    for _, rec in rl.iterrows():
        subj, study = _int_id(rec["subject_id"]), _int_id(rec["study_id"])
        ex = dict(extra.get(study, {}))
        ex["file_name"] = rec.get("file_name")
        jobs.append(_Job(subj, study, rec["ecg_time"], rec["path"], str(root), str(out), check_ecg_files, ex))
    rows = run_rows(_row, jobs, workers, "ingest mimic-iv-ecg", progress)
    seen: set[str] = set()
    for r in rows:
        subj = r.subject["subject_id"]
        if patients is not None and subj in patients:
            p = patients[subj]
            r.subject["sex"] = {"M": "M", "F": "F"}.get(str(p.get("gender", "")).strip().upper())
            try:
                t = r.subject.get("ecg_date")
                r.subject["age"] = float(p["anchor_age"]) + (t.year - float(p["anchor_year"])) if t is not None else None
            except (TypeError, ValueError, KeyError):
                r.subject["age"] = None
        if subj not in seen:                    # a patient's diagnoses are listed once (all its ECGs use them)
            r.diagnoses = diag_rows.get(subj, [])
            seen.add(subj)
        for code, detail in diag_issues.get(subj, []):
            r.issue(code, detail)
    settings = {"ecg_root": str(root), "hosp": str(hosp) if hosp else None, "diagnosis_time": diagnosis_time,
                "check_ecg_files": check_ecg_files, "limit": limit}
    return write_cohort_dir(out, rows, source="mimic-iv-ecg", settings=settings, warnings=warnings,
                            phenotype_columns=[])


__all__ = ["RECORD_COLUMNS", "ingest_mimic_ecg"]
