"""DDPM ancestral sampling with the MAR diffusion head (``cardionets.models.diffusion_head``).

``diffusion_sample(head, cond, *, num_steps=100, train_steps=1000, temperature=1.0, cfg_scale=1.0,
generator=None, noise=None, backend="auto") -> [N, token_dim]``

* ``cond``: per-token conditions ``[N, cond_dim]``; with classifier-free guidance (``cfg_scale !=
  1``) ``[2N, cond_dim]``: the N conditional rows, then the N unconditional ones (e.g. the MAR's
  output for its null condition). The head runs on the doubled batch; the guided noise is
  eps_u + cfg (eps_c - eps_u) and the variance comes from the conditional half (MAR's
  ``forward_with_cfg``). The result holds the N guided samples.
* The schedule is the cosine schedule of ``train_steps`` respaced to ``num_steps``; the head predicts
  eps and the learned-range variance; ``temperature`` scales the noise of every step (MAR).
* Randomness: ``noise`` ``[num_steps, N, token_dim]`` pre-drawn (``noise[0]`` = x_T, ``noise[j]``
  the noise added by step j - 1; the last step adds none), else drawn in that order, one
  ``[N, token_dim]`` ``torch.randn`` at a time, from ``generator``. Every backend consumes the
  stream identically, so equal seeds give equal samples across backends (to fp32 rounding).

Backends, in priority order:

* ``triton``: the matmuls through torch, every elementwise chain of a step in one Triton kernel
  (SiLU(t-emb + c-emb), LayerNorm + modulate, bias + SiLU, gate + residual, and the CFG / variance /
  posterior update with its noise); schedule tensors on the device, no host synchronisation and no
  data-dependent shapes, so the loop can be captured in a CUDA graph (``kernels/diffusion_sample.py``).
* ``cpu``: the same loop on preallocated buffers with in-place ops: timestep embeddings of all
  steps and the condition embedding computed once, the 3 x depth + 2 AdaLN modulations as one GEMM,
  the unguided half's input projection shared.
* ``reference``: the readable loop that calls the head module each step (MAR / improved-DDPM).
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

from ..models.diffusion_head import diffusion_head_tiny, sampling_schedule, selfcheck_init_
from .checks import dtypes_in, tensors_on, triton_env, triton_inputs
from .dispatch import define_op

diffusion_sample_op = define_op(
    "diffusion_sample", "DDPM ancestral sampling of tokens with the MAR diffusion head (cosine schedule, CFG)"
)


def check_inputs(head, cond, num_steps, train_steps, cfg_scale, noise) -> int:
    """Validate and return N, the number of tokens sampled."""
    if cond.dim() != 2 or cond.shape[1] != head.cfg.cond_dim:
        raise ValueError(f"diffusion_sample: cond must be [N, {head.cfg.cond_dim}], got {tuple(cond.shape)}")
    if not head.cfg.learn_sigma:
        raise ValueError("diffusion_sample: the head must predict the learned-range variance (learn_sigma=True)")
    guided = cfg_scale != 1.0
    if guided and cond.shape[0] % 2:
        raise ValueError(f"diffusion_sample: with cfg_scale={cfg_scale} cond holds [conditional; unconditional] "
                         f"rows, so its length must be even (got {cond.shape[0]})")
    n = cond.shape[0] // 2 if guided else cond.shape[0]
    if not 1 <= num_steps <= train_steps:
        raise ValueError(f"diffusion_sample: need 1 <= num_steps <= train_steps, got {num_steps}, {train_steps}")
    if noise is not None and tuple(noise.shape) != (num_steps, n, head.cfg.token_dim):
        raise ValueError(f"diffusion_sample: noise must be [{num_steps}, {n}, {head.cfg.token_dim}], "
                         f"got {tuple(noise.shape)}")
    return n


class NoiseStream:
    """Yields x_T and then each step's noise: from a pre-drawn tensor, or one randn at a time."""

    def __init__(self, noise, generator, shape, device, dtype=torch.float32):
        self.noise, self.generator, self.shape, self.device, self.dtype = noise, generator, shape, device, dtype
        self.i = 0

    def next(self, out: torch.Tensor | None = None) -> torch.Tensor:
        if self.noise is not None:
            z = self.noise[self.i].to(device=self.device, dtype=self.dtype)
        else:
            gdev = self.generator.device if self.generator is not None else self.device
            z = torch.randn(self.shape, generator=self.generator, device=gdev, dtype=self.dtype).to(self.device)
        self.i += 1
        if out is not None:
            out.copy_(z)
            return out
        return z


# ---------------------------------------------------------------------------------------------
# reference
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def diffusion_sample_reference(head, cond, *, num_steps: int = 100, train_steps: int = 1000,
                               temperature: float = 1.0, cfg_scale: float = 1.0, generator=None, noise=None):
    """The readable loop: call the head each step, guide, then the improved-DDPM posterior step."""
    n = check_inputs(head, cond, num_steps, train_steps, cfg_scale, noise)
    guided = cfg_scale != 1.0
    D = head.cfg.token_dim
    dt = torch.float64 if cond.dtype == torch.float64 else torch.float32  # fp64 only to measure rounding
    sched = sampling_schedule(num_steps, train_steps).to(cond.device, dtype=dt)  # loop order
    stream = NoiseStream(noise, generator, (n, D), cond.device, dt)
    x = stream.next()  # x_T: [N, D]
    for j in range(num_steps):
        t = sched.timesteps[j].expand(cond.shape[0])  # [N'] original timestep
        out = head(torch.cat([x, x]) if guided else x, t, cond.to(dt))  # [N', 2D]
        eps, v = out[:, :D], out[:, D:]
        if guided:
            eps_c, eps_u = eps[:n], eps[n:]
            eps, v = eps_u + cfg_scale * (eps_c - eps_u), v[:n]
        x0 = sched.sqrt_recip_ab[j] * x - sched.sqrt_recipm1_ab[j] * eps
        mean = sched.coef1[j] * x0 + sched.coef2[j] * x
        frac = (v + 1.0) / 2.0
        logvar = frac * sched.log_beta[j] + (1.0 - frac) * sched.post_logvar[j]
        x = mean + torch.exp(0.5 * logvar) * stream.next() * temperature if j < num_steps - 1 else mean
    return x


# ---------------------------------------------------------------------------------------------
# weights of a head, flattened for the fused loops
# ---------------------------------------------------------------------------------------------
class HeadPlan:
    """fp32 weights of a SimpleMLPAdaLN laid out for the fused samplers (transposed for x @ W^T,
    all AdaLN modulations stacked into one matrix, the '1 +' of every scale folded into its bias)."""

    def __init__(self, head, device, num_steps: int, train_steps: int):
        cfg = head.cfg
        self.W, self.D, self.depth = cfg.width, cfg.token_dim, cfg.depth
        f = lambda p: p.detach().to(device=device, dtype=torch.float32)  # noqa: E731
        t = lambda lin: f(lin.weight).t().contiguous()  # noqa: E731  [in, out]
        self.w_in, self.b_in = t(head.input_proj), f(head.input_proj.bias)
        self.w_cond, self.b_cond = t(head.cond_embed), f(head.cond_embed.bias)
        mods = [blk.adaLN_modulation[1] for blk in head.res_blocks] + [head.final_layer.adaLN_modulation[1]]
        self.w_mod = torch.cat([t(m) for m in mods], dim=1).contiguous()  # [W, (3 depth + 2) W]
        b_mod = torch.cat([f(m.bias) for m in mods]).clone()
        W = self.W
        for k in range(self.depth):  # scale chunk of block k: columns [3kW + W, 3kW + 2W)
            b_mod[3 * k * W + W: 3 * k * W + 2 * W] += 1.0
        b_mod[3 * self.depth * W + W:] += 1.0  # final layer: (shift, scale)
        self.b_mod = b_mod
        self.ln = [(f(blk.in_ln.weight), f(blk.in_ln.bias)) for blk in head.res_blocks]
        self.mlp = [(t(blk.mlp[0]), f(blk.mlp[0].bias), t(blk.mlp[2]), f(blk.mlp[2].bias)) for blk in head.res_blocks]
        self.w_out, self.b_out = t(head.final_layer.linear), f(head.final_layer.linear.bias)
        self.sched = sampling_schedule(num_steps, train_steps).to(device)
        with torch.no_grad():  # timestep embeddings of every sampling step, once: [S, W]
            self.temb = head.time_embed(self.sched.timesteps.to(device)).detach().float().contiguous()

    def mod(self, mods: torch.Tensor, k: int):
        """(shift, 1 + scale, gate) views of block k, or (shift, 1 + scale) of the final layer (k = depth)."""
        W, o = self.W, 3 * k * self.W
        if k == self.depth:
            return mods[:, o:o + W], mods[:, o + W:o + 2 * W]
        return mods[:, o:o + W], mods[:, o + W:o + 2 * W], mods[:, o + 2 * W:o + 3 * W]


_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def head_plan(head, device, num_steps: int, train_steps: int) -> HeadPlan:
    """The HeadPlan of this head, cached while its parameters are unchanged (the MAR calls the
    sampler 16 times per sample with the same head; re-laying out 20 M weights each time is waste)."""
    key = (str(device), num_steps, train_steps,
           tuple((p.data_ptr(), p._version) for p in head.parameters()))
    hit = _PLANS.get(head)
    if hit is not None and hit[0] == key:
        return hit[1]
    plan = HeadPlan(head, device, num_steps, train_steps)
    _PLANS[head] = (key, plan)
    return plan


# ---------------------------------------------------------------------------------------------
# cpu: preallocated buffers, in-place ops
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def diffusion_sample_cpu(head, cond, *, num_steps: int = 100, train_steps: int = 1000, temperature: float = 1.0,
                         cfg_scale: float = 1.0, generator=None, noise=None):
    """The loop on preallocated buffers: GEMMs with fused bias (addmm into out=), in-place elementwise."""
    n = check_inputs(head, cond, num_steps, train_steps, cfg_scale, noise)
    guided = cfg_scale != 1.0
    dev = cond.device
    plan = head_plan(head, dev, num_steps, train_steps)
    W, D, S = plan.W, plan.D, num_steps
    n2 = cond.shape[0]
    s = plan.sched
    sched = [[float(v) for v in getattr(s, k).tolist()] for k in
             ("sqrt_recip_ab", "sqrt_recipm1_ab", "coef1", "coef2", "log_beta", "post_logvar")]
    cemb = torch.addmm(plan.b_cond, cond.float(), plan.w_cond)  # [N', W], once
    y = torch.empty(n2, W, device=dev)
    mods = torch.empty(n2, plan.w_mod.shape[1], device=dev)
    xs = torch.empty(n2, W, device=dev)
    h = torch.empty(n2, W, device=dev)
    a1 = torch.empty(n2, W, device=dev)
    a2 = torch.empty(n2, W, device=dev)
    out = torch.empty(n2, 2 * D, device=dev)
    stream = NoiseStream(noise, generator, (n, D), dev)
    x = stream.next(torch.empty(n, D, device=dev))
    z = torch.empty(n, D, device=dev)
    tmp = torch.empty(n, D, device=dev)
    for j in range(S):
        torch.add(cemb, plan.temb[j], out=y)
        F.silu(y, inplace=True)
        torch.addmm(plan.b_mod, y, plan.w_mod, out=mods)  # every block's (shift, 1 + scale, gate)
        torch.addmm(plan.b_in, x, plan.w_in, out=xs[:n])
        if guided:
            xs[n:].copy_(xs[:n])
        for k in range(plan.depth):
            shift, scale1, gate = plan.mod(mods, k)
            ln_w, ln_b = plan.ln[k]
            torch.addcmul(shift, F.layer_norm(xs, (W,), ln_w, ln_b, 1e-6), scale1, out=h)
            w1, b1, w2, b2 = plan.mlp[k]
            torch.addmm(b1, h, w1, out=a1)
            F.silu(a1, inplace=True)
            torch.addmm(b2, a1, w2, out=a2)
            xs.addcmul_(gate, a2)
        shift, scale1 = plan.mod(mods, plan.depth)
        torch.addcmul(shift, F.layer_norm(xs, (W,), None, None, 1e-6), scale1, out=h)
        torch.addmm(plan.b_out, h, plan.w_out, out=out)
        eps, v = out[:n, :D], out[:n, D:]
        if guided:
            eps = torch.lerp(out[n:, :D], eps, cfg_scale)  # eps_u + cfg (eps_c - eps_u)
        sra, srm, c1, c2, lb, pl = (col[j] for col in sched)
        # mean = c1 (sra x - srm eps) + c2 x, computed in the reference's order
        torch.mul(x, sra, out=tmp)
        tmp.sub_(eps, alpha=srm)
        tmp.mul_(c1)
        x.mul_(c2).add_(tmp)
        if j < S - 1:
            # x += exp(logvar / 2) temperature noise, logvar = frac lb + (1 - frac) pl, frac = (v + 1) / 2
            stream.next(z)
            torch.add(v, 1.0, out=tmp)
            tmp.mul_(0.5)
            tmp.mul_(lb - pl).add_(pl).mul_(0.5).exp_()
            z.mul_(tmp)
            x.add_(z, alpha=temperature)
    return x


def _cpu_inputs(head, cond, **_kw):
    return tensors_on([cond], "cpu") + dtypes_in([cond], (torch.float32, torch.bfloat16, torch.float16))


def _triton_inputs(head, cond, **_kw):
    return triton_inputs([cond]) + dtypes_in([cond], (torch.float32, torch.bfloat16, torch.float16))


@diffusion_sample_op.register("triton", env_check=triton_env, input_check=_triton_inputs)
def diffusion_sample_triton(head, cond, **kw):
    """Fused Triton elementwise kernels around torch GEMMs (cardionets.kernels.diffusion_sample)."""
    from ._diffusion_sample_triton import sample_fused  # lazy: imports triton

    return sample_fused(head, cond, **kw)


diffusion_sample_op.register("cpu", input_check=_cpu_inputs)(diffusion_sample_cpu)
diffusion_sample_op.register("reference")(diffusion_sample_reference)


def _example():
    g = torch.Generator().manual_seed(0)
    head = selfcheck_init_(diffusion_head_tiny().eval(), g)
    cond = torch.randn(2 * 2, head.cfg.cond_dim, generator=g)  # 2 tokens, guided
    noise = torch.randn(10, 2, head.cfg.token_dim, generator=g)
    # 10 steps keep the interpreter run short; backends agree to ~2e-4 here (1e-6 at 100 steps)
    return (head, cond), {"num_steps": 10, "cfg_scale": 2.0, "temperature": 0.9, "noise": noise}


diffusion_sample_op.example = _example


def diffusion_sample(head, cond, *, num_steps: int = 100, train_steps: int = 1000, temperature: float = 1.0,
                     cfg_scale: float = 1.0, generator: torch.Generator | None = None,
                     noise: torch.Tensor | None = None, backend: str | None = "auto") -> torch.Tensor:
    """Sample tokens [N, token_dim] with the diffusion head through the dispatch registry."""
    check_inputs(head, cond, num_steps, train_steps, cfg_scale, noise)
    return diffusion_sample_op(head, cond, num_steps=int(num_steps), train_steps=int(train_steps),
                               temperature=float(temperature), cfg_scale=float(cfg_scale), generator=generator,
                               noise=noise, backend=backend)
