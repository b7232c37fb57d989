// cardionets/isa.h - which instruction-set path the native hot loops run (weighted InfoNCE,
// the DSP pipeline). One binary carries three paths, compiled with per-function target
// attributes, and one place picks among them at run time:
//   avx512  AVX-512 F/DQ/VL/BW + AVX2 + FMA  (x86-64-v4 CPUs: Zen 4 / 5, Ice Lake, Sapphire Rapids, ...)
//   avx2    AVX2 + FMA                        (x86-64-v3 CPUs: Haswell and later, Zen 1-3, ...)
//   scalar  the build's baseline (portable C++, auto-vectorised for the compile flags)
// The best path this CPU runs is the default; CARDIONETS_ISA=avx512|avx2|scalar|auto forces one,
// and a forced path the CPU cannot run is refused with the reasons (cardionets::Error).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cardionets {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// "avx512" / "avx2" / "scalar"; throws Error for anything else.
Isa parse_isa(const std::string& name);

// Why this process cannot run `isa` (missing CPU features, or a build without it); empty if it can.
std::vector<std::string> isa_unsupported_reasons(Isa isa);

// The path in use. Chosen on first use: CARDIONETS_ISA when set (throws Error, every time, when
// the value is unknown or the CPU lacks that path), else the best supported one.
Isa active_isa();

// Force a path from now on ("auto" returns to the best supported one); throws Error with the
// reasons when this CPU cannot run it, leaving the current choice unchanged.
void set_isa(const std::string& name);

struct IsaReport {
  std::string active;  // the path in use, or "" when CARDIONETS_ISA was refused (see error)
  std::string chosen_by;  // "best supported", "CARDIONETS_ISA=avx2", "set_isa(\"avx2\")"
  std::string error;      // why CARDIONETS_ISA was refused
  // Every path, best first, with why it is not the one in use (empty for the active path).
  std::vector<std::pair<std::string, std::vector<std::string>>> paths;
};
IsaReport isa_report();

}  // namespace cardionets
