// Internal kernels of the DSP stages, on "lane" buffers: W signals interleaved sample by sample
// ([n][W] doubles), so the inner loop over lanes is one or two SIMD vectors and the IIR
// recurrences of all leads of a record advance together. Not part of the public API.
//
// This header holds what every instruction-set path shares (buffers, the polyphase filter, the
// vector types) and LaneOps, the table of kernels; the kernels themselves are in
// lanes_kernels.inc, compiled once per path (avx512, avx2, scalar: cardionets/isa.h) by lanes.cpp.
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
// vectors exactly (8-wide vectors would waste a quarter of the work on padding lanes), and the
// same code serves the AVX2 and AVX-512 paths.
typedef double Vec __attribute__((vector_size(32)));
constexpr int kVecDoubles = 4;

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

// Statistics of one raw lead (quality flags).
struct LeadStats {
  double sum = 0.0, sumsq = 0.0;
  float lo = 0.0f, hi = 0.0f;
};

typedef float F4 __attribute__((vector_size(16)));
typedef float F8 __attribute__((vector_size(32)));
typedef int I8 __attribute__((vector_size(32)));
typedef double D8 __attribute__((vector_size(64)));

// The kernels of one instruction-set path, on lane buffers of kLanes lanes.
struct LaneOps {
  // rows x [rows][n] float (rows <= kLanes) -> lanes [n][kLanes] double; lanes >= rows are zero
  void (*rows_to_lanes)(const float* x, int64_t rows, int64_t n, double* lanes);
  // lanes [n][kLanes] double -> rows out [rows][n] float (rows <= kLanes)
  void (*lanes_to_rows)(const double* lanes, int64_t rows, int64_t n, float* out);
  // out[k] = resample_poly output k for k < n_out (zero padding outside [0, n_in))
  void (*resample)(const Polyphase& pf, const double* in, int64_t n_in, double* out, int64_t n_out);
  // sosfiltfilt in place on rows x[0 .. n); needs pad writable rows before and after
  void (*filtfilt)(const std::vector<Section>& sos, const std::vector<std::array<double, 2>>& zi, int64_t pad,
                   double* x, int64_t n);
  // per-lane sum and sum of squares of rows [0, len), added to sum[kLanes] / sumsq[kLanes]
  void (*lane_sums)(const double* p, int64_t len, double* sum, double* sumsq);
  LeadStats (*lead_stats)(const float* p, int64_t n);
  // dst[t] = (src[t] - mean) * inv for t < n, in double precision (crop standardisation)
  void (*scale_row)(const float* src, float* dst, int64_t n, double mean, double inv);
  int64_t (*count_extremes)(const float* p, int64_t n, float lo, float hi);
};

// The active path's kernels (cardionets::active_isa(); throws when CARDIONETS_ISA is refused).
const LaneOps& lane_ops();

}  // namespace cardionets::dsp::detail
