#include "tools/service/wire.h"

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

}  // namespace fundledger::service::wire
