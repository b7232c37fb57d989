"""Encoders and masked-pretraining models: sizes of the base presets, shapes, lead subsets, masking."""
import pytest
import torch

from cardionets.errors import InputError
from cardionets.models import (ECGEncoder, Predictor, RegressionHead, cmr_vit_base_patch16, cmr_vit_tiny_patch16,
                               count_parameters, ecg_config, ecg_vit_base_patch75, ecg_vit_tiny_patch75,
                               mae_cmr_vit_tiny_patch16, masked_mse, stmem_vit_tiny_patch75)


def test_base_parameter_counts_match_paper():
    ecg = count_parameters(ecg_vit_base_patch75())
    cmr = count_parameters(cmr_vit_base_patch16())
    assert abs(ecg / 85e6 - 1) < 0.03, ecg
    assert abs(cmr / 95e6 - 1) < 0.03, cmr


@pytest.mark.parametrize("factory,shape", [(ecg_vit_base_patch75, (1, 12, 2250)), (cmr_vit_base_patch16, (1, 50, 96, 96))])
def test_base_forward_backward_cpu(factory, shape):
    torch.manual_seed(0)
    model = factory()
    out = model(torch.randn(*shape))
    assert out.shape == (1, 768)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_ecg_tokens_and_pooling():
    enc = ecg_vit_tiny_patch75()
    tok = enc.forward_encoder(torch.randn(3, 12, 2250))
    assert tok.shape == (3, 12, 32, enc.width)  # 30 patches + 2 SEP per lead = 384 tokens
    assert enc(torch.randn(3, 12, 2250)).shape == (3, enc.width)


def test_ecg_lead_subsets_are_explicit():
    torch.manual_seed(0)
    enc = ecg_vit_tiny_patch75().eval()
    x = torch.randn(2, 12, 2250)
    with pytest.raises(InputError, match="no `leads`"):
        enc(x[:, :3])
    with pytest.raises(InputError, match="3 channels but 2 leads"):
        enc(x[:, :3], leads=[0, 1])
    with pytest.raises(InputError, match="duplicate"):
        enc(x[:, :2], leads=["I", "I"])
    # names and indices agree; a subset uses the embeddings of the named leads, not the first ones
    a = enc(x[:, [0, 6]], leads=["I", "V1"])
    b = enc(x[:, [0, 6]], leads=[0, 6])
    c = enc(x[:, [0, 6]], leads=[0, 1])
    assert torch.equal(a, b) and not torch.allclose(a, c)
    with pytest.raises(InputError, match="samples per lead"):
        enc(torch.randn(1, 12, 2000))


def test_cmr_encoder_cls_and_patch_tokens():
    enc = cmr_vit_tiny_patch16()
    x = torch.rand(2, 50, 96, 96) * 2 - 1
    tok = enc.forward_encoder(x)
    assert tok.shape == (2, 37, enc.width)
    assert torch.equal(enc(x), tok[:, 0])
    assert enc.patch_tokens(x).shape == (2, enc.width, 6, 6)
    with pytest.raises(InputError, match="50 frames"):
        enc(torch.randn(2, 30, 96, 96))


def test_masked_models_loss_only_on_masked_patches():
    torch.manual_seed(0)
    m = stmem_vit_tiny_patch75()
    x = torch.randn(2, 12, 2250)
    loss, pred, mask = m(x)
    assert pred.shape == (2, 12, 30, 75) and mask.shape == (2, 12, 30)
    assert torch.allclose(mask.sum(-1), torch.full((2, 12), 23.0))  # 7 of 30 patches visible per lead
    # perfect predictions on the masked patches give zero loss whatever happens on visible ones
    target = m.encoder.patchify(x)
    fake = torch.where(mask[..., None].bool(), target, torch.zeros_like(target))
    assert m.forward_loss(x, fake, mask).item() == 0.0
    # fixed noise -> fixed masks
    noise = torch.rand(2, 12, 30)
    _, _, m1 = m(x, noise=noise)
    _, _, m2 = m(x, noise=noise)
    assert torch.equal(m1, m2)

    c = mae_cmr_vit_tiny_patch16()
    y = torch.rand(2, 50, 96, 96)
    loss, pred, mask = c(y)
    assert pred.shape == (2, 36, 16 * 16 * 50) and mask.sum().item() == 2 * 27
    assert torch.equal(c.unpatchify(c.patchify(y)), y)
    assert c(y, per_sample=True)[0].shape == (2,)


def test_predictor_multicrop_and_masked_mse():
    enc = ECGEncoder(ecg_config("tiny", depth=1))
    p = Predictor(enc, RegressionHead(enc.width, 5), "ecg", "regression").eval()
    x = torch.randn(2, 3, 12, 2250)
    out = p.predict(x)
    manual = torch.stack([p(x[:, k]) for k in range(3)], 1).mean(1)
    assert torch.allclose(out, manual, atol=1e-5)
    t = torch.tensor([[1.0, float("nan")], [0.0, 2.0]])
    assert masked_mse(torch.zeros(2, 2), t).item() == pytest.approx(5.0 / 3.0)
    assert ecg_vit_tiny_patch75().width == 128
