"""Training: one loop (:func:`fit`), four stage configs and their functions.

``cardionets.train.align(config)`` etc. run a stage; ``load_config(stage, size, path, overrides)``
builds a :class:`TrainConfig` from the shipped YAML presets (``cardionets/configs``). Names are
imported on first use, so ``cardionets --help`` does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AlignConfig": "config", "FinetuneConfig": "config", "MAEConfig": "config", "OptimConfig": "config",
    "TrainConfig": "config", "load_config": "config", "save_config": "config",
    "FitResult": "loop", "Task": "loop", "evaluate": "loop", "fit": "loop",
    "StageOutput": "stages", "align": "stages", "finetune": "stages", "pretrain_cmr": "stages",
    "pretrain_ecg": "stages", "run_stage": "stages", "run_pipeline": "pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
