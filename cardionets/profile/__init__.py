"""Feature profiles of ECG and cine sets, and the distance between two sets, feature by feature:
how the synthetic cohort is checked against real recordings, and how a user characterises their
own data (``cardionets profile``; docs/cohort.md)."""
from __future__ import annotations

from .compare import compare_features
from .inputs import SetInputs, discover
from .measure import SetProfile, measure_set
from .report import comparisons, write_profile

__all__ = ["SetInputs", "SetProfile", "compare_features", "comparisons", "discover", "measure_set", "write_profile"]
