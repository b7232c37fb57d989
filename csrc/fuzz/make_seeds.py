"""Write the seed corpus of the native fuzz targets from the real recordings in tests/fixtures.

    python csrc/fuzz/make_seeds.py          # rewrites csrc/fuzz/corpus/{wfdb_header,wfdb_record,xli}/

Seeds are small on purpose (a fuzzer mutates short inputs faster and reaches the same code):
real headers as they are; records cut to their first 48 frames (the header's sample count and
the MATLAB v4 header follow the cut) and re-encoded in every native format; the Sierra XLI blob
whole and as its first chunk. The corpus is committed, so the fuzz targets and their ctest /
pytest replay need no Python; re-run this after changing the fixtures.
"""
from __future__ import annotations

import base64
import re
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIX = ROOT / "tests" / "fixtures" / "ecg"
FRAMES = 48


def _cut_mat_record(hea: Path, frames: int) -> bytes:
    """A CinC WFDB-MAT record cut to `frames` samples: header, NUL, .mat bytes."""
    text = hea.read_text()
    first, rest = text.split("\n", 1)
    parts = first.split()
    parts[3] = str(frames)
    raw = (hea.with_suffix(".mat")).read_bytes()
    mopt, rows, cols, imagf, namelen = struct.unpack("<5i", raw[:20])
    name = raw[20:20 + namelen]
    data = np.frombuffer(raw[20 + namelen:], "<i2").reshape(cols, rows)[:frames]  # MATLAB is column-major
    mat = struct.pack("<5i", mopt, rows, frames, imagf, namelen) + name + data.astype("<i2").tobytes()
    return (" ".join(parts) + "\n" + rest).encode() + b"\0" + mat


def _encode(d: np.ndarray, fmt: int) -> bytes:
    """Interleaved digital samples [frames, signals] in a WFDB format."""
    flat = d.reshape(-1).astype(np.int64)
    if fmt == 16:
        return flat.astype("<i2").tobytes()
    if fmt == 32:
        return flat.astype("<i4").tobytes()
    if fmt == 24:
        u = (flat & 0xFFFFFF).astype(np.uint32)
        return np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], 1).astype(np.uint8).tobytes()
    if fmt == 80:
        return (np.clip(flat, -127, 127) + 128).astype(np.uint8).tobytes()
    if fmt == 212:
        v = np.clip(flat, -2047, 2047) & 0xFFF
        if v.size % 2:
            v = np.append(v, 0)
        a, b = v[0::2], v[1::2]
        out = np.stack([a & 0xFF, ((a >> 8) & 0x0F) | ((b >> 4) & 0xF0), b & 0xFF], 1)
        return out.astype(np.uint8).tobytes()[: (d.size // 2) * 3 + (2 if d.size % 2 else 0)]
    raise ValueError(fmt)


def _format_records(src: Path) -> dict[str, bytes]:
    """The first leads of a real record re-encoded in each native format (scaled to the format's range)."""
    raw = src.with_suffix(".mat").read_bytes()
    _, rows, cols, _, namelen = struct.unpack("<5i", raw[:20])
    d = np.frombuffer(raw[20 + namelen:], "<i2").reshape(cols, rows)[:FRAMES].astype(np.int64)
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    out = {}
    for fmt, k, scale in ((16, 12, 1), (212, 12, 1), (212, 3, 1), (24, 2, 64), (32, 1, 4096), (80, 4, 1)):
        x = (d[:, :k] * scale) if fmt != 80 else np.clip(d[:, :k] // 8, -127, 127)
        lines = [f"r{fmt} {k} 500 {FRAMES}"]
        for j in range(k):
            lines.append(f"r{fmt}.dat {fmt} 1000(0)/mV 16 0 {int(x[0, j])} 0 0 {leads[j]}")
        lines.append("# Age: 59\n# Sex: Female")
        out[f"format{fmt}_{k}leads"] = ("\n".join(lines) + "\n").encode() + b"\0" + _encode(x, fmt)
    # two signal files (the target serves the same bytes for every file name), no sample count
    x = d[:, :2]
    hdr = "multi 4 500\nm_a.dat 16 200 16 0 0 0 0 I\nm_a.dat 16 200 16 0 0 0 0 II\n" \
          "m_b.dat 16 100/uV 16 0 0 0 0 V1\nm_b.dat 16 100/uV 16 0 0 0 0 V2\n"
    out["two_files_no_count"] = hdr.encode() + b"\0" + _encode(x, 16)
    # a byte offset and a Latin-1 unit
    hdr = "off 1 250 40\noff.dat 16+6 200(5)/\xb5V 16 0 0 0 0 II\n# Sex: M\xe4nnlich\n"
    out["offset_latin1"] = hdr.encode("latin-1") + b"\0" + b"HEADER" + _encode(d[:40, :1], 16)
    return out


def _sierra_blob() -> bytes:
    xml = (FIX / "formats" / "philips_sierra_1.xml").read_bytes()
    text = xml.decode("utf-16") if xml[:2] in (b"\xff\xfe", b"\xfe\xff") else xml.decode("utf-8", "replace")
    m = re.search(r"<parsedwaveforms[^>]*>(.*?)</parsedwaveforms>", text, re.S)
    if not m:
        sys.exit("no <parsedwaveforms> in the Sierra fixture")
    return base64.b64decode(re.sub(r"\s+", "", m.group(1)))


def main() -> None:
    corpus = HERE / "corpus"
    for sub in ("wfdb_header", "wfdb_record", "xli"):
        shutil.rmtree(corpus / sub, ignore_errors=True)
        (corpus / sub).mkdir(parents=True)
    heads = [FIX / "cinc2021" / n for n in ("E07500.hea", "HR06000.hea", "JS20000.hea")] + [FIX / "ptb" / "s0010_re.hea"]
    for h in heads:
        (corpus / "wfdb_header" / h.name).write_bytes(h.read_bytes())
    records = _format_records(FIX / "cinc2021" / "HR06000.hea")
    for name, blob in records.items():
        (corpus / "wfdb_header" / f"{name}.hea").write_bytes(blob.split(b"\0", 1)[0])
        (corpus / "wfdb_record" / name).write_bytes(blob)
    for n in ("E07500", "HR06000", "JS20000"):
        (corpus / "wfdb_record" / f"cinc_{n}_mat").write_bytes(_cut_mat_record(FIX / "cinc2021" / f"{n}.hea", FRAMES))
    blob = _sierra_blob()
    (corpus / "xli" / "sierra_full").write_bytes(blob)
    first = struct.unpack("<i", blob[:4])[0]
    (corpus / "xli" / "sierra_first_chunk").write_bytes(blob[:8 + first])
    total = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    print(f"wrote {sum(1 for p in corpus.rglob('*') if p.is_file())} seeds ({total / 1024:.0f} KiB) to {corpus}")


if __name__ == "__main__":
    main()
