"""The Python API: a thin layer over the same models and checkpoints as the CLI.

>>> import cardionets
>>> cn = cardionets.CardioNets.from_pretrained("runs/pipeline")   # run dir, or a dir of run dirs
>>> cn.predict("ecg/HR06000.hea")        # {"phenotypes": {"LVEF": 57.1, ...}, "diseases": {"CM": 0.04, ...}}
>>> cn.encode(ecg)                        # the aligned ECG feature, [D] (or [B, D])

Inputs: a path (read by :func:`cardionets.io.read_ecg`), an :class:`cardionets.io.ECG`
(preprocessed with :func:`cardionets.dsp.preprocess_ecg` as the models' run records say, by
default 250 Hz, 0.67-40 Hz band-pass, 3 crops of 9 s, each standardised: ``cn.spec``), or an already
preprocessed array ``[12, 2250]``, ``[n_crops, 12, 2250]`` or ``[B, n_crops, 12, 2250]``. Leads missing from a record are left out of the encoder explicitly
(lead subsets), never broadcast. Outputs average over the crops.

``device=`` (``auto``: CUDA when present, ``cpu``, ``cuda[:N]``, or a ``torch.device``; ``None``: where
the weights were loaded, the host) is where the models live; inputs are moved there and results come
back as host numpy / floats.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .device.policy import DevicePolicy
from .dsp import preprocess_ecg
from .errors import CardioNetsError, InputError
from .io import read_ecg
from .models import (CMREncoder, CMREncoderConfig, ClassificationHead, ECGEncoder, ECGEncoderConfig, Predictor,
                     RegressionHead)
from .preprocess import PreprocessSpec
from .run_record import CONFIG_NAME, RunRecord, read_run, read_run_info
from .train.checkpoint import load_run, sub_state

INIT_PRIORITY = ("cardionets", "phen_sup", "ssl", "scratch")
_log = logging.getLogger(__name__)


@dataclass
class _Model:
    run_dir: Path
    info: dict
    predictor: Any  # cardionets.models.Predictor
    record: RunRecord | None = None


def _find_runs(path: Path) -> list[Path]:
    if (path / CONFIG_NAME).exists():
        return [path]
    runs = sorted(p.parent for p in path.glob(f"*/{CONFIG_NAME}")) + \
        sorted(p.parent for p in path.glob(f"*/*/{CONFIG_NAME}"))
    if not runs:
        raise CardioNetsError(f"{path}: no CardioNets run directories ({CONFIG_NAME} + model.safetensors) found")
    return runs


def common_spec(records: Sequence[RunRecord]) -> PreprocessSpec | None:
    """The preprocessing spec shared by ``records`` (evaluation crops may differ: the first run's
    count is used), or None without records; CardioNetsError when the runs were trained on
    differently preprocessed ECGs (their outputs could not come from one input)."""
    if not records:
        return None
    first = records[0]
    for r in records[1:]:
        if r.preprocess.with_(n_crops=first.preprocess.n_crops) != first.preprocess:
            raise CardioNetsError(f"runs {first.run_dir} and {r.run_dir} were trained with different preprocessing "
                                  f"({first.preprocess.describe()} vs {r.preprocess.describe()}); load them separately")
    return first.preprocess


def _load_predictor(run: Path):
    state, info = load_run(run)
    if info.get("modality") == "ecg":
        enc = ECGEncoder(ECGEncoderConfig(**info["ecg_encoder"]))
    else:
        enc = CMREncoder(CMREncoderConfig(**info["cmr_encoder"]))
    head_cls = RegressionHead if info["head_kind"] == "regression" else ClassificationHead
    p = Predictor(enc, head_cls(enc.width, int(info["n_outputs"])), info["modality"], info["head_kind"])
    p.load_state_dict({k: v for k, v in state.items() if not k.startswith("extra.")})
    return p.eval(), info


class CardioNets:
    """Fine-tuned ECG models (phenotypes, screening) and, for :meth:`encode`, an ECG encoder."""

    def __init__(self, models: dict[str, _Model], encoder: torch.nn.Module | None, n_crops: int | None = None,
                 device: str | torch.device | None = "auto", spec: PreprocessSpec | None = None):
        """``spec``: how inputs are preprocessed (default: the runs' spec); ``n_crops`` overrides its
        evaluation crops."""
        if not models and encoder is None:
            raise CardioNetsError("CardioNets needs at least one fine-tuned model or an aligned encoder")
        if device is None:  # stay where the weights are
            first = next(iter(models.values())).predictor if models else encoder
            self.policy = DevicePolicy.like(next(first.parameters()))
        else:
            self.policy = DevicePolicy.create(device, "fp32")
        spec = spec or common_spec([m.record for m in models.values() if m.record is not None]) or PreprocessSpec()
        self.spec = spec if n_crops is None else spec.with_(n_crops=int(n_crops))
        self.models, self._encoder, self.device = models, encoder, self.policy.device
        for m in self.models.values():
            m.predictor = self.policy.module(m.predictor)
        if self._encoder is not None:
            self._encoder = self.policy.module(self._encoder).eval()

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path | Sequence[str | Path], *,
                        device: str | torch.device | None = "auto", n_crops: int | None = None,
                        strict: bool = False) -> "CardioNets":
        """Load a fine-tuning run directory, or every ECG fine-tuning run under a directory (one
        model per task, preferring the CardioNets initialisation), plus an align run for encode.
        ``path`` may also be a list of such directories. The run chosen for each task is logged; when
        several runs tie for a task (same initialisation), the first by name is taken with a warning,
        or, with ``strict``, CardioNetsError lists them (pass the run directories you mean). Inputs are
        preprocessed with the runs' spec (``n_crops`` overrides its evaluation crops)."""
        paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
        candidates: dict[str, list[tuple[int, Path]]] = {}
        align_run = None
        for root in paths:
            if not root.exists():
                raise CardioNetsError(f"{root}: no such directory")
            for run in _find_runs(root):
                info = read_run_info(run)
                stage = info.get("config", {}).get("stage")
                if stage == "align" and align_run is None:
                    align_run = run
                if stage != "finetune" or info.get("modality") != "ecg":
                    continue
                init = info.get("init", "scratch")
                rank = INIT_PRIORITY.index(init) if init in INIT_PRIORITY else len(INIT_PRIORITY)
                candidates.setdefault(str(info.get("task")), []).append((rank, run))
        chosen: dict[str, tuple[int, Path]] = {}
        for task, runs in sorted(candidates.items()):
            best = min(r for r, _ in runs)
            tied = [run for r, run in runs if r == best]
            if len(tied) > 1:
                msg = (f"{len(tied)} runs for task {task!r} with the same initialisation: "
                       f"{', '.join(str(r) for r in tied)}")
                if strict:
                    raise CardioNetsError(f"{msg}; pass the run directories to use instead of their parent")
                _log.warning("%s; using %s (first by name)", msg, tied[0])
            chosen[task] = (best, tied[0])
            _log.info("model for task %s: %s", task, tied[0])
        models = {}
        for task, (_, run) in chosen.items():
            pred, info = _load_predictor(run)
            models[task] = _Model(run, info, pred, read_run(run))
        encoder = None
        if align_run is not None:
            state, info = load_run(align_run)
            encoder = ECGEncoder(ECGEncoderConfig(**info["ecg_encoder"]))
            encoder.load_state_dict(sub_state(state, "encoder"))
        elif models:
            encoder = next(iter(models.values())).predictor.encoder
        spec = common_spec([m.record for m in models.values()] + ([read_run(align_run)] if align_run else []))
        return cls(models, encoder, n_crops=n_crops, device=device, spec=spec)

    @property
    def n_crops(self) -> int:
        return self.spec.n_crops

    @property
    def tasks(self) -> list[str]:
        return sorted(self.models)

    # -- inputs -----------------------------------------------------------------------------
    def prepare(self, ecg: Any) -> tuple[torch.Tensor, list[int] | None, bool]:
        """Any accepted input -> ([B, n_crops, C, crop_len] float32, lead indices or None, batched?)."""
        if isinstance(ecg, (str, Path)):
            ecg = read_ecg(ecg)
        if hasattr(ecg, "signal") and hasattr(ecg, "fs"):
            sig = np.asarray(preprocess_ecg(ecg, spec=self.spec).signal, dtype=np.float32)  # [K, 12, crop_len]
            present = [j for j in range(sig.shape[1]) if np.isfinite(sig[:, j]).all()]
            if not present:
                raise InputError(f"{getattr(ecg, 'path', None) or 'ECG'}: no usable lead after preprocessing")
            leads = None if len(present) == sig.shape[1] else present
            return torch.from_numpy(sig[:, present][None]), leads, False
        x = torch.as_tensor(np.asarray(ecg, dtype=np.float32))
        if x.dim() == 2:
            return x[None, None], None, False
        if x.dim() == 3:
            return x[None], None, False
        if x.dim() == 4:
            return x, None, True
        L = self.spec.crop_len
        raise InputError(f"ECG array must be [12, {L}], [n_crops, 12, {L}] or [B, n_crops, 12, {L}] (the models' "
                         f"preprocessing spec), got shape {tuple(x.shape)}")

    # -- outputs ----------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, ecg: Any, leads: Sequence[int | str] | None = None) -> np.ndarray:
        """The ECG feature (mean over crops): [D], or [B, D] for a batch."""
        if self._encoder is None:
            raise CardioNetsError("no ECG encoder loaded")
        x, found, batched = self.prepare(ecg)
        leads = leads if leads is not None else found
        B, K = x.shape[:2]
        feat = self._encoder(self.policy.to(x.reshape(B * K, *x.shape[2:])), leads).reshape(B, K, -1).mean(1)
        out = feat.cpu().numpy()
        return out if batched else out[0]

    @torch.no_grad()
    def predict(self, ecg: Any, leads: Sequence[int | str] | None = None) -> dict | list[dict]:
        """Phenotypes (de-standardised, by name) and disease probabilities for one record or a batch."""
        x, found, batched = self.prepare(ecg)
        leads = leads if leads is not None else found
        x = self.policy.to(x)
        B = x.shape[0]
        results: list[dict[str, Any]] = [{} for _ in range(B)]
        for task, m in sorted(self.models.items()):
            out = m.predictor.predict(x, leads).cpu().numpy()  # [B, O], averaged over crops
            info = m.info
            if task == "phenotypes":
                names = info.get("phenotype_names") or [f"phenotype_{j}" for j in range(out.shape[1])]
                mean = np.asarray(info.get("phenotype_mean", np.zeros(out.shape[1])))
                std = np.asarray(info.get("phenotype_std", np.ones(out.shape[1])))
                vals = out * std + mean
                for b in range(B):
                    results[b]["phenotypes"] = {n: float(v) for n, v in zip(names, vals[b])}
            elif task == "diseases":
                for b in range(B):
                    results[b].setdefault("diseases", {}).update(
                        {n: float(v) for n, v in zip(info["diseases"], out[b])})
            elif task.startswith("disease:"):
                name = task.split(":", 1)[1]
                for b in range(B):
                    results[b].setdefault("diseases", {})[name] = float(out[b, 0])
            elif task == "cm_subtype":
                for b in range(B):
                    results[b]["cm_subtype"] = {n: float(v) for n, v in zip(("DCM", "HCM", "RCM"), out[b])}
        return results if batched else results[0]

    def __repr__(self) -> str:
        return f"CardioNets(tasks={self.tasks}, device={self.device})"


__all__ = ["CardioNets"]
