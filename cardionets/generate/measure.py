"""Image measurements on cines ``[T, H, W]`` in [-1, 1]: the cardiac phase, the ED / ES frames and the
left-ventricular volumes used for phenotype agreement between generated and real cines.

A 4-chamber cine holds four chambers whose blood moves in opposite phases (the ventricles empty while
the atria fill), so the whole bright pool hardly changes size over the beat and its largest frame is a
poor end-diastole. The reading here is LV-specific and ED-aware (:func:`lv_reading`):

1. Phase. The first principal component of the pixel time courses inside the central field is the
   beat (ventricular against atrial filling); its time course ``phase_curve`` peaks at one end of the
   cycle and dips at the other.
2. LV. The blood is the brightest of three intensity classes (multi-Otsu over the cine; blood is
   brighter than fat and myocardium on bSSFP), eroded by ``LV_ERODE`` pixels so that the thin
   leaflets and septa cut the chambers apart. At each of the two extreme frames the LV is the
   component with the widest inscribed circle whose centre lies within ``LV_CENTRAL`` x the image size
   of the image centre (the crop centres the heart on the ventricles); the extreme at which that
   component is larger is end-diastole, the other end-systole, where the LV is the component holding
   the same centre, kept inside the end-diastolic LV grown by the erosion depth. Each component is
   grown back by the erosion inside the un-eroded blood.
3. Volume. The single-plane area-length rule, V = 8 A^2 / (3 pi L) (A the LV area in mm^2, L its
   long-axis length in mm, the component's extent along its principal axis), in mL.

On the 800 subjects of a version-5 cohort this reading finds ED and ES within 3 frames of the truth for
94% of cines, against 72% (ED) for the largest whole-pool frame (docs/generator.md, "Measuring a
cine"). Each cine is measured on its own; nothing is fitted to a cohort.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_multiotsu, threshold_otsu

LV_ERODE = 3        # pixels of erosion that separate the chambers (undone on the chosen component)
LV_CENTRAL = 0.17   # the LV's inscribed centre lies within this fraction of the image size of its centre
_CROSS = ndimage.generate_binary_structure(2, 1)


def _field(shape: tuple[int, int], fraction: float = 0.7) -> np.ndarray:
    """Central elliptical field of view (bool [H, W]) that holds the heart after cropping."""
    H, W = shape
    y, x = np.mgrid[0:H, 0:W]
    return ((y - (H - 1) / 2) / (fraction * H / 2)) ** 2 + ((x - (W - 1) / 2) / (fraction * W / 2)) ** 2 <= 1.0


def blood_pool_area(cine: np.ndarray, spacing: float = 1.8, threshold: float | None = None) -> np.ndarray:
    """Bright (blood) area per frame in mm^2 over the whole central field (all chambers): [T]."""
    c = np.asarray(cine, dtype=np.float32)
    field = _field(c.shape[1:])
    inside = c[:, field]  # [T, N]
    if threshold is None:
        threshold = float(threshold_otsu(inside)) if np.ptp(inside) > 0 else float(inside.max()) + 1.0
    return (inside > threshold).sum(axis=1).astype(np.float64) * spacing * spacing


def phase_curve(cine: np.ndarray) -> np.ndarray:
    """The beat's time course [T]: first principal component of the central field's pixel time courses
    (sign arbitrary; :func:`lv_reading` orients it so that it peaks at end-diastole). Zeros for a
    static cine."""
    c = np.asarray(cine, dtype=np.float64)
    x = c[:, _field(c.shape[1:])]
    x = x - x.mean(0)
    if not np.any(x):
        return np.zeros(c.shape[0])
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return u[:, 0] * s[0]


def _blood_threshold(values: np.ndarray) -> float:
    """Lower edge of the brightest of three intensity classes (Otsu's two classes when the cine has
    too few levels for three)."""
    v = values[::7] if values.size > 20000 else values
    try:
        return float(threshold_multiotsu(v, 3)[-1])
    except ValueError:
        return float(threshold_otsu(v)) if np.ptp(v) > 0 else float(v.max()) + 1.0


def _component(mask: np.ndarray, centre: tuple[int, int] | None, central: float):
    """(component, its centre): with ``centre`` the component holding (or nearest to) it; without, the
    component with the widest inscribed circle among those centred near the image centre."""
    lab, n = ndimage.label(mask, _CROSS)
    if n == 0:
        return np.zeros_like(mask), centre
    if centre is None:
        dist = ndimage.distance_transform_edt(mask)
        index = np.arange(1, n + 1)
        width = np.asarray(ndimage.maximum(dist, lab, index), dtype=np.float64)
        pos = ndimage.maximum_position(dist, lab, index)
        H, W = mask.shape
        far = np.array([np.hypot(p[0] - (H - 1) / 2, p[1] - (W - 1) / 2) > central * H for p in pos])
        if (~far).any():
            width[far] = -1.0
        best = int(np.argmax(width))
        return lab == best + 1, tuple(int(v) for v in pos[best])
    label = lab[centre]
    if label == 0:  # the centre fell on a wall at this frame: the nearest component
        iy, ix = ndimage.distance_transform_edt(lab == 0, return_indices=True)[1]
        label = lab[iy[centre], ix[centre]]
    return lab == label, centre


def _long_axis_mm(mask: np.ndarray, spacing: float) -> float:
    ys, xs = np.nonzero(mask)
    if len(ys) < 3:
        return float(spacing)
    p = np.stack([ys, xs], 1).astype(np.float64)
    p -= p.mean(0)
    axis = np.linalg.eigh(np.cov(p.T))[1][:, -1]
    u = p @ axis
    return float((u.max() - u.min() + 1.0) * spacing)


def area_length_volume(area_mm2: float, length_mm: float) -> float:
    """Single-plane area-length volume in mL: 8 A^2 / (3 pi L) / 1000."""
    return float(8.0 * area_mm2 ** 2 / (3.0 * np.pi * max(length_mm, 1e-6)) / 1000.0)


def lv_reading(cine: np.ndarray, spacing: float = 1.8, erode: int = LV_ERODE, central: float = LV_CENTRAL) -> dict:
    """ED / ES frames, LV areas (mm^2), long-axis lengths (mm) and volumes (mL) of one cine, and the
    oriented phase curve (high at ED). See the module docstring for the method."""
    c = np.asarray(cine, dtype=np.float32)
    if c.ndim != 3 or c.shape[0] < 2:
        raise ValueError(f"a cine must be [T, H, W] with T >= 2, got {c.shape}")
    field = _field(c.shape[1:])
    curve = phase_curve(c)
    f1, f2 = int(np.argmax(curve)), int(np.argmin(curve))
    thr = _blood_threshold(c[:, field].ravel())
    blood = (c > thr) & field[None]

    def eroded(t: int) -> tuple[np.ndarray, int]:
        for e in range(erode, -1, -1):  # a blurred or small LV may vanish under the full erosion
            m = ndimage.binary_erosion(blood[t], _CROSS, iterations=e) if e else blood[t]
            if m.any():
                return m, e
        return blood[t], 0

    (m1, e1), (m2, e2) = eroded(f1), eroded(f2)
    lv1, p1 = _component(m1, None, central)
    lv2, p2 = _component(m2, None, central)
    if lv2.sum() > lv1.sum():  # the LV is larger at end-diastole
        f1, f2, m1, e1, m2, e2, p1, curve = f2, f1, m2, e2, m1, e1, p2, -curve
        lv1 = lv2
    lv2, _ = _component(m2, p1, central)
    grow = lambda m, e, t: ndimage.binary_dilation(m, _CROSS, iterations=e) & blood[t] if e else m  # noqa: E731
    lv1 = grow(lv1, e1, f1)
    # the LV only shrinks towards end-systole: its ES pool lies inside the ED one (a few pixels of
    # wall motion allowed), which keeps an atrium joined through an open leaflet out of it
    lv2 = grow(lv2, e2, f2) & ndimage.binary_dilation(lv1, _CROSS, iterations=max(erode, 1))
    a_ed, a_es = float(lv1.sum()) * spacing ** 2, float(lv2.sum()) * spacing ** 2
    l_ed, l_es = _long_axis_mm(lv1, spacing), _long_axis_mm(lv2, spacing)
    return {"ed_frame": f1, "es_frame": f2, "ed_area": a_ed, "es_area": a_es, "ed_length": l_ed, "es_length": l_es,
            "edv": area_length_volume(a_ed, l_ed), "esv": area_length_volume(a_es, l_es), "phase_curve": curve}


def ed_es_frames(cine: np.ndarray) -> tuple[int, int]:
    """(end-diastolic, end-systolic) frame indices of :func:`lv_reading`."""
    r = lv_reading(cine)
    return r["ed_frame"], r["es_frame"]


def cine_phenotypes(cine: np.ndarray, spacing: float = 1.8) -> dict:
    """LV end-diastolic / end-systolic volume, stroke volume (mL, area-length) and ejection fraction (%)
    measured on one cine, with the ED / ES frames and the phase curve they come from (``FRAME_KEYS``).
    The keys keep the names ``edv_index`` / ``esv_index`` / ``sv_index`` (image-derived volumes, not
    divided by body surface area)."""
    r = lv_reading(cine, spacing)
    edv, esv = r["edv"], r["esv"]
    return {"edv_index": edv, "esv_index": esv, "sv_index": edv - esv,
            "ef": 100.0 * (edv - esv) / edv if edv > 0 else 0.0,
            "ed_frame": float(r["ed_frame"]), "es_frame": float(r["es_frame"]), "phase_curve": r["phase_curve"]}


FRAME_KEYS = ("ed_frame", "es_frame", "phase_curve")  # per-cine measurements that are not phenotypes


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
