"""The typed run record (cardionets.run_record): one writer, one reader, old folders still load."""
from __future__ import annotations

import json

import pytest
import torch

from cardionets import __version__
from cardionets.errors import CardioNetsError
from cardionets.preprocess import DEFAULT_SPEC
from cardionets.run_record import RUN_FORMAT, read_run
from cardionets.train.checkpoint import save_model


def test_written_record_reads_back_with_relative_parents(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parent = tmp_path / "runs" / "align"
    save_model(parent, {"w": torch.zeros(2)}, {"kind": "align", "config": {"stage": "align"}})
    spec = DEFAULT_SPEC.with_(n_crops=2)
    child = tmp_path / "runs" / "finetune"
    cfg = {"stage": "finetune", "finetune": {"init_from": "runs/align"}, "preprocess": spec.to_dict()}
    save_model(child, {"w": torch.ones(2)}, {"kind": "predictor", "config": cfg})
    rec = read_run(child)
    assert rec.format == RUN_FORMAT and rec.kind == "predictor" and rec.stage == "finetune"
    assert rec.preprocess == spec
    assert rec.versions["cardionets"] == __version__ and rec.versions["torch"] == torch.__version__
    assert rec.parents == {"init_from": "../align"}
    assert len(rec.model_version) == 12
    # the folder of runs moves as a whole: parents still resolve
    moved = tmp_path / "elsewhere"
    (tmp_path / "runs").rename(moved)
    assert read_run(moved / "finetune").parent("init_from") == (moved / "align").resolve()
    with pytest.raises(CardioNetsError, match="no parent run 'cmr_from'"):
        read_run(moved / "finetune").parent("cmr_from")


def test_format_1_folder_loads_with_defaults(tmp_path):
    old = {"kind": "predictor", "config": {"stage": "finetune", "eval_crops": 1},
           "runtime": {"torch": "2.13.0", "device": "cpu"}}
    (tmp_path / "config.json").write_text(json.dumps(old))
    rec = read_run(tmp_path)
    assert rec.format == 1 and rec.preprocess == DEFAULT_SPEC.with_(n_crops=1)
    assert rec.versions["torch"] == "2.13.0" and rec.parents == {}


def test_bad_folders_fail_with_a_cardionets_error(tmp_path):
    with pytest.raises(CardioNetsError, match="not a CardioNets run directory"):
        read_run(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"preprocess": {"lowpass_hz": 999}}))
    with pytest.raises(CardioNetsError, match="bad preprocessing spec"):
        read_run(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(CardioNetsError, match="expected a JSON object"):
        read_run(tmp_path)
