// Internal kernels of the DSP stages, on "lane" buffers: W signals interleaved sample by sample
// ([n][W] doubles), so the inner loop over lanes is one or two SIMD vectors and the IIR
// recurrences of all leads of a record advance together. Not part of the public API.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cardionets/core.h"
#include "cardionets/dsp.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace cardionets::dsp::detail {

constexpr int kLanes = 12;  // the 12 leads of a record: three 4-double vectors

// n doubles of v starting at a 64-byte boundary (v grows as needed): lane rows are 96 bytes, so
// in a buffer aligned like this the kernels' 32-byte loads never straddle a cache line (malloc
// only promises 16 bytes, and then half of those loads straddle: the resampler took 1.6x as long).
inline double* grow_aligned(std::vector<double>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n + 8) v.resize(static_cast<size_t>(n + 8));
  const uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + ((64 - p % 64) % 64) / sizeof(double);
}

// Polyphase form of a ResampleFilter: phase p holds the taps h[p + m up] as (m, coefficient)
// pairs. Taps below 1e-14 of the largest are dropped: the windowed sinc has exact zeros every
// max(up, down) samples that floating point leaves at ~1e-17, and skipping them halves the work
// for 500 Hz input while changing results by less than 1e-13 relative.
struct Polyphase {
  int64_t up = 1, down = 1, n_pre_remove = 0;
  std::vector<std::vector<int64_t>> offsets;
  std::vector<std::vector<double>> coefs;
  std::vector<int64_t> max_offset;
  explicit Polyphase(const ResampleFilter& f) : up(f.up), down(f.down), n_pre_remove(f.n_pre_remove) {
    offsets.resize(static_cast<size_t>(up));
    coefs.resize(static_cast<size_t>(up));
    max_offset.assign(static_cast<size_t>(up), 0);
    double hmax = 0.0;
    for (double v : f.h) hmax = std::max(hmax, std::fabs(v));
    for (size_t j = 0; j < f.h.size(); ++j) {
      if (std::fabs(f.h[j]) <= 1e-14 * hmax) continue;
      const size_t ph = j % static_cast<size_t>(up);
      const int64_t m = static_cast<int64_t>(j / static_cast<size_t>(up));
      offsets[ph].push_back(m);
      coefs[ph].push_back(f.h[j]);
      max_offset[ph] = std::max(max_offset[ph], m);
    }
    detect_symmetric_decimator(f.h, hmax);
  }

  // Pure decimation (up == 1) by a linear-phase filter: the taps are mirror images around a
  // centre tap and vanish at multiples of `down` from it (the windowed sinc resample_poly
  // designs). Then out[k] = c_0 x[r] + sum_d c_d (x[r - d] + x[r + d]) with r the centre row:
  // half the multiplies, and a tap pattern fixed at compile time (see resample_symmetric).
  // sym_half = 0 when the filter is not of this form.
  int64_t sym_half = 0, center = 0;
  std::vector<double> sym_coef;  // c_d for d = 0 .. sym_half
  void detect_symmetric_decimator(const std::vector<double>& h, double hmax) {
    if (up != 1 || h.empty()) return;
    auto nonzero = [&](size_t j) { return std::fabs(h[j]) > 1e-14 * hmax; };
    size_t a = 0, b = h.size() - 1;
    while (a < b && !nonzero(a)) ++a;
    while (b > a && !nonzero(b)) --b;
    if ((a + b) % 2 != 0) return;
    const int64_t c = static_cast<int64_t>((a + b) / 2), half = static_cast<int64_t>((b - a) / 2);
    std::vector<double> coef(static_cast<size_t>(half + 1));
    for (int64_t d = 0; d <= half; ++d) {
      const double lo = h[static_cast<size_t>(c - d)], hi = h[static_cast<size_t>(c + d)];
      if (lo != hi) return;  // not bitwise mirror-symmetric: keep the general kernel
      const bool zero_tap = d > 0 && d % down == 0;
      if (zero_tap != !nonzero(static_cast<size_t>(c + d))) return;
      coef[static_cast<size_t>(d)] = zero_tap ? 0.0 : lo;
    }
    center = c;
    sym_half = half;
    sym_coef = std::move(coef);
  }
};

// 4 doubles as one value (one AVX2 register): the IIR state lives in these, so the compiler keeps
// it in registers instead of round-tripping through the stack. Four wide, so 12 leads fill three
// vectors exactly (on this machine's double-pumped AVX-512, 8-wide vectors would waste a quarter
// of the work on padding lanes).
typedef double Vec __attribute__((vector_size(32)));
constexpr int kVecDoubles = 4;

inline Vec load(const double* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(Vec));
  return v;
}
inline void store(double* p, Vec v) { std::memcpy(p, &v, sizeof(Vec)); }
inline Vec splat(double c) { return Vec{c, c, c, c}; }

// a * b + c and c - a * b with one rounding where the CPU has FMA, written out so that which
// operations become FMAs does not depend on the compiler's contraction choices; plain
// multiply-add elsewhere.
inline Vec fmadd(Vec a, Vec b, Vec c) {
#if defined(__FMA__) && defined(__AVX__)
  return reinterpret_cast<Vec>(_mm256_fmadd_pd(reinterpret_cast<__m256d>(a), reinterpret_cast<__m256d>(b),
                                               reinterpret_cast<__m256d>(c)));
#else
  return a * b + c;
#endif
}
inline Vec fnmadd(Vec a, Vec b, Vec c) {
#if defined(__FMA__) && defined(__AVX__)
  return reinterpret_cast<Vec>(_mm256_fnmadd_pd(reinterpret_cast<__m256d>(a), reinterpret_cast<__m256d>(b),
                                                reinterpret_cast<__m256d>(c)));
#else
  return c - a * b;
#endif
}

// out[k] = sum_m phase[m] * in[base - m] for outputs [k0, k1) of resample_poly. Four partial sums
// per lane vector hide the add latency (the summation order differs from scipy only in rounding).
template <int W>
void resample_general(const Polyphase& pf, const double* in, int64_t n_in, double* out, int64_t k0, int64_t k1) {
  static_assert(W % kVecDoubles == 0, "lanes must be a multiple of the vector width");
  constexpr int V = W / kVecDoubles;
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t t = (k + pf.n_pre_remove) * pf.down;
    const size_t ph = static_cast<size_t>(t % pf.up);
    const int64_t base = t / pf.up;
    const int64_t* off = pf.offsets[ph].data();
    const double* cf = pf.coefs[ph].data();
    const int64_t taps = static_cast<int64_t>(pf.coefs[ph].size());
    Vec acc[4][V];
    for (int a = 0; a < 4; ++a)
      for (int v = 0; v < V; ++v) acc[a][v] = splat(0.0);
    if (base - pf.max_offset[ph] >= 0 && base < n_in) {
      // Interior: every tap lands inside the signal.
      const double* pb = in + base * W;
      int64_t i = 0;
      for (; i + 4 <= taps; i += 4) {
        for (int a = 0; a < 4; ++a) {
          const Vec c = splat(cf[i + a]);
          const double* px = pb - off[i + a] * W;
          for (int v = 0; v < V; ++v) acc[a][v] = fmadd(c, load(px + v * kVecDoubles), acc[a][v]);
        }
      }
      for (; i < taps; ++i) {
        const Vec c = splat(cf[i]);
        const double* px = pb - off[i] * W;
        for (int v = 0; v < V; ++v) acc[0][v] = fmadd(c, load(px + v * kVecDoubles), acc[0][v]);
      }
    } else {
      // Edges: zero padding outside [0, n_in) (upfirdn mode 'constant').
      for (int64_t i = 0; i < taps; ++i) {
        const int64_t idx = base - off[i];
        if (idx < 0 || idx >= n_in) continue;
        const Vec c = splat(cf[i]);
        for (int v = 0; v < V; ++v) acc[0][v] = fmadd(c, load(in + idx * W + v * kVecDoubles), acc[0][v]);
      }
    }
    double* po = out + k * W;
    for (int v = 0; v < V; ++v) store(po + v * kVecDoubles, (acc[0][v] + acc[1][v]) + (acc[2][v] + acc[3][v]));
  }
}

// The symmetric decimator (Polyphase::sym_half > 0) with its shape fixed at compile time: DOWN
// and HALF (the farthest non-zero tap), so the tap loop unrolls completely with constant offsets
// and register-held coefficients (no index or coefficient loads, unlike resample_general). Four
// consecutive outputs per step, one lane vector at a time, each with two partial sums; the loads
// (two rows per tap pair) are what limits it. Outputs whose window leaves [0, n_in) go through
// resample_general (zero padding).
template <int W, int DOWN, int HALF>
void resample_symmetric(const Polyphase& pf, const double* in, int64_t n_in, double* out, int64_t n_out) {
  constexpr int V = W / kVecDoubles, B = 4;
  Vec c[HALF + 1];
  for (int d = 0; d <= HALF; ++d) c[d] = splat(pf.sym_coef[static_cast<size_t>(d)]);
  // Centre row of output k: (k + n_pre_remove) * DOWN - center.
  const int64_t r0 = pf.n_pre_remove * DOWN - pf.center;
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  const int64_t k_lo = std::min(n_out, std::max<int64_t>(0, -floor_div(r0 - HALF, DOWN)));
  const int64_t k_hi = std::max(k_lo, std::min(n_out, floor_div(n_in - 1 - HALF - r0, DOWN) + 1));
  resample_general<W>(pf, in, n_in, out, 0, k_lo);
  int64_t k = k_lo;
  for (; k + B <= k_hi; k += B) {
    const double* p = in + (r0 + k * DOWN) * W;
    double* po = out + k * W;
    for (int v = 0; v < V; ++v) {
      const double* pv = p + v * kVecDoubles;
      // Two partial sums per output (alternate taps) halve the FMA dependency chain.
      Vec acc[2][B];
#pragma GCC unroll 4
      for (int b = 0; b < B; ++b) {
        acc[0][b] = c[0] * load(pv + b * DOWN * W);
        acc[1][b] = splat(0.0);
      }
      int parity = 1;
#pragma GCC unroll 64
      for (int d = 1; d <= HALF; ++d) {
        if (d % DOWN == 0) continue;
        parity ^= 1;
#pragma GCC unroll 4
        for (int b = 0; b < B; ++b)
          acc[parity][b] =
              fmadd(c[d], load(pv + (b * DOWN - d) * W) + load(pv + (b * DOWN + d) * W), acc[parity][b]);
      }
#pragma GCC unroll 4
      for (int b = 0; b < B; ++b) store(po + b * W + v * kVecDoubles, acc[0][b] + acc[1][b]);
    }
  }
  resample_general<W>(pf, in, n_in, out, k, n_out);
}

template <int W>
void resample_lanes(const Polyphase& pf, const double* in, int64_t n_in, double* out, int64_t n_out) {
  if (pf.down == 2 && pf.sym_half == 19) return resample_symmetric<W, 2, 19>(pf, in, n_in, out, n_out);  // 500 Hz
  if (pf.down == 4 && pf.sym_half == 39) return resample_symmetric<W, 4, 39>(pf, in, n_in, out, n_out);  // 1000 Hz
  resample_general<W>(pf, in, n_in, out, 0, n_out);
}

// Direct-form II transposed cascade (scipy sosfilt), in place over len rows starting at buf,
// stepping by dir rows (+1 forward, -1 backward). z0, z1: [NS][V] state vectors, updated.
template <int W, int NS>
void sos_run(const Section* sos, Vec (*z0)[W / kVecDoubles], Vec (*z1)[W / kVecDoubles], double* buf, int64_t len,
             int64_t dir) {
  constexpr int V = W / kVecDoubles;
  Vec b0[NS], b1[NS], b2[NS], a1[NS], a2[NS];
  for (int s = 0; s < NS; ++s) {
    b0[s] = splat(sos[s][0] / sos[s][3]);
    b1[s] = splat(sos[s][1] / sos[s][3]);
    b2[s] = splat(sos[s][2] / sos[s][3]);
    a1[s] = splat(sos[s][4] / sos[s][3]);
    a2[s] = splat(sos[s][5] / sos[s][3]);
  }
  Vec s0[NS][V], s1[NS][V];
  for (int s = 0; s < NS; ++s)
    for (int v = 0; v < V; ++v) {
      s0[s][v] = z0[s][v];
      s1[s][v] = z1[s][v];
    }
  double* p = buf;
  for (int64_t i = 0; i < len; ++i, p += dir * W) {
    Vec x[V];
    for (int v = 0; v < V; ++v) x[v] = load(p + v * kVecDoubles);
    for (int s = 0; s < NS; ++s) {
      for (int v = 0; v < V; ++v) {
        const Vec y = b0[s] * x[v] + s0[s][v];
        s0[s][v] = (b1[s] * x[v] + s1[s][v]) - a1[s] * y;
        s1[s][v] = b2[s] * x[v] - a2[s] * y;
        x[v] = y;
      }
    }
    for (int v = 0; v < V; ++v) store(p + v * kVecDoubles, x[v]);
  }
  for (int s = 0; s < NS; ++s)
    for (int v = 0; v < V; ++v) {
      z0[s][v] = s0[s][v];
      z1[s][v] = s1[s][v];
    }
}

// The cascade butter_sos designs for odd orders: a first-order section carrying the gain, with
// numerator g [1, -z, 0], then biquads with numerator exactly [1, -2 z, 1], where the zeros sit at
// z = +1 (high-pass) or z = -1 (low-pass). Returns +1 / -1 for that z, 0 for any other cascade.
inline int butter_zero(const std::vector<Section>& sos) {
  if (sos.empty() || sos[0][2] != 0.0 || sos[0][5] != 0.0 || sos[0][3] != 1.0) return 0;
  int z = 0;
  if (sos[0][1] == -sos[0][0]) z = 1;
  if (sos[0][1] == sos[0][0]) z = -1;
  if (z == 0) return 0;
  for (size_t s = 1; s < sos.size(); ++s) {
    const Section& c = sos[s];
    if (c[3] != 1.0 || c[0] != 1.0 || c[2] != 1.0 || c[1] != -2.0 * z) return 0;
  }
  return z;
}

// sos_run for such a cascade (zero at +1 when HP, at -1 otherwise). The same recurrences, with
// the multiplications by 1 and 2 done as additions and the rest as FMAs, so the work splits
// between the two FMA and the two add units of Zen 4 (6 + 7 operations per lane vector and sample
// for order 5, about 3.5 cycles; the contracted plain form needs 9 FMA-unit operations, 4.5):
//   first order  u = g x,  y = u + s0,  s0 = -+u - p y
//   biquad       y = x + s0,  s0 = (s1 -+ 2x) - a1 y,  s1 = x - a2 y
template <int W, int NS, bool HP>
void sos_run_butter(const Section* sos, Vec (*z0)[W / kVecDoubles], Vec (*z1)[W / kVecDoubles], double* buf,
                    int64_t len, int64_t dir) {
  constexpr int V = W / kVecDoubles;
  const Vec g0 = splat(sos[0][0]), p1 = splat(sos[0][4]);
  Vec a1[NS], a2[NS];
  for (int s = 1; s < NS; ++s) {
    a1[s] = splat(sos[s][4]);
    a2[s] = splat(sos[s][5]);
  }
  Vec s0[NS][V], s1[NS][V];
  for (int s = 0; s < NS; ++s)
    for (int v = 0; v < V; ++v) {
      s0[s][v] = z0[s][v];
      s1[s][v] = z1[s][v];
    }
  double* p = buf;
  for (int64_t i = 0; i < len; ++i, p += dir * W) {
    Vec x[V];
    for (int v = 0; v < V; ++v) {
      const Vec u = g0 * load(p + v * kVecDoubles);
      const Vec y = u + s0[0][v];
      s0[0][v] = fnmadd(p1, y, HP ? -u : u);
      x[v] = y;
    }
    for (int s = 1; s < NS; ++s) {
      for (int v = 0; v < V; ++v) {
        const Vec y = x[v] + s0[s][v];
        const Vec x2 = x[v] + x[v];
        s0[s][v] = fnmadd(a1[s], y, HP ? s1[s][v] - x2 : s1[s][v] + x2);
        s1[s][v] = fnmadd(a2[s], y, x[v]);
        x[v] = y;
      }
    }
    for (int v = 0; v < V; ++v) store(p + v * kVecDoubles, x[v]);
  }
  for (int s = 0; s < NS; ++s)
    for (int v = 0; v < V; ++v) {
      z0[s][v] = s0[s][v];
      z1[s][v] = s1[s][v];
    }
}

template <int W, int NS>
void sos_pass(const std::vector<Section>& sos, int zero, Vec (*z0)[W / kVecDoubles], Vec (*z1)[W / kVecDoubles],
              double* buf, int64_t len, int64_t dir) {
  if (zero == 1) return sos_run_butter<W, NS, true>(sos.data(), z0, z1, buf, len, dir);
  if (zero == -1) return sos_run_butter<W, NS, false>(sos.data(), z0, z1, buf, len, dir);
  sos_run<W, NS>(sos.data(), z0, z1, buf, len, dir);
}

// sosfiltfilt in place: the signal is x[0 .. n) (rows of W lanes) and the caller guarantees
// pad writable rows before x and after x[n - 1], where the odd extension goes:
// [2 x0 - x[pad..1], x, 2 x[n-1] - x[n-2..n-1-pad]]. No copies: a second filter can run on the
// same buffer straight away.
template <int W, int NS>
void filtfilt_fixed(const std::vector<Section>& sos, const std::vector<std::array<double, 2>>& zi, int64_t pad,
                    double* x, int64_t n) {
  for (int64_t i = 1; i <= pad; ++i)
    for (int l = 0; l < W; ++l) {
      x[-i * W + l] = 2.0 * x[l] - x[i * W + l];
      x[(n - 1 + i) * W + l] = 2.0 * x[(n - 1) * W + l] - x[(n - 1 - i) * W + l];
    }
  double* ext = x - pad * W;
  const int64_t len = n + 2 * pad;
  constexpr int V = W / kVecDoubles;
  Vec z0[NS][V], z1[NS][V];
  auto init = [&](const double* row) {
    for (int s = 0; s < NS; ++s)
      for (int v = 0; v < V; ++v) {
        const Vec r = load(row + v * kVecDoubles);
        z0[s][v] = splat(zi[static_cast<size_t>(s)][0]) * r;
        z1[s][v] = splat(zi[static_cast<size_t>(s)][1]) * r;
      }
  };
  const int zero = butter_zero(sos);
  init(ext);
  sos_pass<W, NS>(sos, zero, z0, z1, ext, len, +1);
  init(ext + (len - 1) * W);
  sos_pass<W, NS>(sos, zero, z0, z1, ext + (len - 1) * W, len, -1);
}

// sosfiltfilt on lane rows x[0 .. n) in place (see filtfilt_fixed for the pad rows it needs).
template <int W>
void filtfilt_lanes(const std::vector<Section>& sos, const std::vector<std::array<double, 2>>& zi, int64_t pad,
                    double* x, int64_t n) {
  switch (sos.size()) {
    case 1: return filtfilt_fixed<W, 1>(sos, zi, pad, x, n);
    case 2: return filtfilt_fixed<W, 2>(sos, zi, pad, x, n);
    case 3: return filtfilt_fixed<W, 3>(sos, zi, pad, x, n);
    case 4: return filtfilt_fixed<W, 4>(sos, zi, pad, x, n);
    case 5: return filtfilt_fixed<W, 5>(sos, zi, pad, x, n);
    default:
      throw Error("sosfiltfilt: at most 5 second-order sections (filter order 10), got " +
                  std::to_string(sos.size()));
  }
}

// 8 x 8 transpose of floats held as 8 vectors (r[i][j] -> r[j][i]).
typedef float F8 __attribute__((vector_size(32)));
typedef int I8 __attribute__((vector_size(32)));
inline void transpose8(F8* r) {
  const I8 lo1 = {0, 8, 1, 9, 4, 12, 5, 13}, hi1 = {2, 10, 3, 11, 6, 14, 7, 15};
  const I8 lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
  const I8 lo3 = {0, 1, 2, 3, 8, 9, 10, 11}, hi3 = {4, 5, 6, 7, 12, 13, 14, 15};
  F8 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shuffle(r[i], r[i + 1], lo1);
    t[i + 1] = __builtin_shuffle(r[i], r[i + 1], hi1);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = __builtin_shuffle(t[i], t[i + 2], lo2);
    u[i + 1] = __builtin_shuffle(t[i], t[i + 2], hi2);
    u[i + 2] = __builtin_shuffle(t[i + 1], t[i + 3], lo2);
    u[i + 3] = __builtin_shuffle(t[i + 1], t[i + 3], hi2);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shuffle(u[i], u[i + 4], lo3);
    r[i + 4] = __builtin_shuffle(u[i], u[i + 4], hi3);
  }
}

typedef double D8 __attribute__((vector_size(64)));

// float -> double, 8 wide: one AVX-512 instruction where available (GCC's generic conversion
// of these vector types is split into two 4-wide ones and an insert when tuning for Zen 4).
inline D8 to_d8(F8 v) {
#if defined(__AVX512F__)
  return reinterpret_cast<D8>(_mm512_maskz_cvtps_pd(0xFF, reinterpret_cast<__m256>(v)));
#else
  return __builtin_convertvector(v, D8);
#endif
}

// The 4 x 4 transposes of both 128-bit halves of four 8-float vectors: g[i][c] -> g[c][i] and
// g[i][4 + c] -> g[c][4 + i]. Its own inverse.
inline void transpose4x2(F8* g) {
  const I8 lo1 = {0, 8, 1, 9, 4, 12, 5, 13}, hi1 = {2, 10, 3, 11, 6, 14, 7, 15};
  const I8 lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
  const F8 t0 = __builtin_shuffle(g[0], g[1], lo1), t1 = __builtin_shuffle(g[0], g[1], hi1);
  const F8 t2 = __builtin_shuffle(g[2], g[3], lo1), t3 = __builtin_shuffle(g[2], g[3], hi1);
  g[0] = __builtin_shuffle(t0, t2, lo2);
  g[1] = __builtin_shuffle(t0, t2, hi2);
  g[2] = __builtin_shuffle(t1, t3, lo2);
  g[3] = __builtin_shuffle(t1, t3, hi2);
}

// 12 rows x [12][n] float -> lanes [n][12] double, 8 samples per step: leads 0-7 through an 8 x 8
// transpose, leads 8-11 through two 4 x 4 ones.
inline void rows12_to_lanes(const float* x, int64_t n, double* lanes) {
  constexpr int W = 12;
  int64_t t0 = 0;
  for (; t0 + 8 <= n; t0 += 8) {
    F8 a[8], b[4];
    for (int i = 0; i < 8; ++i) std::memcpy(&a[i], x + i * n + t0, sizeof(F8));
    for (int i = 0; i < 4; ++i) std::memcpy(&b[i], x + (8 + i) * n + t0, sizeof(F8));
    transpose8(a);
    transpose4x2(b);
    double* dst = lanes + t0 * W;
    for (int j = 0; j < 8; ++j) {
      const D8 d = to_d8(a[j]);
      std::memcpy(dst + j * W, &d, sizeof(D8));
    }
    for (int j = 0; j < 4; ++j) {
      const D8 d = to_d8(b[j]);
      std::memcpy(dst + j * W + 8, &d, 4 * sizeof(double));
      std::memcpy(dst + (j + 4) * W + 8, reinterpret_cast<const char*>(&d) + 4 * sizeof(double),
                  4 * sizeof(double));
    }
  }
  for (int64_t t = t0; t < n; ++t)
    for (int l = 0; l < W; ++l) lanes[t * W + l] = x[l * n + t];
}

// lanes [n][12] double -> 12 rows [12][n] float (the inverse of rows12_to_lanes, rounding to float).
inline void lanes12_to_rows(const double* lanes, int64_t n, float* out) {
  constexpr int W = 12;
  int64_t t0 = 0;
  for (; t0 + 8 <= n; t0 += 8) {
    const double* src = lanes + t0 * W;
    F8 a[8], b[4];
    for (int j = 0; j < 8; ++j) {
      D8 d;
      std::memcpy(&d, src + j * W, sizeof(D8));
      a[j] = __builtin_convertvector(d, F8);
    }
    for (int j = 0; j < 4; ++j) {
      D8 d;
      std::memcpy(&d, src + j * W + 8, 4 * sizeof(double));
      std::memcpy(reinterpret_cast<char*>(&d) + 4 * sizeof(double), src + (j + 4) * W + 8, 4 * sizeof(double));
      b[j] = __builtin_convertvector(d, F8);
    }
    transpose8(a);
    transpose4x2(b);
    for (int i = 0; i < 8; ++i) std::memcpy(out + i * n + t0, &a[i], sizeof(F8));
    for (int i = 0; i < 4; ++i) std::memcpy(out + (8 + i) * n + t0, &b[i], sizeof(F8));
  }
  for (int64_t t = t0; t < n; ++t)
    for (int l = 0; l < W; ++l) out[l * n + t] = static_cast<float>(lanes[t * W + l]);
}

// rows x [rows][n] float (rows <= W) -> lanes [n][W] double; lanes >= rows are zero.
template <int W>
void rows_to_lanes(const float* x, int64_t rows, int64_t n, double* lanes) {
  if (W == 12 && rows == 12) return rows12_to_lanes(x, n, lanes);
  for (int64_t t = 0; t < n; ++t)
    for (int l = 0; l < W; ++l) lanes[t * W + l] = l < rows ? x[l * n + t] : 0.0;
}

// lanes [n][W] double -> rows out [rows][n] float (rows <= W).
template <int W>
void lanes_to_rows(const double* lanes, int64_t rows, int64_t n, float* out) {
  if (W == 12 && rows == 12) return lanes12_to_rows(lanes, n, out);
  for (int64_t l = 0; l < rows; ++l)
    for (int64_t t = 0; t < n; ++t) out[l * n + t] = static_cast<float>(lanes[t * W + l]);
}

}  // namespace cardionets::dsp::detail
