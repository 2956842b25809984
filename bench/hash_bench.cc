// hash_bench: SHA-256 digests per second on one thread, two ways: events::Sha256 (the algorithm
// fetched from OpenSSL's provider once, a context kept per thread) and EVP_Digest with
// EVP_sha256() (a provider lookup and a new context for every digest: what events::Sha256 did
// before). Two sizes: a Merkle node's 65 bytes and a projection row's 300. The two ways
// alternate for R rounds, so a neighbour's load falls on both.
//
//   hash_bench [--count N] [--rounds R]     (defaults 1000000, 3)
//
// Output: one "name bytes round ns-per-digest" line per figure. Exit 2 on bad arguments, 1 if
// the two ways give different digests.
#include <openssl/evp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "events/crypto.h"

namespace ev = ::fundledger::events;

namespace {

// Nanoseconds per call of `digest`, called `count` times.
double NanosEach(int count, const std::function<void(int)>& digest) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) digest(i);
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
             .count() /
         count;
}

ev::Hash LookedUpEachTime(const std::vector<uint8_t>& data) {
  ev::Hash out{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"SHA-256 digests: fetched once with a kept context, against looked up each time"};
  int count = 1'000'000, rounds = 3;
  app.add_option("--count", count)->check(CLI::Range(1, 100'000'000));
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 100));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (size_t bytes : {size_t{65}, size_t{300}}) {
    std::vector<uint8_t> data(bytes, 7);
    if (ev::Sha256(data) != LookedUpEachTime(data)) {
      std::fprintf(stderr, "hash_bench: the two ways give different digests of %zu bytes\n", bytes);
      return 1;
    }
    for (int round = 1; round <= rounds; ++round) {
      double looked_up = NanosEach(count, [&](int i) {
        data[0] = static_cast<uint8_t>(i);
        LookedUpEachTime(data);
      });
      double kept = NanosEach(count, [&](int i) {
        data[0] = static_cast<uint8_t>(i);
        ev::Sha256(data);
      });
      std::printf("looked-up %zu %d %.0f\nkept %zu %d %.0f\n", bytes, round, looked_up, bytes,
                  round, kept);
    }
  }
  return 0;
}
