"""A tiny cohort, "generated" cines, model predictions and one disease-study pack, built once per session."""
from __future__ import annotations

import json

import pytest

from .study_data import build_inputs


@pytest.fixture(scope="session")
def study_inputs(tmp_path_factory):
    return build_inputs(tmp_path_factory.mktemp("readerstudy"))


@pytest.fixture(scope="session")
def study_pack(study_inputs, tmp_path_factory):
    """A CM study: 4 real + 4 generated cases, seed 4, small images (scale 1) to stay fast."""
    from cardionets.readerstudy import PackSettings, make_pack

    root = tmp_path_factory.mktemp("pack")
    settings = PackSettings(disease="CM", seed=4, gif_scale=1, strip_scale=1)
    make_pack(study_inputs["cohort"], study_inputs["generated"], root / "pack", root / "keys" / "key.json",
              predictions=study_inputs["predictions"], settings=settings, progress=False)
    key_path = root / "keys" / "key.json"
    return {"pack": root / "pack", "key_path": key_path, "key": json.loads(key_path.read_text()),
            "settings": settings, **study_inputs}
