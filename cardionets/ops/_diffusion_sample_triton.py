"""Host loop of the ``triton`` backend of diffusion_sample: torch GEMMs into preallocated buffers and
the fused elementwise kernels of ``cardionets.kernels.diffusion_sample`` between them.

A :class:`FusedLoop` owns every buffer of one sampling problem (head, rows, steps, guidance scale,
temperature): the condition and the whole noise stream are *inputs* copied into static buffers, the
samples an *output* buffer, and nothing in :meth:`FusedLoop.run` reads a device value on the host or
allocates. So on CUDA the loop is captured once as a CUDA graph and replayed for every later call
with the same shapes (the MAR calls the sampler 16 times per batch, with a different token count and
guidance scale each step: 16 graphs, each reused by every later batch). The noise is drawn in the
order of :class:`~cardionets.ops.diffusion_sample.NoiseStream` before the loop, so captured, eager
and the other backends consume a generator identically. ``CARDIONETS_CUDA_GRAPHS=0`` turns the
capture off (the same loop then runs eagerly).
"""
from __future__ import annotations

import os

import torch
import triton

from ..kernels.diffusion_sample import (_bias_rows_kernel, _bias_silu_kernel, _gate_residual_kernel,
                                        _ln_modulate_kernel, _posterior_kernel, _silu_cond_kernel)
from .checks import interpreter_mode
from .diffusion_sample import HeadPlan, NoiseStream, check_inputs, head_plan

GRAPHS_ENV = "CARDIONETS_CUDA_GRAPHS"


def _block(numel: int) -> int:
    if interpreter_mode():  # few, large programs: the interpreter pays per program instance
        return min(triton.next_power_of_2(max(numel, 16)), 1 << 16)
    return 1024


def graphs_wanted(device: torch.device) -> tuple[bool, str]:
    """(capture the loop as a CUDA graph?, why or why not)."""
    if device.type != "cuda":
        return False, f"inputs on {device.type}: CUDA graphs need CUDA tensors"
    if os.environ.get(GRAPHS_ENV, "1").strip() == "0":
        return False, f"{GRAPHS_ENV}=0"
    return True, "CUDA tensors"


class FusedLoop:
    """Static buffers and the step loop for ``n`` samples (``n2`` head rows: 2n with guidance)."""

    def __init__(self, plan: HeadPlan, n: int, n2: int, cond_dim: int, num_steps: int, cfg_scale: float,
                 temperature: float, device: torch.device):
        self.plan, self.n, self.n2, self.S = plan, n, n2, num_steps
        self.cfg_scale, self.temperature, self.guided = float(cfg_scale), float(temperature), cfg_scale != 1.0
        W, D = plan.W, plan.D
        s = plan.sched
        self.sched = torch.stack([s.sqrt_recip_ab, s.sqrt_recipm1_ab, s.coef1, s.coef2, s.log_beta,
                                  s.post_logvar]).contiguous()
        self.cond = torch.empty(n2, cond_dim, device=device)        # input
        self.noise = torch.empty(num_steps, n, D, device=device)    # input: x_T, then each step's noise
        self.x = torch.empty(n, D, device=device)                    # output
        self.cemb = torch.empty(n2, W, device=device)
        self.sy, self.xs, self.h, self.a1, self.a2 = (torch.empty(n2, W, device=device) for _ in range(5))
        self.mods = torch.empty(n2, plan.w_mod.shape[1], device=device)
        self.xin = torch.empty(n, W, device=device)
        self.out = torch.empty(n2, 2 * D, device=device)
        nw = n2 * W
        self.nw, self.blk_w = nw, _block(nw)
        self.grid_w = (triton.cdiv(nw, self.blk_w),)
        self.blk_row = triton.next_power_of_2(W)
        rows_per = triton.next_power_of_2(n2) if interpreter_mode() else max(1, 4096 // self.blk_row)
        self.rows_per = min(rows_per, max(1, (1 << 16) // self.blk_row))
        self.grid_r = (triton.cdiv(n2, self.rows_per),)
        self.blk_x = _block(n * D)
        self.grid_x = (triton.cdiv(n * D, self.blk_x),)
        self.graph: "torch.cuda.CUDAGraph | None" = None

    def run(self) -> None:
        """The sampling loop on the static buffers (no allocation, no host synchronisation)."""
        p, n, n2, W, D, S = self.plan, self.n, self.n2, self.plan.W, self.plan.D, self.S
        mod_cols = p.w_mod.shape[1]
        torch.addmm(p.b_cond, self.cond, p.w_cond, out=self.cemb)  # [N', W], once
        self.x.copy_(self.noise[0])  # x_T
        for j in range(S):
            _silu_cond_kernel[self.grid_w](self.cemb, p.temb[j], None, self.sy, self.nw, W, BLOCK=self.blk_w)
            torch.mm(self.sy, p.w_mod, out=self.mods)
            torch.mm(self.x, p.w_in, out=self.xin)
            _bias_rows_kernel[self.grid_w](self.xin, p.b_in, self.xs, n, self.nw, W, BLOCK=self.blk_w)
            for k in range(p.depth):
                ln_w, ln_b = p.ln[k]
                _ln_modulate_kernel[self.grid_r](self.xs, self.mods, p.b_mod, ln_w, ln_b, self.h, n2, W, mod_cols,
                                                 3 * k * W, 1e-6, HAS_AFFINE=True, BLOCK_R=self.rows_per,
                                                 BLOCK_W=self.blk_row)
                w1, b1, w2, b2 = p.mlp[k]
                torch.mm(self.h, w1, out=self.a1)
                _bias_silu_kernel[self.grid_w](self.a1, b1, self.nw, W, BLOCK=self.blk_w)
                torch.mm(self.a1, w2, out=self.a2)
                _gate_residual_kernel[self.grid_w](self.xs, self.a2, b2, self.mods, p.b_mod, self.nw, W, mod_cols,
                                                   3 * k * W + 2 * W, BLOCK=self.blk_w)
            _ln_modulate_kernel[self.grid_r](self.xs, self.mods, p.b_mod, p.b_mod, p.b_mod, self.h, n2, W, mod_cols,
                                             3 * p.depth * W, 1e-6, HAS_AFFINE=False, BLOCK_R=self.rows_per,
                                             BLOCK_W=self.blk_row)
            torch.mm(self.h, p.w_out, out=self.out)
            last = j == S - 1
            z = self.noise[j + 1] if not last else self.noise[j]  # the last step adds no noise (z unread)
            _posterior_kernel[self.grid_x](self.out, p.b_out, self.x, z, self.sched, j, S, n, D, self.cfg_scale,
                                           self.temperature, GUIDED=self.guided, LAST=last, BLOCK=self.blk_x)

    def capture(self) -> None:
        """Record :meth:`run` as a CUDA graph (after one eager run on a side stream, which also
        compiles the kernels: launches inside a capture must not compile)."""
        dev = self.x.device
        side = torch.cuda.Stream(device=dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):
            self.run()
        torch.cuda.current_stream(dev).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.run()
        self.graph = graph

    def __call__(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.run()


def _loop(plan: HeadPlan, n: int, cond: torch.Tensor, num_steps: int, cfg_scale: float, temperature: float,
          graphs: bool) -> FusedLoop:
    """A fresh loop, or with ``graphs`` the plan's loop for this problem (kept with its graph; the plan,
    and with it every graph, is rebuilt when the head's weights change)."""
    make = lambda: FusedLoop(plan, n, cond.shape[0], cond.shape[1], num_steps, cfg_scale,  # noqa: E731
                             temperature, cond.device)
    if not graphs:
        return make()
    loops = plan.__dict__.setdefault("graph_loops", {})
    key = (n, cond.shape[0], cond.shape[1], num_steps, float(cfg_scale), float(temperature))
    if key not in loops:
        loops[key] = make()
    return loops[key]


@torch.no_grad()
def sample_fused(head, cond, *, num_steps: int = 100, train_steps: int = 1000, temperature: float = 1.0,
                 cfg_scale: float = 1.0, generator=None, noise=None):
    n = check_inputs(head, cond, num_steps, train_steps, cfg_scale, noise)
    dev = cond.device
    plan = head_plan(head, dev, num_steps, train_steps)
    graphs, _ = graphs_wanted(dev)
    loop = _loop(plan, n, cond, num_steps, cfg_scale, temperature, graphs)
    loop.cond.copy_(cond)
    if noise is not None:
        loop.noise.copy_(noise)
    else:
        stream = NoiseStream(None, generator, (n, plan.D), dev)
        for j in range(num_steps):  # x_T, then the noise added by steps 0 .. S-2: the stream's order
            stream.next(loop.noise[j])
    if graphs and loop.graph is None:
        loop.capture()  # on the real inputs: the warm-up run inside is a valid sample too
    loop()
    return loop.x.clone()
