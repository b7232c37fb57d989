// Private helpers of csrc/ops, one namespace per instruction-set path (cardionets/isa.h):
// vectorised e^x and log(1 - e^-x) over float arrays, and a small register-blocked GEMM
// (C += A B). `scalar` is portable C++; `avx2` (AVX2 + FMA, 8 floats) and `avx512` (16 floats,
// masked tails) use intrinsics in functions compiled for that path only. All paths agree to a few
// ulp (tests/ops/test_weighted_infonce.py runs each).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "../core/isa_target.h"

#if CARDIONETS_HAVE_AVX_PATHS
// GCC 12 reports its own _mm512_undefined_ps() placeholders as maybe-uninitialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#endif

namespace cardionets::ops::detail {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Coefficients shared by the vector paths. e^x: Cody-Waite reduction to r in [-ln2/2, ln2/2]
// and a degree-6 polynomial (~1 ulp). log m for m in [0.75, 1.5): 2 atanh((m-1)/(m+1)) by its
// odd series (|t| <= 0.2, error < 1e-9). log(1 - e^-x) below ln 2: -expm1(-x) = x (1 - x/2 + ...)
// by its series to x^10/11!, which keeps the relative precision as x -> 0.
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kExpPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                               4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
constexpr float kExpMin = -104.0f, kExpMax = 88.72f;  // e^x is 0 below, clamped above
// log(1 - e^-x) = -e^-x (1 + e^-x / 2 + ...) is -e^-x to float precision for x >= 17.
constexpr float kSaturated = 17.0f;
constexpr float kExpm1Series[9] = {1.0f / 362880.0f, 1.0f / 40320.0f, 1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f,
                                   1.0f / 24.0f,     1.0f / 6.0f,     0.5f,            1.0f};

inline float log1mexp_scalar(float x) {
  return x < 0.6931f ? std::log(-std::expm1(-x)) : std::log1p(-std::exp(-x));
}

// ------------------------------------------------------------------------------------------
// scalar: the build's baseline
// ------------------------------------------------------------------------------------------
namespace scalar {

// out[j] = e^{x[j]}  (x may alias out)
inline void exp_array(const float* x, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = std::exp(x[j]);
}

// out[j] = log(1 - e^{-x[j]})  (x may alias out)
inline void log1mexp_array(const float* x, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = log1mexp_scalar(x[j]);
}

// C[M, N] += A[M, K] B[K, N]; A element (r, k) at a[r * sar + k * sak]; B row-major with ldb;
// C row-major with ldc.
inline void gemm_acc(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                     int64_t M, int64_t K, int64_t N) {
  for (int64_t r = 0; r < M; ++r)
    for (int64_t k = 0; k < K; ++k) {
      const float av = a[r * sar + k * sak];
      const float* bp = b + k * ldb;
      float* cp = c + r * ldc;
      for (int64_t n = 0; n < N; ++n) cp[n] += av * bp[n];
    }
}

// C[M, N] = A[M, K] B[K, N] (C need not be initialised).
inline void gemm_set(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                     int64_t M, int64_t K, int64_t N) {
  for (int64_t r = 0; r < M; ++r) std::fill(c + r * ldc, c + r * ldc + N, 0.0f);
  gemm_acc(a, sar, sak, b, ldb, c, ldc, M, K, N);
}

}  // namespace scalar

#if CARDIONETS_HAVE_AVX_PATHS
// ------------------------------------------------------------------------------------------
// avx2: AVX2 + FMA, 8 floats per vector, 16 registers
// ------------------------------------------------------------------------------------------
namespace avx2 {

#define CN_T CARDIONETS_TARGET_AVX2 inline

CN_T __m256 exp8(__m256 x0) {
  const __m256 x = _mm256_min_ps(_mm256_max_ps(x0, _mm256_set1_ps(kExpMin)), _mm256_set1_ps(kExpMax));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kExpPoly[0]);
  for (int i = 1; i < 6; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpPoly[i]));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n as two normal factors 2^(n/2) 2^(n - n/2): n spans [-150, 128], beyond one float exponent.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  const __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  // below the range (and -inf): exactly 0
  return _mm256_andnot_ps(_mm256_cmp_ps(x0, _mm256_set1_ps(kExpMin), _CMP_LE_OQ), y);
}

// log(v) for v >= 0 (0 -> -inf, denormals scaled up first): v = m 2^e with m in [0.75, 1.5).
CN_T __m256 log8(__m256 v) {
  const __m256 tiny = _mm256_cmp_ps(v, _mm256_set1_ps(std::numeric_limits<float>::min()), _CMP_LT_OQ);
  const __m256 vs = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(8388608.0f)), tiny);  // x 2^23
  const __m256i bits = _mm256_castps_si256(vs);
  __m256 e = _mm256_cvtepi32_ps(
      _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(0xff)), _mm256_set1_epi32(127)));
  e = _mm256_sub_ps(e, _mm256_and_ps(tiny, _mm256_set1_ps(23.0f)));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)), _mm256_set1_epi32(0x3f800000)));  // [1, 2)
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.5f), _CMP_GE_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  const __m256 t2 = _mm256_mul_ps(t, t);
  __m256 p = _mm256_set1_ps(1.0f / 11.0f);
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(1.0f / 9.0f));
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(1.0f / 7.0f));
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(1.0f / 5.0f));
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(1.0f / 3.0f));
  p = _mm256_fmadd_ps(p, t2, one);
  const __m256 res = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693147180559945309f), _mm256_mul_ps(_mm256_add_ps(t, t), p));
  const __m256 zero = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_EQ_OQ);
  return _mm256_blendv_ps(res, _mm256_set1_ps(kNegInf), zero);
}

CN_T __m256 log1mexp8(__m256 x) {
  const __m256 nx = _mm256_sub_ps(_mm256_setzero_ps(), x);
  // Saturated weights (every lane x >= 17, common for well-separated phenotypes): log(1 - y) = -y
  // to float precision for y = e^-x < 4.2e-8, without the logarithm.
  if (_mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_set1_ps(kSaturated), _CMP_GE_OQ)) == 0xFF)
    return _mm256_sub_ps(_mm256_setzero_ps(), exp8(nx));
  __m256 q = _mm256_set1_ps(1.0f / 3628800.0f);  // 1/10!
  for (float ci : kExpm1Series) q = _mm256_fmadd_ps(q, nx, _mm256_set1_ps(ci));
  const __m256 v_small = _mm256_mul_ps(x, q);
  const __m256 v_large = _mm256_sub_ps(_mm256_set1_ps(1.0f), exp8(nx));
  const __m256 small = _mm256_cmp_ps(x, _mm256_set1_ps(0.6931f), _CMP_LT_OQ);
  return log8(_mm256_blendv_ps(v_large, v_small, small));
}

// Lane mask of the first `left` (0..8) floats.
CN_T __m256i tail_mask(int64_t left) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left < 0 ? 0 : (left > 8 ? 8 : left))), idx);
}

CN_T void exp_array(const float* x, float* out, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, exp8(_mm256_loadu_ps(x + j)));
  if (j < n) {
    const __m256i m = tail_mask(n - j);
    _mm256_maskstore_ps(out + j, m, exp8(_mm256_maskload_ps(x + j, m)));
  }
}

CN_T void log1mexp_array(const float* x, float* out, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, log1mexp8(_mm256_loadu_ps(x + j)));
  if (j < n) {
    const __m256i m = tail_mask(n - j);
    // masked-off lanes load 0, whose log1mexp is -inf: harmless, never stored
    _mm256_maskstore_ps(out + j, m, log1mexp8(_mm256_maskload_ps(x + j, m)));
  }
}

// R rows x 16 columns per step (2R accumulators + 2 B vectors + 1 broadcast <= 16 registers);
// ACC: C += A B, else C = A B.
template <int R, bool ACC>
CN_T void gemm_rows(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                    int64_t K, int64_t N) {
  for (int64_t n0 = 0; n0 < N; n0 += 16) {
    const int64_t nn = N - n0 < 16 ? N - n0 : 16;
    const __m256i m0 = tail_mask(nn), m1 = tail_mask(nn - 8);
    const bool full = nn == 16;
    __m256 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    const float* bp = b + n0;
    for (int64_t k = 0; k < K; ++k, bp += ldb) {
      const __m256 b0 = full ? _mm256_loadu_ps(bp) : _mm256_maskload_ps(bp, m0);
      const __m256 b1 = full ? _mm256_loadu_ps(bp + 8) : _mm256_maskload_ps(bp + 8, m1);
      for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_broadcast_ss(a + r * sar + k * sak);
        acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      float* cp = c + r * ldc + n0;
      if (ACC) {
        acc[r][0] = _mm256_add_ps(full ? _mm256_loadu_ps(cp) : _mm256_maskload_ps(cp, m0), acc[r][0]);
        acc[r][1] = _mm256_add_ps(full ? _mm256_loadu_ps(cp + 8) : _mm256_maskload_ps(cp + 8, m1), acc[r][1]);
      }
      if (full) {
        _mm256_storeu_ps(cp, acc[r][0]);
        _mm256_storeu_ps(cp + 8, acc[r][1]);
      } else {
        _mm256_maskstore_ps(cp, m0, acc[r][0]);
        _mm256_maskstore_ps(cp + 8, m1, acc[r][1]);
      }
    }
  }
}

template <bool ACC>
CN_T void gemm(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
               int64_t M, int64_t K, int64_t N) {
  int64_t r = 0;
  for (; r + 6 <= M; r += 6) gemm_rows<6, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N);
  switch (M - r) {
    case 5: gemm_rows<5, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 4: gemm_rows<4, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 3: gemm_rows<3, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 2: gemm_rows<2, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 1: gemm_rows<1, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    default: break;
  }
}
CN_T void gemm_acc(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                   int64_t M, int64_t K, int64_t N) {
  gemm<true>(a, sar, sak, b, ldb, c, ldc, M, K, N);
}
CN_T void gemm_set(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                   int64_t M, int64_t K, int64_t N) {
  gemm<false>(a, sar, sak, b, ldb, c, ldc, M, K, N);
}

#undef CN_T
}  // namespace avx2

// ------------------------------------------------------------------------------------------
// avx512: 16 floats per vector, masked tails, 32 registers
// ------------------------------------------------------------------------------------------
namespace avx512 {

#define CN_T CARDIONETS_TARGET_AVX512 inline

// Inputs below -104 (including -inf) give 0 (scalef of the clamped value underflows).
CN_T __m512 exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(kExpMin));
  x = _mm512_min_ps(x, _mm512_set1_ps(kExpMax));
  const __m512 n =
      _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpPoly[0]);
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpPoly[i]));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// log(v) for v >= 0 (0 -> -inf; denormals handled by getexp/getmant).
CN_T __m512 log16(__m512 v) {
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

CN_T __m512 log1mexp16(__m512 x) {
  const __m512 nx = _mm512_sub_ps(_mm512_setzero_ps(), x);
  // Saturated weights: as in avx2::log1mexp8.
  if (_mm512_cmp_ps_mask(x, _mm512_set1_ps(kSaturated), _CMP_GE_OQ) == 0xFFFF)
    return _mm512_sub_ps(_mm512_setzero_ps(), exp16(nx));
  __m512 q = _mm512_set1_ps(1.0f / 3628800.0f);  // 1/10!
  for (float ci : kExpm1Series) q = _mm512_fmadd_ps(q, nx, _mm512_set1_ps(ci));
  const __m512 v_small = _mm512_mul_ps(x, q);
  const __m512 v_large = _mm512_sub_ps(_mm512_set1_ps(1.0f), exp16(nx));
  const __mmask16 small = _mm512_cmp_ps_mask(x, _mm512_set1_ps(0.6931f), _CMP_LT_OQ);
  return log16(_mm512_mask_mov_ps(v_large, small, v_small));
}

CN_T void exp_array(const float* x, float* out, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, exp16(_mm512_loadu_ps(x + j)));
  if (j < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1u);
    _mm512_mask_storeu_ps(out + j, m, exp16(_mm512_maskz_loadu_ps(m, x + j)));
  }
}

CN_T void log1mexp_array(const float* x, float* out, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, log1mexp16(_mm512_loadu_ps(x + j)));
  if (j < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1u);
    _mm512_mask_storeu_ps(out + j, m, log1mexp16(_mm512_maskz_loadu_ps(m, x + j)));
  }
}

// Register-blocked R rows x 64 columns; ACC: C += A B, else C = A B.
template <int R, bool ACC>
CN_T void gemm_rows(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                    int64_t K, int64_t N) {
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
        _mm512_mask_storeu_ps(cp, mk[v], ACC ? _mm512_add_ps(_mm512_maskz_loadu_ps(mk[v], cp), acc[r][v]) : acc[r][v]);
      }
  }
}

template <bool ACC>
CN_T void gemm(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
               int64_t M, int64_t K, int64_t N) {
  int64_t r = 0;
  for (; r + 4 <= M; r += 4) gemm_rows<4, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N);
  switch (M - r) {
    case 3: gemm_rows<3, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 2: gemm_rows<2, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    case 1: gemm_rows<1, ACC>(a + r * sar, sar, sak, b, ldb, c + r * ldc, ldc, K, N); break;
    default: break;
  }
}
CN_T void gemm_acc(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                   int64_t M, int64_t K, int64_t N) {
  gemm<true>(a, sar, sak, b, ldb, c, ldc, M, K, N);
}
CN_T void gemm_set(const float* a, int64_t sar, int64_t sak, const float* b, int64_t ldb, float* c, int64_t ldc,
                   int64_t M, int64_t K, int64_t N) {
  gemm<false>(a, sar, sak, b, ldb, c, ldc, M, K, N);
}

#undef CN_T
}  // namespace avx512
#endif  // CARDIONETS_HAVE_AVX_PATHS

}  // namespace cardionets::ops::detail
