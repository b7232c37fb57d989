"""The ``cpu`` backend of weighted_infonce: the C++ kernels (csrc/ops/weighted_infonce.cpp) as
``torch.library`` custom ops with fake (meta) implementations and an autograd formula, so eager
mode, ``torch.compile`` and ``torch.export`` all see one opaque op ``cardionets::weighted_infonce_fwd``.

The ops take the L2-normalised float32 embeddings and the (centred) float32 phenotypes; the
normalisation, the dtype casts and their gradients stay in PyTorch around them.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .. import native


def _f32(t: Tensor) -> Tensor:
    return t.detach().to(torch.float32).contiguous()


@torch.library.custom_op("cardionets::weighted_infonce_fwd", mutates_args=(), device_types="cpu")
def weighted_infonce_fwd(ze: Tensor, zc: Tensor, phi: Tensor, sigma: float, tau: float) -> tuple[Tensor, Tensor, Tensor]:
    """(loss [], m_ec [B], m_ce [B]) for normalised ze, zc [B, D] and phi [B, P]."""
    ze, zc, phi = _f32(ze), _f32(zc), _f32(phi)
    b = ze.shape[0]
    m_ec, m_ce = torch.empty(b), torch.empty(b)
    loss = native.load().weighted_infonce_forward(ze.numpy(), zc.numpy(), phi.numpy(), float(sigma), float(tau),
                                                  m_ec.numpy(), m_ce.numpy())
    return torch.tensor(loss, dtype=torch.float32), m_ec, m_ce


@weighted_infonce_fwd.register_fake
def _(ze, zc, phi, sigma, tau):
    b = ze.shape[0]
    return ze.new_empty((), dtype=torch.float32), ze.new_empty((b,), dtype=torch.float32), ze.new_empty(
        (b,), dtype=torch.float32)


@torch.library.custom_op("cardionets::weighted_infonce_bwd", mutates_args=(), device_types="cpu")
def weighted_infonce_bwd(ze: Tensor, zc: Tensor, phi: Tensor, m_ec: Tensor, m_ce: Tensor, grad: Tensor,
                         sigma: float, tau: float) -> tuple[Tensor, Tensor]:
    """(d loss / d ze, d loss / d zc) given the forward's log-terms and the loss gradient."""
    ze, zc, phi, m_ec, m_ce = (_f32(t) for t in (ze, zc, phi, m_ec, m_ce))
    d_ze, d_zc = torch.empty_like(ze), torch.empty_like(zc)
    native.load().weighted_infonce_backward(ze.numpy(), zc.numpy(), phi.numpy(), float(sigma), float(tau),
                                            m_ec.numpy(), m_ce.numpy(), float(grad), d_ze.numpy(), d_zc.numpy())
    return d_ze, d_zc


@weighted_infonce_bwd.register_fake
def _(ze, zc, phi, m_ec, m_ce, grad, sigma, tau):
    return torch.empty_like(ze, dtype=torch.float32), torch.empty_like(zc, dtype=torch.float32)


def _setup_context(ctx, inputs, output):
    ze, zc, phi, sigma, tau = inputs
    _, m_ec, m_ce = output
    ctx.save_for_backward(ze, zc, phi, m_ec, m_ce)
    ctx.sigma, ctx.tau = sigma, tau
    ctx.mark_non_differentiable(m_ec, m_ce)


def _backward(ctx, g_loss, _g_mec, _g_mce):
    ze, zc, phi, m_ec, m_ce = ctx.saved_tensors
    d_ze, d_zc = weighted_infonce_bwd(ze, zc, phi, m_ec, m_ce, g_loss, ctx.sigma, ctx.tau)
    return d_ze, d_zc, None, None, None


weighted_infonce_fwd.register_autograd(_backward, setup_context=_setup_context)
