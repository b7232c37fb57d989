"""All four stages end to end on a toy paired cohort with micro encoders."""
import json

import numpy as np
import pytest
import torch

from conftest import micro_cfg
from cardionets.errors import CardioNetsError, InputError
from cardionets.train import align, finetune, load_config, pretrain_ecg


def test_presets_load_and_override():
    for stage in ("pretrain_cmr", "pretrain_ecg", "align", "finetune"):
        for size in ("tiny", "base"):
            cfg = load_config(stage, size)
            assert cfg.stage == stage and cfg.size == size and cfg.epochs > 0
    cfg = load_config("finetune", "tiny", overrides=["optim.lr=3e-4", "finetune.task=disease:CM", "patience=2"])
    assert cfg.optim.lr == 3e-4 and cfg.finetune.task == "disease:CM" and cfg.patience == 2
    with pytest.raises(InputError, match="unknown config key"):
        load_config("finetune", "tiny", overrides=["optim.lrr=1"])


def test_pipeline_all_stages(toy, cmr_run, tmp_path):
    ssl = pretrain_ecg(micro_cfg("pretrain_ecg", tmp_path / "ssl", epochs=1), datasets=toy)
    assert ssl.fit.status == "completed" and (ssl.run_dir / "model.safetensors").exists()
    al = align(micro_cfg("align", tmp_path / "align", align={"cmr_from": str(cmr_run), "ecg_init_from": str(ssl.run_dir)}),
               datasets=toy)
    info = json.loads((al.run_dir / "config.json").read_text())
    assert info["pca_dim"] <= 32 and info["sigma"] > 0 and np.isfinite(al.fit.best_val)
    inits = {"scratch": None, "ssl": ssl.run_dir, "cardionets": al.run_dir, "cmr_ref": cmr_run}
    results = {}
    for init, src in inits.items():
        ft = {"task": "phenotypes", "init": init, "init_from": str(src) if src else None}
        r = finetune(micro_cfg("finetune", tmp_path / f"ft_{init}", finetune=ft, epochs=1), datasets=toy)
        results[init] = r
        assert "test_loss" in r.test and "r2_mean" in r.test
        assert (r.run_dir / "test_predictions.npz").exists()
    # phen_sup starts from the phenotype-regression model; screening tasks
    ft = {"task": "disease:CM", "init": "phen_sup", "init_from": str(results["scratch"].run_dir)}
    r = finetune(micro_cfg("finetune", tmp_path / "ft_cm", finetune=ft, epochs=1), datasets=toy)
    assert 0.0 <= r.test["auc"] <= 1.0
    r = finetune(micro_cfg("finetune", tmp_path / "ft_sub", finetune={"task": "cm_subtype"}, epochs=1), datasets=toy)
    assert "accuracy" in r.test
    r = finetune(micro_cfg("finetune", tmp_path / "ft_all", finetune={"task": "diseases"}, epochs=1), datasets=toy)
    assert "auc_CM" in r.test
    # a wrong source run is refused
    with pytest.raises(InputError, match="expected"):
        finetune(micro_cfg("finetune", tmp_path / "bad", finetune={"init": "ssl", "init_from": str(al.run_dir)}),
                 datasets=toy)


def test_non_finite_loss_stops_clearly(toy, tmp_path):
    bad = list(toy)
    cfg = micro_cfg("finetune", tmp_path / "nan", optim={"lr": 1e30, "grad_clip": 0.0}, epochs=3)
    with pytest.raises(CardioNetsError, match="non-finite"):
        finetune(cfg, datasets=bad)
