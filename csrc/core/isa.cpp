// Run-time choice of the instruction-set path (see cardionets/isa.h).
#include "cardionets/isa.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "cardionets/core.h"

namespace cardionets {

namespace {

constexpr Isa kAll[] = {Isa::avx512, Isa::avx2, Isa::scalar};

std::mutex g_mu;
std::atomic<int> g_isa{-1};  // -1: not chosen yet
std::string g_chosen_by;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CARDIONETS_X86_PATHS 1
#endif

std::vector<std::string> missing_features(Isa isa) {
  std::vector<std::string> miss;
#ifdef CARDIONETS_X86_PATHS
  __builtin_cpu_init();
  auto need = [&](bool ok, const char* name) {
    if (!ok) miss.emplace_back(name);
  };
  if (isa == Isa::avx2 || isa == Isa::avx512) {
    need(__builtin_cpu_supports("avx2"), "avx2");
    need(__builtin_cpu_supports("fma"), "fma");
  }
  if (isa == Isa::avx512) {
    need(__builtin_cpu_supports("avx512f"), "avx512f");
    need(__builtin_cpu_supports("avx512dq"), "avx512dq");
    need(__builtin_cpu_supports("avx512vl"), "avx512vl");
    need(__builtin_cpu_supports("avx512bw"), "avx512bw");
  }
#else
  (void)isa;
#endif
  return miss;
}

Isa best_supported() {
  for (Isa isa : kAll)
    if (isa_unsupported_reasons(isa).empty()) return isa;
  return Isa::scalar;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "; ") + x;
  return s;
}

// Pick the path from the environment (caller holds g_mu).
Isa choose_locked() {
  const char* env = std::getenv("CARDIONETS_ISA");
  const std::string want = env ? env : "";
  if (want.empty() || want == "auto") {
    g_chosen_by = "best supported";
    return best_supported();
  }
  const Isa isa = parse_isa(want);  // throws for unknown names
  const auto reasons = isa_unsupported_reasons(isa);
  if (!reasons.empty())
    throw Error("CARDIONETS_ISA=" + want + " refused: " + join(reasons) +
                " (unset it, or choose one of the paths `cardionets info` lists as available)");
  g_chosen_by = "CARDIONETS_ISA=" + want;
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : kAll)
    if (name == isa_name(isa)) return isa;
  throw Error("unknown instruction-set path '" + name + "' (expected avx512, avx2, scalar or auto)");
}

std::vector<std::string> isa_unsupported_reasons(Isa isa) {
  if (isa == Isa::scalar) return {};
#ifndef CARDIONETS_X86_PATHS
  return {std::string("the ") + isa_name(isa) + " path is built only for x86-64 with GCC or clang"};
#else
  const auto miss = missing_features(isa);
  if (miss.empty()) return {};
  std::string s = "this CPU lacks";
  for (size_t i = 0; i < miss.size(); ++i) s += (i ? ", " : " ") + miss[i];
  return {s};
#endif
}

Isa active_isa() {
  const int cur = g_isa.load(std::memory_order_acquire);
  if (cur >= 0) return static_cast<Isa>(cur);
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_isa.load() >= 0) return static_cast<Isa>(g_isa.load());
  const Isa isa = choose_locked();  // throws, and stays unchosen, when CARDIONETS_ISA is refused
  g_isa.store(static_cast<int>(isa), std::memory_order_release);
  return isa;
}

void set_isa(const std::string& name) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (name == "auto") {
    g_isa.store(static_cast<int>(best_supported()));
    g_chosen_by = "best supported";
    return;
  }
  const Isa isa = parse_isa(name);
  const auto reasons = isa_unsupported_reasons(isa);
  if (!reasons.empty()) throw Error("instruction-set path " + name + " refused: " + join(reasons));
  g_isa.store(static_cast<int>(isa));
  g_chosen_by = "set_isa(\"" + name + "\")";
}

IsaReport isa_report() {
  IsaReport r;
  try {
    r.active = isa_name(active_isa());
  } catch (const Error& e) {
    r.error = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(g_mu);
    r.chosen_by = r.active.empty() ? "CARDIONETS_ISA (refused)" : g_chosen_by;
  }
  bool above = true;  // paths listed before the active one
  for (Isa isa : kAll) {
    auto reasons = isa_unsupported_reasons(isa);
    const bool active = !r.active.empty() && r.active == isa_name(isa);
    if (active) {
      above = false;
    } else if (reasons.empty()) {
      reasons.push_back(above ? "supported, not selected (" + r.chosen_by + ")"
                              : std::string("supported; ") + (r.active.empty() ? "?" : r.active) +
                                    " is preferred (wider vectors)");
    }
    r.paths.emplace_back(isa_name(isa), active ? std::vector<std::string>{} : reasons);
  }
  return r;
}

}  // namespace cardionets
