// The inspector's replay (DESIGN.md §2, §4, §5): from entry 1, every byte decoded, every link,
// signature, signer right and rule re-checked, the projections rebuilt and compared with the
// stored ones, and the Merkle root checked against every checkpoint. Read-only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "events/status.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "projections/projections.h"

namespace fundledger::ledger {

// Entries to audit, by seq: a ledger's stored values, or an export file's.
class EntrySource {
 public:
  virtual ~EntrySource();
  // Number of entries the source claims to hold (its head).
  virtual uint64_t Size() const = 0;
  // Stored value of entry `seq`: canonical Entry bytes followed by the 64-byte signature.
  // kNotFound if it is missing.
  virtual Result<Bytes> Raw(uint64_t seq) const = 0;
  // Stored values of entries first..first+count-1 in order, into `out` (cleared first), one
  // Result per seq as Raw gives it. Audit reads in windows through this so that a source can
  // stream (one RocksDB iterator seek per window rather than one lookup per entry).
  // Default: Raw for each seq.
  virtual void ReadRange(uint64_t first, size_t count, std::vector<Result<Bytes>>* out) const;
};

// Entries of an open ledger (its head = the stored projections' head).
class LedgerEntrySource : public EntrySource {
 public:
  explicit LedgerEntrySource(const Ledger* ledger) : ledger_(ledger) {}  // not owned
  uint64_t Size() const override { return ledger_->size(); }
  Result<Bytes> Raw(uint64_t seq) const override { return ledger_->ReadRaw(seq); }
  void ReadRange(uint64_t first, size_t count, std::vector<Result<Bytes>>* out) const override {
    ledger_->ReadRawRange(first, count, out);
  }

 private:
  const Ledger* ledger_;
};

// Entries held in memory (an export file read by ReadExport).
class MemoryEntrySource : public EntrySource {
 public:
  explicit MemoryEntrySource(std::vector<Bytes> values) : values_(std::move(values)) {}
  uint64_t Size() const override { return values_.size(); }
  Result<Bytes> Raw(uint64_t seq) const override;

 private:
  std::vector<Bytes> values_;
};

struct Finding {
  uint64_t seq = 0;          // 0: about the ledger as a whole (a projection row, a checkpoint)
  std::string kind;          // event kind, if known
  std::string code;          // rule code, or "integrity.*"
  std::string message;       // one line
  bool integrity = false;    // true: bytes, chain, signature, projection or checkpoint
};

// Projection rows a full audit's replay holds in memory at most (besides the head, keys and
// policies, always held); past it the replay moves its rows to a scratch store on disk and reads
// them back as it needs them, so that an audit's memory stays flat however many rows the ledger
// has (issue 8: 10^6 entries within 256 MiB; an application row takes about 0.9 KB in memory).
// A ledger of 10^5 simulated entries has about 80,000 rows and never reaches it.
inline constexpr size_t kAuditRowsHeldMax = 100'000;

struct AuditOptions {
  // Validate every entry. Default: true.
  bool check_rules = true;
  // Check the chain and signatures only (verify): fold only what that check reads (the head
  // and the keys, projections::ApplyChain), so the report's state holds no other row and its
  // state_hash is zero. Nothing else is checked, so it is kInvalidArgument together with
  // check_rules, `stored` or since_attestation. Default: false.
  bool chain_only = false;
  const Ledger* stored = nullptr; // compare stored projections, Merkle tree, entry count (not owned)
  std::vector<std::string> checkpoint_notes;  // signed notes to check, besides the stored ones
  std::function<void(uint64_t)> progress;     // called with entries done
  size_t findings_max = 1000;     // stop collecting rule findings past this many
  // The auditor's clock (UTC ms). With check_rules, an entry dated later than it plus
  // projections::kClockSkewMsMax is a rule finding "time.future". Default: not checked.
  std::optional<int64_t> now_ms;
  // Incremental audit (needs `stored`): start at the ledger's last AuditAttested entry instead
  // of entry 1. The Merkle tree before it is the stored one and must give the attested root;
  // the rows before it are read from the row history as the replay asks for them, and once the
  // replay is done those rows with every other stored row must give the attested state hash
  // (kCorruption otherwise; kNotFound if there is no attestation). That entry and every later
  // one get every check of a full audit; their index, row-history and Merkle records and the
  // rows they read or changed are compared. Entries before the attestation are not read
  // again, nor are the whole-store counts and the stray-record scan made: a damaged prefix is
  // the full audit's to find. Time: the new entries, plus one pass hashing the stored rows
  // (no decoding). Default: false.
  bool since_attestation = false;
  // Rows the replay holds before it moves them to its scratch store (not with chain_only, which
  // holds only the keys, nor since_attestation, which holds the rows its entries read).
  // Default: kAuditRowsHeldMax.
  size_t rows_held_max = kAuditRowsHeldMax;
};

struct AuditReport {
  uint64_t entries = 0;            // entries replayed
  std::vector<Finding> findings;
  Hash root{};                     // Merkle root over the replayed entries
  Hash state_hash{};               // projections::StateHash of the rebuilt state
  // The rebuilt state. After an incremental audit: the head, keys, policies, measure-years and
  // the rows its entries read or changed (the others are stored as attested); see row_counts.
  // After a full audit whose replay held more than rows_held_max rows: the head, keys, policies
  // and measure-years (the other rows were compared and hashed from the scratch store).
  projections::LedgerState state;
  // Rows of the rebuilt state per kind (the row key up to its first '/': "recipient", "app",
  // "head" …), whole after a full or an incremental audit of an intact chain.
  std::map<std::string, uint64_t> row_counts;
  uint64_t checkpoints_checked = 0;
  uint64_t first_replayed = 1;   // the first entry replayed (an incremental audit's attestation)
  uint64_t attestation_seq = 0;  // the attestation an incremental audit started at, else 0
  // The most projection rows the replay held in memory after an entry (besides the head, keys
  // and policies), and how often it moved them to its scratch store.
  uint64_t rows_held_peak = 0;
  uint64_t spills = 0;
  bool IntegrityOk() const;
  bool RulesOk() const;
  // The report as one deterministic text (its SHA-256 is the findings digest of an attestation).
  std::string FindingsText() const;
};

// Replays `source` from entry 1. Stops at the first integrity failure of an entry (later
// entries cannot be trusted) and reports it; rule findings are collected and replay goes on.
// Returns an error only when the audit itself cannot run (I/O).
Result<AuditReport> Audit(const EntrySource& source, const AuditOptions& options);

// The root of the audited tree at a size (kNotFound when it is not known).
using RootLookup = std::function<Result<Hash>(uint64_t size)>;

// Checks one signed checkpoint note against an audited replay of `tree_size` entries: it must
// open with a notary key registered in `state`, name this ledger's origin, and give the root
// `root_at` gives at its size. Returns the findings (empty: the checkpoint holds).
std::vector<Finding> CheckCheckpoint(const std::string& note, const projections::LedgerState& state,
                                     const RootLookup& root_at, uint64_t tree_size);

}  // namespace fundledger::ledger
