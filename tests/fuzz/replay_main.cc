// The driver of every fuzz target outside the libFuzzer build: replays the target's corpus
// (tests/fuzz/corpus/<target>/), then seeded mutations of it (bit flips, truncations,
// insertions, deletions, JSON punctuation), so normal and sanitizer builds keep each target
// compiling and exercise it as a ctest. The real search is libFuzzer (tools/fuzz.sh).
//
// Usage: <target>_fuzz CORPUS_DIR [ITERATIONS]   (FUZZ_ITERATIONS and LEDGER_TEST_SEED
// override the count and the seed). Exit 0 if nothing aborted, 2 on a usage error.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"

namespace {

std::string Read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Mutate(std::string input, std::mt19937_64& rng) {
  static constexpr char kPunctuation[] = "{}[]\":,0-9aAz\\";
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    size_t pos = input.empty() ? 0 : rng() % input.size();
    switch (rng() % 5) {
      case 0:
        if (!input.empty()) input[pos] = static_cast<char>(input[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:
        input.resize(pos);
        break;
      case 2:
        input.insert(pos, 1, static_cast<char>(rng() % 256));
        break;
      case 3:
        if (!input.empty()) input.erase(pos, 1 + rng() % 8);
        break;
      default:
        if (!input.empty()) input[pos] = kPunctuation[rng() % (sizeof(kPunctuation) - 1)];
        break;
    }
  }
  return input;
}

void Run(const std::string& input) {
  (void)LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& file : std::filesystem::directory_iterator(argv[1], error)) {
    files.push_back(file.path());
  }
  // Directory order is the filesystem's; sort so a seed names one run everywhere.
  std::sort(files.begin(), files.end());
  std::vector<std::string> corpus;
  for (const auto& file : files) corpus.push_back(Read(file));
  if (error || corpus.empty()) {
    std::fprintf(stderr, "%s: no corpus files in %s\n", argv[0], argv[1]);
    return 2;
  }
  uint64_t iterations = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2000;
  if (const char* env = std::getenv("FUZZ_ITERATIONS")) {
    iterations = std::strtoull(env, nullptr, 10);
  }
  uint64_t seed = 20241218;
  if (const char* env = std::getenv("LEDGER_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  for (const std::string& input : corpus) Run(input);
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < iterations; ++i) Run(Mutate(corpus[rng() % corpus.size()], rng));
  std::printf("%s: %zu corpus files and %llu mutations (seed %llu): no crash\n", argv[0],
              corpus.size(), static_cast<unsigned long long>(iterations),
              static_cast<unsigned long long>(seed));
  return 0;
}
