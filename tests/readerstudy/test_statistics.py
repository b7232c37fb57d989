"""Kappa and McNemar: hand-computed values and the reference implementations."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from cardionets.errors import InputError
from cardionets.readerstudy.statistics import chance_p_value, cohen_kappa, fleiss_kappa, mcnemar_exact


def test_cohen_kappa_by_hand():
    # both yes 4, A yes / B no 1, A no / B yes 2, both no 3: p_o = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5
    a = [1] * 4 + [1] + [0] * 2 + [0] * 3
    b = [1] * 4 + [0] + [1] * 2 + [0] * 3
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None             # p_e = 1: undefined


def test_fleiss_kappa_by_hand():
    # 3 readers, 4 cases, readers answering 1: 3, 0, 2, 1 -> P_i = 1, 1, 1/3, 1/3; P_bar = 2/3; p = (1/2, 1/2)
    x = [[1, 1, 1], [0, 0, 0], [1, 1, 0], [1, 0, 0]]
    assert fleiss_kappa(x) == pytest.approx(1 / 3, abs=1e-12)
    with pytest.raises(InputError, match="readers >= 2"):
        fleiss_kappa([[1], [0]])


def test_kappas_match_scikit_learn_and_statsmodels():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 40)
    readers = np.stack([np.where(rng.random(40) < p, truth, 1 - truth) for p in (0.9, 0.7, 0.55)], axis=1)
    assert cohen_kappa(readers[:, 0], readers[:, 1]) == pytest.approx(cohen_kappa_score(readers[:, 0], readers[:, 1]))
    assert fleiss_kappa(readers) == pytest.approx(sm_fleiss(aggregate_raters(readers)[0]))


def test_mcnemar_exact_by_hand_and_statsmodels():
    first = [True] * 5 + [True] * 3 + [False] * 2
    second = [False] * 5 + [True] * 3 + [False] * 2
    r = mcnemar_exact(first, second)
    assert (r["b"], r["c"]) == (5, 0) and r["p"] == pytest.approx(2 * 0.5 ** 5)
    rng = np.random.default_rng(1)
    f, s = rng.random(30) < 0.7, rng.random(30) < 0.5
    table = [[np.sum(f & s), np.sum(f & ~s)], [np.sum(~f & s), np.sum(~f & ~s)]]
    assert mcnemar_exact(f, s)["p"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert mcnemar_exact([True, False], [True, False])["p"] == 1.0


def test_chance_p_value():
    assert chance_p_value(8, 8) == pytest.approx(2 * 0.5 ** 8)
    assert chance_p_value(4, 8) == pytest.approx(1.0)
    assert chance_p_value(0, 0) is None
