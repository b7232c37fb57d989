"""Phenotype-matched oracle references: nearest-neighbour search on z-scored phenotypes (with gaps),
the matched cines, and `evaluate-generation` scoring only reference rows on a real synthetic cohort."""
from __future__ import annotations

import json
import types

import numpy as np
import pytest

from cardionets.errors import InputError
from cardionets.generate.references import phenotype_matched_cines, phenotype_neighbours


def test_neighbours_are_nearest_on_z_scores_and_ignore_missing_values():
    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, (30, 5)) * np.array([1, 10, 100, 1000, 0.1])   # wildly different units
    query = train[[4, 17]] + 1e-6
    nn = phenotype_neighbours(train, query, k=3)
    assert nn.shape == (2, 3) and list(nn[:, 0]) == [4, 17]
    # brute force on z-scores agrees
    z = (train - train.mean(0)) / train.std(0)
    zq = (query - train.mean(0)) / train.std(0)
    brute = np.argsort(((zq[:, None] - z[None]) ** 2).sum(-1), axis=1)[:, :3]
    assert np.array_equal(nn, brute)
    # a missing value in the query (or in a training row) is skipped, not treated as 0 or as a match
    q = query.copy()
    q[0, 2] = np.nan
    t = train.copy()
    t[4, 1] = np.nan
    assert phenotype_neighbours(t, q, k=1)[0, 0] == 4


def test_neighbours_reject_bad_shapes_and_k():
    with pytest.raises(InputError, match=r"\[M, P\]"):
        phenotype_neighbours(np.zeros((4, 3)), np.zeros((2, 2)), 1)
    with pytest.raises(InputError, match="k must be"):
        phenotype_neighbours(np.zeros((4, 3)), np.zeros((2, 3)), 5)


class _Split:
    """The dataset contract the references use: ``cohort.phenotypes``, ``indices``, items with 'cmr'."""

    def __init__(self, phen, cines, indices):
        self.cohort = types.SimpleNamespace(phenotypes=phen)
        self.indices = np.asarray(indices)
        self._cines = cines

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return {"cmr": self._cines[self.indices[i]]}


def test_matched_cines_are_the_nearest_cine_and_the_mean_of_k():
    rng = np.random.default_rng(1)
    phen = rng.normal(0, 1, (12, 4))
    cines = rng.normal(0, 1, (12, 3, 5, 5)).astype(np.float32)
    train = _Split(phen, cines, range(2, 12))              # training rows are cohort rows 2..11
    query = phen[[0, 1]]
    out = phenotype_matched_cines(train, query, k=3)
    assert set(out) == {"matched_real_cine", "matched_mean_3"}
    nn = phenotype_neighbours(phen[2:], query, 3) + 2    # back to cohort rows
    np.testing.assert_array_equal(out["matched_real_cine"], cines[nn[:, 0]])
    np.testing.assert_allclose(out["matched_mean_3"], cines[nn].mean(1), rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError, match="cohort dataset"):
        phenotype_matched_cines([{"cmr": cines[0]}], query, 1)


def test_evaluate_generation_scores_reference_rows_without_a_model(tmp_path, capsys):
    from cardionets.cli import main
    from cardionets.data.synth import write_cohort

    cohort = write_cohort(tmp_path / "cohort", n=20, seed=5, preset="enriched", workers=1, progress=False)
    out = tmp_path / "eval"
    rc = main(["evaluate-generation", "--cohort", str(cohort), "--split", "val", "--mean-reference", "4",
               "--matched-reference", "2", "--strips", "1", "--out", str(out)])
    assert rc == 0
    res = json.loads((out / "metrics.json").read_text())
    assert set(res["models"]) == {"train_mean_cine", "matched_real_cine", "matched_mean_2"}
    for name, r in res["models"].items():
        assert 0 < r["image"]["ssim"]["mean"] < 1
        if name != "train_mean_cine":   # one cine for everyone: no correlation to report
            assert np.isfinite(r["phenotype_agreement"]["edv_index"]["pearson"])
    assert "matched_mean_2" in (out / "table.md").read_text() and not (out / "cines").exists()
    # nothing to score, or a baseline without the generator's embedding: clear errors, no output
    capsys.readouterr()
    assert main(["evaluate-generation", "--cohort", str(cohort), "--mean-reference", "0", "--out", str(tmp_path / "x")]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err
    assert main(["evaluate-generation", "--cohort", str(cohort), "--cross", "somewhere", "--out", str(tmp_path / "y")]) == 2
    assert "need --model" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
