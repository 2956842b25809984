// Pure folds from entries to read models, and the rules every entry must pass (DESIGN.md §4, §5).
// No I/O, no clock, no logging: the same entries always give the same state, byte for byte.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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

// Where the rows of a state come from when they are not in memory: the store's point reads.
class RowSource {
 public:
  virtual ~RowSource();
  // The stored row `row_key`; nullopt if there is none. kIOError or kCorruption if it cannot
  // be read.
  virtual Result<std::optional<std::string>> ReadRow(const std::string& row_key) const = 0;
};

// The lookups the rules, the fold's readers and the queries make: one row each, by its
// identity. Implemented by LedgerState, whole in memory or backed by a RowSource; a ledger
// exposes only this (ledger::Ledger::view), so no command can walk rows it did not ask for.
class StateView {
 public:
  virtual ~StateView();
  virtual const LedgerInfo& Info() const = 0;
  virtual const KeyInfo* FindKey(const KeyId& key_id) const = 0;
  // Every registered key, in row-key order. Keys are few (the programme's staff) and always
  // held in memory.
  virtual std::vector<const KeyInfo*> AllKeys() const = 0;
  // Every published policy version, by seq. Always held in memory.
  virtual std::vector<const PolicyVersion*> AllPolicies() const = 0;
  // The policy version in force at `at_ms`: the latest effective_from <= at_ms, ties to the
  // later seq. nullptr if none.
  virtual const PolicyVersion* PolicyAt(int64_t at_ms) const = 0;
  virtual const Recipient* FindRecipient(const std::string& uscc) const = 0;
  virtual const Application* FindApplication(const std::string& id) const = 0;
  virtual const MeasureYear* FindMeasureYear(const std::string& measure, uint16_t year) const = 0;
  virtual const RecipientTrackYear* FindRecipientYear(const std::string& uscc,
                                                      const std::string& measure,
                                                      const std::string& track,
                                                      uint16_t year) const = 0;
  // Committed fen of project row `row_key` (RowKeyProject); nullptr if none.
  virtual const int64_t* FindProject(const std::string& row_key) const = 0;
  // The application whose award `digest` backs; nullptr if none.
  virtual const std::string* FindEvidence(const Hash& digest) const = 0;
  virtual const IdempotencyRecord* FindIdempotency(const std::string& idempotency_key) const = 0;
  // The first read of a backed view that failed (kIOError, kCorruption), else Ok. A lookup
  // whose read failed answers nullptr; whoever decides on lookups checks this before acting
  // (the writer refuses the batch, a query reports the error).
  virtual Status ReadStatus() const = 0;
};

// The projected state. Maps are keyed by the row key under which each row is persisted
// (RowKey* below), so a row's key is its identity everywhere: store, audit diff, queries.
// Without a source the maps hold every row (audit, rebuild, as-of reads, tests). With one they
// are a cache over it: the rows read so far and those changed since the last commit; keys,
// policies and the head are always whole (the ledger loads them at open). Only lookups (the
// StateView) and the fold may be used on a backed state; walking its maps sees the cache only.
struct LedgerState : StateView {
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
  // Not owned; nullptr: the maps are the whole state.
  const RowSource* source = nullptr;

  LedgerState() = default;
  LedgerState(const LedgerState&) = default;
  LedgerState(LedgerState&&) = default;
  LedgerState& operator=(const LedgerState&) = default;
  LedgerState& operator=(LedgerState&&) = default;

  const LedgerInfo& Info() const override { return info; }
  const KeyInfo* FindKey(const KeyId& key_id) const override;
  std::vector<const KeyInfo*> AllKeys() const override;
  std::vector<const PolicyVersion*> AllPolicies() const override;
  const PolicyVersion* PolicyAt(int64_t at_ms) const override;
  const Recipient* FindRecipient(const std::string& uscc) const override;
  const Application* FindApplication(const std::string& id) const override;
  const MeasureYear* FindMeasureYear(const std::string& measure, uint16_t year) const override;
  const RecipientTrackYear* FindRecipientYear(const std::string& uscc, const std::string& measure,
                                              const std::string& track,
                                              uint16_t year) const override;
  const int64_t* FindProject(const std::string& row_key) const override;
  const std::string* FindEvidence(const Hash& digest) const override;
  const IdempotencyRecord* FindIdempotency(const std::string& idempotency_key) const override;
  Status ReadStatus() const override { return read_status_; }

  // Brings row `row_key` into the maps from the source if it is stored and not yet there (a
  // cache fill: the state it stands for does not change, hence const). No-op without a source.
  void Fault(const std::string& row_key) const;
  // Forgets every cached row but the always-whole ones (keys, policies, head) and what is known
  // to be absent, so a long import's cache does not grow with history. REQUIRES: dirty empty.
  void ForgetCached();
  // Clears ReadStatus (the batch that met the failed read was given up).
  void ResetReadStatus() { read_status_ = Status::Ok(); }
  // Records that the fold removed row `row_key`, so that no lookup reads it back from the
  // source before the removal is written.
  void NoteRemoved(const std::string& row_key) { absent_.insert(row_key); }
  // Forgets that `row_key` was read as absent (it has been written, or put back).
  void ForgetAbsent(const std::string& row_key) { absent_.erase(row_key); }
  // Rows held in memory that ForgetCached would drop.
  size_t CachedRows() const;

 private:
  // Rows the source was asked for and does not hold.
  mutable std::set<std::string> absent_;
  mutable Status read_status_;
};

std::string RowKeyKey(const KeyId& key_id);
std::string RowKeyApplication(const std::string& id);
std::string RowKeyRecipient(const std::string& uscc);
std::string RowKeyMeasureYear(const std::string& measure, uint16_t year);
std::string RowKeyRecipientYear(const std::string& uscc, const std::string& measure,
                                const std::string& track, uint16_t year);
// The project an application counts against: its project_id attribute, else the application.
std::string RowKeyProject(const events::ApplicationSubmitted& application);
std::string RowKeyEvidence(const Hash& digest);
std::string RowKeyIdempotency(const std::string& idempotency_key);
std::string RowKeyUnit(const std::string& unit);
std::string RowKeyDistrict(const std::string& district);
// Row keys of the rows always held whole in a backed state: "head" and these prefixes.
inline constexpr const char* kResidentRowPrefixes[] = {"key/", "policy/"};

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
Status Validate(const StateView& state, const events::Entry& entry);

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

// Applies only what the chain check reads (ledger::CheckLink): the head, the ledger's identity
// and the keys (registered and revoked). `verify` replays with it: it checks the chain and the
// signatures, not the rules, so it folds no money and holds no row that grows with the ledger
// beyond its keys. A state built this way is not the ledger's state (no StateHash of it).
void ApplyChain(LedgerState* state, const EntryContext& context);

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
Result<AwardLimit> MaxAward(const StateView& state, const std::string& application_id,
                            int64_t at_ms);

// The city/district split of `amount_fen` under `measure`'s co-funding.
void SplitAward(const events::Measure& measure, int64_t amount_fen, int64_t* city_fen,
                int64_t* district_fen);

// What a write may leave to the writer, decided on the state it holds when it appends (one
// decision, under the writer's lock), not by the caller on a state that may have moved.
struct Defaults {
  bool award_max = false;    // AwardGranted: the largest amount MaxAward allows
  bool award_split = false;  // AwardGranted: the measure's city/district split of the amount
  bool apply_track =
      false;  // ApplicationSubmitted: the measure's only track; the track's basis kind
  bool revoke_unpaid = false;  // AwardRevoked: all of the award not yet paid
  bool Any() const { return award_max || award_split || apply_track || revoke_unpaid; }
};

// Fills in `body` (the body of `draft`, an entry about to be appended: signer, seq,
// recordedAt set) what `defaults` leaves to the writer, against `state`. The signer's right to
// sign the body's kind is checked first, with Validate's rule codes (key.unknown, key.revoked,
// role). Returns a one-line note of what was decided (the binding rule of a maximum), empty if
// nothing worth saying. Refusals as Validate's: kRejected naming the rule, kInvalidArgument.
// `simulate`, `quote` and the writer all decide through this and MaxAward.
Result<std::string> Resolve(const StateView& state, const events::Entry& draft,
                            const Defaults& defaults, events::Body* body);

// Structural checks of a policy document: ids unique and well formed, rates <= 100%, caps
// positive, every track capped (or bounded by its basis), term dates valid, units known.
// kInvalidArgument naming the first problem.
Status CheckPolicy(const events::Policy& policy);

// ---- Rows: the persisted form of the state ----

// Encodes the row `row_key` of `state` (deterministic bytes), read through to a backed
// state's source; nullopt if the row is absent.
std::optional<std::string> EncodeRow(const LedgerState& state, const std::string& row_key);
// EncodeRow through nlohmann's JSON objects, json::dump()'s text: the reference that the kinds
// EncodeRow writes directly (the rows that change with most entries: the head, applications,
// measure-years, recipient-years, units, districts) must equal byte for byte, and the form
// LoadRow's parse mirrors.
std::optional<std::string> EncodeRowJson(const LedgerState& state, const std::string& row_key);
// Loads one persisted row into `state`. kCorruption if the key or bytes do not parse.
Status LoadRow(LedgerState* state, const std::string& row_key, const std::string& value);
// Removes row `row_key` from `state` (undoing an Apply whose batch was not written).
void EraseRow(LedgerState* state, const std::string& row_key);
// Every row key of `state`, sorted (of a backed state: those in memory).
std::vector<std::string> AllRowKeys(const LedgerState& state);

class RowCursor;  // one kind's rows (state.cc)

// The rows of `state` in key order (AllRowKeys' order), one at a time: each value is encoded
// when asked for and nothing is copied ahead, so a walk over a ledger's million rows holds no
// second copy of their keys or values (StateHash; audit's and rebuild's comparison with the
// stored rows). Of a backed state, the rows in memory. The state must not change while a walk
// over it is in use. Not thread safe.
class RowWalk {
 public:
  explicit RowWalk(const LedgerState& state);
  ~RowWalk();
  RowWalk(const RowWalk&) = delete;
  RowWalk& operator=(const RowWalk&) = delete;
  bool Valid() const { return current_ != nullptr; }
  // The current row's key. REQUIRES: Valid(); the reference lasts until Next().
  const std::string& key() const;
  // The current row's encoding, as EncodeRow gives it. REQUIRES: Valid().
  std::string value() const;
  // REQUIRES: Valid().
  void Next();

 private:
  void Pick();
  std::vector<std::unique_ptr<RowCursor>> cursors_;
  RowCursor* current_ = nullptr;  // the cursor on the smallest key; nullptr at the end
};
// Root over all rows (RFC 9162 tree over SHA-256(0x00 || len key || key || value), rows sorted
// by key): equal states give equal hashes, and a row can later be proven (DESIGN.md §8).
Hash StateHash(const LedgerState& state);
// The leaf of row `row_key` with encoded value `value` in StateHash's tree, for a reader that
// has the encoded rows rather than a state (an incremental audit hashes stored rows).
Hash StateLeaf(std::string_view row_key, std::string_view value);

}  // namespace fundledger::projections
