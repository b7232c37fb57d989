// cardionets/parallel.h - a minimal parallel loop over std::thread.
//
// Parallelism in the library is over records or rows, never inside tiny loops: a call splits
// [0, n) into at most num_threads() contiguous chunks of at least `grain` items. Exceptions
// thrown by a worker are re-thrown in the caller (the first one wins).
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace cardionets {

// Threads used by parallel_for. Defaults to the CARDIONETS_NUM_THREADS environment variable,
// else std::thread::hardware_concurrency().
int num_threads();
void set_num_threads(int n);

template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& body, int threads = 0) {
  if (n <= 0) return;
  if (threads <= 0) threads = num_threads();
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1) {
    body(int64_t{0}, n);
    return;
  }
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto run = [&](int64_t begin, int64_t end) {
    try {
      body(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(chunks - 1));
  const int64_t step = (n + chunks - 1) / chunks;
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t begin = c * step, end = std::min(n, begin + step);
    if (begin < end) workers.emplace_back(run, begin, end);
  }
  run(0, std::min(n, step));
  for (auto& w : workers) w.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace cardionets
