"""Arrays saved with NumPy: ``.npy`` ([leads, samples] in mV; pass ``fs``) and ``.npz`` (keys ``signal``
and ``fs``, optional ``leads``, ``age``, ``sex``, ``dx``; or ``ecg`` / ``x`` for the signal).

Nothing is allocated from what a file declares before it is checked: the zip directory's size, each
member's decompressed size (``limits.decoded_bytes``), each array's header (shape, dtype: numeric,
never pickled objects) against ``limits.samples`` for the signal and ``limits.meta_values`` for
the small entries, and the bytes the header promises against the bytes the member holds.
"""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from .. import limits
from ..errors import InputError
from .ecg import ECG
from ..preprocess import STANDARD_LEADS

_ZIP_DIRECTORY_MAX = 1 << 20  # bytes of an .npz's central directory (a few entries need ~100 bytes each)


def _leads_for(n: int, leads, path: Path) -> list[str]:
    if leads is not None:
        leads = [str(x) for x in np.asarray(leads).reshape(-1).tolist()]
        if len(leads) != n:
            raise InputError(f"{path}: {len(leads)} lead names for {n} leads")
        return leads
    if n == 12:
        return list(STANDARD_LEADS)
    raise InputError(f"{path}: {n} leads and no lead names (pass leads=[...] or store 'leads' in an .npz)")


def _array_header(fh: IO[bytes], what: str, kinds: str = "biuf") -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header bytes) of the .npy stream ``fh``, read without touching the data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise InputError(f"{what}: .npy format version {version} is not supported (1.0 and 2.0 are)")
    except InputError:
        raise
    except (ValueError, OSError, EOFError, struct.error) as exc:
        raise InputError(f"{what}: not a plain .npy array ({exc})") from None
    if dtype.hasobject or dtype.kind not in kinds:
        raise InputError(f"{what}: array dtype {dtype} is not {'a real number' if kinds == 'biuf' else 'a number or text'}"
                         " type (pickled objects are never loaded)")
    return tuple(int(s) for s in shape), dtype, fh.tell()


def _checked_values(shape: tuple[int, ...], dtype: np.dtype, stored: int, what: str, limit: str) -> int:
    count = 1
    for s in shape:
        count *= s
    limits.check(what, "values the array header declares", count, limit)
    if count * dtype.itemsize > stored:
        raise InputError(f"{what}: the header declares {count} values of {dtype} ({count * dtype.itemsize} bytes), "
                         f"the file holds {stored} bytes")
    return count


def _check(shape: tuple[int, ...], path: Path) -> None:
    if len(shape) != 2:
        raise InputError(f"{path}: expected a [leads, samples] array, got shape {shape}")
    if shape[0] > shape[1]:
        raise InputError(f"{path}: shape {shape} looks like [samples, leads]; save it as [leads, samples]")


def read_npy(path: Path, fs: float | None = None, leads=None) -> ECG:
    limits.check(path, "file bytes", path.stat().st_size, "record_bytes")
    with open(path, "rb") as fh:
        shape, dtype, header = _array_header(fh, str(path))
        _check(shape, path)
        _checked_values(shape, dtype, path.stat().st_size - header, str(path), "samples")
        fh.seek(0)
        sig = np.lib.format.read_array(fh, allow_pickle=False)
    if fs is None:
        raise InputError(f"{path}: a .npy array carries no sampling rate; call read_ecg(path, fs=...)")
    return ECG(sig.astype(np.float32), fs, _leads_for(shape[0], leads, path), {})


def _check_zip_directory(path: Path) -> None:
    """Bound the zip central directory (read from its end record) before zipfile parses it."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (1 << 16) - 22))
        tail = fh.read()
    k = tail.rfind(b"PK\x05\x06")
    if k < 0 or len(tail) < k + 22:
        raise InputError(f"{path}: not a zip archive (no end-of-directory record), so not an .npz")
    _, _, _, _, entries, directory, _, _ = struct.unpack("<4s4H2LH", tail[k:k + 22])
    if entries == 0xFFFF or directory == 0xFFFFFFFF:
        raise InputError(f"{path}: a zip64 archive; an ECG .npz never needs one")
    if directory > _ZIP_DIRECTORY_MAX:
        raise InputError(f"{path}: zip directory of {directory} bytes ({entries} entries); an ECG .npz holds a few "
                         f"arrays (at most {_ZIP_DIRECTORY_MAX} bytes of directory)")


def _member(zf: zipfile.ZipFile, name: str, path: Path, limit: str, check=None, kinds: str = "biuf") -> np.ndarray:
    info = zf.getinfo(name)
    what = f"{path}[{name}]"
    limits.check(what, "decompressed bytes", info.file_size, "decoded_bytes")
    with zf.open(info) as fh:
        shape, dtype, header = _array_header(fh, what, kinds)
    if check is not None:
        check(shape, path)
    _checked_values(shape, dtype, info.file_size - header, what, limit)
    with zf.open(info) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


def read_npz(path: Path, fs: float | None = None, leads=None) -> ECG:
    limits.check(path, "file bytes", path.stat().st_size, "record_bytes")
    _check_zip_directory(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: not a readable .npz ({exc})") from None
    with zf:
        members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
        key = next((k for k in ("signal", "ecg", "x") if k in members), None)
        if key is None:
            raise InputError(f"{path}: .npz needs a 'signal' array (has {', '.join(members) or 'nothing'})")
        sig = _member(zf, members[key], path, "samples", check=_check)

        def small(k: str) -> np.ndarray | None:
            return _member(zf, members[k], path, "meta_values", kinds="biufUS") if k in members else None

        if fs is None:
            stored = small("fs")
            if stored is None:
                raise InputError(f"{path}: .npz has no 'fs' entry; call read_ecg(path, fs=...)")
            if stored.size != 1:
                raise InputError(f"{path}: 'fs' holds {stored.size} values, expected one sampling rate")
            fs = float(stored.reshape(()))
        names = _leads_for(sig.shape[0], leads if leads is not None else small("leads"), path)
        meta = {k: v.tolist() for k in ("age", "sex", "dx") if (v := small(k)) is not None}
    return ECG(sig.astype(np.float32), fs, names, meta)
