"""Host loop of the ``triton`` backend of diffusion_sample: torch GEMMs into preallocated buffers and
the fused elementwise kernels of ``cardionets.kernels.diffusion_sample`` between them. Nothing in the
loop reads device values on the host, so on CUDA the whole loop can be captured in a CUDA graph."""
from __future__ import annotations

import torch
import triton

from ..kernels.diffusion_sample import (_bias_rows_kernel, _bias_silu_kernel, _gate_residual_kernel,
                                        _ln_modulate_kernel, _posterior_kernel, _silu_cond_kernel)
from .checks import interpreter_mode
from .diffusion_sample import NoiseStream, check_inputs, head_plan


def _block(numel: int) -> int:
    if interpreter_mode():  # few, large programs: the interpreter pays per program instance
        return min(triton.next_power_of_2(max(numel, 16)), 1 << 16)
    return 1024


@torch.no_grad()
def sample_fused(head, cond, *, num_steps: int = 100, train_steps: int = 1000, temperature: float = 1.0,
                 cfg_scale: float = 1.0, generator=None, noise=None):
    n = check_inputs(head, cond, num_steps, train_steps, cfg_scale, noise)
    guided = cfg_scale != 1.0
    dev = cond.device
    plan = head_plan(head, dev, num_steps, train_steps)
    W, D, S, n2 = plan.W, plan.D, num_steps, cond.shape[0]
    s = plan.sched
    sched = torch.stack([s.sqrt_recip_ab, s.sqrt_recipm1_ab, s.coef1, s.coef2, s.log_beta, s.post_logvar]).contiguous()
    cemb = torch.addmm(plan.b_cond, cond.float(), plan.w_cond).contiguous()  # [N', W], once
    mod_cols = plan.w_mod.shape[1]
    sy, xs, h, a1, a2 = (torch.empty(n2, W, device=dev) for _ in range(5))
    mods = torch.empty(n2, mod_cols, device=dev)
    xin = torch.empty(n, W, device=dev)
    out = torch.empty(n2, 2 * D, device=dev)
    stream = NoiseStream(noise, generator, (n, D), dev)
    x = stream.next(torch.empty(n, D, device=dev))
    z = torch.empty(n, D, device=dev)
    nw, blk_w = n2 * W, _block(n2 * W)
    grid_w = (triton.cdiv(nw, blk_w),)
    blk_row = triton.next_power_of_2(W)
    rows_per = triton.next_power_of_2(n2) if interpreter_mode() else max(1, 4096 // blk_row)
    rows_per = min(rows_per, max(1, (1 << 16) // blk_row))
    grid_r = (triton.cdiv(n2, rows_per),)
    blk_x = _block(n * D)
    grid_x = (triton.cdiv(n * D, blk_x),)
    for j in range(S):
        _silu_cond_kernel[grid_w](cemb, plan.temb[j], None, sy, nw, W, BLOCK=blk_w)
        torch.mm(sy, plan.w_mod, out=mods)
        torch.mm(x, plan.w_in, out=xin)
        _bias_rows_kernel[grid_w](xin, plan.b_in, xs, n, nw, W, BLOCK=blk_w)
        for k in range(plan.depth):
            ln_w, ln_b = plan.ln[k]
            _ln_modulate_kernel[grid_r](xs, mods, plan.b_mod, ln_w, ln_b, h, n2, W, mod_cols, 3 * k * W, 1e-6,
                                        HAS_AFFINE=True, BLOCK_R=rows_per, BLOCK_W=blk_row)
            w1, b1, w2, b2 = plan.mlp[k]
            torch.mm(h, w1, out=a1)
            _bias_silu_kernel[grid_w](a1, b1, nw, W, BLOCK=blk_w)
            torch.mm(a1, w2, out=a2)
            _gate_residual_kernel[grid_w](xs, a2, b2, mods, plan.b_mod, nw, W, mod_cols, 3 * k * W + 2 * W,
                                          BLOCK=blk_w)
        _ln_modulate_kernel[grid_r](xs, mods, plan.b_mod, plan.b_mod, plan.b_mod, h, n2, W, mod_cols,
                                    3 * plan.depth * W, 1e-6, HAS_AFFINE=False, BLOCK_R=rows_per, BLOCK_W=blk_row)
        torch.mm(h, plan.w_out, out=out)
        last = j == S - 1
        if not last:
            stream.next(z)
        _posterior_kernel[grid_x](out, plan.b_out, x, z, sched, j, S, n, D, float(cfg_scale), float(temperature),
                                  GUIDED=guided, LAST=last, BLOCK=blk_x)
    return x
