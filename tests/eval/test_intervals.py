"""Wilson intervals vs statsmodels and Newcombe (1998) worked examples; the vectorised bootstrap
AUC vs scikit-learn on explicitly materialised resamples; CI coverage in a seeded simulation."""
import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from cardionets.eval.intervals import (_auc_from_counts, _auc_setup, bootstrap_auc, bootstrap_counts,
                                       wilson_interval)
from cardionets.errors import InputError


# Newcombe RG (1998) Stat Med 17:857-872, Table I, method 3 (Wilson score, no continuity correction).
NEWCOMBE = [((81, 263), (0.2553, 0.3662)), ((15, 148), (0.0624, 0.1605)),
            ((0, 20), (0.0000, 0.1611)), ((1, 29), (0.0061, 0.1718))]


@pytest.mark.parametrize("kn,expected", NEWCOMBE)
def test_wilson_newcombe_examples(kn, expected):
    iv = wilson_interval(*kn)
    assert iv.low == pytest.approx(expected[0], abs=6e-5)
    assert iv.high == pytest.approx(expected[1], abs=6e-5)


def test_wilson_matches_statsmodels():
    smp = pytest.importorskip("statsmodels.stats.proportion")
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 500))
        k = int(rng.integers(0, n + 1))
        for level in (0.9, 0.95, 0.99):
            lo, hi = smp.proportion_confint(k, n, alpha=1 - level, method="wilson")
            iv = wilson_interval(k, n, level)
            assert iv.low == pytest.approx(lo, abs=1e-12)
            assert iv.high == pytest.approx(hi, abs=1e-12)
            assert iv.estimate == k / n


def test_wilson_edge_cases():
    assert np.isnan(wilson_interval(0, 0).estimate)
    with pytest.raises(InputError):
        wilson_interval(5, 3)


def test_auc_from_counts_matches_sklearn_on_materialised_resamples():
    rng = np.random.default_rng(0)
    n = 80
    y = rng.random(n) < 0.3
    s = np.round(rng.normal(size=n) + y, 1)             # rounding creates ties
    setup = _auc_setup(y, s)
    counts = bootstrap_counts(n, 50, rng, strata=y.astype(int))
    fast = _auc_from_counts(counts, setup)
    for b in range(50):
        idx = np.repeat(np.arange(n), counts[b])
        assert fast[b] == pytest.approx(roc_auc_score(y[idx], s[idx]), abs=1e-12)
    assert _auc_from_counts(np.ones((1, n), int), setup)[0] == pytest.approx(roc_auc_score(y, s))


def test_bootstrap_auc_seeded_and_stratified():
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.2
    s = rng.normal(size=300) + 1.2 * y
    a = bootstrap_auc(y, s, 1000, seed=5)
    b = bootstrap_auc(y, s, 1000, seed=5)
    assert a == b
    assert a.low < a.estimate < a.high
    assert a.estimate == pytest.approx(roc_auc_score(y, s))
    iv, reps = bootstrap_auc(y, s, 10000, seed=1, return_replicates=True)   # the 10,000 option
    assert reps.shape == (10000,) and np.isfinite(reps).all()
    # bootstrap SD is close to the DeLong standard error
    from cardionets.eval.compare import delong_auc_cov
    _, cov = delong_auc_cov(y, s)
    assert reps.std() == pytest.approx(np.sqrt(cov[0, 0]), rel=0.15)


def test_bootstrap_auc_one_class_is_nan():
    iv = bootstrap_auc(np.zeros(10), np.arange(10.0))
    assert np.isnan(iv.estimate)


def _coverage(n_rep, n_pos, n_neg, delta, n_boot, seed):
    true_auc = norm.cdf(delta / np.sqrt(2.0))            # binormal, equal unit variances
    rng = np.random.default_rng(seed)
    hits = 0
    for r in range(n_rep):
        s = np.concatenate([rng.normal(delta, 1, n_pos), rng.normal(0, 1, n_neg)])
        y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
        iv = bootstrap_auc(y, s, n_boot, seed=r)
        hits += iv.low <= true_auc <= iv.high
    return hits / n_rep


def test_bootstrap_auc_ci_coverage_binormal():
    """Acceptance: 95% bootstrap CIs cover the true binormal AUC (0.76) at about the nominal rate."""
    cov = _coverage(n_rep=200, n_pos=100, n_neg=200, delta=1.0, n_boot=1000, seed=2024)
    assert 0.90 <= cov <= 0.98, cov


@pytest.mark.slow
def test_bootstrap_auc_ci_coverage_binormal_large():
    cov = _coverage(n_rep=1000, n_pos=60, n_neg=240, delta=1.5, n_boot=2000, seed=7)
    assert 0.92 <= cov <= 0.97, cov
