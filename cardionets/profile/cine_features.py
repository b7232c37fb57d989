"""Image measurements of a cine that compare any two cine sets, whatever the view.

Every cine is first brought to the model input (``cardionets.io.read_cmr``: 50 frames, 1.8 mm
pixels, 96x96 around the image centre, intensities 0.5-99.5th percentile -> [-1, 1]), so the
numbers are on one scale for real and synthetic data. What is measured:

* intensity distribution: quantiles of all pixels of all frames;
* tissue classes: three-class Otsu thresholds of the first frame (dark: air, lung; mid: muscle,
  myocardium, liver; bright: blood, fat) and the fraction and mean of each class;
* what a simple threshold isolates: the bright (Otsu two-class) pixels of the first frame split into
  connected components; the largest one's share of all bright pixels and the number of components
  of at least 20 pixels (a threshold that floods all chambers into one region gives a share near 1);
* texture: the SD of a 3x3 Laplacian inside the mid and dark classes (fine texture plus noise), and
  the median gradient magnitude over the 10% strongest edges (edge sharpness);
* motion: the temporal SD per pixel; the fraction of pixels that move (SD > 0.05), and the median
  temporal SD of the dark and mid classes (is the surrounding tissue static?).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_multiotsu, threshold_otsu

CINE_FEATURES: dict[str, tuple[str, str]] = {
    "int_p10": ("", "10th percentile of the normalised intensity (all frames)"),
    "int_p25": ("", "25th percentile"),
    "int_p50": ("", "median intensity"),
    "int_p75": ("", "75th percentile"),
    "int_p90": ("", "90th percentile"),
    "dark_fraction": ("", "fraction of pixels in the dark class (first frame)"),
    "mid_fraction": ("", "fraction of pixels in the mid class"),
    "bright_fraction": ("", "fraction of pixels in the bright class"),
    "mid_mean": ("", "mean intensity of the mid class"),
    "mid_to_bright": ("", "mid-class mean relative to the bright-class mean, both from the dark-class mean"),
    "bright_largest_share": ("", "largest connected bright region / all bright pixels"),
    "bright_components": ("", "bright connected regions of >= 20 pixels"),
    "texture_mid": ("", "SD of the Laplacian inside the mid class"),
    "texture_dark": ("", "SD of the Laplacian inside the dark class"),
    "edge_strength": ("", "median gradient magnitude of the 10% strongest edges"),
    "moving_fraction": ("", "fraction of pixels with temporal SD > 0.05"),
    "background_motion": ("", "median temporal SD of the dark and mid classes"),
}


def cine_features(cine: np.ndarray) -> dict[str, float]:
    """Measurements of one normalised cine float [T, H, W] in [-1, 1] (see module docstring)."""
    x = np.asarray(cine, dtype=np.float32)
    f0 = x[0]
    out: dict[str, float] = {}
    q = np.percentile(x, [10, 25, 50, 75, 90])
    for name, v in zip(("int_p10", "int_p25", "int_p50", "int_p75", "int_p90"), q):
        out[name] = float(v)
    if float(f0.max() - f0.min()) < 1e-6:
        return {k: out.get(k, float("nan")) for k in CINE_FEATURES}
    t1, t2 = threshold_multiotsu(f0, classes=3)
    dark, bright = f0 < t1, f0 >= t2
    mid = ~dark & ~bright
    out["dark_fraction"], out["mid_fraction"], out["bright_fraction"] = (float(m.mean()) for m in (dark, mid, bright))
    means = [float(f0[m].mean()) if m.any() else float("nan") for m in (dark, mid, bright)]
    out["mid_mean"] = means[1]
    out["mid_to_bright"] = float((means[1] - means[0]) / (means[2] - means[0])) if means[2] > means[0] else float("nan")
    thr = threshold_otsu(f0)
    lab, n = ndimage.label(f0 > thr)
    sizes = np.bincount(lab.ravel())[1:] if n else np.zeros(0)
    out["bright_largest_share"] = float(sizes.max() / sizes.sum()) if sizes.sum() else float("nan")
    out["bright_components"] = float((sizes >= 20).sum())
    lap = ndimage.laplace(f0)
    out["texture_mid"] = float(lap[mid].std()) if mid.sum() > 10 else float("nan")
    out["texture_dark"] = float(lap[dark].std()) if dark.sum() > 10 else float("nan")
    grad = np.hypot(ndimage.sobel(f0, 0), ndimage.sobel(f0, 1)) / 8.0
    out["edge_strength"] = float(np.median(grad[grad >= np.percentile(grad, 90)]))
    tsd = x.std(axis=0)
    out["moving_fraction"] = float((tsd > 0.05).mean())
    bg = dark | mid
    out["background_motion"] = float(np.median(tsd[bg])) if bg.any() else float("nan")
    return {k: out.get(k, float("nan")) for k in CINE_FEATURES}


def intensity_histogram(cine: np.ndarray, bins: int = 64) -> np.ndarray:
    """Density histogram of a normalised cine's intensities on [-1, 1] (all frames)."""
    h, _ = np.histogram(np.asarray(cine).ravel(), bins=bins, range=(-1.0, 1.0), density=True)
    return h
