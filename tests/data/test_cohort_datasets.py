"""Datasets, manifest, labels and splits over a tiny synthetic cohort."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import torch

from cardionets.data import DISEASES, PHENOTYPE_NAMES
from cardionets.data.datasets import CMRDataset, Cohort, ECGDataset, PairedDataset
from cardionets.data.labels import disease_labels, negative_sample
from cardionets.data.manifest import load_manifest, write_manifest
from cardionets.data.splits import PhenotypeScaler, grouped_kfold, train_val_test_split
from cardionets.errors import InputError


def test_schema():
    assert len(PHENOTYPE_NAMES) == 82 and DISEASES == ("CAD", "HF", "CM", "PH", "PERI")


def test_paired_item_contract(tiny_cohort):
    c = Cohort(tiny_cohort)
    ds = c.datasets(seed=0)
    item = ds["train"][0]
    assert isinstance(item["subject_id"], str)
    assert item["ecg"].shape == (12, 2250) and item["ecg"].dtype == torch.float32
    assert item["cmr"].shape == (50, 96, 96) and item["cmr"].dtype == torch.float32
    assert item["cmr"].min() >= -1 and item["cmr"].max() <= 1
    assert item["phenotypes"].shape == (82,) and item["labels"].shape == (5,)
    assert item["cm_subtype"].dtype == torch.int64
    ev = ds["val"][0]["ecg"]
    assert ev.shape == (3, 12, 2250)
    assert torch.allclose(ev.mean(dim=(1, 2)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(ev.std(dim=(1, 2), unbiased=False), torch.ones(3), atol=1e-3)
    # a DataLoader collates it
    batch = next(iter(torch.utils.data.DataLoader(ds["train"], batch_size=4)))
    assert batch["ecg"].shape == (4, 12, 2250) and batch["cmr"].shape == (4, 50, 96, 96)
    assert "cmr" not in ECGDataset(c, [0, 1])[0] and "ecg" not in CMRDataset(c, [0, 1])[0]


def test_scaler_fitted_on_train_only(tiny_cohort):
    c = Cohort(tiny_cohort)
    ds = c.datasets(seed=1)
    tr = ds["split"]["train"]
    z = np.stack([ds["train"][i]["phenotypes"].numpy() for i in range(len(ds["train"]))])
    assert np.allclose(np.nanmean(z, 0), 0, atol=1e-4)
    assert np.allclose(ds["scaler"].mean, np.nanmean(c.phenotypes[tr], 0))
    # the validation split is transformed with the training statistics
    v0 = ds["split"]["val"][0]
    assert np.allclose(ds["val"][0]["phenotypes"].numpy(), ds["scaler"].transform(c.phenotypes[v0:v0 + 1])[0], atol=1e-5)


def test_labels_date_rule():
    subj = pd.DataFrame({"subject_id": ["a", "b", "c"], "ecg_date": pd.to_datetime(["2016-01-01"] * 3)})
    diag = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "c", "c", "b", "c", "a"],
                         "icd10": ["I25.2", "I42.1", "I50.9", "I27.0", "I10", "I42.0", "I30.0", "I31.3", "I33.0"],
                         "date": pd.to_datetime(["2015-01-01", "2016-01-01", "2017-01-01", "2010-05-05",
                                                 "2000-01-01", "2016-01-02", "2016-02-01", "2015-12-31",
                                                 "2014-01-01"])})
    lab = disease_labels(subj, diag)
    # PERI is I30-I32: c's effusion (I31.3) counts, b's pericarditis is dated after the ECG, I33 is endocarditis
    assert lab[list(DISEASES)].values.tolist() == [[1, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]
    assert lab["cm_subtype"].tolist() == [1, -1, -1]      # c's DCM is dated after the ECG


@pytest.mark.parametrize("ratio", [1, 2, 5, 10])
def test_negative_sampling(ratio):
    y = np.zeros(500, dtype=int)
    y[:20] = 1
    idx = negative_sample(y, ratio, seed=4)
    assert y[idx].sum() == 20 and (y[idx] == 0).sum() == 20 * ratio
    assert np.array_equal(idx, negative_sample(y, ratio, seed=4))


def test_splits_grouped_stratified_deterministic():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(300), 2)            # two exams per subject
    strata = np.repeat((rng.random(300) < 0.1).astype(int), 2)
    s1 = train_val_test_split(strata, groups, seed=5)
    s2 = train_val_test_split(strata, groups, seed=5)
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    sets = [set(groups[s1[k]]) for k in ("train", "val", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert abs(len(s1["train"]) / 600 - 0.6) < 0.03
    for k in s1:                                     # positives spread evenly
        assert abs(strata[s1[k]].mean() - strata.mean()) < 0.04
    folds = grouped_kfold(strata, groups, k=5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(600))


def test_manifest_plugs_in_real_layout(tmp_path, real_data):
    """A hand-written manifest pointing at real fixtures (ECG only, CMR only) loads and serves."""
    ecg = real_data / "ecg" / "cinc2021" / "HR06000.hea"
    subj = pd.DataFrame({"subject_id": ["p1", "p2"], "ecg_path": [str(ecg), str(ecg)],
                         "cmr_path": [str(real_data / "cmr" / "sunnybrook_SCD0000101")] * 2,
                         "ecg_date": [date(2020, 1, 1), date(2020, 1, 1)]})
    ph = pd.DataFrame({"subject_id": ["p1", "p2"], "LVEDV": [150.0, 170.0]})
    dx = pd.DataFrame({"subject_id": ["p1"], "icd10": ["I50.0"], "date": [pd.Timestamp("2019-01-01")]})
    write_manifest(tmp_path, subj, ph, dx)
    m = load_manifest(tmp_path)
    assert m.phenotypes.shape == (2, 82) and np.isnan(m.phenotypes["LVM"]).all()
    item = PairedDataset(tmp_path, mode="eval")[0]
    assert item["labels"].tolist() == [0, 1, 0, 0, 0]
    assert item["ecg"].shape == (3, 12, 2250) and item["cmr"].shape == (50, 96, 96)
    assert torch.isnan(item["phenotypes"][1])


def test_manifest_errors(tmp_path):
    with pytest.raises(InputError, match="subjects.parquet"):
        load_manifest(tmp_path)
    pd.DataFrame({"id": [1]}).to_parquet(tmp_path / "subjects.parquet")
    with pytest.raises(InputError, match="subject_id"):
        load_manifest(tmp_path)


def test_scaler_roundtrip(tmp_path):
    x = np.array([[1.0, np.nan], [3.0, 2.0], [5.0, 4.0]])
    s = PhenotypeScaler.fit(x)
    s.save(tmp_path / "s.json")
    s2 = PhenotypeScaler.load(tmp_path / "s.json")
    assert np.allclose(s2.inverse(s2.transform(x))[1:], x[1:]) and np.isnan(s.transform(x)[0, 1])


def test_cache_follows_regenerated_cohort(tmp_path):
    from cardionets.data.synth import write_cohort

    d = tmp_path / "c"
    write_cohort(d, n=3, seed=1, workers=1, progress=False)
    a = np.array(Cohort(d).ecg_cache())
    write_cohort(d, n=3, seed=2, workers=1, progress=False)
    b = np.array(Cohort(d).ecg_cache())
    assert a.shape == b.shape == (3, 12, 2500) and not np.allclose(a, b)
