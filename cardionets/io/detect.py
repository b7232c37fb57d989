"""Detect an ECG file's format from its content.

Order of evidence: binary magic (DICOM "DICM" at byte 128, NumPy "\\x93NUMPY", zip "PK" for .npz,
MATLAB v4 header), then the XML root element, then a WFDB header line. The extension is used
only to find a WFDB record's header (``rec``, ``rec.hea``, ``rec.dat`` and ``rec.mat`` all name the
same record).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError

_XML_ROOTS = {
    "CardiologyXML": "cardiosoft",
    "AnnotatedECG": "hl7",
    "restingecgdata": "sierra",
}


def wfdb_header_path(path: Path) -> Path | None:
    """The .hea file of the WFDB record ``path`` names, if there is one."""
    if path.suffix.lower() == ".hea" and path.is_file():
        return path
    for cand in (path.with_suffix(".hea"), Path(str(path) + ".hea")):
        if cand.is_file():
            return cand
    return None


def _decode_head(raw: bytes) -> str:
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        return raw.decode("utf-16", errors="replace")
    if len(raw) > 4 and raw[1:2] == b"\x00" and raw[0:1] == b"<":
        return raw.decode("utf-16-le", errors="replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("latin-1", errors="replace")


def _xml_root(text: str) -> str | None:
    # Skip the declaration, comments and processing instructions; the first element is the root.
    text = re.sub(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", "", text, flags=re.S)
    m = re.search(r"<\s*([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)", text)
    return m.group(2) if m else None


def standalone_format(head: bytes, suffix: str = "") -> str | None:
    """The self-contained format (not WFDB) the first bytes of a file announce, or None: "dicom",
    "numpy", "npz" (zip, named .npz or without extension), "cardiosoft", "hl7", "sierra", or "xml"
    for XML with another root element."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    if head.startswith(b"PK\x03\x04") and suffix.lower() in (".npz", ""):
        return "npz"
    text = _decode_head(head)
    if text.lstrip().startswith("<"):
        return _XML_ROOTS.get(_xml_root(text) or "", "xml")
    return None


def detect_format(path: str | Path) -> str:
    """One of "wfdb", "dicom", "numpy", "npz", "cardiosoft", "hl7", "sierra"; InputError otherwise."""
    p = Path(path)
    if p.suffix == ".hea" and p.is_file():
        return "wfdb"  # a header names a WFDB record by definition (fast path for bulk reading)
    if not p.exists() and wfdb_header_path(p) is None:
        raise InputError(f"{p}: no such file")
    if p.is_file():
        with open(p, "rb") as fh:
            head = fh.read(8192)
        fmt = standalone_format(head, p.suffix)
        if fmt == "xml":
            raise InputError(f"{p}: XML with root element <{_xml_root(_decode_head(head))}> is not a known ECG "
                             f"format (known roots: {', '.join(_XML_ROOTS)})")
        if fmt is not None:
            return fmt
    hea = wfdb_header_path(p)
    if hea is not None:
        return "wfdb"
    if p.is_file() and p.suffix.lower() == ".mat":
        raise InputError(f"{p}: a MATLAB file without a WFDB header ({p.with_suffix('.hea').name}) beside it; "
                         "the sampling rate and gains live in the header")
    raise InputError(f"{p}: unrecognised ECG file format (not WFDB, DICOM, NumPy, GE CardioSoft, HL7 aECG "
                     "or Philips Sierra XML)")
