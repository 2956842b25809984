// RocksDB-backed Ledger: the append pipeline (load state -> Validate -> Apply -> one synced
// WriteBatch) and reads. Layout: internal/storage_format.h.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/exchange.h"
#include "ledger/inspection.h"
#include "ledger/internal/index_names.h"
#include "ledger/internal/rocksdb_status.h"
#include "ledger/internal/storage_format.h"
#include "ledger/internal/storage_hooks.h"
#include "ledger/ledger.h"

namespace fundledger::ledger {

std::shared_ptr<rocksdb::Cache> internal::SharedBlockCache() {
  // One shard, not RocksDB's default of one per 512 KiB (64 here): an entry larger than its
  // shard is never kept, and the whole index of a table file written before the index was
  // partitioned can be such an entry (an entry per 4 KiB data block). Every point read in such a
  // file read and decompressed that index again: 25-37 s for an incremental audit of 9,901
  // entries on the 10^6 bench ledger, 3.3-4.3 s with one shard (docs/DECISIONS.md). The
  // cache's lock is taken by the few threads of one command.
  static const std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(kBlockCacheBytes, /*num_shard_bits=*/0);
  return cache;
}

namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using internal::FromRocks;
using internal::MerkleKey;
using internal::SeqKey;

const std::vector<std::string>& ColumnFamilyNames() {
  static const std::vector<std::string> names = {
      rocksdb::kDefaultColumnFamilyName, internal::kCfEntries, internal::kCfIndex, internal::kCfProjections,
      internal::kCfMerkle,               internal::kCfCheckpoints, internal::kCfMeta,    internal::kCfHistory};
  return names;
}
enum Cf { kDefault, kEntries, kIndex, kProjections, kMerkle, kCheckpoints, kMeta, kHistory, kCfCount };
// Column families a ledger does not make, opened (for audit to report) at most this many.
constexpr size_t kUnknownFamiliesMax = 64;
// Memtable bytes above which the writer flushes on close (see FlushIfLarge): a reader opening
// next replays at most about this much log, a few milliseconds.
constexpr uint64_t kFlushOnCloseBytes = 64 * 1024;
// Records of one kind that UnaccountedRecords describes one by one, at most.
constexpr size_t kUnaccountedListedMax = 20;

// The meta record of the checkpoint of `tree_size`: "checkpoint/" || size:u64 BE.
std::string CheckpointMetaKey(uint64_t tree_size) {
  return std::string(internal::kMetaCheckpointPrefix) + internal::SeqKey(tree_size);
}

// Reads of a whole family or a long run of it, each block once (the replay's entries and Merkle
// levels, audit's scans and counts): they leave the block cache to the point reads it serves.
// Filling it, they held up to its kBlockCacheBytes for blocks none of them reads again.
rocksdb::ReadOptions OnePassReadOptions() {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  return options;
}

rocksdb::Slice AsSlice(std::span<const uint8_t> bytes) {
  return rocksdb::Slice(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string FormatValue() {
  std::string value(4, '\0');
  for (size_t i = 0; i < 4; ++i) value[i] = static_cast<char>((kStorageFormat >> (8 * i)) & 0xff);
  return value;
}

class RocksLedger;

// Merkle nodes: those staged in the current batch first, then RocksDB.
class DbTree : public MerkleNodeSource {
 public:
  explicit DbTree(const RocksLedger* ledger) : ledger_(ledger) {}
  Result<Hash> Node(uint32_t level, uint64_t index) const override;
  std::map<std::string, Hash> pending;

 private:
  const RocksLedger* ledger_;
};

// Projection rows read one at a time from the projections family.
class DbRows : public pj::RowSource {
 public:
  explicit DbRows(const RocksLedger* ledger) : ledger_(ledger) {}
  Result<std::optional<std::string>> ReadRow(const std::string& row_key) const override;

 private:
  const RocksLedger* ledger_;
};

class RocksLedger : public Ledger, public Inspection {
 public:
  RocksLedger(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
              OpenMode mode, std::string secondary_dir)
      : db_(std::move(db)),
        handles_(std::move(handles)),
        mode_(mode),
        secondary_dir_(std::move(secondary_dir)),
        tree_(this),
        rows_(this) {
    // Every state of this ledger reads through to its store, a new one's too: once cached
    // rows are dropped (kCachedRowsMax) they must be found there again.
    state_.source = &rows_;
  }

  ~RocksLedger() override {
    if (mode_ == OpenMode::kWriter) {
      FlushIfLarge();
      MergeSmallTables();
    }
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    db_.reset();
    if (!secondary_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(secondary_dir_, ignored);
    }
  }

  Status LoadState();
  // Writes the memtables out to table files if the log holds more than kFlushOnCloseBytes, so
  // that the next process to open the ledger (a reader's catch-up, the writer's recovery)
  // replays at most that much of the write-ahead log instead of every write since the last
  // flush. Best effort: the log stays valid either way.
  void FlushIfLarge() {
    // The live log is what the next open replays (the memtables' own size counts arena blocks
    // allocated ahead, about a megabyte even when nearly empty).
    rocksdb::VectorLogPtr logs;
    if (!db_->GetSortedWalFiles(logs).ok()) return;
    uint64_t bytes = 0;
    for (const auto& log : logs) bytes += log->SizeFileBytes();
    if (bytes <= kFlushOnCloseBytes) return;
    rocksdb::FlushOptions options;
    options.wait = true;
    std::vector<rocksdb::ColumnFamilyHandle*> known(handles_.begin(), handles_.begin() + kCfCount);
    db_->Flush(options, known).PermitUncheckedError();
  }
  // Merges each run of kSmallTablesMerged or more adjacent table files under kSmallTableBytes
  // of a level (above level 0, which RocksDB compacts itself) into files of kTableFileBytes, in
  // place. A reader opens every table file of the ledger (a secondary must), so their number is
  // what a query's open costs. Best effort: files a background compaction holds are left to the
  // next writer.
  void MergeSmallTables() {
    for (size_t cf = 0; cf < kCfCount; ++cf) {
      rocksdb::ColumnFamilyMetaData family;
      db_->GetColumnFamilyMetaData(handles_[cf], &family);
      for (const rocksdb::LevelMetaData& level : family.levels) {
        if (level.level == 0) continue;
        std::vector<std::string> run;
        auto merge = [&] {
          if (run.size() >= kSmallTablesMerged) {
            rocksdb::CompactionOptions options;
            options.output_file_size_limit = kTableFileBytes;
            db_->CompactFiles(options, handles_[cf], run, level.level).PermitUncheckedError();
          }
          run.clear();
        };
        // A level's files are in key order: a run is a stretch of keys no larger file holds.
        for (const rocksdb::SstFileMetaData& file : level.files) {
          if (file.size < kSmallTableBytes) {
            run.push_back(file.name);
          } else {
            merge();
          }
        }
        merge();
      }
    }
  }
  // Writes the storage format and entry 1 (Create).
  Status Initialize(const StoredEntry& first);
  // Records the storage format and the unfinished-import mark, together (an import fills
  // the ledger and clears the mark).
  Status WriteFormat() {
    rocksdb::WriteBatch batch;
    batch.Put(handles_[kMeta], "format", FormatValue());
    batch.Put(handles_[kMeta], internal::kMetaImportUnfinished, "");
    rocksdb::WriteOptions options;
    options.sync = true;
    LEDGER_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "writing the storage format"));
    import_unfinished_ = true;
    return Status::Ok();
  }
  Status FinishImport() override {
    LEDGER_RETURN_IF_ERROR(NeedWriter());
    rocksdb::WriteOptions options;
    options.sync = true;
    LEDGER_RETURN_IF_ERROR(
        FromRocks(db_->Delete(options, handles_[kMeta], internal::kMetaImportUnfinished),
                  "finishing the import"));
    import_unfinished_ = false;
    return Status::Ok();
  }
  // Checks the storage format and that the head entry matches the loaded projections (Open).
  // An unfinished import is refused unless `resume_import`; it may then have no head yet.
  Status CheckOnOpen(const std::string& path, bool resume_import);

  Result<std::vector<AppendResult>> Append(const ev::PrivateKey& signer,
                                           std::span<const AppendRequest> requests, int64_t at_ms,
                                           int64_t now_ms) override;
  Status AppendSigned(std::span<const StoredEntry> entries, int64_t now_ms,
                      bool signatures_verified) override;
  Result<size_t> AppendSignedPrefix(std::span<const StoredEntry> entries, int64_t now_ms,
                                    bool signatures_verified, size_t batch_bytes_max) override;
  Result<StoredEntry> Read(uint64_t seq) const override;
  Result<Bytes> ReadRaw(uint64_t seq) const override;
  Result<uint64_t> CountStoredEntries() const override;
  Result<std::vector<uint64_t>> IndexSeqs(const std::string& index) const override;
  const MerkleNodeSource& tree() const override { return tree_; }
  const Inspection& inspection() const override { return *this; }
  Status ScanRows(
      const std::function<void(std::string_view key, std::string_view value)>& fn) const override;
  Result<std::optional<std::string>> RowAsOf(const std::string& row_key,
                                             uint64_t seq) const override;
  Status StoreCheckpoint(uint64_t tree_size, const std::string& note) override;
  Result<std::vector<std::pair<uint64_t, std::string>>> Checkpoints() const override;
  Result<std::vector<std::pair<std::string, std::string>>> UnaccountedRecords() const override;
  void set_cached_rows_max(size_t rows) { cached_rows_max_ = rows; }
  void set_unknown_families(std::vector<std::string> names) {
    unknown_families_ = std::move(names);
  }
  Result<uint64_t> Rebuild() override;
  Result<pj::LedgerState> StateAsOf(uint64_t seq, const std::vector<std::string>& prefixes) const override;
  Result<pj::LedgerState> Rows(const std::vector<std::string>& prefixes) const override;
  Result<std::optional<std::string>> GetRow(const std::string& row_key) const {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kProjections], row_key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading projection row " + row_key));
    return std::optional<std::string>(std::move(value));
  }
  Status HistoryVersions(const std::vector<NameAt>& at,
                         std::vector<std::optional<std::string>>* out) const override {
    out->assign(at.size(), std::nullopt);
    std::vector<std::string> keys;
    keys.reserve(at.size());
    for (const NameAt& a : at) keys.push_back(internal::HistoryKey(a.name, a.seq));
    return Sweep(kHistory, keys, "reading row history",
                 [out](size_t i, const rocksdb::Slice& value) { (*out)[i] = value.ToString(); });
  }
  Status IndexListed(const std::vector<NameAt>& at, std::vector<bool>* out) const override {
    out->assign(at.size(), false);
    std::vector<std::string> keys;
    keys.reserve(at.size());
    for (const NameAt& a : at) keys.push_back(a.name + "/" + SeqKey(a.seq));
    return Sweep(kIndex, keys, "reading the index",
                 [out](size_t i, const rocksdb::Slice&) { (*out)[i] = true; });
  }
  Result<std::array<uint64_t, 3>> CountDerived() const override {
    std::array<uint64_t, 3> counts{};
    const Cf families[3] = {kIndex, kHistory, kMerkle};
    for (size_t i = 0; i < 3; ++i) {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(OnePassReadOptions(), handles_[families[i]]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++counts[i];
      LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "counting derived records"));
    }
    return counts;
  }

  // Calls `found` with (i, value) for each of `keys` stored in `cf`, visiting them in key order
  // through one iterator: from one key to the next it first steps up to kSweepStepsMax records,
  // which finds the next of a run of adjacent keys (one row's versions, one index's seqs)
  // without a seek, and seeks otherwise. kIOError (`what`) if the family cannot be read.
  Status Sweep(Cf cf, const std::vector<std::string>& keys, const char* what,
               const std::function<void(size_t, const rocksdb::Slice&)>& found) const {
    std::vector<size_t> order(keys.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&keys](size_t a, size_t b) { return keys[a] < keys[b]; });
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[cf]));
    bool positioned = false;
    for (size_t i : order) {
      const rocksdb::Slice want(keys[i]);
      // The iterator is at the first record at or past the previous key, which is at most
      // `want`: stepping cannot pass `want` unseen, and a record already past it (or the
      // family's end) means `want` is not stored.
      for (int steps = 0; positioned && it->Valid() && it->key().compare(want) < 0; ++steps) {
        if (steps == kSweepStepsMax)
          positioned = false;
        else
          it->Next();
      }
      if (!it->status().ok()) break;
      if (!positioned) {
        it->Seek(want);
        positioned = true;
      }
      if (it->Valid() && it->key() == want) found(i, it->value());
    }
    return FromRocks(it->status(), what);
  }
  static constexpr int kSweepStepsMax = 2;

  Result<Hash> GetNode(uint32_t level, uint64_t index) const {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kMerkle], MerkleKey(level, index), &value);
    if (s.IsNotFound()) return Status::NotFound("merkle node " + std::to_string(level) + "/" + std::to_string(index));
    LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the merkle tree"));
    Hash hash{};
    if (value.size() != hash.size()) return Status::Corruption("merkle node of " + std::to_string(value.size()) + " bytes");
    std::memcpy(hash.data(), value.data(), hash.size());
    return hash;
  }

 private:
  Status NeedWriter() const {
    if (mode_ != OpenMode::kWriter) return Status::InvalidArgument("the ledger is open read-only");
    return Status::Ok();
  }
  // Stages a sealed entry: Apply to the state, and entry, index and Merkle rows to `batch`.
  Status Stage(const StoredEntry& sealed, rocksdb::WriteBatch* batch);
  // Adds the batch's changed projection rows and writes `batch` synced; undoes the state on
  // failure.
  Status Commit(rocksdb::WriteBatch* batch);
  // Puts every row the staged batch changed back as it is stored, and forgets the batch.
  void Rollback();
  // Checks a signed entry as it would be appended next: chain, time, signature, rules.
  Status CheckNext(const StoredEntry& sealed) const;
  // The public key `signer` was registered with before entry `before_seq`, taken from the
  // signed entry that registered it (entry 1's LedgerCreated for the authority, else the first
  // KeyRegistered of that key the kind index lists), whose own signature and place in the
  // chain are checked the same way. Never from the key projection row: rows are not signed,
  // so a swapped row must not make a forged entry verify. kCorruption if there is none.
  Result<ev::PublicKey> RegisteredKey(const ev::KeyId& signer, uint64_t before_seq,
                                      int depth) const;
  // Stored entry `seq`, decoded, checked to be stored under its own seq and to be the leaf the
  // stored Merkle tree holds at its place, its prev hash that of the leaf before.
  Result<StoredEntry> ChainedEntry(uint64_t seq) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  OpenMode mode_;
  std::string secondary_dir_;
  DbTree tree_;
  DbRows rows_;
  // Rows changed by the entries staged in the batch not yet written (Commit writes them,
  // Rollback reloads them).
  std::set<std::string> batch_dirty_;
  // Keys whose signed registration was verified: key id -> (registration seq, public key).
  mutable std::map<ev::KeyId, std::pair<uint64_t, ev::PublicKey>> verified_keys_;
  size_t cached_rows_max_ = kCachedRowsMax;
  // Column families found at open that a ledger never makes (their handles follow the known).
  std::vector<std::string> unknown_families_;

  // --- Sequential reads for the replay paths (defined at the end of this file) ---
 public:
  void ReadRawRange(uint64_t first, size_t count, std::vector<Result<Bytes>>* out) const override;
  Result<std::optional<std::string>> StoredRow(const std::string& key) const override;
  std::unique_ptr<Cursor> MerkleFrom(std::string_view from) const override;
};

// Registrations vouch for registrations (the authority for an admin, the admin for a clerk);
// a longer chain than this is refused rather than followed.
constexpr int kKeyChainDepthMax = 16;

Result<Hash> DbTree::Node(uint32_t level, uint64_t index) const {
  auto it = pending.find(MerkleKey(level, index));
  if (it != pending.end()) return it->second;
  return ledger_->GetNode(level, index);
}

Result<std::optional<std::string>> DbRows::ReadRow(const std::string& row_key) const {
  return ledger_->GetRow(row_key);
}

Status RocksLedger::LoadState() {
  // The head, keys and policies, whole; every other row is read when first asked for.
  std::vector<std::string> resident(std::begin(pj::kResidentRowPrefixes),
                                    std::end(pj::kResidentRowPrefixes));
  resident.push_back("head");
  LEDGER_ASSIGN_OR_RETURN(state_, Rows(resident));
  state_.source = &rows_;
  return Status::Ok();
}

Result<pj::LedgerState> RocksLedger::Rows(const std::vector<std::string>& prefixes) const {
  pj::LedgerState out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kProjections]));
  for (const std::string& prefix : prefixes) {
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      LEDGER_RETURN_IF_ERROR(pj::LoadRow(&out, it->key().ToString(), it->value().ToString()));
    }
    LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading projections"));
  }
  return out;
}

Status RocksLedger::Initialize(const StoredEntry& first) {
  LEDGER_CHECK(first.entry.seq == 1);
  rocksdb::WriteBatch batch;
  batch.Put(handles_[kMeta], "format", FormatValue());
  Status s = CheckNext(first);
  if (s.ok()) s = Stage(first, &batch);
  if (!s.ok()) {
    Rollback();
    return s;
  }
  return Commit(&batch);
}

Status RocksLedger::CheckOnOpen(const std::string& path, bool resume_import) {
  std::string format;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kMeta], "format", &format);
  if (s.IsNotFound()) return Status::Corruption("not a fundledger ledger (no storage format recorded)");
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the storage format"));
  if (format != FormatValue()) return Status::Corruption("unknown storage format; this fundledger reads format " + std::to_string(kStorageFormat));
  std::string mark;
  s = db_->Get(rocksdb::ReadOptions(), handles_[kMeta], internal::kMetaImportUnfinished, &mark);
  if (!s.IsNotFound()) {
    LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the import mark"));
    if (!resume_import) {
      return Status::IOError("the import into " + path +
                             " did not finish; run the same import again to complete it");
    }
    import_unfinished_ = true;
    if (state_.info.head_seq == 0) return Status::Ok();  // stopped before its first group
  }
  if (state_.info.head_seq == 0) return Status::Corruption("the ledger has no head");
  auto raw = ReadRaw(state_.info.head_seq);
  if (!raw.ok() && raw.status().IsNotFound()) {
    return Status::Corruption("entry " + std::to_string(state_.info.head_seq) + ": the head entry is missing");
  }
  LEDGER_ASSIGN_OR_RETURN(Bytes value, std::move(raw));
  LEDGER_ASSIGN_OR_RETURN(StoredEntry head, SplitStoredValue(value));
  if (head.leaf_hash != state_.info.head_hash) {
    return Status::Corruption("entry " + std::to_string(state_.info.head_seq) + ": head entry does not match the stored projections");
  }
  return Status::Ok();
}

Status RocksLedger::CheckNext(const StoredEntry& sealed) const {
  return CheckNextEntry(state_, sealed, /*signature_checked=*/false);
}

Status RocksLedger::Stage(const StoredEntry& sealed, rocksdb::WriteBatch* batch) {
  const ev::Entry& e = sealed.entry;
  // Indexes read the state before Apply (an application's recipient is already known).
  for (const std::string& name : internal::IndexNames(state_, e)) batch->Put(handles_[kIndex], name + "/" + SeqKey(e.seq), "");
  Bytes value = sealed.entry_bytes;
  value.insert(value.end(), sealed.signature.begin(), sealed.signature.end());
  batch->Put(handles_[kEntries], SeqKey(e.seq), AsSlice(value));
  LEDGER_ASSIGN_OR_RETURN(auto nodes, NodesCompletedBy(tree_, e.seq - 1, sealed.leaf_hash));
  for (const MerkleNode& node : nodes) {
    std::string key = MerkleKey(node.level, node.index);
    tree_.pending[key] = node.hash;
    batch->Put(handles_[kMerkle], key, AsSlice(node.hash));
  }
  uint64_t before = state_.info.head_seq;
  LEDGER_CHECK(state_.dirty.empty());
  pj::Apply(&state_, pj::EntryContext{&e, sealed.leaf_hash});
  LEDGER_CHECK(state_.info.head_seq == before + 1) << before;
  // The fold read rows it could not get: what it computed is not the state.
  LEDGER_RETURN_IF_ERROR(state_.ReadStatus().WithPrefix("entry " + std::to_string(e.seq)));
  // Each row this entry changed gets a version at this seq, so as-of reads see every step.
  for (const std::string& key : state_.dirty) {
    std::optional<std::string> row = pj::EncodeRow(state_, key);
    batch->Put(handles_[kHistory], internal::HistoryKey(key, e.seq), row ? *row : std::string());
  }
  // The entry's few rows move into the batch's set (cost: this entry's rows, not the batch's);
  // merging the other way round made a batch of n entries cost O(n^2).
  batch_dirty_.merge(state_.dirty);
  state_.dirty.clear();
  return Status::Ok();
}

Status RocksLedger::Commit(rocksdb::WriteBatch* batch) {
  for (const std::string& key : batch_dirty_) {
    std::optional<std::string> row = pj::EncodeRow(state_, key);
    if (row) {
      batch->Put(handles_[kProjections], key, *row);
    } else {
      batch->Delete(handles_[kProjections], key);
    }
  }
  rocksdb::WriteOptions options;
  options.sync = true;  // WAL synced before the caller is told "ok"
  Status s = FromRocks(db_->Write(options, batch), "writing the ledger");
  if (!s.ok()) {
    Rollback();
    return s;
  }
  for (const std::string& key : batch_dirty_) state_.ForgetAbsent(key);
  batch_dirty_.clear();
  tree_.pending.clear();
  if (state_.CachedRows() > cached_rows_max_) state_.ForgetCached();
  return Status::Ok();
}

void RocksLedger::Rollback() {
  batch_dirty_.merge(state_.dirty);
  for (const std::string& key : batch_dirty_) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kProjections], key, &value);
    pj::EraseRow(&state_, key);
    state_.ForgetAbsent(key);  // a removal the batch made is undone too
    if (s.ok()) {
      Status loaded = pj::LoadRow(&state_, key, value);
      LEDGER_CHECK(loaded.ok()) << loaded.ToString();
    } else {
      LEDGER_CHECK(s.IsNotFound()) << s.ToString();
    }
  }
  state_.dirty.clear();
  state_.ResetReadStatus();
  batch_dirty_.clear();
  tree_.pending.clear();
}

Result<std::vector<AppendResult>> RocksLedger::Append(const ev::PrivateKey& signer,
                                                      std::span<const AppendRequest> requests,
                                                      int64_t at_ms, int64_t now_ms) {
  LEDGER_RETURN_IF_ERROR(NeedWriter());
  LEDGER_CHECK(state_.dirty.empty());
  if (requests.empty()) return Status::InvalidArgument("nothing to append");
  if (requests.size() > kBatchEntriesMax) return Status::InvalidArgument("more than " + std::to_string(kBatchEntriesMax) + " entries in one append");
  if (at_ms < state_.info.head_recorded_at_ms) {
    return Status::InvalidArgument("time " + ev::FormatInstant(at_ms) + " is earlier than the head entry's " +
                                   ev::FormatInstant(state_.info.head_recorded_at_ms));
  }
  LEDGER_RETURN_IF_ERROR(pj::CheckNotInFuture(at_ms, now_ms));
  rocksdb::WriteBatch batch;
  std::vector<AppendResult> results;
  for (size_t i = 0; i < requests.size(); ++i) {
    std::string where = requests.size() > 1 ? "request " + std::to_string(i + 1) : "";
    auto prefixed = [&where](const Status& s) { return where.empty() ? s : s.WithPrefix(where); };
    // The writer's decisions and checks, on the state left by the requests before: the same
    // function a service runs before its client signs (ledger/prepare.cc).
    auto prepared = PrepareEntry(state_, signer.key_id(), requests[i], at_ms);
    if (!prepared.ok()) {
      Rollback();
      return prefixed(prepared.status());
    }
    if (prepared->replayed_seq != 0) {
      results.push_back(AppendResult{prepared->replayed_seq, true, ""});
      continue;
    }
    StoredEntry sealed;
    sealed.entry_bytes = std::move(prepared->entry_bytes);
    sealed.signature = signer.Sign(sealed.entry_bytes);
    // Pair assertion: what we are about to store verifies exactly as audit will check it.
    LEDGER_CHECK(ev::Ed25519Verify(signer.public_key(), sealed.entry_bytes, sealed.signature));
    sealed.leaf_hash = ev::EntryLeafHash(sealed.entry_bytes, sealed.signature);
    sealed.entry = std::move(prepared->entry);
    Status staged = Stage(sealed, &batch);
    if (!staged.ok()) {
      Rollback();
      return prefixed(staged);
    }
    results.push_back(AppendResult{sealed.entry.seq, false, std::move(prepared->note)});
  }
  if (batch.Count() == 0) return results;  // every request was an idempotent retry
  LEDGER_RETURN_IF_ERROR(Commit(&batch));
  return results;
}

Status RocksLedger::AppendSigned(std::span<const StoredEntry> entries, int64_t now_ms,
                                 bool signatures_verified) {
  LEDGER_ASSIGN_OR_RETURN(size_t appended,
                          AppendSignedPrefix(entries, now_ms, signatures_verified, SIZE_MAX));
  LEDGER_CHECK(appended == entries.size()) << appended << " of " << entries.size();
  return Status::Ok();
}

Result<size_t> RocksLedger::AppendSignedPrefix(std::span<const StoredEntry> entries,
                                               int64_t now_ms, bool signatures_verified,
                                               size_t batch_bytes_max) {
  LEDGER_RETURN_IF_ERROR(NeedWriter());
  LEDGER_CHECK(state_.dirty.empty());
  LEDGER_CHECK(batch_bytes_max > 0);
  if (entries.size() > kBatchEntriesMax) return Status::InvalidArgument("batch too large");
  rocksdb::WriteBatch batch;
  size_t staged = 0;
  // At least one entry whatever the limit (an empty batch already holds its header's bytes).
  while (staged < entries.size() && (staged == 0 || batch.GetDataSize() < batch_bytes_max)) {
    const StoredEntry& sealed = entries[staged];
    Status s = pj::CheckNotInFuture(sealed.entry.recorded_at_ms, now_ms);
    if (!s.ok()) s = s.WithPrefix("entry " + std::to_string(sealed.entry.seq));
    if (s.ok()) s = CheckNextEntry(state_, sealed, signatures_verified);
    if (!state_.ReadStatus().ok()) s = state_.ReadStatus();
    if (s.ok()) s = Stage(sealed, &batch);
    if (!s.ok()) {
      Rollback();
      return s;
    }
    ++staged;
  }
  if (staged == 0) return size_t{0};
  LEDGER_RETURN_IF_ERROR(Commit(&batch));
  return staged;
}

Result<Bytes> RocksLedger::ReadRaw(uint64_t seq) const {
  std::string value;
  // Entries are read one after the other (export) or a few at a time (log, show, a signer's
  // registration): a block read again is cheap beside the signature each Read checks, and
  // caching them filled the shared cache in an export for nothing.
  rocksdb::Status s = db_->Get(OnePassReadOptions(), handles_[kEntries], SeqKey(seq), &value);
  if (s.IsNotFound()) return Status::NotFound("entry " + std::to_string(seq) + " does not exist");
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading entry " + std::to_string(seq)));
  return Bytes(value.begin(), value.end());
}

Result<StoredEntry> RocksLedger::Read(uint64_t seq) const {
  auto raw = ReadRaw(seq);
  // An entry missing at or below the head was removed behind the ledger's back.
  if (!raw.ok() && raw.status().IsNotFound() && seq >= 1 && seq <= state_.info.head_seq) {
    return Status::Corruption("entry " + std::to_string(seq) + " is missing below the head " + std::to_string(state_.info.head_seq));
  }
  LEDGER_ASSIGN_OR_RETURN(Bytes value, std::move(raw));
  LEDGER_ASSIGN_OR_RETURN(StoredEntry stored, SplitStoredValue(value));
  const std::string where = "entry " + std::to_string(seq);
  if (stored.entry.seq != seq) return Status::Corruption(where + ": stored under the wrong seq");
  std::optional<ev::PublicKey> key;
  if (seq == 1) {
    // Entry 1 vouches for itself: the authority key it names must have signed it.
    if (const auto* created = std::get_if<ev::LedgerCreated>(&stored.entry.body))
      key = created->authority_public_key;
    if (key && ev::KeyIdOf(*key) != stored.entry.signer) key.reset();
  } else {
    auto registered = RegisteredKey(stored.entry.signer, seq, 0);
    if (!registered.ok())
      return Status::Corruption(where + ": signature does not verify (" +
                                registered.status().message() + ")");
    key = *registered;
  }
  if (!key || !ev::Ed25519Verify(*key, stored.entry_bytes, stored.signature)) {
    return Status::Corruption(where + ": signature does not verify");
  }
  return stored;
}

Result<StoredEntry> RocksLedger::ChainedEntry(uint64_t seq) const {
  const std::string where = "entry " + std::to_string(seq);
  auto raw = ReadRaw(seq);
  if (!raw.ok() && raw.status().IsNotFound()) return Status::Corruption(where + " is missing");
  LEDGER_ASSIGN_OR_RETURN(Bytes value, std::move(raw));
  LEDGER_ASSIGN_OR_RETURN(StoredEntry stored, SplitStoredValue(value));
  if (stored.entry.seq != seq) return Status::Corruption(where + ": stored under the wrong seq");
  auto leaf = tree_.Node(0, seq - 1);
  if (!leaf.ok() || *leaf != stored.leaf_hash)
    return Status::Corruption(where + ": not the leaf the Merkle tree holds");
  Hash previous{};
  if (seq > 1) {
    auto before = tree_.Node(0, seq - 2);
    if (!before.ok()) return Status::Corruption(where + ": the leaf before it is missing");
    previous = *before;
  }
  if (stored.entry.prev_hash != previous)
    return Status::Corruption(where + ": prev_hash does not match the chain");
  return stored;
}

Result<ev::PublicKey> RocksLedger::RegisteredKey(const ev::KeyId& signer, uint64_t before_seq,
                                                 int depth) const {
  const std::string who = "key " + ev::Hex(signer).substr(0, 16) + "…";
  if (depth > kKeyChainDepthMax)
    return Status::Corruption(who + ": key registrations nest too deep");
  auto cached = verified_keys_.find(signer);
  if (cached != verified_keys_.end() && cached->second.first < before_seq)
    return cached->second.second;
  LEDGER_ASSIGN_OR_RETURN(StoredEntry first, ChainedEntry(1));
  if (const auto* created = std::get_if<ev::LedgerCreated>(&first.entry.body)) {
    const ev::PublicKey& authority = created->authority_public_key;
    if (ev::KeyIdOf(authority) == signer) {
      if (first.entry.signer != signer ||
          !ev::Ed25519Verify(authority, first.entry_bytes, first.signature)) {
        return Status::Corruption("entry 1: signature does not verify");
      }
      verified_keys_[signer] = {1, authority};
      return authority;
    }
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs,
                          IndexSeqs(std::string("kind/") + "KeyRegistered"));
  for (uint64_t seq : seqs) {
    if (seq >= before_seq) break;
    LEDGER_ASSIGN_OR_RETURN(StoredEntry registration, ChainedEntry(seq));
    const auto* registered = std::get_if<ev::KeyRegistered>(&registration.entry.body);
    if (registered == nullptr || ev::KeyIdOf(registered->public_key) != signer) continue;
    LEDGER_ASSIGN_OR_RETURN(ev::PublicKey by,
                            RegisteredKey(registration.entry.signer, seq, depth + 1));
    if (!ev::Ed25519Verify(by, registration.entry_bytes, registration.signature)) {
      return Status::Corruption("entry " + std::to_string(seq) + ": the registration of " + who +
                                " does not verify");
    }
    verified_keys_[signer] = {seq, registered->public_key};
    return registered->public_key;
  }
  return Status::Corruption(who + " has no signed registration before entry " +
                            std::to_string(before_seq));
}

Result<uint64_t> RocksLedger::CountStoredEntries() const {
  uint64_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(OnePassReadOptions(), handles_[kEntries]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries"));
  return count;
}

Result<std::vector<uint64_t>> RocksLedger::IndexSeqs(const std::string& index) const {
  std::vector<uint64_t> seqs;
  const std::string prefix = index + "/";
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kIndex]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + internal::kSeqKeyBytes) continue;  // a longer id sharing the prefix
    seqs.push_back(internal::SeqFromKey(it->key().data() + prefix.size()));
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading index " + index));
  return seqs;
}

Status RocksLedger::StoreCheckpoint(uint64_t tree_size, const std::string& note) {
  LEDGER_RETURN_IF_ERROR(NeedWriter());
  // The meta record lets audit notice a stored checkpoint that later disappears.
  rocksdb::WriteBatch batch;
  batch.Put(handles_[kCheckpoints], SeqKey(tree_size), note);
  batch.Put(handles_[kMeta], CheckpointMetaKey(tree_size), AsSlice(ev::Sha256(note)));
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->Write(options, &batch), "storing the checkpoint");
}

Result<std::vector<std::pair<std::string, std::string>>> RocksLedger::UnaccountedRecords() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < unknown_families_.size(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(OnePassReadOptions(), handles_[kCfCount + i]));
    uint64_t count = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
    LEDGER_RETURN_IF_ERROR(
        FromRocks(it->status(), "reading column family " + unknown_families_[i]));
    out.emplace_back("integrity.stray", "column family '" + unknown_families_[i] +
                                            "' is not a ledger's (" + std::to_string(count) +
                                            " records)");
  }
  // Families whose every key has one fixed form; anything else was put there from outside.
  auto scan = [&](Cf cf, const char* name,
                  const std::function<bool(const rocksdb::Slice&)>& accounted) -> Status {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(OnePassReadOptions(), handles_[cf]));
    uint64_t stray = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (accounted(it->key())) continue;
      if (stray++ < kUnaccountedListedMax) {
        out.emplace_back(
            "integrity.stray",
            std::string("record ") +
                ev::Hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(it->key().data()),
                                                 it->key().size())) +
                " in column family '" + name + "' is not the ledger's");
      }
    }
    return FromRocks(it->status(), std::string("reading column family ") + name);
  };
  std::map<uint64_t, std::string> recorded;  // tree size -> SHA-256 of the note, from meta
  LEDGER_RETURN_IF_ERROR(scan(kDefault, "default", [](const rocksdb::Slice&) { return false; }));
  LEDGER_RETURN_IF_ERROR(scan(kEntries, internal::kCfEntries, [](const rocksdb::Slice& key) {
    return key.size() == internal::kSeqKeyBytes;
  }));
  LEDGER_RETURN_IF_ERROR(
      scan(kCheckpoints, internal::kCfCheckpoints,
           [](const rocksdb::Slice& key) { return key.size() == internal::kSeqKeyBytes; }));
  LEDGER_RETURN_IF_ERROR(scan(kMeta, internal::kCfMeta, [&](const rocksdb::Slice& key) {
    if (key == "format" || key == internal::kMetaImportUnfinished) return true;
    const rocksdb::Slice prefix(internal::kMetaCheckpointPrefix);
    if (!key.starts_with(prefix) || key.size() != prefix.size() + internal::kSeqKeyBytes)
      return false;
    std::string value;
    if (!db_->Get(rocksdb::ReadOptions(), handles_[kMeta], key, &value).ok()) return false;
    recorded[internal::SeqFromKey(key.data() + prefix.size())] = value;
    return true;
  }));
  // Every checkpoint the ledger stored is still there, unchanged, and no other was added.
  LEDGER_ASSIGN_OR_RETURN(auto notes, Checkpoints());
  std::map<uint64_t, std::string> stored;
  for (const auto& [tree_size, note] : notes) {
    ev::Hash digest = ev::Sha256(note);
    stored[tree_size] = std::string(digest.begin(), digest.end());
  }
  for (const auto& [tree_size, digest] : recorded) {
    auto it = stored.find(tree_size);
    if (it == stored.end()) {
      out.emplace_back("integrity.checkpoint", "the checkpoint of tree size " +
                                                   std::to_string(tree_size) +
                                                   " that the ledger stored is missing");
    } else if (it->second != digest) {
      out.emplace_back("integrity.checkpoint", "the checkpoint of tree size " +
                                                   std::to_string(tree_size) +
                                                   " differs from the one the ledger stored");
    }
  }
  for (const auto& [tree_size, digest] : stored) {
    if (!recorded.count(tree_size)) {
      out.emplace_back("integrity.checkpoint", "the checkpoint of tree size " +
                                                   std::to_string(tree_size) +
                                                   " was not stored by the ledger");
    }
  }
  return out;
}

Result<std::vector<std::pair<uint64_t, std::string>>> RocksLedger::Checkpoints() const {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kCheckpoints]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != internal::kSeqKeyBytes)
      continue;  // not the ledger's: UnaccountedRecords
    out.emplace_back(internal::SeqFromKey(it->key().data()), it->value().ToString());
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading checkpoints"));
  return out;
}

Result<pj::LedgerState> RocksLedger::StateAsOf(uint64_t seq, const std::vector<std::string>& prefixes) const {
  pj::LedgerState out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kHistory]));
  for (const std::string& prefix : prefixes) {
    it->Seek(prefix);
    while (it->Valid() && it->key().starts_with(prefix)) {
      // key = row key || 0x00 || ~seq; find this row's newest version at or before `seq`.
      rocksdb::Slice key = it->key();
      if (key.size() < internal::kSeqKeyBytes + 1) return Status::Corruption("history key too short");
      std::string row_key(key.data(), key.size() - internal::kSeqKeyBytes - 1);
      it->Seek(internal::HistoryKey(row_key, seq));
      if (it->Valid() && it->key().starts_with(row_key + std::string(1, '\0')) &&
          it->key().size() == row_key.size() + 1 + internal::kSeqKeyBytes && !it->value().empty()) {
        LEDGER_RETURN_IF_ERROR(pj::LoadRow(&out, row_key, it->value().ToString()));
      }
      it->Seek(row_key + std::string(1, '\1'));  // the next row key
    }
    LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading row history"));
  }
  out.dirty.clear();
  return out;
}

Result<uint64_t> RocksLedger::Rebuild() {
  LEDGER_RETURN_IF_ERROR(NeedWriter());
  rocksdb::WriteBatch batch;
  // The row history is rebuilt with the rows, so as-of reads agree with the new projections.
  batch.DeleteRange(handles_[kHistory], rocksdb::Slice(""), rocksdb::Slice("\xff\xff\xff\xff"));
  pj::LedgerState rebuilt;
  for (uint64_t seq = 1; seq <= state_.info.head_seq; ++seq) {
    LEDGER_ASSIGN_OR_RETURN(Bytes value, ReadRaw(seq));
    LEDGER_ASSIGN_OR_RETURN(StoredEntry stored, SplitStoredValue(value));
    pj::Apply(&rebuilt, pj::EntryContext{&stored.entry, stored.leaf_hash});
    for (const std::string& key : rebuilt.dirty) {
      std::optional<std::string> row = pj::EncodeRow(rebuilt, key);
      batch.Put(handles_[kHistory], internal::HistoryKey(key, seq), row ? *row : std::string());
    }
    rebuilt.dirty.clear();
  }
  uint64_t differing = 0;
  auto rewrite = [&](std::string_view key, RowDifference difference) {
    ++differing;
    const std::string row_key(key);
    if (difference == RowDifference::kNotReplayed) {
      batch.Delete(handles_[kProjections], row_key);
      return;
    }
    std::optional<std::string> row = pj::EncodeRow(rebuilt, row_key);
    LEDGER_CHECK(row.has_value()) << "replayed row " << row_key << " does not encode";
    batch.Put(handles_[kProjections], row_key, *row);
  };
  LEDGER_RETURN_IF_ERROR(MergeRows(*this, rebuilt, rewrite));
  rocksdb::WriteOptions options;
  options.sync = true;
  LEDGER_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "writing rebuilt projections"));
  LEDGER_RETURN_IF_ERROR(LoadState());
  return differing;
}

// Every column family's options: a partitioned index whose partitions are read into the shared
// block cache as lookups need them, so that opening a table file (which a reader does for every
// file at open) reads its footer, properties and the index's top level only, not an index of
// the whole file. Files written before keep their whole index, read into the same cache at their
// first lookup (SharedBlockCache says why it is one shard).
rocksdb::ColumnFamilyOptions FamilyOptions() {
  static const std::shared_ptr<rocksdb::TableFactory> factory = [] {
    rocksdb::BlockBasedTableOptions table;
    table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    table.cache_index_and_filter_blocks = true;
    table.pin_top_level_index_and_filter = true;
    table.block_cache = internal::SharedBlockCache();
    return std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table));
  }();
  rocksdb::ColumnFamilyOptions options;
  options.table_factory = factory;
  options.target_file_size_base = kTableFileBytes;
  return options;
}

Result<std::unique_ptr<RocksLedger>> OpenDb(const std::string& path, OpenMode mode, bool create,
                                            const StorageHooks* hooks) {
  rocksdb::DBOptions options;
  if (hooks != nullptr && hooks->env != nullptr) options.env = hooks->env;
  options.create_if_missing = create;
  options.create_missing_column_families = create;
  options.max_open_files = mode == OpenMode::kReader ? -1 : 512;  // secondaries need -1
  // With every table file opened at open (-1), RocksDB loads each family's table files on this
  // many new threads, at open and again at catch-up: the default 16 made a one-row query start
  // and join about 250 threads. A ledger has a few files per family; one thread opens them.
  options.max_file_opening_threads = 1;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  // A writer keeps the log it recovers in the memtable rather than writing table files at every
  // open: a one-entry command would otherwise flush every column family each time it runs.
  // FlushIfLarge bounds the log a later open replays.
  options.avoid_flush_during_recovery = true;
  // All memtables together, not 64 MiB for each of the eight families: a long import otherwise
  // holds up to half a gigabyte of written rows in memory before anything is flushed.
  options.db_write_buffer_size = kMemtableBytesMax;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : ColumnFamilyNames()) families.emplace_back(name, FamilyOptions());
  // Families a ledger never makes are opened too (RocksDB refuses an open that leaves one
  // out), so that audit can report them instead of the ledger failing to open.
  std::vector<std::string> unknown;
  if (!create) {
    std::vector<std::string> present;
    rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(options, path, &present);
    if (!listed.ok()) return FromRocks(listed, "opening the ledger at " + path);
    for (const std::string& name : present) {
      const auto& known = ColumnFamilyNames();
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      if (unknown.size() >= kUnknownFamiliesMax) break;
      unknown.push_back(name);
      families.emplace_back(name, FamilyOptions());
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  std::string secondary_dir;
  rocksdb::Status s;
  if (mode == OpenMode::kWriter) {
    s = rocksdb::DB::Open(options, path, families, &handles, &raw);
  } else {
    char pattern[] = "/tmp/fundledger-reader-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return Status::IOError("cannot create a reader's scratch directory in /tmp");
    secondary_dir = pattern;
    s = rocksdb::DB::OpenAsSecondary(options, path, secondary_dir, families, &handles, &raw);
    if (s.ok()) s = raw->TryCatchUpWithPrimary();
  }
  if (!s.ok()) {
    if (raw != nullptr) {
      for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
      delete raw;
    }
    if (!secondary_dir.empty()) std::filesystem::remove_all(secondary_dir);
    return FromRocks(s, "opening the ledger at " + path);
  }
  LEDGER_CHECK(handles.size() == kCfCount + unknown.size());
  auto ledger = std::make_unique<RocksLedger>(std::unique_ptr<rocksdb::DB>(raw), std::move(handles),
                                              mode, secondary_dir);
  ledger->set_unknown_families(std::move(unknown));
  if (hooks != nullptr) ledger->set_cached_rows_max(hooks->cached_rows_max);
  return ledger;
}

// A new RocksDB directory for a ledger; refuses one that already holds a ledger.
Result<std::unique_ptr<RocksLedger>> CreateDb(const std::string& path, const StorageHooks* hooks) {
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::path(path) / "CURRENT", error)) {
    return Status::IOError("a ledger already exists at " + path);
  }
  std::filesystem::create_directories(path, error);
  if (error) return Status::IOError("cannot create " + path + ": " + error.message());
  return OpenDb(path, OpenMode::kWriter, true, hooks);
}

}  // namespace

Ledger::~Ledger() = default;

Result<size_t> Ledger::AppendSignedPrefix(std::span<const StoredEntry> entries, int64_t now_ms,
                                          bool signatures_verified, size_t batch_bytes_max) {
  LEDGER_CHECK(batch_bytes_max > 0);
  LEDGER_RETURN_IF_ERROR(AppendSigned(entries, now_ms, signatures_verified));
  return entries.size();
}
Inspection::~Inspection() = default;
Inspection::Cursor::~Cursor() = default;

namespace {

// The rows of a state in memory as a cursor, each encoded as it is reached: walked, not listed,
// since a list of a million row keys was the audit's peak.
class WalkCursor final : public Inspection::Cursor {
 public:
  explicit WalkCursor(const pj::LedgerState& state) : walk_(state) { Encode(); }
  bool Valid() const override { return walk_.Valid(); }
  std::string_view key() const override { return walk_.key(); }
  std::string_view value() const override { return value_; }
  void Next() override {
    walk_.Next();
    Encode();
  }
  Status status() const override { return Status::Ok(); }

 private:
  void Encode() { value_ = walk_.Valid() ? walk_.value() : std::string(); }
  pj::RowWalk walk_;
  std::string value_;
};

}  // namespace

Status MergeRows(const Inspection& stored, const pj::LedgerState& replayed,
                 const std::function<void(std::string_view key, RowDifference)>& fn) {
  WalkCursor walk(replayed);
  return MergeRows(stored, &walk, fn);
}

Status MergeRows(const Inspection& stored, Inspection::Cursor* replayed,
                 const std::function<void(std::string_view key, RowDifference)>& fn) {
  LEDGER_CHECK(replayed != nullptr);
  LEDGER_RETURN_IF_ERROR(stored.ScanRows([&](std::string_view key, std::string_view value) {
    for (; replayed->Valid() && replayed->key() < key; replayed->Next())
      fn(replayed->key(), RowDifference::kMissing);
    if (replayed->Valid() && replayed->key() == key) {
      if (replayed->value() != value) fn(key, RowDifference::kDiffers);
      replayed->Next();
    } else {
      fn(key, RowDifference::kNotReplayed);
    }
  }));
  for (; replayed->Valid(); replayed->Next()) fn(replayed->key(), RowDifference::kMissing);
  return replayed->status();
}

std::string Ledger::Origin() const { return "fundledger/" + ev::Hex(state_.info.ledger_id); }

Result<StoredEntry> SplitStoredValue(std::span<const uint8_t> value) {
  if (value.size() <= internal::kSignatureBytes) return Status::Corruption("stored entry is too short");
  StoredEntry out;
  size_t entry_size = value.size() - internal::kSignatureBytes;
  out.entry_bytes.assign(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(entry_size));
  std::memcpy(out.signature.data(), value.data() + entry_size, internal::kSignatureBytes);
  out.leaf_hash = ev::EntryLeafHash(out.entry_bytes, out.signature);
  LEDGER_ASSIGN_OR_RETURN(out.entry, ev::DecodeEntry(out.entry_bytes, ev::BytesOrigin::kStored));
  return out;
}

Result<std::unique_ptr<Ledger>> Ledger::Create(const std::string& path,
                                               const ev::PrivateKey& authority,
                                               const ev::LedgerCreated& created, int64_t at_ms,
                                               const StorageHooks* hooks) {
  ev::Entry e;
  ev::RandomBytes(e.ledger_id);
  e.seq = 1;
  e.recorded_at_ms = at_ms;
  e.signer = authority.key_id();
  e.body = created;
  // Entry 1 is checked and sealed before the directory is made, so a refused one leaves none.
  LEDGER_RETURN_IF_ERROR(pj::Validate(pj::LedgerState{}, e));
  StoredEntry sealed;
  LEDGER_ASSIGN_OR_RETURN(sealed.entry_bytes, ev::EncodeEntryForSigning(e));
  sealed.signature = authority.Sign(sealed.entry_bytes);
  sealed.leaf_hash = ev::EntryLeafHash(sealed.entry_bytes, sealed.signature);
  sealed.entry = e;
  LEDGER_ASSIGN_OR_RETURN(auto db, CreateDb(path, hooks));
  LEDGER_RETURN_IF_ERROR(db->Initialize(sealed));
  return std::unique_ptr<Ledger>(std::move(db));
}

Result<std::unique_ptr<Ledger>> Ledger::CreateForImport(const std::string& path,
                                                        const StorageHooks* hooks) {
  LEDGER_ASSIGN_OR_RETURN(auto db, CreateDb(path, hooks));
  LEDGER_RETURN_IF_ERROR(db->WriteFormat());
  return std::unique_ptr<Ledger>(std::move(db));
}

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& path, const OpenOptions& options) {
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::path(path) / "CURRENT", error)) {
    return Status::IOError("no ledger at " + path);
  }
  LEDGER_ASSIGN_OR_RETURN(auto db, OpenDb(path, options.mode, false, options.hooks));
  LEDGER_RETURN_IF_ERROR(db->LoadState());
  LEDGER_RETURN_IF_ERROR(db->CheckOnOpen(path, options.resume_import));
  return std::unique_ptr<Ledger>(std::move(db));
}

// --- Sequential reads for the replay paths ---
namespace {

void RocksLedger::ReadRawRange(uint64_t first, size_t count,
                               std::vector<Result<Bytes>>* out) const {
  LEDGER_CHECK(out != nullptr);
  out->clear();
  out->reserve(count);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(OnePassReadOptions(), handles_[kEntries]));
  it->Seek(SeqKey(first));
  for (uint64_t seq = first; seq < first + count; ++seq) {
    const std::string want = SeqKey(seq);
    // Keys of another length, or below this seq, are not this entry (stray records).
    while (it->Valid() &&
           (it->key().size() != internal::kSeqKeyBytes || it->key().compare(want) < 0)) {
      it->Next();
    }
    if (!it->status().ok()) {
      out->push_back(FromRocks(it->status(), "reading entry " + std::to_string(seq)));
      continue;
    }
    if (!it->Valid() || it->key() != rocksdb::Slice(want)) {
      out->push_back(Status::NotFound("entry " + std::to_string(seq) + " does not exist"));
      continue;
    }
    const rocksdb::Slice value = it->value();
    out->push_back(Bytes(value.data(), value.data() + value.size()));
    it->Next();
  }
}

Status RocksLedger::ScanRows(
    const std::function<void(std::string_view key, std::string_view value)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(OnePassReadOptions(), handles_[kProjections]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    fn(std::string_view(it->key().data(), it->key().size()),
       std::string_view(it->value().data(), it->value().size()));
  }
  return FromRocks(it->status(), "reading the projection rows");
}

Result<std::optional<std::string>> RocksLedger::RowAsOf(const std::string& row_key,
                                                        uint64_t seq) const {
  // History keys: row key || 0x00 || ~seq, so the first at or after HistoryKey(row, seq) is
  // the row's newest version at or before `seq`; an empty value is a removal.
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kHistory]));
  it->Seek(internal::HistoryKey(row_key, seq));
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading row history"));
  const std::string prefix = row_key + std::string(1, '\0');
  if (!it->Valid() || !it->key().starts_with(prefix) ||
      it->key().size() != prefix.size() + internal::kSeqKeyBytes || it->value().empty()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(it->value().ToString());
}

Result<std::optional<std::string>> RocksLedger::StoredRow(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kProjections], key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading projection row " + key));
  return std::optional<std::string>(std::move(value));
}

// A RocksDB iterator as an Inspection::Cursor.
class RocksCursor final : public Inspection::Cursor {
 public:
  explicit RocksCursor(std::unique_ptr<rocksdb::Iterator> it) : it_(std::move(it)) {}
  bool Valid() const override { return it_->Valid(); }
  std::string_view key() const override { return {it_->key().data(), it_->key().size()}; }
  std::string_view value() const override { return {it_->value().data(), it_->value().size()}; }
  void Next() override { it_->Next(); }
  Status status() const override { return FromRocks(it_->status(), "reading the merkle tree"); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

std::unique_ptr<Inspection::Cursor> RocksLedger::MerkleFrom(std::string_view from) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(OnePassReadOptions(), handles_[kMerkle]));
  it->Seek(rocksdb::Slice(from.data(), from.size()));
  return std::make_unique<RocksCursor>(std::move(it));
}

}  // namespace
}  // namespace fundledger::ledger
