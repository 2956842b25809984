#include "ledger/internal/scratch_rows.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <filesystem>

#include "ledger/internal/rocksdb_status.h"
#include "ledger/ledger.h"

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
  // The memtable is the part of the store in memory: bounded as a ledger's are.
  options.write_buffer_size = kMemtableBytesMax;
  options.db_write_buffer_size = kMemtableBytesMax;
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
  }
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // nothing here is to survive the process
  return FromRocks(db_->db->Write(options, &batch), "writing the audit's scratch rows");
}

std::unique_ptr<Inspection::Cursor> ScratchRows::Rows() const {
  return std::make_unique<ScratchCursor>(
      std::unique_ptr<rocksdb::Iterator>(db_->db->NewIterator(rocksdb::ReadOptions())));
}

}  // namespace fundledger::ledger::internal
