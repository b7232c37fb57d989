"""CMR cines to the model input: float32 [50, 96, 96] in [-1, 1], 1.8 mm pixels, heart in the middle.

``read_cmr(path)`` returns the input; ``inspect_cmr(path)`` returns it with a report (what was read,
what was done, warnings) -- what ``cardionets read-cmr`` prints. Formats (:mod:`.cmr_formats`):
NIfTI ``(x, y, [z,] t)``, a DICOM series (directory, or one file of it: its siblings of the same
series are read), multi-frame DICOM, and zip archives of DICOM (UK Biobank field 20208: the
4-chamber series is chosen by its description, :mod:`.cmr_zip`).

Steps of :func:`preprocess_cine`:

1. **checks**: at least 2 frames; pixel spacing within :data:`SPACING_RANGE_MM`; the readers
   already refused declared sizes over :data:`~.cmr_formats.MAX_SOURCE_VOXELS` before allocating;
2. **non-finite pixels** (NaN / inf, e.g. from float NIfTI): up to :data:`MAX_NONFINITE_FRACTION` of
   the voxels are inpainted with the same pixel's mean over the finite frames (the nearest finite
   pixel where a pixel is never finite) and counted in the report; more are refused;
3. **view**: a stack of slices is refused unless a slice was chosen (``slice_location`` /
   ``slice_index``); a view other than 4-chamber (series description, slice stack or plane
   orientation, :mod:`.cmr_geometry`) is a warning (``on_view="raise"`` refuses it);
4. **orientation**: flipped/transposed to the canonical display of the plane's patient geometry
   (DICOM ImageOrientationPatient, NIfTI affine; :func:`~.cmr_geometry.canonical_transform`);
   without geometry the image is used as stored;
5. **heart localisation**: the centre of the moving heart (first temporal harmonic,
   :mod:`.cmr_localise`) unless ``center=(row, col)`` is given (canonical-image pixels). The
   96 x 96 window at 1.8 mm (172.8 mm) is centred there; along an axis where the image is larger
   than the window it is clamped to stay inside the image, along one where the whole image fits it
   is centred on the image (nothing is lost by not moving it). With ``center`` given the window is
   centred exactly there, padding with the background (the image minimum) if needed;
6. **space**: each frame sampled bilinearly on the window's 96 x 96 grid (Gaussian anti-aliasing
   first when the source pixels are finer than 1.8 mm) -- only the window is ever resampled, so
   cost and memory do not grow with the source size or spacing;
7. **time**: periodic linear interpolation to 50 phases over the trigger times (uniform when
   there are none): 20, 25 or 30 acquired phases of one cycle map onto 50;
8. **intensity**: 0.5th percentile -> -1, 99.5th -> 1, clipped.
"""
from __future__ import annotations

import logging
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .cmr_formats import (Cine, check_voxels, is_nifti, load_dicom_files, load_dicom_zip, load_multiframe, load_nifti,
                          pydicom_module, slice_position)
from .cmr_geometry import GridTransform, canonical_transform, check_view, direction_name
from .cmr_localise import locate_heart, motion_centre
from scipy.ndimage import distance_transform_edt, gaussian_filter1d

FRAMES = 50
SIZE = 96
SPACING = 1.8
SPACING_RANGE_MM = (0.25, 8.0)        # plausible in-plane pixel spacing of a cine
MAX_NONFINITE_FRACTION = 0.01

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- reading
def load_cine(path: str | Path, *, slice_location: float | None = None) -> Cine:
    """Read a cine as stored (see the module docstring for the formats). For a stack, the slice
    nearest ``slice_location`` (mm; for NIfTI the slice index), else the middle one."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or directory")
    try:
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
            nii = [f for f in files if is_nifti(f)]
            if nii and len(nii) == len(files):
                if len(nii) > 1:
                    raise InputError(f"{p}: {len(nii)} NIfTI files; name the one to read")
                return _named(load_nifti(nii[0], None if slice_location is None else int(slice_location)), nii[0])
            return _named(load_dicom_files(files, slice_location, p), p)
        if is_nifti(p):
            return _named(load_nifti(p, None if slice_location is None else int(slice_location)), p)
        if p.suffix.lower() == ".zip":
            return _named(load_dicom_zip(p, slice_location), p)
        return _named(_load_dicom_file(p, slice_location), p)
    except MemoryError as exc:
        raise InputError(f"{p}: not enough memory to read the cine") from exc


def _named(cine: Cine, p: Path) -> Cine:
    cine.meta.setdefault("path", str(p))
    return cine


def _load_dicom_file(p: Path, slice_location: float | None) -> Cine:
    pydicom = pydicom_module()

    try:
        ds = pydicom.dcmread(str(p))
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{p}: neither NIfTI (.nii/.nii.gz), zip, nor readable DICOM "
                         f"({type(exc).__name__}: {exc})") from exc
    try:
        n_frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        n_frames = 1
    if n_frames > 1:
        return load_multiframe(p, ds)
    # one frame of a series: read its siblings of the same series
    uid = getattr(ds, "SeriesInstanceUID", None)
    sib = []
    for f in sorted(x for x in p.parent.iterdir() if x.is_file()):
        try:
            h = pydicom.dcmread(str(f), stop_before_pixels=True)
        except Exception:  # noqa: BLE001 -- not DICOM
            continue
        if getattr(h, "SeriesInstanceUID", None) == uid:
            sib.append(f)
    loc = slice_position(ds) if slice_location is None else slice_location
    return load_dicom_files(sib, loc, p)      # naming one file of a stack chooses its slice


# ---------------------------------------------------------------------------------------------- steps
def check_spacing(spacing: tuple[float, float], source: Any) -> None:
    lo, hi = SPACING_RANGE_MM
    if not all(np.isfinite(s) and lo <= s <= hi for s in spacing):
        raise InputError(f"{source}: pixel spacing {spacing[0]:g} x {spacing[1]:g} mm is outside the plausible range "
                         f"{lo}-{hi} mm of a cine (SPACING_RANGE_MM)")


def repair_nonfinite(frames: np.ndarray, source: Any) -> tuple[np.ndarray, int]:
    """Inpaint NaN / inf pixels (step 2 of the module docstring); returns (frames, how many)."""
    bad = ~np.isfinite(frames)
    n = int(bad.sum())
    if n == 0:
        return frames, 0
    frac = n / frames.size
    if frac > MAX_NONFINITE_FRACTION:
        raise InputError(f"{source}: {frac:.2%} of the pixels are NaN or infinite, more than the "
                         f"{MAX_NONFINITE_FRACTION:.0%} that are inpainted (MAX_NONFINITE_FRACTION)")
    x = np.array(frames, dtype=np.float32, copy=True)
    x[bad] = np.nan
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=0)                                     # [H, W]
    holes = ~np.isfinite(mean)
    if holes.all():
        raise InputError(f"{source}: no finite pixel")
    if holes.any():
        idx = distance_transform_edt(holes, return_distances=False, return_indices=True)
        mean = mean[tuple(idx)]
    x[bad] = np.broadcast_to(mean, x.shape)[bad]
    return x, n


def resample_time(frames: np.ndarray, n: int = FRAMES, trigger_ms: np.ndarray | None = None) -> np.ndarray:
    """[t, H, W] -> [n, H, W], linear interpolation on the periodic cardiac cycle, over the
    trigger times when they are finite and increasing (uniform phases otherwise)."""
    t = frames.shape[0]
    if t == n and trigger_ms is None:
        return frames.astype(np.float32, copy=False)
    pos = np.arange(n) * (t / n)
    trig = None if trigger_ms is None else np.asarray(trigger_ms, dtype=np.float64)
    if trig is not None and trig.shape == (t,) and t >= 2 and np.isfinite(trig).all() and np.all(np.diff(trig) > 0):
        tt = trig - trig[0]
        period = tt[-1] + float(np.median(np.diff(tt)))
        pos = np.interp(np.arange(n) * period / n, np.append(tt, period), np.arange(t + 1, dtype=np.float64))
    lo = np.floor(pos).astype(np.int64)
    w = (pos - lo).astype(np.float32)[:, None, None]
    return ((1 - w) * frames[lo % t] + w * frames[(lo + 1) % t]).astype(np.float32)


def _axis_matrix(edge: float, step: float, size: int, n: int) -> tuple[np.ndarray, int, int]:
    """Bilinear weights [size, hi - lo] sampling source pixels lo..hi-1 at the centres of ``size``
    output pixels of width ``step`` starting at continuous coordinate ``edge``."""
    centres = edge + (np.arange(size) + 0.5) * step
    i0 = np.floor(centres).astype(np.int64)
    w1 = centres - i0
    lo = int(max(min(i0.min(), n - 1), 0))
    hi = int(min(max(i0.max() + 2, lo + 1), n))
    m = np.zeros((size, hi - lo))
    for idx, w in ((i0, 1 - w1), (i0 + 1, w1)):
        ok = (idx >= lo) & (idx < hi)
        m[np.flatnonzero(ok), idx[ok] - lo] += w[ok]
    return m, lo, hi


def sample_window(frames: np.ndarray, spacing: tuple[float, float], edges: tuple[float, float],
                  size: int = SIZE, target: float = SPACING, fill: float = 0.0) -> np.ndarray:
    """[t, H, W] -> [t, size, size]: bilinear samples on a size x size grid of ``target`` mm pixels
    whose top-left edge is at ``edges`` (row, col; continuous pixel coordinates, pixel k spans
    k-0.5..k+0.5). Outside the image: ``fill``. Anti-aliased when the source is finer than target."""
    t, h, w = frames.shape
    step = (target / spacing[0], target / spacing[1])
    er, ec = edges[0] + 0.5, edges[1] + 0.5                     # first sampled pixel when step is 1
    if (abs(step[0] - 1) < 1e-9 and abs(step[1] - 1) < 1e-9 and er == int(er) and ec == int(ec)
            and 0 <= er and er + size <= h and 0 <= ec and ec + size <= w):
        return np.array(frames[:, int(er):int(er) + size, int(ec):int(ec) + size], dtype=np.float32)  # on the grid
    mr, r0, r1 = _axis_matrix(edges[0], step[0], size, h)
    mc, c0, c1 = _axis_matrix(edges[1], step[1], size, w)
    sub = np.asarray(frames[:, r0:r1, c0:c1], dtype=np.float32)
    for axis, s in ((1, step[0]), (2, step[1])):
        if s > 1.0 + 1e-6:
            sub = gaussian_filter1d(sub, 0.5 * np.sqrt(s * s - 1.0), axis=axis, mode="nearest")
    out = (mr.astype(np.float32) @ sub) @ mc.T.astype(np.float32)    # [t, size, size]
    cover = np.outer(mr.sum(1), mc.sum(1))                             # weight inside the image
    return (out + fill * (1.0 - cover)[None]).astype(np.float32)


def crop(frames: np.ndarray, size: int, center: tuple[float, float] | None, fill: float) -> np.ndarray:
    """size x size pixels around ``center`` (row, col; default the image centre) at the same
    spacing, padded with ``fill`` outside the image."""
    t, h, w = frames.shape
    cy, cx = ((h - 1) / 2, (w - 1) / 2) if center is None else center
    y0 = int(round(cy - (size - 1) / 2))
    x0 = int(round(cx - (size - 1) / 2))
    out = np.full((t, size, size), fill, dtype=np.float32)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + size, h), min(x0 + size, w)
    if sy1 > sy0 and sx1 > sx0:
        out[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = frames[:, sy0:sy1, sx0:sx1]
    return out


def normalize_intensity(frames: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> np.ndarray:
    lo, hi = np.percentile(frames, [lo_pct, hi_pct])
    if hi <= lo:
        return np.zeros_like(frames, dtype=np.float32)
    return np.clip(2.0 * (frames - lo) / (hi - lo) - 1.0, -1.0, 1.0).astype(np.float32)


def _window_edge(n: int, sp: float, c: float, size: int, target: float, given: bool) -> tuple[float, str]:
    """Top (left) edge of the window along one axis and how it was placed."""
    w = size * target / sp                                   # window extent in source pixels
    if given:
        return c - w / 2, "centred on the given centre"
    if n <= w:
        return (n - 1) / 2 - w / 2, "whole image inside the window (centred)"
    e = c - w / 2
    clamped = min(max(e, -0.5), n - 0.5 - w)
    return clamped, "centred on the heart" if abs(clamped - e) < 1e-9 else "clamped to the image edge"


# ---------------------------------------------------------------------------------------------- pipeline
@dataclass
class CineInput:
    """The model input [frames, size, size] and the report of how it was made (JSON-able)."""
    x: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)
    source_image: np.ndarray | None = None     # first frame of the canonically oriented source (for previews)

    @property
    def warnings(self) -> list[str]:
        return list(self.report.get("warnings", []))


def preprocess_cine(cine: Cine, *, frames: int = FRAMES, spacing: float = SPACING, size: int = SIZE,
                    center: tuple[float, float] | None = None, orient: bool = True,
                    on_view: str = "warn") -> CineInput:
    """The model input and its report (steps in the module docstring)."""
    if on_view not in ("warn", "raise"):
        raise InputError(f"on_view must be 'warn' or 'raise', got {on_view!r}")
    src = cine.meta.get("path", "cine")
    check_voxels(src, "the requested model input", frames, size, size)     # before anything of that size
    x = np.asarray(cine.frames)
    if x.ndim != 3:
        raise InputError(f"{src}: expected a cine [t, rows, cols], got shape {x.shape}")
    if x.shape[0] < 2:
        raise InputError(f"{src}: {x.shape[0]} frame: not a cine (the heart must move over at least 2 phases)")
    check_spacing(cine.spacing, src)
    x, n_bad = repair_nonfinite(x, src)
    warnings: list[str] = list(cine.meta.get("series_warnings", []))
    if n_bad:
        warnings.append(f"{n_bad} NaN/infinite pixels inpainted with their temporal mean")
    view = check_view(cine.description, cine.n_slices, cine.axes)
    if cine.n_slices > 1 and not cine.slice_chosen:
        raise InputError(f"{src}: a stack of {cine.n_slices} slices ({view.source}), not one 4-chamber slice; "
                         "choose a slice (slice_location= / --slice) to read one anyway")
    warnings += view.warnings
    if not view.ok and on_view == "raise":
        raise InputError(f"{src}: {view.warnings[-1]}")
    tf = canonical_transform(*cine.axes) if (orient and cine.axes is not None) else GridTransform()
    x = tf.apply(x)
    sp = tf.spacing(cine.spacing)
    h, w = x.shape[1:]
    if center is None:
        loc = locate_heart(x, sp)
        c, how = loc.center, loc.method
    else:
        c, how = (float(center[0]), float(center[1])), "given"
    (er, hr), (ec, hc) = (_window_edge(h, sp[0], c[0], size, spacing, center is not None),
                          _window_edge(w, sp[1], c[1], size, spacing, center is not None))
    fill = float(x.min())
    out = sample_window(x, sp, (er, ec), size, spacing, fill)
    out = resample_time(out, frames, cine.trigger_ms)
    out = normalize_intensity(out)
    wr, wc = size * spacing / sp[0], size * spacing / sp[1]
    box = (er + 0.5, ec + 0.5, er + 0.5 + wr, ec + 0.5 + wc)              # pixel-edge coordinates
    mc = motion_centre(out)
    axes = tf.axes(*cine.axes) if cine.axes is not None else None
    trig = cine.trigger_ms
    report = {
        "file": str(src), "format": cine.meta.get("format"),
        "series_description": cine.description or None,
        "source_shape": [int(v) for v in cine.frames.shape], "spacing_mm": [float(v) for v in cine.spacing],
        "frames_source": int(cine.frames.shape[0]),
        "trigger_ms": None if trig is None else [float(np.min(trig)), float(np.max(trig))],
        "slices": int(cine.n_slices), "slice": cine.meta.get("slice_location", cine.meta.get("slice_index")),
        "view": view.to_dict(),
        "orientation": {"transform": tf.describe(),
                        "source": "plane geometry" if cine.axes is not None else "none in the file (used as stored)",
                        "right": direction_name(axes[0]) if axes else None,
                        "down": direction_name(axes[1]) if axes else None},
        "heart_centre_px": [round(c[0], 2), round(c[1], 2)], "localisation": how,
        "crop_box": {"rows": [round(box[0], 2), round(box[2], 2)], "cols": [round(box[1], 2), round(box[3], 2)],
                     "grid": "canonically oriented source pixels (edges)", "size_mm": [size * spacing] * 2,
                     "placement": {"rows": hr, "cols": hc},
                     "source_grid": _box_in_source(tf, box, (h, w))},
        "nonfinite_pixels_inpainted": n_bad,
        "input": {"shape": [int(v) for v in out.shape], "spacing_mm": spacing, "range": [-1.0, 1.0]},
        "input_motion_centre_px": [round(mc[0], 2), round(mc[1], 2)],
        "input_motion_offset_px": round(float(np.hypot(mc[0] - (size - 1) / 2, mc[1] - (size - 1) / 2)), 2),
        "warnings": warnings,
    }
    for k in ("series_number", "series_uid", "series"):
        if k in cine.meta:
            report[k] = cine.meta[k]
    return CineInput(out, report, np.asarray(x[0], dtype=np.float32))


def _box_in_source(tf: GridTransform, box: tuple[float, float, float, float], shape: tuple[int, int]) -> dict:
    """The crop box in the pixel grid as stored (undo the flips, then the transpose)."""
    r0, c0, r1, c1 = box
    h, w = shape
    if tf.flip_rows:
        r0, r1 = h - r1, h - r0
    if tf.flip_cols:
        c0, c1 = w - c1, w - c0
    if tf.transpose:
        r0, c0, r1, c1 = c0, r0, c1, r1
    return {"rows": [round(r0, 2), round(r1, 2)], "cols": [round(c0, 2), round(c1, 2)]}


def prepare_cine(cine: Cine, *, frames: int = FRAMES, spacing: float = SPACING, size: int = SIZE,
                 center: tuple[float, float] | None = None, on_view: str = "warn") -> np.ndarray:
    return preprocess_cine(cine, frames=frames, spacing=spacing, size=size, center=center, on_view=on_view).x


def inspect_cmr(path: str | Path, *, frames: int = FRAMES, spacing: float = SPACING, size: int = SIZE,
                center: tuple[float, float] | None = None, slice_location: float | None = None,
                on_view: str = "warn") -> CineInput:
    """Read and preprocess a cine; the input with its report (module docstring)."""
    cine = load_cine(path, slice_location=slice_location)
    return preprocess_cine(cine, frames=frames, spacing=spacing, size=size, center=center, on_view=on_view)


def read_cmr(path: str | Path, *, frames: int = FRAMES, spacing: float = SPACING, size: int = SIZE,
             center: tuple[float, float] | None = None, slice_location: float | None = None,
             on_view: str = "warn") -> np.ndarray:
    """Read a cine and normalise it to the model input: float32 [frames, size, size] in [-1, 1].
    Warnings (view, inpainted pixels) are logged; :func:`inspect_cmr` returns them."""
    res = inspect_cmr(path, frames=frames, spacing=spacing, size=size, center=center,
                      slice_location=slice_location, on_view=on_view)
    for wmsg in res.warnings:
        log.warning("%s: %s", path, wmsg)
    return res.x


__all__ = ["Cine", "CineInput", "FRAMES", "MAX_NONFINITE_FRACTION", "SIZE", "SPACING", "SPACING_RANGE_MM",
           "check_spacing", "crop", "inspect_cmr", "load_cine", "normalize_intensity", "prepare_cine",
           "preprocess_cine", "read_cmr", "repair_nonfinite", "resample_time", "sample_window"]
