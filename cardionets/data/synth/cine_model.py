"""A bSSFP-like 4-chamber long-axis cine over one cardiac cycle, drawn from the phenotypes.

Heart frame (millimetres): u along the LV long axis from the mitral annulus centre at end-diastole
(u = 0) to the apex, v across it, positive towards the LV lateral wall (the frame bends slightly
and is warped by a smooth ~1.5 mm random displacement field). Every structure is evaluated on the
pixel grid for all frames at once: ventricular edges are per-frame profiles v = f(u) tabulated on
0.3 mm u-steps ([n, L] tables) and gathered onto the grid with one precomputed index, turned into a
signed distance by the edge's slope; atria, papillary muscle and valves are per-frame ellipses and
bands in shifted static coordinates. Every edge gets a one-pixel partial-volume ramp.

* LV cavity: a bullet |v - v_lv| < w q(s) sqrt(1 - s^m), s = (u - B) / a in [0, 1], with a slight
  narrowing q towards the mitral annulus; its volume pi w^2 a I_v (I_v = mean of q^2 (1 - s^m))
  follows the LV volume curve. The apex stays put; the AV plane u = B descends with the septal and
  lateral longitudinal strain (Ell_1-3, Ell_4-6), so it tilts when they differ.
* LV myocardium: the cavity grown by the segmental wall thickness (AHA 3/9/14 septal, 6/12/16
  lateral, interpolated base -> mid -> apex and thinning to an apical cap), each segment
  thickening in systole by its radial strain.
* RV: a crescent measured from the septal epicardium: 0 < v' < D(u), v' the distance into the RV
  from the septal surface, D a bullet profile from the tricuspid annulus (6-12 mm more apical than
  the mitral: the crux offset) to an RV apex short of the LV apex. Its area D0 L J tracks
  (V / kappa)^(2/3); the tricuspid plane descends more than the mitral (TAPSE > MAPSE); free wall
  ~3.2 mm (thicker in PH). The septum thins a little towards its membranous part at the crux.
* LA, RA: ellipses on either side of a thin (1.6-3 mm) interatrial septum, bowed towards the RA and
  thinnest at the fossa ovalis, cut at their annulus; areas track (V / kappa)^(2/3) of the atrial
  volume curves (reservoir filling in ventricular systole, emptying in early diastole and atrial
  systole); 2 mm walls.
* Valves: a 1.4 mm leaflet plane between ventricular and atrial blood (no band across the annuli);
  closed leaflets ~2 mm thick, bowed towards the atrium, in systole and around end-diastole; open
  into the ventricle during filling, with a slightly darker inflow jet in early diastole. Papillary
  muscle, RV trabeculation and moderator band.
* Pericardium: epicardial fat (thicker in the AV grooves, along the RV free wall and at the apex), the
  fibrous pericardium as a thin dark line (thickened after pericarditis), a bright effusion rim
  between them when there is fluid (mostly along the RV free wall, the apex and the lateral LV), and
  paracardiac fat outside in places.
* Around it (:mod:`.cine_surroundings`): chest wall, lungs, posterior mediastinum with the pulsating
  descending aorta, spine and liver in body coordinates; neighbours follow the heart in systole.
Orientation: anterior up, patient left on the image right (the scanner convention of a 4-chamber
plane), so the apex points up and to the right, the RV lies in front (upper left) and the atria
below. The long-axis angle comes from the subject's anatomy (:mod:`.anatomy`, shared with the ECG);
per subject the position, contrast, coil shading and noise vary.
Image formation: bSSFP-like contrast (blood and fat bright, myocardium dark, liver mid grey, lung
dark with vessels), slightly inhomogeneous blood, Gaussian point spread, smooth receive-coil
shading, Rician noise; int16 magnitudes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import cine_surroundings
from .diseases import DiseaseState

N_FRAMES = 50
SIZE = 96
SPACING = 1.8        # mm; UK Biobank long-axis cines are ~1.8 mm in-plane
_F = np.float32


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


# ---- shape helpers ---------------------------------------------------------------------------------
_VALVE_GAP = 1.4   # mm of the leaflet plane between ventricular and atrial blood at a closed valve
_CONE = 6.0       # slope of the cone that continues a profile past its apex (keeps distances signed)


def _cov(dist_mm, px: float):
    """Pixel coverage of a region from a signed distance (negative inside): a one-pixel ramp."""
    c = dist_mm * _F(-1.0 / px)
    c += _F(0.5)
    np.maximum(c, 0.0, out=c)
    return np.minimum(c, 1.0, out=c)


def _taper(s, beta: float, reach: float = 0.3):
    """Narrowing towards an annulus: 1 - beta (1 - s / reach)^2 for s < reach, else 1."""
    r = np.maximum(1.0 - s * (1.0 / reach), 0.0)
    return 1.0 - beta * r * r


def _profile_integrals(m: float, beta: float) -> tuple[float, float]:
    """I_v = mean q^2 (1 - s^m) and I_a = mean q sqrt(1 - s^m) over s in [0, 1] (volume and
    area factors of a bullet of half-width w q(s) sqrt(1 - s^m))."""
    s = (np.arange(2000) + 0.5) / 2000
    q = _taper(s, beta)
    body = 1.0 - s ** m
    return float(np.mean(q * q * body)), float(np.mean(q * np.sqrt(body)))


def bullet_profile(ug: np.ndarray, base: np.ndarray, length: np.ndarray, width: np.ndarray, m: float,
                   beta: float, extra: np.ndarray | float = 0.0) -> np.ndarray:
    """Half-width [n, L] at axial positions ug [L] of a bullet per frame: (width q(s) + extra)
    sqrt(1 - s^m), s = (u - base) / length; constant above the base; past the apex a cone of slope
    _CONE going negative, so |v| - profile is a signed distance-like field everywhere."""
    s = (ug[None, :] - base[:, None]) / length[:, None]
    sc = np.clip(s, 0.0, 1.0)
    hw = (width[:, None] * _taper(sc, beta) + extra) * np.sqrt(1.0 - sc ** m)
    past = (s - 1.0) * length[:, None]
    return np.where(s > 1.0, -_CONE * past, hw)


def slope_factor(edge: np.ndarray, du: float) -> np.ndarray:
    """1 / sqrt(1 + (d edge / du)^2): turns a horizontal offset from an edge v = edge(u) into a
    distance normal to it."""
    g = np.clip(np.gradient(edge, du, axis=1), -_CONE, _CONE)
    return 1.0 / np.sqrt(1.0 + g * g)


def _smooth_min(a, b, k: float):
    """Smooth union of two signed distances (polynomial smooth-min, blending radius k mm)."""
    h = np.minimum(np.maximum(0.5 + (0.5 / k) * (b - a), 0.0), 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _ellipse(x, y, a, b):
    """Approximate signed distance to (x / a)^2 + (y / b)^2 = 1: (r - 1) sqrt(a b)."""
    xa, yb = x / a, y / b
    return (np.sqrt(xa * xa + yb * yb) - 1.0) * np.sqrt(a * b)


def _seg_area(h: float) -> float:
    """Area of the unit disc beyond a chord at distance h from the centre."""
    return float(np.arccos(h) - h * np.sqrt(1.0 - h * h))


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Unit-SD smooth random field [size, size]: white noise blurred by a Gaussian of ``sigma``
    pixels; for sigma >= 4 the same spectrum (exp(-sigma^2 k^2)) from 24 random Fourier modes,
    which is ~10x cheaper than the wide convolution."""
    if sigma >= 4.0:
        k = rng.normal(0.0, 1.0 / (np.sqrt(2.0) * sigma), (2, 24))
        phase = rng.uniform(0.0, 2 * np.pi, 24)
        r = np.arange(size, dtype=_F)
        cx = np.cos(np.outer(k[1], r) + phase[:, None])            # [24, size] along columns
        sx = np.sin(np.outer(k[1], r) + phase[:, None])
        cy, sy = np.cos(np.outer(k[0], r)), np.sin(np.outer(k[0], r))
        f = (cy.T @ cx - sy.T @ sx).astype(_F)                       # sum_k cos(ky y + kx x + phase)
    else:
        from scipy.ndimage import gaussian_filter

        f = gaussian_filter(rng.standard_normal((size, size)).astype(_F), sigma)
    return (f - f.mean()) / (f.std() + 1e-6)


def blur3(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable 3-tap Gaussian (sigma <~ 0.8 px) over the last two axes, edges replicated; the
    same as scipy.ndimage.gaussian_filter(img, (0, sigma, sigma), truncate=1.5 / sigma) up to the
    kernel's tail (tested against it)."""
    w1 = float(np.exp(-0.5 / sigma ** 2))
    c0, c1 = 1.0 / (1.0 + 2.0 * w1), w1 / (1.0 + 2.0 * w1)
    out = img * c0
    out[..., 1:, :] += c1 * img[..., :-1, :]
    out[..., :-1, :] += c1 * img[..., 1:, :]
    out[..., 0, :] += c1 * img[..., 0, :]
    out[..., -1, :] += c1 * img[..., -1, :]
    res = out * c0
    res[..., :, 1:] += c1 * out[..., :, :-1]
    res[..., :, :-1] += c1 * out[..., :, 1:]
    res[..., :, 0] += c1 * out[..., :, 0]
    res[..., :, -1] += c1 * out[..., :, -1]
    return res


# ---- the renderer ----------------------------------------------------------------------------------
def render_cine(ph: dict[str, float], d: DiseaseState, hr: float, rng: np.random.Generator,
                size: int = SIZE, spacing: float = SPACING, n: int = N_FRAMES,
                debug: dict | None = None, anatomy=None, male: bool = True, bmi: float = 26.0
                ) -> tuple[np.ndarray, CineInfo]:
    """int16 [n, size, size] magnitude cine (frame, row, col) and where things are. ``anatomy`` (the
    subject's :class:`~.anatomy.Anatomy`) sets the long-axis angle, ``male`` / ``bmi`` the chest wall.
    ``debug`` (a dict) receives the signed-distance fields of the chambers [n, H, W] (negative
    inside), the heart-frame coordinates u, v [H, W], the AV-plane descent per frame and the image
    before noise (``noise_free``)."""
    curves, ts = volume_curves(ph, hr, n)
    cyc = curves["c"]                                   # contraction 0 (ED) .. 1 (ES)

    def T(x):                                           # per-frame parameter -> [n, 1, 1] float32
        return np.asarray(x, dtype=_F).reshape(-1, 1, 1)

    px = spacing
    # ---- LV geometry ---------------------------------------------------------------------------
    m_lv = rng.uniform(2.0, 2.4)                         # apex bluntness
    beta_lv = rng.uniform(0.12, 0.17)                   # narrowing towards the mitral annulus
    iv_lv, _ = _profile_integrals(m_lv, beta_lv)
    k_lv = float(np.clip(0.28 * np.exp(0.05 * rng.standard_normal()) * (1.2 if d.cm == "DCM" else 1.0), 0.22, 0.45))
    a_ed = float((ph["LVEDV"] * 1000.0 / (np.pi * k_lv ** 2 * iv_lv)) ** (1 / 3))
    ell_sep = max(-np.mean([ph["Ell_1"], ph["Ell_2"], ph["Ell_3"]]), 2.0) / 100.0
    ell_lat = max(-np.mean([ph["Ell_4"], ph["Ell_5"], ph["Ell_6"]]), 2.0) / 100.0
    b_sep, b_lat = ell_sep * a_ed * cyc, ell_lat * a_ed * cyc       # septal / lateral MAPSE over time
    base = 0.5 * (b_sep + b_lat)                                     # AV-plane descent (mm)
    a_t = a_ed - base                                                # apex fixed
    w_t = np.sqrt(curves["LV"] * 1000.0 / (np.pi * a_t * iv_lv))     # half-width from the volume
    w_ed = float(w_t[0])
    tilt = np.tan(np.deg2rad(rng.uniform(-4.0, 10.0))) + (b_lat - b_sep) / (2.0 * w_ed)
    # wall thickness per AHA segment and frame (radial strain thickens it in systole)
    def thick(seg):
        return ph[f"WT_AHA_{seg}"] * (1.0 + max(ph[f"Err_AHA_{seg}"], -5.0) / 100.0 * cyc)
    cap = 0.7 * np.mean([thick(k) for k in (13, 14, 15, 16)], 0)    # apical cap, thinner
    t_sep = np.stack([thick(3), thick(9), thick(14), cap], 1)       # [n, 4] base, mid, apex, cap
    t_lat = np.stack([thick(6), thick(12), thick(16), cap], 1)
    # ---- RV geometry ---------------------------------------------------------------------------
    m_rv = rng.uniform(1.8, 2.5)
    beta_rv = rng.uniform(0.1, 0.22)
    _, ia_rv = _profile_integrals(m_rv, beta_rv)
    kappa_rv = 1.45 * float(np.exp(0.06 * rng.standard_normal()))    # V / A^1.5 of the RV crescent
    len_rv_ed = a_ed * min(rng.uniform(0.72, 0.84) * (1.0 + 0.2 * d.ph), 0.98)
    tv_off = rng.uniform(6.0, 12.0)                                   # tricuspid below the mitral (mm)
    rv_long = 0.23 * float(np.clip(ph["RVEF"] / 55.0, 0.3, 1.3))     # RV longitudinal shortening
    tapse = rv_long * len_rv_ed * cyc
    base_rv = tv_off + tapse
    len_rv = len_rv_ed - tapse
    area_rv = (curves["RV"] * 1000.0 / kappa_rv) ** (2 / 3)
    d0_rv = area_rv / (len_rv * ia_rv)                                # crescent depth at its widest
    t_rv = 3.2 * (1.0 + 0.5 * d.ph) * float(np.exp(0.1 * rng.standard_normal())) * (1.0 + 0.25 * cyc)
    tilt_rv = np.tan(np.deg2rad(rng.uniform(-12.0, 4.0)))
    # ---- atria ---------------------------------------------------------------------------------
    h_top, g_sep = 0.62, 0.5                      # annulus and septum chords (fractions of the axes)
    frac = np.pi - _seg_area(h_top) - _seg_area(g_sep)

    def atrium(vol, kappa, k):
        area = (vol * 1000.0 / kappa) ** (2 / 3)
        a = np.sqrt(area / (k * frac))
        return a, k * a
    a_la, w_la = atrium(curves["LA"], 0.7 * float(np.exp(0.05 * rng.standard_normal())),
                        1.05 * float(np.exp(0.07 * rng.standard_normal())))
    a_ra, w_ra = atrium(curves["RA"], 0.8 * float(np.exp(0.05 * rng.standard_normal())),
                        0.95 * float(np.exp(0.07 * rng.standard_normal())))
    psi = float(np.deg2rad(rng.normal(12.0, 5.0)))  # interatrial septum leans towards the RA
    t_ias = rng.uniform(1.6, 3.0)                   # thin, thinnest at the fossa ovalis
    bow = rng.uniform(0.5, 4.0)                     # and bowed towards the RA (higher LA pressure)
    v_lv = 0.0
    v_crux = v_lv - w_t * (1.0 - beta_lv) - 0.5 * t_sep[:, 0]        # mid-septum at the annulus
    # ---- pose in the image ---------------------------------------------------------------------------
    ang_deg = anatomy.cine_angle_deg if anatomy is not None else rng.normal(44.0, 8.0)
    ang = np.deg2rad(ang_deg)                          # long axis tilted from vertical: apex up-right
    eu = np.array([np.sin(ang), -np.cos(ang)])         # (x, y) image direction base -> apex
    ev = np.array([np.cos(ang), np.sin(ang)])          # towards the LV lateral wall (patient left)
    top_u = a_ed + float(cap[0]) + 4.0
    bot_u = -(1.0 + h_top) * float(a_la.max()) - 4.0
    mid_u = max(0.5 * (top_u + bot_u) + 9.0, top_u - 78.0)   # favour the ventricles; keep the apex in
    mid_v = 0.5 * ((w_ed + float(t_lat[0, 1])) + float(v_crux[0]) - float(d0_rv[0]) - 4.0)
    shift = rng.normal(0.0, 4.0, 2)
    origin = -(mid_u * eu + mid_v * ev) + shift        # image centre is (0, 0)
    coords = (np.arange(size, dtype=_F) - (size - 1) / 2) * _F(px)
    X, Y = np.meshgrid(coords, coords)                 # [row, col] grids of x (col) and y (row)
    u2 = ((X - origin[0]) * eu[0] + (Y - origin[1]) * eu[1]).astype(_F)
    v2 = ((X - origin[0]) * ev[0] + (Y - origin[1]) * ev[1]).astype(_F)
    # organic shapes: the long axis bends (septum convex towards the RV) and a smooth random
    # displacement field (~1.5 mm, correlation ~25 mm) warps every structure a little
    v2 = v2 + _F(rng.normal(0.0012, 0.0012)) * (u2 - _F(0.45 * a_ed)) ** 2
    u2 = u2 + _F(rng.uniform(0.8, 2.0)) * _smooth_noise(rng, size, 10.0)
    v2 = v2 + _F(rng.uniform(0.8, 2.0)) * _smooth_noise(rng, size, 10.0)
    # ---- axial profile tables [n, L]: every ventricular edge is a function of u per frame ---------------
    du = 0.3
    ug = np.arange(-12.0, a_ed + 30.0, du)
    L = len(ug)
    idx = np.clip(np.rint((u2 - ug[0]) / du), 0, L - 1).astype(np.intp)
    frame_off = (np.arange(n) * L)[:, None, None]
    g1 = frame_off + idx[None]                          # gather index into an [n, L] table
    g2 = 2 * frame_off + (idx + L * (v2 >= v_lv))[None]  # ... into [n, 2L]: septal | lateral half

    def gather(tab, g):
        return tab.astype(_F, copy=False).ravel().take(g)
    s0 = np.clip(ug / a_ed, 0.0, 1.0)
    hats = np.stack([np.clip(1 - s0 / 0.45, 0, 1),
                     np.clip(np.minimum(s0 / 0.45, (0.8 - s0) / 0.35), 0, 1),
                     np.clip(np.minimum((s0 - 0.45) / 0.35, (1.0 - s0) / 0.2), 0, 1),
                     np.clip((s0 - 0.8) / 0.2, 0, 1)])            # [4, L] base/mid/apex/cap
    hw_cav = bullet_profile(ug, base, a_t, w_t, m_lv, beta_lv)
    # the septum thins towards its membranous part over the last ~6 mm before the annulus (the crux)
    membranous = 1.0 - 0.3 * np.clip(1.0 - (ug[None, :] - base[:, None]) / 6.0, 0.0, 1.0)
    hw_sep = bullet_profile(ug, base, a_t + cap, w_t, m_lv, beta_lv, (t_sep @ hats) * membranous)
    hw_lat = bullet_profile(ug, base, a_t + cap, w_t, m_lv, beta_lv, t_lat @ hats)
    sep_face = v_lv - np.maximum(hw_sep, 0.0)                        # RV face of the septum, v(u)
    hw_rv = bullet_profile(ug, base_rv, len_rv, d0_rv, m_rv, beta_rv)  # crescent depth from the septum
    free = sep_face - hw_rv                                          # RV free wall (endocardium), v(u)
    cav_t = np.concatenate([hw_cav * slope_factor(hw_cav, du)] * 2, 1)
    epi_t = np.concatenate([hw_sep, hw_lat], 1)
    epi_f = np.concatenate([slope_factor(hw_sep, du), slope_factor(hw_lat, du)], 1)
    cav_f = np.concatenate([slope_factor(hw_cav, du)] * 2, 1)
    absv = np.abs(v2 - v_lv)[None]
    # ---- LV: endocardium and epicardium -------------------------------------------------------------
    lv_plane = T(base) + T(tilt) * (v2 - v_lv) - u2                 # > 0 above the mitral plane
    rough = (0.9 * np.abs(_smooth_noise(rng, size, 1.3)))[None]     # trabeculae only narrow the cavity
    fc = gather(cav_f, g2)
    lv_cav = np.maximum(absv * fc - gather(cav_t, g2) + rough, lv_plane)
    fe = gather(epi_f, g2)
    lv_epi = np.maximum((absv - gather(epi_t, g2)) * fe, lv_plane - _VALVE_GAP)   # muscle up to the atrium
    # ---- RV: crescent on the septal epicardium -----------------------------------------------------
    vp = gather(sep_face, g1) - v2                                   # depth into the RV from the septum
    d_free = (gather(free, g1) - v2) * gather(slope_factor(free, du), g1)   # < 0 on the septal side of the free wall
    rv_plane = T(base_rv) + T(tilt_rv) * (v2 - T(v_crux)) - u2      # > 0 above the tricuspid plane
    rough_rv = (1.5 * np.abs(_smooth_noise(rng, size, 1.1)))[None]
    rv_cav = np.maximum(np.maximum(d_free, -vp) + rough_rv, rv_plane)
    rv_epi = np.maximum(np.maximum(d_free - T(t_rv), -vp - 3.0), rv_plane - _VALVE_GAP)
    # ---- atria: ellipses either side of the interatrial septum, hanging from their annuli ------------
    cps, sps = np.cos(psi), np.sin(psi)
    xa_s = (-u2 * cps - v2 * sps)[None]                # down along the interatrial septum ...
    ya_s = (-u2 * sps + v2 * cps)[None]                # ... and across it (+ towards the LA)
    sx = T(base * cps + v_crux * sps)                  # per-frame shift: the crux moves with the AV plane
    sy = T(base * sps - v_crux * cps)
    la_cav = _ellipse(xa_s + (sx - T(h_top * a_la)), ya_s + (sy - T(0.5 * t_ias + g_sep * w_la)), T(a_la), T(w_la))
    # the septum's centre line, bowed towards the RA; half its thickness, thinning at the fossa ovalis
    s_len = T(1.6 * np.maximum(a_la, a_ra))
    s_pos = np.clip((xa_s + sx) / s_len, 0.0, 1.0)
    ya_b = ya_s + bow * np.sin(np.pi * s_pos)
    half_ias = 0.5 * t_ias * (1.0 - 0.6 * np.exp(-((s_pos - 0.55) / 0.12) ** 2))
    la_cav = np.maximum(np.maximum(la_cav, (half_ias - sy) - ya_b), _VALVE_GAP - lv_plane)
    ra_cav = _ellipse(xa_s + (sx - T(h_top * a_ra - tv_off * cps)), ya_s + (sy + T(0.5 * t_ias + g_sep * w_ra)),
                      T(a_ra), T(w_ra))
    ra_cav = np.maximum(np.maximum(ra_cav, ya_b + (sy + half_ias)), _VALVE_GAP - rv_plane)
    if debug is not None:
        debug.update(lv_cav=lv_cav, lv_epi=lv_epi, rv_cav=rv_cav, rv_epi=rv_epi, la_cav=la_cav, ra_cav=ra_cav,
                     u=u2, v=v2, base=base, a_ed=a_ed, lv_plane=lv_plane)
    # ---- tissues (bSSFP-like relative signal) --------------------------------------------------------
    blood = 1.0
    myo = rng.uniform(0.26, 0.36)
    fat = rng.uniform(0.72, 0.92)
    v_rv_out = float(v_crux[0] - d0_rv[0]) - 4.0
    ventricles = _smooth_min(lv_epi, rv_epi, 8.0)
    atria_out = np.minimum(la_cav, ra_cav) - 2.0
    heart = np.minimum(ventricles, atria_out)
    # epicardial fat: patchy, thicker in the AV grooves, along the RV free wall and at the apex
    patch = _smooth_noise(rng, size, 4.0)
    groove_l = np.exp(-(((u2 - 2.0) / 12.0) ** 2 + ((v2 - v_lv - w_ed - 8.0) / 12.0) ** 2))
    groove_r = np.exp(-(((u2 - tv_off) / 12.0) ** 2 + ((v2 - v_rv_out) / 12.0) ** 2))
    apex_f = np.exp(-(((u2 - a_ed - 8.0) / 14.0) ** 2 + (v2 / 25.0) ** 2))
    rv_side = np.clip((float(v_crux[0]) - v2) / 25.0, 0.0, 1.0)
    fat_t = (rng.uniform(-1.5, 0.5) + 1.5 * patch + rng.uniform(4.0, 8.0) * (groove_l + groove_r)
             + rng.uniform(0.0, 5.0) * apex_f + rng.uniform(0.0, 2.5) * rv_side)
    fat_t = np.clip(fat_t, 0.0, 10.0).astype(_F)
    # pericardium (a thin dark line where fat lies on both sides), effusion (bright fluid between the
    # epicardial fat and the pericardium: along the RV free wall, around the apex and the lateral LV),
    # paracardiac fat outside it in places
    eff_pattern = np.clip(0.35 + 0.9 * rv_side + 0.8 * apex_f + 0.4 * np.clip((v2 - v_lv) / 40.0, 0.0, 1.0)
                          - 0.6 * np.clip(-u2 / 30.0, 0.0, 1.0), 0.0, 1.4)
    eff_t = (d.effusion_mm * eff_pattern * (1.0 - 0.15 * T(cyc))).astype(_F)   # the rim widens a little in systole
    peri_t = _F(d.pericardium_mm)
    para_t = np.clip(rng.uniform(-2.0, 3.0) + 3.0 * _smooth_noise(rng, size, 5.0) + 6.0 * apex_f, 0.0, 12.0).astype(_F)
    # ---- surroundings, placed in body coordinates around the ED heart -----------------------------
    heart_ed = heart[0] - fat_t - peri_t
    lm = cine_surroundings.landmarks(X, Y, heart_ed < 0, la_cav[0] < 0, ra_cav[0] < 0)
    from scipy.ndimage import distance_transform_edt

    heart_dist = (distance_transform_edt(heart_ed >= 0) * px).astype(_F)
    bg_ed, bg_es, aorta = cine_surroundings.render(rng, X, Y, px, lm, heart_dist, fat, myo, male, bmi, _smooth_noise)
    img = bg_ed[None] + T(cyc) * (bg_es - bg_ed)[None]

    def paint(dist, value):                            # img <- img + (value - img) * coverage, in place
        nonlocal img
        c = _cov(dist, px)
        tmp = np.subtract(value, img, dtype=_F)
        tmp *= c
        img += tmp

    phase = np.arange(n) / n
    pulse = np.clip(np.sin(np.pi * (phase - 0.06) / (ts + 0.12)), 0.0, 1.0) * (phase > 0.06)
    r_ao = T(aorta.r * (1.0 + 0.06 * pulse))           # the descending aorta widens in systole
    paint(_ellipse(X - aorta.cx, Y - aorta.cy, aorta.r + 1.5, aorta.r + 1.5), myo * 1.1)
    paint(_ellipse(X - aorta.cx, Y - aorta.cy, r_ao, r_ao), aorta.lumen * (1.0 - 0.1 * T(pulse)))
    outer = heart - fat_t - eff_t - peri_t
    paint(outer - para_t, (fat * (0.9 + 0.08 * patch)).astype(_F))      # paracardiac fat
    paint(outer, myo * 0.55)                                             # fibrous pericardium
    if d.effusion_mm > 0.8:
        paint(heart - fat_t - eff_t, blood * 0.9)                        # effusion rim (fluid)
    paint(heart - fat_t, (fat * (0.92 + 0.08 * patch)).astype(_F))
    flow = (1.0 + 0.035 * _smooth_noise(rng, size, 3.0) + 0.025 * _smooth_noise(rng, size, 8.0)).astype(_F)
    paint(atria_out, myo)                                    # atrial walls and interatrial septum
    paint(np.minimum(la_cav, ra_cav), blood * rng.uniform(0.9, 1.0) * flow)
    paint(ventricles, myo * (1.0 + 0.06 * patch))
    paint(np.minimum(rv_cav, lv_cav), blood * flow)
    # lateral papillary muscle at mid-cavity, RV moderator band
    paint(_ellipse(u2 - T(base + 0.5 * a_t), v2 - T(v_lv + 0.78 * w_t), 9.0, T(3.0 + 1.5 * cyc)), myo * 1.3)
    mb_u = T(base_rv + 0.7 * len_rv)                   # from the septum part-way to the free wall
    paint(_ellipse(u2 - mb_u - 0.3 * vp, vp - T(0.2 * d0_rv), 2.0, T(0.25 * d0_rv)), myo * 1.2)
    # ---- valves: thin leaflets, closed (bowed towards the atrium) or open into the ventricle ---------
    is_open = T(np.minimum((phase - ts - 0.02) / 0.04, (0.97 - phase) / 0.03) > 0.5)
    filling = T(np.clip(1.0 - np.abs(phase - ts - 0.09) / 0.07, 0.0, 1.0))      # early-diastolic inflow
    for plane, vc, half in ((lv_plane, v_lv + 0.0 * w_t, w_t * (1 - beta_lv)),
                            (rv_plane, v_crux - 0.55 * d0_rv * (1 - beta_rv) - 0.5 * t_sep[:, 0],
                             0.5 * d0_rv * (1 - beta_rv))):
        rel = (v2 - T(vc)) / T(half)                                   # -1 .. 1 across the orifice
        mid = plane - 0.5 * _VALVE_GAP                                 # 0 in the middle of the leaflet plane
        arel = np.abs(rel)
        # blood joins atrium and ventricle across the orifice (open) or up to the leaflets (closed)
        orifice = np.maximum(np.abs(mid) - 2.0 * _VALVE_GAP, (arel - 0.92) * T(half))
        paint(np.where(is_open, orifice, np.maximum(orifice, np.abs(mid) - 0.3)), blood * flow)
        r2 = rel * rel                     # closed: thin leaflets meeting mid-orifice, bowed to the atrium
        closed = np.maximum(np.abs(mid - 1.2 * (1.0 - r2)) - (0.95 + 0.4 * r2 * r2), arel - 1.1)
        # open: a small annulus at each hinge, the leaflets hang into the ventricle towards the walls
        depth = -mid                                                   # mm into the ventricle
        leaflet = np.maximum(np.abs(arel - 0.8 + 0.12 * depth / T(half)) * T(half) - 0.6,
                             np.maximum(depth - 0.7 * T(half), -depth))
        ring = np.maximum(np.maximum(np.abs(mid) - 1.5, (0.9 - arel) * T(half)), arel - 1.15)
        paint(np.where(is_open, np.minimum(leaflet, ring), closed), myo)
        # inflow jet: slightly darker blood from the leaflet tips towards the apex in early diastole
        jet = _ellipse(depth - 0.3 * T(a_t), rel * T(half), 0.3 * T(a_t), 0.35 * T(half))
        paint(np.where(filling > 0, jet + 2.0, 9.0), blood * (1.0 - 0.2 * filling) * flow)
    # ---- image formation ---------------------------------------------------------------------------
    img = blur3(img, 0.75)
    gx, gy = rng.normal(0, 0.12, 2)
    yy, xx = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    shading = (1.0 + gx * xx + gy * yy - rng.uniform(0.1, 0.35) * (xx ** 2 + yy ** 2)
               + rng.uniform(0.0, 0.3) * np.exp(-(yy + 1.0) / 0.4) + 0.06 * _smooth_noise(rng, size, 18.0))
    img = img * np.clip(shading, 0.35, 2.0).astype(_F)
    if debug is not None:
        debug["noise_free"] = img.copy()
    # Rician magnitude: complex Gaussian noise drawn once as a pool and read at per-frame offsets
    sigma = rng.uniform(0.012, 0.028)
    pool = rng.standard_normal(12 * size * size, dtype=_F) * _F(sigma)
    offs = rng.integers(0, pool.size - size * size, (2, n))
    pix = np.arange(size * size).reshape(1, size, size)
    re = img + pool.take(offs[0][:, None, None] + pix)
    im = pool.take(offs[1][:, None, None] + pix)
    mag = np.sqrt(re * re + im * im)
    scale = rng.uniform(500.0, 1100.0)
    out = np.minimum(np.rint(mag * _F(scale)), 32767).astype(np.int16)
    # LV cavity centroid at ED (~0.4 a from the base), in pixels
    pos = origin + 0.4 * a_ed * eu + v_lv * ev
    centre = ((pos[1] / px) + (size - 1) / 2, (pos[0] / px) + (size - 1) / 2)
    es = int(np.argmin(curves["LV"]))
    return out, CineInfo(es_frame=es, lv_center_rc=(float(centre[0]), float(centre[1])), spacing=px,
                         frame_ms=1000.0 * 60.0 / hr / n)
