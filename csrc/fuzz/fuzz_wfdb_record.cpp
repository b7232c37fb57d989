// Fuzz target: a whole WFDB record - header parsing, signal grouping, size checks, the MATLAB v4
// container check and every native sample format - from one input:
//   header text, a NUL byte, then the bytes every signal file named by the header holds.
// Signal files are served from memory (the same checks on names as on disk), with limits small
// enough that no input can make the target allocate more than ~64 MiB.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "cardionets/wfdb.h"
#include "fuzz_util.h"

namespace {
namespace wf = cardionets::wfdb;

class MemoryFile : public wf::SignalFile {
 public:
  MemoryFile(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  int64_t size() const override { return static_cast<int64_t>(n_); }
  void read(int64_t offset, int64_t n, uint8_t* out) const override {
    if (offset < 0 || n < 0 || offset > size() || n > size() - offset)
      throw cardionets::Error("memory file: read outside the data");
    if (n > 0) std::memcpy(out, d_ + offset, static_cast<size_t>(n));
  }

 private:
  const uint8_t* d_;
  size_t n_;
};

class MemorySource : public wf::SignalSource {
 public:
  MemorySource(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  std::unique_ptr<wf::SignalFile> open(const std::string& name) const override {
    wf::check_signal_file_name(name, "fuzz.hea");
    return std::make_unique<MemoryFile>(d_, n_);
  }

 private:
  const uint8_t* d_;
  size_t n_;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t hsize = nul ? static_cast<size_t>(nul - data) : size;
  const uint8_t* payload = nul ? nul + 1 : data + size;
  const size_t psize = nul ? size - hsize - 1 : 0;
  wf::Limits limits;
  limits.max_signal_bytes = int64_t{8} << 20;
  limits.max_samples = int64_t{1} << 22;  // 16 MiB of float32
  try {
    const wf::Header h = wf::parse_header(std::string(reinterpret_cast<const char*>(data), hsize), "fuzz.hea");
    const wf::Record r = wf::read_record(h, MemorySource(payload, psize), "fuzz.hea", limits);
    FUZZ_CHECK(r.n_samples > 0 && r.n_samples * r.header.n_signals <= limits.max_samples);
    FUZZ_CHECK(r.signal.size() == static_cast<size_t>(r.n_samples) * static_cast<size_t>(r.header.n_signals));
    volatile float sink = 0.0f;
    for (float v : r.signal) sink = sink + v;  // every sample was written (MSan/valgrind would see it)
  } catch (const cardionets::Error&) {
  }
  return 0;
}
