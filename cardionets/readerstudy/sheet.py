"""The case sheet: the CSV a reader fills in, written blank into the pack and read back for scoring.

Columns (one row per case, in case order)::

    case_id            C01, C02, ...                     (filled in, do not edit)
    pack_id            the pack's id                     (filled in, do not edit)
    reader             your name or initials             (optional; default: the file name)
    real_or_generated  real | generated  (r | g)
    confidence         1 (a guess) ... 5 (certain)        (optional)
    disease_present    yes | no  (y | n)                 (disease studies only)
    notes              free text                         (ignored by the scoring)

Reading accepts comma, semicolon or tab separated files (spreadsheet exports), UTF-8 with or without
a byte-order mark (else Windows-1252), answers in any letter case. Every problem of a sheet is
collected and reported at once, each with the sheet's file name and line number.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

SOURCE_COL = "real_or_generated"
CONFIDENCE_COL = "confidence"
DISEASE_COL = "disease_present"
SOURCE_VALUES = {"real": 0, "r": 0, "generated": 1, "g": 1}
YES_NO = {"yes": 1, "y": 1, "no": 0, "n": 0}
MAX_ERRORS_SHOWN = 20


def columns(disease: str | None) -> list[str]:
    cols = ["case_id", "pack_id", "reader", SOURCE_COL, CONFIDENCE_COL]
    if disease:
        cols.append(DISEASE_COL)
    return cols + ["notes"]


def write_blank_sheet(path: Path, case_ids: list[str], pack_id: str, disease: str | None) -> None:
    cols = columns(disease)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for cid in case_ids:
        w.writerow([cid, pack_id] + [""] * (len(cols) - 2))
    Path(path).write_text(buf.getvalue(), encoding="utf-8")


@dataclass
class Sheet:
    """One reader's answers (only the cases answered)."""

    reader: str
    path: Path
    source: dict[str, int] = field(default_factory=dict)       # case -> 0 real / 1 generated
    confidence: dict[str, int] = field(default_factory=dict)   # case -> 1..5
    disease: dict[str, int] = field(default_factory=dict)      # case -> 0 / 1
    blank: list[str] = field(default_factory=list)             # cases left unanswered (--allow-blank)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _delimiter(header: str) -> str:
    return max((",", ";", "\t"), key=header.count)


def _whole(text: str) -> int | None:
    """'3' or '3.0' (a spreadsheet's number) -> 3; anything else -> None."""
    try:
        v = float(text)
    except ValueError:
        return None
    return int(v) if math.isfinite(v) and v == int(v) else None


def read_sheet(path: str | Path, case_ids: list[str], pack_id: str, disease: str | None,
               allow_blank: bool = False) -> Sheet:
    """Validate a filled sheet against the key's cases and return its answers."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such sheet")
    text = _decode(path)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: empty sheet")
    rows = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    try:
        return _parse(path, rows, case_ids, pack_id, disease, allow_blank)
    except csv.Error as exc:
        raise InputError(f"{path}: line {rows.line_num}: not readable as CSV ({exc})") from exc


def _parse(path: Path, rows, case_ids: list[str], pack_id: str, disease: str | None, allow_blank: bool) -> Sheet:
    header = [h.strip().lower() for h in next(rows)]
    need = ["case_id", "pack_id", SOURCE_COL] + ([DISEASE_COL] if disease else [])
    missing = [c for c in need if c not in header]
    if missing:
        raise InputError(f"{path}: line 1: missing column(s) {missing} (the header is {header})")
    col = {name: header.index(name) for name in header if name}
    errors: list[str] = []
    seen: dict[str, int] = {}
    readers: set[str] = set()
    known = set(case_ids)
    sheet = Sheet(reader="", path=path)

    def cell(values: list[str], name: str) -> str:
        i = col.get(name)
        return values[i].strip() if i is not None and i < len(values) else ""

    for values in rows:
        line = rows.line_num
        if not any(v.strip() for v in values):
            continue
        cid = cell(values, "case_id")
        where = f"{path.name}: line {line}"
        if cid not in known:
            errors.append(f"{where}: unknown case_id {cid!r} (not in this pack)")
            continue
        if cid in seen:
            errors.append(f"{where}: case {cid} appears again (first on line {seen[cid]})")
            continue
        seen[cid] = line
        pid = cell(values, "pack_id")
        if pid != pack_id:
            errors.append(f"{where}: pack_id {pid!r} is not this pack's {pack_id!r} (a sheet from another pack?)")
        if cell(values, "reader"):
            readers.add(cell(values, "reader"))
        ans = cell(values, SOURCE_COL).lower()
        dis = cell(values, DISEASE_COL).lower() if disease else ""
        if not ans or (disease and not dis):
            if allow_blank:
                sheet.blank.append(cid)
            else:
                empty = [c for c, v in ((SOURCE_COL, ans), (DISEASE_COL, dis if disease else "x")) if not v]
                errors.append(f"{where}: case {cid}: {' and '.join(empty)} left blank "
                              "(answer every case, or score with --allow-blank)")
            continue
        if ans not in SOURCE_VALUES:
            errors.append(f"{where}: case {cid}: {SOURCE_COL} {ans!r} is not real or generated (r / g)")
        else:
            sheet.source[cid] = SOURCE_VALUES[ans]
        conf = cell(values, CONFIDENCE_COL)
        if conf:
            c = _whole(conf)
            if c is None or not 1 <= c <= 5:
                errors.append(f"{where}: case {cid}: confidence {conf!r} is not a whole number from 1 to 5")
            else:
                sheet.confidence[cid] = c
        if disease:
            if dis not in YES_NO:
                errors.append(f"{where}: case {cid}: {DISEASE_COL} {dis!r} is not yes or no (y / n)")
            else:
                sheet.disease[cid] = YES_NO[dis]
    absent = [c for c in case_ids if c not in seen]
    if absent:
        errors.append(f"{path.name}: {len(absent)} case(s) of the pack missing from the sheet: "
                      f"{', '.join(absent[:8])}{' ...' if len(absent) > 8 else ''}")
    if len(readers) > 1:
        errors.append(f"{path.name}: several names in the reader column ({sorted(readers)}); one sheet per reader")
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n  ... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise InputError(f"{path}: {len(errors)} problem(s):\n  " + "\n  ".join(shown) + more)
    sheet.reader = readers.pop() if readers else path.stem
    return sheet
