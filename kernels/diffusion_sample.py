"""Triton kernels of the fused diffusion-head sampler (cardionets.ops.diffusion_sample, "triton").

The matmuls of a sampling step stay in torch (cuBLAS) *without* their biases; every elementwise
chain between them is one kernel that also applies the preceding bias:

* ``_silu_cond_kernel``:     sy = SiLU(c_emb + t_emb[step])                 (AdaLN input, all blocks)
* ``_bias_rows_kernel``:     xs = x W_in + b_in, written to both CFG halves
* ``_ln_modulate_kernel``:   h = LN(xs) (1 + scale) + shift                  (BLOCK_R rows per program)
* ``_bias_silu_kernel``:     a = SiLU(a + b1)
* ``_gate_residual_kernel``: xs += gate (a + b2)
* ``_posterior_kernel``:     eps/v from the output (+ bias), CFG, learned-range variance, the
                             posterior mean and the noise step, x updated in place

Schedule coefficients are device arrays indexed by the step number, so the step loop has no host
synchronisation and no data-dependent shapes (capturable in a CUDA graph). Only interpreter-safe
operations are used (tl.exp, tl.sigmoid; no libdevice).
"""
from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _silu_cond_kernel(cemb_ptr, temb_ptr, b_mod_unused, out_ptr, numel, W, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < numel
    y = tl.load(cemb_ptr + offs, mask=ok, other=0.0) + tl.load(temb_ptr + offs % W, mask=ok, other=0.0)
    tl.store(out_ptr + offs, y * tl.sigmoid(y), mask=ok)


@triton.jit
def _bias_rows_kernel(src_ptr, bias_ptr, dst_ptr, n_src, numel, W, BLOCK: tl.constexpr):
    """dst[r, c] = src[r mod n_src, c] + bias[c] (the guided half repeats the conditional half)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < numel
    r = offs // W
    c = offs % W
    v = tl.load(src_ptr + (r % n_src) * W + c, mask=ok, other=0.0) + tl.load(bias_ptr + c, mask=ok, other=0.0)
    tl.store(dst_ptr + offs, v, mask=ok)


@triton.jit
def _ln_modulate_kernel(x_ptr, mods_ptr, bmod_ptr, lnw_ptr, lnb_ptr, out_ptr, R, W, mod_stride, shift_off, eps,
                        HAS_AFFINE: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr):
    """out = LN(x) * scale1 + shift for BLOCK_R rows, with (shift, scale1) = mods[:, shift_off:+2W]
    plus their biases (scale1 = 1 + scale: the host folded the 1 into the bias)."""
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_W)
    r_ok = rows < R
    c_ok = cols < W
    ok = r_ok[:, None] & c_ok[None, :]
    x = tl.load(x_ptr + rows[:, None] * W + cols[None, :], mask=ok, other=0.0)
    mean = tl.sum(x, axis=1) / W
    xc = tl.where(ok, x - mean[:, None], 0.0)
    var = tl.sum(xc * xc, axis=1) / W
    xn = xc / tl.sqrt(var + eps)[:, None]
    if HAS_AFFINE:
        xn = xn * tl.load(lnw_ptr + cols, mask=c_ok, other=0.0)[None, :] + tl.load(lnb_ptr + cols, mask=c_ok,
                                                                                  other=0.0)[None, :]
    mrow = mods_ptr + rows[:, None] * mod_stride + shift_off + cols[None, :]
    shift = tl.load(mrow, mask=ok, other=0.0) + tl.load(bmod_ptr + shift_off + cols, mask=c_ok, other=0.0)[None, :]
    scale1 = tl.load(mrow + W, mask=ok, other=0.0) + tl.load(bmod_ptr + shift_off + W + cols, mask=c_ok,
                                                             other=0.0)[None, :]
    tl.store(out_ptr + rows[:, None] * W + cols[None, :], shift + xn * scale1, mask=ok)


@triton.jit
def _bias_silu_kernel(a_ptr, bias_ptr, numel, W, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < numel
    v = tl.load(a_ptr + offs, mask=ok, other=0.0) + tl.load(bias_ptr + offs % W, mask=ok, other=0.0)
    tl.store(a_ptr + offs, v * tl.sigmoid(v), mask=ok)


@triton.jit
def _gate_residual_kernel(x_ptr, a_ptr, bias_ptr, mods_ptr, bmod_ptr, numel, W, mod_stride, gate_off,
                          BLOCK: tl.constexpr):
    """x += (gate + b_gate) (a + b2)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < numel
    r = offs // W
    c = offs % W
    gate = tl.load(mods_ptr + r * mod_stride + gate_off + c, mask=ok, other=0.0) + tl.load(
        bmod_ptr + gate_off + c, mask=ok, other=0.0)
    a = tl.load(a_ptr + offs, mask=ok, other=0.0) + tl.load(bias_ptr + c, mask=ok, other=0.0)
    x = tl.load(x_ptr + offs, mask=ok, other=0.0)
    tl.store(x_ptr + offs, x + gate * a, mask=ok)


@triton.jit
def _posterior_kernel(out_ptr, bout_ptr, x_ptr, z_ptr, sched_ptr, step, S, n, D, cfg_scale, temperature,
                      GUIDED: tl.constexpr, LAST: tl.constexpr, BLOCK: tl.constexpr):
    """x <- posterior mean (+ exp(logvar/2) temperature z unless LAST) for x [n, D] in place.

    out [n or 2n, 2D] is the head's final matmul without bias: [eps | v]. sched [6, S] holds, per
    step, sqrt(1/abar), sqrt(1/abar - 1), coef1, coef2, log beta, clipped log posterior variance."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < n * D
    r = offs // D
    c = offs % D
    eps = tl.load(out_ptr + r * (2 * D) + c, mask=ok, other=0.0) + tl.load(bout_ptr + c, mask=ok, other=0.0)
    if GUIDED:
        eps_u = tl.load(out_ptr + (r + n) * (2 * D) + c, mask=ok, other=0.0) + tl.load(bout_ptr + c, mask=ok, other=0.0)
        eps = eps_u + cfg_scale * (eps - eps_u)
    x = tl.load(x_ptr + offs, mask=ok, other=0.0)
    sra = tl.load(sched_ptr + step)
    srm = tl.load(sched_ptr + S + step)
    c1 = tl.load(sched_ptr + 2 * S + step)
    c2 = tl.load(sched_ptr + 3 * S + step)
    x0 = sra * x - srm * eps
    mean = c1 * x0 + c2 * x
    if LAST:
        tl.store(x_ptr + offs, mean, mask=ok)
    else:
        lb = tl.load(sched_ptr + 4 * S + step)
        pl = tl.load(sched_ptr + 5 * S + step)
        v = tl.load(out_ptr + r * (2 * D) + D + c, mask=ok, other=0.0) + tl.load(bout_ptr + D + c, mask=ok, other=0.0)
        frac = (v + 1.0) / 2.0
        logvar = frac * lb + (1.0 - frac) * pl
        z = tl.load(z_ptr + offs, mask=ok, other=0.0)
        tl.store(x_ptr + offs, mean + tl.exp(0.5 * logvar) * z * temperature, mask=ok)
