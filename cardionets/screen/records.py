"""Read + preprocess a chunk of screening items; every failure becomes an error reason, never an exception.

The stage the local pipeline's reader threads and the Ray engine's read task both run. WFDB
records of a chunk are read together by the native parallel reader (GIL released); other formats go
through :func:`cardionets.io.read_ecg` (content detection). Preprocessing is the native fused pipeline
(:func:`cardionets.dsp.preprocess`, eval crops) with its quality flags: a fatal flag is an error row
(``quality: <flags>``), non-fatal flags are reported beside the prediction.

Error reasons start with a stable code: ``empty_file``, ``too_large``, ``unsupported_format``,
``unreadable``, ``leads``, ``quality``, ``model``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .inputs import Item

MAX_BYTES = 512 * 1024 * 1024  # refuse larger files outright (no ECG is this large)


@dataclass
class Loaded:
    item: Item
    crops: np.ndarray | None  # float32 [n_crops, 12, 2250], None on error
    flags: int
    error: str | None
    fs: float = float("nan")
    n_leads: int = 0
    duration_s: float = float("nan")


def _reason(exc: BaseException) -> str:
    msg = str(exc).strip().replace("\n", " ")
    if len(msg) > 400:
        msg = msg[:400] + "..."
    low = msg.lower()
    if "unrecognised ecg file format" in low or "is not a known ecg format" in low or "not an ecg" in low:
        return f"unsupported_format: {msg}"
    from ..errors import CardioNetsError

    if isinstance(exc, CardioNetsError):
        return f"unreadable: {msg}"
    return f"unreadable: {type(exc).__name__}: {msg}"


def _precheck(item: Item) -> str | None:
    try:
        size = os.path.getsize(item.path)
    except OSError as exc:
        return f"unreadable: {item.path}: {exc.strerror or exc}"
    if size == 0:
        return f"empty_file: {item.path}: 0 bytes"
    if size > MAX_BYTES:
        return f"too_large: {item.path}: {size} bytes (limit {MAX_BYTES})"
    return None


def _preprocess(item: Item, ecg: Any, n_crops: int) -> Loaded:
    from .. import dsp

    base = dict(fs=float(ecg.fs), n_leads=int(ecg.n_leads), duration_s=float(ecg.duration))
    try:
        std = ecg.standard(missing="nan")
    except Exception as exc:  # noqa: BLE001 -- any lead problem is this record's error
        return Loaded(item, None, 0, f"leads: {str(exc)[:400]}", **base)
    try:
        res = dsp.preprocess(std.signal, ecg.fs, name=item.path, n_crops=n_crops, on_fatal="nan", threads=1)
    except Exception as exc:  # noqa: BLE001
        return Loaded(item, None, 0, _reason(exc), **base)
    flags = int(res.flags)
    if flags & dsp.fatal_mask():
        return Loaded(item, None, flags, "quality: " + ",".join(dsp.describe_flags(flags)), **base)
    sig = np.asarray(res.signal, np.float32)
    if not np.isfinite(sig).all():
        return Loaded(item, None, flags, "quality: non-finite samples after preprocessing", **base)
    return Loaded(item, sig, flags, None, **base)


def load_chunk(items: Sequence[Item], n_crops: int = 3, threads: int = 1) -> list[Loaded]:
    """Read and preprocess ``items``; one Loaded per item, in order."""
    from ..io import read_ecg
    from ..io.ecg_wfdb import read_wfdb_many

    out: list[Loaded | None] = [None] * len(items)
    wfdb_idx: list[int] = []
    for i, it in enumerate(items):
        err = _precheck(it)
        if err is not None:
            out[i] = Loaded(it, None, 0, err)
        elif it.path.lower().endswith(".hea"):
            wfdb_idx.append(i)
    if wfdb_idx:
        try:
            ecgs: list[Any] = read_wfdb_many([items[i].path for i in wfdb_idx], threads=threads)
        except Exception as exc:  # noqa: BLE001 -- fall back to one at a time
            ecgs = []
            for i in wfdb_idx:
                try:
                    ecgs.append(read_ecg(items[i].path))
                except Exception as e:  # noqa: BLE001
                    ecgs.append(e)
        for i, e in zip(wfdb_idx, ecgs):
            out[i] = Loaded(items[i], None, 0, _reason(e)) if isinstance(e, BaseException) else \
                _preprocess(items[i], e, n_crops)
    for i, it in enumerate(items):
        if out[i] is not None:
            continue
        try:
            ecg = read_ecg(it.path)
        except RecursionError as exc:
            out[i] = Loaded(it, None, 0, f"unreadable: {it.path}: nesting too deep ({type(exc).__name__})")
            continue
        except Exception as exc:  # noqa: BLE001 -- a bad file is an error row, never a crash
            out[i] = Loaded(it, None, 0, _reason(exc))
            continue
        out[i] = _preprocess(it, ecg, n_crops)
    return out  # type: ignore[return-value]


__all__ = ["Loaded", "MAX_BYTES", "load_chunk"]
