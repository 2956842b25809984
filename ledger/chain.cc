#include "ledger/chain.h"

#include <variant>

#include "events/codec.h"
#include "events/text.h"

namespace fundledger::ledger {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;

namespace {

// The key that must have signed entry `e`: entry 1 names its own (the authority's), every
// later entry's signer must be registered in the state that precedes it.
std::optional<ev::PublicKey> SignerKey(const pj::LedgerState& state, const ev::Entry& e) {
  if (e.seq == 1) {
    if (const auto* created = std::get_if<ev::LedgerCreated>(&e.body)) {
      return created->authority_public_key;
    }
    return std::nullopt;
  }
  if (const pj::KeyInfo* k = state.FindKey(e.signer)) return k->public_key;
  return std::nullopt;
}

}  // namespace

std::optional<LinkFailure> CheckLink(const pj::LedgerState& state, const StoredEntry& sealed,
                                     const SignatureVerdict* verdict) {
  const ev::Entry& e = sealed.entry;
  const pj::LedgerInfo& head = state.info;
  const uint64_t position = head.head_seq + 1;
  const std::string where = "entry " + std::to_string(position) + ": ";
  auto fail = [&](const char* code, const std::string& why) {
    return std::optional<LinkFailure>(LinkFailure{code, where + why});
  };
  if (e.seq != position) {
    return fail("integrity.seq", "holds entry " + std::to_string(e.seq) +
                                     " (entries moved, swapped, repeated or missing)");
  }
  if (position > 1 && e.ledger_id != head.ledger_id) {
    return fail("integrity.ledger_id", "belongs to another ledger");
  }
  const Hash zero{};
  if (e.prev_hash != (position == 1 ? zero : head.head_hash)) {
    return fail("integrity.chain",
                "prev_hash does not match entry " + std::to_string(head.head_seq));
  }
  if (e.recorded_at_ms < head.head_recorded_at_ms) {
    return fail("integrity.time", "recordedAt goes backwards (earlier than entry " +
                                      std::to_string(head.head_seq) + "'s)");
  }
  const std::string signer = ev::Hex(e.signer).substr(0, 16) + "…";
  std::optional<ev::PublicKey> key = SignerKey(state, e);
  if (!key) return fail("integrity.signer", "signer " + signer + " is not a registered key");
  // Entry 1 names its key in its body; a signer id that is not that key's would let a reader
  // that trusts the id (checkpoints, proofs) attribute the ledger to someone else.
  if (ev::KeyIdOf(*key) != e.signer) {
    return fail("integrity.signer", "signer id " + signer + " is not the id of its key");
  }
  const bool valid = verdict != nullptr
                         ? verdict->valid
                         : ev::Ed25519Verify(*key, sealed.entry_bytes, sealed.signature);
  if (!valid) return fail("integrity.signature", "signature does not verify");
  if (ev::EntryLeafHash(sealed.entry_bytes, sealed.signature) != sealed.leaf_hash) {
    return fail("integrity.leaf", "leaf hash does not match its bytes and signature");
  }
  return std::nullopt;
}

Status LinkStatus(const std::optional<LinkFailure>& failure) {
  if (!failure) return Status::Ok();
  return Status::Corruption(failure->message);
}

}  // namespace fundledger::ledger
