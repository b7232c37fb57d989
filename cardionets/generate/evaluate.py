"""Evaluation of generated cines against the paired real ones (paper: SSIM, PSNR, MAE, RMSE).

* :func:`image_metrics`: per subject, SSIM (mean over frames, scikit-image's Gaussian-window SSIM as
  in Wang et al. 2004), PSNR (scikit-image), MAE and RMSE, all on intensities in [-1, 1]
  (data range 2).
* :func:`feature_comparison`: CMR-encoder features of real vs generated cines: Frechet distance of
  Gaussian fits, mean cosine similarity of paired features, a t-SNE plot and per-dimension
  histograms (matplotlib, written when ``out_dir`` is given).
* :func:`phenotype_agreement`: the LV volumes measured (``measure.cine_phenotypes``)
  on generated vs paired real cines: R^2, Pearson r, MAE; optionally a phenotype model (any callable
  cines -> [N, P]) applied to both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from scipy import linalg
from scipy.stats import pearsonr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.manifold import TSNE
from sklearn.metrics import r2_score

from ..errors import InputError
from .measure import FRAME_KEYS, cine_phenotypes, cyclic_frame_distance


def _pair(gen, real) -> tuple[np.ndarray, np.ndarray]:
    """Shape-checked [N, T, H, W] views in the inputs' own dtype (no float64 copy of a whole split:
    600 cines are 1.1 GB in float32); the metrics convert one subject at a time."""
    g, r = np.asarray(gen), np.asarray(real)
    if g.shape != r.shape:
        raise InputError(f"generated cines {g.shape} and real cines {r.shape} differ in shape")
    if g.ndim == 5 and g.shape[1] == 1:
        g, r = g[:, 0], r[:, 0]
    if g.ndim == 3:
        g, r = g[None], r[None]
    if g.ndim != 4:
        raise InputError(f"cines must be [N, T, H, W] (or [N, 1, T, H, W]), got {g.shape}")
    return g, r


def image_metrics(gen, real, data_range: float = 2.0) -> dict[str, np.ndarray]:
    """Per-subject SSIM, PSNR (dB), MAE, RMSE between ``gen`` and ``real`` [N, T, H, W]."""

    g, r = _pair(gen, real)
    out: dict[str, list[float]] = {"ssim": [], "psnr": [], "mae": [], "rmse": []}
    for i in range(g.shape[0]):
        gi, ri = g[i].astype(np.float64), r[i].astype(np.float64)
        out["ssim"].append(np.mean([structural_similarity(ri[t], gi[t], data_range=data_range, gaussian_weights=True,
                                                          sigma=1.5, use_sample_covariance=False)
                                    for t in range(g.shape[1])]))
        with np.errstate(divide="ignore"):  # identical cines: PSNR is +inf
            out["psnr"].append(peak_signal_noise_ratio(ri, gi, data_range=data_range))
        err = gi - ri
        out["mae"].append(np.abs(err).mean())
        out["rmse"].append(np.sqrt((err ** 2).mean()))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def summarise(per_subject: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}
            for k, v in per_subject.items()}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two feature sets [N, D] (as FID, on CMR features)."""

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    s1, s2 = np.atleast_2d(s1), np.atleast_2d(s2)
    covmean = np.real(linalg.sqrtm(s1 @ s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def feature_comparison(real_feats, gen_feats, out_dir: str | Path | None = None, seed: int = 0,
                       label: str = "generated") -> dict:
    """Compare CMR-encoder features of paired real and generated cines ([N, D] each)."""
    r, g = np.asarray(real_feats, dtype=np.float64), np.asarray(gen_feats, dtype=np.float64)
    if r.shape != g.shape or r.ndim != 2:
        raise InputError(f"feature arrays must both be [N, D], got {r.shape} and {g.shape}")
    rn = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
    gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    paired = (rn * gn).sum(1)
    # retrieval: is each generated cine's feature closest to its own real cine's?
    top1 = float(np.mean(np.argmax(gn @ rn.T, axis=1) == np.arange(len(r))))
    out = {"frechet": frechet_distance(r, g), "paired_cosine_mean": float(paired.mean()),
           "retrieval_top1": top1, "n": int(len(r)), "plots": []}
    if out_dir is not None:
        out["plots"] = _feature_plots(r, g, Path(out_dir), seed, label)
    return out


def _feature_plots(r: np.ndarray, g: np.ndarray, out: Path, seed: int, label: str) -> list[str]:
    import matplotlib  # here: the Agg backend must be chosen before pyplot is imported

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    both = np.concatenate([r, g])
    perplexity = float(max(2, min(30, (len(both) - 1) // 3)))
    emb = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(both)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(*emb[: len(r)].T, s=12, label="real", alpha=0.7)
    ax.scatter(*emb[len(r):].T, s=12, label=label, alpha=0.7)
    ax.set_title("t-SNE of CMR-encoder features")
    ax.legend()
    fig.tight_layout()
    p1 = out / f"tsne_{label}.png"
    fig.savefig(p1, dpi=120)
    plt.close(fig)
    dims = np.argsort(-r.var(0))[:4]  # the four most variable real-feature dimensions
    fig, axes = plt.subplots(1, len(dims), figsize=(3 * len(dims), 2.8))
    for ax, d in zip(np.atleast_1d(axes), dims):
        ax.hist(r[:, d], bins=20, alpha=0.6, label="real")
        ax.hist(g[:, d], bins=20, alpha=0.6, label=label)
        ax.set_title(f"feature {int(d)}")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    p2 = out / f"feature_hist_{label}.png"
    fig.savefig(p2, dpi=120)
    plt.close(fig)
    return [str(p1), str(p2)]


def agreement(x, y) -> dict[str, float]:
    """R^2 of y predicted by x (identity, not refitted: how well generated values match real ones),
    Pearson r, MAE."""

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    r = float(pearsonr(x, y)[0]) if len(x) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")
    return {"r2": float(r2_score(y, x)), "pearson": r, "mae": float(np.mean(np.abs(x - y))), "n": int(len(x))}


def phenotype_agreement(gen, real, spacing: float = 1.8,
                        phenotype_model: Callable[[np.ndarray], np.ndarray] | None = None,
                        names: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Measured LV volumes (and optionally a phenotype model's outputs) on generated vs
    paired real cines; keys ``edv_index``, ``esv_index``, ``sv_index``, ``ef`` (+ model outputs)."""
    g, r = _pair(gen, real)
    out = measured_agreement([cine_phenotypes(c, spacing) for c in g], [cine_phenotypes(c, spacing) for c in r])
    if phenotype_model is not None:
        out.update(model_agreement(phenotype_model(g), phenotype_model(r), names))
    return out


def measured_agreement(measured_gen: list[dict[str, float]], measured_real: list[dict[str, float]]
                       ) -> dict[str, dict[str, float]]:
    """Agreement per phenotype of already measured :func:`~cardionets.generate.measure.cine_phenotypes`
    (one dict per subject, generated and paired real; the frames and phase curves are left to
    :func:`cycle_agreement`)."""
    return {k: agreement([p[k] for p in measured_gen], [p[k] for p in measured_real])
            for k in measured_gen[0] if k not in FRAME_KEYS}


def cycle_agreement(measured_gen: list[dict], measured_real: list[dict], tolerance: int = 3) -> dict[str, float]:
    """Does each generated cine contract and relax when its real one does?

    Per subject, the cyclic distance between the generated and the real cine's ED and ES frames
    (:func:`~cardionets.generate.measure.lv_reading`); the fraction of subjects within ``tolerance``
    frames for ED, for ES and for both; and the mean Pearson correlation of the two oriented phase
    curves (1: the same beat, 0: no shared motion). A static cine scores 0.
    """
    frames = len(measured_real[0]["phase_curve"])
    ed = cyclic_frame_distance([p["ed_frame"] for p in measured_gen], [p["ed_frame"] for p in measured_real], frames)
    es = cyclic_frame_distance([p["es_frame"] for p in measured_gen], [p["es_frame"] for p in measured_real], frames)
    curves = []
    for g, r in zip(measured_gen, measured_real):
        a, b = np.asarray(g["phase_curve"], dtype=np.float64), np.asarray(r["phase_curve"], dtype=np.float64)
        curves.append(float(np.corrcoef(a, b)[0, 1]) if np.ptp(a) > 0 and np.ptp(b) > 0 else 0.0)
    return {"ed_within": float(np.mean(ed <= tolerance)), "es_within": float(np.mean(es <= tolerance)),
            "both_within": float(np.mean((ed <= tolerance) & (es <= tolerance))), "tolerance_frames": int(tolerance),
            "ed_error_mean": float(ed.mean()), "es_error_mean": float(es.mean()),
            "phase_curve_pearson_mean": float(np.mean(curves)), "n": int(len(ed))}


def model_agreement(pred_gen, pred_real, names: list[str] | None = None) -> dict[str, dict[str, float]]:
    """A phenotype model's outputs [N, P] on generated vs on the paired real cines, per output
    (keys ``model:<name>``)."""
    yg, yr = np.asarray(pred_gen), np.asarray(pred_real)
    if yg.shape != yr.shape or yg.ndim != 2:
        raise InputError(f"phenotype predictions must both be [N, P], got {yg.shape} and {yr.shape}")
    return {f"model:{names[j] if names else j}": agreement(yg[:, j], yr[:, j]) for j in range(yg.shape[1])}
