"""A bSSFP-like 4-chamber long-axis cine over one cardiac cycle, drawn from the phenotypes.

Geometry (heart frame: u along the long axis from the atrioventricular (AV) plane to the apex, v
across it towards the LV lateral wall; millimetres):
* LV cavity: a blunt "bullet" |du/a|^3 + (dv/w)^2 <= 1 for u >= AV plane, whose volume is
  0.75*pi*w^2*a; the apex stays put and the AV plane descends with longitudinal strain (a(t) shrinks
  by Ell), the width follows the volume curve, so the 4-chamber area tracks LV volume over the cycle.
* LV myocardium: the same shape grown by the segmental wall thickness (AHA 3/9/14 septal, 6/12/16
  lateral, apical cap), thickening during systole by the radial strain of those segments.
* RV: a shorter bullet left of the septum (volume 0.75*pi*w*d*a with depth d = 2w: the crescent RV is
  deeper than it is wide in this plane) with a 3.5 mm free wall; LA and RA: domes hanging from the AV
  plane (depth 1.3 x half-width), filling in ventricular systole (reservoir), emptying in early
  diastole and atrial systole.
* Around it: pericardial fat, lungs, liver, descending aorta, chest wall and body outline.
Image formation: bSSFP-like contrast (blood bright, fat bright, myocardium dark, lung black), a
Gaussian point-spread, a smooth receive-coil shading field and Rician noise; per subject the
position, in-plane angle, contrast and noise level vary. Written as scanner-like int16 magnitudes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .diseases import DiseaseState

N_FRAMES = 50
SIZE = 96
SPACING = 1.8        # mm; UK Biobank long-axis cines are ~1.8 mm in-plane


@dataclass
class CineInfo:
    es_frame: int
    lv_center_rc: tuple[float, float]    # LV cavity centroid at ED, (row, col) in pixels
    spacing: float
    frame_ms: float


def _pchip_cycle(knots_x, knots_y, phase: np.ndarray) -> np.ndarray:
    from scipy.interpolate import PchipInterpolator

    return PchipInterpolator(np.asarray(knots_x), np.asarray(knots_y))(phase)


def volume_curves(ph: dict[str, float], hr: float, n: int = N_FRAMES) -> tuple[dict[str, np.ndarray], float]:
    """Volume (mL) of each chamber at n phases over one RR, ED at phase 0; and the ES phase."""
    rr = 60.0 / hr
    ts = float(np.clip(0.33 * rr ** 0.5 / rr, 0.26, 0.48))        # systolic fraction of the cycle
    phase = np.arange(n) / n
    # ventricular contraction state c: 0 at ED, 1 at ES; rapid filling, diastasis, atrial kick
    c = np.where(phase <= ts, 0.5 * (1 - np.cos(np.pi * phase / ts)), 0.0)
    dia = phase > ts
    kx = [ts, ts + 0.12, 0.82, 0.88, 0.97, 1.0]
    ky = [1.0, 0.32, 0.22, 0.2, 0.0, 0.0]
    c[dia] = _pchip_cycle(kx, ky, phase[dia])
    curves = {
        "LV": ph["LVESV"] + (ph["LVEDV"] - ph["LVESV"]) * (1 - c),
        "RV": ph["RVESV"] + (ph["RVEDV"] - ph["RVESV"]) * (1 - c),
    }
    # atrial fraction g: 1 at the atrial maximum (end of ventricular systole), 0 at the minimum
    gx = [0.0, ts + 0.02, ts + 0.14, 0.82, 0.97, 1.0]
    gy = [0.06, 1.0, 0.5, 0.42, 0.0, 0.06]
    g = _pchip_cycle(gx, gy, phase)
    curves["LA"] = ph["LAV_min"] + (ph["LAV_max"] - ph["LAV_min"]) * g
    curves["RA"] = ph["RAV_min"] + (ph["RAV_max"] - ph["RAV_min"]) * g
    curves["c"] = c
    return curves, ts


def _cov(dist_mm: np.ndarray, px: float) -> np.ndarray:
    """Pixel coverage of a region from a signed distance (negative inside), ~1 pixel ramp."""
    return np.clip(0.5 - dist_mm / px, 0.0, 1.0)


def _bullet_dist(u, v, base, a, v0, w, rough=0.0):
    """Approximate signed distance (mm) to the bullet (u'/a)^3 + ((v-v0)/w)^2 = 1 with
    u' = u - base >= 0: (f - 1) / |grad f|, cut at the AV plane."""
    x = np.maximum(u - base, 0.0) / a
    y = (v - v0) / w
    x2 = x * x
    f = x2 * x + y * y
    gx = 3.0 * x2 / a
    gy = 2.0 * y / w
    d = (f - 1.0) / np.sqrt(gx * gx + gy * gy + 1e-6) + rough    # roughness on the wall, not the AV cut
    return np.maximum(d, base - u)


def _dome_dist(u, v, top, a, v0, w, rough=0.0):
    """Half-ellipsoid below the AV plane: ((top-u)/a)^2 + ((v-v0)/w)^2 <= 1, u <= top; volume
    (2/3) pi a w^2, so a = (3V / (2 pi k^2))^(1/3) for w = k a."""
    x = np.maximum(top - u, 0.0) / a
    y = (v - v0) / w
    gx, gy = 2.0 * x / a, 2.0 * y / w
    d = (x * x + y * y - 1.0) / np.sqrt(gx * gx + gy * gy + 1e-6) + rough
    return np.maximum(d, u - top)


def _smooth_min(a, b, k: float):
    """Smooth union of two signed distances (polynomial smooth-min, blending radius k mm)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _ellipse_dist(u, v, u0, a, v0, w):
    x = (u - u0) / a
    y = (v - v0) / w
    gx, gy = 2.0 * x / a, 2.0 * y / w
    return (x * x + y * y - 1.0) / np.sqrt(gx * gx + gy * gy + 1e-6)


def render_cine(ph: dict[str, float], d: DiseaseState, hr: float, rng: np.random.Generator,
                size: int = SIZE, spacing: float = SPACING, n: int = N_FRAMES) -> tuple[np.ndarray, CineInfo]:
    """int16 [n, size, size] magnitude cine (frame, row, col) and where things are."""
    curves, ts = volume_curves(ph, hr, n)
    c = curves["c"][:, None, None].astype(np.float32)
    T = lambda x: np.asarray(x, dtype=np.float32)[:, None, None]   # per-frame parameter   # noqa: E731
    px = spacing
    # ---- LV shape -----------------------------------------------------------------------------
    k_lv = float(np.clip(0.34 * (1.0 + 0.05 * rng.standard_normal()) * (1.25 if d.cm == "DCM" else 1.0), 0.26, 0.5))
    edv_mm3 = ph["LVEDV"] * 1000.0
    a_ed = (edv_mm3 / (0.75 * np.pi * k_lv ** 2)) ** (1 / 3)
    ell = abs(ph["Ell_global"]) / 100.0
    base = ell * a_ed * curves["c"]                    # AV-plane descent (mm); apex fixed at a_ed
    a_t = a_ed - base
    w_t = np.sqrt(curves["LV"] * 1000.0 / (0.75 * np.pi * a_t))
    wt = {k: ph[f"WT_AHA_{k}"] for k in range(1, 17)}
    err = {k: max(ph[f"Err_AHA_{k}"], -5.0) / 100.0 for k in range(1, 17)}
    thick = lambda k: wt[k] * (1.0 + err[k] * curves["c"])  # noqa: E731
    sep = [thick(3), thick(9), thick(14)]
    lat = [thick(6), thick(12), thick(16)]
    apex_t = np.mean([thick(k) for k in (13, 14, 15, 16)], axis=0) * 0.85
    # ---- RV, atria --------------------------------------------------------------------------------
    k_rv = 0.42 * float(np.exp(0.06 * rng.standard_normal()))
    a_rv_ed = (ph["RVEDV"] * 1000.0 / (0.75 * np.pi * 2.0 * k_rv ** 2)) ** (1 / 3)
    # the tricuspid annulus sits a few mm more apical than the mitral one; TAPSE exceeds MAPSE
    base_rv = rng.uniform(3.0, 7.0) + base * 1.25
    a_rv = np.maximum(a_rv_ed - base * 1.25, 10.0)
    w_rv = np.sqrt(curves["RV"] * 1000.0 / (0.75 * np.pi * 2.0 * a_rv))
    # atria: domes of depth 1.3 x their in-plane half-width (volume (2/3) pi a w (1.3 w))
    k_la = 0.6 * float(np.exp(0.08 * rng.standard_normal()))
    a_la = (curves["LA"] * 1000.0 / (2 / 3 * np.pi * 1.3 * k_la ** 2)) ** (1 / 3)
    w_la = k_la * a_la
    k_ra = 0.65 * float(np.exp(0.08 * rng.standard_normal()))
    a_ra = (curves["RA"] * 1000.0 / (2 / 3 * np.pi * 1.3 * k_ra ** 2)) ** (1 / 3)
    w_ra = k_ra * a_ra
    # ---- layout (heart frame) ------------------------------------------------------------------
    t_sep_ed = float(sep[1][0])
    v_lv = t_sep_ed / 2 + float(w_t[0])                # septum centred on v = 0 at ED
    sep_rv_edge = v_lv - w_t - np.array(sep[1])        # RV side of the septum over time
    v_rv = sep_rv_edge - w_rv
    v_la = v_lv - 0.15 * float(w_t[0])
    v_ra = v_la - w_la - 3.0 - w_ra                    # interatrial septum ~3 mm
    # ---- pose in the image -------------------------------------------------------------------------
    ang = np.deg2rad(rng.normal(-20.0, 12.0))          # long axis: apex up, tilted
    eu = np.array([np.sin(ang), -np.cos(ang)])         # (x, y) of the long axis, base -> apex
    ev = np.array([-eu[1], eu[0]])                     # towards the LV lateral wall
    mid_u = (a_ed - float(a_la.max())) / 2
    mid_v = (float(v_rv[0]) - float(w_rv[0]) + v_lv + float(w_t[0])) / 2
    shift = rng.normal(0.0, 6.0, 2)
    origin = -(mid_u * eu + mid_v * ev) + shift        # image centre is (0, 0)
    coords = (np.arange(size, dtype=np.float32) - (size - 1) / 2) * px
    X, Y = np.meshgrid(coords, coords)                 # [row, col] grids of x (col) and y (row)
    u = ((X - origin[0]) * eu[0] + (Y - origin[1]) * eu[1])[None].astype(np.float32)
    v = ((X - origin[0]) * ev[0] + (Y - origin[1]) * ev[1])[None].astype(np.float32)
    B = T(base)
    # local LV wall thickness: septal for v < v_lv, lateral beyond; base -> mid -> apex along u
    tau = np.clip((u - B) / T(a_t), 0.0, 1.0)
    def along(vals):
        b0, m0, a0 = (T(x) for x in vals)
        return np.where(tau < 0.5, b0 + (m0 - b0) * tau / 0.5, m0 + (a0 - m0) * np.clip((tau - 0.5) / 0.4, 0, 1))
    t_side = np.where(v < v_lv, along(sep), along(lat))
    # endocardial borders are not smooth ellipses: trabeculation-scale roughness (~1 mm, inward)
    from scipy.ndimage import gaussian_filter as _gf0

    rough = _gf0(rng.standard_normal((size, size)).astype(np.float32), 1.5)
    rough = (1.2 * np.abs(rough) / (rough.std() + 1e-6))[None]   # >= 0: trabeculae only narrow the cavity
    lv_cav = _bullet_dist(u, v, B, T(a_t), v_lv, T(w_t), rough)
    lv_out = _bullet_dist(u, v, B, T(a_t) + T(apex_t), v_lv, T(w_t) + t_side)
    rv_cav = _bullet_dist(u, v, T(base_rv), T(a_rv), T(v_rv), T(w_rv), 1.3 * rough)
    rv_out = _bullet_dist(u, v, T(base_rv), T(a_rv) + 3.0, T(v_rv), T(w_rv) + 3.5)
    # atria: domes hanging from the AV plane (2 mm below it: annulus and valve)
    la_cav = _dome_dist(u, v, B - 1.2, T(a_la), v_la, T(w_la), 0.6 * rough)
    ra_cav = _dome_dist(u, v, T(base_rv) - 1.2, T(a_ra), T(v_ra), T(w_ra), 0.6 * rough)
    # ---- tissues (bSSFP-like relative signal) ------------------------------------------------------
    blood = 1.0
    myo = rng.uniform(0.15, 0.25)
    fat = rng.uniform(0.75, 0.95)
    from scipy.ndimage import gaussian_filter as _gf

    # static surroundings, drawn once in 2-D and then copied to every frame
    body_a, body_b = rng.uniform(120, 150), rng.uniform(95, 120)
    body_c = np.array([rng.normal(-10, 8), rng.normal(15, 8)])
    body = ((X - body_c[0]) / body_a) ** 2 + ((Y - body_c[1]) / body_b) ** 2
    bg = np.where(body < 1.0, rng.uniform(0.36, 0.46), 0.0)
    bg = np.where((body > 0.85) & (body < 1.0), fat, bg)                           # subcutaneous fat
    # lungs wrap the heart on both sides (black, a few bright vessels); the liver sits under the RA
    u2, v2 = u[0], v[0]
    w_ed, wrv_ed = float(w_t[0]), float(w_rv[0])
    lung_l = ((u2 - 0.35 * a_ed) / 80.0) ** 2 + ((v2 - v_lv - w_ed - 48.0) / 42.0) ** 2
    lung_r = ((u2 - 0.1 * a_ed) / 75.0) ** 2 + ((v2 - float(v_rv[0]) + wrv_ed + 42.0) / 36.0) ** 2
    lung = ((lung_l < 1) | (lung_r < 1)) & (body < 0.85)
    vessels = _gf(rng.standard_normal((size, size)).astype(np.float32), 1.0) > 0.33
    bg = np.where(lung, np.where(vessels, 0.22, 0.03), bg)
    liver = ((u2 + float(a_ra.max()) + 38.0) / 55.0) ** 2 + ((v2 - float(v_ra[0]) + 5.0) / 60.0) ** 2
    bg = np.where((liver < 1) & (body < 0.85), rng.uniform(0.38, 0.5), bg)
    # descending aorta behind the LA
    ao_u, ao_v = -float(a_la.max()) - 14.0, v_la + 8.0
    ao_cov = _cov(_ellipse_dist(u2, v2, ao_u, 11.0, ao_v, 11.0), px)
    bg = bg * (1 - ao_cov) + 0.9 * ao_cov
    img = np.repeat(bg.astype(np.float32)[None], n, axis=0)

    def paint(dist, value):
        nonlocal img
        cov = _cov(dist, px)
        img = img * (1 - cov) + value * cov

    # epicardial fat: patchy, thicker in the AV groove and at the apex
    patch = _gf(rng.standard_normal((size, size)).astype(np.float32), 4.0)
    patch = (patch - patch.mean()) / (patch.std() + 1e-6)
    fat_t = np.clip(rng.uniform(0.5, 2.5) + 1.5 * patch, 0.0, 6.0)[None]
    # the ventricles share one muscle: a smooth union (fillet radius ~10 mm) closes the crevice
    # between the LV and RV shells towards the apex, as the septum does
    ventricles = _smooth_min(lv_out, rv_out, 10.0)
    heart_out = _smooth_min(ventricles, np.minimum(la_cav, ra_cav) - 2.0, 6.0)
    paint(heart_out - fat_t, fat * (0.9 + 0.1 * patch[None]))
    paint(heart_out, 0.3)
    paint(np.minimum(la_cav, ra_cav) - 2.0, myo)         # atrial walls
    # blood: bright with slow flow-related inhomogeneity; atria first, so the ventricular muscle
    # (atrioventricular septum) separates the RA from the LV where the tricuspid plane sits lower
    flow = 1.0 + 0.05 * _gf(rng.standard_normal((size, size)).astype(np.float32), 3.0)[None] / 0.1
    paint(la_cav, blood * 0.92 * flow)
    paint(ra_cav, blood * 0.9 * flow)
    paint(ventricles, myo)
    paint(rv_cav, blood * 0.95 * flow)
    paint(lv_cav, blood * flow)
    # papillary muscles (two, off the lateral wall at mid level) and the RV moderator band
    for frac, size_mm in ((0.42, 1.0), (0.55, 0.8)):
        pu = B + frac * T(a_t)
        pv = v_lv + 0.62 * T(w_t)
        pap = _ellipse_dist(u, v, pu, 7.0 * size_mm, pv, (2.2 + 1.3 * c) * size_mm)
        paint(pap, myo * 1.3)
    mb_u = T(base_rv) + 0.62 * T(a_rv)
    band = (np.abs(u - mb_u) < 0.9) & (np.abs(v - T(v_rv) - 0.2 * T(w_rv)) < 0.6 * T(w_rv))
    img = np.where(band, img * 0.6 + myo * 0.4, img)
    # AV valves: closed (leaflets meeting across the orifice) outside early/late diastolic filling
    closed = T((np.arange(n) / n < ts + 0.02) | (np.arange(n) / n > 0.97)).astype(bool)
    for b0, v0, w0 in ((B, v_lv, T(w_t)), (T(base_rv), T(v_rv), T(w_rv))):
        plane = np.abs(u - b0 + 0.6) < 0.75 * px
        leaflets = plane & (np.abs(v - v0) < 0.85 * w0) & closed
        annulus = plane & (np.abs(v - v0) >= 0.85 * w0) & (np.abs(v - v0) < w0 + 1.5)   # fibrous ring, always
        img = np.where(leaflets | annulus, myo * 1.3, img)
    # ---- image formation ---------------------------------------------------------------------------
    from scipy.ndimage import gaussian_filter

    img = gaussian_filter(img, sigma=(0, 0.55, 0.55))
    gx, gy = rng.normal(0, 0.15, 2)
    yy, xx = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    shading = 1.0 + gx * xx + gy * yy - rng.uniform(0.0, 0.35) * (xx ** 2 + yy ** 2)
    img *= np.clip(shading, 0.35, 2.0).astype(np.float32)[None]
    sigma = rng.uniform(0.02, 0.05)
    re = img + sigma * rng.standard_normal(img.shape).astype(np.float32)
    im = sigma * rng.standard_normal(img.shape).astype(np.float32)
    mag = np.sqrt(re * re + im * im)
    scale = rng.uniform(500.0, 1100.0)
    out = np.clip(np.rint(mag * scale), 0, 32767).astype(np.int16)
    # LV cavity centroid at ED (bullet centroid ~ 0.3 a from the base), in pixels
    cu = float(base[0]) + 0.3 * float(a_t[0])
    pos = origin + cu * eu + v_lv * ev
    centre = ((pos[1] / px) + (size - 1) / 2, (pos[0] / px) + (size - 1) / 2)
    es = int(np.argmin(curves["LV"]))
    return out, CineInfo(es_frame=es, lv_center_rc=(float(centre[0]), float(centre[1])), spacing=px,
                         frame_ms=1000.0 * 60.0 / hr / n)
