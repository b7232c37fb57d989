// XLI (Philips Sierra ECG XML) waveform decompression; see cardionets/xli.h for the format.
#include "cardionets/xli.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace cardionets::xli {

std::vector<uint8_t> lzw_decompress(const uint8_t* data, size_t size, const std::string& source) {
  constexpr int kBits = 10;
  constexpr int kMaxCode = (1 << kBits) - 2;
  // Dictionary entries as (prefix code, last byte, length); strings are rebuilt backwards.
  std::vector<int32_t> prefix(static_cast<size_t>(kMaxCode + 1), -1);
  std::vector<uint8_t> last(static_cast<size_t>(kMaxCode + 1), 0), first(static_cast<size_t>(kMaxCode + 1), 0);
  std::vector<int32_t> length(static_cast<size_t>(kMaxCode + 1), 0);
  for (int c = 0; c < 256; ++c) {
    last[static_cast<size_t>(c)] = static_cast<uint8_t>(c);
    first[static_cast<size_t>(c)] = static_cast<uint8_t>(c);
    length[static_cast<size_t>(c)] = 1;
  }
  int next = 256;
  std::vector<uint8_t> out;
  out.reserve(size * 3);
  uint64_t bitbuf = 0;
  int bitcount = 0;
  size_t pos = 0;
  int prev = -1;
  std::vector<uint8_t> tmp;
  while (true) {
    // The encoder's reader keeps a 32-bit window and stops as soon as it cannot hold more than
    // 24 bits: the last bits of a chunk are padding, and code 1023 marks the end.
    bool ended = false;
    while (bitcount <= 24) {
      if (pos >= size) {
        ended = true;
        break;
      }
      bitbuf = (bitbuf << 8) | data[pos++];
      bitcount += 8;
    }
    if (ended) break;
    const int code = static_cast<int>((bitbuf >> (bitcount - kBits)) & ((1u << kBits) - 1));
    bitcount -= kBits;
    if (code > kMaxCode) break;
    int emit = code;
    uint8_t extra = 0;
    bool append_first = false;
    if (code >= next) {
      if (prev < 0 || code != next)
        throw Error(source + ": corrupt XLI stream (LZW code " + std::to_string(code) + " before it was defined)");
      emit = prev;  // the KwKwK case: prev's string plus its own first byte
      extra = first[static_cast<size_t>(prev)];
      append_first = true;
    }
    // Write the string of `emit` (backwards into tmp, then forwards into out).
    const int32_t len = length[static_cast<size_t>(emit)];
    tmp.resize(static_cast<size_t>(len));
    int c = emit;
    for (int32_t k = len - 1; k >= 0; --k) {
      tmp[static_cast<size_t>(k)] = last[static_cast<size_t>(c)];
      c = prefix[static_cast<size_t>(c)];
    }
    out.insert(out.end(), tmp.begin(), tmp.end());
    if (append_first) out.push_back(extra);
    const uint8_t first_byte = tmp.empty() ? extra : tmp[0];
    if (prev >= 0 && next <= kMaxCode) {
      prefix[static_cast<size_t>(next)] = prev;
      last[static_cast<size_t>(next)] = first_byte;
      first[static_cast<size_t>(next)] = first[static_cast<size_t>(prev)];
      length[static_cast<size_t>(next)] = length[static_cast<size_t>(prev)] + 1;
      ++next;
    }
    prev = code < next ? code : next - 1;
  }
  return out;
}

std::vector<std::vector<int16_t>> decode(const uint8_t* data, size_t size, const std::string& source) {
  std::vector<std::vector<int16_t>> leads;
  size_t off = 0;
  while (off + 8 <= size) {
    int32_t csize;
    int16_t start;
    std::memcpy(&csize, data + off, 4);
    std::memcpy(&start, data + off + 6, 2);
    off += 8;
    if (csize < 0 || off + static_cast<size_t>(csize) > size)
      throw Error(source + ": corrupt XLI chunk " + std::to_string(leads.size()) + " (size " + std::to_string(csize) +
                  " runs past the end of the data)");
    std::vector<uint8_t> bytes = lzw_decompress(data + off, static_cast<size_t>(csize), source);
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
  if (off != size && size - off >= 8) throw Error(source + ": trailing bytes after the last XLI chunk");
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
