"""Load the generator's models from run directories (``model.safetensors`` + ``config.json``, as
written by :func:`cardionets.train.loop.fit`): the VAE (either architecture), the MAR, the cross-modal decoder and the
aligned ECG embedder (ECG encoder + projector of an ``align`` run). Everything is returned frozen and
in eval mode.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..api import _load_predictor
from ..device.policy import DevicePolicy
from ..errors import InputError
from ..models import ECGEncoder, ECGEncoderConfig, ProjectionHead
from ..models.cross_decoder import cross_decoder_from_config
from ..models.mar import mar_from_config
from ..models.vae import vae_from_config
from ..train.checkpoint import load_run, sub_state


def _run(run_dir: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict]:
    state, info = load_run(Path(run_dir))
    if kind and info.get("kind") != kind:
        raise InputError(f"{run_dir} holds a {info.get('kind') or info.get('config', {}).get('stage')!r} model, "
                         f"expected a {kind!r} run")
    return {k: v for k, v in state.items() if not k.startswith("extra.")}, info


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _load(model: nn.Module, state: dict, run_dir) -> nn.Module:
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of another shape than the config builds
        raise InputError(f"weights in {run_dir} do not match the architecture in its config.json: "
                         f"{str(e).splitlines()[-1].strip()}") from None
    if missing or unexpected:
        raise InputError(f"weights in {run_dir} do not match the architecture in its config.json "
                         f"(missing {list(missing)[:4]}, unexpected {list(unexpected)[:4]})")
    return _frozen(model)


def load_vae(run_dir: str | Path):
    state, info = _run(run_dir, "vae3d")
    vae = _load(vae_from_config(info["vae"]), state, run_dir)
    if "latent_scale" not in state:
        raise InputError(f"{run_dir}: VAE checkpoint has no latent_scale (train it with `cardionets train-vae`)")
    return vae


def load_mar(run_dir: str | Path):
    state, info = _run(run_dir, "mar")
    return _load(mar_from_config(info["mar"]), state, run_dir), info


def load_cross_decoder(run_dir: str | Path):
    state, info = _run(run_dir, "cross_decoder")
    return _load(cross_decoder_from_config(info["cross_decoder"]), state, run_dir), info


COND_MODES = {"pooled": 1, "leads": 13}  # ECG condition kinds -> tokens per record


class AlignedECGEmbedder(nn.Module):
    """ECG [B, 12, T] or crops [B, K, 12, T] -> aligned embedding [B, D] (crop features averaged,
    then projected into the CMR embedding space, as the align stage trains it).

    ``mode="leads"`` (:meth:`tokens`) gives the generator more of what the encoder knows: the pooled
    embedding plus one token per lead, the lead's own token features averaged over its patches (and
    crops) and put through the same LayerNorm and projector, [B, 13, D]. Pooling over all leads keeps
    the mean of the leads but loses how they differ -- the QRS axis, lead-wise voltages and ST
    patterns.
    """

    def __init__(self, encoder: nn.Module, projector: nn.Module, width: int, mode: str = "pooled"):
        super().__init__()
        if mode not in COND_MODES:
            raise InputError(f"unknown ECG condition mode {mode!r}; modes: {', '.join(COND_MODES)}")
        self.encoder, self.projector, self.width, self.mode = encoder, projector, int(width), mode

    @property
    def n_tokens(self) -> int:
        return COND_MODES[self.mode]

    def _crops(self, ecg: torch.Tensor) -> tuple[torch.Tensor, int]:
        if ecg.dim() == 4:
            return ecg.reshape(-1, *ecg.shape[2:]), ecg.shape[1]
        if ecg.dim() == 3:
            return ecg, 1
        raise InputError(f"ECG batch must be [B, 12, T] or [B, K, 12, T], got {tuple(ecg.shape)}")

    def forward(self, ecg: torch.Tensor) -> torch.Tensor:
        """The condition of this embedder's mode: [B, D] (pooled) or [B, n_tokens, D]."""
        if self.mode == "pooled":
            x, k = self._crops(ecg)
            feat = self.encoder(x)
            return self.projector(feat.reshape(-1, k, feat.shape[-1]).mean(1))  # [B, D]
        return self.tokens(ecg)

    def tokens(self, ecg: torch.Tensor) -> torch.Tensor:
        """[pooled, lead 1..12] aligned features: [B, 13, D]."""
        x, k = self._crops(ecg)
        tok = self.encoder.forward_encoder(x)[:, :, 1:-1]  # [B*k, 12, N, De] without the SEP tokens
        pooled = self.encoder.norm(tok.mean(dim=(1, 2)))  # [B*k, De]: the encoder's own pooling
        leads = self.encoder.norm(tok.mean(2))  # [B*k, 12, De]
        feats = torch.cat([pooled[:, None], leads], 1)  # [B*k, 13, De]
        feats = feats.reshape(-1, k, *feats.shape[1:]).mean(1)  # crops averaged: [B, 13, De]
        return self.projector(feats)  # [B, 13, D]


def load_embedder(run_dir: str | Path, mode: str = "pooled") -> AlignedECGEmbedder:
    """The ECG branch of an ``align`` run (``mode``: the condition it gives, see :class:`AlignedECGEmbedder`)."""
    state, info = load_run(Path(run_dir))
    if info.get("config", {}).get("stage") != "align":
        raise InputError(f"{run_dir} is not an align run (the generator needs the aligned ECG encoder)")
    enc = ECGEncoder(ECGEncoderConfig(**info["ecg_encoder"]))
    width = int(info["cmr_encoder"]["width"])
    hidden = int(info["config"].get("align", {}).get("proj_hidden", 0) or 0)
    proj = ProjectionHead(enc.width, width, hidden or None)
    emb = AlignedECGEmbedder(enc, proj, width, mode)
    for name, module in (("encoder", enc), ("projector", proj)):
        _load(module, sub_state(state, name), run_dir)
    return _frozen(emb)


def load_cmr_phenotype_model(run_dir: str | Path, device: str | torch.device = "auto"):
    """A fine-tuned CMR phenotype regressor (finetune run, init cmr_ref, task phenotypes) as a callable
    cines [N, T, H, W] -> standardised phenotypes [N, P] (run on ``device``), plus the phenotype names."""
    pred, info = _load_predictor(Path(run_dir))
    if info.get("modality") != "cmr" or info.get("head_kind") != "regression":
        raise InputError(f"{run_dir} is not a CMR phenotype regressor (need a finetune run with init cmr_ref, "
                         f"task phenotypes; got modality {info.get('modality')!r}, head {info.get('head_kind')!r})")
    policy = DevicePolicy.create(device, "fp32")
    pred = policy.module(_frozen(pred))

    @torch.no_grad()
    def predict(cines, batch: int = 8):
        x = np.asarray(cines, dtype=np.float32)
        return torch.cat([pred(policy.to(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))).cpu()
                          for i in range(0, len(x), batch)]).numpy()

    return predict, list(info.get("phenotype_names") or [str(j) for j in range(int(info["n_outputs"]))])
