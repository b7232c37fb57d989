"""The run record: what a run directory's ``config.json`` says about the model beside it.

A run directory holds ``model.safetensors`` (the weights) and ``config.json``, whose typed view is
:class:`RunRecord`:

* ``kind``           what the weights are (``predictor``, ``align``, ``stmem``, ``cmr_mae``, ``vae3d``, ...)
* ``stage``          the training stage that wrote it (``config.stage``), when there is one
* ``config``         the full training configuration
* ``preprocess``     the :class:`~cardionets.preprocess.PreprocessSpec` its ECG inputs were made with
* ``versions``       cardionets, torch and Python that wrote it
* ``git_commit``     the source commit, when the package ran from a git checkout (``-dirty`` with local changes)
* ``model_version``  a content hash of the weights file
* ``runtime``        device, precision, DDP and the op backends that ran (:func:`cardionets.device.runtime_record`)
* ``parents``        the runs it started from, as paths relative to this run directory (portable:
                     move or copy the folder of runs together and they still resolve)
* ``info``           the whole JSON object (model descriptions such as ``ecg_encoder``, head metadata)

:func:`write_run_config` is the one writer (called by :func:`cardionets.train.checkpoint.save_model`),
:func:`read_run` the one reader: it checks the file's size and the model size its configs imply
against :mod:`cardionets.limits` before anything is built. Folders written before the record had
``format`` (format 1) still load: their spec is the default with ``config.eval_crops`` crops, their
versions come from ``runtime``, and they have no parents.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__, limits
from .errors import CardioNetsError, InputError
from .preprocess import DEFAULT_SPEC, PreprocessSpec

RUN_FORMAT = 2
CONFIG_NAME = "config.json"
# config keys naming the runs a stage starts from (dotted paths into the training config)
PARENT_KEYS = {"init_from": ("finetune", "init_from"), "cmr_from": ("align", "cmr_from"),
               "ecg_init_from": ("align", "ecg_init_from")}
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RunRecord:
    run_dir: Path
    kind: str | None
    stage: str | None
    config: dict[str, Any]
    preprocess: PreprocessSpec
    versions: dict[str, str | None]
    git_commit: str | None
    model_version: str | None
    runtime: dict[str, Any]
    parents: dict[str, str]
    created: str | None
    format: int
    info: dict[str, Any] = field(repr=False)

    def parent(self, name: str) -> Path:
        """The run directory ``name`` (``init_from``, ``cmr_from``, ...) resolved against this run."""
        if name not in self.parents:
            raise CardioNetsError(f"{self.run_dir}: the run record names no parent run {name!r} "
                                  f"(it has: {', '.join(self.parents) or 'none'})")
        return (self.run_dir / self.parents[name]).resolve()


# -- facts written into every record ---------------------------------------------------------
def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the checkout this package runs from (``-dirty`` when it has local changes), or None
    outside a git checkout or without git."""
    if not (_SOURCE_ROOT / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(_SOURCE_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(_SOURCE_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def versions() -> dict[str, str | None]:
    return {"cardionets": __version__, "torch": package_version("torch"), "python": platform.python_version()}


def file_hash(path: Path) -> str:
    """First 12 hex digits of the file's SHA-256."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def _dig(d: Any, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def relative_parents(run_dir: Path, config: dict) -> dict[str, str]:
    """{name: path of the parent run relative to ``run_dir``} for the parent runs ``config`` names
    (relative config paths are taken from the current directory, as training resolved them)."""
    out = {}
    here = Path(run_dir).resolve()
    for name, keys in PARENT_KEYS.items():
        p = _dig(config, keys)
        if isinstance(p, str) and p:
            out[name] = os.path.relpath(Path(p).resolve(), here)
    return out


# -- the writer ------------------------------------------------------------------------------
def write_run_config(run_dir: Path, info: dict, weights: Path | None = None) -> dict:
    """Write ``run_dir/config.json``: ``info`` (the model description) plus the record's sections
    (format, versions, git commit, model version of ``weights``, preprocessing spec, parents,
    creation time). Returns what was written."""
    run_dir = Path(run_dir)
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    spec = info.get("preprocess", config.get("preprocess"))
    spec = spec.to_dict() if isinstance(spec, PreprocessSpec) else PreprocessSpec.from_dict(
        spec, f"{run_dir / CONFIG_NAME}: preprocess").to_dict()
    out = {**info, "format": RUN_FORMAT, "versions": versions(), "git_commit": git_commit(),
           "model_version": file_hash(weights) if weights is not None and Path(weights).exists() else None,
           "preprocess": spec, "parents": {**relative_parents(run_dir, config), **info.get("parents", {})},
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    tmp = run_dir / f".{CONFIG_NAME}.tmp"
    tmp.write_text(json.dumps(out, indent=1, default=str))
    tmp.replace(run_dir / CONFIG_NAME)
    return out


# -- the reader ------------------------------------------------------------------------------
def read_run_info(run_dir: Path) -> dict:
    """The checked JSON object of ``run_dir/config.json`` (size limits, valid JSON, an object, the
    model size its configs imply); errors name the file."""
    run_dir = Path(run_dir)
    cfg = run_dir / CONFIG_NAME
    if not cfg.is_file():
        raise CardioNetsError(f"{run_dir} is not a CardioNets run directory (no {CONFIG_NAME})")
    limits.check(cfg, "bytes", cfg.stat().st_size, "config_bytes")
    try:
        info = json.loads(cfg.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CardioNetsError(f"{cfg}: not valid JSON ({exc})") from None
    if not isinstance(info, dict):
        raise CardioNetsError(f"{cfg}: expected a JSON object, got {type(info).__name__}")
    limits.check(cfg, "parameters its model configs imply (at least)", config_params_lower_bound(info),
                 "model_params")
    return info


def read_run(run_dir: Path) -> RunRecord:
    """The :class:`RunRecord` of a run directory (both formats; see the module docstring)."""
    run_dir = Path(run_dir)
    info = read_run_info(run_dir)
    where = str(run_dir / CONFIG_NAME)
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    fmt = int(info.get("format", 1)) if isinstance(info.get("format", 1), int) else 1
    runtime = info.get("runtime") if isinstance(info.get("runtime"), dict) else {}
    try:
        if "preprocess" in info or "preprocess" in config:
            spec = PreprocessSpec.from_dict(info.get("preprocess", config.get("preprocess")), f"{where}: preprocess")
        else:  # format 1: the default spec with the run's evaluation crops
            spec = DEFAULT_SPEC.with_(n_crops=int(config.get("eval_crops", DEFAULT_SPEC.n_crops)))
    except (InputError, TypeError, ValueError) as exc:
        raise CardioNetsError(f"{where}: bad preprocessing spec ({exc})") from None
    if fmt >= 2:
        vers = dict(info.get("versions") or {})
        parents = {str(k): str(v) for k, v in (info.get("parents") or {}).items()}
    else:
        vers = {"cardionets": None, "torch": runtime.get("torch"), "python": None}
        parents = {}
    return RunRecord(run_dir=run_dir, kind=info.get("kind"), stage=config.get("stage"), config=config,
                     preprocess=spec, versions=vers, git_commit=info.get("git_commit"),
                     model_version=info.get("model_version"), runtime=runtime, parents=parents,
                     created=info.get("created"), format=fmt, info=info)


def config_params_lower_bound(info: Any) -> float:
    """Fewest parameters the model configs inside ``info`` can build: every transformer or MLP stack
    (``width``/``depth``, ``decoder_width``/``decoder_depth``, ``head_width``/``head_depth``) has at
    least 4 width^2 weights per block (attention; plus 2 x mlp_ratio x width^2 when a ratio is given),
    every 3D conv level (``channels`` x ``res_blocks``) 27 x channels^2 per block. Never more than
    the real count, so a config over the limit by this bound is over it for certain."""
    total = 0.0
    if isinstance(info, dict):
        for w, d in (("width", "depth"), ("decoder_width", "decoder_depth"), ("head_width", "head_depth")):
            width, depth = info.get(w), info.get(d)
            if isinstance(width, (int, float)) and isinstance(depth, (int, float)) and width > 0 and depth > 0:
                ratio = info.get("mlp_ratio") if w == "width" else None
                per = 4.0 + (2.0 * ratio if isinstance(ratio, (int, float)) and ratio > 0 else 0.0)
                total += per * float(depth) * float(width) ** 2
        ch, blocks = info.get("channels"), info.get("res_blocks")
        if isinstance(ch, list) and isinstance(blocks, (int, float)) and blocks > 0:
            total += sum(27.0 * float(blocks) * float(c) ** 2 for c in ch if isinstance(c, (int, float)) and c > 0)
        total += sum(config_params_lower_bound(v) for v in info.values() if isinstance(v, (dict, list)))
    elif isinstance(info, list):
        total += sum(config_params_lower_bound(v) for v in info if isinstance(v, (dict, list)))
    return total


__all__ = ["CONFIG_NAME", "RUN_FORMAT", "RunRecord", "config_params_lower_bound", "file_hash", "git_commit",
           "read_run", "read_run_info", "relative_parents", "versions", "write_run_config"]
