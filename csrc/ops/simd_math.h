// Private helpers of csrc/ops: vectorised exp and log(1 - e^-x) over float arrays, and a small
// blocked GEMM (C += A B). AVX-512 intrinsics when the compiler targets AVX-512, a portable scalar
// loop otherwise (same results to a few ulp).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#if defined(__AVX512F__)
// GCC 12 reports its own _mm512_undefined_ps() placeholders as maybe-uninitialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#define CARDIONETS_OPS_AVX512 1
#endif

namespace cardionets::ops::detail {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#if CARDIONETS_OPS_AVX512
// e^x, ~1 ulp: Cody-Waite reduction to r in [-ln2/2, ln2/2], degree-6 polynomial, 2^n by scalef.
// Inputs below -104 (including -inf) give 0.
inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  x = _mm512_min_ps(x, _mm512_set1_ps(88.72f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// log(v) for v >= 0 (0 -> -inf; denormals handled by getexp/getmant): v = m 2^e with m in
// [0.75, 1.5), log m = 2 atanh((m-1)/(m+1)) by its odd series (|t| <= 0.2, error < 1e-9).
inline __m512 log512(__m512 v) {
  const __m512 e = _mm512_getexp_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.0f / 0.75f)));
  const __m512 m = _mm512_getmant_ps(v, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_zero);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
  const __m512 t2 = _mm512_mul_ps(t, t);
  __m512 p = _mm512_set1_ps(1.0f / 11.0f);
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 9.0f));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 7.0f));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 5.0f));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 3.0f));
  p = _mm512_fmadd_ps(p, t2, one);
  const __m512 logm = _mm512_mul_ps(_mm512_add_ps(t, t), p);
  const __m512 res = _mm512_fmadd_ps(e, _mm512_set1_ps(0.693147180559945309f), logm);
  // v == 0: getexp gives -inf, keep it exactly.
  const __mmask16 zero = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_EQ_OQ);
  return _mm512_mask_mov_ps(res, zero, _mm512_set1_ps(kNegInf));
}

// log W = log(1 - e^{-x}) for x >= 0, accurate in absolute terms everywhere: for x < ln 2 the
// factor -expm1(-x) = x (1 - x/2 + x^2/6 - ...) keeps its relative precision as x -> 0.
inline __m512 log1mexp512(__m512 x) {
  const __m512 nx = _mm512_sub_ps(_mm512_setzero_ps(), x);
  __m512 q = _mm512_set1_ps(1.0f / 3628800.0f);  // 1/10!
  const float c[9] = {1.0f / 362880.0f, 1.0f / 40320.0f, 1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f,
                      1.0f / 24.0f,     1.0f / 6.0f,     0.5f,            1.0f};
  for (float ci : c) q = _mm512_fmadd_ps(q, nx, _mm512_set1_ps(ci));
  const __m512 v_small = _mm512_mul_ps(x, q);
  const __m512 v_large = _mm512_sub_ps(_mm512_set1_ps(1.0f), exp512(nx));
  const __mmask16 small = _mm512_cmp_ps_mask(x, _mm512_set1_ps(0.6931f), _CMP_LT_OQ);
  return log512(_mm512_mask_mov_ps(v_large, small, v_small));
}
#endif

inline float log1mexp_scalar(float x) {
  return x < 0.6931f ? std::log(-std::expm1(-x)) : std::log1p(-std::exp(-x));
}

// out[j] = e^{x[j]}  (x may alias out)
inline void exp_array(const float* x, float* out, int64_t n) {
  int64_t j = 0;
#if CARDIONETS_OPS_AVX512
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, exp512(_mm512_loadu_ps(x + j)));
  if (j < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1u);
    _mm512_mask_storeu_ps(out + j, m, exp512(_mm512_maskz_loadu_ps(m, x + j)));
    return;
  }
#endif
  for (; j < n; ++j) out[j] = std::exp(x[j]);
}

// out[j] = log(1 - e^{-x[j]})  (x may alias out)
inline void log1mexp_array(const float* x, float* out, int64_t n) {
  int64_t j = 0;
#if CARDIONETS_OPS_AVX512
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, log1mexp512(_mm512_loadu_ps(x + j)));
  if (j < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1u);
    _mm512_mask_storeu_ps(out + j, m, log1mexp512(_mm512_maskz_loadu_ps(m, x + j)));
    return;
  }
#endif
  for (; j < n; ++j) out[j] = log1mexp_scalar(x[j]);
}

// C[M, N] += A[M, K] B[K, N]; A element (r, k) at a[r * sar + k * sak]; B row-major with ldb;
// C row-major with ldc. Register-blocked 4 rows x 64 columns under AVX-512.
#if CARDIONETS_OPS_AVX512
template <int R>
inline void gemm_rows(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c,
                      int64_t ldc, int64_t K, int64_t N) {
  for (int64_t n0 = 0; n0 < N; n0 += 64) {
    const int64_t nn = N - n0 < 64 ? N - n0 : 64;
    __mmask16 mk[4];
    for (int v = 0; v < 4; ++v) {
      const int64_t left = nn - 16 * v;
      mk[v] = left >= 16 ? static_cast<__mmask16>(0xFFFF)
                         : (left <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << left) - 1u));
    }
    __m512 acc[R][4];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_setzero_ps();
    const float* bp = b + n0;
    for (int64_t k = 0; k < K; ++k, bp += ldb) {
      __m512 bv[4];
      for (int v = 0; v < 4; ++v) bv[v] = _mm512_maskz_loadu_ps(mk[v], bp + 16 * v);
      for (int r = 0; r < R; ++r) {
        const __m512 av = _mm512_set1_ps(a[r * sar + k * sak]);
        for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 4; ++v) {
        if (!mk[v]) continue;
        float* cp = c + r * ldc + n0 + 16 * v;
        _mm512_mask_storeu_ps(cp, mk[v], _mm512_add_ps(_mm512_maskz_loadu_ps(mk[v], cp), acc[r][v]));
      }
  }
}
#endif

inline void gemm_acc(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c,
                     int64_t ldc, int64_t M, int64_t K, int64_t N) {
#if CARDIONETS_OPS_AVX512
  int64_t r = 0;
  for (; r + 4 <= M; r += 4) gemm_rows<4>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N);
  switch (M - r) {
    case 3: gemm_rows<3>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 2: gemm_rows<2>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 1: gemm_rows<1>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    default: break;
  }
#else
  for (int64_t r = 0; r < M; ++r)
    for (int64_t k = 0; k < K; ++k) {
      const float av = a[r * sar + k * sak];
      const float* bp = b + k * ldb;
      float* cp = c + r * ldc;
      for (int64_t n = 0; n < N; ++n) cp[n] += av * bp[n];
    }
#endif
}

}  // namespace cardionets::ops::detail
