"""``--engine ray``: the screening stages on Ray Data (no home-made scheduler).

::

    ray.data.from_items(items, override_num_blocks=...)     partitions of record paths, spread over nodes
      .map_batches(_ReadPreprocess, tasks)                  read + native preprocess next to the data
      .map_batches(_ScoreActor, ActorPoolStrategy(n))       the model, loaded once per actor
      .iter_batches() on the driver -> ShardStore.commit    atomic Parquet shards (resumable, as locally)

Rows are small (~100 numbers), so committing them on the driver costs little and keeps the exact
resume guarantee of the local engine (``Dataset.write_parquet`` gives no atomic per-shard commit, so
a killed job could leave partial files). Paths and the model directory must be visible to every node
(shared filesystem or object store mount). Ray is imported lazily (``pip install 'cardionets[distributed]'``).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..optional import require
from ..preprocess import DEFAULT_SPEC, N_LEADS, PreprocessSpec
from .inputs import Item
from .memory import HeapTrimmer
from .records import Loaded, load_chunk
from .model import load_screen_model, make_runner, score_isolated
from .shards import rows_table, schema
import time
import pyarrow as pa
from collections import Counter


def _ray():
    return require("ray", "--engine ray")


def _to_loaded(batch: dict) -> list[Loaded]:
    out = []
    for i in range(len(batch["path"])):
        err = batch["error"][i]
        err = None if err is None or err == "" else str(err)
        out.append(Loaded(Item(str(batch["record_id"][i]), str(batch["path"][i])),
                          None if err else batch["crops"][i], int(batch["flags"][i]), err, float(batch["fs"][i]),
                          int(batch["n_leads"][i]), float(batch["duration_s"][i])))
    return out


def _read_preprocess(batch: dict, spec: PreprocessSpec = DEFAULT_SPEC) -> dict:
    """Read + preprocess one block of items (stateless; runs as Ray tasks)."""
    items = [Item(str(r), str(p), str(e) or None) for r, p, e in zip(batch["record_id"], batch["path"], batch["input_error"])]
    loaded = load_chunk(items, spec, threads=1)
    crops = np.zeros((len(loaded), spec.n_crops, N_LEADS, spec.crop_len), np.float32)
    for i, x in enumerate(loaded):
        if x.crops is not None:
            crops[i] = x.crops
    return {"record_id": np.asarray([x.item.record_id for x in loaded], object),
            "path": np.asarray([x.item.path for x in loaded], object),
            "error": np.asarray([x.error or "" for x in loaded], object),
            "flags": np.asarray([x.flags for x in loaded], np.int64),
            "fs": np.asarray([x.fs for x in loaded], np.float64),
            "n_leads": np.asarray([x.n_leads for x in loaded], np.int64),
            "duration_s": np.asarray([x.duration_s for x in loaded], np.float64), "crops": crops}


class _ScoreActor:
    """Loads the screening model once; scores a batch; returns finished rows (a pyarrow Table)."""

    def __init__(self, runs: list[str], precision: str, threads: int | None, onnx_path: str | None,
                 device: str = "auto", engine_path: str | None = None):
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        self.model = load_screen_model(runs)  # exactly the runs the driver chose
        self.precision = precision
        self.runner = make_runner(self.model, precision, onnx_path=onnx_path, threads=threads, device=device,
                                  engine_path=engine_path)
        self.schema = schema(self.model.phenotype_names, self.model.disease_names)
        self.trim = HeapTrimmer()

    def __call__(self, batch: dict) -> Any:
        self.trim()
        loaded = _to_loaded(batch)
        ok = [i for i, x in enumerate(loaded) if x.error is None]
        P, D = len(self.model.phenotype_names), len(self.model.disease_names)
        phen = np.full((len(loaded), P), np.nan, np.float32)
        prob = np.full((len(loaded), D), np.nan, np.float32)
        errors: list[str | None] = [None] * len(loaded)
        if ok:
            p, d, e = score_isolated(self.runner, [loaded[i].crops for i in ok], P, D)
            phen[ok], prob[ok] = p, d
            for j, i in enumerate(ok):
                errors[i] = e[j]
        return rows_table(loaded, phen, prob, sch=self.schema, version=self.model.version, precision=self.precision,
                          errors=errors)


def screen_ray(items: list[Item], model_dir: Any, store: Any, *, smodel: Any, precision: str = "fp32",
               batch_size: int = 16, chunk: int = 16, spec: PreprocessSpec = DEFAULT_SPEC, address: str | None = None,
               actors: int = 1, threads: int | None = None, onnx_path: Any = None, summary: Any = None,
               shard_size: int = 1024, device: str = "auto", engine_path: Any = None) -> Any:
    """Score ``items`` on Ray Data into ``store`` (a ShardStore); fills and returns ``summary``.
    ``device`` is resolved on each actor's node (``auto``: its GPU when Ray gave it one); actors ask
    Ray for one GPU each unless ``device`` is ``cpu``. ``precision="tensorrt"`` needs ``engine_path``
    (an engine built for the nodes' GPU model)."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
        started = True
    try:
        if not items:
            return summary
        from ray.data import ActorPoolStrategy

        t0 = time.perf_counter()
        rows = [{"record_id": it.record_id, "path": it.path, "input_error": it.error or ""} for it in items]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows) // max(chunk, 1), 1024)))
        ds = ds.map_batches(_read_preprocess, fn_kwargs={"spec": spec}, batch_size=chunk,
                            batch_format="numpy")
        gpus = 0 if device == "cpu" or (device == "auto" and not ray.cluster_resources().get("GPU")) else 1
        ds = ds.map_batches(_ScoreActor, fn_constructor_args=(list(smodel.runs.values()), precision, threads,
                                                              str(onnx_path) if onnx_path else None, device,
                                                              str(engine_path) if engine_path else None),
                            batch_size=batch_size, batch_format="numpy", compute=ActorPoolStrategy(size=actors),
                            num_gpus=gpus)
        pending: list[pa.Table] = []
        n = 0
        codes: Counter = Counter()
        for tbl in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            tbl = tbl.cast(store_schema(smodel))
            pending.append(tbl)
            n += tbl.num_rows
            summary.tally(tbl, codes)
            if n >= shard_size:
                store.commit(pa.concat_tables(pending))
                summary.shards_written += 1
                pending, n = [], 0
        if pending:
            store.commit(pa.concat_tables(pending))
            summary.shards_written += 1
        summary.processed = summary.ok + sum(codes.values())
        for k, v in codes.items():
            summary.errors[k] = summary.errors.get(k, 0) + v
        summary.model_s += time.perf_counter() - t0
        return summary
    finally:
        if started:
            ray.shutdown()


def store_schema(smodel: Any):
    return schema(smodel.phenotype_names, smodel.disease_names)


__all__ = ["screen_ray"]
