"""Turn a :class:`~cardionets.eval.results.Results` (predictions) into every number of the report.

``compute_statistics(results)`` returns one JSON-ready dict (written as results.json). Comparisons
are always "model vs the reference model" (``results.reference``, cardionets by default) on the
same test cases: DeLong for AUC, paired permutation tests for balanced accuracy, AP / mAP and mean
R^2, Cohen's d (paired) for per-subject absolute phenotype errors.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .classification import binary_metrics, multiclass_metrics
from .compare import (cohens_d, delong_test, permutation_test_average_precision,
                      permutation_test_balanced_accuracy, permutation_test_r2)
from .intervals import bootstrap_auc
from .kfold import kfold_auc
from .regression import phenotype_metrics
from .results import PhenotypePredictions, Results, ScorePredictions
from sklearn.metrics import average_precision_score

__all__ = ["compute_statistics", "jsonable", "SECTIONS"]

# (key, title) in report order; a section is "ok" when its data are present, else "not run".
SECTIONS = [
    ("summary", "Paper table: AUC and R² per model"),
    ("screening", "Disease screening"),
    ("roc", "ROC curves"),
    ("calibration", "Calibration"),
    ("ratios", "Negative : positive ratios"),
    ("label_efficiency", "Label efficiency"),
    ("phenotypes", "CMR phenotypes"),
    ("subtypes", "Cardiomyopathy subtypes"),
    ("kfold", "k-fold cross-validation"),
    ("similarity", "Interpretability: ECG-CMR similarity"),
    ("embeddings", "Embeddings (t-SNE)"),
    ("generation", "Generated vs real cine CMR"),
]


def jsonable(x):
    """Numpy scalars/arrays -> Python; NaN/inf -> None (results.json is strict JSON)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def _same_cases(a: ScorePredictions, b: ScorePredictions) -> bool:
    return a.y_true.shape == b.y_true.shape and bool(np.array_equal(a.y_true, b.y_true))


def _binary_block(preds: dict[str, ScorePredictions], ref: str, n_boot: int, n_perm: int, seed: int) -> dict:
    out = {}
    for k, (m, p) in enumerate(preds.items()):
        r = binary_metrics(p.y_true, p.y_score, val_true=p.val_true, val_score=p.val_score, n_boot=n_boot,
                           seed=seed + 101 * k)
        out[m] = r
    if ref in preds:
        rp = preds[ref]
        ref_pred = rp.y_score >= out[ref]["threshold"]["value"]
        for m, p in preds.items():
            if m == ref:
                continue
            if not _same_cases(p, rp):
                out[m]["vs_reference"] = {"note": f"not compared: test cases differ from {ref}'s"}
                continue
            pred = p.y_score >= out[m]["threshold"]["value"]
            vs = {"reference": ref}
            if 0 < p.y_true.sum() < p.y_true.size:
                vs["delong"] = delong_test(p.y_true, rp.y_score, p.y_score).as_dict()
                vs["permutation_balanced_accuracy"] = permutation_test_balanced_accuracy(
                    p.y_true, ref_pred, pred, n_perm, seed).as_dict()
                vs["permutation_average_precision"] = permutation_test_average_precision(
                    p.y_true, rp.y_score, p.y_score, n_perm, seed).as_dict()
            out[m]["vs_reference"] = vs
    return out


def _auc_block(preds: dict[str, ScorePredictions], ref: str, n_boot: int, seed: int) -> dict:
    """AUC (CI), AP and DeLong vs the reference: the light version used for ratios."""
    out = {}
    for k, (m, p) in enumerate(preds.items()):
        out[m] = {"n": int(p.y_true.size), "n_positive": int(p.y_true.sum()),
                  "auc": bootstrap_auc(p.y_true, p.y_score, n_boot, seed + 31 * k).as_dict(),
                  "average_precision": (float(average_precision_score(p.y_true, p.y_score))
                                        if p.y_true.any() else None)}
    if ref in preds:
        for m, p in preds.items():
            if m != ref and _same_cases(p, preds[ref]):
                out[m]["delong_vs_reference"] = delong_test(p.y_true, preds[ref].y_score, p.y_score).as_dict()
    return out


def compute_statistics(results: Results, *, n_boot: int = 1000, n_perm: int = 10000, seed: int = 0,
                       level: float = 0.95, progress: Callable[[str], None] | None = None) -> dict:
    ref = results.reference
    say = progress or (lambda s: None)
    st: dict = {"schema_version": 1, "meta": dict(results.meta),
                "settings": {"n_bootstrap": n_boot, "n_permutations": n_perm, "seed": seed, "level": level,
                             "reference": ref, "models": list(results.models)}}

    # ---- screening
    say("screening")
    st["screening"] = {t: _binary_block({m: d[m] for m in results.ordered(d)}, ref, n_boot, n_perm, seed)
                       for t, d in results.screening.items()}

    # ---- negative:positive ratios
    say("ratios")
    st["ratios"] = {t: {int(r): _auc_block({m: d[m] for m in results.ordered(d)}, ref, n_boot, seed)
                        for r, d in sorted(rr.items())} for t, rr in results.ratios.items()}

    # ---- label efficiency
    say("label efficiency")
    le = {}
    for t, ff in results.label_efficiency.items():
        pts: dict[str, list] = {}
        metric = None
        for f, d in sorted(ff.items()):
            for m in results.ordered(d):
                p = d[m]
                if isinstance(p, PhenotypePredictions):
                    metric = "mean R²"
                    r = phenotype_metrics(p.y_true, p.y_pred, p.names, n_boot=n_boot, seed=seed,
                                          per_phenotype_ci=False)["average"]
                    ci = r["r2_ci"] or {}
                    pts.setdefault(m, []).append({"fraction": float(f), "estimate": r["r2"],
                                                  "low": ci.get("low"), "high": ci.get("high")})
                else:
                    metric = "AUC"
                    iv = bootstrap_auc(p.y_true, p.y_score, n_boot, seed).as_dict()
                    pts.setdefault(m, []).append({"fraction": float(f), "estimate": iv["estimate"],
                                                  "low": iv["low"], "high": iv["high"]})
        le[t] = {"metric": metric, "points": pts}
    st["label_efficiency"] = le

    # ---- phenotypes
    say("phenotypes")
    ph = {}
    for m in results.ordered(results.phenotypes):
        p = results.phenotypes[m]
        ph[m] = phenotype_metrics(p.y_true, p.y_pred, p.names, n_boot=n_boot, seed=seed, level=level)
    if ref in results.phenotypes:
        rp = results.phenotypes[ref]
        for m, p in results.phenotypes.items():
            if m == ref:
                continue
            if p.names != rp.names or p.y_true.shape != rp.y_true.shape or not np.array_equal(
                    np.nan_to_num(p.y_true, nan=-1e300), np.nan_to_num(rp.y_true, nan=-1e300)):
                ph[m]["vs_reference"] = {"note": f"not compared: cases or phenotypes differ from {ref}'s"}
                continue
            err_m = np.abs(p.y_pred - p.y_true)
            err_r = np.abs(rp.y_pred - rp.y_true)
            ph[m]["vs_reference"] = {
                "reference": ref,
                "permutation_mean_r2": permutation_test_r2(p.y_true, rp.y_pred, p.y_pred, n_perm, seed).as_dict(),
                # positive d: this model's absolute errors are larger than the reference's
                "cohens_d_abs_error": {nm: cohens_d(err_m[:, j], err_r[:, j], paired=True)
                                       for j, nm in enumerate(p.names)},
            }
    st["phenotypes"] = ph

    # ---- subtypes
    say("subtypes")
    sub = {}
    for k, m in enumerate(results.ordered(results.subtypes)):
        p = results.subtypes[m]
        sub[m] = multiclass_metrics(p.y_true, p.y_score, results.subtype_classes, n_boot=n_boot,
                                    seed=seed + 17 * k, level=level)
    if ref in results.subtypes:
        rp = results.subtypes[ref]
        for m, p in results.subtypes.items():
            if m != ref and _same_cases(p, rp):
                sub[m]["vs_reference"] = {
                    "reference": ref,
                    "permutation_balanced_accuracy": permutation_test_balanced_accuracy(
                        p.y_true, rp.y_score.argmax(1), p.y_score.argmax(1), n_perm, seed).as_dict(),
                    "permutation_mAP": permutation_test_average_precision(
                        p.y_true, rp.y_score, p.y_score, n_perm, seed).as_dict(),
                }
    st["subtypes"] = sub

    # ---- k-fold
    say("k-fold")
    st["kfold"] = {t: {m: kfold_auc([(f.y_true, f.y_score) for f in d[m]], n_boot, seed)
                       for m in results.ordered(d)} for t, d in results.kfold.items()}

    # ---- interpretability and embeddings: summaries (maps themselves are figures)
    st["similarity"] = {m: {"n": int(s.similarity.shape[0]), "grid": list(s.similarity.shape[1:]),
                            "mean_map": s.similarity.mean(0),
                            "mean": float(s.similarity.mean()), "std_over_patches_of_mean_map":
                                float(s.similarity.mean(0).std())}
                        for m, s in ((m, results.similarity[m]) for m in results.ordered(results.similarity))}
    st["embeddings"] = {m: {"n": int(e.z.shape[0]), "dim": int(e.z.shape[1]), "labels": e.label_names}
                        for m, e in ((m, results.embeddings[m]) for m in results.ordered(results.embeddings))}

    # ---- generation
    g = results.generation
    st["generation"] = {} if g is None else {
        "metrics": {k: {"mean": float(np.nanmean(v)), "std": float(np.nanstd(v, ddof=1)) if v.size > 1 else 0.0,
                        "n": int(np.isfinite(v).sum())} for k, v in g.metrics.items() if v.size},
        "strips": list(g.strips)}

    present = {
        "summary": bool(results.screening or results.phenotypes),
        "screening": bool(results.screening), "roc": bool(results.screening),
        "calibration": bool(results.screening), "ratios": bool(results.ratios),
        "label_efficiency": bool(results.label_efficiency), "phenotypes": bool(results.phenotypes),
        "subtypes": bool(results.subtypes), "kfold": bool(results.kfold),
        "similarity": bool(results.similarity), "embeddings": bool(results.embeddings),
        "generation": g is not None and bool(g.metrics or g.strips),
    }
    st["sections"] = {k: ("ok" if present[k] else "not run") for k, _ in SECTIONS}
    return jsonable(st)
