"""Physical units and sampling rates of ECG signals: what every reader accepts, converts or refuses.

Signals are returned in millivolts. A channel in a voltage unit is scaled to mV; a channel in any
other unit (``mmHg`` of a blood-pressure channel, ``%`` of SpO2, an unknown string) is not an ECG
lead: it is dropped from the record and listed in ``meta["dropped_signals"]`` as
``{"name", "unit"}``, never read as if it were mV. A file whose declared sampling rate is not a
finite number in [:data:`MIN_FS`, :data:`MAX_FS`] Hz is refused (the preprocessing then flags rates
in that range it cannot resample as ``unsupported_rate``).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import InputError

MIN_FS = 1.0  # Hz: below this no ECG waveform is representable
MAX_FS = 100_000.0  # Hz: above any ECG acquisition rate (pacemaker-spike detectors sample at <= 75 kHz)

_MV_PER_UNIT = {
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "uv": 1e-3, "\u00b5v": 1e-3, "\u03bcv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
    "v": 1e3, "nv": 1e-6,
}  # the same table as the native WFDB reader's unit_to_mv (csrc/io/wfdb_header.cpp), plus "millivolt(s)"


def mv_per_unit(unit: str | None, default: str = "mV") -> float | None:
    """Millivolts per one ``unit`` (``"uV"`` -> 1e-3), or None when ``unit`` is not a voltage.
    An empty or missing unit means ``default``."""
    u = (unit or "").strip() or default
    return _MV_PER_UNIT.get(u.lower().replace("[", "").replace("]", ""))


def check_fs(fs: Any, source: object, what: str = "sampling rate") -> float:
    """``fs`` as a float if it is a physically possible ECG sampling rate, else InputError."""
    try:
        value = float(fs)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{source}: {what} {fs!r} is not a number") from None
    if not math.isfinite(value) or not MIN_FS <= value <= MAX_FS:
        raise InputError(f"{source}: {what} {fs!r} Hz is not a valid ECG sampling rate "
                         f"(a finite number in [{MIN_FS:g}, {MAX_FS:g}] Hz)")
    return value


def check_scale(value: Any, source: object, what: str) -> float:
    """A per-sample resolution / gain / sensitivity: finite and > 0 (a negative one would invert the
    signal unnoticed, zero would erase it)."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{source}: {what} {value!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{source}: {what} {value!r} must be a finite positive number")
    return v


def keep_voltage(signal: np.ndarray, names: Sequence[str], units: Sequence[str | None], meta: dict,
                 source: object, default: str = "mV", in_mv: bool = False) -> tuple[np.ndarray, list[str]]:
    """Scale the voltage channels of ``signal`` [n, T] (values in ``units``) to mV and drop the others,
    listing them in ``meta["dropped_signals"]``; InputError when no voltage channel is left.
    ``in_mv``: the voltage channels are already in mV (the native WFDB reader converts them)."""
    scale = [mv_per_unit(u, default) for u in units]
    keep = [i for i, s in enumerate(scale) if s is not None]
    dropped = [{"name": str(names[i]), "unit": str(units[i])} for i, s in enumerate(scale) if s is None]
    if dropped:
        meta["dropped_signals"] = dropped
    if not keep:
        raise InputError(f"{source}: no signal in a voltage unit (units: "
                         f"{', '.join(sorted({str(u) for u in units}))}); an ECG needs leads in V, mV or uV")
    factors = np.asarray([scale[i] for i in keep], np.float64)[:, None]
    sig = signal if len(keep) == len(scale) else signal[keep]
    if not in_mv and not np.all(factors == 1.0):
        sig = (sig * factors).astype(np.float32)
    return sig, [str(names[i]) for i in keep]


__all__ = ["MAX_FS", "MIN_FS", "check_fs", "check_scale", "keep_voltage", "mv_per_unit"]
