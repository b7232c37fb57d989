// Per-record quality flags of a raw 12-lead ECG (see QualityFlag in cardionets/dsp.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cardionets/dsp.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cardionets::dsp {

const std::vector<FlagInfo>& flag_table() {
  static const std::vector<FlagInfo> table = {
      {kNonFinite, "nan_inf", true, "NaN or infinite samples"},
      {kFlatLead, "flat_lead", false, "a lead with (almost) no signal"},
      {kClipped, "clipped", false, "a lead stuck at its extreme value (saturated amplifier)"},
      {kAmplitude, "amplitude", false, "a lead with implausible peak-to-peak amplitude"},
      {kMissingLeads, "missing_leads", true, "fewer than 12 leads, or a lead of only NaN"},
      {kTooShort, "too_short", true, "shorter than one 9 s crop"},
      {kUnsupportedRate, "unsupported_rate", true, "sample rate not supported"},
      {kFlatRecord, "flat_record", true, "every lead flat"},
  };
  return table;
}

std::string describe_flags(uint32_t flags) {
  std::string s;
  for (const FlagInfo& f : flag_table()) {
    if (!(flags & f.bit)) continue;
    if (!s.empty()) s += ", ";
    s += f.name;
  }
  return s.empty() ? "ok" : s;
}

namespace {
bool rate_supported(double fs, const QualityConfig& cfg) {
  if (!std::isfinite(fs) || fs < cfg.min_fs || fs > cfg.max_fs) return false;
  if (std::fabs(fs - std::round(fs)) > 1e-9 * fs) return false;
  try {
    const Ratio r = resample_ratio(fs, 250.0);
    return std::max(r.up, r.down) <= cfg.max_ratio_term;
  } catch (...) {
    return false;
  }
}
}  // namespace

namespace {
typedef double D8 __attribute__((vector_size(64)));
typedef float F8 __attribute__((vector_size(32)));

struct LeadStats {
  double sum = 0.0, sumsq = 0.0;
  float lo = 0.0f, hi = 0.0f;
};

// Sum, sum of squares, min and max of one lead, 8 samples at a time (explicit vector
// accumulators: the compiler may not reorder a floating-point reduction on its own).
LeadStats lead_stats(const float* p, int64_t n) {
  // Two sets of accumulators, 16 samples per step: the add chains, not the loads, limit this loop.
  D8 s[2] = {}, q[2] = {};
  F8 lo[2], hi[2];
  const float inf = std::numeric_limits<float>::infinity();
  for (int a = 0; a < 2; ++a)
    for (int j = 0; j < 8; ++j) {
      lo[a][j] = inf;
      hi[a][j] = -inf;
    }
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int a = 0; a < 2; ++a) {
      F8 v;
      std::memcpy(&v, p + i + 8 * a, sizeof(v));
#if defined(__AVX512F__)
      // one 8-wide conversion (the generic vector code gets split into two halves and an insert)
      const D8 d = reinterpret_cast<D8>(_mm512_maskz_cvtps_pd(0xFF, reinterpret_cast<__m256>(v)));
#else
      const D8 d = __builtin_convertvector(v, D8);
#endif
      s[a] += d;
      q[a] += d * d;
      lo[a] = v < lo[a] ? v : lo[a];
      hi[a] = v > hi[a] ? v : hi[a];
    }
  }
  for (; i + 8 <= n; i += 8) {
    F8 v;
    std::memcpy(&v, p + i, sizeof(v));
    const D8 d = __builtin_convertvector(v, D8);
    s[0] += d;
    q[0] += d * d;
    lo[0] = v < lo[0] ? v : lo[0];
    hi[0] = v > hi[0] ? v : hi[0];
  }
  LeadStats st;
  st.lo = inf;
  st.hi = -inf;
  for (int a = 0; a < 2; ++a)
    for (int j = 0; j < 8; ++j) {
      st.sum += s[a][j];
      st.sumsq += q[a][j];
      st.lo = std::min(st.lo, lo[a][j]);
      st.hi = std::max(st.hi, hi[a][j]);
    }
  for (; i < n; ++i) {
    const double d = p[i];
    st.sum += d;
    st.sumsq += d * d;
    st.lo = std::min(st.lo, p[i]);
    st.hi = std::max(st.hi, p[i]);
  }
  return st;
}

// Samples equal to lo or hi, counted in 32-bit vector lanes (a comparison gives -1 per hit).
int64_t count_extremes(const float* p, int64_t n, float lo, float hi) {
  typedef int I8 __attribute__((vector_size(32)));
  int64_t total = 0, i = 0;
  const F8 lov = {lo, lo, lo, lo, lo, lo, lo, lo}, hiv = {hi, hi, hi, hi, hi, hi, hi, hi};
  while (i + 8 <= n) {
    // at most 2^20 steps per block, so no 32-bit lane can overflow
    const int64_t end = std::min(n, i + (int64_t{1} << 23));
    I8 acc = {};
    for (; i + 8 <= end; i += 8) {
      F8 v;
      std::memcpy(&v, p + i, sizeof(v));
      acc -= (v == lov) | (v == hiv);
    }
    for (int j = 0; j < 8; ++j) total += acc[j];
  }
  for (; i < n; ++i) total += (p[i] == hi) | (p[i] == lo);
  return total;
}

// Longest run of equal samples sitting at lo or hi (only called when enough samples sit there).
int64_t longest_extreme_run(const float* p, int64_t n, float lo, float hi) {
  int64_t run = 0, best = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = p[i];
    const bool ext = v == hi || v == lo;
    run = ext ? (run > 0 && v == p[i - 1] ? run + 1 : 1) : 0;
    best = std::max(best, run);
  }
  return best;
}
}  // namespace

uint32_t quality_flags(const float* x, int64_t leads, int64_t n, double fs, const QualityConfig& cfg) {
  uint32_t flags = 0;
  if (leads < 12) flags |= kMissingLeads;
  if (!rate_supported(fs, cfg)) flags |= kUnsupportedRate;
  if (n < 1 || (std::isfinite(fs) && fs > 0 && static_cast<double>(n) < cfg.min_seconds * fs - 1e-6))
    flags |= kTooShort;
  const int64_t clip_run = std::max<int64_t>(
      cfg.clip_min_run, std::isfinite(fs) && fs > 0 ? static_cast<int64_t>(std::llround(cfg.clip_seconds * fs)) : 0);
  int64_t flat = 0, present = 0;
  std::vector<float> finite_copy;
  for (int64_t l = 0; l < leads && n > 0; ++l) {
    const float* p = x + l * n;
    LeadStats st = lead_stats(p, n);
    int64_t count = n;
    if (!std::isfinite(st.sum) || !std::isfinite(st.sumsq)) {
      // Slow path: NaN / inf somewhere. Entirely NaN is the placeholder for a lead the file did
      // not have (missing); otherwise the lead is corrupt (nan_inf), judged on its finite part.
      finite_copy.clear();
      bool all_nan = true;
      for (int64_t i = 0; i < n; ++i) {
        all_nan = all_nan && std::isnan(p[i]);
        if (std::isfinite(p[i])) finite_copy.push_back(p[i]);
      }
      if (finite_copy.empty()) {
        flags |= all_nan ? kMissingLeads : kNonFinite;
        continue;
      }
      flags |= kNonFinite;
      count = static_cast<int64_t>(finite_copy.size());
      st = lead_stats(finite_copy.data(), count);
    }
    ++present;
    const double mean = st.sum / static_cast<double>(count);
    const double sd = std::sqrt(std::max(0.0, st.sumsq / static_cast<double>(count) - mean * mean));
    if (sd < cfg.flat_std_mv) {
      flags |= kFlatLead;
      ++flat;
      continue;
    }
    if (static_cast<double>(st.hi) - static_cast<double>(st.lo) > cfg.max_ptp_mv) flags |= kAmplitude;
    const int64_t at_extreme = count_extremes(p, n, st.lo, st.hi);
    if (at_extreme >= clip_run && longest_extreme_run(p, n, st.lo, st.hi) >= clip_run) flags |= kClipped;
  }
  if (present > 0 && flat == present) flags |= kFlatRecord;
  return flags;
}

}  // namespace cardionets::dsp
