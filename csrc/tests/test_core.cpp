// C++ test of the core library, built by CMake and run by ctest and by tests/test_native.py.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "cardionets/cardionets.h"
#include "check.h"

int main() {
  CHECK(std::strlen(cardionets::version()) > 0);
  CHECK(std::strlen(cardionets::build_info()) > 0);

  // parallel_for covers every index exactly once, with any thread count.
  for (int threads : {1, 2, 3, 8}) {
    std::atomic<long> sum{0};
    cardionets::parallel_for(1001, 7, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum += i;
    }, threads);
    CHECK(sum.load() == 1001L * 1000L / 2);
  }
  // Worker exceptions reach the caller.
  bool caught = false;
  try {
    cardionets::parallel_for(100, 1, [&](int64_t b, int64_t) {
      if (b > 0) throw cardionets::Error("boom");
    }, 4);
  } catch (const cardionets::Error&) {
    caught = true;
  }
  CHECK(caught);
  bool rejected = false;
  try {
    cardionets::set_num_threads(0);
  } catch (const cardionets::Error&) {
    rejected = true;
  }
  CHECK(rejected);

  std::printf("test_core: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
