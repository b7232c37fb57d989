"""A tiny synthetic cohort shared by the cohort tests (written once per session)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory):
    from cardionets.data.synth import write_cohort

    out = tmp_path_factory.mktemp("cohort") / "tiny"
    return write_cohort(out, n=24, seed=3, preset="enriched", workers=1, progress=False)


@pytest.fixture(scope="session")
def ukb_cohort(tmp_path_factory):
    """200 subjects with UK Biobank prevalences: enough for correlation / R^2 checks (~10 s)."""
    from cardionets.data.synth import write_cohort

    out = tmp_path_factory.mktemp("cohort") / "ukb200"
    return write_cohort(out, n=200, seed=11, preset="ukb", workers=2, progress=False)
