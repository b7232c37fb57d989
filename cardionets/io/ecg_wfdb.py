"""WFDB records (PhysioNet): header + signal files, and the WFDB-MAT container of the CinC challenges.

The native reader (csrc/io/wfdb_*.cpp) parses the header and decodes formats 16, 212, 24, 32, 80 and
MATLAB v4 ``val`` files. Valid records it does not decode (formats 8, 61, 160, 310, 311, FLAC,
multi-sample frames, multi-segment records) are read with the ``wfdb`` package instead, inside
:func:`read_wfdb`, so every entry point (``read_ecg``, ``predict``, ``generate``, ``screen``) reads
them.

Before either reader opens a signal file, :func:`check_record` looks at the header: every file it
names must lie inside the header's folder and be a regular file, all files of the record together
must fit ``limits.record_bytes``, and the values the record declares (or, without a sample count,
the values its files can hold) must fit ``limits.samples``.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import limits
from ..errors import (CardioNetsError, InputError, NativeError, NativeLimitExceeded, NativeUnsupported, detached,
                      naming)
from .detect import wfdb_header_path
from .ecg import ECG
from .units import keep_voltage
from .. import native

HEADER_MAX_BYTES = 16 << 20  # the native reader refuses larger headers too
# bits per stored sample of each WFDB format (FLAC formats 5xx are compressed: no bound from the size)
_BITS = {0: 0, 8: 8, 16: 16, 24: 24, 32: 32, 61: 16, 80: 8, 160: 16, 212: 12, 310: 32 / 3, 311: 32 / 3}
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


# ----------------------------------------------------------------------------------------------
# What a header pulls in (a tolerant reading of header(5): only file names, formats and counts)
# ----------------------------------------------------------------------------------------------
@dataclass
class HeaderFiles:
    n_signals: int | None = None
    n_samples: int | None = None  # frames; None when the header does not say
    signals: list[tuple[str, int | None, int]] = field(default_factory=list)  # (file name, format, samples/frame)
    segments: list[str] = field(default_factory=list)  # multi-segment records: the segment record names


_INT = re.compile(r"[+-]?\d+")
_FORMAT = re.compile(r"(\d+)(?:x(\d+))?")


def _int(tok: str) -> int | None:
    m = _INT.match(tok)
    return int(m.group(0)) if m else None


def parse_header_files(text: str, formats: bool = True) -> HeaderFiles:
    """The files and sizes a header's text declares; never raises (malformed headers are the readers'
    to report). ``formats`` False: file names only (format None, one sample per frame)."""
    info = HeaderFiles()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return info
    rec = lines[0].split()
    if len(rec) > 1:
        info.n_signals = _int(rec[1])
    if len(rec) > 3:
        info.n_samples = _int(rec[3])
    multi = "/" in rec[0]
    limit = info.n_signals if info.n_signals is not None and not multi else len(lines)
    for ln in lines[1:limit + 1]:
        tok = ln.split(None, 2)
        if multi:  # segment lines: "name n_samples"; "~" is a gap
            if tok[0] != "~":
                info.segments.append(tok[0])
        elif len(tok) < 2 or not formats:
            info.signals.append((tok[0], None, 1))
        else:
            m = _FORMAT.match(tok[1])
            info.signals.append((tok[0], int(m.group(1)) if m else None,
                                 max(int(m.group(2)), 1) if m and m.group(2) else 1))
    return info


def read_header_text(hea: Path) -> str:
    try:
        with open(hea, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            raw = fh.read(min(size, HEADER_MAX_BYTES) + 1)
    except FileNotFoundError:
        raise InputError(f"{hea}: no such file") from None
    except OSError as exc:
        raise InputError(f"{hea}: cannot read the header ({exc.strerror or exc})") from None
    if len(raw) > HEADER_MAX_BYTES:
        raise InputError(f"{hea}: header larger than {HEADER_MAX_BYTES >> 20} MiB, not a WFDB header")
    if b"\0" in raw:
        raise InputError(f"{hea}: binary data, not a WFDB header")
    return raw.decode("latin-1")


def _inside(folder: str, name: str, hea: object) -> str:
    norm = os.path.normpath(name)
    if os.path.isabs(name) or norm == ".." or norm.startswith(".." + os.sep):
        raise InputError(f"{hea}: signal file {name!r} lies outside the record's folder {folder or '.'} "
                         "(WFDB signal files are named relative to the header's folder)")
    return os.path.join(folder, norm)


def _regular_size(path: str, hea: object) -> int:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot open the signal file named by {hea} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: the signal file named by {hea} is not a regular file")
    return int(st.st_size)


def check_record(hea: Path) -> HeaderFiles:
    """Refuse a record whose files leave its folder, are not regular files, or exceed the limits;
    returns what the header declares."""
    hea_s = str(hea)
    folder = os.path.dirname(hea_s)
    info = parse_header_files(read_header_text(Path(hea_s)))
    headers = [(hea_s, info)]
    for seg in info.segments:  # one level: a segment is an ordinary single-segment record
        seg_hea = _inside(folder, seg + ".hea", hea_s)
        headers.append((seg_hea, parse_header_files(read_header_text(Path(seg_hea)))))
    sizes: dict[str, int] = {}
    values = 0.0
    for h, inf in headers:
        sizes[h] = _regular_size(h, hea_s)
        by_name: dict[str, list[tuple[int | None, int]]] = {}
        for name, fmt, spf in inf.signals:
            if name != "~":
                by_name.setdefault(name, []).append((fmt, spf))
        per_file: dict[str, list[tuple[int | None, int]]] = {}
        for name, sig in by_name.items():
            p = _inside(folder, name, h)
            if p not in sizes:
                sizes[p] = _regular_size(p, h)
            per_file.setdefault(p, []).extend(sig)
        if inf.n_samples is not None and inf.n_samples >= 0:
            values += float(inf.n_samples) * sum(spf for _, _, spf in inf.signals)
        else:  # no sample count: as many values as the files can hold
            for p, sig in per_file.items():
                if any(f is None or f >= 500 for f, _ in sig):
                    raise InputError(f"{h}: FLAC-compressed signals need a sample count in the header")
                bits = max(_BITS.get(f, 8) for f, _ in sig) or 8
                values += sizes[p] * 8.0 / bits
    lim = limits.current()
    if sum(sizes.values()) > lim.record_bytes or values > lim.samples:
        limits.check(hea_s, "bytes of the record's header and signal files", sum(sizes.values()), "record_bytes")
        limits.check(hea_s, "values the record declares (signals x samples)", values, "samples")
    return info


# ----------------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------------
def _is_unsupported(error: BaseException | str) -> bool:
    """A valid record the native reader does not decode: a NativeUnsupported error (the binding
    translates the C++ Unsupported class to it; ``wfdb_read_many`` says ``error_kind ==
    "unsupported"``), or, from a build that predates those, the message every such throw carries."""
    return isinstance(error, NativeUnsupported) or "not decoded natively" in str(error)


def read_wfdb_reference(path: Path) -> ECG:
    """Read with the ``wfdb`` package (reference in tests, fallback for what the native reader skips)."""
    hea = _header(path)
    check_record(hea)
    return _read_reference(hea)


def _read_reference(hea: Path) -> ECG:
    import wfdb

    try:
        rec = wfdb.rdrecord(str(hea.with_suffix("")), physical=True)
    except Exception as exc:  # wfdb raises a mix of ValueError / IndexError / struct errors
        raise InputError(f"{hea}: wfdb could not read the record ({type(exc).__name__}: {exc})") from exc
    if rec.p_signal is None or rec.n_sig == 0:
        raise InputError(f"{hea}: record has no signals")
    meta = parse_comments(rec.comments or [])
    meta.update(record=rec.record_name, base_date=str(rec.base_date) if rec.base_date else None,
                reader="wfdb")
    sig, names = keep_voltage(np.asarray(rec.p_signal, dtype=np.float64).T, list(rec.sig_name),
                              list(rec.units or ["mV"] * rec.n_sig), meta, hea)
    meta["units"] = "mV"
    return ECG(sig.astype(np.float32), float(rec.fs), names, meta, str(hea))


def _from_native(d: dict, hea: Path) -> ECG:
    meta = parse_comments(d["comments"])
    meta.update(record=d["record_name"], base_date=d["base_date"] or None, base_time=d["base_time"] or None,
                wfdb_formats=sorted(set(d["formats"])))
    if "date" not in meta and d["base_date"]:
        meta["date"] = d["base_date"]
    names = [n or f"signal{i}" for i, n in enumerate(d["names"])]
    sig, names = keep_voltage(d["signal"], names, list(d["units"]), meta, hea, in_mv=True)
    meta["units"] = "mV"
    return ECG(sig, float(d["fs"]), names, meta, str(hea))


def _header(path: Path) -> Path:
    p = Path(path)
    hea = p if p.suffix == ".hea" else wfdb_header_path(p)
    if hea is None:
        raise InputError(f"{path}: WFDB header not found (looked for {p.with_suffix('.hea').name})")
    return hea


def read_wfdb(path: Path) -> ECG:
    """Read a WFDB record: checks (:func:`check_record`), then the native reader, or ``wfdb`` for
    valid records the native reader does not decode."""
    hea = _header(path)
    check_record(hea)
    if not native.available():
        return _read_reference(hea)
    lim = limits.current()
    try:
        d = native.load().wfdb_read(str(hea), max_signal_bytes=lim.record_bytes, max_samples=lim.samples)
    except UnicodeDecodeError:  # a non-UTF-8 byte in the header's text: the wfdb package reads it
        return _read_reference(hea)
    except CardioNetsError as exc:
        if _is_unsupported(exc):
            return _read_reference(hea)
        raise naming(exc, hea) from exc
    return _from_native(d, hea)


def read_wfdb_many(paths: list[str | Path], threads: int | None = None) -> list[ECG | Exception]:
    """Read many WFDB records, natively in parallel (GIL released); a failed record is returned as its
    CardioNets error in place, so one bad record never affects the others."""
    out: list[Any] = [None] * len(paths)
    todo: list[tuple[int, Path]] = []
    for i, p in enumerate(paths):
        try:
            hea = _header(Path(p))
            check_record(hea)
            todo.append((i, hea))
        except Exception as exc:  # noqa: BLE001 -- this record's error
            out[i] = detached(naming(exc, p))
    lim = limits.current()
    try:
        results = native.load().wfdb_read_many([str(h) for _, h in todo], int(threads or 0),
                                               max_signal_bytes=lim.record_bytes, max_samples=lim.samples)
    except Exception:  # noqa: BLE001 -- e.g. a header the binding cannot convert: one at a time
        results = [None] * len(todo)
    for (i, hea), d in zip(todo, results):
        try:
            if d is None:
                out[i] = read_wfdb(hea)
            elif "error" in d:
                kind = d.get("error_kind")
                if kind == "unsupported" or (kind is None and _is_unsupported(d["error"])):
                    out[i] = _read_reference(hea)
                else:
                    raise (NativeLimitExceeded if kind == "limit" else NativeError)(d["error"])
            else:
                out[i] = _from_native(d, hea)
        except Exception as exc:  # noqa: BLE001
            out[i] = detached(naming(exc, hea))
    return out


__all__ = ["HeaderFiles", "check_record", "parse_comments", "parse_header_files", "read_wfdb", "read_wfdb_many",
           "read_wfdb_reference"]
