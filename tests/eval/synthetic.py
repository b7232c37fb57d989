"""Synthetic predictions for testing the report: five models of increasing quality on shared test
cases (scores correlated across models through a shared per-subject term, as real models are)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cardionets.eval.results import (EmbeddingSet, Generation, PhenotypePredictions, Results, ScorePredictions,
                                     SimilarityMaps)

QUALITY = {"scratch": 0.5, "ssl": 0.8, "phen_sup": 1.0, "cardionets": 1.3, "cmr_ref": 1.7}
PHENOTYPES = {"LVEDV": (150, 30), "LVESV": (60, 15), "LVSV": (90, 20), "LVEF": (60, 6), "LVM": (100, 25),
              "RVEDV": (160, 35)}


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _binary(rng, n, prevalence, quality: dict, shared=None):
    y = (rng.random(n) < prevalence).astype(int)
    common = rng.normal(size=n) if shared is None else shared[:n]
    out = {}
    for m, q in quality.items():
        z = q * 1.4 * y + 0.6 * common + rng.normal(size=n)
        out[m] = _sigmoid(z - 1.0 - 0.7 * q)
    return y, out


def _task(rng, n_test, n_val, prevalence, quality):
    y, s = _binary(rng, n_test, prevalence, quality)
    yv, sv = _binary(rng, n_val, prevalence, quality)
    return {m: ScorePredictions(y, s[m], yv, sv[m]) for m in quality}


def _phenotypes(rng, n, quality, missing=0.03):
    names = list(PHENOTYPES)
    true = np.stack([rng.normal(mu, sd, n) for mu, sd in PHENOTYPES.values()], 1)
    true[rng.random(true.shape) < missing] = np.nan
    out = {}
    common = rng.normal(size=true.shape)
    for m, q in quality.items():
        r2 = q / (q + 0.8)                      # 0.38 .. 0.68
        rho = np.sqrt(r2)
        sd = np.array([s for _, s in PHENOTYPES.values()])
        mu = np.array([u for u, _ in PHENOTYPES.values()])
        noise = (0.5 * common + np.sqrt(0.75) * rng.normal(size=true.shape)) * sd * np.sqrt(1 - r2)
        pred = mu + rho * rho * (np.nan_to_num(true, nan=0) - mu) + noise
        out[m] = PhenotypePredictions(true, pred, names)
    return out


def _frames(rng, n):
    yy, xx = np.mgrid[0:96, 0:96]
    f = np.empty((n, 96, 96))
    for i in range(n):
        cy, cx = 48 + rng.normal(0, 4), 44 + rng.normal(0, 4)
        r = np.hypot((yy - cy) / 22, (xx - cx) / 16)
        f[i] = np.clip(1.2 - r, 0, 1) * 0.8 + 0.15 * rng.random((96, 96))
    return f


def _similarity(rng, n, quality):
    g = np.arange(6) + 0.5
    yy, xx = np.meshgrid(g, g, indexing="ij")
    heart = np.exp(-((yy - 3) ** 2 / 2.0 + (xx - 2.8) ** 2 / 1.5))
    frames = _frames(rng, n)
    return {m: SimilarityMaps((0.05 + 0.25 * q * heart + 0.08 * rng.normal(size=(n, 6, 6))).reshape(n, 36),
                              frames) for m, q in quality.items()}


def _embeddings(rng, n, quality):
    labels = rng.integers(0, 4, n)
    centres = rng.normal(size=(4, 64))
    return {m: EmbeddingSet(centres[labels] * q * 0.9 + rng.normal(size=(n, 64)), labels,
                            ["healthy", "CAD", "HF", "CM"]) for m, q in quality.items()}


def _strips(rng, out_dir: Path, k=2):
    from cardionets.eval.plots import _figure, save_png
    paths = []
    for i in range(k):
        fr = _frames(rng, 2)
        fig = _figure(8, 2.2)
        axes = fig.subplots(2, 6)
        for r, lab in enumerate(("real", "generated")):
            for c in range(6):
                phase = 1 + 0.12 * np.sin(2 * np.pi * c / 6)
                axes[r, c].imshow(np.clip(fr[r] * phase, 0, 1), cmap="gray")
                axes[r, c].set_axis_off()
            axes[r, 0].set_title(lab, fontsize=8, loc="left")
        paths.append(save_png(fig, out_dir / f"strip_{i}.png", dpi=60))
    return paths


def synthetic_results(seed: int = 0, n_test: int = 400, n_val: int = 300, strips_dir: Path | None = None,
                      small: bool = False) -> Results:
    rng = np.random.default_rng(seed)
    q = QUALITY
    res = Results(meta={"cohort": "synthetic predictions (test)", "preset": "none", "seed": seed})
    res.screening = {t: _task(rng, n_test, n_val, prev, q) for t, prev in
                     {"CAD": 0.3, "HF": 0.2, "CM": 0.15, "PH": 0.1}.items()}
    res.phenotypes = _phenotypes(rng, n_test, q)
    y3 = rng.integers(0, 3, n_test // 2)
    res.subtypes = {}
    for m, qq in q.items():
        logits = np.eye(3)[y3] * 1.5 * qq + rng.normal(size=(y3.size, 3))
        res.subtypes[m] = ScorePredictions(y3, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    if not small:
        res.ratios = {"CAD": {}}
        for r in (1, 2, 5, 10):
            y, s = _binary(rng, n_test, 1 / (1 + r), q)
            res.ratios["CAD"][r] = {m: ScorePredictions(y, s[m]) for m in q}
        res.label_efficiency = {"CAD": {}, "phenotypes": {}}
        for f in (0.1, 0.25, 0.5, 0.75, 1.0):
            qf = {m: v * (0.4 + 0.6 * f) for m, v in q.items()}
            y, s = _binary(rng, n_test, 0.3, qf)
            res.label_efficiency["CAD"][f] = {m: ScorePredictions(y, s[m]) for m in q}
            res.label_efficiency["phenotypes"][f] = _phenotypes(rng, n_test, qf)
        res.kfold = {"CAD": {m: [] for m in q}}
        for k in range(5):
            y, s = _binary(rng, n_test // 5, 0.3, q)
            for m in q:
                res.kfold["CAD"][m].append(ScorePredictions(y, s[m]))
    res.similarity = _similarity(rng, 20, {m: q[m] for m in ("ssl", "cardionets", "cmr_ref")})
    res.embeddings = _embeddings(rng, 300, {m: q[m] for m in ("scratch", "ssl", "cardionets")})
    if strips_dir is not None:
        res.generation = Generation({"SSIM": rng.beta(8, 3, 50), "PSNR": rng.normal(24, 2, 50),
                                     "MAE": rng.gamma(4, 0.01, 50), "RMSE": rng.gamma(4, 0.015, 50)},
                                    [str(p) for p in _strips(rng, Path(strips_dir))],
                                    ["subject 1", "subject 2"])
    return res
