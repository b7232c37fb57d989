"""ECG -> synthetic cine CMR: aligned ECG embedding -> MAR latents (16 iterative steps, diffusion-head
sampling) -> VAE decode -> cine ``[T, H, W]`` in [-1, 1].

:class:`CineGenerator` holds the three frozen models; :meth:`CineGenerator.generate` runs batches of
embeddings. Randomness comes from one ``torch.Generator`` per *record*, seeded from ``(seed, the
record's key)`` (:func:`record_generator`). :meth:`CineGenerator.generate_from_ecg` keys each record
by a hash of its ECG (:func:`ecg_keys`), so the same seed and the same ECG give the same cine whatever
else is in the batch, in any order and batch size, on every backend of the diffusion sampler and on
every device (the generators live on the host; equal to fp32 rounding of the batched matrix
products, identical once written as int16 NIfTI).

The three models run on one device (``device=``: ``auto`` picks CUDA when present), in fp32; on CUDA
the diffusion sampler takes its fused Triton backend and replays each decoding step's loop as a
CUDA graph (:mod:`cardionets.ops.diffusion_sample`).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..device.policy import DevicePolicy
from ..errors import InputError
from .loading import load_embedder, load_mar, load_vae


@dataclass
class GenerationSettings:
    steps: int = 16                # iterative decoding steps (cosine schedule)
    cfg_scale: float = 1.0         # classifier-free guidance (1 = off)
    cfg_schedule: str = "linear"   # linear ramp 1 -> cfg_scale with the generated fraction, or constant
    temperature: float = 1.0       # scales the diffusion sampler's noise
    sampling_steps: int | None = None  # diffusion steps (None: the model's, 100)
    seed: int = 0
    batch_size: int = 4
    backend: str = "auto"          # diffusion_sample backend

    def validate(self) -> "GenerationSettings":
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.cfg_schedule not in ("linear", "constant"):
            raise InputError(f"cfg_schedule must be linear or constant, got {self.cfg_schedule!r}")
        if self.temperature < 0:
            raise InputError(f"temperature must be >= 0, got {self.temperature}")
        if self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {self.batch_size}")
        return self


def record_generator(seed: int, key: str) -> torch.Generator:
    """The host generator of one record: seeded from SHA-256 of ``(seed, key)`` (63 bits)."""
    digest = hashlib.sha256(f"{int(seed)}\x00{key}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def array_keys(x) -> list[str]:
    """One key per record (first axis) of an array: SHA-256 of its float32 bytes."""
    a = np.ascontiguousarray(np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32))
    return [hashlib.sha256(a[i].tobytes()).hexdigest() for i in range(a.shape[0])]


def ecg_keys(ecg) -> list[str]:
    """Record keys of preprocessed ECGs [B, (K,) 12, T]: the same ECG gives the same key."""
    return array_keys(ecg)


class CineGenerator:
    def __init__(self, vae, mar, embedder=None, info: dict | None = None, device: str | torch.device = "auto"):
        self.policy = DevicePolicy.create(device, "fp32")
        self.vae, self.mar = self.policy.module(vae), self.policy.module(mar)
        self.embedder = self.policy.module(embedder) if embedder is not None else None
        self.info = {**dict(info or {}), "device": str(self.policy.device)}
        C, T, H, W = vae.cfg.latent_shape
        if (mar.cfg.latent_channels, *mar.cfg.latent_size) != (C, T, H, W):
            raise InputError(f"MAR latents {(mar.cfg.latent_channels, *mar.cfg.latent_size)} do not match the VAE's "
                             f"{vae.cfg.latent_shape}")

    @classmethod
    def from_runs(cls, mar_dir: str | Path, vae_dir: str | Path | None = None,
                  align_dir: str | Path | None = None, device: str | torch.device = "auto") -> "CineGenerator":
        """Load from run directories; the VAE and align runs default to the ones the MAR was trained with."""
        mar, info = load_mar(mar_dir)
        vae_dir = vae_dir or info.get("vae_from")
        align_dir = align_dir or info.get("align_from")
        if not vae_dir or not Path(vae_dir).exists():
            raise InputError(f"VAE run {vae_dir!r} not found; pass --vae RUN_DIR")
        embedder = (load_embedder(align_dir, info.get("cond_mode", "pooled"))
                    if align_dir and Path(align_dir).exists() else None)
        return cls(load_vae(vae_dir), mar, embedder, {**info, "mar_dir": str(mar_dir), "vae_dir": str(vae_dir),
                                                      "align_dir": str(align_dir)}, device=device)

    @property
    def device(self) -> torch.device:
        return self.policy.device

    @torch.no_grad()
    def embed(self, ecg, batch_size: int = 16) -> torch.Tensor:
        """Preprocessed ECG crops [B, K, 12, 2250] (or [B, 12, 2250]) -> the MAR's condition on the host:
        aligned embeddings [B, D], or [B, tokens, D] for a multi-token condition (computed on the device
        ``batch_size`` records at a time)."""
        if self.embedder is None:
            raise InputError("no aligned ECG encoder loaded (pass --align RUN_DIR)")
        x = torch.as_tensor(np.asarray(ecg), dtype=torch.float32)
        return torch.cat([self.embedder(self.policy.to(x[i:i + batch_size])).float().cpu()
                          for i in range(0, x.shape[0], batch_size)])

    @torch.no_grad()
    def generate(self, cond, settings: GenerationSettings | None = None, *, keys: list[str] | None = None,
                 timings: dict | None = None, progress: bool = False) -> np.ndarray:
        """Conditions ([N, D] embeddings or [N, tokens, D], as :meth:`embed` gives) -> cines float32
        [N, T, H, W] in [-1, 1].

        ``keys``: one string per record seeding its generator with ``settings.seed``
        (:func:`record_generator`; e.g. :func:`ecg_keys` of the ECGs, as :meth:`generate_from_ecg`
        does); default: the record's position in this call. A record's cine depends on (seed, key,
        condition, settings) only, never on the batch it shares.
        """
        s = (settings or GenerationSettings()).validate()
        cond = cond.float().cpu() if isinstance(cond, torch.Tensor) else torch.as_tensor(np.asarray(cond),
                                                                                          dtype=torch.float32)
        K, D = self.mar.cfg.cond_tokens, self.mar.cfg.cond_dim
        if cond.dim() == 2 and K == 1:
            cond = cond[:, None]
        if cond.dim() != 3 or tuple(cond.shape[1:]) != (K, D):
            raise InputError(f"conditions must be [N, {K}, {D}]" + (f" or [N, {D}]" if K == 1 else "")
                             + f", got {tuple(cond.shape)}")
        keys = [str(i) for i in range(cond.shape[0])] if keys is None else [str(k) for k in keys]
        if len(keys) != cond.shape[0]:
            raise InputError(f"{len(keys)} record keys for {cond.shape[0]} embeddings")
        out = []
        starts = range(0, cond.shape[0], s.batch_size)
        if progress:
            starts = tqdm(starts, desc="generating cines", unit="batch")
        for i in starts:
            c = self.policy.to(cond[i:i + s.batch_size])
            gens = [record_generator(s.seed, k) for k in keys[i:i + s.batch_size]]
            latents = self.mar.sample_tokens(c, steps=s.steps, cfg_scale=s.cfg_scale, cfg_schedule=s.cfg_schedule,
                                             temperature=s.temperature, generator=gens,
                                             sampling_steps=s.sampling_steps, backend=s.backend, timings=timings)
            t0 = time.perf_counter()
            cines = self.vae.decode_latents(latents)[:, 0]  # [B, T, H, W]
            if timings is not None:
                self.policy.synchronize()  # device time, not launch time
                timings["vae_decode"] = timings.get("vae_decode", 0.0) + time.perf_counter() - t0
            out.append(cines.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, *self.vae_shape()), np.float32)

    def generate_from_ecg(self, ecg, settings: GenerationSettings | None = None, **kw) -> np.ndarray:
        """Preprocessed ECG crops [N, K, 12, 2250] -> cines, each record seeded by its ECG (:func:`ecg_keys`)."""
        return self.generate(self.embed(ecg), settings, keys=ecg_keys(ecg), **kw)

    @torch.no_grad()
    def reconstruct(self, cines, batch_size: int = 8) -> np.ndarray:
        """Real cines [N, T, H, W] through the VAE (posterior mean, decoded): the best any latent the MAR
        samples can look, float32 [N, T, H, W]."""
        x = np.asarray(cines, dtype=np.float32)
        out = [self.vae.decode_latents(self.vae.encode_latents(self.policy.to(torch.from_numpy(
                   np.ascontiguousarray(x[i:i + batch_size]))[:, None])))[:, 0].float().cpu().numpy()
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, *self.vae_shape()), np.float32)

    def vae_shape(self) -> tuple[int, int, int]:
        c = self.vae.cfg
        return (c.frames, c.size, c.size)


def settings_dict(s: GenerationSettings) -> dict:
    return asdict(s)
