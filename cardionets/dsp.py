"""ECG preprocessing, native C++ inside (csrc/dsp), float64 scipy reference beside it
(:mod:`cardionets.dsp_reference`).

The pipeline is the one :class:`cardionets.preprocess.PreprocessSpec` describes (every function
takes a ``spec``; the default is the ST-MEM recipe the CardioNets encoders are trained with):

1. ``resample``  to ``spec.fs`` (250 Hz), polyphase FIR with ``scipy.signal.resample_poly``
   semantics (reduced ratio fs_out/fs, Kaiser window beta 5);
2. ``bandpass``  high-pass ``spec.highpass_hz`` then low-pass ``spec.lowpass_hz``, each a Butterworth
   of ``spec.order`` run zero-phase with ``scipy.signal.sosfiltfilt`` semantics (padtype 'odd',
   default padlen);
3. ``crops``     of ``spec.crop_len`` samples: evaluation crops start at
   round(linspace(0, T - crop_len, n_crops)), training crops are random;
4. ``standardize`` each crop with one mean and std over all leads and samples (or per lead).

``preprocess`` / ``preprocess_batch`` run all four fused, parallel over records, and return the
per-record quality flags (:func:`flags_table` names them). A record with a fatal flag is never silently zeroed:
by default it raises :class:`~cardionets.errors.InputError` naming the record and the problems;
with ``on_fatal="nan"`` its output is NaN and its flags say why.

Every array has time on its last axis; outputs are float32; the arithmetic is float64.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import native
from .errors import InputError
from .preprocess import DEFAULT_SPEC, N_LEADS, PreprocessSpec

if TYPE_CHECKING:
    from .io.ecg import ECG


@dataclass(frozen=True)
class Flag:
    bit: int
    name: str
    fatal: bool
    meaning: str


def _flag_table() -> dict[str, Flag]:
    return {name: Flag(int(bit), name, bool(fatal), meaning)
            for bit, name, fatal, meaning in native.load().dsp_flag_table()}


def flags_table() -> dict[str, Flag]:
    """{name: Flag(bit, name, fatal, meaning)} of every quality flag."""
    return _flag_table()


def fatal_mask() -> int:
    return int(native.load().dsp_fatal_flags)


def describe_flags(flags: int) -> list[str]:
    """Names of the flags set in ``flags`` (empty list: clean record)."""
    return [f.name for f in _flag_table().values() if int(flags) & f.bit]


class Preprocessed(NamedTuple):
    """Output of :func:`preprocess` / :func:`preprocess_batch`.

    signal: float32 [n_crops, 12, crop_len] (or [N, n_crops, 12, crop_len]); flags: uint32 bit set per record
    (:func:`describe_flags`); NaN crops for records with a fatal flag when ``on_fatal="nan"``.
    """
    signal: np.ndarray
    flags: np.ndarray


def _f32(x: Any, name: str, min_ndim: int = 1) -> np.ndarray:
    try:
        arr = np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: cannot convert to a float32 array ({exc})") from exc
    if arr.ndim < min_ndim:
        raise InputError(f"{name}: expected at least {min_ndim} dimensions with time last, got shape {arr.shape}")
    if arr.shape[-1] == 0:
        raise InputError(f"{name}: the time axis is empty (shape {arr.shape})")
    return arr


def _threads(threads: int | None) -> int:
    return 0 if threads is None else int(threads)


# ----------------------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------------------
def resample(x: Any, fs: float, fs_out: float = DEFAULT_SPEC.fs, *, threads: int | None = None) -> np.ndarray:
    """[..., T] at ``fs`` -> [..., ceil(T * up / down)] at ``fs_out`` (resample_poly semantics)."""
    return native.load().dsp_resample(_f32(x, "resample: x"), float(fs), float(fs_out), _threads(threads))


def butter_sos(order: int, cutoff_hz: float, fs: float, highpass: bool) -> np.ndarray:
    """Butterworth second-order sections designed in C++ (``scipy.signal.butter(..., output='sos')``)."""
    return native.load().dsp_butter_sos(int(order), float(cutoff_hz), float(fs), bool(highpass))


def sosfiltfilt(sos: Any, x: Any, *, threads: int | None = None) -> np.ndarray:
    """Zero-phase SOS filtering of every row of x [..., T] (padtype 'odd', default padlen)."""
    return native.load().dsp_sosfiltfilt(np.ascontiguousarray(sos, dtype=np.float64),
                                         _f32(x, "sosfiltfilt: x"), _threads(threads))


def bandpass(x: Any, spec: PreprocessSpec = DEFAULT_SPEC, *, threads: int | None = None) -> np.ndarray:
    """The spec's high-pass then low-pass zero-phase Butterworth on x [..., T] sampled at ``spec.fs``."""
    y = sosfiltfilt(butter_sos(spec.order, spec.highpass_hz, spec.fs, True), x, threads=threads)
    return sosfiltfilt(butter_sos(spec.order, spec.lowpass_hz, spec.fs, False), y, threads=threads)


def crop_starts(n: int, n_crops: int | None = None, *, spec: PreprocessSpec = DEFAULT_SPEC, random: bool = False,
                seed: int = 0, record: int = 0) -> list[int]:
    """Start indices of the crops of an n-sample signal (see module docstring); ``n_crops``
    defaults to ``spec.n_crops``."""
    k = spec.n_crops if n_crops is None else int(n_crops)
    return list(native.load().dsp_crop_starts(int(n), spec.crop_len, k, bool(random), int(seed), int(record)))


def crops(x: Any, n_crops: int | None = None, *, spec: PreprocessSpec = DEFAULT_SPEC, random: bool = False,
          seed: int = 0, record: int = 0) -> np.ndarray:
    """[..., leads, T] -> [..., n_crops, leads, crop_len] (one crop when T == crop_len in eval mode)."""
    arr = _f32(x, "crops: x", 2)
    starts = crop_starts(arr.shape[-1], n_crops, spec=spec, random=random, seed=seed, record=record)
    L = spec.crop_len
    return np.ascontiguousarray(np.stack([arr[..., s:s + L] for s in starts], axis=-3))


def standardize(x: Any, spec: PreprocessSpec = DEFAULT_SPEC) -> np.ndarray:
    """(x - mean) / std over the last two axes [leads, samples] (per lead with ``standardize="lead"``);
    a zero std divides by 1. Double precision inside, float32 out."""
    return native.load().dsp_standardize(_f32(x, "standardize: x", 2), spec.per_lead)


# ----------------------------------------------------------------------------------------------
# Quality and the fused pipeline
# ----------------------------------------------------------------------------------------------
def quality_config(**overrides: Any) -> Any:
    """A native QualityConfig with the given thresholds overridden (flat_std_mv, max_ptp_mv,
    clip_seconds, clip_min_run, min_seconds, min_fs, max_fs, max_ratio_term)."""
    cfg = native.load().QualityConfig()
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise InputError(f"unknown quality threshold {k!r}")
        setattr(cfg, k, v)
    return cfg


def quality_flags(x: Any, fs: float, **thresholds: Any) -> np.ndarray:
    """uint32 flags of each record: x [leads, T] -> shape [], x [N, leads, T] -> [N]."""
    arr = _f32(x, "quality_flags: x", 2)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(f"quality_flags: expected [leads, T] or [N, leads, T], got shape {arr.shape}")
    flags = native.load().dsp_quality_flags(arr, float(fs), quality_config(**thresholds))
    return flags[0] if single else flags


def native_config(spec: PreprocessSpec = DEFAULT_SPEC, mode: str = "eval", seed: int = 0,
                  quality: dict | None = None) -> Any:
    """The native PreprocessConfig of ``spec`` (every field set from it)."""
    if mode not in ("eval", "train"):
        raise InputError(f"preprocess: mode must be 'eval' or 'train', got {mode!r}")
    cfg = native.load().PreprocessConfig()
    cfg.fs_out = spec.fs
    cfg.highpass_hz = spec.highpass_hz
    cfg.lowpass_hz = spec.lowpass_hz
    cfg.order = spec.order
    cfg.n_crops = spec.n_crops
    cfg.crop_len = spec.crop_len
    cfg.random_crops = mode == "train"
    cfg.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    cfg.per_lead = spec.per_lead
    cfg.quality = quality_config(**(quality or {}))
    return cfg


def _check_fatal(flags: np.ndarray, on_fatal: str, names: list[str] | None, what: str) -> None:
    if on_fatal not in ("raise", "nan"):
        raise InputError(f"{what}: on_fatal must be 'raise' or 'nan', got {on_fatal!r}")
    bad = np.flatnonzero(flags & fatal_mask())
    if len(bad) and on_fatal == "raise":
        lines = [f"{names[i] if names else f'record {i}'}: {', '.join(describe_flags(int(flags[i])))}"
                 for i in bad[:10]]
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise InputError(f"{what}: {len(bad)} record(s) unusable -- " + "; ".join(lines) + more +
                         " (pass on_fatal='nan' to get NaN crops and the flags instead)")


def preprocess_batch(x: Any, fs: float, *, spec: PreprocessSpec = DEFAULT_SPEC, n_crops: int | None = None,
                     mode: str = "eval", seed: int = 0, on_fatal: str = "raise", threads: int | None = None,
                     names: list[str] | None = None, quality: dict | None = None,
                     out: np.ndarray | None = None) -> Preprocessed:
    """x [N, 12, T] in mV at ``fs`` (standard lead order) -> Preprocessed(signal [N, n_crops, 12, crop_len],
    flags [N]) as ``spec`` says.

    mode "eval": evenly spaced crops; "train": random crops from a generator seeded by (seed, record index).
    Parallel over records with ``threads`` native threads (None: cardionets._C.num_threads()); the GIL is
    released. ``names`` label records in error messages. ``out``: an optional preallocated float32
    array [N, n_crops, 12, crop_len] to write into (reuse it across batches of a stream).
    """
    arr = _f32(x, "preprocess_batch: x", 3)
    if arr.ndim != 3 or arr.shape[1] != N_LEADS:
        raise InputError(f"preprocess_batch: expected [N, 12, T] in standard lead order, got shape {arr.shape} "
                         "(cardionets.io.to_standard_order reorders and derives leads)")
    if n_crops is not None:  # shorthand for spec.with_(n_crops=...)
        spec = spec.with_(n_crops=int(n_crops))
    cfg = native_config(spec, mode, seed, quality)
    res, flags = native.load().dsp_preprocess_batch(arr, float(fs), cfg, _threads(threads), out)
    _check_fatal(flags, on_fatal, names, "preprocess_batch")
    return Preprocessed(res, flags)


def preprocess(x: Any, fs: float, *, name: str | None = None, **kwargs: Any) -> Preprocessed:
    """One record x [12, T] -> Preprocessed(signal [n_crops, 12, crop_len], flags uint32 scalar); see preprocess_batch."""
    arr = _f32(x, f"preprocess: {name or 'x'}", 2)
    if arr.ndim != 2:
        raise InputError(f"preprocess: {name or 'x'}: expected [12, T], got shape {arr.shape}")
    if arr.shape[0] != N_LEADS:
        raise InputError(f"preprocess: {name or 'x'}: has {arr.shape[0]} lead(s), needs the 12 standard leads "
                         "(missing_leads)")
    res = preprocess_batch(arr[None], fs, names=[name] if name else None, **kwargs)
    return Preprocessed(res.signal[0], res.flags[0])


def preprocess_ecg(ecg: "ECG", **kwargs: Any) -> Preprocessed:
    """Preprocess a record read by :func:`cardionets.io.read_ecg`: standard lead order (deriving
    III, aVR, aVL, aVF when needed; absent leads become NaN and are flagged), then :func:`preprocess`.
    Errors name the file."""
    std = ecg.standard(missing="nan")
    return preprocess(std.signal, ecg.fs, name=ecg.path or "ECG", **kwargs)


def filter_record(x: Any, fs: float, spec: PreprocessSpec = DEFAULT_SPEC) -> np.ndarray:
    """Resample + band-pass of one [12, T] record in one native call (no crops, no quality gate):
    float32 [12, ceil(T * spec.fs / fs)]."""
    arr = _f32(x, "filter_record: x", 2)
    if arr.ndim != 2 or arr.shape[0] != N_LEADS:
        raise InputError(f"filter_record: expected [12, T], got shape {arr.shape}")
    return native.load().dsp_filter_record(arr, float(fs), native_config(spec))


__all__ = ["Flag", "Preprocessed", "bandpass", "butter_sos", "crop_starts", "crops",
           "describe_flags", "fatal_mask", "filter_record", "flags_table", "preprocess", "preprocess_batch",
           "native_config", "preprocess_ecg", "quality_flags", "resample", "sosfiltfilt", "standardize"]
