"""Cine readers: NIfTI, DICOM series (a directory, or one file of it), multi-frame DICOM and zip
archives of DICOM (UK Biobank field 20208). Each returns a :class:`Cine` -- frames [t, rows, cols]
as stored, pixel spacing, trigger times, the plane's axes in patient coordinates, the series
description and how many slice positions the source held -- after checking every size the
header declares against the limits below, before any pixel array is allocated. Decoder failures
(nibabel, pydicom, zlib, ...) become :class:`~cardionets.errors.InputError` naming the file.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from .cmr_geometry import axes_from_affine, axes_from_iop
from .cmr_zip import (ZipSeries, choose_series, open_checked, pydicom_module, read_member, scan_series,
                      series_listing)

MAX_SIDE = 4096                      # rows or columns of one frame
MAX_FRAMES = 1024                    # cardiac phases of one slice
MAX_SOURCE_VOXELS = 1 << 26          # rows x cols x frames x slices read (67 M: 256 MB as float32)
MAX_SERIES_FILES = 20_000            # files of one DICOM directory


@dataclass
class Cine:
    """A raw cine: frames float32 [t, rows, cols], spacing (row_mm, col_mm), trigger times (ms).

    ``axes``: (right, down) unit vectors of the image plane in patient coordinates (LPS), or None;
    ``description``: the DICOM series description; ``n_slices``: slice positions in the source
    (> 1 for a stack); ``slice_chosen``: whether the caller picked the slice of a stack."""
    frames: np.ndarray
    spacing: tuple[float, float]
    trigger_ms: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    axes: tuple[np.ndarray, np.ndarray] | None = None
    description: str | None = None
    n_slices: int = 1
    slice_chosen: bool = False


def check_voxels(source: Path | str, what: str, *dims: int) -> None:
    """Refuse a declared size over the limits before anything of that size is allocated."""
    dims = tuple(int(d) for d in dims)
    if any(d < 1 for d in dims):
        raise InputError(f"{source}: {what} has an empty dimension {dims}")
    rows, cols = dims[-2], dims[-1]
    if rows > MAX_SIDE or cols > MAX_SIDE:
        raise InputError(f"{source}: {what} of {rows} x {cols} pixels exceeds the limit of {MAX_SIDE} per side (MAX_SIDE)")
    total = int(np.prod(np.asarray(dims, dtype=object)))
    if total > MAX_SOURCE_VOXELS:
        raise InputError(f"{source}: {what} declares {total:,} voxels {dims}, more than the limit of "
                         f"{MAX_SOURCE_VOXELS:,} (MAX_SOURCE_VOXELS)")


def _decode_error(source: Path | str, what: str, exc: BaseException) -> InputError:
    return InputError(f"{source}: cannot decode {what} ({type(exc).__name__}: {exc})")


# ----------------------------------------------------------------------------------------------- NIfTI
def is_nifti(p: Path) -> bool:
    return p.name.lower().endswith((".nii", ".nii.gz"))


def load_nifti(p: Path, slice_index: int | None) -> Cine:
    import nibabel as nib

    try:
        img = nib.load(str(p))
        shape = tuple(int(s) for s in img.shape)
        zooms = tuple(float(z) for z in img.header.get_zooms())
        affine = img.affine
    except Exception as exc:  # noqa: BLE001 -- nibabel raises many types on broken headers
        raise _decode_error(p, "the NIfTI header", exc) from exc
    if len(shape) == 2:
        shape4 = (shape[0], shape[1], 1, 1)
    elif len(shape) == 3:                                     # (x, y, t)
        shape4 = (shape[0], shape[1], 1, shape[2])
    elif len(shape) == 4:
        shape4 = shape
    else:
        raise InputError(f"{p}: NIfTI cine must be (x, y, [z,] t), got shape {shape}")
    x, y, z, t = shape4
    if t > MAX_FRAMES:
        raise InputError(f"{p}: {t} frames, more than the limit of {MAX_FRAMES} (MAX_FRAMES)")
    k = z // 2 if slice_index is None else int(slice_index)
    if not 0 <= k < z:
        raise InputError(f"{p}: slice {k} requested, the volume has {z}")
    check_voxels(p, "the NIfTI volume", t, y, x)                 # one slice is read
    try:
        proxy = img.dataobj
        data = np.asarray(proxy[:, :, k, :] if len(shape) == 4 else proxy, dtype=np.float32)
    except MemoryError as exc:
        raise InputError(f"{p}: not enough memory to read {shape} voxels") from exc
    except Exception as exc:  # noqa: BLE001 -- truncated gzip, short file, bad scaling, ...
        raise _decode_error(p, "the NIfTI data", exc) from exc
    data = data.reshape(x, y, t)
    frames = np.ascontiguousarray(data.transpose(2, 1, 0))      # [t, y(rows), x(cols)]
    if len(zooms) < 2:
        raise InputError(f"{p}: NIfTI header has no pixel spacing")
    dt = zooms[3] if len(zooms) > 3 else (zooms[2] if len(shape) == 3 else 0.0)
    unit = img.header.get_xyzt_units()[1] if hasattr(img.header, "get_xyzt_units") else None
    if unit == "sec":
        dt *= 1000.0
    trig = np.arange(t) * dt if dt > 0 and np.isfinite(dt) else None
    sform = int(img.header["sform_code"]) if "sform_code" in img.header else 0
    qform = int(img.header["qform_code"]) if "qform_code" in img.header else 0
    axes = axes_from_affine(affine) if (sform > 0 or qform > 0) else None
    return Cine(frames, (zooms[1], zooms[0]), trig, {"format": "nifti", "shape": shape, "slice_index": k},
                axes=axes, description=None, n_slices=z, slice_chosen=slice_index is not None)


# ----------------------------------------------------------------------------------------------- DICOM
def dicom_spacing(ds, source) -> tuple[float, float]:
    sp = getattr(ds, "PixelSpacing", None)
    if sp is None:
        try:
            sp = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
        except (AttributeError, IndexError):
            sp = None
    if sp is None:
        raise InputError(f"{source}: no PixelSpacing")
    try:
        return float(sp[0]), float(sp[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{source}: PixelSpacing {sp!r} is not two numbers") from exc


def dicom_iop(ds):
    iop = getattr(ds, "ImageOrientationPatient", None)
    if iop is None:
        try:
            iop = ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient
        except (AttributeError, IndexError):
            iop = None
    return iop


def _rescale(ds, arr: np.ndarray) -> np.ndarray:
    try:
        slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
        inter = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError):
        slope, inter = 1.0, 0.0
    return arr.astype(np.float32) * slope + inter


def _num(ds, key: str, default: float) -> float:
    v = getattr(ds, key, None)
    try:
        return float(v) if v not in (None, "") else default
    except (TypeError, ValueError):
        return default


def slice_position(ds) -> float:
    if getattr(ds, "SliceLocation", None) not in (None, ""):
        return _num(ds, "SliceLocation", 0.0)
    ipp, iop = getattr(ds, "ImagePositionPatient", None), dicom_iop(ds)
    try:
        n = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
        return float(np.dot(n, np.asarray(ipp, float)))
    except (TypeError, ValueError, IndexError):
        return 0.0


def _pixels(ds, source) -> np.ndarray:
    try:
        arr = ds.pixel_array
    except MemoryError as exc:
        raise InputError(f"{source}: not enough memory to decode the pixel data") from exc
    except Exception as exc:  # noqa: BLE001 -- pydicom / codec errors
        raise _decode_error(source, "the DICOM pixel data", exc) from exc
    return _rescale(ds, arr)


def frames_from_series(headers: list, load: Callable[[int], Any], source, slice_location: float | None,
                       meta: dict) -> Cine:
    """One slice of a series: ``headers`` are pixel-less datasets, ``load(i)`` the full i-th one."""
    locs = np.array([round(slice_position(h), 1) for h in headers])
    uniq = np.unique(locs)
    chosen = uniq[len(uniq) // 2] if slice_location is None else uniq[np.argmin(np.abs(uniq - float(slice_location)))]
    idx = [i for i, loc in enumerate(locs) if loc == chosen]

    def trig(i):
        h = headers[i]
        return _num(h, "TriggerTime", _num(h, "InstanceNumber", 0.0))

    idx.sort(key=lambda i: (trig(i), _num(headers[i], "InstanceNumber", 0.0)))
    # repeat images of one phase (same trigger time): keep the last acquired of each
    dedup: dict[float, int] = {}
    for i in idx:
        dedup[trig(i)] = i
    dropped = len(idx) - len(dedup)
    idx = [dedup[k] for k in sorted(dedup)]
    h0 = headers[idx[0]]
    rows, cols = int(getattr(h0, "Rows", 0) or 0), int(getattr(h0, "Columns", 0) or 0)
    if len(idx) > MAX_FRAMES:
        raise InputError(f"{source}: {len(idx)} frames in one slice, more than the limit of {MAX_FRAMES} (MAX_FRAMES)")
    check_voxels(source, "the DICOM series", len(idx), rows, cols)
    frames = []
    for i in idx:
        ds = load(i)
        fr = _pixels(ds, source)
        if fr.ndim != 2:
            fr = fr[..., 0] if fr.ndim == 3 else fr
        frames.append(fr)
    shapes = {fr.shape for fr in frames}
    if len(shapes) != 1:
        raise InputError(f"{source}: frames of slice {chosen} differ in size: {sorted(shapes)}")
    meta = dict(meta)
    meta.update({"slice_location": float(chosen), "slice_locations": uniq.tolist(), "n_files": len(idx)})
    if dropped:
        meta["duplicate_phases_dropped"] = dropped
    return Cine(np.stack(frames).astype(np.float32), dicom_spacing(h0, source), np.array([trig(i) for i in idx]),
                meta, axes=axes_from_iop(dicom_iop(h0)), description=str(getattr(h0, "SeriesDescription", "") or ""),
                n_slices=len(uniq), slice_chosen=slice_location is not None)


def load_multiframe(p: Path, ds) -> Cine:
    n = int(_num(ds, "NumberOfFrames", 1))
    if n > MAX_FRAMES:
        raise InputError(f"{p}: {n} frames, more than the limit of {MAX_FRAMES} (MAX_FRAMES)")
    check_voxels(p, "the multi-frame DICOM", n, int(getattr(ds, "Rows", 0) or 0), int(getattr(ds, "Columns", 0) or 0))
    arr = _pixels(ds, p)
    if arr.ndim == 4:                                     # colour / samples: take the first channel
        arr = arr[..., 0]
    trig = None
    try:
        trig = np.array([float(f.CardiacSynchronizationSequence[0].NominalCardiacTriggerDelayTime)
                         for f in ds.PerFrameFunctionalGroupsSequence])
    except (AttributeError, IndexError, TypeError, ValueError):
        ft = _num(ds, "FrameTime", 0.0)
        if ft > 0:
            trig = np.arange(arr.shape[0]) * ft
    if trig is not None and len(trig) == arr.shape[0]:
        order = np.argsort(trig, kind="stable")
        arr, trig = arr[order], trig[order]
    return Cine(np.ascontiguousarray(arr), dicom_spacing(ds, p), trig, {"format": "dicom-multiframe"},
                axes=axes_from_iop(dicom_iop(ds)), description=str(getattr(ds, "SeriesDescription", "") or ""))


def _read_header(f: Path):
    pydicom = pydicom_module()

    try:
        ds = pydicom.dcmread(str(f), stop_before_pixels=True)
    except Exception:  # noqa: BLE001 -- not a DICOM file: not part of the series
        return None
    return ds if hasattr(ds, "Rows") else None


def load_dicom_files(files: list[Path], slice_location: float | None, source: Path) -> Cine:
    """A series from DICOM files (one frame each); several series in the files: the 4-chamber one."""
    pydicom = pydicom_module()

    if len(files) > MAX_SERIES_FILES:
        raise InputError(f"{source}: {len(files)} files, more than the limit of {MAX_SERIES_FILES} (MAX_SERIES_FILES)")
    series: dict[str, ZipSeries] = {}
    for f in files:
        ds = _read_header(f)
        if ds is None:
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "no-uid")
        if uid not in series:
            series[uid] = ZipSeries(uid, str(getattr(ds, "SeriesDescription", "") or ""),
                                    int(_num(ds, "SeriesNumber", 0)))
        series[uid].members.append(str(f))
        series[uid].headers.append(ds)
    if not series:
        raise InputError(f"{source}: no DICOM images found")
    warnings: list[str] = []
    s = next(iter(series.values()))
    if len(series) > 1:
        s, warnings = choose_series(series, source)

    def load(i: int):
        try:
            return pydicom.dcmread(s.members[i])
        except Exception as exc:  # noqa: BLE001
            raise _decode_error(s.members[i], "the DICOM file", exc) from exc

    cine = frames_from_series(s.headers, load, source, slice_location,
                              {"format": "dicom-series"})
    if warnings:
        cine.meta["series_warnings"] = warnings
    return cine


def load_dicom_zip(p: Path, slice_location: float | None = None) -> Cine:
    """The 4-chamber cine of a zip of DICOM files (module docstring of :mod:`.cmr_zip`)."""
    pydicom = pydicom_module()

    with open_checked(p) as zf:
        series = scan_series(zf, p)
        s, warnings = choose_series(series, p)

        def load(i: int):
            raw = read_member(zf, s.members[i], p)
            try:
                return pydicom.dcmread(io.BytesIO(raw))
            except Exception as exc:  # noqa: BLE001
                raise _decode_error(f"{p}:{s.members[i]}", "the DICOM entry", exc) from exc

        cine = frames_from_series(s.headers, load, p, slice_location,
                                  {"format": "dicom-zip", "series_uid": s.uid, "series_number": s.number,
                                   "series": series_listing(series)})
    cine.meta["series_description"] = s.description
    if warnings:
        cine.meta["series_warnings"] = warnings
    return cine


__all__ = ["Cine", "MAX_FRAMES", "MAX_SERIES_FILES", "MAX_SIDE", "MAX_SOURCE_VOXELS", "check_voxels",
           "dicom_spacing", "frames_from_series", "is_nifti", "load_dicom_files", "load_dicom_zip",
           "load_multiframe", "load_nifti", "pydicom_module", "slice_position"]
