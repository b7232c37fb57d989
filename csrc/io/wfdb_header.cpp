// WFDB header (.hea) parsing, following the WFDB header(5) format description.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>
#include <cstdint>

#include "cardionets/wfdb.h"
#include "safe_file.h"

namespace cardionets::wfdb {

namespace {

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < n && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) out.emplace_back(line, i, j - i);
    i = j;
  }
  return out;
}

// Parse a whole token (or its prefix up to `end`) as a number; throw naming the field otherwise.
double parse_double(const std::string& s, const std::string& what, const std::string& source) {
  if (s.empty()) throw Error(source + ": " + what + " is empty");
  char* endp = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &endp);
  if (endp == s.c_str() || *endp != '\0' || errno == ERANGE || !std::isfinite(v))
    throw Error(source + ": " + what + " '" + s + "' is not a number");
  return v;
}

int64_t parse_int(const std::string& s, const std::string& what, const std::string& source) {
  if (s.empty()) throw Error(source + ": " + what + " is empty");
  char* endp = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &endp, 10);
  if (endp == s.c_str() || *endp != '\0' || errno == ERANGE)
    throw Error(source + ": " + what + " '" + s + "' is not an integer");
  return static_cast<int64_t>(v);
}

// An integer field stored as int: refused outside [lo, hi] instead of being truncated.
int parse_small(const std::string& s, const std::string& what, const std::string& source, int64_t lo = INT32_MIN,
                int64_t hi = INT32_MAX) {
  const int64_t v = parse_int(s, what, source);
  if (v < lo || v > hi)
    throw Error(source + ": " + what + " " + s + " is out of range [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return static_cast<int>(v);
}

// Strict UTF-8 validation (the rules Python's decoder applies: no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i + k < n && p[i + k] >= lo && p[i + k] <= hi;
  };
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!cont(1)) return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      if (!cont(1, lo, hi) || !cont(2)) return false;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      if (!cont(1, lo, hi) || !cont(2) || !cont(3)) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

// Header text as UTF-8: unchanged when it is valid UTF-8, else read as Latin-1 (every byte is a
// character there), which is what older WFDB headers with a stray "\xb5V" or accented name hold.
std::string to_utf8(const std::string& text) {
  if (valid_utf8(text)) return text;
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (unsigned char c : text) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

void parse_record_line(const std::vector<std::string>& t, Header& h, const std::string& src) {
  const std::string& name = t.at(0);
  if (name.find('/') != std::string::npos)
    throw UnsupportedWfdb(src + ": multi-segment records (" + name + ") are not decoded natively");
  h.record_name = name;
  if (t.size() < 2) throw Error(src + ": record line has no signal count");
  const int64_t nsig = parse_int(t[1], "signal count", src);
  if (nsig < 0 || nsig > 4096) throw Error(src + ": signal count " + t[1] + " out of range");
  h.n_signals = static_cast<int>(nsig);
  if (t.size() > 2) {
    // fs[/counter_freq[(base_counter)]]
    std::string f = t[2];
    const size_t cut = f.find_first_of("/(");
    h.fs = parse_double(f.substr(0, cut), "sampling frequency", src);
    if (!(h.fs > 0)) throw Error(src + ": sampling frequency " + f + " must be positive");
  }
  if (t.size() > 3) {
    h.n_samples = parse_int(t[3], "sample count", src);
    if (h.n_samples < 0) throw Error(src + ": sample count " + t[3] + " is negative");
  }
  if (t.size() > 4) h.base_time = t[4];
  if (t.size() > 5) h.base_date = t[5];
}

SignalSpec parse_signal_line(const std::vector<std::string>& t, int index, const std::string& src, int line_no) {
  const std::string where = src + " line " + std::to_string(line_no) + ": signal " + std::to_string(index);
  SignalSpec s;
  if (t.size() < 2) throw Error(where + ": line needs at least a file name and a format");
  s.file_name = t[0];
  // format[xsamples_per_frame][:skew][+byte_offset]
  const std::string& f = t[1];
  size_t i = 0;
  while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]))) ++i;
  if (i == 0) throw Error(where + ": format '" + f + "' is not a number");
  s.format = parse_small(f.substr(0, i), "format", where, 0, 999);
  while (i < f.size()) {
    const char tag = f[i++];
    if (tag != 'x' && tag != ':' && tag != '+') throw Error(where + ": cannot parse format field '" + f + "'");
    size_t j = i;
    while (j < f.size() && (std::isdigit(static_cast<unsigned char>(f[j])) || (j == i && f[j] == '-'))) ++j;
    const std::string field = std::string("format field '") + tag + "'";
    if (tag == 'x') {
      s.samples_per_frame = parse_small(f.substr(i, j - i), "samples per frame (" + field + ")", where, 1, 1 << 20);
    } else if (tag == ':') {
      s.skew = parse_small(f.substr(i, j - i), "skew (" + field + ")", where, -(1 << 30), 1 << 30);
    } else {
      s.byte_offset = parse_int(f.substr(i, j - i), "byte offset (" + field + ")", where);
      if (s.byte_offset < 0) throw Error(where + ": negative byte offset in format field '" + f + "'");
    }
    i = j;
  }
  bool have_baseline = false;
  if (t.size() > 2) {
    // adc_gain[(baseline)][/units]
    std::string g = t[2];
    std::string units;
    const size_t slash = g.find('/');
    if (slash != std::string::npos) {
      units = g.substr(slash + 1);
      g = g.substr(0, slash);
    }
    const size_t paren = g.find('(');
    if (paren != std::string::npos) {
      const size_t close = g.find(')', paren);
      if (close == std::string::npos) throw Error(where + ": unbalanced '(' in gain '" + t[2] + "'");
      s.baseline = static_cast<double>(parse_small(g.substr(paren + 1, close - paren - 1), "baseline", where));
      have_baseline = true;
      g = g.substr(0, paren);
    }
    s.adc_gain = parse_double(g, "gain", where);
    if (s.adc_gain == 0.0) s.adc_gain = 200.0;  // WFDB: 0 means the default gain
    if (!units.empty()) s.units = units;
  }
  if (t.size() > 3) s.adc_resolution = parse_small(t[3], "ADC resolution", where, 0, 64);
  if (t.size() > 4) s.adc_zero = parse_small(t[4], "ADC zero", where);
  if (t.size() > 5) s.initial_value = parse_small(t[5], "initial value", where);
  if (t.size() > 6) s.checksum = parse_small(t[6], "checksum", where);
  if (t.size() > 7) s.block_size = parse_small(t[7], "block size", where, 0);
  for (size_t k = 8; k < t.size(); ++k) s.description += (k > 8 ? " " : "") + t[k];
  if (!have_baseline) s.baseline = s.adc_zero;
  return s;
}

}  // namespace

double unit_to_mv(const std::string& units) {
  std::string u;
  for (char c : units) u += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u == "mv") return 1.0;
  if (u == "uv" || u == "\xb5v" || u == "\xc2\xb5v" || u == "microvolt" || u == "microvolts") return 1e-3;
  if (u == "v") return 1e3;
  if (u == "nv") return 1e-6;
  return 1.0;
}

Header parse_header(const std::string& raw, const std::string& source) {
  if (raw.find('\0') != std::string::npos) throw Error(source + ": binary data (NUL bytes), not a WFDB header");
  const std::string text = to_utf8(raw);
  Header h;
  bool have_record = false;
  std::string line;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    line.assign(text, pos, (eol == std::string::npos ? text.size() : eol) - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (line[first] == '#') {
      std::string c = line.substr(first + 1);
      const size_t b = c.find_first_not_of(" \t");
      if (b != std::string::npos && have_record) h.comments.push_back(c.substr(b));
      continue;
    }
    const auto tok = split_ws(line);
    if (tok.empty()) continue;  // only whitespace that isspace() knows and find_first_not_of did not
    if (!have_record) {
      parse_record_line(tok, h, source);
      have_record = true;
    } else if (static_cast<int>(h.signals.size()) < h.n_signals) {
      h.signals.push_back(parse_signal_line(tok, static_cast<int>(h.signals.size()), source, line_no));
    }
  }
  if (!have_record) throw Error(source + ": not a WFDB header (no record line)");
  if (h.n_signals == 0) throw Error(source + ": record has 0 signals (no leads)");
  if (static_cast<int>(h.signals.size()) != h.n_signals)
    throw Error(source + ": header declares " + std::to_string(h.n_signals) + " signals but describes " +
                std::to_string(h.signals.size()));
  return h;
}

Header read_header(const std::string& header_path, const Limits& limits) {
  const io::InputFile f(header_path);
  if (f.size() > limits.max_header_bytes)
    throw LimitExceeded(header_path + ": header of " + std::to_string(f.size()) + " bytes is above the limit of " +
                        std::to_string(limits.max_header_bytes) + " bytes (Limits::max_header_bytes)");
  std::string text(static_cast<size_t>(f.size()), '\0');
  f.read(0, f.size(), reinterpret_cast<uint8_t*>(text.data()));
  return parse_header(text, header_path);
}

}  // namespace cardionets::wfdb
