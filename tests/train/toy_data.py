"""A small in-memory paired cohort following the cardionets.data item contract (test fixture).

Each subject has a latent vector z; the ECG (12 x 2500 at 250 Hz), the cine (50 x 96 x 96) and the
phenotypes are all functions of z plus noise, so every stage has something to learn. Train items
carry one random 2250-sample crop drawn with torch's global RNG (as the real dataset does); eval
items carry 3 fixed crops.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class ToyPaired(Dataset):
    def __init__(self, n: int, *, mode: str = "train", seed: int = 0, n_pheno: int = 6, n_crops: int = 3):
        g = np.random.default_rng(seed)
        self.mode, self.n_crops = mode, n_crops
        self.z = g.normal(size=(n, 4)).astype(np.float32)
        t = np.arange(2500) / 250.0
        freq = 1.0 + 0.3 * self.z[:, :1]  # heart-rate-like
        lead_gain = g.normal(size=(12, 1)).astype(np.float32)
        base = np.sin(2 * np.pi * freq[:, :, None] * t[None, None, :]) * (1 + 0.5 * self.z[:, 1:2, None])
        self.ecg = (lead_gain[None] * base + 0.1 * g.normal(size=(n, 12, 2500))).astype(np.float32)
        w = g.normal(size=(4, n_pheno)).astype(np.float32)
        ph = self.z @ w + 0.1 * g.normal(size=(n, n_pheno)).astype(np.float32)
        ph = (ph - ph.mean(0)) / ph.std(0)
        ph[g.random(ph.shape) < 0.05] = np.nan
        self.phenotypes = ph.astype(np.float32)
        self.labels = np.stack([(self.z[:, 0] > 0.3), (self.z[:, 1] > 0.5), (self.z[:, 2] > 0.0),
                                (self.z[:, 3] > 0.8)], 1).astype(np.float32)
        self.cm_subtype = np.where(self.labels[:, 2] > 0, (np.abs(self.z[:, 3] * 10).astype(int) % 3), -1)
        yy, xx = np.meshgrid(np.linspace(-1, 1, 96), np.linspace(-1, 1, 96), indexing="ij")
        self._grid = (yy.astype(np.float32), xx.astype(np.float32))
        self.ids = [f"toy{seed}_{i:04d}" for i in range(n)]

    def __len__(self) -> int:
        return len(self.ids)

    def cine(self, i: int) -> np.ndarray:
        yy, xx = self._grid
        z = self.z[i]
        phase = np.linspace(0, 2 * np.pi, 50, dtype=np.float32)[:, None, None]
        r = 0.4 + 0.1 * z[0] + 0.05 * np.sin(phase + z[1])
        img = np.tanh(5 * (r - np.sqrt((yy - 0.1 * z[2]) ** 2 + xx ** 2)))  # [50, 96, 96] in [-1, 1]
        return img.astype(np.float32)

    def __getitem__(self, i: int) -> dict:
        full = self.ecg[i]
        if self.mode == "train":
            s = int(torch.randint(0, 2500 - 2250 + 1, (1,)).item())
            ecg = full[:, s:s + 2250]
        else:
            starts = np.linspace(0, 250, self.n_crops).astype(int)
            ecg = np.stack([full[:, s:s + 2250] for s in starts])
        return {"subject_id": self.ids[i], "ecg": torch.from_numpy(np.ascontiguousarray(ecg)),
                "cmr": torch.from_numpy(self.cine(i)), "phenotypes": torch.from_numpy(self.phenotypes[i]),
                "labels": torch.from_numpy(self.labels[i]),
                "cm_subtype": torch.tensor(int(self.cm_subtype[i]), dtype=torch.int64)}


def toy_splits(n_train: int = 32, n_val: int = 16, n_test: int = 16):
    return (ToyPaired(n_train, mode="train", seed=1), ToyPaired(n_val, mode="eval", seed=2),
            ToyPaired(n_test, mode="eval", seed=3))


# Very small encoders so that CPU tests take seconds.
MICRO = {"width": 32, "depth": 1, "heads": 2}
