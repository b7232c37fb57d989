"""Writers for generated (and real) cines: NIfTI with real spacing, animated GIF, PNG frame strip.

A cine here is a float array ``[T, H, W]`` (frame, row, column) with intensities in [-1, 1], the
model's space. NIfTI follows the cohort's layout: data ``(x = column, y = row, 1 slice, t)``,
``pixdim`` = (spacing, spacing, slice thickness, frame duration in ms), units mm / ms, int16 scaled
to [0, 4095] like a magnitude image. The strip marks the end-diastolic and
end-systolic frames found by :func:`cardionets.generate.measure.ed_es_frames`.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import nibabel as nib
from PIL import Image, ImageDraw

from ..errors import InputError
from .measure import ed_es_frames


def _check_cine(cine, what: str) -> np.ndarray:
    a = np.asarray(cine, dtype=np.float32)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise InputError(f"{what}: a cine must be [T, H, W] (or [1, T, H, W]), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise InputError(f"{what}: cine has non-finite values")
    return a


def to_uint8(cine: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [0, 255] uint8."""
    return np.clip(np.rint((np.asarray(cine) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def write_nifti(path: str | Path, cine, spacing: tuple[float, float] | float = 1.8, frame_ms: float = 20.0,
                slice_mm: float = 8.0) -> Path:
    """Write ``cine`` [T, H, W] in [-1, 1] as int16 NIfTI (x, y, 1, t) with the given pixel spacing (mm)."""

    a = _check_cine(cine, str(path))
    sx, sy = (spacing, spacing) if np.isscalar(spacing) else tuple(spacing)
    data = np.rint((np.clip(a, -1, 1) + 1.0) * (4095 / 2.0)).astype(np.int16)  # [T, H, W]
    data = np.ascontiguousarray(data.transpose(2, 1, 0)[:, :, None, :])  # [x=W, y=H, 1, t]
    # Negated axes, as the cohort writer: columns run to the patient's left and rows to posterior, so
    # cardionets.io.read_cmr's canonical orientation gives the cine back as drawn (a positive diagonal
    # read back rotated by 180 degrees).
    img = nib.Nifti1Image(data, np.diag([-float(sx), -float(sy), float(slice_mm), 1.0]))
    img.header.set_xyzt_units("mm", "msec")
    img.header["pixdim"][4] = float(frame_ms)
    img.header.set_data_dtype(np.int16)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, str(path))
    return path


def write_gif(path: str | Path, cine, frame_ms: float = 40.0, scale: int = 2) -> Path:
    """Animated, looping greyscale GIF of the cine (``scale`` x nearest-neighbour enlargement)."""

    a = to_uint8(_check_cine(cine, str(path)))
    frames = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in a]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # optimize=False: always the full 256-grey palette (Pillow otherwise shrinks it to the grey levels
    # the frames use, a file-level trace of the content). Pillow still merges consecutive identical
    # frames into one longer frame; the animation plays the same.
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=max(int(frame_ms), 20), loop=0,
                   optimize=False)
    return path


def strip_image(rows: list[tuple[str, np.ndarray]], n_frames: int = 10, scale: int = 2):
    """A PIL image: one row per (label, cine), ``n_frames`` evenly spaced frames plus ED and ES of each
    row (outlined: ED in red, ES in blue), labels on the left."""

    label_w, pad = 90, 4
    cines = [(label, _check_cine(c, label)) for label, c in rows]
    T, H, W = cines[0][1].shape
    h, w = H * scale, W * scale
    cols = n_frames + 2
    img = Image.new("RGB", (label_w + cols * (w + pad), len(cines) * (h + pad) + 16), "white")
    draw = ImageDraw.Draw(img)
    for j, name in enumerate([f"f{int(i)}" for i in np.linspace(0, T - 1, n_frames)] + ["ED", "ES"]):
        draw.text((label_w + j * (w + pad) + 2, 2), name, fill="black")
    for r, (label, c) in enumerate(cines):
        ed, es = ed_es_frames(c)
        picks = [int(i) for i in np.linspace(0, c.shape[0] - 1, n_frames)] + [ed, es]
        y0 = 16 + r * (h + pad)
        lines = textwrap.wrap(label, 14)[:3] or [""]  # e.g. "high LVM 221 cross_decoder" on 3 lines
        for k, line in enumerate(lines):
            draw.text((2, y0 + h // 2 - 12 * len(lines) + 12 * k), line, fill="black")
        draw.text((2, y0 + h // 2 + 2), f"ED {ed} ES {es}", fill="gray")
        u8 = to_uint8(c)
        for j, f in enumerate(picks):
            tile = Image.fromarray(u8[f]).resize((w, h), Image.NEAREST).convert("RGB")
            x0 = label_w + j * (w + pad)
            img.paste(tile, (x0, y0))
            if f == ed or f == es:
                colour = (220, 30, 30) if f == ed else (30, 80, 220)
                draw.rectangle([x0, y0, x0 + w - 1, y0 + h - 1], outline=colour, width=2)
    return img


def write_strip(path: str | Path, rows, n_frames: int = 10, scale: int = 2) -> Path:
    """PNG strip of frames for one cine (``rows`` an array) or several ((label, cine) pairs, e.g. real
    vs generated side by side), with the ED and ES frames marked."""
    if isinstance(rows, np.ndarray) or hasattr(rows, "shape"):
        rows = [("cine", np.asarray(rows))]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    strip_image(list(rows), n_frames, scale).save(path)
    return path


def write_cine_outputs(out_dir: str | Path, name: str, cine, spacing=1.8, frame_ms: float = 20.0,
                       formats: tuple[str, ...] = ("nifti", "gif", "png")) -> list[Path]:
    """All requested outputs for one cine: ``name.nii.gz``, ``name.gif``, ``name_strip.png``."""
    out = Path(out_dir)
    paths = []
    if "nifti" in formats:
        paths.append(write_nifti(out / f"{name}.nii.gz", cine, spacing, frame_ms))
    if "gif" in formats:
        paths.append(write_gif(out / f"{name}.gif", cine, frame_ms=2 * frame_ms))
    if "png" in formats:
        paths.append(write_strip(out / f"{name}_strip.png", [(name, np.asarray(cine))]))
    return paths
