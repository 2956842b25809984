// Goal: the store keeps its promises under damage and misuse (DESIGN.md §2, §6). Any changed
// bit of a stored entry fails its signature and is named by the audit at its seq; chain breaks
// (a re-signed entry with a wrong prevHash, a deleted or swapped entry) are named at the right
// seq; retries with an idempotency key write nothing, conflicting ones are refused; a reopen
// keeps every row; a second writer is refused with kBusy; a refused append (rule, role, or the
// 3rd request of a batch) leaves every column family byte for byte as it was; a reader works
// beside the writer. Damage is done with RocksDB directly, behind the ledger's back.
#include "ledger/ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/table_properties.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/audit.h"
#include "ledger/inspection.h"
#include "ledger/internal/storage_format.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::testing::HasSubstr;
using testutil::Digest;
using testutil::FixedClockMs;
using testutil::Uscc;

// Every column family, key -> value.
using Dump = std::map<std::string, std::map<std::string, std::string>>;
using Handles = std::map<std::string, rocksdb::ColumnFamilyHandle*>;

const std::vector<std::string>& LedgerFamilies() {
  static const std::vector<std::string> names = {internal::kCfEntries,     internal::kCfIndex, internal::kCfProjections,
                                                 internal::kCfMerkle,      internal::kCfCheckpoints,
                                                 internal::kCfMeta,        internal::kCfHistory};
  return names;
}

// Opens the RocksDB at `path` with all its column families and runs `fn` on it. The ledger
// must be closed (it holds the LOCK otherwise).
void WithRocksDb(const std::string& path, bool read_only, const std::function<void(rocksdb::DB*, const Handles&)>& fn) {
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, path, &names);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = read_only ? rocksdb::DB::OpenForReadOnly(options, path, families, &handles, &raw)
                : rocksdb::DB::Open(options, path, families, &handles, &raw);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  Handles by_name;
  for (size_t i = 0; i < handles.size(); ++i) by_name[names[i]] = handles[i];
  fn(db.get(), by_name);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    rocksdb::Status closed = db->DestroyColumnFamilyHandle(handle);
    EXPECT_TRUE(closed.ok()) << closed.ToString();
  }
}

Dump DumpDb(const std::string& path) {
  Dump out;
  WithRocksDb(path, /*read_only=*/true, [&out](rocksdb::DB* db, const Handles& handles) {
    for (const auto& [name, handle] : handles) {
      auto& rows = out[name];
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handle));
      for (it->SeekToFirst(); it->Valid(); it->Next()) rows[it->key().ToString()] = it->value().ToString();
      EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    }
  });
  return out;
}

// "" if equal, else where the first difference is (dumps hold binary keys: no full print).
std::string DumpDiff(const Dump& before, const Dump& after) {
  for (const auto& [cf, rows] : before) {
    auto other = after.find(cf);
    if (other == after.end()) return "column family " + cf + " disappeared";
    for (const auto& [key, value] : rows) {
      auto it = other->second.find(key);
      if (it == other->second.end()) return cf + ": key " + ev::Hex(ev::Bytes(key.begin(), key.end())) + " removed";
      if (it->second != value) return cf + ": value of key " + ev::Hex(ev::Bytes(key.begin(), key.end())) + " changed";
    }
    for (const auto& [key, value] : other->second) {
      if (!rows.count(key)) return cf + ": key " + ev::Hex(ev::Bytes(key.begin(), key.end())) + " added";
    }
  }
  for (const auto& [cf, rows] : after) {
    if (!before.count(cf)) return "column family " + cf + " appeared";
  }
  return "";
}

std::optional<Finding> FirstIntegrityFinding(const AuditReport& report) {
  for (const Finding& f : report.findings) {
    if (f.integrity) return f;
  }
  return std::nullopt;
}

std::string FindingsText(const AuditReport& report) {
  std::string out;
  for (const Finding& f : report.findings) out += std::to_string(f.seq) + " " + f.code + " " + f.message + "\n";
  return out;
}

ev::Bytes StoredValue(const ev::Bytes& entry_bytes, const ev::Signature& signature) {
  ev::Bytes value = entry_bytes;
  value.insert(value.end(), signature.begin(), signature.end());
  return value;
}

rocksdb::Slice AsSlice(const ev::Bytes& bytes) {
  return rocksdb::Slice(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

class LedgerTest : public testutil::LedgerFixture {
 protected:
  // Closes the ledger so RocksDB can be reached behind its back.
  void Close() { ledger_.reset(); }

  // Runs `fn` on the closed ledger's RocksDB, writing synced.
  void Damage(const std::function<void(rocksdb::DB*, const Handles&, const rocksdb::WriteOptions&)>& fn) {
    Close();
    WithRocksDb(path_, /*read_only=*/false, [&fn](rocksdb::DB* db, const Handles& handles) {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      fn(db, handles, sync);
    });
  }

  void PutEntryValue(uint64_t seq, const ev::Bytes& value) {
    Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
      rocksdb::Status s = db->Put(w, h.at(internal::kCfEntries), internal::SeqKey(seq), AsSlice(value));
      ASSERT_TRUE(s.ok()) << s.ToString();
    });
  }

  Result<std::unique_ptr<Ledger>> OpenLedger(OpenMode mode = OpenMode::kWriter) { return Ledger::Open(path_, mode); }

  // Replays `ledger` as the inspector does, comparing its stored rows and tree.
  AuditReport AuditOf(const Ledger& ledger) {
    AuditOptions options;
    options.stored = &ledger;
    LedgerEntrySource source(&ledger);
    Result<AuditReport> report = Audit(source, options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? std::move(*report) : AuditReport{};
  }

  // Reopens after damage and expects the audit's first integrity finding at `seq` with `code`
  // (any code if empty).
  void ExpectAuditNames(uint64_t seq, const std::string& code) {
    Result<std::unique_ptr<Ledger>> opened = OpenLedger();
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    AuditReport report = AuditOf(**opened);
    std::optional<Finding> first = FirstIntegrityFinding(report);
    ASSERT_TRUE(first.has_value()) << "no integrity finding:\n" << FindingsText(report);
    EXPECT_EQ(first->seq, seq) << FindingsText(report);
    if (!code.empty()) {
      EXPECT_EQ(first->code, code) << FindingsText(report);
    }
    EXPECT_THAT(first->message, HasSubstr("entry " + std::to_string(seq)));
    EXPECT_FALSE(report.IntegrityOk());
  }

  // A recipient registered by the STIB clerk; returns its seq.
  uint64_t Register(uint32_t n, const std::string& name = "") {
    return MustAppend("clerk:SZ-STIB", ev::RecipientRegistered{Uscc(n), name.empty() ? "recipient " + std::to_string(n) : name,
                                                               ev::RecipientKind::kEnterprise, "nanshan", {}});
  }

  // Measure 2 (compute vouchers, 50% of the contract, at most 10,000,000.00 yuan per recipient
  // and year, STIB): an approved application A-1 with `basis_fen` (by default 4,000,000.00
  // yuan, so at most 2,000,000.00 may be awarded) against an allocation of `allocated_fen`.
  void ApprovedApplication(int64_t basis_fen = 400'000'000, int64_t allocated_fen = 1'000'000'000) {
    std::string recipient = AddRecipient(1, ev::RecipientKind::kEnterprise);
    Allocate("2", 2025, allocated_fen);
    SubmitAndApprove(ev::ApplicationSubmitted{"A-1", recipient, "2", "standard", 2025, basis_fen,
                                              "compute_service_contract", {{"rented_compute", "true"}},
                                              {Digest("contract A-1")}});
  }

  // The ledger after a grant and a payout: every kind of projection row exists.
  void AwardedAndPaid() {
    ApprovedApplication();
    MustAppend("reviewer:SZ-STIB", ev::AwardGranted{"A-1", 150'000'000, 150'000'000, 0, ""});
    MustAppend("treasurer", ev::PayoutDisbursed{"A-1", 50'000'000, "TREAS-2025-1"});
  }

  // Reopens a writer, runs `attempt`, and expects it refused with `code` (and `rule` if given),
  // the in-memory state as before, and every column family byte for byte as before.
  void ExpectRefusedAndUnchanged(const std::function<Status()>& attempt, StatusCode code, const std::string& rule) {
    Close();
    const Dump before = DumpDb(path_);
    for (const std::string& cf : LedgerFamilies()) EXPECT_TRUE(before.count(cf)) << "no column family " << cf;
    EXPECT_FALSE(before.at(internal::kCfEntries).empty());
    Reopen();
    const uint64_t size = ledger_->size();
    const auto rows = testutil::ViewRows(*ledger_);
    const ev::Hash head = ledger_->head().head_hash;
    Status status = attempt();
    ASSERT_FALSE(status.ok()) << "the append was accepted";
    EXPECT_EQ(status.code(), code) << status.ToString();
    if (!rule.empty()) {
      EXPECT_EQ(status.rule(), rule) << status.ToString();
    }
    EXPECT_EQ(ledger_->size(), size);
    EXPECT_EQ(ledger_->head().head_hash, head);
    EXPECT_TRUE(testutil::ViewRows(*ledger_) == rows)
        << "in-memory projections changed by a refused append";
    Close();
    const Dump after = DumpDb(path_);
    EXPECT_EQ(DumpDiff(before, after), "");
    Reopen();
  }

  int64_t Later() {
    clock_ms_ += 60'000;
    return clock_ms_;
  }
};

// ---------------------------------------------------------------- bit flips

TEST_F(LedgerTest, StoredEntryFailsSignatureAndAuditAfterEveryBitFlip) {
  // Entry 2 registers the admin key, signed by the authority: small enough to try every bit of
  // its stored value (entry bytes and signature).
  constexpr uint64_t kSeq = 2;
  std::vector<ev::Bytes> values;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    Result<ev::Bytes> raw = ledger_->ReadRaw(seq);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    values.push_back(*raw);
  }
  const ev::PublicKey signer = Key("authority").public_key();
  {
    Result<StoredEntry> intact = SplitStoredValue(values[kSeq - 1]);
    ASSERT_TRUE(intact.ok());
    ASSERT_TRUE(ev::Ed25519Verify(signer, intact->entry_bytes, intact->signature));
    MemoryEntrySource source(values);
    Result<AuditReport> report = Audit(source, AuditOptions{});
    ASSERT_TRUE(report.ok());
    ASSERT_TRUE(report->IntegrityOk()) << FindingsText(*report);
    ASSERT_EQ(report->entries, 3u);
  }
  const ev::Bytes& value = values[kSeq - 1];
  ASSERT_LT(value.size(), 600u) << "pick a smaller entry";
  size_t tried = 0;
  for (size_t at = 0; at < value.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      const std::string where = "byte " + std::to_string(at) + " bit " + std::to_string(bit);
      ev::Bytes flipped = value;
      flipped[at] = static_cast<uint8_t>(flipped[at] ^ (1u << bit));
      // Split by hand: a flip that breaks decoding must still fail the signature.
      const size_t entry_size = flipped.size() - ev::Signature{}.size();
      ev::Signature signature{};
      std::memcpy(signature.data(), flipped.data() + entry_size, signature.size());
      EXPECT_FALSE(ev::Ed25519Verify(signer, std::span<const uint8_t>(flipped.data(), entry_size), signature)) << where;

      std::vector<ev::Bytes> copy = values;
      copy[kSeq - 1] = flipped;
      MemoryEntrySource source(std::move(copy));
      Result<AuditReport> report = Audit(source, AuditOptions{});
      ASSERT_TRUE(report.ok()) << where << ": " << report.status().ToString();
      std::optional<Finding> first = FirstIntegrityFinding(*report);
      ASSERT_TRUE(first.has_value()) << where << ": audit found nothing";
      EXPECT_EQ(first->seq, kSeq) << where << ": " << first->code << " " << first->message;
      if (HasFailure()) return;  // one counterexample is enough
      ++tried;
    }
  }
  EXPECT_EQ(tried, value.size() * 8);
}

TEST_F(LedgerTest, FlippedByteInStoredEntryIsCorruptionOnReadAndNamedByAudit) {
  const uint64_t k = Register(1);
  Register(2);
  Result<ev::Bytes> raw = ledger_->ReadRaw(k);
  ASSERT_TRUE(raw.ok());
  for (size_t at : {size_t{40}, raw->size() / 2, raw->size() - 70, raw->size() - 1}) {
    SCOPED_TRACE("byte " + std::to_string(at));
    ev::Bytes damaged = *raw;
    damaged[at] ^= 0x10;
    PutEntryValue(k, damaged);
    {
      Result<std::unique_ptr<Ledger>> opened = OpenLedger();
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      Result<StoredEntry> read = (*opened)->Read(k);
      ASSERT_FALSE(read.ok());
      EXPECT_TRUE(read.status().IsCorruption()) << read.status().ToString();
      EXPECT_TRUE((*opened)->Read(k - 1).ok());
    }
    // The code depends on what the flip hit (decode, seq, chain, signer, signature); the seq not.
    ExpectAuditNames(k, "");
    PutEntryValue(k, *raw);
    Reopen();
  }
  AuditReport clean = AuditOf(*ledger_);
  EXPECT_TRUE(clean.IntegrityOk()) << FindingsText(clean);
}

TEST_F(LedgerTest, FlippedHeadEntryIsCorruptionAtOpen) {
  const uint64_t head = Register(1);
  Result<ev::Bytes> raw = ledger_->ReadRaw(head);
  ASSERT_TRUE(raw.ok());
  ev::Bytes damaged = *raw;
  damaged[damaged.size() / 2] ^= 0x01;
  PutEntryValue(head, damaged);
  Result<std::unique_ptr<Ledger>> opened = OpenLedger();
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
}

// ---------------------------------------------------------------- chain breaks

TEST_F(LedgerTest, ResignedEntryWithWrongPrevHashIsChainBreakAtItsSeq) {
  const uint64_t k = Register(1);
  Register(2);
  Register(3);
  Result<StoredEntry> stored = ledger_->Read(k);
  ASSERT_TRUE(stored.ok());
  ev::Entry forged = stored->entry;
  forged.prev_hash[7] ^= 0x01;
  ev::Bytes bytes = ev::EncodeEntry(forged);
  // Validly signed by the very key that signed the original.
  ev::Signature signature = Key("clerk:SZ-STIB").Sign(bytes);
  ASSERT_TRUE(ev::Ed25519Verify(Key("clerk:SZ-STIB").public_key(), bytes, signature));
  PutEntryValue(k, StoredValue(bytes, signature));
  ExpectAuditNames(k, "integrity.chain");
}

TEST_F(LedgerTest, ResignedEntryWithOtherContentBreaksChainAtTheNextSeq) {
  const uint64_t k = Register(1, "honest name");
  Register(2);
  Result<StoredEntry> stored = ledger_->Read(k);
  ASSERT_TRUE(stored.ok());
  ev::Entry forged = stored->entry;
  std::get<ev::RecipientRegistered>(forged.body).name = "forged name";
  ev::Bytes bytes = ev::EncodeEntry(forged);
  PutEntryValue(k, StoredValue(bytes, Key("clerk:SZ-STIB").Sign(bytes)));
  // Entry k itself links and verifies, but the rows it changed no longer match their stored
  // versions at k (audit names k, the rewritten entry), and entry k+1 no longer links to it.
  ExpectAuditNames(k, "integrity.history");
  Result<std::unique_ptr<Ledger>> opened = OpenLedger();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  AuditReport report = AuditOf(**opened);
  bool chain_at_next = false;
  for (const Finding& f : report.findings) chain_at_next |= f.seq == k + 1 && f.code == "integrity.chain";
  EXPECT_TRUE(chain_at_next) << FindingsText(report);
}

TEST_F(LedgerTest, DeletedEntryIsNamedByAudit) {
  const uint64_t k = Register(1);
  Register(2);
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    ASSERT_TRUE(db->Delete(w, h.at(internal::kCfEntries), internal::SeqKey(k)).ok());
  });
  ExpectAuditNames(k, "integrity.missing");
}

TEST_F(LedgerTest, ReadOfAMissingEntryBelowTheHeadIsCorruption) {
  // ledger.h: Read is kNotFound past the head, kCorruption if the stored bytes fail. An entry
  // below the head that is gone is damage, not a lookup miss (exit 3, not 2).
  const uint64_t k = Register(1);
  Register(2);
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    ASSERT_TRUE(db->Delete(w, h.at(internal::kCfEntries), internal::SeqKey(k)).ok());
  });
  Result<std::unique_ptr<Ledger>> opened = OpenLedger();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Result<StoredEntry> read = (*opened)->Read(k);
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(read.status().IsCorruption()) << read.status().ToString();
  Result<StoredEntry> past = (*opened)->Read((*opened)->size() + 1);
  ASSERT_FALSE(past.ok());
  EXPECT_TRUE(past.status().IsNotFound()) << past.status().ToString();
}

TEST_F(LedgerTest, DeletedHeadEntryIsCorruptionAtOpen) {
  const uint64_t head = Register(1);
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    ASSERT_TRUE(db->Delete(w, h.at(internal::kCfEntries), internal::SeqKey(head)).ok());
  });
  Result<std::unique_ptr<Ledger>> opened = OpenLedger();
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
}

TEST_F(LedgerTest, SwappedEntriesAreNamedByAuditAtTheFirst) {
  const uint64_t k = Register(1);
  Register(2);
  Register(3);
  Result<ev::Bytes> a = ledger_->ReadRaw(k);
  Result<ev::Bytes> b = ledger_->ReadRaw(k + 1);
  ASSERT_TRUE(a.ok() && b.ok());
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    ASSERT_TRUE(db->Put(w, h.at(internal::kCfEntries), internal::SeqKey(k), AsSlice(*b)).ok());
    ASSERT_TRUE(db->Put(w, h.at(internal::kCfEntries), internal::SeqKey(k + 1), AsSlice(*a)).ok());
  });
  ExpectAuditNames(k, "integrity.seq");
}

TEST_F(LedgerTest, ExtraEntryPastTheHeadIsAnIntegrityFinding) {
  const uint64_t head = Register(1);
  Result<ev::Bytes> raw = ledger_->ReadRaw(head);
  ASSERT_TRUE(raw.ok());
  PutEntryValue(head + 1, *raw);
  Result<std::unique_ptr<Ledger>> opened = OpenLedger();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  AuditReport report = AuditOf(**opened);
  std::optional<Finding> first = FirstIntegrityFinding(report);
  ASSERT_TRUE(first.has_value()) << FindingsText(report);
  EXPECT_EQ(first->code, "integrity.count");
}

// ---------------------------------------------------------------- projections

TEST_F(LedgerTest, IntactLedgerAuditsCleanAndRebuildChangesNoRow) {
  AwardedAndPaid();
  AuditReport report = AuditOf(*ledger_);
  EXPECT_TRUE(report.IntegrityOk()) << FindingsText(report);
  EXPECT_TRUE(report.RulesOk()) << FindingsText(report);
  EXPECT_EQ(report.entries, ledger_->size());
  EXPECT_EQ(report.state_hash, pj::StateHash(testutil::WholeState(*ledger_)));
  const auto rows = testutil::ViewRows(*ledger_);
  Result<uint64_t> differing = ledger_->Rebuild();
  ASSERT_TRUE(differing.ok()) << differing.status().ToString();
  EXPECT_EQ(*differing, 0u);
  EXPECT_TRUE(testutil::ViewRows(*ledger_) == rows);
  Reopen();
  EXPECT_TRUE(testutil::ViewRows(*ledger_) == rows);
}

TEST_F(LedgerTest, TamperedProjectionRowsAreFoundByAuditAndRepairedByRebuild) {
  Register(1);
  Register(2);
  Register(3);
  const auto rows = testutil::ViewRows(*ledger_);
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    rocksdb::ColumnFamilyHandle* cf = h.at(internal::kCfProjections);
    ASSERT_TRUE(db->Delete(w, cf, pj::RowKeyRecipient(Uscc(1))).ok());
    nlohmann::json row = nlohmann::json::parse(rows.at(pj::RowKeyRecipient(Uscc(2))));
    row["info"]["name"] = "someone else";
    ASSERT_TRUE(db->Put(w, cf, pj::RowKeyRecipient(Uscc(2)), row.dump()).ok());
  });
  Reopen();
  AuditReport report = AuditOf(*ledger_);
  EXPECT_FALSE(report.IntegrityOk());
  std::string text = FindingsText(report);
  EXPECT_THAT(text, HasSubstr("integrity.projection"));
  EXPECT_THAT(text, HasSubstr(pj::RowKeyRecipient(Uscc(1))));
  EXPECT_THAT(text, HasSubstr(pj::RowKeyRecipient(Uscc(2))));
  Result<uint64_t> differing = ledger_->Rebuild();
  ASSERT_TRUE(differing.ok()) << differing.status().ToString();
  EXPECT_EQ(*differing, 2u);
  EXPECT_TRUE(testutil::ViewRows(*ledger_) == rows);
  AuditReport after = AuditOf(*ledger_);
  EXPECT_TRUE(after.IntegrityOk()) << FindingsText(after);
}

// Entries are written in key order, so RocksDB moves each flushed table file down whole: a ledger
// written by many commands (each writer flushes its log as it closes) would collect a small file
// per command, and a reader opens them all. Writers merge runs of them as they close, and write
// each file with a partitioned index.
TEST_F(LedgerTest, WritersMergeRunsOfSmallTableFilesSoAReaderOpensFewAndLittle) {
  // Three runs' worth of flushed files: without the merge, well past the bound checked below.
  constexpr int kSessions = 3 * static_cast<int>(kSmallTablesMerged);
  static_assert(static_cast<size_t>(kSessions) > kSmallTablesMerged + 4);
  uint32_t n = 0;
  for (int session = 0; session < kSessions; ++session) {
    // One batch of registrations: its log is over kFlushOnCloseBytes, so the close flushes.
    std::vector<AppendRequest> requests;
    for (int i = 0; i < 60; ++i) {
      ++n;
      requests.push_back(AppendRequest{ev::RecipientRegistered{Uscc(n),
                                                               "recipient " + std::to_string(n),
                                                               ev::RecipientKind::kEnterprise,
                                                               "nanshan",
                                                               {}},
                                       "session-" + std::to_string(n)});
    }
    clock_ms_ += 60'000;
    auto appended =
        ledger_->Append(Key("clerk:SZ-STIB"), requests, clock_ms_, testutil::FixedClockMs());
    ASSERT_TRUE(appended.ok()) << appended.status().ToString();
    Reopen();
  }
  Close();
  size_t files = 0, small = 0;
  WithRocksDb(path_, /*read_only=*/true, [&](rocksdb::DB* db, const Handles& handles) {
    rocksdb::ColumnFamilyMetaData entries;
    db->GetColumnFamilyMetaData(handles.at(internal::kCfEntries), &entries);
    files = entries.file_count;
    for (const auto& level : entries.levels) {
      for (const auto& file : level.files) small += file.size < kSmallTableBytes ? 1 : 0;
    }
    // Each file's index is partitioned, so that opening it reads the index's top level only.
    rocksdb::TablePropertiesCollection tables;
    ASSERT_TRUE(db->GetPropertiesOfAllTables(handles.at(internal::kCfEntries), &tables).ok());
    ASSERT_FALSE(tables.empty());
    for (const auto& [name, table] : tables) {
      EXPECT_GT(table->index_partitions, 0u) << name;
    }
  });
  // Every close flushed a file of entries; fewer than a run of them may stay unmerged on a
  // level, plus level 0's few that RocksDB compacts itself.
  EXPECT_LT(files, kSmallTablesMerged + 4)
      << small << " small files after " << kSessions << " writers";
  Result<std::unique_ptr<Ledger>> opened = OpenLedger(OpenMode::kReader);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  AuditReport report = AuditOf(**opened);
  EXPECT_TRUE(report.IntegrityOk()) << FindingsText(report);
  EXPECT_EQ(report.entries, (*opened)->head().head_seq);
  auto last = (*opened)->Read((*opened)->head().head_seq);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
}

TEST_F(LedgerTest, StoredRowTheReplayLacksIsFoundByAuditAndRemovedByRebuild) {
  Register(1);
  Register(2);
  const auto rows = testutil::ViewRows(*ledger_);
  // A well-formed row of a recipient no entry registered.
  const std::string row = rows.at(pj::RowKeyRecipient(Uscc(1)));
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    rocksdb::ColumnFamilyHandle* cf = h.at(internal::kCfProjections);
    ASSERT_TRUE(db->Put(w, cf, pj::RowKeyRecipient(Uscc(9)), row).ok());
  });
  Reopen();
  AuditReport report = AuditOf(*ledger_);
  EXPECT_THAT(FindingsText(report),
              HasSubstr("projection row " + pj::RowKeyRecipient(Uscc(9)) +
                        " is not produced by the replay"));
  Result<uint64_t> differing = ledger_->Rebuild();
  ASSERT_TRUE(differing.ok()) << differing.status().ToString();
  EXPECT_EQ(*differing, 1u);
  Reopen();
  EXPECT_TRUE(testutil::ViewRows(*ledger_) == rows);
  AuditReport after = AuditOf(*ledger_);
  EXPECT_TRUE(after.IntegrityOk()) << FindingsText(after);
}

// Audit looks up each window's index and history records in one sweep per family, stepping
// between adjacent keys and seeking otherwise. Every answer must be the point read's: stored
// records, runs with gaps wider than the steps, records a seq away, names nothing has, repeats,
// in any order.
TEST_F(LedgerTest, BatchedHistoryAndIndexLookupsAnswerAsPointReadsWould) {
  AwardedAndPaid();
  for (uint32_t n = 2; n <= 12; ++n) Register(n);
  Close();
  const Dump stored = DumpDb(path_);
  Result<std::unique_ptr<Ledger>> opened = OpenLedger(OpenMode::kReader);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const Inspection& inspection = (*opened)->inspection();
  // Both families' keys end in 8 bytes of seq after one separator byte.
  auto lookups = [](const std::map<std::string, std::string>& records, bool history, size_t every) {
    std::vector<Inspection::NameAt> at;
    size_t i = 0;
    for (const auto& [key, value] : records) {
      if (i++ % every != 0) continue;
      const std::string name = key.substr(0, key.size() - 1 - internal::kSeqKeyBytes);
      uint64_t seq = internal::SeqFromKey(key.data() + key.size() - internal::kSeqKeyBytes);
      if (history) seq = ~seq;
      at.push_back({name, seq});
      at.push_back({name, seq + 1});
      at.push_back({name + "x", seq});
    }
    at.push_back({"", 0});
    at.push_back({"zz", 1});
    for (size_t k = 0; k < 5 && k < at.size(); ++k) at.push_back(at[k]);
    std::mt19937 shuffle(7);
    std::shuffle(at.begin(), at.end(), shuffle);
    return at;
  };
  for (size_t every : {size_t{1}, size_t{3}}) {
    SCOPED_TRACE("every " + std::to_string(every) + " stored record");
    const auto& versions = stored.at(internal::kCfHistory);
    const std::vector<Inspection::NameAt> history = lookups(versions, true, every);
    std::vector<std::optional<std::string>> got;
    ASSERT_TRUE(inspection.HistoryVersions(history, &got).ok());
    ASSERT_EQ(got.size(), history.size());
    size_t found = 0;
    for (size_t i = 0; i < history.size(); ++i) {
      auto it = versions.find(internal::HistoryKey(history[i].name, history[i].seq));
      const std::optional<std::string> want =
          it == versions.end() ? std::nullopt : std::optional<std::string>(it->second);
      EXPECT_EQ(got[i], want) << history[i].name << " at " << history[i].seq;
      if (want) ++found;
    }
    EXPECT_GT(found, 20u);
    EXPECT_LT(found, history.size());

    const auto& listed = stored.at(internal::kCfIndex);
    const std::vector<Inspection::NameAt> index = lookups(listed, false, every);
    std::vector<bool> has;
    ASSERT_TRUE(inspection.IndexListed(index, &has).ok());
    ASSERT_EQ(has.size(), index.size());
    found = 0;
    for (size_t i = 0; i < index.size(); ++i) {
      const bool want = listed.count(index[i].name + "/" + internal::SeqKey(index[i].seq)) != 0;
      EXPECT_EQ(has[i], want) << index[i].name << " at " << index[i].seq;
      if (want) ++found;
    }
    EXPECT_GT(found, 20u);
    EXPECT_LT(found, index.size());
  }
}

// An index record moved to a later seq of the same index leaves the counts as they were: the
// lookup of the entry it listed must find it missing, at that entry.
TEST_F(LedgerTest, IndexRecordMovedToALaterSeqIsNamedAtTheEntryItListed) {
  ApprovedApplication();
  const uint64_t award =
      MustAppend("reviewer:SZ-STIB", ev::AwardGranted{"A-1", 150'000'000, 150'000'000, 0, ""});
  const uint64_t payout =
      MustAppend("treasurer", ev::PayoutDisbursed{"A-1", 50'000'000, "TREAS-2025-1"});
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    rocksdb::ColumnFamilyHandle* cf = h.at(internal::kCfIndex);
    const std::string listed = "application/A-1/" + internal::SeqKey(award);
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), cf, listed, &value).ok())
        << "the award is not indexed";
    ASSERT_TRUE(db->Delete(w, cf, listed).ok());
    ASSERT_TRUE(db->Put(w, cf, "application/A-1/" + internal::SeqKey(payout + 1), "").ok());
  });
  ExpectAuditNames(award, "integrity.index");
}

TEST_F(LedgerTest, LastRowMissingFromTheStoreIsFoundByAuditAndRestoredByRebuild) {
  Register(1);
  Register(2);
  const auto rows = testutil::ViewRows(*ledger_);
  // The merge meets it after the stored rows run out.
  const std::string last = rows.rbegin()->first;
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    ASSERT_TRUE(db->Delete(w, h.at(internal::kCfProjections), last).ok());
  });
  Reopen();
  EXPECT_THAT(FindingsText(AuditOf(*ledger_)), HasSubstr("projection row " + last + " is missing"));
  Result<uint64_t> differing = ledger_->Rebuild();
  ASSERT_TRUE(differing.ok()) << differing.status().ToString();
  EXPECT_EQ(*differing, 1u);
  Reopen();
  EXPECT_TRUE(testutil::ViewRows(*ledger_) == rows);
}

// ---------------------------------------------------------------- idempotency

TEST_F(LedgerTest, RetryWithSameKeyAndBodyReturnsFirstSeqAndWritesNothing) {
  AppendRequest request{ev::RecipientRegistered{Uscc(21), "idempotent co", ev::RecipientKind::kStartup, "futian", {}},
                        "retry-key-1"};
  Result<std::vector<AppendResult>> first =
      ledger_->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), Later(), FixedClockMs());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_FALSE(first->front().replayed);
  const uint64_t seq = first->front().seq;
  EXPECT_EQ(seq, ledger_->size());
  Close();
  const Dump before = DumpDb(path_);
  Reopen();
  for (int retry = 0; retry < 2; ++retry) {
    Result<std::vector<AppendResult>> again =
        ledger_->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), Later(), FixedClockMs());
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ASSERT_EQ(again->size(), 1u);
    EXPECT_TRUE(again->front().replayed);
    EXPECT_EQ(again->front().seq, seq);
    EXPECT_EQ(ledger_->size(), seq);
  }
  Close();
  EXPECT_EQ(DumpDiff(before, DumpDb(path_)), "");
  Reopen();
  EXPECT_EQ(ledger_->size(), seq);
}

TEST_F(LedgerTest, RetryWithSameKeyAndOtherBodyIsIdempotencyConflict) {
  AppendRequest request{ev::RecipientRegistered{Uscc(21), "idempotent co", ev::RecipientKind::kStartup, "futian", {}},
                        "retry-key-2"};
  ASSERT_TRUE(
      ledger_->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), Later(), FixedClockMs()).ok());
  AppendRequest other{ev::RecipientRegistered{Uscc(22), "another co", ev::RecipientKind::kStartup, "futian", {}},
                      "retry-key-2"};
  ExpectRefusedAndUnchanged(
      [&] {
        return ledger_->Append(Key("clerk:SZ-STIB"), std::span(&other, 1), Later(), FixedClockMs())
            .status();
      },
      StatusCode::kRejected, "idempotency.conflict");
}

TEST_F(LedgerTest, RetryWithSameKeyAndBodyByAnotherSignerIsIdempotencyConflict) {
  AppendRequest request{ev::RecipientRegistered{Uscc(21), "idempotent co", ev::RecipientKind::kStartup, "futian", {}},
                        "retry-key-3"};
  ASSERT_TRUE(
      ledger_->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), Later(), FixedClockMs()).ok());
  ExpectRefusedAndUnchanged(
      [&] {
        return ledger_
            ->Append(Key("clerk:SZ-MIIT"), std::span(&request, 1), Later(), FixedClockMs())
            .status();
      },
      StatusCode::kRejected, "idempotency.conflict");
}

TEST_F(LedgerTest, IdempotencyKeySurvivesReopen) {
  AppendRequest request{ev::BudgetAllocated{"2", 2025, 12'345, "city"}, "allocation-2025-2"};
  Result<std::vector<AppendResult>> first =
      ledger_->Append(Key("treasurer"), std::span(&request, 1), Later(), FixedClockMs());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Reopen();
  Result<std::vector<AppendResult>> again =
      ledger_->Append(Key("treasurer"), std::span(&request, 1), Later(), FixedClockMs());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->front().replayed);
  EXPECT_EQ(again->front().seq, first->front().seq);
  EXPECT_EQ(ledger_->size(), first->front().seq);
  // Not allocated twice.
  ASSERT_NE(ledger_->view().FindMeasureYear("2", 2025), nullptr);
  EXPECT_EQ(ledger_->view().FindMeasureYear("2", 2025)->AllocatedFen(), 12'345);
}

// ---------------------------------------------------------------- persistence

TEST_F(LedgerTest, ReopenKeepsStateRowForRowHeadAndSize) {
  AwardedAndPaid();
  const auto rows = testutil::ViewRows(*ledger_);
  const ev::Hash head = ledger_->head().head_hash;
  const uint64_t size = ledger_->size();
  const ev::Hash state_hash = pj::StateHash(testutil::WholeState(*ledger_));
  ASSERT_GT(rows.size(), 40u);
  Reopen();
  EXPECT_EQ(ledger_->size(), size);
  EXPECT_EQ(ledger_->head().head_hash, head);
  EXPECT_TRUE(testutil::ViewRows(*ledger_) == rows);
  EXPECT_EQ(pj::StateHash(testutil::WholeState(*ledger_)), state_hash);
  Result<StoredEntry> last = ledger_->Read(size);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->leaf_hash, head);
  // And the next append continues the chain from the same head.
  const uint64_t next = Register(40);
  EXPECT_EQ(next, size + 1);
  Result<StoredEntry> appended = ledger_->Read(next);
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended->entry.prev_hash, head);
}

// ---------------------------------------------------------------- one writer, many readers

TEST_F(LedgerTest, SecondWriterInSameProcessIsBusyAndChangesNothing) {
  Register(1);
  Close();
  const Dump before = DumpDb(path_);
  Reopen();
  const uint64_t size = ledger_->size();
  Result<std::unique_ptr<Ledger>> second = OpenLedger(OpenMode::kWriter);
  ASSERT_FALSE(second.ok()) << "a second writer opened the ledger";
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  EXPECT_EQ(second.status().ExitCode(), 4);
  EXPECT_EQ(ledger_->size(), size);
  Close();
  EXPECT_EQ(DumpDiff(before, DumpDb(path_)), "");
  Reopen();
  EXPECT_EQ(Register(2), size + 1) << "the first writer still writes";
}

TEST_F(LedgerTest, ReaderOpensBesideWriterAndSeesNewEntriesAfterReopen) {
  Register(1);
  const uint64_t size = ledger_->size();
  {
    Result<std::unique_ptr<Ledger>> reader = OpenLedger(OpenMode::kReader);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ((*reader)->size(), size);
    EXPECT_TRUE(testutil::ViewRows(**reader) == testutil::ViewRows(*ledger_));
    Result<StoredEntry> head = (*reader)->Read(size);
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_EQ(head->leaf_hash, ledger_->head().head_hash);
    // The writer goes on while the reader is open.
    EXPECT_EQ(Register(2), size + 1);
  }
  Result<std::unique_ptr<Ledger>> reader = OpenLedger(OpenMode::kReader);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->size(), size + 1);
  Result<StoredEntry> added = (*reader)->Read(size + 1);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(std::get<ev::RecipientRegistered>(added->entry.body).recipient_id, Uscc(2));
  EXPECT_TRUE(testutil::ViewRows(**reader) == testutil::ViewRows(*ledger_));
  AuditReport report = AuditOf(**reader);
  EXPECT_TRUE(report.IntegrityOk()) << FindingsText(report);
}

TEST_F(LedgerTest, ReaderRefusesWrites) {
  Result<std::unique_ptr<Ledger>> reader = OpenLedger(OpenMode::kReader);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const uint64_t size = (*reader)->size();
  AppendRequest request{ev::RecipientRegistered{Uscc(5), "r", ev::RecipientKind::kEnterprise, "futian", {}}, ""};
  Result<std::vector<AppendResult>> appended =
      (*reader)->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), Later(), FixedClockMs());
  EXPECT_FALSE(appended.ok());
  EXPECT_FALSE((*reader)->Rebuild().ok());
  EXPECT_FALSE((*reader)->StoreCheckpoint(1, "note").ok());
  EXPECT_EQ((*reader)->size(), size);
  EXPECT_EQ(ledger_->size(), size);
}

// ---------------------------------------------------------------- refused appends

TEST_F(LedgerTest, AwardOverTheRateCeilingLeavesLedgerByteForByteUnchanged) {
  ApprovedApplication();
  const int64_t too_much = 200'000'001;  // 50% of 4,000,000.00 is 2,000,000.00
  ExpectRefusedAndUnchanged(
      [&] {
        return Append("reviewer:SZ-STIB", ev::AwardGranted{"A-1", too_much, too_much, 0, ""}).status();
      },
      StatusCode::kRejected, "rate.ceiling");
  // The same award at the ceiling is accepted afterwards.
  EXPECT_TRUE(Append("reviewer:SZ-STIB", ev::AwardGranted{"A-1", 200'000'000, 200'000'000, 0, ""}).ok());
}

TEST_F(LedgerTest, AwardOverThePerRecipientCapLeavesLedgerByteForByteUnchanged) {
  // 50% of a 30,000,000.00 contract would be 15,000,000.00; the per-recipient cap is 10,000,000.00.
  ApprovedApplication(/*basis_fen=*/3'000'000'000, /*allocated_fen=*/2'000'000'000);
  const int64_t over = 1'000'000'001;
  ExpectRefusedAndUnchanged(
      [&] { return Append("reviewer:SZ-STIB", ev::AwardGranted{"A-1", over, over, 0, ""}).status(); },
      StatusCode::kRejected, "cap.per_recipient_year");
  EXPECT_TRUE(Append("reviewer:SZ-STIB", ev::AwardGranted{"A-1", over - 1, over - 1, 0, ""}).ok());
}

TEST_F(LedgerTest, WrongRoleLeavesLedgerByteForByteUnchanged) {
  ApprovedApplication();
  ExpectRefusedAndUnchanged(
      [&] { return Append("clerk:SZ-STIB", ev::AwardGranted{"A-1", 1'000, 1'000, 0, ""}).status(); },
      StatusCode::kRejected, "role");
}

TEST_F(LedgerTest, BatchWhoseThirdRequestFailsLeavesLedgerByteForByteUnchanged) {
  std::vector<AppendRequest> batch = {
      {ev::RecipientRegistered{Uscc(31), "first", ev::RecipientKind::kEnterprise, "futian", {}}, "batch-1"},
      {ev::RecipientRegistered{Uscc(32), "second", ev::RecipientKind::kLab, "baoan", {}}, ""},
      {ev::RecipientRegistered{Uscc(31), "first again", ev::RecipientKind::kEnterprise, "futian", {}}, ""},
  };
  Status status;
  ExpectRefusedAndUnchanged(
      [&] {
        status = ledger_->Append(Key("clerk:SZ-STIB"), batch, Later(), FixedClockMs()).status();
        return status;
      },
      StatusCode::kRejected, "recipient.duplicate");
  EXPECT_THAT(status.message(), HasSubstr("request 3"));
  // Requests 1 and 2 left no trace: alone they append, and the idempotency key of request 1
  // records a new entry rather than replaying one that was never written.
  const uint64_t size = ledger_->size();
  batch.pop_back();
  Result<std::vector<AppendResult>> results =
      ledger_->Append(Key("clerk:SZ-STIB"), batch, Later(), FixedClockMs());
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_FALSE((*results)[0].replayed);
  EXPECT_EQ((*results)[0].seq, size + 1);
  EXPECT_EQ((*results)[1].seq, size + 2);
  AuditReport report = AuditOf(*ledger_);
  EXPECT_TRUE(report.IntegrityOk()) << FindingsText(report);
}

TEST_F(LedgerTest, AppendEarlierThanTheHeadIsInvalidArgument) {
  Register(1);
  const int64_t head_ms = ledger_->head().head_recorded_at_ms;
  AppendRequest request{ev::RecipientRegistered{Uscc(2), "late", ev::RecipientKind::kEnterprise, "futian", {}}, ""};
  ExpectRefusedAndUnchanged(
      [&] {
        return ledger_
            ->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), head_ms - 1, FixedClockMs())
            .status();
      },
      StatusCode::kInvalidArgument, "");
  // The head's own time is allowed (never earlier, may be equal).
  Result<std::vector<AppendResult>> same =
      ledger_->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), head_ms, FixedClockMs());
  EXPECT_TRUE(same.ok()) << same.status().ToString();
}

// ---------------------------------------------------------------- time, size and text at the edge

TEST_F(LedgerTest, AppendDatedLaterThanTheClockPlusSkewIsRejectedAndLeavesLedgerUnchanged) {
  Register(1);
  // The writer's clock an hour after the head; entries may be dated up to the skew past it.
  const int64_t clock = ledger_->head().head_recorded_at_ms + 3'600'000;
  AppendRequest request{
      ev::RecipientRegistered{Uscc(2), "dated ahead", ev::RecipientKind::kEnterprise, "futian", {}},
      ""};
  Status status;
  ExpectRefusedAndUnchanged(
      [&] {
        status = ledger_
                     ->Append(Key("clerk:SZ-STIB"), std::span(&request, 1),
                              clock + pj::kClockSkewMsMax + 1, clock)
                     .status();
        return status;
      },
      StatusCode::kRejected, "time.future");
  EXPECT_THAT(status.message(), HasSubstr("later than the clock"));
  EXPECT_EQ(status.ExitCode(), 1);
  // Far ahead (any registered key could try it) is refused just the same.
  EXPECT_EQ(
      ledger_
          ->Append(Key("clerk:SZ-STIB"), std::span(&request, 1), testutil::At("2099-01-01"), clock)
          .status()
          .rule(),
      "time.future");
  // At the skew it is taken; so is a time in the past, after the head.
  Result<std::vector<AppendResult>> ahead = ledger_->Append(
      Key("clerk:SZ-STIB"), std::span(&request, 1), clock + pj::kClockSkewMsMax, clock);
  ASSERT_TRUE(ahead.ok()) << ahead.status().ToString();
  AuditReport report = AuditOf(*ledger_);
  EXPECT_TRUE(report.IntegrityOk() && report.RulesOk()) << FindingsText(report);
}

TEST_F(LedgerTest, AuditReportsEntriesDatedLaterThanTheAuditRuns) {
  Register(1);
  const uint64_t head = Register(2);
  const int64_t head_ms = ledger_->head().head_recorded_at_ms;
  auto audit_at = [&](std::optional<int64_t> now_ms) {
    AuditOptions options;
    options.stored = ledger_.get();
    options.now_ms = now_ms;
    LedgerEntrySource source(ledger_.get());
    Result<AuditReport> report = Audit(source, options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? std::move(*report) : AuditReport{};
  };
  // The fixture records an entry a minute: at head - skew - 1 ms only the head is ahead.
  AuditReport early = audit_at(head_ms - pj::kClockSkewMsMax - 1);
  ASSERT_EQ(early.findings.size(), 1u) << FindingsText(early);
  EXPECT_EQ(early.findings[0].seq, head);
  EXPECT_EQ(early.findings[0].code, "time.future");
  EXPECT_FALSE(early.findings[0].integrity);
  EXPECT_TRUE(early.IntegrityOk());
  EXPECT_FALSE(early.RulesOk());
  EXPECT_TRUE(audit_at(head_ms - pj::kClockSkewMsMax).findings.empty());
  EXPECT_TRUE(audit_at(std::nullopt).findings.empty());
}

// An entry exactly as large as the reader takes is written, reopens and audits; one more byte
// is refused before signing (it used to be written, after which the ledger could not open).
TEST_F(LedgerTest, LargestEntryTheReaderTakesIsWrittenOneByteMoreIsRefused) {
  const int64_t at = Later();
  // What Append will encode: this ledger, the next seq and head, the clerk's key.
  auto entry_with_name = [&](uint32_t n, uint64_t seq, size_t name_bytes) {
    ev::Entry e;
    e.ledger_id = ledger_->head().ledger_id;
    e.seq = seq;
    e.prev_hash = ledger_->head().head_hash;
    e.recorded_at_ms = at;
    e.signer = Key("clerk:SZ-STIB").key_id();
    e.body = ev::RecipientRegistered{
        Uscc(n), std::string(name_bytes, 'n'), ev::RecipientKind::kEnterprise, "nanshan", {}};
    return e;
  };
  // A name of 8w - 1 bytes takes w words with its NUL terminator; 8w bytes take w + 1.
  const size_t base = ev::EncodeEntry(entry_with_name(1, ledger_->size() + 1, 7)).size() - 8;
  ASSERT_EQ((ev::kEntryBytesMax - base) % 8, 0u);
  const size_t largest_name = ev::kEntryBytesMax - base - 1;
  const uint64_t seq = ledger_->size() + 1;
  ASSERT_EQ(ev::EncodeEntry(entry_with_name(1, seq, largest_name)).size(), ev::kEntryBytesMax);
  AppendRequest largest{
      std::get<ev::RecipientRegistered>(entry_with_name(1, seq, largest_name).body), ""};
  Result<std::vector<AppendResult>> written =
      ledger_->Append(Key("clerk:SZ-STIB"), std::span(&largest, 1), at, FixedClockMs());
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  Reopen();
  Result<StoredEntry> read = ledger_->Read(seq);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->entry_bytes.size(), ev::kEntryBytesMax);
  AuditReport report = AuditOf(*ledger_);
  EXPECT_TRUE(report.IntegrityOk() && report.RulesOk()) << FindingsText(report);

  ASSERT_EQ(ev::EncodeEntry(entry_with_name(2, seq + 1, largest_name + 1)).size(),
            ev::kEntryBytesMax + 8);
  AppendRequest over{
      std::get<ev::RecipientRegistered>(entry_with_name(2, seq + 1, largest_name + 1).body), ""};
  Status status;
  ExpectRefusedAndUnchanged(
      [&] {
        status =
            ledger_->Append(Key("clerk:SZ-STIB"), std::span(&over, 1), at, FixedClockMs()).status();
        return status;
      },
      StatusCode::kInvalidArgument, "");
  EXPECT_EQ(status.ExitCode(), 2);
  EXPECT_THAT(status.message(),
              HasSubstr("over the limit of " + std::to_string(ev::kEntryBytesMax) + " bytes"));
  EXPECT_THAT(status.message(), HasSubstr("kEntryBytesMax"));
}

// A NUL inside a text used to be cut off in the signed entry while indexes and projections
// kept the whole text: "A-1<NUL>x" passed as a new application and was signed as a second
// "A-1". Such text, and control characters in identifiers, are refused before signing.
TEST_F(LedgerTest, NulInTextAndControlCharactersInIdsAreRefusedAndLeaveLedgerUnchanged) {
  ApprovedApplication();
  const std::string recipient = Uscc(1);
  auto application = [&](const std::string& id) {
    return ev::ApplicationSubmitted{id,
                                    recipient,
                                    "2",
                                    "standard",
                                    2025,
                                    400'000'000,
                                    "compute_service_contract",
                                    {{"rented_compute", "true"}},
                                    {Digest("contract of " + id)}};
  };
  Status status;
  ExpectRefusedAndUnchanged(
      [&] {
        status = Append("clerk:SZ-STIB", application(std::string("A-1\0x", 5))).status();
        return status;
      },
      StatusCode::kInvalidArgument, "");
  EXPECT_THAT(status.message(),
              HasSubstr("applicationSubmitted.applicationId contains a NUL character"));
  ExpectRefusedAndUnchanged(
      [&] {
        status = Append("clerk:SZ-STIB", ev::RecipientRegistered{Uscc(7),
                                                                 std::string("shown\0hidden", 12),
                                                                 ev::RecipientKind::kEnterprise,
                                                                 "nanshan",
                                                                 {}})
                     .status();
        return status;
      },
      StatusCode::kInvalidArgument, "");
  EXPECT_THAT(status.message(), HasSubstr("recipientRegistered.name contains a NUL character"));
  for (const std::string id : {"A-2\t", "A\n3", "A-4\x7f", "A-5\xc2\x85", "\x1b[31mA-6"}) {
    SCOPED_TRACE(ev::Hex(ev::Bytes(id.begin(), id.end())));
    ExpectRefusedAndUnchanged(
        [&] {
          status = Append("clerk:SZ-STIB", application(id)).status();
          return status;
        },
        StatusCode::kInvalidArgument, "");
    EXPECT_THAT(status.message(), HasSubstr("applicationId holds a control character"));
  }
  AppendRequest keyed{
      ev::RecipientRegistered{Uscc(8), "keyed", ev::RecipientKind::kEnterprise, "nanshan", {}},
      "retry\r\n"};
  ExpectRefusedAndUnchanged(
      [&] {
        return ledger_->Append(Key("clerk:SZ-STIB"), std::span(&keyed, 1), Later(), FixedClockMs())
            .status();
      },
      StatusCode::kInvalidArgument, "");
  // Identifiers may hold any printable Unicode; free text may hold line breaks and tabs.
  EXPECT_TRUE(Append("clerk:SZ-STIB", application("申请-2025-甲")).ok());
  EXPECT_TRUE(Append("reviewer:SZ-STIB",
                     ev::ApplicationApproved{"申请-2025-甲", "checked:\n\tcontract\tinvoice"})
                  .ok());
  AuditReport report = AuditOf(*ledger_);
  EXPECT_TRUE(report.IntegrityOk() && report.RulesOk()) << FindingsText(report);
}

// ---------------------------------------------------------------- open and create

TEST_F(LedgerTest, OpenWithoutALedgerIsIOErrorAndCreateOverOneIsRefused) {
  Result<std::unique_ptr<Ledger>> missing = Ledger::Open(dir_->Sub("nothing-here"), OpenMode::kWriter);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsIOError()) << missing.status().ToString();
  EXPECT_EQ(missing.status().ExitCode(), 4);
  Close();
  ev::LedgerCreated created;
  created.name = "again";
  created.authority_public_key = Key("authority").public_key();
  created.authority_unit = "LEDGER-ADMIN";
  created.authority_holder = "authority";
  Result<std::unique_ptr<Ledger>> again = Ledger::Create(path_, Key("authority"), created, Later());
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsIOError()) << again.status().ToString();
}

TEST_F(LedgerTest, UnknownStorageFormatIsCorruptionAtOpen) {
  Damage([&](rocksdb::DB* db, const Handles& h, const rocksdb::WriteOptions& w) {
    ASSERT_TRUE(db->Put(w, h.at(internal::kCfMeta), "format", std::string("\x02\x00\x00\x00", 4)).ok());
  });
  Result<std::unique_ptr<Ledger>> opened = OpenLedger();
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
}

}  // namespace
}  // namespace fundledger::ledger
