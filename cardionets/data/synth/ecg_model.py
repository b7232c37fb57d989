"""12-lead ECG from a cardiac dipole (heart-vector) model.

The heart vector h(t) (Frank axes: x to the subject's left, y to the feet, z to the back; mV) is a
sum of Gaussian "wave" lobes per beat (P, septal Q, R, terminal S, ST, T), in the spirit of the
3-D dynamical ECG model of McSharry et al. 2003 / Sayadi et al. 2010. The standard leads are its
projection through the Dower transform (Dower et al. 1980, J Electrocardiol; coefficients for I, II
and V1-V6 from Frank X, Y, Z), perturbed per subject for electrode placement; III, aVR, aVL and aVF
follow from Einthoven/Goldberger identities.

What the phenotypes do to the trace:
* QRS voltage grows with LV mass (~M^0.75), and falls with body habitus (BMI) -- LVH voltage criteria
  (Sokolow-Lyon) work because of the first, imperfectly because of the second;
* QRS widens with LV dilation and mass; DCM / HFrEF often carry LBBB (wide, notched, discordant T);
* frontal axis moves right with RV dilation / PH (and an anterior RV force: tall R in V1);
* infarcts remove the forces of the scar (Q waves facing the territory) and invert T there;
* HCM: large voltage with deep lateral T inversion; RCM: low voltage with big atria
  (P widens with LA volume, taller with RA volume: atrial abnormality);
* heart rate from the subject, with respiratory sinus arrhythmia and beat-to-beat jitter.
Nuisance the phenotypes do not explain: heart orientation, electrode placement, skin/torso
attenuation, baseline wander, 50 Hz mains hum, muscle (EMG) noise and per-lead gain.
"""
from __future__ import annotations

import numpy as np

from .diseases import DiseaseState
from .subjects import Subject

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
FS = 500
DURATION = 10.0

# Dower transform: rows I, II, V1..V6; columns Frank X, Y, Z.
DOWER = np.array([
    [0.632, -0.235, 0.059],
    [0.235, 1.066, -0.132],
    [-0.515, 0.157, -0.917],
    [0.044, 0.164, -1.387],
    [0.882, 0.098, -1.277],
    [1.213, 0.127, -0.601],
    [1.125, 0.127, -0.086],
    [0.831, 0.076, 0.230],
])

# Directions (unit vectors, Frank axes) of the myocardium each coronary territory faces.
_TERRITORY_DIR = {"LAD": (0.35, 0.25, -0.9), "RCA": (0.0, 1.0, 0.2), "LCX": (0.75, 0.1, 0.65)}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _rotation(rng: np.random.Generator, deg: float) -> np.ndarray:
    """A random rotation by small angles (SD ``deg``) about each axis."""
    ax, ay, az = np.deg2rad(rng.normal(0.0, deg, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def beat_times(hr: float, age: float, rng: np.random.Generator, duration: float = DURATION) -> np.ndarray:
    """R-peak times (s) covering [-1, duration + 1] with respiratory sinus arrhythmia."""
    rr = 60.0 / hr
    rsa = 0.045 * float(np.clip(1.0 - (age - 40.0) / 70.0, 0.2, 1.0)) * rng.uniform(0.3, 1.3)
    f_resp, phase = rng.uniform(0.18, 0.3), rng.uniform(0, 2 * np.pi)
    t = -rng.uniform(0.0, rr)
    out = []
    while t < duration + 1.0:
        out.append(t)
        t += rr * (1.0 + rsa * np.sin(2 * np.pi * f_resp * t + phase) + 0.01 * rng.standard_normal())
    return np.asarray(out)


def heart_vector_waves(s: Subject, d: DiseaseState, ph: dict[str, float], hr: float,
                       rng: np.random.Generator) -> list[tuple[float, float, np.ndarray]]:
    """The beat template: (offset from R in s, width sigma in s, vector in mV) per lobe."""
    rr = 60.0 / hr
    # --- QRS magnitude: LV mass up, habitus down, plus unexplained torso/skin attenuation ----------
    amp = 1.2 * (ph["LVM"] / 100.0) ** 0.75 * (s.bmi / 26.0) ** -0.8 * np.exp(0.2 * rng.standard_normal())
    amp *= 0.92 if not s.male else 1.0
    if d.cm == "RCM":
        amp *= 1.0 - 0.55 * d.cm_severity
    if d.cm == "HCM":
        amp *= 1.0 + 0.35 * d.cm_severity
    # --- QRS duration: LV dilation and mass widen it --------------------------------------------
    qrs = 0.090 + 0.00013 * (ph["LVEDV"] - 150.0) + 0.00005 * (ph["LVM"] - 100.0) + 0.005 * s.male
    qrs = float(np.clip(qrs + 0.006 * rng.standard_normal(), 0.07, 0.125))
    if d.lbbb:
        qrs = float(np.clip(qrs + rng.uniform(0.035, 0.06), 0.12, 0.19))
    w = qrs / 0.090
    # --- frontal axis: habitus, age, RV load ----------------------------------------------------
    rv_ref = 88.0 if s.male else 80.0
    rv_load = max(0.0, ph["RVEDVi"] / rv_ref - 1.0)
    theta = 48.0 + 18.0 * rng.standard_normal() - 0.35 * (s.age - 63.5) - 1.3 * (s.bmi - 26.0)
    theta += 55.0 * min(rv_load, 1.5) + 40.0 * d.ph
    if d.lbbb:
        theta -= 20.0
    elev = np.deg2rad(32.0 + 7.0 * rng.standard_normal())
    th = np.deg2rad(theta)
    r_dir = np.array([np.cos(th) * np.cos(elev), np.sin(th) * np.cos(elev), np.sin(elev)])
    r_vec = amp * r_dir
    q_vec = 0.14 * amp * _unit((-0.5, 0.15, -0.85))
    s_vec = 0.4 * amp * _unit((-0.3, -0.45, 0.75))
    t_amp = 0.3 * (amp / 1.2) ** 0.5 * np.exp(0.15 * rng.standard_normal())
    t_vec = t_amp * _unit((0.62 + 0.1 * rng.standard_normal(), 0.5, -0.35))
    st_vec = np.zeros(3)
    if d.cad > 0 and not d.mi_territory:
        t_vec *= 1.0 - 0.35 * d.cad                  # ischaemic T flattening
        st_vec -= 0.03 * d.cad * _unit((0.6, 0.5, -0.3))
    waves: list[tuple[float, float, np.ndarray]] = []
    if d.mi_territory:
        u = _unit(_TERRITORY_DIR[d.mi_territory])
        ext = d.mi_extent * min(1.0, len(d.mi_segments) / 4.0)
        r_vec = r_vec - 0.6 * ext * max(float(r_vec @ u), 0.0) * u
        waves.append((-0.012 * w, 0.011, -0.55 * ext * amp * u))     # Q waves facing the scar
        t_vec = t_vec - 0.35 * ext * u                                   # T inversion over the scar
        st_vec += 0.05 * ext * u
    if d.cm == "HCM":
        t_vec = t_vec - 0.55 * d.cm_severity * _unit((1.0, 0.15, 0.1))
        q_vec = q_vec * (1.0 + 2.0 * d.cm_severity)                     # deep septal Q
    lvh_strain = max(0.0, ph["LVM"] / 150.0 - 1.0)
    t_vec = t_vec - 0.25 * min(lvh_strain, 1.0) * _unit((1.0, 0.2, 0.0))
    if d.lbbb:
        # no septal Q, broad notched leftward R, discordant ST-T
        waves += [(-0.22 * qrs, 0.16 * qrs, 0.55 * r_vec), (0.12 * qrs, 0.17 * qrs, 0.75 * r_vec),
                  (0.34 * qrs, 0.12 * qrs, 0.15 * s_vec)]
        t_vec = -0.45 * np.linalg.norm(r_vec) * r_dir * 0.6 + 0.3 * t_vec
    else:
        waves += [(-0.030 * w, 0.0075 * w, q_vec), (0.0, 0.0105 * w, r_vec), (0.029 * w, 0.0095 * w, s_vec)]
    if d.ph > 0 or rv_load > 0.3:
        rvh = 0.5 * amp * (d.ph + 0.5 * max(rv_load - 0.3, 0.0))
        waves.append((0.018 * w, 0.011 * w, rvh * _unit((-0.45, 0.35, -0.8))))
    # --- repolarisation: QT shortens with rate (Bazett-like), T peak ~0.3 s after R at 60 bpm ---
    t_peak = 0.29 * rr ** 0.5 + 0.5 * (qrs - 0.09) + 0.01 * rng.standard_normal()
    waves += [(t_peak - 0.035, 0.055, 0.6 * t_vec), (t_peak + 0.015, 0.035, 0.55 * t_vec),
              (0.5 * qrs + 0.06, 0.05, st_vec)]
    # --- atria: P widens with LA volume, grows with RA volume; terminal posterior LA force ------
    pr = float(np.clip(0.155 + 0.0008 * (s.age - 63.5) + 0.015 * rng.standard_normal(), 0.11, 0.24))
    p_sigma = 0.019 * (ph["LAV_max"] / 70.0) ** 0.3
    p_amp = 0.11 * (ph["RAV_max"] / 90.0) ** 0.45 * np.exp(0.15 * rng.standard_normal())
    waves.append((-pr - 0.005, p_sigma, p_amp * _unit((0.45, 0.85, -0.25))))
    la_excess = max(0.0, ph["LAV_max"] / 75.0 - 1.0)
    waves.append((-pr + 1.6 * p_sigma, p_sigma * 0.9, 0.07 * min(la_excess, 2.0) * _unit((-0.1, 0.2, 1.0))))
    return waves


def simulate_ecg(s: Subject, d: DiseaseState, ph: dict[str, float], hr: float,
                 rng: np.random.Generator, fs: int = FS, duration: float = DURATION) -> np.ndarray:
    """float32 [12, fs*duration] in mV, leads in :data:`LEADS` order."""
    n = int(round(fs * duration))
    t = np.arange(n) / fs
    beats = beat_times(hr, s.age, rng, duration)
    waves = heart_vector_waves(s, d, ph, hr, rng)
    # respiration modulates the QRS amplitude a little (heart moves with the diaphragm)
    resp = 1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.18, 0.3) * beats + rng.uniform(0, 2 * np.pi))
    h = np.zeros((3, n))
    for off, sig, vec in waves:
        centre = beats + off
        lobe = np.zeros(n)
        for b, c in enumerate(centre):
            lo, hi = int((c - 5 * sig) * fs), int((c + 5 * sig) * fs) + 1
            lo, hi = max(lo, 0), min(hi, n)
            if hi <= lo:
                continue
            tt = t[lo:hi]
            lobe[lo:hi] += resp[b] * np.exp(-0.5 * ((tt - c) / sig) ** 2)
        h += np.outer(vec, lobe)
    # heart orientation and electrode placement: not explained by the phenotypes
    rot = _rotation(rng, 8.0)
    lead_vec = DOWER.copy()
    lead_vec[2:] = lead_vec[2:] * (1.0 + 0.1 * rng.standard_normal((6, 1))) + 0.12 * rng.standard_normal((6, 3))
    lead_vec[:2] = lead_vec[:2] * (1.0 + 0.05 * rng.standard_normal((2, 1)))
    gain = 1.0 + 0.03 * rng.standard_normal((8, 1))         # per-channel amplifier gain
    eight = gain * (lead_vec @ rot @ h) + _noise(rng, n, fs, t)    # I, II, V1..V6 as recorded
    i, ii = eight[0], eight[1]
    limb = np.stack([i, ii, ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2])
    return np.concatenate([limb, eight[2:]], axis=0).astype(np.float32)


def _noise(rng: np.random.Generator, n: int, fs: int, t: np.ndarray) -> np.ndarray:
    """Baseline wander (respiration/motion), 50 Hz mains, muscle noise on the 8 recorded leads
    (I, II, V1-V6); [8, n] mV."""
    from scipy.signal import lfilter

    out = np.zeros((8, n))
    # baseline wander: a shared respiratory component plus per-lead drift
    bw_amp = rng.uniform(0.02, 0.25)
    f = rng.uniform(0.15, 0.35)
    shared = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    for k in range(8):
        drift = sum(rng.uniform(0.0, 1.0) * np.sin(2 * np.pi * rng.uniform(0.03, 0.5) * t + rng.uniform(0, 6.3))
                    for _ in range(2))
        out[k] = bw_amp * (rng.uniform(0.2, 1.0) * shared + 0.5 * drift)
    # mains hum, stronger on the limb leads
    hum = rng.uniform(0.0, 0.035) * np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 2 * np.pi))
    out += np.outer(np.r_[rng.uniform(0.5, 1.0, 2), rng.uniform(0.1, 0.6, 6)], hum)
    # muscle noise: high-passed white noise with an occasional burst
    emg_sd = rng.uniform(0.002, 0.015)
    white = rng.standard_normal((8, n)) * emg_sd
    emg = lfilter([1.0, -1.0], [1.0, -0.7], white, axis=1)
    if rng.random() < 0.3:
        c, wdt = rng.uniform(0, n / fs), rng.uniform(0.3, 1.5)
        emg *= 1.0 + 3.0 * np.exp(-0.5 * ((t - c) / wdt) ** 2)
    out += emg
    return out
