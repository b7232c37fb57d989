// Weighted InfoNCE forward and backward on the CPU without a B x B matrix (see cardionets/ops.h).
//
// The B x B logit matrix a_ik = s_ik/tau + log W_ik is produced one MB x NB tile at a time:
//   s tile  = ze[rows] . zc[cols]^T          (blocked GEMM, K = D)
//   g tile  = phi[rows] . phi[cols]^T        (blocked GEMM, K = P)
//   d^2     = |phi_i|^2 + |phi_k|^2 - 2 g    recomputed exactly as sum (phi_i - phi_k)^2 whenever
//             d^2 <= (|phi_i|^2 + |phi_k|^2)/2, where the expansion would cancel (near-duplicates,
//             duplicated rows: W = 0 exactly); elsewhere its error in log W is below ~2 ulp.
//   log W   = log(1 - e^{-d^2/sigma^2})      (expm1 series for small arguments)
// Rows keep a running (max, sum) log-sum-exp in the worker that owns the row block; columns keep
// per-worker partial (max, sum) vectors merged at the end. The backward recomputes each tile,
// forms dL/ds from the stored log-terms and accumulates dze += G zc, dzc += G^T ze.
//
// The tile loops (weighted_infonce_tiles.inc) exist once per instruction-set path (avx512, avx2,
// scalar; cardionets/isa.h) and each call runs the active one.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "cardionets/core.h"
#include "cardionets/ops.h"
#include "cardionets/parallel.h"
#include "../core/isa_target.h"
#include "simd_math.h"

namespace cardionets::ops {
namespace {

using detail::kNegInf;
constexpr int64_t MB = 64;  // rows per tile (and per unit of parallel work)
constexpr int64_t NB = 64;  // columns per tile

struct Problem {
  const float* ze;
  const float* zc;
  const float* phi;
  int64_t B, D, P, nkb;
  float inv_s2, inv_tau;
  std::vector<float> zc_pack;   // [nkb][D][NB]: column blocks of zc^T, zero-padded
  std::vector<float> phi_pack;  // [nkb][P][NB]: column blocks of phi^T, zero-padded
  std::vector<float> nphi;      // [B] |phi_i|^2
  std::vector<float> pos;       // [B] s_ii / tau
};

void pack_columns(const float* x, int64_t B, int64_t K, int64_t nkb, std::vector<float>& out) {
  out.assign(static_cast<size_t>(nkb * K * NB), 0.0f);
  parallel_for(nkb, 16, [&](int64_t b, int64_t e) {
    for (int64_t kb = b; kb < e; ++kb) {
      float* dst = out.data() + kb * K * NB;
      const int64_t k0 = kb * NB, nb = std::min(NB, B - k0);
      for (int64_t c = 0; c < nb; ++c) {
        const float* src = x + (k0 + c) * K;
        for (int64_t k = 0; k < K; ++k) dst[k * NB + c] = src[k];
      }
    }
  });
}

Problem make_problem(const float* ze, const float* zc, const float* phi, int64_t B, int64_t D, int64_t P,
                     float sigma, float tau) {
  if (B < 1 || D < 1 || P < 1) throw Error("weighted_infonce: empty input (B, D and P must be >= 1)");
  if (!(sigma > 0.0f) || !(tau > 0.0f)) throw Error("weighted_infonce: sigma and tau must be positive");
  Problem pb{ze, zc, phi, B, D, P, (B + NB - 1) / NB, 1.0f / (sigma * sigma), 1.0f / tau, {}, {}, {}, {}};
  pack_columns(zc, B, D, pb.nkb, pb.zc_pack);
  pack_columns(phi, B, P, pb.nkb, pb.phi_pack);
  pb.nphi.resize(static_cast<size_t>(B));
  pb.pos.resize(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) {
    float n = 0.0f, s = 0.0f;
    for (int64_t p = 0; p < P; ++p) n += phi[i * P + p] * phi[i * P + p];
    for (int64_t d = 0; d < D; ++d) s += ze[i * D + d] * zc[i * D + d];
    pb.nphi[i] = n;
    pb.pos[i] = s * pb.inv_tau;
  }
  return pb;
}

inline float softplus(float m) {
  if (m == kNegInf) return 0.0f;
  return m > 0.0f ? m + std::log1p(std::exp(-m)) : std::log1p(std::exp(m));
}
inline float sigmoid(float m) {
  if (m == kNegInf) return 0.0f;
  return m >= 0.0f ? 1.0f / (1.0f + std::exp(-m)) : std::exp(m) / (1.0f + std::exp(m));
}


#define CN_PATH scalar
#define CN_T
#include "weighted_infonce_tiles.inc"
#undef CN_T
#undef CN_PATH
#if CARDIONETS_HAVE_AVX_PATHS
#define CN_PATH avx2
#define CN_T CARDIONETS_TARGET_AVX2
#include "weighted_infonce_tiles.inc"
#undef CN_T
#undef CN_PATH
#define CN_PATH avx512
#define CN_T CARDIONETS_TARGET_AVX512
#include "weighted_infonce_tiles.inc"
#undef CN_T
#undef CN_PATH
#endif

using ForwardRows = void (*)(const Problem&, int64_t, int64_t, float*, float*, float*);
using BackwardRows = void (*)(const Problem&, int64_t, int64_t, const float*, const float*, float, float*, float*);

ForwardRows forward_rows_for_isa() {
#if CARDIONETS_HAVE_AVX_PATHS
  return cardionets::detail::pick_isa<ForwardRows>(scalar::forward_rows, avx2::forward_rows, avx512::forward_rows);
#else
  return cardionets::detail::pick_isa<ForwardRows>(scalar::forward_rows, nullptr, nullptr);
#endif
}

BackwardRows backward_rows_for_isa() {
#if CARDIONETS_HAVE_AVX_PATHS
  return cardionets::detail::pick_isa<BackwardRows>(scalar::backward_rows, avx2::backward_rows,
                                                    avx512::backward_rows);
#else
  return cardionets::detail::pick_isa<BackwardRows>(scalar::backward_rows, nullptr, nullptr);
#endif
}

}  // namespace

double weighted_infonce_forward(const float* ze, const float* zc, const float* phi, int64_t B, int64_t D,
                                int64_t P, float sigma, float tau, float* m_ec, float* m_ce) {
  const ForwardRows rows = forward_rows_for_isa();
  const Problem pb = make_problem(ze, zc, phi, B, D, P, sigma, tau);
  const int64_t nrb = (B + MB - 1) / MB;
  std::mutex mu;
  std::vector<std::vector<float>> part_max, part_sum;  // per worker column (max, sum)

  parallel_for(nrb, 1, [&](int64_t rb_begin, int64_t rb_end) {
    std::vector<float> cmax(static_cast<size_t>(B), kNegInf), csum(static_cast<size_t>(B), 0.0f);
    rows(pb, rb_begin, rb_end, m_ec, cmax.data(), csum.data());
    std::lock_guard<std::mutex> lock(mu);
    part_max.push_back(std::move(cmax));
    part_sum.push_back(std::move(csum));
  });
  for (int64_t k = 0; k < B; ++k) {
    float m = kNegInf;
    for (const auto& pm : part_max) m = std::max(m, pm[k]);
    float s = 0.0f;
    if (m != kNegInf)
      for (size_t w = 0; w < part_max.size(); ++w)
        if (part_max[w][k] != kNegInf) s += part_sum[w][k] * std::exp(part_max[w][k] - m);
    m_ce[k] = s > 0.0f ? m + std::log(s) : kNegInf;
  }
  double loss = 0.0;
  for (int64_t i = 0; i < B; ++i) loss += static_cast<double>(softplus(m_ec[i])) + softplus(m_ce[i]);
  return loss / (2.0 * static_cast<double>(B));
}

void weighted_infonce_backward(const float* ze, const float* zc, const float* phi, int64_t B, int64_t D,
                               int64_t P, float sigma, float tau, const float* m_ec, const float* m_ce,
                               float grad_loss, float* d_ze, float* d_zc) {
  const BackwardRows rows = backward_rows_for_isa();
  const Problem pb = make_problem(ze, zc, phi, B, D, P, sigma, tau);
  const int64_t nrb = (B + MB - 1) / MB;
  const float coef = grad_loss / (2.0f * static_cast<float>(B)) * pb.inv_tau;  // dL/ds = coef (P + Q)
  std::vector<float> row_shift(static_cast<size_t>(B)), col_shift(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) {
    row_shift[i] = pb.pos[i] + softplus(m_ec[i]);
    col_shift[i] = pb.pos[i] + softplus(m_ce[i]);
  }
  std::fill(d_ze, d_ze + B * D, 0.0f);
  std::fill(d_zc, d_zc + B * D, 0.0f);
  std::mutex mu;
  std::vector<std::vector<float>> partials;  // dzc of every worker but the first

  parallel_for(nrb, 1, [&](int64_t rb_begin, int64_t rb_end) {
    std::vector<float> own;
    float* dzc = d_zc;
    if (rb_begin != 0) {
      own.assign(static_cast<size_t>(B * D), 0.0f);
      dzc = own.data();
    }
    rows(pb, rb_begin, rb_end, row_shift.data(), col_shift.data(), coef, d_ze, dzc);
    if (!own.empty()) {
      std::lock_guard<std::mutex> lock(mu);
      partials.push_back(std::move(own));
    }
  });
  for (const auto& part : partials)
    parallel_for(B, 256, [&](int64_t b, int64_t e) {
      for (int64_t j = b * D; j < e * D; ++j) d_zc[j] += part[j];
    });
  // the positives: dL/ds_ii = -coef (sigmoid(m_ec_i) + sigmoid(m_ce_i))
  for (int64_t i = 0; i < B; ++i) {
    const float g = -coef * (sigmoid(m_ec[i]) + sigmoid(m_ce[i]));
    for (int64_t d = 0; d < D; ++d) {
      d_ze[i * D + d] += g * zc[i * D + d];
      d_zc[i * D + d] += g * ze[i * D + d];
    }
  }
}

}  // namespace cardionets::ops
