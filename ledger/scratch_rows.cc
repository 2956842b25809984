#include "ledger/internal/scratch_rows.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <filesystem>

#include "ledger/internal/rocksdb_status.h"

namespace fundledger::ledger::internal {
namespace {

namespace pj = ::fundledger::projections;

class ScratchCursor final : public Inspection::Cursor {
 public:
  explicit ScratchCursor(std::unique_ptr<rocksdb::Iterator> it) : it_(std::move(it)) {
    it_->SeekToFirst();
  }
  bool Valid() const override { return it_->Valid(); }
  std::string_view key() const override { return {it_->key().data(), it_->key().size()}; }
  std::string_view value() const override { return {it_->value().data(), it_->value().size()}; }
  void Next() override { it_->Next(); }
  Status status() const override {
    return FromRocks(it_->status(), "reading the audit's scratch rows");
  }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

struct ScratchRows::Db {
  std::string dir;
  std::unique_ptr<rocksdb::DB> db;
  ~Db() {
    db.reset();
    std::error_code ignored;  // why: a scratch directory left behind holds nothing of value
    std::filesystem::remove_all(dir, ignored);
  }
};

Result<std::unique_ptr<ScratchRows>> ScratchRows::Create() {
  char pattern[] = "/tmp/fundledger-audit-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    return Status::IOError("cannot create the audit's scratch directory in /tmp");
  }
  auto db = std::make_unique<Db>();
  db->dir = pattern;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 1;
  options.max_file_opening_threads = 1;
  // The memtables are the part of the store in memory (a full one waits for its flush beside
  // the next): two of kScratchMemtableBytes.
  options.write_buffer_size = kScratchMemtableBytes;
  options.max_write_buffer_number = 2;
  // Most reads of a new row find nothing (the fold asks before it creates): a Bloom filter
  // answers them without reading a block of each table file.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  LEDGER_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(options, db->dir, &raw), "opening the audit's scratch rows"));
  db->db.reset(raw);
  return std::unique_ptr<ScratchRows>(new ScratchRows(std::move(db)));
}

ScratchRows::ScratchRows(std::unique_ptr<Db> db) : db_(std::move(db)) {}

ScratchRows::~ScratchRows() = default;

Result<std::optional<std::string>> ScratchRows::ReadRow(const std::string& row_key) const {
  std::string value;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), row_key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the audit's scratch row " + row_key));
  return std::optional<std::string>(std::move(value));
}

Status ScratchRows::Write(const pj::LedgerState& state, const std::set<std::string>& keys) {
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // nothing here is to survive the process
  rocksdb::WriteBatch batch;
  for (const std::string& key : keys) {
    // Rows written are in memory (touched since the last write) or were removed by the fold:
    // encoding them reads nothing back from this store.
    std::optional<std::string> row = pj::EncodeRow(state, key);
    if (row) {
      batch.Put(key, *row);
    } else {
      batch.Delete(key);
    }
    // In pieces: one batch of every row held would double them in memory (80 MB of encoded
    // rows at 100,000 rows held, the audit's peak at 10^6 entries).
    if (batch.GetDataSize() >= kScratchBatchBytesMax) {
      LEDGER_RETURN_IF_ERROR(
          FromRocks(db_->db->Write(options, &batch), "writing the audit's scratch rows"));
      batch.Clear();
    }
  }
  return FromRocks(db_->db->Write(options, &batch), "writing the audit's scratch rows");
}

std::unique_ptr<Inspection::Cursor> ScratchRows::Rows() const {
  return std::make_unique<ScratchCursor>(
      std::unique_ptr<rocksdb::Iterator>(db_->db->NewIterator(rocksdb::ReadOptions())));
}

}  // namespace fundledger::ledger::internal
