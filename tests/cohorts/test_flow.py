"""Ingested cohorts flow through the engine: fine-tuning (ECG-only MIMIC, paired UK Biobank),
batch screening of their ECG manifest, and external validation on a cohort the model never saw."""
from __future__ import annotations

import json

import pandas as pd
import pytest

MICRO = ["--set", "encoder.width=32", "--set", "encoder.depth=1", "--set", "encoder.heads=2",
         "--set", "eval_batch_size=4", "--epochs", "1", "--batch-size", "2", "--no-progress"]


@pytest.fixture(scope="module")
def ukb_runs(ukb_cohort, tmp_path_factory):
    from cardionets.cli import main

    out, _ = ukb_cohort
    runs = tmp_path_factory.mktemp("runs")
    for task in ("diseases", "phenotypes"):
        assert main(["finetune", "--cohort", str(out), "--task", task, "--init", "scratch",
                     "--out", str(runs / f"finetune_{task}_scratch"), *MICRO]) == 0
    return runs


def test_ecg_only_cohort_finetunes(mimic_cohort, tmp_path):
    from cardionets.cli import main

    out, _ = mimic_cohort
    assert main(["finetune", "--cohort", str(out), "--task", "disease:CM", "--init", "scratch",
                 "--out", str(tmp_path / "run"), *MICRO]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] >= 1
    # rows without a usable ECG stay out of every split
    from cardionets.data import Cohort

    c = Cohort(out)
    ds = c.datasets("ecg")
    used = set().union(*(set(ds[k].indices.tolist()) for k in ("train", "val", "test")))
    missing = c.manifest.subjects.index[c.manifest.subjects["exam_id"] == "40000013"][0]
    assert missing not in used and len(used) == 12


def test_ukb_cohort_trains_and_screens(ukb_cohort, ukb_runs, tmp_path):
    from cardionets.cli import main

    out, _ = ukb_cohort
    for task in ("diseases", "phenotypes"):
        assert json.loads((ukb_runs / f"finetune_{task}_scratch" / "summary.json").read_text())["status"] == "completed"
    assert main(["screen", str(out / "ecg_manifest.csv"), "--model", str(ukb_runs), "--out", str(tmp_path / "s"),
                 "--merge", "--no-progress"]) in (0, 1)
    res = pd.read_parquet(tmp_path / "s" / "screen.parquet")
    manifest = pd.read_csv(out / "ecg_manifest.csv", dtype=str)
    assert len(res) == len(manifest) == 12                           # one row per ECG file, broken ones as errors
    bad = res[res["record_id"].astype(str) == "1000012"]
    assert len(bad) == 1 and bad["error"].notna().all()


def test_external_validation_on_an_unseen_cohort(ukb_runs, mimic_cohort, tmp_path, capsys):
    from cardionets.cli import main

    cohort, _ = mimic_cohort
    rc = main(["evaluate", "--model", str(ukb_runs), "--cohort", str(cohort), "--out", str(tmp_path / "ev"),
               "--n-boot", "200", "--n-perm", "200", "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "| CM | scratch | 12 (4) |" in printed and "| HF | scratch | 12 (2) |" in printed
    st = json.loads((tmp_path / "ev" / "results.json").read_text())
    auc = st["screening"]["CM"]["scratch"]["auc"]
    assert auc["low"] <= auc["estimate"] <= auc["high"] and st["settings"]["n_bootstrap"] == 200
    ev = json.loads((tmp_path / "ev" / "evaluate.json").read_text())
    assert "holds no value of any phenotype" in ev["not_evaluated"]["phenotypes:scratch"]
    assert ev["rows_without_usable_ecg"] == 1
    assert (tmp_path / "ev" / "report.html").is_file() and (tmp_path / "ev" / "metrics.md").is_file()


def test_screening_study_on_an_ecg_only_cohort(mimic_cohort, tmp_path):
    """reproduce on MIMIC (no cines, no phenotypes): only the ECG models run, the rest says why."""
    from cardionets.experiments import grid_for, reproduce

    out, _ = mimic_cohort
    over = {"all": {"encoder.width": 32, "encoder.depth": 1, "encoder.heads": 2, "batch_size": 2,
                    "eval_batch_size": 4, "epochs": 1, "mae.decoder_width": 32, "mae.decoder_depth": 1}}
    grid = grid_for("tiny", overrides=over, finetune_epochs=1, ratios=(1,), fractions=(1.0,), subtypes=False)
    res = reproduce(out, tmp_path / "rep", grid=grid, n_boot=20, n_perm=20, progress=False, echo=lambda s: None)
    runs = tmp_path / "rep" / "runs"
    assert (runs / "pretrain_ecg" / "model.safetensors").is_file()
    assert not (runs / "pretrain_cmr").exists() and not (runs / "align").exists()
    assert (runs / "finetune_diseases_ssl" / "reproduce_predictions.npz").is_file()
    assert "no usable cine" in res["not_run"]["models:cardionets,cmr_ref"]
    assert "no phenotype values" in res["not_run"]["phenotypes"]
    assert (tmp_path / "rep" / "report.html").is_file()


def test_splits_keep_only_rows_with_what_the_stage_needs(ukb_cohort):
    from cardionets.data import Cohort

    out, _ = ukb_cohort
    c = Cohort(out)
    n = {k: int(c.usable(k).sum()) for k in ("ecg", "cmr", "paired")}
    assert n == {"ecg": 11, "cmr": 9, "paired": 8}
    for kind, usable_for, expect in (("ecg", None, 11), ("cmr", None, 9), ("ecg", "paired", 8)):
        ds = c.datasets(kind, usable_for=usable_for)
        rows = sorted(i for k in ("train", "val", "test") for i in ds["split"][k].tolist())
        assert len(rows) == expect and c.usable(usable_for or kind)[rows].all()
