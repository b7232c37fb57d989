"""The training path and the screening path give the same model input for the same real record.

Training: the cohort's filtered-ECG cache (cardionets.data.ecg_cache) cut into evaluation crops by
ECGDataset. Screening: cardionets.screen.records.load_chunk (read_ecg + the fused native
preprocess). Both follow one PreprocessSpec (cardionets.preprocess)."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from cardionets.data.datasets import Cohort, ECGDataset
from cardionets.preprocess import DEFAULT_SPEC
from cardionets.screen.inputs import Item
from cardionets.screen.records import load_chunk

RECORDS = ["ecg/cinc2021/E07500.hea", "ecg/cinc2021/E07506.hea", "ecg/ptb/s0010_re.hea"]


@pytest.fixture(scope="module")
def real_cohort(tiny_cohort, real_data, tmp_path_factory):
    """The tiny synthetic cohort with its first subjects' ECGs replaced by real fixture records."""
    root = tmp_path_factory.mktemp("parity") / "cohort"
    shutil.copytree(tiny_cohort, root, ignore=shutil.ignore_patterns("cache"))
    subj = pd.read_parquet(root / "subjects.parquet")
    paths = [str(real_data / r) for r in RECORDS]
    subj.loc[:len(paths) - 1, "ecg_path"] = paths
    subj.to_parquet(root / "subjects.parquet")
    return root, paths


@pytest.mark.parametrize("spec", [DEFAULT_SPEC, DEFAULT_SPEC.with_(n_crops=2, standardize="lead")],
                         ids=["default", "two-crops-per-lead"])
def test_training_input_equals_screening_input(real_cohort, spec):
    root, paths = real_cohort
    ds = ECGDataset(Cohort(root), np.arange(len(paths)), mode="eval", spec=spec)
    loaded = load_chunk([Item(f"r{i}", p, None) for i, p in enumerate(paths)], spec)
    worst = 0.0
    for i, got in enumerate(loaded):
        assert got.error is None, (paths[i], got.error)
        train = ds[i]["ecg"].numpy()
        assert train.shape == got.crops.shape == (spec.n_crops, 12, spec.crop_len)
        worst = max(worst, float(np.abs(train - got.crops).max()))
    print(f"parity max abs diff ({spec.describe()}): {worst:.3g}")
    assert worst <= 1e-5, worst
