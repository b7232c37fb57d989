"""Training the generator's models with the one training loop (:func:`cardionets.train.fit`).

Three stages, each a :class:`~cardionets.train.loop.Task`:

* ``vae``: the VAE on the cines (L1 + SSIM + KL, + motion L1 for the frame-stack VAE); after training, the latent scale factor is
  computed from the training split's latents and written into the run's checkpoint.
* ``generator``: the MAR on the VAE latents of the cines (cached once: the VAE is frozen), conditioned
  on the aligned ECG embedding (the frozen ECG branch of an ``align`` run, recomputed per batch so the
  random training crops still vary).
* ``cross_decoder``: the deterministic baseline, aligned ECG embedding -> cine, L1.

:class:`GeneratorTrainConfig` extends the loop's :class:`~cardionets.train.config.TrainConfig` with a
``gen`` section; everything else (optimiser, schedule, EMA, checkpoints, resume, DDP, logs) is the
loop's own.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..device.policy import DevicePolicy
from ..device.prefetch import DevicePrefetcher
from ..errors import InputError
from ..models.cross_decoder import build_cross_decoder
from ..models.mar import build_mar, default_patch
from ..models.vae import build_vae
from ..models.vae3d import compute_latent_scale, ssim_frames
from ..train.checkpoint import save_model
from ..train.config import SIZES, TrainConfig, apply_layers, check_device_precision
from ..train.data import IndexedItems, SeededItems, collate
from ..train.loop import FitResult, Task, fit
from ..train.stages import cohort_datasets
from .loading import load_embedder, load_vae

GEN_STAGES = ("vae", "generator", "cross_decoder")

# Per-stage defaults. tiny = the CPU budget, sized for the 1,800 training subjects of a 3,000-subject
# cohort (VAE 225 steps, MAR 1,350 steps); scale the epochs up for a smaller cohort. docs/generator.md
# has the measured times.
PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    # the frame-stack VAE (models/vae2d.py; "gen.model.arch": "3d" selects the 3-D one)
    ("vae", "tiny"): {"epochs": 1, "batch_size": 8, "eval_batch_size": 8, "optim": {"lr": 1e-3, "warmup_epochs": 0.5,
                      "weight_decay": 0.0}, "gen": {"model": {"arch": "2d"}}, "out_dir": "runs/vae_tiny"},
    ("vae", "base"): {"epochs": 100, "batch_size": 16, "optim": {"lr": 4.5e-4, "weight_decay": 0.0},
                      "gen": {"model": {"arch": "2d"}}, "out_dir": "runs/vae_base"},
    # tiny: no EMA. An EMA of 0.999 over a few hundred CPU steps is mostly the initial weights (the
    # cosine decay of the learning rate to 1% already quiets the final weights).
    ("generator", "tiny"): {"epochs": 12, "batch_size": 16, "eval_batch_size": 32,
                            "optim": {"lr": 6e-4, "betas": (0.9, 0.95), "weight_decay": 0.02, "warmup_epochs": 0.5,
                                      "ema_decay": 0.0}, "out_dir": "runs/generator_tiny"},
    ("generator", "base"): {"epochs": 400, "batch_size": 64, "optim": {"lr": 8e-4, "betas": (0.9, 0.95),
                            "weight_decay": 0.02, "warmup_epochs": 10, "ema_decay": 0.9999}, "out_dir": "runs/generator_base"},
    ("cross_decoder", "tiny"): {"epochs": 2, "batch_size": 8, "eval_batch_size": 8,
                                "optim": {"lr": 1e-3, "weight_decay": 0.01}, "out_dir": "runs/cross_decoder_tiny"},
    ("cross_decoder", "base"): {"epochs": 100, "batch_size": 16, "optim": {"lr": 4.5e-4}, "out_dir": "runs/cross_decoder_base"},
}


@dataclass
class GenSection:
    model: dict[str, Any] = field(default_factory=dict)  # overrides of the model preset (cfg.size)
    vae_from: str | None = None    # generator: run directory of the trained VAE
    align_from: str | None = None  # generator / cross_decoder: run directory of the align stage
    scale_batches: int = 0         # vae: batches used for the latent scale (0 = the whole training split)
    cond: str = "pooled"           # generator: ECG condition, "pooled" (aligned embedding) or "leads" (+ 12 lead tokens)


@dataclass
class GeneratorTrainConfig(TrainConfig):
    stage: str = "vae"
    gen: GenSection = field(default_factory=GenSection)

    def validate(self) -> "GeneratorTrainConfig":
        if self.stage not in GEN_STAGES:
            raise InputError(f"unknown generator stage {self.stage!r}; stages: {', '.join(GEN_STAGES)}")
        if self.size not in SIZES:
            raise InputError(f"unknown model size {self.size!r}; presets: {', '.join(SIZES)}")
        check_device_precision(self.device, self.precision)
        if self.batch_size < 2:
            raise InputError("batch_size must be at least 2")
        if self.stage == "generator" and not self.gen.vae_from:
            raise InputError("the generator stage needs gen.vae_from: the run directory of `cardionets train-vae`")
        if self.stage in ("generator", "cross_decoder") and not self.gen.align_from:
            raise InputError(f"the {self.stage} stage needs gen.align_from: the run directory of the align stage")
        return self


def load_generator_config(stage: str, size: str = "tiny", path: str | Path | None = None,
                          overrides: list[str] | dict | None = None) -> GeneratorTrainConfig:
    """Defaults < the stage preset above < YAML ``path`` < ``key.sub=value`` overrides."""
    stage = stage.replace("-", "_")
    cfg = GeneratorTrainConfig(stage=stage, size=size)
    apply_layers(cfg, PRESETS.get((stage, size)), f"preset {stage}_{size}", path, overrides)
    cfg.stage = stage
    return cfg.validate()


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def _cine_batches(dataset, cfg: TrainConfig, policy: DevicePolicy, progress: bool = False, desc: str = ""):
    """Every cine of ``dataset`` as [B, 1, T, H, W] fp32 batches on the policy's device, in order."""
    loader = torch.utils.data.DataLoader(IndexedItems(SeededItems(dataset, cfg.seed), range(len(dataset))),
                                         batch_size=max(1, cfg.eval_batch_size), collate_fn=collate,
                                         **policy.loader_kwargs(cfg.num_workers))
    batches = DevicePrefetcher(loader, policy)
    if progress:
        batches = tqdm(batches, desc=desc, leave=False)
    return (b["cmr"][:, None].float() for b in batches)


@torch.no_grad()
def dataset_latents(vae, dataset, cfg: TrainConfig, policy: DevicePolicy, progress: bool = False) -> torch.Tensor:
    """Scaled VAE latents (posterior means) of every cine in ``dataset``, on the host: [N, 16, 25, 12, 12]
    (the VAE runs in fp32 on the policy's device)."""
    vae = policy.module(vae)
    out = [vae.encode_latents(x).cpu() for x in _cine_batches(dataset, cfg, policy, progress, "encoding cines")]
    return torch.cat(out) if out else torch.zeros(0, *vae.cfg.latent_shape)


class VAETask(Task):
    name = "vae"

    def setup(self, cfg, train_set, val_set):
        self.cfg = cfg
        self.model = build_vae(cfg.size, **cfg.gen.model)

    def train_loss(self, model, batch):
        x = batch["cmr"][:, None].float()  # [B, 1, T, H, W]
        recon, post = model(x)
        loss, parts = _unwrap(model).loss(x, recon, post)
        return loss, parts

    def eval_outputs(self, model, batch):
        x = batch["cmr"][:, None].float()
        recon = model.decode(model.encode(x).mean).clamp(-1, 1)  # deterministic reconstruction
        l1 = (recon - x).abs().flatten(1).mean(1)
        ssim = torch.stack([ssim_frames(recon[i], x[i]) for i in range(x.shape[0])])
        return {"l1": l1, "ssim": ssim}

    def eval_metrics(self, out):
        w = self.model.cfg.ssim_weight
        return {"val_loss": float((out["l1"] + w * (1 - out["ssim"])).mean()), "val_l1": float(out["l1"].mean()),
                "val_ssim": float(out["ssim"].mean())}

    def info(self):
        return {"kind": "vae3d", "vae": self.model.config_dict()}


class _EmbeddingTask(Task):
    def _embedder(self, cfg, mode: str = "pooled"):
        self.embedder = load_embedder(cfg.gen.align_from, mode)
        return self.embedder

    def to(self, policy):
        super().to(policy)
        self.embedder = policy.module(self.embedder)

    @torch.no_grad()
    def cond(self, batch) -> torch.Tensor:
        return self.embedder(batch["ecg"].float())


class MARTask(_EmbeddingTask):
    name = "generator"

    def setup(self, cfg, train_set, val_set):
        self.cfg = cfg
        vae = load_vae(cfg.gen.vae_from)
        emb = self._embedder(cfg, cfg.gen.cond)
        self.latent_scale = float(vae.latent_scale)
        self.lat_train = dataset_latents(vae, train_set, cfg, self.policy, cfg.progress)
        self.lat_val = dataset_latents(vae, val_set, cfg, self.policy, cfg.progress)
        C, T, H, W = vae.cfg.latent_shape
        self.model = build_mar(cfg.size, **{"cond_dim": emb.width, "cond_tokens": emb.n_tokens, "latent_channels": C,
                                            "latent_size": (T, H, W), "patch": default_patch((T, H, W)),
                                            **cfg.gen.model})

    def to(self, policy):
        """Model, frozen ECG embedder and the cached latents (indexed by each batch) on the device."""
        super().to(policy)
        self.lat_train, self.lat_val = policy.to(self.lat_train), policy.to(self.lat_val)

    def train_loss(self, model, batch):
        loss = model(self.lat_train[batch["index"]], self.cond(batch))
        return loss, {}

    def eval_outputs(self, model, batch):
        idx = batch["index"]
        # same masks / noise every epoch and on every device: a seeded host generator
        g = torch.Generator().manual_seed(self.cfg.seed * 7_368_787 + int(idx[0]))
        _, parts = model.forward_loss(self.lat_val[idx], self.cond(batch), generator=g, return_parts=True)
        m = parts["mask"]
        return {"loss": (parts["per_token"] * m).sum(1) / m.sum(1)}

    def eval_metrics(self, out):
        return {"val_loss": float(out["loss"].mean())}

    def info(self):
        return {"kind": "mar", "mar": self.model.config_dict(), "vae_from": str(self.cfg.gen.vae_from),
                "align_from": str(self.cfg.gen.align_from), "cond_mode": self.cfg.gen.cond,
                "latent_scale": self.latent_scale}


class CrossDecoderTask(_EmbeddingTask):
    name = "cross_decoder"

    def setup(self, cfg, train_set, val_set):
        self.cfg = cfg
        emb = self._embedder(cfg)
        self.model = build_cross_decoder(cfg.size, **{"cond_dim": emb.width, **cfg.gen.model})

    def train_loss(self, model, batch):
        pred = model(self.cond(batch))
        loss = (pred - batch["cmr"][:, None].float()).abs().mean()
        return loss, {}

    def eval_outputs(self, model, batch):
        pred = model(self.cond(batch))
        return {"l1": (pred - batch["cmr"][:, None].float()).abs().flatten(1).mean(1)}

    def eval_metrics(self, out):
        return {"val_loss": float(out["l1"].mean())}

    def info(self):
        return {"kind": "cross_decoder", "cross_decoder": self.model.config_dict(),
                "align_from": str(self.cfg.gen.align_from)}


TASKS = {"vae": VAETask, "generator": MARTask, "cross_decoder": CrossDecoderTask}


def finish_vae(task: VAETask, cfg: GeneratorTrainConfig, train_set) -> float:
    """Compute the latent scale on the training split with the selected weights and re-save the run."""
    batches = _cine_batches(train_set, cfg, task.policy)
    scale = compute_latent_scale(task.model, batches, cfg.gen.scale_batches or None)
    run_dir = Path(cfg.out_dir)
    info = json.loads((run_dir / "config.json").read_text())
    info.update(task.info())
    save_model(run_dir, task.model.state_dict(), info)
    return scale


def train(cfg: GeneratorTrainConfig, datasets: tuple | None = None, *, resume: str = "auto") -> tuple[FitResult, dict]:
    """Run one generator stage; ``datasets=(train, val[, test])`` or the cohort in ``cfg.cohort_dir``."""
    cfg.validate()
    if datasets is None:
        datasets = cohort_datasets(cfg, "cmr" if cfg.stage == "vae" else "paired")
    train_set, val_set = datasets[0], datasets[1]
    task = TASKS[cfg.stage]()
    result = fit(task, cfg, train_set, val_set, resume=resume)
    summary: dict[str, Any] = {"stage": cfg.stage, "run_dir": str(result.run_dir), "status": result.status,
                               "best_epoch": result.best_epoch, "best_val_loss": result.best_val,
                               "steps": result.steps, "step_seconds": result.step_seconds, "seconds": result.seconds}
    if cfg.stage == "vae" and result.status != "paused":
        summary["latent_scale"] = finish_vae(task, cfg, train_set)
    if not math.isfinite(result.best_val):
        summary["warning"] = "no finite validation loss was recorded"
    return result, summary
