"""Transparent ECG measurements: the numbers a cardiologist reads off a 12-lead.

One extractor serves two uses: the cohort realism profile (``cardionets profile``, every
:data:`PROFILE_FEATURES` of any record) and the simple-feature baseline (:data:`FEATURES`,
:func:`feature_matrix`). It is independent of the synthetic ECG model: it knows nothing about how
the cohort is generated, only standard electrocardiographic definitions.

Method (:func:`delineate`), on a 12-lead record in the standard order, in mV:
1. resample to 500 Hz; band-pass 0.5-40 Hz (order-2 Butterworth each way, zero-phase) for the
   morphology; the raw record is kept for the noise and baseline-wander measurements;
2. R peaks: the summed absolute slope of all leads, smoothed over 40 ms, peaks at least 250 ms
   apart and above 35% of its 99th percentile, each moved to the maximum spatial magnitude
   within +-50 ms;
3. dominant beats: beats whose QRS (+-60 ms) correlates >= 0.9 with the provisional median beat
   (ectopic beats and artefacts drop out); the median of the dominant beats is the median beat;
4. QRS onset / offset: walking out from the fastest point before / after R on the median beat's
   spatial velocity (sum over leads of |dV/dt|, smoothed over 8 ms) until it stays below 15% of
   its QRS maximum for 14 ms (a lobe's turning point, where every lead peaks at once, is not an end);
5. isoelectric reference: the median beat 10-20 ms before the QRS onset (PR segment);
   amplitudes (R, S, T, ST) are measured from it;
6. T wave: the spatial magnitude's maximum 80 ms after the QRS offset up to R + 0.62 RR (at most
   R + 0.6 s); T end where that magnitude has fallen 85% of the way from the peak to its minimum
   over the next 250 ms;
7. P wave: the spatial magnitude's maximum (smoothed over 20 ms) 40-300 ms before the QRS onset;
   present when at least 0.04 mV and three times the noise; P onset where it has fallen 75% of
   the way from the peak to its minimum over the 150 ms before the peak;
8. frontal QRS axis: atan2 of the net QRS area of aVF and of I (the standard definition).
Noise: RMS of the raw record high-passed at 40 Hz outside +-80/+100 ms of every R peak; baseline
wander: 1st-99th percentile range of the raw record low-passed at 0.5 Hz; both per lead, the
median over leads, and relative to the median QRS peak-to-peak amplitude of the leads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..preprocess import STANDARD_LEADS
from scipy.signal import butter, find_peaks, resample_poly, sosfiltfilt
from fractions import Fraction
from scipy.ndimage import uniform_filter1d

_I, _II, _III, _AVR, _AVL, _AVF, _V1, _V2, _V3, _V4, _V5, _V6 = range(12)
FS_WORK = 500.0

# The simple-feature baseline (phenotype regression from the classic measurements).
FEATURES = ("hr", "qrs_ms", "axis_sin", "axis_cos", "sokolow_mv", "cornell_mv", "qrs_ptp_sum_mv")

# Every measurement of the profile: name -> (unit, meaning).
PROFILE_FEATURES: dict[str, tuple[str, str]] = {
    "hr_bpm": ("bpm", "heart rate from the median RR interval"),
    "rr_cv": ("", "coefficient of variation of all RR intervals"),
    "rr_irregularity": ("", "median |successive RR difference| / median RR (high in AF)"),
    "premature_fraction": ("", "fraction of beats arriving < 85% of the median RR after the previous one"),
    "non_dominant_fraction": ("", "fraction of beats whose QRS differs from the dominant one (ectopy, artefact)"),
    "p_present": ("", "1 if the median beat has a P wave, else 0"),
    "p_amp_ii_mv": ("mV", "P-wave amplitude in II"),
    "pr_ms": ("ms", "PR interval (P onset to QRS onset)"),
    "qrs_ms": ("ms", "QRS duration (onset to offset of the median beat)"),
    "qt_ms": ("ms", "QT interval (QRS onset to T end)"),
    "qtc_ms": ("ms", "QT corrected for rate (Bazett)"),
    "axis_deg": ("deg", "frontal QRS axis (net areas of I and aVF)"),
    **{f"r_{ld.lower()}_mv": ("mV", f"R amplitude in {ld}") for ld in STANDARD_LEADS[6:]},
    **{f"s_{ld.lower()}_mv": ("mV", f"S amplitude in {ld}") for ld in STANDARD_LEADS[6:]},
    "transition_lead": ("", "first precordial lead (1-6 = V1-V6) with R >= S; 7 if none"),
    "r_avl_mv": ("mV", "R amplitude in aVL"),
    "sokolow_mv": ("mV", "Sokolow-Lyon voltage: S(V1) + max(R(V5), R(V6))"),
    "cornell_mv": ("mV", "Cornell voltage: R(aVL) + S(V3)"),
    "qrs_ptp_sum_mv": ("mV", "sum over the 12 leads of the QRS peak-to-peak amplitude"),
    "t_ii_mv": ("mV", "T amplitude in II (signed)"),
    "t_v2_mv": ("mV", "T amplitude in V2 (signed)"),
    "t_v5_mv": ("mV", "T amplitude in V5 (signed)"),
    "t_qrs_v5": ("", "|T amplitude| / QRS peak-to-peak in V5 (magnitude ratio)"),
    "st_mean_mv": ("mV", "mean ST level 60 ms after the QRS offset over I, II, aVF, V2-V6"),
    "pr_seg_ii_mv": ("mV", "PR-segment level in II relative to the TP segment (negative: PR depression)"),
    "noise_rel": ("", "noise above 40 Hz (RMS outside QRS) / median QRS peak-to-peak"),
    "wander_rel": ("", "baseline wander below 0.5 Hz (1-99% range) / median QRS peak-to-peak"),
    "noise_uv": ("uV", "noise above 40 Hz, RMS outside QRS, median over leads"),
    "wander_mv": ("mV", "baseline wander below 0.5 Hz, 1-99% range, median over leads"),
}


@dataclass
class Delineation:
    """Fiducial points of one record's median beat (sample indices into ``beat``, 500 Hz)."""
    beat: np.ndarray          # [12, W] median beat (band-passed, mV), baseline not removed
    r: int                    # R-peak index in ``beat``
    on: int                   # QRS onset
    off: int                  # QRS offset
    t_peak: int | None
    t_end: int | None
    p_peak: int | None
    p_on: int | None
    baseline: np.ndarray      # [12, 1] isoelectric level (PR segment)
    peaks: np.ndarray         # R peaks of the whole record (samples at 500 Hz)
    dominant: np.ndarray      # bool per peak: beat of the dominant morphology
    rr_s: float               # median RR (s)
    measured: np.ndarray      # bool per peak: the whole beat window lies in the record


def _sos(fs: float, lo: float | None, hi: float | None, order: int = 2):
    if lo and hi:
        return butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    if lo:
        return butter(order, lo, btype="highpass", fs=fs, output="sos")
    return butter(order, hi, btype="lowpass", fs=fs, output="sos")


def _filt(x: np.ndarray, fs: float, lo: float | None, hi: float | None, order: int = 2) -> np.ndarray:
    return sosfiltfilt(_sos(fs, lo, hi, order), x, axis=-1)


def _to_work_rate(x: np.ndarray, fs: float) -> np.ndarray:
    if abs(fs - FS_WORK) < 1e-6:
        return x
    fr = Fraction(FS_WORK / fs).limit_denominator(1000)
    return resample_poly(x, fr.numerator, fr.denominator, axis=-1)


def r_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of a band-passed record [leads, T]."""
    slope = np.abs(np.diff(x, axis=1)).sum(0)
    env = uniform_filter1d(slope, max(1, int(0.04 * fs)))
    top = np.percentile(env, 99)
    if not np.isfinite(top) or top <= 0:
        return np.zeros(0, dtype=np.int64)
    peaks, _ = find_peaks(env, distance=int(0.25 * fs), height=0.35 * top)
    mag = np.sqrt((x ** 2).sum(0))
    w = int(0.05 * fs)
    out = [max(p - w, 0) + int(np.argmax(mag[max(p - w, 0):p + w])) for p in peaks]
    return np.unique(np.asarray(out, dtype=np.int64))


def median_beat(x: np.ndarray, fs: float, peaks: np.ndarray, pre: float = 0.25, post: float = 0.45):
    """Median of the beats [peak - pre, peak + post) that fit in the record; (beat, R index) or None."""
    a, b = int(pre * fs), int(post * fs)
    ok = peaks[(peaks >= a) & (peaks + b < x.shape[1])]
    if len(ok) == 0:
        return None
    beats = np.stack([x[:, p - a:p + b] for p in ok])
    return np.median(beats, axis=0), a


def _walk_below(vel: np.ndarray, start: int, step: int, thr: float, hold: int, stop: int) -> int:
    """From ``start`` walk by ``step`` until ``vel`` stays below ``thr`` for ``hold`` samples; the
    first sample of that quiet run (or ``stop``)."""
    i, run = start, 0
    while (i - stop) * step < 0:
        run = run + 1 if vel[i] < thr else 0
        if run >= hold:
            return i - step * (hold - 1)
        i += step
    return stop


def delineate(x: np.ndarray, fs: float) -> Delineation | None:
    """Fiducial points of a 12-lead record [12, T] (mV, standard order; NaN leads are zeroed);
    None when fewer than two beats are found."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64))
    x = _to_work_rate(x, fs)
    fs = FS_WORK
    if x.shape[1] < int(2.0 * fs):
        return None
    xf = _filt(x, fs, 0.5, 40.0)
    peaks = r_peaks(xf, fs)
    if len(peaks) < 2:
        return None
    rr = np.diff(peaks) / fs
    rr_med = float(np.median(rr))
    pre = float(np.clip(0.5 * rr_med + 0.05, 0.25, 0.45))
    post = float(np.clip(0.65 * rr_med, 0.35, 0.6))
    a, b = int(pre * fs), int(post * fs)
    ok = (peaks >= a) & (peaks + b < x.shape[1])
    if not ok.any():
        return None
    beats = np.stack([xf[:, p - a:p + b] for p in peaks[ok]])               # [n, 12, W]
    q = int(0.06 * fs)
    core = beats[:, :, a - q:a + q].reshape(len(beats), -1)
    templ = np.median(core, axis=0)
    cc = np.array([np.corrcoef(c, templ)[0, 1] if c.std() > 0 else 0.0 for c in core])
    dom = cc >= 0.9
    if dom.sum() < max(1, int(0.3 * len(beats))):
        dom = cc >= np.median(cc)
    dominant = np.zeros(len(peaks), dtype=bool)
    dominant[np.flatnonzero(ok)[dom]] = True
    beat = np.median(beats[dom], axis=0)
    r = a
    vel = uniform_filter1d(np.abs(np.diff(beat, axis=1, append=beat[:, -1:])).sum(0) * fs, int(0.008 * fs))
    w = int(0.12 * fs)
    vmax = vel[r - w:r + w].max()
    thr, hold = 0.15 * vmax, int(0.014 * fs)
    # walk out from the fastest part of the upstroke / downstroke (the velocity dips at the R peak)
    up = max(r - w, 0) + int(np.argmax(vel[max(r - w, 0):r + 1]))
    down = r + int(np.argmax(vel[r:r + w]))
    on = _walk_below(vel, up, -1, thr, hold, max(r - w, 0))
    off = _walk_below(vel, down, +1, thr, hold, min(r + w, beat.shape[1] - 1))
    i0, i1 = max(on - int(0.02 * fs), 0), max(on - int(0.01 * fs), 1)
    baseline = beat[:, i0:i1].mean(1, keepdims=True)
    bc = beat - baseline
    mag = np.sqrt((bc ** 2).sum(0))
    # T wave
    t_peak = t_end = None
    lo_t, hi_t = off + int(0.08 * fs), min(r + int(min(0.62 * rr_med, 0.6) * fs), beat.shape[1] - 1)
    if hi_t - lo_t > int(0.04 * fs):
        t_peak = lo_t + int(np.argmax(mag[lo_t:hi_t]))
        tail = mag[t_peak:min(t_peak + int(0.25 * fs), beat.shape[1])]
        floor = float(tail.min())
        below = np.flatnonzero(tail < floor + 0.15 * (mag[t_peak] - floor))
        t_end = t_peak + int(below[0]) if len(below) and mag[t_peak] > floor + 0.03 else None
    # P wave
    p_peak = p_on = None
    lo_p, hi_p = max(on - int(0.30 * fs), 0), on - int(0.04 * fs)
    if hi_p - lo_p > int(0.04 * fs):
        magp = uniform_filter1d(mag, int(0.02 * fs))
        cand = lo_p + int(np.argmax(magp[lo_p:hi_p]))
        noise = _noise_floor(bc[:, lo_p:hi_p])
        if magp[cand] >= 0.04 and magp[cand] >= 3.0 * noise and cand > lo_p:
            p_peak = cand
            lo_on = max(cand - int(0.15 * fs), 0)
            floor = float(magp[lo_on:cand].min())
            before = np.flatnonzero(magp[lo_on:cand] < floor + 0.25 * (magp[cand] - floor))
            p_on = lo_on + int(before[-1]) if len(before) else None
    return Delineation(beat, r, int(on), int(off), t_peak, t_end, p_peak, p_on, baseline, peaks, dominant, rr_med, ok)


def _noise_floor(seg: np.ndarray) -> float:
    """Spatial RMS of the first difference of a segment (a scale of its high-frequency noise)."""
    if seg.shape[1] < 3:
        return 0.0
    return float(np.sqrt((np.diff(seg, axis=1) ** 2).sum(0).mean() / 2.0))


def _qrs_amplitudes(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R (largest positive deflection) and S (largest negative deflection after the R peak; the
    whole QRS when there is no R) per lead of a baseline-corrected QRS [12, n]."""
    r_amp = np.maximum(q.max(1), 0.0)
    s_amp = np.empty(q.shape[0])
    for k in range(q.shape[0]):
        i = int(np.argmax(q[k]))
        tail = q[k, i:] if r_amp[k] > 0.05 else q[k]
        s_amp[k] = max(-tail.min(), 0.0)
    return r_amp, s_amp


def profile_record(x: np.ndarray, fs: float) -> dict[str, float]:
    """Every :data:`PROFILE_FEATURES` measurement of one 12-lead record [12, T] (mV, standard
    order); NaN where it cannot be measured (no beats, no P wave, ...)."""
    out = {k: float("nan") for k in PROFILE_FEATURES}
    d = delineate(x, fs)
    if d is None:
        return out
    f = FS_WORK
    bc = d.beat - d.baseline
    q = bc[:, d.on:d.off + 1]
    r_amp, s_amp = _qrs_amplitudes(q)
    rr = np.diff(d.peaks) / f
    out["hr_bpm"] = 60.0 / d.rr_s
    out["rr_cv"] = float(rr.std() / rr.mean())
    out["rr_irregularity"] = float(np.median(np.abs(np.diff(rr))) / d.rr_s) if len(rr) > 1 else float("nan")
    out["premature_fraction"] = float(np.mean(rr < 0.85 * d.rr_s))
    out["non_dominant_fraction"] = float(1.0 - d.dominant[d.measured].mean())
    out["qrs_ms"] = 1000.0 * (d.off - d.on) / f
    out["p_present"] = float(d.p_peak is not None)
    if d.p_peak is not None:
        out["p_amp_ii_mv"] = float(bc[_II, d.p_peak])
        if d.p_on is not None:
            out["pr_ms"] = 1000.0 * (d.on - d.p_on) / f
    if d.t_end is not None:
        out["qt_ms"] = 1000.0 * (d.t_end - d.on) / f
        out["qtc_ms"] = out["qt_ms"] / np.sqrt(d.rr_s)
    out["axis_deg"] = float(np.degrees(np.arctan2(q[_AVF].sum(), q[_I].sum())))
    for k, ld in enumerate(STANDARD_LEADS[6:]):
        out[f"r_{ld.lower()}_mv"] = float(r_amp[_V1 + k])
        out[f"s_{ld.lower()}_mv"] = float(s_amp[_V1 + k])
    trans = [k + 1 for k in range(6) if r_amp[_V1 + k] >= s_amp[_V1 + k]]
    out["transition_lead"] = float(trans[0] if trans else 7)
    out["r_avl_mv"] = float(r_amp[_AVL])
    out["sokolow_mv"] = float(s_amp[_V1] + max(r_amp[_V5], r_amp[_V6]))
    out["cornell_mv"] = float(r_amp[_AVL] + s_amp[_V3])
    ptp = np.ptp(q, axis=1)
    out["qrs_ptp_sum_mv"] = float(ptp.sum())
    if d.t_peak is not None:
        w = int(0.04 * f)
        seg = bc[:, max(d.t_peak - w, d.off):d.t_peak + w + 1]
        t_amp = seg[np.arange(12), np.argmax(np.abs(seg), axis=1)]          # signed extremum near T peak
        out["t_ii_mv"], out["t_v2_mv"], out["t_v5_mv"] = float(t_amp[_II]), float(t_amp[_V2]), float(t_amp[_V5])
        out["t_qrs_v5"] = float(abs(t_amp[_V5]) / ptp[_V5]) if ptp[_V5] > 0.05 else float("nan")
    j60 = d.off + int(0.06 * f)
    if j60 < bc.shape[1]:
        out["st_mean_mv"] = float(bc[[_I, _II, _AVF, _V2, _V3, _V4, _V5, _V6], j60].mean())
    if d.p_on is not None:
        tp = d.beat[_II, :max(d.p_on - int(0.02 * f), 0)]
        if d.t_end is not None and len(tp) >= int(0.02 * f):
            # the window starts within the previous beat's TP segment when the RR leaves room
            prev_t_end = d.t_end - int(d.rr_s * f)
            tp = d.beat[_II, max(prev_t_end + int(0.02 * f), 0):max(d.p_on - int(0.02 * f), 0)]
        if len(tp) >= int(0.02 * f):
            out["pr_seg_ii_mv"] = float(d.beat[_II, d.on - int(0.02 * f):d.on - int(0.005 * f)].mean() - np.median(tp))
    noise, wander = _noise_and_wander(x, fs, d.peaks)
    dead = _dead_leads(x)
    amp = float(np.median(ptp[~dead])) if (~dead).any() else 0.0
    _blank_dead(out, dead)
    out["noise_uv"], out["wander_mv"] = 1000.0 * noise, wander
    if amp > 0.05:
        out["noise_rel"], out["wander_rel"] = noise / amp, wander / amp
    return out


def _dead_leads(x: np.ndarray) -> np.ndarray:
    """bool [12]: leads that are missing (NaN) or flat (< 1 uV SD)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        sd = np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=1)
    return ~np.isfinite(sd) | (sd < 1e-3)


# measurements that need particular leads: blanked (NaN) when one of them is missing or flat
_NEEDS: dict[str, tuple[int, ...]] = {
    "axis_deg": (_I, _AVF), "transition_lead": tuple(range(_V1, _V6 + 1)), "r_avl_mv": (_AVL,),
    "sokolow_mv": (_V1, _V5, _V6), "cornell_mv": (_AVL, _V3), "qrs_ptp_sum_mv": tuple(range(12)),
    "t_ii_mv": (_II,), "t_v2_mv": (_V2,), "t_v5_mv": (_V5,), "t_qrs_v5": (_V5,), "p_amp_ii_mv": (_II,),
    "pr_seg_ii_mv": (_II,), **{f"r_{ld.lower()}_mv": (_V1 + k,) for k, ld in enumerate(STANDARD_LEADS[6:])},
    **{f"s_{ld.lower()}_mv": (_V1 + k,) for k, ld in enumerate(STANDARD_LEADS[6:])},
}


def _blank_dead(out: dict[str, float], dead: np.ndarray) -> None:
    for name, leads in _NEEDS.items():
        if dead[list(leads)].any():
            out[name] = float("nan")


def _noise_and_wander(x: np.ndarray, fs: float, peaks_work: np.ndarray) -> tuple[float, float]:
    """Median over leads of the > 40 Hz RMS outside QRS complexes and of the < 0.5 Hz range."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64))
    x = _to_work_rate(x, fs)
    f = FS_WORK
    x = x - np.median(x, axis=1, keepdims=True)
    live = x.std(1) > 1e-3
    if not live.any():
        return float("nan"), float("nan")
    x = x[live]
    hf = _filt(x, f, 40.0, None, order=4)
    keep = np.ones(x.shape[1], dtype=bool)
    for p in peaks_work:
        keep[max(p - int(0.08 * f), 0):p + int(0.10 * f)] = False
    edge = int(0.2 * f)                                # filter edge effects
    keep[:edge] = keep[-edge:] = False
    noise = float(np.median(np.sqrt((hf[:, keep] ** 2).mean(1)))) if keep.sum() > f * 0.5 else float("nan")
    lf = _filt(x, f, None, 0.5, order=2)[:, edge:-edge]
    wander = float(np.median(np.percentile(lf, 99, axis=1) - np.percentile(lf, 1, axis=1)))
    return noise, wander


def ecg_features(x: np.ndarray, fs: float = 250.0) -> dict[str, float]:
    """The :data:`FEATURES` of one record [12, T] (mV); NaN when no beat is found."""
    p = profile_record(x, fs)
    axis = np.radians(p["axis_deg"])
    return {"hr": p["hr_bpm"], "qrs_ms": p["qrs_ms"], "axis_sin": float(np.sin(axis)),
            "axis_cos": float(np.cos(axis)), "sokolow_mv": p["sokolow_mv"], "cornell_mv": p["cornell_mv"],
            "qrs_ptp_sum_mv": p["qrs_ptp_sum_mv"]}


def feature_matrix(signals: np.ndarray, fs: float = 250.0) -> np.ndarray:
    """[N, 12, T] -> [N, len(FEATURES)]."""
    return np.array([[f[k] for k in FEATURES] for f in (ecg_features(s, fs) for s in signals)])
