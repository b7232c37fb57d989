"""Frame-stack VAE for 1-channel cine CMR: the 50 frames are the channels of a 2-D network.

A cine ``[B, 1, 50, 96, 96]`` (intensities in [-1, 1]) is encoded to a diagonal Gaussian over
latents ``[B, Z, 1, 12, 12]``: one Z-vector per 8 x 8-pixel cell holding that cell's *whole cardiac
cycle*, and decoded back. Why time is folded into channels rather than convolved (docs/generator.md,
"Temporal coherence"):

* A cine is one periodic motion: every pixel's 50 values are a few tissue intensities switched by
  the walls' motion, whose phase (end-systole at ~0.33 sqrt(RR) s) is shared by the whole image. A
  latent that holds the cycle per cell cannot place one cell's systole in another cell's diastole
  the way 10-frame temporal tokens did, and the generator's tokens then span all time.
* 2-D convolutions over 96 x 96 cost a fraction of 3-D ones over 50 frames, so the same CPU time
  buys a wider network (better reconstruction) and a smaller latent (an easier MAR problem).

Layout: a 2 x 2 patchify stem (50 frames -> ``channels[0]`` at 48 x 48; encoder side only), residual
2-D blocks (GroupNorm + SiLU) with strided-conv downsampling to 24 and 12; the decoder mirrors it with
nearest-neighbour upsampling + 3 x 3 convolutions up to the full 96 x 96 (``out_channels`` wide),
then a 3 x 3 convolution to the 50 frames -- no transposed patch layer, so no fixed grid is stamped
into the output. Loss, latent scale and the Gaussian posterior are the 3D-VAE's
(:mod:`cardionets.models.vae3d`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import check_finite
from .vae3d import DiagonalGaussian, ssim_frames, _norm


@dataclass
class VAE2DConfig:
    in_channels: int = 1           # cine channels (the frames become the 2-D network's channels)
    latent_channels: int = 16      # Z: values per latent cell (each holds a whole cycle)
    channels: tuple[int, ...] = (64, 128, 256)  # widths at 48, 24, 12 px (one level per halving after the stem)
    out_channels: int = 32         # decoder width at the full 96 x 96
    res_blocks: int = 1
    frames: int = 50
    size: int = 96
    kl_weight: float = 1e-6
    ssim_weight: float = 0.2
    motion_weight: float = 2.0     # L1 of the cine minus its temporal mean (the motion), see ``loss``
    groups: int = 16
    latent_scale: float = 1.0      # overwritten by compute_latent_scale
    arch: str = "2d"               # loaders dispatch on it (the 3D-VAE's configs have no such key)

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        if self.in_channels != 1:
            raise ValueError("the frame-stack VAE takes 1-channel cines")
        if self.size % (2 ** len(self.channels)):
            raise ValueError(f"cine size {self.size} must be divisible by {2 ** len(self.channels)}")

    @property
    def latent_grid(self) -> int:
        return self.size // 2 ** len(self.channels)

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        """(Z, 1, h, w): one latent 'frame' (the generator's [C, T, H, W] convention)."""
        g = self.latent_grid
        return (self.latent_channels, 1, g, g)


class ResBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = _norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = _norm(cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Encoder2d(nn.Module):
    def __init__(self, cfg: VAE2DConfig):
        super().__init__()
        ch, g = cfg.channels, cfg.groups
        self.stem = nn.Conv2d(cfg.frames, ch[0], 2, stride=2)  # [B, 50, 96, 96] -> [B, C0, 48, 48]
        layers: list[nn.Module] = []
        cin = ch[0]
        for i, c in enumerate(ch):
            layers += [ResBlock2d(cin if j == 0 else c, c, g) for j in range(cfg.res_blocks)]
            if i < len(ch) - 1:
                layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))  # halve H, W
            cin = c
        layers += [ResBlock2d(cin, cin, g), _norm(cin, g), nn.SiLU(), nn.Conv2d(cin, 2 * cfg.latent_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.stem(x))  # moments [B, 2Z, h, w]


class Decoder2d(nn.Module):
    def __init__(self, cfg: VAE2DConfig):
        super().__init__()
        ch, g = tuple(reversed(cfg.channels)), cfg.groups
        self.conv_in = nn.Conv2d(cfg.latent_channels, ch[0], 3, padding=1)
        self.mid = ResBlock2d(ch[0], ch[0], g)
        self.levels = nn.ModuleList([nn.Sequential(*[ResBlock2d(c, c, g) for _ in range(cfg.res_blocks)]) for c in ch])
        # each upsampling's convolution sets the next level's width; the last returns to the full resolution (the encoder's stem halved it)
        self.ups = nn.ModuleList([nn.Conv2d(ch[i], ch[i + 1] if i + 1 < len(ch) else cfg.out_channels, 3, padding=1)
                                  for i in range(len(ch))])
        self.full = ResBlock2d(cfg.out_channels, cfg.out_channels, g)
        self.norm_out = _norm(cfg.out_channels, g)
        self.conv_out = nn.Conv2d(cfg.out_channels, cfg.frames, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))  # [B, C_last, h, w]
        for level, up in zip(self.levels, self.ups):
            h = level(h)
            h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))  # double H, W
        h = self.full(h)  # [B, out_channels, 96, 96]
        return self.conv_out(F.silu(self.norm_out(h)))  # [B, 50, 96, 96]


class CineVAE2D(nn.Module):
    def __init__(self, cfg: VAE2DConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder2d(cfg)
        self.decoder = Decoder2d(cfg)
        self.register_buffer("latent_scale", torch.tensor(float(cfg.latent_scale)))

    def config_dict(self) -> dict:
        d = asdict(self.cfg)
        d["latent_scale"] = float(self.latent_scale)
        return d

    def _check(self, x: torch.Tensor) -> None:
        c = self.cfg
        want = (1, c.frames, c.size, c.size)
        if x.dim() != 5 or tuple(x.shape[1:]) != want:
            raise ValueError(f"VAE input must be [B, {', '.join(map(str, want))}], got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """[B, 1, T, H, W] -> posterior over [B, Z, 1, h, w]."""
        self._check(x)
        return DiagonalGaussian(self.encoder(x[:, 0])[:, :, None])  # moments [B, 2Z, 1, h, w]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """[B, Z, 1, h, w] -> [B, 1, T, H, W]."""
        return self.decoder(z[:, :, 0])[:, None]

    @torch.no_grad()
    def encode_latents(self, x: torch.Tensor, sample: bool = False, generator=None) -> torch.Tensor:
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
        recon, post = self(x, generator)
        return self.loss(x, recon, post)

    def loss(self, x: torch.Tensor, recon: torch.Tensor, post: DiagonalGaussian) -> tuple[torch.Tensor, dict]:
        """L1 + ssim_weight * (1 - SSIM) + kl_weight * KL (per input element), as the 3D-VAE, plus
        ``motion_weight`` * L1 of the motion: each cine minus its mean over the frames.

        Why the motion term: the cycle (wall excursion, SV, the ED / ES frames) moves few pixels by
        little, so plain L1 / SSIM are dominated by the static image and a VAE trained briefly decodes
        a heart that barely beats.
        """
        l1 = (recon - x).abs().mean()
        ssim = ssim_frames(recon, x, data_range=2.0)
        kl = post.kl() / x[0].numel()
        loss = l1 + self.cfg.ssim_weight * (1.0 - ssim) + self.cfg.kl_weight * kl
        parts = {"l1": float(l1.detach()), "ssim": float(ssim.detach()), "kl": float(kl.detach())}
        if self.cfg.motion_weight > 0:
            motion = ((recon - recon.mean(2, keepdim=True)) - (x - x.mean(2, keepdim=True))).abs().mean()
            loss = loss + self.cfg.motion_weight * motion
            parts["motion"] = float(motion.detach())
        check_finite(loss, "frame-stack VAE loss")
        return loss, parts


def vae2d_tiny(**kw) -> CineVAE2D:
    """CPU preset (widths 64 / 128 / 256 at 48 / 24 / 12 px, 32 at 96 px; latent 16 x 12 x 12)."""
    return CineVAE2D(VAE2DConfig(**kw))


def vae2d_base(**kw) -> CineVAE2D:
    """Wider and deeper: widths 128 / 256 / 512, two residual blocks per level, 64 at 96 px."""
    return CineVAE2D(VAE2DConfig(**{"channels": (128, 256, 512), "out_channels": 64, "res_blocks": 2,
                                    "groups": 32, **kw}))


VAE2D_PRESETS = {"tiny": vae2d_tiny, "base": vae2d_base}
