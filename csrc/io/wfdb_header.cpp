// WFDB header (.hea) parsing, following the WFDB header(5) format description.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>
#include <cstdio>

#include "cardionets/wfdb.h"

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

void parse_record_line(const std::vector<std::string>& t, Header& h, const std::string& src) {
  std::string name = t[0];
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
  s.format = static_cast<int>(parse_int(f.substr(0, i), "format", where));
  while (i < f.size()) {
    const char tag = f[i++];
    size_t j = i;
    while (j < f.size() && (std::isdigit(static_cast<unsigned char>(f[j])) || f[j] == '-')) ++j;
    const int64_t v = parse_int(f.substr(i, j - i), std::string("format field '") + tag + "'", where);
    if (tag == 'x') {
      s.samples_per_frame = static_cast<int>(v);
    } else if (tag == ':') {
      s.skew = static_cast<int>(v);
    } else if (tag == '+') {
      s.byte_offset = v;
    } else {
      throw Error(where + ": cannot parse format field '" + f + "'");
    }
    i = j;
  }
  if (s.byte_offset < 0) throw Error(where + ": negative byte offset");
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
      s.baseline = static_cast<double>(parse_int(g.substr(paren + 1, close - paren - 1), "baseline", where));
      have_baseline = true;
      g = g.substr(0, paren);
    }
    s.adc_gain = parse_double(g, "gain", where);
    if (s.adc_gain == 0.0) s.adc_gain = 200.0;  // WFDB: 0 means the default gain
    if (!units.empty()) s.units = units;
  }
  if (t.size() > 3) s.adc_resolution = static_cast<int>(parse_int(t[3], "ADC resolution", where));
  if (t.size() > 4) s.adc_zero = static_cast<int>(parse_int(t[4], "ADC zero", where));
  if (t.size() > 5) s.initial_value = static_cast<int>(parse_int(t[5], "initial value", where));
  if (t.size() > 6) s.checksum = static_cast<int>(parse_int(t[6], "checksum", where));
  if (t.size() > 7) s.block_size = static_cast<int>(parse_int(t[7], "block size", where));
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

Header parse_header(const std::string& text, const std::string& source) {
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

Header read_header(const std::string& header_path) {
  std::FILE* f = std::fopen(header_path.c_str(), "rb");
  if (!f) throw Error(header_path + ": cannot open WFDB header");
  std::string text;
  char chunk[4096];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) {
    text.append(chunk, got);
    if (text.size() > (1u << 24)) {
      std::fclose(f);
      throw Error(header_path + ": header larger than 16 MiB, not a WFDB header");
    }
  }
  std::fclose(f);
  if (text.find('\0') != std::string::npos) throw Error(header_path + ": binary data, not a WFDB header");
  return parse_header(text, header_path);
}

}  // namespace cardionets::wfdb
