"""Interpretability maps: cosine similarity between a subject's ECG embedding and each CMR patch token
(as in MMCL, Turgut et al.). Both must live in the shared contrastive space, i.e. the CMR patch tokens
are passed through the same projection head as the CMR global embedding before calling this.

    sim = patch_similarity(z_ecg, cmr_tokens)        # [N, D], [N, 36, D] -> [N, 6, 6]
    results.similarity["cardionets"] = SimilarityMaps(sim, frames)
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["patch_similarity"]


def patch_similarity(ecg_embedding, patch_tokens, eps: float = 1e-8) -> np.ndarray:
    """cos(z_ecg,i, t_i,p) for every subject i and patch p, reshaped to the square patch grid.

    ecg_embedding: [N, D]; patch_tokens: [N, P, D] without the CLS token, P = g*g in row-major
    patch order (ViT order). Returns [N, g, g].
    """
    z = np.asarray(ecg_embedding, dtype=np.float64)
    t = np.asarray(patch_tokens, dtype=np.float64)
    if z.ndim != 2 or t.ndim != 3 or t.shape[0] != z.shape[0] or t.shape[2] != z.shape[1]:
        raise InputError(f"patch_similarity: ecg_embedding {z.shape} must be [N, D] and patch_tokens "
                         f"{t.shape} [N, P, D] with the same N and D")
    g = int(round(np.sqrt(t.shape[1])))
    if g * g != t.shape[1]:
        raise InputError(f"patch_similarity: {t.shape[1]} patch tokens do not form a square grid "
                         "(drop the CLS token first)")
    zn = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), eps)      # [N, D]
    tn = t / np.maximum(np.linalg.norm(t, axis=2, keepdims=True), eps)      # [N, P, D]
    sim = np.einsum("nd,npd->np", zn, tn)                                   # [N, P]
    return sim.reshape(z.shape[0], g, g)                                    # [N, P] -> [N, g, g]
