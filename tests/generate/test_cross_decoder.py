"""The deterministic cross-modal decoder baseline: shapes, range, L1 training step, config round trip."""
from __future__ import annotations

import pytest
import torch

from cardionets.models.cross_decoder import build_cross_decoder, cross_decoder_from_config

SMALL_VAE = {"channels": (8, 16), "res_blocks": 1, "groups": 4, "stem": (2, 4, 4), "time_down": (False,),
             "frames": 10, "size": 32}


def test_presets_output_a_full_cine():
    m = build_cross_decoder("tiny", cond_dim=24).eval()
    out = m(torch.randn(1, 24))
    assert out.shape == (1, 1, 50, 96, 96) and out.abs().max() <= 1.0
    assert build_cross_decoder("base").cfg.decoder_config().latent_shape == (16, 25, 12, 12)


def test_l1_step_reduces_loss_and_config_round_trips():
    torch.manual_seed(0)
    m = build_cross_decoder("tiny", cond_dim=6, seed_channels=8, hidden_channels=8, vae=SMALL_VAE, dropout=0.0)
    cond = torch.randn(4, 6)
    target = torch.rand(4, 1, 10, 32, 32) * 2 - 1
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = m.forward_loss(cond, target)
    for _ in range(6):
        opt.zero_grad()
        loss = m.forward_loss(cond, target)
        loss.backward()
        opt.step()
    assert loss.item() < first.item()
    clone = cross_decoder_from_config(m.config_dict())
    clone.load_state_dict(m.state_dict())
    m.eval(), clone.eval()
    assert torch.equal(clone.generate(cond), m.generate(cond))
    with pytest.raises(ValueError, match="ECG embeddings"):
        m(torch.randn(2, 5))
