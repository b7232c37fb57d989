"""Phenotype regression metrics: R^2, Pearson r, MAE, RMSE per phenotype and averaged, NaN-aware.

A case is used for a phenotype when both its true and predicted value are finite (UK Biobank
phenotypes have gaps). R^2 is scikit-learn's coefficient of determination 1 - SS_res / SS_tot
(it can be negative); Pearson r from scipy. The average over phenotypes is the unweighted mean of the
per-phenotype values. R^2 and r also get bootstrap percentile CIs, computed from resample counts
with weighted moments (no per-resample refit).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from ..errors import InputError
from .intervals import bootstrap_statistic

__all__ = ["regression_metrics", "phenotype_metrics"]

METRICS = ("r2", "pearson_r", "mae", "rmse")


def _moments_rows(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None = None):
    """Functions of counts [B, n] -> R^2 [B] and r [B] via weighted sums (data centred first).

    Cases with ``mask`` False get zero features, i.e. they never count, whatever their weight.
    """
    m = np.ones(y.shape, bool) if mask is None else np.asarray(mask, bool)
    y = np.where(m, y, 0.0)
    p = np.where(m, p, 0.0)
    yc = np.where(m, y - y[m].mean(), 0.0)
    pc = np.where(m, p - p[m].mean(), 0.0)
    feats = np.stack([m.astype(np.float64), yc, pc, yc * yc, pc * pc, yc * pc, (y - p) ** 2], axis=1)  # [n, 7]

    def sums(counts):
        s = counts.astype(np.float64) @ feats                # [B, 7]
        w, sy, sp, syy, spp, syp, sres = s.T
        with np.errstate(invalid="ignore", divide="ignore"):
            vy = syy - sy * sy / w
            vp = spp - sp * sp / w
            cyp = syp - sy * sp / w
        return vy, vp, cyp, sres

    def r2(counts):
        vy, _, _, sres = sums(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(vy > 0, 1.0 - sres / vy, np.nan)

    def r(counts):
        vy, vp, cyp, _ = sums(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where((vy > 0) & (vp > 0), cyp / np.sqrt(vy * vp), np.nan)

    return r2, r


def regression_metrics(y_true, y_pred, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                       ci: bool = True) -> dict:
    """R^2 (with CI), Pearson r (with CI and p-value), MAE and RMSE for one phenotype.

    ``ci=False`` skips the bootstrap (the *_ci entries are None)."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise InputError(f"regression_metrics: y_true {y.shape} and y_pred {p.shape} differ")
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    out: dict = {"n": int(y.size), "n_missing": int((~ok).sum())}
    if y.size < 3 or np.ptp(y) == 0:
        out.update({k: None for k in METRICS})
        out["r2_ci"] = out["pearson_r_ci"] = None
        out["pearson_p"] = None
        return out
    out["r2"] = float(r2_score(y, p))
    if np.ptp(p) > 0:
        res = pearsonr(y, p)
        out["pearson_r"], out["pearson_p"] = float(res.statistic), float(res.pvalue)
    else:
        out["pearson_r"], out["pearson_p"] = None, None
    out["mae"] = float(mean_absolute_error(y, p))
    out["rmse"] = float(np.sqrt(mean_squared_error(y, p)))
    if not ci:
        out["r2_ci"] = out["pearson_r_ci"] = None
        return out
    r2_rows, r_rows = _moments_rows(y, p)
    out["r2_ci"] = bootstrap_statistic(r2_rows, y.size, out["r2"], n_boot, seed, level).as_dict()
    out["pearson_r_ci"] = (bootstrap_statistic(r_rows, y.size, out["pearson_r"], n_boot, seed + 1, level).as_dict()
                           if out["pearson_r"] is not None else None)
    return out


def phenotype_metrics(y_true, y_pred, names: list[str] | None = None, *, n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95, per_phenotype_ci: bool = True) -> dict:
    """Per-phenotype metrics for [N, P] arrays plus the unweighted average of each metric (the
    average R^2 always gets its joint bootstrap CI; per-phenotype CIs only if ``per_phenotype_ci``)."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    if y.shape != p.shape or y.ndim != 2:
        raise InputError(f"phenotype_metrics: y_true {y.shape} and y_pred {p.shape} must be equal [N, P]")
    names = list(names) if names is not None else [f"phenotype_{i}" for i in range(y.shape[1])]
    if len(names) != y.shape[1]:
        raise InputError(f"phenotype_metrics: {len(names)} names for {y.shape[1]} phenotypes")
    per = {nm: regression_metrics(y[:, j], p[:, j], n_boot=n_boot, seed=seed + 7 * j, level=level,
                                  ci=per_phenotype_ci)
           for j, nm in enumerate(names)}
    avg = {}
    for m in METRICS:
        vals = [v[m] for v in per.values() if v[m] is not None]
        avg[m] = float(np.mean(vals)) if vals else None
    # CI of the phenotype-averaged R^2: one joint bootstrap over subjects (same resample for every
    # phenotype), each phenotype using its own non-missing cases.
    usable = [j for j, nm in enumerate(names) if per[nm]["r2"] is not None]
    avg["r2_ci"] = None
    if usable:
        fns = [_moments_rows(y[:, j], p[:, j], np.isfinite(y[:, j]) & np.isfinite(p[:, j]))[0] for j in usable]

        def mean_r2(counts):
            with np.errstate(all="ignore"):
                return np.nanmean(np.stack([f(counts) for f in fns]), axis=0)

        avg["r2_ci"] = bootstrap_statistic(mean_r2, y.shape[0], avg["r2"], n_boot, seed + 991, level).as_dict()
    return {"names": names, "per_phenotype": per, "average": avg}
