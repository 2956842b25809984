// The writer's half of a write whose author signs elsewhere (fundledger serve): the same
// decisions and checks as RocksLedger::Append makes before it signs, on a draft state.
#include <string>
#include <utility>

#include "events/check.h"
#include "events/codec.h"
#include "events/text.h"
#include "ledger/ledger.h"

namespace fundledger::ledger {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;

Result<PreparedEntry> PrepareEntry(const pj::LedgerState& draft, const ev::KeyId& signer,
                                   const AppendRequest& request, int64_t at_ms) {
  if (at_ms < draft.info.head_recorded_at_ms) {
    return Status::InvalidArgument("time " + ev::FormatInstant(at_ms) +
                                   " is earlier than the head entry's " +
                                   ev::FormatInstant(draft.info.head_recorded_at_ms));
  }
  PreparedEntry out;
  ev::Entry& e = out.entry;
  e.ledger_id = draft.info.ledger_id;
  e.seq = draft.info.head_seq + 1;
  e.prev_hash = draft.info.head_hash;
  e.recorded_at_ms = at_ms;
  e.signer = signer;
  e.idempotency_key = request.idempotency_key;
  e.body = request.body;
  // As in Append: the writer decides what the caller left to it, on the state it holds, and a
  // decision made on a row that could not be read is unsound.
  auto note = pj::Resolve(draft, e, request.defaults, &e.body);
  LEDGER_RETURN_IF_ERROR(draft.ReadStatus());
  LEDGER_RETURN_IF_ERROR(note.status());
  out.note = std::move(*note);
  if (!e.idempotency_key.empty()) {
    const pj::IdempotencyRecord* used = draft.FindIdempotency(e.idempotency_key);
    LEDGER_RETURN_IF_ERROR(draft.ReadStatus());
    if (used != nullptr && used->content == pj::ContentDigest(e)) {
      out.replayed_seq = used->seq;
      out.note.clear();
      return out;
    }
  }
  Status valid = pj::Validate(draft, e);
  LEDGER_RETURN_IF_ERROR(draft.ReadStatus());
  LEDGER_RETURN_IF_ERROR(valid);
  LEDGER_ASSIGN_OR_RETURN(out.entry_bytes, ev::EncodeEntryForSigning(e));
  LEDGER_CHECK(out.entry.seq == draft.info.head_seq + 1) << out.entry.seq;
  return out;
}

Result<StoredEntry> ApplyPrepared(pj::LedgerState* draft, PreparedEntry prepared,
                                  const ev::Signature& signature) {
  LEDGER_CHECK(prepared.replayed_seq == 0);
  LEDGER_CHECK(prepared.entry.seq == draft->info.head_seq + 1) << prepared.entry.seq;
  const pj::KeyInfo* key = draft->FindKey(prepared.entry.signer);
  if (key == nullptr || !ev::Ed25519Verify(key->public_key, prepared.entry_bytes, signature)) {
    return Status::InvalidArgument("entry " + std::to_string(prepared.entry.seq) +
                                   ": the signature does not verify with the signer's key");
  }
  StoredEntry sealed;
  sealed.signature = signature;
  sealed.leaf_hash = ev::EntryLeafHash(prepared.entry_bytes, signature);
  sealed.entry_bytes = std::move(prepared.entry_bytes);
  sealed.entry = std::move(prepared.entry);
  pj::Apply(draft, pj::EntryContext{&sealed.entry, sealed.leaf_hash});
  draft->dirty.clear();  // a draft is never written; AppendSigned folds the entries again
  LEDGER_RETURN_IF_ERROR(draft->ReadStatus());
  LEDGER_CHECK(draft->info.head_seq == sealed.entry.seq);
  return sealed;
}

}  // namespace fundledger::ledger
