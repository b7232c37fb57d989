"""Comparing two models on the same test cases: DeLong's test, paired permutation tests, Cohen's d.

DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of correlated AUCs from the
structural components V10 (one per positive) and V01 (one per negative). Sun & Xu (2014) compute
them from midranks in O(n log n):

    T_z = midranks of all m + n scores, T_x = midranks among the m positives, T_y = among the n negatives
    AUC  = (sum_{i<m} T_z[i] - m(m+1)/2) / (m n)
    V10_i = (T_z[i] - T_x[i]) / n              (fraction of negatives below positive i, ties 1/2)
    V01_j = 1 - (T_z[m+j] - T_y[j]) / m         (fraction of positives above negative j, ties 1/2)
    S = cov(V10) / m + cov(V01) / n             (k x k for k classifiers)

The z statistic for two AUCs is (A1 - A2) / sqrt(S11 + S22 - 2 S12), two-sided normal p-value.
The tests check this against a plain O(mn) double loop and the AUC against scikit-learn.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from ..errors import InputError

__all__ = [
    "delong_auc_cov", "delong_test", "DeLongResult", "PermutationResult", "paired_permutation_test",
    "permutation_test_balanced_accuracy", "permutation_test_average_precision", "cohens_d",
    "average_precision_rows", "balanced_accuracy_rows", "r2_rows", "permutation_test_r2",
]


def _split(y_true, scores) -> tuple[np.ndarray, int]:
    y = np.asarray(y_true).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))  # [k, N]
    if y.ndim != 1 or s.shape[1] != y.size:
        raise InputError(f"DeLong: y_true {y.shape} and scores {s.shape} do not match (scores: [k, N])")
    m = int(y.sum())
    if m == 0 or m == y.size:
        raise InputError("DeLong: y_true needs both positives and negatives")
    order = np.concatenate([np.flatnonzero(y), np.flatnonzero(~y)])  # positives first
    return s[:, order], m


def delong_auc_cov(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUCs [k] and their DeLong covariance [k, k] for scores [k, N] (or [N] for one model)."""
    s, m = _split(y_true, scores)
    k, total = s.shape
    n = total - m
    tz = rankdata(s, axis=1)                 # [k, m+n] midranks of all cases
    tx = rankdata(s[:, :m], axis=1)          # [k, m] midranks among positives
    ty = rankdata(s[:, m:], axis=1)          # [k, n] midranks among negatives
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz[:, :m] - tx) / n               # [k, m]
    v01 = 1.0 - (tz[:, m:] - ty) / m         # [k, n]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((k, k))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((k, k))
    return aucs, s10 / m + s01 / n


@dataclass(frozen=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    p_value: float
    ci_difference: tuple[float, float]

    def as_dict(self) -> dict:
        return {"auc_a": self.auc_a, "auc_b": self.auc_b, "difference": self.difference, "se": self.se,
                "z": _finite(self.z), "p_value": _finite(self.p_value),
                "ci_difference": [self.ci_difference[0], self.ci_difference[1]], "test": "DeLong (two-sided)"}


def _finite(x):
    return float(x) if np.isfinite(x) else None


def delong_test(y_true, score_a, score_b, level: float = 0.95) -> DeLongResult:
    """Two-sided DeLong test of AUC(a) == AUC(b) for two models scored on the same cases."""
    aucs, cov = delong_auc_cov(y_true, np.vstack([np.asarray(score_a, float), np.asarray(score_b, float)]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    if se > 0:
        z = diff / se
        p = float(2.0 * norm.sf(abs(z)))
    else:  # identical rankings: no evidence of a difference
        z, p = (0.0, 1.0) if diff == 0 else (float("inf") * np.sign(diff), 0.0)
    q = float(norm.ppf(0.5 + level / 2.0))
    return DeLongResult(float(aucs[0]), float(aucs[1]), diff, se, float(z), p, (diff - q * se, diff + q * se))


# --------------------------------------------------------------------------------------------
# Paired permutation tests: under H0 the two models are exchangeable per case, so each case's pair
# of predictions is swapped with probability 1/2. p = (1 + #{|T_perm| >= |T_obs|}) / (1 + P).
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PermutationResult:
    metric: str
    value_a: float
    value_b: float
    difference: float
    p_value: float
    n_permutations: int

    def as_dict(self) -> dict:
        return {"metric": self.metric, "value_a": self.value_a, "value_b": self.value_b,
                "difference": self.difference, "p_value": self.p_value,
                "n_permutations": self.n_permutations, "test": "paired permutation (two-sided)"}


def balanced_accuracy_rows(y_true: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Balanced accuracy (mean per-class recall) for each row of a correctness matrix [P, N]."""
    y = np.asarray(y_true)
    classes = np.unique(y)
    onehot = (y[:, None] == classes[None, :]).astype(np.float64)   # [N, C]
    recall = (correct.astype(np.float64) @ onehot) / onehot.sum(axis=0)   # [P, C]
    return recall.mean(axis=1)


def average_precision_rows(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's step definition, ties grouped) for each row of [P, N].

    AP = sum over distinct thresholds t (descending) of (R_t - R_{t-1}) * P_t.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.atleast_2d(np.asarray(scores))
    if not np.issubdtype(s.dtype, np.integer):
        s = s.astype(np.float64)
    n_pos = int(y.sum())
    if n_pos == 0:
        return np.full(s.shape[0], np.nan)
    # Order within a tie group does not matter (only tie-group ends are used), so the fast
    # unstable sort is fine; integer rank codes (see _rank_codes) sort several times faster.
    order = np.argsort(-s, axis=1)
    ss = np.take_along_axis(s, order, axis=1)                   # [P, N] descending
    tp = np.cumsum(y[order], axis=1, dtype=np.float64)          # [P, N] true positives at rank k
    end = np.ones_like(ss, dtype=bool)
    end[:, :-1] = ss[:, :-1] != ss[:, 1:]                       # last position of each tie group
    tp_end = np.where(end, tp, 0.0)
    prev = np.zeros_like(tp_end)
    prev[:, 1:] = np.maximum.accumulate(tp_end, axis=1)[:, :-1]  # tp at the previous group end
    precision = tp / np.arange(1, s.shape[1] + 1)
    return np.sum(np.where(end, (tp - prev) * precision, 0.0), axis=1) / n_pos


def _rank_codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace scores by int32 codes that preserve order and ties within each class column across
    both models (AP depends only on the ordering within a column)."""
    if a.ndim == 1:
        codes = np.unique(np.concatenate([a, b]), return_inverse=True)[1].astype(np.int32)
        return codes[:a.size], codes[a.size:]
    ca, cb = np.empty(a.shape, np.int32), np.empty(b.shape, np.int32)
    for c in range(a.shape[1]):
        ca[:, c], cb[:, c] = _rank_codes(a[:, c], b[:, c])
    return ca, cb


def paired_permutation_test(metric_rows, pred_a: np.ndarray, pred_b: np.ndarray, metric: str,
                            n_permutations: int = 10000, seed: int = 0,
                            chunk: int | None = None) -> PermutationResult:
    """Generic paired permutation test.

    ``metric_rows(preds)`` maps predictions stacked as [P, N, ...] to P metric values. Per case, the
    two models' predictions are swapped with probability 1/2 (seeded).
    """
    a = np.asarray(pred_a)
    b = np.asarray(pred_b)
    if a.shape != b.shape:
        raise InputError(f"permutation test: predictions of A {a.shape} and B {b.shape} differ in shape")
    n = a.shape[0]
    va, vb = (float(v) for v in metric_rows(np.stack([a, b])))
    obs = va - vb
    rng = np.random.default_rng(seed)
    chunk = chunk or max(16, 400_000 // max(a.size, 1))   # ~3 MB temporaries: cache-friendly, measured fastest
    extreme = 0
    done = 0
    tol = 1e-12 * max(1.0, abs(obs))
    while done < n_permutations:
        p = min(chunk, n_permutations - done)
        swap = rng.random((p, n)) < 0.5                      # [p, N]
        sw = swap.reshape(swap.shape + (1,) * (a.ndim - 1))
        pa = np.where(sw, b[None], a[None])                  # [p, N, ...]
        pb = np.where(sw, a[None], b[None])
        d = metric_rows(pa) - metric_rows(pb)
        extreme += int(np.sum(np.abs(d) >= abs(obs) - tol))
        done += p
    return PermutationResult(metric, va, vb, obs, (1 + extreme) / (1 + n_permutations), n_permutations)


def permutation_test_balanced_accuracy(y_true, pred_a, pred_b, n_permutations: int = 10000,
                                       seed: int = 0) -> PermutationResult:
    """Balanced accuracy of hard class predictions (binary or multi-class) of two models."""
    y = np.asarray(y_true)
    ca = (np.asarray(pred_a) == y)
    cb = (np.asarray(pred_b) == y)
    # Swapping predictions == swapping correctness indicators, which keeps the test in matrix form.
    return paired_permutation_test(lambda c: balanced_accuracy_rows(y, c), ca, cb,
                                   "balanced_accuracy", n_permutations, seed)


def permutation_test_average_precision(y_true, score_a, score_b, n_permutations: int = 10000,
                                       seed: int = 0) -> PermutationResult:
    """Average precision (binary: scores [N]) or mAP (multi-class one-vs-rest: scores [N, C])."""
    y = np.asarray(y_true)
    a = np.asarray(score_a, dtype=np.float64)
    b = np.asarray(score_b, dtype=np.float64)
    if a.shape != b.shape:
        raise InputError(f"permutation test: scores of A {a.shape} and B {b.shape} differ in shape")
    a, b = _rank_codes(a, b)
    if a.ndim == 1:
        def rows(s):
            return average_precision_rows(y, s)
        name = "average_precision"
    else:
        classes = [c for c in range(a.shape[1]) if np.any(y == c)]   # absent classes have no AP

        def rows(s):  # s: [P, N, C]
            return np.mean([average_precision_rows(y == c, s[:, :, c]) for c in classes], axis=0)
        name = "mAP"
    return paired_permutation_test(rows, a, b, name, n_permutations, seed)


def cohens_d(a, b, paired: bool = False) -> float:
    """Cohen's d = (mean(a) - mean(b)) / s.

    Independent groups: s is the pooled SD sqrt(((n_a-1) s_a^2 + (n_b-1) s_b^2) / (n_a+n_b-2)).
    Paired (``paired=True``, same cases): d_z = mean(a-b) / SD(a-b). NaNs are dropped (pairwise
    when paired).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if paired:
        if a.shape != b.shape:
            raise InputError(f"paired Cohen's d needs equal lengths, got {a.size} and {b.size}")
        d = a - b
        d = d[np.isfinite(d)]
        sd = d.std(ddof=1) if d.size > 1 else np.nan
        return float(d.mean() / sd) if sd > 0 else float("nan")
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return float("nan")
    pooled = np.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


def r2_rows(y_true: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """Mean over phenotypes of R^2 for each stacked prediction [K, N, P] against y_true [N, P].

    Cases missing (NaN) in y_true or in any prediction of a phenotype are left out of that phenotype.
    """
    y = np.asarray(y_true, dtype=np.float64)
    ok = np.isfinite(y) & np.all(np.isfinite(preds), axis=0)            # [N, P]
    cnt = ok.sum(axis=0)
    ybar = np.where(ok, y, 0.0).sum(axis=0) / np.maximum(cnt, 1)
    sstot = np.where(ok, (y - ybar) ** 2, 0.0).sum(axis=0)              # [P]
    res = np.where(ok[None], (y[None] - preds) ** 2, 0.0).sum(axis=1)   # [K, P]
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(sstot > 0, 1.0 - res / sstot, np.nan)
    return np.nanmean(r2, axis=1)


def permutation_test_r2(y_true, pred_a, pred_b, n_permutations: int = 10000, seed: int = 0) -> PermutationResult:
    """Paired permutation test of the phenotype-averaged R^2 (predictions [N] or [N, P])."""
    y = np.asarray(y_true, dtype=np.float64)
    a = np.asarray(pred_a, dtype=np.float64)
    b = np.asarray(pred_b, dtype=np.float64)
    if y.ndim == 1:
        y, a, b = y[:, None], a[:, None], b[:, None]
    # Missing handling must not depend on the swap: drop cases missing in either model everywhere.
    miss = ~(np.isfinite(a) & np.isfinite(b))
    y = np.where(miss, np.nan, y)
    return paired_permutation_test(lambda p: r2_rows(y, p), a, b, "mean_r2", n_permutations, seed)
