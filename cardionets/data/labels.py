"""Disease labels from ICD-10 records with the paper's rule, and negative sampling.

Rule (Ding et al., arXiv 2411.13602): CAD I20-I25, CM I42-I43, HF I50, PH I27, and pericardial
disease PERI I30-I32 (CardiacNets); a diagnosis counts only if it is dated on or before the ECG /
imaging date of the exam (:data:`~cardionets.data.schema.ICD10_RULES`). Cardiomyopathy subtypes come
from I42.0 (DCM), I42.1/I42.2 (HCM), I42.5 (RCM).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .schema import DISEASES, cm_subtype_of, icd10_disease

NEG_RATIOS = (1, 2, 5, 10)


def disease_labels(subjects: pd.DataFrame, diagnoses: pd.DataFrame, reference: str = "ecg_date") -> pd.DataFrame:
    """One row per exam (subjects order): columns DISEASES (0/1) and cm_subtype (-1 none, 0 DCM,
    1 HCM, 2 RCM). ``reference`` is the date column a diagnosis must not be later than."""
    if reference not in subjects.columns:
        raise InputError(f"subjects table has no {reference!r} column to date the labels against")
    n = len(subjects)
    out = pd.DataFrame(0, index=range(n), columns=list(DISEASES), dtype=np.int64)
    out["cm_subtype"] = -1
    if len(diagnoses) == 0:
        return out
    d = diagnoses[["subject_id", "icd10", "date"]].copy()
    d["disease"] = d["icd10"].map(icd10_disease)
    d["subtype"] = d["icd10"].map(cm_subtype_of)
    d = d[d["disease"].notna()]
    ref = subjects[["subject_id", reference]].reset_index().rename(columns={"index": "row", reference: "ref"})
    m = ref.merge(d, on="subject_id", how="inner")
    m = m[m["date"].notna() & (m["date"] <= m["ref"])]          # dated on/before the exam only
    for name in DISEASES:
        rows = m.loc[m["disease"] == name, "row"].unique()
        out.loc[rows, name] = 1
    sub = m[(m["disease"] == "CM") & (m["subtype"] >= 0)].sort_values("date")
    for row, st in zip(sub["row"], sub["subtype"]):       # the most recent subtype code wins
        out.loc[row, "cm_subtype"] = int(st)
    return out


def negative_sample(labels: np.ndarray, ratio: int, seed: int = 0) -> np.ndarray:
    """Indices of all positives plus ``ratio`` x as many randomly chosen negatives (all negatives if
    there are fewer), sorted; deterministic from ``seed``."""
    labels = np.asarray(labels).astype(bool)
    if ratio < 1:
        raise InputError(f"negative:positive ratio must be >= 1, got {ratio}")
    pos = np.flatnonzero(labels)
    neg = np.flatnonzero(~labels)
    rng = np.random.default_rng(seed)
    k = min(len(neg), ratio * len(pos))
    chosen = rng.choice(neg, size=k, replace=False) if k else np.array([], dtype=np.int64)
    return np.sort(np.concatenate([pos, chosen])).astype(np.int64)
