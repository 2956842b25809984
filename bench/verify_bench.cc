// verify_bench: Ed25519 verifications per second on T threads, each verifying N signatures of
// one key, two ways: events::Ed25519Verify (a context kept per key and thread, re-initialised
// for each signature) and a context set up anew with the key for every signature (OpenSSL's
// EVP calls directly: what Ed25519Verify did before). The two alternate for R rounds, so a
// neighbour's load falls on both.
//
//   verify_bench [--threads T] [--count N] [--rounds R]     (defaults 2, 20000, 3)
//
// Output: one "name round value" line per figure. Exit 2 on bad arguments, 1 if a signature
// that should verify does not.
#include <openssl/evp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "events/crypto.h"

namespace ev = ::fundledger::events;

namespace {

// Verifications per second of `verify` run `count` times on each of `threads` threads.
double Rate(int threads, int count, const std::function<bool()>& verify, std::atomic<int>* bad) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < count; ++i) {
        if (!verify()) ++*bad;
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return threads * static_cast<double>(count) / secs;
}

// A verification with a context set up anew for the key.
bool VerifyAnew(const ev::PublicKey& key, const ev::Bytes& message, const ev::Signature& sig) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      pkey != nullptr && ctx != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
      EVP_DigestVerify(ctx, sig.data(), sig.size(), message.data(), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ed25519 verifications per second: a kept context per key against a new one"};
  int threads = 2, count = 20000, rounds = 3;
  app.add_option("--threads", threads)->check(CLI::Range(1, 64));
  app.add_option("--count", count)->check(CLI::Range(1, 10'000'000));
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 100));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto key = ev::PrivateKey::Generate();
  if (!key.ok()) {
    std::fprintf(stderr, "verify_bench: %s\n", key.status().message().c_str());
    return 1;
  }
  const ev::Bytes message(400, 7);  // about an entry's size
  const ev::Signature sig = key->Sign(message);
  const ev::PublicKey public_key = key->public_key();
  std::atomic<int> bad{0};
  for (int round = 1; round <= rounds; ++round) {
    double anew = Rate(
        threads, count, [&] { return VerifyAnew(public_key, message, sig); }, &bad);
    double kept = Rate(
        threads, count, [&] { return ev::Ed25519Verify(public_key, message, sig); }, &bad);
    std::printf("anew %d %.0f\nkept %d %.0f\n", round, anew, round, kept);
  }
  if (bad != 0) {
    std::fprintf(stderr, "verify_bench: %d valid signatures did not verify\n", bad.load());
    return 1;
  }
  return 0;
}
