"""Shared fixtures for the screening tests: a 40-record synthetic cohort and an untrained micro model."""
from __future__ import annotations

import pytest

MICRO = dict(width=32, depth=1, heads=2)  # the encoder architecture at a size that scores 100s of records/s


@pytest.fixture(scope="session")
def screen_cohort(tmp_path_factory):
    from cardionets.data.synth import write_cohort

    out = tmp_path_factory.mktemp("screen") / "cohort"
    write_cohort(out, n=40, seed=5, preset="enriched", workers=1, progress=False)
    return out / "ecg"


@pytest.fixture(scope="session")
def screen_model(tmp_path_factory):
    from cardionets.screen.untrained import write_untrained_model

    return write_untrained_model(tmp_path_factory.mktemp("screen") / "model", "tiny", seed=1, **MICRO)
