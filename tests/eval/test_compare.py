"""DeLong vs a plain O(mn) structural-components computation and scikit-learn; permutation tests;
Cohen's d."""
import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

from cardionets.eval.compare import (average_precision_rows, cohens_d, delong_auc_cov, delong_test,
                                     permutation_test_average_precision,
                                     permutation_test_balanced_accuracy)


def slow_delong(y, scores):
    """DeLong et al. (1988) written out directly: psi kernel over all positive/negative pairs."""
    y = np.asarray(y).astype(bool)
    k = len(scores)
    v10, v01, aucs = [], [], []
    for s in scores:
        x, z = s[y], s[~y]
        psi = np.array([[1.0 if xi > zj else 0.5 if xi == zj else 0.0 for zj in z] for xi in x])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    m, n = int(y.sum()), int((~y).sum())
    s10 = np.array([[np.sum((v10[a] - aucs[a]) * (v10[b] - aucs[b])) / (m - 1) for b in range(k)] for a in range(k)])
    s01 = np.array([[np.sum((v01[a] - aucs[a]) * (v01[b] - aucs[b])) / (n - 1) for b in range(k)] for a in range(k)])
    return np.array(aucs), s10 / m + s01 / n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_slow_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = 120
    y = rng.random(n) < 0.35
    a = rng.normal(size=n) + 1.0 * y
    b = 0.6 * a + rng.normal(size=n) * 0.8 + 0.3 * y
    c = np.round(b, 0)                                   # heavy ties
    scores = [a, b, c]
    fast_auc, fast_cov = delong_auc_cov(y, np.vstack(scores))
    slow_auc, slow_cov = slow_delong(y, scores)
    np.testing.assert_allclose(fast_auc, slow_auc, atol=1e-12)
    np.testing.assert_allclose(fast_cov, slow_cov, atol=1e-12)
    for s, auc in zip(scores, fast_auc):
        assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    r = delong_test(y, a, c)
    var = slow_cov[0, 0] + slow_cov[2, 2] - 2 * slow_cov[0, 2]
    z = (slow_auc[0] - slow_auc[2]) / np.sqrt(var)
    assert r.z == pytest.approx(z, rel=1e-10)
    assert r.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-10)


def test_delong_identical_and_null_calibration():
    rng = np.random.default_rng(5)
    y = rng.random(200) < 0.5
    s = rng.normal(size=200) + y
    r = delong_test(y, s, s)
    assert r.p_value == 1.0 and r.difference == 0.0
    # under H0 (two equally good, correlated scores) p-values are roughly uniform
    ps = []
    for i in range(300):
        y = rng.random(150) < 0.4
        common = rng.normal(size=150) + 0.8 * y
        ps.append(delong_test(y, common + rng.normal(size=150), common + rng.normal(size=150)).p_value)
    assert 0.02 <= np.mean(np.array(ps) < 0.05) <= 0.09


def test_average_precision_rows_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    y = rng.random(97) < 0.3
    s = np.round(rng.normal(size=(6, 97)) + y, 1)
    fast = average_precision_rows(y, s)
    for i in range(6):
        assert fast[i] == pytest.approx(average_precision_score(y, s[i]), abs=1e-12)


def test_permutation_balanced_accuracy():
    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 3, n)
    good = np.where(rng.random(n) < 0.8, y, rng.integers(0, 3, n))
    bad = np.where(rng.random(n) < 0.4, y, rng.integers(0, 3, n))
    r = permutation_test_balanced_accuracy(y, good, bad, n_permutations=2000, seed=1)
    assert r.value_a == pytest.approx(balanced_accuracy_score(y, good))
    assert r.value_b == pytest.approx(balanced_accuracy_score(y, bad))
    assert r.p_value == pytest.approx(1 / 2001)
    same = np.where(rng.random(n) < 0.8, y, rng.integers(0, 3, n))
    r0 = permutation_test_balanced_accuracy(y, good, same, n_permutations=2000, seed=1)
    assert r0.p_value > 0.05
    r1 = permutation_test_balanced_accuracy(y, good, same, n_permutations=2000, seed=1)
    assert r0 == r1                                      # seeded


def test_permutation_average_precision_binary_and_multiclass():
    rng = np.random.default_rng(1)
    n = 200
    y = (rng.random(n) < 0.3).astype(int)
    a = rng.normal(size=n) + 1.5 * y
    b = rng.normal(size=n) + 0.2 * y
    r = permutation_test_average_precision(y, a, b, n_permutations=10000, seed=0)
    assert r.n_permutations == 10000
    assert r.value_a == pytest.approx(average_precision_score(y, a))
    assert r.p_value < 0.01
    yc = rng.integers(0, 3, n)
    onehot = np.eye(3)[yc]
    sa = onehot * 1.5 + rng.normal(size=(n, 3))
    sb = onehot * 1.4 + rng.normal(size=(n, 3))
    rm = permutation_test_average_precision(yc, sa, sb, n_permutations=1000, seed=0)
    expect = np.mean([average_precision_score(yc == c, sa[:, c]) for c in range(3)])
    assert rm.metric == "mAP" and rm.value_a == pytest.approx(expect)
    assert 0 < rm.p_value <= 1


def test_permutation_p_value_exact_small_case():
    """With n=3 cases, the exact permutation distribution has 8 equally likely swaps; check the
    Monte Carlo p-value against it."""
    y = np.array([0, 1, 1])
    a = np.array([0, 1, 1])
    b = np.array([1, 0, 1])
    import itertools
    from sklearn.metrics import balanced_accuracy_score as bas
    obs = bas(y, a) - bas(y, b)
    hits = 0
    for sw in itertools.product([0, 1], repeat=3):
        sw = np.array(sw, bool)
        pa, pb = np.where(sw, b, a), np.where(sw, a, b)
        hits += abs(bas(y, pa) - bas(y, pb)) >= abs(obs) - 1e-12
    exact = hits / 8
    r = permutation_test_balanced_accuracy(y, a, b, n_permutations=20000, seed=3)
    assert r.p_value == pytest.approx(exact, abs=0.015)


def test_cohens_d():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 2.0, 5000)
    b = rng.normal(0.0, 2.0, 4000)
    assert cohens_d(a, b) == pytest.approx(0.5, abs=0.05)
    # hand computation for a tiny case
    x, z = np.array([2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0, np.nan])
    sp = np.sqrt((2 * 4.0 + 2 * 1.0) / 4)
    assert cohens_d(x, z) == pytest.approx((4.0 - 2.0) / sp)
    d = np.array([1.0, 2.0, 3.0])
    assert cohens_d(d + 5, np.full(3, 5.0), paired=True) == pytest.approx(2.0 / 1.0)
