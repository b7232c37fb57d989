"""Lead names and the standard 12-lead order.

``STANDARD_LEADS`` (defined in :mod:`cardionets.preprocess`, the model-input spec) is the order
every model in CardioNets expects: I, II, III, aVR, aVL, aVF, V1-V6. Files name leads in many ways ("i", "MDC_ECG_LEAD_II", "AVR", "V1 "); ``canonical_lead``
maps them to these names. ``to_standard_order`` reorders a signal to the standard order and,
when a file stores only the 8 independent leads (I, II, V1-V6, as GE MUSE and Philips do), derives
the four limb leads from Einthoven's and Goldberger's relations:

    III = II - I        aVR = -(I + II) / 2      aVL = I - II / 2      aVF = II - I / 2
"""
from __future__ import annotations

import functools
import re
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..preprocess import STANDARD_LEADS

LIMB_DERIVED: tuple[str, ...] = ("III", "aVR", "aVL", "aVF")

_ALIASES = {
    "I": "I", "II": "II", "III": "III", "AVR": "aVR", "AVL": "aVL", "AVF": "aVF",
    "-AVR": "-aVR", "V1": "V1", "V2": "V2", "V3": "V3", "V4": "V4", "V5": "V5", "V6": "V6",
    "LEADI": "I", "LEADII": "II", "LEADIII": "III", "DI": "I", "DII": "II", "DIII": "III",
    "VX": "X", "VY": "Y", "VZ": "Z", "X": "X", "Y": "Y", "Z": "Z",
}


@functools.lru_cache(maxsize=4096)
def canonical_lead(name: str) -> str:
    """The standard spelling of a lead name ("i" -> "I", "MDC_ECG_LEAD_AVR" -> "aVR", "v1" -> "V1");
    names that are not ECG leads come back stripped but otherwise unchanged."""
    key = re.sub(r"\(.*?\)", "", str(name))  # "Lead I (Einthoven)" -> "Lead I"
    key = re.sub(r"[\s_]+", "", key).upper()
    for prefix in ("MDCECGLEAD", "LEAD"):
        if key.startswith(prefix) and key[len(prefix):] in _ALIASES:
            key = key[len(prefix):]
    return _ALIASES.get(key, str(name).strip())


def to_standard_order(signal: np.ndarray, leads: Sequence[str], *, derive: bool = True,
                      missing: str = "raise", source: str = "signal") -> tuple[np.ndarray, list[str]]:
    """Reorder ``signal`` [n_leads, T] (names ``leads``) to :data:`STANDARD_LEADS`.

    ``derive``: compute III, aVR, aVL, aVF from I and II when the file lacks them.
    ``missing``: what to do with a standard lead that is neither stored nor derivable:
    ``"raise"`` (InputError naming ``source`` and the leads), or ``"nan"`` (a row of NaN, which the
    quality check in :mod:`cardionets.dsp` reports as a missing lead -- never silently zero).
    Extra leads (Frank X, Y, Z, ...) are dropped. Returns (float32 [12, T], STANDARD_LEADS list).
    """
    signal = np.asarray(signal)
    if signal.ndim != 2 or signal.shape[0] != len(leads):
        raise InputError(f"{source}: signal shape {signal.shape} does not match {len(leads)} lead names")
    names = [canonical_lead(n) for n in leads]
    index = {}
    for i, n in enumerate(names):
        index.setdefault(n, i)
    rows: dict[str, np.ndarray] = {n: signal[index[n]].astype(np.float64) for n in STANDARD_LEADS if n in index}
    if "aVR" not in rows and "-aVR" in index:
        rows["aVR"] = -signal[index["-aVR"]].astype(np.float64)
    if derive and "I" in rows and "II" in rows:
        i, ii = rows["I"], rows["II"]
        rows.setdefault("III", ii - i)
        rows.setdefault("aVR", -(i + ii) / 2.0)
        rows.setdefault("aVL", i - ii / 2.0)
        rows.setdefault("aVF", ii - i / 2.0)
    absent = [n for n in STANDARD_LEADS if n not in rows]
    if absent and missing == "raise":
        raise InputError(f"{source}: missing lead(s) {', '.join(absent)} (has {', '.join(names)})")
    if missing not in ("raise", "nan"):
        raise InputError(f"missing={missing!r}: expected 'raise' or 'nan'")
    out = np.full((len(STANDARD_LEADS), signal.shape[1]), np.nan, dtype=np.float32)
    for k, n in enumerate(STANDARD_LEADS):
        if n in rows:
            out[k] = rows[n]
    return out, list(STANDARD_LEADS)
