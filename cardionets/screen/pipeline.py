"""The local streaming screening pipeline.

::

    items --(chunk index)--> reader threads: read + native preprocess (records.load_chunk)
          --bounded queue--> model stage (this thread): batches of crops -> ScreenModel / ONNX Runtime
          --bounded queue--> writer thread: atomic Parquet shards (shards.ShardStore)

Both queues are bounded, so memory is flat in the number of inputs (at most ``queue_chunks`` chunks
of preprocessed crops, one batch and two shards of rows in flight). Native reading / preprocessing and
torch release the GIL, so the stages overlap on threads. Every item yields exactly one row, whatever
fails: reading and preprocessing are per record (records.py), and a batch the model cannot score is
scored record by record (model.score_isolated). With no model (``model=None``, ``--preprocess-only``)
rows carry the read and quality results only.

:func:`screen` holds the output directory's lock for the whole run, checks the run manifest against
what is already there, and skips what the verified shards hold (see :mod:`.shards`).
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from ..errors import CardioNetsError
from ..preprocess import DEFAULT_SPEC, PreprocessSpec
from .inputs import Item, expand_inputs
from .memory import HeapTrimmer
from .records import Loaded, load_chunk
from .shards import ShardStore, rows_table, schema
from .model import load_screen_model, make_runner, score_isolated
from ..device.policy import resolve_device
from .batching import auto_batch_size
from ..export.onnx import export_onnx
from .engines import engine_for
from .ray_engine import screen_ray
from tqdm import tqdm
import pyarrow as pa
import hashlib

_END = object()
log = logging.getLogger(__name__)
GPU_BATCH = 64  # default records per model batch on a GPU (the TensorRT profile's largest batch)


@dataclass
class Summary:
    inputs: int = 0
    skipped_done: int = 0
    processed: int = 0
    ok: int = 0
    ok_with_flags: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    records_per_s: float = 0.0
    read_preprocess_s: float = 0.0  # summed over reader threads
    model_s: float = 0.0
    write_s: float = 0.0
    shards_written: int = 0
    engine: str = "local"
    precision: str = "fp32"
    batch_size: int = 0  # records per model batch (chosen by auto_batch_size unless given)
    device: str = ""   # where the model ran (--device resolved)
    runtime: str = ""  # what ran it: torch, ONNX Runtime with its providers, or a TensorRT engine
    model_version: str = ""
    model_runs: dict[str, str] = field(default_factory=dict)  # task -> run directory
    excluded: dict[str, int] = field(default_factory=dict)  # inputs skipped by rule (hidden, the output dir)
    quarantined: list[str] = field(default_factory=list)  # damaged shards moved aside (records redone)
    merged: str | None = None

    def text(self) -> str:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        excl = ", ".join(f"{k} {v}" for k, v in sorted(self.excluded.items()))
        return (f"screened {self.processed} record(s) in {self.wall_s:.1f} s ({self.records_per_s:.1f} records/s); "
                f"{self.skipped_done} already done; ok {self.ok} (with non-fatal quality flags {self.ok_with_flags}); "
                f"errors: {errs}; time read+preprocess {self.read_preprocess_s:.1f} s (reader threads), "
                f"model {self.model_s:.1f} s (batches of {self.batch_size}), write {self.write_s:.1f} s; "
                f"{self.shards_written} shard(s); model: {self.runtime or self.precision}"
                + (f"; not inputs by rule: {excl}" if excl else "")
                + (f"; quarantined {len(self.quarantined)} damaged shard(s), their records redone"
                   if self.quarantined else "")
                + (f"; merged -> {self.merged}" if self.merged else ""))

    def tally(self, table: Any, codes: Counter) -> None:
        """Count a written table's rows: ok (and ok with non-fatal flags) here, errors by code in ``codes``."""
        for e, q in zip(table.column("error").to_pylist(), table.column("quality_flags").to_pylist()):
            if e is None:
                self.ok += 1
                self.ok_with_flags += int(q != 0)
            else:
                codes[_error_code(e)] += 1


def _error_code(err: str) -> str:
    return err.split(":", 1)[0]


@dataclass
class _Stats:
    read_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _reader(chunks: list[Sequence[Item]], next_idx: list[int], idx_lock: threading.Lock, out_q: queue.Queue,
            spec: PreprocessSpec, stats: _Stats, stop: threading.Event) -> None:
    while not stop.is_set():
        with idx_lock:
            i = next_idx[0]
            next_idx[0] += 1
        if i >= len(chunks):
            break
        t0 = time.perf_counter()
        try:
            loaded = load_chunk(chunks[i], spec, threads=1)
        except Exception as exc:  # noqa: BLE001 -- never lose a record: the chunk becomes error rows
            loaded = [Loaded(it, None, 0, f"internal: {type(exc).__name__}: {exc}") for it in chunks[i]]
        with stats.lock:
            stats.read_s += time.perf_counter() - t0
        while not stop.is_set():
            try:
                out_q.put(loaded, timeout=0.2)
                break
            except queue.Full:
                continue
    out_q.put(_END)


def _writer(in_q: queue.Queue, store: ShardStore, summary: Summary, failure: list) -> None:
    while True:
        table = in_q.get()
        if table is _END:
            return
        if failure:
            continue
        t0 = time.perf_counter()
        try:
            store.commit(table)
            summary.shards_written += 1
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            failure.append(exc)
        summary.write_s += time.perf_counter() - t0


def screen_local(items: list[Item], model: Any, runner: Any, store: ShardStore, *, batch_size: int = 16,
                 shard_size: int = 1024, readers: int = 1, chunk: int = 16, spec: PreprocessSpec = DEFAULT_SPEC,
                 queue_chunks: int = 4,
                 progress: bool = True, summary: Summary | None = None, precision: str = "fp32") -> Summary:
    """Score ``items`` (already filtered for resume) into committed shards of ``store``; ``model`` None
    writes the read and quality results only."""
    summary = summary or Summary()
    phen_names, dis_names = (model.phenotype_names, model.disease_names) if model is not None else ([], [])
    version = model.version if model is not None else "none"
    sch = schema(phen_names, dis_names)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    load_q: queue.Queue = queue.Queue(maxsize=max(1, queue_chunks))
    write_q: queue.Queue = queue.Queue(maxsize=2)
    stats, stop, failure = _Stats(), threading.Event(), []
    next_idx, idx_lock = [0], threading.Lock()
    n_readers = max(1, min(readers, len(chunks))) if chunks else 0
    threads = [threading.Thread(target=_reader, args=(chunks, next_idx, idx_lock, load_q, spec, stats, stop),
                                daemon=True, name=f"screen-reader-{k}") for k in range(n_readers)]
    wthread = threading.Thread(target=_writer, args=(write_q, store, summary, failure), daemon=True,
                               name="screen-writer")
    for t in threads:
        t.start()
    wthread.start()
    bar = tqdm(total=len(items), unit="rec", desc="screen", disable=not progress, smoothing=0.1, dynamic_ncols=True)
    pending: list[Loaded] = []  # scoreable records waiting for a batch
    tables: list[Any] = []
    n_rows = 0
    codes: Counter = Counter()

    trim = HeapTrimmer()

    def emit(table) -> None:
        nonlocal n_rows
        trim()  # keeps the resident memory at the live set (see .memory)
        tables.append(table)
        n_rows += table.num_rows
        summary.tally(table, codes)
        summary.processed += table.num_rows
        bar.update(table.num_rows)
        if n_rows >= shard_size:
            flush()

    def flush() -> None:
        nonlocal n_rows
        if not tables:
            return
        write_q.put(pa.concat_tables(tables))
        tables.clear()
        n_rows = 0
        if failure:
            raise failure[0]

    def run_batch(batch: list[Loaded]) -> None:
        t0 = time.perf_counter()
        phen, prob, errors = score_isolated(runner, [b.crops for b in batch], len(phen_names), len(dis_names))
        summary.model_s += time.perf_counter() - t0
        emit(rows_table(batch, phen, prob, sch=sch, version=version, precision=precision, errors=errors))

    finished = 0
    try:
        while finished < n_readers:
            got = load_q.get()
            if got is _END:
                finished += 1
                continue
            if model is None:  # preprocess-only: every record is a finished row
                emit(rows_table(got, None, None, sch=sch, version=version, precision=precision))
                continue
            bad = [x for x in got if x.error is not None]
            pending += [x for x in got if x.error is None]
            if bad:
                emit(rows_table(bad, None, None, sch=sch, version=version, precision=precision))
            while len(pending) >= batch_size:
                run_batch(pending[:batch_size])
                pending = pending[batch_size:]
        if pending:
            run_batch(pending)
            pending = []
        flush()
    finally:
        stop.set()
        write_q.put(_END)
        wthread.join()
        bar.close()
    if failure:
        raise failure[0]
    summary.read_preprocess_s += stats.read_s
    for k, v in codes.items():
        summary.errors[k] = summary.errors.get(k, 0) + v
    return summary


def run_identity(model: Any, precision: str, engine: str, spec: PreprocessSpec, onnx_path: str | Path | None,
                 device: str = "cpu") -> dict:
    """What a run's rows depend on; a resume must match it exactly (shards.ShardStore.open_run):
    model version, precision, engine, the kind of device the model runs on, the preprocessing spec
    (evaluation crops), the cardionets version, and the ONNX file's hash with ``precision="onnx"``."""
    ident = {"model_version": model.version if model is not None else "none",
             "precision": precision if model is not None else "none", "engine": engine,
             "device": str(device) if model is not None else "none",
             "preprocessing": {**spec.to_dict(), "crops": "eval"},
             "cardionets": __version__}
    if model is not None and precision == "onnx" and onnx_path is not None:
        ident["onnx_sha256"] = hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest()[:16]
    return ident


def screen(inputs: Sequence[str | Path], model: str | Path | Sequence[str | Path] | None, out: str | Path, *,
           engine: str = "local", precision: str = "fp32", batch_size: int | None = None, shard_size: int = 1024,
           readers: int = 1, threads: int | None = None, chunk: int = 16, n_crops: int | None = None, merge: bool = False,
           onnx_path: str | Path | None = None, progress: bool = True, limit: int | None = None,
           ray_address: str | None = None, ray_actors: int = 1, device: str = "auto",
           engine_path: str | Path | None = None, include_hidden: bool = False) -> Summary:
    """Screen every input file of ``inputs`` with the model at ``model`` into the Parquet dataset ``out``.

    ``model``: a run directory, a directory of runs (one per task; several for one task is an error)
    or a list of run directories; None reads and preprocesses only (quality rows, no predictions).
    ``device`` (auto | cpu | cuda[:N]) is where the model runs. ``precision="onnx"`` / ``"tensorrt"``
    run ``onnx_path`` / ``engine_path``, or one exported / built into ``out`` when none is given.
    Records are preprocessed with the model's spec (its run records; the default spec without a model);
    ``n_crops`` overrides its evaluation crops. ``batch_size`` None sizes the model batch to the CPU's L2 cache (:func:`.batching.auto_batch_size`),
    or 64 records on a GPU. Resumable: records already in ``out`` are skipped, provided ``out`` was
    written with the same run manifest (:func:`run_identity`; else OutputInUse). ``out`` is locked for
    the run's duration. Returns the run's :class:`Summary` (also written to ``out/summary.json``).
    """
    t0 = time.perf_counter()
    if engine not in ("local", "ray"):
        raise CardioNetsError(f"unknown engine {engine!r}; choose 'local' or 'ray'")
    if batch_size is not None and int(batch_size) < 1:
        raise CardioNetsError(f"batch_size must be >= 1, got {batch_size}")
    if model is None and engine != "local":
        raise CardioNetsError("preprocess-only screening runs on the local engine")
    with ShardStore(out) as store:
        items = expand_inputs(inputs, out=out, include_hidden=include_hidden)
        smodel = runner = dev = None
        if model is not None:
            import torch

            if threads:
                torch.set_num_threads(int(threads))
            smodel = load_screen_model(model)
            for task, run_dir in smodel.runs.items():
                log.info("model for %s: %s", task, run_dir)
        spec = smodel.spec if smodel is not None else DEFAULT_SPEC
        spec = spec if n_crops is None else spec.with_(n_crops=int(n_crops))
        if smodel is not None:
            dev = resolve_device(device) if engine == "local" else None  # Ray actors resolve it on their nodes
            if batch_size is None:
                batch_size = GPU_BATCH if dev is not None and dev.type == "cuda" else auto_batch_size(smodel, spec.n_crops)
            if precision == "onnx" and onnx_path is None:
                onnx_path = Path(out) / "model.onnx"
                if not onnx_path.exists():
                    export_onnx(smodel, onnx_path, spec=spec)
            if precision == "tensorrt" and engine_path is None and dev is not None:
                engine_path = engine_for(smodel, out, dev, spec=spec)
        identity = run_identity(smodel, precision, engine, spec, onnx_path, dev.type if dev is not None else device)
        done, quarantined = store.open_run(identity, details={"runs": smodel.runs if smodel is not None else {}})
        todo = [it for it in items if it.path not in done]
        skipped = len(items) - len(todo)
        if limit is not None:
            todo = todo[:limit]
        summary = Summary(inputs=len(items), skipped_done=skipped, engine=engine,
                          precision=identity["precision"], batch_size=int(batch_size or 0),
                          model_version=identity["model_version"], device=str(dev or device) if smodel else "",
                          model_runs=dict(smodel.runs) if smodel is not None else {},
                          excluded=dict(items.excluded), quarantined=quarantined)
        if engine == "local":
            if smodel is not None:
                runner = make_runner(smodel, precision, onnx_path=onnx_path, threads=threads, device=dev,
                                     engine_path=engine_path)
                summary.runtime = getattr(runner, "describe", precision)
            screen_local(todo, smodel, runner, store, batch_size=int(batch_size or 1), shard_size=shard_size,
                         readers=readers, chunk=chunk, spec=spec, progress=progress, summary=summary,
                         precision=identity["precision"])
        else:
            screen_ray(todo, model, store, smodel=smodel, precision=precision, batch_size=int(batch_size),
                       chunk=chunk, spec=spec, address=ray_address, actors=ray_actors, threads=threads,
                       onnx_path=onnx_path, summary=summary, shard_size=shard_size, device=device,
                       engine_path=engine_path)
        summary.wall_s = time.perf_counter() - t0
        summary.records_per_s = summary.processed / summary.wall_s if summary.wall_s > 0 else 0.0
        if merge and store.shard_files():
            summary.merged = str(store.merge())
        (Path(out) / "summary.json").write_text(json.dumps(asdict(summary), indent=1))
    return summary


__all__ = ["Summary", "run_identity", "screen", "screen_local"]
