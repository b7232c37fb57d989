// The fused ECG pipeline: quality gate -> resample -> high-pass -> low-pass -> crops ->
// standardise, one record at a time in a per-thread lane buffer, parallel over records.
#include <cmath>
#include <limits>
#include <string>

#include "cardionets/core.h"
#include "cardionets/dsp.h"
#include "cardionets/parallel.h"
#include "lanes.h"

namespace cardionets::dsp {

using detail::kLanes;

Preprocessor::Preprocessor(double fs, const PreprocessConfig& cfg) : fs_(fs), cfg_(cfg) {
  if (cfg.crop_len < 1 || cfg.n_crops < 1) throw Error("preprocess: crop_len and n_crops must be >= 1");
  if (!(cfg.fs_out > 2.0 * cfg.lowpass_hz)) throw Error("preprocess: low-pass cutoff must be below fs_out / 2");
  // An unsupported rate is a per-record quality flag, not an exception: every record at this
  // rate comes back flagged, so a batch with one odd file does not stop a screening run.
  rate_ok_ = !(quality_flags(nullptr, 12, 0, fs, cfg.quality) & kUnsupportedRate);
  if (!rate_ok_) return;
  const Ratio r = resample_ratio(fs, cfg.fs_out);
  resample_ = design_resample(r.up, r.down, 5.0);
  hp_ = butter_sos(cfg.order, cfg.highpass_hz, cfg.fs_out, true);
  lp_ = butter_sos(cfg.order, cfg.lowpass_hz, cfg.fs_out, false);
  hp_zi_ = sosfilt_zi(hp_);
  lp_zi_ = sosfilt_zi(lp_);
  hp_pad_ = sosfiltfilt_padlen(hp_);
  lp_pad_ = sosfiltfilt_padlen(lp_);
  if (!resample_.identity()) poly_ = std::make_shared<const detail::Polyphase>(resample_);
}

int64_t Preprocessor::resampled_length(int64_t n) const {
  if (!rate_ok_) return 0;
  return resample_.output_length(n);
}

int64_t Preprocessor::crops_per_record(int64_t n) const {
  if (cfg_.random_crops) return cfg_.n_crops;
  return resampled_length(n) == cfg_.crop_len ? 1 : cfg_.n_crops;
}

namespace {
struct Workspace {
  std::vector<double> in, res, ext;
};
Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}
void grow(std::vector<double>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}
}  // namespace

// Resample and band-pass x [12][n] into this thread's lane buffer; returns it ([n_out][16]).
// The resampled signal is written between pad rows, where both filters build their odd
// extensions in place.
const double* Preprocessor::run_filters(const float* x, int64_t n, int64_t n_out) const {
  Workspace& ws = workspace();
  const int64_t pad = std::max(hp_pad_, lp_pad_);
  grow(ws.ext, (n_out + 2 * pad) * kLanes);
  double* sig = ws.ext.data() + pad * kLanes;
  if (poly_) {
    grow(ws.in, n * kLanes);
    detail::rows_to_lanes<kLanes>(x, 12, n, ws.in.data());
    detail::resample_lanes<kLanes>(*poly_, ws.in.data(), n, sig, n_out);
  } else {
    detail::rows_to_lanes<kLanes>(x, 12, n, sig);
  }
  detail::filtfilt_lanes<kLanes>(hp_, hp_zi_, hp_pad_, sig, n_out);
  detail::filtfilt_lanes<kLanes>(lp_, lp_zi_, lp_pad_, sig, n_out);
  return sig;
}

void Preprocessor::filter(const float* x, int64_t n, float* out) const {
  if (!rate_ok_) throw Error("preprocess: unsupported sample rate " + std::to_string(fs_) + " Hz");
  const int64_t n_out = resampled_length(n);
  const int64_t pad = std::max(hp_pad_, lp_pad_);
  if (n_out <= pad)
    throw Error("preprocess: " + std::to_string(n) + " samples are too few to filter (need more than " +
                std::to_string(pad) + " after resampling)");
  const double* sig = run_filters(x, n, n_out);
  const std::vector<double> zero(kLanes, 0.0), one(kLanes, 1.0);
  detail::lanes_to_rows<kLanes>(sig, 12, n_out, zero.data(), one.data(), out);
}

uint32_t Preprocessor::run(const float* x, int64_t n, float* out, uint64_t record) const {
  const int64_t n_crops = crops_per_record(n);
  const int64_t out_size = n_crops * 12 * cfg_.crop_len;
  uint32_t flags = quality_flags(x, 12, n, fs_, cfg_.quality);
  if (rate_ok_ && resampled_length(n) < cfg_.crop_len) flags |= kTooShort;
  if (flags & kFatalFlags) {
    std::fill(out, out + out_size, std::numeric_limits<float>::quiet_NaN());
    return flags;
  }
  const int64_t n_out = resampled_length(n);
  const double* sig = run_filters(x, n, n_out);
  const std::vector<int64_t> starts =
      crop_starts(n_out, cfg_.crop_len, n_crops, cfg_.random_crops, cfg_.seed, record);
  const int64_t L = cfg_.crop_len;
  using detail::Vec;
  for (size_t c = 0; c < starts.size(); ++c) {
    const double* base = sig + starts[c] * kLanes;
    float* o = out + static_cast<int64_t>(c) * 12 * L;
    // Per-lane sums and sums of squares in one pass (the band-passed signal has mean ~0, so
    // E[x^2] - mean^2 in double loses nothing that float32 output could show).
    constexpr int V = kLanes / detail::kVecDoubles;
    Vec acc[V], sq[V];
    for (int v = 0; v < V; ++v) acc[v] = sq[v] = detail::splat(0.0);
    for (int64_t t = 0; t < L; ++t)
      for (int v = 0; v < V; ++v) {
        const Vec x = detail::load(base + t * kLanes + v * detail::kVecDoubles);
        acc[v] += x;
        sq[v] += x * x;
      }
    double sum[12], sumsq[12], mean[12];
    for (int l = 0; l < 12; ++l) {
      sum[l] = acc[l / detail::kVecDoubles][l % detail::kVecDoubles];
      sumsq[l] = sq[l / detail::kVecDoubles][l % detail::kVecDoubles];
    }
    double var[12], sd[12];
    if (!cfg_.per_lead) {
      double m = 0.0, q = 0.0;
      for (int l = 0; l < 12; ++l) {
        m += sum[l];
        q += sumsq[l];
      }
      const double cnt = static_cast<double>(12 * L);
      m /= cnt;
      for (int l = 0; l < 12; ++l) {
        mean[l] = m;
        var[l] = std::max(0.0, q / cnt - m * m);
      }
    } else {
      for (int l = 0; l < 12; ++l) {
        mean[l] = sum[l] / static_cast<double>(L);
        var[l] = std::max(0.0, sumsq[l] / static_cast<double>(L) - mean[l] * mean[l]);
      }
    }
    for (int l = 0; l < 12; ++l) sd[l] = std::sqrt(var[l]);
    double inv[kLanes] = {}, mean16[kLanes] = {};
    for (int l = 0; l < 12; ++l) {
      inv[l] = sd[l] > 0.0 ? 1.0 / sd[l] : 1.0;
      mean16[l] = mean[l];
    }
    detail::lanes_to_rows<kLanes>(base, 12, L, mean16, inv, o);
  }
  return flags;
}

void preprocess_batch(const float* x, int64_t records, int64_t n, double fs, const PreprocessConfig& cfg,
                      float* out, uint32_t* flags, int threads) {
  const Preprocessor pre(fs, cfg);
  const int64_t out_per = pre.crops_per_record(n) * 12 * cfg.crop_len;
  parallel_for(records, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      flags[r] = pre.run(x + r * 12 * n, n, out + r * out_per, static_cast<uint64_t>(r));
  }, threads);
}

}  // namespace cardionets::dsp
