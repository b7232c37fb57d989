// cardionets/dsp.h - ECG preprocessing: polyphase resampling, zero-phase Butterworth band-pass,
// crops, standardisation and per-record quality flags. No Python, no scipy: every filter is
// designed here, with the semantics of the scipy functions named below (the Python package keeps
// a float64 scipy reference beside it, cardionets/dsp_reference.py, and tests compare the two).
//
// The canonical pipeline (ST-MEM):
//   1. resample to 250 Hz          scipy.signal.resample_poly(x, up, down), Kaiser beta 5
//   2. high-pass 0.67 Hz, then     scipy.signal.sosfiltfilt(butter(5, ..., output='sos'), x)
//      low-pass 40 Hz              (padtype 'odd', default padlen), on the whole record
//   3. crops of 2250 samples       eval: starts round(linspace(0, T - 2250, n_crops)); train: random
//   4. standardise each crop       one mean / std over all leads and samples (per lead optional)
// Arithmetic is double precision from the first stage to the last; arrays in and out are float32.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cardionets::dsp {

// The lead order of every model input (ST-MEM): I, II, III, aVR, aVL, aVF, V1-V6. Python:
// cardionets.io.STANDARD_LEADS (tests/native/test_cmake_package.py keeps the two equal).
inline constexpr const char* kStandardLeads[12] = {"I",  "II", "III", "aVR", "aVL", "aVF",
                                                   "V1", "V2", "V3",  "V4",  "V5",  "V6"};

namespace detail {
struct Polyphase;
}

// ------------------------------------------------------------------------------------------
// Filter design
// ------------------------------------------------------------------------------------------
struct Ratio {
  int64_t up = 1, down = 1;
};
// The reduced ratio fs_out / fs_in; both rates must be positive whole numbers of Hz.
Ratio resample_ratio(double fs_in, double fs_out);

// Symmetric Kaiser window of n points (scipy.signal.windows.kaiser(n, beta, sym=True)).
std::vector<double> kaiser_window(int64_t n, double beta);

// Linear-phase low-pass FIR (scipy.signal.firwin(numtaps, cutoff, window=('kaiser', beta))),
// cutoff relative to Nyquist, scaled to unit gain at DC.
std::vector<double> firwin_lowpass(int64_t numtaps, double cutoff, double beta);

// The polyphase filter resample_poly uses for up/down: taps h (already multiplied by up and
// front-padded as scipy does) and the number of leading outputs it discards.
struct ResampleFilter {
  int64_t up = 1, down = 1;
  std::vector<double> h;
  int64_t n_pre_remove = 0;
  int64_t output_length(int64_t n_in) const;  // ceil(n_in * up / down)
  bool identity() const { return up == 1 && down == 1; }
};
ResampleFilter design_resample(int64_t up, int64_t down, double kaiser_beta = 5.0);

// One second-order section: b0 b1 b2 a0(=1) a1 a2 (scipy's sos row layout).
using Section = std::array<double, 6>;
// Digital Butterworth of the given order (scipy.signal.butter(order, cutoff_hz, btype, fs=fs,
// output='sos')): bilinear transform with pre-warping; odd orders end in a first-order section.
std::vector<Section> butter_sos(int order, double cutoff_hz, double fs, bool highpass);
// Initial conditions for the step response steady state (scipy.signal.sosfilt_zi).
std::vector<std::array<double, 2>> sosfilt_zi(const std::vector<Section>& sos);
// sosfiltfilt's default pad length: 3 * (2 * n_sections + 1 - trailing zero taps).
int64_t sosfiltfilt_padlen(const std::vector<Section>& sos);

// ------------------------------------------------------------------------------------------
// Stages on rows: x is [rows][n] float32 (contiguous rows), out likewise. Double inside.
// ------------------------------------------------------------------------------------------
// out: [rows][filter.output_length(n)]
void resample_rows(const float* x, int64_t rows, int64_t n, const ResampleFilter& filter, float* out,
                   int threads = 0);
// Zero-phase filtering of every row (sosfiltfilt semantics); needs n > padlen.
void sosfiltfilt_rows(const std::vector<Section>& sos, const float* x, int64_t rows, int64_t n, float* out,
                      int threads = 0);
// Crop starts: eval mode gives round(linspace(0, n - crop_len, n_crops)) (round half to even, as
// numpy) and a single start 0 when n == crop_len; random mode draws n_crops starts uniformly
// from [0, n - crop_len] with a generator seeded by (seed, record).
std::vector<int64_t> crop_starts(int64_t n, int64_t crop_len, int64_t n_crops, bool random = false,
                                 uint64_t seed = 0, uint64_t record = 0);

// ------------------------------------------------------------------------------------------
// Quality flags (bit set per record). Fatal flags stop a record from being used: the fused
// pipeline fills its output with NaN and reports the flags; it never zeroes it silently.
// ------------------------------------------------------------------------------------------
enum QualityFlag : uint32_t {
  kNonFinite = 1u << 0,        // NaN or inf samples in a lead that is otherwise present   (fatal)
  kFlatLead = 1u << 1,         // a lead whose standard deviation is below flat_std_mv
  kClipped = 1u << 2,          // a lead that sits at its extreme value for >= clip run samples
  kAmplitude = 1u << 3,        // a lead whose peak-to-peak exceeds max_ptp_mv
  kMissingLeads = 1u << 4,     // fewer than 12 leads, or a lead that is entirely NaN      (fatal)
  kTooShort = 1u << 5,         // shorter than min_seconds (9 s = one 2250-sample crop)   (fatal)
  kUnsupportedRate = 1u << 6,  // sample rate not a whole number of Hz in [min_fs, max_fs] (fatal)
  kFlatRecord = 1u << 7,       // every lead flat: nothing to standardise                  (fatal)
};
constexpr uint32_t kFatalFlags = kNonFinite | kMissingLeads | kTooShort | kUnsupportedRate | kFlatRecord;
// Names of the set flags, e.g. "nan_inf, flat_lead".
std::string describe_flags(uint32_t flags);
// (bit, name, fatal) for every flag.
struct FlagInfo {
  uint32_t bit;
  const char* name;
  bool fatal;
  const char* meaning;
};
const std::vector<FlagInfo>& flag_table();

struct QualityConfig {
  double flat_std_mv = 0.005;   // lead std (mV) below which a lead is flat
  double max_ptp_mv = 20.0;     // lead peak-to-peak (mV) above which amplitude is implausible
  double clip_seconds = 0.02;   // a run at the lead's max or min this long counts as clipping ...
  int64_t clip_min_run = 5;     // ... and at least this many samples
  double min_seconds = 9.0;     // shortest usable record
  double min_fs = 100.0, max_fs = 20000.0;
  int64_t max_ratio_term = 2000;  // largest reduced up or down factor accepted
};
// Flags of one record x [leads][n] in mV sampled at fs (expects 12 leads).
uint32_t quality_flags(const float* x, int64_t leads, int64_t n, double fs, const QualityConfig& cfg = {});

// ------------------------------------------------------------------------------------------
// The fused pipeline
// ------------------------------------------------------------------------------------------
struct PreprocessConfig {
  double fs_out = 250.0;
  double highpass_hz = 0.67, lowpass_hz = 40.0;
  int order = 5;
  int64_t crop_len = 2250;
  int64_t n_crops = 3;
  bool random_crops = false;
  uint64_t seed = 0;
  bool per_lead = false;  // standardise each lead separately instead of the whole crop
  QualityConfig quality;
};

// Designed once per input rate, then applied to any number of records (thread-safe, const).
class Preprocessor {
 public:
  static constexpr int64_t kLeads = 12;
  Preprocessor(double fs, const PreprocessConfig& cfg = {});
  double fs() const { return fs_; }
  const PreprocessConfig& config() const { return cfg_; }
  // Samples at fs_out for n input samples, and the crops produced from them.
  int64_t resampled_length(int64_t n) const;
  int64_t crops_per_record(int64_t n) const;
  // x: [12][n] float32 in mV; out: [crops_per_record(n)][12][crop_len]. Returns the quality flags;
  // with a fatal flag, out is NaN. record: index mixed into the random-crop seed.
  uint32_t run(const float* x, int64_t n, float* out, uint64_t record = 0) const;
  // The input of a model that takes exactly config().n_crops crops: out [n_crops][12][crop_len].
  // A record exactly one crop long gives one evaluation crop (crops_per_record == 1); it is
  // repeated n_crops times, and since the model averages over crops the result equals the
  // one-crop evaluation. With a fatal flag, out is NaN. Never writes or reads past out / x.
  uint32_t run_fixed_crops(const float* x, int64_t n, float* out, uint64_t record = 0) const;
  // Resample + band-pass only: out [12][resampled_length(n)] (no quality gate, no crops).
  void filter(const float* x, int64_t n, float* out) const;

 private:
  double fs_;
  PreprocessConfig cfg_;
  bool rate_ok_ = true;
  ResampleFilter resample_;
  std::shared_ptr<const detail::Polyphase> poly_;
  std::vector<Section> hp_, lp_;
  std::vector<std::array<double, 2>> hp_zi_, lp_zi_;
  int64_t hp_pad_ = 0, lp_pad_ = 0;
  const double* run_filters(const float* x, int64_t n, int64_t n_out) const;
};

// x: [records][12][n] float32; out: [records][crops_per_record(n)][12][crop_len]; flags: [records].
// Parallel over records (threads = 0: cardionets::num_threads()).
void preprocess_batch(const float* x, int64_t records, int64_t n, double fs, const PreprocessConfig& cfg,
                      float* out, uint32_t* flags, int threads = 0);

// Standardise x [rows][n] in place: one mean/std over everything (per_row = false) or per row.
// A zero standard deviation divides by 1 (the record is flagged flat by the quality check).
void standardize(float* x, int64_t rows, int64_t n, bool per_row);

}  // namespace cardionets::dsp
