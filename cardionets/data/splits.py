"""Subject-grouped, stratified splits (k-fold and 60/20/20), deterministic from a seed, and the
phenotype standardiser fitted on the training split only."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from sklearn.model_selection import StratifiedGroupKFold
import warnings


def strata_from_labels(labels: np.ndarray) -> np.ndarray:
    """One stratum per exam: the rarest positive disease column (or -1 = none), so every disease
    is spread over the folds."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return labels.astype(np.int64)
    freq = labels.sum(0)
    order = np.argsort(freq)                      # rarest first
    out = np.full(len(labels), -1, dtype=np.int64)
    for j in order[::-1]:
        out[labels[:, j] > 0] = j
    return out


def grouped_kfold(strata: np.ndarray, groups, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """k folds of row indices: no group spans two folds; strata balanced across folds."""
    strata = np.asarray(strata)
    groups = np.asarray(groups)
    if len(np.unique(groups)) < k:
        raise InputError(f"cannot make {k} folds from {len(np.unique(groups))} subjects")
    # StratifiedGroupKFold needs each class in >= 1 group per fold to balance; rare classes are
    # fine (it warns); silence the warning, the split is still grouped and deterministic.
    skf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        folds = [np.sort(test) for _, test in skf.split(np.zeros(len(strata)), strata, groups)]
    return folds


def train_val_test_split(strata: np.ndarray, groups, seed: int = 0,
                         fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> dict[str, np.ndarray]:
    """60/20/20 (default) grouped stratified split via 5 folds (3 train, 1 val, 1 test)."""
    if not np.isclose(sum(fractions), 1.0):
        raise InputError(f"split fractions must sum to 1, got {fractions}")
    k = 5 if fractions == (0.6, 0.2, 0.2) else 20
    folds = grouped_kfold(strata, groups, k=k, seed=seed)
    n_tr = int(round(fractions[0] * k))
    n_va = int(round(fractions[1] * k))
    return {"train": np.sort(np.concatenate(folds[:n_tr])),
            "val": np.sort(np.concatenate(folds[n_tr:n_tr + n_va])),
            "test": np.sort(np.concatenate(folds[n_tr + n_va:]))}


@dataclass
class PhenotypeScaler:
    """(x - mean) / std per phenotype, NaN-aware; fit on the training split only."""
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "PhenotypeScaler":
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(x, axis=0)
                std = np.nanstd(x, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        return cls(mean=mean, std=std)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64) * self.std + self.mean

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"mean": self.mean.tolist(), "std": self.std.tolist()}))

    @classmethod
    def load(cls, path: str | Path) -> "PhenotypeScaler":
        d = json.loads(Path(path).read_text())
        return cls(mean=np.asarray(d["mean"]), std=np.asarray(d["std"]))
