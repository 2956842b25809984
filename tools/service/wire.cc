#include "tools/service/wire.h"

#include <cstdio>

#include "events/text.h"

namespace fundledger::service::wire {

void SetError(schema::service::Error::Builder error, const Status& status) {
  error.setCode(static_cast<uint8_t>(status.code()));
  error.setRule(status.rule());
  error.setMessage(status.message());
}

Status ToStatus(schema::service::Error::Reader error) {
  std::string message = error.getMessage();
  switch (static_cast<StatusCode>(error.getCode())) {
    case StatusCode::kRejected:
      return Status::Rejected(error.getRule(), message);
    case StatusCode::kInvalidArgument:
      return Status::InvalidArgument(message);
    case StatusCode::kNotFound:
      return Status::NotFound(message);
    case StatusCode::kCorruption:
      return Status::Corruption(message);
    case StatusCode::kIOError:
      return Status::IOError(message);
    case StatusCode::kBusy:
      return Status::Busy(message);
    case StatusCode::kOk:
      break;
  }
  return Status::IOError("the server answered error code " + std::to_string(error.getCode()) +
                         ": " + message);
}

std::string ChallengeText(const events::LedgerId& ledger_id, std::span<const uint8_t> nonce) {
  return "fundledger-service-auth/1 " + events::Hex(ledger_id) + " " + events::Hex(nonce) + "\n";
}

Result<std::string> ReadPem(const std::string& path, const std::string& what) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Status::IOError("cannot read the " + what + " " + path);
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0 && out.size() < kPemBytesMax) {
    out.append(buffer, n);
  }
  std::fclose(file);
  if (out.empty()) return Status::IOError("the " + what + " " + path + " is empty");
  return out;
}

}  // namespace fundledger::service::wire
