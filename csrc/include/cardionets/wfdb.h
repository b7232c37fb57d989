// cardionets/wfdb.h - native reader of PhysioNet WFDB records: header parsing and sample
// decoding for signal formats 16, 212, 24, 32 and 80, multi-file records, byte offsets (the
// WFDB-MAT container of the PhysioNet/CinC challenges is a format-16 file behind a MATLAB v4
// header, addressed with "+24"), gains, baselines and units. Other formats (8, 61, 160, 310,
// 311, FLAC 5xx), multi-segment records and multi-sample frames raise UnsupportedWfdb so callers
// can fall back to another reader; everything malformed raises cardionets::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cardionets/core.h"

namespace cardionets::wfdb {

// A valid record that this reader does not decode (the Python layer falls back to `wfdb`).
class UnsupportedWfdb : public Error {
 public:
  using Error::Error;
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

// Parse header text; `source` names it in error messages.
Header parse_header(const std::string& text, const std::string& source);
Header read_header(const std::string& header_path);

// Multiplier from a WFDB unit string to millivolts (mV 1, uV 1e-3, V 1e3); 1 for unknown units.
double unit_to_mv(const std::string& units);

struct Record {
  Header header;
  int64_t n_samples = 0;
  // [n_signals][n_samples], physical values converted to mV when the unit is a voltage
  // (otherwise in the header's unit); invalid samples (WFDB's "no data" code) are NaN.
  std::vector<float> signal;
};

// Read a record given its header path (name.hea). Signal files are read from the header's directory.
Record read_record(const std::string& header_path);

// Decode n_frames frames of n_in_file interleaved signals of one format into int32 digital
// values [n_frames][n_in_file]; invalid-sample codes are returned as INT32_MIN.
void decode(int format, const uint8_t* data, size_t bytes, int n_in_file, int64_t n_frames, int32_t* out,
            const std::string& source);

// Decode straight to physical values: rows[j][t] = (digital - base[j]) * scale[j], NaN for invalid.
void decode_physical(int format, const uint8_t* data, size_t bytes, int n_in_file, int64_t n_frames,
                     float* const* rows, const double* scale, const double* base, const std::string& source);

// Bytes needed for n_frames frames of n_in_file signals (212: 3 bytes per 2 samples).
int64_t bytes_needed(int format, int n_in_file, int64_t n_frames);

}  // namespace cardionets::wfdb
