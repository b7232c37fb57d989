"""All four stages end to end on a toy paired cohort with micro encoders."""
import json

import numpy as np
import pytest
import torch

from conftest import micro_cfg
from cardionets.errors import CardioNetsError, InputError
from cardionets.train import finetune, load_config


def test_presets_load_and_override():
    for stage in ("pretrain_cmr", "pretrain_ecg", "align", "finetune"):
        for size in ("tiny", "base"):
            cfg = load_config(stage, size)
            assert cfg.stage == stage and cfg.size == size and cfg.epochs > 0
    cfg = load_config("finetune", "tiny", overrides=["optim.lr=3e-4", "finetune.task=disease:CM", "patience=2"])
    assert cfg.optim.lr == 3e-4 and cfg.finetune.task == "disease:CM" and cfg.patience == 2
    with pytest.raises(InputError, match="unknown config key"):
        load_config("finetune", "tiny", overrides=["optim.lrr=1"])


def test_pipeline_all_stages(pipeline, toy, tmp_path):
    ssl, al = pipeline["ssl"], pipeline["align"]
    assert ssl.fit.status == "completed" and (ssl.run_dir / "model.safetensors").exists()
    info = json.loads((al.run_dir / "config.json").read_text())
    assert info["pca_dim"] <= 32 and info["sigma"] > 0 and np.isfinite(al.fit.best_val)
    for init in ("scratch", "ssl", "cardionets", "cmr_ref"):
        r = pipeline[f"ft_{init}"]
        assert "test_loss" in r.test and "r2_mean" in r.test
        assert (r.run_dir / "test_predictions.npz").exists()
    assert 0.0 <= pipeline["ft_cm"].test["auc"] <= 1.0
    assert "accuracy" in pipeline["ft_sub"].test
    # a wrong source run is refused
    with pytest.raises(InputError, match="expected"):
        finetune(micro_cfg("finetune", tmp_path / "bad", finetune={"init": "ssl", "init_from": str(al.run_dir)}),
                 datasets=toy)


def test_non_finite_loss_stops_clearly(toy, tmp_path):
    bad = list(toy)
    cfg = micro_cfg("finetune", tmp_path / "nan", optim={"lr": 1e30, "grad_clip": 0.0}, epochs=3)
    with pytest.raises(CardioNetsError, match="non-finite"):
        finetune(cfg, datasets=bad)


class _SameCine:
    """A split whose every subject carries subject 0's cine (a cohort built from one copied file)."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return {**self.base[i], "cmr": self.base[0]["cmr"]}


def test_align_on_identical_cines_is_a_clear_error(toy, cmr_run, tmp_path):
    from cardionets.train import align

    same = tuple(_SameCine(s) for s in toy)
    cfg = micro_cfg("align", tmp_path / "align", align={"cmr_from": str(cmr_run)})
    with pytest.raises(InputError, match="same embedding to every training cine"):
        align(cfg, datasets=same)
