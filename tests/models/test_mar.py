"""MAR: token patchify round trip, masking, loss on masked tokens only, CFG null condition, decoding
schedule, and seeded generation (deterministic, every token generated)."""
from __future__ import annotations

import math

import pytest
import torch

from cardionets.models.diffusion_head import randomize_
from cardionets.models.mar import MAR, MARConfig, build_mar, decoding_schedule, diffusion_loss, patchify, unpatchify


def small_mar(**kw) -> MAR:
    cfg = dict(latent_channels=4, latent_size=(10, 4, 4), patch=(5, 2, 2), width=32, depth=2, heads=2,
               cond_dim=12, head_width=32, head_depth=2, dropout=0.0, diffusion_steps=50, sampling_steps=5)
    cfg.update(kw)
    torch.manual_seed(0)
    m = MAR(MARConfig(**cfg))
    # the head's modulation and output start at zero (no gradient reaches the transformer at step 0):
    # give them small random values so every path is exercised
    randomize_(m.head, torch.Generator().manual_seed(0))
    return m


def test_paper_token_grid():
    cfg = MARConfig()
    assert cfg.grid == (5, 6, 6) and cfg.num_tokens == 180 and cfg.token_dim == 320
    assert build_mar("tiny").cfg.num_tokens == 180


def test_patchify_round_trip_and_token_content():
    z = torch.randn(2, 16, 25, 12, 12)
    tok = patchify(z, (5, 2, 2))
    assert tok.shape == (2, 180, 320)
    assert torch.equal(unpatchify(tok, (5, 2, 2), (5, 6, 6), 16), z)
    # token (t=1, h=2, w=3) holds latents [:, 5:10, 4:6, 6:8] in (C, pt, ph, pw) order
    k = 1 * 36 + 2 * 6 + 3
    assert torch.equal(tok[:, k], z[:, :, 5:10, 4:6, 6:8].reshape(2, -1))


def test_mask_ratio_per_batch_in_range():
    m = small_mar(latent_size=(25, 12, 12))
    g = torch.Generator().manual_seed(0)
    fractions = []
    for _ in range(200):
        mask = m.random_mask(3, "cpu", g)
        counts = mask.sum(1)
        assert torch.all(counts == counts[0])  # one ratio per batch
        fractions.append(float(counts[0]) / 180)
    assert min(fractions) >= 0.7 - 1e-9 and max(fractions) <= 1.0
    assert min(fractions) < 0.75 and max(fractions) > 0.95  # the whole range is drawn


def test_loss_is_mean_over_masked_tokens_only():
    m = small_mar()
    lat = torch.randn(2, 4, 10, 4, 4)
    cond = torch.randn(2, 12)
    mask = torch.zeros(2, 8)
    mask[0, 3] = 1.0
    mask[1, [0, 5]] = 1.0
    loss, parts = m.forward_loss(lat, cond, mask=mask, generator=torch.Generator().manual_seed(1), return_parts=True)
    per = parts["per_token"]
    assert per.shape == (2, 8)
    assert loss.item() == pytest.approx(float((per[0, 3] + per[1, 0] + per[1, 5]) / 3), rel=1e-6)
    assert torch.all(per[mask == 0] == 0) and torch.all(per[mask == 1] > 0)  # visible tokens never reach the head
    # with one masked token, the loss is the head's loss on that token alone (same noise stream): the
    # other tokens' diffusion targets never enter it
    m.eval()  # no condition dropout: the generator feeds only the diffusion loss
    one = torch.zeros(1, 8)
    one[0, 6] = 1.0
    got = m.forward_loss(lat[:1], cond[:1], mask=one, generator=torch.Generator().manual_seed(5))
    z = m.forward_transformer(patchify(lat[:1], (5, 2, 2)), one, m.condition(cond[:1]))[0, 6:7]  # [1, W]
    tok = patchify(lat[:1], (5, 2, 2))[0, 6:7]  # [1, D]
    want = diffusion_loss(m.head, tok.repeat(4, 1), z.repeat(4, 1), num_steps=50,
                          generator=torch.Generator().manual_seed(5)).mean()
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    m.train()
    loss.backward()
    assert m.head.input_proj.weight.grad is not None and m.mask_token.grad is not None


def test_cfg_null_condition():
    m = small_mar(cond_drop=1.0)
    m.train()
    lat = torch.randn(2, 4, 10, 4, 4)
    mask = m.random_mask(2, "cpu", torch.Generator().manual_seed(0))
    tokens = patchify(lat, (5, 2, 2))
    dropped = m.condition(torch.randn(2, 12), drop=torch.ones(2, dtype=torch.bool))
    assert dropped.shape == (2, 1, 32) and torch.equal(dropped, m.null_cond.expand(2, -1, -1))
    assert torch.equal(m.condition(None, batch=2), dropped)
    a = m.forward_transformer(tokens, mask, m.condition(torch.randn(2, 12)))
    b = m.forward_transformer(tokens, mask, m.condition(torch.randn(2, 12)))
    assert not torch.allclose(a, b)  # the condition token matters ...
    l1 = m.forward_loss(lat, torch.randn(2, 12), mask=mask, generator=torch.Generator().manual_seed(2))
    l2 = m.forward_loss(lat, torch.randn(2, 12), mask=mask, generator=torch.Generator().manual_seed(2))
    assert l1.item() == pytest.approx(l2.item(), rel=1e-6)  # ... but is ignored when dropped (cond_drop = 1)
    l1.backward()
    assert m.null_cond.grad is not None and m.null_cond.grad.abs().sum() > 0


def test_decoding_schedule():
    counts = decoding_schedule(180, 16)
    assert len(counts) == 16 and sum(counts) == 180 and min(counts) >= 1
    masked = 180
    for k, n in enumerate(counts[:-1]):
        masked -= n
        assert masked == max(1, min(masked + n - 1, math.floor(180 * math.cos(math.pi / 2 * (k + 1) / 16))))
    assert decoding_schedule(8, 8) == [1] * 8
    with pytest.raises(ValueError):
        decoding_schedule(8, 9)


def test_diffusion_loss_is_finite_and_per_token():
    from cardionets.models.diffusion_head import DiffusionHeadConfig, SimpleMLPAdaLN, randomize_

    head = randomize_(SimpleMLPAdaLN(DiffusionHeadConfig(token_dim=6, cond_dim=5, width=16, depth=2)),
                      torch.Generator().manual_seed(0))
    x0, c = torch.randn(64, 6), torch.randn(64, 5)
    per = diffusion_loss(head, x0, c, num_steps=100, generator=torch.Generator().manual_seed(0))
    assert per.shape == (64,) and torch.isfinite(per).all() and (per > 0).all()
    again = diffusion_loss(head, x0, c, num_steps=100, generator=torch.Generator().manual_seed(0))
    assert torch.equal(per, again)


def test_bad_shapes_are_named():
    m = small_mar()
    with pytest.raises(ValueError, match="MAR latents"):
        m.forward_loss(torch.randn(1, 4, 10, 4, 5), torch.randn(1, 12))
    with pytest.raises(ValueError, match="ECG embeddings"):
        m.condition(torch.randn(1, 7))


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_generation_is_seeded_and_generates_every_token(backend):
    m = small_mar().eval()
    cond = torch.randn(3, 12)
    kw = dict(steps=4, sampling_steps=5, backend=backend)
    a = m.sample_tokens(cond, generator=torch.Generator().manual_seed(7), **kw)
    b = m.sample_tokens(cond, generator=torch.Generator().manual_seed(7), **kw)
    c = m.sample_tokens(cond, generator=torch.Generator().manual_seed(8), **kw)
    assert a.shape == (3, 4, 10, 4, 4)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    tokens = patchify(a, (5, 2, 2))  # [3, 8, 80]; tokens start at zero, so a generated token is non-zero
    assert bool((tokens.abs().sum(-1) > 0).all())


def test_generation_with_cfg_and_timings():
    m = small_mar().eval()
    cond = torch.randn(2, 12)
    timings: dict = {}
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    plain = m.sample_tokens(cond, steps=8, generator=g(), backend="reference")
    guided = m.sample_tokens(cond, steps=8, cfg_scale=3.0, generator=g(), timings=timings, backend="reference")
    const = m.sample_tokens(cond, steps=8, cfg_scale=3.0, cfg_schedule="constant", generator=g(), backend="reference")
    assert guided.shape == plain.shape and not torch.allclose(guided, plain) and not torch.allclose(guided, const)
    assert set(timings) == {"transformer", "diffusion_head", "transformer_cpu", "diffusion_head_cpu"}
    assert timings["transformer"] > 0 and timings["diffusion_head"] > 0
    cold = m.sample_tokens(cond, steps=8, temperature=0.0, generator=g(), backend="reference")
    cold2 = m.sample_tokens(cond, steps=8, temperature=0.0, generator=torch.Generator().manual_seed(4),
                            backend="reference")
    assert not torch.allclose(cold, cold2)  # the order and x_T still come from the seed
    unconditional = m.sample_tokens(None, batch=2, steps=8, generator=g(), backend="reference")
    assert unconditional.shape == plain.shape


def test_multi_token_condition():
    m = small_mar(cond_tokens=3).eval()
    assert m.pos_embed.shape == (1, 3 + 8, 32) and m.null_cond.shape == (3, 32)
    cond = torch.randn(2, 3, 12)
    c = m.condition(cond)
    assert c.shape == (2, 3, 32)
    other = cond.clone()
    other[:, 2] += 1.0  # every condition token reaches the transformer
    tokens, mask = torch.randn(2, 8, 80), torch.ones(2, 8)
    assert not torch.allclose(m.forward_transformer(tokens, mask, c), m.forward_transformer(tokens, mask, m.condition(other)))
    with pytest.raises(ValueError, match=r"\[B, 3, 12\]"):
        m.condition(torch.randn(2, 12))  # one token where three are expected
    lat = m.sample_tokens(cond, steps=2, sampling_steps=3, cfg_scale=2.0, generator=torch.Generator().manual_seed(0),
                          backend="reference")
    assert lat.shape == (2, 4, 10, 4, 4)


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_per_record_generators_make_a_record_independent_of_its_batch(backend):
    m = small_mar().eval()
    cond = torch.randn(4, 12)
    g = lambda k: torch.Generator().manual_seed(100 + k)  # noqa: E731  record k's own stream
    kw = dict(steps=3, sampling_steps=4, cfg_scale=1.5, backend=backend)
    whole = m.sample_tokens(cond, generator=[g(k) for k in range(4)], **kw)
    alone = m.sample_tokens(cond[2:3], generator=[g(2)], **kw)
    pair = m.sample_tokens(cond[[3, 2]], generator=[g(3), g(2)], **kw)  # other company, other position
    torch.testing.assert_close(alone[0], whole[2], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pair[1], whole[2], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(whole[0], whole[1])
    with pytest.raises(ValueError, match="3 generators for a batch of 4"):
        m.sample_tokens(cond, generator=[g(k) for k in range(3)], **kw)
