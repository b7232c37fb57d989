"""Screening and phenotype metrics against scikit-learn / scipy and hand counts; k-fold summaries."""
import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import (average_precision_score, balanced_accuracy_score, f1_score, r2_score,
                             roc_auc_score, roc_curve)

from cardionets.errors import InputError
from cardionets.eval.classification import binary_metrics, multiclass_metrics, youden_threshold
from cardionets.eval.kfold import kfold_auc, kfold_summary
from cardionets.eval.regression import phenotype_metrics, regression_metrics


def test_youden_threshold_brute_force():
    rng = np.random.default_rng(0)
    y = rng.random(150) < 0.4
    s = np.round(rng.normal(size=150) + y, 2)
    t = youden_threshold(y, s)
    best = max(((s >= c)[y].mean() - (s >= c)[~y].mean(), c) for c in np.unique(s))
    assert (s >= t)[y].mean() - (s >= t)[~y].mean() == pytest.approx(best[0])
    # ties resolved towards the highest threshold
    assert t == max(c for c in np.unique(s)
                    if (s >= c)[y].mean() - (s >= c)[~y].mean() == pytest.approx(best[0]))
    with pytest.raises(InputError):
        youden_threshold(np.ones(5), np.arange(5.0))


def test_binary_metrics_counts_and_sklearn():
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.25).astype(int)
    s = 1 / (1 + np.exp(-(rng.normal(size=400) + 1.5 * y - 1)))
    yv = (rng.random(300) < 0.25).astype(int)
    sv = 1 / (1 + np.exp(-(rng.normal(size=300) + 1.5 * yv - 1)))
    m = binary_metrics(y, s, val_true=yv, val_score=sv, n_boot=500, seed=0)
    t = youden_threshold(yv, sv)
    assert m["threshold"] == {"value": t, "rule": "Youden's J on validation"}
    pred = s >= t
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
    assert m["confusion"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    assert m["auc"]["estimate"] == pytest.approx(roc_auc_score(y, s))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, s))
    assert m["sensitivity"]["estimate"] == pytest.approx(tp / (tp + fn))
    assert m["specificity"]["estimate"] == pytest.approx(tn / (tn + fp))
    assert m["ppv"]["estimate"] == pytest.approx(tp / (tp + fp))
    assert m["npv"]["estimate"] == pytest.approx(tn / (tn + fn))
    assert m["accuracy"]["estimate"] == pytest.approx((tp + tn) / 400)
    assert m["f1"]["estimate"] == pytest.approx(f1_score(y, pred))
    assert m["balanced_accuracy"]["estimate"] == pytest.approx(balanced_accuracy_score(y, pred))
    for k in ("auc", "f1", "balanced_accuracy", "sensitivity"):
        assert m[k]["low"] <= m[k]["estimate"] <= m[k]["high"]
    assert binary_metrics(y, s, n_boot=10)["threshold"]["rule"].startswith("0.5")


def test_multiclass_metrics_ovr():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    logits = np.eye(3)[y] * 1.2 + rng.normal(size=(300, 3))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m = multiclass_metrics(y, p, ["DCM", "HCM", "RCM"], n_boot=200)
    assert m["classes"] == ["DCM", "HCM", "RCM"]
    for c, name in enumerate(m["classes"]):
        assert m["per_class"][name]["auc"]["estimate"] == pytest.approx(roc_auc_score(y == c, p[:, c]))
    assert m["macro_auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p.argmax(1)))
    assert np.array(m["confusion_matrix"]).sum() == 300
    assert m["mAP"] == pytest.approx(np.mean([average_precision_score(y == c, p[:, c]) for c in range(3)]))


def test_regression_metrics_nan_aware():
    rng = np.random.default_rng(3)
    y = rng.normal(150, 30, 500)
    p = 0.7 * y + rng.normal(0, 15, 500) + 40
    y[::17] = np.nan
    p[::23] = np.nan
    m = regression_metrics(y, p, n_boot=300)
    ok = np.isfinite(y) & np.isfinite(p)
    assert m["n"] == ok.sum() and m["n_missing"] == (~ok).sum()
    assert m["r2"] == pytest.approx(r2_score(y[ok], p[ok]))
    assert m["pearson_r"] == pytest.approx(pearsonr(y[ok], p[ok]).statistic)
    assert m["mae"] == pytest.approx(np.mean(np.abs(y[ok] - p[ok])))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y[ok] - p[ok]) ** 2)))
    assert m["r2_ci"]["low"] < m["r2"] < m["r2_ci"]["high"]
    assert m["pearson_r_ci"]["low"] < m["pearson_r"] < m["pearson_r_ci"]["high"]


def test_phenotype_metrics_average():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(200, 3))
    p = y * [0.9, 0.5, 0.0] + rng.normal(size=(200, 3)) * 0.5
    m = phenotype_metrics(y, p, ["LVEDV", "LVEF", "LVM"], n_boot=100)
    r2s = [r2_score(y[:, j], p[:, j]) for j in range(3)]
    assert m["average"]["r2"] == pytest.approx(np.mean(r2s))
    assert m["per_phenotype"]["LVM"]["r2"] < 0.1
    const = phenotype_metrics(np.ones((10, 1)), np.ones((10, 1)), ["x"], n_boot=10)
    assert const["per_phenotype"]["x"]["r2"] is None and const["average"]["r2"] is None


def test_kfold_summary_and_pooled():
    rng = np.random.default_rng(5)
    folds = []
    for k in range(5):
        y = rng.random(100) < 0.3
        folds.append((y, rng.normal(size=100) + y))
    out = kfold_auc(folds, n_boot=200)
    per = [roc_auc_score(t, s) for t, s in folds]
    assert out["per_fold"] == pytest.approx(per)
    assert out["mean"] == pytest.approx(np.mean(per)) and out["std"] == pytest.approx(np.std(per, ddof=1))
    allt = np.concatenate([t for t, _ in folds])
    alls = np.concatenate([s for _, s in folds])
    assert out["pooled"] == pytest.approx(roc_auc_score(allt, alls))
    assert out["pooled_ci"]["low"] < out["pooled"] < out["pooled_ci"]["high"]
    r = kfold_summary([(np.arange(5.0), np.arange(5.0))], r2_score)
    assert r["std"] == 0.0 and r["pooled"] == 1.0


def test_weighted_moments_match_materialised_resamples():
    from cardionets.eval.intervals import bootstrap_counts
    from cardionets.eval.regression import _moments_rows
    rng = np.random.default_rng(6)
    n = 60
    y = rng.normal(100, 20, n)
    p = y + rng.normal(0, 10, n)
    mask = rng.random(n) > 0.2
    r2f, rf = _moments_rows(y, p, mask)
    counts = bootstrap_counts(n, 20, rng)
    got_r2, got_r = r2f(counts), rf(counts)
    for b in range(20):
        idx = np.repeat(np.arange(n), counts[b] * mask)
        assert got_r2[b] == pytest.approx(r2_score(y[idx], p[idx]), abs=1e-9)
        assert got_r[b] == pytest.approx(pearsonr(y[idx], p[idx]).statistic, abs=1e-9)


def test_mean_r2_ci_and_permutation_r2():
    from cardionets.eval.compare import permutation_test_r2
    rng = np.random.default_rng(7)
    y = rng.normal(size=(300, 4))
    a = y * 0.9 + rng.normal(size=(300, 4)) * 0.4
    b = y * 0.5 + rng.normal(size=(300, 4)) * 0.8
    y[::13, 1] = np.nan
    m = phenotype_metrics(y, a, list("abcd"), n_boot=300)
    assert m["average"]["r2_ci"]["low"] < m["average"]["r2"] < m["average"]["r2_ci"]["high"]
    r = permutation_test_r2(y, a, b, n_permutations=2000, seed=0)
    ok = np.isfinite(y)
    exp_a = np.mean([r2_score(y[ok[:, j], j], a[ok[:, j], j]) for j in range(4)])
    assert r.value_a == pytest.approx(exp_a)
    assert r.p_value == pytest.approx(1 / 2001)
    r0 = permutation_test_r2(y, a, a + rng.normal(size=a.shape) * 0.01, n_permutations=500)
    assert r0.p_value > 0.05
