"""CMR cine readers: NIfTI (x, y, 1, t), DICOM series (one frame per file) and multi-frame DICOM,
normalised to the model input.

``read_cmr(path)`` -> float32 [50, 96, 96] in [-1, 1]:
1. read the cine as [t, rows, cols] with its pixel spacing (:func:`load_cine`); a DICOM series is
   grouped by SliceLocation (the slice nearest ``slice_location``, else the middle one) and ordered
   by TriggerTime;
2. interpolate in time to ``frames`` phases (linear, periodic: the cine covers one cardiac cycle,
   so 20 or 30 acquired phases map onto 50);
3. resample in space to ``spacing`` mm (bilinear);
4. crop ``size`` x ``size`` around ``center`` (row, col in the original pixels; default the image
   centre), padding with the background if the crop leaves the image;
5. intensities: the 0.5th percentile -> -1, the 99.5th -> 1, clipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

FRAMES = 50
SIZE = 96
SPACING = 1.8


@dataclass
class Cine:
    """A raw cine: frames float32 [t, rows, cols], spacing (row_mm, col_mm), trigger times (ms)."""
    frames: np.ndarray
    spacing: tuple[float, float]
    trigger_ms: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------------
def _is_nifti(p: Path) -> bool:
    return p.name.endswith((".nii", ".nii.gz"))


def _load_nifti(p: Path, slice_index: int | None) -> Cine:
    import nibabel as nib

    img = nib.load(str(p))
    data = np.asarray(img.dataobj, dtype=np.float32)     # applies scl_slope / scl_inter
    zooms = img.header.get_zooms()
    if data.ndim == 2:
        data = data[:, :, None, None]
    elif data.ndim == 3:                                  # (x, y, t)
        data = data[:, :, None, :]
    elif data.ndim != 4:
        raise InputError(f"{p}: NIfTI cine must be (x, y, [z,] t), got shape {data.shape}")
    z = data.shape[2]
    k = z // 2 if slice_index is None else int(slice_index)
    if not 0 <= k < z:
        raise InputError(f"{p}: slice {k} requested, the volume has {z}")
    frames = np.ascontiguousarray(data[:, :, k, :].transpose(2, 1, 0))   # [t, y(rows), x(cols)]
    dt = float(zooms[3]) if len(zooms) > 3 else 0.0
    trig = np.arange(frames.shape[0]) * dt if dt > 0 else None
    return Cine(frames, (float(zooms[1]), float(zooms[0])), trig, {"format": "nifti", "shape": data.shape})


def _dicom_spacing(ds) -> tuple[float, float]:
    sp = getattr(ds, "PixelSpacing", None)
    if sp is None:
        try:
            sp = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
        except (AttributeError, IndexError):
            sp = None
    if sp is None:
        raise InputError(f"{getattr(ds, 'filename', 'DICOM')}: no PixelSpacing")
    return float(sp[0]), float(sp[1])


def _rescale(ds, arr: np.ndarray) -> np.ndarray:
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    inter = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    return arr.astype(np.float32) * slope + inter


def _slice_position(ds) -> float:
    if hasattr(ds, "SliceLocation"):
        return float(ds.SliceLocation)
    ipp = getattr(ds, "ImagePositionPatient", None)
    iop = getattr(ds, "ImageOrientationPatient", None)
    if ipp is not None and iop is not None:
        n = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
        return float(np.dot(n, np.asarray(ipp, float)))
    return 0.0


def _load_multiframe(p: Path, ds) -> Cine:
    arr = _rescale(ds, ds.pixel_array)
    if arr.ndim == 4:                                     # colour / samples: take the first channel
        arr = arr[..., 0]
    trig = None
    try:
        trig = np.array([float(f.CardiacSynchronizationSequence[0].NominalCardiacTriggerDelayTime)
                         for f in ds.PerFrameFunctionalGroupsSequence])
    except (AttributeError, IndexError, TypeError):
        ft = getattr(ds, "FrameTime", None)
        if ft:
            trig = np.arange(arr.shape[0]) * float(ft)
    if trig is not None and len(trig) == arr.shape[0]:
        order = np.argsort(trig, kind="stable")
        arr, trig = arr[order], trig[order]
    return Cine(np.ascontiguousarray(arr), _dicom_spacing(ds), trig, {"format": "dicom-multiframe"})


def _load_dicom_series(files: list[Path], slice_location: float | None, source: Path) -> Cine:
    import pydicom

    heads = []
    for f in files:
        try:
            ds = pydicom.dcmread(str(f), stop_before_pixels=True)
        except Exception:  # noqa: BLE001 -- not a DICOM file: skip it
            continue
        if not hasattr(ds, "Rows"):
            continue
        heads.append((f, ds))
    if not heads:
        raise InputError(f"{source}: no DICOM images found")
    locs = np.array([round(_slice_position(ds), 1) for _, ds in heads])
    uniq = np.unique(locs)
    if slice_location is None:
        chosen = uniq[len(uniq) // 2]
    else:
        chosen = uniq[np.argmin(np.abs(uniq - float(slice_location)))]
    sel = [(f, ds) for (f, ds), loc in zip(heads, locs) if loc == chosen]
    def trig(ds):
        t = getattr(ds, "TriggerTime", None)
        return float(t) if t not in (None, "") else float(getattr(ds, "InstanceNumber", 0) or 0)
    sel.sort(key=lambda fd: trig(fd[1]))
    frames = []
    for f, _ in sel:
        full = pydicom.dcmread(str(f))
        frames.append(_rescale(full, full.pixel_array))
    shapes = {fr.shape for fr in frames}
    if len(shapes) != 1:
        raise InputError(f"{source}: frames of slice {chosen} differ in size: {sorted(shapes)}")
    return Cine(np.stack(frames).astype(np.float32), _dicom_spacing(sel[0][1]),
                np.array([trig(ds) for _, ds in sel]),
                {"format": "dicom-series", "slice_location": float(chosen), "slice_locations": uniq.tolist(),
                 "n_files": len(sel)})


def load_cine(path: str | Path, *, slice_location: float | None = None) -> Cine:
    """Read a cine without normalising it (see module docstring for the formats)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or directory")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file())
        nii = [f for f in files if _is_nifti(f)]
        if nii and len(nii) == len(files):
            return _load_nifti(nii[0], None)
        return _load_dicom_series(files, slice_location, p)
    if _is_nifti(p):
        return _load_nifti(p, None if slice_location is None else int(slice_location))
    import pydicom

    try:
        ds = pydicom.dcmread(str(p))
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{p}: neither NIfTI (.nii/.nii.gz) nor readable DICOM ({exc})") from exc
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        return _load_multiframe(p, ds)
    # one frame of a series: read its siblings of the same series
    uid = getattr(ds, "SeriesInstanceUID", None)
    sib = []
    for f in sorted(x for x in p.parent.iterdir() if x.is_file()):
        try:
            h = pydicom.dcmread(str(f), stop_before_pixels=True)
        except Exception:  # noqa: BLE001
            continue
        if getattr(h, "SeriesInstanceUID", None) == uid:
            sib.append(f)
    loc = _slice_position(ds) if slice_location is None else slice_location
    return _load_dicom_series(sib, loc, p)


# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------
def resample_time(frames: np.ndarray, n: int = FRAMES) -> np.ndarray:
    """[t, H, W] -> [n, H, W], linear interpolation on the periodic cardiac cycle."""
    t = frames.shape[0]
    if t == n:
        return frames.astype(np.float32, copy=False)
    pos = np.arange(n) * (t / n)
    lo = np.floor(pos).astype(np.int64)
    w = (pos - lo).astype(np.float32)[:, None, None]
    return ((1 - w) * frames[lo % t] + w * frames[(lo + 1) % t]).astype(np.float32)


def resample_space(frames: np.ndarray, spacing: tuple[float, float], target: float = SPACING) -> np.ndarray:
    fy, fx = spacing[0] / target, spacing[1] / target
    if abs(fy - 1) < 1e-3 and abs(fx - 1) < 1e-3:
        return frames
    from scipy.ndimage import zoom

    return zoom(frames, (1.0, fy, fx), order=1, prefilter=False).astype(np.float32)


def crop(frames: np.ndarray, size: int, center: tuple[float, float] | None, fill: float) -> np.ndarray:
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


def prepare_cine(cine: Cine, *, frames: int = FRAMES, spacing: float = SPACING, size: int = SIZE,
                 center: tuple[float, float] | None = None) -> np.ndarray:
    x = resample_time(cine.frames, frames)
    x = resample_space(x, cine.spacing, spacing)
    if center is not None:                       # centre given in original pixels
        center = (center[0] * cine.spacing[0] / spacing, center[1] * cine.spacing[1] / spacing)
    x = crop(x, size, center, fill=float(x.min()))
    return normalize_intensity(x)


def read_cmr(path: str | Path, *, frames: int = FRAMES, spacing: float = SPACING, size: int = SIZE,
             center: tuple[float, float] | None = None, slice_location: float | None = None) -> np.ndarray:
    """Read a cine and normalise it to the model input: float32 [frames, size, size] in [-1, 1]."""
    cine = load_cine(path, slice_location=slice_location)
    if cine.frames.ndim != 3 or cine.frames.shape[0] < 1:
        raise InputError(f"{path}: expected a cine [t, rows, cols], got shape {cine.frames.shape}")
    return prepare_cine(cine, frames=frames, spacing=spacing, size=size, center=center)


__all__ = ["Cine", "load_cine", "prepare_cine", "read_cmr", "resample_time", "resample_space", "crop",
           "normalize_intensity"]
