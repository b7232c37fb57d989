"""The float64 scipy reference of the ECG pipeline in :mod:`cardionets.dsp`.

Plain, readable and slow: every function here states the semantics the native C++ pipeline
(csrc/dsp) reproduces, and the tests compare the two. The settings come from the same
:class:`cardionets.preprocess.PreprocessSpec`. Arrays have time on the last axis.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

from .preprocess import DEFAULT_SPEC, PreprocessSpec


def resample(x: np.ndarray, fs: float, fs_out: float = DEFAULT_SPEC.fs) -> np.ndarray:
    """scipy.signal.resample_poly for the reduced ratio fs_out / fs (Kaiser beta 5)."""
    up, down = int(round(fs_out)), int(round(fs))
    g = math.gcd(up, down)
    return resample_poly(np.asarray(x, dtype=np.float64), up // g, down // g, axis=-1)


def butter_sos(order: int, cutoff: float, fs: float, highpass: bool) -> np.ndarray:
    return butter(order, cutoff, "highpass" if highpass else "lowpass", fs=fs, output="sos")


def bandpass(x: np.ndarray, spec: PreprocessSpec = DEFAULT_SPEC) -> np.ndarray:
    """High-pass then low-pass at ``spec.fs``, each a zero-phase Butterworth (sosfiltfilt, padtype 'odd')."""
    y = np.asarray(x, dtype=np.float64)
    y = sosfiltfilt(butter_sos(spec.order, spec.highpass_hz, spec.fs, True), y, axis=-1)
    return sosfiltfilt(butter_sos(spec.order, spec.lowpass_hz, spec.fs, False), y, axis=-1)


def filter_record(x: np.ndarray, fs: float, spec: PreprocessSpec = DEFAULT_SPEC) -> np.ndarray:
    """[..., T] at fs -> [..., ceil(T * spec.fs / fs)] float64: resample, then band-pass."""
    return bandpass(resample(x, fs, spec.fs), spec)


def crop_starts(n: int, n_crops: int | None = None, spec: PreprocessSpec = DEFAULT_SPEC) -> list[int]:
    """Evaluation crops: round(linspace(0, n - crop_len, n_crops)); one crop when n == crop_len."""
    k = spec.n_crops if n_crops is None else int(n_crops)
    if n == spec.crop_len:
        return [0]
    return [int(s) for s in np.round(np.linspace(0, n - spec.crop_len, k))]


def crops(x: np.ndarray, n_crops: int | None = None, spec: PreprocessSpec = DEFAULT_SPEC) -> np.ndarray:
    """[..., leads, T] -> [..., n_crops, leads, crop_len]."""
    starts = crop_starts(x.shape[-1], n_crops, spec)
    return np.stack([x[..., s:s + spec.crop_len] for s in starts], axis=-3)


def standardize(x: np.ndarray, spec: PreprocessSpec = DEFAULT_SPEC) -> np.ndarray:
    """(x - mean) / std over the last two axes (leads and samples), or per lead; std 0 -> 1."""
    x = np.asarray(x, dtype=np.float64)
    axes = (-1,) if spec.per_lead else (-2, -1)
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    return (x - mean) / np.where(std == 0, 1.0, std)


def preprocess(x: np.ndarray, fs: float, spec: PreprocessSpec = DEFAULT_SPEC) -> np.ndarray:
    """[..., 12, T] at fs -> [..., n_crops, 12, crop_len]: resample, band-pass, crops, standardise."""
    return standardize(crops(filter_record(x, fs, spec), spec=spec), spec)


def quality_flags(x: np.ndarray, fs: float, flat_std_mv: float = 0.005, max_ptp_mv: float = 20.0,
                  clip_seconds: float = 0.02, clip_min_run: int = 5, min_seconds: float = 9.0) -> set[str]:
    """The quality check of one record [leads, T] in NumPy (names as in cardionets.dsp.flags_table())."""
    x = np.asarray(x, dtype=np.float32)
    flags: set[str] = set()
    if x.shape[0] < 12:
        flags.add("missing_leads")
    if not (np.isfinite(fs) and 100 <= fs <= 20000 and abs(fs - round(fs)) <= 1e-9 * fs):
        flags.add("unsupported_rate")
    if x.shape[1] < min_seconds * fs - 1e-6:
        flags.add("too_short")
    clip_run = max(clip_min_run, int(round(clip_seconds * fs)))
    flat = present = 0
    for lead in x:
        fin = np.isfinite(lead)
        if not fin.any():
            flags.add("missing_leads" if np.isnan(lead).all() else "nan_inf")
            continue
        present += 1
        if not fin.all():
            flags.add("nan_inf")
        v = lead[fin].astype(np.float64)
        if v.std() < flat_std_mv:
            flags.add("flat_lead")
            flat += 1
            continue
        if float(v.max()) - float(v.min()) > max_ptp_mv:
            flags.add("amplitude")
        at_ext = (lead == v.max()) | (lead == v.min())
        best = run = 0
        for i in range(len(lead)):
            run = run + 1 if at_ext[i] and i > 0 and lead[i] == lead[i - 1] and run > 0 else (1 if at_ext[i] else 0)
            best = max(best, run)
        if best >= clip_run:
            flags.add("clipped")
    if present and flat == present:
        flags.add("flat_record")
    return flags
