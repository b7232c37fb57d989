"""The screening output: a directory of Parquet shards committed atomically, resumable, mergeable.

Layout of ``OUT``::

    OUT/shards/part-<run>-<seq>.parquet   committed shards (immutable)
    OUT/shards/.tmp-*                     a shard being written (deleted on the next start)
    OUT/screen.parquet                    the merged file (on request)
    OUT/summary.json                      the last run's summary

A shard is written to a temporary file, fsynced, renamed into place (``os.replace`` is atomic on
POSIX) and the directory fsynced: after a SIGKILL at any point a shard is either fully there or not
at all. Resume reads the ``path`` column of the committed shards and skips those records; reading
(and merging) keeps the first row per path, so even a duplicate could never reach the output.

Fault injection (for the kill-resume test, so its kills land at known points instead of racing a
timer): ``CARDIONETS_FAILPOINT=<point>:<n>`` makes the process SIGKILL itself at the n-th time it
reaches ``<point>`` in this process, where ``<point>`` is ``before_rename`` (a shard's temp file is
written and fsynced, not yet renamed) or ``after_commit`` (the shard and its directory entry are
durable). Unset, it costs one dictionary lookup per shard.
"""
from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .records import Loaded

BASE_COLUMNS = ["record_id", "path", "error", "quality_flags", "quality", "fs", "n_leads", "duration_s",
                "model_version"]


def schema(phenotype_names: list[str], disease_names: list[str]) -> pa.Schema:
    fields = [pa.field("record_id", pa.string()), pa.field("path", pa.string()), pa.field("error", pa.string()),
              pa.field("quality_flags", pa.int32()), pa.field("quality", pa.string()),
              pa.field("fs", pa.float64()), pa.field("n_leads", pa.int32()), pa.field("duration_s", pa.float64()),
              pa.field("model_version", pa.string())]
    fields += [pa.field(f"phenotype.{n}", pa.float32()) for n in phenotype_names]
    fields += [pa.field(f"prob.{n}", pa.float32()) for n in disease_names]
    return pa.schema(fields)


def rows_table(loaded: list[Loaded], phen: np.ndarray | None, prob: np.ndarray | None, *, sch: pa.Schema,
               version: str, errors: list[str | None] | None = None) -> pa.Table:
    """One row per Loaded; ``phen``/``prob`` [N, P]/[N, D] (NaN rows for errors)."""
    from .. import dsp

    n = len(loaded)
    err = [errors[i] if errors is not None and errors[i] else loaded[i].error for i in range(n)]
    cols: dict[str, list | np.ndarray] = {
        "record_id": [x.item.record_id for x in loaded], "path": [x.item.path for x in loaded], "error": err,
        "quality_flags": np.asarray([x.flags for x in loaded], np.int32),
        "quality": [",".join(dsp.describe_flags(x.flags)) for x in loaded],
        "fs": np.asarray([x.fs for x in loaded], np.float64), "n_leads": np.asarray([x.n_leads for x in loaded], np.int32),
        "duration_s": np.asarray([x.duration_s for x in loaded], np.float64), "model_version": [version] * n,
    }
    pn = [f.name for f in sch if f.name.startswith("phenotype.")]
    dn = [f.name for f in sch if f.name.startswith("prob.")]
    phen = np.full((n, len(pn)), np.nan, np.float32) if phen is None else np.asarray(phen, np.float32)
    prob = np.full((n, len(dn)), np.nan, np.float32) if prob is None else np.asarray(prob, np.float32)
    bad = np.asarray([e is not None for e in err], bool)
    phen = phen.copy()
    prob = prob.copy()
    phen[bad] = np.nan
    prob[bad] = np.nan
    for j, name in enumerate(pn):
        cols[name] = phen[:, j]
    for j, name in enumerate(dn):
        cols[name] = prob[:, j]
    return pa.table(cols, schema=sch)


FAILPOINT_ENV = "CARDIONETS_FAILPOINT"
FAILPOINTS = ("before_rename", "after_commit")
_hits: dict[str, int] = {}


def failpoint(point: str) -> None:
    """SIGKILL this process if ``$CARDIONETS_FAILPOINT`` names ``point`` and this is its n-th hit."""
    spec = os.environ.get(FAILPOINT_ENV)
    if not spec:
        return
    name, _, n = spec.partition(":")
    if name not in FAILPOINTS:
        raise ValueError(f"{FAILPOINT_ENV}={spec!r}: unknown point {name!r} (known: {', '.join(FAILPOINTS)})")
    try:
        target = int(n or "1")
    except ValueError:
        raise ValueError(f"{FAILPOINT_ENV}={spec!r}: the hit count after ':' must be an integer") from None
    if name != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] == target:
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_table(table: pa.Table, dest: Path) -> None:
    """Write ``table`` to ``dest`` via temp file + fsync + rename + directory fsync."""
    tmp = dest.parent / f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    failpoint("before_rename")
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)


class ShardStore:
    """Committed shards of one output directory."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.dir = self.out / "shards"
        self.dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.dir.glob(".tmp-*"):  # an interrupted write: never committed
            tmp.unlink(missing_ok=True)
        self.run = uuid.uuid4().hex[:8]
        self.seq = 0

    def shard_files(self) -> list[Path]:
        return sorted(self.dir.glob("part-*.parquet"))

    def done_paths(self) -> set[str]:
        done: set[str] = set()
        for f in self.shard_files():
            done.update(pq.read_table(f, columns=["path"]).column("path").to_pylist())
        return done

    def commit(self, table: pa.Table) -> Path:
        dest = self.dir / f"part-{self.run}-{self.seq:06d}.parquet"
        self.seq += 1
        atomic_write_table(table, dest)
        failpoint("after_commit")
        return dest

    def read_all(self) -> pa.Table:
        """Every committed row, first row per path, sorted by record id then path."""
        files = self.shard_files()
        if not files:
            raise FileNotFoundError(f"{self.dir}: no committed shards")
        import pandas as pd

        df = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
        df = df.drop_duplicates("path", keep="first").sort_values(["record_id", "path"], kind="stable")
        return pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)

    def merge(self, name: str = "screen.parquet") -> Path:
        dest = self.out / name
        atomic_write_table(self.read_all(), dest)
        return dest


__all__ = ["BASE_COLUMNS", "ShardStore", "atomic_write_table", "rows_table", "schema"]
