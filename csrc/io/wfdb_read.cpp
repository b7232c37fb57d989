// WFDB signal decoding (formats 16, 212, 24, 32, 80) and whole-record reading.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>

#include "cardionets/wfdb.h"

namespace cardionets::wfdb {

namespace {

constexpr int32_t kInvalid = std::numeric_limits<int32_t>::min();

bool native_format(int f) { return f == 16 || f == 212 || f == 24 || f == 32 || f == 80; }
bool known_format(int f) {
  static const int known[] = {0, 8, 16, 24, 32, 61, 80, 160, 212, 310, 311, 508, 516, 524};
  for (int k : known)
    if (k == f) return true;
  return false;
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};

int64_t file_size(std::FILE* f) {
  if (std::fseek(f, 0, SEEK_END) != 0) return -1;
  const long size = std::ftell(f);
  return size < 0 ? -1 : static_cast<int64_t>(size);
}

// MATLAB v4 header of a CinC .mat file: type (MOPT), rows, cols, imagf, name length, name.
void check_mat_v4(std::FILE* f, const std::string& path, int n_in_file, int64_t n_frames, int64_t byte_offset) {
  if (byte_offset < 20) return;
  int32_t hdr[5];
  if (std::fseek(f, 0, SEEK_SET) != 0 || std::fread(hdr, sizeof(int32_t), 5, f) != 5) return;
  const int32_t type = hdr[0];
  if (type < 0 || type > 4052 || hdr[4] < 1 || hdr[4] > 64) return;  // not a v4 header: nothing to check
  const int precision = (type / 10) % 10;  // 0 double, 1 single, 2 int32, 3 int16, 4 uint16, 5 uint8
  if (precision != 3)
    throw Error(path + ": MATLAB v4 matrix holds precision code " + std::to_string(precision) +
                ", but the WFDB header reads it as 16-bit integers");
  if (hdr[1] != n_in_file || (n_frames >= 0 && hdr[2] < n_frames))
    throw Error(path + ": MATLAB v4 matrix is " + std::to_string(hdr[1]) + " x " + std::to_string(hdr[2]) +
                " but the WFDB header describes " + std::to_string(n_in_file) + " signals x " +
                std::to_string(n_frames) + " samples");
  if (20 + static_cast<int64_t>(hdr[4]) != byte_offset)
    throw Error(path + ": MATLAB v4 data start at byte " + std::to_string(20 + hdr[4]) +
                " but the WFDB header says +" + std::to_string(byte_offset));
}

}  // namespace

int64_t bytes_needed(int format, int n_in_file, int64_t n_frames) {
  const int64_t n = n_frames * n_in_file;
  switch (format) {
    case 16: return 2 * n;
    case 24: return 3 * n;
    case 32: return 4 * n;
    case 80: return n;
    case 212: return (n / 2) * 3 + (n % 2 ? 2 : 0);
    default: return -1;
  }
}

void decode(int format, const uint8_t* d, size_t bytes, int n_in_file, int64_t n_frames, int32_t* out,
            const std::string& source) {
  const int64_t n = n_frames * n_in_file;
  const int64_t need = bytes_needed(format, n_in_file, n_frames);
  if (need < 0) throw Error(source + ": format " + std::to_string(format) + " is not decoded natively");
  if (static_cast<int64_t>(bytes) < need)
    throw Error(source + ": " + std::to_string(bytes) + " bytes for " + std::to_string(n) + " samples in format " +
                std::to_string(format) + " (need " + std::to_string(need) + ")");
  switch (format) {
    case 16:
      for (int64_t i = 0; i < n; ++i) {
        const int16_t v = static_cast<int16_t>(static_cast<uint16_t>(d[2 * i] | (d[2 * i + 1] << 8)));
        out[i] = v == -32768 ? kInvalid : v;
      }
      break;
    case 24:
      for (int64_t i = 0; i < n; ++i) {
        int32_t v = d[3 * i] | (d[3 * i + 1] << 8) | (d[3 * i + 2] << 16);
        if (v & 0x800000) v -= 0x1000000;
        out[i] = v == -8388608 ? kInvalid : v;
      }
      break;
    case 32:
      for (int64_t i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, d + 4 * i, 4);  // little-endian host (x86-64 / aarch64)
        out[i] = static_cast<int32_t>(u);
      }
      break;
    case 80:
      for (int64_t i = 0; i < n; ++i) {
        const int32_t v = static_cast<int32_t>(d[i]) - 128;
        out[i] = v == -128 ? kInvalid : v;
      }
      break;
    case 212:
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = (i / 2) * 3;
        int32_t v = (i % 2 == 0) ? (d[p] | ((d[p + 1] & 0x0F) << 8)) : (d[p + 2] | ((d[p + 1] & 0xF0) << 4));
        if (v & 0x800) v -= 0x1000;
        out[i] = v == -2048 ? kInvalid : v;
      }
      break;
  }
}

// Frames of K interleaved little-endian int16 samples -> tile[j][t] (K known at compile time,
// so each frame is one 2K-byte load and K stores).
template <int K>
static void deinterleave(const uint8_t* p, int64_t m, int16_t (*tile)[64]) {
  for (int64_t t = 0; t < m; ++t) {
    int16_t frame[K];
    std::memcpy(frame, p + 2 * K * t, sizeof frame);
    for (int j = 0; j < K; ++j) tile[j][t] = frame[j];
  }
}

void decode_physical(int format, const uint8_t* d, size_t bytes, int k, int64_t n_frames, float* const* rows,
                     const double* scale, const double* base, const std::string& source) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  if (format == 16 && k <= 32 && static_cast<int64_t>(bytes) >= 2 * n_frames * k) {
    // The hot case (CinC, PTB-XL, most 12-lead data): de-interleave 64 frames at a time into an
    // L1-resident tile, then convert each lead's run with a loop the compiler vectorises.
    constexpr int64_t kTile = 64;
    int16_t tile[32][kTile];
    for (int64_t t0 = 0; t0 < n_frames; t0 += kTile) {
      const int64_t m = std::min(kTile, n_frames - t0);
      const uint8_t* p = d + 2 * t0 * k;
      if (k == 12) {
        deinterleave<12>(p, m, tile);
      } else if (k == 8) {
        deinterleave<8>(p, m, tile);
      } else {
        for (int64_t t = 0; t < m; ++t)
          for (int j = 0; j < k; ++j) {
            int16_t v;
            std::memcpy(&v, p + 2 * (t * k + j), 2);  // little-endian host
            tile[j][t] = v;
          }
      }
      for (int j = 0; j < k; ++j) {
        float* __restrict row = rows[j] + t0;
        const double sc = scale[j], b = base[j];
        const int16_t* __restrict src = tile[j];
        // Branch-free NaN for WFDB's "no sample" code, so the loop vectorises.
        for (int64_t t = 0; t < m; ++t) {
          const int16_t v = src[t];
          const float y = static_cast<float>((static_cast<double>(v) - b) * sc);
          uint32_t bits;
          std::memcpy(&bits, &y, 4);
          const uint32_t invalid = 0u - static_cast<uint32_t>(v == -32768);
          bits = (bits & ~invalid) | (0x7fc00000u & invalid);
          std::memcpy(row + t, &bits, 4);
        }
      }
    }
    return;
  }
  std::vector<int32_t> digital(static_cast<size_t>(n_frames) * static_cast<size_t>(k));
  decode(format, d, bytes, k, n_frames, digital.data(), source);
  for (int j = 0; j < k; ++j) {
    float* row = rows[j];
    const double sc = scale[j], b = base[j];
    const int32_t* src = digital.data() + j;
    for (int64_t t = 0; t < n_frames; ++t) {
      const int32_t v = src[t * k];
      row[t] = v == kInvalid ? nan : static_cast<float>((static_cast<double>(v) - b) * sc);
    }
  }
}

Record read_record(const std::string& header_path) {
  Record rec;
  rec.header = read_header(header_path);
  const Header& h = rec.header;
  const std::string dir = dir_of(header_path);
  // Group signals by file, in order of first appearance.
  std::vector<std::string> files;
  std::map<std::string, std::vector<int>> members;
  for (int s = 0; s < h.n_signals; ++s) {
    const SignalSpec& sp = h.signals[static_cast<size_t>(s)];
    if (!known_format(sp.format))
      throw Error(header_path + ": signal " + std::to_string(s) + " (" + sp.description + "): unknown WFDB format code " +
                  std::to_string(sp.format));
    if (!native_format(sp.format))
      throw UnsupportedWfdb(header_path + ": format " + std::to_string(sp.format) + " is not decoded natively");
    if (sp.samples_per_frame != 1 || sp.skew != 0)
      throw UnsupportedWfdb(header_path + ": multi-sample frames / skew are not decoded natively");
    if (sp.file_name == "~") throw UnsupportedWfdb(header_path + ": null signal files are not decoded natively");
    if (!members.count(sp.file_name)) files.push_back(sp.file_name);
    members[sp.file_name].push_back(s);
  }
  int64_t n = h.n_samples;
  struct Loaded {
    size_t offset;  // into the per-thread byte buffer
    size_t size;
    int format;
    int n_in_file;
    std::string path;
  };
  std::vector<Loaded> loaded;
  thread_local std::vector<uint8_t> bytes;  // reused: no page faults per record
  size_t used = 0;
  for (const std::string& fname : files) {
    const std::vector<int>& idx = members[fname];
    const SignalSpec& first = h.signals[static_cast<size_t>(idx[0])];
    for (int s : idx) {
      const SignalSpec& sp = h.signals[static_cast<size_t>(s)];
      if (sp.format != first.format || sp.byte_offset != first.byte_offset)
        throw Error(header_path + ": signals in " + fname + " disagree on format or byte offset");
    }
    const std::string path = dir + fname;
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw Error(path + ": cannot open signal file named by " + header_path);
    const int64_t size = file_size(f.get());
    if (size < 0) throw Error(path + ": cannot determine file size");
    const int k = static_cast<int>(idx.size());
    const int64_t avail = size - first.byte_offset;
    if (avail < 0)
      throw Error(path + ": file has " + std::to_string(size) + " bytes, less than its byte offset " +
                  std::to_string(first.byte_offset));
    if (n < 0) {  // sample count not in the header: as many whole frames as the file holds
      const int64_t frame2 = bytes_needed(first.format, k, 2);  // bytes of two frames (212 packs pairs)
      n = (avail * 2) / frame2;
    }
    const int64_t need = bytes_needed(first.format, k, n);
    if (avail < need)
      throw Error(path + ": signal file is truncated or the header lies: " + header_path + " promises " +
                  std::to_string(n) + " samples x " + std::to_string(k) + " signals in format " +
                  std::to_string(first.format) + " (" + std::to_string(need) + " bytes after offset " +
                  std::to_string(first.byte_offset) + "), the file has " + std::to_string(avail));
    if (fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".mat") == 0 && first.format == 16)
      check_mat_v4(f.get(), path, k, n, first.byte_offset);
    Loaded L{used, static_cast<size_t>(need), first.format, k, path};
    if (bytes.size() < used + L.size) bytes.resize(used + L.size);
    if (need > 0 && (std::fseek(f.get(), static_cast<long>(first.byte_offset), SEEK_SET) != 0 ||
                     std::fread(bytes.data() + used, 1, L.size, f.get()) != L.size))
      throw Error(path + ": read error");
    used += L.size;
    loaded.push_back(std::move(L));
  }
  if (n == 0) throw Error(header_path + ": record has 0 samples");
  rec.n_samples = n;
  rec.signal.resize(static_cast<size_t>(h.n_signals) * static_cast<size_t>(n));
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const Loaded& L = loaded[fi];
    const std::vector<int>& idx = members[files[fi]];
    std::vector<float*> rows(static_cast<size_t>(L.n_in_file));
    std::vector<double> scale(rows.size()), base(rows.size());
    for (int j = 0; j < L.n_in_file; ++j) {
      const SignalSpec& sp = h.signals[static_cast<size_t>(idx[static_cast<size_t>(j)])];
      rows[static_cast<size_t>(j)] = rec.signal.data() + static_cast<size_t>(idx[static_cast<size_t>(j)]) * static_cast<size_t>(n);
      scale[static_cast<size_t>(j)] = unit_to_mv(sp.units) / sp.adc_gain;
      base[static_cast<size_t>(j)] = sp.baseline;
    }
    decode_physical(L.format, bytes.data() + L.offset, L.size, L.n_in_file, n, rows.data(), scale.data(),
                    base.data(), L.path);
  }
  return rec;
}

}  // namespace cardionets::wfdb
