"""The MAR generator's per-token diffusion head and its noise schedule.

``SimpleMLPAdaLN`` has the shape of MAR's head (Li et al. 2024, ``diffloss.py``): the noisy token is
projected to the head width, the sinusoidal timestep embedding (through a 2-layer MLP) plus the
projected token condition forms ``y``, and each residual block is

    shift, scale, gate = Linear(SiLU(y)).chunk(3)          # zero-initialised: blocks start as identity
    x = x + gate * MLP(LayerNorm(x) * (1 + scale) + shift)  # MLP = Linear -> SiLU -> Linear

followed by a final AdaLN layer (LayerNorm without affine, shift/scale from ``y``, zero-initialised
linear) that predicts the noise eps and, in the second half of its output, the learned-range
variance value v in [-1, 1] (improved DDPM: log var = frac log beta_t + (1 - frac) log
posterior_var_t with frac = (v + 1) / 2).

Schedule: the improved-DDPM cosine schedule (1000 training steps, betas capped at 0.999) respaced
to ``num_steps`` steps (``space_timesteps``); ``sampling_schedule`` precomputes every per-step
coefficient the ancestral sampler needs (the head is called with the *original* timestep). The
sampler itself is :func:`cardionets.ops.diffusion_sample`.

Respacing rule. improved DDPM's rule ("even") keeps 0 and T - 1 = 999; the cosine schedule's last
beta is the 0.999 cap, so alpha_bar drops 1000-fold from t = 998 (2.4e-6) to t = 999 (2.4e-9), and
the first posterior mean, coef1 / sqrt(alpha_bar) (x - sqrt(1 - alpha_bar) eps), multiplies any
error of the predicted noise by 316 (``eps_error_gain``). A head has to predict eps at t = 999 to
about 1e-3 for the sample to stay O(1); a head trained for minutes on a CPU predicts it to 0.1-0.5
and the sampled latents reach std 1e3-1e4 (the cines are noise). The default rule ("stride", DDIM's
even stride from 0: 0, 10, ..., 990 for 100 of 1000) starts at t = 990 (alpha_bar 2.0e-4, x_T ~ N(0,
1) is still exact to 1.4% of signal) where the gain is 1.6, and every later step's gain is below 1.
Training is unchanged (all 1000 timesteps).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

FREQ_DIM = 256  # sinusoidal timestep features (MAR / DiT)


@dataclass
class DiffusionHeadConfig:
    token_dim: int = 320    # values per token (16 latent channels x 5 x 2 x 2)
    cond_dim: int = 768     # width of the MAR transformer output that conditions each token
    width: int = 1024
    depth: int = 3          # residual AdaLN blocks
    learn_sigma: bool = True  # output [eps, v]: 2 x token_dim
    identity_init: bool = False  # start as eps_hat = x_t (``identity_init_``) instead of eps_hat = 0 (MAR)


def diffusion_head_paper(**overrides) -> "SimpleMLPAdaLN":
    """The paper-size head: width 1024, 3 blocks, 320-value tokens, 768-wide condition."""
    return SimpleMLPAdaLN(DiffusionHeadConfig(**overrides))


def diffusion_head_tiny(**overrides) -> "SimpleMLPAdaLN":
    kw = dict(token_dim=16, cond_dim=32, width=64, depth=2)
    kw.update(overrides)
    return SimpleMLPAdaLN(DiffusionHeadConfig(**kw))


def timestep_embedding(t: torch.Tensor, dim: int = FREQ_DIM, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features of (possibly fractional) timesteps: [N] -> [N, dim] as [cos, sin]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # [N, half]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # [N, dim]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(FREQ_DIM, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t).to(self.mlp[0].weight.dtype))  # [N, W]


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.in_ln = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.adaLN_modulation(y).chunk(3, dim=-1)  # 3 x [N, W]
        h = modulate(self.in_ln(x), shift, scale)
        return x + gate * self.mlp(h)


class FinalLayer(nn.Module):
    def __init__(self, width: int, out_dim: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, out_dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(y).chunk(2, dim=-1)  # 2 x [N, W]
        return self.linear(modulate(self.norm_final(x), shift, scale))


class SimpleMLPAdaLN(nn.Module):
    """x_t [N, token_dim], t [N] (original timesteps), c [N, cond_dim] -> [N, 2 token_dim] (eps, v)."""

    def __init__(self, cfg: DiffusionHeadConfig):
        super().__init__()
        self.cfg = cfg
        W = cfg.width
        self.out_dim = 2 * cfg.token_dim if cfg.learn_sigma else cfg.token_dim
        self.time_embed = TimestepEmbedder(W)
        self.cond_embed = nn.Linear(cfg.cond_dim, W)
        self.input_proj = nn.Linear(cfg.token_dim, W)
        self.res_blocks = nn.ModuleList([ResBlock(W) for _ in range(cfg.depth)])
        self.final_layer = FinalLayer(W, self.out_dim)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """MAR's init: xavier linears, N(0, 0.02) timestep MLP, zero AdaLN modulation and output."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.time_embed.mlp[0].weight, std=0.02)
        nn.init.normal_(self.time_embed.mlp[2].weight, std=0.02)
        for blk in self.res_blocks:
            nn.init.zeros_(blk.adaLN_modulation[-1].weight)
            nn.init.zeros_(blk.adaLN_modulation[-1].bias)
        for lin in (self.final_layer.adaLN_modulation[-1], self.final_layer.linear):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        if self.cfg.identity_init:
            identity_init_(self)

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = self.input_proj(x)  # [N, W]
        y = self.time_embed(t) + self.cond_embed(c)  # [N, W]
        for blk in self.res_blocks:
            x = blk(x, y)
        return self.final_layer(x, y)  # [N, out_dim]


# ---------------------------------------------------------------------------------------------
# Schedule
# ---------------------------------------------------------------------------------------------
def cosine_betas(train_steps: int, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal cosine schedule: beta_i = min(1 - abar(i+1)/abar(i), max_beta), float64 [T]."""
    f = lambda s: math.cos((s / train_steps + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    return torch.tensor([min(1.0 - f(i + 1) / f(i), max_beta) for i in range(train_steps)], dtype=torch.float64)


SPACING_RULES = ("stride", "even")
DEFAULT_SPACING = "stride"


def space_timesteps(train_steps: int, num_steps: int, rule: str = DEFAULT_SPACING) -> list[int]:
    """Original timesteps kept when respacing, ascending.

    ``"stride"`` (default): round(i T / S) for i < S, an even stride from 0 that leaves out the
    capped-beta terminal steps (0, 10, ..., 990 for S = 100 of T = 1000). ``"even"``: improved DDPM's
    rule, evenly spaced over [0, T - 1] with its rounding (0, 10, 20, ..., 999). See the module doc.
    """
    if not 1 <= num_steps <= train_steps:
        raise ValueError(f"cannot respace {train_steps} training steps to {num_steps}")
    if rule not in SPACING_RULES:
        raise ValueError(f"unknown respacing rule {rule!r}; rules: {', '.join(SPACING_RULES)}")
    if num_steps == 1:
        return [0]
    if rule == "stride":
        return [round(i * train_steps / num_steps) for i in range(num_steps)]
    stride = (train_steps - 1) / (num_steps - 1)
    return sorted({round(i * stride) for i in range(num_steps)})


@dataclass
class SamplingSchedule:
    """Per-step coefficients of ancestral sampling, in loop order (index 0 = the noisiest step).

    All are float64 tensors [S] except ``timesteps`` (int64, the original timesteps fed to the head).
    At step j with respaced index t = S - 1 - j:
      x0_hat = sqrt_recip_ab x - sqrt_recipm1_ab eps
      mean   = coef1 x0_hat + coef2 x
      logvar = frac log_beta + (1 - frac) post_logvar,  frac = (v + 1) / 2
      x      = mean + [t > 0] exp(logvar / 2) temperature noise
    """

    timesteps: torch.Tensor
    log_beta: torch.Tensor
    post_logvar: torch.Tensor
    sqrt_recip_ab: torch.Tensor
    sqrt_recipm1_ab: torch.Tensor
    coef1: torch.Tensor
    coef2: torch.Tensor

    def __len__(self) -> int:
        return int(self.timesteps.numel())

    def to(self, device=None, dtype=torch.float32) -> "SamplingSchedule":
        return SamplingSchedule(**{k: (v.to(device) if k == "timesteps" else v.to(device=device, dtype=dtype))
                                   for k, v in self.__dict__.items()})


def sampling_schedule(num_steps: int = 100, train_steps: int = 1000, rule: str = DEFAULT_SPACING) -> SamplingSchedule:
    keep = space_timesteps(train_steps, num_steps, rule)
    ab_full = torch.cumprod(1.0 - cosine_betas(train_steps), 0)
    ab = ab_full[keep]  # [S] alpha_bar at the kept steps
    ab_prev = torch.cat([ab.new_ones(1), ab[:-1]])
    betas = 1.0 - ab / ab_prev  # respaced betas
    post_var = betas * (1.0 - ab_prev) / (1.0 - ab)
    post_logvar = torch.log(torch.cat([post_var[1:2], post_var[1:]])) if len(keep) > 1 else torch.log(betas)
    rev = lambda v: v.flip(0)  # noqa: E731  loop order: noisiest first
    return SamplingSchedule(
        timesteps=rev(torch.tensor(keep, dtype=torch.int64)),
        log_beta=rev(torch.log(betas)),
        post_logvar=rev(post_logvar),
        sqrt_recip_ab=rev(torch.sqrt(1.0 / ab)),
        sqrt_recipm1_ab=rev(torch.sqrt(1.0 / ab - 1.0)),
        coef1=rev(betas * torch.sqrt(ab_prev) / (1.0 - ab)),
        coef2=rev((1.0 - ab_prev) * torch.sqrt(1.0 - betas) / (1.0 - ab)),
    )


def eps_error_gain(s: SamplingSchedule) -> torch.Tensor:
    """Per step (loop order), how much an error in the predicted eps moves the posterior mean:
    coef1 sqrt(1 / alpha_bar - 1). [S] float64; 316 at t = 999 of the "even" rule, at most 1.6 with "stride"."""
    return s.coef1 * s.sqrt_recipm1_ab


def identity_init_(head: SimpleMLPAdaLN, big_ratio: float = 8.0) -> SimpleMLPAdaLN:
    """Start the head at eps_hat = x_t (to about 1%), the noise predictor that is right at large t.

    Why: the sampler's first steps turn an eps error e into an x0 error e sqrt(1/alpha_bar - 1)
    (70x at t = 990); MAR's zero-initialised head predicts eps = 0 and needs a long training to learn
    the identity to 1e-2 through its LayerNorms (a 320-value token head trained for minutes on a CPU
    stays at eps MSE 0.04-0.3 at t > 900 and the sampled latents drift to std 15-1e4). The usual
    init is kept everywhere else (xavier linears, zero gates / modulations, zero variance output).

    How, with D = token_dim and W >= D + 2: the input projection writes x into channels [0, D) and
    constants +B, -B into channels D, D + 1 (the other W - D - 2 channels keep their random features
    R x). The final LayerNorm then sees h = [x, B, -B, R x] and returns k (h - u.x) with k ~ sqrt(W /
    (2 B^2 + E|x|^2 + E|R x|^2)) nearly constant (B is chosen so that 2 B^2 = ``big_ratio`` times the
    x-dependent part, for unit-variance x) and u.x the channel mean; the final linear inverts that on
    the first D channels (Sherman-Morrison: x = (I + 1 u^T / (1 - u^T 1)) LN[:D] / k). The blocks'
    input LayerNorms get weight 1 / k on every channel but the two constants (0 there), so their MLPs
    see the features at unit scale. Every layer keeps its shape: all sampler backends run it as is.
    """
    cfg = head.cfg
    D, W = cfg.token_dim, cfg.width
    if W < D + 2:
        raise ValueError(f"identity_init_ needs width >= token_dim + 2, got width {W}, token_dim {D}")
    with torch.no_grad():
        w_in, b_in = head.input_proj.weight, head.input_proj.bias  # [W, D], [W]
        w_in[:D + 2].zero_()
        b_in.zero_()
        w_in[:D] = torch.eye(D)
        R = w_in[D + 2:].double()  # [W - D - 2, D] random features
        x_part = D + float((R ** 2).sum())  # E|x|^2 + E|R x|^2 for unit-variance x
        B = math.sqrt(big_ratio * x_part / 2.0)
        b_in[D], b_in[D + 1] = B, -B
        k = math.sqrt(W / (2.0 * B * B + x_part))
        # channel mean of h = u.x with u = (1 + sum of R's rows) / W over the D inputs
        u = (torch.ones(D, dtype=torch.float64) + R.sum(0)) / W  # [D]
        one = torch.ones(D, dtype=torch.float64)
        inv = torch.eye(D, dtype=torch.float64) + torch.outer(one, u) / (1.0 - float(u.sum()))
        fin = head.final_layer.linear
        fin.weight.zero_()
        fin.bias.zero_()
        fin.weight[:D, :D] = (inv / k).to(fin.weight.dtype)
        for blk in head.res_blocks:
            blk.in_ln.weight.fill_(1.0 / k)
            blk.in_ln.weight[D:D + 2] = 0.0
    return head


def randomize_(head: SimpleMLPAdaLN, generator: torch.Generator | None = None, std: float = 0.02) -> SimpleMLPAdaLN:
    """Overwrite the zero-initialised modulation / output weights with small random values, so tests
    and benchmarks exercise every term of the head (a freshly initialised head outputs zeros)."""
    with torch.no_grad():
        for p in head.parameters():
            if p.dim() >= 1 and torch.count_nonzero(p) == 0:
                p.copy_(torch.randn(p.shape, generator=generator) * std)
    return head



def selfcheck_init_(head: SimpleMLPAdaLN, generator: torch.Generator | None = None, big: float = 100.0) -> SimpleMLPAdaLN:
    """Deterministic weights under which sampling stays O(1), for comparing sampler backends.

    An untrained head does not predict the noise, and at the noisiest step (alpha_bar ~ 2e-9)
    x0_hat = sqrt(1/alpha_bar) (x - eps) amplifies any mismatch ~2e4-fold. Here the input
    projection writes [x, -x, +big, -big] into the first 2D + 2 channels, so LayerNorm sees a
    zero-mean row whose spread is set by `big`; the final layer reads eps ~= x back from those
    channels (to ~1e-5 relative). Every other weight is random: the blocks write +/- pairs of hidden
    channels (keeping the row mean at zero), the AdaLN modulations, the time / condition paths and
    the variance output are all active, so every term of the sampler is exercised."""
    cfg = head.cfg
    D, W = cfg.token_dim, cfg.width
    hidden = (W - 2 * D - 2) // 2
    if hidden < 1:
        raise ValueError(f"selfcheck_init_ needs width >= 2 token_dim + 4, got width {W}, token_dim {D}")
    for m in head.modules():  # small random everything (xavier is too loud for a 1000-step chain)
        if isinstance(m, nn.Linear):
            m.weight.data = torch.randn(m.weight.shape, generator=generator) * (0.5 / math.sqrt(m.in_features))
            m.bias.data = torch.randn(m.bias.shape, generator=generator) * 0.02
    with torch.no_grad():
        eye = torch.eye(D)
        head.input_proj.weight.zero_()
        head.input_proj.bias.zero_()
        head.input_proj.weight[:D] = eye
        head.input_proj.weight[D:2 * D] = -eye
        head.input_proj.bias[2 * D], head.input_proj.bias[2 * D + 1] = big, -big
        lo, mid = 2 * D + 2, 2 * D + 2 + hidden
        for blk in head.res_blocks:
            w2, b2 = blk.mlp[2].weight, blk.mlp[2].bias
            w2[:lo] = 0.0
            b2[:lo] = 0.0
            w2[mid:mid + hidden] = -w2[lo:mid]  # +/- pairs: the residual stream keeps a zero row mean
            b2[mid:mid + hidden] = -b2[lo:mid]
            w2[mid + hidden:] = 0.0
            b2[mid + hidden:] = 0.0
            mod = blk.adaLN_modulation[1]  # (shift, scale, gate): gates of a pair are equal
            g0 = 2 * W
            mod.weight[g0 + mid:g0 + mid + hidden] = mod.weight[g0 + lo:g0 + mid]
            mod.bias[g0 + mid:g0 + mid + hidden] = mod.bias[g0 + lo:g0 + mid]
        fin = head.final_layer
        fmod = fin.adaLN_modulation[1]  # no shift / scale on the eps channels
        for off in (0, W):
            fmod.weight[off:off + D] = 0.0
            fmod.bias[off:off + D] = 0.0
        fin.linear.weight[:D] = 0.0
        fin.linear.bias[:D] = 0.0
        fin.linear.weight[:D, :D] = eye * (big * math.sqrt(2.0 / W))  # LN(h)[:D] = x / (big sqrt(2/W))
    return head
