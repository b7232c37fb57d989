// Row-wise DSP stages (resample, zero-phase filter, crop starts, standardisation) for the
// Python facade's per-stage functions: rows are gathered 16 at a time into lane buffers.
#include <cmath>
#include <cstring>
#include <string>

#include "cardionets/core.h"
#include "cardionets/dsp.h"
#include "cardionets/parallel.h"
#include "lanes.h"

namespace cardionets::dsp {

using detail::kLanes;

namespace {

// in rows [r0, r0 + cnt) of x [rows][n] -> lanes [n][kLanes] (unused lanes zero)
void gather(const float* x, int64_t n, int64_t r0, int64_t cnt, double* lanes) {
  detail::lane_ops().rows_to_lanes(x + r0 * n, cnt, n, lanes);
}

void scatter(const double* lanes, int64_t n, int64_t r0, int64_t cnt, float* out) {
  detail::lane_ops().lanes_to_rows(lanes, cnt, n, out + r0 * n);
}

}  // namespace

void resample_rows(const float* x, int64_t rows, int64_t n, const ResampleFilter& filter, float* out, int threads) {
  if (n < 1) throw Error("resample: signal has no samples");
  const int64_t n_out = filter.output_length(n);
  if (filter.identity()) {
    std::memcpy(out, x, sizeof(float) * static_cast<size_t>(rows * n));
    return;
  }
  const detail::Polyphase pf(filter);
  const int64_t groups = (rows + kLanes - 1) / kLanes;
  parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
    std::vector<double> in_buf, res_buf;
    double* in = detail::grow_aligned(in_buf, n * kLanes);
    double* res = detail::grow_aligned(res_buf, n_out * kLanes);
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kLanes, cnt = std::min<int64_t>(kLanes, rows - r0);
      gather(x, n, r0, cnt, in);
      detail::lane_ops().resample(pf, in, n, res, n_out);
      scatter(res, n_out, r0, cnt, out);
    }
  }, threads);
}

void sosfiltfilt_rows(const std::vector<Section>& sos, const float* x, int64_t rows, int64_t n, float* out,
                      int threads) {
  const int64_t pad = sosfiltfilt_padlen(sos);
  if (n <= pad)
    throw Error("sosfiltfilt: signal of " + std::to_string(n) + " samples must be longer than the pad length " +
                std::to_string(pad));
  const auto zi = sosfilt_zi(sos);
  const int64_t groups = (rows + kLanes - 1) / kLanes;
  parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
    std::vector<double> ext;
    const int64_t front = pad + (pad & 1);  // an even number of 96-byte rows keeps buf aligned
    double* buf = detail::grow_aligned(ext, (n + front + pad) * kLanes) + front * kLanes;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kLanes, cnt = std::min<int64_t>(kLanes, rows - r0);
      gather(x, n, r0, cnt, buf);
      detail::lane_ops().filtfilt(sos, zi, pad, buf, n);
      scatter(buf, n, r0, cnt, out);
    }
  }, threads);
}

namespace {
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<int64_t> crop_starts(int64_t n, int64_t crop_len, int64_t n_crops, bool random, uint64_t seed,
                                 uint64_t record) {
  if (crop_len < 1 || n_crops < 1) throw Error("crops: crop_len and n_crops must be >= 1");
  if (n < crop_len)
    throw Error("crops: signal of " + std::to_string(n) + " samples is shorter than one crop of " +
                std::to_string(crop_len));
  const int64_t span = n - crop_len;
  std::vector<int64_t> starts;
  if (random) {
    uint64_t state = seed ^ (record * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull);
    for (int64_t c = 0; c < n_crops; ++c)
      starts.push_back(static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(span + 1)));
    return starts;
  }
  if (span == 0 || n_crops == 1) return {0};
  // numpy.linspace: k * (span / (n_crops - 1)), last point exactly span; np.round: half to even.
  const double step = static_cast<double>(span) / static_cast<double>(n_crops - 1);
  for (int64_t c = 0; c < n_crops; ++c) {
    const double v = c == n_crops - 1 ? static_cast<double>(span) : static_cast<double>(c) * step;
    starts.push_back(static_cast<int64_t>(std::nearbyint(v)));
  }
  return starts;
}

void standardize(float* x, int64_t rows, int64_t n, bool per_row) {
  auto one = [](float* p, int64_t count) {
    double mean = 0.0;
    for (int64_t i = 0; i < count; ++i) mean += p[i];
    mean /= static_cast<double>(count);
    double var = 0.0;
    for (int64_t i = 0; i < count; ++i) var += (p[i] - mean) * (p[i] - mean);
    double sd = std::sqrt(var / static_cast<double>(count));
    if (sd == 0.0 || !std::isfinite(sd)) sd = sd == 0.0 ? 1.0 : sd;
    for (int64_t i = 0; i < count; ++i) p[i] = static_cast<float>((p[i] - mean) / sd);
  };
  if (rows < 1 || n < 1) return;
  if (per_row) {
    for (int64_t r = 0; r < rows; ++r) one(x + r * n, n);
  } else {
    one(x, rows * n);
  }
}

}  // namespace cardionets::dsp
