// What an audit reads of a ledger's store beyond its entries, checkpoints and current rows:
// the records the append path derived beside each entry (index, row history, Merkle nodes),
// whole-store counts and scans, and records nothing accounts for. Kept off ledger::Ledger so
// that commands read a ledger through its lookups alone and only an audit walks the store.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/status.h"
#include "projections/projections.h"

namespace fundledger::ledger {

class Inspection {
 public:
  virtual ~Inspection();

  // Number of stored entry records, counted by scanning (audit compares it with the head).
  virtual Result<uint64_t> CountStoredEntries() const = 0;

  // The stored projection row `key` (nullopt if there is none): one point read, for an
  // incremental audit's comparison of the rows its entries changed. kIOError if unreadable.
  virtual Result<std::optional<std::string>> StoredRow(const std::string& key) const = 0;

  // Calls `fn` with every stored projection row's key and value, in key order, through one
  // iterator: audit compares them with the replay's, and an incremental audit hashes them,
  // without holding them. kIOError if unreadable.
  virtual Status ScanRows(
      const std::function<void(std::string_view key, std::string_view value)>& fn) const = 0;

  // The version of row `row_key` as it stood after entry `seq`, from the row history (one
  // seek); nullopt if the row did not exist then. kIOError if unreadable.
  virtual Result<std::optional<std::string>> RowAsOf(const std::string& row_key,
                                                     uint64_t seq) const = 0;

  // What the append path derived and stored beside the entries, looked up in batches: the
  // stored version of each (row key, seq) of `at` (nullopt if none; an empty string is a
  // removal), and whether each (index, seq) is listed. (*out)[i] answers at[i]. A batch is read
  // in key order through one iterator, so a run of one row's or one index's seqs costs a seek
  // and a step per record, not a seek each. kIOError if unreadable. CountDerived: the number
  // of index, history and Merkle records stored.
  struct NameAt {
    std::string name;  // a row key, or an index ("recipient/<uscc>", "kind/<Kind>", ...)
    uint64_t seq = 0;
  };
  virtual Status HistoryVersions(const std::vector<NameAt>& at,
                                 std::vector<std::optional<std::string>>* out) const = 0;
  virtual Status IndexListed(const std::vector<NameAt>& at, std::vector<bool>* out) const = 0;
  virtual Result<std::array<uint64_t, 3>> CountDerived() const = 0;

  // Records no entry and no checkpoint accounts for, as (finding code, one line): column
  // families a ledger never makes, any record in the default family, keys of a form the
  // layout does not have in the entries, checkpoints and meta families, and stored
  // checkpoints missing, changed or added relative to the digests recorded with them. Records
  // of index, history, Merkle and projections are checked by count and content elsewhere.
  // kIOError if the store cannot be read.
  virtual Result<std::vector<std::pair<std::string, std::string>>> UnaccountedRecords() const = 0;

  // A forward cursor over stored records in key order. Valid() is false at the end and after
  // an error, which status() then gives (kIOError).
  class Cursor {
   public:
    virtual ~Cursor();
    virtual bool Valid() const = 0;
    // REQUIRES: Valid(). The views last until the next call to Next().
    virtual std::string_view key() const = 0;
    virtual std::string_view value() const = 0;
    virtual void Next() = 0;
    virtual Status status() const = 0;
  };

  // The stored Merkle records from the first key at or after `from` on (keys: level, then
  // index; ledger/internal/storage_format.h). Audit keeps one per level of the tree and
  // compares each node as the replay completes it, in index order, so the stored tree is
  // read once and the replay's tree is never held.
  virtual std::unique_ptr<Cursor> MerkleFrom(std::string_view from) const = 0;
};

// A stored projection row unlike the replay's: not stored, stored otherwise, not replayed.
enum class RowDifference { kMissing, kDiffers, kNotReplayed };
// Merges the rows of `replayed` (walked in key order, projections::RowWalk) with the stored ones
// (Inspection::ScanRows) in one pass, calling `fn` in key order for each row not stored as the
// replay encodes it. Audit names these rows and rebuild rewrites them, neither holding the
// stored rows. kIOError from the scan.
Status MergeRows(const Inspection& stored, const projections::LedgerState& replayed,
                 const std::function<void(std::string_view key, RowDifference)>& fn);
// The same with the replay's rows read from `replayed`, a cursor over them in key order (a full
// audit's scratch store), not from a state in memory. kIOError from either.
Status MergeRows(const Inspection& stored, Inspection::Cursor* replayed,
                 const std::function<void(std::string_view key, RowDifference)>& fn);

}  // namespace fundledger::ledger
