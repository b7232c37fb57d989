"""The ``cpu`` backend of weighted_infonce: the C++ kernels (csrc/ops/weighted_infonce.cpp) as
``torch.library`` custom ops with fake (meta) implementations and an autograd formula (wired by
_weighted_infonce_autograd.py, shared with the ``triton`` backend), so eager mode, ``torch.compile``
and ``torch.export`` all see one opaque op ``cardionets::weighted_infonce_fwd``.

The ops take the L2-normalised float32 embeddings and the (centred) float32 phenotypes; the
normalisation, the dtype casts and their gradients stay in PyTorch around them.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .. import native
from ._weighted_infonce_autograd import register_fake_and_autograd


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


@torch.library.custom_op("cardionets::weighted_infonce_bwd", mutates_args=(), device_types="cpu")
def weighted_infonce_bwd(ze: Tensor, zc: Tensor, phi: Tensor, m_ec: Tensor, m_ce: Tensor, grad: Tensor,
                         sigma: float, tau: float) -> tuple[Tensor, Tensor]:
    """(d loss / d ze, d loss / d zc) given the forward's log-terms and the loss gradient."""
    ze, zc, phi, m_ec, m_ce = (_f32(t) for t in (ze, zc, phi, m_ec, m_ce))
    d_ze, d_zc = torch.empty_like(ze), torch.empty_like(zc)
    native.load().weighted_infonce_backward(ze.numpy(), zc.numpy(), phi.numpy(), float(sigma), float(tau),
                                            m_ec.numpy(), m_ce.numpy(), float(grad), d_ze.numpy(), d_zc.numpy())
    return d_ze, d_zc


register_fake_and_autograd(weighted_infonce_fwd, weighted_infonce_bwd)
