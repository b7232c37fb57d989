"""Shared ``torch.library`` wiring of the weighted_infonce custom-op pairs (the ``cpu`` backend's
``cardionets::weighted_infonce_fwd/_bwd`` and the ``triton`` backend's
``cardionets::weighted_infonce_triton_fwd/_bwd``).

Both pairs have the same signatures -- fwd(ze, zc, phi, sigma, tau) -> (loss [], m_ec [B], m_ce [B]),
bwd(ze, zc, phi, m_ec, m_ce, grad, sigma, tau) -> (d_ze, d_zc) -- so their fake (meta)
implementations and the autograd formula (save the inputs and log-terms, call bwd) are identical
and live here once.
"""
from __future__ import annotations

import torch


def _fwd_fake(ze, zc, phi, sigma, tau):
    b = ze.shape[0]
    return (ze.new_empty((), dtype=torch.float32), ze.new_empty((b,), dtype=torch.float32),
            ze.new_empty((b,), dtype=torch.float32))


def _bwd_fake(ze, zc, phi, m_ec, m_ce, grad, sigma, tau):
    return torch.empty_like(ze, dtype=torch.float32), torch.empty_like(zc, dtype=torch.float32)


def _setup_context(ctx, inputs, output):
    ze, zc, phi, sigma, tau = inputs
    _, m_ec, m_ce = output
    ctx.save_for_backward(ze, zc, phi, m_ec, m_ce)
    ctx.sigma, ctx.tau = sigma, tau
    ctx.mark_non_differentiable(m_ec, m_ce)


def register_fake_and_autograd(fwd, bwd) -> None:
    """Register fake implementations for the custom ops ``fwd`` and ``bwd`` and make ``bwd`` the
    gradient of ``fwd``'s loss (only ze and zc get gradients; m_ec and m_ce are non-differentiable)."""
    fwd.register_fake(_fwd_fake)
    bwd.register_fake(_bwd_fake)

    def _backward(ctx, g_loss, _g_mec, _g_mce):
        ze, zc, phi, m_ec, m_ce = ctx.saved_tensors
        d_ze, d_zc = bwd(ze, zc, phi, m_ec, m_ce, g_loss, ctx.sigma, ctx.tau)
        return d_ze, d_zc, None, None, None

    fwd.register_autograd(_backward, setup_context=_setup_context)
