// What client and server of the service share: errors over the wire and the challenge text.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <span>
#include <string>

#include "events/model.h"
#include "events/status.h"
#include "schemas/service.capnp.h"

namespace fundledger::service::wire {

// Writes `status` (not Ok) into `error`, code, rule and message, so the caller rebuilds it.
void SetError(schema::service::Error::Builder error, const Status& status);
// The status an Error carries; an unknown code is kIOError naming it (a newer server).
Status ToStatus(schema::service::Error::Reader error);

// What a key signs to open a session: names the protocol, the ledger and a fresh nonce, so a
// signature is good for one ledger and one connection only.
std::string ChallengeText(const events::LedgerId& ledger_id, std::span<const uint8_t> nonce);
inline constexpr size_t kNonceBytes = 32;

// A PEM file (certificate, TLS key, trusted CA), at most kPemBytesMax read. kIOError naming
// `what` and the path if it cannot be read or is empty.
inline constexpr size_t kPemBytesMax = 1 << 20;
Result<std::string> ReadPem(const std::string& path, const std::string& what);

inline std::span<const uint8_t> Span(capnp::Data::Reader data) {
  return {data.begin(), data.size()};
}
inline capnp::Data::Reader AsData(std::span<const uint8_t> bytes) {
  return capnp::Data::Reader(bytes.data(), bytes.size());
}
inline capnp::Data::Reader AsData(const std::string& bytes) {
  return capnp::Data::Reader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace fundledger::service::wire
