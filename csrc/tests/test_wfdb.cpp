// C++ test of the WFDB reader without Python: decoding of every native format from hand-made
// bytes, header parsing, and clear errors for bad input (argv[1]: a scratch directory).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cardionets/cardionets.h"
#include "check.h"

namespace wf = cardionets::wfdb;

static void write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

static bool throws_with(const std::string& header, const char* fragment) {
  try {
    wf::read_record(header);
  } catch (const cardionets::Error& e) {
    if (std::strstr(e.what(), fragment) && std::strstr(e.what(), header.c_str()) != nullptr) return true;
    if (std::strstr(e.what(), fragment)) return true;
    std::fprintf(stderr, "unexpected message: %s\n", e.what());
    return false;
  }
  return false;
}

int main(int argc, char** argv) {
  const std::string dir = (argc > 1 ? std::string(argv[1]) : std::string(".")) + "/";
  // Decoders.
  {
    const uint8_t f16[] = {0x01, 0x00, 0xff, 0xff, 0x00, 0x80};
    int32_t out[3];
    wf::decode(16, f16, sizeof f16, 1, 3, out, "f16");
    CHECK(out[0] == 1 && out[1] == -1 && out[2] == INT32_MIN);  // -32768 is WFDB's "no sample"
    const uint8_t f212[] = {0x01, 0xF2, 0xFF};                    // 0x201, 0xFFF -> 513, -1
    wf::decode(212, f212, sizeof f212, 2, 1, out, "f212");
    CHECK(out[0] == 513 && out[1] == -1);
    const uint8_t f24[] = {0xfe, 0xff, 0xff, 0x10, 0x00, 0x00};
    wf::decode(24, f24, sizeof f24, 1, 2, out, "f24");
    CHECK(out[0] == -2 && out[1] == 16);
    const uint8_t f80[] = {128, 129, 0};
    wf::decode(80, f80, sizeof f80, 1, 3, out, "f80");
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == INT32_MIN);
  }
  // A small record: 2 signals, format 16, gains 200 and 100 (uV), baseline 10.
  {
    std::string dat;
    const int16_t v[] = {210, 100, 410, -100, 10, 0};
    dat.assign(reinterpret_cast<const char*>(v), sizeof v);
    write(dir + "ok.dat", dat);
    write(dir + "ok.hea", "ok 2 500 3\nok.dat 16 200(10)/mV 16 0 0 0 0 I\nok.dat 16 100/uV 16 0 0 0 0 II\n# Age: 40\n");
    const wf::Record r = wf::read_record(dir + "ok.hea");
    CHECK(r.n_samples == 3 && r.header.fs == 500.0 && r.header.signals[1].description == "II");
    CHECK(r.signal[0] == 1.0f && r.signal[1] == 2.0f && r.signal[2] == 0.0f);
    CHECK(std::fabs(r.signal[3] - 0.001f) < 1e-9f && std::fabs(r.signal[4] + 0.001f) < 1e-9f);
    CHECK(r.header.comments.size() == 1 && r.header.comments[0] == "Age: 40");
  }
  // Bad input: each a clear cardionets::Error.
  write(dir + "trunc.dat", std::string(5, '\0'));
  write(dir + "trunc.hea", "trunc 2 500 3\ntrunc.dat 16 200 16 0 0 0 0 I\ntrunc.dat 16 200 16 0 0 0 0 II\n");
  CHECK(throws_with(dir + "trunc.hea", "truncated"));
  write(dir + "fmt.hea", "fmt 1 500 3\nok.dat 999 200 16 0 0 0 0 I\n");
  CHECK(throws_with(dir + "fmt.hea", "unknown WFDB format code 999"));
  write(dir + "gain.hea", "gain 1 500 3\nok.dat 16 abc/mV 16 0 0 0 0 I\n");
  CHECK(throws_with(dir + "gain.hea", "is not a number"));
  write(dir + "zero.hea", "zero 0 500 3\n");
  CHECK(throws_with(dir + "zero.hea", "0 signals"));
  write(dir + "few.hea", "few 3 500 3\nok.dat 16 200 16 0 0 0 0 I\n");
  CHECK(throws_with(dir + "few.hea", "declares 3 signals but describes 1"));
  CHECK(throws_with(dir + "missing.hea", "cannot open"));
  bool unsupported = false;
  write(dir + "f61.hea", "f61 1 500 3\nok.dat 61 200 16 0 0 0 0 I\n");
  try {
    wf::read_record(dir + "f61.hea");
  } catch (const wf::UnsupportedWfdb&) {
    unsupported = true;
  }
  CHECK(unsupported);

  // Hostile input: declared sizes above the limits (checked before allocating), files outside the
  // folder, Latin-1 text, and the XLI output limit.
  auto limit_hit = [](const std::string& header, const wf::Limits& lim, const char* fragment) {
    try {
      wf::read_record(header, lim);
    } catch (const cardionets::LimitExceeded& e) {
      return std::strstr(e.what(), fragment) != nullptr;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "not a LimitExceeded: %s\n", e.what());
    }
    return false;
  };
  std::string big = "big 12 500 1500000000000000000\n";
  for (int i = 0; i < 12; ++i) big += "ok.dat 16 200 16 0 0 0 0 L\n";
  write(dir + "big.hea", big);
  CHECK(limit_hit(dir + "big.hea", wf::Limits{}, "Limits::max_samples"));
  wf::Limits small;
  small.max_signal_bytes = 8;
  CHECK(limit_hit(dir + "ok.hea", small, "Limits::max_signal_bytes"));
  write(dir + "esc.hea", "esc 1 500 3\n../ok.dat 16 200 16 0 0 0 0 I\n");
  CHECK(throws_with(dir + "esc.hea", "leaves the header's folder"));
  write(dir + "abs.hea", "abs 1 500 3\n/etc/passwd 16 200 16 0 0 0 0 I\n");
  CHECK(throws_with(dir + "abs.hea", "absolute path"));
  write(dir + "lat.hea", "lat 2 500 3\nok.dat 16 200(10)/mV 16 0 0 0 0 Ableitung \xe4\nok.dat 16 100/\xb5V 16 0 0 0 0 II\n");
  {
    const wf::Record r = wf::read_record(dir + "lat.hea");
    CHECK(r.header.signals[0].description == "Ableitung \xc3\xa4");  // Latin-1 a-umlaut as UTF-8
    CHECK(std::fabs(r.signal[3] - 0.001f) < 1e-9f);                  // micro volts
  }
  {
    // LZW codes 0, 256, 257, ... each one byte longer than the last: output outgrows the input
    std::vector<int> codes = {0};
    for (int c = 256; c <= 1022; ++c) codes.push_back(c);
    std::string bits;
    for (int c : codes)
      for (int b = 9; b >= 0; --b) bits += ((c >> b) & 1) ? '1' : '0';
    bits += "1111111111";
    while (bits.size() % 8) bits += '0';
    bits += std::string(32, '0');
    std::vector<uint8_t> blob(8, 0);
    for (size_t i = 0; i < bits.size(); i += 8) blob.push_back(static_cast<uint8_t>(std::stoi(bits.substr(i, 8), nullptr, 2)));
    const int32_t payload = static_cast<int32_t>(blob.size() - 8);
    std::memcpy(blob.data(), &payload, 4);
    cardionets::xli::Limits lim;
    const auto leads = cardionets::xli::decode(blob.data(), blob.size(), "lzw", lim);
    CHECK(leads.size() == 1 && leads[0].size() > 100000);
    lim.max_output_bytes = 4096;
    bool refused = false;
    try {
      cardionets::xli::decode(blob.data(), blob.size(), "lzw", lim);
    } catch (const cardionets::LimitExceeded&) {
      refused = true;
    }
    CHECK(refused);
  }
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("test_wfdb: ok\n");
  return 0;
}
