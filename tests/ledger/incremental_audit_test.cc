// Goal: `audit --since-attestation` (AuditOptions::since_attestation) re-checks a ledger from its
// last AuditAttested entry only, with a full audit's checks for the entries from there on: an
// intact ledger gives the full audit's root and state hash while reading no entry before the
// attestation; damage after the attestation is named at its seq by the incremental audit;
// damage before it is the full audit's to find (the incremental one does not read it); a
// stored state before the attestation that is not the attested one is refused; a ledger
// without an attestation is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "events/crypto.h"
#include "ledger/audit.h"
#include "ledger/inspection.h"
#include "ledger/internal/storage_format.h"
#include "ledger/ledger.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
using ::testing::HasSubstr;

// A ledger's entries that records the lowest seq the audit read.
class WatchedSource : public LedgerEntrySource {
 public:
  explicit WatchedSource(const Ledger* ledger) : LedgerEntrySource(ledger) {}
  Result<Bytes> Raw(uint64_t seq) const override {
    Note(seq);
    return LedgerEntrySource::Raw(seq);
  }
  void ReadRange(uint64_t first, size_t count, std::vector<Result<Bytes>>* out) const override {
    Note(first);
    LedgerEntrySource::ReadRange(first, count, out);
  }
  uint64_t lowest() const { return lowest_; }

 private:
  void Note(uint64_t seq) const { lowest_ = std::min(lowest_, seq); }
  mutable uint64_t lowest_ = std::numeric_limits<uint64_t>::max();
};

std::optional<Finding> FirstIntegrity(const AuditReport& report) {
  for (const Finding& f : report.findings) {
    if (f.integrity) return f;
  }
  return std::nullopt;
}

class IncrementalAuditTest : public testutil::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    Allocate("2", 2025, 1'000'000'000);
    Cycle(1);
    Cycle(2);
    Result<AuditReport> full = AuditOf(false);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    ASSERT_TRUE(full->IntegrityOk() && full->RulesOk()) << full->FindingsText();
    attestation_ =
        MustAppend("auditor", ev::AuditAttested{full->entries, full->root, full->state_hash,
                                                ev::Sha256(full->FindingsText()),
                                                static_cast<uint32_t>(full->findings.size())});
    Cycle(3);
    Cycle(4);
    ASSERT_GE(ledger_->size(), attestation_ + 8);
  }

  // A recipient, an application approved, awarded and paid.
  void Cycle(uint32_t i) {
    std::string recipient = AddRecipient(i, ev::RecipientKind::kEnterprise);
    std::string id = "A-" + std::to_string(i);
    SubmitAndApprove(ev::ApplicationSubmitted{id,
                                              recipient,
                                              "2",
                                              "standard",
                                              2025,
                                              400'000'000,
                                              "compute_service_contract",
                                              {{"rented_compute", "true"}},
                                              {testutil::Digest("contract " + id)}});
    MustAppend("reviewer:SZ-STIB", ev::AwardGranted{id, 150'000'000, 150'000'000, 0, ""});
    MustAppend("treasurer", ev::PayoutDisbursed{id, 50'000'000, "T-" + std::to_string(i)});
  }

  // Audits the ledger at path_ (reopened as a reader if closed), full or incremental.
  Result<AuditReport> AuditOf(bool since_attestation, uint64_t* lowest_read = nullptr) {
    std::unique_ptr<Ledger> reader;
    const Ledger* ledger = ledger_.get();
    if (ledger == nullptr) {
      LEDGER_ASSIGN_OR_RETURN(reader, Ledger::Open(path_, OpenMode::kReader));
      ledger = reader.get();
    }
    AuditOptions options;
    options.stored = ledger;
    options.since_attestation = since_attestation;
    WatchedSource source(ledger);
    Result<AuditReport> report = Audit(source, options);
    if (lowest_read != nullptr) *lowest_read = source.lowest();
    return report;
  }

  // Rewrites one stored record with the ledger closed, as someone with the files could.
  void Rewrite(const char* family, const std::string& key,
               const std::function<void(std::string*)>& change) {
    ledger_.reset();
    testutil::RewriteStoredRecord(path_, family, key, [&](std::optional<std::string>* value) {
      ASSERT_TRUE(value->has_value()) << family;
      change(&**value);
    });
  }

  // Flips the last byte (the signature's) of stored entry `seq`.
  void FlipSignature(uint64_t seq) {
    Rewrite(internal::kCfEntries, internal::SeqKey(seq), [](std::string* v) { v->back() ^= 0x01; });
  }

  uint64_t attestation_ = 0;
};

TEST_F(IncrementalAuditTest, IntactLedgerGivesTheFullAuditsResultFromTheAttestationOn) {
  Result<AuditReport> full = AuditOf(false);
  ASSERT_TRUE(full.ok());
  uint64_t lowest = 0;
  Result<AuditReport> since = AuditOf(true, &lowest);
  ASSERT_TRUE(since.ok()) << since.status().ToString();
  EXPECT_TRUE(since->IntegrityOk() && since->RulesOk()) << since->FindingsText();
  EXPECT_EQ(since->attestation_seq, attestation_);
  EXPECT_EQ(since->first_replayed, attestation_);
  EXPECT_EQ(lowest, attestation_) << "the incremental audit read entries before the attestation";
  EXPECT_EQ(since->entries, ledger_->size());
  EXPECT_EQ(since->root, full->root);
  EXPECT_EQ(since->state_hash, full->state_hash);
  // The report holds what the replay read; the rows it was read from ended with the audit, so
  // a lookup of a row it did not read finds nothing (it must not reach them).
  EXPECT_EQ(since->state.source, nullptr);
  EXPECT_EQ(since->state.FindApplication("A-1"), nullptr);
  EXPECT_NE(since->state.FindApplication("A-4"), nullptr);
}

TEST_F(IncrementalAuditTest, DamageAfterTheAttestationIsNamedByTheIncrementalAudit) {
  const uint64_t seq = attestation_ + 2;
  FlipSignature(seq);
  Result<AuditReport> since = AuditOf(true);
  ASSERT_TRUE(since.ok()) << since.status().ToString();
  std::optional<Finding> first = FirstIntegrity(*since);
  ASSERT_TRUE(first.has_value()) << "damage after the attestation went unnoticed";
  EXPECT_EQ(first->seq, seq);
  EXPECT_EQ(first->code, "integrity.signature");
  EXPECT_THAT(first->message, HasSubstr("entry " + std::to_string(seq)));
}

TEST_F(IncrementalAuditTest, ProjectionRowAnEntryAfterTheAttestationChangedIsCompared) {
  const std::string row = projections::RowKeyApplication("A-4");
  Rewrite(internal::kCfProjections, row, [](std::string* v) { v->insert(0, " "); });
  Result<AuditReport> since = AuditOf(true);
  ASSERT_TRUE(since.ok()) << since.status().ToString();
  bool named = false;
  for (const Finding& f : since->findings) {
    named = named || (f.integrity && f.code == "integrity.projection" &&
                      f.message.find(row) != std::string::npos);
  }
  EXPECT_TRUE(named) << since->FindingsText();
}

// The records an incremental audit reads besides the rows: the key after the head, and the
// Merkle nodes the new entries completed.
TEST_F(IncrementalAuditTest, EntryPastTheHeadAndNodeAfterTheAttestationAreNamed) {
  const uint64_t size = ledger_->size();
  Result<ev::Bytes> head = ledger_->ReadRaw(size);
  ASSERT_TRUE(head.ok());
  Rewrite(internal::kCfMerkle, internal::MerkleKey(0, size - 1),
          [](std::string* v) { v->back() ^= 0x01; });
  testutil::RewriteStoredRecord(path_, internal::kCfEntries, internal::SeqKey(size + 1),
                                [&](std::optional<std::string>* v) {
                                  *v = std::string(head->begin(), head->end());
                                });
  Result<AuditReport> since = AuditOf(true);
  ASSERT_TRUE(since.ok()) << since.status().ToString();
  std::string text = since->FindingsText();
  EXPECT_THAT(text, HasSubstr("stores an entry after its head"));
  EXPECT_THAT(text, HasSubstr("stored Merkle node 0/" + std::to_string(size - 1) +
                              " does not match the entries"));
}

TEST_F(IncrementalAuditTest, DamageBeforeTheAttestationIsTheFullAuditsToFind) {
  const uint64_t seq = attestation_ - 3;
  FlipSignature(seq);
  Result<AuditReport> full = AuditOf(false);
  ASSERT_TRUE(full.ok());
  std::optional<Finding> first = FirstIntegrity(*full);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->seq, seq);
  // The incremental audit takes the attested prefix as attested and does not read it.
  uint64_t lowest = 0;
  Result<AuditReport> since = AuditOf(true, &lowest);
  ASSERT_TRUE(since.ok());
  EXPECT_TRUE(since->IntegrityOk()) << since->FindingsText();
  EXPECT_EQ(lowest, attestation_);
}

TEST_F(IncrementalAuditTest, StoredStateBeforeTheAttestationThatIsNotTheAttestedOneIsRefused) {
  // The head row as of the entry before the attestation, replaced by the one before that.
  ledger_.reset();
  std::string older;
  Rewrite(internal::kCfHistory, internal::HistoryKey("head", attestation_ - 2),
          [&older](std::string* v) { older = *v; });
  Rewrite(internal::kCfHistory, internal::HistoryKey("head", attestation_ - 1),
          [&older](std::string* v) { *v = older; });
  Result<AuditReport> since = AuditOf(true);
  ASSERT_FALSE(since.ok());
  EXPECT_TRUE(since.status().IsCorruption()) << since.status().ToString();
  EXPECT_THAT(since.status().message(), HasSubstr("entry " + std::to_string(attestation_)));
  // The full audit names the forged row version.
  Result<AuditReport> full = AuditOf(false);
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(FirstIntegrity(*full).has_value());
  EXPECT_EQ(FirstIntegrity(*full)->code, "integrity.history");
}

// The incremental audit reads the rows before the attestation from the row history as the new
// entries ask for them; each is checked against the attested state hash. The measure-year row
// the new awards update, changed in its last version before the attestation, is refused.
TEST_F(IncrementalAuditTest, RowVersionBeforeTheAttestationThatTheNewEntriesReadIsRefused) {
  const std::string row = projections::RowKeyMeasureYear("2", 2025);
  uint64_t version = 0;  // the row's last version before the attestation
  for (uint64_t seq = attestation_ - 1; seq > 0 && version == 0; --seq) {
    std::vector<std::optional<std::string>> stored;
    Status read = ledger_->inspection().HistoryVersions({{row, seq}}, &stored);
    ASSERT_TRUE(read.ok()) << read.ToString();
    if (stored[0].has_value()) version = seq;
  }
  ASSERT_NE(version, 0u);
  // A space before the JSON: the same row when decoded, other bytes under the state hash.
  Rewrite(internal::kCfHistory, internal::HistoryKey(row, version),
          [](std::string* v) { v->insert(0, " "); });
  Result<AuditReport> since = AuditOf(true);
  ASSERT_FALSE(since.ok()) << since->FindingsText();
  EXPECT_TRUE(since.status().IsCorruption()) << since.status().ToString();
  EXPECT_THAT(since.status().message(), HasSubstr("entry " + std::to_string(attestation_)));
}

// A stored row that no entry after the attestation touched, changed since: the stored rows are
// then not the attested state with the new entries applied, and the incremental audit says so.
TEST_F(IncrementalAuditTest, RowNoNewEntryTouchedChangedSinceTheAttestationIsRefused) {
  const std::string row = projections::RowKeyApplication("A-1");
  Rewrite(internal::kCfProjections, row, [](std::string* v) { v->insert(0, " "); });
  Result<AuditReport> since = AuditOf(true);
  ASSERT_FALSE(since.ok()) << since->FindingsText();
  EXPECT_TRUE(since.status().IsCorruption()) << since.status().ToString();
  // The full audit names the row.
  Result<AuditReport> full = AuditOf(false);
  ASSERT_TRUE(full.ok());
  EXPECT_THAT(full->FindingsText(), HasSubstr(row));
}

TEST_F(IncrementalAuditTest, StoredTreeBeforeTheAttestationThatIsNotTheAttestedOneIsRefused) {
  // The largest perfect subtree of the attested tree: the attested root is built on it.
  const auto level = static_cast<uint32_t>(std::bit_width(attestation_ - 1) - 1);
  Rewrite(internal::kCfMerkle, internal::MerkleKey(level, 0),
          [](std::string* v) { (*v)[0] = static_cast<char>((*v)[0] ^ 0x01); });
  Result<AuditReport> since = AuditOf(true);
  ASSERT_FALSE(since.ok());
  EXPECT_TRUE(since.status().IsCorruption()) << since.status().ToString();
  EXPECT_THAT(since.status().message(), HasSubstr("Merkle tree"));
}

TEST_F(IncrementalAuditTest, LedgerWithoutAnAttestationIsRefused) {
  std::unique_ptr<testutil::TempDir> other = std::make_unique<testutil::TempDir>();
  ledger_.reset();
  path_ = other->Sub("plain");
  ev::LedgerCreated created;
  created.name = "plain";
  created.authority_public_key = Key("authority").public_key();
  created.authority_unit = "LEDGER-ADMIN";
  created.authority_holder = "authority";
  auto plain = Ledger::Create(path_, Key("authority"), created, clock_ms_);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ledger_ = std::move(*plain);
  Result<AuditReport> since = AuditOf(true);
  ASSERT_FALSE(since.ok());
  EXPECT_TRUE(since.status().IsNotFound()) << since.status().ToString();
  ledger_.reset();
}

// A full audit that may hold only a few rows moves them to its scratch store as it goes and
// reads them back as it needs them: every check is made on the same rows, so the report is the
// one of an audit that holds them all, attestation's state hash included, while the rows it held
// stay within the bound (past it by no more than one entry reads or changes).
TEST_F(IncrementalAuditTest, FullAuditHoldingFewRowsGivesTheReportOfOneHoldingAll) {
  Result<AuditReport> whole = AuditOf(false);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->spills, 0u);
  EXPECT_GT(whole->rows_held_peak, 20u);
  for (size_t held_max : {size_t{0}, size_t{3}, size_t{12}}) {
    SCOPED_TRACE("rows_held_max " + std::to_string(held_max));
    AuditOptions options;
    options.stored = ledger_.get();
    options.rows_held_max = held_max;
    Result<AuditReport> bounded = Audit(LedgerEntrySource(ledger_.get()), options);
    ASSERT_TRUE(bounded.ok()) << bounded.status().ToString();
    EXPECT_TRUE(bounded->IntegrityOk() && bounded->RulesOk()) << bounded->FindingsText();
    EXPECT_EQ(bounded->FindingsText(), whole->FindingsText());
    EXPECT_EQ(bounded->state_hash, whole->state_hash);
    EXPECT_EQ(bounded->root, whole->root);
    EXPECT_EQ(bounded->row_counts, whole->row_counts);
    EXPECT_EQ(bounded->checkpoints_checked, whole->checkpoints_checked);
    ASSERT_EQ(bounded->state.measure_years.size(), whole->state.measure_years.size());
    for (const auto& [key, my] : whole->state.measure_years) {
      ASSERT_TRUE(bounded->state.measure_years.count(key)) << key;
      EXPECT_EQ(bounded->state.measure_years.at(key).totals, my.totals) << key;
    }
    EXPECT_GT(bounded->spills, 0u);
    EXPECT_LE(bounded->rows_held_peak, held_max + 12);
  }
}

}  // namespace
}  // namespace fundledger::ledger
