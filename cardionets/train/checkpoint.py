"""Checkpoints as safetensors + JSON (never pickle).

* Model weights: ``model.safetensors`` + ``config.json`` in a run directory (the best epoch).
* Resumable state (``checkpoints/last/``): model, optimiser (tensors in safetensors, hyper-parameters
  and step counters in JSON), EMA weights, the RNG states of torch / numpy / python, and the loop
  state (epoch, step, position inside the epoch, early-stopping bookkeeping). Written to a
  temporary directory and renamed, so a crash never leaves half a checkpoint.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..errors import CardioNetsError
from ..run_record import read_run_info, write_run_config


def save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path), metadata=metadata)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise CardioNetsError(f"checkpoint file {path} not found")
    return load_file(str(path))


# -- optimiser --------------------------------------------------------------------------------
def optimizer_to_files(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser state_dict into tensors (safetensors) and plain values (JSON)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain_state: dict[str, dict] = {}
    for idx, st in sd["state"].items():
        plain_state[str(idx)] = {}
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"state.{idx}.{key}"] = val
            else:
                plain_state[str(idx)][key] = val
    return tensors, {"param_groups": sd["param_groups"], "plain_state": plain_state}


def optimizer_from_files(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in meta["plain_state"].items()}
    for key, val in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = val
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


# -- RNG --------------------------------------------------------------------------------------
def rng_state(device: torch.device | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """This process's torch / numpy / python RNG states as (tensors, JSON-able meta); with a CUDA
    ``device`` also that GPU's generator (dropout and masking draw from it there)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {"torch_cpu": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64))}
    if device is not None and device.type == "cuda":
        tensors["torch_cuda"] = torch.cuda.get_rng_state(device)
    py = random.getstate()
    meta = {"numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "python": [py[0], list(py[1]), py[2]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict, device: torch.device | None = None) -> None:
    """Restore :func:`rng_state`; the CUDA generator only when the state has one and ``device`` is CUDA
    (a run resumed on another kind of device continues with that device's own stream)."""
    torch.set_rng_state(tensors["torch_cpu"])
    if "torch_cuda" in tensors and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["torch_cuda"], device)
    n = meta["numpy"]
    np.random.set_state((n["kind"], tensors["numpy_keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


# -- resumable state --------------------------------------------------------------------------
def save_resume(directory: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                ema: dict[str, torch.Tensor] | None, loop_state: dict, config: dict,
                rng: list[tuple[dict[str, torch.Tensor], dict]], extra: dict[str, torch.Tensor] | None = None) -> None:
    """``rng``: one (tensors, meta) RNG state per process, in rank order."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_tensors(model.state_dict(), tmp / "model.safetensors")
    opt_t, opt_meta = optimizer_to_files(optimizer)
    save_tensors(opt_t, tmp / "optimizer.safetensors")
    rng_t = {f"{r}.{k}": v for r, (t, _) in enumerate(rng) for k, v in t.items()}
    rng_meta = [m for _, m in rng]
    save_tensors(rng_t, tmp / "rng.safetensors")
    if ema is not None:
        save_tensors(ema, tmp / "ema.safetensors")
    if extra:
        save_tensors(extra, tmp / "extra.safetensors")
    (tmp / "state.json").write_text(json.dumps(
        {"loop": loop_state, "optimizer": opt_meta, "rng": rng_meta, "config": config}, indent=1))
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)


def load_resume(directory: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, rank: int = 0) -> dict:
    """Restore model and optimiser in place; returns {"loop", "ema", "extra", "rng", "config"} with
    ``rng`` this rank's (tensors, meta), not yet applied (see :func:`set_rng_state`)."""
    directory = Path(directory)
    state = json.loads((directory / "state.json").read_text())
    model.load_state_dict(load_tensors(directory / "model.safetensors"))
    optimizer_from_files(optimizer, load_tensors(directory / "optimizer.safetensors"), state["optimizer"])
    ema = load_tensors(directory / "ema.safetensors") if (directory / "ema.safetensors").exists() else None
    extra = load_tensors(directory / "extra.safetensors") if (directory / "extra.safetensors").exists() else {}
    rng_all = load_tensors(directory / "rng.safetensors")
    if rank >= len(state["rng"]):
        raise CardioNetsError(f"checkpoint {directory} was written by {len(state['rng'])} processes; "
                              f"cannot resume it as process {rank}")
    mine = {k.split(".", 1)[1]: v for k, v in rng_all.items() if k.split(".", 1)[0] == str(rank)}
    return {"loop": state["loop"], "ema": ema, "extra": extra, "rng": (mine, state["rng"][rank]),
            "config": state["config"]}


# -- run directory (the deliverable) ----------------------------------------------------------
def save_model(run_dir: Path, state: dict[str, torch.Tensor], info: dict, name: str = "model") -> Path:
    """Write the weights and the run record (``config.json``, :func:`cardionets.run_record.write_run_config`:
    ``info`` plus versions, git commit, model version, preprocessing spec and parent runs)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    weights = run_dir / f"{name}.safetensors"
    save_tensors(state, weights)
    write_run_config(run_dir, info, weights)
    return weights


def load_run(run_dir: Path, name: str = "model") -> tuple[dict[str, torch.Tensor], dict]:
    """(weights, config) of a run directory. The config is read by :func:`cardionets.run_record.read_run_info`,
    which checks its size and the parameters it implies against the limits (cardionets/limits.py)
    before anything is built or loaded; :func:`cardionets.run_record.read_run` gives its typed view."""
    run_dir = Path(run_dir)
    info = read_run_info(run_dir)
    weights = run_dir / f"{name}.safetensors"
    try:
        return load_tensors(weights), info
    except CardioNetsError:
        raise
    except Exception as exc:  # safetensors' errors: truncated, bad header, ...
        raise CardioNetsError(f"{weights}: unreadable weights ({type(exc).__name__}: {exc})") from exc


def sub_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under ``prefix.`` with the prefix removed."""
    p = prefix + "."
    out = {k[len(p):]: v for k, v in state.items() if k.startswith(p)}
    if not out:
        raise CardioNetsError(f"checkpoint has no weights under {prefix!r}")
    return out
