"""Filtered-ECG cache: every record of a manifest resampled and band-passed once, as the
preprocessing spec (:class:`cardionets.preprocess.PreprocessSpec`) says, so training epochs only
crop and standardise.

Filtering is :func:`cardionets.dsp.filter_record` (the native pipeline screening runs) on the
whole record, read by :func:`cardionets.io.read_ecg` in the standard lead order; missing samples
(NaN) become 0 before filtering. Records keep their full length (a ragged store), so the crops a
dataset cuts from the cache are the crops screening cuts from the file. A record shorter than one
crop is edge-padded to ``crop_len`` here (screening flags it ``too_short`` instead).

On disk, in ``<cohort>/cache/``: ``ecg_<key>.f32`` (float32 rows [12, n_i] one after another),
``ecg_<key>.offsets.npy`` (int64 [N + 1], in samples per lead) and ``ecg_<key>.json`` (the spec and
the first paths). The key hashes the spec, the cache format, the paths and each file's size and
modification time: a changed filter or a regenerated cohort never reuses a stale cache.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from .. import dsp
from ..errors import InputError
from ..io import read_ecg
from ..progress import beat
from ..preprocess import DEFAULT_SPEC, N_LEADS, PreprocessSpec

CACHE_FORMAT = 2  # 1: dense [N, 12, 2500] .npy (no spec in the key); 2: ragged rows + offsets


class ECGCache:
    """Read-only filtered records: ``cache[i]`` -> float32 [12, n_i] (a memory map view; [12, 0]
    for a row without an ECG); ``lengths`` [N]; ``spec`` the preprocessing spec they were filtered with."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray, spec: PreprocessSpec):
        self._data, self.offsets, self.spec = data, offsets, spec

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> np.ndarray:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self._data[a * N_LEADS:b * N_LEADS].reshape(N_LEADS, b - a)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def dense(self, length: int | None = None) -> np.ndarray:
        """float32 [N, 12, length] (default: the longest record): each row's first ``length``
        samples, NaN past its end."""
        n = int(self.lengths.max(initial=0)) if length is None else int(length)
        out = np.full((len(self), N_LEADS, n), np.nan, np.float32)
        for i in range(len(self)):
            row = self[i][:, :n]
            out[i, :, :row.shape[1]] = row
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.dense()
        return out if dtype is None else out.astype(dtype)


def read_standard_ecg(path: Path) -> tuple[np.ndarray, float]:
    """[12, T] mV in the standard lead order and the sampling rate."""
    ecg = read_ecg(path).standard(missing="nan")
    return ecg.signal, ecg.fs


def file_stamp(root: Path, rel: str) -> str:
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


def cache_key(parts: list[str]) -> str:
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def _files(cache_dir: Path, key: str) -> tuple[Path, Path, Path]:
    stem = cache_dir / f"ecg_{key}"
    return Path(f"{stem}.f32"), Path(f"{stem}.offsets.npy"), Path(f"{stem}.json")


def _open(data: Path, offsets: Path, spec: PreprocessSpec) -> ECGCache:
    off = np.load(offsets)
    n = int(off[-1]) * N_LEADS
    arr = np.memmap(data, dtype=np.float32, mode="r", shape=(n,)) if n else np.zeros(0, np.float32)
    return ECGCache(arr, off, spec)


def build_ecg_cache(root: Path, paths: list[str | None], spec: PreprocessSpec = DEFAULT_SPEC,
                    cache_dir: Path | None = None, progress: bool = False) -> ECGCache:
    """Load (or build) the cache of these ECG paths (relative to root) filtered as ``spec`` says.
    Rows whose path is missing (None / NaN / "") hold no samples."""
    root = Path(root)
    cache_dir = Path(cache_dir) if cache_dir else root / "cache"
    keys = [str(p) if isinstance(p, (str, Path)) and str(p) else "" for p in paths]
    key = cache_key([f"format {CACHE_FORMAT}", f"spec {spec.key()}"] + keys + [file_stamp(root, k) for k in keys])
    data, offsets, index = _files(cache_dir, key)
    if data.is_file() and offsets.is_file():
        return _open(data, offsets, spec)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{data}.tmp.{os.getpid()}")
    off = np.zeros(len(keys) + 1, np.int64)
    with open(tmp, "wb") as fh:
        for i in tqdm(range(len(keys)), desc="ecg cache", unit="record", disable=not progress):
            n = 0
            if keys[i]:
                p = Path(keys[i])
                p = p if p.is_absolute() else root / p
                if not p.exists():
                    raise InputError(f"{p}: ECG file listed in the manifest does not exist")
                sig, fs = read_standard_ecg(p)
                x = dsp.filter_record(np.nan_to_num(sig), fs, spec)          # [12, ceil(T * spec.fs / fs)]
                if x.shape[1] < spec.crop_len:
                    x = np.pad(x, ((0, 0), (0, spec.crop_len - x.shape[1])), mode="edge")
                fh.write(np.ascontiguousarray(x, np.float32).tobytes())
                n = x.shape[1]
            off[i + 1] = off[i] + n
            beat("ecg cache", i + 1, len(keys))
    tmp.replace(data)
    tmp_off = Path(f"{offsets}.tmp.{os.getpid()}")
    with open(tmp_off, "wb") as fh:
        np.save(fh, off)
    tmp_off.replace(offsets)                      # last: a cache is complete once its offsets exist
    index.write_text(json.dumps({"format": CACHE_FORMAT, "n": len(keys), "spec": spec.to_dict(), "paths": keys[:5]}))
    return _open(data, offsets, spec)


__all__ = ["CACHE_FORMAT", "ECGCache", "build_ecg_cache", "cache_key", "file_stamp", "read_standard_ecg"]
