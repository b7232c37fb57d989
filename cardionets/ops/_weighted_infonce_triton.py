"""Host side of the ``triton`` backend of weighted_infonce: launches the kernels of
``cardionets.kernels.weighted_infonce`` inside a ``torch.library`` custom op pair (forward,
backward) with fake implementations and autograd wired by _weighted_infonce_autograd.py, like the
``cpu`` backend."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

import triton

from ..kernels.weighted_infonce import _wi_bwd_rows_kernel, _wi_fwd_rows_kernel
from ._weighted_infonce_autograd import register_fake_and_autograd
from .checks import interpreter_mode


def _next_pow2(n: int, lo: int = 16) -> int:
    return max(lo, 1 << (max(n, 1) - 1).bit_length())


def _config(b: int) -> dict:
    if interpreter_mode():  # ~1.4 ms per program instance on CPU: few, large blocks
        blk = 64 if b <= 256 else 128
        return dict(BLOCK_M=blk, BLOCK_N=blk, BLOCK_PC=16)
    return dict(BLOCK_M=64, BLOCK_N=64, BLOCK_PC=4)


def _common(ze, zc, phi, sigma, tau):
    b, d = ze.shape
    p = phi.shape[1]
    cfg = _config(b)
    cfg.update(BLOCK_D=_next_pow2(d), BLOCK_P=_next_pow2(p))
    nphi = (phi * phi).sum(dim=1).contiguous()
    pos = ((ze * zc).sum(dim=1) / tau).contiguous()  # s_ii / tau
    grid = (triton.cdiv(b, cfg["BLOCK_M"]),)
    return b, d, p, cfg, nphi, pos, grid


@torch.library.custom_op("cardionets::weighted_infonce_triton_fwd", mutates_args=())
def weighted_infonce_triton_fwd(ze: Tensor, zc: Tensor, phi: Tensor, sigma: float, tau: float) -> tuple[Tensor, Tensor, Tensor]:
    ze, zc, phi = (t.float().contiguous() for t in (ze, zc, phi))
    b, d, p, cfg, nphi, pos, grid = _common(ze, zc, phi, sigma, tau)
    m_ec, m_ce = torch.empty(b, device=ze.device), torch.empty(b, device=ze.device)
    args = (b, d, p, 1.0 / tau, 1.0 / sigma**2)
    _wi_fwd_rows_kernel[grid](ze, zc, phi, nphi, pos, m_ec, *args, **cfg)
    _wi_fwd_rows_kernel[grid](zc, ze, phi, nphi, pos, m_ce, *args, **cfg)
    loss = 0.5 * (F.softplus(m_ec).mean() + F.softplus(m_ce).mean())
    return loss, m_ec, m_ce


@torch.library.custom_op("cardionets::weighted_infonce_triton_bwd", mutates_args=())
def weighted_infonce_triton_bwd(ze: Tensor, zc: Tensor, phi: Tensor, m_ec: Tensor, m_ce: Tensor, grad: Tensor,
                                sigma: float, tau: float) -> tuple[Tensor, Tensor]:
    ze, zc, phi = (t.float().contiguous() for t in (ze, zc, phi))
    b, d, p, cfg, nphi, pos, grid = _common(ze, zc, phi, sigma, tau)
    rshift = (pos + F.softplus(m_ec)).contiguous()
    cshift = (pos + F.softplus(m_ce)).contiguous()
    coef = (grad.float() / (2.0 * b * tau)).reshape(1).contiguous()  # stays on device
    d_ze, d_zc = torch.empty_like(ze), torch.empty_like(zc)
    args = (b, d, p, 1.0 / tau, 1.0 / sigma**2)
    _wi_bwd_rows_kernel[grid](ze, zc, phi, nphi, rshift, cshift, d_ze, coef, *args, **cfg)
    _wi_bwd_rows_kernel[grid](zc, ze, phi, nphi, cshift, rshift, d_zc, coef, *args, **cfg)
    g_pos = -coef * (torch.sigmoid(m_ec) + torch.sigmoid(m_ce))  # dL/ds_ii
    d_ze += g_pos[:, None] * zc
    d_zc += g_pos[:, None] * ze
    return d_ze, d_zc


register_fake_and_autograd(weighted_infonce_triton_fwd, weighted_infonce_triton_bwd)


def weighted_infonce_tiled(ze: Tensor, zc: Tensor, phi: Tensor, sigma: float, tau: float) -> Tensor:
    loss, _, _ = weighted_infonce_triton_fwd(ze, zc, phi, sigma, tau)
    return loss
