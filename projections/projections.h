// Pure folds from entries to read models, and the rules every entry must pass (DESIGN.md §4, §5).
// No I/O, no clock, no logging: the same entries always give the same state, byte for byte.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "events/model.h"
#include "events/status.h"

namespace fundledger::projections {

using events::Hash;
using events::KeyId;

// a + b and a - b, saturating at the int64 bounds. The fold and the rules are total over
// entries that broke a rule (audit replays them), whose amounts can sum past int64.
int64_t SaturatingAdd(int64_t a, int64_t b);
int64_t SaturatingSub(int64_t a, int64_t b);

struct KeyInfo {
  events::PublicKey public_key{};
  events::Role role = events::Role::kClerk;
  std::string unit, holder;
  uint64_t registered_seq = 0;
  uint64_t revoked_seq = 0;  // 0: not revoked
  int64_t revoked_at_ms = 0;
  std::string revoke_reason;
};

struct PolicyVersion {
  uint64_t seq = 0;
  int64_t effective_from_ms = 0;  // Shanghai midnight of effective_from
  std::string effective_from;
  events::Policy policy;
};

struct Recipient {
  events::RecipientRegistered info;
  uint64_t seq = 0;
};

enum class AppState : uint8_t { kSubmitted, kApproved, kRejected, kAwarded };

struct Application {
  events::ApplicationSubmitted submitted;
  AppState state = AppState::kSubmitted;
  std::string unit;  // responsible unit of the clerk who submitted
  KeyId submitter{}, decider{}, awarder{};
  std::string submitter_holder, decider_holder, awarder_holder;
  int64_t granted_fen = 0, revoked_fen = 0, paid_fen = 0, reversed_fen = 0;
  int64_t city_fen = 0, district_fen = 0;  // split of the grant
  std::string award_unit;                  // unit of the awarding reviewer
  std::string district;                    // recipient's district at submission
  std::vector<uint64_t> seqs;              // every entry about this application
  int64_t NetAwardFen() const { return SaturatingSub(granted_fen, revoked_fen); }
  int64_t NetPaidFen() const { return SaturatingSub(paid_fen, reversed_fen); }
  int64_t UnpaidFen() const { return SaturatingSub(NetAwardFen(), NetPaidFen()); }
};
// "submitted", "approved", "rejected", "awarded", "paid" (net paid == net award > 0),
// "revoked" (awarded, then wholly revoked).
std::string StatusName(const Application& application);

// Money moved, for any grouping (measure-year, unit, district, recipient).
struct Totals {
  int64_t granted_fen = 0, revoked_fen = 0, paid_fen = 0, reversed_fen = 0;
  int64_t CommittedFen() const { return SaturatingSub(granted_fen, revoked_fen); }
  int64_t NetPaidFen() const { return SaturatingSub(paid_fen, reversed_fen); }
  int64_t OutstandingFen() const { return SaturatingSub(CommittedFen(), NetPaidFen()); }
  bool operator==(const Totals&) const = default;
};

struct MeasureYear {
  std::map<std::string, int64_t> allocated_fen;  // by source: "city" or a district
  std::map<std::string, int64_t> committed_fen;  // awarded less revoked, by source
  Totals totals;
  std::map<std::string, int64_t> status_counts;  // by StatusName
  int64_t AllocatedFen() const;
  int64_t AvailableFen(const std::string& source) const;
};

struct RecipientTrackYear {
  Totals totals;
  uint32_t live_awards = 0;  // awards not wholly revoked
};

struct IdempotencyRecord {
  uint64_t seq = 0;
  Hash content{};  // SHA-256 over the signer and the body's canonical bytes
};

struct LedgerInfo {
  events::LedgerId ledger_id{};
  std::string name;
  KeyId authority{};
  uint64_t head_seq = 0;
  Hash head_hash{};
  int64_t head_recorded_at_ms = 0;
};

// The whole projected state. Maps are keyed by the row key under which each row is persisted
// (see RowKey* below), so a row's key is its identity everywhere: store, audit diff, queries.
struct LedgerState {
  LedgerInfo info;
  std::map<std::string, KeyInfo> keys;                  // "key/<keyid hex>"
  std::map<std::string, PolicyVersion> policies;        // "policy/<seq, 20 digits>"
  std::map<std::string, Recipient> recipients;          // "recipient/<uscc>"
  std::map<std::string, Application> applications;      // "app/<id>"
  std::map<std::string, MeasureYear> measure_years;     // "my/<measure>/<year>"
  std::map<std::string, RecipientTrackYear> recipient_years;  // "rty/<uscc>/<measure>/<track>/<year>"
  std::map<std::string, int64_t> projects;              // "proj/<measure>/<track>/<project>": committed fen
  std::map<std::string, Totals> units;                  // "unit/<code>"
  std::map<std::string, Totals> districts;              // "district/<name>"
  std::map<std::string, std::string> evidence;          // "evidence/<hex>" -> application id
  std::map<std::string, IdempotencyRecord> idempotency; // "idem/<key>"
  // Row keys changed by Apply since the caller last cleared this set (not part of the state).
  std::set<std::string> dirty;

  const KeyInfo* FindKey(const KeyId& key_id) const;
  const Application* FindApplication(const std::string& id) const;
  const Recipient* FindRecipient(const std::string& uscc) const;
  // The policy version in force at `at_ms`: the latest effective_from <= at_ms, ties to the
  // later seq. nullptr if none.
  const PolicyVersion* PolicyAt(int64_t at_ms) const;
};

std::string RowKeyKey(const KeyId& key_id);
std::string RowKeyApplication(const std::string& id);
std::string RowKeyRecipient(const std::string& uscc);
std::string RowKeyMeasureYear(const std::string& measure, uint16_t year);
std::string RowKeyRecipientYear(const std::string& uscc, const std::string& measure,
                                const std::string& track, uint16_t year);

// What an idempotent retry must repeat: SHA-256(signer || canonical body bytes digest).
Hash ContentDigest(const events::Entry& entry);

// ---- Rules ----

// The form in which key holders are compared for separation of duties: Unicode NFKC with case
// folding (ICU's NFKC_Casefold, which also drops default-ignorable characters such as zero
// width spaces), every run of Unicode white space as one space, none at either end. So
// "Li Na", "LI NA ", "Ｌｉ　Ｎａ" are one person. Pure and deterministic; invalid UTF-8 (which
// Validate refuses) has its bad bytes replaced by U+FFFD. Stored holders keep their spelling.
std::string NormalizeHolder(std::string_view holder);

// Context the fold cannot see in the entry itself.
struct EntryContext {
  const events::Entry* entry = nullptr;  // not owned
  Hash leaf_hash{};                      // of this entry (becomes the head hash)
};

// All write-path rules for `entry` against `state` (the state after entry seq-1): signer
// registered and not revoked, role and unit, separation of duties, state machine, every cap,
// pool and term. Chain links and signatures are the ledger's (checked on raw bytes).
// Returns kRejected with a rule code (DESIGN.md §10) or kInvalidArgument for malformed values.
Status Validate(const LedgerState& state, const events::Entry& entry);

// How far a write's recordedAt may run ahead of the writer's clock. recordedAt never
// decreases, so an entry dated far ahead would refuse every later write made at the real time
// (and import would carry that into every copy); clocks of honest machines differ by seconds.
inline constexpr int64_t kClockSkewMsMax = 5 * 60 * 1000;

// The rule "time.future": kRejected if `recorded_at_ms` is later than `now_ms` (the clock of
// the machine that writes, imports or audits, passed in: projections read no clock) plus
// kClockSkewMsMax. Writing in the past stays possible (never earlier than the head).
Status CheckNotInFuture(int64_t recorded_at_ms, int64_t now_ms);

// Applies `entry` to `state`, recording changed row keys in state->dirty. Total: entries that
// broke a rule (seen during audit) are applied as the writer would have, never crash.
void Apply(LedgerState* state, const EntryContext& context);

// The largest award the rules allow for application `application_id` at `at_ms`, and which
// rule binds. kRejected if the application does not exist or is not approved (awaiting its
// award), or its measure/track is not in the policy in force. A limit of 0 (exhausted pool,
// period already used, evidence claimed) is a result, with the binding rule named.
struct AwardLimit {
  int64_t max_fen = 0;
  std::string binding_rule;   // e.g. "cap.per_recipient_year"
  std::string explanation;    // one line naming the limit, what is used and what remains
  int64_t city_fen = 0, district_fen = 0;  // split of max_fen
};
Result<AwardLimit> MaxAward(const LedgerState& state, const std::string& application_id,
                            int64_t at_ms);

// The city/district split of `amount_fen` under `measure`'s co-funding.
void SplitAward(const events::Measure& measure, int64_t amount_fen, int64_t* city_fen,
                int64_t* district_fen);

// Structural checks of a policy document: ids unique and well formed, rates <= 100%, caps
// positive, every track capped (or bounded by its basis), term dates valid, units known.
// kInvalidArgument naming the first problem.
Status CheckPolicy(const events::Policy& policy);

// ---- Rows: the persisted form of the state ----

// Encodes the row `row_key` of `state` (deterministic bytes); nullopt if the row is absent.
std::optional<std::string> EncodeRow(const LedgerState& state, const std::string& row_key);
// Loads one persisted row into `state`. kCorruption if the key or bytes do not parse.
Status LoadRow(LedgerState* state, const std::string& row_key, const std::string& value);
// Removes row `row_key` from `state` (undoing an Apply whose batch was not written).
void EraseRow(LedgerState* state, const std::string& row_key);
// Every row key of `state`, sorted.
std::vector<std::string> AllRowKeys(const LedgerState& state);
// Root over all rows (RFC 9162 tree over SHA-256(0x00 || len key || key || value), rows sorted
// by key): equal states give equal hashes, and a row can later be proven (DESIGN.md §8).
Hash StateHash(const LedgerState& state);

}  // namespace fundledger::projections
