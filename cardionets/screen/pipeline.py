"""The local streaming screening pipeline.

::

    items --(chunk index)--> reader threads: read + native preprocess (records.load_chunk)
          --bounded queue--> model stage (this thread): batches of crops -> ScreenModel / ONNX Runtime
          --bounded queue--> writer thread: atomic Parquet shards (shards.ShardStore)

Both queues are bounded, so memory is flat in the number of inputs (at most ``queue_chunks`` chunks
of preprocessed crops, one batch and two shards of rows in flight). Native reading / preprocessing and
torch release the GIL, so the stages overlap on threads. Every item yields exactly one row; a run
with the same ``out`` skips what the committed shards already hold (see :mod:`.shards`).
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .inputs import Item, expand_inputs
from .records import Loaded, load_chunk
from .shards import ShardStore, rows_table, schema

_END = object()
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
    merged: str | None = None

    def text(self) -> str:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        return (f"screened {self.processed} record(s) in {self.wall_s:.1f} s ({self.records_per_s:.1f} records/s); "
                f"{self.skipped_done} already done; ok {self.ok} (with non-fatal quality flags {self.ok_with_flags}); "
                f"errors: {errs}; time read+preprocess {self.read_preprocess_s:.1f} s (reader threads), "
                f"model {self.model_s:.1f} s (batches of {self.batch_size}), write {self.write_s:.1f} s; "
                f"{self.shards_written} shard(s); model: {self.runtime or self.precision}"
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
            n_crops: int, stats: _Stats, stop: threading.Event) -> None:
    while not stop.is_set():
        with idx_lock:
            i = next_idx[0]
            next_idx[0] += 1
        if i >= len(chunks):
            break
        t0 = time.perf_counter()
        try:
            loaded = load_chunk(chunks[i], n_crops=n_crops, threads=1)
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
                 shard_size: int = 1024, readers: int = 1, chunk: int = 16, n_crops: int = 3, queue_chunks: int = 4,
                 progress: bool = True, summary: Summary | None = None) -> Summary:
    """Score ``items`` (already filtered for resume) into committed shards of ``store``."""
    from tqdm import tqdm

    summary = summary or Summary()
    sch = schema(model.phenotype_names, model.disease_names)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    load_q: queue.Queue = queue.Queue(maxsize=max(1, queue_chunks))
    write_q: queue.Queue = queue.Queue(maxsize=2)
    stats, stop, failure = _Stats(), threading.Event(), []
    next_idx, idx_lock = [0], threading.Lock()
    n_readers = max(1, min(readers, len(chunks))) if chunks else 0
    threads = [threading.Thread(target=_reader, args=(chunks, next_idx, idx_lock, load_q, n_crops, stats, stop),
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

    def emit(table) -> None:
        nonlocal n_rows
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
        import pyarrow as pa

        write_q.put(pa.concat_tables(tables))
        tables.clear()
        n_rows = 0
        if failure:
            raise failure[0]

    def run_batch(batch: list[Loaded]) -> None:
        t0 = time.perf_counter()
        x = np.stack([b.crops for b in batch])  # [B, n_crops, 12, 2250]
        errors: list[str | None] = [None] * len(batch)
        try:
            phen, prob = runner(x)
            finite = np.isfinite(phen).all(1) & np.isfinite(prob).all(1)
            for i in np.flatnonzero(~finite):
                errors[i] = "model: non-finite output"
        except Exception as exc:  # noqa: BLE001 -- the batch's records get the reason
            phen = prob = None
            errors = [f"model: {type(exc).__name__}: {exc}"] * len(batch)
        summary.model_s += time.perf_counter() - t0
        emit(rows_table(batch, phen, prob, sch=sch, version=model.version, errors=errors))

    finished = 0
    try:
        while finished < n_readers:
            got = load_q.get()
            if got is _END:
                finished += 1
                continue
            bad = [x for x in got if x.error is not None]
            pending += [x for x in got if x.error is None]
            if bad:
                emit(rows_table(bad, None, None, sch=sch, version=model.version))
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


def screen(inputs: Sequence[str | Path], model: str | Path, out: str | Path, *, engine: str = "local",
           precision: str = "fp32", batch_size: int | None = None, shard_size: int = 1024, readers: int = 1,
           threads: int | None = None, chunk: int = 16, n_crops: int = 3, merge: bool = False,
           onnx_path: str | Path | None = None, progress: bool = True, limit: int | None = None,
           ray_address: str | None = None, ray_actors: int = 1, device: str = "auto",
           engine_path: str | Path | None = None) -> Summary:
    """Screen every record of ``inputs`` with the model at ``model`` into the Parquet dataset ``out``.

    ``device`` (auto | cpu | cuda[:N]) is where the model runs. ``precision="tensorrt"`` runs the engine
    ``engine_path``, or one built into ``out`` (:func:`.engines.engine_for`) when none is given.
    ``batch_size`` None sizes the model batch to the CPU's L2 cache (:func:`.batching.auto_batch_size`),
    or 64 records on a GPU.
    Resumable: records already in ``out`` are skipped. Returns the run's :class:`Summary` (also written
    to ``out/summary.json``).
    """
    import torch

    from ..device.policy import resolve_device
    from .batching import auto_batch_size
    from .model import load_screen_model, make_runner

    t0 = time.perf_counter()
    if threads:
        torch.set_num_threads(int(threads))
    items = expand_inputs(inputs)
    store = ShardStore(out)
    done = store.done_paths()
    todo = [it for it in items if it.path not in done]
    if limit is not None:
        todo = todo[:limit]
    smodel = load_screen_model(model)
    dev = resolve_device(device) if engine == "local" else None  # Ray actors resolve it on their nodes
    if precision == "tensorrt" and engine_path is None and dev is not None:
        from .engines import engine_for

        engine_path = engine_for(smodel, out, dev, n_crops=n_crops)
    if batch_size is None:
        batch_size = GPU_BATCH if dev is not None and dev.type == "cuda" else auto_batch_size(smodel, n_crops)
    elif int(batch_size) < 1:
        from ..errors import CardioNetsError

        raise CardioNetsError(f"batch_size must be >= 1, got {batch_size}")
    summary = Summary(inputs=len(items), skipped_done=len(items) - len([it for it in items if it.path not in done]),
                      engine=engine, precision=precision, batch_size=int(batch_size),
                      model_version=smodel.version, device=str(dev or device))
    if engine == "local":
        runner = make_runner(smodel, precision, onnx_path=onnx_path, threads=threads, device=dev,
                             engine_path=engine_path)
        summary.runtime = getattr(runner, "describe", precision)
        screen_local(todo, smodel, runner, store, batch_size=batch_size, shard_size=shard_size, readers=readers,
                     chunk=chunk, n_crops=n_crops, progress=progress, summary=summary)
    elif engine == "ray":
        from .ray_engine import screen_ray

        screen_ray(todo, model, store, smodel=smodel, precision=precision, batch_size=batch_size, chunk=chunk,
                   n_crops=n_crops, address=ray_address, actors=ray_actors, threads=threads, onnx_path=onnx_path,
                   summary=summary, device=device, engine_path=engine_path)
    else:
        from ..errors import CardioNetsError

        raise CardioNetsError(f"unknown engine {engine!r}; choose 'local' or 'ray'")
    summary.wall_s = time.perf_counter() - t0
    summary.records_per_s = summary.processed / summary.wall_s if summary.wall_s > 0 else 0.0
    if merge and store.shard_files():
        summary.merged = str(store.merge())
    (Path(out) / "summary.json").write_text(json.dumps(asdict(summary), indent=1))
    return summary


__all__ = ["Summary", "screen", "screen_local"]
