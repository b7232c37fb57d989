"""Resource limits on everything CardioNets decodes from files it is given.

Every reader checks these *before* it allocates: a 300-byte header that declares a 2 GiB record, a
2 MB ``.npz`` that inflates to 10 GB or a ``config.json`` that describes a 5 GB model are refused
with :class:`~cardionets.errors.LimitExceeded` (an ``InputError``) naming the file, the quantity and
the limit. The defaults leave a wide margin above any resting ECG (a 10 s 12-lead record at 500 Hz
is 60,000 values, a few hundred kB in any format) and keep one record well under 1 GiB of memory.

================== ============ =====================================================================
limit              default      what it bounds
================== ============ =====================================================================
record_bytes       512 MiB      all files one record reads, together (a WFDB header + every signal
                                file it names, or the one file of other formats)
xml_bytes          64 MiB       an XML ECG file (ElementTree holds several times its size)
xml_elements       1,000,000    elements of an XML ECG file (each costs a few hundred bytes parsed)
decoded_bytes      256 MiB      bytes produced by decompression or decoding before they are checked:
                                an ``.npz`` member, a Base64 payload, XLI's worst-case LZW output,
                                a deflated DICOM data set
samples            33,554,432   values of one record, leads x samples (2**25: 12 leads x 46 min at
                                1 kHz), checked against what the file *declares*
meta_values        4,096        values of one metadata entry (an ``.npz`` ``dx`` / ``leads`` / ``fs``)
config_bytes       16 MiB       a run's ``config.json``
model_params       1e9          parameters implied by a run's config (4 GB in fp32), checked before
                                any module is built
================== ============ =====================================================================

Override one with an environment variable ``CARDIONETS_LIMIT_<NAME>`` (``K``/``M``/``G`` suffixes
are powers of 1024), e.g. ``CARDIONETS_LIMIT_SAMPLES=200M`` for long Holter-like records, which
also reaches worker processes; or in Python with ``with cardionets.limits.override(samples=...)``.
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, fields, replace
from typing import Iterator

from .errors import InputError, LimitExceeded

ENV_PREFIX = "CARDIONETS_LIMIT_"


@dataclass(frozen=True)
class Limits:
    record_bytes: int = 512 << 20
    xml_bytes: int = 64 << 20
    xml_elements: int = 1_000_000
    decoded_bytes: int = 256 << 20
    samples: int = 1 << 25
    meta_values: int = 4096
    config_bytes: int = 16 << 20
    model_params: int = 1_000_000_000


_override = threading.local()
_env_cache: dict[tuple, Limits] = {}


def _parse(name: str, text: str) -> int:
    t = text.strip().upper().replace("_", "")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise InputError(f"{ENV_PREFIX}{name.upper()}={text!r} is not a number (e.g. 1000000, 512M, 2G)") from None
    if not value > 0 or value != value or value == float("inf"):
        raise InputError(f"{ENV_PREFIX}{name.upper()}={text!r} must be a positive number")
    return int(value)


def current() -> Limits:
    """The limits in force: defaults, then ``CARDIONETS_LIMIT_*`` variables, then :func:`override`."""
    over = getattr(_override, "value", None)
    if over is not None:
        return over
    key = tuple(os.environ.get(ENV_PREFIX + f.name.upper()) for f in fields(Limits))
    got = _env_cache.get(key)
    if got is None:
        got = Limits(**{f.name: _parse(f.name, v) for f, v in zip(fields(Limits), key) if v is not None})
        _env_cache[key] = got
    return got


@contextlib.contextmanager
def override(**changes: int) -> Iterator[Limits]:
    """Temporarily change limits in this thread: ``with override(samples=10**8): ...``."""
    unknown = set(changes) - {f.name for f in fields(Limits)}
    if unknown:
        raise InputError(f"unknown limit(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(f.name for f in fields(Limits))}")
    before = getattr(_override, "value", None)
    _override.value = replace(current(), **changes)
    try:
        yield _override.value
    finally:
        _override.value = before


def check(source: object, what: str, value: float, name: str) -> None:
    """Raise LimitExceeded (naming ``source``, ``what`` and the limit) if ``value`` exceeds limit ``name``."""
    limit = getattr(current(), name)
    if value > limit:
        raise LimitExceeded(f"{source}: {what} ({_fmt(value)}) exceeds the limit {name} = {_fmt(limit)} "
                            f"(raise it with {ENV_PREFIX}{name.upper()}, see cardionets/limits.py)")


def _fmt(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.0f}"


__all__ = ["ENV_PREFIX", "Limits", "check", "current", "override"]
