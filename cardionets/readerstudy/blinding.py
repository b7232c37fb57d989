"""Checks that a reader-study pack gives nothing away but the images, and the pack's fingerprint.

* :func:`png_chunks` / :func:`gif_structure` parse the files the pack holds (bounds-checked; a
  malformed file raises). A pack PNG may hold only IHDR, PLTE, IDAT and IEND (no text, time, EXIF
  or ICC chunks); a pack GIF only image frames, graphic-control blocks and the NETSCAPE looping
  block (no comments, no plain-text or other application blocks).
* :func:`check_pack` raises when a rule every case must share is broken (image sizes, loop, total
  animation time, metadata, a case's identifiers or file names appearing in any pack file) and
  returns the audit of what may still differ: per case the GIF's frame count (Pillow merges
  consecutive pixel-identical frames into one longer frame; the animation plays the same) and the
  compressed file sizes (they follow the image content), each with how well it separates real from
  generated cases (Mann-Whitney AUC; 0.5 = not at all).
* :func:`pack_fingerprint`: sha256 of every file, the pack's sha256 (of the sorted file list with
  their hashes) and the pack id (the first 12 hex digits of the same over the case images only, so
  the case sheet and README can carry it).
"""
from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path

import numpy as np

from ..errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_ALLOWED = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
CASES_DIR = "cases"


# ------------------------------------------------------------------------------------------ parsing
def png_chunks(path: Path) -> list[str]:
    """Chunk types of a PNG file, in order."""
    data = Path(path).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise InputError(f"{path}: not a PNG file")
    pos, out = len(PNG_SIGNATURE), []
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if pos + 12 + length > len(data):
            raise InputError(f"{path}: chunk {kind!r} runs past the end of the file")
        out.append(kind.decode("latin-1"))
        pos += 12 + length
        if kind == b"IEND":
            break
    if not out or out[-1] != "IEND" or pos != len(data):
        raise InputError(f"{path}: PNG without a final IEND chunk, or bytes after it")
    return out


def _skip_sub_blocks(data: bytes, pos: int, path: Path) -> tuple[int, bytes]:
    """Skip GIF data sub-blocks from ``pos``; returns (position after the terminator, payload)."""
    payload = bytearray()
    while True:
        if pos >= len(data):
            raise InputError(f"{path}: GIF data block runs past the end of the file")
        n = data[pos]
        pos += 1
        if n == 0:
            return pos, bytes(payload)
        payload += data[pos:pos + n]
        pos += n


def gif_structure(path: Path) -> dict:
    """What a GIF holds: size, palette entries, frames, per-frame delays (ms), loop count, and the
    extension blocks other than graphic control (``other_blocks``, e.g. comments)."""
    data = Path(path).read_bytes()
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise InputError(f"{path}: not a GIF file")
    width, height, flags = struct.unpack("<HHB", data[6:11])
    pos = 13
    palette = 0
    if flags & 0x80:
        palette = 2 ** ((flags & 7) + 1)
        pos += 3 * palette
        if pos > len(data):
            raise InputError(f"{path}: GIF colour table runs past the end of the file")
    frames, delays, other, loop = 0, [], [], None
    pending_delay = 0
    while True:
        if pos >= len(data):
            raise InputError(f"{path}: GIF without a trailer")
        block = data[pos]
        if block == 0x3B:                                   # trailer
            pos += 1
            break
        if block == 0x21:                                   # extension
            label = data[pos + 1]
            end, payload = _skip_sub_blocks(data, pos + 2, path)
            if label == 0xF9 and len(payload) >= 4:         # graphic control: delay in 1/100 s
                pending_delay = 10 * struct.unpack("<H", payload[1:3])[0]
            elif label == 0xFF and payload[:11] == b"NETSCAPE2.0" and len(payload) >= 14:
                loop = struct.unpack("<H", payload[12:14])[0]
            else:
                other.append(f"0x{label:02X}" + (f" {payload[:11]!r}" if label == 0xFF else ""))
            pos = end
        elif block == 0x2C:                                 # image descriptor
            if pos + 10 > len(data):
                raise InputError(f"{path}: truncated GIF image descriptor")
            lflags = data[pos + 9]
            pos += 10
            if lflags & 0x80:
                pos += 3 * 2 ** ((lflags & 7) + 1)
            pos, _ = _skip_sub_blocks(data, pos + 1, path)  # LZW minimum code size, then the data
            frames += 1
            delays.append(pending_delay)
            pending_delay = 0
        else:
            raise InputError(f"{path}: unexpected GIF block 0x{block:02X} at byte {pos}")
    if pos != len(data):
        raise InputError(f"{path}: {len(data) - pos} bytes after the GIF trailer")
    return {"size": (width, height), "palette": palette, "frames": frames, "delays_ms": delays,
            "loop": loop, "other_blocks": other}


# ------------------------------------------------------------------------------------------ fingerprint
def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pack_fingerprint(pack: Path) -> dict:
    """{"files": {relative path: sha256}, "pack_sha256": ..., "pack_id": ...}."""
    pack = Path(pack)
    files = {p.relative_to(pack).as_posix(): _sha256(p) for p in sorted(pack.rglob("*")) if p.is_file()}
    return {"files": files, "pack_sha256": _digest(files), "pack_id": images_id(files)}


def images_id(files: dict[str, str]) -> str:
    return _digest({k: v for k, v in files.items() if k.startswith(CASES_DIR + "/")})[:12]


def _digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\t{files[name]}\n".encode())
    return h.hexdigest()


def compare_fingerprint(pack: Path, expected: dict) -> None:
    """Raise unless ``pack`` holds exactly the files (and contents) of ``expected``."""
    now = pack_fingerprint(pack)["files"]
    want = expected["files"]
    changed = sorted(k for k in set(now) & set(want) if now[k] != want[k])
    added, removed = sorted(set(now) - set(want)), sorted(set(want) - set(now))
    if changed or added or removed:
        parts = [f"{what}: {', '.join(v[:5])}{' ...' if len(v) > 5 else ''}"
                 for what, v in (("changed", changed), ("added", added), ("missing", removed)) if v]
        raise InputError(f"{pack}: not the pack this key was made with ({'; '.join(parts)})")


# ------------------------------------------------------------------------------------------ checks
def separation_auc(values, truth) -> float | None:
    """Mann-Whitney AUC of ``values`` for generated (truth 1) against real (0); None without both."""
    v = np.asarray(values, dtype=np.float64)
    t = np.asarray(truth, dtype=bool)
    if t.all() or not t.any():
        return None
    gen, real = v[t], v[~t]
    greater = (gen[:, None] > real[None, :]).sum() + 0.5 * (gen[:, None] == real[None, :]).sum()
    return float(greater / (gen.size * real.size))


def _leak_scan(pack: Path, secrets: set[str], case_ids: set[str]) -> None:
    """No identifier of a case's source (subject id, file name) in any pack file or file name.

    Text files are searched for each identifier of 3+ characters as a whole word, case-insensitive;
    images for identifiers of 6+ characters as raw bytes (a shorter string can occur by chance in
    compressed data)."""
    words = sorted({s for s in secrets if len(s) >= 3 and s not in case_ids}, key=len, reverse=True)
    for p in sorted(pack.rglob("*")):
        rel = p.relative_to(pack).as_posix()
        for s in words:
            if re.search(rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])", rel, re.IGNORECASE):
                raise InputError(f"blinding: pack file name {rel} contains the source identifier {s!r}")
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.suffix in (".txt", ".csv"):
            text = data.decode("utf-8")
            for s in words:
                if re.search(rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])", text, re.IGNORECASE):
                    raise InputError(f"blinding: {rel} contains the source identifier {s!r}")
        else:
            for s in words:
                if len(s) >= 6 and s.encode() in data:
                    raise InputError(f"blinding: {rel} contains the bytes of the source identifier {s!r}")


def check_pack(pack: Path, cases: list[dict], secrets: set[str]) -> dict:
    """Enforce the shared-rendering rules (module docstring) and return the audit.

    ``cases``: dicts with case_id, truth ("real"/"generated"), gif, png (paths relative to the pack).
    """
    gifs = [gif_structure(pack / c["gif"]) for c in cases]
    pngs = [(png_chunks(pack / c["png"]), _png_size(pack / c["png"])) for c in cases]
    for c, g in zip(cases, gifs):
        if g["other_blocks"]:
            raise InputError(f"blinding: {c['gif']} carries extra GIF blocks {g['other_blocks']}")
        if g["loop"] != 0:
            raise InputError(f"blinding: {c['gif']} does not loop forever (loop count {g['loop']})")
    for c, (chunks, _) in zip(cases, pngs):
        extra = sorted(set(chunks) - {k.decode() for k in PNG_ALLOWED})
        if extra:
            raise InputError(f"blinding: {c['png']} carries metadata chunks {extra}")
    for what, vals in (("GIF size", [g["size"] for g in gifs]), ("GIF palette", [g["palette"] for g in gifs]),
                       ("GIF loop time (ms)", [sum(g["delays_ms"]) for g in gifs]),
                       ("PNG size", [s for _, s in pngs])):
        if len(set(vals)) > 1:
            raise InputError(f"blinding: {what} differs between cases: {sorted(set(vals))}")
    _leak_scan(pack, secrets, {c["case_id"] for c in cases})
    truth = [c["truth"] == "generated" for c in cases]
    features = {"gif_frames": [g["frames"] for g in gifs],
                "gif_bytes": [(pack / c["gif"]).stat().st_size for c in cases],
                "png_bytes": [(pack / c["png"]).stat().st_size for c in cases]}
    audit = {"identical": {"gif_size": list(gifs[0]["size"]), "gif_palette": gifs[0]["palette"],
                           "gif_loop_ms": sum(gifs[0]["delays_ms"]), "png_size": list(pngs[0][1]),
                           "png_chunks": sorted(set(pngs[0][0]))},
             "varying": {}}
    for name, vals in features.items():
        audit["varying"][name] = {"min": int(min(vals)), "max": int(max(vals)),
                                  "auc_generated_vs_real": separation_auc(vals, truth)}
    return audit


def _png_size(path: Path) -> tuple[int, int]:
    data = Path(path).read_bytes()[16:24]
    return struct.unpack(">II", data)
