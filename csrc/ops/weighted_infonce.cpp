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
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "cardionets/core.h"
#include "cardionets/ops.h"
#include "cardionets/parallel.h"
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

// A[mb x NB] = s/tau + log W for rows i0.., column block kb; -inf on the diagonal and in padding.
void logits_tile(const Problem& pb, int64_t i0, int64_t mb, int64_t kb, float* A, float* G) {
  const int64_t k0 = kb * NB, nb = std::min(NB, pb.B - k0);
  std::fill(A, A + mb * NB, 0.0f);
  std::fill(G, G + mb * NB, 0.0f);
  detail::gemm_acc(pb.ze + i0 * pb.D, pb.D, 1, pb.zc_pack.data() + kb * pb.D * NB, NB, A, NB, mb, pb.D, NB);
  detail::gemm_acc(pb.phi + i0 * pb.P, pb.P, 1, pb.phi_pack.data() + kb * pb.P * NB, NB, G, NB, mb, pb.P, NB);
  for (int64_t r = 0; r < mb; ++r) {
    const float ni = pb.nphi[i0 + r];
    const float* nk = pb.nphi.data() + k0;
    float* g = G + r * NB;
    bool cancel = false;
    for (int64_t c = 0; c < nb; ++c) {
      const float nn = ni + nk[c];
      const float d2 = nn - 2.0f * g[c];
      cancel |= d2 <= 0.5f * nn;
      g[c] = d2 * pb.inv_s2;
    }
    if (cancel) {  // exact distances where the expansion cancels (always true on the diagonal tile)
      const float* pi = pb.phi + (i0 + r) * pb.P;
      for (int64_t c = 0; c < nb; ++c) {
        const float nn = ni + nk[c];
        if (g[c] > 0.5f * nn * pb.inv_s2) continue;
        const float* pk = pb.phi + (k0 + c) * pb.P;
        float d2 = 0.0f;
        for (int64_t p = 0; p < pb.P; ++p) {
          const float t = pi[p] - pk[p];
          d2 += t * t;
        }
        g[c] = d2 * pb.inv_s2;
      }
    }
    detail::log1mexp_array(g, g, nb);
    float* a = A + r * NB;
    for (int64_t c = 0; c < nb; ++c) a[c] = a[c] * pb.inv_tau + g[c];
    for (int64_t c = nb; c < NB; ++c) a[c] = kNegInf;
    const int64_t diag = i0 + r - k0;
    if (diag >= 0 && diag < nb) a[diag] = kNegInf;  // W_ii = 0
  }
}

inline float softplus(float m) {
  if (m == kNegInf) return 0.0f;
  return m > 0.0f ? m + std::log1p(std::exp(-m)) : std::log1p(std::exp(m));
}
inline float sigmoid(float m) {
  if (m == kNegInf) return 0.0f;
  return m >= 0.0f ? 1.0f / (1.0f + std::exp(-m)) : std::exp(m) / (1.0f + std::exp(m));
}

}  // namespace

double weighted_infonce_forward(const float* ze, const float* zc, const float* phi, int64_t B, int64_t D,
                                int64_t P, float sigma, float tau, float* m_ec, float* m_ce) {
  const Problem pb = make_problem(ze, zc, phi, B, D, P, sigma, tau);
  const int64_t nrb = (B + MB - 1) / MB;
  std::mutex mu;
  std::vector<std::vector<float>> part_max, part_sum;  // per worker column (max, sum)

  parallel_for(nrb, 1, [&](int64_t rb_begin, int64_t rb_end) {
    std::vector<float> cmax(static_cast<size_t>(B), kNegInf), csum(static_cast<size_t>(B), 0.0f);
    std::vector<float> A(MB * NB), G(MB * NB), T(MB * NB), tmax(NB), shift(NB);
    float rmax[MB], rsum[MB];
    for (int64_t rb = rb_begin; rb < rb_end; ++rb) {
      const int64_t i0 = rb * MB, mb = std::min(MB, B - i0);
      std::fill(rmax, rmax + MB, kNegInf);
      std::fill(rsum, rsum + MB, 0.0f);
      for (int64_t kb = 0; kb < pb.nkb; ++kb) {
        const int64_t k0 = kb * NB, nb = std::min(NB, B - k0);
        logits_tile(pb, i0, mb, kb, A.data(), G.data());
        // rows: e->c direction, shifted by the positive logit s_ii/tau
        for (int64_t r = 0; r < mb; ++r) {
          const float* a = A.data() + r * NB;
          float m = kNegInf;
          for (int64_t c = 0; c < nb; ++c) m = std::max(m, a[c]);
          if (m == kNegInf) continue;
          const float pos = pb.pos[i0 + r];
          const float newm = std::max(rmax[r], m - pos);
          const float sh = pos + newm;
          float* t = T.data();
          for (int64_t c = 0; c < nb; ++c) t[c] = a[c] - sh;
          detail::exp_array(t, t, nb);
          float s = 0.0f;
          for (int64_t c = 0; c < nb; ++c) s += t[c];
          rsum[r] = (rmax[r] == kNegInf ? 0.0f : rsum[r] * std::exp(rmax[r] - newm)) + s;
          rmax[r] = newm;
        }
        // columns: c->e direction, shifted by s_kk/tau
        std::fill(tmax.begin(), tmax.end(), kNegInf);
        for (int64_t r = 0; r < mb; ++r)
          for (int64_t c = 0; c < NB; ++c) tmax[c] = std::max(tmax[c], A[r * NB + c]);
        for (int64_t c = 0; c < NB; ++c) {
          shift[c] = 0.0f;
          if (c >= nb || tmax[c] == kNegInf) continue;
          const int64_t k = k0 + c;
          const float newm = std::max(cmax[k], tmax[c] - pb.pos[k]);
          if (cmax[k] != kNegInf) csum[k] *= std::exp(cmax[k] - newm);
          cmax[k] = newm;
          shift[c] = pb.pos[k] + newm;
        }
        for (int64_t r = 0; r < mb; ++r)
          for (int64_t c = 0; c < NB; ++c) T[r * NB + c] = A[r * NB + c] - shift[c];
        detail::exp_array(T.data(), T.data(), mb * NB);
        for (int64_t r = 0; r < mb; ++r)
          for (int64_t c = 0; c < nb; ++c) csum[k0 + c] += T[r * NB + c];
      }
      for (int64_t r = 0; r < mb; ++r) m_ec[i0 + r] = rsum[r] > 0.0f ? rmax[r] + std::log(rsum[r]) : kNegInf;
    }
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
    std::vector<float> A(MB * NB), G(MB * NB), U(MB * NB), cs(NB);
    for (int64_t rb = rb_begin; rb < rb_end; ++rb) {
      const int64_t i0 = rb * MB, mb = std::min(MB, B - i0);
      for (int64_t kb = 0; kb < pb.nkb; ++kb) {
        const int64_t k0 = kb * NB, nb = std::min(NB, B - k0);
        logits_tile(pb, i0, mb, kb, A.data(), G.data());
        for (int64_t c = 0; c < NB; ++c) cs[c] = c < nb ? col_shift[k0 + c] : 0.0f;
        for (int64_t r = 0; r < mb; ++r) {
          const float rs = row_shift[i0 + r];
          for (int64_t c = 0; c < NB; ++c) {
            U[r * NB + c] = A[r * NB + c] - rs;
            G[r * NB + c] = A[r * NB + c] - cs[c];
          }
        }
        detail::exp_array(U.data(), U.data(), mb * NB);
        detail::exp_array(G.data(), G.data(), mb * NB);
        for (int64_t j = 0; j < mb * NB; ++j) G[j] = coef * (U[j] + G[j]);
        detail::gemm_acc(G.data(), NB, 1, zc + k0 * D, D, d_ze + i0 * D, D, mb, nb, D);
        detail::gemm_acc(G.data(), 1, NB, ze + i0 * D, D, dzc + k0 * D, D, nb, mb, D);
      }
    }
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
