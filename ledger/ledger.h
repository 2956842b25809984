// The ledger: signed, hash-chained entries in RocksDB with their projections, indexes and
// Merkle tree, all written in one synced WriteBatch per append (DESIGN.md §2, §6).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events/crypto.h"
#include "events/model.h"
#include "events/status.h"
#include "ledger/merkle.h"
#include "projections/projections.h"

namespace fundledger::ledger {

using events::Bytes;
using events::Hash;

// Appends in one call at most this many entries (larger batches: kInvalidArgument). Import
// commits its groups below this bound too.
inline constexpr size_t kBatchEntriesMax = 100'000;
inline constexpr uint32_t kStorageFormat = 1;  // meta "format"; Open refuses others

enum class OpenMode {
  kWriter,     // the one writer: holds RocksDB's LOCK; a second gets kBusy
  kReader,     // a RocksDB secondary instance: safe beside a running writer, sees its last sync
};

// Hooks into the storage for tests (a fault-injecting file system); defined in
// ledger/internal/storage_hooks.h so this header names no RocksDB type.
struct StorageHooks;
class Inspection;

struct OpenOptions {
  OpenMode mode = OpenMode::kWriter;
  // Accept a ledger whose import never finished (the process was killed or crashed during an
  // import into a new directory), so that the same import can resume it (ImportEntries).
  // Default: false; Open then refuses such a ledger with kIOError naming the way out.
  bool resume_import = false;
  // Default: nullptr (the real file system). Not owned; must outlive the Ledger.
  const StorageHooks* hooks = nullptr;
};

// One signed entry as stored: canonical Entry bytes, signature, and the decoded entry.
struct StoredEntry {
  Bytes entry_bytes;
  events::Signature signature{};
  Hash leaf_hash{};
  events::Entry entry;
};

// What a caller asks to append: the body and an optional idempotency key.
struct AppendRequest {
  events::Body body;
  std::string idempotency_key;
  // What the writer decides for the caller (projections::Resolve), on the state it holds.
  projections::Defaults defaults = {};
};

struct AppendResult {
  uint64_t seq = 0;
  bool replayed = false;  // an idempotent retry: the entry was already there, nothing written
  std::string note;       // what the writer decided for the request (projections::Resolve)
};

// A writer keeps at most this many projection rows read for earlier batches in memory; past
// it they are dropped after a commit (and read again when needed), so a long import holds the
// rows of one group, not of the whole history.
inline constexpr size_t kCachedRowsMax = 50'000;

// Memory all of a ledger's RocksDB memtables may hold together before RocksDB flushes them
// (db_write_buffer_size), in bytes. Flushes lag the writes, so the memtables held about twice
// this in the heap profile of importing 10^5 entries (123 MiB at 64 MiB); at 16 MiB they hold
// about 30 MiB, and an import stays as fast within the noise of the measurement.
inline constexpr size_t kMemtableBytesMax = size_t{16} << 20;

// RocksDB's block cache, one for all of a ledger's column families, in bytes: data blocks and
// the partitions of the table files' indexes, which are read as a lookup needs them rather than
// whole at every open (ledger/store.cc, TableOptions).
inline constexpr size_t kBlockCacheBytes = size_t{32} << 20;

// Table files below this size count as small. Entries, Merkle nodes and the like are written in
// key order, so RocksDB moves each flushed file down whole instead of merging it with others, and
// a ledger written by many commands collects hundreds of small files that every reader opens. A
// writer merges each run of at least kSmallTablesMerged adjacent small files of a level into
// files of kTableFileBytes as it closes (MergeSmallTables).
inline constexpr uint64_t kSmallTableBytes = uint64_t{16} << 20;
inline constexpr size_t kSmallTablesMerged = 8;
inline constexpr uint64_t kTableFileBytes = uint64_t{64} << 20;

// Thread safety: a Ledger is used from one thread at a time.
class Ledger {
 public:
  virtual ~Ledger();

  // Creates a new ledger at `path` (which must not hold one) whose entry 1 is LedgerCreated,
  // signed by `authority`. kIOError if the directory holds a ledger or cannot be written.
  // `hooks`: see OpenOptions.
  static Result<std::unique_ptr<Ledger>> Create(const std::string& path,
                                                const events::PrivateKey& authority,
                                                const events::LedgerCreated& created, int64_t at_ms,
                                                const StorageHooks* hooks = nullptr);
  // Creates an empty ledger at `path` to be filled by ImportEntries (ledger/exchange.h); its
  // first imported entry must be a LedgerCreated. It is marked as an unfinished import until
  // FinishImport, so a crash part-way leaves a ledger that only the same import may resume.
  static Result<std::unique_ptr<Ledger>> CreateForImport(const std::string& path,
                                                         const StorageHooks* hooks = nullptr);
  // Opens an existing ledger, loads its head, keys and policies and checks the head entry
  // against them (other rows are read when asked for).
  // kIOError: no ledger at `path`, or an unfinished import (unless options.resume_import);
  // kBusy: another writer holds it; kCorruption: unknown format or a head that does not match.
  static Result<std::unique_ptr<Ledger>> Open(const std::string& path, const OpenOptions& options);
  static Result<std::unique_ptr<Ledger>> Open(const std::string& path, OpenMode mode) {
    OpenOptions options;
    options.mode = mode;
    return Open(path, options);
  }

  // Point lookups of the projection rows as of the head (each row read when first asked for;
  // keys, policies and the head are held whole). Check view().ReadStatus() before acting on a
  // lookup that found nothing.
  const projections::StateView& view() const { return state_; }
  const projections::LedgerInfo& head() const { return state_.info; }
  // A state to try entries on without writing them: lookups read through to the store,
  // changes stay in the copy. Valid while this ledger is open.
  projections::LedgerState Draft() const { return state_; }
  // The current rows whose keys start with any of `prefixes`, whole, in memory: for readers
  // that need every row of a kind (reports, totals by unit). kIOError/kCorruption on failure.
  virtual Result<projections::LedgerState> Rows(const std::vector<std::string>& prefixes) const = 0;
  // True while the ledger is an import that has not finished (see CreateForImport).
  bool import_unfinished() const { return import_unfinished_; }
  // Clears the unfinished-import mark (synced), once every entry of the import is appended.
  // kIOError if it cannot be written. Writer only.
  virtual Status FinishImport() = 0;
  uint64_t size() const { return state_.info.head_seq; }

  // Signs and appends `requests` in order, all or nothing, recorded at `at_ms`, which may not
  // be earlier than the head's (kInvalidArgument) nor later than `now_ms`, the writer's clock,
  // plus projections::kClockSkewMsMax (kRejected "time.future"). Every entry passes
  // projections::Validate against the state left by the ones before it, and is signed only if
  // the reader would accept its bytes (events::EncodeEntryForSigning; kInvalidArgument naming
  // the limit otherwise). On error nothing is written, the state is as before, and the
  // status names the failing request ("request 3: …"). Each request's `defaults` are resolved
  // (projections::Resolve) against the state left by the ones before it. An idempotent retry
  // (same key, same
  // signer and body) returns the first seq; the same key with other content is
  // kRejected("idempotency.conflict").
  virtual Result<std::vector<AppendResult>> Append(const events::PrivateKey& signer,
                                                   std::span<const AppendRequest> requests,
                                                   int64_t at_ms, int64_t now_ms) = 0;

  // Appends entries signed elsewhere (import), verifying each exactly as audit does: decoding,
  // ledger id, seq, prev hash, time order, signature, rules; and none may be dated later than
  // `now_ms` (the importer's clock) plus projections::kClockSkewMsMax ("time.future"), or the
  // copy would refuse every write at the real time. All or nothing per call.
  // `signatures_verified`: the caller has already verified every signature against the key
  // its signer id names (ImportEntries does, on all cores); the signer's registration and
  // rights are still checked here.
  virtual Status AppendSigned(std::span<const StoredEntry> entries, int64_t now_ms,
                              bool signatures_verified = false) = 0;
  // AppendSigned for a long run of entries (import): stages `entries` in order and commits,
  // in one synced WriteBatch, those staged by the time the batch holds `batch_bytes_max` bytes
  // (at least one entry), or all of them; returns how many it appended, and the caller passes
  // the rest again. So the batch, and the memtables that take it whole, stay near that size
  // however many entries the caller verified at once. Checks and refusals as AppendSigned; a
  // refused entry appends nothing of this call (it is among those staged). Default: all of
  // them through AppendSigned, for a store that does not bound its batches.
  virtual Result<size_t> AppendSignedPrefix(std::span<const StoredEntry> entries, int64_t now_ms,
                                            bool signatures_verified, size_t batch_bytes_max);

  // Entry `seq` (1-based), its signature re-verified and its bytes decoded. kNotFound past the
  // head; kCorruption if the stored bytes do not decode or verify.
  virtual Result<StoredEntry> Read(uint64_t seq) const = 0;
  // Raw stored value of entry `seq` without any check (audit checks it itself).
  virtual Result<Bytes> ReadRaw(uint64_t seq) const = 0;

  // Seqs listed by an index: "recipient/<uscc>", "application/<id>", "kind/<Kind>".
  virtual Result<std::vector<uint64_t>> IndexSeqs(const std::string& index) const = 0;

  // The stored Merkle tree (level-0 nodes are the leaf hashes).
  virtual const MerkleNodeSource& tree() const = 0;

  // What an audit reads of the store besides entries and rows: ledger/inspection.h.
  virtual const Inspection& inspection() const = 0;

  // Checkpoints: signed notes kept in their own column family, keyed by tree size. Storing one
  // also records its digest, so a checkpoint that later disappears is noticed.
  virtual Status StoreCheckpoint(uint64_t tree_size, const std::string& note) = 0;
  virtual Result<std::vector<std::pair<uint64_t, std::string>>> Checkpoints() const = 0;

  // Recomputes every projection from entry 1 and rewrites the stored rows to match (one
  // WriteBatch). Returns the number of rows that differed. Writer only.
  virtual Result<uint64_t> Rebuild() = 0;

  // The rows whose keys start with any of `prefixes`, as they stood after entry `seq` (from the
  // row history: one seek per row, no replay). "head" is a row key too.
  virtual Result<projections::LedgerState> StateAsOf(uint64_t seq, const std::vector<std::string>& prefixes) const = 0;

  // The ledger's origin line for checkpoints: "fundledger/<ledgerId hex>".
  std::string Origin() const;

  // --- Sequential reads for the replay paths (audit, verify, export) ---

  // Raw stored values of entries first..first+count-1, in order, into `out` (cleared first):
  // one Result per seq, as ReadRaw gives it (kNotFound for a missing entry), read with one
  // iterator seek rather than one lookup per entry. Stored keys of another form are skipped
  // (audit names them as stray records).
  virtual void ReadRawRange(uint64_t first, size_t count,
                            std::vector<Result<Bytes>>* out) const = 0;

 protected:
  Ledger() = default;
  projections::LedgerState state_;
  bool import_unfinished_ = false;
};

// The 32-byte signature of `entry_bytes` and its leaf hash, split from a stored value
// (entry bytes followed by the 64-byte signature). kCorruption if too short.
Result<StoredEntry> SplitStoredValue(std::span<const uint8_t> value);

// ---- Writes signed elsewhere (fundledger serve): the writer decides, the author signs ----

// An entry built and checked by the writer for its author to sign on another machine.
struct PreparedEntry {
  events::Entry entry;        // seq, prev hash and recordedAt set by the writer
  Bytes entry_bytes;          // canonical bytes to sign (events::EncodeEntryForSigning)
  uint64_t replayed_seq = 0;  // > 0: an idempotent retry of entry replayed_seq; nothing to sign
  std::string note;           // what the writer decided (projections::Resolve)
};

// Builds the entry `request` makes for key `signer` at `at_ms` on `draft` (Ledger::Draft, with
// any entries of the same batch applied by ApplyPrepared), exactly as Append builds and checks
// it before signing: Resolve, the idempotency lookup, Validate, EncodeEntryForSigning. A server
// holding no key thus decides as a local writer would. Refusals as Append's (kRejected with the
// rule, kInvalidArgument, a failed row read); `draft` holds only rows read into its cache.
Result<PreparedEntry> PrepareEntry(const projections::LedgerState& draft,
                                   const events::KeyId& signer, const AppendRequest& request,
                                   int64_t at_ms);

// Checks `signature` over `prepared` against its signer's registered key in `draft` and folds
// the signed entry into `draft`, so the batch's next entry is prepared after it. Returns the
// entry as AppendSigned takes it. kInvalidArgument if the signature does not verify (the draft
// is then unchanged); a failed row read during the fold is returned as it came.
Result<StoredEntry> ApplyPrepared(projections::LedgerState* draft, PreparedEntry prepared,
                                  const events::Signature& signature);

}  // namespace fundledger::ledger
