"""The paper's comparison on a cohort (``cardionets reproduce``): every baseline for phenotype
regression and screening, negative:positive ratios, label efficiency, cardiomyopathy subtypes,
interpretability maps, embeddings and the generator's metrics, collected into
:class:`cardionets.eval.results.Results` and rendered by :func:`cardionets.eval.report.build_report`.
See docs/reproduce.md."""
from __future__ import annotations

from .grid import GRIDS, Grid, grid_for
from .runner import reproduce

__all__ = ["GRIDS", "Grid", "grid_for", "reproduce"]
