"""Read + preprocess a chunk of screening items; every failure becomes an error reason, never an exception.

The stage the local pipeline's reader threads and the Ray engine's read task both run. WFDB
records of a chunk are read together by the native parallel reader (GIL released; each record is
checked and read on its own, so one bad header never touches the others); other formats go
through :func:`cardionets.io.read_ecg` (content detection). Preprocessing is the native fused
pipeline (:func:`cardionets.dsp.preprocess`, eval crops) with its quality flags: a fatal flag is an
error row (``quality: <flags>``), non-fatal flags are reported beside the prediction.

Every scoreable record leaves here with exactly ``spec.n_crops`` crops of [12, spec.crop_len] (the
preprocessing spec, :class:`cardionets.preprocess.PreprocessSpec`): a record exactly one crop long
has one crop, which is repeated (the model averages over crops, so the scores are the single
crop's); any other count is an error row. The model stage can therefore batch any records together.

Error reasons start with a stable code: ``empty_file``, ``too_large``, ``unsupported_format``,
``unreadable``, ``leads``, ``quality``, ``manifest``, ``model``, ``internal``.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import dsp, limits
from ..errors import CardioNetsError, LimitExceeded
from ..io import read_ecg
from ..io.ecg_wfdb import read_wfdb_many
from ..preprocess import DEFAULT_SPEC, N_LEADS, PreprocessSpec
from .inputs import Item


@dataclass(slots=True)
class Loaded:
    item: Item
    crops: np.ndarray | None  # float32 [n_crops, 12, crop_len], None on error
    flags: int
    error: str | None
    fs: float = float("nan")
    n_leads: int = 0
    duration_s: float = float("nan")


def _reason(exc: BaseException) -> str:
    msg = str(exc).strip().replace("\n", " ")
    if len(msg) > 400:
        msg = msg[:400] + "..."
    if isinstance(exc, LimitExceeded):
        return f"too_large: {msg}"
    low = msg.lower()
    if "unrecognised ecg file format" in low or "is not a known ecg format" in low or "not an ecg" in low:
        return f"unsupported_format: {msg}"
    if isinstance(exc, CardioNetsError):
        return f"unreadable: {msg}"
    return f"unreadable: {type(exc).__name__}: {msg}"


def _precheck(item: Item) -> str | None:
    if item.error is not None:
        return item.error
    try:
        st = os.stat(item.path)
    except OSError as exc:
        return f"unreadable: {item.path}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"unreadable: {item.path}: not a regular file"
    size = st.st_size
    if size == 0:
        return f"empty_file: {item.path}: 0 bytes"
    limit = limits.current().record_bytes
    if size > limit:
        return f"too_large: {item.path}: {size:,} bytes exceed the limit record_bytes = {limit:,}"
    return None


def _preprocess(item: Item, ecg: Any, spec: PreprocessSpec) -> Loaded:
    n_crops = spec.n_crops
    base = dict(fs=float(ecg.fs), n_leads=int(ecg.n_leads), duration_s=float(ecg.duration))
    try:
        std = ecg.standard(missing="nan")
    except Exception as exc:  # noqa: BLE001 -- any lead problem is this record's error
        return Loaded(item, None, 0, f"leads: {str(exc)[:400]}", **base)
    try:
        res = dsp.preprocess(std.signal, ecg.fs, name=item.path, spec=spec, on_fatal="nan", threads=1)
    except Exception as exc:  # noqa: BLE001
        return Loaded(item, None, 0, _reason(exc), **base)
    flags = int(res.flags)
    if flags & dsp.fatal_mask():
        return Loaded(item, None, flags, "quality: " + ",".join(dsp.describe_flags(flags)), **base)
    sig = np.asarray(res.signal, np.float32)
    if sig.ndim != 3 or sig.shape[1:] != (N_LEADS, spec.crop_len) or sig.shape[0] not in (1, n_crops):
        return Loaded(item, None, flags, f"quality: preprocessing gave crops of shape {sig.shape}, expected "
                                         f"({n_crops}, {N_LEADS}, {spec.crop_len})", **base)
    if not np.isfinite(sig).all():
        return Loaded(item, None, flags, "quality: non-finite samples after preprocessing", **base)
    if sig.shape[0] != n_crops:  # a record of exactly one crop: repeat it (same mean over crops)
        sig = np.repeat(sig, n_crops, axis=0)
    return Loaded(item, sig, flags, None, **base)


def load_chunk(items: Sequence[Item], spec: PreprocessSpec = DEFAULT_SPEC, threads: int = 1) -> list[Loaded]:
    """Read and preprocess ``items`` as ``spec`` says; one Loaded per item, in order."""
    out: list[Loaded | None] = [None] * len(items)
    wfdb_idx: list[int] = []
    for i, it in enumerate(items):
        err = _precheck(it)
        if err is not None:
            out[i] = Loaded(it, None, 0, err)
        elif it.path.lower().endswith(".hea"):
            wfdb_idx.append(i)
    if wfdb_idx:
        ecgs = read_wfdb_many([items[i].path for i in wfdb_idx], threads=threads)  # never raises per record
        for i, e in zip(wfdb_idx, ecgs):
            out[i] = Loaded(items[i], None, 0, _reason(e)) if isinstance(e, BaseException) else \
                _preprocess(items[i], e, spec)
    for i, it in enumerate(items):
        if out[i] is not None:
            continue
        try:
            ecg = read_ecg(it.path)
        except Exception as exc:  # noqa: BLE001 -- a bad file is an error row, never a crash
            out[i] = Loaded(it, None, 0, _reason(exc))
            continue
        out[i] = _preprocess(it, ecg, spec)
    return out  # type: ignore[return-value]


__all__ = ["Loaded", "load_chunk"]
