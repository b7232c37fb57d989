"""Confidence intervals: Wilson score intervals for proportions and a vectorised, seeded bootstrap.

Wilson (1927) is written out here because scikit-learn and scipy do not provide it (statsmodels
does; the tests compare against it). The bootstrap draws *resample counts* (how often each case is
drawn) as a multinomial matrix of shape [B, n] instead of index lists; every statistic used in the
report can be written as a function of those counts without re-sorting:

* AUC: the Mann-Whitney statistic of a resample is a weighted sum over the ORIGINAL ranking, so the
  positives' "negatives below me" counts come from a cumulative sum of the negative counts in score
  order (O(B n), no sort per resample). ``_auc_from_counts`` is checked against scikit-learn on
  explicitly materialised resamples in the tests.
* Confusion-matrix metrics and regression moments: matrix products counts @ indicator.

The default is a stratified bootstrap (positives and negatives resampled separately, as pROC does),
so every resample has both classes; percentile intervals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import norm

from ..errors import InputError

__all__ = [
    "Interval", "wilson_interval", "bootstrap_counts", "bootstrap_auc", "bootstrap_statistic",
    "percentile_interval", "z_value",
]

# Above this many int entries per chunk the counts matrix is built in slices (memory bound).
_CHUNK_ENTRIES = 8_000_000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval at level ``level`` (0.95 = 95%)."""

    estimate: float
    low: float
    high: float
    level: float = 0.95
    method: str = ""

    def as_dict(self) -> dict:
        return {"estimate": _f(self.estimate), "low": _f(self.low), "high": _f(self.high),
                "level": self.level, "method": self.method}

    def fmt(self, digits: int = 3) -> str:
        if not np.isfinite(self.estimate):
            return "n/a"
        return f"{self.estimate:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def _f(x: float) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def z_value(level: float) -> float:
    """Two-sided standard normal quantile for a confidence level (0.95 -> 1.959964)."""
    if not 0.0 < level < 1.0:
        raise InputError(f"confidence level must be in (0, 1), got {level}")
    return float(norm.ppf(0.5 + level / 2.0))


def wilson_interval(successes: int, total: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion successes/total.

    p = k/n, z = two-sided normal quantile:
        centre = (p + z^2/(2n)) / (1 + z^2/n)
        half   = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4 n^2))
    Returns NaNs when total == 0 (the proportion is undefined).
    """
    k, n = int(successes), int(total)
    if n < 0 or k < 0 or k > n:
        raise InputError(f"Wilson interval needs 0 <= successes <= total, got {k}/{n}")
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), level, "wilson")
    z = z_value(level)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    # Clip tiny rounding excursions; at k == 0 / k == n the bound is exactly 0 / 1.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(p, float(low), float(high), level, "wilson")


def percentile_interval(estimate: float, replicates: np.ndarray, level: float = 0.95,
                        method: str = "bootstrap percentile") -> Interval:
    """Percentile interval of bootstrap replicates (non-finite replicates are ignored)."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"), level, method)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(r, [a, 1.0 - a])
    return Interval(float(estimate), float(lo), float(hi), level, method)


def bootstrap_counts(n: int, n_boot: int, rng: np.random.Generator,
                     strata: np.ndarray | None = None) -> np.ndarray:
    """Resample counts [n_boot, n]: row b says how often each case appears in resample b.

    With ``strata`` (an integer label per case), each stratum is resampled to its own size.
    """
    if strata is None:
        return _counts(rng.integers(0, n, size=(n_boot, n)), n)
    strata = np.asarray(strata)
    counts = np.zeros((n_boot, n), dtype=np.int64)
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        counts[:, idx] = _counts(rng.integers(0, idx.size, size=(n_boot, idx.size)), idx.size)
    return counts


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """Per-row occurrence counts of the indices in draws [B, k] (values in 0..n-1) -> [B, n]."""
    b = draws.shape[0]
    flat = draws + (np.arange(b, dtype=np.int64) * n)[:, None]      # row-offset indices
    return np.bincount(flat.ravel(), minlength=b * n).reshape(b, n)


def _chunks(n: int, n_boot: int):
    step = max(1, _CHUNK_ENTRIES // max(n, 1))
    for start in range(0, n_boot, step):
        yield min(step, n_boot - start)


def _auc_setup(y_true: np.ndarray, y_score: np.ndarray):
    """Precompute, for each positive, the slice of score-sorted negatives strictly below / tied."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    order = np.argsort(s[neg], kind="stable")
    neg_sorted = neg[order]
    ns = s[neg_sorted]
    below = np.searchsorted(ns, s[pos], side="left")   # negatives with score < positive score
    upto = np.searchsorted(ns, s[pos], side="right")   # ... <= positive score
    return pos, neg_sorted, below, upto


def _auc_from_counts(counts: np.ndarray, setup) -> np.ndarray:
    """AUC of each resample given counts [B, n] (weighted Mann-Whitney, ties count 1/2)."""
    pos, neg_sorted, below, upto = setup
    wp = counts[:, pos].astype(np.float64)            # [B, n_pos]
    wn = counts[:, neg_sorted].astype(np.float64)     # [B, n_neg] in ascending score order
    cum = np.zeros((counts.shape[0], wn.shape[1] + 1))
    np.cumsum(wn, axis=1, out=cum[:, 1:])             # cum[:, j] = weight of the j lowest negatives
    lt = cum[:, below]                                # [B, n_pos] negative weight strictly below
    le = cum[:, upto]                                 # [B, n_pos] ... below or tied
    num = np.sum(wp * (lt + 0.5 * (le - lt)), axis=1)
    den = wp.sum(axis=1) * wn.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def bootstrap_auc(y_true, y_score, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                  stratified: bool = True, return_replicates: bool = False):
    """ROC AUC with a bootstrap percentile CI (``n_boot`` resamples, seeded, vectorised).

    Returns an :class:`Interval` (and the replicates when ``return_replicates``).
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise InputError(f"bootstrap_auc: y_true {y.shape} and y_score {s.shape} must be equal 1-D shapes")
    if y.all() or not y.any():
        nan = float("nan")
        iv = Interval(nan, nan, nan, level, "bootstrap percentile (one class only)")
        return (iv, np.full(0, nan)) if return_replicates else iv
    setup = _auc_setup(y, s)
    auc = float(_auc_from_counts(np.ones((1, y.size), dtype=np.int64), setup)[0])
    rng = np.random.default_rng(seed)
    reps = []
    for b in _chunks(y.size, n_boot):
        counts = bootstrap_counts(y.size, b, rng, strata=y.astype(np.int8) if stratified else None)
        reps.append(_auc_from_counts(counts, setup))
    reps = np.concatenate(reps)
    iv = percentile_interval(auc, reps, level, f"bootstrap percentile, {n_boot} resamples"
                             + (", stratified" if stratified else ""))
    return (iv, reps) if return_replicates else iv


def bootstrap_statistic(stat_from_counts: Callable[[np.ndarray], np.ndarray], n: int, estimate: float,
                        n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                        strata: np.ndarray | None = None) -> Interval:
    """Bootstrap CI of any statistic written as a function of resample counts [B, n] -> [B].

    ``stat_from_counts(np.ones((1, n)))`` must equal the full-sample statistic ``estimate``.
    """
    rng = np.random.default_rng(seed)
    reps = [stat_from_counts(bootstrap_counts(n, b, rng, strata)) for b in _chunks(n, n_boot)]
    return percentile_interval(estimate, np.concatenate(reps), level,
                               f"bootstrap percentile, {n_boot} resamples"
                               + (", stratified" if strata is not None else ""))
