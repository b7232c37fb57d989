"""Train a small generator (frame-stack VAE + MAR) on a cohort in CPU minutes, and generate cines from
ECGs: the public API of the demo's generator stage.

:func:`train_small_generator` runs the ``vae`` and ``generator`` stages of
:mod:`cardionets.generate.training` with one of :data:`SMALL_PRESETS` and returns the loaded
:class:`~cardionets.generate.pipeline.CineGenerator`; :func:`generate_cines` turns preprocessed ECG
crops into cines, each seeded by its own ECG (the same ECG and seed give the same cine in any batch).
``"full"`` is sized for the demo cohort (~120 training cines, a few minutes on 2 cores); ``"quick"``
shows the wiring in seconds. Neither is the acceptance configuration (docs/generator.md).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import Cohort
from ..errors import InputError
from .pipeline import CineGenerator, GenerationSettings
from .training import load_generator_config, train

# stage -> (model overrides, epochs, batch size); generation -> GenerationSettings fields
SMALL_PRESETS: dict[str, dict] = {
    "full": {"vae": ({"arch": "2d", "motion_weight": 2.0}, 6, 8),
             "generator": ({"width": 128, "depth": 2, "heads": 4, "head_width": 128, "sampling_steps": 32}, 30, 16),
             "generation": {"steps": 8, "sampling_steps": 32, "batch_size": 8}},
    "quick": {"vae": ({"arch": "2d", "channels": [8, 16, 32], "out_channels": 8, "groups": 4}, 1, 4),
              "generator": ({"width": 32, "depth": 1, "heads": 2, "head_width": 32, "head_depth": 1,
                             "sampling_steps": 8}, 1, 4),
              "generation": {"steps": 4, "sampling_steps": 8, "batch_size": 4}},
}


def train_small_generator(cohort_dir: str | Path, align_dir: str | Path, out_dir: str | Path, *,
                          preset: str = "full", seed: int = 0, device: str = "cpu", datasets: tuple | None = None,
                          vae_overrides: dict | None = None, progress: bool = False) -> tuple[CineGenerator, dict]:
    """Train the VAE into ``out_dir/vae`` and the MAR (conditioned on the align run's ECG encoder) into
    ``out_dir/generator``; returns (the loaded generator, {stage: training summary}). ``datasets``:
    (train, val) paired datasets to use instead of the cohort's own split; ``vae_overrides``: VAE config
    keys on top of the preset's (e.g. ``frames`` / ``size`` for cines of another shape)."""
    if preset not in SMALL_PRESETS:
        raise InputError(f"unknown small-generator preset {preset!r}; presets: {', '.join(SMALL_PRESETS)}")
    if not (Path(align_dir) / "model.safetensors").exists():
        raise InputError(f"{align_dir}: not an align run (no model.safetensors); run `cardionets align` first")
    out = Path(out_dir)
    summaries: dict = {}
    for stage in ("vae", "generator"):
        model, epochs, batch = SMALL_PRESETS[preset][stage]
        if stage == "vae":
            model = {**model, **(vae_overrides or {})}
        over = {"seed": seed, "progress": progress, "cohort_dir": str(cohort_dir), "optim.ema_decay": 0.0,
                "device": device, "epochs": epochs, "batch_size": batch, "eval_batch_size": 8,
                "out_dir": str(out / stage), "gen.model": model}
        if stage == "generator":
            over.update({"gen.align_from": str(align_dir), "gen.vae_from": str(out / "vae"), "optim.lr": 1e-3})
        cfg = load_generator_config(stage, "tiny", overrides=over)
        if datasets is None:
            ds = Cohort(cohort_dir).datasets("paired", seed=seed, n_crops=cfg.eval_crops, cmr_cache=True)
            datasets = (ds["train"], ds["val"])
        _, summaries[stage] = train(cfg, datasets[:2], resume="never")
    return CineGenerator.from_runs(out / "generator", device=device), summaries


def generate_cines(generator: CineGenerator, ecg, *, seed: int = 0, preset: str = "full", **settings) -> np.ndarray:
    """Preprocessed ECG crops [N, K, 12, T] (or [N, 12, T]) -> cines float32 [N, frames, H, W] in [-1, 1],
    with the preset's generation settings (``settings`` overrides them, e.g. ``temperature=0.9``)."""
    if preset not in SMALL_PRESETS:
        raise InputError(f"unknown small-generator preset {preset!r}; presets: {', '.join(SMALL_PRESETS)}")
    s = GenerationSettings(**{**SMALL_PRESETS[preset]["generation"], "seed": seed, **settings})
    return generator.generate_from_ecg(ecg, s)
