import pytest
import torch

from cardionets.ops import attention
from cardionets.ops.attention import attention_op, attention_reference


@pytest.mark.parametrize("shape", [(1, 1, 1, 8), (2, 3, 37, 64), (3, 12, 181, 64), (1, 2, 257, 24)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_sdpa_matches_reference(shape, dtype):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(*shape, generator=g).to(dtype).requires_grad_() for _ in range(3))
    out = attention(q, k, v, backend="sdpa")
    ref = attention_reference(q.float(), k.float(), v.float())
    # precision-aware: error of the backend <= 2x the error of plain PyTorch at the same dtype (+ eps)
    plain = attention_reference(q, k, v).float()
    tol = 2 * (plain - ref).abs().max().item() + (1e-5 if dtype == torch.float32 else 1e-2)
    assert (out.float() - ref).abs().max().item() <= tol
    go = torch.randn_like(ref)
    gq, gk, gv = torch.autograd.grad(out.float(), (q, k, v), go)
    rq, rk, rv = torch.autograd.grad(ref, (q, k, v), go)
    gtol = 1e-4 if dtype == torch.float32 else 5e-2
    for a, b in ((gq, rq), (gk, rk), (gv, rv)):
        assert (a.float() - b.float()).abs().max().item() <= gtol * max(1.0, b.float().abs().max().item())


def test_mask_semantics():
    q, k, v = (torch.randn(2, 2, 5, 8) for _ in range(3))
    mask = torch.ones(5, 5, dtype=torch.bool).tril()
    a = attention(q, k, v, attn_mask=mask, backend="sdpa")
    b = attention(q, k, v, attn_mask=mask, backend="reference")
    assert torch.allclose(a, b, atol=1e-5)


def test_auto_on_cpu_picks_sdpa_and_explains_flash():
    q = torch.randn(1, 1, 4, 8)
    chosen, rejected = attention_op.select(q, q, q)
    assert chosen.name == "sdpa"
    assert "flash" in rejected and rejected["flash"]


def test_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\[B, H, L, Dh\]"):
        attention(torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8))
