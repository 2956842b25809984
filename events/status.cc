#include "events/status.h"

#include <cstdio>
#include <cstdlib>

namespace fundledger {

std::string Status::ToString() const {
  switch (code_) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kRejected:
      return "rejected (" + rule_ + "): " + message_;
    case StatusCode::kInvalidArgument:
      return "invalid input: " + message_;
    case StatusCode::kNotFound:
      return "not found: " + message_;
    case StatusCode::kCorruption:
      return "integrity failure: " + message_;
    case StatusCode::kIOError:
      return "i/o error: " + message_;
    case StatusCode::kBusy:
      return message_;
  }
  return message_;
}

int Status::ExitCode() const {
  switch (code_) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kRejected:
      return 1;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
      return 2;
    case StatusCode::kCorruption:
      return 3;
    case StatusCode::kIOError:
    case StatusCode::kBusy:
      return 4;
  }
  return 4;
}

namespace internal_check {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  stream_ << file << ":" << line << ": check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  std::fprintf(stderr, "%s\n", stream_.str().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace internal_check
}  // namespace fundledger
