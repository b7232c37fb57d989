"""ECG-CMR similarity maps (interpretability, as in MMCL) and the inputs they need.

For each test subject: the ECG embedding in the CMR encoder's space and the 36 CMR patch tokens of
the frozen pretrain_cmr encoder (last layer, after the final norm, the space of its CLS embedding);
:func:`cardionets.eval.interpret.patch_similarity` gives the cosine map.

* cardionets: the aligned ECG encoder and its learned projector (the space it was trained in).
* ssl / scratch: these encoders have no CMR space, so a ridge probe (scikit-learn ``Ridge``,
  alpha 1, standardised features) from their ECG feature to the CMR CLS embedding is fitted on
  training subjects only and applied to the test ECGs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..device.policy import DevicePolicy
from ..eval.results import SimilarityMaps
from ..models import CMREncoder, CMREncoderConfig, ECGEncoder, ProjectionHead, ecg_config
from ..train.checkpoint import load_run, sub_state
from ..eval.interpret import patch_similarity
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


@torch.no_grad()
def _ecg_features(encoder, ds, n: int, policy: DevicePolicy, batch: int = 16) -> np.ndarray:
    encoder = policy.module(encoder)
    out = []
    for s in range(0, n, batch):
        x = torch.stack([torch.as_tensor(ds[i]["ecg"]) for i in range(s, min(n, s + batch))]).float()
        if x.dim() == 3:
            x = x[:, None]
        B, K = x.shape[:2]
        out.append(encoder(policy.to(x.reshape(B * K, *x.shape[2:]))).reshape(B, K, -1).mean(1).cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def _cmr_tokens(encoder, ds, n: int, policy: DevicePolicy, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    encoder = policy.module(encoder)
    toks, frames = [], []
    for s in range(0, n, batch):
        x = torch.stack([torch.as_tensor(ds[i]["cmr"]) for i in range(s, min(n, s + batch))]).float()
        toks.append(encoder.forward_encoder(policy.to(x)).cpu())  # [B, 1 + 36, D]
        frames.append(x[:, 0])  # first frame (end-diastole) [B, 96, 96]
    return torch.cat(toks).numpy(), torch.cat(frames).numpy()


def _ecg_encoder(run_dir: Path | None, size: str, seed: int) -> ECGEncoder:
    if run_dir is None:
        torch.manual_seed(seed)
        return ECGEncoder(ecg_config(size)).eval()
    state, info = load_run(run_dir)
    enc = ECGEncoder(ecg_config(info["config"]["size"], **info["config"].get("encoder", {})))
    enc.load_state_dict(sub_state(state, "encoder"))
    return enc.eval()


def similarity_maps(runs: dict[str, Path], train_ds, test_ds, *, size: str, n: int, probe_n: int,
                    seed: int = 0, models=("scratch", "ssl", "cardionets"),
                    device: str | torch.device = "auto") -> dict[str, SimilarityMaps]:
    """``runs``: pretrain_cmr, pretrain_ecg, align run directories; ``train_ds`` / ``test_ds``: paired
    datasets (ECG crops and cines). The encoders run on ``device``; the probes and maps on the host."""
    policy = DevicePolicy.create(device, "fp32")
    state, info = load_run(runs["pretrain_cmr"])
    cmr = CMREncoder(CMREncoderConfig(**{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in info["cmr_encoder"].items()}))
    cmr.load_state_dict(sub_state(state, "encoder"))
    cmr.eval()
    n = min(n, len(test_ds))
    probe_n = min(probe_n, len(train_ds))
    test_tok, frames = _cmr_tokens(cmr, test_ds, n, policy)
    train_cls = None
    out: dict[str, SimilarityMaps] = {}
    for model in models:
        if model == "cardionets":
            a_state, _ = load_run(runs["align"])
            enc = _ecg_encoder(runs["align"], size, seed)
            proj_w = sub_state(a_state, "projector")
            proj = ProjectionHead(enc.width, cmr.width, proj_w["net.0.weight"].shape[0])
            proj.load_state_dict(proj_w)
            with torch.no_grad():
                z = proj(torch.from_numpy(_ecg_features(enc, test_ds, n, policy))).numpy()
            tok = test_tok
            if any(k.startswith("cmr_projector.") for k in a_state):
                cp_w = sub_state(a_state, "cmr_projector")
                cp = ProjectionHead(cmr.width, cmr.width, cp_w["net.0.weight"].shape[0])
                cp.load_state_dict(cp_w)
                with torch.no_grad():
                    tok = cp(torch.from_numpy(test_tok)).numpy()
        else:
            enc = _ecg_encoder(runs["pretrain_ecg"] if model == "ssl" else None, size, seed)
            if train_cls is None:
                train_cls = _cmr_tokens(cmr, train_ds, probe_n, policy)[0][:, 0]
            probe = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
            probe.fit(_ecg_features(enc, train_ds, probe_n, policy), train_cls)
            z, tok = probe.predict(_ecg_features(enc, test_ds, n, policy)), test_tok
        out[model] = SimilarityMaps(patch_similarity(z, tok[:, 1:]), frames)
    return out
