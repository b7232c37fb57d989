"""Arrays saved with NumPy: ``.npy`` ([leads, samples] in mV; pass ``fs``) and ``.npz`` (keys ``signal``
and ``fs``, optional ``leads``; or the same keys as :class:`~cardionets.io.ECG` fields)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .ecg import ECG
from .leads import STANDARD_LEADS


def _leads_for(n: int, leads, path: Path) -> list[str]:
    if leads is not None:
        leads = [str(x) for x in np.asarray(leads).tolist()]
        if len(leads) != n:
            raise InputError(f"{path}: {len(leads)} lead names for {n} leads")
        return leads
    if n == 12:
        return list(STANDARD_LEADS)
    raise InputError(f"{path}: {n} leads and no lead names (pass leads=[...] or store 'leads' in an .npz)")


def _check(sig: np.ndarray, path: Path) -> np.ndarray:
    if sig.ndim != 2:
        raise InputError(f"{path}: expected a [leads, samples] array, got shape {sig.shape}")
    if not np.issubdtype(sig.dtype, np.number):
        raise InputError(f"{path}: array dtype {sig.dtype} is not numeric")
    if sig.shape[0] > sig.shape[1]:
        raise InputError(f"{path}: shape {sig.shape} looks like [samples, leads]; save it as [leads, samples]")
    return sig


def read_npy(path: Path, fs: float | None = None, leads=None) -> ECG:
    try:
        sig = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"{path}: not a plain numeric .npy ({exc})") from exc
    if fs is None:
        raise InputError(f"{path}: a .npy array carries no sampling rate; call read_ecg(path, fs=...)")
    sig = _check(sig, path)
    return ECG(sig.astype(np.float32), float(fs), _leads_for(sig.shape[0], leads, path), {})


def read_npz(path: Path, fs: float | None = None, leads=None) -> ECG:
    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"{path}: not a plain numeric .npz ({exc})") from exc
    key = next((k for k in ("signal", "ecg", "x") if k in z.files), None)
    if key is None:
        raise InputError(f"{path}: .npz needs a 'signal' array (has {', '.join(z.files) or 'nothing'})")
    sig = _check(z[key], path)
    if fs is None:
        if "fs" not in z.files:
            raise InputError(f"{path}: .npz has no 'fs' entry; call read_ecg(path, fs=...)")
        fs = float(np.asarray(z["fs"]).reshape(()))
    names = _leads_for(sig.shape[0], leads if leads is not None else (z["leads"] if "leads" in z.files else None),
                       path)
    meta = {k: np.asarray(z[k]).tolist() for k in ("age", "sex", "dx") if k in z.files}
    return ECG(sig.astype(np.float32), fs, names, meta)
