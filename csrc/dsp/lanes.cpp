// The DSP lane kernels (lanes_kernels.inc) once per instruction-set path, and the table of the
// active one.
#include "lanes.h"

#include <limits>

#include "../core/isa_target.h"

#if CARDIONETS_HAVE_AVX_PATHS
#include <immintrin.h>
#endif

// Vectors passed between the inline kernels of one path trigger GCC's note that the ABI of
// 32-byte vector arguments depends on AVX; every such call stays within one path.
// GCC 12 also reports its own _mm512_undefined_pd() placeholders as uninitialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace cardionets::dsp::detail {

#define CN_PATH scalar
#define CN_T inline
#define CN_FMA 0
#define CN_AVX512 0
#include "lanes_kernels.inc"
#undef CN_PATH
#undef CN_T
#undef CN_FMA
#undef CN_AVX512

#if CARDIONETS_HAVE_AVX_PATHS
#define CN_PATH avx2
#define CN_T CARDIONETS_TARGET_AVX2 inline
#define CN_FMA 1
#define CN_AVX512 0
#include "lanes_kernels.inc"
#undef CN_PATH
#undef CN_T
#undef CN_FMA
#undef CN_AVX512

#define CN_PATH avx512
#define CN_T CARDIONETS_TARGET_AVX512 inline
#define CN_FMA 1
#define CN_AVX512 1
#include "lanes_kernels.inc"
#undef CN_PATH
#undef CN_T
#undef CN_FMA
#undef CN_AVX512
#endif

const LaneOps& lane_ops() {
#if CARDIONETS_HAVE_AVX_PATHS
  return *cardionets::detail::pick_isa<const LaneOps*>(&scalar::kOps, &avx2::kOps, &avx512::kOps);
#else
  return *cardionets::detail::pick_isa<const LaneOps*>(&scalar::kOps, nullptr, nullptr);
#endif
}

}  // namespace cardionets::dsp::detail
