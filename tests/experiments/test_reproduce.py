"""End-to-end `reproduce` on a very small synthetic cohort (micro encoders, one epoch): every report
section is filled or says why it was not run, and a second invocation reuses every run."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from cardionets.data.schema import DISEASES
from cardionets.experiments import grid_for, reproduce
from cardionets.experiments.runner import kfold_split, plan

@pytest.fixture(autouse=True)
def _reference_loss(monkeypatch):
    # conftest sets TRITON_INTERPRET=1 on CPU; the interpreted Triton InfoNCE would dominate the test
    monkeypatch.setenv("CARDIONETS_BACKEND_WEIGHTED_INFONCE", "reference")


MICRO = {"all": {"encoder": {"width": 32, "depth": 1, "heads": 2}, "epochs": 1, "batch_size": 2,
                 "eval_batch_size": 16, "log_every": 1, "patience": 0, "eval_crops": 1}}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    from cardionets.data import write_cohort

    d = tmp_path_factory.mktemp("cohort") / "c60"
    write_cohort(d, 60, seed=0, preset="enriched", workers=1)
    return d


def small_grid(**kw):
    return grid_for("tiny", overrides=MICRO, finetune_epochs=1, similarity_n=6, probe_n=16, ratios=(1,),
                    ratio_models=("scratch", "cardionets"), fractions=(0.5, 1.0),
                    fraction_models=("cardionets",), min_positives=1, kfold=3, kfold_models=("cardionets",), **kw)


def test_plan_covers_the_grid():
    g = grid_for("tiny")
    jobs = plan(g)
    names = [j.run for j in jobs]
    assert names[0] == "finetune_phenotypes_scratch"  # phen_sup screening starts from it
    assert {j.init for j in jobs if j.kind == "screening"} == set(g.models)
    assert {(j.key, j.init) for j in jobs if j.kind == "ratio"} == {(r, m) for r in g.ratios for m in g.ratio_models}
    assert {j.key for j in jobs if j.kind == "fraction"} == set(g.fractions)
    assert "finetune_disease_CM_scratch" in names  # the 100% fraction run has the main run's name
    assert not any(j.kind == "kfold" for j in jobs)  # k-fold is opt-in
    k5 = [j for j in plan(grid_for("tiny", kfold=5)) if j.kind == "kfold"]
    assert {(j.key, j.init) for j in k5} == {((5, i), m) for i in range(5) for m in g.kfold_models}
    assert "finetune_disease_CM_fold1of5_scratch" in {j.run for j in k5}
    with pytest.raises(Exception, match="kfold must be 0"):
        grid_for("tiny", kfold=2)
    base = plan(grid_for("base"))
    assert sum(j.kind == "screening" for j in base) == len(DISEASES) * 5  # one binary model per disease and init
    assert len(base) > len(jobs)


def test_reproduce_end_to_end_and_resume(cohort, tmp_path):
    out = tmp_path / "rep"
    t0 = time.perf_counter()
    res = reproduce(cohort, out, grid=small_grid(), n_boot=100, n_perm=100, progress=False, echo=lambda s: None)
    first = time.perf_counter() - t0
    html = Path(res["report"]).read_text()
    st = json.loads((out / "results.json").read_text())
    for key in ("screening", "ratios", "label_efficiency", "phenotypes", "similarity", "embeddings"):
        assert st[key], f"section {key} empty"
    for name in ("phenotype_scatter", "ratios", "label_efficiency", "similarity", "tsne", "roc"):
        assert (out / "figures" / f"{name}.png").is_file(), name
    assert "not run" in html  # generation (no --generator) is marked
    assert "k-fold cross-validation was not requested" not in html
    assert len(st["kfold"]["CM"]["cardionets"]["per_fold"]) == 3 and "fold i+1 the validation set" in html
    # every run directory has its predictions; a second call retrains nothing
    runs = out / "runs"
    stamps = {p: p.stat().st_mtime_ns for p in runs.rglob("*.safetensors")}
    log: list[str] = []
    t0 = time.perf_counter()
    reproduce(cohort, out, grid=small_grid(), n_boot=100, n_perm=100, progress=False, echo=log.append)
    second = time.perf_counter() - t0
    assert not any("trained" in line for line in log), log
    assert sum("reused" in line for line in log) >= 10
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("*.safetensors")} == stamps
    assert second < first
    # the saved predictions give the same Results back
    from cardionets.eval.results import Results

    r = Results.load(out / "predictions.npz")
    assert np.isfinite(r.phenotypes["cardionets"].y_pred).any()
    assert r.ratios["CM"][1]["cardionets"].val_true is not None  # validation predictions for Youden


def test_kfold_split_partitions_the_cohort():
    from cardionets.data.splits import grouped_kfold, train_val_test_split

    strata = np.arange(100) % 3
    groups = np.arange(100)
    folds = grouped_kfold(strata, groups, k=5, seed=0)
    for i in range(5):
        s = kfold_split(folds, i)
        assert np.array_equal(s["test"], folds[i]) and np.array_equal(s["val"], folds[(i + 1) % 5])
        allidx = np.concatenate([s["train"], s["val"], s["test"]])
        assert len(allidx) == 100 and len(np.unique(allidx)) == 100
    # with k = 5 and the same seed, fold 5 is the 60/20/20 split's test set
    assert np.array_equal(kfold_split(folds, 4)["test"], train_val_test_split(strata, groups, seed=0)["test"])
