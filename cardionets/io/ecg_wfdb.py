"""WFDB records (PhysioNet): header + signal files, and the WFDB-MAT container of the CinC challenges.

The native reader (csrc/io/wfdb.cpp) parses the header and decodes formats 16, 212, 24, 32, 80 and
MATLAB v4 ``val`` files; the ``wfdb`` package is the reference in tests and the fallback for
formats the native reader does not handle.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from .detect import wfdb_header_path
from .ecg import ECG


_COMMENT = re.compile(r"\s*#?\s*([^:]+):\s*(.*)$")


def parse_comments(comments: list[str]) -> dict:
    """Age, sex and Dx codes from WFDB header comments (CinC ``# Age: 59``, PTB ``# age: 81``)."""
    meta: dict = {}
    for line in comments:
        m = _COMMENT.match(line)
        if not m:
            continue
        key, val = m.group(1).strip().lower(), m.group(2).strip()
        if key == "age":
            try:
                meta["age"] = float(val)
            except ValueError:
                meta["age"] = None
        elif key == "sex":
            meta["sex"] = {"m": "M", "male": "M", "f": "F", "female": "F"}.get(val.lower(), val or None)
        elif key == "dx":
            meta["dx"] = [c.strip() for c in val.split(",") if c.strip()]
        elif key in ("ecg date", "date"):
            meta["date"] = val
        elif val:
            meta.setdefault("comments", {})[m.group(1).strip()] = val
    return meta


def read_wfdb_reference(path: Path) -> ECG:
    """Read with the ``wfdb`` package (reference / fallback)."""
    import wfdb

    hea = wfdb_header_path(Path(path))
    if hea is None:
        raise InputError(f"{path}: WFDB header not found")
    record_name = str(hea.with_suffix(""))
    try:
        rec = wfdb.rdrecord(record_name, physical=True)
    except Exception as exc:  # wfdb raises a mix of ValueError / IndexError / struct errors
        raise InputError(f"{hea}: wfdb could not read the record ({type(exc).__name__}: {exc})") from exc
    if rec.p_signal is None or rec.n_sig == 0:
        raise InputError(f"{hea}: record has no signals")
    sig = np.asarray(rec.p_signal, dtype=np.float64).T
    scale = np.array([_to_mv(u) for u in (rec.units or ["mV"] * rec.n_sig)], dtype=np.float64)[:, None]
    meta = parse_comments(rec.comments or [])
    meta.update(units="mV", record=rec.record_name, base_date=str(rec.base_date) if rec.base_date else None)
    return ECG((sig * scale).astype(np.float32), float(rec.fs), list(rec.sig_name), meta, str(hea))


def _to_mv(unit: str | None) -> float:
    u = (unit or "mV").strip().lower()
    return {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nv": 1e-6}.get(u, 1.0)


def read_wfdb(path: Path) -> ECG:
    """Read a WFDB record natively (header parse + decode in C++); valid records in formats the
    native reader does not decode (8, 61, 160, 310, 311, FLAC, multi-segment) go to ``wfdb``."""
    from .. import native
    from ..errors import NativeError

    p = Path(path)
    hea = p if p.suffix == ".hea" else wfdb_header_path(p)  # a missing .hea is reported by the reader
    if hea is None:
        raise InputError(f"{path}: WFDB header not found (looked for {p.with_suffix('.hea').name})")
    if not native.available():
        return read_wfdb_reference(hea)
    C = native.load()
    try:
        d = C.wfdb_read(str(hea))
    except C.UnsupportedWfdb:
        return read_wfdb_reference(hea)
    except NativeError as exc:
        raise InputError(str(exc)) from exc
    meta = parse_comments(d["comments"])
    meta.update(units="mV", record=d["record_name"], base_date=d["base_date"] or None,
                base_time=d["base_time"] or None, wfdb_formats=sorted(set(d["formats"])))
    if "date" not in meta and d["base_date"]:
        meta["date"] = d["base_date"]
    names = [n or f"signal{i}" for i, n in enumerate(d["names"])]
    return ECG(d["signal"], float(d["fs"]), names, meta, str(hea))


def read_wfdb_many(paths: list[str | Path], threads: int | None = None) -> list[ECG | Exception]:
    """Read many WFDB records in parallel natively (GIL released); a failed record is returned as its
    InputError in place (screening keeps going)."""
    from .. import native

    heas = [wfdb_header_path(Path(p)) or Path(p) for p in paths]
    out: list[ECG | Exception] = []
    for hea, d in zip(heas, native.load().wfdb_read_many([str(h) for h in heas], int(threads or 0))):
        if "error" in d:
            if "not decoded natively" in d["error"]:
                try:
                    out.append(read_wfdb_reference(hea))
                except InputError as exc:
                    out.append(exc)
            else:
                out.append(InputError(d["error"]))
            continue
        meta = parse_comments(d["comments"])
        meta.update(units="mV", record=d["record_name"], base_date=d["base_date"] or None)
        out.append(ECG(d["signal"], float(d["fs"]), [n or f"signal{i}" for i, n in enumerate(d["names"])], meta,
                       str(hea)))
    return out
