"""UK Biobank -> a cohort directory (``cardionets ingest ukb``; docs/cohorts.md).

Inputs (the instance is the imaging visit, 2 by default):

* ``--fields``: the main dataset extract (ukbconv CSV/TSV ``53-2.0`` columns, R ``f.53.2.0``, or
  Research Analysis Platform ``p53_i2`` / ``p41270`` / ``p41280_a0``), one row per participant
  (``eid``): imaging visit date 53, sex 31, age at imaging 21003, height 50, weight 21002, body
  surface area 22427, ICD-10 diagnoses 41270 with first in-patient dates 41280, ICD-9 41271 / 41281,
  and the cardiac imaging-derived phenotypes 24100-24181 (``ukb_idp_fields.csv``);
* ``--ecg-dir``: bulk field 20205, ``<eid>_20205_2_0.xml`` (GE CardioSoft XML), searched recursively;
* ``--cmr-dir``: bulk field 20208, ``<eid>_20208_2_0.zip`` (long-axis cine DICOM), searched recursively;
* ``--phenotype-table`` (+ ``--phenotype-columns``): the user's own phenotypes, which win over
  the field values of the same phenotype.

The manifest points at the bulk files where they are (absolute paths; nothing is copied or
converted): cines are read from the zips by :func:`cardionets.io.read_cmr`, which picks the
4-chamber series the same way every time; what it picked is recorded per subject. Every
participant with an imaging-visit date or bulk files of that visit gets a row; participants of
the field table never imaged are counted in a warning. Only the used field columns are read.

Phenotypes: 76 of the 82 come from fields 24100-24181 directly; the six indexed ones (LVCI, LVEDVi,
LVMi, RVEDVi, LAV_max_i, RAV_max_i) have no field and are derived as the volume (cardiac output,
mass) divided by body surface area, field 22427, when it is present. Fields 24118-24123 (aortic
areas and distensibility) are not among the engine's phenotypes and are not used.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..data.schema import PHENOTYPE_NAMES
from ..errors import InputError
from .common import (SubjectRow, check_cine, check_ecg, parse_date, read_table, relative_or_absolute,
                     run_rows, write_cohort_dir)
from .icd import normalise_code, to_icd10
from .phenotype_table import load_phenotype_table, parse_mapping

IDP_TABLE = Path(__file__).with_name("ukb_idp_fields.csv")
ECG_FIELD, CMR_FIELD = 20205, 20208
F_DATE, F_SEX, F_AGE, F_HEIGHT, F_WEIGHT, F_BSA = 53, 31, 21003, 50, 21002, 22427
F_ICD10, F_ICD10_DATE, F_ICD9, F_ICD9_DATE = 41270, 41280, 41271, 41281
# indexed phenotypes: (numerator phenotype) / body surface area
DERIVED = {"LVCI": "LVCO", "LVEDVi": "LVEDV", "LVMi": "LVM", "RVEDVi": "RVEDV", "LAV_max_i": "LAV_max",
           "RAV_max_i": "RAV_max"}
_COLUMN_PATTERNS = (re.compile(r"^(\d+)-(\d+)\.(\d+)$"), re.compile(r"^f\.(\d+)\.(\d+)\.(\d+)$"),
                    re.compile(r"^p(\d+)(?:_i(\d+))?(?:_a(\d+))?$"))
_EID_COLUMNS = ("eid", "f.eid", "participant.eid", "participant_id")


def idp_fields() -> dict[int, str]:
    """{UK Biobank field id: phenotype name} of ``ukb_idp_fields.csv``."""
    with open(IDP_TABLE, newline="") as fh:
        return {int(r["field_id"]): r["phenotype"] for r in csv.DictReader(fh)}


def parse_field_column(name: str) -> tuple[int, int, int] | None:
    """'24100-2.0' / 'f.24100.2.0' / 'p24100_i2' -> (24100, 2, 0); None for other columns."""
    for pat in _COLUMN_PATTERNS:
        m = pat.match(str(name).strip())
        if m:
            f, i, a = m.groups()
            return int(f), int(i or 0), int(a or 0)
    return None


def index_bulk(root: Path | None, field: int, ext: str, instance: int) -> tuple[dict[str, Path], list[str]]:
    """{eid: file} of ``<eid>_<field>_<instance>_<array>.<ext>`` under ``root`` (array 0 preferred)."""
    if root is None:
        return {}, []
    if not root.is_dir():
        raise InputError(f"{root}: no such directory")
    pat = re.compile(rf"^(\d+)_{field}_(\d+)_(\d+)\.{ext}$", re.IGNORECASE)
    found: dict[str, tuple[int, Path]] = {}
    other = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            m = pat.match(f)
            if not m:
                continue
            eid, inst, arr = m.group(1), int(m.group(2)), int(m.group(3))
            if inst != instance:
                other += 1
                continue
            if eid not in found or arr < found[eid][0]:
                found[eid] = (arr, Path(dirpath) / f)
    warnings = [f"{root}: {other} field-{field} file(s) of other instances ignored (imaging visit = instance {instance})"] \
        if other else []
    return {e: p for e, (_, p) in found.items()}, warnings


@dataclass
class _Job:
    eid: str
    values: dict[str, Any]                 # 'date', 'sex', ..., 'icd10': [(code, date)], 'idp': {name: raw}
    ecg: str | None
    cmr: str | None
    in_fields: bool
    user_phen: dict[str, float] | None
    user_problems: list[str]
    out: str
    check_cmr: bool


def _extract(row: pd.Series, cols: dict[tuple[int, int, int], str], instance: int, idp: dict[int, str]) -> dict:
    def get(field: int, inst: int, arr: int = 0):
        c = cols.get((field, inst, arr))
        return None if c is None else row[c]

    def arrays(field: int, inst: int = 0) -> list[tuple[int, Any]]:
        return sorted((a, row[c]) for (f, i, a), c in cols.items() if f == field and i == inst)

    def codes(code_field: int, date_field: int, version: int) -> list[tuple[str, Any, int]]:
        dates = dict(arrays(date_field))
        out = []
        for a, v in arrays(code_field):
            if v is None or (isinstance(v, float) and np.isnan(v)) or not str(v).strip():
                continue
            parts = [p for p in re.split(r"[|,;]", str(v).strip("[]")) if p.strip(" '\"")]
            if len(parts) > 1:                    # RAP: all codes in one cell, dates in p41280_a0, _a1, ...
                out += [(p.strip(" '\"").split()[0], dates.get(a + k), version) for k, p in enumerate(parts)]
            else:
                out.append((str(v).strip(" '\"").split()[0], dates.get(a), version))
        return out

    return {"date": get(F_DATE, instance), "sex": get(F_SEX, 0), "age": get(F_AGE, instance),
            "height": get(F_HEIGHT, instance), "weight": get(F_WEIGHT, instance), "bsa": get(F_BSA, instance),
            "icd": codes(F_ICD10, F_ICD10_DATE, 10) + codes(F_ICD9, F_ICD9_DATE, 9),
            "idp": {name: (f"{fid}-{instance}.0", get(fid, instance)) for fid, name in idp.items()}}


def _number(v) -> float | None:
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def _row(job: _Job) -> SubjectRow:
    v, out = job.values, Path(job.out)
    r = SubjectRow({"subject_id": job.eid, "exam_id": job.eid})
    s = r.subject
    if not job.in_fields:
        r.issue("not_in_fields", "participant has bulk files but no row in the field table: no date, labels "
                                 "or phenotypes")
    date, why = parse_date(v.get("date"))
    if why:
        r.issue("imaging_date_unparsed", f"imaging visit date (field {F_DATE}) {why}")
    elif date is None and job.in_fields:
        r.issue("imaging_date_missing", f"no imaging visit date (field {F_DATE}); no disease label can be dated")
    s["imaging_date"] = date
    sex = _number(v.get("sex"))
    s["sex"] = {0.0: "F", 1.0: "M"}.get(sex) if sex is not None else None
    for k in ("age", "height", "weight", "bsa"):
        s[k] = _number(v.get(k))
    # ECG (20205)
    s["ecg_file"] = job.ecg
    s["ecg_date"] = date
    if job.ecg is None:
        s["ecg_error"] = f"missing: no {job.eid}_{ECG_FIELD}_*.xml"
    else:
        chk = check_ecg(Path(job.ecg))
        if chk["ok"]:
            s["ecg_path"] = relative_or_absolute(Path(job.ecg), out)
            xml_date, _ = parse_date(chk.get("date"))
            if xml_date is not None:
                s["ecg_date"] = xml_date
            s["ecg_fs"], s["ecg_seconds"] = chk["fs"], chk["seconds"]
        else:
            s["ecg_error"] = chk["error"]
    if s.get("ecg_error"):
        r.issue("ecg_" + s["ecg_error"].split(":", 1)[0].replace(" ", "_"), s["ecg_error"])
    # CMR (20208)
    s["cmr_file"] = job.cmr
    if job.cmr is None:
        s["cmr_error"] = f"missing: no {job.eid}_{CMR_FIELD}_*.zip"
    elif job.check_cmr:
        chk = check_cine(Path(job.cmr))
        if chk["ok"]:
            s["cmr_path"] = relative_or_absolute(Path(job.cmr), out)
            s["cmr_series"], s["cmr_series_number"] = chk["series"], chk["series_number"]
            s["cmr_series_uid"] = chk["series_uid"]
            s["cmr_frames"], s["cmr_view"] = chk["frames"], chk["view"]
            s["cmr_crop_rows"], s["cmr_crop_cols"] = str(chk["crop_rows"]), str(chk["crop_cols"])
            s["cmr_warnings"] = "; ".join(chk["warnings"]) or None
        else:
            s["cmr_error"] = chk["error"]
    else:
        s["cmr_path"] = relative_or_absolute(Path(job.cmr), out)
    if s.get("cmr_error"):
        msg = s["cmr_error"]
        code = "cmr_no_4ch_series" if "no 4ch cine series" in msg else "cmr_" + msg.split(":", 1)[0].replace(" ", "_")
        r.issue(code, msg)
    # phenotypes: fields, derived indices, then the user's table
    for name, (col, raw) in v.get("idp", {}).items():
        x = _number(raw)
        if x is None and raw is not None and not (isinstance(raw, float) and np.isnan(raw)) and str(raw).strip():
            r.issue("phenotype_not_a_number", f"field {col} ({name}) value {raw!r} is not a number")
        r.phenotypes[name] = np.nan if x is None else x
    user = {k: x for k, x in (job.user_phen or {}).items() if np.isfinite(x)}
    r.phenotypes.update(user)
    bsa = s.get("bsa")
    for name, num in DERIVED.items():
        if name in user:
            continue
        x = r.phenotypes.get(num, np.nan)
        r.phenotypes[name] = x / bsa if (bsa and bsa > 0 and np.isfinite(x)) else np.nan
    for p in job.user_problems:
        r.issue("phenotype_not_a_number", p)
    # diagnoses
    for code, when, version in v.get("icd", []):
        c = normalise_code(code)
        if not c:
            continue
        d, why = parse_date(when)
        if why or d is None:
            r.issue("diagnosis_date_unparsed" if why else "diagnosis_date_missing",
                    f"ICD-{version} {c}: date {why or 'missing'}; the diagnosis is kept but cannot count")
        r.diagnoses.append({"subject_id": job.eid, "icd10": to_icd10(c, version) or None, "date": d, "code": c,
                            "icd_version": version, "source": f"field {F_ICD10 if version == 10 else F_ICD9}"})
    return r


def ingest_ukb(fields: str | Path | None, out: str | Path, *, ecg_dir: str | Path | None = None,
               cmr_dir: str | Path | None = None, instance: int = 2, phenotype_table: str | Path | None = None,
               phenotype_columns: str | None = None, check_cmr: bool = True, workers: int = 1,
               progress: bool = True) -> dict:
    """Write the cohort directory ``out`` (module docstring); returns the summary."""
    out = Path(out)
    warnings: list[str] = []
    idp = idp_fields()
    per_eid: dict[str, dict] = {}
    idp_used = {F_DATE, F_SEX, F_AGE, F_HEIGHT, F_WEIGHT, F_BSA, F_ICD10, F_ICD10_DATE, F_ICD9, F_ICD9_DATE, *idp}
    no_visit: list[str] = []
    if fields is not None:
        fpath = Path(fields)
        parquet = fpath.suffix.lower() in (".parquet", ".pq")
        header = list(pq.read_schema(fpath).names) if parquet else list(read_table(fpath, nrows=0).columns)
        eid_col = next((c for c in _EID_COLUMNS if c in header), None)
        if eid_col is None:
            raise InputError(f"{fpath}: no participant column ({' / '.join(_EID_COLUMNS)}); has {header[:10]}")
        cols: dict[tuple[int, int, int], str] = {}
        unknown = []
        for c in header:
            if c == eid_col:
                continue
            key = parse_field_column(c)
            if key is None:
                unknown.append(c)
            elif key[0] in idp_used:
                cols[key] = c
        if unknown:
            warnings.append(f"{fpath.name}: column(s) {unknown[:10]} are not UK Biobank field columns "
                            "('<field>-<instance>.<array>', 'f.<field>.<i>.<a>' or 'p<field>_i<i>_a<a>'); ignored")
        if not cols:
            warnings.append(f"{fpath.name}: none of the fields the ingestion uses are present "
                            "(53, 31, 21003, 41270/41280, 24100-24181, ...)")
        if (F_DATE, instance, 0) not in cols:
            warnings.append(f"{fpath.name}: no imaging visit date column (field {F_DATE}, instance {instance}); "
                            "no disease label can be dated")
        wanted = [eid_col, *cols.values()]                  # a UK Biobank basket can hold thousands of columns
        df = pd.read_parquet(fpath, columns=wanted).astype(str) if parquet else read_table(fpath, dtype=str,
                                                                                                usecols=wanted)
        df = df.astype(object).where(df.notna(), None)
        date_col = cols.get((F_DATE, instance, 0))
        for _, row in df.iterrows():
            eid = str(row[eid_col]).strip()
            if eid.endswith(".0") and eid[:-2].isdigit():
                eid = eid[:-2]
            if not eid or eid == "None":
                continue
            if eid in per_eid:
                warnings.append(f"{fpath.name}: participant {eid} appears twice; the first row is used")
                continue
            if date_col is not None and (row[date_col] is None or pd.isna(row[date_col]) or not str(row[date_col]).strip()):
                no_visit.append(eid)                        # kept only if bulk files exist (below)
            per_eid[eid] = _extract(row, cols, instance, idp)
    ecgs, w1 = index_bulk(Path(ecg_dir) if ecg_dir else None, ECG_FIELD, "xml", instance)
    cmrs, w2 = index_bulk(Path(cmr_dir) if cmr_dir else None, CMR_FIELD, "zip", instance)
    warnings += w1 + w2
    user_phen: dict[str, dict[str, float]] = {}
    user_problems: dict[str, list[str]] = {}
    if phenotype_table:
        user_phen, w3, user_problems = load_phenotype_table(Path(phenotype_table), parse_mapping(phenotype_columns))
        warnings += w3
        extra = sorted(set(user_phen) - set(per_eid) - set(ecgs) - set(cmrs))
        if extra:
            warnings.append(f"{Path(phenotype_table).name}: {len(extra)} subject(s) in no other input, ignored "
                            f"(first: {extra[:5]})")
    # the imaging cohort: participants with an imaging visit date or bulk files of that visit
    outside = [e for e in no_visit if e not in ecgs and e not in cmrs]
    for e in outside:
        del per_eid[e]
    if outside:
        warnings.append(f"{len(outside)} participant(s) of the field table have no instance-{instance} imaging visit "
                        f"date (field {F_DATE}) and no bulk files: not part of the imaging cohort, not ingested "
                        f"(first: {outside[:5]})")
    eids = sorted(set(per_eid) | set(ecgs) | set(cmrs), key=lambda e: (len(e), e))
    if not eids:
        raise InputError("no participants: the field table is empty and no bulk files were found")
    jobs = [_Job(e, per_eid.get(e, {}), str(ecgs[e]) if e in ecgs else None, str(cmrs[e]) if e in cmrs else None,
                 e in per_eid, user_phen.get(e), user_problems.get(e, []), str(out), check_cmr) for e in eids]
    rows = run_rows(_row, jobs, workers, "ingest ukb", progress)
    settings = {"fields": str(fields) if fields else None, "ecg_dir": str(ecg_dir) if ecg_dir else None,
                "cmr_dir": str(cmr_dir) if cmr_dir else None, "instance": instance,
                "phenotype_table": str(phenotype_table) if phenotype_table else None,
                "phenotype_columns": phenotype_columns, "check_cmr": check_cmr}
    return write_cohort_dir(out, rows, source="ukb", settings=settings, warnings=warnings, phenotype_columns=list(PHENOTYPE_NAMES))


__all__ = ["DERIVED", "IDP_TABLE", "idp_fields", "index_bulk", "ingest_ukb", "parse_field_column"]
