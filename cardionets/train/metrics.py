"""Validation metrics used for model selection and the stage summaries (R^2 per phenotype, AUC).
Full statistics with confidence intervals live in :mod:`cardionets.eval`."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def r2_per_column(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column over the finite targets (NaN if < 2 of them)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    out = np.full(y.shape[1], np.nan)
    for j in range(y.shape[1]):
        ok = np.isfinite(y[:, j]) & np.isfinite(p[:, j])
        if ok.sum() < 2:
            continue
        yt, pt = y[ok, j], p[ok, j]
        sst = ((yt - yt.mean()) ** 2).sum()
        if sst > 0:
            out[j] = 1.0 - ((yt - pt) ** 2).sum() / sst
    return out


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC over finite labels (NaN when only one class is present)."""
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(score)
    if ok.sum() < 2 or len(np.unique(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], np.asarray(score)[ok]))
