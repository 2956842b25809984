// A ledger holds its head, keys and policies at open and reads every other projection row when
// a rule, the fold or a query asks for it (ledger.h: view, Rows). These tests pin what is read
// and what an unreadable row does.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "events/model.h"
#include "ledger/exchange.h"
#include "ledger/internal/storage_format.h"
#include "ledger/internal/storage_hooks.h"
#include "ledger/ledger.h"
#include "projections/projections.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using testutil::LedgerFixture;
using testutil::Uscc;

class PointReadTest : public LedgerFixture {
 protected:
  // Submits and approves application `id` of a new recipient on measure 10.
  void Prepare(const std::string& id) {
    std::string firm = AddRecipient(next_++, ev::RecipientKind::kEnterprise, "futian");
    ev::ApplicationSubmitted a;
    a.application_id = id;
    a.recipient_id = firm;
    a.measure = "10";
    a.track = "migration";
    a.fiscal_year = 2025;
    a.basis_fen = 1'000'000'00;
    a.basis_kind = "enterprise_borne_migration_cost";
    a.evidence.push_back(testutil::Digest(id));
    ASSERT_TRUE(Append(Clerk(), a).ok());
  }
  static std::string Clerk() { return "clerk:" + UnitOf("10"); }

  // Replaces projection row `key` in the closed ledger's store by `value`.
  void PutRow(const std::string& key, const std::string& value) {
    ledger_.reset();
    testutil::RewriteStoredRecord(path_, internal::kCfProjections, key,
                                  [&](std::optional<std::string>* row) { *row = value; });
    Reopen();
  }

  uint32_t next_ = 1;
};

TEST_F(PointReadTest, OpenHoldsOnlyHeadKeysAndPoliciesAndReadsOtherRowsWhenAsked) {
  Prepare("A-1");
  Prepare("A-2");
  Reopen();
  EXPECT_EQ(ledger_->Draft().CachedRows(), 0u) << "open read rows it was not asked for";
  EXPECT_FALSE(ledger_->view().AllKeys().empty());
  EXPECT_NE(ledger_->view().PolicyAt(testutil::FixedClockMs()), nullptr);
  ASSERT_NE(ledger_->view().FindApplication("A-1"), nullptr);
  EXPECT_EQ(ledger_->view().FindApplication("A-1")->submitted.measure, "10");
  EXPECT_EQ(ledger_->Draft().CachedRows(), 1u);
  EXPECT_EQ(ledger_->view().FindApplication("no-such"), nullptr);  // remembered as absent
  EXPECT_EQ(ledger_->Draft().CachedRows(), 2u);
  EXPECT_TRUE(ledger_->view().ReadStatus().ok());

  auto reader = Ledger::Open(path_, OpenMode::kReader);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->Draft().CachedRows(), 0u);
  ASSERT_NE((*reader)->view().FindApplication("A-2"), nullptr);
}

TEST_F(PointReadTest, RowsReadWhenAskedGiveTheSameDecisionsAsAWholeState) {
  Prepare("A-1");
  Reopen();  // nothing of A-1 in memory
  ASSERT_TRUE(Append("reviewer:" + UnitOf("10"), ev::ApplicationApproved{"A-1", "ok"}).ok());
  Reopen();
  // A second approval must be refused from the row read back, as a whole state refuses it.
  auto again = Append("reviewer:" + UnitOf("10"), ev::ApplicationApproved{"A-1", "ok"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().rule(), "state.transition") << again.status().ToString();
  pj::LedgerState whole = testutil::WholeState(*ledger_);
  ev::Entry draft;
  draft.seq = ledger_->size() + 1;
  draft.ledger_id = ledger_->head().ledger_id;
  draft.recorded_at_ms = clock_ms_ + 60'000;
  draft.signer = Key("reviewer:" + UnitOf("10")).key_id();
  draft.body = ev::ApplicationApproved{"A-1", "ok"};
  EXPECT_EQ(pj::Validate(whole, draft).rule(), "state.transition");
}

TEST_F(PointReadTest, AStoredRowThatDoesNotParseRefusesTheWriteThatReadsItAndChangesNothing) {
  Prepare("A-1");
  PutRow(pj::RowKeyApplication("A-1"), "{not a row");
  const uint64_t size = ledger_->size();
  auto approved = Append("reviewer:" + UnitOf("10"), ev::ApplicationApproved{"A-1", "ok"});
  ASSERT_FALSE(approved.ok());
  EXPECT_TRUE(approved.status().code() == StatusCode::kCorruption) << approved.status().ToString();
  EXPECT_NE(approved.status().message().find("app/A-1"), std::string::npos)
      << approved.status().ToString();
  EXPECT_EQ(ledger_->size(), size);
  // The failed read does not stick to the writer: a write that does not read the row goes in.
  EXPECT_TRUE(Append(Clerk(),
                     ev::RecipientRegistered{
                         Uscc(900), "other", ev::RecipientKind::kEnterprise, "futian", {}})
                  .ok());
  auto reader = Ledger::Open(path_, OpenMode::kReader);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->view().FindApplication("A-1"), nullptr);
  EXPECT_TRUE((*reader)->view().ReadStatus().code() == StatusCode::kCorruption);
}

// A writer that drops its cached rows after every commit (as a long import does past
// kCachedRowsMax) reads them back from its store and decides exactly as before: an import one
// entry a group into a ledger created for it, then more writes, give the source's rows.
TEST_F(PointReadTest, AWriterThatDropsItsCachedRowsReadsThemBackAndDecidesAlike) {
  Prepare("A-1");
  Prepare("A-2");
  ASSERT_TRUE(Append("reviewer:" + UnitOf("10"), ev::ApplicationApproved{"A-1", "ok"}).ok());
  std::string data;
  ASSERT_TRUE(WriteExport(*ledger_, 1, ledger_->size(), false, &data).ok());
  auto entries = ParseExport(data, false);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();

  StorageHooks forgetful;
  forgetful.cached_rows_max = 0;
  const std::string copy_path = dir_->Sub("copy");
  {
    auto copy = Ledger::CreateForImport(copy_path, &forgetful);
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    Status imported = ImportEntries(copy->get(), *entries, testutil::FixedClockMs(), nullptr,
                                    /*group_entries=*/1);
    ASSERT_TRUE(imported.ok()) << imported.ToString();
    EXPECT_EQ((*copy)->Draft().CachedRows(), 0u) << "rows were not dropped after the commits";
    // A refusal and an acceptance that both need rows written by earlier commits.
    AppendRequest again{ev::ApplicationApproved{"A-1", "ok"}, "", {}};
    auto refused = (*copy)->Append(Key("reviewer:" + UnitOf("10")), std::span(&again, 1),
                                   clock_ms_ + 60'000, testutil::FixedClockMs());
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().rule(), "state.transition") << refused.status().ToString();
    AppendRequest approve{ev::ApplicationApproved{"A-2", "ok"}, "", {}};
    auto approved = (*copy)->Append(Key("reviewer:" + UnitOf("10")), std::span(&approve, 1),
                                    clock_ms_ + 60'000, testutil::FixedClockMs());
    ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  }
  ASSERT_TRUE(
      Append("reviewer:" + UnitOf("10"), ev::ApplicationApproved{"A-2", "ok"}, clock_ms_ + 60'000)
          .ok());
  auto reopened = Ledger::Open(copy_path, OpenMode::kReader);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(pj::StateHash(testutil::WholeState(**reopened)),
            pj::StateHash(testutil::WholeState(*ledger_)));
}

// A table file written before the index was partitioned has its whole index as one block of
// the cache, an entry per 4 KiB data block. The cache must keep such a block once it is read,
// or every point read in that file reads and decompresses the index again. A cache sharded by
// RocksDB's default (one shard per 512 KiB) keeps no entry larger than a shard.
TEST(BlockCacheTest, KeepsAWholeIndexOfATableFileWrittenBeforePartitionedIndexes) {
  std::shared_ptr<rocksdb::Cache> cache = internal::SharedBlockCache();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->GetCapacity(), kBlockCacheBytes);
  static int block = 0;
  for (size_t charge : {size_t{1} << 20, size_t{4} << 20, kBlockCacheBytes / 4}) {
    const std::string key = "test/whole-index-of-" + std::to_string(charge) + "-bytes";
    ASSERT_TRUE(cache
                    ->Insert(
                        key, &block, charge, [](const rocksdb::Slice&, void*) {}, nullptr,
                        rocksdb::Cache::Priority::HIGH)
                    .ok());
    rocksdb::Cache::Handle* kept = cache->Lookup(key);
    EXPECT_NE(kept, nullptr) << "a block of " << charge << " bytes was not kept";
    if (kept != nullptr) cache->Release(kept);
    cache->Erase(key);
  }
}

}  // namespace
}  // namespace fundledger::ledger
