"""Paired ECG-CMR cohorts: the schema (:data:`PHENOTYPE_NAMES`, :data:`DISEASES`), the Parquet
manifest, ICD-10 labels, grouped stratified splits, PyTorch datasets and the synthetic cohort
generator (:mod:`cardionets.data.synth`). See docs/cohort.md."""
from __future__ import annotations

from .schema import CM_SUBTYPES, DISEASES, ICD10_RULES, PHENOTYPE_NAMES, PHENOTYPE_UNITS
import importlib

_LAZY = {
    "Cohort": "datasets", "PairedDataset": "datasets", "ECGDataset": "datasets", "CMRDataset": "datasets",
    "Manifest": "manifest", "load_manifest": "manifest", "write_manifest": "manifest",
    "disease_labels": "labels", "negative_sample": "labels", "NEG_RATIOS": "labels",
    "PhenotypeScaler": "splits", "grouped_kfold": "splits", "train_val_test_split": "splits",
    "strata_from_labels": "splits", "write_cohort": "synth",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CM_SUBTYPES", "DISEASES", "ICD10_RULES", "PHENOTYPE_NAMES", "PHENOTYPE_UNITS", *_LAZY]
