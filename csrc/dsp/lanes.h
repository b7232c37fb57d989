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

namespace cardionets::dsp::detail {

constexpr int kLanes = 12;  // the 12 leads of a record: three 4-double vectors

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

// out[k] = sum_m phase[m] * in[base - m] for the outputs resample_poly keeps. Four partial sums
// per lane vector hide the add latency (the summation order differs from scipy only in rounding).
template <int W>
void resample_lanes(const Polyphase& pf, const double* in, int64_t n_in, double* out, int64_t n_out) {
  static_assert(W % kVecDoubles == 0, "lanes must be a multiple of the vector width");
  constexpr int V = W / kVecDoubles;
  for (int64_t k = 0; k < n_out; ++k) {
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
          for (int v = 0; v < V; ++v) acc[a][v] += c * load(px + v * kVecDoubles);
        }
      }
      for (; i < taps; ++i) {
        const Vec c = splat(cf[i]);
        const double* px = pb - off[i] * W;
        for (int v = 0; v < V; ++v) acc[0][v] += c * load(px + v * kVecDoubles);
      }
    } else {
      // Edges: zero padding outside [0, n_in) (upfirdn mode 'constant').
      for (int64_t i = 0; i < taps; ++i) {
        const int64_t idx = base - off[i];
        if (idx < 0 || idx >= n_in) continue;
        const Vec c = splat(cf[i]);
        for (int v = 0; v < V; ++v) acc[0][v] += c * load(in + idx * W + v * kVecDoubles);
      }
    }
    double* po = out + k * W;
    for (int v = 0; v < V; ++v) store(po + v * kVecDoubles, (acc[0][v] + acc[1][v]) + (acc[2][v] + acc[3][v]));
  }
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

// The cascade butter_sos designs for odd orders: a first-order section carrying the gain
// (b2 = a2 = 0), then biquads with numerator exactly [1, +-2, 1]. For those sections the update
// needs 3 and 4 vector operations instead of 5 (same recurrences, same rounding order up to FMA).
inline bool butter_structure(const std::vector<Section>& sos) {
  if (sos.empty() || sos[0][2] != 0.0 || sos[0][5] != 0.0 || sos[0][3] != 1.0) return false;
  for (size_t s = 1; s < sos.size(); ++s) {
    const Section& c = sos[s];
    if (c[3] != 1.0 || c[0] != 1.0 || c[2] != 1.0 || std::fabs(c[1]) != 2.0) return false;
  }
  return true;
}

template <int W, int NS>
void sos_run_butter(const Section* sos, Vec (*z0)[W / kVecDoubles], Vec (*z1)[W / kVecDoubles], double* buf,
                    int64_t len, int64_t dir) {
  constexpr int V = W / kVecDoubles;
  const Vec g0 = splat(sos[0][0]), g1 = splat(sos[0][1]), p1 = splat(sos[0][4]);
  Vec c[NS], a1[NS], a2[NS];
  for (int s = 1; s < NS; ++s) {
    c[s] = splat(sos[s][1]);
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
      const Vec in = load(p + v * kVecDoubles);
      const Vec y = g0 * in + s0[0][v];
      s0[0][v] = g1 * in - p1 * y;
      x[v] = y;
    }
    for (int s = 1; s < NS; ++s) {
      for (int v = 0; v < V; ++v) {
        const Vec y = x[v] + s0[s][v];
        s0[s][v] = (c[s] * x[v] + s1[s][v]) - a1[s] * y;
        s1[s][v] = x[v] - a2[s] * y;
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
  const bool fast = butter_structure(sos);
  init(ext);
  if (fast) {
    sos_run_butter<W, NS>(sos.data(), z0, z1, ext, len, +1);
  } else {
    sos_run<W, NS>(sos.data(), z0, z1, ext, len, +1);
  }
  init(ext + (len - 1) * W);
  if (fast) {
    sos_run_butter<W, NS>(sos.data(), z0, z1, ext + (len - 1) * W, len, -1);
  } else {
    sos_run<W, NS>(sos.data(), z0, z1, ext + (len - 1) * W, len, -1);
  }
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

// rows x [rows][n] float (rows <= W) -> lanes [n][W] double; lanes >= rows are zero.
template <int W>
void rows_to_lanes(const float* x, int64_t rows, int64_t n, double* lanes) {
  typedef double D8 __attribute__((vector_size(64)));
  int64_t t0 = 0;
  for (; t0 + 8 <= n; t0 += 8) {
    for (int g = 0; g * 8 < W; ++g) {
      const int width = std::min(8, W - g * 8);
      F8 r[8];
      for (int i = 0; i < 8; ++i) {
        const int64_t row = g * 8 + i;
        if (row < rows) {
          std::memcpy(&r[i], x + row * n + t0, sizeof(F8));
        } else {
          r[i] = F8{};
        }
      }
      transpose8(r);
      for (int j = 0; j < 8; ++j) {
        const D8 d = __builtin_convertvector(r[j], D8);
        double* dst = lanes + (t0 + j) * W + g * 8;
        if (width == 8) {
          std::memcpy(dst, &d, 64);  // constant sizes: plain vector stores, not rep movs
        } else if (width == 4) {
          std::memcpy(dst, &d, 32);
        } else {
          for (int l = 0; l < width; ++l) dst[l] = d[l];
        }
      }
    }
  }
  for (int64_t t = t0; t < n; ++t)
    for (int l = 0; l < W; ++l) lanes[t * W + l] = l < rows ? x[l * n + t] : 0.0;
}

// lanes [n][W] -> rows out [rows][n] float of (lane - mean[l]) * scale[l]; mean/scale have W entries.
template <int W>
void lanes_to_rows(const double* lanes, int64_t rows, int64_t n, const double* mean, const double* scale,
                   float* out) {
  typedef double D8 __attribute__((vector_size(64)));
  int64_t t0 = 0;
  for (; t0 + 8 <= n; t0 += 8) {
    for (int g = 0; g * 8 < W && g * 8 < rows; ++g) {
      const int width = std::min(8, W - g * 8);
      D8 m = {}, sc = {};
      for (int l = 0; l < width; ++l) {
        m[l] = mean[g * 8 + l];
        sc[l] = scale[g * 8 + l];
      }
      F8 r[8];
      for (int j = 0; j < 8; ++j) {
        D8 v = {};
        const double* src = lanes + (t0 + j) * W + g * 8;
        if (width == 8) {
          std::memcpy(&v, src, 64);  // constant sizes: plain vector loads, not rep movs
        } else if (width == 4) {
          std::memcpy(&v, src, 32);
        } else {
          for (int l = 0; l < width; ++l) v[l] = src[l];
        }
        r[j] = __builtin_convertvector((v - m) * sc, F8);
      }
      transpose8(r);
      for (int l = 0; l < width && g * 8 + l < rows; ++l) std::memcpy(out + (g * 8 + l) * n + t0, &r[l], sizeof(F8));
    }
  }
  for (int64_t t = t0; t < n; ++t)
    for (int64_t l = 0; l < rows; ++l)
      out[l * n + t] = static_cast<float>((lanes[t * W + l] - mean[l]) * scale[l]);
}

}  // namespace cardionets::dsp::detail
