"""Screening at scale: ECG files -> one Parquet row per record (phenotypes, disease probabilities,
quality flags, model version, error), streaming, resumable, locally or on Ray Data.

>>> from cardionets.screen import screen
>>> screen(["ecgs/"], "runs/pipeline", "out/")      # -> Summary; rows in out/shards/*.parquet

See docs/screening.md.
"""
from __future__ import annotations

from .inputs import Item, expand_inputs
from .model import PRECISIONS, ScreenModel, load_screen_model, make_runner
from .pipeline import Summary, screen
from .shards import ShardStore

__all__ = ["Item", "PRECISIONS", "ScreenModel", "ShardStore", "Summary", "expand_inputs", "load_screen_model",
           "make_runner", "screen"]
