"""The four stages as functions: ``pretrain_cmr(cfg)``, ``pretrain_ecg(cfg)``, ``align(cfg)``,
``finetune(cfg)``. Each takes a :class:`TrainConfig` (or a stage/size/overrides triple through
:func:`~cardionets.train.config.load_config`), the cohort from ``cfg.cohort_dir`` (or explicit
``datasets=(train, val, test)`` following the :mod:`cardionets.data` item contract), trains with
:func:`~cardionets.train.loop.fit`, and for fine-tuning evaluates the selected model once on the
held-out test split.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from . import distributed as D
from .config import TrainConfig, load_config
from .data import Subset
from .loop import FitResult, evaluate, fit
from .tasks import FinetuneTask, make_task, target_column, task_kind
from ..data import Cohort


@dataclass
class StageOutput:
    stage: str
    run_dir: Path
    fit: FitResult
    test: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"stage": self.stage, "run_dir": str(self.run_dir), "status": self.fit.status,
                "best_epoch": self.fit.best_epoch, "best_val_loss": self.fit.best_val, "steps": self.fit.steps,
                "step_seconds": self.fit.step_seconds, "seconds": self.fit.seconds, "test": self.test}


def cohort_datasets(cfg: TrainConfig, modality: str) -> tuple[Any, Any, Any]:
    """train / val / test datasets of ``cfg.cohort_dir`` (phenotype scaler fitted on train only).
    ``modality``: ``paired`` (ECG + CMR), ``ecg`` or ``cmr`` -- load only what the stage uses."""
    if not cfg.cohort_dir:
        raise InputError("no cohort: set cohort_dir (a directory written by `cardionets cohort`) or pass datasets")
    cohort = Cohort(cfg.cohort_dir)
    kw: dict[str, Any] = {"spec": cfg.preprocess}
    if modality in ("paired", "cmr"):
        kw["cmr_cache"] = True
    if cfg.stage == "align":                  # iterates ECGs, but every subject needs its cine too
        kw["usable_for"] = "paired"
    ds = cohort.datasets(modality, seed=cfg.seed, **kw)
    return ds["train"], ds["val"], ds["test"]


def _modality(cfg: TrainConfig) -> str:
    if cfg.stage == "pretrain_cmr" or (cfg.stage == "finetune" and cfg.finetune.init == "cmr_ref"):
        return "cmr"
    return "ecg"  # align iterates ECGs; its frozen-CMR embeddings come from a CMR view of the same subjects


def _finetune_subset(cfg: TrainConfig, train_set):
    """cm_subtype trains on subjects with a subtype; label_fraction keeps a seeded fraction."""
    kind, _, key = task_kind(cfg.finetune.task)
    idx = np.arange(len(train_set))
    if kind == "multiclass":
        y = target_column(train_set, key).reshape(-1)
        idx = idx[y >= 0]
    if cfg.finetune.label_fraction < 1.0:
        rng = np.random.default_rng(cfg.seed + 17)
        n = max(cfg.batch_size, int(round(cfg.finetune.label_fraction * len(idx))))
        idx = np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False))
    return train_set if len(idx) == len(train_set) else Subset(train_set, idx.tolist())


def _eval_subset(cfg: TrainConfig, ds):
    kind, _, key = task_kind(cfg.finetune.task)
    if kind != "multiclass":
        return ds
    y = target_column(ds, key).reshape(-1)
    return Subset(ds, np.flatnonzero(y >= 0).tolist())


def run_stage(cfg: TrainConfig, datasets: tuple | None = None, *, resume: str = "auto") -> StageOutput:
    cfg.validate()
    train_set, val_set, test_set = datasets if datasets is not None else cohort_datasets(cfg, _modality(cfg))
    task = make_task(cfg.stage)
    if cfg.stage == "finetune":
        train_set = _finetune_subset(cfg, train_set)
        val_set = _eval_subset(cfg, val_set)
        test_set = _eval_subset(cfg, test_set) if test_set is not None else None
    result = fit(task, cfg, train_set, val_set, resume=resume)
    out = StageOutput(cfg.stage, Path(cfg.out_dir), result)
    if cfg.stage == "finetune" and result.status != "paused" and test_set is not None and len(test_set):
        out.test = evaluate_test_split(task, cfg, test_set)
    if D.info().main:
        (Path(cfg.out_dir) / "summary.json").write_text(json.dumps(out.summary(), indent=1, default=str))
    return out


def evaluate_test_split(task: FinetuneTask, cfg: TrainConfig, test_set) -> dict:
    """Metrics of the selected model on the held-out test split, plus its predictions (npz)."""
    captured: dict[str, torch.Tensor] = {}
    metrics_fn = task.eval_metrics

    def keep(outputs):
        captured.update(outputs)
        return metrics_fn(outputs)

    task.eval_metrics = keep  # type: ignore[method-assign]
    try:
        m = evaluate(task, task.model, test_set, cfg)
    finally:
        task.eval_metrics = metrics_fn  # type: ignore[method-assign]
    m = {k.replace("val_", "test_") if k.startswith("val_") else k: v for k, v in m.items()}
    if D.info().main:
        run = Path(cfg.out_dir)
        np.savez(run / "test_predictions.npz", pred=captured["pred"].numpy(), target=captured["target"].numpy(),
                 index=captured["index"].numpy())
        (run / "test_metrics.json").write_text(json.dumps(m, indent=1))
    return m


def _cfg(stage: str, config: TrainConfig | dict | str | Path | None, overrides) -> TrainConfig:
    if isinstance(config, TrainConfig):
        if config.stage != stage:
            raise InputError(f"config is for stage {config.stage!r}, not {stage!r}")
        return config
    if isinstance(config, (str, Path)):
        return load_config(stage, path=config, overrides=overrides)
    size = (config or {}).get("size", "tiny") if isinstance(config, dict) else "tiny"
    return load_config(stage, size, overrides={**(config or {}), **(overrides or {})})


def pretrain_cmr(config=None, datasets=None, **overrides) -> StageOutput:
    """Stage 1: masked autoencoding of the CMR encoder."""
    return run_stage(_cfg("pretrain_cmr", config, overrides), datasets)


def pretrain_ecg(config=None, datasets=None, **overrides) -> StageOutput:
    """Stage 2: ST-MEM masked pretraining of the ECG encoder."""
    return run_stage(_cfg("pretrain_ecg", config, overrides), datasets)


def align(config=None, datasets=None, **overrides) -> StageOutput:
    """Stage 3: weighted-InfoNCE alignment of the ECG encoder to the frozen CMR encoder."""
    return run_stage(_cfg("align", config, overrides), datasets)


def finetune(config=None, datasets=None, **overrides) -> StageOutput:
    """Stage 4: encoder + head for phenotypes or screening (init scratch|ssl|phen_sup|cardionets|cmr_ref)."""
    return run_stage(_cfg("finetune", config, overrides), datasets)
