// Fuzz target: the Philips Sierra XLI decoder (chunk headers, LZW with 10-bit codes, second
// differences) and the limb-lead reconstruction, on an arbitrary (base64-decoded) blob.
#include <cstdint>
#include <string>
#include <vector>

#include "cardionets/xli.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace xli = cardionets::xli;
  xli::Limits limits;
  limits.max_output_bytes = int64_t{1} << 20;  // small: every execution stays fast
  try {
    std::vector<std::vector<int16_t>> leads = xli::decode(data, size, "fuzz.xli", limits);
    FUZZ_CHECK(static_cast<int64_t>(leads.size()) <= limits.max_leads);
    int64_t total = 0;
    for (const auto& l : leads) total += static_cast<int64_t>(l.size()) * 2;
    FUZZ_CHECK(total <= limits.max_output_bytes + 2 * static_cast<int64_t>(leads.size()));
    xli::reconstruct_limb_leads(leads);
  } catch (const cardionets::Error&) {
  }
  return 0;
}
