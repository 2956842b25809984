// Goal: hostile bytes into every decoder of untrusted input never crash, never trip a check,
// and never decode to something that re-encodes differently. Each target is an
// LLVMFuzzerTestOneInput-style function; this driver replays the in-tree corpus
// (tests/fuzz/corpus/<target>/) and then seeded mutations of it (byte flips, truncations,
// insertions). CI runs a short loop; FUZZ_ITERATIONS=1000000 runs a long one. A crash found
// becomes a corpus file plus a unit test.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "events/codec.h"
#include "events/text.h"
#include "ledger/exchange.h"
#include "projections/projections.h"

namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;

void EntryTarget(const uint8_t* data, size_t size) {
  auto entry = ev::DecodeEntry(std::span<const uint8_t>(data, size), ev::BytesOrigin::kSubmitted);
  if (!entry.ok()) return;
  // One byte form: a decoded entry re-encodes to exactly its input.
  if (ev::EncodeEntry(*entry) != ev::Bytes(data, data + size)) std::abort();
  // The rules and the fold are total over any decodable entry, on an empty state.
  pj::LedgerState state;
  (void)pj::Validate(state, *entry).ok();
  pj::Apply(&state, pj::EntryContext{&*entry, ev::Hash{}});
  for (const std::string& key : pj::AllRowKeys(state)) {
    pj::LedgerState reloaded;
    if (!pj::LoadRow(&reloaded, key, *pj::EncodeRow(state, key)).ok()) std::abort();
  }
}

void ExportTarget(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)fundledger::ledger::ParseExport(text, false).ok();
  (void)fundledger::ledger::ParseExport(text, true).ok();
}

void BodyJsonTarget(const uint8_t* data, size_t size) {
  auto json = ev::ParseJsonStrict(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!json.ok() || !json->is_object()) return;
  for (size_t kind = 0; kind < ev::kKindCount; ++kind) {
    auto body = ev::BodyFromJson(ev::KindName(kind), *json);
    if (!body.ok()) continue;
    // What was accepted round-trips through its JSON form.
    auto again = ev::BodyFromJson(ev::KindName(kind), ev::BodyToJson(*body));
    if (!again.ok() || !(*again == *body)) std::abort();
  }
}

void PolicyJsonTarget(const uint8_t* data, size_t size) {
  auto policy = ev::PolicyFromJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!policy.ok()) return;
  (void)pj::CheckPolicy(*policy).ok();
  auto again = ev::PolicyFromJson(ev::PolicyToJson(*policy).dump());
  if (!again.ok() || !(*again == *policy)) std::abort();
}

using Target = void (*)(const uint8_t*, size_t);

Target Find(const std::string& name) {
  if (name == "entry") return EntryTarget;
  if (name == "export") return ExportTarget;
  if (name == "body_json") return BodyJsonTarget;
  if (name == "policy_json") return PolicyJsonTarget;
  return nullptr;
}

std::string Read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Mutate(std::string input, std::mt19937_64& rng) {
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    size_t pos = input.empty() ? 0 : rng() % input.size();
    switch (rng() % 5) {
      case 0: if (!input.empty()) input[pos] = static_cast<char>(input[pos] ^ (1 << (rng() % 8))); break;
      case 1: input.resize(pos); break;
      case 2: input.insert(pos, 1, static_cast<char>(rng() % 256)); break;
      case 3: if (!input.empty()) input.erase(pos, 1 + rng() % 8); break;
      default: if (!input.empty()) input[pos] = "{}[]\":,0-9aAz\\"[rng() % 15]; break;
    }
  }
  return input;
}

}  // namespace

// Usage: fuzz_replay TARGET CORPUS_DIR [ITERATIONS]
int main(int argc, char** argv) {
  if (argc < 3) return 2;
  Target target = Find(argv[1]);
  if (target == nullptr) return 2;
  std::vector<std::string> corpus;
  for (const auto& file : std::filesystem::directory_iterator(argv[2])) corpus.push_back(Read(file.path()));
  if (corpus.empty()) {
    std::fprintf(stderr, "empty corpus %s\n", argv[2]);
    return 1;
  }
  uint64_t iterations = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2000;
  if (const char* env = std::getenv("FUZZ_ITERATIONS")) iterations = std::strtoull(env, nullptr, 10);
  uint64_t seed = 20241218;
  if (const char* env = std::getenv("LEDGER_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  for (const std::string& input : corpus) target(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < iterations; ++i) {
    std::string input = Mutate(corpus[rng() % corpus.size()], rng);
    target(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("%s: %zu corpus files and %llu mutations (seed %llu): no crash\n", argv[1], corpus.size(),
              static_cast<unsigned long long>(iterations), static_cast<unsigned long long>(seed));
  return 0;
}
