"""What a 4-chamber SSFP cine shows around the heart, placed in body coordinates.

The image is displayed like a scanner's 4-chamber plane: anterior up, patient left on the image
right (X: mm to the right = patient left, Y: mm down = posterior). Around the heart (placed relative
to where the heart lies at end-diastole):

* anterior chest wall: anterior mediastinal fat, intercostal / pectoral muscle with rib and costal
  cartilage cross-sections, the sternum in front of the right ventricle, subcutaneous fat growing
  with BMI, skin, air; breast tissue (fat with glandular strands) over the left chest in women;
* lungs (not black: vessel cross-sections, partial volume) beside the LV and the RA;
* posterior mediastinum behind the atria: soft tissue and fat, the oesophagus, the descending aorta
  (bright flowing blood in a thin wall, pulsating with the cycle), the vertebral body with its
  cortex and fatty marrow at the bottom edge when the field of view reaches it;
* liver under the right heart (patient right, inferior: lower left), with bright hepatic veins and
  the diaphragm as a thin dark band.
Relative signals follow bSSFP contrast (Ridgway 2010, JCMR 12:71; fat and fluid bright, muscle and
myocardium dark grey, liver mid grey, lung dark).

Cardiac-synchronous motion of the neighbours: tissue next to the heart follows the epicardium
inwards in systole (up to ~2.5 mm at the surface, fading over ~8 mm, none beyond 30 mm: the chest
wall and the spine stay put); the scene is evaluated at the
end-diastolic and at the displaced end-systolic positions and blended with the contraction curve.
The aorta's lumen is painted per frame (it widens by ~6% in systole).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_F = np.float32


@dataclass
class Landmarks:
    """Where the heart lies at end-diastole (image mm; X right = patient left, Y down = posterior)."""
    top: float            # most anterior point of the heart (Y)
    top_x: float
    bottom: float         # most posterior point of the atria (Y)
    la_x: float           # LA centre (X) and its posterior edge
    la_bottom: float
    ra_x: float           # RA centre (X) and its posterior / inferior edge
    ra_bottom: float
    left_edge: float      # image-left (patient-right) edge of the heart (X)
    right_edge: float     # image-right (patient-left) edge
    centre: tuple[float, float]


@dataclass
class Aorta:
    cx: float
    cy: float
    r: float
    lumen: float


def landmarks(X: np.ndarray, Y: np.ndarray, heart: np.ndarray, la: np.ndarray, ra: np.ndarray) -> Landmarks:
    """Extents of the ED heart mask and of its atria (boolean [H, W] masks)."""
    def pick(mask, fallback):
        return mask if mask.any() else fallback
    heart = pick(heart, np.ones_like(heart))
    la, ra = pick(la, heart), pick(ra, heart)
    ys, xs = Y[heart], X[heart]
    i_top = int(np.argmin(ys))
    return Landmarks(top=float(ys.min()), top_x=float(xs[i_top]), bottom=float(Y[la | ra].max()),
                     la_x=float(X[la].mean()), la_bottom=float(Y[la].max()), ra_x=float(X[ra].mean()),
                     ra_bottom=float(Y[ra].max()), left_edge=float(xs.min()), right_edge=float(xs.max()),
                     centre=(float(xs.mean()), float(ys.mean())))


def _cov(dist: np.ndarray, px: float) -> np.ndarray:
    return np.clip(0.5 - dist / px, 0.0, 1.0).astype(_F)


def _ellipse(x, y, a, b):
    xa, yb = x / a, y / b
    return (np.sqrt(xa * xa + yb * yb) - 1.0) * np.sqrt(a * b)


def _rot(x, y, deg):
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return c * x + s * y, -s * x + c * y


class _Scene:
    """Painter over one coordinate grid (the ED or the displaced ES positions)."""

    def __init__(self, X, Y, px, base):
        self.X, self.Y, self.px = X, Y, px
        self.img = base.astype(_F).copy()

    def put(self, dist, value):
        c = _cov(dist, self.px)
        self.img += (np.asarray(value, dtype=_F) - self.img) * c


def _draw(rng_state: dict, X, Y, px: float, lm: Landmarks, p: dict, tex: dict) -> np.ndarray:
    """The static surroundings on grid (X, Y): every random choice comes in ``p`` and the textures in
    ``tex`` (drawn once), so the ED and the ES evaluations show the same anatomy."""
    s = _Scene(X, Y, px, tex["lung"])
    # --- posterior mediastinum: soft tissue and fat behind the atria, oesophagus, aorta ----------
    mx, my = 0.5 * (lm.la_x + lm.ra_x), lm.bottom + p["post_gap"]
    s.put(_ellipse(X - mx, Y - my - 18.0, 38.0 + 0.4 * abs(lm.la_x - lm.ra_x), 26.0), tex["soft"])
    s.put(_ellipse(X - mx - 4.0, Y - my - 4.0, 30.0, 11.0) + 3.0 * tex["n6"], p["fat"] * 0.95)
    s.put(_ellipse(X - p["eso_x"], Y - p["eso_y"], 7.0, 5.5), p["soft"] * 1.15)
    # vertebral body (fatty marrow, dark cortex) and paraspinal muscle, below the aorta
    vx, vy = p["spine_x"], p["spine_y"]
    s.put(_ellipse(X - vx, Y - vy - 10.0, 55.0, 30.0), p["soft"] * 1.05)
    s.put(_ellipse(X - vx, Y - vy, 21.0, 16.0), 0.12)                       # cortex
    s.put(_ellipse(X - vx, Y - vy, 19.5, 14.5), p["marrow"] + 0.05 * tex["n2"])
    # --- liver under the right heart, diaphragm above it, hepatic veins --------------------------
    lx, ly = p["liver_x"], p["liver_y"]
    dx, dy = _rot(X - lx, Y - ly, p["liver_rot"])
    liver = _ellipse(dx, dy, p["liver_a"], p["liver_b"])
    s.put(liver - 3.0, p["soft"] * 0.9)                                      # diaphragm
    s.put(liver, p["liver"] + 0.025 * tex["n3"])
    s.put(np.maximum(liver + 6.0, 0.6 - tex["veins"]), p["fat"] * 0.9)      # hepatic veins (bright)
    # --- anterior chest wall -------------------------------------------------------------------
    # the inner surface of the rib cage is an arc of radius R whose centre lies behind the heart
    cx, cy, R = p["cw_x"], lm.top - p["cw_gap"] + p["cw_r"], p["cw_r"]
    r = np.sqrt((X - cx) ** 2 + (Y - cy) ** 2) + 2.5 * tex["n6"]            # distance from the arc centre
    depth = r - R                                                            # > 0 outside the rib cage
    s.put(-depth - p["med_fat"], p["fat"] * 0.97)                            # anterior mediastinal fat
    s.put(-depth, p["soft"] * (0.95 + 0.05 * tex["n2"]))                     # intercostal / pectoral muscle
    ang = np.arctan2(X - cx, cy - Y)                                         # position along the arc
    rib = np.cos(ang * R / p["rib_step"] * 2 * np.pi + p["rib_phase"])
    rib_d = np.maximum(np.abs(depth - 0.45 * p["muscle"]) - 4.5, (0.75 - rib) * 25.0)
    s.put(rib_d, 0.1)                                                        # rib / cartilage cortex
    s.put(rib_d + 1.4, p["marrow"] * 0.9)
    st = np.maximum(np.abs(depth - 0.35 * p["muscle"]) - 5.0, np.abs(X - p["sternum_x"]) - 14.0)
    s.put(st, 0.1)                                                           # sternum
    s.put(st + 1.4, p["marrow"])
    s.put(np.maximum(depth - p["muscle"] - p["subcut"], p["muscle"] - depth),
          p["fat"] * (1.0 + 0.04 * tex["n2"]) - tex["septa"])                # subcutaneous fat
    if p["breast"] > 0:
        bx = np.clip((X - p["breast_x"]) / 40.0, -1.0, 1.0)
        s.put(np.maximum(depth - p["muscle"] - p["subcut"] - p["breast"] * (1.0 - bx * bx),
                         p["muscle"] + p["subcut"] - depth),
              p["fat"] * 0.9 - 0.45 * tex["gland"])                           # breast: fat with glandular strands
        outer = p["muscle"] + p["subcut"] + p["breast"] * (1.0 - bx * bx)
    else:
        outer = p["muscle"] + p["subcut"]
    s.put(np.abs(depth - outer - 1.0) - 1.0, p["soft"])                      # skin
    s.put(outer + 2.0 - depth, 0.01 + 0.005 * tex["n2"])                     # air beyond the skin
    return s.img


def sample_params(rng: np.random.Generator, lm: Landmarks, fat: float, myo: float, male: bool, bmi: float) -> dict:
    """Every random choice of the surroundings of one subject."""
    soft = float(myo * rng.uniform(0.95, 1.15))
    ao_r = float(rng.uniform(10.0, 13.5))
    post_gap = float(rng.uniform(4.0, 10.0))
    ao_x = lm.la_x + rng.uniform(0.0, 14.0)
    ao_y = lm.la_bottom + post_gap + ao_r
    spine_x = ao_x - rng.uniform(18.0, 28.0)
    spine_y = ao_y + rng.uniform(16.0, 24.0)
    fat_scale = float(np.clip((bmi - 18.0) / 10.0, 0.2, 2.5))
    return {
        "soft": soft, "fat": float(fat), "post_gap": post_gap,
        "ao_x": float(ao_x), "ao_y": float(ao_y), "ao_r": ao_r, "ao_lumen": float(rng.uniform(0.75, 0.95)),
        "eso_x": float(ao_x - ao_r - rng.uniform(4.0, 9.0)), "eso_y": float(ao_y - rng.uniform(0.0, 6.0)),
        "spine_x": float(spine_x), "spine_y": float(spine_y), "marrow": float(rng.uniform(0.38, 0.5)),
        "liver_x": float(lm.ra_x - rng.uniform(20.0, 40.0)), "liver_y": float(lm.ra_bottom + rng.uniform(45.0, 60.0)),
        "liver_a": float(rng.uniform(75.0, 95.0)), "liver_b": float(rng.uniform(42.0, 52.0)),
        "liver_rot": float(rng.uniform(-35.0, -15.0)), "liver": float(rng.uniform(0.32, 0.45)),
        "cw_x": float(lm.top_x + rng.normal(-10.0, 15.0)), "cw_gap": float(rng.uniform(2.0, 12.0)),
        "cw_r": float(rng.uniform(140.0, 240.0)), "med_fat": float(rng.uniform(0.0, 8.0)),
        "muscle": float(rng.uniform(10.0, 20.0) * (1.2 if male else 1.0)),
        "subcut": float(rng.uniform(4.0, 14.0) * fat_scale * (0.8 if male else 1.2)),
        "rib_step": float(rng.uniform(22.0, 30.0)), "rib_phase": float(rng.uniform(0.0, 2 * np.pi)),
        "sternum_x": float(lm.left_edge + rng.uniform(5.0, 25.0)),
        "breast": float(0.0 if male else rng.uniform(15.0, 45.0) * np.sqrt(fat_scale)),
        "breast_x": float(lm.right_edge - rng.uniform(0.0, 30.0)),
    }


def textures(rng: np.random.Generator, size: int, smooth_noise) -> dict:
    """Unit-SD random fields shared by the ED and ES evaluations."""
    n2, n3, n6 = (smooth_noise(rng, size, s) for s in (2.0, 3.0, 6.0))
    fine = smooth_noise(rng, size, 0.9)
    vessels = np.clip((fine - 1.6) * 0.35, 0.0, 0.35)          # lung vessel cross-sections
    lung = (0.045 + vessels + 0.012 * n3).astype(_F)
    return {"n2": n2, "n3": n3, "n6": n6, "lung": lung, "soft": None,
            "veins": np.clip(smooth_noise(rng, size, 1.5), -3.0, 3.0),
            "septa": np.clip((np.abs(smooth_noise(rng, size, 1.2)) < 0.12) * 0.25, 0.0, 0.25).astype(_F),
            "gland": np.clip(smooth_noise(rng, size, 2.5), 0.0, 1.0).astype(_F)}


def render(rng: np.random.Generator, X: np.ndarray, Y: np.ndarray, px: float, lm: Landmarks, heart_dist: np.ndarray,
           fat: float, myo: float, male: bool, bmi: float, smooth_noise) -> tuple[np.ndarray, np.ndarray, Aorta]:
    """(surroundings at ED, at ES, the aorta) as [H, W] float32 images and the aorta's geometry.
    ``heart_dist`` is the ED distance (mm) outside the heart, 0 inside."""
    p = sample_params(rng, lm, fat, myo, male, bmi)
    tex = textures(rng, X.shape[0], smooth_noise)
    tex["soft"] = (p["soft"] * (1.0 + 0.08 * tex["n2"])).astype(_F)
    ed = _draw({}, X, Y, px, lm, p, tex)
    # systole: neighbours follow the epicardium towards the heart's centre
    cx, cy = lm.centre
    rx, ry = X - cx, Y - cy
    rn = np.sqrt(rx * rx + ry * ry) + 1e-3
    pull = float(rng.uniform(1.5, 3.0)) * np.exp(-heart_dist / 8.0) * np.clip((30.0 - heart_dist) / 10.0, 0.0, 1.0)
    es = _draw({}, X + pull * rx / rn, Y + pull * ry / rn, px, lm, p, tex)
    return ed, es, Aorta(p["ao_x"], p["ao_y"], p["ao_r"], p["ao_lumen"])
