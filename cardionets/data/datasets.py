"""PyTorch datasets over a cohort manifest: paired (ECG, CMR, phenotypes), ECG-only with labels,
CMR-only.

Item contract of :class:`PairedDataset` (other packages code against it)::

    {"subject_id": str,
     "ecg":        float32 [12, crop_len]  (mode "train": one random crop)
                   or      [n_crops, 12, crop_len] (mode "eval": evenly spaced crops),
                   each crop standardised as the preprocessing spec says (default: 2250 samples
                   at 250 Hz, 3 evaluation crops, one mean / std over all leads of a crop),
     "cmr":        float32 [50, 96, 96] in [-1, 1],
     "phenotypes": float32 [82] standardised with the training split's statistics (NaN = missing),
     "labels":     float32 [5] 0/1 for DISEASES = ("CAD", "HF", "CM", "PH", "PERI"),
     "cm_subtype": int64 (-1 none, 0 DCM, 1 HCM, 2 RCM)}

:class:`ECGDataset` gives the same dict without "cmr", :class:`CMRDataset` without "ecg".
:class:`Cohort` holds the manifest, the labels and the splits; ``Cohort.datasets(...)`` builds
train/val/test datasets with the phenotype scaler fitted on train only.

The ECG of an item is what screening gives for the same file (:mod:`cardionets.screen`): both cut
and standardise crops of the same natively filtered record with the same spec
(tests/data/test_preprocess_parity.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from torch.utils.data import Dataset
from tqdm import tqdm

from .. import dsp
from ..errors import InputError
from ..io.cmr import read_cmr
from ..preprocess import DEFAULT_SPEC, PreprocessSpec
from ..progress import beat
from .ecg_cache import ECGCache, build_ecg_cache, cache_key, file_stamp
from .labels import disease_labels, negative_sample
from .manifest import Manifest, load_manifest
from .schema import DISEASES, PHENOTYPE_NAMES
from .splits import PhenotypeScaler, grouped_kfold, strata_from_labels, train_val_test_split


class Cohort:
    """A loaded manifest with its ICD-10 labels (dated against ``reference``)."""

    def __init__(self, source: str | Path | Manifest, reference: str = "ecg_date"):
        self.manifest = source if isinstance(source, Manifest) else load_manifest(source)
        subj = self.manifest.subjects
        if reference not in subj.columns:
            subj = subj.assign(**{reference: pd.Timestamp.max})
        lab = disease_labels(subj, self.manifest.diagnoses, reference=reference)
        self.labels = lab[list(DISEASES)].to_numpy(dtype=np.float32)      # [n, len(DISEASES)]
        self.cm_subtype = lab["cm_subtype"].to_numpy(dtype=np.int64)       # [n]
        self.phenotypes = self.manifest.phenotype_matrix()                 # [n, 82] raw units

    def __len__(self) -> int:
        return len(self.manifest)

    @property
    def root(self) -> Path:
        return self.manifest.root

    @property
    def subject_ids(self) -> list[str]:
        return self.manifest.ids

    def split(self, seed: int = 0, fractions=(0.6, 0.2, 0.2)) -> dict[str, np.ndarray]:
        """Subject-grouped 60/20/20 split stratified by disease, deterministic from ``seed``."""
        return train_val_test_split(strata_from_labels(self.labels), self.manifest.subjects["subject_id"],
                                    seed=seed, fractions=fractions)

    def usable(self, modality: str) -> np.ndarray:
        """bool [n]: rows with a usable ECG ("ecg"), cine ("cmr") or both ("paired"): a path and no
        recorded error (``ecg_error`` / ``cmr_error``, written by ``cardionets ingest``)."""
        s = self.manifest.subjects

        def ok(col: str, err: str) -> np.ndarray:
            has = np.array([isinstance(v, str) and v.strip() != "" for v in s[col]], dtype=bool)
            if err in s.columns:
                has &= np.array([not (isinstance(v, str) and v.strip()) for v in s[err]], dtype=bool)
            return has

        if modality not in ("ecg", "cmr", "paired"):
            raise InputError(f"modality must be ecg, cmr or paired, got {modality!r}")
        ecg = ok("ecg_path", "ecg_error") if modality in ("ecg", "paired") else True
        cmr = ok("cmr_path", "cmr_error") if modality in ("cmr", "paired") else True
        return np.ones(len(s), dtype=bool) & ecg & cmr

    def kfold(self, k: int = 5, seed: int = 0) -> list[np.ndarray]:
        return grouped_kfold(strata_from_labels(self.labels), self.manifest.subjects["subject_id"], k=k, seed=seed)

    def negative_sampled(self, indices: np.ndarray, disease: str, ratio: int, seed: int = 0) -> np.ndarray:
        """The subset of ``indices`` keeping all ``disease`` positives and ``ratio`` x negatives."""
        j = list(DISEASES).index(disease)
        indices = np.asarray(indices)
        return indices[negative_sample(self.labels[indices, j], ratio, seed)]

    def scaler(self, train_indices: np.ndarray) -> PhenotypeScaler:
        return PhenotypeScaler.fit(self.phenotypes[np.asarray(train_indices)])

    def ecg_cache(self, spec: PreprocessSpec = DEFAULT_SPEC, progress: bool = False) -> ECGCache:
        """Every subject's ECG filtered as ``spec`` says (built once, see :mod:`.ecg_cache`)."""
        return build_ecg_cache(self.root, self.manifest.subjects["ecg_path"].tolist(), spec, progress=progress)

    def datasets(self, kind: str = "paired", seed: int = 0, split: dict[str, np.ndarray] | None = None,
                 usable_for: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """{"train", "val", "test": datasets, "scaler": PhenotypeScaler, "split": indices}. Rows
        without what ``usable_for`` (default ``kind``) needs stay out of every split."""
        cls = {"paired": PairedDataset, "ecg": ECGDataset, "cmr": CMRDataset}[kind]
        split = split or self.split(seed=seed)
        usable = self.usable(usable_for or kind)
        split = {k: np.asarray(v)[usable[np.asarray(v, dtype=np.int64)]] for k, v in split.items()}
        scaler = self.scaler(split["train"])
        out: dict[str, Any] = {"scaler": scaler, "split": split}
        for name, idx in split.items():
            out[name] = cls(self, idx, mode="train" if name == "train" else "eval", scaler=scaler, **kwargs)
        return out


class _CohortDataset(Dataset):
    """Shared machinery: indices into a cohort, standardised phenotypes, labels, ECG/CMR access."""

    uses_ecg = True
    uses_cmr = True

    def __init__(self, cohort: Cohort | str | Path, indices=None, *, mode: str = "train",
                 spec: PreprocessSpec = DEFAULT_SPEC, n_crops: int | None = None, scaler: PhenotypeScaler | None = None,
                 cmr_cache: bool = False, progress: bool = False):
        """``spec``: how ECGs become model input; ``n_crops`` (optional) overrides its evaluation crops."""
        if mode not in ("train", "eval"):
            raise InputError(f"dataset mode must be 'train' or 'eval', got {mode!r}")
        self.cohort = cohort if isinstance(cohort, Cohort) else Cohort(cohort)
        self.indices = np.arange(len(self.cohort)) if indices is None else np.asarray(indices, dtype=np.int64)
        self.mode = mode
        self.spec = spec if n_crops is None else spec.with_(n_crops=int(n_crops))
        self.scaler = scaler or self.cohort.scaler(self.indices)
        self._phen = self.scaler.transform(self.cohort.phenotypes)          # [n, 82]
        self._ecg = self.cohort.ecg_cache(spec, progress) if self.uses_ecg else None
        self._cmr = _cmr_cache(self.cohort, progress) if (self.uses_cmr and cmr_cache) else None

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def n_crops(self) -> int:
        return self.spec.n_crops

    def _ecg_item(self, row: int) -> torch.Tensor:
        full = self._ecg[row]                                                # [12, n] filtered, n >= crop_len
        L = self.spec.crop_len
        if self.mode == "train":
            s = int(torch.randint(0, full.shape[-1] - L + 1, (1,)).item())
            return torch.from_numpy(dsp.standardize(full[:, s:s + L], self.spec))   # [12, L]
        crops = dsp.standardize(dsp.crops(full, spec=self.spec), self.spec)  # [n_crops, 12, L]
        if crops.shape[0] != self.n_crops:      # a record exactly one crop long: one crop, repeated as screening does
            crops = np.repeat(crops, self.n_crops, axis=0)
        return torch.from_numpy(crops)

    def _cmr_item(self, row: int) -> torch.Tensor:
        if self._cmr is not None:
            return torch.from_numpy(np.asarray(self._cmr[row], dtype=np.float32))
        return torch.from_numpy(read_cohort_cmr(self.cohort, row))

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = int(self.indices[i])
        item: dict[str, Any] = {"subject_id": self.cohort.subject_ids[row]}
        if self.uses_ecg:
            item["ecg"] = self._ecg_item(row)
        if self.uses_cmr:
            item["cmr"] = self._cmr_item(row)
        item["phenotypes"] = torch.from_numpy(self._phen[row].copy())
        item["labels"] = torch.from_numpy(self.cohort.labels[row].copy())
        item["cm_subtype"] = torch.tensor(int(self.cohort.cm_subtype[row]), dtype=torch.int64)
        return item


class PairedDataset(_CohortDataset):
    """(ECG, CMR, phenotypes, labels) per exam; see the module docstring for the item."""


class ECGDataset(_CohortDataset):
    """ECG with phenotypes and disease labels (no CMR needed in the manifest)."""
    uses_cmr = False


class CMRDataset(_CohortDataset):
    """CMR with phenotypes and disease labels (no ECG needed in the manifest)."""
    uses_ecg = False


def read_cohort_cmr(cohort: Cohort, row: int) -> np.ndarray:
    p = cohort.manifest.resolve(cohort.manifest.subjects["cmr_path"].iloc[row])
    if p is None:
        raise InputError(f"subject {cohort.subject_ids[row]}: no cmr_path in the manifest")
    return read_cmr(p)


def _cmr_cache(cohort: Cohort, progress: bool) -> np.ndarray:
    """float16 [N, 50, 96, 96] memory map of the normalised cines, built once per manifest."""
    paths = [str(p) for p in cohort.manifest.subjects["cmr_path"].tolist()]
    npy = cohort.root / "cache" / f"cmr96_{cache_key(paths + [file_stamp(cohort.root, p) for p in paths])}.npy"
    if not npy.is_file():
        npy.parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{npy}.tmp.{os.getpid()}.npy"  # per process: two stages may build the same cache at once
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(paths), 50, 96, 96))
        it = tqdm(range(len(paths)), desc="cmr cache", unit="cine", disable=not progress)
        usable = cohort.usable("cmr")
        # One BLAS thread: each cine's resampling is a few 96 x 96 products, where a second OpenBLAS
        # thread only spins (measured 5x the CPU time of one thread, docs/demo.md).
        with threadpool_limits(1):
            for i in it:
                arr[i] = read_cohort_cmr(cohort, i).astype(np.float16) if usable[i] else np.nan
                beat("cine cache", i + 1, len(paths), "cines read and normalised")
        arr.flush()
        del arr
        Path(tmp).replace(npy)
    return np.load(npy, mmap_mode="r")


__all__ = ["CMRDataset", "Cohort", "ECGDataset", "PairedDataset", "PHENOTYPE_NAMES", "DISEASES"]
