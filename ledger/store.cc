// RocksDB-backed Ledger: the append pipeline (load state -> Validate -> Apply -> one synced
// WriteBatch) and reads. Layout: internal/storage_format.h.
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "events/codec.h"
#include "events/text.h"
#include "ledger/internal/rocksdb_status.h"
#include "ledger/exchange.h"
#include "ledger/internal/index_names.h"
#include "ledger/internal/storage_format.h"
#include "ledger/ledger.h"

namespace fundledger::ledger {
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

rocksdb::Slice AsSlice(std::span<const uint8_t> bytes) {
  return rocksdb::Slice(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string FormatValue() {
  std::string value(4, '\0');
  for (size_t i = 0; i < 4; ++i) value[i] = static_cast<char>((kStorageFormat >> (8 * i)) & 0xff);
  return value;
}

// The public key that must have signed `entry`: the authority's for entry 1, else the
// registered signer's. nullopt if the signer is unknown.
std::optional<ev::PublicKey> SignerKey(const pj::LedgerState& state, const ev::Entry& entry) {
  if (entry.seq == 1) {
    if (const auto* created = std::get_if<ev::LedgerCreated>(&entry.body)) return created->authority_public_key;
    return std::nullopt;
  }
  const pj::KeyInfo* key = state.FindKey(entry.signer);
  if (key == nullptr) return std::nullopt;
  return key->public_key;
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

class RocksLedger : public Ledger {
 public:
  RocksLedger(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles, OpenMode mode,
              std::string secondary_dir)
      : db_(std::move(db)), handles_(std::move(handles)), mode_(mode), secondary_dir_(std::move(secondary_dir)),
        tree_(this) {}

  ~RocksLedger() override {
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    db_.reset();
    if (!secondary_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(secondary_dir_, ignored);
    }
  }

  Status LoadState();
  // Writes the storage format and entry 1 (Create).
  Status Initialize(const StoredEntry& first);
  // Records the storage format alone (an import fills the ledger).
  Status WriteFormat() {
    rocksdb::WriteOptions options;
    options.sync = true;
    return FromRocks(db_->Put(options, handles_[kMeta], "format", FormatValue()), "writing the storage format");
  }
  // Checks the storage format and that the head entry matches the loaded projections (Open).
  Status CheckOnOpen() const;

  Result<std::vector<AppendResult>> Append(const ev::PrivateKey& signer,
                                           std::span<const AppendRequest> requests, int64_t at_ms,
                                           int64_t now_ms) override;
  Status AppendSigned(std::span<const StoredEntry> entries, int64_t now_ms,
                      bool signatures_verified) override;
  Result<StoredEntry> Read(uint64_t seq) const override;
  Result<Bytes> ReadRaw(uint64_t seq) const override;
  Result<uint64_t> CountStoredEntries() const override;
  Result<std::vector<uint64_t>> IndexSeqs(const std::string& index) const override;
  const MerkleNodeSource& tree() const override { return tree_; }
  Result<std::vector<std::pair<std::string, std::string>>> StoredRows() const override;
  Status StoreCheckpoint(uint64_t tree_size, const std::string& note) override;
  Result<std::vector<std::pair<uint64_t, std::string>>> Checkpoints() const override;
  Result<uint64_t> Rebuild() override;
  Result<pj::LedgerState> StateAsOf(uint64_t seq, const std::vector<std::string>& prefixes) const override;
  Result<std::optional<std::string>> HistoryVersion(const std::string& row_key, uint64_t seq) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kHistory], internal::HistoryKey(row_key, seq), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading row history"));
    return std::optional<std::string>(std::move(value));
  }
  Result<bool> HasIndexKey(const std::string& index, uint64_t seq) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kIndex], index + "/" + SeqKey(seq), &value);
    if (s.IsNotFound()) return false;
    LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the index"));
    return true;
  }
  Result<std::array<uint64_t, 3>> CountDerived() const override {
    std::array<uint64_t, 3> counts{};
    const Cf families[3] = {kIndex, kHistory, kMerkle};
    for (size_t i = 0; i < 3; ++i) {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[families[i]]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++counts[i];
      LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "counting derived records"));
    }
    return counts;
  }

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
  // Adds the dirty projection rows and writes `batch` synced; undoes the state on failure.
  Status Commit(rocksdb::WriteBatch* batch);
  // Puts every row in state_.dirty back as it is stored, and forgets the staged batch.
  void Rollback();
  // Checks a signed entry as it would be appended next: chain, time, signature, rules.
  Status CheckNext(const StoredEntry& sealed) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  OpenMode mode_;
  std::string secondary_dir_;
  DbTree tree_;
};

Result<Hash> DbTree::Node(uint32_t level, uint64_t index) const {
  auto it = pending.find(MerkleKey(level, index));
  if (it != pending.end()) return it->second;
  return ledger_->GetNode(level, index);
}

Status RocksLedger::LoadState() {
  state_ = pj::LedgerState{};
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kProjections]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    LEDGER_RETURN_IF_ERROR(pj::LoadRow(&state_, it->key().ToString(), it->value().ToString()));
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading projections"));
  state_.dirty.clear();
  return Status::Ok();
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

Status RocksLedger::CheckOnOpen() const {
  std::string format;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kMeta], "format", &format);
  if (s.IsNotFound()) return Status::Corruption("not a fundledger ledger (no storage format recorded)");
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the storage format"));
  if (format != FormatValue()) return Status::Corruption("unknown storage format; this fundledger reads format " + std::to_string(kStorageFormat));
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
  std::set<std::string> earlier;  // rows changed by earlier entries of this batch
  earlier.swap(state_.dirty);
  pj::Apply(&state_, pj::EntryContext{&e, sealed.leaf_hash});
  LEDGER_CHECK(state_.info.head_seq == before + 1) << before;
  // Each row this entry changed gets a version at this seq, so as-of reads see every step.
  for (const std::string& key : state_.dirty) {
    std::optional<std::string> row = pj::EncodeRow(state_, key);
    batch->Put(handles_[kHistory], internal::HistoryKey(key, e.seq), row ? *row : std::string());
  }
  state_.dirty.merge(earlier);
  return Status::Ok();
}

Status RocksLedger::Commit(rocksdb::WriteBatch* batch) {
  for (const std::string& key : state_.dirty) {
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
  state_.dirty.clear();
  tree_.pending.clear();
  return Status::Ok();
}

void RocksLedger::Rollback() {
  for (const std::string& key : state_.dirty) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kProjections], key, &value);
    pj::EraseRow(&state_, key);
    if (s.ok()) {
      Status loaded = pj::LoadRow(&state_, key, value);
      LEDGER_CHECK(loaded.ok()) << loaded.ToString();
    } else {
      LEDGER_CHECK(s.IsNotFound()) << s.ToString();
    }
  }
  state_.dirty.clear();
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
    ev::Entry e;
    e.ledger_id = state_.info.ledger_id;
    e.seq = state_.info.head_seq + 1;
    e.prev_hash = state_.info.head_hash;
    e.recorded_at_ms = at_ms;
    e.signer = signer.key_id();
    e.idempotency_key = requests[i].idempotency_key;
    e.body = requests[i].body;
    std::string where = requests.size() > 1 ? "request " + std::to_string(i + 1) : "";
    auto prefixed = [&where](const Status& s) { return where.empty() ? s : s.WithPrefix(where); };
    if (!e.idempotency_key.empty()) {
      auto it = state_.idempotency.find("idem/" + e.idempotency_key);
      if (it != state_.idempotency.end() && it->second.content == pj::ContentDigest(e)) {
        results.push_back(AppendResult{it->second.seq, true});
        continue;
      }
    }
    Status valid = pj::Validate(state_, e);
    if (!valid.ok()) {
      Rollback();
      return prefixed(valid);
    }
    // Signed only if the reader takes it back: an entry over a reader's limit, once written,
    // would keep the ledger from opening.
    auto encoded = ev::EncodeEntryForSigning(e);
    if (!encoded.ok()) {
      Rollback();
      return prefixed(encoded.status());
    }
    StoredEntry sealed;
    sealed.entry_bytes = std::move(*encoded);
    sealed.signature = signer.Sign(sealed.entry_bytes);
    // Pair assertion: what we are about to store verifies exactly as audit will check it.
    LEDGER_CHECK(ev::Ed25519Verify(signer.public_key(), sealed.entry_bytes, sealed.signature));
    sealed.leaf_hash = ev::EntryLeafHash(sealed.entry_bytes, sealed.signature);
    sealed.entry = std::move(e);
    Status staged = Stage(sealed, &batch);
    if (!staged.ok()) {
      Rollback();
      return prefixed(staged);
    }
    results.push_back(AppendResult{sealed.entry.seq, false});
  }
  if (batch.Count() == 0) return results;  // every request was an idempotent retry
  LEDGER_RETURN_IF_ERROR(Commit(&batch));
  return results;
}

Status RocksLedger::AppendSigned(std::span<const StoredEntry> entries, int64_t now_ms,
                                 bool signatures_verified) {
  LEDGER_RETURN_IF_ERROR(NeedWriter());
  LEDGER_CHECK(state_.dirty.empty());
  if (entries.size() > kBatchEntriesMax) return Status::InvalidArgument("batch too large");
  rocksdb::WriteBatch batch;
  for (const StoredEntry& sealed : entries) {
    Status s = pj::CheckNotInFuture(sealed.entry.recorded_at_ms, now_ms);
    if (!s.ok()) s = s.WithPrefix("entry " + std::to_string(sealed.entry.seq));
    if (s.ok()) s = CheckNextEntry(state_, sealed, signatures_verified);
    if (s.ok()) s = Stage(sealed, &batch);
    if (!s.ok()) {
      Rollback();
      return s;
    }
  }
  if (entries.empty()) return Status::Ok();
  return Commit(&batch);
}

Result<Bytes> RocksLedger::ReadRaw(uint64_t seq) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kEntries], SeqKey(seq), &value);
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
  auto key = SignerKey(state_, stored.entry);
  if (!key || !ev::Ed25519Verify(*key, stored.entry_bytes, stored.signature)) {
    return Status::Corruption(where + ": signature does not verify");
  }
  return stored;
}

Result<uint64_t> RocksLedger::CountStoredEntries() const {
  uint64_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kEntries]));
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

Result<std::vector<std::pair<std::string, std::string>>> RocksLedger::StoredRows() const {
  std::vector<std::pair<std::string, std::string>> rows;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kProjections]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) rows.emplace_back(it->key().ToString(), it->value().ToString());
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading projections"));
  return rows;
}

Status RocksLedger::StoreCheckpoint(uint64_t tree_size, const std::string& note) {
  LEDGER_RETURN_IF_ERROR(NeedWriter());
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->Put(options, handles_[kCheckpoints], SeqKey(tree_size), note), "storing the checkpoint");
}

Result<std::vector<std::pair<uint64_t, std::string>>> RocksLedger::Checkpoints() const {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kCheckpoints]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != internal::kSeqKeyBytes) return Status::Corruption("checkpoint key of wrong size");
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
  LEDGER_ASSIGN_OR_RETURN(auto stored_rows, StoredRows());
  std::map<std::string, std::string> old(stored_rows.begin(), stored_rows.end());
  uint64_t differing = 0;
  for (const std::string& key : pj::AllRowKeys(rebuilt)) {
    std::string row = *pj::EncodeRow(rebuilt, key);
    auto it = old.find(key);
    if (it == old.end() || it->second != row) {
      batch.Put(handles_[kProjections], key, row);
      ++differing;
    }
    if (it != old.end()) old.erase(it);
  }
  for (const auto& [key, value] : old) {
    batch.Delete(handles_[kProjections], key);
    ++differing;
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  LEDGER_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "writing rebuilt projections"));
  state_ = std::move(rebuilt);
  return differing;
}

Result<std::unique_ptr<RocksLedger>> OpenDb(const std::string& path, OpenMode mode, bool create) {
  rocksdb::DBOptions options;
  options.create_if_missing = create;
  options.create_missing_column_families = create;
  options.max_open_files = mode == OpenMode::kReader ? -1 : 512;  // secondaries need -1
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : ColumnFamilyNames()) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
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
  LEDGER_CHECK(handles.size() == kCfCount);
  return std::make_unique<RocksLedger>(std::unique_ptr<rocksdb::DB>(raw), std::move(handles), mode, secondary_dir);
}

// A new RocksDB directory for a ledger; refuses one that already holds a ledger.
Result<std::unique_ptr<RocksLedger>> CreateDb(const std::string& path) {
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::path(path) / "CURRENT", error)) {
    return Status::IOError("a ledger already exists at " + path);
  }
  std::filesystem::create_directories(path, error);
  if (error) return Status::IOError("cannot create " + path + ": " + error.message());
  return OpenDb(path, OpenMode::kWriter, true);
}

}  // namespace

Ledger::~Ledger() = default;

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
                                               const ev::LedgerCreated& created, int64_t at_ms) {
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
  LEDGER_ASSIGN_OR_RETURN(auto db, CreateDb(path));
  LEDGER_RETURN_IF_ERROR(db->Initialize(sealed));
  return std::unique_ptr<Ledger>(std::move(db));
}

Result<std::unique_ptr<Ledger>> Ledger::CreateForImport(const std::string& path) {
  LEDGER_ASSIGN_OR_RETURN(auto db, CreateDb(path));
  LEDGER_RETURN_IF_ERROR(db->WriteFormat());
  return std::unique_ptr<Ledger>(std::move(db));
}

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& path, OpenMode mode) {
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::path(path) / "CURRENT", error)) {
    return Status::IOError("no ledger at " + path);
  }
  LEDGER_ASSIGN_OR_RETURN(auto db, OpenDb(path, mode, false));
  LEDGER_RETURN_IF_ERROR(db->LoadState());
  LEDGER_RETURN_IF_ERROR(db->CheckOnOpen());
  return std::unique_ptr<Ledger>(std::move(db));
}

}  // namespace fundledger::ledger
