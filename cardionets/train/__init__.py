"""Training: one loop (:func:`fit`), four stage configs and their functions.

``cardionets.train.align(config)`` etc. run a stage; ``load_config(stage, size, path, overrides)``
builds a :class:`TrainConfig` from the shipped YAML presets (``cardionets/configs``).
"""
from __future__ import annotations

from .config import AlignConfig, FinetuneConfig, MAEConfig, OptimConfig, TrainConfig, load_config, save_config
from .loop import FitResult, Task, evaluate, fit
from .stages import StageOutput, align, finetune, pretrain_cmr, pretrain_ecg, run_stage

__all__ = ["AlignConfig", "FinetuneConfig", "FitResult", "MAEConfig", "OptimConfig", "StageOutput", "Task",
           "TrainConfig", "align", "evaluate", "finetune", "fit", "load_config", "pretrain_cmr", "pretrain_ecg",
           "run_stage", "save_config"]
