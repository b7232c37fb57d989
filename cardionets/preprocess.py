"""The preprocessing spec: what a model input is, defined once.

Every path that turns a recording into model input reads :class:`PreprocessSpec`: the training
cache and datasets (:mod:`cardionets.data.ecg_cache`, :mod:`cardionets.data.datasets`), the fused
native pipeline behind screening, the API and evaluation (:mod:`cardionets.dsp`), the float64 scipy
reference (:mod:`cardionets.dsp_reference`), the exporters (input shape and the sidecar the C++
example reads) and the caches (their key includes :meth:`PreprocessSpec.key`, so a changed filter
never reuses a stale cache). Each run directory's ``config.json`` and each screening run's
``run.json`` records the spec it used.

The defaults are the ST-MEM recipe the CardioNets encoders are trained with (Ding et al.,
arXiv 2411.13602, after Na et al. 2024): the 12 standard leads in :data:`STANDARD_LEADS` order,
resampled to 250 Hz (polyphase, ``scipy.signal.resample_poly`` semantics), high-pass 0.67 Hz then
low-pass 40 Hz (each an order-5 Butterworth run zero-phase, ``sosfiltfilt`` semantics), crops of
2250 samples (9 s; training: one random crop, evaluation: ``n_crops`` evenly spaced crops whose
outputs are averaged), each crop standardised with one mean and standard deviation over all its
leads.

This module imports nothing but the standard library, so any layer may use it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from .errors import InputError

# The lead order of every model input (ST-MEM). The native library has the same table
# (csrc/include/cardionets/dsp.h kStandardLeads; tests/native/test_cmake_package.py keeps them equal).
STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
N_LEADS = len(STANDARD_LEADS)
STANDARDIZE_MODES = ("crop", "lead")


@dataclass(frozen=True)
class PreprocessSpec:
    """How a 12-lead recording becomes model input ``[n_crops, 12, crop_len]`` float32.

    ``fs``: the model's sampling rate (Hz); ``highpass_hz`` / ``lowpass_hz`` / ``order``: the two
    zero-phase Butterworth filters; ``crop_len``: samples per crop at ``fs``; ``n_crops``: evaluation
    crops per record (evenly spaced, outputs averaged); ``standardize``: ``crop`` (one mean / std
    over all leads of a crop) or ``lead`` (per lead); ``leads``: the lead order.
    """

    fs: float = 250.0
    highpass_hz: float = 0.67
    lowpass_hz: float = 40.0
    order: int = 5
    crop_len: int = 2250
    n_crops: int = 3
    standardize: str = "crop"
    leads: tuple[str, ...] = STANDARD_LEADS

    def __post_init__(self) -> None:
        problems = []
        if not (self.fs > 0):
            problems.append(f"fs must be positive, got {self.fs}")
        if not (0 < self.highpass_hz < self.lowpass_hz < self.fs / 2):
            problems.append(f"need 0 < highpass_hz ({self.highpass_hz}) < lowpass_hz ({self.lowpass_hz}) "
                            f"< fs / 2 ({self.fs / 2})")
        if not (1 <= int(self.order) <= 12) or int(self.order) != self.order:
            problems.append(f"order must be a whole number in [1, 12], got {self.order}")
        if int(self.crop_len) != self.crop_len or self.crop_len < 1:
            problems.append(f"crop_len must be a positive whole number, got {self.crop_len}")
        if int(self.n_crops) != self.n_crops or not (1 <= self.n_crops <= 64):
            problems.append(f"n_crops must be a whole number in [1, 64], got {self.n_crops}")
        if self.standardize not in STANDARDIZE_MODES:
            problems.append(f"standardize must be one of {', '.join(STANDARDIZE_MODES)}, got {self.standardize!r}")
        if tuple(self.leads) != STANDARD_LEADS:
            problems.append(f"leads must be the standard order {', '.join(STANDARD_LEADS)} (the native pipeline "
                            f"and every encoder use it), got {', '.join(map(str, self.leads))}")
        if problems:
            raise InputError("preprocessing spec: " + "; ".join(problems))
        object.__setattr__(self, "fs", float(self.fs))
        object.__setattr__(self, "highpass_hz", float(self.highpass_hz))
        object.__setattr__(self, "lowpass_hz", float(self.lowpass_hz))
        object.__setattr__(self, "order", int(self.order))
        object.__setattr__(self, "crop_len", int(self.crop_len))
        object.__setattr__(self, "n_crops", int(self.n_crops))
        object.__setattr__(self, "leads", tuple(self.leads))

    @property
    def per_lead(self) -> bool:
        return self.standardize == "lead"

    @property
    def crop_seconds(self) -> float:
        return self.crop_len / self.fs

    def with_(self, **changes: Any) -> "PreprocessSpec":
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["leads"] = list(self.leads)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "preprocessing spec") -> "PreprocessSpec":
        """The spec of a mapping (a run's ``config.json`` section, a sidecar, YAML); missing keys
        take the defaults, unknown keys are an error naming ``where``."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InputError(f"{where}: expected a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        kw = dict(data)
        if "leads" in kw:
            kw["leads"] = tuple(kw["leads"])
        for f in fields(cls):  # strings from YAML / --set overrides
            v = kw.get(f.name)
            if isinstance(v, str) and f.name not in ("standardize", "leads"):
                try:
                    kw[f.name] = float(v) if f.type == "float" else int(v)
                except ValueError:
                    raise InputError(f"{where}: {f.name} must be a number, got {v!r}") from None
        try:
            return cls(**kw)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}: {exc}") from None

    def key(self) -> str:
        """A short content hash of every field that changes the filtered signal or the crops:
        part of every cache key."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_text(self) -> str:
        """The spec as ``key value`` lines (leads space-separated), for readers without a JSON
        parser: the C++ example (examples/cpp) reads the ``<package>.preprocess.txt`` an export writes."""
        lines = [f"{f.name} {getattr(self, f.name)!r}" if f.name != "leads" else f"leads {' '.join(self.leads)}"
                 for f in fields(self)]
        return "\n".join(line.replace("'", "") for line in lines) + "\n"

    def describe(self) -> str:
        return (f"{self.fs:g} Hz, {self.highpass_hz:g}-{self.lowpass_hz:g} Hz order-{self.order} zero-phase "
                f"Butterworth, {self.n_crops} crop(s) of {self.crop_len} samples ({self.crop_seconds:g} s), "
                f"standardised per {self.standardize}")


DEFAULT_SPEC = PreprocessSpec()

__all__ = ["DEFAULT_SPEC", "N_LEADS", "PreprocessSpec", "STANDARD_LEADS", "STANDARDIZE_MODES"]
