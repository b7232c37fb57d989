// WFDB signal decoding (formats 16, 212, 24, 32, 80) and whole-record reading.
//
// Every size derived from a header goes through checked arithmetic and is compared with the file
// and with Limits before any buffer is allocated; signal files are read in bounded chunks.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>

#include "../core/isa_target.h"
#include "cardionets/wfdb.h"
#include "safe_file.h"

namespace cardionets::wfdb {

namespace {

constexpr int32_t kInvalid = std::numeric_limits<int32_t>::min();
// Bytes read and decoded per step (a whole 12 x 5000 record is one step).
constexpr int64_t kChunkBytes = int64_t{4} << 20;

bool native_format(int f) { return f == 16 || f == 212 || f == 24 || f == 32 || f == 80; }
bool known_format(int f) {
  static const int known[] = {0, 8, 16, 24, 32, 61, 80, 160, 212, 310, 311, 508, 516, 524};
  for (int k : known)
    if (k == f) return true;
  return false;
}

class DiskFile : public SignalFile {
 public:
  explicit DiskFile(const std::string& path) : f_(path, /*follow_symlinks=*/false) {}
  DiskFile(int fd, const std::string& path) : f_(fd, path) {}
  int64_t size() const override { return f_.size(); }
  void read(int64_t offset, int64_t n, uint8_t* out) const override { f_.read(offset, n, out); }

 private:
  io::InputFile f_;
};

// MATLAB v4 header of a CinC .mat file: type (MOPT), rows, cols, imagf, name length, name.
void check_mat_v4(const SignalFile& f, const std::string& path, int n_in_file, int64_t n_frames,
                  int64_t byte_offset) {
  if (byte_offset < 20 || f.size() < 20) return;
  int32_t hdr[5];
  f.read(0, sizeof hdr, reinterpret_cast<uint8_t*>(hdr));
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
  if (n_in_file < 1 || n_frames < 0) return -1;
  int64_t n, out;
  if (__builtin_mul_overflow(n_frames, static_cast<int64_t>(n_in_file), &n)) return -1;
  switch (format) {
    case 16: return __builtin_mul_overflow(n, int64_t{2}, &out) ? -1 : out;
    case 24: return __builtin_mul_overflow(n, int64_t{3}, &out) ? -1 : out;
    case 32: return __builtin_mul_overflow(n, int64_t{4}, &out) ? -1 : out;
    case 80: return n;
    case 212:
      if (__builtin_mul_overflow(n / 2, int64_t{3}, &out) || __builtin_add_overflow(out, n % 2 ? 2 : 0, &out))
        return -1;
      return out;
    default: return -1;
  }
}

void decode(int format, const uint8_t* d, size_t bytes, int n_in_file, int64_t n_frames, int32_t* out,
            const std::string& source) {
  if (!native_format(format)) throw Error(source + ": format " + std::to_string(format) + " is not decoded natively");
  const int64_t need = bytes_needed(format, n_in_file, n_frames);
  if (need < 0)
    throw Error(source + ": " + std::to_string(n_frames) + " frames of " + std::to_string(n_in_file) +
                " signals cannot be decoded (negative or overflowing size)");
  const int64_t n = n_frames * n_in_file;  // cannot overflow: bytes_needed checked it
  if (bytes < static_cast<uint64_t>(need))
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

// The format-16 hot path (CinC, PTB-XL, most 12-lead data), once per instruction-set path
// (cardionets/isa.h): de-interleave 64 frames at a time into an L1-resident tile, then convert
// each lead's run with a loop the compiler vectorises for that path.
#define CN_PATH scalar
#define CN_T inline
#include "decode16.inc"
#undef CN_PATH
#undef CN_T
#if CARDIONETS_HAVE_AVX_PATHS
#define CN_PATH avx2
#define CN_T CARDIONETS_TARGET_AVX2 inline
#include "decode16.inc"
#undef CN_PATH
#undef CN_T
#define CN_PATH avx512
#define CN_T CARDIONETS_TARGET_AVX512 inline
#include "decode16.inc"
#undef CN_PATH
#undef CN_T
#endif

void decode_physical(int format, const uint8_t* d, size_t bytes, int k, int64_t n_frames, float* const* rows,
                     const double* scale, const double* base, const std::string& source) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t need = bytes_needed(format, k, n_frames);
  if (!native_format(format)) throw Error(source + ": format " + std::to_string(format) + " is not decoded natively");
  if (need < 0 || bytes < static_cast<uint64_t>(need))
    throw Error(source + ": " + std::to_string(bytes) + " bytes cannot hold " + std::to_string(n_frames) +
                " frames of " + std::to_string(k) + " signals in format " + std::to_string(format));
  if (format == 16 && k <= 32) {
    using Decode16 = void (*)(const uint8_t*, int, int64_t, float* const*, const double*, const double*);
#if CARDIONETS_HAVE_AVX_PATHS
    cardionets::detail::pick_isa<Decode16>(scalar::decode16, avx2::decode16, avx512::decode16)(d, k, n_frames, rows,
                                                                                                scale, base);
#else
    cardionets::detail::pick_isa<Decode16>(scalar::decode16, nullptr, nullptr)(d, k, n_frames, rows, scale, base);
#endif
    return;
  }
  // Other formats: through int32 digital values, a bounded block of frames at a time (an even
  // number, so a block of format 212 starts on a whole byte).
  constexpr int64_t kBlock = 4096;
  std::vector<int32_t> digital(static_cast<size_t>(std::min(n_frames, kBlock)) * static_cast<size_t>(k));
  for (int64_t t0 = 0; t0 < n_frames; t0 += kBlock) {
    const int64_t m = std::min(kBlock, n_frames - t0);
    const int64_t off = bytes_needed(format, k, t0);
    decode(format, d + off, bytes - static_cast<size_t>(off), k, m, digital.data(), source);
    for (int j = 0; j < k; ++j) {
      float* row = rows[j] + t0;
      const double sc = scale[j], b = base[j];
      const int32_t* src = digital.data() + j;
      for (int64_t t = 0; t < m; ++t) {
        const int32_t v = src[t * k];
        row[t] = v == kInvalid ? nan : static_cast<float>((static_cast<double>(v) - b) * sc);
      }
    }
  }
}

void check_signal_file_name(const std::string& name, const std::string& source) {
  if (name.empty()) throw Error(source + ": empty signal file name");
  if (name[0] == '/')
    throw Error(source + ": signal file '" + name + "' is an absolute path; signal files must be in the header's folder");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) throw Error(source + ": signal file name contains control characters");
  size_t start = 0;
  while (start <= name.size()) {
    const size_t slash = std::min(name.find('/', start), name.size());
    if (name.compare(start, slash - start, "..") == 0 && slash - start == 2)
      throw Error(source + ": signal file '" + name + "' leaves the header's folder ('..'); signal files must be in "
                  "the header's folder");
    start = slash + 1;
  }
}

FolderSource::FolderSource(std::string header_path)
    : header_path_(std::move(header_path)), dir_(io::dir_of(header_path_)) {}

std::unique_ptr<SignalFile> FolderSource::open(const std::string& name) const {
  check_signal_file_name(name, header_path_);
  const std::string path = dir_ + name;
  // The common case, a plain file of the folder: opened relative to the folder without following
  // links, so it is inside by construction (no path resolution needed).
  if (name.find('/') == std::string::npos) {
    const int fd = io::open_in_folder(dir_, name);
    if (fd >= 0) return std::make_unique<DiskFile>(fd, path);
  }
  // A link or a subfolder: resolve, then check where it lands.
  const std::string real = io::real_path(path);
  if (real.empty()) throw Error(path + ": cannot open signal file named by " + header_path_);
  // The record's folder: the folder the header was given in, or - when the header is a symbolic
  // link, as in a folder of links to records stored elsewhere - the folder it resolves to.
  const std::string roots[2] = {io::real_path(dir_.empty() ? std::string(".") : dir_),
                                io::dir_of(io::real_path(header_path_))};
  for (const std::string& root : roots) {
    if (root.empty()) continue;
    const std::string prefix = root.back() == '/' ? root : root + "/";
    if (real.compare(0, prefix.size(), prefix) == 0) return std::make_unique<DiskFile>(real);
  }
  throw Error(header_path_ + ": signal file '" + name + "' resolves to " + real + ", outside the record's folder " +
              roots[0] + " (signal files must stay in the header's folder; symbolic links out of it are refused)");
}

namespace {

std::string mul_str(int64_t a, int64_t b) { return std::to_string(a) + " x " + std::to_string(b); }

struct FileGroup {
  std::string name;
  std::vector<int> signals;  // indices into the header's signals, in file order
  std::unique_ptr<SignalFile> file;
  int64_t need = 0;
};

}  // namespace

Record read_record(const Header& h, const SignalSource& source_files, const std::string& src, const Limits& limits) {
  Record rec;
  rec.header = h;
  if (h.n_signals < 1 || static_cast<int>(h.signals.size()) != h.n_signals)
    throw Error(src + ": header describes " + std::to_string(h.signals.size()) + " of " +
                std::to_string(h.n_signals) + " signals");
  // Group signals by file, in order of first appearance.
  std::vector<FileGroup> groups;
  std::map<std::string, size_t> group_of;
  for (int s = 0; s < h.n_signals; ++s) {
    const SignalSpec& sp = h.signals[static_cast<size_t>(s)];
    if (!known_format(sp.format))
      throw Error(src + ": signal " + std::to_string(s) + " (" + sp.description + "): unknown WFDB format code " +
                  std::to_string(sp.format));
    if (!native_format(sp.format))
      throw UnsupportedWfdb(src + ": format " + std::to_string(sp.format) + " is not decoded natively");
    if (sp.samples_per_frame != 1 || sp.skew != 0)
      throw UnsupportedWfdb(src + ": multi-sample frames / skew are not decoded natively");
    if (sp.file_name == "~") throw UnsupportedWfdb(src + ": null signal files are not decoded natively");
    check_signal_file_name(sp.file_name, src);
    auto it = group_of.find(sp.file_name);
    if (it == group_of.end()) {
      it = group_of.emplace(sp.file_name, groups.size()).first;
      groups.push_back(FileGroup{sp.file_name, {}, nullptr, 0});
    }
    groups[it->second].signals.push_back(s);
  }
  // Declared sizes against the limits before any file is opened.
  int64_t n = h.n_samples, total_samples = 0;
  if (n >= 0 && (__builtin_mul_overflow(n, static_cast<int64_t>(h.n_signals), &total_samples) ||
                 total_samples > limits.max_samples))
    throw LimitExceeded(src + ": header declares " + mul_str(n, h.n_signals) +
                        " samples, above the limit of " + std::to_string(limits.max_samples) +
                        " samples per record (Limits::max_samples)");
  int64_t total_bytes = 0;
  for (FileGroup& g : groups) {
    const SignalSpec& first = h.signals[static_cast<size_t>(g.signals[0])];
    for (int s : g.signals) {
      const SignalSpec& sp = h.signals[static_cast<size_t>(s)];
      if (sp.format != first.format || sp.byte_offset != first.byte_offset)
        throw Error(src + ": signals in " + g.name + " disagree on format or byte offset");
    }
    g.file = source_files.open(g.name);
    const int64_t size = g.file->size();
    const int k = static_cast<int>(g.signals.size());
    if (first.byte_offset > size)
      throw Error(g.name + ": file has " + std::to_string(size) + " bytes, less than its byte offset " +
                  std::to_string(first.byte_offset) + " (header " + src + ")");
    const int64_t avail = size - first.byte_offset;
    if (n < 0) {  // sample count not in the header: as many whole frames as the file holds
      const int64_t frame2 = bytes_needed(first.format, k, 2);  // bytes of two frames (212 packs pairs)
      if (frame2 <= 0) throw Error(src + ": cannot size frames of " + g.name);
      n = (avail / frame2) * 2 + ((avail % frame2) >= bytes_needed(first.format, k, 1) ? 1 : 0);
      if (__builtin_mul_overflow(n, static_cast<int64_t>(h.n_signals), &total_samples) ||
          total_samples > limits.max_samples)
        throw LimitExceeded(src + ": " + g.name + " holds " + mul_str(n, h.n_signals) +
                            " samples (no sample count in the header), above the limit of " +
                            std::to_string(limits.max_samples) + " samples per record (Limits::max_samples)");
    }
    g.need = bytes_needed(first.format, k, n);
    if (g.need < 0 || __builtin_add_overflow(total_bytes, g.need, &total_bytes) ||
        total_bytes > limits.max_signal_bytes)
      throw LimitExceeded(src + ": the record's signal files need " +
                          (g.need < 0 ? std::string("more than 2^63") : std::to_string(total_bytes)) +
                          " bytes (" + mul_str(n, k) + " samples in format " + std::to_string(first.format) + " in " +
                          g.name + "), above the limit of " + std::to_string(limits.max_signal_bytes) +
                          " bytes per record (Limits::max_signal_bytes)");
    if (avail < g.need)
      throw Error(g.name + ": signal file is truncated or the header lies: " + src + " promises " +
                  std::to_string(n) + " samples x " + std::to_string(k) + " signals in format " +
                  std::to_string(first.format) + " (" + std::to_string(g.need) + " bytes after offset " +
                  std::to_string(first.byte_offset) + "), the file has " + std::to_string(avail));
    if (g.name.size() > 4 && g.name.compare(g.name.size() - 4, 4, ".mat") == 0 && first.format == 16)
      check_mat_v4(*g.file, g.name, k, n, first.byte_offset);
  }
  if (n == 0) throw Error(src + ": record has 0 samples");
  rec.n_samples = n;
  rec.signal.resize(static_cast<size_t>(total_samples));
  thread_local std::vector<uint8_t> chunk;  // reused across records: no page faults per record
  for (const FileGroup& g : groups) {
    const int k = static_cast<int>(g.signals.size());
    const SignalSpec& first = h.signals[static_cast<size_t>(g.signals[0])];
    std::vector<float*> rows(static_cast<size_t>(k));
    std::vector<double> scale(rows.size()), base(rows.size());
    for (int j = 0; j < k; ++j) {
      const SignalSpec& sp = h.signals[static_cast<size_t>(g.signals[static_cast<size_t>(j)])];
      scale[static_cast<size_t>(j)] = unit_to_mv(sp.units) / sp.adc_gain;
      base[static_cast<size_t>(j)] = sp.baseline;
    }
    // Frames per chunk: even (format 212 packs sample pairs), at least 2.
    const int64_t frame2 = bytes_needed(first.format, k, 2);
    const int64_t step = std::max<int64_t>(2, (kChunkBytes / frame2) * 2);
    for (int64_t t0 = 0; t0 < n; t0 += step) {
      const int64_t m = std::min(step, n - t0);
      const int64_t off = bytes_needed(first.format, k, t0), len = bytes_needed(first.format, k, m);
      if (static_cast<int64_t>(chunk.size()) < len) chunk.resize(static_cast<size_t>(len));
      g.file->read(first.byte_offset + off, len, chunk.data());
      for (int j = 0; j < k; ++j)
        rows[static_cast<size_t>(j)] =
            rec.signal.data() + static_cast<size_t>(g.signals[static_cast<size_t>(j)]) * static_cast<size_t>(n) +
            static_cast<size_t>(t0);
      decode_physical(first.format, chunk.data(), static_cast<size_t>(len), k, m, rows.data(), scale.data(),
                      base.data(), g.name);
    }
  }
  return rec;
}

Record read_record(const std::string& header_path, const Limits& limits) {
  const Header h = read_header(header_path, limits);
  return read_record(h, FolderSource(header_path), header_path, limits);
}

}  // namespace cardionets::wfdb
