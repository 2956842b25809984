// Goal: damage done to a closed ledger behind its back — with RocksDB opened directly, never
// through the project's write path — is found (DESIGN.md §2, §5, §6). After each kind of damage
// the ledger is reopened as a reader and replayed with ledger::Audit against its stored rows,
// tree and checkpoints: the audit must name the damaged entry's seq (finding.seq and "entry N")
// or the damaged projection row's key, and `fundledger audit` on the same directory must exit 3
// (integrity). A refusal by Ledger::Open itself counts as detection if it is kCorruption and
// names what is wrong. Damage covered: a flipped byte anywhere in a stored entry (entry bytes and
// signature), a deleted entry, two swapped entries, an entry rewritten and re-signed by a key
// revoked before it, entries dropped after a checkpoint was published (even when the head row
// and every projection are made to agree), edited / deleted / added projection rows, an edited
// version in the row history (what `query --as-of` reads), an entry dropped from the index (what
// `history` reads), deleted or altered Merkle nodes (on the root's path and below it), and
// hostile checkpoint notes (another ledger's, an unregistered signer's, a wrong root). An intact
// ledger audits clean with the root RootAt gives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/internal/storage_format.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::testing::HasSubstr;
using nlohmann::json;

using CfHandles = std::map<std::string, rocksdb::ColumnFamilyHandle*>;

constexpr int kExitIntegrity = 3;

using testutil::ShellQuote;

std::string ReadWhole(const std::string& path) { return testutil::ReadText(path); }

ev::Bytes Joined(const ev::Bytes& entry_bytes, const ev::Signature& signature) {
  ev::Bytes value = entry_bytes;
  value.insert(value.end(), signature.begin(), signature.end());
  return value;
}

std::string Describe(const AuditReport& report) {
  std::string out;
  for (const Finding& f : report.findings) {
    out += std::to_string(f.seq) + " " + f.code + (f.integrity ? " [integrity] " : " [rule] ") + f.message + "\n";
  }
  return out.empty() ? "(no findings)\n" : out;
}

std::optional<Finding> FirstIntegrity(const AuditReport& report) {
  for (const Finding& f : report.findings) {
    if (f.integrity) return f;
  }
  return std::nullopt;
}

// What a reader and the inspector's replay make of the ledger at a path.
struct Inspection {
  Status open;                        // Ledger::Open(kReader)
  std::optional<AuditReport> report;  // the audit, if Open succeeded
};

class TamperTest : public testutil::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    // A reviewer of SZ-STIB who left: registered, then revoked, before any award. Their private
    // key is kept, as a leaked key would be.
    keys_["departed"] = std::make_unique<ev::PrivateKey>(testutil::TestKey(250));
    departed_registered_ = MustAppend(
        "admin", ev::KeyRegistered{Key("departed").public_key(), ev::Role::kReviewer, "SZ-STIB", "departed reviewer"});
    departed_revoked_ = MustAppend("admin", ev::KeyRevoked{Key("departed").key_id(), "left the bureau"});
    Allocate("2", 2025, 1'000'000'000);  // 10,000,000.00 yuan for measure 2 in 2025
    for (uint32_t i = 1; i <= 4; ++i) {
      std::string recipient = AddRecipient(i, ev::RecipientKind::kEnterprise);
      std::string id = "A-" + std::to_string(i);
      SubmitAndApprove(ev::ApplicationSubmitted{id, recipient, "2", "standard", 2025, 400'000'000,
                                                "compute_service_contract", {{"rented_compute", "true"}},
                                                {testutil::Digest("contract " + id)}});
      uint64_t award = MustAppend("reviewer:SZ-STIB", ev::AwardGranted{id, 150'000'000, 150'000'000, 0, ""});
      MustAppend("treasurer", ev::PayoutDisbursed{id, 50'000'000, "TREAS-2025-" + std::to_string(i)});
      if (i == 2) award_seq_ = award;
    }
    size_ = ledger_->size();
    ASSERT_GE(size_, 30u);
    ASSERT_GT(award_seq_, departed_revoked_);
    ASSERT_LT(award_seq_ + 1, size_);
  }

  // Closes the ledger (it holds RocksDB's LOCK while open).
  void Close() { ledger_.reset(); }

  // Opens the closed ledger's RocksDB directly, with every column family it lists, and runs `fn`.
  void WithDb(const std::function<void(rocksdb::DB*, const CfHandles&)>& fn) {
    ASSERT_EQ(ledger_, nullptr) << "close the ledger first";
    rocksdb::DBOptions options;
    std::vector<std::string> names;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, path_, &names);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (const char* cf : {"default", internal::kCfEntries, internal::kCfIndex, internal::kCfProjections,
                           internal::kCfMerkle, internal::kCfCheckpoints, internal::kCfMeta, internal::kCfHistory}) {
      ASSERT_NE(std::find(names.begin(), names.end(), cf), names.end()) << "no column family " << cf;
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    s = rocksdb::DB::Open(options, path_, families, &handles, &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<rocksdb::DB> db(raw);
    CfHandles by_name;
    for (size_t i = 0; i < handles.size(); ++i) by_name[names[i]] = handles[i];
    fn(db.get(), by_name);
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      rocksdb::Status closed = db->DestroyColumnFamilyHandle(handle);
      EXPECT_TRUE(closed.ok()) << closed.ToString();
    }
  }

  static rocksdb::WriteOptions Synced() {
    rocksdb::WriteOptions options;
    options.sync = true;
    return options;
  }

  std::optional<std::string> Get(const std::string& cf, const std::string& key) {
    std::optional<std::string> out;
    WithDb([&](rocksdb::DB* db, const CfHandles& h) {
      std::string value;
      rocksdb::Status s = db->Get(rocksdb::ReadOptions(), h.at(cf), key, &value);
      if (s.ok()) {
        out = value;
      } else {
        EXPECT_TRUE(s.IsNotFound()) << s.ToString();
      }
    });
    return out;
  }

  void Put(const std::string& cf, const std::string& key, const std::string& value) {
    WithDb([&](rocksdb::DB* db, const CfHandles& h) {
      rocksdb::Status s = db->Put(Synced(), h.at(cf), key, value);
      ASSERT_TRUE(s.ok()) << s.ToString();
    });
  }

  void Delete(const std::string& cf, const std::string& key) {
    WithDb([&](rocksdb::DB* db, const CfHandles& h) {
      rocksdb::Status s = db->Delete(Synced(), h.at(cf), key);
      ASSERT_TRUE(s.ok()) << s.ToString();
    });
  }

  ev::Bytes EntryValue(uint64_t seq) {
    std::optional<std::string> value = Get(internal::kCfEntries, internal::SeqKey(seq));
    EXPECT_TRUE(value.has_value()) << "entry " << seq << " is not stored";
    return value ? ev::Bytes(value->begin(), value->end()) : ev::Bytes();
  }
  void PutEntryValue(uint64_t seq, const ev::Bytes& value) {
    Put(internal::kCfEntries, internal::SeqKey(seq), std::string(value.begin(), value.end()));
  }

  // Reopens the (damaged) ledger as a reader and audits it as the inspector does.
  Inspection Inspect(const std::vector<std::string>& notes = {}) {
    Inspection out;
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(path_, OpenMode::kReader);
    if (!opened.ok()) {
      out.open = opened.status();
      return out;
    }
    AuditOptions options;
    options.stored = opened->get();
    options.checkpoint_notes = notes;
    LedgerEntrySource source(opened->get());
    Result<AuditReport> report = Audit(source, options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    // The same audit holding one row at a time (its rows in its scratch store) finds the same.
    options.rows_held_max = 0;
    Result<AuditReport> spilled = Audit(source, options);
    EXPECT_TRUE(spilled.ok()) << spilled.status().ToString();
    if (report.ok() && spilled.ok()) {
      EXPECT_EQ(spilled->FindingsText(), report->FindingsText());
      EXPECT_EQ(spilled->row_counts, report->row_counts);
      EXPECT_EQ(spilled->checkpoints_checked, report->checkpoints_checked);
    }
    if (report.ok()) out.report = std::move(*report);
    return out;
  }

  // `fundledger <args>` (shell words) on this ledger; returns the exit code, output in *output.
  int Cli(const std::string& args, std::string* output = nullptr) {
    const std::string out = dir_->Sub("cli.out");
    const std::string command =
        ShellQuote(FUNDLEDGER_BINARY) + " --ledger " + ShellQuote(path_) + " " + args + " >" + ShellQuote(out) + " 2>&1";
    int status = std::system(command.c_str());
    if (output != nullptr) *output = ReadWhole(out);
    return (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  }

  void ExpectCliAuditFails(const std::string& extra = "") {
    std::string output;
    EXPECT_EQ(Cli("audit " + extra, &output), kExitIntegrity) << output;
  }

  void ExpectCliAuditClean(const std::string& extra = "") {
    std::string output;
    EXPECT_EQ(Cli("audit " + extra, &output), 0) << output;
  }

  // Damage at entry `seq` is detected: Open refuses with kCorruption naming the entry, or the
  // audit's first integrity finding is at `seq` and says "entry <seq>".
  void ExpectEntryDamageFound(uint64_t seq, const std::string& what) {
    SCOPED_TRACE(what);
    Inspection seen = Inspect();
    if (!seen.report) {
      EXPECT_TRUE(seen.open.IsCorruption()) << "Open refused, but not as corruption: " << seen.open.ToString();
      EXPECT_THAT(seen.open.message(), HasSubstr("entry " + std::to_string(seq)));
    } else {
      std::optional<Finding> first = FirstIntegrity(*seen.report);
      ASSERT_TRUE(first.has_value()) << "no integrity finding:\n" << Describe(*seen.report);
      EXPECT_EQ(first->seq, seq) << Describe(*seen.report);
      EXPECT_THAT(first->message, HasSubstr("entry " + std::to_string(seq))) << Describe(*seen.report);
      EXPECT_THAT(first->code, HasSubstr("integrity.")) << Describe(*seen.report);
      EXPECT_FALSE(seen.report->IntegrityOk());
    }
    ExpectCliAuditFails();
  }

  // A projection row is named by an integrity.projection finding.
  void ExpectRowFound(const std::string& row_key, const std::string& how) {
    SCOPED_TRACE("row " + row_key);
    Inspection seen = Inspect();
    if (!seen.report) {
      EXPECT_TRUE(seen.open.IsCorruption()) << seen.open.ToString();
      EXPECT_THAT(seen.open.message(), HasSubstr(row_key));
    } else {
      bool named = false;
      for (const Finding& f : seen.report->findings) {
        if (f.integrity && f.code == "integrity.projection" && f.seq == 0 &&
            f.message.find("projection row " + row_key + " ") != std::string::npos) {
          named = true;
          EXPECT_THAT(f.message, HasSubstr(how));
        }
      }
      EXPECT_TRUE(named) << Describe(*seen.report);
    }
    ExpectCliAuditFails();
  }

  void ExpectMerkleFound(const std::string& what) {
    SCOPED_TRACE(what);
    Inspection seen = Inspect();
    ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
    bool found = false;
    for (const Finding& f : seen.report->findings) found = found || (f.integrity && f.code == "integrity.merkle");
    EXPECT_TRUE(found) << Describe(*seen.report);
    ExpectCliAuditFails();
  }

  // Findings about checkpoint notes only.
  std::vector<Finding> CheckpointFindings(const std::vector<std::string>& notes) {
    Inspection seen = Inspect(notes);
    EXPECT_TRUE(seen.report.has_value()) << seen.open.ToString();
    std::vector<Finding> out;
    if (!seen.report) return out;
    EXPECT_EQ(seen.report->checkpoints_checked, notes.size()) << Describe(*seen.report);
    for (const Finding& f : seen.report->findings) {
      EXPECT_EQ(f.code, "integrity.checkpoint") << Describe(*seen.report);
      EXPECT_TRUE(f.integrity);
      EXPECT_EQ(f.seq, 0u);
      out.push_back(f);
    }
    return out;
  }

  // A checkpoint note of this ledger at `size`, signed by `signer` under `name` (default: the
  // ledger's origin, as notaries sign).
  std::string Note(const std::string& origin, uint64_t size, const Hash& root, const std::string& signer,
                   const std::string& name = "") {
    return SignNote(CheckpointText(Checkpoint{origin, size, root}), name.empty() ? origin : name, Key(signer));
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_->Sub(name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return path;
  }

  uint64_t departed_registered_ = 0, departed_revoked_ = 0;
  uint64_t award_seq_ = 0;  // the award of A-2, in the middle of the ledger
  uint64_t size_ = 0;
};

TEST_F(TamperTest, IntactLedgerAuditsCleanWithTheTreeRoot) {
  const Hash stored_root = *RootAt(ledger_->tree(), size_);
  const Hash state_hash = pj::StateHash(testutil::WholeState(*ledger_));
  const std::string origin = ledger_->Origin();
  const std::string note = Note(origin, size_, stored_root, "notary");
  ASSERT_TRUE(ledger_->StoreCheckpoint(size_, note).ok());
  Close();

  Inspection seen = Inspect({note});
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  EXPECT_TRUE(seen.report->findings.empty()) << Describe(*seen.report);
  EXPECT_EQ(seen.report->entries, size_);
  EXPECT_EQ(seen.report->root, stored_root);
  EXPECT_EQ(seen.report->state_hash, state_hash);
  EXPECT_EQ(seen.report->checkpoints_checked, 2u);  // the stored note and the one given
  EXPECT_TRUE(seen.report->IntegrityOk());
  EXPECT_TRUE(seen.report->RulesOk());

  std::string output;
  EXPECT_EQ(Cli("audit --json", &output), 0) << output;
  json j = json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << output;
  EXPECT_EQ(j.value("rootHash", ""), ev::Hex(stored_root));
  EXPECT_EQ(j.value("stateHash", ""), ev::Hex(state_hash));
  EXPECT_EQ(j.value("entries", uint64_t{0}), size_);
}

// (a) Any flipped byte of a stored entry — in its canonical bytes or its signature — is named at
// its seq; restoring the byte makes the ledger clean again.
TEST_F(TamperTest, FlippedByteOfAStoredEntryIsNamedAtItsSeq) {
  const uint64_t k = award_seq_;
  Close();
  const ev::Bytes original = EntryValue(k);
  ASSERT_GT(original.size(), internal::kSignatureBytes + 16);
  const size_t entry_len = original.size() - internal::kSignatureBytes;
  const std::vector<size_t> positions = {0,         3,             8,           entry_len / 2, entry_len - 1,
                                         entry_len, entry_len + 31, original.size() - 1};
  for (size_t i = 0; i < positions.size(); ++i) {
    const size_t pos = positions[i];
    const uint8_t mask = i % 2 == 0 ? uint8_t{0x01} : uint8_t{0x80};
    ev::Bytes damaged = original;
    damaged[pos] = static_cast<uint8_t>(damaged[pos] ^ mask);
    PutEntryValue(k, damaged);
    ExpectEntryDamageFound(k, "byte " + std::to_string(pos) + " of " + std::to_string(original.size()) +
                                  (pos >= entry_len ? " (signature)" : " (entry bytes)") + " xor " + std::to_string(mask));
  }
  PutEntryValue(k, original);
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  EXPECT_TRUE(seen.report->findings.empty()) << Describe(*seen.report);
}

TEST_F(TamperTest, TruncatedStoredEntryIsNamedAtItsSeq) {
  const uint64_t k = award_seq_ - 1;
  Close();
  ev::Bytes value = EntryValue(k);
  for (size_t keep : {size_t{0}, size_t{10}, internal::kSignatureBytes, value.size() - 1}) {
    PutEntryValue(k, ev::Bytes(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(keep)));
    ExpectEntryDamageFound(k, "truncated to " + std::to_string(keep) + " bytes");
  }
}

// (b) A deleted entry in the middle is named as missing.
TEST_F(TamperTest, DeletedEntryIsNamedAtItsSeq) {
  const uint64_t k = award_seq_;
  Close();
  Delete(internal::kCfEntries, internal::SeqKey(k));
  ExpectEntryDamageFound(k, "entry deleted");
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value());
  std::optional<Finding> first = FirstIntegrity(*seen.report);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->code, "integrity.missing") << Describe(*seen.report);
}

// An entry slipped in past the head (the head row not moved) makes the count disagree.
TEST_F(TamperTest, ExtraEntryPastTheHeadIsFound) {
  Close();
  PutEntryValue(size_ + 1, EntryValue(size_));
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  bool counted = false;
  for (const Finding& f : seen.report->findings) counted = counted || (f.integrity && f.code == "integrity.count");
  EXPECT_TRUE(counted) << Describe(*seen.report);
  ExpectCliAuditFails();
}

// (c) Two swapped entries: the first of them is named (it holds the other's seq).
TEST_F(TamperTest, SwappedEntriesAreNamedAtTheFirst) {
  const uint64_t k = award_seq_;
  Close();
  const ev::Bytes a = EntryValue(k), b = EntryValue(k + 1);
  PutEntryValue(k, b);
  PutEntryValue(k + 1, a);
  ExpectEntryDamageFound(k, "entries swapped");
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value());
  EXPECT_EQ(FirstIntegrity(*seen.report)->code, "integrity.seq") << Describe(*seen.report);
}

// (d) An award rewritten with another amount and re-signed with a leaked key that was revoked
// before it: the signature verifies (the key is registered), so the rule key.revoked names the
// entry, and the next entry's prevHash no longer matches.
TEST_F(TamperTest, AwardResignedByRevokedKeyIsNamedAndBreaksTheChain) {
  const uint64_t k = award_seq_;
  Close();
  Result<StoredEntry> original = SplitStoredValue(EntryValue(k));
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  ev::Entry forged = original->entry;
  ASSERT_TRUE(std::holds_alternative<ev::AwardGranted>(forged.body)) << ev::KindName(forged.body);
  auto& award = std::get<ev::AwardGranted>(forged.body);
  award.amount_fen = 199'000'000;
  award.city_fen = 199'000'000;
  forged.signer = Key("departed").key_id();
  const ev::Bytes bytes = ev::EncodeEntry(forged);
  const ev::Signature signature = Key("departed").Sign(bytes);
  ASSERT_TRUE(ev::Ed25519Verify(Key("departed").public_key(), bytes, signature));
  PutEntryValue(k, Joined(bytes, signature));

  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  const AuditReport& report = *seen.report;
  bool revoked_at_k = false;
  for (const Finding& f : report.findings) {
    if (f.seq == k && f.code == "key.revoked") {
      revoked_at_k = true;
      EXPECT_THAT(f.message, HasSubstr("entry " + std::to_string(k)));
      EXPECT_THAT(f.message, HasSubstr("revoked at entry " + std::to_string(departed_revoked_)));
    }
  }
  EXPECT_TRUE(revoked_at_k) << Describe(report);
  // The first integrity finding names the rewritten entry itself (its rows' stored versions no
  // longer match), and the next entry's link is broken.
  std::optional<Finding> first = FirstIntegrity(report);
  ASSERT_TRUE(first.has_value()) << Describe(report);
  EXPECT_EQ(first->seq, k) << Describe(report);
  EXPECT_THAT(first->message, HasSubstr("entry " + std::to_string(k)));
  bool chain_at_next = false;
  for (const Finding& f : report.findings) {
    if (f.seq == k + 1 && f.code == "integrity.chain") {
      chain_at_next = true;
      EXPECT_THAT(f.message, HasSubstr("entry " + std::to_string(k + 1)));
    }
  }
  EXPECT_TRUE(chain_at_next) << Describe(report);
  ExpectCliAuditFails();
}

// (e) Entries dropped after a checkpoint was published, the simple way: the head row still
// names the last entry, which is gone.
TEST_F(TamperTest, DroppedTailEntriesAreFound) {
  const uint64_t n = size_;
  Close();
  for (uint64_t seq = n - 2; seq <= n; ++seq) Delete(internal::kCfEntries, internal::SeqKey(seq));
  ExpectEntryDamageFound(n, "last 3 entries deleted");
}

// (e) The careful way: the last 3 entries and the stored checkpoint deleted, the head row
// rewritten to entry n-3 and every projection rebuilt, so the ledger agrees with itself at the
// shorter size. Only the published checkpoint note shows that entries were removed.
TEST_F(TamperTest, DroppedTailAfterPublishedCheckpointIsFoundByTheNote) {
  const uint64_t n = size_;
  const Hash root = *RootAt(ledger_->tree(), n);
  const std::string note = Note(ledger_->Origin(), n, root, "notary");
  ASSERT_TRUE(ledger_->StoreCheckpoint(n, note).ok());
  const std::string note_file = WriteFile("published.cp", note);
  Close();

  // Everything is done on RocksDB directly, in one batch: the rows are those of a replay of
  // entries 1..n-3 (the head row among them), stale rows are deleted.
  WithDb([&](rocksdb::DB* db, const CfHandles& h) {
    pj::LedgerState replayed;
    for (uint64_t seq = 1; seq <= n - 3; ++seq) {
      std::string value;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), h.at(internal::kCfEntries), internal::SeqKey(seq), &value).ok());
      Result<StoredEntry> stored = SplitStoredValue(ev::Bytes(value.begin(), value.end()));
      ASSERT_TRUE(stored.ok()) << stored.status().ToString();
      pj::Apply(&replayed, pj::EntryContext{&stored->entry, stored->leaf_hash});
    }
    ASSERT_EQ(replayed.info.head_seq, n - 3);
    rocksdb::WriteBatch batch;
    for (uint64_t seq = n - 2; seq <= n; ++seq) ASSERT_TRUE(batch.Delete(h.at(internal::kCfEntries), internal::SeqKey(seq)).ok());
    ASSERT_TRUE(batch.Delete(h.at(internal::kCfCheckpoints), internal::SeqKey(n)).ok());
    // With the checkpoint goes the digest the ledger recorded beside it.
    ASSERT_TRUE(batch
                    .Delete(h.at(internal::kCfMeta),
                            std::string(internal::kMetaCheckpointPrefix) + internal::SeqKey(n))
                    .ok());
    // A careful forger also removes what the dropped entries left in the index, the row
    // history and the Merkle tree (audit counts those records).
    const uint64_t kept = n - 3;
    auto drop_where = [&](const char* cf, const std::function<bool(const rocksdb::Slice&)>& dropped) {
      std::unique_ptr<rocksdb::Iterator> d(db->NewIterator(rocksdb::ReadOptions(), h.at(cf)));
      for (d->SeekToFirst(); d->Valid(); d->Next()) {
        if (dropped(d->key())) {
          ASSERT_TRUE(batch.Delete(h.at(cf), d->key()).ok());
        }
      }
    };
    auto tail_seq = [](const rocksdb::Slice& key) { return internal::SeqFromKey(key.data() + key.size() - internal::kSeqKeyBytes); };
    drop_where(internal::kCfIndex, [&](const rocksdb::Slice& key) { return tail_seq(key) > kept; });
    drop_where(internal::kCfHistory, [&](const rocksdb::Slice& key) { return ~tail_seq(key) > kept; });
    drop_where(internal::kCfMerkle, [&](const rocksdb::Slice& key) {
      const uint32_t level = static_cast<uint8_t>(key[0]);
      return ((internal::SeqFromKey(key.data() + 1) + 1) << level) > kept;
    });
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h.at(internal::kCfProjections)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ASSERT_TRUE(batch.Delete(h.at(internal::kCfProjections), it->key()).ok());
    for (const std::string& key : pj::AllRowKeys(replayed)) {
      ASSERT_TRUE(batch.Put(h.at(internal::kCfProjections), key, *pj::EncodeRow(replayed, key)).ok());
    }
    ASSERT_TRUE(db->Write(Synced(), &batch).ok());
  });

  // Without the note the shortened ledger is self-consistent (which is why notes are published).
  Inspection alone = Inspect();
  ASSERT_TRUE(alone.report.has_value()) << alone.open.ToString();
  EXPECT_TRUE(alone.report->IntegrityOk()) << Describe(*alone.report);

  std::vector<Finding> findings = CheckpointFindings({note});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_THAT(findings[0].message, HasSubstr("covers " + std::to_string(n) + " entries but the ledger holds " +
                                             std::to_string(n - 3)));
  ExpectCliAuditFails("--checkpoint " + ShellQuote(note_file));
}

// (f) An edited projection row is named by its key.
TEST_F(TamperTest, EditedProjectionRowIsNamed) {
  const std::string app_row = pj::RowKeyApplication("A-2");
  const std::string my_row = pj::RowKeyMeasureYear("2", 2025);
  Close();
  struct Edit {
    std::string row;
    std::function<void(json*)> change;
  };
  const std::vector<Edit> edits = {
      {my_row, [](json* j) { (*j)["totals"]["grantedFen"] = (*j)["totals"]["grantedFen"].get<int64_t>() + 100; }},
      {my_row, [](json* j) { (*j)["allocatedFen"]["city"] = 2'000'000'000; }},
      {app_row, [](json* j) { (*j)["paidFen"] = (*j)["paidFen"].get<int64_t>() + 1; }},
      {"head", [](json* j) { (*j)["recordedAt"] = (*j)["recordedAt"].get<int64_t>() + 1; }},
  };
  for (const Edit& edit : edits) {
    std::optional<std::string> original = Get(internal::kCfProjections, edit.row);
    ASSERT_TRUE(original.has_value()) << "no row " << edit.row;
    json j = json::parse(*original);
    edit.change(&j);
    ASSERT_NE(j.dump(), *original);
    Put(internal::kCfProjections, edit.row, j.dump());
    ExpectRowFound(edit.row, "differs from the replay");
    Put(internal::kCfProjections, edit.row, *original);
  }
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value());
  EXPECT_TRUE(seen.report->findings.empty()) << Describe(*seen.report);
}

TEST_F(TamperTest, DeletedOrAddedProjectionRowIsNamed) {
  const std::string gone = pj::RowKeyRecipient(testutil::Uscc(3));
  const std::string fake = pj::RowKeyRecipient(testutil::Uscc(99));
  Close();
  std::optional<std::string> row = Get(internal::kCfProjections, gone);
  ASSERT_TRUE(row.has_value());
  Delete(internal::kCfProjections, gone);
  ExpectRowFound(gone, "is missing");
  Put(internal::kCfProjections, gone, *row);

  json copy = json::parse(*row);
  copy["info"]["recipientId"] = testutil::Uscc(99);
  Put(internal::kCfProjections, fake, copy.dump());
  ExpectRowFound(fake, "is not produced by the replay");
}

// The row history answers `query --as-of` (DESIGN.md §7): it is a stored projection too, and an
// edited version of a row must be found like an edited row, or an as-of answer can be forged on a
// ledger that audits clean.
TEST_F(TamperTest, EditedRowHistoryIsFound) {
  const std::string row = pj::RowKeyMeasureYear("2", 2025);
  const std::string key = internal::HistoryKey(row, award_seq_);
  Close();
  std::optional<std::string> version = Get(internal::kCfHistory, key);
  ASSERT_TRUE(version.has_value()) << "no history of " << row << " at entry " << award_seq_;
  json j = json::parse(*version);
  const int64_t granted = j["totals"]["grantedFen"].get<int64_t>();
  j["totals"]["grantedFen"] = granted + 100'000'000;
  Put(internal::kCfHistory, key, j.dump());
  {
    Result<std::unique_ptr<Ledger>> reader = Ledger::Open(path_, OpenMode::kReader);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    Result<pj::LedgerState> then = (*reader)->StateAsOf(award_seq_, {"my/"});
    ASSERT_TRUE(then.ok()) << then.status().ToString();
    ASSERT_EQ(then->measure_years.at(row).totals.granted_fen, granted + 100'000'000) << "the forged version is served";
  }
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  bool named = false;
  for (const Finding& f : seen.report->findings) named = named || (f.integrity && f.message.find(row) != std::string::npos);
  EXPECT_TRUE(named) << "the edited history of " << row << " at entry " << award_seq_ << " is not found:\n"
                     << Describe(*seen.report);
  ExpectCliAuditFails();
}

// The index answers `history` and `log --application` (DESIGN.md §6): an entry dropped from it
// hides the entry from those answers, and must be found.
TEST_F(TamperTest, DeletedIndexKeyIsFound) {
  const std::string key = "application/A-2/" + internal::SeqKey(award_seq_);
  Close();
  ASSERT_TRUE(Get(internal::kCfIndex, key).has_value()) << "the award is not indexed under application/A-2";
  Delete(internal::kCfIndex, key);
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  EXPECT_FALSE(seen.report->IntegrityOk()) << "an award dropped from index application/A-2 is not found:\n"
                                           << Describe(*seen.report);
  ExpectCliAuditFails();
}

// (g) A Merkle node deleted or altered: on the path of the root, and below it (a leaf, an
// interior node) where inclusion proofs read it.
TEST_F(TamperTest, DamagedMerkleNodeIsFound) {
  uint32_t top = 0;
  while ((uint64_t{2} << top) <= size_) ++top;  // largest perfect subtree: (top, 0)
  ASSERT_LE(uint64_t{1} << top, size_);
  const uint64_t leaf = award_seq_ - 1;  // leaf index of the award
  Close();
  struct Node {
    uint32_t level;
    uint64_t index;
    std::string what;
  };
  const std::vector<Node> nodes = {{top, 0, "the largest perfect subtree (on the root's path)"},
                                   {0, leaf, "the award's leaf"},
                                   {1, leaf / 2, "a level-1 node above the award"}};
  for (const Node& node : nodes) {
    const std::string key = internal::MerkleKey(node.level, node.index);
    std::optional<std::string> original = Get(internal::kCfMerkle, key);
    ASSERT_TRUE(original.has_value()) << node.what;
    Delete(internal::kCfMerkle, key);
    ExpectMerkleFound("deleted: " + node.what);
    std::string altered = *original;
    altered[5] = static_cast<char>(altered[5] ^ 0x40);
    Put(internal::kCfMerkle, key, altered);
    ExpectMerkleFound("altered: " + node.what);
    Put(internal::kCfMerkle, key, *original);
  }
}

// (g) A Merkle record no node of the tree accounts for: the next leaf slipped in beyond the
// head, a node between two real ones of a level, a node above the tree's top, and a key of
// no node's form, each named by audit.
TEST_F(TamperTest, StrayMerkleRecordIsFound) {
  uint32_t top = 0;
  while ((uint64_t{2} << top) <= size_) ++top;
  Close();
  const std::string some_hash(32, '\x5a');
  struct Stray {
    std::string key;
    std::string what;
  };
  const std::vector<Stray> strays = {
      {internal::MerkleKey(0, size_), "leaf " + std::to_string(size_) + " beyond the head"},
      {internal::MerkleKey(1, size_ / 2 + 7), "a level-1 node beyond the tree"},
      {internal::MerkleKey(top + 1, 0), "a node above the tree's top"},
      {internal::MerkleKey(40, 3), "a node far above the tree"},
      {std::string("\x01\x02", 2), "a key of no node's form inside level 1"},
      {std::string(), "the empty key"}};
  for (const Stray& stray : strays) {
    SCOPED_TRACE(stray.what);
    ASSERT_FALSE(Get(internal::kCfMerkle, stray.key).has_value());
    Put(internal::kCfMerkle, stray.key, some_hash);
    Inspection seen = Inspect();
    ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
    bool named = false;
    for (const Finding& f : seen.report->findings) {
      named = named || (f.integrity && f.code == "integrity.merkle" &&
                        (f.message.find("is not a node") != std::string::npos));
    }
    EXPECT_TRUE(named) << Describe(*seen.report);
    ExpectCliAuditFails();
    Delete(internal::kCfMerkle, stray.key);
  }
  Inspection clean = Inspect();
  ASSERT_TRUE(clean.report.has_value()) << clean.open.ToString();
  EXPECT_TRUE(clean.report->IntegrityOk()) << Describe(*clean.report);
}

// (h) Hostile checkpoint notes: each is one integrity.checkpoint finding saying why.
TEST_F(TamperTest, HostileCheckpointNotesAreFindings) {
  const std::string origin = ledger_->Origin();
  const Hash root = *RootAt(ledger_->tree(), size_);
  const Hash earlier_root = *RootAt(ledger_->tree(), size_ - 5);
  ev::LedgerId other_id = ledger_->head().ledger_id;
  other_id[0] = static_cast<uint8_t>(other_id[0] ^ 0xff);
  const std::string other_origin = "fundledger/" + ev::Hex(other_id);
  keys_["stranger"] = std::make_unique<ev::PrivateKey>(testutil::TestKey(251));
  Close();

  {
    SCOPED_TRACE("a good note at the head and at an earlier size");
    EXPECT_TRUE(CheckpointFindings({Note(origin, size_, root, "notary"), Note(origin, size_ - 5, earlier_root, "notary")})
                    .empty());
  }
  {
    SCOPED_TRACE("another ledger's checkpoint, signed by the same notary key under its origin");
    std::vector<Finding> f = CheckpointFindings({Note(other_origin, size_, root, "notary")});
    ASSERT_EQ(f.size(), 1u);
  }
  {
    SCOPED_TRACE("another ledger's origin in the text, signed under this ledger's name");
    std::vector<Finding> f = CheckpointFindings({Note(other_origin, size_, root, "notary", origin)});
    ASSERT_EQ(f.size(), 1u);
    EXPECT_THAT(f[0].message, HasSubstr("another ledger"));
  }
  {
    SCOPED_TRACE("signed by a key the ledger never registered");
    std::vector<Finding> f = CheckpointFindings({Note(origin, size_, root, "stranger")});
    ASSERT_EQ(f.size(), 1u);
    EXPECT_THAT(f[0].message, HasSubstr("not signed by a notary key"));
  }
  {
    SCOPED_TRACE("signed by a registered key that is not a notary's");
    std::vector<Finding> f = CheckpointFindings({Note(origin, size_, root, "auditor")});
    ASSERT_EQ(f.size(), 1u);
    EXPECT_THAT(f[0].message, HasSubstr("not signed by a notary key"));
  }
  {
    SCOPED_TRACE("a wrong root");
    Hash wrong = root;
    wrong[31] = static_cast<uint8_t>(wrong[31] ^ 0x01);
    std::vector<Finding> f = CheckpointFindings({Note(origin, size_, wrong, "notary")});
    ASSERT_EQ(f.size(), 1u);
    EXPECT_THAT(f[0].message, HasSubstr("root at size " + std::to_string(size_)));
  }
  {
    SCOPED_TRACE("the root of another size");
    std::vector<Finding> f = CheckpointFindings({Note(origin, size_, earlier_root, "notary")});
    ASSERT_EQ(f.size(), 1u);
  }
  {
    SCOPED_TRACE("a note whose signature line was altered");
    std::string note = Note(origin, size_, root, "notary");
    note[note.size() - 10] = note[note.size() - 10] == 'A' ? 'B' : 'A';
    std::vector<Finding> f = CheckpointFindings({note});
    ASSERT_EQ(f.size(), 1u);
  }
  {
    SCOPED_TRACE("a note whose size line was altered after signing");
    std::string note = Note(origin, size_ - 5, earlier_root, "notary");
    const std::string from = "\n" + std::to_string(size_ - 5) + "\n", to = "\n" + std::to_string(size_) + "\n";
    note.replace(note.find(from), from.size(), to);
    std::vector<Finding> f = CheckpointFindings({note});
    ASSERT_EQ(f.size(), 1u);
  }
  // The CLI exits 3 on each of them.
  ExpectCliAuditFails("--checkpoint " + ShellQuote(WriteFile("other.cp", Note(other_origin, size_, root, "notary"))));
  ExpectCliAuditFails("--checkpoint " + ShellQuote(WriteFile("stranger.cp", Note(origin, size_, root, "stranger"))));
  Hash wrong = root;
  wrong[0] = static_cast<uint8_t>(wrong[0] ^ 0x80);
  ExpectCliAuditFails("--checkpoint " + ShellQuote(WriteFile("wrong.cp", Note(origin, size_, wrong, "notary"))));
  ExpectCliAuditClean("--checkpoint " + ShellQuote(WriteFile("good.cp", Note(origin, size_, root, "notary"))));
}

// A bad checkpoint stored in the ledger's own column family is checked too.
TEST_F(TamperTest, BadStoredCheckpointIsFound) {
  const std::string origin = ledger_->Origin();
  Hash wrong = *RootAt(ledger_->tree(), size_);
  wrong[7] = static_cast<uint8_t>(wrong[7] ^ 0x02);
  ASSERT_TRUE(ledger_->StoreCheckpoint(size_, Note(origin, size_, wrong, "notary")).ok());
  Close();
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  ASSERT_EQ(seen.report->checkpoints_checked, 1u);
  std::optional<Finding> first = FirstIntegrity(*seen.report);
  ASSERT_TRUE(first.has_value()) << Describe(*seen.report);
  EXPECT_EQ(first->code, "integrity.checkpoint");
  ExpectCliAuditFails();
}

std::string HexOf(const std::string& text) {
  return ev::Hex(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// (g) Records no entry accounts for: a column family a ledger never makes, a record in the
// default family, a meta record, a checkpoint record under a malformed key (issue 7 item 14).
TEST_F(TamperTest, UnknownColumnFamilyAndStrayRecordsAreFound) {
  Close();
  WithDb([&](rocksdb::DB* db, const CfHandles& h) {
    rocksdb::ColumnFamilyHandle* junk = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "junk", &junk).ok());
    ASSERT_TRUE(db->Put(Synced(), junk, "k", "v").ok());
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(junk).ok());
    ASSERT_TRUE(db->Put(Synced(), h.at("default"), "hidden", "payload").ok());
    ASSERT_TRUE(db->Put(Synced(), h.at(internal::kCfMeta), "note", "x").ok());
    ASSERT_TRUE(db->Put(Synced(), h.at(internal::kCfCheckpoints), "short", "x").ok());
  });
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  const std::string found = Describe(*seen.report);
  EXPECT_THAT(found, HasSubstr("column family 'junk' is not a ledger's (1 records)"));
  EXPECT_THAT(found, HasSubstr("record " + HexOf("hidden") + " in column family 'default'"));
  EXPECT_THAT(found, HasSubstr("record " + HexOf("note") + " in column family 'meta'"));
  EXPECT_THAT(found, HasSubstr("record " + HexOf("short") + " in column family 'checkpoints'"));
  EXPECT_FALSE(seen.report->IntegrityOk());
  ExpectCliAuditFails();
}

// (h) A stored checkpoint that disappears (or is replaced) is found: the ledger recorded its
// digest when it stored it (issue 7 item 14).
TEST_F(TamperTest, DeletedOrReplacedStoredCheckpointIsFound) {
  const std::string origin = ledger_->Origin();
  const std::string latest = Note(origin, size_, *RootAt(ledger_->tree(), size_), "notary");
  ASSERT_TRUE(ledger_
                  ->StoreCheckpoint(size_ - 1, Note(origin, size_ - 1,
                                                    *RootAt(ledger_->tree(), size_ - 1), "notary"))
                  .ok());
  ASSERT_TRUE(ledger_->StoreCheckpoint(size_, latest).ok());
  Close();
  {
    Inspection intact = Inspect();
    ASSERT_TRUE(intact.report.has_value()) << intact.open.ToString();
    EXPECT_TRUE(intact.report->findings.empty()) << Describe(*intact.report);
  }
  Delete(internal::kCfCheckpoints, internal::SeqKey(size_ - 1));
  Inspection seen = Inspect();
  ASSERT_TRUE(seen.report.has_value()) << seen.open.ToString();
  EXPECT_THAT(Describe(*seen.report),
              HasSubstr("the checkpoint of tree size " + std::to_string(size_ - 1) +
                        " that the ledger stored is missing"));
  ExpectCliAuditFails();
  // Another valid note in its place (the latest, copied under the older size) is not the one
  // the ledger stored there.
  Put(internal::kCfCheckpoints, internal::SeqKey(size_ - 1), latest);
  Inspection replaced = Inspect();
  ASSERT_TRUE(replaced.report.has_value()) << replaced.open.ToString();
  EXPECT_THAT(Describe(*replaced.report), HasSubstr("differs from the one the ledger stored"))
      << Describe(*replaced.report);
}

// (i) A key row swapped on disk does not make a forged entry verify for a reader: `show`,
// `log`, `prove` and export verify with the key from the signed registration entry (issue 7
// item 15).
TEST_F(TamperTest, SwappedKeyRowDoesNotMakeAForgedEntryVerify) {
  const uint64_t seq = award_seq_ + 1;  // a payout signed by the treasurer
  const std::string row = pj::RowKeyKey(Key("treasurer").key_id());
  const ev::PrivateKey forger = testutil::TestKey(251);
  Close();
  // The forger rewrites the payout and signs it with their own key, under the treasurer's id,
  // and puts their public key in the treasurer's key row.
  StoredEntry payout = *SplitStoredValue(EntryValue(seq));
  ASSERT_TRUE(std::holds_alternative<ev::PayoutDisbursed>(payout.entry.body));
  std::get<ev::PayoutDisbursed>(payout.entry.body).amount_fen = 150'000'000;
  ev::Bytes forged = ev::EncodeEntry(payout.entry);
  PutEntryValue(seq, Joined(forged, forger.Sign(forged)));
  json key_row = json::parse(*Get(internal::kCfProjections, row));
  key_row["publicKey"] = ev::Hex(forger.public_key());
  Put(internal::kCfProjections, row, key_row.dump());

  auto reader = Ledger::Open(path_, OpenMode::kReader);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto read = (*reader)->Read(seq);
  EXPECT_TRUE(read.status().IsCorruption()) << read.status().ToString();
  EXPECT_THAT(read.status().message(), HasSubstr("entry " + std::to_string(seq)));
  auto earlier = (*reader)->Read(seq - 1);  // the award, by an honest reviewer
  EXPECT_TRUE(earlier.ok()) << earlier.status().ToString();
  reader->reset();
  std::string output;
  EXPECT_EQ(Cli("show " + std::to_string(seq), &output), kExitIntegrity) << output;
  EXPECT_EQ(Cli("log --json", &output), kExitIntegrity) << output;
  EXPECT_EQ(Cli("prove inclusion --seq " + std::to_string(seq), &output), kExitIntegrity) << output;
  EXPECT_EQ(Cli("export", &output), kExitIntegrity) << output;
  EXPECT_EQ(Cli("verify", &output), kExitIntegrity) << output;
}

}  // namespace
}  // namespace fundledger::ledger
