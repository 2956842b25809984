// Goal: the finance bureau's reports (issue 9) give exactly the figures a person computes by
// hand from a small ledger (every column and rate of every report), at the head and as of an
// earlier size; the CSV and JSON files are deterministic, carry their params, agree with
// `query --json`, and `report check` accepts an unchanged file and refuses a changed one or a
// tampered ledger; checkpoints are verified before use; bad options exit 2 naming the option;
// the hledger journal balances to the fen as `query` does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "events/text.h"
#include "ledger/checkpoint.h"
#include "ledger/internal/storage_format.h"
#include "projections/projections.h"
#include "tests/testutil/testutil.h"
#include "tools/report/build.h"

namespace fundledger::report {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testutil::At;
using testutil::Digest;
using testutil::ShellQuote;

constexpr int64_t kYuan = 100;

class ReportTest : public testutil::LedgerFixture {
 protected:
  // The hand-computed ledger (amounts in yuan):
  //   measure 2: allocated 10,000,000 (city). A-1 (R1, standard): awarded 1,500,000 on 03-11
  //     (approved 03-01), paid 500,000 (03-21) and 300,000 (04-10), 100,000 reversed (04-15).
  //     A-2 (R2, startup): awarded 600,000 on 03-05, paid 200,000 (04-05), 100,000 revoked
  //     (05-01). A-3 (R1): rejected "incomplete contract".
  //   measure 10 (co-funded 50/50): allocated 1,000,000 city + 1,000,000 futian. M-1 (R3,
  //     futian): approved 06-01, awarded 400,000 on 06-11 (200,000 + 200,000), paid 100,000
  //     on 07-01.
  void SetUp() override {
    LedgerFixture::SetUp();
    r1_ = AddRecipient(1, ev::RecipientKind::kEnterprise, "nanshan");
    r2_ = AddRecipient(2, ev::RecipientKind::kStartup, "futian");
    r3_ = AddRecipient(3, ev::RecipientKind::kEnterprise, "futian");
    On("2025-02-01T10:00:00", "treasurer",
       ev::BudgetAllocated{"2", 2025, 10'000'000 * kYuan, "city"});
    On("2025-02-01T10:01:00", "treasurer",
       ev::BudgetAllocated{"10", 2025, 1'000'000 * kYuan, "city"});
    On("2025-02-01T10:02:00", "treasurer",
       ev::BudgetAllocated{"10", 2025, 1'000'000 * kYuan, "futian"});
    Submit("2025-03-01T09:00:00", "A-1", r1_, "2", "standard", 4'000'000);
    On("2025-03-01T09:01:00", "reviewer:SZ-STIB", ev::ApplicationApproved{"A-1", "ok"});
    Submit("2025-03-01T09:02:00", "A-2", r2_, "2", "startup", 1'000'000);
    On("2025-03-01T09:03:00", "reviewer:SZ-STIB", ev::ApplicationApproved{"A-2", "ok"});
    Submit("2025-03-01T09:04:00", "A-3", r1_, "2", "standard", 1'000'000);
    On("2025-03-01T09:05:00", "reviewer:SZ-STIB",
       ev::ApplicationRejected{"A-3", "incomplete contract"});
    On("2025-03-05T09:00:00", "reviewer:SZ-STIB",
       ev::AwardGranted{"A-2", 600'000 * kYuan, 600'000 * kYuan, 0, ""});
    On("2025-03-11T09:00:00", "reviewer:SZ-STIB",
       ev::AwardGranted{"A-1", 1'500'000 * kYuan, 1'500'000 * kYuan, 0, ""});
    first_payout_seq_ =
        On("2025-03-21T09:00:00", "treasurer", ev::PayoutDisbursed{"A-1", 500'000 * kYuan, "T-1"});
    On("2025-04-05T09:00:00", "treasurer", ev::PayoutDisbursed{"A-2", 200'000 * kYuan, "T-3"});
    On("2025-04-10T09:00:00", "treasurer", ev::PayoutDisbursed{"A-1", 300'000 * kYuan, "T-2"});
    On("2025-04-15T09:00:00", "treasurer",
       ev::PayoutReversed{"A-1", 100'000 * kYuan, "bank returned"});
    On("2025-05-01T09:00:00", "reviewer:SZ-STIB",
       ev::AwardRevoked{"A-2", 100'000 * kYuan, "scope reduced"});
    Submit("2025-06-01T09:00:00", "M-1", r3_, "10", "migration", 1'000'000);
    On("2025-06-01T09:01:00", "reviewer:SZ-MIIT", ev::ApplicationApproved{"M-1", "ok"});
    int64_t city = 0, district = 0;
    pj::SplitAward(*testutil::ShenzhenPolicy().FindMeasure("10"), 400'000 * kYuan, &city,
                   &district);
    ASSERT_EQ(city, 200'000 * kYuan);
    On("2025-06-11T09:00:00", "reviewer:SZ-MIIT",
       ev::AwardGranted{"M-1", 400'000 * kYuan, city, district, ""});
    On("2025-07-01T09:00:00", "treasurer", ev::PayoutDisbursed{"M-1", 100'000 * kYuan, "T-4"});
  }

  uint64_t On(const std::string& iso, const std::string& signer, ev::Body body) {
    std::string kind = ev::KindName(body);
    auto seq = Append(signer, std::move(body), At(iso));
    EXPECT_TRUE(seq.ok()) << kind << " at " << iso << ": " << seq.status().ToString();
    return seq.ok() ? *seq : 0;
  }

  void Submit(const std::string& iso, const std::string& id, const std::string& recipient,
              const std::string& measure, const std::string& track, int64_t basis_yuan) {
    const ev::Track* t = testutil::ShenzhenPolicy().FindMeasure(measure)->FindTrack(track);
    ev::ApplicationSubmitted a{id,
                               recipient,
                               measure,
                               track,
                               2025,
                               basis_yuan * kYuan,
                               t->basis_kind,
                               {},
                               {Digest("contract " + id)}};
    if (measure == "2") a.attributes = {{"rented_compute", "true"}};
    On(iso, "clerk:" + UnitOf(measure), a);
  }

  std::vector<Report> Build(std::vector<std::string> kinds, uint64_t size = 0,
                            const std::string& period = "", bool public_only = false) {
    Options o;
    o.kinds = std::move(kinds);
    o.year = 2025;
    o.period = period;
    o.format = "json";
    o.lang = Lang::kEn;
    o.public_only = public_only;
    o.tree_size = size == 0 ? ledger_->size() : size;
    auto reports = BuildReports(*ledger_, o);
    EXPECT_TRUE(reports.ok()) << reports.status().ToString();
    return reports.ok() ? *reports : std::vector<Report>();
  }

  // fundledger with the fixture's ledger (closed first: the CLI opens it itself).
  testutil::ShellRun Fl(const std::string& args) {
    ledger_.reset();
    return testutil::RunShell(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --ledger " +
                                                ShellQuote(path_) + " " + args);
  }

  std::string r1_, r2_, r3_;
  uint64_t first_payout_seq_ = 0;
};

int64_t I(const Row& row, size_t col) {
  EXPECT_TRUE(std::holds_alternative<int64_t>(row.cells.at(col)))
      << "column " << col << " is not a number";
  return std::holds_alternative<int64_t>(row.cells.at(col)) ? std::get<int64_t>(row.cells.at(col))
                                                            : -1;
}
std::string S(const Row& row, size_t col) {
  return std::holds_alternative<std::string>(row.cells.at(col))
             ? std::get<std::string>(row.cells.at(col))
             : "";
}

// The figures of a row, from column `from` on (-1 for an empty cell).
std::vector<int64_t> Figures(const Row& row, size_t from) {
  std::vector<int64_t> out;
  for (size_t i = from; i < row.cells.size(); ++i) {
    const auto* n = std::get_if<int64_t>(&row.cells[i]);
    out.push_back(n ? *n : -1);
  }
  return out;
}

constexpr int64_t W = 10'000 * kYuan;  // 1 万元 in fen, to keep the expectations readable

TEST_F(ReportTest, ExecutionByMeasureTrackAndSourceMatchesTheHandComputedFigures) {
  std::vector<Report> reports = Build({"execution"});
  ASSERT_EQ(reports.size(), 1u);
  const Table& t = reports[0].tables.at(0);
  ASSERT_EQ(t.rows.size(), 8u);
  // allocated, committed, paid, reversed, committed-not-paid, unspent, rate, recipients, payments
  EXPECT_EQ(S(t.rows[0], 0), "2");
  EXPECT_EQ(Figures(t.rows[0], 4),
            (std::vector<int64_t>{-1, 150 * W, 70 * W, 10 * W, 80 * W, -1, -1, 1, 2}));
  EXPECT_EQ(Figures(t.rows[1], 4),
            (std::vector<int64_t>{-1, 50 * W, 20 * W, 0, 30 * W, -1, -1, 1, 1}));
  EXPECT_EQ(t.rows[2].kind, RowKind::kSubtotal);
  EXPECT_EQ(Figures(t.rows[2], 4),
            (std::vector<int64_t>{1000 * W, 200 * W, 90 * W, 10 * W, 110 * W, 800 * W, 900, 2, 3}));
  EXPECT_TRUE(t.rows[2].flagged) << "9.00% at year end is under 90%";
  EXPECT_EQ(Figures(t.rows[3], 4),
            (std::vector<int64_t>{-1, 40 * W, 10 * W, 0, 30 * W, -1, -1, 1, 1}));
  EXPECT_EQ(Figures(t.rows[4], 4),
            (std::vector<int64_t>{200 * W, 40 * W, 10 * W, 0, 30 * W, 160 * W, 500, 1, 1}));
  // Measure 10's city and futian money apart: each pool, what it committed, its share paid.
  EXPECT_EQ(S(t.rows[5], 3), "city");
  EXPECT_EQ(Figures(t.rows[5], 4),
            (std::vector<int64_t>{100 * W, 20 * W, 5 * W, -1, 15 * W, 80 * W, 500, -1, -1}));
  EXPECT_EQ(S(t.rows[6], 3), "futian");
  EXPECT_EQ(Figures(t.rows[6], 4),
            (std::vector<int64_t>{100 * W, 20 * W, 5 * W, -1, 15 * W, 80 * W, 500, -1, -1}));
  EXPECT_EQ(t.rows[7].kind, RowKind::kTotal);
  // 100 / 1,200 = 8.333…% -> 833 bp.
  EXPECT_EQ(Figures(t.rows[7], 4), (std::vector<int64_t>{1200 * W, 240 * W, 100 * W, 10 * W,
                                                         140 * W, 960 * W, 833, 3, 4}));
  ASSERT_TRUE(reports[0].chart.has_value());
  EXPECT_EQ(reports[0].chart->categories, (std::vector<std::string>{"2", "10"}));
  EXPECT_EQ(reports[0].chart->series[2].values_fen, (std::vector<int64_t>{90 * W, 10 * W}));
}

TEST_F(ReportTest, ExecutionByUnitAndMonthlyRunningTotals) {
  std::vector<Report> reports = Build({"execution"});
  const Table& units = reports[0].tables.at(1);
  ASSERT_EQ(units.rows.size(), 3u);
  EXPECT_EQ(S(units.rows[0], 0), "SZ-MIIT");
  EXPECT_EQ(Figures(units.rows[0], 2), (std::vector<int64_t>{40 * W, 10 * W, 0, 30 * W, 1, 1}));
  EXPECT_EQ(S(units.rows[1], 0), "SZ-STIB");
  EXPECT_EQ(Figures(units.rows[1], 2),
            (std::vector<int64_t>{200 * W, 90 * W, 10 * W, 110 * W, 2, 3}));
  EXPECT_EQ(Figures(units.rows[2], 2),
            (std::vector<int64_t>{240 * W, 100 * W, 10 * W, 140 * W, 3, 4}));
  const Table& months = reports[0].tables.at(2);
  // Months up to the last entry's (July); committed, paid to date, paid in month, payments.
  ASSERT_EQ(months.rows.size(), 7u);
  EXPECT_EQ(S(months.rows[0], 0), "2025-01");
  EXPECT_EQ(Figures(months.rows[1], 1), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(Figures(months.rows[2], 1), (std::vector<int64_t>{210 * W, 50 * W, 50 * W, 1}));
  EXPECT_EQ(Figures(months.rows[3], 1), (std::vector<int64_t>{210 * W, 90 * W, 40 * W, 2}));
  EXPECT_EQ(Figures(months.rows[4], 1), (std::vector<int64_t>{200 * W, 90 * W, 0, 0}));
  EXPECT_EQ(Figures(months.rows[5], 1), (std::vector<int64_t>{240 * W, 90 * W, 0, 0}));
  EXPECT_EQ(S(months.rows[6], 0), "2025-07");
  EXPECT_EQ(Figures(months.rows[6], 1), (std::vector<int64_t>{240 * W, 100 * W, 10 * W, 1}));
}

TEST_F(ReportTest, AwardListOneRowPerAwardAndPublicDropsKeysAndSeqs) {
  std::vector<Report> reports = Build({"awards"});
  const Table& t = reports[0].tables.at(0);
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(S(t.rows[0], 3), "A-2");
  EXPECT_EQ(S(t.rows[0], 5), r2_);
  EXPECT_EQ(S(t.rows[0], 6), "futian");
  EXPECT_EQ(Figures(t.rows[0], 7).size(), 6u);
  EXPECT_EQ(I(t.rows[0], 7), 60 * W);
  EXPECT_EQ(I(t.rows[0], 8), 10 * W);
  EXPECT_EQ(S(t.rows[0], 11), "2025-03-05");
  EXPECT_EQ(S(t.rows[1], 3), "A-1");
  EXPECT_EQ(S(t.rows[2], 3), "M-1");
  EXPECT_EQ(I(t.rows[2], 9), 20 * W);
  EXPECT_EQ(I(t.rows[2], 10), 20 * W);
  EXPECT_LT(I(t.rows[0], 12), I(t.rows[1], 12)) << "sorted by seq";
  EXPECT_EQ(Figures(t.rows[3], 7),
            (std::vector<int64_t>{250 * W, 10 * W, 230 * W, 20 * W, -1, -1}));
  std::vector<Report> published = Build({"awards"}, 0, "", true);
  const Table& pub = published.at(0).tables.at(0);
  ASSERT_EQ(pub.columns.size(), t.columns.size() - 2);
  for (const Column& c : pub.columns) {
    EXPECT_NE(c.key, "seq");
    EXPECT_NE(c.key, "application");
  }
  EXPECT_EQ(S(pub.rows[0], 4), r2_);
}

TEST_F(ReportTest, PaymentRegisterRunsPaidToDatePerAward) {
  std::vector<Report> reports = Build({"payments"});
  const Table& t = reports.at(0).tables.at(0);
  ASSERT_EQ(t.rows.size(), 6u);
  std::vector<std::string> refs;
  std::vector<int64_t> amounts, to_date;
  for (size_t i = 0; i + 1 < t.rows.size(); ++i) {
    refs.push_back(S(t.rows[i], 8));
    amounts.push_back(I(t.rows[i], 7));
    to_date.push_back(I(t.rows[i], 10));
  }
  EXPECT_EQ(refs, (std::vector<std::string>{"T-1", "T-3", "T-2", "bank returned", "T-4"}));
  EXPECT_EQ(amounts, (std::vector<int64_t>{50 * W, 20 * W, 30 * W, -10 * W, 10 * W}));
  EXPECT_EQ(to_date, (std::vector<int64_t>{50 * W, 20 * W, 80 * W, 70 * W, 10 * W}));
  EXPECT_EQ(I(t.rows[0], 1), static_cast<int64_t>(first_payout_seq_));
  EXPECT_EQ(S(t.rows[0], 0), "2025-03-21");
  EXPECT_EQ(S(t.rows[3], 2), "reversal");
  EXPECT_EQ(I(t.rows[5], 7), 100 * W);
  // A period narrows the lines to its dates, the running total still counts earlier payouts.
  std::vector<Report> april_reports = Build({"payments"}, 0, "2025-04");
  const Table& april = april_reports.at(0).tables.at(0);
  ASSERT_EQ(april.rows.size(), 4u);
  EXPECT_EQ(I(april.rows[1], 10), 80 * W);
}

TEST_F(ReportTest, PerformanceRatesDaysAndRejections) {
  std::vector<Report> reports = Build({"performance"});
  const Table& t = reports[0].tables.at(0);
  ASSERT_EQ(t.rows.size(), 2u);
  // allocated, paid, rate, recipients, awards, approval->award median/p90 (4, 10 days),
  // award->first payment median/p90 (10, 31 days), applications, rejected, rejected share.
  EXPECT_EQ(Figures(t.rows[0], 2),
            (std::vector<int64_t>{1000 * W, 90 * W, 900, 2, 2, 4, 10, 10, 31, 3, 1, 3333}));
  EXPECT_TRUE(t.rows[0].flagged);
  EXPECT_EQ(Figures(t.rows[1], 2),
            (std::vector<int64_t>{200 * W, 10 * W, 500, 1, 1, 10, 10, 20, 20, 1, 0, 0}));
  const Table& reasons = reports[0].tables.at(1);
  ASSERT_EQ(reasons.rows.size(), 1u);
  EXPECT_EQ(S(reasons.rows[0], 1), "incomplete contract");
  EXPECT_EQ(Figures(reasons.rows[0], 2), (std::vector<int64_t>{1, 10000}));
}

TEST_F(ReportTest, CofundingSharesPerDistrict) {
  std::vector<Report> reports = Build({"cofunding"});
  const Table& t = reports.at(0).tables.at(0);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(S(t.rows[0], 0), "10");
  EXPECT_EQ(S(t.rows[0], 1), "futian");
  EXPECT_EQ(Figures(t.rows[0], 2),
            (std::vector<int64_t>{100 * W, 20 * W, 20 * W, 5 * W, 5 * W, 2000, 500, 1}));
  EXPECT_EQ(t.rows[1].kind, RowKind::kTotal);
}

TEST_F(ReportTest, AnnualTopRecipientsCapChecksCorrectionsAndIntegrity) {
  std::vector<Report> reports = Build({"annual"});
  const Report& r = reports[0];
  ASSERT_EQ(r.tables.size(), 4u);
  const Table& top = r.tables[1];
  ASSERT_EQ(top.rows.size(), 3u);
  EXPECT_EQ(S(top.rows[0], 2), r1_);
  EXPECT_EQ(Figures(top.rows[0], 4), (std::vector<int64_t>{150 * W, 70 * W, 1}));
  EXPECT_EQ(S(top.rows[1], 2), r2_);
  EXPECT_EQ(S(top.rows[2], 2), r3_);
  const Table& caps = r.tables[2];
  ASSERT_EQ(caps.rows.size(), 3u);
  std::map<std::string, std::vector<int64_t>> by_recipient;
  for (const Row& row : caps.rows) by_recipient[S(row, 0)] = Figures(row, 3);
  EXPECT_EQ(by_recipient[r1_], (std::vector<int64_t>{1000 * W, 150 * W, 1500, -1}));
  EXPECT_EQ(by_recipient[r3_], (std::vector<int64_t>{300 * W, 40 * W, 1333, -1}));
  const Table& corrections = r.tables[3];
  EXPECT_EQ(Figures(corrections.rows[0], 1), (std::vector<int64_t>{1, 10 * W}));
  EXPECT_EQ(Figures(corrections.rows[1], 1), (std::vector<int64_t>{1, 10 * W}));
  EXPECT_EQ(I(corrections.rows[2], 1), 3) << "A-1, A-2 and M-1 claimed their evidence";
  auto root = ledger::RootAt(ledger_->tree(), ledger_->size());
  ASSERT_TRUE(root.ok());
  std::map<std::string, std::string> integrity(r.integrity.begin(), r.integrity.end());
  EXPECT_EQ(integrity["Tree size"], std::to_string(ledger_->size()));
  EXPECT_EQ(integrity["Root hash"], ev::Hex(*root));
  EXPECT_EQ(integrity["State hash"], ev::Hex(pj::StateHash(testutil::WholeState(*ledger_))));
  EXPECT_EQ(integrity["Checkpoint"], "none");
}

TEST_F(ReportTest, AsOfAnEarlierSizeGivesTheFiguresOfThatTime) {
  const uint64_t head = ledger_->size();
  std::vector<Report> then = Build({"execution", "annual"}, first_payout_seq_);
  const Table& t = then[0].tables.at(0);
  // Before the second payout: A-1 1,500,000 and A-2 600,000 committed, 500,000 paid.
  EXPECT_EQ(Figures(t.rows[2], 4),
            (std::vector<int64_t>{1000 * W, 210 * W, 50 * W, 0, 160 * W, 790 * W, 500, 2, 1}));
  EXPECT_EQ(then[0].provenance.tree_size, first_payout_seq_);
  auto root = ledger::RootAt(ledger_->tree(), first_payout_seq_);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(then[0].provenance.root_hex, ev::Hex(*root));
  EXPECT_EQ(then[0].provenance.as_of_ms, At("2025-03-21T09:00:00"));
  // The state hash of that size is the one a replay of its entries gives.
  auto replayed = ledger_->StateAsOf(first_payout_seq_, {""});
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(then[0].provenance.state_hash_hex, ev::Hex(pj::StateHash(*replayed)));
  EXPECT_NE(then[0].provenance.state_hash_hex, Build({"execution"})[0].provenance.state_hash_hex);
  EXPECT_EQ(ledger_->size(), head);
}

TEST_F(ReportTest, ParamsRoundTripAndRefuseAnythingElse) {
  Options o;
  o.kinds = ReportKinds();
  o.year = 2025;
  o.period = "2025-Q3";
  o.tree_size = 42;
  o.measure = "10";
  o.district = "futian";
  o.public_only = true;
  o.lang = Lang::kEn;
  o.format = "csv";
  o.checkpoint_note = "fundledger/ab\n42\nroot\n\n— sig\n";
  std::string text = EncodeParams(o);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  auto back = ParseParams(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(EncodeParams(*back), text);
  EXPECT_EQ(back->checkpoint_note, o.checkpoint_note);
  EXPECT_FALSE(ParseParams(text + " extra=1").ok());
  EXPECT_FALSE(ParseParams(text + " year=2025").ok());
  EXPECT_FALSE(ParseParams("fundledger-report v2 kinds=awards").ok());
  std::string bad_period = text;
  bad_period.replace(bad_period.find("2025-Q3"), 7, "2025-Q5");
  EXPECT_THAT(ParseParams(bad_period).status().message(), HasSubstr("--period"));
}

TEST_F(ReportTest, CheckpointIsVerifiedBeforeItsSizeIsUsed) {
  const uint64_t size = first_payout_seq_;
  auto root = ledger::RootAt(ledger_->tree(), size);
  ASSERT_TRUE(root.ok());
  std::string origin = ledger_->Origin();
  std::string good =
      ledger::SignNote(ledger::CheckpointText({origin, size, *root}), origin, Key("notary"));
  auto verified = VerifyCheckpoint(*ledger_, good, nullptr);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(*verified, size);
  // Signed by a key that is no notary of this ledger.
  std::string stranger =
      ledger::SignNote(ledger::CheckpointText({origin, size, *root}), origin, Key("admin"));
  EXPECT_TRUE(VerifyCheckpoint(*ledger_, stranger, nullptr).status().IsCorruption());
  // A notary-signed root that is not the ledger's at that size.
  auto other_root = ledger::RootAt(ledger_->tree(), size - 1);
  std::string wrong =
      ledger::SignNote(ledger::CheckpointText({origin, size, *other_root}), origin, Key("notary"));
  auto refused = VerifyCheckpoint(*ledger_, wrong, nullptr);
  EXPECT_TRUE(refused.status().IsCorruption());
  EXPECT_THAT(refused.status().message(), HasSubstr("root differs"));
  // Another ledger's origin.
  std::string foreign = ledger::SignNote(ledger::CheckpointText({"fundledger/00", size, *root}),
                                         "fundledger/00", Key("notary"));
  EXPECT_TRUE(VerifyCheckpoint(*ledger_, foreign, nullptr).status().IsCorruption());

  testutil::WriteText(dir_->Sub("good.note"), good);
  testutil::WriteText(dir_->Sub("wrong.note"), wrong);
  auto ok =
      Fl("report execution --year 2025 --format json --out " + ShellQuote(dir_->Sub("cp.json")) +
         " --checkpoint " + ShellQuote(dir_->Sub("good.note")));
  ASSERT_EQ(ok.code, 0) << ok.err;
  json doc = json::parse(testutil::ReadText(dir_->Sub("cp.json")));
  EXPECT_EQ(doc["provenance"]["treeSize"], size);
  EXPECT_EQ(doc["provenance"]["checkpoint"], good);
  auto bad =
      Fl("report execution --year 2025 --format json --out " + ShellQuote(dir_->Sub("bad.json")) +
         " --checkpoint " + ShellQuote(dir_->Sub("wrong.note")));
  EXPECT_EQ(bad.code, 3) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("--checkpoint"));
  EXPECT_FALSE(std::filesystem::exists(dir_->Sub("bad.json")));
  auto check = Fl("report check " + ShellQuote(dir_->Sub("cp.json")));
  EXPECT_EQ(check.code, 0) << check.err;
}

TEST_F(ReportTest, CsvHasBomParamsAndIsDeterministic) {
  auto a = Fl("report --all --year 2025 --format csv --out " + ShellQuote(dir_->Sub("a")));
  ASSERT_EQ(a.code, 0) << a.err;
  auto b = Fl("report --all --year 2025 --format csv --out " + ShellQuote(dir_->Sub("b")));
  ASSERT_EQ(b.code, 0) << b.err;
  for (std::string name :
       {"execution", "awards", "payments", "performance", "cofunding", "annual", "tidy"}) {
    std::string text = testutil::ReadText(dir_->Sub("a/" + name + ".csv"));
    EXPECT_TRUE(
        text.starts_with("\xEF\xBB\xBF"
                         "fundledger-params,"))
        << name;
    EXPECT_THAT(text, HasSubstr("part=" + name)) << name;
    EXPECT_EQ(text, testutil::ReadText(dir_->Sub("b/" + name + ".csv")))
        << name << " differs between runs";
  }
  std::string execution = testutil::ReadText(dir_->Sub("a/execution.csv"));
  EXPECT_THAT(execution, HasSubstr("专项资金预算执行情况表"));
  EXPECT_THAT(execution,
              HasSubstr(",\"1,000.00\",200.00,90.00,10.00,110.00,800.00,9.00%,2,3,需说明\r\n"));
  std::string tidy = testutil::ReadText(dir_->Sub("a/tidy.csv"));
  EXPECT_THAT(tidy, HasSubstr("execution,0,2,\"subtotal|2|"));
  EXPECT_THAT(tidy, HasSubstr(",allocatedFen,fen,1000000000\r\n"));
}

TEST_F(ReportTest, JsonAgreesWithQuery) {
  auto made =
      Fl("report execution --year 2025 --format json --out " + ShellQuote(dir_->Sub("e.json")));
  ASSERT_EQ(made.code, 0) << made.err;
  auto query = Fl("--json query measure --year 2025");
  ASSERT_EQ(query.code, 0) << query.err;
  std::map<std::string, json> by_measure;
  for (const std::string& line : testutil::NonEmptyLines(query.out)) {
    json j = json::parse(line);
    by_measure[j["measure"].get<std::string>()] = j;
  }
  json doc = json::parse(testutil::ReadText(dir_->Sub("e.json")));
  size_t subtotals = 0;
  for (const json& row : doc["tables"][0]["rows"]) {
    if (row["rowKind"] != "subtotal") continue;
    ++subtotals;
    const json& q = by_measure.at(row["measure"].get<std::string>());
    EXPECT_EQ(row["allocatedFen"], q["allocatedFen"]);
    EXPECT_EQ(row["committedFen"], q["committedFen"]);
    EXPECT_EQ(row["paidFen"], q["netPaidFen"]);
    EXPECT_EQ(row["unpaidFen"], q["outstandingFen"]);
    EXPECT_EQ(row["unspentFen"], q["availableFen"]);
  }
  EXPECT_EQ(subtotals, by_measure.size());
}

TEST_F(ReportTest, CheckAcceptsTheUnchangedFileAndRefusesAChangedOneOrATamperedLedger) {
  auto made = Fl("report --all --year 2025 --format csv --out " + ShellQuote(dir_->Sub("r")));
  ASSERT_EQ(made.code, 0) << made.err;
  auto json_made =
      Fl("report payments --year 2025 --format json --out " + ShellQuote(dir_->Sub("p.json")));
  ASSERT_EQ(json_made.code, 0) << json_made.err;
  for (std::string file : {"r/payments.csv", "r/tidy.csv", "r/annual.csv", "p.json"}) {
    auto check = Fl("report check " + ShellQuote(dir_->Sub(file)));
    EXPECT_EQ(check.code, 0) << file << ": " << check.err;
    EXPECT_THAT(check.out, HasSubstr("ok:"));
  }
  // Entries appended later do not change a report made at an earlier size.
  ledger_ = std::move(*ledger::Ledger::Open(path_, ledger::OpenMode::kWriter));
  On("2025-08-01T09:00:00", "treasurer", ev::PayoutDisbursed{"M-1", 1 * kYuan, "T-5"});
  EXPECT_EQ(Fl("report check " + ShellQuote(dir_->Sub("r/payments.csv"))).code, 0);
  // One changed figure.
  std::string text = testutil::ReadText(dir_->Sub("r/payments.csv"));
  size_t at = text.find("\"500,000.00\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\"500,000.01\"");
  testutil::WriteText(dir_->Sub("changed.csv"), text);
  auto changed = Fl("report check " + ShellQuote(dir_->Sub("changed.csv")));
  EXPECT_EQ(changed.code, 3) << changed.err;
  EXPECT_THAT(changed.err, HasSubstr("500,000.01"));
  EXPECT_THAT(changed.err, HasSubstr("line "));
  // A tampered export: one signature byte of the last entry changed.
  auto exported = Fl("export --out " + ShellQuote(dir_->Sub("x.jsonl")));
  ASSERT_EQ(exported.code, 0) << exported.err;
  EXPECT_EQ(Fl("report check " + ShellQuote(dir_->Sub("r/payments.csv")) + " --from-export " +
               ShellQuote(dir_->Sub("x.jsonl")))
                .code,
            0);
  std::vector<std::string> lines =
      testutil::NonEmptyLines(testutil::ReadText(dir_->Sub("x.jsonl")));
  json last = json::parse(lines.back());
  std::string sig = last["signature"];
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  last["signature"] = sig;
  last.erase("leafHash");  // else the export parser refuses the line before any signature check
  lines.back() = last.dump();
  std::string tampered;
  for (const std::string& line : lines) tampered += line + "\n";
  testutil::WriteText(dir_->Sub("t.jsonl"), tampered);
  auto from_tampered = Fl("report check " + ShellQuote(dir_->Sub("r/payments.csv")) +
                          " --from-export " + ShellQuote(dir_->Sub("t.jsonl")));
  EXPECT_EQ(from_tampered.code, 3) << from_tampered.err;
  // A ledger shorter than the report's size: the figures cannot be the ledger's.
  std::string short_export = lines.front() + "\n";
  testutil::WriteText(dir_->Sub("s.jsonl"), short_export);
  auto from_short = Fl("report check " + ShellQuote(dir_->Sub("r/payments.csv")) +
                       " --from-export " + ShellQuote(dir_->Sub("s.jsonl")));
  EXPECT_EQ(from_short.code, 3) << from_short.err;
  EXPECT_THAT(from_short.err, HasSubstr("tree size"));
}

TEST_F(ReportTest, BadOptionsExitTwoNamingTheOption) {
  const std::string out = " --out " + ShellQuote(dir_->Sub("o"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"report execution --format csv" + out, "--year"},
      {"report execution --year 2025 --format docx" + out, "--format"},
      {"report execution --year 2025 --format csv", "--out"},
      {"report execution --year 2025 --period 2025-Q5 --format csv" + out, "--period"},
      {"report execution --year 2025 --period 2024-06 --format csv" + out, "--period"},
      {"report execution --year 2025 --lang fr --format csv" + out, "--lang"},
      {"report budget --year 2025 --format csv" + out, "unknown report"},
      {"report execution --year 2025 --as-of 0 --format csv" + out, "--as-of"},
      {"report execution --year 2025 --as-of 99999 --format csv" + out, "--as-of"},
      {"report execution --year 2025 --as-of 2025-13-45 --format csv" + out, "--as-of"},
      {"report execution --year 2025 --measure 'a b' --format csv" + out, "--measure"},
      {"report execution --year 1900 --format csv" + out, "--year"},
      {"report --all execution --year 2025 --format csv" + out, "--all"},
  };
  for (const auto& [args, named] : cases) {
    auto run = Fl(args);
    EXPECT_EQ(run.code, 2) << args << ": " << run.err;
    EXPECT_THAT(run.err, HasSubstr(named)) << args;
    EXPECT_EQ(testutil::NonEmptyLines(run.err).size(), 1u) << args << ": one line\n" << run.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_->Sub("o")));
  auto check = Fl("report check " + ShellQuote(dir_->Sub("none.csv")));
  EXPECT_NE(check.code, 0);
  testutil::WriteText(dir_->Sub("plain.csv"), "a,b\n");
  auto plain = Fl("report check " + ShellQuote(dir_->Sub("plain.csv")));
  EXPECT_EQ(plain.code, 2) << plain.err;
}

TEST_F(ReportTest, CofundedRevocationReleasesEachSourceAsTheProjectionsDo) {
  // An odd amount: the city and district parts of the release differ by a fen.
  On("2025-07-02T09:00:00", "reviewer:SZ-MIIT",
     ev::AwardRevoked{"M-1", 10'000'001, "scope reduced"});
  std::vector<Report> reports = Build({"execution", "cofunding"});
  ASSERT_NE(ledger_->view().FindMeasureYear("10", 2025), nullptr);
  const pj::MeasureYear my = *ledger_->view().FindMeasureYear("10", 2025);
  const Table& t = reports[0].tables.at(0);
  std::map<std::string, int64_t> committed;
  for (const Row& row : t.rows) {
    if (S(row, 0) == "10" && row.kind == RowKind::kData && S(row, 2).empty())
      committed[S(row, 3)] = I(row, 5);
  }
  EXPECT_EQ(committed["city"], my.committed_fen.at("city"));
  EXPECT_EQ(committed["futian"], my.committed_fen.at("futian"));
  EXPECT_EQ(committed["city"] + committed["futian"], 40 * W - 10'000'001);
  const Table& c = reports[1].tables.at(0);
  EXPECT_EQ(I(c.rows[0], 3), my.committed_fen.at("city"));
  EXPECT_EQ(I(c.rows[0], 4), my.committed_fen.at("futian"));
}

TEST_F(ReportTest, APeriodEndsTheFiguresAtItsLastEntry) {
  Options o;
  o.kinds = {"execution"};
  o.year = 2025;
  o.format = "json";
  o.period = "2025-03";
  auto size = EffectiveSize(*ledger_, o, ledger_->size());
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, first_payout_seq_) << "the last entry of March is the first payout (03-21)";
  o.period = "2025-Q3";
  EXPECT_EQ(*EffectiveSize(*ledger_, o, ledger_->size()), ledger_->size());
  o.period = "2025-01";
  auto january = EffectiveSize(*ledger_, o, ledger_->size());
  ASSERT_TRUE(january.ok());
  EXPECT_LT(*january, first_payout_seq_);
  // A March report shows March's figures and is not flagged (not a year end).
  std::vector<Report> march = Build({"execution"}, *size, "2025-03");
  EXPECT_EQ(I(march[0].tables[0].rows[2], 6), 50 * W);
  EXPECT_FALSE(march[0].tables[0].rows[2].flagged);
}

TEST_F(ReportTest, AnEntryThatIsNotTheTreesLeafIsCorruption) {
  ASSERT_EQ(Build({"payments"}).size(), 1u);
  // Replace the stored Merkle leaf of the first payout with the leaf of the entry before it.
  auto other = ledger_->tree().Node(0, first_payout_seq_ - 2);
  ASSERT_TRUE(other.ok());
  ledger_.reset();
  {
    rocksdb::DBOptions options;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, path_, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path_, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    auto merkle = static_cast<size_t>(
        std::find(names.begin(), names.end(), ledger::internal::kCfMerkle) - names.begin());
    ASSERT_LT(merkle, names.size());
    std::string value(reinterpret_cast<const char*>(other->data()), other->size());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[merkle],
                        ledger::internal::MerkleKey(0, first_payout_seq_ - 1), value)
                    .ok());
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    }
  }
  Reopen();
  Options o;
  o.kinds = {"payments"};
  o.year = 2025;
  o.format = "json";
  o.tree_size = ledger_->size();
  auto reports = BuildReports(*ledger_, o);
  ASSERT_FALSE(reports.ok());
  EXPECT_TRUE(reports.status().IsCorruption()) << reports.status().ToString();
  EXPECT_THAT(reports.status().message(), HasSubstr("entry " + std::to_string(first_payout_seq_)));
}

// The xlsx and PDF writers are built separately (tools/report/xlsx.cc, pdf.cc); where they are
// present, their files are deterministic and pass `report check`, and a changed byte fails it.
TEST_F(ReportTest, WorkbookAndPdfPassCheckAndAChangedByteFailsIt) {
  for (std::string format : {"xlsx", "pdf"}) {
    const std::string a = dir_->Sub("a." + format), b = dir_->Sub("b." + format);
    auto made = Fl("report --all --year 2025 --format " + format + " --out " + ShellQuote(a));
    ASSERT_EQ(made.code, 0) << format << ": " << made.err;
    ASSERT_EQ(Fl("report --all --year 2025 --format " + format + " --out " + ShellQuote(b)).code,
              0);
    std::string bytes = testutil::ReadText(a);
    EXPECT_EQ(bytes, testutil::ReadText(b)) << format << " differs between runs";
    auto check = Fl("report check " + ShellQuote(a));
    EXPECT_EQ(check.code, 0) << format << ": " << check.err;
    // One byte of the body changed (the middle of the file, away from the params).
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
    const std::string changed = dir_->Sub("changed." + format);
    testutil::WriteText(changed, bytes);
    auto refused = Fl("report check " + ShellQuote(changed));
    EXPECT_NE(refused.code, 0) << format;
    EXPECT_NE(refused.code, 1) << format;
  }
}

// The writers that need cairo, pango and libxlsxwriter are a module only `report` loads
// (tools/report/render.h): the executable does not need those libraries, so no other command
// maps them. Without the module beside it, xlsx and PDF are refused (exit 4, naming the
// module) and nothing is written; CSV, which needs no writer library, still works.
TEST_F(ReportTest, WritersAreAModuleLoadedOnlyForXlsxAndPdf) {
  auto needed = testutil::RunShell(dir_->path(), "readelf -d " + ShellQuote(FUNDLEDGER_BINARY));
  ASSERT_EQ(needed.code, 0) << needed.err;
  ASSERT_THAT(needed.out, HasSubstr("libc.so"));  // the listing is the executable's
  for (const char* library : {"libcairo", "libpango", "libxlsxwriter"}) {
    EXPECT_THAT(needed.out, Not(HasSubstr(library))) << "the executable needs " << library;
  }
  // The executable alone, in a directory without the module.
  const std::string lone = dir_->Sub("lone");
  ASSERT_EQ(::mkdir(lone.c_str(), 0700), 0);
  auto copied = testutil::RunShell(
      dir_->path(), "cp " + ShellQuote(FUNDLEDGER_BINARY) + " " + ShellQuote(lone + "/fundledger"));
  ASSERT_EQ(copied.code, 0) << copied.err;
  ledger_.reset();
  auto run = [&](const std::string& args) {
    return testutil::RunShell(dir_->path(), ShellQuote(lone + "/fundledger") + " --ledger " +
                                                ShellQuote(path_) + " " + args);
  };
  for (std::string format : {"xlsx", "pdf"}) {
    const std::string out = dir_->Sub("r." + format);
    auto refused =
        run("report annual --year 2025 --format " + format + " --out " + ShellQuote(out));
    EXPECT_EQ(refused.code, 4) << format << ": " << refused.err;
    EXPECT_THAT(refused.err, HasSubstr("cannot load the report writers")) << format;
    EXPECT_EQ(testutil::NonEmptyLines(refused.err).size(), 1u) << refused.err;
    EXPECT_NE(::access(out.c_str(), F_OK), 0) << format << " written without its writer";
  }
  auto csv = run("report annual --year 2025 --format csv --out " + ShellQuote(dir_->Sub("csv")));
  EXPECT_EQ(csv.code, 0) << csv.err;
}

// Without --format, every format goes into the folder --out, each file passing `report check`;
// a second run refuses (exit 4) before writing anything and leaves every file as it was.
TEST_F(ReportTest, AllFormatsGoIntoOneFolderAndASecondRunChangesNothing) {
  const std::string out = dir_->Sub("all");
  auto made = Fl("report --all --year 2025 --out " + ShellQuote(out));
  ASSERT_EQ(made.code, 0) << made.err;
  const std::vector<std::string> files = {"2025.xlsx", "2025.pdf", "csv/execution.csv",
                                          "csv/tidy.csv", "json/annual.json", "json/awards.json"};
  std::map<std::string, std::string> before;
  for (const std::string& name : files) {
    before[name] = testutil::ReadText(out + "/" + name);
    ASSERT_FALSE(before[name].empty()) << name;
    if (name == "csv/tidy.csv") continue;  // the tidy form spans every report: no one check
    auto check = Fl("report check " + ShellQuote(out + "/" + name));
    EXPECT_EQ(check.code, 0) << name << ": " << check.err;
  }
  // The first target is free, a later one exists: nothing may be written before the refusal.
  ASSERT_EQ(::unlink((out + "/2025.xlsx").c_str()), 0);
  before.erase("2025.xlsx");
  testutil::WriteText(out + "/json/annual.json", "kept");
  before["json/annual.json"] = "kept";
  auto again = Fl("report --all --year 2025 --out " + ShellQuote(out));
  EXPECT_EQ(again.code, 4) << again.err;
  EXPECT_THAT(again.err, HasSubstr("--force"));
  EXPECT_NE(::access((out + "/2025.xlsx").c_str(), F_OK), 0) << "written before the refusal";
  for (const auto& [name, bytes] : before) {
    EXPECT_EQ(testutil::ReadText(out + "/" + name), bytes) << name << " changed";
  }
}

// Parses `hledger balance --flat -N` lines ("  8000000.00 CNY  budget:2:2025:city") to fen.
std::map<std::string, int64_t> HledgerBalances(const std::string& out) {
  std::map<std::string, int64_t> balances;
  for (const std::string& line : testutil::NonEmptyLines(out)) {
    std::istringstream in(line);
    std::string amount, commodity, account;
    in >> amount >> commodity >> account;
    if (commodity != "CNY" || account.empty()) continue;
    auto fen = ev::ParseYuan(amount.starts_with("-") ? amount.substr(1) : amount);
    EXPECT_TRUE(fen.ok()) << line;
    balances[account] = amount.starts_with("-") ? -*fen : *fen;
  }
  return balances;
}

TEST_F(ReportTest, HledgerJournalBalancesAgreeWithQueryToTheFen) {
  if (testutil::RunShell(dir_->path(), "command -v hledger").code != 0) {
    GTEST_SKIP() << "hledger is not installed (tools/setup.sh installs it); journal not checked";
  }
  auto exported = Fl("export --format hledger --out " + ShellQuote(dir_->Sub("l.journal")));
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::string journal = testutil::ReadText(dir_->Sub("l.journal"));
  EXPECT_THAT(journal,
              HasSubstr("; seq:" + std::to_string(first_payout_seq_) + ", kind:PayoutDisbursed"));
  auto balance = testutil::RunShell(dir_->path(), "hledger -f l.journal balance --flat -N");
  ASSERT_EQ(balance.code, 0) << balance.err;
  std::map<std::string, int64_t> b = HledgerBalances(balance.out);
  auto query = Fl("--json query measure --year 2025");
  ASSERT_EQ(query.code, 0) << query.err;
  int64_t allocated = 0, paid = 0;
  for (const std::string& line : testutil::NonEmptyLines(query.out)) {
    json q = json::parse(line);
    std::string prefix = q["measure"].get<std::string>() + ":2025";
    int64_t available = 0;
    for (const auto& [account, fen] : b) {
      if (account.starts_with("budget:" + prefix + ":")) available += fen;
    }
    EXPECT_EQ(available, q["availableFen"].get<int64_t>()) << prefix;
    EXPECT_EQ(b["commitment:" + prefix], q["outstandingFen"].get<int64_t>()) << prefix;
    allocated += q["allocatedFen"].get<int64_t>();
    paid += q["netPaidFen"].get<int64_t>();
  }
  EXPECT_EQ(b["appropriation:city"] + b["appropriation:futian"], -allocated);
  EXPECT_EQ(b["recipient:" + r1_], 70 * W);
  EXPECT_EQ(b["recipient:" + r1_] + b["recipient:" + r2_] + b["recipient:" + r3_], paid);
  EXPECT_EQ(b["budget:10:2025:futian"], 80 * W);
}

}  // namespace
}  // namespace fundledger::report
