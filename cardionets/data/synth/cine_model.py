"""A bSSFP-like 4-chamber long-axis cine over one cardiac cycle, drawn from the phenotypes.

Heart frame (millimetres): u along the LV long axis from the mitral annulus centre at end-diastole
(u = 0) to the apex, v across it, positive towards the LV lateral wall (the frame bends slightly
and is warped by a smooth ~1.5 mm random displacement field). Every structure is evaluated on the
pixel grid for all frames at once: ventricular edges are per-frame profiles v = f(u) tabulated on
0.3 mm u-steps ([n, L] tables) and gathered onto the grid with one precomputed index, turned into a
signed distance by the edge's slope; atria, papillary muscle and valves are per-frame ellipses and
bands in shifted static coordinates. Every edge gets a one-pixel partial-volume ramp.

* LV cavity: a bullet |v - v_lv| < w q(s) (1 - s^m)^p, s = (u - B) / a in [0, 1] (near-parallel
  walls over the base, a tapered apex), with a slight narrowing q towards the mitral annulus; its
  volume pi w^2 a I_v (I_v = mean of q^2 (1 - s^m)^(2p)) follows the LV volume curve, and the
  heart is drawn at its real size (LV ~90-100 mm at ED in a 173 mm field). The apex stays put; the AV plane u = B descends with the septal and
  lateral longitudinal strain (Ell_1-3, Ell_4-6), so it tilts when they differ.
* LV myocardium: the cavity grown by the segmental wall thickness (AHA 3/9/14 septal, 6/12/16
  lateral, interpolated base -> mid -> apex and thinning to an apical cap) as :func:`drawn_wall`
  draws it, each segment thickening in systole by its radial strain; trabeculation along the
  lateral wall and apex, the anterolateral papillary muscle at mid-cavity.
* RV: a crescent measured from the septal epicardium: 0 < v' < D(u), v' the distance into the RV
  from the septal surface, D a bullet profile from the tricuspid annulus (6-12 mm more apical than
  the mitral: the crux offset) to an RV apex short of the LV apex. Its area D0 L J tracks
  (V / kappa)^(2/3); the tricuspid plane descends more than the mitral (TAPSE > MAPSE); free wall
  ~3.2 mm (thicker in PH). The septum thins a little towards its membranous part at the crux.
* LA, RA: ovals on either side of a thin (1.6-3 mm) interatrial septum, bowed towards the RA and
  thinnest at the fossa ovalis, cut at their annulus; areas track (V / kappa)^(2/3) of the atrial
  volume curves (reservoir filling in ventricular systole, emptying in early diastole and atrial
  systole); 2 mm walls; pulmonary veins entering the LA.
* Valves: the leaflet plane between ventricular and atrial blood is blood (no band across the
  annuli); two leaflets per valve hinged at the annulus, meeting a few mm into the ventricle when
  closed (systole, end-diastole), swinging open towards the apex in early filling, half-closed in
  diastasis, re-opened by the atrial kick; a slightly darker inflow stream in early diastole. RV
  trabeculation and moderator band.
* Pericardium: epicardial fat (thicker in the AV grooves, along the RV free wall and at the apex;
  more with BMI), the fibrous pericardium as a thin dark line (thickened after pericarditis), a
  bright effusion rim between them when there is fluid (mostly along the RV free wall, the apex and
  the lateral LV), and paracardiac fat outside in places.
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
from scipy.ndimage import distance_transform_edt

from . import cine_surroundings
from .diseases import DiseaseState
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter

N_FRAMES = 50
SIZE = 96
SPACING = 1.8        # mm; UK Biobank long-axis cines are ~1.8 mm in-plane
# The phenotype table's wall thicknesses follow the automated UK Biobank analysis (mean ~6 mm); the
# image draws normal walls 1.4 x thicker, so the basal septum reads 8-11 mm at end-diastole as on
# manual SSFP measurements, and adds at most 2.8 mm to hypertrophied ones (an HCM septum of 25 mm is
# drawn 27.8 mm, not 35). Monotone: the image still orders subjects by their phenotype.
WALL_SCALE = 1.4
WALL_SCALE_UP_TO = 7.0    # mm of phenotype thickness the scale applies to


def drawn_wall(wt):
    """Wall thickness drawn in the image (mm) for a phenotype thickness ``wt`` (mm)."""
    return wt + (WALL_SCALE - 1.0) * np.minimum(wt, WALL_SCALE_UP_TO)
_F = np.float32


@dataclass
class CineInfo:
    es_frame: int
    lv_center_rc: tuple[float, float]    # LV cavity centroid at ED, (row, col) in pixels
    spacing: float
    frame_ms: float


def _pchip_cycle(knots_x, knots_y, phase: np.ndarray) -> np.ndarray:
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
_CONE = 6.0       # steepest edge slope the distance correction trusts (the tip of a bullet is vertical)


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


def _profile_integrals(m: float, beta: float, p: float = 0.5) -> tuple[float, float]:
    """I_v = mean q^2 (1 - s^m)^(2p) and I_a = mean q (1 - s^m)^p over s in [0, 1] (volume and
    area factors of a bullet of half-width w q(s) (1 - s^m)^p)."""
    s = (np.arange(2000) + 0.5) / 2000
    q = _taper(s, beta)
    body = (1.0 - s ** m) ** p
    return float(np.mean(q * q * body * body)), float(np.mean(q * body))


def bullet_profile(ug: np.ndarray, base: np.ndarray, length: np.ndarray, width: np.ndarray, m: float,
                   beta: float, extra: np.ndarray | float = 0.0, p: float = 0.5) -> np.ndarray:
    """Half-width [n, L] at axial positions ug [L] of a bullet per frame: (width q(s) + extra)
    (1 - s^m)^p, s = (u - base) / length (p = 0.5: a rounded tip, larger: a tapered one); constant
    above the base; past the apex a cone of slope one going negative, so |v| - profile is a signed
    distance-like field everywhere (a steeper cone would shrink the distance sideways of the tip and
    drag the epicardial fat out into a crease)."""
    s = (ug[None, :] - base[:, None]) / length[:, None]
    sc = np.clip(s, 0.0, 1.0)
    hw = (width[:, None] * _taper(sc, beta) + extra) * (1.0 - sc ** m) ** p
    past = (s - 1.0) * length[:, None]
    return np.where(s > 1.0, -past, hw)


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


def _segment(x, y, start, direction, length):
    """Distance from (x, y) to the segment start + t direction, t in [0, length] (direction a unit
    vector; any of them may be per-frame [n, 1, 1] arrays)."""
    dx, dy = x - start[0], y - start[1]
    t = np.clip(dx * direction[0] + dy * direction[1], 0.0, length)
    ex, ey = dx - t * direction[0], dy - t * direction[1]
    return np.sqrt(ex * ex + ey * ey)


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
    m_lv = rng.uniform(2.6, 3.4)                         # a bullet: near-parallel walls over the base ...
    p_lv = rng.uniform(0.55, 0.68)                       # ... tapering to the apex
    beta_lv = rng.uniform(0.08, 0.14)                   # narrowing towards the mitral annulus
    iv_lv, _ = _profile_integrals(m_lv, beta_lv, p_lv)
    # basal half-width / length: 4-chamber ED length ~90-100 mm and diameter ~50-55 mm at 130-170 mL
    k_lv = float(np.clip(0.29 * np.exp(0.05 * rng.standard_normal()) * (1.15 if d.cm == "DCM" else 1.0), 0.24, 0.45))
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
        return drawn_wall(ph[f"WT_AHA_{seg}"]) * (1.0 + max(ph[f"Err_AHA_{seg}"], -5.0) / 100.0 * cyc)
    cap = 0.7 * np.mean([thick(k) for k in (13, 14, 15, 16)], 0)    # apical cap, thinner
    t_sep = np.stack([thick(3), thick(9), thick(14), cap], 1)       # [n, 4] base, mid, apex, cap
    t_lat = np.stack([thick(6), thick(12), thick(16), cap], 1)
    # ---- RV geometry ---------------------------------------------------------------------------
    m_rv = rng.uniform(1.8, 2.5)
    beta_rv = rng.uniform(0.1, 0.22)
    _, ia_rv = _profile_integrals(m_rv, beta_rv)
    kappa_rv = 1.75 * float(np.exp(0.06 * rng.standard_normal()))    # V / A^1.5 of the RV crescent
    len_rv_ed = a_ed * min(rng.uniform(0.8, 0.9) * (1.0 + 0.15 * d.ph), 0.98)
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
    # 4-chamber areas ~16-22 cm^2 at the atrial maximum; ovals longer (annulus -> roof) than wide
    a_la, w_la = atrium(curves["LA"], 0.8 * float(np.exp(0.05 * rng.standard_normal())),
                        0.78 * float(np.exp(0.07 * rng.standard_normal())))
    a_ra, w_ra = atrium(curves["RA"], 0.95 * float(np.exp(0.05 * rng.standard_normal())),
                        0.88 * float(np.exp(0.07 * rng.standard_normal())))
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
    mid_u = max(0.5 * (top_u + bot_u) + 4.0, top_u - 78.0)   # a little towards the ventricles; keep the apex in
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
    hw_cav = bullet_profile(ug, base, a_t, w_t, m_lv, beta_lv, p=p_lv)
    # the septum thins towards its membranous part over the last ~6 mm before the annulus (the crux)
    membranous = 1.0 - 0.3 * np.clip(1.0 - (ug[None, :] - base[:, None]) / 6.0, 0.0, 1.0)
    hw_sep = bullet_profile(ug, base, a_t + cap, w_t, m_lv, beta_lv, (t_sep @ hats) * membranous, p_lv)
    hw_lat = bullet_profile(ug, base, a_t + cap, w_t, m_lv, beta_lv, t_lat @ hats, p_lv)
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
    # trabeculae only narrow the cavity: a smooth septum, a rough lateral wall and apex
    trab = np.maximum(np.clip((v2 - v_lv) / (0.6 * w_ed), 0.0, 1.0) * np.clip((u2 - 0.25 * a_ed) / (0.3 * a_ed), 0.0, 1.0),
                      np.clip((u2 - 0.7 * a_ed) / (0.2 * a_ed), 0.0, 1.0))
    rough = ((0.3 + rng.uniform(0.8, 1.5) * trab) * np.abs(_smooth_noise(rng, size, 0.9)))[None]
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
    rv_epi = np.maximum(np.maximum(np.maximum(d_free - T(t_rv), -vp - 3.0), rv_plane - _VALVE_GAP),
                        u2 - T(base_rv + len_rv + t_rv))               # nothing past the RV apex
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
    # pulmonary veins entering the LA's posterior wall (one or two in the plane), as blood tubes
    la_cx = float(np.mean(h_top * a_la - base * cps - v_crux * sps))
    la_cy = float(np.mean(0.5 * t_ias + g_sep * w_la - base * sps + v_crux * cps))
    for k in range(2):
        phi = np.deg2rad(rng.uniform(45.0, 80.0) if k == 0 else rng.uniform(-45.0, -25.0))
        if rng.random() < (0.7 if k == 0 else 0.3):
            ex, ey = np.cos(phi), np.sin(phi)
            r_pv = rng.uniform(4.0, 5.5)
            start = (la_cx + 0.6 * float(a_la.mean()) * ex, la_cy + 0.6 * float(w_la.mean()) * ey)
            length = rng.uniform(14.0, 22.0)
            along = np.clip(((xa_s[0] - start[0]) * ex + (ya_s[0] - start[1]) * ey) / length, 0.0, 1.0)
            # narrowing as it leaves the plane (partial volume fades the far end)
            la_cav = np.minimum(la_cav, _segment(xa_s[0], ya_s[0], start, (ex, ey), length) - r_pv * (1.0 - 0.55 * along))
    ra_cav = _ellipse(xa_s + (sx - T(h_top * a_ra - tv_off * cps)), ya_s + (sy + T(0.5 * t_ias + g_sep * w_ra)),
                      T(a_ra), T(w_ra))
    ra_cav = np.maximum(np.maximum(ra_cav, ya_b + (sy + half_ias)), _VALVE_GAP - rv_plane)
    if debug is not None:
        debug.update(lv_cav=lv_cav, lv_epi=lv_epi, rv_cav=rv_cav, rv_epi=rv_epi, la_cav=la_cav, ra_cav=ra_cav,
                     u=u2, v=v2, base=base, a_ed=a_ed, lv_plane=lv_plane)
    # ---- tissues (bSSFP-like relative signal) --------------------------------------------------------
    blood = 1.0
    myo = rng.uniform(0.26, 0.36)
    fat = rng.uniform(0.76, 0.88)                      # bright, but below flowing blood
    v_rv_out = float(v_crux[0] - d0_rv[0]) - 4.0
    ventricles = _smooth_min(lv_epi, rv_epi, 8.0)
    atria_out = np.minimum(la_cav, ra_cav) - 2.0
    heart = np.minimum(ventricles, atria_out)
    # the profile distances underestimate sideways of steep edges (the RV and LV tips); bound them
    # from below by the end-diastolic heart's true distance less the systolic excursion, so the
    # epicardial fat and the pericardium cannot run out along a crease
    heart = np.maximum(heart, (distance_transform_edt(heart[0] >= 0) * px - 10.0).astype(_F)[None])
    # epicardial fat: patchy, thicker in the AV grooves, along the RV free wall and at the apex
    patch = _smooth_noise(rng, size, 4.0)
    groove_l = np.exp(-(((u2 - 2.0) / 12.0) ** 2 + ((v2 - v_lv - w_ed - 8.0) / 12.0) ** 2))
    groove_r = np.exp(-(((u2 - tv_off) / 12.0) ** 2 + ((v2 - v_rv_out) / 12.0) ** 2))
    apex_f = np.exp(-(((u2 - a_ed - 8.0) / 14.0) ** 2 + (v2 / 25.0) ** 2))
    rv_side = np.clip((float(v_crux[0]) - v2) / 25.0, 0.0, 1.0)
    # its amount grows with body fat (BMI) rather than varying at random: the grooves and the RV free
    # wall always carry some, more in heavier subjects
    obese = float(np.clip((bmi - 26.0) / 8.0, -1.0, 1.5))
    fat_t = (-0.8 + 0.8 * obese + rng.normal(0.0, 0.3) + 1.5 * patch
             + (5.5 + 1.5 * obese + rng.uniform(-0.75, 0.75)) * (groove_l + groove_r)
             + (2.5 + 1.5 * obese + rng.uniform(-1.0, 1.0)) * apex_f + (1.2 + 0.8 * obese) * rv_side)
    fat_t = np.clip(fat_t, 0.0, 10.0).astype(_F)
    # pericardium (a thin dark line where fat lies on both sides), effusion (bright fluid between the
    # epicardial fat and the pericardium: along the RV free wall, around the apex and the lateral LV),
    # paracardiac fat outside it in places
    eff_pattern = np.clip(0.35 + 0.9 * rv_side + 0.8 * apex_f + 0.4 * np.clip((v2 - v_lv) / 40.0, 0.0, 1.0)
                          - 0.6 * np.clip(-u2 / 30.0, 0.0, 1.0), 0.0, 1.4)
    eff_t = (d.effusion_mm * eff_pattern * (1.0 - 0.15 * T(cyc))).astype(_F)   # the rim widens a little in systole
    peri_t = _F(d.pericardium_mm)
    para_t = np.clip(-1.0 + 2.0 * obese + rng.uniform(-1.0, 1.0) + 3.0 * _smooth_noise(rng, size, 5.0) + 6.0 * apex_f,
                     0.0, 12.0).astype(_F)
    # ---- surroundings, placed in body coordinates around the ED heart -----------------------------
    heart_ed = heart[0] - fat_t - peri_t
    lm = cine_surroundings.landmarks(X, Y, heart_ed < 0, la_cav[0] < 0, ra_cav[0] < 0)
    heart_dist = (distance_transform_edt(heart_ed >= 0) * px).astype(_F)
    bg_ed, bg_es, aorta = cine_surroundings.render(rng, X, Y, px, lm, heart_dist, fat, myo, male, bmi, _smooth_noise)
    img = bg_ed[None] + T(cyc) * (bg_es - bg_ed)[None]
    if debug is not None:
        debug.update(background=bg_ed, heart=heart[0], fat_mm=fat_t)

    def paint(dist, value):                            # img <- img + (value - img) * coverage, in place
        nonlocal img
        c = _cov(dist, px)
        tmp = np.subtract(value, img, dtype=_F)
        tmp *= c
        img += tmp

    def paint_w(sl, dist, value):                      # the same inside a window sl = (:, rows, cols)
        sub = img[sl]
        tmp = np.subtract(value, sub, dtype=_F)
        tmp *= _cov(dist, px)
        sub += tmp

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
    # anterolateral papillary muscle on the lateral wall at mid-cavity (shortens and thickens in
    # systole), the RV moderator band from the septum part-way to the free wall
    pm_len, pm_w, s_pm = rng.uniform(10.0, 14.0), rng.uniform(3.5, 5.0), rng.uniform(0.42, 0.55)
    pm_v = T(v_lv + w_t * (1.0 - s_pm ** m_lv) ** p_lv - 0.4 * pm_w)
    paint(_ellipse(u2 - T(base + s_pm * a_t), v2 - pm_v, T(pm_len * (1.0 - 0.15 * cyc)), T(pm_w * (1.0 + 0.5 * cyc))),
          myo * 1.15)
    mb_u = T(base_rv + 0.7 * len_rv)
    paint(_ellipse(u2 - mb_u - 0.3 * vp, vp - T(0.2 * d0_rv), 2.0, T(0.25 * d0_rv)), myo * 1.2)
    # ---- valves: two leaflets per valve, hinged at the annulus; closed (meeting a few mm into the
    # ventricle) in systole and at end-diastole, swinging open towards the apex in early filling,
    # half-closing in diastasis, re-opening with the atrial kick; a darker inflow jet in early filling
    opening = T(np.interp(phase, [0.0, ts + 0.02, ts + 0.07, ts + 0.16, 0.78, 0.87, 0.95, 1.0],
                          [0.0, 0.0, 1.0, 0.45, 0.35, 0.85, 0.0, 0.0]))
    filling = T(np.clip(1.0 - np.abs(phase - ts - 0.09) / 0.07, 0.0, 1.0))      # early-diastolic inflow
    valves = ((lv_plane, base, tilt, v_lv, v_lv, w_t * (1 - beta_lv), rng.uniform(3.0, 6.0), rng.uniform(0.2, 0.35)),
              (rv_plane, base_rv, tilt_rv, v_crux, v_crux - 0.55 * d0_rv * (1 - beta_rv) - 0.5 * t_sep[:, 0],
               0.5 * d0_rv * (1 - beta_rv), rng.uniform(2.0, 4.0), rng.uniform(0.15, 0.3)))
    # inflow jet: slightly darker blood from the leaflet tips towards the apex in early diastole
    for plane, b_u, tlt, v_ref, vc, half, tent, cpos in valves:
        fr = np.nonzero(filling[:, 0, 0] > 0)[0]
        if fr.size == 0:
            continue
        rel = (v2 - T(np.broadcast_to(vc, (n,))[fr])) / T(np.broadcast_to(half, (n,))[fr])
        depth = 0.5 * _VALVE_GAP - plane[fr]
        jet = _ellipse(depth - 0.3 * T(a_t[fr]), rel * T(np.broadcast_to(half, (n,))[fr]),
                       0.3 * T(a_t[fr]), 0.35 * T(np.broadcast_to(half, (n,))[fr]))
        sub = img[fr]
        c = np.clip(-jet / 6.0, 0.0, 1.0)                           # a soft-edged stream
        sub += (blood * (1.0 - 0.12 * filling[fr]) * flow - sub) * c
        img[fr] = sub
    for plane, b_u, tlt, v_ref, vc, half, tent, cpos in valves:
        vc, half = np.broadcast_to(vc, (n,)), np.broadcast_to(half, (n,))
        tlt = np.broadcast_to(tlt, (n,))
        lo_u, hi_u = float(np.min(b_u)) - 8.0, float(np.max(b_u + 1.4 * half)) + 8.0
        box = (u2 > lo_u) & (u2 < hi_u) & (np.abs(v2 - float(np.mean(vc))) < float(np.max(half)) + 8.0)
        if not box.any():
            continue
        rows, cols = np.nonzero(box.any(1))[0], np.nonzero(box.any(0))[0]
        sl = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        uw, vw, pw, fw = u2[sl[1:]], v2[sl[1:]], plane[sl], flow[sl[1:]]
        mid = pw - 0.5 * _VALVE_GAP                                    # 0 mid-plane, < 0 ventricular side
        # the leaflet plane across the orifice is blood: the leaflets, not the plane, divide the chambers
        paint_w(sl, np.maximum(np.abs(mid) - 2.0 * _VALVE_GAP, (np.abs(vw - T(vc)) / T(half) - 0.95) * T(half)),
                blood * fw)
        # coaptation point (closed) and hinges, in (u, v) per frame
        c_v = vc + cpos * half
        c_u = b_u + tlt * (c_v - v_ref) + tent
        for sign, frac_open in ((-1.0, rng.uniform(0.75, 0.9)), (1.0, rng.uniform(0.6, 0.75))):
            h_v = vc + sign * half
            h_u = b_u + tlt * (h_v - v_ref)
            cu, cv = c_u - h_u, c_v - h_v
            length = np.sqrt(cu * cu + cv * cv) + 0.8
            ang = np.deg2rad(rng.uniform(78.0, 92.0))                  # open: towards the apex, along the walls
            ou, ov = np.sin(ang) * length * frac_open / length, -sign * np.cos(ang) * frac_open
            o = opening[:, 0, 0]
            du_, dv_ = (1 - o) * cu / length + o * ou, (1 - o) * cv / length + o * ov
            nrm = np.sqrt(du_ * du_ + dv_ * dv_)
            seg = _segment(uw, vw, (T(h_u), T(h_v)), (T(du_ / nrm), T(dv_ / nrm)), T(length * (1 - o * (1 - frac_open))))
            paint_w(sl, seg - T(0.85 + 0.45 * (1.0 - o)), myo * 1.1)   # the leaflet (coapted: thicker)
            paint_w(sl, _segment(uw, vw, (T(h_u), T(h_v)), (0.0, 0.0), 0.0) - 1.8, myo)   # its hinge
    # ---- image formation ---------------------------------------------------------------------------
    img = blur3(img, 0.75)
    gx, gy = rng.normal(0, 0.12, 2)
    yy, xx = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    shading = (1.0 + gx * xx + gy * yy - rng.uniform(0.1, 0.35) * (xx ** 2 + yy ** 2)
               + rng.uniform(0.0, 0.15) * np.exp(-(yy + 1.0) / 0.4) + 0.06 * _smooth_noise(rng, size, 18.0))
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
