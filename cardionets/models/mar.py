"""Masked autoregressive generator (MAR) over 3D-VAE latents of the cine, conditioned on an ECG.

Latents ``[B, 16, 25, 12, 12]`` (scaled to unit variance by the VAE) are cut into 5 x 2 x 2 tokens:
a 5 x 6 x 6 grid of 180 tokens of 320 values. A bidirectional transformer sees the visible tokens,
a learned mask token at the masked ones, learned positional embeddings, and one prepended condition
token: the aligned ECG embedding projected to the transformer width, or a learned null condition
(classifier-free guidance; the condition is dropped for ``cond_drop`` of the training samples).
Its output at each masked position conditions a small diffusion head (``diffusion_head``: MAR's
SimpleMLPAdaLN) that models the token's continuous value: the training loss is the diffusion loss on
masked tokens only, with the mask ratio drawn in [0.7, 1.0] once per batch.

Generation (:meth:`MAR.sample_tokens`): 16 steps; after step k, floor(L cos(pi/2 (k+1)/16)) tokens
stay masked (at least one token is predicted per step, all remaining at the last); the order is a
random permutation drawn from a seeded ``torch.Generator``. The per-step token counts depend only on
L and the number of steps, so they are computed on the host before the loop and the loop itself
gathers/scatters by index (no ``nonzero``, no host synchronisation). Each step's tokens are sampled
by :func:`cardionets.ops.diffusion_sample` (reference / cpu / triton backends).
"""
from __future__ import annotations

import math
import contextlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from .blocks import Block, check_finite, draw, init_weights
from .diffusion_head import DiffusionHeadConfig, SimpleMLPAdaLN, cosine_betas


@dataclass
class MARConfig:
    latent_channels: int = 16
    latent_size: tuple[int, int, int] = (25, 12, 12)  # (T, H, W) of the VAE latent
    patch: tuple[int, int, int] = (5, 2, 2)           # latents per token in (T, H, W)
    width: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    cond_dim: int = 768            # width of the aligned ECG embedding
    cond_tokens: int = 1           # condition tokens prepended (1: the pooled embedding; more: ECG token features)
    cond_drop: float = 0.1         # training: probability of replacing the condition by the null token
    mask_ratio_min: float = 0.7    # training: mask ratio ~ U[mask_ratio_min, 1] per batch
    head_width: int = 1024
    head_depth: int = 3
    head_identity_init: bool = True  # head starts as eps_hat = x_t (diffusion_head.identity_init_; needs width >= D + 2)
    diffusion_steps: int = 1000    # training schedule length
    sampling_steps: int = 100      # respaced steps at inference
    diffusion_batch_mul: int = 4   # each masked token is noised this many times per step (MAR)
    loss_weight_max: float = 1.0   # eps-MSE weight clamp(1/SNR, 1, this); 1 = MAR's uniform weighting

    def __post_init__(self):
        self.latent_size = tuple(int(s) for s in self.latent_size)
        self.patch = tuple(int(p) for p in self.patch)
        for s, p in zip(self.latent_size, self.patch):
            if s % p:
                raise ValueError(f"latent size {self.latent_size} is not divisible by the token patch {self.patch}")
        if self.head_width < self.token_dim:
            import warnings

            warnings.warn(f"MAR diffusion head width {self.head_width} < token size {self.token_dim}: the head cannot "
                          f"represent eps_hat = x_t (needed at large t), so sampled latents diverge; use head_width >= "
                          f"{self.token_dim + 2}", stacklevel=3)

    @property
    def grid(self) -> tuple[int, int, int]:
        return tuple(s // p for s, p in zip(self.latent_size, self.patch))

    @property
    def num_tokens(self) -> int:
        return math.prod(self.grid)

    @property
    def token_dim(self) -> int:
        return self.latent_channels * math.prod(self.patch)


def patchify(z: torch.Tensor, patch: tuple[int, int, int]) -> torch.Tensor:
    """[B, C, T, H, W] latents -> [B, L, C*pt*ph*pw] tokens, token order (t, h, w) row-major."""
    B, C, T, H, W = z.shape
    pt, ph, pw = patch
    x = z.reshape(B, C, T // pt, pt, H // ph, ph, W // pw, pw)  # [B, C, gT, pt, gH, ph, gW, pw]
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # [B, gT, gH, gW, C, pt, ph, pw]
    return x.reshape(B, (T // pt) * (H // ph) * (W // pw), C * pt * ph * pw)


def unpatchify(x: torch.Tensor, patch: tuple[int, int, int], grid: tuple[int, int, int], channels: int) -> torch.Tensor:
    """[B, L, C*pt*ph*pw] tokens -> [B, C, T, H, W] latents (inverse of :func:`patchify`)."""
    B = x.shape[0]
    (pt, ph, pw), (gT, gH, gW) = patch, grid
    z = x.reshape(B, gT, gH, gW, channels, pt, ph, pw)  # [B, gT, gH, gW, C, pt, ph, pw]
    z = z.permute(0, 4, 1, 5, 2, 6, 3, 7)  # [B, C, gT, pt, gH, ph, gW, pw]
    return z.reshape(B, channels, gT * pt, gH * ph, gW * pw)


def default_patch(latent_size: tuple[int, int, int]) -> tuple[int, int, int]:
    """Token patch for a latent grid: one latent cell per token when the latent has a single 'frame'
    (the frame-stack VAE: each cell already holds the whole cycle), else the paper's 5 x 2 x 2."""
    return (1, 1, 1) if int(latent_size[0]) == 1 else (5, 2, 2)


def decoding_schedule(num_tokens: int, steps: int = 16) -> list[int]:
    """Tokens predicted at each of ``steps`` steps (MAR's cosine schedule; sums to ``num_tokens``).

    After step k, ``mask_len = floor(L cos(pi/2 (k+1)/steps))`` tokens stay masked, clamped so that
    at least one token is predicted per step and at least one stays masked until the last step.
    """
    if steps < 1 or steps > num_tokens:
        raise ValueError(f"decoding steps must be in [1, {num_tokens}], got {steps}")
    counts, masked = [], num_tokens
    for k in range(steps):
        if k == steps - 1:
            nxt = 0
        else:
            nxt = math.floor(num_tokens * math.cos(math.pi / 2 * (k + 1) / steps))
            nxt = max(1, min(masked - 1, nxt))
        counts.append(masked - nxt)
        masked = nxt
    return counts


def diffusion_loss(head: nn.Module, x0: torch.Tensor, cond: torch.Tensor, *, num_steps: int = 1000,
                   generator: torch.Generator | None = None, weight_max: float = 1.0) -> torch.Tensor:
    """Per-token hybrid diffusion loss (improved DDPM, as MAR trains its head): [N].

    x0 [N, D] clean tokens, cond [N, W] per-token conditions. The head predicts noise and the
    interpolation v in [-1, 1] between log beta_t and the clipped log posterior variance; the loss is
    MSE(eps) + the variational bound term for the variance (mean stop-gradient), in bits per value.

    ``weight_max`` > 1 weights the eps MSE by clamp(1 / SNR(t), 1, weight_max) (SNR = abar / (1 - abar)):
    the eps MSE in x0 units at large t, truncated. MAR's uniform weighting (1) leaves the large-t terms,
    where the token's coarse content is decided, with a tiny share of the loss; a short CPU training
    then ignores the condition there (x0-hat at t = 900 no better than the prior).
    """
    N, D = x0.shape
    betas = cosine_betas(num_steps).to(x0.device)  # the schedule the sampler respaces
    ab = torch.cumprod(1.0 - betas, 0)
    ab_prev = torch.cat([ab.new_ones(1), ab[:-1]])
    post_var = betas * (1.0 - ab_prev) / (1.0 - ab)
    post_logvar = torch.log(torch.cat([post_var[1:2], post_var[1:]]))  # clipped at t = 0
    coef1 = betas * ab_prev.sqrt() / (1.0 - ab)
    coef2 = (1.0 - ab_prev) * (1.0 - betas).sqrt() / (1.0 - ab)
    t = draw(torch.randint, 0, num_steps, (N,), generator=generator, device=x0.device)
    noise = draw(torch.randn, x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    g = lambda v: v[t].to(x0.dtype)[:, None]  # noqa: E731  schedule value per row: [N, 1]
    x_t = g(ab).sqrt() * x0 + g(1.0 - ab).sqrt() * noise
    out = head(x_t, t, cond)  # [N, 2D]: eps, variance interpolation
    eps, v = out[:, :D], out[:, D:]
    mse = (eps - noise).pow(2).mean(1)
    if weight_max > 1.0:
        mse = mse * g((1.0 - ab) / ab).clamp(1.0, weight_max)[:, 0]
    frac = (v + 1.0) / 2.0
    model_logvar = frac * g(torch.log(betas)) + (1.0 - frac) * g(post_logvar)
    pred_x0 = g(1.0 / ab).sqrt() * x_t - g(1.0 / ab - 1.0).sqrt() * eps.detach()
    model_mean = g(coef1) * pred_x0 + g(coef2) * x_t
    true_mean, true_logvar = g(coef1) * x0 + g(coef2) * x_t, g(post_logvar)
    kl = 0.5 * (-1.0 + model_logvar - true_logvar + torch.exp(true_logvar - model_logvar)
                + (true_mean - model_mean).pow(2) * torch.exp(-model_logvar))
    nll = 0.5 * (math.log(2 * math.pi) + model_logvar + (x0 - model_mean).pow(2) * torch.exp(-model_logvar))
    vb = torch.where((t == 0)[:, None], nll, kl).mean(1) / math.log(2.0)
    return mse + vb


class MAR(nn.Module):
    def __init__(self, cfg: MARConfig):
        super().__init__()
        self.cfg = cfg
        L, D, W = cfg.num_tokens, cfg.token_dim, cfg.width
        self.token_proj = nn.Linear(D, W)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, W))
        K = cfg.cond_tokens
        self.cond_proj = nn.Linear(cfg.cond_dim, W)
        self.null_cond = nn.Parameter(torch.zeros(K, W))       # learned "no condition" (CFG), one row per slot
        self.pos_embed = nn.Parameter(torch.zeros(1, K + L, W))  # learned; slots [0, K) = condition tokens
        self.blocks = nn.ModuleList([Block(W, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(W, eps=1e-6)
        self.head = SimpleMLPAdaLN(DiffusionHeadConfig(
            token_dim=D, cond_dim=W, width=cfg.head_width, depth=cfg.head_depth,
            identity_init=cfg.head_identity_init and cfg.head_width >= D + 2))
        self._init()

    def _init(self):
        self.apply(init_weights)
        for p in (self.mask_token, self.null_cond, self.pos_embed):
            nn.init.normal_(p, std=0.02)
        if hasattr(self.head, "initialize_weights"):
            self.head.initialize_weights()  # zero-initialised AdaLN modulation (the head's own init)

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    # ------------------------------------------------------------------ transformer
    def condition(self, cond: torch.Tensor | None, drop: torch.Tensor | None = None, batch: int | None = None):
        """ECG condition [B, cond_dim] (one token) or [B, cond_tokens, cond_dim] (or None: unconditional)
        -> condition tokens [B, cond_tokens, W]; ``drop`` [B] replaces a record's tokens by the null ones."""
        K = self.cfg.cond_tokens
        if cond is None:
            return self.null_cond.expand(batch, -1, -1)
        if cond.dim() == 2 and K == 1:
            cond = cond[:, None]  # [B, 1, cond_dim]
        if cond.dim() != 3 or tuple(cond.shape[1:]) != (K, self.cfg.cond_dim):
            raise ValueError(f"MAR condition must be [B, {K}, {self.cfg.cond_dim}] ECG embeddings"
                             + (f" or [B, {self.cfg.cond_dim}]" if K == 1 else "") + f", got {tuple(cond.shape)}")
        c = self.cond_proj(cond)  # [B, K, W]
        if drop is not None:
            c = torch.where(drop[:, None, None], self.null_cond.to(c.dtype), c)
        return c

    def forward_transformer(self, tokens: torch.Tensor, mask: torch.Tensor, cond_tok: torch.Tensor) -> torch.Tensor:
        """tokens [B, L, D], mask [B, L] (1 = masked), cond_tok [B, K, W] -> per-token conditions [B, L, W]."""
        x = self.token_proj(tokens)  # [B, L, W]
        x = torch.where(mask[..., None].bool(), self.mask_token.to(x.dtype), x)
        x = torch.cat([cond_tok, x], dim=1) + self.pos_embed  # [B, K+L, W]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, cond_tok.shape[1]:]  # [B, L, W]

    # ------------------------------------------------------------------ training
    def random_mask(self, batch: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        """[B, L] float mask (1 = masked) with one ratio ~ U[mask_ratio_min, 1] for the batch."""
        L = self.cfg.num_tokens
        u = float(draw(torch.rand, (), generator=generator, device=device))  # the ratio sets a length: host number
        r = self.cfg.mask_ratio_min + (1.0 - self.cfg.mask_ratio_min) * u
        n_mask = max(1, min(L, math.ceil(r * L)))
        noise = draw(torch.rand, batch, L, generator=generator, device=device)  # [B, L]
        order = torch.argsort(noise, dim=1)
        mask = torch.zeros(batch, L, device=device)
        return mask.scatter_(1, order[:, :n_mask], 1.0)

    def forward_loss(self, latents: torch.Tensor, cond: torch.Tensor, *, mask: torch.Tensor | None = None,
                     generator: torch.Generator | None = None, return_parts: bool = False):
        """latents [B, C, T, H, W] (scaled), cond [B, cond_dim] -> diffusion loss on masked tokens."""
        cfg = self.cfg
        if tuple(latents.shape[1:]) != (cfg.latent_channels,) + cfg.latent_size:
            raise ValueError(f"MAR latents must be [B, {cfg.latent_channels}, {', '.join(map(str, cfg.latent_size))}], "
                             f"got {tuple(latents.shape)}")
        B = latents.shape[0]
        tokens = patchify(latents, cfg.patch)  # [B, L, D]
        if mask is None:
            mask = self.random_mask(B, latents.device, generator)
        drop = (draw(torch.rand, B, generator=generator, device=latents.device) < cfg.cond_drop) if self.training else None
        z = self.forward_transformer(tokens, mask, self.condition(cond, drop))  # [B, L, W]
        # the head only sees masked tokens (training may sync the host; the sampling loop does not)
        m, sel = cfg.diffusion_batch_mul, mask.reshape(-1).bool()      # sel: [B*L]
        target = tokens.reshape(B * cfg.num_tokens, -1)[sel].repeat(m, 1)  # [m*M, D], M masked tokens
        zc = z.reshape(B * cfg.num_tokens, -1)[sel].repeat(m, 1)           # [m*M, W]
        per = diffusion_loss(self.head, target, zc, num_steps=cfg.diffusion_steps, generator=generator,
                             weight_max=cfg.loss_weight_max)
        per = per.reshape(m, -1).mean(0)  # [M]: each masked token's loss averaged over its m noisings
        loss = per.mean()
        check_finite(loss, "MAR diffusion loss")
        if return_parts:
            per_token = torch.zeros(B * cfg.num_tokens, device=per.device, dtype=per.dtype)
            per_token[sel] = per.detach()
            return loss, {"per_token": per_token.reshape(B, cfg.num_tokens), "mask": mask}  # 0 at visible tokens
        return loss

    def forward(self, latents: torch.Tensor, cond: torch.Tensor, **kw):
        """Training forward = :meth:`forward_loss` (so DDP wrappers see a forward call)."""
        return self.forward_loss(latents, cond, **kw)

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def sample_tokens(self, cond: torch.Tensor | None, *, batch: int | None = None, steps: int = 16,
                      cfg_scale: float = 1.0, cfg_schedule: str = "linear", temperature: float = 1.0,
                      generator: torch.Generator | Sequence[torch.Generator] | None = None,
                      sampling_steps: int | None = None, backend: str | None = "auto",
                      timings: dict | None = None) -> torch.Tensor:
        """ECG conditions ([B, cond_dim] or [B, cond_tokens, cond_dim]) -> latents [B, C, T, H, W] (scaled,
        as the VAE's ``decode_latents`` takes).

        ``generator``: one ``torch.Generator`` per record (a sequence of B) makes every record's sample
        a function of its own generator only -- the decoding order and every diffusion noise of record
        b are drawn from ``generator[b]`` in a fixed order (the per-step token counts do not depend on
        the batch), so a record gives the same latents whatever else is in the batch. A single
        generator draws the whole batch's randomness from one stream.

        ``cfg_scale`` > 1 runs the transformer and the head on a doubled batch (condition, null);
        ``cfg_schedule="linear"`` ramps the scale from 1 to ``cfg_scale`` with the fraction of tokens
        already generated (MAR), ``"constant"`` uses it throughout. ``timings`` (a dict) receives the
        seconds spent in the transformer and in the diffusion head.
        """
        from ..ops.diffusion_sample import diffusion_sample  # here: ops.diffusion_sample imports models (a cycle)

        cfg = self.cfg
        B = cond.shape[0] if cond is not None else int(batch)
        L, D = cfg.num_tokens, cfg.token_dim
        device = next(self.parameters()).device
        S = sampling_steps or cfg.sampling_steps
        counts = decoding_schedule(L, steps)  # host-side, data independent
        per_record = generator is not None and not isinstance(generator, torch.Generator)
        if per_record:
            gens = list(generator)
            if len(gens) != B:
                raise ValueError(f"sample_tokens: {len(gens)} generators for a batch of {B} records")
            noise_u = torch.stack([draw(torch.rand, L, generator=g, device=device) for g in gens])  # [B, L]
        else:
            noise_u = draw(torch.rand, B, L, generator=generator, device=device)
        order = torch.argsort(noise_u, dim=1)  # random order per record
        tokens = torch.zeros(B, L, D, device=device)
        mask = torch.ones(B, L, device=device)
        c = self.condition(cond, batch=B)  # [B, K, W]
        guided = cfg_scale != 1.0
        if guided:
            c = torch.cat([c, self.null_cond.expand(B, -1, -1).to(c.dtype)])  # [2B, K, W]
        clock = _Clock(timings, device)
        start = 0
        for n_k in counts:
            with clock("transformer"):
                x_in, m_in = (torch.cat([tokens, tokens]), torch.cat([mask, mask])) if guided else (tokens, mask)
                z = self.forward_transformer(x_in, m_in, c)  # [B or 2B, L, W]
                idx = order[:, start:start + n_k]  # [B, n_k], tokens predicted now
                gidx = torch.cat([idx, idx]) if guided else idx
                zsel = torch.gather(z, 1, gidx[..., None].expand(-1, -1, z.shape[-1]))  # [B', n_k, W]
            start += n_k
            scale = 1.0 + (cfg_scale - 1.0) * start / L if cfg_schedule == "linear" else cfg_scale
            with clock("diffusion_head"):
                noise = None
                if per_record:  # record b's rows of this step from its own stream: [S, B * n_k, D]
                    noise = torch.stack([draw(torch.randn, S, n_k, D, generator=g, device=device) for g in gens],
                                        dim=1).reshape(S, B * n_k, D)
                new = diffusion_sample(self.head, zsel.reshape(-1, zsel.shape[-1]), cfg_scale=scale if guided else 1.0,
                                       temperature=temperature, num_steps=S, train_steps=cfg.diffusion_steps,
                                       generator=None if per_record else generator, noise=noise, backend=backend)
                new = new[: B * n_k].reshape(B, n_k, D)  # guided: first half is the conditional sample
            tokens.scatter_(1, idx[..., None].expand(-1, -1, D), new.to(tokens.dtype))
            mask.scatter_(1, idx, 0.0)
        return unpatchify(tokens, cfg.patch, cfg.grid, cfg.latent_channels)  # [B, C, T, H, W]


class _Clock:
    """Accumulates wall time (``name``) and process CPU time (``name_cpu``) per section into a dict
    (no-op without one). CPU time is the robust figure on a shared machine. On CUDA each section
    ends with a device synchronisation, so its wall time is the GPU's, not the launch time."""

    def __init__(self, store: dict | None, device: torch.device):
        self.store, self.device = store, device

    def __call__(self, name: str):
        if self.store is None:
            return contextlib.nullcontext()

        @contextlib.contextmanager
        def timed():
            t0, c0 = time.perf_counter(), time.process_time()
            yield
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.store[name] = self.store.get(name, 0.0) + time.perf_counter() - t0
            self.store[name + "_cpu"] = self.store.get(name + "_cpu", 0.0) + time.process_time() - c0

        return timed()


def mar_tiny(**kw) -> MAR:
    """CPU preset: 4 layers of width 256, head 3 x 384 (wider than the 320-value tokens: see MARConfig), eps
    loss weighted by clamp(1/SNR, 1, 20) (a short training otherwise ignores the condition at large t), and
    one noising per masked token (``diffusion_batch_mul=1``): at this size the head costs as much as the
    transformer, and MAR's 4 noisings made a step 2.3x dearer (3.0 vs 1.3 CPU-s per batch of 16) for a
    worse model at equal CPU time (validation loss 0.257 after 113 steps vs 0.203 after 225, 550 CPU-s
    each; docs/generator.md)."""
    return MAR(MARConfig(**{"width": 256, "depth": 4, "heads": 4, "head_width": 384, "dropout": 0.0,
                            "loss_weight_max": 20.0, "diffusion_batch_mul": 1, **kw}))


def mar_base(**kw) -> MAR:
    """The paper-sized model: 12 layers of width 768, head 3 x 1024."""
    return MAR(MARConfig(**kw))


MAR_PRESETS = {"tiny": mar_tiny, "base": mar_base}


def build_mar(preset: str = "tiny", **kw) -> MAR:
    if preset not in MAR_PRESETS:
        raise ValueError(f"unknown MAR preset {preset!r}; choose from {sorted(MAR_PRESETS)}")
    return MAR_PRESETS[preset](**kw)


def mar_from_config(d: dict) -> MAR:
    return MAR(MARConfig(**{k: v for k, v in d.items() if k in MARConfig.__dataclass_fields__}))
