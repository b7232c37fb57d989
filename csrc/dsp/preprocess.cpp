// The fused ECG pipeline: quality gate -> resample -> high-pass -> low-pass -> crops ->
// standardise, one record at a time in a per-thread lane buffer, parallel over records.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

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
  std::vector<double> in, ext, piece_sums;
  std::vector<float> rows;
  std::vector<int64_t> cuts;
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}
using detail::grow_aligned;
}  // namespace

// Resample and band-pass x [12][n] into this thread's lane buffer; returns it ([n_out][16]).
// The resampled signal is written between pad rows, where both filters build their odd
// extensions in place.
const double* Preprocessor::run_filters(const float* x, int64_t n, int64_t n_out) const {
  Workspace& ws = workspace();
  const int64_t pad = std::max(hp_pad_, lp_pad_);
  const int64_t front = pad + (pad & 1);  // an even number of 96-byte rows keeps sig aligned
  double* sig = grow_aligned(ws.ext, (n_out + front + pad) * kLanes) + front * kLanes;
  const detail::LaneOps& ops = detail::lane_ops();
  if (poly_) {
    double* in = grow_aligned(ws.in, n * kLanes);
    ops.rows_to_lanes(x, 12, n, in);
    ops.resample(*poly_, in, n, sig, n_out);
  } else {
    ops.rows_to_lanes(x, 12, n, sig);
  }
  ops.filtfilt(hp_, hp_zi_, hp_pad_, sig, n_out);
  ops.filtfilt(lp_, lp_zi_, lp_pad_, sig, n_out);
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
  detail::lane_ops().lanes_to_rows(sig, 12, n_out, out);
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
  // One transposition of the filtered record to rows (float32: the output precision), then each
  // crop is standardised with contiguous, vectorised passes over its row segments.
  Workspace& ws = workspace();
  if (static_cast<int64_t>(ws.rows.size()) < 12 * n_out) ws.rows.resize(static_cast<size_t>(12 * n_out));
  float* rows = ws.rows.data();
  const detail::LaneOps& ops = detail::lane_ops();
  ops.lanes_to_rows(sig, 12, n_out, rows);
  // Crop statistics from the double-precision lanes: the crops overlap, so the record is cut at
  // every crop start and end and each piece is summed once.
  std::vector<int64_t>& cuts = ws.cuts;
  cuts.clear();
  for (int64_t s0 : starts) {
    cuts.push_back(s0);
    cuts.push_back(s0 + L);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  const size_t pieces = cuts.size() - 1;
  ws.piece_sums.assign(pieces * 2 * kLanes, 0.0);
  for (size_t i = 0; i < pieces; ++i)
    ops.lane_sums(sig + cuts[i] * kLanes, cuts[i + 1] - cuts[i], ws.piece_sums.data() + i * 2 * kLanes,
              ws.piece_sums.data() + i * 2 * kLanes + kLanes);
  for (size_t c = 0; c < starts.size(); ++c) {
    float* o = out + static_cast<int64_t>(c) * 12 * L;
    double sum[12] = {}, sumsq[12] = {};
    for (size_t i = 0; i < pieces; ++i) {
      if (cuts[i] < starts[c] || cuts[i + 1] > starts[c] + L) continue;
      const double* ps = ws.piece_sums.data() + i * 2 * kLanes;
      for (int l = 0; l < 12; ++l) {
        sum[l] += ps[l];
        sumsq[l] += ps[kLanes + l];
      }
    }
    double mean[12], inv[12];
    if (!cfg_.per_lead) {
      double m = 0.0, q = 0.0;
      for (int l = 0; l < 12; ++l) {
        m += sum[l];
        q += sumsq[l];
      }
      const double cnt = static_cast<double>(12 * L);
      m /= cnt;
      const double sd = std::sqrt(std::max(0.0, q / cnt - m * m));
      for (int l = 0; l < 12; ++l) {
        mean[l] = m;
        inv[l] = sd > 0.0 ? 1.0 / sd : 1.0;
      }
    } else {
      for (int l = 0; l < 12; ++l) {
        mean[l] = sum[l] / static_cast<double>(L);
        const double sd = std::sqrt(std::max(0.0, sumsq[l] / static_cast<double>(L) - mean[l] * mean[l]));
        inv[l] = sd > 0.0 ? 1.0 / sd : 1.0;
      }
    }
    for (int l = 0; l < 12; ++l) ops.scale_row(rows + l * n_out + starts[c], o + l * L, L, mean[l], inv[l]);
  }
  return flags;
}

uint32_t Preprocessor::run_fixed_crops(const float* x, int64_t n, float* out, uint64_t record) const {
  const int64_t k = crops_per_record(n), want = cfg_.n_crops;
  const int64_t crop = 12 * cfg_.crop_len;
  if (k == want) return run(x, n, out, record);
  if (k != 1)
    throw Error("preprocess: a record of " + std::to_string(n) + " samples gives " + std::to_string(k) +
                " crops, the model takes " + std::to_string(want));
  const uint32_t flags = run(x, n, out, record);
  for (int64_t c = 1; c < want; ++c) std::copy(out, out + crop, out + c * crop);
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
