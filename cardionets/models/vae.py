"""The generator's VAE, either architecture, by name: :func:`build_vae` for a preset and
:func:`vae_from_config` for a run's ``config.json`` (configs without an ``arch`` key are 3-D ones).

* ``"2d"`` (:mod:`.vae2d`, the default of the training presets): the frames as channels of a 2-D
  network, latent ``[Z, 1, 12, 12]``, one whole cardiac cycle per latent cell.
* ``"3d"`` (:mod:`.vae3d`): 3-D convolutions, latent ``[16, 25, 12, 12]``.
"""
from __future__ import annotations

import dataclasses

from .vae2d import VAE2D_PRESETS, CineVAE2D, VAE2DConfig
from .vae3d import VAE_PRESETS, CineVAE3D, VAE3DConfig

ARCHS = {"2d": (VAE2D_PRESETS, VAE2DConfig), "3d": (VAE_PRESETS, VAE3DConfig)}


def build_vae(preset: str = "tiny", arch: str = "3d", **kw) -> CineVAE2D | CineVAE3D:
    """A VAE of preset ``tiny`` / ``base`` and architecture ``arch``; ``kw`` override config fields."""
    if arch not in ARCHS:
        raise ValueError(f"unknown VAE architecture {arch!r}; choose from {sorted(ARCHS)}")
    presets, config = ARCHS[arch]
    if preset not in presets:
        raise ValueError(f"unknown VAE preset {preset!r}; choose from {sorted(presets)}")
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(kw) - fields)
    if unknown:
        raise ValueError(f"{arch} VAE has no option(s) {', '.join(unknown)}; options: {', '.join(sorted(fields))}")
    return presets[preset](**kw)


def vae_from_config(d: dict) -> CineVAE2D | CineVAE3D:
    """Rebuild a VAE from its ``config_dict`` (the architecture from its ``arch`` key, default 3-D)."""
    arch = d.get("arch", "3d")
    if arch not in ARCHS:
        raise ValueError(f"VAE config names an unknown architecture {arch!r}; known: {sorted(ARCHS)}")
    config = ARCHS[arch][1]
    fields = {f.name for f in dataclasses.fields(config)}
    model = CineVAE2D if arch == "2d" else CineVAE3D
    return model(config(**{k: v for k, v in d.items() if k in fields}))
