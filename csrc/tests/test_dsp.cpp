// C++ test of the ECG pipeline without Python: read a real WFDB record (argv[1], default the
// CinC fixture in tests/fixtures, relative to the repository root), preprocess it, and check filter design, shapes, stats,
// frequency response and the quality gate. Run by tests/test_native_ecg.py through cpp_build.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cardionets/cardionets.h"
#include "check.h"

namespace dsp = cardionets::dsp;

int main(int argc, char** argv) {
  const std::string record = argc > 1 ? argv[1] : "tests/fixtures/ecg/cinc2021/HR06000.hea";

  // Filter design: scipy.signal.butter(5, 0.67, 'highpass', fs=250, output='sos') coefficients.
  const auto hp = dsp::butter_sos(5, 0.67, 250.0, true);
  CHECK(hp.size() == 3);
  CHECK(std::fabs(hp[0][0] - 0.97312146) < 1e-7 && std::fabs(hp[0][4] + 0.98330126) < 1e-7);
  CHECK(std::fabs(hp[1][4] + 1.97284173) < 1e-7 && std::fabs(hp[1][5] - 0.97312146) < 1e-7);
  CHECK(std::fabs(hp[2][4] + 1.98936525) < 1e-7 && std::fabs(hp[2][5] - 0.98964732) < 1e-7);
  CHECK(dsp::sosfiltfilt_padlen(hp) == 18);
  const auto rf = dsp::design_resample(1, 2);
  CHECK(rf.h.size() == 43 && rf.n_pre_remove == 11);
  double dc = 0.0;
  for (double v : rf.h) dc += v;
  CHECK(std::fabs(dc - 1.0) < 1e-12);
  const auto starts = dsp::crop_starts(2501, 2250, 3);
  CHECK(starts.size() == 3 && starts[0] == 0 && starts[1] == 126 && starts[2] == 251);  // 125.5 -> 126 (even)

  // A real record, read and preprocessed with no Python.
  const cardionets::wfdb::Record rec = cardionets::wfdb::read_record(record);
  CHECK(rec.header.n_signals == 12 && rec.n_samples == 5000 && rec.header.fs == 500.0);
  const dsp::Preprocessor pre(rec.header.fs);
  CHECK(pre.resampled_length(5000) == 2500 && pre.crops_per_record(5000) == 3);
  std::vector<float> out(3 * 12 * 2250);
  const uint32_t flags = pre.run(rec.signal.data(), rec.n_samples, out.data());
  CHECK((flags & dsp::kFatalFlags) == 0);
  for (int c = 0; c < 3; ++c) {
    double s = 0.0, q = 0.0;
    bool finite = true;
    for (int i = 0; i < 12 * 2250; ++i) {
      const double v = out[static_cast<size_t>(c * 12 * 2250 + i)];
      finite = finite && std::isfinite(v);
      s += v;
      q += v * v;
    }
    const double mean = s / (12 * 2250), sd = std::sqrt(q / (12 * 2250) - mean * mean);
    CHECK(finite && std::fabs(mean) < 1e-5 && std::fabs(sd - 1.0) < 1e-4);
  }

  // A model that takes 3 crops: a 10 s record gives them as run() does; a record of exactly 9 s
  // gives one crop, repeated (the buffer holds exactly 3 crops: ASan / the guard words below see
  // any write past it); shorter is a fatal flag with every crop NaN.
  {
    const size_t crop = 12 * 2250;
    std::vector<float> fixed(3 * crop + 16, 7.0f);
    CHECK(pre.run_fixed_crops(rec.signal.data(), rec.n_samples, fixed.data()) == flags);
    CHECK(std::equal(out.begin(), out.end(), fixed.begin()));
    std::vector<float> nine(12 * 4500);  // the first 9 s of every lead
    for (int l = 0; l < 12; ++l)
      std::copy_n(rec.signal.begin() + l * 5000, 4500, nine.begin() + l * 4500);
    CHECK(pre.crops_per_record(4500) == 1);
    std::fill(fixed.begin(), fixed.end(), 7.0f);
    const uint32_t f9 = pre.run_fixed_crops(nine.data(), 4500, fixed.data());
    CHECK((f9 & dsp::kFatalFlags) == 0);
    CHECK(std::equal(fixed.begin(), fixed.begin() + crop, fixed.begin() + crop) &&
          std::equal(fixed.begin(), fixed.begin() + crop, fixed.begin() + 2 * crop));
    CHECK(std::all_of(fixed.begin() + 3 * crop, fixed.end(), [](float v) { return v == 7.0f; }));
    std::vector<float> single(crop);
    dsp::PreprocessConfig one;
    one.n_crops = 1;
    dsp::Preprocessor(rec.header.fs, one).run(nine.data(), 4500, single.data());
    CHECK(std::equal(single.begin(), single.end(), fixed.begin()));
    const uint32_t f8 = pre.run_fixed_crops(nine.data(), 4000, fixed.data());
    CHECK((f8 & dsp::kTooShort) != 0);
    CHECK(std::all_of(fixed.begin(), fixed.begin() + 3 * crop, [](float v) { return std::isnan(v); }));
    CHECK(std::all_of(fixed.begin() + 3 * crop, fixed.end(), [](float v) { return v == 7.0f; }));
  }

  // Frequency response of the whole chain on synthetic leads: 10 Hz passes, 0.1 Hz drift and
  // 60 Hz mains are removed.
  const int n = 5000;
  std::vector<float> x(12 * n);
  const double pi = 3.14159265358979323846;
  for (int l = 0; l < 12; ++l)
    for (int t = 0; t < n; ++t)
      x[static_cast<size_t>(l * n + t)] = static_cast<float>(std::sin(2 * pi * 10.0 * t / 500.0) +
                                                             2.0 * std::sin(2 * pi * 0.1 * t / 500.0) +
                                                             0.5 * std::sin(2 * pi * 60.0 * t / 500.0));
  std::vector<float> filt(12 * 2500);
  pre.filter(x.data(), n, filt.data());
  double err = 0.0;
  for (int t = 500; t < 2000; ++t) err = std::max(err, std::fabs(filt[static_cast<size_t>(t)] - std::sin(2 * pi * 10.0 * t / 250.0)));
  std::printf("10 Hz passband error %.4f\n", err);
  CHECK(err < 0.1);  // the float64 scipy pipeline gives 0.069 on this signal too

  // Quality gate: a NaN sample is fatal and the output is NaN, never zeros.
  x[100] = NAN;
  const uint32_t bad = pre.run(x.data(), n, out.data());
  CHECK((bad & dsp::kNonFinite) != 0 && std::isnan(out[0]) && std::isnan(out.back()));
  CHECK(dsp::describe_flags(bad) == "nan_inf");
  CHECK((pre.run(x.data(), 1000, out.data()) & dsp::kTooShort) != 0);
  const dsp::Preprocessor odd(12.5);
  CHECK((odd.run(x.data(), n, out.data()) & dsp::kUnsupportedRate) != 0);

  // Batch: parallel over records, same as one at a time.
  std::vector<float> batch(3 * 12 * n);
  for (int r = 0; r < 3; ++r) std::copy(rec.signal.begin(), rec.signal.end(), batch.begin() + r * 12 * n);
  std::vector<float> bout(3 * 3 * 12 * 2250);
  std::vector<uint32_t> bflags(3);
  dsp::preprocess_batch(batch.data(), 3, n, 500.0, {}, bout.data(), bflags.data(), 2);
  pre.run(rec.signal.data(), n, out.data());
  CHECK(bflags[2] == flags && std::equal(out.begin(), out.end(), bout.begin() + 2 * 3 * 12 * 2250));

  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("test_dsp: ok (%s preprocessed to 3 x 12 x 2250)\n", record.c_str());
  return 0;
}
