"""Screening inputs -> one :class:`Item` per record to score.

An input is a file (any supported ECG format, detected from content when read), a directory (walked
recursively; every file is one input except the signal files a WFDB header names, which belong to
that header's record), or a manifest (``.csv`` / ``.parquet`` with a ``path`` column and optionally
``record_id``; relative paths are relative to the manifest). Files that are not ECGs still yield an
item: the pipeline turns them into an error row, so every file gets exactly one row.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError

MANIFEST_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class Item:
    record_id: str
    path: str  # absolute


def _header_companions(hea: Path) -> set[str]:
    """File names of the signal files a WFDB header refers to (same directory)."""
    names: set[str] = set()
    try:
        with open(hea, "rb") as fh:
            text = fh.read(64 * 1024).decode("latin-1", errors="replace")
    except OSError:
        return names
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for ln in lines[1:]:
        tok = ln.split()
        if tok and "/" not in tok[0] and tok[0] not in ("~", "-"):
            names.add(tok[0])
    return names


def _record_id(path: Path, root: Path | None) -> str:
    rel = path.relative_to(root).as_posix() if root is not None else path.name
    return rel[:-4] if rel.lower().endswith(".hea") else rel


def walk_dir(root: Path) -> Iterator[Item]:
    """Items of a directory tree, in sorted order (deterministic record ids)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        d = Path(dirpath)
        files = sorted(f for f in filenames if not f.startswith("."))
        companions: set[str] = set()
        for f in files:
            if f.lower().endswith(".hea"):
                companions |= _header_companions(d / f)
                stem = f[:-4]
                companions |= {stem + ".mat", stem + ".dat"}  # CinC headers name rec.mat; be lenient
        for f in files:
            if f in companions and not f.lower().endswith(".hea"):
                continue
            p = d / f
            yield Item(_record_id(p, root), os.path.abspath(p))


def read_manifest(path: Path) -> Iterator[Item]:
    import pandas as pd

    df = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    if "path" not in df.columns:
        raise InputError(f"{path}: a screening manifest needs a 'path' column (has {', '.join(map(str, df.columns))})")
    ids = df["record_id"].astype(str).tolist() if "record_id" in df.columns else None
    for i, p in enumerate(df["path"].astype(str).tolist()):
        q = Path(p)
        if not q.is_absolute():
            q = path.parent / q
        yield Item(ids[i] if ids else _record_id(q, None), os.path.abspath(q))


def expand_inputs(inputs: Iterable[str | Path]) -> list[Item]:
    """Every record of the inputs, each path once (first occurrence wins)."""
    seen: set[str] = set()
    out: list[Item] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            items: Iterable[Item] = walk_dir(p)
        elif p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES:
            items = read_manifest(p)
        elif p.exists() or Path(str(p) + ".hea").exists():
            items = [Item(_record_id(p, None), os.path.abspath(p))]
        else:
            raise InputError(f"{p}: no such file or directory")
        for it in items:
            if it.path not in seen:
                seen.add(it.path)
                out.append(it)
    return out


__all__ = ["Item", "expand_inputs", "read_manifest", "walk_dir"]
