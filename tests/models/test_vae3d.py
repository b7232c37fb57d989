"""3D-VAE: shapes, differentiable SSIM against scikit-image, loss terms, latent scale."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cardionets.models.vae3d import (VAE3DConfig, build_vae, compute_latent_scale, ssim_frames, vae3d_tiny,
                                     vae_from_config)


def test_presets_map_cine_to_paper_latent():
    for preset in ("tiny", "base"):
        cfg = build_vae(preset).cfg
        assert cfg.latent_shape == (16, 25, 12, 12), preset


def test_tiny_full_size_round_trip_shapes():
    torch.manual_seed(0)
    vae = vae3d_tiny().eval()
    x = torch.rand(1, 1, 50, 96, 96) * 2 - 1
    post = vae.encode(x)
    assert post.mean.shape == (1, 16, 25, 12, 12) and post.logvar.shape == post.mean.shape
    assert vae.decode(post.mean).shape == x.shape


def small_vae(**kw):
    return vae3d_tiny(frames=10, size=32, **kw)


def test_base_layout_small_input():
    vae = build_vae("base", channels=(8, 8, 16, 16), groups=4, frames=10, size=32)
    x = torch.rand(2, 1, 10, 32, 32) * 2 - 1
    recon, post = vae(x)
    assert post.mean.shape == (2, 16, 5, 4, 4) and recon.shape == x.shape


def test_bad_input_shape_is_named():
    with pytest.raises(ValueError, match=r"VAE input must be \[B, 1, 10, 32, 32\]"):
        small_vae().encode(torch.zeros(1, 1, 12, 32, 32))


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_matches_scikit_image(seed):
    from skimage.metrics import structural_similarity

    g = np.random.default_rng(seed)
    a = g.uniform(-1, 1, (3, 40, 36)).astype(np.float32)
    b = np.clip(a + g.normal(0, 0.3, a.shape), -1, 1).astype(np.float32)
    ours = float(ssim_frames(torch.from_numpy(b), torch.from_numpy(a), data_range=2.0))
    ref = np.mean([structural_similarity(a[t], b[t], data_range=2.0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False) for t in range(3)])
    assert abs(ours - ref) < 1e-5


def test_loss_terms_and_gradients():
    torch.manual_seed(0)
    vae = small_vae()
    x = torch.rand(2, 1, 10, 32, 32) * 2 - 1
    loss, parts = vae.forward_loss(x, generator=torch.Generator().manual_seed(0))
    assert set(parts) == {"l1", "ssim", "kl"} and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in vae.parameters())
    # identical inputs give SSIM 1 on the reference side of the loss
    assert float(ssim_frames(x, x)) == pytest.approx(1.0, abs=1e-6)


def test_latent_scale_is_inverse_std_and_round_trips_through_config():
    torch.manual_seed(0)
    vae = small_vae()
    batches = [torch.rand(2, 1, 10, 32, 32) * 2 - 1 for _ in range(3)]
    scale = compute_latent_scale(vae, batches)
    with torch.no_grad():
        z = torch.cat([vae.encode(b).mean for b in batches]).double()
    assert scale == pytest.approx(1.0 / float(z.std(unbiased=False)), rel=1e-6)
    assert float(vae.latent_scale) == pytest.approx(scale)
    scaled = torch.cat([vae.encode_latents(b) for b in batches])
    assert float(scaled.std(unbiased=False)) == pytest.approx(1.0, rel=1e-4)
    clone = vae_from_config(vae.config_dict())
    assert float(clone.latent_scale) == pytest.approx(scale) and clone.cfg.latent_shape == vae.cfg.latent_shape
    out = vae.decode_latents(scaled[:1])
    assert out.shape == (1, 1, 10, 32, 32) and out.abs().max() <= 1.0


def test_config_validation():
    with pytest.raises(ValueError, match="time_down"):
        VAE3DConfig(channels=(8, 16), time_down=(True, False))
