"""A user's phenotype table (e.g. the output of a CMR segmentation pipeline) mapped onto the
engine's 82 phenotype names.

``--phenotype-columns`` is either ``source=TARGET`` pairs separated by commas
(``LV_EDV_ml=LVEDV,LV_EF=LVEF``) or a CSV file with columns ``column, phenotype``. Columns already
named like a phenotype map to themselves. A mapping to an unknown phenotype name, or from a column
the table does not have, is an error; other columns of the table are ignored and listed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.schema import PHENOTYPE_NAMES
from ..errors import InputError
from .common import read_table

KEY_COLUMNS = ("eid", "subject_id", "participant_id", "exam_id")


def parse_mapping(spec: str | None) -> dict[str, str]:
    """{table column: phenotype name} from ``a=B,c=D`` or a CSV file (column, phenotype)."""
    if not spec:
        return {}
    p = Path(spec)
    pairs: list[tuple[str, str]] = []
    if p.is_file():
        df = read_table(p)
        if not {"column", "phenotype"} <= set(df.columns):
            raise InputError(f"{p}: a phenotype column mapping needs the columns 'column' and 'phenotype'")
        pairs = [(str(a), str(b)) for a, b in zip(df["column"], df["phenotype"])]
    else:
        for part in spec.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(f"--phenotype-columns: {part!r} is not SOURCE=PHENOTYPE")
            a, b = part.split("=", 1)
            pairs.append((a.strip(), b.strip()))
    unknown = [b for _, b in pairs if b not in PHENOTYPE_NAMES]
    if unknown:
        raise InputError(f"--phenotype-columns maps to unknown phenotype name(s) {unknown}; names are "
                         f"cardionets.data.PHENOTYPE_NAMES (e.g. {', '.join(PHENOTYPE_NAMES[:5])}, ...)")
    return dict(pairs)


def load_phenotype_table(path: Path, mapping: dict[str, str], key: str | None = None
                         ) -> tuple[dict[str, dict[str, float]], list[str], dict[str, list[str]]]:
    """({subject key: {phenotype: value}}, warnings, {subject key: [problems]}) of a user table."""
    df = read_table(path)
    key = key or next((k for k in KEY_COLUMNS if k in df.columns), None)
    if key is None or key not in df.columns:
        raise InputError(f"{path}: no subject key column ({' / '.join(KEY_COLUMNS)}); has {list(df.columns)[:10]}")
    cols = {c: c for c in df.columns if c in PHENOTYPE_NAMES}
    missing = [c for c in mapping if c not in df.columns]
    if missing:
        raise InputError(f"{path}: mapped column(s) {missing} are not in the table (columns: {list(df.columns)[:12]})")
    cols.update(mapping)
    if not cols:
        raise InputError(f"{path}: no column is a phenotype name or mapped to one (use --phenotype-columns)")
    ignored = [c for c in df.columns if c not in cols and c != key]
    warnings = [f"{path.name}: columns ignored (not mapped to a phenotype): {ignored[:20]}"] if ignored else []
    if df[key].astype(str).duplicated().any():
        dup = df.loc[df[key].astype(str).duplicated(), key].iloc[0]
        raise InputError(f"{path}: subject {dup!r} appears twice")
    values: dict[str, dict[str, float]] = {}
    problems: dict[str, list[str]] = {}
    for _, row in df.iterrows():
        sid = str(row[key]).strip()
        if sid.endswith(".0") and sid[:-2].isdigit():
            sid = sid[:-2]
        out: dict[str, float] = {}
        for src, name in cols.items():
            v = pd.to_numeric(pd.Series([row[src]]), errors="coerce").iloc[0]
            if pd.isna(v) and not pd.isna(row[src]) and str(row[src]).strip():
                problems.setdefault(sid, []).append(f"{path.name} column {src!r} value {row[src]!r} is not a number")
            out[name] = float(v) if np.isfinite(v) else np.nan
        values[sid] = out
    return values, warnings, problems


__all__ = ["KEY_COLUMNS", "load_phenotype_table", "parse_mapping"]
