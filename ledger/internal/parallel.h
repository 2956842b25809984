// Data parallelism for the replay paths (audit, verify, import): signatures are verified on
// every core while entries are folded in order on one.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "events/status.h"

namespace fundledger::ledger::internal {

// Threads a parallel loop uses at most, whatever the machine reports.
inline constexpr size_t kWorkerThreadsMax = 16;

// Worker threads for a parallel loop: one per core, 1..kWorkerThreadsMax.
inline size_t WorkerThreads() {
  return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kWorkerThreadsMax);
}

// Runs fn(i) for i in [0, n) on every core; returns the error of the smallest failing i, so
// the outcome does not depend on scheduling. fn must be safe to call concurrently.
inline Status ParallelFor(size_t n, const std::function<Status(size_t)>& fn) {
  if (n == 0) return Status::Ok();
  const size_t threads = std::min(WorkerThreads(), n);
  std::vector<Status> errors(threads);
  std::vector<size_t> error_index(threads, SIZE_MAX);
  std::atomic<size_t> next{0};
  auto work = [&](size_t t) {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      Status s = fn(i);
      if (!s.ok() && i < error_index[t]) {
        errors[t] = s;
        error_index[t] = i;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);  // the calling thread is one of the workers
  for (auto& th : pool) th.join();
  size_t best = SIZE_MAX;
  Status first;
  for (size_t t = 0; t < threads; ++t) {
    if (error_index[t] < best) {
      best = error_index[t];
      first = errors[t];
    }
  }
  return first;
}

}  // namespace fundledger::ledger::internal
