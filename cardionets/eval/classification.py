"""Screening metrics: AUC (bootstrap CI), average precision, and the confusion-matrix metrics with
Wilson intervals at a threshold chosen by Youden's J on the validation split.

Threshold rule (binary): on the VALIDATION predictions, take the ROC operating points of
``sklearn.metrics.roc_curve`` and choose the threshold t maximising J = sensitivity + specificity - 1
(ties: the highest such t, i.e. the fewest positive calls). A case is called positive when
score >= t. The same t is applied unchanged to the test predictions. Without validation
predictions the threshold is 0.5 on a probability scale and the result says so.

Multi-class (e.g. DCM/HCM/RCM): the predicted class is the argmax of the class scores;
AUC and AP are one-vs-rest per class, and their macro means are reported.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, roc_curve

from ..errors import InputError
from .intervals import Interval, bootstrap_auc, bootstrap_statistic, wilson_interval

__all__ = ["youden_threshold", "confusion_counts", "binary_metrics", "multiclass_metrics"]


def _check_binary(y_true, y_score, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise InputError(f"{what}: y_true {y.shape} and y_score {s.shape} must be equal 1-D shapes")
    if not np.isin(y, (0, 1)).all():
        raise InputError(f"{what}: y_true must be 0/1 labels, got values {np.unique(y)[:5]}")
    if not np.isfinite(s).all():
        raise InputError(f"{what}: y_score has {int((~np.isfinite(s)).sum())} non-finite values")
    return y.astype(np.int64), s


def youden_threshold(y_true, y_score) -> float:
    """Threshold maximising Youden's J = TPR - FPR on (validation) predictions; predict score >= t."""
    y, s = _check_binary(y_true, y_score, "youden_threshold")
    if y.all() or not y.any():
        raise InputError("youden_threshold: validation labels need both classes")
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    j = tpr - fpr
    j[~np.isfinite(thr)] = -np.inf             # the (inf) "call nothing positive" point
    return float(thr[int(np.argmax(j))])       # thresholds are descending: first max = highest t


def confusion_counts(y_true, y_pred) -> dict[str, int]:
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    return {"tp": int(np.sum(y & p)), "fp": int(np.sum(~y & p)),
            "tn": int(np.sum(~y & ~p)), "fn": int(np.sum(y & ~p))}


def binary_metrics(y_true, y_score, *, val_true=None, val_score=None, threshold: float | None = None,
                   n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Every screening number for one model on one binary task, JSON-ready.

    ``threshold`` overrides the Youden rule; otherwise it is chosen on (val_true, val_score).
    """
    y, s = _check_binary(y_true, y_score, "binary_metrics (test)")
    out: dict = {"n": int(y.size), "n_positive": int(y.sum()), "n_negative": int(y.size - y.sum())}
    if threshold is not None:
        t, rule = float(threshold), "given"
    elif val_true is not None and val_score is not None:
        t, rule = youden_threshold(val_true, val_score), "Youden's J on validation"
    else:
        t, rule = 0.5, "0.5 (no validation predictions)"
    out["threshold"] = {"value": t, "rule": rule}
    both = 0 < y.sum() < y.size
    out["auc"] = bootstrap_auc(y, s, n_boot, seed, level).as_dict() if both else _nan_interval(level)
    out["average_precision"] = float(average_precision_score(y, s)) if y.any() else None
    pred = s >= t
    c = confusion_counts(y, pred)
    out["confusion"] = c
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    out["accuracy"] = wilson_interval(tp + tn, y.size, level).as_dict()
    out["sensitivity"] = wilson_interval(tp, tp + fn, level).as_dict()
    out["specificity"] = wilson_interval(tn, tn + fp, level).as_dict()
    out["ppv"] = wilson_interval(tp, tp + fp, level).as_dict()
    out["npv"] = wilson_interval(tn, tn + fn, level).as_dict()
    # F1 and balanced accuracy are not binomial proportions: stratified bootstrap intervals.
    ind = np.stack([y & pred, ~y.astype(bool) & pred, y & ~pred, (~y.astype(bool)) & ~pred]).T.astype(float)

    def f1_rows(counts):
        tp_, fp_, fn_, _ = (counts @ ind).T
        with np.errstate(invalid="ignore", divide="ignore"):
            return 2 * tp_ / (2 * tp_ + fp_ + fn_)

    def bacc_rows(counts):
        tp_, fp_, fn_, tn_ = (counts @ ind).T
        with np.errstate(invalid="ignore", divide="ignore"):
            return 0.5 * (tp_ / (tp_ + fn_) + tn_ / (tn_ + fp_))

    ones = np.ones((1, y.size))
    strata = y if both else None
    out["f1"] = bootstrap_statistic(f1_rows, y.size, float(f1_rows(ones)[0]), n_boot, seed + 1, level,
                                    strata).as_dict()
    out["balanced_accuracy"] = bootstrap_statistic(bacc_rows, y.size, float(bacc_rows(ones)[0]), n_boot,
                                                   seed + 2, level, strata).as_dict()
    return out


def _nan_interval(level: float) -> dict:
    nan = float("nan")
    return Interval(nan, nan, nan, level, "undefined: one class only").as_dict()


def multiclass_metrics(y_true, y_score, class_names: list[str] | None = None, *, n_boot: int = 1000,
                       seed: int = 0, level: float = 0.95) -> dict:
    """One-vs-rest AUC (bootstrap CI) and AP per class, macro AUC / mAP, argmax confusion matrix,
    accuracy (Wilson), balanced accuracy and per-class sensitivity / specificity / PPV / NPV (Wilson)."""
    y = np.asarray(y_true).astype(np.int64)
    s = np.asarray(y_score, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != y.size:
        raise InputError(f"multiclass_metrics: y_score {s.shape} must be [N, C] with N = {y.size}")
    k = s.shape[1]
    if y.min() < 0 or y.max() >= k:
        raise InputError(f"multiclass_metrics: labels must be in 0..{k - 1}, got {y.min()}..{y.max()}")
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    pred = s.argmax(axis=1)
    cm = confusion_matrix(y, pred, labels=np.arange(k))
    per_class = {}
    for c in range(k):
        yc = (y == c).astype(np.int64)
        pc = pred == c
        cc = confusion_counts(yc, pc)
        has_both = 0 < yc.sum() < yc.size
        per_class[names[c]] = {
            "n_positive": int(yc.sum()),
            "auc": (bootstrap_auc(yc, s[:, c], n_boot, seed + c, level).as_dict() if has_both
                    else _nan_interval(level)),
            "average_precision": float(average_precision_score(yc, s[:, c])) if yc.any() else None,
            "sensitivity": wilson_interval(cc["tp"], cc["tp"] + cc["fn"], level).as_dict(),
            "specificity": wilson_interval(cc["tn"], cc["tn"] + cc["fp"], level).as_dict(),
            "ppv": wilson_interval(cc["tp"], cc["tp"] + cc["fp"], level).as_dict(),
            "npv": wilson_interval(cc["tn"], cc["tn"] + cc["fn"], level).as_dict(),
        }
    aucs = [v["auc"]["estimate"] for v in per_class.values() if v["auc"]["estimate"] is not None]
    aps = [v["average_precision"] for v in per_class.values() if v["average_precision"] is not None]
    present = np.unique(y)
    recall = [cm[c, c] / cm[c].sum() for c in present]
    return {
        "classes": names,
        "n": int(y.size),
        "threshold": {"rule": "argmax of class scores"},
        "confusion_matrix": cm.tolist(),
        "accuracy": wilson_interval(int(np.trace(cm)), int(y.size), level).as_dict(),
        "balanced_accuracy": float(np.mean(recall)),
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "mAP": float(np.mean(aps)) if aps else None,
        "per_class": per_class,
    }
