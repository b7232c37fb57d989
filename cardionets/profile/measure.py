"""Measure every record of a set: ECG features (:mod:`cardionets.data.ecg_features`) and cine
features (:mod:`.cine_features`), one row per record, with the records that could not be read
listed with their reason."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.ecg_features import PROFILE_FEATURES, profile_record
from ..errors import CardioNetsError
from .cine_features import CINE_FEATURES, cine_features, intensity_histogram
from .inputs import SetInputs, discover
from ..io import read_ecg
from ..io.cmr import inspect_cmr
from tqdm import tqdm


@dataclass
class SetProfile:
    name: str
    source: str
    ecg: pd.DataFrame                       # one row per ECG: "record" + PROFILE_FEATURES
    cine: pd.DataFrame                      # one row per cine: "record" + CINE_FEATURES
    cine_histogram: np.ndarray | None       # mean intensity density over the set's cines [64]
    errors: list[tuple[str, str]] = field(default_factory=list)     # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)   # (path, reader warning), e.g. a cine's view

    def summary(self) -> dict:
        def stats(df: pd.DataFrame, names) -> dict:
            return {k: {"median": _nan_none(df[k].median()), "q10": _nan_none(df[k].quantile(0.1)),
                        "q90": _nan_none(df[k].quantile(0.9)), "n": int(df[k].notna().sum())}
                    for k in names} if len(df) else {}
        return {"name": self.name, "source": self.source, "n_ecg": len(self.ecg), "n_cine": len(self.cine),
                "n_errors": len(self.errors), "errors": [{"path": p, "reason": r} for p, r in self.errors[:50]],
                "n_warnings": len(self.warnings),
                "warnings": [{"path": p, "warning": w} for p, w in self.warnings[:50]],
                "ecg": stats(self.ecg, PROFILE_FEATURES), "cine": stats(self.cine, CINE_FEATURES)}


def _nan_none(v) -> float | None:
    v = float(v)
    return None if not np.isfinite(v) else v


def _progress(it, total: int, desc: str, enabled: bool):
    if not enabled or total < 20:
        return it
    return tqdm(it, total=total, desc=desc, unit="record")


def measure_set(path: str, *, max_records: int | None = None, progress: bool = True,
                inputs: SetInputs | None = None) -> SetProfile:
    """Profile one set (a path as :func:`.inputs.discover` understands it)."""
    inp = inputs or discover(path)
    ecgs = inp.ecgs[:max_records] if max_records else inp.ecgs
    cines = inp.cines[:max_records] if max_records else inp.cines
    errors: list[tuple[str, str]] = []
    rows = []
    for p in _progress(ecgs, len(ecgs), f"profile {inp.name} ECG", progress):
        try:
            ecg = read_ecg(p).standard(missing="nan")
        except CardioNetsError as exc:
            errors.append((p, str(exc)))
            continue
        rows.append({"record": p, **profile_record(ecg.signal, ecg.fs)})
    crow, hists, warnings = [], [], []
    for p in _progress(cines, len(cines), f"profile {inp.name} cine", progress):
        try:
            res = inspect_cmr(p)           # the reader's warnings (a non-4-chamber view, ...) are kept, not logged
        except CardioNetsError as exc:
            errors.append((p, str(exc)))
            continue
        cine = res.x
        warnings += [(p, w) for w in res.warnings]
        crow.append({"record": p, **cine_features(cine)})
        hists.append(intensity_histogram(cine))
    ecg_df = pd.DataFrame(rows, columns=["record", *PROFILE_FEATURES])
    cine_df = pd.DataFrame(crow, columns=["record", *CINE_FEATURES])
    hist = np.mean(hists, axis=0) if hists else None
    return SetProfile(inp.name, str(path), ecg_df, cine_df, hist, errors, warnings)
