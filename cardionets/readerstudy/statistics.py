"""Agreement and paired tests of a reader study (written from their definitions; the tests check
them against hand-computed values and scikit-learn / statsmodels).

* Cohen's kappa (two readers): kappa = (p_o - p_e) / (1 - p_e), p_o the observed agreement, p_e the
  agreement expected from each reader's own answer frequencies: sum_k p1_k p2_k.
* Fleiss' kappa (two or more readers, each case answered by every reader): with n readers, N cases
  and n_ik readers putting case i in category k, P_i = (sum_k n_ik^2 - n) / (n (n - 1)),
  P_bar = mean_i P_i, p_k = sum_i n_ik / (N n), P_e = sum_k p_k^2, kappa = (P_bar - P_e) / (1 - P_e).
  Both are undefined (None) when the expected agreement is 1 (everyone gave one answer throughout).
* McNemar's exact test (one reader against the model on the same cases): b cases only the reader
  got right, c only the model; under H0 b ~ Binomial(b + c, 1/2); two-sided
  p = min(1, 2 P(X <= min(b, c))), p = 1 when b + c = 0.
* Exact binomial test of an accuracy against chance (50%), two-sided (scipy's ``binomtest``).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import binom, binomtest

from ..errors import InputError


def cohen_kappa(a, b) -> float | None:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise InputError(f"cohen_kappa: two equal-length non-empty answer lists needed, got {a.shape} and {b.shape}")
    cats = np.union1d(a, b)
    po = float(np.mean(a == b))
    pe = float(sum(np.mean(a == k) * np.mean(b == k) for k in cats))
    return None if pe >= 1.0 else (po - pe) / (1.0 - pe)


def fleiss_kappa(answers) -> float | None:
    """``answers`` [N cases, n readers] of category labels."""
    x = np.asarray(answers)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] == 0:
        raise InputError(f"fleiss_kappa: needs [cases, readers >= 2] answers, got shape {x.shape}")
    n_cases, n = x.shape
    counts = np.stack([(x == k).sum(axis=1) for k in np.unique(x)], axis=1).astype(np.float64)  # [N, K]
    p_i = ((counts ** 2).sum(axis=1) - n) / (n * (n - 1))
    p_k = counts.sum(axis=0) / (n_cases * n)
    pe = float((p_k ** 2).sum())
    return None if pe >= 1.0 else (float(p_i.mean()) - pe) / (1.0 - pe)


def mcnemar_exact(first_correct, second_correct) -> dict:
    """Paired exact McNemar test; returns b (first right, second wrong), c (the reverse) and p."""
    f = np.asarray(first_correct, dtype=bool)
    s = np.asarray(second_correct, dtype=bool)
    if f.shape != s.shape:
        raise InputError(f"mcnemar_exact: paired results of equal length needed, got {f.shape} and {s.shape}")
    b, c = int(np.sum(f & ~s)), int(np.sum(~f & s))
    p = 1.0 if b + c == 0 else float(min(1.0, 2.0 * binom.cdf(min(b, c), b + c, 0.5)))
    return {"b": b, "c": c, "p": p, "test": "McNemar exact (two-sided)"}


def chance_p_value(successes: int, total: int) -> float | None:
    """Two-sided exact binomial p-value of successes/total against 0.5."""
    return None if total == 0 else float(binomtest(int(successes), int(total), 0.5).pvalue)
