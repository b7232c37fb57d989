"""The synthetic paired ECG-CMR cohort: latent subjects, diseases, phenotypes, a dipole ECG model
and a 4-chamber cine model, written as WFDB + NIfTI + Parquet (see :mod:`.writer`)."""
from __future__ import annotations

from .diseases import PRESETS
from .writer import draw_subject, write_cohort

__all__ = ["PRESETS", "draw_subject", "write_cohort"]
