"""The ECG record type and ``read_ecg``: one entry point for every supported file format.

The format is detected from the file's content (magic bytes, XML root element), the extension
only breaks ties. Every reader returns an :class:`ECG` with the signal in millivolts.

Error discipline: whatever goes wrong inside a reader -- a malformed file, a limit of
:mod:`cardionets.limits`, an invalid rate or unit (:mod:`.units`), or an exception of a third-party
parser (ValueError, UnicodeDecodeError, BadZipFile, pydicom's errors, MemoryError, ...) -- leaves
:func:`read_ecg` as a :class:`~cardionets.errors.CardioNetsError` whose message names the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CardioNetsError, InputError, names, naming
from ..preprocess import STANDARD_LEADS
from .leads import canonical_lead, to_standard_order
from .units import check_fs
from . import readers
from .detect import detect_format


@dataclass
class ECG:
    """One ECG recording.

    signal: float32 [n_leads, n_samples] in millivolts.   fs: sampling rate in Hz.
    leads:  lead names (canonical spelling, file order).  meta: age, sex, dx, date, device, ...
    """
    signal: np.ndarray
    fs: float
    leads: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def __post_init__(self) -> None:
        self.signal = np.ascontiguousarray(self.signal, dtype=np.float32)
        if self.signal.ndim != 2:
            raise InputError(f"{self.path or 'ECG'}: signal must be [leads, samples], got shape {self.signal.shape}")
        if len(self.leads) != self.signal.shape[0]:
            raise InputError(f"{self.path or 'ECG'}: {len(self.leads)} lead names for {self.signal.shape[0]} leads")
        self.leads = [canonical_lead(str(n)) for n in self.leads]
        self.fs = check_fs(self.fs, self.path or "ECG")

    @property
    def n_leads(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.n_samples / self.fs if self.fs > 0 else 0.0

    def standard(self, *, derive: bool = True, missing: str = "raise") -> "ECG":
        """This record with leads in :data:`STANDARD_LEADS` order (see :func:`to_standard_order`)."""
        sig, names = to_standard_order(self.signal, self.leads, derive=derive, missing=missing,
                                       source=self.path or "ECG")
        return ECG(sig, self.fs, names, dict(self.meta), self.path)

    def summary(self) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in self.meta.items() if k in ("age", "sex", "dx", "date", "device", "format"))
        return (f"{self.path or 'ECG'}: {self.n_leads} leads ({' '.join(self.leads)}), {self.fs:g} Hz, "
                f"{self.n_samples} samples ({self.duration:.2f} s){'; ' + keys if keys else ''}")


def read_ecg(path: str | Path, *, format: str | None = None, fs: float | None = None,
             leads: list[str] | None = None) -> ECG:
    """Read an ECG file; the format is detected from its content (``format`` forces one of
    "wfdb", "cardiosoft", "hl7", "sierra", "dicom", "numpy", "npz").

    WFDB records may be named by header (``rec.hea``), signal file (``rec.dat`` / CinC ``rec.mat``)
    or record name. ``fs`` and ``leads`` only apply to ``.npy`` / ``.npz`` arrays, which may not
    carry them. Every failure is a :class:`~cardionets.errors.CardioNetsError` naming the file
    (:class:`~cardionets.errors.LimitExceeded` for the limits of :mod:`cardionets.limits`).
    """
    p = Path(path)
    try:
        return _read(p, format, fs, leads)
    except CardioNetsError as exc:
        if names(exc, p):
            raise
        raise naming(exc, p) from exc  # (no local holds the new error: that would be a frame cycle)
    except Exception as exc:  # noqa: BLE001 -- the one place third-party parser errors become ours
        raise naming(exc, p) from exc


def _read(p: Path, format: str | None, fs: float | None, leads: list[str] | None) -> ECG:
    fmt = format or detect_format(p)
    reader = readers.READERS.get(fmt)
    if reader is None:
        raise InputError(f"{p}: unknown ECG format {fmt!r}; known: {', '.join(sorted(readers.READERS))}")
    options = {k: v for k, v in (("fs", fs), ("leads", leads)) if v is not None}
    if options and fmt not in ("numpy", "npz"):
        raise InputError(f"{p}: fs/leads overrides apply to .npy/.npz arrays only, not {fmt}")
    ecg = reader(p, **options)
    ecg.meta.setdefault("format", fmt)
    ecg.path = str(p)
    return ecg


__all__ = ["ECG", "read_ecg", "STANDARD_LEADS"]
