"""DICOM cines read straight from a zip archive (UK Biobank bulk field 20208, ``<eid>_20208_2_0.zip``),
without unpacking anything to disk.

The archive is checked on its central directory before any member is decompressed:

* entry names: no absolute path, drive letter, backslash or ``..`` component (zip-slip), no
  symbolic link, no encrypted entry -- any of these refuses the whole archive;
* sizes: at most :data:`MAX_MEMBERS` entries, each declaring at most :data:`MAX_MEMBER_BYTES`
  uncompressed, :data:`MAX_TOTAL_BYTES` in total, and members over 1 MiB at most
  :data:`MAX_RATIO` times their compressed size (zip bombs). Python's ``zipfile`` stops inflating a
  member at its declared size and checks its CRC, so no member can grow past what was checked.

Series choice (:func:`choose_series`): the series whose ``SeriesDescription`` names a 4-chamber
view (``CINE_segmented_LAX_4Ch`` in UK Biobank; see :data:`cardionets.io.cmr_geometry.VIEW_PATTERNS`);
with repeat acquisitions the one with the highest ``SeriesNumber`` (the last acquired). The
archive's ``manifest.csv`` (``manifest.cvs`` in some deliveries) is not needed: the DICOM headers
are the authority. A combined ``CINE_segmented_LAX`` series holding the three long-axis planes is
split by image orientation and its second plane (in instance order) taken as the 4-chamber view,
the UK Biobank convention, with a warning in the result.
"""
from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import InputError
from .cmr_geometry import classify_description
import pydicom

MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 64 << 20        # one DICOM frame of a cine is well under 1 MiB
MAX_TOTAL_BYTES = 2 << 30          # a UK Biobank long-axis zip is ~10-60 MB
MAX_RATIO = 200                    # uncompressed / compressed, for members over 1 MiB
MANIFEST_NAMES = ("manifest.csv", "manifest.cvs")


def pydicom_module():
    """pydicom, with value validation on reading off: anonymised cines are full of UIDs and
    strings that break the letter of the standard, and each would log a warning per file."""
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    return pydicom


@dataclass
class ZipSeries:
    """One DICOM series found in an archive."""
    uid: str
    description: str
    number: int
    members: list[str] = field(default_factory=list)
    headers: list[Any] = field(default_factory=list)     # pydicom datasets without pixel data

    @property
    def n(self) -> int:
        return len(self.members)


def _unsafe_name(name: str) -> str | None:
    if "\\" in name:
        return "a backslash in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a '..' component (zip-slip)"
    return None


def open_checked(path: Path) -> zipfile.ZipFile:
    """Open ``path`` and check every entry (names, types, declared sizes) before reading any."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({type(exc).__name__}: {exc})") from exc
    infos = zf.infolist()
    try:
        if len(infos) > MAX_MEMBERS:
            raise InputError(f"{path}: {len(infos)} entries, more than the limit of {MAX_MEMBERS}")
        total = 0
        for info in infos:
            why = _unsafe_name(info.filename)
            if why:
                raise InputError(f"{path}: entry {info.filename!r} has {why}; archive refused")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(f"{path}: entry {info.filename!r} is a symbolic link; archive refused")
            if info.flag_bits & 0x1:
                raise InputError(f"{path}: entry {info.filename!r} is encrypted")
            if info.file_size > MAX_MEMBER_BYTES:
                raise InputError(f"{path}: entry {info.filename!r} declares {info.file_size} bytes, more than "
                                 f"the per-entry limit of {MAX_MEMBER_BYTES} (MAX_MEMBER_BYTES)")
            if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise InputError(f"{path}: entry {info.filename!r} inflates {info.file_size / max(info.compress_size, 1):.0f}"
                                 f"-fold, more than the limit of {MAX_RATIO} (zip bomb?)")
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InputError(f"{path}: entries declare {total} bytes in total, more than the limit of "
                             f"{MAX_TOTAL_BYTES} (MAX_TOTAL_BYTES)")
    except InputError:
        zf.close()
        raise
    return zf


def read_member(zf: zipfile.ZipFile, name: str, source: Path) -> bytes:
    """One member's bytes (its declared size was checked by :func:`open_checked`)."""
    try:
        return zf.read(name)
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, NotImplementedError (method), ...
        raise InputError(f"{source}: entry {name!r} cannot be read ({type(exc).__name__}: {exc})") from exc


def scan_series(zf: zipfile.ZipFile, source: Path) -> dict[str, ZipSeries]:
    """Every DICOM series in the archive, from the members' headers (pixel data not read)."""
    pydicom = pydicom_module()

    series: dict[str, ZipSeries] = {}
    for info in zf.infolist():
        if info.is_dir() or PurePosixPath(info.filename).name.lower() in MANIFEST_NAMES:
            continue
        raw = read_member(zf, info.filename, source)
        try:
            ds = pydicom.dcmread(io.BytesIO(raw), stop_before_pixels=True)
        except Exception:  # noqa: BLE001 -- not a DICOM member (readme, thumbnails): not part of a series
            continue
        if not hasattr(ds, "Rows"):
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "no-uid")
        s = series.get(uid)
        if s is None:
            num = getattr(ds, "SeriesNumber", None)
            s = series[uid] = ZipSeries(uid, str(getattr(ds, "SeriesDescription", "") or ""),
                                        int(num) if num not in (None, "") else 0)
        s.members.append(info.filename)
        s.headers.append(ds)
    return series


def _split_mixed_lax(s: ZipSeries) -> tuple[ZipSeries, str] | None:
    """The 4-chamber plane of a combined long-axis series (three planes in one series)."""
    keys = [tuple(np.round(np.asarray(getattr(h, "ImageOrientationPatient", [0] * 6), float), 2)) for h in s.headers]
    groups: dict[tuple, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    if len(groups) != 3:
        return None

    def first_instance(idx: list[int]) -> int:
        return min(int(getattr(s.headers[i], "InstanceNumber", 0) or 0) for i in idx)

    ordered = sorted(groups.values(), key=first_instance)
    pick = ordered[1]
    sub = ZipSeries(s.uid, s.description, s.number, [s.members[i] for i in pick], [s.headers[i] for i in pick])
    return sub, (f"series {s.description!r} holds three long-axis planes; the second (in instance order) was "
                 "taken as the 4-chamber view (UK Biobank convention)")


def choose_series(series: dict[str, ZipSeries], source: Path, view: str = "4ch") -> tuple[ZipSeries, list[str]]:
    """The series of ``view`` (see module docstring) and any warnings about the choice."""
    if not series:
        raise InputError(f"{source}: no DICOM images in the archive")
    matches = [s for s in series.values() if classify_description(s.description) == view]
    warnings: list[str] = []
    if not matches and view == "4ch":
        mixed = [s for s in series.values() if s.description.strip().upper().endswith("LAX")]
        for s in mixed:
            split = _split_mixed_lax(s)
            if split is not None:
                return split[0], [split[1]]
    if not matches:
        found = ", ".join(sorted(f"{s.description or '(no description)'} ({s.n} images)" for s in series.values()))
        raise InputError(f"{source}: no {view} cine series in the archive (series found: {found})")
    matches.sort(key=lambda s: (s.number, s.uid))
    if len(matches) > 1:
        warnings.append(f"{len(matches)} {view} series ({', '.join(str(m.number) for m in matches)}); "
                        f"took the last acquired, series number {matches[-1].number}")
    return matches[-1], warnings


def series_listing(series: dict[str, ZipSeries]) -> list[dict]:
    return [{"description": s.description, "series_number": s.number, "images": s.n, "uid": s.uid}
            for s in sorted(series.values(), key=lambda s: s.number)]


__all__ = ["MAX_MEMBERS", "MAX_MEMBER_BYTES", "MAX_RATIO", "MAX_TOTAL_BYTES", "ZipSeries", "choose_series",
           "open_checked", "read_member", "scan_series", "series_listing"]
