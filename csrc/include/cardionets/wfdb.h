// cardionets/wfdb.h - native reader of PhysioNet WFDB records: header parsing and sample
// decoding for signal formats 16, 212, 24, 32 and 80, multi-file records, byte offsets (the
// WFDB-MAT container of the PhysioNet/CinC challenges is a format-16 file behind a MATLAB v4
// header, addressed with "+24"), gains, baselines and units.
//
// Hostile input is normal input. Every size computed from a header is checked for overflow and
// against the file and the Limits below before anything is allocated; signal files must lie in
// the header's folder (no absolute names, no "..", no symlink leaving the folder, regular files
// only); header text that is not UTF-8 is read as Latin-1. Errors:
//   cardionets::Error          malformed or lying input, named file and reason
//   cardionets::LimitExceeded  a declared size above a limit (the message names the limit)
//   wfdb::UnsupportedWfdb      a valid record this reader does not decode: formats 0, 8, 61, 160,
//                              310, 311, FLAC 5xx, multi-segment records, multi-sample frames,
//                              skew, null signal files ("~"): callers fall back to another reader
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cardionets/core.h"

namespace cardionets::wfdb {

// A valid record that this reader does not decode (the Python layer falls back to `wfdb`).
class UnsupportedWfdb : public Unsupported {
 public:
  using Unsupported::Unsupported;
};

// Resource limits of one record. Every file the record pulls in counts.
struct Limits {
  int64_t max_header_bytes = int64_t{1} << 20;    // 1 MiB: a header is text, usually < 4 KiB
  int64_t max_signal_bytes = int64_t{512} << 20;  // 512 MiB read from all signal files together
  int64_t max_samples = int64_t{1} << 27;         // n_signals x n_samples: 134,217,728 (512 MiB float32)
};

struct SignalSpec {
  std::string file_name;   // signal file, relative to the header's directory
  int format = 0;          // 16, 212, 24, 32, 80, ...
  int samples_per_frame = 1;
  int skew = 0;
  int64_t byte_offset = 0;
  double adc_gain = 200.0;  // ADC units per physical unit (0 in the header means 200)
  double baseline = 0.0;    // ADC value of physical zero
  std::string units = "mV";
  int adc_resolution = 0;
  int adc_zero = 0;
  int initial_value = 0;
  int checksum = 0;
  int block_size = 0;
  std::string description;  // lead name
};

struct Header {
  std::string record_name;
  int n_signals = 0;
  double fs = 250.0;
  int64_t n_samples = -1;  // -1: not given (taken from the file size)
  std::string base_time, base_date;
  std::vector<SignalSpec> signals;
  std::vector<std::string> comments;  // text after '#', one per comment line
};

// Parse header text; `source` names it in error messages. Text that is not valid UTF-8 is
// decoded as Latin-1, so every string of the result is valid UTF-8.
Header parse_header(const std::string& text, const std::string& source);
Header read_header(const std::string& header_path, const Limits& limits = {});

// Multiplier from a WFDB unit string to millivolts (mV 1, uV 1e-3, V 1e3); 1 for unknown units.
double unit_to_mv(const std::string& units);

struct Record {
  Header header;
  int64_t n_samples = 0;
  // [n_signals][n_samples], physical values converted to mV when the unit is a voltage
  // (otherwise in the header's unit); invalid samples (WFDB's "no data" code) are NaN.
  std::vector<float> signal;
};

// One signal file opened by a SignalSource.
class SignalFile {
 public:
  virtual ~SignalFile() = default;
  virtual int64_t size() const = 0;
  // Read exactly n bytes at offset into out; throws Error naming the file otherwise.
  virtual void read(int64_t offset, int64_t n, uint8_t* out) const = 0;
};

// Where a record's signal files come from. `name` is the file name from the header, already
// checked by check_signal_file_name().
class SignalSource {
 public:
  virtual ~SignalSource() = default;
  virtual std::unique_ptr<SignalFile> open(const std::string& name) const = 0;
};

// The header's folder on disk: a name must resolve (symlinks followed) to a regular file inside
// that folder - the folder the header path names, or the one it resolves to when the header is
// itself a symbolic link (a folder of links to records kept elsewhere).
class FolderSource : public SignalSource {
 public:
  explicit FolderSource(std::string header_path);
  std::unique_ptr<SignalFile> open(const std::string& name) const override;

 private:
  std::string header_path_, dir_;
};

// Throws Error unless `name` is a plain relative file name: not empty, not absolute, no ".."
// component, no NUL or control characters. `source` names the header in the message.
void check_signal_file_name(const std::string& name, const std::string& source);

// Read a record given its header path (name.hea). Signal files are read from the header's directory.
Record read_record(const std::string& header_path, const Limits& limits = {});
// Read a record whose header is already parsed, with signal files from `files`; `source` names
// the header in messages.
Record read_record(const Header& header, const SignalSource& files, const std::string& source,
                   const Limits& limits = {});

// Decode n_frames frames of n_in_file interleaved signals of one format into int32 digital
// values [n_frames][n_in_file]; invalid-sample codes are returned as INT32_MIN. `out` must hold
// n_frames * n_in_file values; throws Error when `bytes` is too small.
void decode(int format, const uint8_t* data, size_t bytes, int n_in_file, int64_t n_frames, int32_t* out,
            const std::string& source);

// Decode straight to physical values: rows[j][t] = (digital - base[j]) * scale[j], NaN for invalid.
void decode_physical(int format, const uint8_t* data, size_t bytes, int n_in_file, int64_t n_frames,
                     float* const* rows, const double* scale, const double* base, const std::string& source);

// Bytes needed for n_frames frames of n_in_file signals (212: 3 bytes per 2 samples); -1 for a
// format this reader does not decode, for negative counts and when the count overflows int64.
int64_t bytes_needed(int format, int n_in_file, int64_t n_frames);

}  // namespace cardionets::wfdb
