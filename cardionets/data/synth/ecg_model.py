"""12-lead ECG from a cardiac dipole (heart-vector) model, calibrated to adult normal limits.

The heart vector h(t) (Frank axes: x to the subject's left, y to the feet, z to the back; mV) is a
sum of Gaussian lobes per beat, in the spirit of the 3-D dynamical model of McSharry et al. 2003 /
Sayadi et al. 2010. The QRS is a loop of five lobes that sweeps like the normal activation
sequence: septal (right-anterior: q in I and V5-V6, r in V1), anterior-apical (R in V2-V4), the
main left-ventricular force (R in V5-V6, S in V1), posterobasal (S in V1-V3) and terminal
right-superior (s in I, V6). The standard leads are its projection through the Dower transform
(Dower et al. 1980; I, II, V1-V6 from Frank X, Y, Z), perturbed per subject for electrode
placement; III, aVR, aVL and aVF follow from the Einthoven/Goldberger identities.

Calibration (the lobes' directions, sizes and timing, checked with ``cardionets profile`` against
the real CinC 2021 fixture records, docs/cohort.md): frontal QRS axis median ~30 deg (Mason et al.
2007, J Electrocardiol 40:228: 2nd-98th percentile -40..+91 deg in 46,129 low-risk adults; Engblom
et al. 2005: +39 +- 31 deg), R(V5) ~1.1-1.3 mV, Sokolow-Lyon ~1.9 mV, Cornell ~1.2 mV, transition
zone V3-V4, PR 158 +- 22 ms (Mason: 113-212 ms), QRS 85-95 ms by computer measurement (Mason:
69-109 ms; WHI women 85 +- 8 ms), QTc ~415 ms, T(V5) ~0.2-0.25 mV and smaller in women and with
age (Rijnbeek et al. 2014, J Electrocardiol 47:914, normal values for ages 16-90 by sex).

Structure -> trace (the ground truth the cohort carries):
* QRS voltage ~ LV mass^0.75 and ~ BMI^-0.8 (LVH voltage criteria work because of the first,
  imperfectly because of the second), lower in women, lower with a pericardial effusion;
* QRS widens with LV dilation and mass; LBBB (DCM, HFrEF) and RBBB widen it further;
* frontal axis: the heart's anatomical orientation (:mod:`.anatomy`, shared with the cine) turns the
  whole loop; conduction variability and left anterior fascicular block add their own rotation; RV
  dilation / PH move it right (plus an anterior RV force: tall R in V1);
* infarcts remove the forces of the scar (Q waves facing the territory) and invert T there;
* HCM: large voltage, deep septal Q, lateral T inversion; RCM: low voltage; LVH strain pattern;
* P widens with LA volume and grows with RA volume (terminal posterior P force with LA enlargement);
* acute pericarditis: diffuse ST elevation (not in aVR / V1) and PR depression; past pericarditis:
  flattened T; rhythm (:mod:`.rhythm`): AF with fibrillatory waves, premature atrial and ventricular
  beats, sinus rate with respiratory sinus arrhythmia.
Nuisance the phenotypes do not explain: conduction variability, electrode placement, skin/torso
attenuation, baseline wander, mains hum, muscle (EMG) noise and per-lead gain, at the levels measured
on the real fixtures (noise above 40 Hz and wander relative to the QRS).
"""
from __future__ import annotations

import numpy as np

from .anatomy import Anatomy
from .diseases import DiseaseState
from .rhythm import Beats, beat_sequence
from .subjects import Subject
from scipy.signal import lfilter

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
_P_DIR = (0.45, 0.85, -0.25)            # sinus P vector: left, inferior, slightly anterior
_ST_PERI = (0.55, 0.65, -0.5)           # diffuse epicardial injury: away from aVR and V1

Lobe = tuple[float, float, np.ndarray]  # (offset from R in s, Gaussian SD in s, vector in mV)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _rot_z(deg: float) -> np.ndarray:
    """Rotation in the frontal plane (about the antero-posterior axis), positive towards the feet."""
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def _rot_y(deg: float) -> np.ndarray:
    """Rotation in the transverse plane (about the vertical axis), positive towards the back."""
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0.0, -np.sin(a)], [0.0, 1.0, 0.0], [np.sin(a), 0.0, np.cos(a)]])


def qrs_amplitude(s: Subject, d: DiseaseState, ph: dict[str, float], rng: np.random.Generator) -> float:
    """Scale of the QRS loop (mV): LV mass up, habitus and effusion down, torso attenuation."""
    amp = 1.35 * (ph["LVM"] / 100.0) ** 0.75 * (s.bmi / 26.0) ** -0.8 * np.exp(0.2 * rng.standard_normal())
    amp *= 1.0 if s.male else 0.95
    amp *= 1.0 - 0.004 * max(s.age - 63.5, 0.0) * s.male          # men's precordial voltage falls with age
    if d.cm == "RCM":
        amp *= 1.0 - 0.55 * d.cm_severity
    if d.cm == "HCM":
        amp *= 1.0 + 0.35 * d.cm_severity
    amp *= float(np.clip(1.0 - 0.03 * max(d.effusion_mm - 1.0, 0.0), 0.6, 1.0))
    return float(amp)


def qrs_duration(s: Subject, d: DiseaseState, ph: dict[str, float], rng: np.random.Generator) -> tuple[float, float]:
    """QRS duration (s) of the model without and with a bundle branch block: it grows with LVEDV and
    LV mass; LBBB and RBBB widen it to >= 120 ms, left anterior fascicular block a little."""
    qrs = 0.088 + 0.00013 * (ph["LVEDV"] - 150.0) + 0.00005 * (ph["LVM"] - 100.0) + 0.005 * s.male
    qrs = float(np.clip(qrs + 0.006 * rng.standard_normal(), 0.07, 0.125))
    if d.lafb:
        qrs += 0.008
    total = qrs
    if d.lbbb:
        total = float(np.clip(qrs + rng.uniform(0.035, 0.06), 0.12, 0.19))
    elif d.rbbb:
        total = float(np.clip(qrs + rng.uniform(0.03, 0.05), 0.12, 0.16))
    return qrs, total


def heart_vector_waves(s: Subject, d: DiseaseState, ph: dict[str, float], hr: float, anatomy: Anatomy,
                       rng: np.random.Generator) -> dict[str, list[Lobe]]:
    """The beat templates: lobes per beat kind ("N" sinus, "A" premature atrial, "V" premature
    ventricular, "F" conducted atrial fibrillation)."""
    rr = 60.0 / hr
    amp = qrs_amplitude(s, d, ph, rng)
    qrs_base, qrs = qrs_duration(s, d, ph, rng)
    w = qrs_base / 0.090
    # --- orientation: anatomy (shared with the cine) x conduction variability ------------------------
    rv_ref = 88.0 if s.male else 80.0
    rv_load = max(0.0, ph["RVEDVi"] / rv_ref - 1.0)
    cond_front = 20.0 * rng.standard_normal() + 45.0 * min(rv_load, 1.5) + 35.0 * d.ph
    if d.lafb:
        cond_front -= rng.uniform(45.0, 70.0)
    if d.lbbb:
        cond_front -= 15.0
    cond = _rot_z(cond_front) @ _rot_y(8.0 * rng.standard_normal())
    rot_qrs = anatomy.rotation @ cond
    rot_t = anatomy.rotation @ _rot_z(0.5 * cond_front)
    # --- QRS loop of the reference heart (main force at Frank frontal 6 deg: lead axis ~30 deg), then turned -------
    main = _unit((np.cos(np.deg2rad(6.0)), np.sin(np.deg2rad(6.0)), np.tan(np.deg2rad(12.0 + 5.0 * rng.standard_normal()))))
    loop = [  # (offset, sigma, relative size, direction)
        [-0.026, 0.0055, 0.11, _unit((-0.6, 0.2, -0.77))],       # septal
        [-0.012, 0.0064, 0.40 * np.exp(0.15 * rng.standard_normal()), _unit((0.5, 0.45, -0.7))],  # anterior-apical
        [0.000, 0.0072, 1.00, main],                              # main LV free wall
        [0.012, 0.0064, 0.42 * np.exp(0.15 * rng.standard_normal()), _unit((-0.35, -0.1, 0.93))],  # posterobasal
        [0.023, 0.0058, 0.30 * np.exp(0.15 * rng.standard_normal()), _unit((-0.75, -0.35, 0.55))],  # terminal
    ]
    t_amp = 0.31 * (amp / 1.35) ** 0.5 * np.exp(0.2 * rng.standard_normal()) * (1.0 if s.male else 0.85)
    t_vec = t_amp * _unit((0.7 + 0.1 * rng.standard_normal(), 0.5, -0.45 + 0.15 * rng.standard_normal()))
    st_vec = 0.012 * _unit((0.2, 0.2, -0.95)) * (1.0 if s.male else 0.5)   # J-point elevation in V2-V3
    extra: list[Lobe] = []
    # --- disease effects on the loop ------------------------------------------------------------------
    if d.cad > 0 and not d.mi_territory:
        t_vec = t_vec * (1.0 - 0.35 * d.cad)                       # ischaemic T flattening
        st_vec = st_vec - 0.03 * d.cad * _unit((0.6, 0.5, -0.3))
    if d.mi_territory:
        u = _unit(_TERRITORY_DIR[d.mi_territory])
        ext = d.mi_extent * min(1.0, len(d.mi_segments) / 4.0)
        for lobe in loop[1:4]:
            lobe[3] = lobe[3] - 0.6 * ext * max(float(lobe[3] @ u), 0.0) * u
        extra.append((-0.012 * w, 0.011, -0.55 * ext * amp * u))   # Q waves facing the scar
        t_vec = t_vec - 0.35 * ext * u                               # T inversion over the scar
        st_vec = st_vec + 0.05 * ext * u
    if d.cm == "HCM":
        t_vec = t_vec - 0.55 * d.cm_severity * _unit((1.0, 0.15, 0.1))
        loop[0][2] *= 1.0 + 2.0 * d.cm_severity                       # deep septal Q
    lvh_strain = max(0.0, ph["LVM"] / 150.0 - 1.0)
    t_vec = t_vec - 0.25 * min(lvh_strain, 1.0) * _unit((1.0, 0.2, 0.0))
    if d.st_t_nonspecific:
        t_vec = t_vec * rng.uniform(0.15, 0.6)
    if d.peri > 0 and not d.peri_acute and rng.random() < 0.5:
        t_vec = t_vec * rng.uniform(0.2, 0.7)                        # stage III-IV: flat T after pericarditis
    main_vec = amp * (rot_qrs @ loop[2][3])
    waves: list[Lobe] = []
    if d.lbbb:
        # no septal Q, broad notched leftward R, discordant ST-T
        r_dir = _unit(main_vec)
        waves += [(-0.22 * qrs, 0.16 * qrs, 0.55 * main_vec), (0.12 * qrs, 0.17 * qrs, 0.75 * main_vec),
                  (0.34 * qrs, 0.12 * qrs, 0.15 * amp * (rot_qrs @ loop[3][3]))]
        t_vec_body = -0.27 * np.linalg.norm(main_vec) * r_dir + 0.3 * (rot_t @ t_vec)
    else:
        for off, sig, size, direc in loop:
            waves.append((off * w, sig * w, size * amp * (rot_qrs @ direc)))
        t_vec_body = rot_t @ t_vec
        if d.rbbb:   # slow terminal right-anterior force: R' in V1, broad S in I, V5, V6; secondary T change
            term = rot_qrs @ _unit((-0.65, 0.1, -0.75))
            extra_w = qrs - qrs_base
            waves += [(0.3 * qrs_base + 0.15 * extra_w, 0.35 * extra_w, 0.6 * amp * term),
                      (0.3 * qrs_base + 0.65 * extra_w, 0.35 * extra_w, 0.6 * amp * term)]
            t_vec_body = t_vec_body - 0.12 * term
    waves += [(o, sg, anatomy.rotation @ v) for o, sg, v in extra]
    if d.ph > 0 or rv_load > 0.3:
        rvh = 0.5 * amp * (d.ph + 0.5 * max(rv_load - 0.3, 0.0))
        waves.append((0.018 * w, 0.011 * w, rvh * (anatomy.rotation @ _unit((-0.45, 0.35, -0.8)))))
    # --- repolarisation: QT shortens with rate (Bazett-like) -----------------------------------------
    t_peak = 0.300 * rr ** 0.5 + 0.5 * (qrs - 0.09) + 0.012 * rng.standard_normal() + 0.0004 * (s.age - 63.5)
    repol = [(t_peak - 0.035, 0.045, 0.55 * t_vec_body), (t_peak + 0.01, 0.028, 0.62 * t_vec_body),
             (0.5 * qrs + 0.07, 0.05, anatomy.rotation @ st_vec)]
    if d.peri_acute:          # diffuse concave ST elevation from the J point into the T wave
        inj = (0.1 + 0.15 * d.peri) * _unit(_ST_PERI)
        j = 0.5 * qrs
        repol += [(j + 0.03, 0.025, 0.6 * inj), (0.5 * (j + t_peak), (t_peak - j) / 3.0, 0.8 * inj)]
    # --- atria: P widens with LA volume, grows with RA volume; terminal posterior LA force -----------
    pr = float(np.clip(0.152 + 0.0006 * (s.age - 63.5) + 0.022 * rng.standard_normal(), 0.11, 0.3))
    p_sigma = 0.019 * (ph["LAV_max"] / 70.0) ** 0.3
    p_amp = 0.13 * (ph["RAV_max"] / 90.0) ** 0.45 * np.exp(0.15 * rng.standard_normal())
    p_dir = anatomy.rotation @ _unit(_P_DIR)
    la_excess = max(0.0, ph["LAV_max"] / 75.0 - 1.0)
    p_waves = [(-pr - 0.005, p_sigma, p_amp * p_dir),
               (-pr + 1.6 * p_sigma, p_sigma * 0.9, 0.07 * min(la_excess, 2.0) * _unit((-0.1, 0.2, 1.0))),
               (-pr + 0.08, 0.035, -0.35 * p_amp * p_dir)]      # atrial repolarisation (Ta): PR segment below TP
    if d.peri_acute:                          # atrial injury current: PR-segment depression (elevation in aVR)
        p_waves.append((-0.5 * qrs_base - 0.035, 0.035, -(0.04 + 0.05 * d.peri) * p_dir))
    normal = p_waves + waves + repol
    kinds: dict[str, list[Lobe]] = {"N": normal, "F": waves + repol}
    # premature atrial beat: ectopic P (different axis, shorter PR), the same QRS and T
    pac_dir = _rot_z(rng.uniform(60.0, 150.0)) @ p_dir
    pr_a = pr - rng.uniform(0.0, 0.03)
    kinds["A"] = [(-pr_a - 0.005, p_sigma, 0.9 * p_amp * pac_dir)] + waves + repol
    # premature ventricular beat: broad QRS from an ectopic focus, discordant T, no P
    focus = _unit(rng.normal(0.0, 1.0, 3) + np.array([0.3, 0.6, 0.0]))
    v_amp = amp * rng.uniform(1.1, 1.6)
    v_qrs = rng.uniform(0.13, 0.17)
    kinds["V"] = [(-0.2 * v_qrs, 0.17 * v_qrs, 0.7 * v_amp * focus),
                  (0.12 * v_qrs, 0.16 * v_qrs, 0.6 * v_amp * _unit(focus + rng.normal(0.0, 0.5, 3))),
                  (t_peak + 0.03, 0.06, -0.22 * v_amp * focus)]
    return kinds


def simulate_ecg(s: Subject, d: DiseaseState, ph: dict[str, float], hr: float, anatomy: Anatomy,
                 rng: np.random.Generator, fs: int = FS, duration: float = DURATION) -> np.ndarray:
    """float32 [12, fs*duration] in mV, leads in the standard order (:data:`cardionets.preprocess.STANDARD_LEADS`)."""
    n = int(round(fs * duration))
    t = np.arange(n) / fs
    beats = beat_sequence(hr, s.age, d, rng, duration)
    kinds = heart_vector_waves(s, d, ph, hr, anatomy, rng)
    h = _heart_vector(beats, kinds, rng, n, fs)
    if d.af:
        h += _fibrillatory_waves(rng, t, anatomy)
    lead_vec = DOWER.copy()                       # electrode placement and torso: not explained by phenotypes
    # the precordial strip sits a little left or right of the standard positions (a shift along
    # V1..V6, which moves the transition zone), then each electrode has its own error
    pos = np.clip(np.arange(6) + 0.45 * rng.standard_normal(), 0.0, 5.0)
    lo = np.minimum(pos.astype(int), 4)
    frac = (pos - lo)[:, None]
    lead_vec[2:] = (1.0 - frac) * DOWER[2 + lo] + frac * DOWER[3 + lo]
    lead_vec[2:] = lead_vec[2:] * (1.0 + 0.1 * rng.standard_normal((6, 1))) + 0.1 * rng.standard_normal((6, 3))
    lead_vec[:2] = lead_vec[:2] * (1.0 + 0.05 * rng.standard_normal((2, 1)))
    gain = 1.0 + 0.03 * rng.standard_normal((8, 1))          # per-channel amplifier gain
    eight = gain * (lead_vec @ h) + _noise(rng, n, fs, t)    # I, II, V1..V6 as recorded
    i, ii = eight[0], eight[1]
    limb = np.stack([i, ii, ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2])
    return np.concatenate([limb, eight[2:]], axis=0).astype(np.float32)


def _heart_vector(beats: Beats, kinds: dict[str, list[Lobe]], rng: np.random.Generator, n: int,
                  fs: int) -> np.ndarray:
    """[3, n]: every beat's lobes at its R time; respiration modulates the amplitude a little (the
    heart moves with the diaphragm)."""
    t = np.arange(n) / fs
    resp = 1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.18, 0.3) * beats.times + rng.uniform(0, 2 * np.pi))
    h = np.zeros((3, n))
    for kind, lobes in kinds.items():
        sel = beats.kinds == kind
        if not sel.any():
            continue
        bt, br = beats.times[sel], resp[sel]
        for off, sig, vec in lobes:
            lobe = np.zeros(n)
            for c, a in zip(bt + off, br):
                lo, hi = max(int((c - 5 * sig) * fs), 0), min(int((c + 5 * sig) * fs) + 1, n)
                if hi > lo:
                    lobe[lo:hi] += a * np.exp(-0.5 * ((t[lo:hi] - c) / sig) ** 2)
            h += np.outer(vec, lobe)
    return h


def _fibrillatory_waves(rng: np.random.Generator, t: np.ndarray, anatomy: Anatomy) -> np.ndarray:
    """[3, n] AF f-waves: 5-7 Hz with drifting amplitude and phase, 0.02-0.08 mV, along an
    atrial direction (seen best in V1 and the inferior leads)."""
    f0 = rng.uniform(5.0, 7.0)
    drift = np.cumsum(rng.normal(0.0, 0.15, len(t))) / np.sqrt(len(t)) * 4.0
    env = rng.uniform(0.02, 0.08) * (1.0 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3)))
    wave = env * np.sin(2 * np.pi * f0 * t + drift)
    return np.outer(anatomy.rotation @ _unit((0.3, 0.5, -0.8)), wave)


def _noise(rng: np.random.Generator, n: int, fs: int, t: np.ndarray) -> np.ndarray:
    """Baseline wander (respiration/motion), mains hum, muscle noise on the 8 recorded leads (I, II,
    V1-V6); [8, n] mV. Levels: the real fixtures' median noise above 40 Hz is ~7 uV RMS and their
    median baseline wander (1-99% range below 0.5 Hz) ~0.14 mV."""
    out = np.zeros((8, n))
    bw_amp = float(np.exp(rng.normal(np.log(0.08), 0.6)))
    f = rng.uniform(0.15, 0.35)
    shared = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    for k in range(8):
        drift = sum(rng.uniform(0.0, 1.0) * np.sin(2 * np.pi * rng.uniform(0.03, 0.5) * t + rng.uniform(0, 6.3))
                    for _ in range(2))
        out[k] = bw_amp * (rng.uniform(0.2, 1.0) * shared + 0.5 * drift)
    if rng.random() < 0.3:                       # mains hum where the recorder's notch filter is off
        hum = rng.uniform(0.002, 0.012) * np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 2 * np.pi))
        out += np.outer(np.r_[rng.uniform(0.5, 1.0, 2), rng.uniform(0.1, 0.6, 6)], hum)
    emg_sd = float(np.exp(rng.normal(np.log(0.0062), 0.45)))
    white = rng.standard_normal((8, n)) * emg_sd
    emg = lfilter([1.0, -1.0], [1.0, -0.7], white, axis=1)
    if rng.random() < 0.2:
        c, wdt = rng.uniform(0, n / fs), rng.uniform(0.3, 1.5)
        emg *= 1.0 + 3.0 * np.exp(-0.5 * ((t - c) / wdt) ** 2)
    out += emg
    return out
