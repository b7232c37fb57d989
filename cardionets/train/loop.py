"""The one training loop behind all four stages.

A stage is a :class:`Task` (what the model is, its loss, its evaluation); :func:`fit` does the rest:
AdamW with decoupled weight decay (none on biases, norms and embeddings), linear warm-up then
cosine, gradient clipping, optional EMA, per-epoch evaluation on the validation split with early
stopping (the test split never enters here), deterministic seeding, a clear stop on a non-finite
loss, tqdm progress, CSV logs (TensorBoard optional), safetensors checkpoints with exact resume, and
DDP when launched by torchrun.

Device: ``cfg.device`` / ``cfg.precision`` give one :class:`~cardionets.device.DevicePolicy` per
run. The task's model (and the tensors it keeps) is put on the device once, after ``setup``
(:meth:`Task.to`); batches reach the device through the policy's prefetcher (pinned memory and
non-blocking copies on CUDA); forward passes run under its autocast (bf16 on CUDA, fp16 with a
gradient scaler on GPUs without bf16); DDP uses NCCL on CUDA and gloo on the CPU. The run's
``config.json`` and ``fit.json`` record the device, the precision and the op backends that ran.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..device.policy import DevicePolicy, runtime_record
from ..device.prefetch import DevicePrefetcher
from ..errors import CardioNetsError
from ..optional import require
from ..ops.dispatch import backend_usage, usage_since
from ..progress import beat
from . import distributed as D
from .checkpoint import load_resume, load_tensors, rng_state, save_model, save_resume, set_rng_state
from .config import TrainConfig
from .data import GlobalBatchSampler, IndexedItems, SeededItems, collate, shard_indices
from .schedule import EMA, lr_at
from tqdm import tqdm

log = logging.getLogger("cardionets.train")


class Task:
    """What a stage trains. Subclasses set ``self.model`` in :meth:`setup`; :func:`fit` sets
    ``self.policy`` (the run's device policy) before calling it, so work done in ``setup`` (frozen
    encoders over a split) can run on the device too."""

    name = "task"
    model: torch.nn.Module
    policy: DevicePolicy | None = None

    def setup(self, cfg: TrainConfig, train_set, val_set) -> None:
        raise NotImplementedError

    def to(self, policy: DevicePolicy) -> None:
        """Put the model, and any tensor the task indexes with a batch, on the policy's device."""
        self.model = policy.module(self.model)

    def train_loss(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one (per-process) batch; ``model`` may be the DDP wrapper of ``self.model``."""
        raise NotImplementedError

    def eval_outputs(self, model: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        """Per-item evaluation outputs (rows aligned with ``batch['index']``)."""
        raise NotImplementedError

    def eval_metrics(self, outputs: dict[str, torch.Tensor]) -> dict[str, float]:
        """Metrics from the gathered outputs of the whole split (must include ``val_loss``)."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Tensors saved with the model (e.g. the align stage's PCA)."""
        return {}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        pass

    def info(self) -> dict[str, Any]:
        """JSON-able description written to the run's config.json (model configs, task metadata)."""
        return {}


@dataclass
class FitResult:
    run_dir: Path
    status: str  # completed | early_stopped | paused
    epochs: int
    steps: int
    best_epoch: int
    best_val: float
    history: list[dict] = field(default_factory=list)
    step_seconds: float = float("nan")
    seconds: float = 0.0
    runtime: dict = field(default_factory=dict)  # device, precision, DDP, op backends that ran


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


_NO_DECAY = {"pos_embed", "lead_embed", "sep_embed", "cls_token", "mask_token", "decoder_pos", "decoder_lead"}


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim <= 1 or name.rsplit(".", 1)[-1] in _NO_DECAY
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _CSVLog:
    def __init__(self, path: Path, keep_until_step: int | None, key: str = "step"):
        self.path, self.writer, self.fh = path, None, None
        if keep_until_step is not None and path.exists():  # resumed: drop rows written after the checkpoint
            with path.open() as fh:
                rows = [r for r in csv.DictReader(fh) if int(float(r[key])) <= keep_until_step]
            if rows:
                with path.open("w", newline="") as fh:
                    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    w.writeheader()
                    w.writerows(rows)
            else:
                path.unlink()

    def write(self, row: dict) -> None:
        if self.writer is None:
            new = not self.path.exists()
            self.fh = self.path.open("a", newline="")
            fields = list(row) if new else next(csv.reader(self.path.open()))
            self.writer = csv.DictWriter(self.fh, fieldnames=fields, extrasaction="ignore")
            if new:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.fh.flush()

    def close(self) -> None:
        if self.fh:
            self.fh.close()


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


@torch.no_grad()
def evaluate(task: Task, model: torch.nn.Module, dataset, cfg: TrainConfig) -> dict[str, float]:
    """Gathered evaluation: each process runs its shard; outputs of all shards are concatenated in
    dataset order on every process, and the task computes the metrics of the whole split."""
    d = D.info()
    policy = task.policy or DevicePolicy.create(cfg.device, cfg.precision)
    model = _unwrap(model)
    was_training = model.training
    model.eval()
    view = IndexedItems(SeededItems(dataset, cfg.seed), shard_indices(len(dataset), d.rank, d.world))
    loader = torch.utils.data.DataLoader(view, batch_size=max(1, cfg.eval_batch_size // d.world), shuffle=False,
                                         collate_fn=collate, **policy.loader_kwargs(cfg.num_workers))
    parts: dict[str, list[torch.Tensor]] = {}
    for i, batch in enumerate(DevicePrefetcher(loader, policy)):
        beat(f"{task.name} evaluation", i, len(loader))
        with policy.autocast():
            out = task.eval_outputs(model, batch)
        out["index"] = batch["index"]
        for k, v in out.items():
            parts.setdefault(k, []).append(v.detach().float().cpu() if v.is_floating_point() else v.cpu())
    local = {k: torch.cat(v) for k, v in parts.items()}
    gathered = D.all_gather_objects(local)
    merged = {k: torch.cat([g[k] for g in gathered if k in g]) for k in local} if local else {}
    if merged:
        order = torch.argsort(merged["index"])
        merged = {k: v[order] for k, v in merged.items()}
    model.train(was_training)
    return task.eval_metrics(merged)


def fit(task: Task, cfg: TrainConfig, train_set, val_set, *, resume: str = "auto") -> FitResult:
    """Train ``task`` on ``train_set``, select the epoch by the validation loss on ``val_set``.

    ``resume``: ``auto`` continues from ``out_dir/checkpoints/last`` when it exists, ``never``
    starts over. The returned task's model holds the best weights (also in ``out_dir/model.safetensors``).
    """
    t_start = time.perf_counter()
    cfg.validate()
    policy = DevicePolicy.create(cfg.device, cfg.precision)
    d = D.init(policy.device)
    usage0 = backend_usage()
    run_dir = Path(cfg.out_dir)
    last_dir = run_dir / "checkpoints" / "last"
    if d.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume == "never" and last_dir.exists():
            shutil.rmtree(last_dir)
    D.barrier()

    seed_all(cfg.seed)  # identical model initialisation on every process
    task.policy = policy
    task.setup(cfg, train_set, val_set)
    task.to(policy)  # the one move of the model (and the task's tensors) to the device
    model = task.model
    opt = torch.optim.AdamW(param_groups(model, cfg.optim.weight_decay), lr=cfg.optim.lr, betas=cfg.optim.betas,
                            foreach=True)
    scaler = policy.grad_scaler()  # fp16 autocast only
    ema = EMA(model, cfg.optim.ema_decay) if cfg.optim.ema_decay > 0 else None
    steps_per_epoch = len(train_set) // cfg.batch_size
    if steps_per_epoch == 0:
        raise CardioNetsError(f"training split has {len(train_set)} items, fewer than one batch of {cfg.batch_size}")
    total_steps = cfg.epochs * steps_per_epoch
    warmup = int(round(cfg.optim.warmup_epochs * steps_per_epoch))
    loop = {"epoch": 0, "step": 0, "batch_in_epoch": 0, "best_val": math.inf, "best_epoch": -1,
            "bad_epochs": 0, "history": [], "status": "running", "grad_scaler": None}
    seed_all(cfg.seed + 7919 * (d.rank + 1))  # per-process stream for dropout / masking
    resumed = False
    if resume == "auto" and last_dir.exists():
        st = load_resume(last_dir, model=model, optimizer=opt, rank=d.rank)
        loop = {"grad_scaler": None, **st["loop"]}
        if loop["status"] == "paused":
            loop["status"] = "running"
        if ema is not None and st["ema"] is not None:
            ema.shadow = policy.to(st["ema"])
        if scaler is not None and loop["grad_scaler"]:
            scaler.load_state_dict(loop["grad_scaler"])
        task.load_extra_state(st["extra"])
        set_rng_state(*st["rng"], device=policy.device)
        resumed = True
        log.info("resumed %s at epoch %d step %d", run_dir, loop["epoch"], loop["step"])
    cfg_dict = cfg.to_dict()

    def runtime() -> dict:
        return runtime_record(policy, backends=usage_since(usage0), world=d.world)

    ddp_model = model
    if d.enabled:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model, **policy.ddp_kwargs())

    train_log = _CSVLog(run_dir / "train_log.csv", loop["step"] if resumed else -1) if d.main else None
    eval_log = _CSVLog(run_dir / "eval_log.csv", loop["epoch"] if resumed else -1, key="epoch") if d.main else None
    tb = None
    if cfg.tensorboard and d.main:
        require("tensorboard", "tensorboard logging")
        tb = require("torch.utils.tensorboard").SummaryWriter(str(run_dir / "tb"))

    def checkpoint() -> None:
        rngs = D.all_gather_objects(rng_state(policy.device))
        loop["grad_scaler"] = scaler.state_dict() if scaler is not None else None
        if d.main:
            save_resume(last_dir, model=model, optimizer=opt, ema=ema.shadow if ema else None, loop_state=loop,
                        config=cfg_dict, rng=rngs, extra=task.extra_state())
        D.barrier()

    def eval_weights():
        return contextlib.nullcontext() if ema is None else _EMAWeights(ema, model)

    step_times: list[float] = []
    model.train()
    try:
        while loop["epoch"] < cfg.epochs and loop["status"] == "running":
            epoch = loop["epoch"]
            sampler = GlobalBatchSampler(len(train_set), cfg.batch_size, seed=cfg.seed, epoch=epoch, rank=d.rank,
                                         world=d.world, start_batch=loop["batch_in_epoch"])
            loader = torch.utils.data.DataLoader(
                SeededItems(train_set, cfg.seed), batch_sampler=sampler, collate_fn=collate,
                generator=torch.Generator().manual_seed(cfg.seed + epoch), **policy.loader_kwargs(cfg.num_workers))
            bar = _progress(cfg, d, len(sampler), f"{task.name} epoch {epoch + 1}/{cfg.epochs}")
            t_step = time.perf_counter()
            for batch in DevicePrefetcher(loader, policy):
                lr = lr_at(loop["step"], base_lr=cfg.optim.lr, warmup_steps=warmup, total_steps=total_steps,
                           min_lr_ratio=cfg.optim.min_lr_ratio)
                for g in opt.param_groups:
                    g["lr"] = lr
                with policy.autocast():
                    loss, logs = task.train_loss(ddp_model, batch)
                if D.any_true(not bool(torch.isfinite(loss.detach()).all())):
                    raise CardioNetsError(
                        f"{task.name}: non-finite loss at epoch {epoch + 1}, step {loop['step'] + 1} "
                        f"(lr {lr:.3g}); stopping. Lower optim.lr, check the data for NaN/Inf, or use precision fp32.")
                opt.zero_grad(set_to_none=True)
                gnorm = _backward_step(loss, model, opt, scaler, cfg.optim.grad_clip)
                if ema is not None:
                    ema.update(model)
                loop["step"] += 1
                loop["batch_in_epoch"] += 1
                now = time.perf_counter()
                step_times.append(now - t_step)
                t_step = now
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{float(loss):.4f}", lr=f"{lr:.2e}")
                beat(f"{task.name} epoch {epoch + 1}/{cfg.epochs}", loop["batch_in_epoch"], steps_per_epoch,
                     lambda: f"loss {float(loss.detach()):.4f}")  # read (a device sync) only when someone listens
                if loop["step"] % max(1, cfg.log_every) == 0 or loop["batch_in_epoch"] == steps_per_epoch:
                    shown_loss = logs.pop("loss") if "loss" in logs else D.all_reduce_mean(float(loss.detach()))
                    row = {"step": loop["step"], "epoch": epoch + 1, "lr": lr, "loss": shown_loss,
                           "grad_norm": float(gnorm), "step_seconds": step_times[-1], **logs}
                    if train_log:
                        train_log.write(row)
                    if tb:
                        tb.add_scalar("train/loss", row["loss"], loop["step"])
                        tb.add_scalar("train/lr", lr, loop["step"])
                if cfg.stop_after and loop["step"] >= cfg.stop_after:
                    loop["status"] = "paused"
                    checkpoint()
                    break
                if cfg.checkpoint_every and loop["step"] % cfg.checkpoint_every == 0 and \
                        loop["batch_in_epoch"] < steps_per_epoch:
                    checkpoint()
            if bar is not None:
                bar.close()
            if loop["status"] == "paused":
                break
            # -- end of epoch: validation, model selection, early stopping ---------------------
            with eval_weights():
                metrics = evaluate(task, model, val_set, cfg)
                improved = metrics["val_loss"] < loop["best_val"]
                if improved:
                    loop["best_val"], loop["best_epoch"], loop["bad_epochs"] = metrics["val_loss"], epoch + 1, 0
                    if d.main:
                        save_model(run_dir, model.state_dict() | _prefixed(task.extra_state()),
                                   {"config": cfg_dict, **task.info(), "epoch": epoch + 1, "step": loop["step"],
                                    "val": metrics, "runtime": runtime()})
                else:
                    loop["bad_epochs"] += 1
            row = {"epoch": epoch + 1, "step": loop["step"], **metrics, "best": improved}
            loop["history"].append(row)
            if eval_log:
                eval_log.write(row)
            if tb:
                for k, v in metrics.items():
                    tb.add_scalar(f"val/{k}", v, loop["step"])
            if d.main and cfg.progress:
                shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
                print(f"{task.name} epoch {epoch + 1}: {shown}{'  (best)' if improved else ''}", flush=True)
            loop["epoch"] += 1
            loop["batch_in_epoch"] = 0
            if cfg.patience and loop["bad_epochs"] >= cfg.patience:
                loop["status"] = "early_stopped"
            elif loop["epoch"] >= cfg.epochs:
                loop["status"] = "completed"
            checkpoint()
    finally:
        for lg in (train_log, eval_log):
            if lg:
                lg.close()
        if tb:
            tb.close()

    if loop["status"] != "paused":
        D.barrier()
        best = load_tensors(run_dir / "model.safetensors")
        model.load_state_dict({k: v for k, v in best.items() if not k.startswith("extra.")})
    res = FitResult(run_dir=run_dir, status=loop["status"], epochs=loop["epoch"], steps=loop["step"],
                    best_epoch=loop["best_epoch"], best_val=loop["best_val"], history=loop["history"],
                    step_seconds=float(np.median(step_times[1:])) if len(step_times) > 1 else float("nan"),
                    seconds=time.perf_counter() - t_start, runtime=runtime())
    if d.main:
        (run_dir / "fit.json").write_text(json.dumps({k: (str(v) if isinstance(v, Path) else v)
                                                      for k, v in res.__dict__.items()}, indent=1, default=str))
    return res


def _backward_step(loss: torch.Tensor, model: torch.nn.Module, opt: torch.optim.Optimizer,
                   scaler: "torch.amp.GradScaler | None", grad_clip: float) -> "torch.Tensor | float":
    """Backward, optional clipping of the global gradient norm, optimiser step (through the fp16
    gradient scaler when there is one: it skips steps whose gradients overflowed). Returns the
    gradient norm before clipping (a device tensor, read only when logged; NaN when clipping is off)."""
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(opt)  # clip the true gradients
    else:
        loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip) if grad_clip > 0 else float("nan")
    if scaler is not None:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    return gnorm


def _prefixed(extra: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"extra.{k}": v for k, v in extra.items()}


class _EMAWeights:
    def __init__(self, ema: EMA, model: torch.nn.Module):
        self.ema, self.model, self.backup = ema, model, None

    def __enter__(self):
        self.backup = self.ema.swap_into(self.model)

    def __exit__(self, *exc):
        self.model.load_state_dict(self.backup)


def _progress(cfg: TrainConfig, d: D.DistInfo, total: int, desc: str):
    if not (cfg.progress and d.main):
        return None
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
