// XLI (Philips Sierra ECG XML) waveform decompression; see cardionets/xli.h for the format.
//
// Hostile input: chunk sizes are checked against the blob, every dictionary access against the
// dictionary's current size, and the decompressed size against Limits as it grows.
#include "cardionets/xli.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace cardionets::xli {

namespace {
constexpr int kBits = 10;
constexpr int kMaxCode = (1 << kBits) - 2;  // 1022: the last dictionary entry; 1023 ends a chunk
constexpr size_t kEntries = kMaxCode + 1;
}  // namespace

void lzw_decompress(const uint8_t* data, size_t size, std::vector<uint8_t>& out, int64_t max_out,
                    const std::string& source) {
  // Dictionary entries as (prefix code, last byte, first byte, length); strings are rebuilt backwards.
  int32_t prefix[kEntries];
  uint8_t last[kEntries], first[kEntries];
  int32_t length[kEntries];
  for (int c = 0; c < 256; ++c) {
    prefix[c] = -1;
    last[c] = first[c] = static_cast<uint8_t>(c);
    length[c] = 1;
  }
  int next = 256;
  uint64_t bitbuf = 0;
  int bitcount = 0;
  size_t pos = 0;
  int prev = -1;
  uint8_t tmp[kEntries + 1];
  while (true) {
    // The encoder's reader keeps a 32-bit window and stops as soon as it cannot hold more than
    // 24 bits: the last bits of a chunk are padding, and code 1023 marks the end.
    bool ended = false;
    while (bitcount <= 24) {
      if (pos >= size) {
        ended = true;
        break;
      }
      bitbuf = ((bitbuf << 8) | data[pos++]) & 0xFFFFFFFFu;
      bitcount += 8;
    }
    if (ended) break;
    const int code = static_cast<int>((bitbuf >> (bitcount - kBits)) & ((1u << kBits) - 1));
    bitcount -= kBits;
    if (code > kMaxCode) break;
    int emit = code;
    bool append_first = false;
    if (code >= next) {
      if (prev < 0 || code != next)
        throw Error(source + ": corrupt XLI stream (LZW code " + std::to_string(code) + " before it was defined)");
      emit = prev;  // the KwKwK case: prev's string plus its own first byte
      append_first = true;
    }
    // The string of `emit`, backwards into tmp (its length is at most the dictionary size).
    const int32_t len = length[emit];
    if (len < 1 || len > static_cast<int32_t>(kEntries))
      throw Error(source + ": corrupt XLI stream (LZW string length " + std::to_string(len) + ")");
    int c = emit;
    for (int32_t k = len - 1; k >= 0; --k) {
      if (c < 0 || c >= next) throw Error(source + ": corrupt XLI stream (LZW prefix chain)");
      tmp[k] = last[c];
      c = prefix[c];
    }
    int32_t n_emit = len;
    if (append_first) tmp[n_emit++] = first[prev];
    if (static_cast<int64_t>(out.size()) + n_emit > max_out)
      throw LimitExceeded(source + ": XLI waveform decompresses to more than " + std::to_string(max_out) +
                          " bytes (xli::Limits::max_output_bytes)");
    out.insert(out.end(), tmp, tmp + n_emit);
    if (prev >= 0 && next <= kMaxCode) {
      prefix[next] = prev;
      last[next] = tmp[0];
      first[next] = first[prev];
      length[next] = length[prev] + 1;
      ++next;
    }
    prev = code < next ? code : next - 1;
  }
}

std::vector<uint8_t> lzw_decompress(const uint8_t* data, size_t size, const std::string& source) {
  std::vector<uint8_t> out;
  lzw_decompress(data, size, out, Limits{}.max_output_bytes, source);
  return out;
}

std::vector<std::vector<int16_t>> decode(const uint8_t* data, size_t size, const std::string& source,
                                         const Limits& limits) {
  std::vector<std::vector<int16_t>> leads;
  std::vector<uint8_t> bytes;
  int64_t total = 0;
  size_t off = 0;
  while (size - off >= 8) {
    if (static_cast<int64_t>(leads.size()) >= limits.max_leads)
      throw LimitExceeded(source + ": XLI data holds more than " + std::to_string(limits.max_leads) +
                          " chunks (xli::Limits::max_leads)");
    int32_t csize;
    int16_t start;
    std::memcpy(&csize, data + off, 4);
    std::memcpy(&start, data + off + 6, 2);
    off += 8;
    if (csize < 0 || static_cast<size_t>(csize) > size - off)
      throw Error(source + ": corrupt XLI chunk " + std::to_string(leads.size()) + " (size " + std::to_string(csize) +
                  " runs past the end of the data)");
    bytes.clear();
    lzw_decompress(data + off, static_cast<size_t>(csize), bytes, limits.max_output_bytes - total, source);
    total += static_cast<int64_t>(bytes.size());
    off += static_cast<size_t>(csize);
    if (bytes.size() % 2) bytes.push_back(0);
    const size_t n = bytes.size() / 2;
    std::vector<int16_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<int16_t>(static_cast<uint16_t>((bytes[i] << 8) | bytes[n + i]));
    // Second-difference decoding (16-bit wrap-around arithmetic, as the encoder's).
    if (n >= 2) {
      int16_t x = v[0], y = v[1], prev = start;
      for (size_t i = 2; i < n; ++i) {
        const int16_t z = static_cast<int16_t>(2 * y - x - prev);
        prev = static_cast<int16_t>(v[i] - 64);
        v[i] = z;
        x = y;
        y = z;
      }
    }
    leads.push_back(std::move(v));
  }
  return leads;
}

void reconstruct_limb_leads(std::vector<std::vector<int16_t>>& L) {
  if (L.size() < 6) return;
  const size_t n = std::min({L[0].size(), L[1].size(), L[2].size(), L[3].size(), L[4].size(), L[5].size()});
  auto half = [](int v) { return static_cast<int>(std::floor(v / 2.0)); };
  for (size_t i = 0; i < n; ++i) {
    const int a = L[0][i], b = L[1][i];
    const int iii = b - a - L[2][i];
    L[2][i] = static_cast<int16_t>(iii);
    L[3][i] = static_cast<int16_t>(-L[3][i] - half(a + b));
    L[4][i] = static_cast<int16_t>(half(a - iii) - L[4][i]);
    L[5][i] = static_cast<int16_t>(half(b + iii) - L[5][i]);
  }
}

}  // namespace cardionets::xli
