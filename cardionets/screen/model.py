"""The screening model: every fine-tuned ECG head of a model directory as ONE module with fixed outputs.

``ScreenModel(x [B, n_crops, 12, crop_len]) -> (phenotypes [B, P] in physical units, probabilities [B, D])``,
averaged over the crops exactly like :meth:`cardionets.CardioNets.predict`. ``model.spec`` is the
preprocessing spec its runs were trained with (from their run records); ``meta()`` carries it into
every export's sidecar. It is what the screening
pipeline batches, what :mod:`cardionets.export` writes as ONNX / AOTInductor, and what the C++ example
runs. Runs are loaded with the API's loader (:mod:`cardionets.api`), so the selection rule (one model
per task, CardioNets initialisation preferred) is the API's.

Inference options (:func:`make_runner`), on a device (``device=``: ``auto`` = CUDA when present):
``fp32`` eager (default), ``bf16`` (autocast on the CPU or CUDA), ``int8`` (CPU only: dynamic
quantisation of every ``nn.Linear``: int8 weights, activations quantised per batch), ``onnx`` (ONNX
Runtime on the exported graph, with the device's execution providers) and ``tensorrt`` (a serialised
TensorRT engine, CUDA only); the last two live in :mod:`.engines`. Each runner's ``describe`` says
what ran.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from ..api import CardioNets
from ..device.policy import DevicePolicy
from ..errors import CardioNetsError
from ..preprocess import DEFAULT_SPEC, PreprocessSpec
from .engines import OnnxRunner, tensorrt_runner
import copy
import warnings

PRECISIONS = ("fp32", "bf16", "int8", "onnx", "tensorrt")


class ScreenModel(nn.Module):
    """Encoder(s) + heads -> (phenotypes [B, P], disease probabilities [B, D]) for 12-lead crops."""

    def __init__(self, phen: nn.Module | None, phen_mean: np.ndarray, phen_std: np.ndarray,
                 dis: list[tuple[nn.Module, list[int]]], phenotype_names: list[str], disease_names: list[str],
                 version: str, spec: PreprocessSpec = DEFAULT_SPEC):
        super().__init__()
        self.phen = phen
        self.dis = nn.ModuleList(m for m, _ in dis)
        self.dis_slots = [list(s) for _, s in dis]  # output columns each disease predictor fills
        self.register_buffer("phen_mean", torch.as_tensor(np.asarray(phen_mean, np.float32)))
        self.register_buffer("phen_std", torch.as_tensor(np.asarray(phen_std, np.float32)))
        self.phenotype_names, self.disease_names, self.version = list(phenotype_names), list(disease_names), version
        self.spec = spec
        self.runs: dict[str, str] = {}  # task -> run directory it was loaded from

    @staticmethod
    def _avg(pred: nn.Module, x: torch.Tensor) -> torch.Tensor:
        B, K = x.shape[:2]
        out = pred(x.reshape(B * K, *x.shape[2:]))  # [B*K, O] raw outputs
        if pred.kind == "multiclass":
            out = out.softmax(-1)
        elif pred.kind in ("binary", "multilabel"):
            out = out.sigmoid()
        return out.reshape(B, K, -1).mean(dim=1)  # [B, O]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = x.shape[0]
        if self.phen is not None:
            phen = self._avg(self.phen, x) * self.phen_std + self.phen_mean  # [B, P]
        else:
            phen = x.new_zeros(B, 0)
        cols = [x.new_zeros(B, 1)] * len(self.disease_names)
        for pred, slots in zip(self.dis, self.dis_slots):
            p = self._avg(pred, x)  # [B, len(slots)]
            for j, s in enumerate(slots):
                cols[s] = p[:, j:j + 1]
        prob = torch.cat(cols, dim=1) if cols else x.new_zeros(B, 0)  # [B, D]
        return phen, prob

    def meta(self) -> dict:
        return {"phenotype_names": self.phenotype_names, "disease_names": self.disease_names,
                "model_version": self.version, "preprocess": self.spec.to_dict()}


def model_version(runs: list[Path]) -> str:
    """A short content hash of the weights and configs (changes whenever the model does)."""
    h = hashlib.sha256()
    for run in sorted(runs):
        for name in ("config.json", "model.safetensors"):
            f = run / name
            if f.exists():
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
    return h.hexdigest()[:12]


def load_screen_model(path: str | Path | list[str | Path], *, strict: bool = True) -> ScreenModel:
    """Build the ScreenModel from a run directory, a directory of runs, or a list of them (see
    CardioNets.from_pretrained), on the host (a runner puts it on its device). ``strict``: refuse a
    directory holding several runs for one task rather than pick one by name. ``model.runs`` says
    which run serves each task."""
    cn = CardioNets.from_pretrained(path, device=None, strict=strict)
    phen, mean, std, names = None, np.zeros(0), np.zeros(0), []
    dis: list[tuple[nn.Module, list[int]]] = []
    disease_names: list[str] = []
    for task, m in sorted(cn.models.items()):
        info, pred = m.info, m.predictor
        if task == "phenotypes":
            n = int(info["n_outputs"])
            phen = pred
            names = info.get("phenotype_names") or [f"phenotype_{j}" for j in range(n)]
            mean = np.asarray(info.get("phenotype_mean", np.zeros(n)), np.float32)
            std = np.asarray(info.get("phenotype_std", np.ones(n)), np.float32)
        elif task == "diseases":
            slots = []
            for d in info["diseases"]:
                if d not in disease_names:
                    disease_names.append(d)
                slots.append(disease_names.index(d))
            dis.append((pred, slots))
        elif task.startswith("disease:"):
            d = task.split(":", 1)[1]
            if d not in disease_names:
                disease_names.append(d)
            dis.append((pred, [disease_names.index(d)]))
        elif task == "cm_subtype":
            start = len(disease_names)
            disease_names += ["CM_DCM", "CM_HCM", "CM_RCM"]
            dis.append((pred, [start, start + 1, start + 2]))
    if phen is None and not dis:
        raise CardioNetsError(f"{path}: no fine-tuned ECG phenotype or disease model found")
    runs = [m.run_dir for m in cn.models.values()]
    model = ScreenModel(phen, mean, std, dis, names, disease_names, model_version(runs), spec=cn.spec).eval()
    model.runs = {task: str(m.run_dir) for task, m in sorted(cn.models.items())}
    return model


def score_isolated(runner: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], crops: list[np.ndarray],
                   n_phen: int, n_dis: int) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Score records [n_crops, 12, crop_len] as one batch -> (phenotypes [N, P], probabilities [N, D], errors).
    If the batch fails (stacking, the model, an output of the wrong shape), every record is scored
    alone, so a failure is only ever the failing record's. Non-finite outputs are that record's error."""
    n = len(crops)
    phen = np.full((n, n_phen), np.nan, np.float32)
    prob = np.full((n, n_dis), np.nan, np.float32)
    errors: list[str | None] = [None] * n
    try:
        p, d = runner(np.stack(crops))
        phen[:], prob[:] = np.asarray(p, np.float32).reshape(n, n_phen), np.asarray(d, np.float32).reshape(n, n_dis)
    except Exception as exc:  # noqa: BLE001 -- isolate: one record at a time
        if n == 1:
            errors[0] = f"model: {type(exc).__name__}: {str(exc)[:400]}"
            return phen, prob, errors
        for i in range(n):
            phen[i:i + 1], prob[i:i + 1], errors[i:i + 1] = score_isolated(runner, crops[i:i + 1], n_phen, n_dis)
        return phen, prob, errors
    bad = ~(np.isfinite(phen).all(1) & np.isfinite(prob).all(1))
    for i in np.flatnonzero(bad):
        errors[i] = "model: non-finite output"
    return phen, prob, errors


def quantize_int8(model: ScreenModel) -> nn.Module:
    """Dynamic int8 quantisation of every nn.Linear (weights int8, activations quantised per batch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


def make_runner(model: ScreenModel, precision: str = "fp32", *, onnx_path: str | Path | None = None,
                threads: int | None = None, device: str | torch.device = "auto",
                engine_path: str | Path | None = None) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A function x [B, K, 12, crop_len] float32 -> (phenotypes [B, P], probabilities [B, D]) as float32 numpy,
    computing on ``device``; its ``describe`` attribute says what runs it."""
    if precision not in PRECISIONS:
        raise CardioNetsError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    policy = DevicePolicy.create(device, "bf16" if precision == "bf16" else "fp32")
    if precision == "onnx":
        if onnx_path is None:
            raise CardioNetsError("precision 'onnx' needs an exported model (cardionets export --format onnx)")
        return OnnxRunner(onnx_path, policy.device, threads)
    if precision == "tensorrt":
        if engine_path is None:
            raise CardioNetsError("precision 'tensorrt' needs a TensorRT engine (cardionets export --format tensorrt, "
                                  "or cardionets screen builds one into its output directory)")
        return tensorrt_runner(engine_path, policy.device, model.version)
    if precision == "int8" and policy.device.type != "cpu":
        raise CardioNetsError(f"precision int8 (dynamic quantisation) runs on the CPU; this run computes on "
                              f"{policy.device}: use --device cpu, or fp32 / bf16 / tensorrt there")
    mod: nn.Module = quantize_int8(model) if precision == "int8" else policy.module(model)

    def run_torch(x: np.ndarray):
        xt = policy.to(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
        with torch.inference_mode(), policy.autocast():
            p, d = mod(xt)
        return p.float().cpu().numpy(), d.float().cpu().numpy()

    run_torch.describe = f"torch {precision} on {policy.device}"  # type: ignore[attr-defined]
    return run_torch


__all__ = ["PRECISIONS", "ScreenModel", "load_screen_model", "make_runner", "model_version", "quantize_int8",
           "score_isolated"]
