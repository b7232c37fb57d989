// cardionets/xli.h - decoder of the XLI waveform compression of Philips Sierra ECG XML files.
//
// Format (as described by the sierra-ecg-tools project): after base64 decoding, one chunk per
// lead. A chunk is an 8-byte little-endian header {int32 compressed size, int16 unused, int16
// start value} followed by the compressed bytes: LZW with fixed 10-bit codes packed MSB first,
// a dictionary seeded with the 256 single bytes and grown up to code 1022. The decompressed bytes
// hold 16-bit values as two planes (all high bytes, then all low bytes); the values are second
// differences, reconstructed as z = 2 y - x - previous, where previous is the preceding stored
// value minus 64 (the start value from the header seeds it). Limb leads III, aVR, aVL, aVF are
// stored as residuals from I and II (see reconstruct_limb_leads).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cardionets/core.h"

namespace cardionets::xli {

// Resource limits of one blob. LZW expands up to ~800-fold (a 10-bit code can stand for a
// 1022-byte string), so a small XML file could otherwise decode to gigabytes.
struct Limits {
  int64_t max_output_bytes = int64_t{64} << 20;  // decompressed bytes over all chunks (64 MiB)
  int64_t max_leads = 64;                        // chunks (one per lead) in a blob
};

// LZW-decompress one chunk's payload (10-bit codes), appending to `out`, which must not grow
// beyond max_out bytes. Throws cardionets::Error on a corrupt stream, LimitExceeded above max_out.
void lzw_decompress(const uint8_t* data, size_t size, std::vector<uint8_t>& out, int64_t max_out,
                    const std::string& source);
std::vector<uint8_t> lzw_decompress(const uint8_t* data, size_t size, const std::string& source);

// Decode all chunks of an XLI blob: one int16 vector per lead (raw, before limb reconstruction).
// Throws Error for a corrupt blob and LimitExceeded above `limits`.
std::vector<std::vector<int16_t>> decode(const uint8_t* data, size_t size, const std::string& source,
                                         const Limits& limits = {});

// In place: leads 0..5 are I, II, III, aVR, aVL, aVF with 2..5 stored as residuals; afterwards
// they hold the actual limb leads.
void reconstruct_limb_leads(std::vector<std::vector<int16_t>>& leads);

}  // namespace cardionets::xli
