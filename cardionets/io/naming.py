"""Output names for per-input files (``read-ecg --preprocess-to``, ``generate``) that never collide.

Each input is named by its stem (``HR06001.hea`` -> ``HR06001``) when no other input shares that
stem; inputs that share one are named by their path relative to the inputs' common folder, with the
folder separators and the extension's dot turned into ``__`` (``a/rec.hea``, ``b/rec.hea`` ->
``a__rec__hea``, ``b__rec__hea``; ``rec.hea``, ``rec.xml`` -> ``rec__hea``, ``rec__xml``). The same
path given twice gets one name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence


def _stem(p: Path) -> str:
    return p.name.split(".")[0] or p.name


def output_names(paths: Sequence[str | Path]) -> list[str]:
    """One file-name stem per path, unique across different paths (see the module docstring)."""
    absolute = [os.path.abspath(p) for p in paths]
    stems = [_stem(Path(p)) for p in absolute]
    owners: dict[str, set[str]] = {}
    for s, a in zip(stems, absolute):
        owners.setdefault(s, set()).add(a)
    clashing = sorted({a for s, a in zip(stems, absolute) if len(owners[s]) > 1})
    if not clashing:
        return stems
    root = os.path.commonpath([os.path.dirname(a) for a in clashing])
    long = {a: os.path.relpath(a, root).replace(os.sep, "__").replace(".", "__") for a in clashing}
    out: list[str] = []
    taken: dict[str, str] = {}  # name -> the path it names
    for s, a in zip(stems, absolute):
        name, k = long.get(a, s), 2
        while taken.get(name, a) != a:  # a long name equal to another input's stem: suffix it
            name, k = f"{long.get(a, s)}-{k}", k + 1
        taken[name] = a
        out.append(name)
    return out


__all__ = ["output_names"]
