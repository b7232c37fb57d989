"""Screening inputs -> one :class:`Item` per input file: every file gets exactly one row.

An input is
* a file (any supported ECG format, detected from content when read);
* a directory, walked recursively. Every file is one input except
  - the signal files of a WFDB record: a file that a header in the same folder names as its signal
    file (or ``rec.dat`` / ``rec.mat`` beside ``rec.hea``) belongs to that header's row -- unless its
    content is an ECG in its own right (XML, DICOM, NumPy), which always gets its own row, so a header
    that names another ECG as its "signal file" cannot hide it;
  - hidden files and directories (names starting with ``.``), skipped unless ``include_hidden``;
  - the output directory of the run, when it lies inside an input folder;
  skipped entries are counted in ``InputList.excluded`` (and in the run's summary);
* a manifest (``.csv`` / ``.parquet`` with a ``path`` column and optionally ``record_id``; relative
  paths are relative to the manifest). An empty path cell is an input that becomes an error row
  (``manifest: ...``), keyed ``<manifest>#row=<n>``.

Files that are not ECGs are inputs too: the pipeline turns them into error rows. Each path is one
input however often it is named (first occurrence wins).
"""
from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError
from ..io.detect import standalone_format
from ..io.ecg_wfdb import parse_header_files, read_header_text
import pandas as pd

MANIFEST_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class Item:
    record_id: str
    path: str  # absolute; the resume key
    error: str | None = None  # the input itself is unusable (e.g. an empty manifest cell)


class InputList(list):
    """The items of :func:`expand_inputs`, with ``excluded``: {reason: count} of skipped entries."""

    def __init__(self, items: Iterable[Item] = (), excluded: Counter | None = None):
        super().__init__(items)
        self.excluded: Counter = excluded if excluded is not None else Counter()


def _named_signal_files(hea: str) -> set[str]:
    try:
        info = parse_header_files(read_header_text(Path(hea)), formats=False)
    except (OSError, InputError):
        return set()
    return {name for name, _, _ in info.signals if "/" not in name and name not in ("~", "-")}


def _is_standalone(path: str) -> bool:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return True  # a FIFO, device or dangling link is never a signal file: its own (error) row
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return True  # unreadable: let it have its own (error) row
    return standalone_format(head, os.path.splitext(path)[1]) not in (None, "xml")


def record_parts(folder: str | Path, files: list[str]) -> set[str]:
    """Names among ``files`` (of ``folder``) that are signal files of a WFDB record there: named by a
    header of the folder, or ``rec.dat`` / ``rec.mat`` beside ``rec.hea``; never a file whose content
    is an ECG of its own (XML, DICOM, NumPy). Headers are read only until every other file is
    accounted for (in the usual layouts, ``rec.hea`` + ``rec.dat``, none is read)."""
    folder = str(folder)
    headers = [f for f in files if f.lower().endswith(".hea")]
    if not headers:
        return set()
    others = [f for f in files if not f.lower().endswith(".hea")]
    stems = {h[:-4] for h in headers}
    by_stem = {f for f in others if f[-4:].lower() in (".dat", ".mat") and f[:-4] in stems}
    unclaimed = {f for f in others if f not in by_stem and not _is_standalone(os.path.join(folder, f))}
    named: set[str] = set()
    for h in headers:
        if not unclaimed:
            break
        got = _named_signal_files(os.path.join(folder, h)) & unclaimed
        named |= got
        unclaimed -= got
    return named | {f for f in by_stem if not _is_standalone(os.path.join(folder, f))}


def _record_id(name: str) -> str:
    return name[:-4] if name.lower().endswith(".hea") else name


def walk_dir(root: Path, *, skip: Iterable[str] = (), include_hidden: bool = False,
             excluded: Counter | None = None) -> Iterator[Item]:
    """Items of a directory tree, in sorted order (deterministic record ids). ``skip``: real paths of
    directories not to enter (the run's output)."""
    skip_real = {os.path.realpath(s) for s in skip}
    excluded = excluded if excluded is not None else Counter()
    top = os.path.abspath(root)
    for dirpath, dirnames, filenames in os.walk(top):
        keep = []
        for n in sorted(dirnames):
            if skip_real and os.path.realpath(os.path.join(dirpath, n)) in skip_real:
                excluded["output directory"] += 1
            elif n.startswith(".") and not include_hidden:
                excluded["hidden directories"] += 1
            else:
                keep.append(n)
        dirnames[:] = keep
        files = []
        for f in sorted(filenames):
            if f.startswith(".") and not include_hidden:
                excluded["hidden files"] += 1
            else:
                files.append(f)
        parts = record_parts(dirpath, files)
        rel_dir = os.path.relpath(dirpath, top)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for f in files:
            if f not in parts:
                yield Item(prefix + _record_id(f), os.path.join(dirpath, f))


def read_manifest(path: Path) -> Iterator[Item]:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 -- a broken manifest is the user's input error
        raise InputError(f"{path}: cannot read the manifest ({type(exc).__name__}: {exc})") from exc
    if "path" not in df.columns:
        raise InputError(f"{path}: a screening manifest needs a 'path' column (has {', '.join(map(str, df.columns))})")
    ids = df["record_id"].tolist() if "record_id" in df.columns else [None] * len(df)
    where = os.path.abspath(path)
    for i, (p, rid) in enumerate(zip(df["path"].tolist(), ids), start=1):
        rid = None if rid is None or (isinstance(rid, float) and rid != rid) or str(rid) == "" else str(rid)
        if p is None or (isinstance(p, float) and p != p) or not str(p).strip():
            yield Item(rid or f"{path.name}#row={i}", f"{where}#row={i}",
                       f"manifest: {path}: row {i} has an empty path")
            continue
        q = Path(str(p))
        if not q.is_absolute():
            q = path.parent / q
        yield Item(rid or _record_id(q.name), os.path.abspath(q))


def _inside(path: str, folder_abs: str) -> bool:
    return path == folder_abs or path.startswith(folder_abs.rstrip(os.sep) + os.sep)


def expand_inputs(inputs: Iterable[str | Path], *, out: str | Path | None = None,
                  include_hidden: bool = False) -> InputList:
    """Every input file of ``inputs`` once (first occurrence wins). ``out``: the run's output
    directory, never read as input (an input directory inside it is refused)."""
    excluded: Counter = Counter()
    result = InputList(excluded=excluded)
    seen: set[str] = set()
    out_abs = os.path.abspath(out) if out is not None else None
    out_real = os.path.realpath(out) if out is not None else None
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            if out is not None and (_inside(os.path.realpath(p), out_real) or _inside(os.path.abspath(p), out_abs)):
                raise InputError(f"{p}: the input directory lies inside the output directory {out}; "
                                 "choose an --out outside the inputs")
            items: Iterable[Item] = walk_dir(p, skip=[out] if out is not None else [],
                                             include_hidden=include_hidden, excluded=excluded)
        elif p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES:
            items = read_manifest(p)
        elif p.exists() or Path(str(p) + ".hea").exists():
            items = [Item(_record_id(p.name), os.path.abspath(p))]
        else:
            raise InputError(f"{p}: no such file or directory")
        for it in items:
            if out_abs is not None and (_inside(it.path, out_abs) or _inside(it.path, out_real)):
                excluded["inside the output directory"] += 1
                continue
            if it.path not in seen:
                seen.add(it.path)
                result.append(it)
    return result


__all__ = ["InputList", "Item", "expand_inputs", "read_manifest", "record_parts", "walk_dir"]
