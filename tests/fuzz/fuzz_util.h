// Shared pieces of the fuzz targets (tests/fuzz/*_fuzz.cc): each target is one
// LLVMFuzzerTestOneInput, built against libFuzzer in the fuzz build and against
// replay_main.cc everywhere else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// The signature libFuzzer calls; every *_fuzz.cc defines it exactly once.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fundledger::fuzz {

// A broken property is a finding: print why and abort, so libFuzzer saves the input and the
// replay ctest fails. Never used for inputs that are merely refused.
[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace fundledger::fuzz
