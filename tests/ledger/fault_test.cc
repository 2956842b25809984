// Goal: a full disk or a failing fsync is an operating error, never a crash and never a loss
// (issue 7 item 12; STYLE.md §7 "Fault injection"). The ledger is reopened over a file system
// whose writes or syncs fail with ENOSPC while armed. An append of one entry or of a batch, and
// an import group, must then return kIOError; the head must not move; the in-memory state must
// be rolled back to exactly what it was (state hash, every row); and after the fault is gone
// the ledger, reopened on the real file system, must audit clean with the entries it had (or,
// after a failed fsync whose bytes reached the file anyway, with the whole batch) — and accept
// the same append, retried with the same idempotency keys.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "events/crypto.h"
#include "ledger/audit.h"
#include "ledger/exchange.h"
#include "ledger/ledger.h"
#include "tests/testutil/fault_fs.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using Fault = testutil::FaultInjectingFileSystem::Fault;

class FaultTest : public testutil::LedgerFixture, public ::testing::WithParamInterface<Fault> {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    Allocate("2", 2025, 1'000'000'000);
    ReopenWith(faults_.hooks());
  }
  void TearDown() override {
    ledger_.reset();  // before faults_, which the ledger's RocksDB uses
    LedgerFixture::TearDown();
  }

  void ReopenWith(const StorageHooks* hooks) {
    ledger_.reset();
    OpenOptions options;
    options.hooks = hooks;
    auto opened = Ledger::Open(path_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ledger_ = std::move(*opened);
  }

  // The rows as the ledger's view answers them (what a rollback must restore exactly).
  std::map<std::string, std::string> Rows() const { return testutil::ViewRows(*ledger_); }

  std::vector<AppendRequest> Recipients(uint32_t first, uint32_t count) const {
    std::vector<AppendRequest> requests;
    for (uint32_t n = first; n < first + count; ++n) {
      std::string id = testutil::Uscc(n);
      // Idempotency keys make a retry safe whether or not the failed write reached the disk.
      requests.push_back(AppendRequest{
          ev::RecipientRegistered{
              id, "Recipient " + std::to_string(n), ev::RecipientKind::kEnterprise, "nanshan", {}},
          "recipient-" + std::to_string(n)});
    }
    return requests;
  }

  // After a failed write: kIOError, nothing moved, nothing left behind in memory; then, on the
  // real file system, a clean audit of the same entries and the same append accepted.
  void ExpectFailedAndRecovered(const Status& status, uint64_t size_before,
                                const ev::Hash& state_before,
                                const std::map<std::string, std::string>& rows_before,
                                std::vector<AppendRequest> retry) {
    EXPECT_TRUE(status.IsIOError()) << status.ToString();
    EXPECT_GT(faults_.fs().injected(), 0u) << "no fault was injected";
    EXPECT_EQ(ledger_->size(), size_before);
    EXPECT_EQ(pj::StateHash(testutil::WholeState(*ledger_)), state_before);
    EXPECT_EQ(Rows(), rows_before);
    faults_.fs().Arm(Fault::kNone);
    ReopenWith(nullptr);
    // A failed write never reached the file; after a failed fsync the bytes may have (the
    // outcome is unknown, as with any fsync error): the batch is then there whole.
    if (GetParam() == Fault::kSync && ledger_->size() != size_before) {
      EXPECT_EQ(ledger_->size(), size_before + retry.size());
    } else {
      EXPECT_EQ(ledger_->size(), size_before);
      EXPECT_EQ(pj::StateHash(testutil::WholeState(*ledger_)), state_before);
    }
    AuditOptions options;
    options.stored = ledger_.get();
    LedgerEntrySource source(ledger_.get());
    auto report = Audit(source, options);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->findings.empty()) << report->FindingsText();
    EXPECT_EQ(report->entries, ledger_->size());
    auto again = ledger_->Append(Key("clerk:SZ-STIB"), retry, clock_ms_ + 60'000, testutil::FixedClockMs());
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(ledger_->size(), size_before + retry.size());
  }

  testutil::FaultInjection faults_;
};

TEST_P(FaultTest, FailedAppendOfOneEntryIsIOErrorAndChangesNothing) {
  const uint64_t size = ledger_->size();
  const ev::Hash state = pj::StateHash(testutil::WholeState(*ledger_));
  const auto rows = Rows();
  faults_.fs().Arm(GetParam());
  auto result = ledger_->Append(Key("clerk:SZ-STIB"), Recipients(1, 1), clock_ms_ + 60'000,
                                testutil::FixedClockMs());
  ExpectFailedAndRecovered(result.status(), size, state, rows, Recipients(1, 1));
}

TEST_P(FaultTest, FailedAppendOfABatchRollsEveryStagedEntryBack) {
  MustAppend("clerk:SZ-STIB", Recipients(100, 1).front().body);  // a row the batch will change
  const uint64_t size = ledger_->size();
  const ev::Hash state = pj::StateHash(testutil::WholeState(*ledger_));
  const auto rows = Rows();
  faults_.fs().Arm(GetParam());
  auto result = ledger_->Append(Key("clerk:SZ-STIB"), Recipients(1, 50), clock_ms_ + 60'000,
                                testutil::FixedClockMs());
  ExpectFailedAndRecovered(result.status(), size, state, rows, Recipients(1, 50));
}

TEST_P(FaultTest, FailedImportGroupIsIOErrorAndChangesNothing) {
  // The entries of a second ledger, exported and imported here as one group.
  std::vector<StoredEntry> source;
  {
    testutil::TempDir other;
    auto created = Ledger::Create(
        other.Sub("l"), Key("authority"),
        ev::LedgerCreated{"other", Key("authority").public_key(), "SZ-GOV", "authority"},
        clock_ms_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    for (uint64_t seq = 1; seq <= (*created)->size(); ++seq)
      source.push_back(*(*created)->Read(seq));
  }
  testutil::TempDir target_dir;
  auto target = Ledger::CreateForImport(target_dir.Sub("l"), faults_.hooks());
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  faults_.fs().Arm(GetParam());
  Status status = ImportEntries(target->get(), source, testutil::FixedClockMs(), nullptr);
  EXPECT_TRUE(status.IsIOError()) << status.ToString();
  EXPECT_EQ((*target)->size(), 0u);
  EXPECT_EQ(pj::StateHash(testutil::WholeState(**target)), pj::StateHash(pj::LedgerState{}));
  target->reset();
  faults_.fs().Arm(Fault::kNone);
}

INSTANTIATE_TEST_SUITE_P(DiskFull, FaultTest, ::testing::Values(Fault::kWrite, Fault::kSync),
                         [](const ::testing::TestParamInfo<Fault>& param_info) {
                           return param_info.param == Fault::kWrite ? std::string("WriteFails")
                                                                    : std::string("SyncFails");
                         });

}  // namespace
}  // namespace fundledger::ledger
