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
