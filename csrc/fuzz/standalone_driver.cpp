// A fuzzing driver for LLVMFuzzerTestOneInput targets that needs no libFuzzer (GCC has ASan and
// UBSan but no libFuzzer): it replays every input given on the command line (files or folders),
// then, for -max_total_time seconds or -runs inputs, mutates them and keeps every mutant that
// reaches new code. Coverage comes from -fsanitize-coverage=trace-pc on the library sources:
// each basic block calls __sanitizer_cov_trace_pc(), which hashes (previous block, this block)
// into an edge map, as AFL does.
//
// A finding (sanitizer report, abort, uncaught exception, signal, timeout) writes the input to
// <artifact_prefix>crash-<hash> (or timeout-<hash>) and exits non-zero. Flags follow libFuzzer's:
//   -max_total_time=S  -runs=N  -seed=N  -max_len=N  -timeout=S  -artifact_prefix=DIR/
//   -corpus_out=DIR    (write the inputs that found new coverage there)
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// ------------------------------------------------------------------------------------------
// Coverage
// ------------------------------------------------------------------------------------------
namespace {
constexpr size_t kMapSize = 1 << 16;
uint8_t g_edges[kMapSize];    // hit counts of this run (saturating)
uint8_t g_virgin[kMapSize];   // bucketed counts seen so far
uintptr_t g_prev = 0;
}  // namespace

extern "C" void __sanitizer_cov_trace_pc() {
  const uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  const size_t idx = ((pc >> 1) ^ g_prev) & (kMapSize - 1);
  if (g_edges[idx] != 255) ++g_edges[idx];
  g_prev = pc;
}

// Sanitizer defaults: every report aborts (so the SIGABRT handler below saves the input), and an
// allocation above 2 GiB is a finding rather than a swap storm.
extern "C" const char* __asan_default_options() {
  return "abort_on_error=1:detect_leaks=0:allocator_may_return_null=0:max_allocation_size_mb=2048:"
         "handle_abort=0:symbolize=1";
}
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:abort_on_error=1:print_stacktrace=1"; }

namespace {

uint8_t bucket(uint8_t c) {
  if (c == 0) return 0;
  if (c <= 3) return c;
  if (c <= 7) return 4;
  if (c <= 15) return 8;
  if (c <= 31) return 16;
  if (c <= 127) return 32;
  return 128;
}

// New (edge, count bucket) pairs of the last run; merges them into g_virgin.
size_t merge_coverage() {
  size_t fresh = 0;
  for (size_t i = 0; i < kMapSize; ++i) {
    if (!g_edges[i]) continue;
    const uint8_t b = bucket(g_edges[i]);
    if (!(g_virgin[i] & b)) {
      g_virgin[i] |= b;
      ++fresh;
    }
    g_edges[i] = 0;
  }
  return fresh;
}

size_t edges_seen() {
  size_t n = 0;
  for (size_t i = 0; i < kMapSize; ++i) n += g_virgin[i] != 0;
  return n;
}

// ------------------------------------------------------------------------------------------
// The input being run, saved by the signal handlers
// ------------------------------------------------------------------------------------------
std::vector<uint8_t> g_current;
char g_prefix[4096] = "./";

uint64_t fnv1a(const uint8_t* d, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ d[i]) * 1099511628211ull;
  return h;
}

// Async-signal-safe: open/write/close and hand-made formatting only.
void save_current(const char* kind, bool announce = true) {
  char path[4200];
  size_t p = 0;
  for (const char* s = g_prefix; *s && p < 4096; ++s) path[p++] = *s;
  for (const char* s = kind; *s; ++s) path[p++] = *s;
  path[p++] = '-';
  uint64_t h = fnv1a(g_current.data(), g_current.size());
  for (int i = 15; i >= 0; --i) path[p + static_cast<size_t>(i)] = "0123456789abcdef"[h & 15], h >>= 4;
  p += 16;
  path[p] = '\0';
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t done = 0;
    while (done < g_current.size()) {
      const ssize_t w = ::write(fd, g_current.data() + done, g_current.size() - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    ::close(fd);
  }
  if (!announce) return;
  const char msg[] = "\n==standalone fuzz== input saved to ";
  (void)!::write(2, msg, sizeof msg - 1);
  (void)!::write(2, path, p);
  (void)!::write(2, "\n", 1);
}

void on_fatal_signal(int sig) {
  save_current(sig == SIGALRM ? "timeout" : "crash");
  ::_exit(sig == SIGALRM ? 70 : 77);
}

void install_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGABRT, SIGALRM, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
  // SIGSEGV stays with ASan (it reports and then aborts, which lands above).
}

// ------------------------------------------------------------------------------------------
// Inputs
// ------------------------------------------------------------------------------------------
bool read_file(const std::string& path, std::vector<uint8_t>& out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out.clear();
  uint8_t buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + got);
  std::fclose(f);
  return true;
}

void collect(const std::string& path, std::vector<std::string>& files) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "standalone fuzz: %s does not exist\n", path.c_str());
    std::exit(2);
  }
  if (S_ISREG(st.st_mode)) {
    files.push_back(path);
    return;
  }
  DIR* d = ::opendir(path.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;  // ., .., and hidden files (README etc. are not hidden: see below)
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    if (n == "README.md") continue;
    collect(path + "/" + n, files);
  }
}

void run_one(const std::vector<uint8_t>& in, unsigned timeout_s) {
  g_current = in;
  g_prev = 0;
  if (timeout_s) ::alarm(timeout_s);
  try {
    // An empty vector's data() may be null; targets get a valid pointer.
    static const uint8_t empty = 0;
    LLVMFuzzerTestOneInput(g_current.empty() ? &empty : g_current.data(), g_current.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "==standalone fuzz== uncaught exception: %s\n", e.what());
    save_current("crash");
    std::exit(77);
  } catch (...) {
    std::fprintf(stderr, "==standalone fuzz== uncaught non-std exception\n");
    save_current("crash");
    std::exit(77);
  }
  if (timeout_s) ::alarm(0);
}

// ------------------------------------------------------------------------------------------
// Mutations (text headers and binary blobs alike)
// ------------------------------------------------------------------------------------------
const char* const kTokens[] = {
    " ", "\n", "\r\n", "\t", "#", "/", "..", "../", "~", "(", ")", "+", "x", ":", "-", ".", "+24", "x2", ":1",
    "/mV", "/uV", "/mmHg", "(0)", "1e308", "1e-320", "nan", "inf", "0x10", "\xb5V", "\xc3\xa9", "\xff",
    "\xed\xa0\x80", ".mat", ".dat", "/etc/passwd", "\xef\xbb\xbf"};
const char* const kNumbers[] = {
    "0", "1", "2", "12", "16", "212", "24", "32", "80", "61", "160", "8", "310", "-1", "-32768", "32767", "65535",
    "2147483647", "-2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "1500000000000000000"};
constexpr size_t kNumTokens = sizeof kTokens / sizeof kTokens[0];
constexpr size_t kNumNumbers = sizeof kNumbers / sizeof kNumbers[0];

struct Mutator {
  std::mt19937_64 rng;
  size_t max_len;
  explicit Mutator(uint64_t seed, size_t max_len) : rng(seed), max_len(max_len) {}
  size_t below(size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; }

  void insert(std::vector<uint8_t>& d, size_t at, const uint8_t* p, size_t n) {
    d.insert(d.begin() + static_cast<std::ptrdiff_t>(std::min(at, d.size())), p, p + n);
  }

  void mutate(std::vector<uint8_t>& d, const std::vector<std::vector<uint8_t>>& corpus) {
    const int rounds = 1 + static_cast<int>(below(6));
    for (int r = 0; r < rounds; ++r) {
      switch (below(11)) {
        case 0:  // flip a bit
          if (!d.empty()) d[below(d.size())] ^= static_cast<uint8_t>(1u << below(8));
          break;
        case 1:  // random byte
          if (!d.empty()) d[below(d.size())] = static_cast<uint8_t>(rng());
          break;
        case 2: {  // insert random bytes
          uint8_t b[8];
          const size_t n = 1 + below(8);
          for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(rng());
          insert(d, below(d.size() + 1), b, n);
          break;
        }
        case 3: {  // erase a range
          if (d.empty()) break;
          const size_t at = below(d.size()), n = 1 + below(std::min<size_t>(d.size() - at, 64));
          d.erase(d.begin() + static_cast<std::ptrdiff_t>(at), d.begin() + static_cast<std::ptrdiff_t>(at + n));
          break;
        }
        case 4: {  // duplicate a range
          if (d.empty()) break;
          const size_t at = below(d.size()), n = 1 + below(std::min<size_t>(d.size() - at, 256));
          std::vector<uint8_t> part(d.begin() + static_cast<std::ptrdiff_t>(at),
                                    d.begin() + static_cast<std::ptrdiff_t>(at + n));
          insert(d, below(d.size() + 1), part.data(), part.size());
          break;
        }
        case 5:
        case 6: {  // insert or overwrite with a token
          const size_t pick = below(kNumTokens + kNumNumbers);
          const char* t = pick < kNumTokens ? kTokens[pick] : kNumbers[pick - kNumTokens];
          const size_t n = std::strlen(t);
          const size_t at = below(d.size() + 1);
          if (below(2) || at + n > d.size()) {
            insert(d, at, reinterpret_cast<const uint8_t*>(t), n);
          } else {
            std::memcpy(d.data() + at, t, n);
          }
          break;
        }
        case 7: {  // replace a run of digits with an interesting number
          if (d.empty()) break;
          size_t at = below(d.size());
          while (at < d.size() && !(d[at] >= '0' && d[at] <= '9')) ++at;
          if (at >= d.size()) break;
          size_t end = at;
          while (end < d.size() && d[end] >= '0' && d[end] <= '9') ++end;
          const char* t = kNumbers[below(kNumNumbers)];
          d.erase(d.begin() + static_cast<std::ptrdiff_t>(at), d.begin() + static_cast<std::ptrdiff_t>(end));
          insert(d, at, reinterpret_cast<const uint8_t*>(t), std::strlen(t));
          break;
        }
        case 8: {  // binary integer at a random place (little-endian 16 / 32 bits)
          if (d.size() < 4) break;
          const uint32_t vals[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000u,
                                   0xffffffffu, 1023, 1022, 256, 255};
          const uint32_t v = vals[below(sizeof vals / sizeof vals[0])];
          const size_t at = below(d.size() - 3);
          std::memcpy(d.data() + at, &v, below(2) ? 2 : 4);
          break;
        }
        case 9: {  // splice with another input
          if (corpus.empty()) break;
          const std::vector<uint8_t>& o = corpus[below(corpus.size())];
          if (o.empty()) break;
          const size_t from = below(o.size()), n = 1 + below(std::min<size_t>(o.size() - from, 512));
          const size_t at = below(d.size() + 1);
          if (below(2)) {
            d.resize(at);
            d.insert(d.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
          } else {
            insert(d, at, o.data() + from, n);
          }
          break;
        }
        case 10:  // truncate
          if (!d.empty()) d.resize(below(d.size() + 1));
          break;
      }
    }
    if (d.size() > max_len) d.resize(max_len);
  }
};

bool flag(const char* arg, const char* name, std::string& value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  value = arg + n + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  double max_time = 0;
  long long runs = -1;
  uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  size_t max_len = 0;
  unsigned timeout_s = 20;
  std::string corpus_out;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (flag(argv[i], "-max_total_time", v)) {
      max_time = std::atof(v.c_str());
    } else if (flag(argv[i], "-runs", v)) {
      runs = std::atoll(v.c_str());
    } else if (flag(argv[i], "-seed", v)) {
      seed = std::strtoull(v.c_str(), nullptr, 10);
    } else if (flag(argv[i], "-max_len", v)) {
      max_len = static_cast<size_t>(std::atoll(v.c_str()));
    } else if (flag(argv[i], "-timeout", v)) {
      timeout_s = static_cast<unsigned>(std::atoi(v.c_str()));
    } else if (flag(argv[i], "-artifact_prefix", v)) {
      std::snprintf(g_prefix, sizeof g_prefix, "%s", v.c_str());
    } else if (flag(argv[i], "-corpus_out", v)) {
      corpus_out = v;
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "standalone fuzz: ignoring unknown flag %s\n", argv[i]);
    } else {
      collect(argv[i], files);
    }
  }
  install_handlers();
  std::vector<std::vector<uint8_t>> corpus;
  size_t largest = 0;
  for (const std::string& f : files) {
    std::vector<uint8_t> d;
    if (!read_file(f, d)) {
      std::fprintf(stderr, "standalone fuzz: cannot read %s\n", f.c_str());
      return 2;
    }
    run_one(d, timeout_s);
    merge_coverage();
    largest = std::max(largest, d.size());
    corpus.push_back(std::move(d));
  }
  std::printf("replayed %zu inputs: ok, %zu edges\n", corpus.size(), edges_seen());
  std::fflush(stdout);
  if (max_time <= 0 && runs < 0) return 0;
  if (!max_len) max_len = std::max<size_t>(4096, 2 * largest);
  if (corpus.empty()) corpus.emplace_back();
  Mutator mut(seed, max_len);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  long long n = 0, added = 0;
  double next_report = 10.0;
  std::vector<uint8_t> d;
  while ((runs < 0 || n < runs) && (max_time <= 0 || elapsed() < max_time)) {
    d = corpus[mut.below(corpus.size())];
    mut.mutate(d, corpus);
    run_one(d, timeout_s);
    ++n;
    if (merge_coverage()) {
      ++added;
      if (!corpus_out.empty()) {
        g_current = d;
        const std::string saved = g_prefix;
        std::snprintf(g_prefix, sizeof g_prefix, "%s/", corpus_out.c_str());
        save_current("cov", false);
        std::snprintf(g_prefix, sizeof g_prefix, "%s", saved.c_str());
      }
      corpus.push_back(d);
    }
    if (elapsed() >= next_report) {
      std::printf("#%lld  %.0f s  edges %zu  corpus %zu  exec/s %.0f\n", n, elapsed(), edges_seen(), corpus.size(),
                  n / elapsed());
      std::fflush(stdout);
      next_report += 10.0;
    }
  }
  std::printf("done: seed %llu, %lld mutated inputs in %.1f s (%.0f exec/s), %lld kept for new coverage, "
              "%zu edges, corpus %zu, no findings\n",
              static_cast<unsigned long long>(seed), n, elapsed(), n / std::max(elapsed(), 1e-9), added,
              edges_seen(), corpus.size());
  return 0;
}
