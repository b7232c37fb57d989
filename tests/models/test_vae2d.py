"""Frame-stack VAE (the frames as channels): shapes, loss, latent scale, config round trip, the loader's
architecture dispatch."""
from __future__ import annotations

import pytest
import torch

from cardionets.models.vae2d import CineVAE2D, VAE2DConfig
from cardionets.models.vae import build_vae, vae_from_config
from cardionets.models.vae3d import compute_latent_scale


def small(**kw) -> CineVAE2D:
    torch.manual_seed(0)
    return build_vae("tiny", arch="2d", **{"channels": (8, 16), "out_channels": 8, "groups": 4, "frames": 6,
                                           "size": 16, "latent_channels": 4, **kw})


def test_tiny_preset_full_size_shapes():
    vae = build_vae("tiny", arch="2d").eval()
    assert vae.cfg.latent_shape == (16, 1, 12, 12)
    x = torch.rand(1, 1, 50, 96, 96) * 2 - 1
    post = vae.encode(x)
    assert post.mean.shape == (1, 16, 1, 12, 12)
    assert vae.decode(post.mean).shape == x.shape


def test_loss_gradients_scale_and_round_trip():
    vae = small()
    x = torch.rand(3, 1, 6, 16, 16) * 2 - 1
    loss, parts = vae.forward_loss(x, generator=torch.Generator().manual_seed(0))
    assert set(parts) == {"l1", "ssim", "kl", "motion"} and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in vae.parameters())
    scale = compute_latent_scale(vae, [x[:2], x[2:]])
    z = vae.encode_latents(x)
    assert z.shape == (3, 4, 1, 4, 4) and float(z.std(unbiased=False)) == pytest.approx(1.0, rel=1e-4)
    clone = vae_from_config(vae.config_dict())
    assert isinstance(clone, CineVAE2D) and float(clone.latent_scale) == pytest.approx(scale)
    clone.load_state_dict(vae.state_dict())
    out = clone.decode_latents(z)
    assert out.shape == x.shape and out.abs().max() <= 1.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"VAE input must be \[B, 1, 6, 16, 16\]"):
        small().encode(torch.zeros(1, 1, 5, 16, 16))
    with pytest.raises(ValueError, match="divisible"):
        VAE2DConfig(size=20, channels=(8, 16, 32))
    with pytest.raises(ValueError, match="architecture"):
        build_vae("tiny", arch="4d")
