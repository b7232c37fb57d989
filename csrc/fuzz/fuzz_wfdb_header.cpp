// Fuzz target: the WFDB header parser (cardionets::wfdb::parse_header) on arbitrary text.
// Expected failures are cardionets::Error; anything else (a crash, a sanitizer report, another
// exception, a broken invariant) is a finding. See csrc/fuzz/README.md.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cardionets/wfdb.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace wf = cardionets::wfdb;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const wf::Header h = wf::parse_header(text, "fuzz.hea");
    // Invariants the readers and the Python bindings rely on.
    FUZZ_CHECK(h.n_signals >= 1 && static_cast<int>(h.signals.size()) == h.n_signals);
    FUZZ_CHECK(h.fs > 0);
    FUZZ_CHECK(cardionets::fuzz::valid_utf8(h.record_name));
    for (const std::string& c : h.comments) FUZZ_CHECK(cardionets::fuzz::valid_utf8(c));
    for (const wf::SignalSpec& s : h.signals) {
      FUZZ_CHECK(cardionets::fuzz::valid_utf8(s.file_name) && cardionets::fuzz::valid_utf8(s.units) &&
                 cardionets::fuzz::valid_utf8(s.description));
      FUZZ_CHECK(s.byte_offset >= 0 && s.samples_per_frame >= 1);
      (void)wf::unit_to_mv(s.units);
      try {
        wf::check_signal_file_name(s.file_name, "fuzz.hea");
      } catch (const cardionets::Error&) {
      }
    }
  } catch (const cardionets::Error&) {
  }
  return 0;
}
