"""3D variational autoencoder for 1-channel cine CMR (the generator's latent space).

A cine ``[B, 1, 50, 96, 96]`` (intensities in [-1, 1]) is encoded to a diagonal Gaussian posterior
over latents ``[B, 16, 25, 12, 12]`` (time /2, space /8) and decoded back. Convolutional residual
blocks with GroupNorm + SiLU (the layout of latent-diffusion VAEs, in 3-D); the first downsampling
stage halves time and space, the next two halve space only.

Training loss (``forward_loss``): L1 + ``ssim_weight`` * (1 - SSIM per frame) + ``kl_weight`` * KL.
The differentiable SSIM here (Gaussian window, sigma 1.5, population covariance) is the one
scikit-image computes with ``gaussian_weights=True, use_sample_covariance=False``; the tests compare.

The latent scale factor is a buffer: ``1 / std`` of the posterior means over the training set,
computed by :func:`compute_latent_scale` (never copied from an image VAE). ``encode_latents`` returns
scaled latents (unit variance, what the MAR models) and ``decode_latents`` undoes the scale.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import check_finite


@dataclass
class VAE3DConfig:
    in_channels: int = 1
    latent_channels: int = 16
    channels: tuple[int, ...] = (64, 128, 256, 256)  # width per resolution level
    res_blocks: int = 2                          # residual blocks per level
    time_down: tuple[bool, ...] = (True, False, False)  # which downsamplings also halve time
    stem: tuple[int, int, int] = (1, 1, 1)       # patchify stem (kernel = stride) in (T, H, W); (1,1,1) = 3x3x3 conv
    frames: int = 50
    size: int = 96
    kl_weight: float = 1e-6
    ssim_weight: float = 0.2
    groups: int = 32
    latent_scale: float = 1.0                    # overwritten by compute_latent_scale

    def __post_init__(self):
        self.channels = tuple(self.channels)
        self.stem = tuple(int(k) for k in self.stem)
        self.time_down = tuple(bool(t) for t in self.time_down)
        if len(self.time_down) != len(self.channels) - 1:
            raise ValueError(f"time_down needs one flag per downsampling ({len(self.channels) - 1}), got {self.time_down}")
        if self.frames % self.stem[0] or self.size % self.stem[1] or self.stem[1] != self.stem[2]:
            raise ValueError(f"stem {self.stem} must divide the cine ({self.frames} frames, {self.size} px) and be square")

    def level_sizes(self) -> list[tuple[int, int, int]]:
        """(T, H, W) at each resolution level, finest first (after the stem)."""
        t, s = self.frames // self.stem[0], self.size // self.stem[1]
        sizes = [(t, s, s)]
        for td in self.time_down:
            t, s = ((t + 1) // 2 if td else t), (s + 1) // 2
            sizes.append((t, s, s))
        return sizes

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        return (self.latent_channels,) + self.level_sizes()[-1]


def _norm(c: int, groups: int) -> nn.GroupNorm:
    g = math.gcd(c, groups)
    return nn.GroupNorm(g, c, eps=1e-6)


class ResBlock3d(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = _norm(cin, groups)
        self.conv1 = nn.Conv3d(cin, cout, 3, padding=1)
        self.norm2 = _norm(cout, groups)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Downsample3d(nn.Module):
    """Strided 3x3x3 convolution: (T, H, W) -> (ceil(T/2) or T, H/2, W/2)."""

    def __init__(self, c: int, time: bool):
        super().__init__()
        self.conv = nn.Conv3d(c, c, 3, stride=(2 if time else 1, 2, 2), padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample3d(nn.Module):
    """Nearest-neighbour upsampling to an explicit size, then a 3x3x3 convolution."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv3d(c, c, 3, padding=1)

    def forward(self, x, size: tuple[int, int, int]):
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class Encoder3d(nn.Module):
    def __init__(self, cfg: VAE3DConfig, out_channels: int):
        super().__init__()
        ch, g = cfg.channels, cfg.groups
        if cfg.stem == (1, 1, 1):
            self.conv_in = nn.Conv3d(cfg.in_channels, ch[0], 3, padding=1)
        else:  # non-overlapping patches: the full-resolution volume is touched once (CPU presets)
            self.conv_in = nn.Conv3d(cfg.in_channels, ch[0], cfg.stem, stride=cfg.stem)
        self.levels = nn.ModuleList()
        cin = ch[0]
        for i, c in enumerate(ch):
            blocks = nn.ModuleList([ResBlock3d(cin if j == 0 else c, c, g) for j in range(cfg.res_blocks)])
            down = Downsample3d(c, cfg.time_down[i]) if i < len(ch) - 1 else nn.Identity()
            self.levels.append(nn.ModuleDict({"blocks": blocks, "down": down}))
            cin = c
        self.mid = ResBlock3d(cin, cin, g)
        self.norm_out = _norm(cin, g)
        self.conv_out = nn.Conv3d(cin, out_channels, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)  # [B, C0, T, H, W]
        for level in self.levels:
            for blk in level["blocks"]:
                h = blk(h)
            h = level["down"](h)
        h = self.mid(h)  # [B, C_last, T', H/8, W/8]
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder3d(nn.Module):
    """Latent grid -> cine; ``sizes`` are the (T, H, W) of each level from the finest down."""

    def __init__(self, cfg: VAE3DConfig, in_channels: int):
        super().__init__()
        ch, g = tuple(reversed(cfg.channels)), cfg.groups
        self.conv_in = nn.Conv3d(in_channels, ch[0], 3, padding=1)
        self.mid = ResBlock3d(ch[0], ch[0], g)
        self.levels = nn.ModuleList()
        cin = ch[0]
        for i, c in enumerate(ch):
            blocks = nn.ModuleList([ResBlock3d(cin if j == 0 else c, c, g) for j in range(cfg.res_blocks)])
            up = Upsample3d(c) if i < len(ch) - 1 else nn.Identity()
            self.levels.append(nn.ModuleDict({"blocks": blocks, "up": up}))
            cin = c
        self.norm_out = _norm(cin, g)
        if cfg.stem == (1, 1, 1):
            self.conv_out = nn.Conv3d(cin, cfg.in_channels, 3, padding=1)
        else:
            self.conv_out = nn.ConvTranspose3d(cin, cfg.in_channels, cfg.stem, stride=cfg.stem)
        # (T, H, W) per level, coarse to fine, for explicit upsampling sizes (25 latent frames is odd)
        self.sizes = list(reversed(cfg.level_sizes()))

    def forward(self, z):
        h = self.mid(self.conv_in(z))  # [B, C_last, T', H', W']
        for i, level in enumerate(self.levels):
            for blk in level["blocks"]:
                h = blk(h)
            if i < len(self.levels) - 1:
                h = level["up"](h, self.sizes[i + 1])
        return self.conv_out(F.silu(self.norm_out(h)))  # [B, 1, T, H, W]


def gaussian_window(size: int = 7, sigma: float = 1.5, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalised 1-D Gaussian with scikit-image's truncation (radius = truncate * sigma, truncate 3.5)."""
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    w = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return w / w.sum()


def _band(n: int, w: torch.Tensor) -> torch.Tensor:
    """[n, n - len(w) + 1] matrix M with (x @ M)[j] = sum_k w[k] x[j + k]: a 'valid' 1-D correlation."""
    k = w.numel()
    m = torch.zeros(n, n - k + 1, dtype=w.dtype, device=w.device)
    cols = torch.arange(n - k + 1, device=w.device)
    for i in range(k):
        m[cols + i, cols] = w[i]
    return m


def ssim_frames(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM over 2-D frames of ``[..., H, W]`` tensors (differentiable).

    Gaussian window of radius ``int(3.5 * sigma + 0.5)``, population covariances, the mean taken over
    the valid (unpadded) region: what ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=2)`` computes per frame. The separable blur is
    two matrix products with banded matrices (one-channel conv2d is several times slower on CPU).
    """
    H, W = x.shape[-2:]
    xf = x.reshape(-1, H, W).float()  # [N, H, W]
    yf = y.reshape(-1, H, W).float()
    radius = int(3.5 * sigma + 0.5)
    w = gaussian_window(2 * radius + 1, sigma, x.device)
    bw, bh = _band(W, w), _band(H, w).T  # [W, W'], [H', H]
    stack = torch.stack([xf, yf, xf * xf, yf * yf, xf * yf])  # [5, N, H, W]
    mx, my, exx, eyy, exy = torch.matmul(bh, torch.matmul(stack, bw))  # 5 x [N, H', W']
    vx, vy, cxy = exx - mx * mx, eyy - my * my, exy - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean()


class DiagonalGaussian:
    def __init__(self, moments: torch.Tensor):
        self.mean, logvar = moments.chunk(2, dim=1)  # 2 x [B, C, T, H, W]
        self.logvar = logvar.clamp(-30.0, 20.0)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + torch.exp(0.5 * self.logvar) * noise

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) summed over latent elements, mean over the batch."""
        kl = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return kl.flatten(1).sum(1).mean()


class CineVAE3D(nn.Module):
    def __init__(self, cfg: VAE3DConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder3d(cfg, 2 * cfg.latent_channels)
        self.decoder = Decoder3d(cfg, cfg.latent_channels)
        self.register_buffer("latent_scale", torch.tensor(float(cfg.latent_scale)))

    def config_dict(self) -> dict:
        d = asdict(self.cfg)
        d["latent_scale"] = float(self.latent_scale)
        return d

    def _check(self, x: torch.Tensor) -> None:
        c = self.cfg
        want = (c.in_channels, c.frames, c.size, c.size)
        if x.dim() != 5 or tuple(x.shape[1:]) != want:
            raise ValueError(f"VAE input must be [B, {', '.join(map(str, want))}], got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        self._check(x)
        return DiagonalGaussian(self.encoder(x))  # moments [B, 2*16, 25, 12, 12]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # [B, 1, 50, 96, 96]

    @torch.no_grad()
    def encode_latents(self, x: torch.Tensor, sample: bool = False, generator=None) -> torch.Tensor:
        """Scaled latents (about unit variance), the MAR's data: [B, 16, 25, 12, 12]."""
        post = self.encode(x)
        z = post.sample(generator) if sample else post.mean
        return z * self.latent_scale

    @torch.no_grad()
    def decode_latents(self, z_scaled: torch.Tensor) -> torch.Tensor:
        return self.decode(z_scaled / self.latent_scale).clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor, generator=None):
        post = self.encode(x)
        return self.decode(post.sample(generator)), post

    def forward_loss(self, x: torch.Tensor, generator=None) -> tuple[torch.Tensor, dict]:
        """x: [B, 1, T, H, W] in [-1, 1] -> (loss, parts)."""
        recon, post = self(x, generator)
        return self.loss(x, recon, post)

    def loss(self, x: torch.Tensor, recon: torch.Tensor, post: DiagonalGaussian) -> tuple[torch.Tensor, dict]:
        """L1 + ssim_weight * (1 - SSIM) + kl_weight * KL (per input element) of a forward pass."""
        l1 = (recon - x).abs().mean()
        ssim = ssim_frames(recon, x, data_range=2.0)
        kl = post.kl() / x[0].numel()  # per input element, so kl_weight does not depend on cine size
        loss = l1 + self.cfg.ssim_weight * (1.0 - ssim) + self.cfg.kl_weight * kl
        check_finite(loss, "3D-VAE loss")
        return loss, {"l1": float(l1.detach()), "ssim": float(ssim.detach()), "kl": float(kl.detach())}


@torch.no_grad()
def compute_latent_scale(vae: CineVAE3D, cines, max_batches: int | None = None) -> float:
    """Set and return ``1 / std`` of the posterior means over an iterable of ``[B, 1, T, H, W]`` batches.

    The statistic is accumulated in float64 over every latent element (mean-centred), so the scaled
    latents the MAR sees have unit variance on the training set.
    """
    was_training = vae.training
    vae.eval()
    n, s1, s2 = 0, 0.0, 0.0
    for i, x in enumerate(cines):
        if max_batches is not None and i >= max_batches:
            break
        z = vae.encode(x).mean.double()
        n += z.numel()
        s1 += float(z.sum())
        s2 += float((z * z).sum())
    if n == 0:
        raise ValueError("compute_latent_scale: no batches")
    var = max(s2 / n - (s1 / n) ** 2, 1e-12)
    scale = 1.0 / math.sqrt(var)
    vae.latent_scale.fill_(scale)
    vae.cfg.latent_scale = scale
    vae.train(was_training)
    return scale


def vae3d_tiny(**kw) -> CineVAE3D:
    """CPU preset: a 2x4x4 patchify stem, then widths 32 / 64 at 24^2 and 12^2 (about 1.2 M parameters).

    The stem keeps full-resolution 3-D convolutions out of the network: about 0.5 s per cine per
    training step (forward + backward) on 2 shared CPU cores, against about 3 s with a 2x2x2 stem.
    """
    return CineVAE3D(VAE3DConfig(**{"channels": (32, 64), "res_blocks": 1, "groups": 8, "stem": (2, 4, 4),
                                    "time_down": (False,), **kw}))


def vae3d_base(**kw) -> CineVAE3D:
    """Default preset: widths 64/128/256, 2 residual blocks per level."""
    return CineVAE3D(VAE3DConfig(**kw))


VAE_PRESETS = {"tiny": vae3d_tiny, "base": vae3d_base}


def build_vae(preset: str = "tiny", **kw) -> CineVAE3D:
    """The 3-D VAE of a preset (:func:`cardionets.models.vae.build_vae` picks either architecture)."""
    if preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {preset!r}; choose from {sorted(VAE_PRESETS)}")
    return VAE_PRESETS[preset](**kw)


def vae_from_config(d: dict) -> CineVAE3D:
    return CineVAE3D(VAE3DConfig(**{k: v for k, v in d.items() if k in VAE3DConfig.__dataclass_fields__}))
