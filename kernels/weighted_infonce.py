"""Triton kernels of the weighted InfoNCE (cardionets.ops.weighted_infonce, backend "triton").

Both kernels work on one BLOCK_M block of rows and stream over BLOCK_N blocks of columns, so no
B x B matrix ever exists (flash-attention style). Per tile they recompute

    s     = ze[rows] . zc[cols]^T                         (tl.dot, fp32 "ieee": no TF32)
    d^2   = |phi_i|^2 + |phi_k|^2 - 2 phi_i . phi_k       (tl.dot), and exactly as sum (phi_i - phi_k)^2
            for the pairs where that expansion cancels (d^2 <= (|phi_i|^2 + |phi_k|^2)/2, e.g.
            duplicated phenotypes, whose weight must be exactly 0); tiles without such pairs skip it
    a     = s / tau + log(1 - e^{-d^2/sigma^2}),  -inf on the diagonal (W_ii = 0) and out of range

* ``_wi_fwd_rows_kernel``: running row log-sum-exp of a - s_ii/tau -> m[i].
* ``_wi_bwd_rows_kernel``: dz_rows += sum_k coef (e^{a - rs_i} + e^{a - cs_k}) z_cols[k].

The CMR->ECG direction is the same computation with the embeddings swapped (s^T, and W is
symmetric), so the host calls each kernel twice instead of reducing columns across programs.
Everything runs under TRITON_INTERPRET=1 (no libdevice calls; expm1 is a series here).
"""
from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _log1mexp(x):
    """log(1 - e^{-x}) for x >= 0; -expm1(-x) by its series below ln 2 keeps small weights exact."""
    nx = -x
    q = nx * (1.0 / 3628800.0) + (1.0 / 362880.0)
    q = q * nx + (1.0 / 40320.0)
    q = q * nx + (1.0 / 5040.0)
    q = q * nx + (1.0 / 720.0)
    q = q * nx + (1.0 / 120.0)
    q = q * nx + (1.0 / 24.0)
    q = q * nx + (1.0 / 6.0)
    q = q * nx + 0.5
    q = q * nx + 1.0
    v = tl.where(x < 0.6931, x * q, 1.0 - tl.exp(nx))
    return tl.log(v)


@triton.jit
def _logits_tile(rows_z, cols_z, phi_ptr, nphi_ptr, offs_m, offs_n, B, D, P, inv_tau, inv_s2,
                 BLOCK_D: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_PC: tl.constexpr):
    """a [BLOCK_M, BLOCK_N] = s/tau + log W for these rows and columns."""
    m_ok = offs_m < B
    n_ok = offs_n < B
    offs_d = tl.arange(0, BLOCK_D)
    d_ok = offs_d < D
    zr = tl.load(rows_z + offs_m[:, None] * D + offs_d[None, :], mask=m_ok[:, None] & d_ok[None, :], other=0.0)
    zk = tl.load(cols_z + offs_n[:, None] * D + offs_d[None, :], mask=n_ok[:, None] & d_ok[None, :], other=0.0)
    s = tl.dot(zr, tl.trans(zk), input_precision="ieee")  # [M, N] cosine similarities
    offs_p = tl.arange(0, BLOCK_P)
    p_ok = offs_p < P
    pr = tl.load(phi_ptr + offs_m[:, None] * P + offs_p[None, :], mask=m_ok[:, None] & p_ok[None, :], other=0.0)
    pk = tl.load(phi_ptr + offs_n[:, None] * P + offs_p[None, :], mask=n_ok[:, None] & p_ok[None, :], other=0.0)
    g = tl.dot(pr, tl.trans(pk), input_precision="ieee")  # [M, N] phi_i . phi_k
    nr = tl.load(nphi_ptr + offs_m, mask=m_ok, other=0.0)
    nk = tl.load(nphi_ptr + offs_n, mask=n_ok, other=0.0)
    nn = nr[:, None] + nk[None, :]
    d2 = nn - 2.0 * g
    valid = m_ok[:, None] & n_ok[None, :] & (offs_m[:, None] != offs_n[None, :])
    cancel = valid & (d2 <= 0.5 * nn)
    if tl.max(cancel.to(tl.int32)) > 0:  # exact distances for near-duplicate pairs of this tile
        exact = tl.zeros_like(d2)
        for p0 in range(0, P, BLOCK_PC):
            offs_c = p0 + tl.arange(0, BLOCK_PC)
            c_ok = offs_c < P
            ar = tl.load(phi_ptr + offs_m[:, None] * P + offs_c[None, :], mask=m_ok[:, None] & c_ok[None, :], other=0.0)
            ak = tl.load(phi_ptr + offs_n[:, None] * P + offs_c[None, :], mask=n_ok[:, None] & c_ok[None, :], other=0.0)
            diff = ar[:, None, :] - ak[None, :, :]  # [M, N, PC]
            exact += tl.sum(diff * diff, axis=2)
        d2 = tl.where(cancel, exact, d2)
    d2 = tl.maximum(d2, 0.0)
    a = s * inv_tau + _log1mexp(d2 * inv_s2)
    return tl.where(valid, a, float("-inf"))


@triton.jit
def _wi_fwd_rows_kernel(rows_z, cols_z, phi_ptr, nphi_ptr, pos_ptr, m_out, B, D, P, inv_tau, inv_s2,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                        BLOCK_P: tl.constexpr, BLOCK_PC: tl.constexpr):
    """m[i] = logsumexp_{k != i}(a_ik) - s_ii/tau for one block of rows (-inf if all weights are 0)."""
    pid = tl.program_id(0)
    offs_m = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = offs_m < B
    pos = tl.load(pos_ptr + offs_m, mask=m_ok, other=0.0)
    run_max = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    run_sum = tl.zeros((BLOCK_M,), tl.float32)
    for n0 in range(0, B, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        a = _logits_tile(rows_z, cols_z, phi_ptr, nphi_ptr, offs_m, offs_n, B, D, P, inv_tau, inv_s2,
                         BLOCK_D, BLOCK_P, BLOCK_PC)
        a = a - pos[:, None]
        new_max = tl.maximum(run_max, tl.max(a, axis=1))
        safe = tl.where(new_max == float("-inf"), 0.0, new_max)
        run_sum = run_sum * tl.exp(run_max - safe) + tl.sum(tl.exp(a - safe[:, None]), axis=1)
        run_max = new_max
    safe = tl.where(run_max == float("-inf"), 0.0, run_max)
    tl.store(m_out + offs_m, safe + tl.log(run_sum), mask=m_ok)


@triton.jit
def _wi_bwd_rows_kernel(rows_z, cols_z, phi_ptr, nphi_ptr, rshift_ptr, cshift_ptr, dz_out, coef_ptr, B, D, P,
                        inv_tau, inv_s2, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                        BLOCK_P: tl.constexpr, BLOCK_PC: tl.constexpr):
    """dz[rows] = sum_{k != i} coef (e^{a_ik - rshift_i} + e^{a_ik - cshift_k}) cols_z[k]
    (coef read from device memory: no host sync for the incoming loss gradient)."""
    pid = tl.program_id(0)
    coef = tl.load(coef_ptr)
    offs_m = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = offs_m < B
    offs_d = tl.arange(0, BLOCK_D)
    d_ok = offs_d < D
    rs = tl.load(rshift_ptr + offs_m, mask=m_ok, other=0.0)
    acc = tl.zeros((BLOCK_M, BLOCK_D), tl.float32)
    for n0 in range(0, B, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        n_ok = offs_n < B
        a = _logits_tile(rows_z, cols_z, phi_ptr, nphi_ptr, offs_m, offs_n, B, D, P, inv_tau, inv_s2,
                         BLOCK_D, BLOCK_P, BLOCK_PC)
        cs = tl.load(cshift_ptr + offs_n, mask=n_ok, other=0.0)
        g = coef * (tl.exp(a - rs[:, None]) + tl.exp(a - cs[None, :]))  # [M, N] dL/ds, 0 off-range
        zk = tl.load(cols_z + offs_n[:, None] * D + offs_d[None, :], mask=n_ok[:, None] & d_ok[None, :], other=0.0)
        acc += tl.dot(g, zk, input_precision="ieee")
    tl.store(dz_out + offs_m[:, None] * D + offs_d[None, :], acc, mask=m_ok[:, None] & d_ok[None, :])
