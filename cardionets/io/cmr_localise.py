"""Heart localisation in a cine from where the image moves over the cardiac cycle.

Method (after the first-harmonic image of Lin, Cowan & Young, "Automated detection of left
ventricle in 4D MR images", MICCAI 2006): a cine covers one heartbeat, so tissue that moves with
the heart changes intensity at the heart rate, while static anatomy, noise and slow drift do not.

1. H1 = |sum_t x_t exp(-2 pi i t / T)| / T per pixel: the magnitude of the first temporal
   harmonic (the cycle-rate component of each pixel's intensity curve);
2. smoothed with a Gaussian of :data:`SMOOTH_MM` mm -- the scale of the heart (about 100-120 mm
   across), so the moving walls of both ventricles and the atria merge into one blob; at a fine
   scale the map locks onto the single most mobile wall (on the Sunnybrook fixture the RV free
   wall: the window landed 13 px off the heart's middle) -- and weighted by a broad prior centred on the
   field of view (a Gaussian with SD :data:`PRIOR_SD_FRACTION` of the FOV; scanners centre the heart,
   the prior only breaks near-ties with moving structures at the edge -- great vessels, flow
   artefacts, the diaphragm);
3. the peak, the connected region where the map is at least half the peak, and the map-weighted
   centroid of that region: the heart centre, in pixels of the (canonically oriented) image.

:func:`motion_centre` measures where any cine moves, independently of the above: the centroid
of the temporal standard deviation above its median (no harmonic, no prior, no region). The tests
and ``read-cmr`` use it to check where the moving heart lands in the model input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.ndimage import gaussian_filter

SMOOTH_MM = 20.0
PRIOR_SD_FRACTION = 0.35
REGION_LEVEL = 0.5


@dataclass
class Localisation:
    center: tuple[float, float]           # (row, col), pixels
    method: str
    peak_to_median: float                 # contrast of the smoothed motion map (low: little motion)


def first_harmonic(frames: np.ndarray) -> np.ndarray:
    """[t, H, W] -> [H, W] magnitude of the first temporal harmonic (0 for a single frame)."""
    t = frames.shape[0]
    if t < 2:
        return np.zeros(frames.shape[1:], dtype=np.float64)
    acc = np.zeros(frames.shape[1:], dtype=np.complex128)
    for k in range(t):                        # one frame at a time: no [t, H, W] temporary
        acc += np.exp(-2j * np.pi * k / t) * frames[k]
    return np.abs(acc) / t


def _region_centroid(m: np.ndarray, level: float) -> tuple[float, float]:
    peak = np.unravel_index(int(np.argmax(m)), m.shape)
    lab, _ = ndimage.label(m >= level * m[peak])
    region = lab == lab[peak]
    w = np.where(region, m, 0.0)
    total = w.sum()
    if total <= 0:
        return float(peak[0]), float(peak[1])
    rr, cc = np.indices(m.shape)
    return float((w * rr).sum() / total), float((w * cc).sum() / total)


def locate_heart(frames: np.ndarray, spacing: tuple[float, float]) -> Localisation:
    """Heart centre of a cine [t, H, W] with pixel spacing (row_mm, col_mm); see the module docstring."""
    h, w = frames.shape[1:]
    h1 = first_harmonic(frames)
    sm = gaussian_filter(h1, sigma=(SMOOTH_MM / spacing[0], SMOOTH_MM / spacing[1]))
    rr = (np.arange(h) - (h - 1) / 2) / (PRIOR_SD_FRACTION * h)
    cc = (np.arange(w) - (w - 1) / 2) / (PRIOR_SD_FRACTION * w)
    prior = np.exp(-0.5 * (rr[:, None] ** 2 + cc[None, :] ** 2))
    m = sm * prior
    med = float(np.median(sm))
    contrast = float(sm.max() / med) if med > 0 else float("inf") if sm.max() > 0 else 0.0
    if not np.isfinite(m).all() or m.max() <= 0:
        return Localisation(((h - 1) / 2, (w - 1) / 2), "image centre (no motion found)", 0.0)
    return Localisation(_region_centroid(m, REGION_LEVEL), "first temporal harmonic (moving heart)", contrast)


def motion_centre(frames: np.ndarray, smooth_px: float = 2.0) -> tuple[float, float]:
    """Where a cine [t, H, W] moves: the centroid of its temporal SD (smoothed by ``smooth_px``)
    above the SD's median (the static background and noise), weighted by that excess."""
    sd = gaussian_filter(frames.astype(np.float64).std(axis=0), smooth_px)
    w = np.clip(sd - np.median(sd), 0.0, None)
    total = w.sum()
    if total <= 0:
        return (sd.shape[0] - 1) / 2, (sd.shape[1] - 1) / 2
    rr, cc = np.indices(sd.shape)
    return float((w * rr).sum() / total), float((w * cc).sum() / total)


__all__ = ["Localisation", "PRIOR_SD_FRACTION", "SMOOTH_MM", "first_harmonic", "locate_heart", "motion_centre"]
