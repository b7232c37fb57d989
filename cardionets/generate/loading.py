"""Load the generator's models from run directories (``model.safetensors`` + ``config.json``, as
written by :func:`cardionets.train.loop.fit`): the 3D-VAE, the MAR, the cross-modal decoder and the
aligned ECG embedder (ECG encoder + projector of an ``align`` run). Everything is returned frozen and
in eval mode.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ..device.policy import DevicePolicy
from ..errors import InputError


def _run(run_dir: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict]:
    from ..train.checkpoint import load_run

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
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(f"weights in {run_dir} do not match the architecture in its config.json "
                         f"(missing {list(missing)[:4]}, unexpected {list(unexpected)[:4]})")
    return _frozen(model)


def load_vae(run_dir: str | Path):
    from ..models.vae3d import vae_from_config

    state, info = _run(run_dir, "vae3d")
    vae = _load(vae_from_config(info["vae"]), state, run_dir)
    if "latent_scale" not in state:
        raise InputError(f"{run_dir}: VAE checkpoint has no latent_scale (train it with `cardionets train-vae`)")
    return vae


def load_mar(run_dir: str | Path):
    from ..models.mar import mar_from_config

    state, info = _run(run_dir, "mar")
    return _load(mar_from_config(info["mar"]), state, run_dir), info


def load_cross_decoder(run_dir: str | Path):
    from ..models.cross_decoder import cross_decoder_from_config

    state, info = _run(run_dir, "cross_decoder")
    return _load(cross_decoder_from_config(info["cross_decoder"]), state, run_dir), info


class AlignedECGEmbedder(nn.Module):
    """ECG [B, 12, T] or crops [B, K, 12, T] -> aligned embedding [B, D] (crop features averaged,
    then projected into the CMR embedding space, as the align stage trains it)."""

    def __init__(self, encoder: nn.Module, projector: nn.Module, width: int):
        super().__init__()
        self.encoder, self.projector, self.width = encoder, projector, int(width)

    def forward(self, ecg: torch.Tensor) -> torch.Tensor:
        if ecg.dim() == 4:
            B, K = ecg.shape[:2]
            feat = self.encoder(ecg.reshape(B * K, *ecg.shape[2:])).reshape(B, K, -1).mean(1)  # [B, De]
        elif ecg.dim() == 3:
            feat = self.encoder(ecg)
        else:
            raise InputError(f"ECG batch must be [B, 12, T] or [B, K, 12, T], got {tuple(ecg.shape)}")
        return self.projector(feat)  # [B, D]


def load_embedder(run_dir: str | Path) -> AlignedECGEmbedder:
    """The ECG branch of an ``align`` run."""
    from ..models import ECGEncoder, ECGEncoderConfig, ProjectionHead
    from ..train.checkpoint import load_run, sub_state

    state, info = load_run(Path(run_dir))
    if info.get("config", {}).get("stage") != "align":
        raise InputError(f"{run_dir} is not an align run (the generator needs the aligned ECG encoder)")
    enc = ECGEncoder(ECGEncoderConfig(**info["ecg_encoder"]))
    width = int(info["cmr_encoder"]["width"])
    hidden = int(info["config"].get("align", {}).get("proj_hidden", 0) or 0)
    proj = ProjectionHead(enc.width, width, hidden or None)
    emb = AlignedECGEmbedder(enc, proj, width)
    for name, module in (("encoder", enc), ("projector", proj)):
        _load(module, sub_state(state, name), run_dir)
    return _frozen(emb)


def load_cmr_phenotype_model(run_dir: str | Path, device: str | torch.device = "auto"):
    """A fine-tuned CMR phenotype regressor (finetune run, init cmr_ref, task phenotypes) as a callable
    cines [N, T, H, W] -> standardised phenotypes [N, P] (run on ``device``), plus the phenotype names."""
    from ..api import _load_predictor

    pred, info = _load_predictor(Path(run_dir))
    if info.get("modality") != "cmr" or info.get("head_kind") != "regression":
        raise InputError(f"{run_dir} is not a CMR phenotype regressor (need a finetune run with init cmr_ref, "
                         f"task phenotypes; got modality {info.get('modality')!r}, head {info.get('head_kind')!r})")
    policy = DevicePolicy.create(device, "fp32")
    pred = policy.module(_frozen(pred))

    @torch.no_grad()
    def predict(cines, batch: int = 8):
        import numpy as np

        x = np.asarray(cines, dtype=np.float32)
        return torch.cat([pred(policy.to(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))).cpu()
                          for i in range(0, len(x), batch)]).numpy()

    return predict, list(info.get("phenotype_names") or [str(j) for j in range(int(info["n_outputs"]))])
