// Per-record quality flags of a raw 12-lead ECG (see QualityFlag in cardionets/dsp.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cardionets/dsp.h"

#include "lanes.h"

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
    const detail::LaneOps& ops = detail::lane_ops();
    detail::LeadStats st = ops.lead_stats(p, n);
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
      st = ops.lead_stats(finite_copy.data(), count);
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
    const int64_t at_extreme = ops.count_extremes(p, n, st.lo, st.hi);
    if (at_extreme >= clip_run && longest_extreme_run(p, n, st.lo, st.hi) >= clip_run) flags |= kClipped;
  }
  if (present > 0 && flat == present) flags |= kFlatRecord;
  return flags;
}

}  // namespace cardionets::dsp
