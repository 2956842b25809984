// Rows of a replayed state kept on disk instead of in memory: a RocksDB of their own in a
// directory made under /tmp for the purpose and removed with it. A full audit moves the replay's
// rows here once it holds more than AuditOptions::rows_held_max of them, so that its memory does
// not grow with the ledger; the replay then reads them back as it needs them (a RowSource).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "events/status.h"
#include "ledger/inspection.h"
#include "projections/projections.h"

namespace fundledger::ledger::internal {

// Bytes of encoded rows the store writes in one batch at most.
inline constexpr size_t kScratchBatchBytesMax = size_t{1} << 20;
// Bytes of one memtable of the store (it holds two at most).
inline constexpr size_t kScratchMemtableBytes = size_t{8} << 20;

class ScratchRows : public projections::RowSource {
 public:
  // A new, empty store in a new directory under /tmp. kIOError if it cannot be made.
  static Result<std::unique_ptr<ScratchRows>> Create();
  // Closes the store and removes its directory.
  ~ScratchRows() override;

  // The row last written under `row_key`; nullopt if none (or it was removed). kIOError.
  Result<std::optional<std::string>> ReadRow(const std::string& row_key) const override;
  // Writes rows `keys` as `state` holds them in memory, removing those it does not hold, in
  // one batch (not synced: the store does not outlive the process). kIOError; the store is
  // then not to be read.
  Status Write(const projections::LedgerState& state, const std::set<std::string>& keys);
  // Every row, in key order. The cursor must not outlive the store.
  std::unique_ptr<Inspection::Cursor> Rows() const;

  struct Db;  // the RocksDB and its directory (scratch_rows.cc)

 private:
  explicit ScratchRows(std::unique_ptr<Db> db);
  std::unique_ptr<Db> db_;
};

}  // namespace fundledger::ledger::internal
