// Goal: no validly signed export, however crafted, aborts the inspector (issue 7 item 5).
// Audit replays entries that broke a rule (they are findings, replay goes on), so the fold and
// the rules must be total over the state such entries leave behind. Each test extends a real
// ledger's export with entries signed by the ledger's own officers, in a correct chain, that
// break a rule in a way that once reached an internal check: an application whose basis is out
// of range, a policy whose rate ceiling or city share is over 100%, a track with no bound, and
// amounts whose sums pass int64. Audit must replay every entry, report the breaks as rule
// findings and no integrity finding; `fundledger audit --from-export` must exit 1, and import
// must refuse the export and leave no directory behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/audit.h"
#include "ledger/exchange.h"
#include "ledger/ledger.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::testing::HasSubstr;

std::string Describe(const AuditReport& report) {
  std::string out;
  for (const Finding& f : report.findings) {
    out += std::to_string(f.seq) + " " + f.code + (f.integrity ? " [integrity] " : " [rule] ") +
           f.message + "\n";
  }
  return out.empty() ? "(no findings)\n" : out;
}

class HostileExportTest : public testutil::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    Allocate("2", 2025, 1'000'000'000);
    recipient_ = AddRecipient(1, ev::RecipientKind::kEnterprise);
    SubmitAndApprove(Application("A-1", 400'000'000));
    for (uint64_t seq = 1; seq <= ledger_->size(); ++seq) {
      auto raw = ledger_->ReadRaw(seq);
      ASSERT_TRUE(raw.ok()) << raw.status().ToString();
      values_.push_back(*raw);
    }
  }

  ev::ApplicationSubmitted Application(const std::string& id, int64_t basis_fen) const {
    return ev::ApplicationSubmitted{id,
                                    recipient_,
                                    "2",
                                    "standard",
                                    2025,
                                    basis_fen,
                                    "compute_service_contract",
                                    {{"rented_compute", "true"}},
                                    {testutil::Digest("contract " + id)}};
  }

  // Appends to the export an entry signed by Key(signer), chained to the last one: valid bytes,
  // valid signature, whatever its body says.
  void Extend(const std::string& signer, ev::Body body) {
    auto last = SplitStoredValue(values_.back());
    ASSERT_TRUE(last.ok()) << last.status().ToString();
    ev::Entry e;
    e.ledger_id = ledger_->head().ledger_id;
    e.seq = values_.size() + 1;
    e.prev_hash = last->leaf_hash;
    e.recorded_at_ms = last->entry.recorded_at_ms + 60'000;
    e.signer = Key(signer).key_id();
    e.body = std::move(body);
    ev::Bytes value = ev::EncodeEntry(e);
    ev::Signature signature = Key(signer).Sign(value);
    value.insert(value.end(), signature.begin(), signature.end());
    values_.push_back(std::move(value));
  }

  // The Shenzhen policy, republished with `edit` applied to measure 2 and in force from the
  // same day (a later seq wins the tie).
  void RepublishWith(const std::function<void(ev::Measure*)>& edit) {
    ev::Policy policy = testutil::ShenzhenPolicy();
    for (ev::Measure& m : policy.measures) {
      if (m.id == "2") edit(&m);
    }
    Extend("admin", ev::PolicyPublished{policy, "2024-12-18"});
  }

  // Audits the export in memory: every entry replayed, no integrity finding, and at least one
  // rule finding whose message contains `expected`.
  AuditReport AuditExport(const std::string& expected) {
    auto report = Audit(MemoryEntrySource(values_), AuditOptions{});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    if (!report.ok()) return AuditReport{};
    EXPECT_EQ(report->entries, values_.size()) << Describe(*report);
    EXPECT_TRUE(report->IntegrityOk()) << Describe(*report);
    EXPECT_FALSE(report->RulesOk()) << Describe(*report);
    EXPECT_THAT(Describe(*report), HasSubstr(expected));
    return std::move(*report);
  }

  // The export as JSON lines, written to a file in the test's directory.
  std::string WriteExportFile() {
    std::string text;
    for (const ev::Bytes& value : values_) {
      auto stored = SplitStoredValue(value);
      EXPECT_TRUE(stored.ok());
      if (stored.ok()) text += ExportJsonLine(*stored) + "\n";
    }
    std::string path = dir_->Sub("hostile.jsonl");
    testutil::WriteText(path, text);
    return path;
  }

  std::string recipient_;
  std::vector<ev::Bytes> values_;
};

TEST_F(HostileExportTest, BasisOutOfRangeIsAFindingNotAnAbort) {
  ev::ApplicationSubmitted huge = Application("A-HUGE", ev::kAmountFenMax + 1);
  Extend("clerk:SZ-STIB", huge);
  Extend("reviewer:SZ-STIB", ev::ApplicationApproved{"A-HUGE", ""});
  Extend("reviewer:SZ-STIB", ev::AwardGranted{"A-HUGE", 100, 100, 0, ""});
  AuditExport("basis out of range");
}

TEST_F(HostileExportTest, RateCeilingOver100PercentIsAFindingNotAnAbort) {
  RepublishWith([](ev::Measure* m) { m->tracks.front().rate_ceiling_bp = 20'000; });
  Extend("reviewer:SZ-STIB", ev::AwardGranted{"A-1", 150'000'000, 150'000'000, 0, ""});
  AuditExport("rate ceiling over 100%");
}

TEST_F(HostileExportTest, CityShareOver100PercentIsAFindingNotAnAbort) {
  RepublishWith([](ev::Measure* m) {
    m->co_funded = true;
    m->co_funding.city_share_bp = 20'000;
  });
  Extend("reviewer:SZ-STIB", ev::AwardGranted{"A-1", 150'000'000, 150'000'000, 0, ""});
  AuditExport("city share over 100%");
}

TEST_F(HostileExportTest, TrackWithNoBoundIsAFindingNotAnAbort) {
  RepublishWith([](ev::Measure* m) {
    for (ev::Track& t : m->tracks) {
      t.basis_kind.clear();  // a merit track: no rate
      t.rate_ceiling_bp = 0;
      t.caps.clear();
    }
  });
  // A pool above any award, so that not even the pool bounds the award.
  Extend("treasurer", ev::BudgetAllocated{"2", 2025, ev::kAmountFenMax, "city"});
  Extend("reviewer:SZ-STIB", ev::AwardGranted{"A-1", 150'000'000, 150'000'000, 0, "merit"});
  AuditExport("has no cap");
}

TEST_F(HostileExportTest, AmountsWhoseSumsPassInt64Saturate) {
  Extend("reviewer:SZ-STIB", ev::AwardGranted{"A-1", 150'000'000, 150'000'000, 0, ""});
  Extend("reviewer:SZ-STIB", ev::AwardRevoked{"A-1", INT64_MIN, "hostile"});
  Extend("reviewer:SZ-STIB", ev::AwardGranted{"A-1", INT64_MAX, INT64_MAX, 0, ""});
  Extend("treasurer", ev::PayoutDisbursed{"A-1", INT64_MAX, "T-1"});
  Extend("treasurer", ev::PayoutReversed{"A-1", INT64_MIN, "hostile"});
  AuditReport report = AuditExport("A-1");
  const pj::Application* app = report.state.FindApplication("A-1");
  ASSERT_NE(app, nullptr);
  // granted - revoked = 1.5e8 + 2^63 saturates; wrapping would turn it negative.
  EXPECT_EQ(app->NetAwardFen(), INT64_MAX);
  EXPECT_EQ(app->NetPaidFen(), INT64_MAX);
  for (const auto& [key, my] : report.state.measure_years) {
    EXPECT_GE(my.totals.CommittedFen(), 0) << key;
  }
}

TEST_F(HostileExportTest, CliAuditExitsOneAndImportRefusesLeavingNothing) {
  Extend("clerk:SZ-STIB", Application("A-HUGE", ev::kAmountFenMax + 1));
  Extend("reviewer:SZ-STIB", ev::ApplicationApproved{"A-HUGE", ""});
  Extend("reviewer:SZ-STIB", ev::AwardGranted{"A-HUGE", 100, 100, 0, ""});
  std::string file = WriteExportFile();
  std::string bin = testutil::ShellQuote(FUNDLEDGER_BINARY);
  testutil::ShellRun audit = testutil::RunShell(dir_->path(), bin + " audit --from-export " + file);
  EXPECT_EQ(audit.code, 1) << audit.out << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("basis out of range"));
  std::string target = dir_->Sub("imported");
  testutil::ShellRun import =
      testutil::RunShell(dir_->path(), bin + " --ledger " + target + " import " + file);
  EXPECT_EQ(import.code, 2) << import.out << import.err;
  EXPECT_FALSE(std::filesystem::exists(target));
}

}  // namespace
}  // namespace fundledger::ledger
