// The one check that a signed entry may follow a ledger's head (DESIGN.md §2): seq, ledger id,
// prev hash, time order, signer registered with a key whose id it is, signature, leaf hash.
// Append (entry 1), import, verify and audit all call CheckLink, so they cannot drift apart.
#pragma once

#include <optional>
#include <string>

#include "events/crypto.h"
#include "events/status.h"
#include "ledger/ledger.h"
#include "projections/projections.h"

namespace fundledger::ledger {

// A signature checked ahead of the in-order replay (on another core, before the state that
// says who may sign is known), with the public key whose id (events::KeyIdOf, SHA-256 of its
// bytes) is the entry's signer id. CheckLink still checks that the signer is registered at
// that entry with a key of that id, so by SHA-256's collision resistance the verdict is about
// the registered key; whether the signer was entitled to sign stays the replay's check.
struct SignatureVerdict {
  bool valid = false;
};

// Why an entry may not follow the head, as audit reports it.
struct LinkFailure {
  // "integrity.seq", "integrity.ledger_id", "integrity.chain", "integrity.time",
  // "integrity.signer", "integrity.signature" or "integrity.leaf".
  std::string code;
  std::string message;  // one line, "entry N: …"
};

// Checks that `sealed` may follow the head of `state` (entries 1..seq-1 replayed): its seq is
// the next, its ledger id the state's (entry 1 sets it), its prev hash the head's leaf hash
// (zero for entry 1), its recordedAt not before the head's, its signer registered in `state`
// (entry 1: the authority key its LedgerCreated names) with a key whose id is the signer id,
// its signature valid under that key, and its leaf hash that of its bytes and signature.
// Rules (projections::Validate) are not checked here. `verdict`: a signature already checked
// elsewhere, or nullptr to verify here. Returns nullopt when the entry may follow. Pure: reads
// `state` through info and FindKey only; thread-compatible.
std::optional<LinkFailure> CheckLink(const projections::LedgerState& state,
                                     const StoredEntry& sealed, const SignatureVerdict* verdict);

// CheckLink's failure as a status: kCorruption with its message (OK for nullopt).
Status LinkStatus(const std::optional<LinkFailure>& failure);

}  // namespace fundledger::ledger
