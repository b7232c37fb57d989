"""Image measurements on cines ``[T, H, W]`` in [-1, 1]: blood-pool area per frame, ED/ES frames,
and the blood-pool volume index used for phenotype agreement between generated and real cines.

On a bSSFP cine the blood pool is the bright class; each cine gets its own Otsu threshold
(scikit-image), as a measurement tool applied to every image independently would. The 4-chamber
view shows all four chambers, so the area is that of the whole blood pool inside the central field
(the heart is centred by the crop); the largest area marks end-diastole, the smallest end-systole.
The volume index applies the area-length relation V ~ A^1.5 (fixed shape factor) to the ED and ES
areas in mm^2, giving mL-like numbers whose agreement (R^2, Pearson) is what the evaluation reports.
"""
from __future__ import annotations

import numpy as np


def _field(shape: tuple[int, int], fraction: float = 0.7) -> np.ndarray:
    """Central elliptical field of view (bool [H, W]) that holds the heart after cropping."""
    H, W = shape
    y, x = np.mgrid[0:H, 0:W]
    return ((y - (H - 1) / 2) / (fraction * H / 2)) ** 2 + ((x - (W - 1) / 2) / (fraction * W / 2)) ** 2 <= 1.0


def blood_pool_area(cine: np.ndarray, spacing: float = 1.8, threshold: float | None = None) -> np.ndarray:
    """Bright (blood) area per frame in mm^2: [T]."""
    from skimage.filters import threshold_otsu

    c = np.asarray(cine, dtype=np.float32)
    field = _field(c.shape[1:])
    inside = c[:, field]  # [T, N]
    if threshold is None:
        threshold = float(threshold_otsu(inside)) if np.ptp(inside) > 0 else float(inside.max()) + 1.0
    return (inside > threshold).sum(axis=1).astype(np.float64) * spacing * spacing


def ed_es_frames(cine: np.ndarray) -> tuple[int, int]:
    """(end-diastolic, end-systolic) frame indices: largest and smallest blood-pool area."""
    a = blood_pool_area(cine)
    return int(np.argmax(a)), int(np.argmin(a))


def volume_index(area_mm2: np.ndarray | float) -> np.ndarray:
    """Area-length volume index (mL-like): A^1.5 / 1000 with A in mm^2."""
    return np.asarray(area_mm2, dtype=np.float64) ** 1.5 / 1000.0


def cine_phenotypes(cine: np.ndarray, spacing: float = 1.8) -> dict:
    """ED / ES blood-pool volume index, stroke index and ejection fraction measured on one cine, with
    the ED / ES frames and the blood-pool area curve they come from (``FRAME_KEYS``)."""
    a = blood_pool_area(cine, spacing)
    edv, esv = float(volume_index(a.max())), float(volume_index(a.min()))
    return {"edv_index": edv, "esv_index": esv, "sv_index": edv - esv,
            "ef": 100.0 * (edv - esv) / edv if edv > 0 else 0.0,
            "ed_frame": float(np.argmax(a)), "es_frame": float(np.argmin(a)), "area": a}


FRAME_KEYS = ("ed_frame", "es_frame", "area")  # per-cine measurements that are not phenotypes


def cyclic_frame_distance(a, b, frames: int) -> np.ndarray:
    """|a - b| on the cardiac cycle of ``frames`` frames (frame 0 follows the last one)."""
    d = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) % frames
    return np.minimum(d, frames - d)


def blockiness(cines: np.ndarray, period: int = 8) -> float:
    """Block-artefact ratio of cines ``[..., H, W]``: the mean absolute difference between neighbouring
    pixels across the boundaries of a ``period``-pixel grid, over the same mean at every other pixel
    pair (rows and columns together). About 1 for images without a grid (the real cines); a decoder
    that stamps its ``period``-pixel cells into the output scores above 1.
    """
    c = np.asarray(cines, dtype=np.float32)
    if c.ndim < 2 or min(c.shape[-2:]) <= period:
        raise ValueError(f"blockiness needs [..., H, W] images larger than the period {period}, got {c.shape}")
    across, within = [], []
    for d in (np.abs(np.diff(c, axis=-1)), np.abs(np.swapaxes(np.diff(c, axis=-2), -1, -2))):
        # d[..., j] is the step between pixel j and j + 1: a grid boundary when (j + 1) % period == 0
        edge = (np.arange(d.shape[-1]) + 1) % period == 0
        across.append(d[..., edge].mean())
        within.append(d[..., ~edge].mean())
    return float(np.mean(across) / max(np.mean(within), 1e-12))
