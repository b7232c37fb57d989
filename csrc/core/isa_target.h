// Private: the function attributes of the instruction-set paths (see cardionets/isa.h). Every
// function of a path's kernels carries its attribute, so one translation unit holds all three
// paths while the code the rest of the binary shares (std::vector, std::sort, ...) stays at the
// build's baseline - per-file -mavx2 flags would let the linker pick an AVX2 copy of such
// inline functions for everyone.
#pragma once

#include "cardionets/isa.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CARDIONETS_HAVE_AVX_PATHS 1
#define CARDIONETS_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define CARDIONETS_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#else
#define CARDIONETS_HAVE_AVX_PATHS 0
#endif

namespace cardionets::detail {

// The implementation of the active path among three (the x86 ones absent on other builds).
template <class F>
F pick_isa(F scalar, [[maybe_unused]] F avx2, [[maybe_unused]] F avx512) {
#if CARDIONETS_HAVE_AVX_PATHS
  switch (active_isa()) {
    case Isa::avx512: return avx512;
    case Isa::avx2: return avx2;
    default: return scalar;
  }
#else
  (void)active_isa();  // a refused CARDIONETS_ISA still raises
  return scalar;
#endif
}

}  // namespace cardionets::detail
