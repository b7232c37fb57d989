"""Preprocessed-ECG cache: every record of a manifest resampled to 250 Hz and band-passed once
(0.67-40 Hz, order-5 Butterworth, zero-phase), stored as one float32 .npy [N, 12, T250] beside an
index, so training epochs only crop and standardise.

Filtering goes through :func:`cardionets.dsp.filter_record` (native) and reading through
:func:`cardionets.io.read_ecg`; :func:`filter_reference` is the plain scipy version with the same
semantics (resample_poly, sosfiltfilt), used when the native DSP is unavailable.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import InputError

FS = 250
SECONDS = 10.0
CROP_LEN = 2250


def filter_reference(x: np.ndarray, fs: float) -> np.ndarray:
    """[12, T] mV at fs -> [12, ceil(T*250/fs)] float32: resample_poly to 250 Hz, HP 0.67 then LP 40."""
    from fractions import Fraction

    from scipy.signal import butter, resample_poly, sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    if fs != FS:
        fr = Fraction(FS / fs).limit_denominator(1000)
        x = resample_poly(x, fr.numerator, fr.denominator, axis=-1)
    x = sosfiltfilt(butter(5, 0.67, btype="highpass", fs=FS, output="sos"), x, axis=-1)
    x = sosfiltfilt(butter(5, 40.0, btype="lowpass", fs=FS, output="sos"), x, axis=-1)
    return x.astype(np.float32)


def filter_record(x: np.ndarray, fs: float) -> np.ndarray:
    try:
        from .. import dsp

        return np.asarray(dsp.filter_record(x, fs), dtype=np.float32)
    except (ImportError, AttributeError):      # native DSP not built: same semantics in scipy
        return filter_reference(x, fs)


def read_standard_ecg(path: Path) -> tuple[np.ndarray, float]:
    """[12, T] mV in the standard lead order and the sampling rate."""
    from ..io import read_ecg

    ecg = read_ecg(path).standard(missing="nan")
    return ecg.signal, ecg.fs


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.pad(x, ((0, 0), (0, n - x.shape[-1])), mode="edge")


def _stamp(root: Path, rel: str) -> str:
    """size and mtime of a file (and its WFDB .dat sibling), so a regenerated cohort in the same
    directory never reuses an old cache."""
    if not rel:
        return ""
    p = Path(rel) if Path(rel).is_absolute() else root / rel
    out = []
    for q in (p, p.with_suffix(".dat")):
        try:
            st = q.stat()
            out.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            out.append("-")
    return ",".join(out)


def cache_key(paths: list[str]) -> str:
    return hashlib.sha1("\n".join(paths).encode()).hexdigest()[:16]


def build_ecg_cache(root: Path, paths: list[str | None], cache_dir: Path | None = None,
                    progress: bool = False) -> np.ndarray:
    """Load (or build) the cache for these ECG paths (relative to root); returns a read-only
    memory map float32 [N, 12, 2500]. Rows whose path is missing are NaN."""
    root = Path(root)
    cache_dir = Path(cache_dir) if cache_dir else root / "cache"
    keys = [str(p) if isinstance(p, (str, Path)) and str(p) else "" for p in paths]   # None / NaN: no ECG
    key = cache_key(keys + [_stamp(root, k) for k in keys])     # paths + sizes/mtimes: stale-proof
    npy = cache_dir / f"ecg250_{key}.npy"
    if npy.is_file():
        return np.load(npy, mmap_mode="r")
    cache_dir.mkdir(parents=True, exist_ok=True)
    n_out = int(FS * SECONDS)
    arr = np.lib.format.open_memmap(str(npy) + ".tmp.npy", mode="w+", dtype=np.float32, shape=(len(paths), 12, n_out))
    it = range(len(paths))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="ecg cache", unit="record")
    for i in it:
        if not keys[i]:
            arr[i] = np.nan
            continue
        p = Path(keys[i])
        p = p if p.is_absolute() else root / p
        if not p.exists():
            raise InputError(f"{p}: ECG file listed in the manifest does not exist")
        sig, fs = read_standard_ecg(p)
        arr[i] = _fit_length(filter_record(np.nan_to_num(sig), fs), n_out)
    arr.flush()
    del arr
    Path(str(npy) + ".tmp.npy").replace(npy)
    (cache_dir / f"ecg250_{key}.json").write_text(json.dumps({"n": len(paths), "paths": keys[:5]}))
    return np.load(npy, mmap_mode="r")


def crop_starts(n: int, n_crops: int, crop_len: int = CROP_LEN) -> np.ndarray:
    """Evaluation crops: round(linspace(0, n - crop_len, n_crops))."""
    return np.round(np.linspace(0, n - crop_len, n_crops)).astype(np.int64)


def standardize(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std over the last two axes (all leads of a crop together)."""
    mean = x.mean(axis=(-2, -1), keepdims=True)
    std = x.std(axis=(-2, -1), keepdims=True)
    return ((x - mean) / np.where(std > 1e-8, std, 1.0)).astype(np.float32)
