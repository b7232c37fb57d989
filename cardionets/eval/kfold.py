"""k-fold cross-validation summaries: per-fold values, their mean +/- SD, and the pooled estimate.

* mean +/- SD: the metric computed on each fold's held-out predictions, mean and sample SD (ddof=1).
* pooled: the metric computed once on all folds' held-out predictions concatenated (every case
  appears once, as predicted by the model that did not see it). For AUC the pooled value has a
  bootstrap CI. Note pooling assumes the folds' scores are on a comparable scale.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from ..errors import InputError
from .intervals import bootstrap_auc

__all__ = ["kfold_summary", "kfold_auc"]


def kfold_summary(folds: Sequence[tuple[np.ndarray, np.ndarray]],
                  metric: Callable[[np.ndarray, np.ndarray], float]) -> dict:
    """``folds`` = [(y_true, y_pred_or_score), ...]; ``metric(y_true, y_pred) -> float``."""
    if len(folds) == 0:
        raise InputError("kfold_summary: no folds given")
    vals = np.array([float(metric(np.asarray(t), np.asarray(p))) for t, p in folds])
    yt = np.concatenate([np.asarray(t) for t, _ in folds])
    yp = np.concatenate([np.asarray(p) for _, p in folds])
    return {
        "k": len(folds),
        "per_fold": vals.tolist(),
        "mean": float(vals.mean()),
        "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
        "pooled": float(metric(yt, yp)),
    }


def kfold_auc(folds: Sequence[tuple[np.ndarray, np.ndarray]], n_boot: int = 1000, seed: int = 0) -> dict:
    """AUC per fold (mean +/- SD) and pooled over the concatenated held-out predictions with a CI."""
    out = kfold_summary(folds, lambda t, p: roc_auc_score(t, p))
    yt = np.concatenate([np.asarray(t) for t, _ in folds])
    yp = np.concatenate([np.asarray(p) for _, p in folds])
    out["pooled_ci"] = bootstrap_auc(yt, yp, n_boot, seed).as_dict()
    return out
