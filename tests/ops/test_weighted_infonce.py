"""weighted_infonce: the reference against the literal equations, and every backend against the
reference (values and gradients) with precision-aware tolerances."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cardionets.ops.weighted_infonce import weighted_infonce_reference


def naive_loss(z_ecg, z_cmr, phi, sigma, tau):
    """Eq. 1-3 literally, in fp64 (overflows for small tau: only used where it does not)."""
    ze, zc, p = (t.detach().double() for t in (z_ecg, z_cmr, phi))
    s = F.normalize(ze, dim=-1) @ F.normalize(zc, dim=-1).T
    w = 1 - torch.exp(-((p[:, None] - p[None]) ** 2).sum(-1) / sigma**2)
    w.fill_diagonal_(0)
    e = torch.exp(s / tau)
    pos = e.diagonal()
    l_ec = -torch.log(pos / (pos + (w * e).sum(1))).mean()
    l_ce = -torch.log(pos / (pos + (w * e).sum(0))).mean()
    return 0.5 * (l_ec + l_ce)


def make_inputs(b, d=16, p=8, dup=True, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    z_ecg, z_cmr, phi = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g), torch.randn(b, p, generator=g)
    if dup and b >= 4:
        phi[b - 1] = phi[0]
        phi[2] = phi[1]
    return z_ecg.to(dtype), z_cmr.to(dtype), phi.to(dtype)


@pytest.mark.parametrize("b", [1, 7, 33])
@pytest.mark.parametrize("sigma,tau", [(0.5, 1.0), (2.0, 0.1), (10.0, 0.1)])
def test_reference_matches_equations(b, sigma, tau):
    z_ecg, z_cmr, phi = make_inputs(b, dtype=torch.float64)
    got = weighted_infonce_reference(z_ecg, z_cmr, phi, sigma=sigma, tau=tau)
    assert torch.allclose(got, naive_loss(z_ecg, z_cmr, phi, sigma, tau), rtol=1e-10, atol=1e-12)


def test_reference_small_tau_is_finite():
    z_ecg, z_cmr, phi = make_inputs(64)
    z_ecg.requires_grad_()
    loss = weighted_infonce_reference(z_ecg, z_cmr, phi, sigma=2.0, tau=0.01)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z_ecg.grad).all()


# ---------------------------------------------------------------------------------------------
# Backends against the reference
# ---------------------------------------------------------------------------------------------
from cardionets import native  # noqa: E402
from cardionets.ops import weighted_infonce  # noqa: E402
from cardionets.ops.weighted_infonce import LOG_ZERO  # noqa: E402

needs_native = pytest.mark.skipif(not native.available(), reason="native extension not built")


def plain_at(dtype, z_ecg, z_cmr, phi, sigma, tau):
    """The reference's equations evaluated entirely in `dtype` ("plain PyTorch at that precision");
    distances in fp32 because cdist has no bf16 kernel on CPU."""
    ze = F.normalize(z_ecg.to(dtype), dim=-1)
    zc = F.normalize(z_cmr.to(dtype), dim=-1)
    logits = ze @ zc.T / tau
    p = phi.float()
    d2 = torch.cdist(p, p, compute_mode="donot_use_mm_for_euclid_dist").square()
    log_w = torch.log(-torch.expm1(-d2 / sigma**2)).to(dtype)
    log_w = log_w.masked_fill(torch.eye(len(p), dtype=torch.bool), float("-inf")).clamp(min=LOG_ZERO)
    pos = logits.diagonal()
    m_ec = torch.logsumexp(logits + log_w - pos[:, None], dim=1)
    m_ce = torch.logsumexp(logits + log_w - pos[None, :], dim=0)
    return 0.5 * (F.softplus(m_ec).mean() + F.softplus(m_ce).mean())


def loss_and_grads(fn, z_ecg, z_cmr, phi):
    a, b = z_ecg.clone().requires_grad_(), z_cmr.clone().requires_grad_()
    loss = fn(a, b, phi)
    loss.backward()
    return loss.detach().double(), a.grad.double(), b.grad.double()


def check_backend(backend, b, sigma, tau, dtype=torch.float32, d=16, p=8):
    z_ecg, z_cmr, phi = make_inputs(b, d=d, p=p, dtype=dtype)
    truth = loss_and_grads(lambda x, y, q: weighted_infonce_reference(x.double(), y.double(), q.double(),
                                                                      sigma=sigma, tau=tau), z_ecg, z_cmr, phi)
    plain = loss_and_grads(lambda x, y, q: plain_at(dtype, x, y, q, sigma, tau), z_ecg, z_cmr, phi)
    got = loss_and_grads(lambda x, y, q: weighted_infonce(x, y, q, sigma=sigma, tau=tau, backend=backend),
                         z_ecg, z_cmr, phi)
    names = ("loss", "d z_ecg", "d z_cmr")
    for name, t, pl, g in zip(names, truth, plain, got):
        assert torch.isfinite(g).all(), name
        scale = t.abs().max().item() + 1e-30
        err = (g - t).abs().max().item()
        err_plain = (pl - t).abs().max().item()
        # precision-aware: at most twice plain PyTorch's error at this precision (+ a few ulp of fp32)
        assert err <= 2 * err_plain + 2e-6 * scale + 1e-7, f"{backend} {name}: err {err:.3g}, plain {err_plain:.3g}"


GRID = [(s, t) for s in (0.5, 2.0, 10.0) for t in (0.01, 0.1, 1.0)]


@needs_native
@pytest.mark.parametrize("b", [1, 7, 257])
@pytest.mark.parametrize("sigma,tau", GRID)
def test_cpu_matches_reference(b, sigma, tau):
    check_backend("cpu", b, sigma, tau)


@needs_native
@pytest.mark.parametrize("sigma,tau", [(0.5, 1.0), (2.0, 0.01), (10.0, 0.1)])
def test_cpu_matches_reference_b1000(sigma, tau):
    check_backend("cpu", 1000, sigma, tau)


@needs_native
@pytest.mark.slow
@pytest.mark.parametrize("sigma,tau", GRID)
def test_cpu_matches_reference_b1000_full_grid(sigma, tau):
    check_backend("cpu", 1000, sigma, tau)


@needs_native
@pytest.mark.parametrize("b", [7, 257])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cpu_low_precision(b, dtype):
    check_backend("cpu", b, 2.0, 0.1, dtype=dtype)


@needs_native
def test_cpu_wide_features_and_duplicates():
    """D = P = 128 as in training; many duplicated and near-duplicated phenotypes."""
    z_ecg, z_cmr, phi = make_inputs(300, d=128, p=128)
    phi[100:150] = phi[0]
    phi[150:160] = phi[1] + 1e-4 * torch.randn(10, 128)
    for fn_args in [(2.0, 0.05)]:
        got = loss_and_grads(lambda x, y, q: weighted_infonce(x, y, q, sigma=fn_args[0], tau=fn_args[1], backend="cpu"),
                             z_ecg, z_cmr, phi)
        want = loss_and_grads(lambda x, y, q: weighted_infonce_reference(x.double(), y.double(), q.double(),
                                                                         sigma=fn_args[0], tau=fn_args[1]),
                              z_ecg, z_cmr, phi)
        for g, w in zip(got, want):
            assert torch.allclose(g, w, rtol=1e-4, atol=1e-6 * w.abs().max().item())


@needs_native
def test_cpu_extreme_logits_finite():
    """tau = 0.01 with anti-aligned positives: s/tau spans [-100, 100], the naive form overflows."""
    z_ecg, z_cmr, phi = make_inputs(65)
    z_cmr = -z_ecg + 0.01 * z_cmr
    check_backend("cpu", 65, 2.0, 0.01)
    loss = weighted_infonce(z_ecg, z_cmr, phi, sigma=2.0, tau=0.01, backend="cpu")
    assert torch.isfinite(loss) and loss > 100


@needs_native
def test_cpu_torch_compile_and_export():
    from cardionets.ops.weighted_infonce import weighted_infonce_cpu

    z_ecg, z_cmr, phi = make_inputs(33)

    class Loss(torch.nn.Module):
        def forward(self, a, b, p):
            return weighted_infonce_cpu(a, b, p, sigma=2.0, tau=0.1)

    want = weighted_infonce_reference(z_ecg, z_cmr, phi, sigma=2.0, tau=0.1)
    ep = torch.export.export(Loss(), (z_ecg, z_cmr, phi))
    assert "cardionets.weighted_infonce_fwd" in str(ep.graph)
    assert torch.allclose(ep.module()(z_ecg, z_cmr, phi), want, atol=1e-5)
    compiled = torch.compile(Loss(), backend="eager", fullgraph=True)  # dynamo tracing, no codegen
    a = z_ecg.clone().requires_grad_()
    out = compiled(a, z_cmr, phi)
    out.backward()
    assert torch.allclose(out, want, atol=1e-5) and torch.isfinite(a.grad).all()


def test_dispatch_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        weighted_infonce(torch.randn(4, 3), torch.randn(4, 5), torch.randn(4, 2), sigma=1.0, tau=0.1)
    with pytest.raises(ValueError, match="positive"):
        weighted_infonce(torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 2), sigma=0.0, tau=0.1)


# Triton kernels under TRITON_INTERPRET=1 (numpy; ~1 s per call at B = 257)
@pytest.mark.interpreter
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log")
@pytest.mark.parametrize("b,sigma,tau", [(1, 2.0, 0.1), (7, 0.5, 0.01), (257, 10.0, 1.0), (257, 2.0, 0.01)])
def test_triton_matches_reference(b, sigma, tau):
    check_backend("triton", b, sigma, tau)


@pytest.mark.interpreter
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log")
def test_triton_bf16():
    check_backend("triton", 70, 2.0, 0.1, dtype=torch.bfloat16)


@pytest.mark.interpreter
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log")
@pytest.mark.slow
@pytest.mark.parametrize("sigma,tau", GRID)
def test_triton_large(sigma, tau):
    check_backend("triton", 1000, sigma, tau)


def test_cpp_program(cpp_build):
    """csrc/tests/test_ops.cpp: the C++ API alone against Eq. 1-3 and finite differences."""
    import subprocess

    out = subprocess.run([str(cpp_build / "test_ops")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.gpu
@pytest.mark.parametrize("b,sigma,tau", [(1000, 2.0, 0.01), (4097, 0.5, 0.1)])
def test_triton_cuda(b, sigma, tau):
    z_ecg, z_cmr, phi = (t.cuda() for t in make_inputs(b, d=128, p=128))
    got = loss_and_grads(lambda x, y, q: weighted_infonce(x, y, q, sigma=sigma, tau=tau, backend="triton"),
                         z_ecg, z_cmr, phi)
    want = loss_and_grads(lambda x, y, q: weighted_infonce_reference(x.double(), y.double(), q.double(),
                                                                     sigma=sigma, tau=tau), z_ecg, z_cmr, phi)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, rtol=1e-4, atol=1e-5 * w.abs().max().item())
