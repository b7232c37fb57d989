"""Simple, transparent ECG measurements (the features a cardiologist reads off a 12-lead):
heart rate, QRS duration, frontal QRS axis and QRS voltages (Sokolow-Lyon, Cornell, total
peak-to-peak). Used as a baseline and to check that the synthetic cohort's ECGs carry the
structural signal they should -- and not too much of it.

Input: a band-passed 12-lead record [12, T] in mV (standard lead order), e.g. a row of the ECG
cache (250 Hz). Method: R peaks from the summed absolute slope of all leads, a median beat,
QRS on/offset where the spatial velocity of the median beat falls below 20% of its peak.
"""
from __future__ import annotations

import numpy as np

FEATURES = ("hr", "qrs_ms", "axis_sin", "axis_cos", "sokolow_mv", "cornell_mv", "qrs_ptp_sum_mv")
_I, _II, _III, _AVR, _AVL, _AVF, _V1, _V2, _V3, _V4, _V5, _V6 = range(12)


def r_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import find_peaks

    slope = np.abs(np.diff(x, axis=1)).sum(0)
    env = uniform_filter1d(slope, max(1, int(0.04 * fs)))
    peaks, _ = find_peaks(env, distance=int(0.33 * fs), height=0.4 * np.percentile(env, 99))
    # refine to the maximum spatial magnitude within +-50 ms
    mag = np.sqrt((x ** 2).sum(0))
    w = int(0.05 * fs)
    out = [p - w + int(np.argmax(mag[max(p - w, 0):p + w])) if p >= w else p for p in peaks]
    return np.unique(np.asarray(out, dtype=np.int64))


def median_beat(x: np.ndarray, fs: float, peaks: np.ndarray, pre: float = 0.25, post: float = 0.45):
    a, b = int(pre * fs), int(post * fs)
    ok = peaks[(peaks >= a) & (peaks + b < x.shape[1])]
    if len(ok) == 0:
        return None
    beats = np.stack([x[:, p - a:p + b] for p in ok])
    return np.median(beats, axis=0), a


def ecg_features(x: np.ndarray, fs: float = 250.0) -> dict[str, float]:
    """Measurements of one record; NaN when no beat is found."""
    x = np.asarray(x, dtype=np.float64)
    peaks = r_peaks(x, fs)
    nan = {k: float("nan") for k in FEATURES}
    if len(peaks) < 2:
        return nan
    mb = median_beat(x, fs, peaks)
    if mb is None:
        return nan
    beat, r = mb
    vel = np.abs(np.diff(beat, axis=1)).sum(0)
    lo, hi = r - int(0.12 * fs), r + int(0.12 * fs)
    seg = vel[lo:hi]
    thr = 0.2 * seg.max()
    above = np.flatnonzero(seg > thr)
    on, off = lo + above[0], lo + above[-1] + 1
    qrs = beat[:, on:off]
    base = beat[:, max(on - int(0.02 * fs), 0):on].mean(1, keepdims=True)     # PR-segment baseline
    q = qrs - base
    area_i, area_avf = q[_I].sum(), q[_AVF].sum()
    axis = np.arctan2(area_avf, area_i)
    rr = np.median(np.diff(peaks)) / fs
    return {
        "hr": 60.0 / rr,
        "qrs_ms": 1000.0 * (off - on) / fs,
        "axis_sin": float(np.sin(axis)),
        "axis_cos": float(np.cos(axis)),
        "sokolow_mv": float(max(-q[_V1].min(), 0) + max(q[_V5].max(), q[_V6].max(), 0)),
        "cornell_mv": float(max(q[_AVL].max(), 0) + max(-q[_V3].min(), 0)),
        "qrs_ptp_sum_mv": float(np.ptp(q, axis=1).sum()),
    }


def feature_matrix(signals: np.ndarray, fs: float = 250.0) -> np.ndarray:
    """[N, 12, T] -> [N, len(FEATURES)]."""
    return np.array([[f[k] for k in FEATURES] for f in (ecg_features(s, fs) for s in signals)])
