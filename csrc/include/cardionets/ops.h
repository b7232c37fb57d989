// cardionets/ops.h - fused CPU kernels of the CardioNets engine (no Python, no libtorch).
//
// Weighted InfoNCE (Ding et al. Eq. 1-3) without a B x B matrix: rows and columns are tiled,
// similarities, phenotype distances, weights and a running log-sum-exp live in per-thread tiles,
// and the backward recomputes the tiles (flash-attention style). Memory is O(B (D + P)) plus
// O(threads * B * D) for the column-gradient partials. See docs/kernels.md.
#pragma once

#include <cstdint>

namespace cardionets::ops {

// Inputs (all row-major float32, contiguous):
//   ze, zc  [B, D]  L2-normalised ECG / CMR embeddings (s_ik = ze_i . zc_k)
//   phi     [B, P]  pseudo-phenotypes (centring them first improves the distance precision)
// Forward writes, per row i / column k, the stable log-terms
//   m_ec[i] = logsumexp_{k != i}(s_ik/tau + log W_ik) - s_ii/tau
//   m_ce[k] = logsumexp_{i != k}(s_ik/tau + log W_ik) - s_kk/tau
// (-inf when every weight in that row / column is zero) and returns the loss
//   (mean_i softplus(m_ec[i]) + mean_k softplus(m_ce[k])) / 2.
double weighted_infonce_forward(const float* ze, const float* zc, const float* phi, int64_t B, int64_t D,
                                int64_t P, float sigma, float tau, float* m_ec, float* m_ce);

// Backward: given grad_loss and the forward's m_ec / m_ce, writes d loss / d ze and d loss / d zc
// ([B, D] each; gradients with respect to the normalised embeddings).
void weighted_infonce_backward(const float* ze, const float* zc, const float* phi, int64_t B, int64_t D,
                               int64_t P, float sigma, float tau, const float* m_ec, const float* m_ce,
                               float grad_loss, float* d_ze, float* d_zc);

}  // namespace cardionets::ops
