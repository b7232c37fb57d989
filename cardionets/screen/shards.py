"""The screening output: a directory of Parquet shards committed atomically, resumable, mergeable.

Layout of ``OUT``::

    OUT/.lock                             held (flock) by the run writing here; a second run refuses
    OUT/run.json                          the run manifest: what produced the rows (model version,
                                          precision, engine, preprocessing, cardionets version)
    OUT/shards/part-<run>-<seq>.parquet   committed shards (immutable, page checksums, the manifest
                                          in their metadata)
    OUT/shards/.tmp-*                     a shard being written (deleted on the next start)
    OUT/quarantine/                       shards that failed verification (their records are redone)
    OUT/screen.parquet                    the merged file (on request)
    OUT/summary.json                      the last run's summary

A shard is written to a temporary file, fsynced, renamed into place (``os.replace`` is atomic on
POSIX) and the directory fsynced: after a SIGKILL at any point a shard is either fully there or not
at all. On start (:meth:`ShardStore.open_run`, under the lock) every shard is read in full with its
page checksums verified: a shard that does not read back (truncated, corrupted, not Parquet) is
moved to ``quarantine/`` and its records are screened again; a shard written under another run
manifest makes the run refuse, because resuming would mix two models or settings in one output.
Resume skips the records the verified shards hold; reading (and merging) keeps the first row per
path, so even a duplicate could never reach the output.

Fault injection (for the kill-resume test, so its kills land at known points instead of racing a
timer): ``CARDIONETS_FAILPOINT=<point>:<n>`` makes the process SIGKILL itself at the n-th time it
reaches ``<point>`` in this process, where ``<point>`` is ``before_rename`` (a shard's temp file is
written and fsynced, not yet renamed) or ``after_commit`` (the shard and its directory entry are
durable). Unset, it costs one dictionary lookup per shard.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import CardioNetsError, OutputInUse
from .records import Loaded
from .. import dsp
import pandas as pd

log = logging.getLogger(__name__)

BASE_COLUMNS = ["record_id", "path", "error", "quality_flags", "quality", "fs", "n_leads", "duration_s",
                "model_version", "precision"]
RUN_KEY = b"cardionets.run"  # shard metadata: the run manifest's identity (JSON)


def schema(phenotype_names: list[str], disease_names: list[str]) -> pa.Schema:
    fields = [pa.field("record_id", pa.string()), pa.field("path", pa.string()), pa.field("error", pa.string()),
              pa.field("quality_flags", pa.int32()), pa.field("quality", pa.string()),
              pa.field("fs", pa.float64()), pa.field("n_leads", pa.int32()), pa.field("duration_s", pa.float64()),
              pa.field("model_version", pa.string()), pa.field("precision", pa.string())]
    fields += [pa.field(f"phenotype.{n}", pa.float32()) for n in phenotype_names]
    fields += [pa.field(f"prob.{n}", pa.float32()) for n in disease_names]
    return pa.schema(fields)


def rows_table(loaded: list[Loaded], phen: np.ndarray | None, prob: np.ndarray | None, *, sch: pa.Schema,
               version: str, precision: str = "fp32", errors: list[str | None] | None = None) -> pa.Table:
    """One row per Loaded; ``phen``/``prob`` [N, P]/[N, D] (NaN rows for errors)."""
    n = len(loaded)
    err = [errors[i] if errors is not None and errors[i] else loaded[i].error for i in range(n)]
    cols: dict[str, list | np.ndarray] = {
        "record_id": [x.item.record_id for x in loaded], "path": [x.item.path for x in loaded], "error": err,
        "quality_flags": np.asarray([x.flags for x in loaded], np.int32),
        "quality": [",".join(dsp.describe_flags(x.flags)) for x in loaded],
        "fs": np.asarray([x.fs for x in loaded], np.float64), "n_leads": np.asarray([x.n_leads for x in loaded], np.int32),
        "duration_s": np.asarray([x.duration_s for x in loaded], np.float64), "model_version": [version] * n,
        "precision": [precision] * n,
    }
    pn = [f.name for f in sch if f.name.startswith("phenotype.")]
    dn = [f.name for f in sch if f.name.startswith("prob.")]
    phen = np.full((n, len(pn)), np.nan, np.float32) if phen is None else np.array(phen, np.float32)
    prob = np.full((n, len(dn)), np.nan, np.float32) if prob is None else np.array(prob, np.float32)
    bad = np.asarray([e is not None for e in err], bool)
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
    """Write ``table`` to ``dest`` via temp file + fsync + rename + directory fsync (page checksums on)."""
    tmp = dest.parent / f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression="zstd", write_page_checksum=True)
        fh.flush()
        os.fsync(fh.fileno())
    failpoint("before_rename")
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)


def atomic_write_text(text: str, dest: Path) -> None:
    tmp = dest.parent / f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)


def read_verified(f: Path, columns: list[str] | None = None) -> pa.Table:
    """A shard read back in full with its page checksums verified (raises on any damage)."""
    pf = pq.ParquetFile(f, page_checksum_verification=True)
    table = pf.read()
    if table.num_rows != pf.metadata.num_rows or "path" not in table.column_names or table["path"].null_count:
        raise CardioNetsError(f"{f}: {table.num_rows} rows read, {pf.metadata.num_rows} in its footer, or null paths")
    return table.select(columns) if columns else table


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k} {vb!r} there, {va!r} now")
    return out


class ShardStore:
    """Committed shards of one output directory. Writing runs hold its lock (:meth:`lock`)."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.dir = self.out / "shards"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputInUse(f"{self.out}: cannot be used as the output directory ({exc.strerror or exc})") from None
        self.run = uuid.uuid4().hex[:8]
        self.seq = 0
        self._lock_fd: int | None = None
        self._metadata: dict[bytes, bytes] | None = None
        if self._try_lock():  # nobody is writing: leftovers of an interrupted write can go
            self._remove_temp_files()
            self.unlock()

    # -- the lock ---------------------------------------------------------------------------
    def _try_lock(self) -> bool:
        fd = os.open(self.out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def lock(self) -> "ShardStore":
        """Take the output directory for this process (released by :meth:`unlock` or at exit, also
        after a kill); OutputInUse when another run holds it."""
        if self._lock_fd is not None:
            return self
        if not self._try_lock():
            holder = (self.out / ".lock").read_text(errors="replace").strip() or "holder unknown"
            raise OutputInUse(f"{self.out}: another `cardionets screen` run is writing to this output directory "
                              f"({holder}); wait for it to finish or choose another --out")
        fd = self._lock_fd
        assert fd is not None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        self._remove_temp_files()
        return self

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "ShardStore":
        return self.lock()

    def __exit__(self, *exc: Any) -> None:
        self.unlock()

    def _remove_temp_files(self) -> None:
        for tmp in list(self.dir.glob(".tmp-*")) + list(self.out.glob(".tmp-*")):  # never committed
            tmp.unlink(missing_ok=True)

    # -- the run manifest and verification ----------------------------------------------------
    def open_run(self, identity: dict, details: dict | None = None) -> tuple[set[str], list[str]]:
        """Under the lock: check ``identity`` (what produces this run's rows) against ``run.json`` and
        every shard, verify every shard, quarantine the damaged ones. Returns (paths already done,
        names of the shards quarantined now); OutputInUse when the output holds another configuration."""
        if self._lock_fd is None:
            raise CardioNetsError(f"{self.out}: open_run needs the lock (ShardStore.lock())")
        identity = json.loads(json.dumps(identity, sort_keys=True))
        run_file = self.out / "run.json"
        if run_file.exists() and self.shard_files():  # with no rows yet, a new manifest replaces it
            try:
                stored = json.loads(run_file.read_text())["identity"]
            except (ValueError, KeyError, TypeError) as exc:
                raise OutputInUse(f"{run_file}: unreadable run manifest ({exc}); move it away to rebuild it "
                                  "from the shards") from None
            self._refuse_if_different(identity, stored, str(run_file))
        done: set[str] = set()
        quarantined: list[str] = []
        for f in self.shard_files():
            try:
                table = read_verified(f)
                meta = table.schema.metadata or {}
            except Exception as exc:  # noqa: BLE001 -- any damage: quarantine, redo its records
                quarantined.append(self._quarantine(f, exc))
                continue
            stored = json.loads(meta[RUN_KEY]) if RUN_KEY in meta else None
            self._refuse_if_different(identity, stored, str(f))
            done.update(table.column("path").to_pylist())
        if not run_file.exists() or not done:
            atomic_write_text(json.dumps({"identity": identity, **(details or {})}, indent=1, default=str) + "\n",
                              run_file)
        self._metadata = {RUN_KEY: json.dumps(identity, sort_keys=True).encode()}
        return done, quarantined

    def _refuse_if_different(self, now: dict, stored: dict | None, where: str) -> None:
        if stored == now:
            return
        if stored is None:
            diff = "it carries no run manifest (written by an older cardionets)"
        else:
            diff = "; ".join(_differences(now, stored))
        raise OutputInUse(f"{self.out} holds results of another run configuration ({where}: {diff}). Resuming "
                          "would mix them with this run's; choose another --out, or move the old results away.")

    def _quarantine(self, f: Path, exc: BaseException) -> str:
        qdir = self.out / "quarantine"
        qdir.mkdir(exist_ok=True)
        os.replace(f, qdir / f.name)
        _fsync_dir(self.dir)
        log.warning("%s: shard does not read back (%s: %s); moved to %s, its records will be screened again",
                    f, type(exc).__name__, str(exc)[:200], qdir)
        return f.name

    # -- shards ---------------------------------------------------------------------------------
    def shard_files(self) -> list[Path]:
        return sorted(self.dir.glob("part-*.parquet"))

    def done_paths(self) -> set[str]:
        """Paths in the shards that read back (no verification of checksums; see :meth:`open_run`)."""
        done: set[str] = set()
        for f in self.shard_files():
            try:
                done.update(pq.read_table(f, columns=["path"]).column("path").to_pylist())
            except Exception:  # noqa: BLE001 -- a damaged shard holds nothing done
                continue
        return done

    def commit(self, table: pa.Table) -> Path:
        if self._metadata is not None:
            table = table.replace_schema_metadata(self._metadata)
        dest = self.dir / f"part-{self.run}-{self.seq:06d}.parquet"
        self.seq += 1
        atomic_write_table(table, dest)
        failpoint("after_commit")
        return dest

    def read_all(self) -> pa.Table:
        """Every committed row, first row per path, sorted by record id then path."""
        files = self.shard_files()
        if not files:
            raise CardioNetsError(f"{self.dir}: no committed shards")
        frames = []
        for f in files:
            try:
                frames.append(read_verified(f).to_pandas())
            except CardioNetsError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise CardioNetsError(f"{f}: damaged shard ({type(exc).__name__}: {exc}); rerun `cardionets "
                                      "screen` on this output to quarantine it and redo its records") from exc
        df = pd.concat(frames, ignore_index=True)
        df = df.drop_duplicates("path", keep="first").sort_values(["record_id", "path"], kind="stable")
        return pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)

    def merge(self, name: str = "screen.parquet") -> Path:
        dest = self.out / name
        table = self.read_all()
        if self._metadata is not None:
            table = table.replace_schema_metadata(self._metadata)
        atomic_write_table(table, dest)
        return dest


__all__ = ["BASE_COLUMNS", "ShardStore", "atomic_write_table", "read_verified", "rows_table", "schema"]
