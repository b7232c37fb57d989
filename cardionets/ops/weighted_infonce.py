"""Phenotype-weighted InfoNCE between ECG and CMR embeddings (Ding et al., Eq. 1-3).

``weighted_infonce(z_ecg, z_cmr, phi, *, sigma, tau, backend="auto") -> scalar``

* ``z_ecg``, ``z_cmr``: ``[B, D]`` embeddings, L2-normalised inside (s_ik is a cosine similarity);
* ``phi``: ``[B, P]`` pseudo-phenotypes (PCA of frozen CMR embeddings); no gradient flows to it.

Math (row i = ECG, column k = CMR)::

    s_ik  = cos(z_ecg_i, z_cmr_k)
    W_ik  = 1 - exp(-||phi_i - phi_k||^2 / sigma^2),  W_ii = 0
    L_e->c = -mean_i log( e^{s_ii/tau} / (e^{s_ii/tau} + sum_{k!=i} W_ik e^{s_ik/tau}) )
    L_c->e = the same with rows CMR and columns ECG (W is symmetric)
    loss   = (L_e->c + L_c->e) / 2

evaluated in the stable form ``softplus(m_i)`` with
``m_i = logsumexp_{k!=i}(s_ik/tau + log W_ik - s_ii/tau)`` and ``log W = log(-expm1(-d^2/sigma^2))``
(the naive quotient overflows once s/tau > 88.7 and ``logsumexp - s_ii/tau`` loses all digits when a
row's loss is tiny). Backends, in priority order:

* ``triton``: forward/backward kernels that tile rows x columns and keep the running log-sum-exp in
  registers; B x B is never materialised (``cardionets.kernels.weighted_infonce``).
* ``cpu``: the same blocked algorithm in C++ (``csrc/ops/weighted_infonce.cpp``), threaded over row
  blocks, O(B (D + P)) memory; a ``torch.library.custom_op`` so torch.compile / torch.export trace it.
* ``reference``: the equations in plain PyTorch (materialises several B x B matrices).

Inputs may be fp32, bf16 or fp16 (fp64 too for the reference); accumulation is fp32 and the loss is
returned in fp32 (fp64 for fp64 inputs).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import dtypes_in, native_env, tensors_on, triton_env, triton_inputs
from .dispatch import define_op

weighted_infonce_op = define_op(
    "weighted_infonce", "phenotype-weighted InfoNCE between ECG and CMR embeddings (paper Eq. 1-3)"
)

# log W below this is exactly zero weight in every float format (e^-10000 underflows even in fp64);
# a finite stand-in for -inf keeps autograd free of (-inf) - (-inf) = NaN in rows whose weights are all 0.
LOG_ZERO = -1.0e4


def _compute_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def check_inputs(z_ecg: torch.Tensor, z_cmr: torch.Tensor, phi: torch.Tensor, sigma: float, tau: float) -> None:
    """Shape and value checks shared by every backend (raise ValueError naming the problem)."""
    if z_ecg.dim() != 2 or z_cmr.dim() != 2 or phi.dim() != 2:
        raise ValueError(
            f"weighted_infonce expects z_ecg [B, D], z_cmr [B, D], phi [B, P]; got "
            f"{tuple(z_ecg.shape)}, {tuple(z_cmr.shape)}, {tuple(phi.shape)}"
        )
    if z_ecg.shape != z_cmr.shape:
        raise ValueError(f"z_ecg {tuple(z_ecg.shape)} and z_cmr {tuple(z_cmr.shape)} must have the same shape")
    if phi.shape[0] != z_ecg.shape[0]:
        raise ValueError(f"phi has {phi.shape[0]} rows but the embeddings have {z_ecg.shape[0]}")
    if z_ecg.shape[0] == 0:
        raise ValueError("weighted_infonce needs at least one pair (B >= 1)")
    if not (float(sigma) > 0.0) or not (float(tau) > 0.0):
        raise ValueError(f"sigma and tau must be positive, got sigma={sigma}, tau={tau}")


def weighted_infonce_reference(z_ecg, z_cmr, phi, *, sigma: float, tau: float):
    """Eq. 1-3 in plain PyTorch, materialising the B x B similarity and weight matrices."""
    check_inputs(z_ecg, z_cmr, phi, sigma, tau)
    dt = _compute_dtype(z_ecg)
    b = z_ecg.shape[0]
    ze = F.normalize(z_ecg.to(dt), dim=-1)  # [B, D]
    zc = F.normalize(z_cmr.to(dt), dim=-1)  # [B, D]
    logits = ze @ zc.T / tau  # [B, B]: s_ik / tau (rows ECG, columns CMR)
    p = phi.detach().to(dt)
    d2 = torch.cdist(p, p, compute_mode="donot_use_mm_for_euclid_dist").square()  # [B, B] ||phi_i - phi_k||^2
    log_w = torch.log(-torch.expm1(-d2 / sigma**2))  # [B, B] log W_ik, -inf where phi_i == phi_k
    eye = torch.eye(b, dtype=torch.bool, device=z_ecg.device)
    log_w = log_w.masked_fill(eye, float("-inf")).clamp(min=LOG_ZERO)  # W_ii = 0
    pos = logits.diagonal()  # [B]: s_ii / tau
    m_ec = torch.logsumexp(logits + log_w - pos[:, None], dim=1)  # [B] over CMR columns k != i
    m_ce = torch.logsumexp(logits + log_w - pos[None, :], dim=0)  # [B] over ECG rows i != k
    return 0.5 * (F.softplus(m_ec).mean() + F.softplus(m_ce).mean())


def _prepare(z_ecg, z_cmr, phi):
    """Normalised fp32 embeddings (autograd-tracked) and centred fp32 phenotypes (no gradient).
    Centring leaves every distance unchanged and shrinks |phi|^2, which the fast kernels' distance
    expansion |phi_i|^2 + |phi_k|^2 - 2 phi_i.phi_k is relative to."""
    ze = F.normalize(z_ecg.float(), dim=-1)
    zc = F.normalize(z_cmr.float(), dim=-1)
    p = phi.detach().float()
    return ze, zc, p - p.mean(dim=0, keepdim=True)


_TRITON_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _triton_inputs(z_ecg, z_cmr, phi, **_kw):
    return triton_inputs((z_ecg, z_cmr, phi)) + dtypes_in((z_ecg, z_cmr, phi), _TRITON_DTYPES)


@weighted_infonce_op.register("triton", env_check=triton_env, input_check=_triton_inputs)
def weighted_infonce_triton(z_ecg, z_cmr, phi, *, sigma: float, tau: float):
    """Tiled Triton forward/backward (cardionets.kernels.weighted_infonce); never builds B x B."""
    from ._weighted_infonce_triton import weighted_infonce_tiled  # lazy: imports triton

    ze, zc, p = _prepare(z_ecg, z_cmr, phi)
    return weighted_infonce_tiled(ze, zc, p, float(sigma), float(tau))


def _cpu_inputs(z_ecg, z_cmr, phi, **_kw):
    return tensors_on((z_ecg, z_cmr, phi), "cpu") + dtypes_in((z_ecg, z_cmr, phi), _TRITON_DTYPES)


@weighted_infonce_op.register("cpu", env_check=native_env, input_check=_cpu_inputs)
def weighted_infonce_cpu(z_ecg, z_cmr, phi, *, sigma: float, tau: float):
    """Blocked, threaded C++ forward/backward (custom op cardionets::weighted_infonce_fwd)."""
    from . import _weighted_infonce_native  # noqa: F401  lazy: registers the native custom ops (needs cardionets._C)

    ze, zc, p = _prepare(z_ecg, z_cmr, phi)
    loss, _, _ = torch.ops.cardionets.weighted_infonce_fwd(ze, zc, p, float(sigma), float(tau))
    return loss


weighted_infonce_op.register("reference")(weighted_infonce_reference)


def _example():
    g = torch.Generator().manual_seed(0)
    z_ecg, z_cmr = torch.randn(37, 24, generator=g), torch.randn(37, 24, generator=g)
    phi = torch.randn(37, 16, generator=g)
    phi[5] = phi[3]  # a duplicated phenotype: W = 0 exactly
    return (z_ecg, z_cmr, phi), {"sigma": 2.0, "tau": 0.1}


weighted_infonce_op.example = _example


def weighted_infonce(z_ecg, z_cmr, phi, *, sigma: float, tau: float, backend: str | None = "auto"):
    """Phenotype-weighted InfoNCE (mean of both directions) through the dispatch registry."""
    check_inputs(z_ecg, z_cmr, phi, sigma, tau)
    return weighted_infonce_op(z_ecg, z_cmr, phi, sigma=float(sigma), tau=float(tau), backend=backend)
