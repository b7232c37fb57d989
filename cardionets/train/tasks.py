"""The four stages as :class:`~cardionets.train.loop.Task` objects (model, loss, evaluation).

* :class:`CMRPretrainTask` -- MAE on cine CMR.
* :class:`ECGPretrainTask` -- ST-MEM on ECG crops.
* :class:`AlignTask` -- ECG encoder + projector against the frozen CMR encoder, weighted InfoNCE.
* :class:`FinetuneTask` -- encoder + head for phenotypes or screening, five initialisations.

Validation masks of the masked-pretraining stages are drawn from per-subject seeds, so the
validation loss is the same function of the weights at every epoch and in every process layout.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from ..data.schema import DISEASES
from ..device.policy import DevicePolicy
from ..device.prefetch import DevicePrefetcher
from ..errors import CardioNetsError, InputError
from ..preprocess import PreprocessSpec
from ..run_record import read_run
from ..models import (CMREncoder, ECGEncoder, ECGMaskedAutoencoder, CMRMaskedAutoencoder, ClassificationHead,
                      Predictor, ProjectionHead, RegressionHead, classification_loss, cmr_config, cmr_mae_config,
                      ecg_config, masked_mse, probabilities, stmem_config)
from . import distributed as D
from .checkpoint import load_run, sub_state
from .config import TrainConfig
from .data import IndexedItems, SeededItems, Subset, collate, shard_indices
from .loop import Task
from .metrics import auc, r2_per_column
from ..data import CMRDataset, PHENOTYPE_NAMES
from ..models import CMREncoderConfig
from ..ops.weighted_infonce import weighted_infonce
from sklearn.decomposition import PCA

DISEASE_NAMES = DISEASES  # the screening targets (one home: cardionets.data.schema)


def _item_noise(index: torch.Tensor, shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    """Per-subject masking noise [B, *shape] on ``device``, drawn from host generators seeded with
    (seed, index): the same masks on every device and process layout."""
    rows = [torch.rand(shape, generator=torch.Generator().manual_seed(seed * 7_368_787 + i)) for i in index.tolist()]
    return torch.stack(rows).to(device)


def _first_crop(ecg: torch.Tensor) -> torch.Tensor:
    return ecg[:, 0] if ecg.dim() == 4 else ecg  # eval items carry [n_crops, 12, T]


def load_encoder_from(run_dir: str, expect_stage: str | tuple[str, ...], encoder: torch.nn.Module,
                      spec: PreprocessSpec | None = None) -> dict:
    """Copy the ``encoder.*`` weights of a run into ``encoder``; checks the stage, the architecture
    and, for an ECG encoder (``spec`` given), that the parent run preprocessed its ECGs the same way
    (evaluation crop counts may differ)."""
    state, info = load_run(run_dir)
    record = read_run(run_dir)
    stages = (expect_stage,) if isinstance(expect_stage, str) else expect_stage
    if record.stage not in stages:
        raise InputError(f"{run_dir} is a {record.stage!r} run; expected {' or '.join(stages)}")
    if spec is not None and record.preprocess.with_(n_crops=spec.n_crops) != spec:
        raise InputError(f"{run_dir} was trained on ECGs preprocessed as {record.preprocess.describe()}; this run "
                         f"preprocesses as {spec.describe()} (set preprocess: in the config to match)")
    enc = sub_state(state, "encoder")
    missing, unexpected = encoder.load_state_dict(enc, strict=False)
    if missing or unexpected:
        raise InputError(f"encoder weights in {run_dir} do not match this architecture "
                         f"(missing {missing[:4]}, unexpected {unexpected[:4]}); check the model size")
    return info


def _decoder_overrides(cfg: TrainConfig) -> dict:
    out = {}
    if cfg.mae.decoder_width:
        out["decoder_width"] = cfg.mae.decoder_width
        out["decoder_heads"] = max(1, cfg.mae.decoder_width // 32)
    if cfg.mae.decoder_depth:
        out["decoder_depth"] = cfg.mae.decoder_depth
    return out


class CMRPretrainTask(Task):
    name = "pretrain_cmr"

    def setup(self, cfg: TrainConfig, train_set, val_set) -> None:
        self.cfg = cfg
        mc = cmr_mae_config(cfg.size, encoder_overrides=cfg.encoder, mask_ratio=cfg.mae.mask_ratio,
                            norm_pix_loss=cfg.mae.norm_loss, **_decoder_overrides(cfg))
        self.model = CMRMaskedAutoencoder(mc)

    def train_loss(self, model, batch):
        loss, _, _ = model(batch["cmr"])
        return loss, {}

    def eval_outputs(self, model, batch):
        x = batch["cmr"]
        noise = _item_noise(batch["index"], (self.model.cfg.encoder.num_patches,), self.cfg.seed, x.device)
        loss, _, _ = model(x, noise=noise, per_sample=True)
        return {"loss": loss}

    def eval_metrics(self, out):
        return {"val_loss": float(out["loss"].mean())}

    def info(self):
        return {"kind": "cmr_mae", "cmr_encoder": asdict(self.model.cfg.encoder), "mae": asdict(self.model.cfg)}


def _ecg_overrides(cfg: TrainConfig) -> dict:
    """The ECG encoder's config overrides: the crop length of the preprocessing spec, then ``cfg.encoder``."""
    return {"seq_len": cfg.preprocess.crop_len, **cfg.encoder}


class ECGPretrainTask(Task):
    name = "pretrain_ecg"

    def setup(self, cfg: TrainConfig, train_set, val_set) -> None:
        self.cfg = cfg
        mc = stmem_config(cfg.size, encoder_overrides=_ecg_overrides(cfg), mask_ratio=cfg.mae.mask_ratio,
                          norm_patch_loss=cfg.mae.norm_loss, **_decoder_overrides(cfg))
        self.model = ECGMaskedAutoencoder(mc)

    def train_loss(self, model, batch):
        loss, _, _ = model(batch["ecg"])
        return loss, {}

    def eval_outputs(self, model, batch):
        x = _first_crop(batch["ecg"])
        e = self.model.cfg.encoder
        noise = _item_noise(batch["index"], (x.shape[1], e.num_patches), self.cfg.seed, x.device)
        loss, _, _ = model(x, noise=noise, per_sample=True)
        return {"loss": loss}

    def eval_metrics(self, out):
        return {"val_loss": float(out["loss"].mean())}

    def info(self):
        return {"kind": "stmem", "ecg_encoder": asdict(self.model.cfg.encoder), "stmem": asdict(self.model.cfg)}


class AlignModel(torch.nn.Module):
    """ECG encoder + projector into the (frozen) CMR embedding space; optional CMR projector."""

    def __init__(self, encoder: ECGEncoder, cmr_dim: int, cmr_projector: bool, hidden: int = 0):
        super().__init__()
        self.encoder = encoder
        self.projector = ProjectionHead(encoder.width, cmr_dim, hidden or None)
        self.cmr_projector = ProjectionHead(cmr_dim, cmr_dim, hidden or None) if cmr_projector else None

    def forward(self, ecg: torch.Tensor, cmr_feat: torch.Tensor):
        """ecg [B, 12, T] or [B, K, 12, T] (features averaged over crops); cmr_feat [B, Dc] frozen CLS."""
        if ecg.dim() == 4:
            B, K = ecg.shape[:2]
            feat = self.encoder(ecg.reshape(B * K, *ecg.shape[2:])).reshape(B, K, -1).mean(1)
        else:
            feat = self.encoder(ecg)
        z_c = self.cmr_projector(cmr_feat) if self.cmr_projector is not None else cmr_feat
        return self.projector(feat), z_c


@torch.no_grad()
def cmr_embeddings(encoder: CMREncoder, dataset, cfg: TrainConfig, policy: DevicePolicy) -> torch.Tensor:
    """CLS embeddings [N, D] of every subject, on the host (eval mode, fp32, computed on the policy's
    device; sharded over processes, then gathered)."""
    d = D.info()
    encoder = policy.module(encoder).eval()
    idx = shard_indices(len(dataset), d.rank, d.world)
    loader = torch.utils.data.DataLoader(IndexedItems(SeededItems(dataset, cfg.seed), idx),
                                         batch_size=cfg.eval_batch_size, collate_fn=collate,
                                         **policy.loader_kwargs(cfg.num_workers))
    feats, order = [], []
    for batch in DevicePrefetcher(loader, policy):
        feats.append(encoder(batch["cmr"]).float().cpu())
        order.append(batch["index"].cpu())
    local = (torch.cat(feats) if feats else torch.zeros(0, encoder.width), torch.cat(order) if order else torch.zeros(0, dtype=torch.long))
    parts = D.all_gather_objects(local)
    f = torch.cat([p[0] for p in parts])
    o = torch.cat([p[1] for p in parts])
    return f[torch.argsort(o)]


def cmr_view(ds):
    """The same subjects, in the same order, with their cines: an ECG-only cohort dataset (what the
    align loop iterates, so training batches do not carry cines) gets a CMR dataset beside it."""
    if getattr(ds, "uses_cmr", True) or getattr(ds, "cohort", None) is None:
        return ds
    return CMRDataset(ds.cohort, ds.indices, mode="eval", scaler=ds.scaler, cmr_cache=True)


def median_distance(x: np.ndarray, max_n: int = 2000) -> float:
    sub = x[:max_n].astype(np.float64)
    d = np.sqrt(((sub[:, None, :] - sub[None, :, :]) ** 2).sum(-1))
    iu = np.triu_indices(len(sub), 1)
    return float(np.median(d[iu])) if len(iu[0]) else 1.0


class AlignTask(Task):
    name = "align"

    def setup(self, cfg: TrainConfig, train_set, val_set) -> None:
        self.cfg = cfg
        a = cfg.align
        _, cmr_info = load_run(a.cmr_from)
        if cmr_info.get("config", {}).get("stage") != "pretrain_cmr":
            raise InputError(f"align.cmr_from={a.cmr_from} is not a pretrain_cmr run")
        self.cmr_cfg = CMREncoderConfig(**cmr_info["cmr_encoder"])
        cmr = CMREncoder(self.cmr_cfg)
        load_encoder_from(a.cmr_from, "pretrain_cmr", cmr)
        for p in cmr.parameters():
            p.requires_grad_(False)
        cmr.eval()  # frozen, eval mode: no dropout / drop-path
        self.cls_train = cmr_embeddings(cmr, cmr_view(train_set), cfg, self.policy)  # [N_train, Dc] raw CLS
        self.cls_val = cmr_embeddings(cmr, cmr_view(val_set), cfg, self.policy)  # [N_val, Dc]
        # Contrastive targets. Frozen ViT embeddings share a large common direction that makes all
        # cosine similarities nearly equal; z-scoring with training-split statistics keeps only the
        # between-subject part. phi below is the PCA of the raw CLS, as in the paper.
        self.cmr_mean = self.cls_train.mean(0)
        self.cmr_scale = self.cls_train.std(0) + 1e-6
        if a.standardize_cmr:
            self.cmr_train = (self.cls_train - self.cmr_mean) / self.cmr_scale
            self.cmr_val = (self.cls_val - self.cmr_mean) / self.cmr_scale
        else:
            self.cmr_train, self.cmr_val = self.cls_train, self.cls_val
        # phi = PCA of the frozen CLS embeddings, fitted on the training split only
        n_comp = int(min(a.pca_dim, self.cls_train.shape[1], self.cls_train.shape[0]))
        pca = PCA(n_components=n_comp, svd_solver="full", random_state=0).fit(self.cls_train.double().numpy())
        self.pca_mean = torch.from_numpy(pca.mean_).float()
        self.pca_components = torch.from_numpy(pca.components_).float()  # [P, Dc]
        self.phi_train = self.phi(self.cls_train)
        self.phi_val = self.phi(self.cls_val)
        self.sigma_scale = median_distance(self.phi_train.numpy())
        if not np.isfinite(self.sigma_scale) or self.sigma_scale <= 0:
            raise InputError(
                f"align: the CMR encoder {a.cmr_from} gives the same embedding to every training cine "
                f"(median pairwise distance {self.sigma_scale}), so the phenotype weights are undefined; "
                "check that the cohort's cines differ between subjects (e.g. not one file copied for all)")
        self.sigma = a.sigma * self.sigma_scale
        ecg = ECGEncoder(ecg_config(cfg.size, **_ecg_overrides(cfg)))
        if a.ecg_init_from:
            load_encoder_from(a.ecg_init_from, "pretrain_ecg", ecg, cfg.preprocess)
        self.model = AlignModel(ecg, self.cmr_cfg.width, a.cmr_projector, a.proj_hidden)

    def phi(self, cls: torch.Tensor) -> torch.Tensor:
        return (cls - self.pca_mean) @ self.pca_components.T  # [N, P]

    _STATE = ("cls_train", "cls_val", "cmr_train", "cmr_val", "cmr_mean", "cmr_scale", "pca_mean", "pca_components",
              "phi_train", "phi_val")

    def to(self, policy):
        """The model and every tensor indexed by a batch (targets, phi) on the device (setup made them
        on the host: the PCA and the sigma statistics are numpy)."""
        super().to(policy)
        for name in self._STATE:
            setattr(self, name, policy.to(getattr(self, name)))

    def loss(self, z_e, z_c, phi):
        return weighted_infonce(z_e.float(), z_c.float(), phi, sigma=self.sigma, tau=self.cfg.align.tau)

    def train_loss(self, model, batch):
        idx = batch["index"]
        z_e, z_c = model(batch["ecg"], self.cmr_train[idx])
        world = D.info().world
        z_e_all = D.gather_with_local_grad(z_e)
        z_c_all = D.gather_with_local_grad(z_c) if z_c.requires_grad else D.all_gather_tensor(z_c)
        phi_all = D.all_gather_tensor(self.phi_train[idx])
        loss = self.loss(z_e_all, z_c_all, phi_all)
        # every process holds the loss of the global batch; x world cancels DDP's gradient averaging
        return loss * world, {"loss": float(loss.detach())}

    def eval_outputs(self, model, batch):
        idx = batch["index"]
        z_e, z_c = model(batch["ecg"], self.cmr_val[idx])
        return {"z_e": z_e, "z_c": z_c, "phi": self.phi_val[idx]}

    def eval_metrics(self, out):
        B, n = self.cfg.batch_size, out["z_e"].shape[0]
        total, count, hits = 0.0, 0, 0
        for s in range(0, n, B):
            ze, zc, ph = out["z_e"][s:s + B], out["z_c"][s:s + B], out["phi"][s:s + B]
            if ze.shape[0] < 2:
                continue
            total += float(self.loss(ze, zc, ph)) * ze.shape[0]
            count += ze.shape[0]
            sim = torch.nn.functional.normalize(ze, dim=-1) @ torch.nn.functional.normalize(zc, dim=-1).T
            hits += int((sim.argmax(1) == torch.arange(ze.shape[0], device=sim.device)).sum())
        return {"val_loss": total / max(count, 1), "val_top1": hits / max(count, 1)}

    def extra_state(self):
        return {"pca_mean": self.pca_mean, "pca_components": self.pca_components,
                "sigma": torch.tensor([self.sigma], dtype=torch.float64), "cmr_mean": self.cmr_mean,
                "cmr_scale": self.cmr_scale}

    def load_extra_state(self, t):
        if "pca_mean" in t:
            dev = self.cls_train.device  # the checkpoint's tensors are on the host
            self.pca_mean, self.pca_components = t["pca_mean"].to(dev), t["pca_components"].to(dev)
            self.sigma = float(t["sigma"][0])
            self.phi_train, self.phi_val = self.phi(self.cls_train), self.phi(self.cls_val)

    def info(self):
        return {"kind": "align", "ecg_encoder": asdict(self.model.encoder.cfg), "cmr_encoder": asdict(self.cmr_cfg),
                "sigma": self.sigma, "sigma_median_distance": self.sigma_scale, "tau": self.cfg.align.tau,
                "pca_dim": int(self.pca_components.shape[0])}


# -- fine-tuning ------------------------------------------------------------------------------
def task_kind(task: str) -> tuple[str, int, str]:
    """(kind, number of outputs, target key) of a fine-tuning task name."""
    if task == "phenotypes":
        return "regression", -1, "phenotypes"
    if task == "diseases":
        return "multilabel", len(DISEASE_NAMES), "labels"
    if task.startswith("disease:"):
        name = task.split(":", 1)[1]
        if name not in DISEASE_NAMES:
            raise InputError(f"unknown disease {name!r} in task {task!r}; diseases: {', '.join(DISEASE_NAMES)}")
        return "binary", 1, "labels"
    if task == "cm_subtype":
        return "multiclass", 3, "cm_subtype"
    raise InputError(f"unknown finetune task {task!r}: phenotypes | diseases | disease:<name> | cm_subtype")


def dataset_attr(ds, name: str):
    while ds is not None:
        if hasattr(ds, name):
            return getattr(ds, name)
        ds = getattr(ds, "dataset", None)
    return None


def target_column(ds, key: str) -> np.ndarray:
    """All items' ``key`` values; read from the cohort tables for :mod:`cardionets.data` datasets,
    else by iterating the items."""
    if isinstance(ds, Subset):
        return target_column(ds.dataset, key)[np.asarray(ds.indices, dtype=np.int64)]
    cohort, rows = getattr(ds, "cohort", None), getattr(ds, "indices", None)
    if cohort is not None and rows is not None:
        if key == "labels":
            return np.asarray(cohort.labels)[rows]
        if key == "cm_subtype":
            return np.asarray(cohort.cm_subtype)[rows]
        if key == "phenotypes" and hasattr(ds, "_phen"):
            return np.asarray(ds._phen)[rows]
    return np.stack([np.asarray(SeededItems(ds, 0)[i][key]) for i in range(len(ds))])


class FinetuneTask(Task):
    name = "finetune"

    def setup(self, cfg: TrainConfig, train_set, val_set) -> None:
        self.cfg = cfg
        f = cfg.finetune
        self.kind, n_out, self.key = task_kind(f.task)
        self.modality = "cmr" if f.init == "cmr_ref" else "ecg"
        self.disease = DISEASE_NAMES.index(f.task.split(":", 1)[1]) if self.kind == "binary" else None
        if self.kind == "regression":
            n_out = int(np.asarray(SeededItems(train_set, 0)[0]["phenotypes"]).shape[-1])
        if self.modality == "cmr":
            encoder = CMREncoder(cmr_config(cfg.size, **cfg.encoder))
        else:
            encoder = ECGEncoder(ecg_config(cfg.size, **_ecg_overrides(cfg)))
        expect = {"ssl": "pretrain_ecg", "cardionets": "align", "phen_sup": "finetune", "cmr_ref": "pretrain_cmr"}
        if f.init != "scratch":
            load_encoder_from(f.init_from, expect[f.init], encoder, cfg.preprocess if self.modality == "ecg" else None)
        head_cls = RegressionHead if self.kind == "regression" else ClassificationHead
        self.model = Predictor(encoder, head_cls(encoder.width, n_out, f.head_dropout), self.modality, self.kind)
        self.pos_weight = None
        if self.kind in ("binary", "multilabel") and f.balance:
            y = self.targets(train_set)
            pos = np.nansum(y, axis=0)
            neg = np.sum(np.isfinite(y), axis=0) - pos
            self.pos_weight = torch.tensor(np.where(pos > 0, neg / np.maximum(pos, 1), 1.0), dtype=torch.float32).reshape(-1)
        scaler = dataset_attr(train_set, "scaler")  # cardionets.data.PhenotypeScaler (fitted on train)
        self.phenotype_names = dataset_attr(train_set, "phenotype_names")
        if self.phenotype_names is None and self.kind == "regression" and n_out == 82:
            self.phenotype_names = list(PHENOTYPE_NAMES)
        self.phenotype_mean = getattr(scaler, "mean", dataset_attr(train_set, "phenotype_mean"))
        self.phenotype_std = getattr(scaler, "std", dataset_attr(train_set, "phenotype_std"))

    def targets(self, ds) -> np.ndarray:
        y = target_column(ds, self.key).astype(np.float64)
        if self.kind == "binary":
            y = y[:, self.disease:self.disease + 1]
        return y

    def _target(self, batch):
        y = batch[self.key]
        if self.kind == "binary":
            y = y[:, self.disease:self.disease + 1]
        return y

    def _input(self, batch):
        return batch["ecg"] if self.modality == "ecg" else batch["cmr"]

    def _loss(self, out, y):
        if self.kind == "regression":
            return masked_mse(out.float(), y.float())
        pw = None if self.pos_weight is None else self.pos_weight.to(out.device)
        return classification_loss(out.float(), y, self.kind, pw)

    def train_loss(self, model, batch):
        return self._loss(model(self._input(batch)), self._target(batch)), {}

    def eval_outputs(self, model, batch):
        x = self._input(batch)
        if self.modality == "ecg" and x.dim() == 4:  # test-time crops: average over them
            B, K = x.shape[:2]
            raw = model(x.reshape(B * K, *x.shape[2:])).reshape(B, K, -1)
            logit, pred = raw.mean(1), probabilities(raw, self.kind).mean(1)
        else:
            logit = model(x)
            pred = probabilities(logit, self.kind)
        return {"logit": logit, "pred": pred, "target": self._target(batch).float()}

    def eval_metrics(self, out):
        y, pred, logit = out["target"], out["pred"], out["logit"]
        m: dict[str, Any] = {"val_loss": float(self._loss(logit, y))}
        if self.kind == "regression":
            r2 = r2_per_column(y.numpy(), pred.numpy())
            m["r2_mean"] = float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan")
        elif self.kind in ("binary", "multilabel"):
            aucs = [auc(y[:, j].numpy(), pred[:, j].numpy()) for j in range(y.shape[1])]
            m["auc"] = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
            if self.kind == "multilabel":
                m.update({f"auc_{n}": float(a) for n, a in zip(DISEASE_NAMES, aucs)})
        else:
            yl = y.reshape(-1).long()
            ok = yl >= 0
            m["accuracy"] = float((pred.argmax(1)[ok] == yl[ok]).float().mean()) if ok.any() else float("nan")
        return m

    def info(self):
        enc = self.model.encoder.cfg
        out = {"kind": "predictor", "task": self.cfg.finetune.task, "head_kind": self.kind, "modality": self.modality,
               "init": self.cfg.finetune.init, f"{self.modality}_encoder": asdict(enc),
               "n_outputs": int(self.model.head.fc.out_features), "diseases": list(DISEASE_NAMES)}
        if self.phenotype_names is not None:
            out["phenotype_names"] = list(self.phenotype_names)
        for k in ("phenotype_mean", "phenotype_std"):
            v = getattr(self, k)
            if v is not None:
                out[k] = [float(x) for x in np.asarray(v).reshape(-1)]
        return out


TASKS = {"pretrain_cmr": CMRPretrainTask, "pretrain_ecg": ECGPretrainTask, "align": AlignTask,
         "finetune": FinetuneTask}


def make_task(stage: str) -> Task:
    if stage not in TASKS:
        raise CardioNetsError(f"unknown stage {stage!r}; stages: {', '.join(TASKS)}")
    return TASKS[stage]()
