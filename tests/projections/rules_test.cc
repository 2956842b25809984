// Goal: the money rules of DESIGN.md §4 hold, through a real ledger, for every measure and track
// of the shipped Shenzhen policy (table-driven from ShenzhenPolicy(), so the tests follow the
// policy file): an award exactly at the limit MaxAward computes passes and one fen more is
// refused with the rule code of the binding limit (DESIGN.md §10); eligibility, attributes,
// periods, co-funding splits, shared pools, payouts, revocations, roles, units, separation of
// duties, double claims, the policy term and key revocation are each refused with their code, and
// every refusal leaves the ledger's state (StateHash) untouched. CheckPolicy refuses malformed
// policies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "events/crypto.h"
#include "events/model.h"
#include "events/text.h"
#include "ledger/ledger.h"
#include "projections/projections.h"
#include "tests/testutil/testutil.h"

namespace fundledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::testing::Contains;
using ::testing::HasSubstr;
using testutil::At;
using testutil::Digest;
using testutil::FixedClockMs;
using testutil::LedgerFixture;
using testutil::ShenzhenPolicy;
using testutil::Uscc;

constexpr int64_t kYuan = ev::kFenPerYuan;
constexpr uint16_t kYear = 2025;
// A USCC that no recipient of these tests names as a related party.
const std::string& Stranger() {
  static const std::string* id = new std::string(Uscc(777'777));
  return *id;
}

// The rule code a cap of `scope` is refused with (DESIGN.md §10).
std::string CapRule(ev::CapScope scope) {
  switch (scope) {
    case ev::CapScope::kPerAward: return "cap.per_award";
    case ev::CapScope::kPerRecipientYear: return "cap.per_recipient_year";
    case ev::CapScope::kPerRecipientTerm: return "cap.per_term";
    case ev::CapScope::kPerProject: return "cap.per_project";
    case ev::CapScope::kPerRecipientMeasureYear: return "cap.per_recipient_measure_year";
  }
  return "unknown";
}

// The smallest cap of a track (0 if it has none) and the rule codes of the caps that tie for it.
int64_t SmallestCap(const ev::Track& t) {
  int64_t smallest = 0;
  for (const ev::Cap& c : t.caps) {
    if (smallest == 0 || c.amount_fen < smallest) smallest = c.amount_fen;
  }
  return smallest;
}
std::vector<std::string> SmallestCapRules(const ev::Track& t) {
  std::vector<std::string> rules;
  for (const ev::Cap& c : t.caps) {
    if (c.amount_fen == SmallestCap(t)) rules.push_back(CapRule(c.scope));
  }
  return rules;
}

// Attributes that satisfy every required attribute of `t`: equals -> that value, one_of -> the
// first value, present -> `present`, not_related_party -> `counterparty`.
std::map<std::string, std::string> SatisfyingAttributes(const ev::Track& t, const std::string& present,
                                                        const std::string& counterparty) {
  std::map<std::string, std::string> out;
  for (const ev::AttributeRule& r : t.required_attributes) {
    switch (r.test) {
      case ev::AttributeTest::kEquals:
      case ev::AttributeTest::kOneOf:
        out[r.key] = r.values.empty() ? "" : r.values.front();
        break;
      case ev::AttributeTest::kPresent:
        out[r.key] = present;
        break;
      case ev::AttributeTest::kNotRelatedParty:
        out[r.key] = counterparty;
        break;
    }
  }
  return out;
}

void SetAttributes(ev::ApplicationSubmitted* a, const std::map<std::string, std::string>& attributes) {
  a->attributes.clear();
  for (const auto& [key, value] : attributes) a->attributes.push_back(ev::Attribute{key, value});
}

const ev::Measure& MeasureOf(const std::string& id) {
  const ev::Measure* m = ShenzhenPolicy().FindMeasure(id);
  LEDGER_CHECK(m != nullptr) << "no measure " << id;
  return *m;
}
const ev::Track& TrackOf(const std::string& measure, const std::string& track) {
  const ev::Track* t = MeasureOf(measure).FindTrack(track);
  LEDGER_CHECK(t != nullptr) << "no track " << measure << "/" << track;
  return *t;
}

class RulesTest : public LedgerFixture {
 protected:
  // The time the next append will be recorded at (the fixture's clock moves a minute per append).
  int64_t NextAt() const { return clock_ms_ + 60'000; }
  pj::Hash Hash() const { return pj::StateHash(testutil::WholeState(*ledger_)); }

  Status Do(const std::string& signer, ev::Body body, int64_t at_ms = 0) {
    Result<uint64_t> seq = Append(signer, std::move(body), at_ms);
    return seq.ok() ? Status::Ok() : seq.status();
  }

  // Appends `body`; reports a failure (and returns false) if it is refused.
  [[nodiscard]] bool Ok(const std::string& signer, ev::Body body, int64_t at_ms = 0) {
    std::string kind = ev::KindName(body);
    Status s = Do(signer, std::move(body), at_ms);
    if (!s.ok()) ADD_FAILURE() << kind << " signed by " << signer << ": " << s.ToString();
    return s.ok();
  }

  // Appends `body` and expects it refused with `rule`, the ledger untouched.
  void ExpectRefused(const std::string& signer, ev::Body body, const std::string& rule, int64_t at_ms = 0) {
    std::string kind = ev::KindName(body);
    pj::Hash before = Hash();
    uint64_t size = ledger_->size();
    Status s = Do(signer, std::move(body), at_ms);
    EXPECT_TRUE(s.IsRejected()) << kind << " signed by " << signer << ": " << s.ToString();
    EXPECT_EQ(s.rule(), rule) << kind << " signed by " << signer << ": " << s.ToString();
    EXPECT_EQ(ledger_->size(), size) << kind << " was refused but the ledger grew";
    EXPECT_EQ(Hash(), before) << kind << " was refused but the state changed";
  }

  std::string NewRecipient(ev::RecipientKind kind, const std::string& district = "nanshan",
                           std::vector<std::string> related = {}) {
    uint32_t n = next_recipient_++;
    std::string id = Uscc(n);
    EXPECT_TRUE(Ok("clerk:SZ-STIB", ev::RecipientRegistered{id, "recipient " + std::to_string(n), kind, district,
                                                            std::move(related)}));
    return id;
  }

  [[nodiscard]] bool Fund(const std::string& measure, uint16_t year, int64_t fen, const std::string& source = "city") {
    return Ok("treasurer", ev::BudgetAllocated{measure, year, fen, source});
  }

  // An application satisfying every required attribute of the track, with one evidence digest
  // of its own; rated tracks get `basis` of the track's kind.
  ev::ApplicationSubmitted App(const std::string& id, const std::string& recipient, const std::string& measure,
                               const std::string& track, int64_t basis, uint16_t year = kYear,
                               const std::string& present = "X") {
    const ev::Track& t = TrackOf(measure, track);
    ev::ApplicationSubmitted a;
    a.application_id = id;
    a.recipient_id = recipient;
    a.measure = measure;
    a.track = track;
    a.fiscal_year = year;
    if (!t.IsMerit()) {
      a.basis_fen = basis;
      a.basis_kind = t.basis_kind;
    }
    SetAttributes(&a, SatisfyingAttributes(t, present, Stranger()));
    a.evidence.push_back(Digest("evidence of " + id));
    return a;
  }

  static std::string Clerk(const std::string& measure) { return "clerk:" + UnitOf(measure); }
  static std::string Reviewer(const std::string& measure) { return "reviewer:" + UnitOf(measure); }

  [[nodiscard]] bool Submit(const ev::ApplicationSubmitted& a) { return Ok(Clerk(a.measure), a); }
  [[nodiscard]] bool SubmitApprove(const ev::ApplicationSubmitted& a) {
    return Submit(a) && Ok(Reviewer(a.measure), ev::ApplicationApproved{a.application_id, "meets the guide"});
  }

  const pj::Application& Application(const std::string& id) const {
    const pj::Application* app = ledger_->view().FindApplication(id);
    LEDGER_CHECK(app != nullptr) << "no application " << id;
    return *app;
  }

  // An award of `amount` split as SplitAward says, with a justification.
  ev::AwardGranted Award(const std::string& id, int64_t amount) const {
    ev::AwardGranted g;
    g.application_id = id;
    g.amount_fen = amount;
    pj::SplitAward(MeasureOf(Application(id).submitted.measure), std::max<int64_t>(0, amount), &g.city_fen,
                   &g.district_fen);
    g.justification = "scored against the annual guide";
    return g;
  }
  std::string ReviewerOf(const std::string& id) const { return Reviewer(Application(id).submitted.measure); }
  [[nodiscard]] bool Grant(const std::string& id, int64_t amount) { return Ok(ReviewerOf(id), Award(id, amount)); }

  Result<pj::AwardLimit> Limit(const std::string& id) const {
    return pj::MaxAward(ledger_->view(), id, NextAt());
  }

  // The limit as (max, rule), whether MaxAward reports "nothing possible" as a zero limit or as a
  // refusal (projections.h allows the latter for an exhausted pool).
  std::pair<int64_t, std::string> LimitOrZero(const std::string& id) const {
    Result<pj::AwardLimit> limit = Limit(id);
    if (!limit.ok()) return {0, limit.status().rule()};
    return {limit->max_fen, limit->binding_rule};
  }

  pj::MeasureYear MeasureYearRow(const std::string& measure, uint16_t year) const {
    const pj::MeasureYear* row = ledger_->view().FindMeasureYear(measure, year);
    return row == nullptr ? pj::MeasureYear{} : *row;
  }

  // Registers an extra key (signed by the admin) and makes it available as Key(name).
  [[nodiscard]] bool AddKey(const std::string& name, uint8_t seed, ev::Role role, const std::string& unit,
                            const std::string& holder) {
    keys_[name] = std::make_unique<ev::PrivateKey>(testutil::TestKey(seed));
    return Ok("admin", ev::KeyRegistered{Key(name).public_key(), role, unit, holder});
  }

  uint32_t next_recipient_ = 1000;
};

// ---------------------------------------------------------------- every track, at its limit

TEST_F(RulesTest, EveryTrackAwardsExactlyItsLimitAndRefusesOneFenMore) {
  const ev::Policy& policy = ShenzhenPolicy();
  const int64_t kUnstatedPool = 1'000'000'000 * kYuan;
  int tracks_seen = 0;
  for (const ev::Measure& m : policy.measures) {
    if (!m.money_rule) continue;
    SCOPED_TRACE("measure " + m.id);
    int64_t pool = m.annual_budget_cap_stated ? m.annual_budget_cap_fen : kUnstatedPool;
    if (m.co_funded) {
      ASSERT_TRUE(Fund(m.id, kYear, m.annual_budget_cap_stated ? pool / 2 : pool, "city"));
      ASSERT_TRUE(Fund(m.id, kYear, m.annual_budget_cap_stated ? pool / 2 : pool, "nanshan"));
    } else {
      ASSERT_TRUE(Fund(m.id, kYear, pool));
    }
    for (const ev::Track& t : m.tracks) {
      SCOPED_TRACE("measure " + m.id + " track " + t.id);
      ++tracks_seen;
      ASSERT_FALSE(t.eligible_kinds.empty());
      struct Case {
        std::string label;
        int64_t basis = 0;
        int64_t expected_max = 0;
        std::vector<std::string> rules;  // acceptable binding rules (caps may tie)
      };
      std::vector<Case> cases;
      const int64_t cap = SmallestCap(t);
      if (t.IsMerit()) {
        ASSERT_GT(cap, 0) << "a merit track needs a cap";
        cases.push_back({"merit", 0, cap, SmallestCapRules(t)});
      } else if (t.caps.empty()) {
        ASSERT_TRUE(t.bounded_by_basis_only);
        int64_t basis = 5'000'000 * kYuan;
        cases.push_back({"basis-only", basis, ev::ApplyRateBp(basis, t.rate_ceiling_bp), {"rate.ceiling"}});
      } else {
        // A basis whose rate allows twice the smallest cap: the cap binds.
        int64_t large = cap / t.rate_ceiling_bp * 10000 * 2 + 20000;
        ASSERT_GT(ev::ApplyRateBp(large, t.rate_ceiling_bp), cap);
        cases.push_back({"large-basis", large, cap, SmallestCapRules(t)});
        // A small basis: the rate binds.
        int64_t small = 10'000 * kYuan + 37;
        ASSERT_LT(ev::ApplyRateBp(small, t.rate_ceiling_bp), cap);
        cases.push_back({"small-basis", small, ev::ApplyRateBp(small, t.rate_ceiling_bp), {"rate.ceiling"}});
      }
      for (const Case& c : cases) {
        SCOPED_TRACE(c.label);
        std::string recipient = NewRecipient(t.eligible_kinds.front(), "nanshan", {Uscc(next_recipient_ + 500'000)});
        std::string id = "T-" + m.id + "-" + t.id + "-" + c.label;
        ev::ApplicationSubmitted a = App(id, recipient, m.id, t.id, c.basis, kYear, "X-" + c.label);
        ASSERT_TRUE(SubmitApprove(a));
        Result<pj::AwardLimit> limit = Limit(id);
        ASSERT_TRUE(limit.ok()) << limit.status().ToString();
        EXPECT_EQ(limit->max_fen, c.expected_max) << limit->explanation;
        EXPECT_THAT(c.rules, Contains(limit->binding_rule)) << limit->explanation;
        int64_t city = 0, district = 0;
        pj::SplitAward(m, limit->max_fen, &city, &district);
        EXPECT_EQ(limit->city_fen, city);
        EXPECT_EQ(limit->district_fen, district);
        ExpectRefused(Reviewer(m.id), Award(id, limit->max_fen + 1), limit->binding_rule);
        ASSERT_TRUE(Grant(id, limit->max_fen));
        const pj::Application& app = Application(id);
        EXPECT_EQ(app.state, pj::AppState::kAwarded);
        EXPECT_EQ(app.granted_fen, limit->max_fen);
        EXPECT_EQ(app.city_fen, city);
        EXPECT_EQ(app.district_fen, district);
        const pj::RecipientTrackYear* rty =
            ledger_->view().FindRecipientYear(recipient, m.id, t.id, kYear);
        ASSERT_NE(rty, nullptr);
        EXPECT_EQ(rty->totals.CommittedFen(), limit->max_fen);
      }
    }
  }
  EXPECT_GE(tracks_seen, 20) << "the Shenzhen policy has more tracks than this";
}

// A merit track's award needs a justification, and its application an evidence digest.
TEST_F(RulesTest, MeritTracksNeedEvidenceAndJustification) {
  for (const ev::Measure& m : ShenzhenPolicy().measures) {
    for (const ev::Track& t : m.tracks) {
      if (!t.IsMerit()) continue;
      SCOPED_TRACE("measure " + m.id + " track " + t.id);
      ASSERT_TRUE(Fund(m.id, kYear, std::min<int64_t>(SmallestCap(t), m.annual_budget_cap_stated ? m.annual_budget_cap_fen : SmallestCap(t))));
      std::string recipient = NewRecipient(t.eligible_kinds.front());
      ev::ApplicationSubmitted bare = App("bare-" + m.id + t.id, recipient, m.id, t.id, 0);
      bare.evidence.clear();
      ExpectRefused(Clerk(m.id), bare, "evidence.required");
      ev::ApplicationSubmitted a = App("merit-" + m.id + t.id, recipient, m.id, t.id, 0);
      ASSERT_TRUE(SubmitApprove(a));
      ev::AwardGranted g = Award(a.application_id, 100 * kYuan);
      g.justification.clear();
      ExpectRefused(Reviewer(m.id), g, "justification.required");
      ASSERT_TRUE(Grant(a.application_id, 100 * kYuan));
    }
  }
}

// ---------------------------------------------------------------- measure 2: startups

TEST_F(RulesTest, Measure2StartupRateIsHigherThanStandardOnTheSameBasis) {
  const ev::Track& standard = TrackOf("2", "standard");
  const ev::Track& startup = TrackOf("2", "startup");
  EXPECT_EQ(standard.rate_ceiling_bp, 5000u) << "policy: 50% for enterprises";
  EXPECT_EQ(startup.rate_ceiling_bp, 6000u) << "policy: 60% for startups";
  ASSERT_TRUE(Fund("2", kYear, 100'000'000 * kYuan));
  const int64_t basis = 1'000'000 * kYuan + 1;
  std::string enterprise = NewRecipient(ev::RecipientKind::kEnterprise);
  std::string young = NewRecipient(ev::RecipientKind::kStartup);
  ASSERT_TRUE(SubmitApprove(App("std", enterprise, "2", "standard", basis)));
  ASSERT_TRUE(SubmitApprove(App("start", young, "2", "startup", basis)));
  auto std_limit = Limit("std");
  auto start_limit = Limit("start");
  ASSERT_TRUE(std_limit.ok() && start_limit.ok());
  EXPECT_EQ(std_limit->max_fen, ev::ApplyRateBp(basis, standard.rate_ceiling_bp));
  EXPECT_EQ(start_limit->max_fen, ev::ApplyRateBp(basis, startup.rate_ceiling_bp));
  EXPECT_EQ(std_limit->binding_rule, "rate.ceiling");
  EXPECT_EQ(start_limit->binding_rule, "rate.ceiling");
  EXPECT_GT(start_limit->max_fen, std_limit->max_fen);
  // An award at the startup rate is over the standard rate.
  ExpectRefused("reviewer:SZ-STIB", Award("std", start_limit->max_fen), "rate.ceiling");
  ASSERT_TRUE(Grant("start", start_limit->max_fen));

  // Kinds follow the policy: the standard track is not open to startups, nor the startup track
  // to enterprises (one recipient cannot draw two caps).
  auto open_to = [](const ev::Track& t, ev::RecipientKind k) {
    return std::find(t.eligible_kinds.begin(), t.eligible_kinds.end(), k) != t.eligible_kinds.end();
  };
  ev::ApplicationSubmitted wrong = App("start-on-std", young, "2", "standard", basis);
  if (open_to(standard, ev::RecipientKind::kStartup)) {
    EXPECT_TRUE(Submit(wrong));
  } else {
    ExpectRefused("clerk:SZ-STIB", wrong, "eligibility.kind");
  }
  ev::ApplicationSubmitted wrong2 = App("ent-on-start", enterprise, "2", "startup", basis);
  if (open_to(startup, ev::RecipientKind::kEnterprise)) {
    EXPECT_TRUE(Submit(wrong2));
  } else {
    ExpectRefused("clerk:SZ-STIB", wrong2, "eligibility.kind");
  }
}

TEST_F(RulesTest, Measure2RequiresRentedCompute) {
  std::string enterprise = NewRecipient(ev::RecipientKind::kEnterprise);
  ev::ApplicationSubmitted owned = App("owned", enterprise, "2", "standard", 1'000'000 * kYuan);
  SetAttributes(&owned, {{"rented_compute", "false"}});
  ExpectRefused("clerk:SZ-STIB", owned, "eligibility.attribute");
  SetAttributes(&owned, {});
  ExpectRefused("clerk:SZ-STIB", owned, "eligibility.attribute");
}

// ---------------------------------------------------------------- measures 3 and 4: attributes

TEST_F(RulesTest, CorpusPurchaseFromARelatedPartyOrOffPlatformIsRefused) {
  const std::string related = Uscc(555'001);
  std::string buyer = NewRecipient(ev::RecipientKind::kEnterprise, "nanshan", {related});
  auto base = [&](const std::string& id) { return App(id, buyer, "3", "purchase", 1'000'000 * kYuan); };
  auto with = [&](const std::string& id, const std::string& key, const std::string* value) {
    ev::ApplicationSubmitted a = base(id);
    std::map<std::string, std::string> attrs = SatisfyingAttributes(TrackOf("3", "purchase"), "X", Stranger());
    if (value == nullptr) {
      attrs.erase(key);
    } else {
      attrs[key] = *value;
    }
    SetAttributes(&a, attrs);
    return a;
  };
  const std::string kFalse = "false", kTrue = "true";
  ExpectRefused("clerk:SZ-GSDB", with("related", "counterparty", &related), "eligibility.attribute");
  ExpectRefused("clerk:SZ-GSDB", with("no-counterparty", "counterparty", nullptr), "eligibility.attribute");
  ExpectRefused("clerk:SZ-GSDB", with("off-platform", "via_trading_platform", &kFalse), "eligibility.attribute");
  ExpectRefused("clerk:SZ-GSDB", with("declared-related", "related_counterparty", &kTrue), "eligibility.attribute");
  // The same purchase from a stranger through the platform is accepted.
  EXPECT_TRUE(Submit(base("clean")));
  // A university is not an eligible buyer.
  std::string university = NewRecipient(ev::RecipientKind::kUniversity);
  ExpectRefused("clerk:SZ-GSDB", App("uni", university, "3", "purchase", 1'000'000 * kYuan), "eligibility.kind");
}

TEST_F(RulesTest, ModelVoucherWithoutCacFilingIsRefused) {
  std::string buyer = NewRecipient(ev::RecipientKind::kEnterprise);
  ev::ApplicationSubmitted a = App("m4", buyer, "4", "voucher", 1'000'000 * kYuan);
  ev::ApplicationSubmitted none = a;
  SetAttributes(&none, {});
  ExpectRefused("clerk:SZ-MIIT", none, "eligibility.attribute");
  ev::ApplicationSubmitted empty = a;
  SetAttributes(&empty, {{"cac_filing_number", ""}});
  ExpectRefused("clerk:SZ-MIIT", empty, "eligibility.attribute");
  SetAttributes(&a, {{"cac_filing_number", "Guangdong-ShenZhen-202501010001"}});
  EXPECT_TRUE(Submit(a));
}

// ---------------------------------------------------------------- measure 13: periodic evaluation

TEST_F(RulesTest, LabEvaluationRewardOncePerPeriodAndOnlyForGoodGrades) {
  const ev::Track& evaluation = TrackOf("13", "evaluation");
  ASSERT_EQ(evaluation.period_years, 3);
  for (uint16_t y = 2024; y <= 2026; ++y) ASSERT_TRUE(Fund("13", y, 100'000'000 * kYuan));
  std::string lab = NewRecipient(ev::RecipientKind::kLab);
  std::string other_lab = NewRecipient(ev::RecipientKind::kLab);

  ev::ApplicationSubmitted fair = App("fair", lab, "13", "evaluation", 0);
  SetAttributes(&fair, {{"evaluation_grade", "fair"}});
  ExpectRefused("clerk:SZ-STIB", fair, "eligibility.attribute");
  SetAttributes(&fair, {});
  ExpectRefused("clerk:SZ-STIB", fair, "eligibility.attribute");

  ASSERT_TRUE(SubmitApprove(App("eval-2025", lab, "13", "evaluation", 0)));
  ASSERT_TRUE(Grant("eval-2025", 2'000'000 * kYuan));

  // Every other fiscal year of the term is within 3 years of 2025.
  for (uint16_t y : {uint16_t{2024}, uint16_t{2025}, uint16_t{2026}}) {
    SCOPED_TRACE(y);
    std::string id = "eval-again-" + std::to_string(y);
    ev::ApplicationSubmitted again = App(id, lab, "13", "evaluation", 0, y);
    SetAttributes(&again, {{"evaluation_grade", evaluation.required_attributes.front().values.back()}});
    ASSERT_TRUE(SubmitApprove(again));
    auto [max, rule] = LimitOrZero(id);
    EXPECT_EQ(max, 0);
    EXPECT_EQ(rule, "cap.period");
    ExpectRefused("reviewer:SZ-STIB", Award(id, 1), "cap.period");
  }
  // 2027 is outside the policy term altogether.
  ExpectRefused("clerk:SZ-STIB", App("eval-2027", lab, "13", "evaluation", 0, 2027), "term.closed");
  // The period is per recipient: another lab is rewarded in 2026.
  ASSERT_TRUE(SubmitApprove(App("other-2026", other_lab, "13", "evaluation", 0, 2026)));
  EXPECT_TRUE(Grant("other-2026", 3'000'000 * kYuan));
}

TEST_F(RulesTest, WhollyRevokedEvaluationRewardNoLongerCountsForThePeriod) {
  ASSERT_TRUE(Fund("13", 2025, 10'000'000 * kYuan));
  ASSERT_TRUE(Fund("13", 2026, 10'000'000 * kYuan));
  std::string lab = NewRecipient(ev::RecipientKind::kLab);
  ASSERT_TRUE(SubmitApprove(App("e1", lab, "13", "evaluation", 0, 2025)));
  ASSERT_TRUE(Grant("e1", 1'000'000 * kYuan));
  ASSERT_TRUE(SubmitApprove(App("e2", lab, "13", "evaluation", 0, 2026)));
  ExpectRefused("reviewer:SZ-STIB", Award("e2", 1), "cap.period");
  // Partly revoked: still an award.
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", ev::AwardRevoked{"e1", 400'000 * kYuan, "over-assessed"}));
  ExpectRefused("reviewer:SZ-STIB", Award("e2", 1), "cap.period");
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", ev::AwardRevoked{"e1", 600'000 * kYuan, "evaluation annulled"}));
  EXPECT_TRUE(Grant("e2", 1'000'000 * kYuan));
}

TEST_F(RulesTest, KeyLabApprovalGrantIsCappedOverTheWholeTerm) {
  const ev::Track& approval = TrackOf("13", "approval");
  ASSERT_EQ(approval.caps.size(), 1u);
  ASSERT_EQ(approval.caps[0].scope, ev::CapScope::kPerRecipientTerm);
  const int64_t cap = approval.caps[0].amount_fen;
  ASSERT_TRUE(Fund("13", 2025, cap));
  ASSERT_TRUE(Fund("13", 2026, cap));
  std::string lab = NewRecipient(ev::RecipientKind::kLab);
  ASSERT_TRUE(SubmitApprove(App("a25", lab, "13", "approval", 0, 2025)));
  ASSERT_TRUE(Grant("a25", cap - 100));
  ASSERT_TRUE(SubmitApprove(App("a26", lab, "13", "approval", 0, 2026)));
  auto [max, rule] = LimitOrZero("a26");
  EXPECT_EQ(max, 100);
  EXPECT_EQ(rule, "cap.per_term");
  ExpectRefused("reviewer:SZ-STIB", Award("a26", 101), "cap.per_term");
  EXPECT_TRUE(Grant("a26", 100));
}

// ---------------------------------------------------------------- measure 9: research tiers

TEST_F(RulesTest, BasicResearchTiersHaveTheirOwnPerProjectCaps) {
  ASSERT_TRUE(Fund("9", kYear, MeasureOf("9").annual_budget_cap_fen));
  std::vector<int64_t> caps;
  for (const char* tier : {"major", "key", "general"}) {
    SCOPED_TRACE(tier);
    const ev::Track& t = TrackOf("9", tier);
    ASSERT_TRUE(t.IsMerit());
    ASSERT_EQ(t.caps.size(), 1u);
    ASSERT_EQ(t.caps[0].scope, ev::CapScope::kPerProject);
    caps.push_back(t.caps[0].amount_fen);
    std::string university = NewRecipient(ev::RecipientKind::kUniversity);
    std::string id = std::string("research-") + tier;
    ASSERT_TRUE(SubmitApprove(App(id, university, "9", tier, 0, kYear, std::string("PRJ-") + tier)));
    auto limit = Limit(id);
    ASSERT_TRUE(limit.ok()) << limit.status().ToString();
    EXPECT_EQ(limit->max_fen, t.caps[0].amount_fen);
    EXPECT_EQ(limit->binding_rule, "cap.per_project");
    ExpectRefused("reviewer:SZ-STIB", Award(id, t.caps[0].amount_fen + 1), "cap.per_project");
    ASSERT_TRUE(Grant(id, t.caps[0].amount_fen / 2));
    // A second application for the same project shares the cap, whoever applies.
    std::string partner = NewRecipient(ev::RecipientKind::kResearchInstitute);
    std::string id2 = id + "-partner";
    ASSERT_TRUE(SubmitApprove(App(id2, partner, "9", tier, 0, kYear, std::string("PRJ-") + tier)));
    auto rest = Limit(id2);
    ASSERT_TRUE(rest.ok());
    EXPECT_EQ(rest->max_fen, t.caps[0].amount_fen - t.caps[0].amount_fen / 2);
    EXPECT_EQ(rest->binding_rule, "cap.per_project");
  }
  ASSERT_EQ(caps.size(), 3u);
  EXPECT_GT(caps[0], caps[1]) << "major above key";
  EXPECT_GT(caps[1], caps[2]) << "key above general";
}

// ---------------------------------------------------------------- measure 12: platforms

TEST_F(RulesTest, PlatformNewIsCappedPerProjectAndExistingByLastYearsOperatingCost) {
  ASSERT_TRUE(Fund("12", kYear, 1'000'000'000 * kYuan));
  const ev::Track& fresh = TrackOf("12", "new");
  const ev::Track& existing = TrackOf("12", "existing");
  ASSERT_EQ(fresh.caps.size(), 1u);
  ASSERT_EQ(fresh.caps[0].scope, ev::CapScope::kPerProject);
  const int64_t project_cap = fresh.caps[0].amount_fen;
  std::string operator1 = NewRecipient(ev::RecipientKind::kPlatformOperator);
  std::string operator2 = NewRecipient(ev::RecipientKind::kInnovationCentre);
  // Basis large enough that the per-project cap binds.
  const int64_t investment = project_cap * 4;
  ASSERT_TRUE(SubmitApprove(App("new-1", operator1, "12", "new", investment, kYear, "PLATFORM-1")));
  ASSERT_TRUE(SubmitApprove(App("new-2", operator2, "12", "new", investment, kYear, "PLATFORM-1")));
  ASSERT_TRUE(SubmitApprove(App("new-3", operator2, "12", "new", investment, kYear, "PLATFORM-2")));
  auto l1 = Limit("new-1");
  ASSERT_TRUE(l1.ok());
  EXPECT_EQ(l1->max_fen, project_cap);
  EXPECT_EQ(l1->binding_rule, "cap.per_project");
  ASSERT_TRUE(Grant("new-1", project_cap * 3 / 5));
  auto l2 = Limit("new-2");
  ASSERT_TRUE(l2.ok());
  EXPECT_EQ(l2->max_fen, project_cap - project_cap * 3 / 5);
  EXPECT_EQ(l2->binding_rule, "cap.per_project");
  ExpectRefused("reviewer:SZ-MIIT", Award("new-2", l2->max_fen + 1), "cap.per_project");
  ASSERT_TRUE(Grant("new-2", l2->max_fen));
  // Another project of the same operator has its own cap.
  auto l3 = Limit("new-3");
  ASSERT_TRUE(l3.ok());
  EXPECT_EQ(l3->max_fen, project_cap);

  // Existing platform: rate of last year's operating cost.
  EXPECT_EQ(existing.rate_ceiling_bp, 3000u) << "policy: 30% of last year's operating cost";
  EXPECT_EQ(existing.basis_kind, "last_year_operating_cost");
  const int64_t operating = 3'000'000 * kYuan + 99;
  ev::ApplicationSubmitted wrong_kind = App("existing-bad", operator1, "12", "existing", operating);
  wrong_kind.basis_kind = fresh.basis_kind;
  ExpectRefused("clerk:SZ-MIIT", wrong_kind, "basis.kind");
  ASSERT_TRUE(SubmitApprove(App("existing-1", operator1, "12", "existing", operating)));
  auto le = Limit("existing-1");
  ASSERT_TRUE(le.ok());
  EXPECT_EQ(le->max_fen, ev::ApplyRateBp(operating, existing.rate_ceiling_bp));
  EXPECT_EQ(le->binding_rule, "rate.ceiling");
  ExpectRefused("reviewer:SZ-MIIT", Award("existing-1", le->max_fen + 1), "rate.ceiling");
  EXPECT_TRUE(Grant("existing-1", le->max_fen));
}

// ---------------------------------------------------------------- measure 10: city and district

class CoFundingTest : public RulesTest {
 protected:
  void SetUp() override {
    RulesTest::SetUp();
    ASSERT_TRUE(MeasureOf("10").co_funded);
    ASSERT_TRUE(Fund("10", kYear, kCity));
    ASSERT_TRUE(Fund("10", kYear, kDistrict, "futian"));
  }
  static constexpr int64_t kCity = 10'000'000 * kYuan;
  static constexpr int64_t kDistrict = 1'000'000 * kYuan;
};

TEST_F(CoFundingTest, AwardSplitsAsThePolicySaysAndConsumesTheRecipientsDistrict) {
  const ev::Measure& m = MeasureOf("10");
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise, "futian");
  ASSERT_TRUE(SubmitApprove(App("mig", firm, "10", "migration", 1'000'000 * kYuan)));
  const int64_t amount = 300'000 * kYuan + 1;  // odd: the split has a remainder
  int64_t city = 0, district = 0;
  pj::SplitAward(m, amount, &city, &district);
  EXPECT_EQ(city + district, amount);
  EXPECT_EQ(city, ev::ApplyRateBp(amount, m.co_funding.city_share_bp));
  EXPECT_LE(std::abs(city - district), 1) << "50/50 per the policy";
  // A wrong split is refused.
  ev::AwardGranted swapped = Award("mig", amount);
  std::swap(swapped.city_fen, swapped.district_fen);
  ExpectRefused("reviewer:SZ-MIIT", swapped, "funding.split");
  ev::AwardGranted all_city = Award("mig", amount);
  all_city.city_fen = amount;
  all_city.district_fen = 0;
  ExpectRefused("reviewer:SZ-MIIT", all_city, "funding.split");
  ASSERT_TRUE(Grant("mig", amount));
  const pj::Application& app = Application("mig");
  EXPECT_EQ(app.city_fen, city);
  EXPECT_EQ(app.district_fen, district);
  EXPECT_EQ(app.district, "futian");
  const pj::MeasureYear& my = MeasureYearRow("10", kYear);
  EXPECT_EQ(my.AvailableFen("city"), kCity - city);
  EXPECT_EQ(my.AvailableFen("futian"), kDistrict - district);
  EXPECT_EQ(my.totals.CommittedFen(), amount);
}

TEST_F(CoFundingTest, ExhaustedDistrictPoolRefusesTheAwardThoughTheCityHasMoney) {
  std::string first = NewRecipient(ev::RecipientKind::kEnterprise, "futian");
  std::string second = NewRecipient(ev::RecipientKind::kStartup, "futian");
  std::string elsewhere = NewRecipient(ev::RecipientKind::kEnterprise, "luohu");
  ASSERT_TRUE(SubmitApprove(App("d1", first, "10", "migration", 10'000'000 * kYuan)));
  ASSERT_TRUE(SubmitApprove(App("d2", second, "10", "migration", 10'000'000 * kYuan)));
  ASSERT_TRUE(SubmitApprove(App("d3", elsewhere, "10", "migration", 10'000'000 * kYuan)));
  // Twice the district pool: the district pays half of it, all it has.
  ASSERT_TRUE(Grant("d1", 2 * kDistrict));
  const pj::MeasureYear& my = MeasureYearRow("10", kYear);
  EXPECT_EQ(my.AvailableFen("futian"), 0);
  EXPECT_GT(my.AvailableFen("city"), 0);
  auto [max, rule] = LimitOrZero("d2");
  EXPECT_EQ(max, 0);
  EXPECT_EQ(rule, "pool.exhausted");
  ExpectRefused("reviewer:SZ-MIIT", Award("d2", 100 * kYuan), "pool.exhausted");
  // A district that allocated nothing cannot co-fund either.
  ExpectRefused("reviewer:SZ-MIIT", Award("d3", 100 * kYuan), "pool.exhausted");
  // Once luohu allocates, its recipient is limited by what luohu has.
  ASSERT_TRUE(Fund("10", kYear, 1000, "luohu"));
  auto l3 = Limit("d3");
  ASSERT_TRUE(l3.ok());
  EXPECT_EQ(l3->binding_rule, "pool.exhausted");
  EXPECT_EQ(l3->district_fen, 1000);
  ExpectRefused("reviewer:SZ-MIIT", Award("d3", l3->max_fen + 1), "pool.exhausted");
  EXPECT_TRUE(Grant("d3", l3->max_fen));
}

// Regression: a co-funded award revoked in instalments must give each pool back exactly what it
// took. Measured today: the per-instalment floor in the fold leaves the district short and the
// city over (committed city -1 fen, district +1 fen after a 101-fen award revoked as 50 + 51).
TEST_F(CoFundingTest, RevokingACoFundedAwardInInstalmentsReleasesEachPoolExactly) {
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise, "futian");
  ASSERT_TRUE(SubmitApprove(App("rv", firm, "10", "migration", 1'000'000 * kYuan)));
  ASSERT_TRUE(Grant("rv", 101));
  ASSERT_TRUE(Ok("reviewer:SZ-MIIT", ev::AwardRevoked{"rv", 50, "part of the migration not delivered"}));
  ASSERT_TRUE(Ok("reviewer:SZ-MIIT", ev::AwardRevoked{"rv", 51, "rest not delivered"}));
  EXPECT_EQ(Application("rv").NetAwardFen(), 0);
  const pj::MeasureYear& my = MeasureYearRow("10", kYear);
  auto committed = [&my](const std::string& source) {
    auto it = my.committed_fen.find(source);
    return it == my.committed_fen.end() ? 0 : it->second;
  };
  EXPECT_EQ(committed("city"), 0) << "the city pool must get back exactly its share";
  EXPECT_EQ(committed("futian"), 0) << "the district pool must get back exactly its share";
  EXPECT_EQ(my.AvailableFen("city"), kCity);
  EXPECT_EQ(my.AvailableFen("futian"), kDistrict);
}

TEST_F(RulesTest, DistrictMoneyCannotFundACityMeasure) {
  ASSERT_FALSE(MeasureOf("2").co_funded);
  ExpectRefused("treasurer", ev::BudgetAllocated{"2", kYear, 100 * kYuan, "nanshan"}, "pool.source");
}

// ---------------------------------------------------------------- pools

TEST_F(RulesTest, TracksOfAMeasureShareOnePool) {
  const int64_t pool = 1'000'000 * kYuan;
  ASSERT_TRUE(Fund("2", 2026, pool));
  std::string enterprise = NewRecipient(ev::RecipientKind::kEnterprise);
  std::string young = NewRecipient(ev::RecipientKind::kStartup);
  ASSERT_TRUE(SubmitApprove(App("standard", enterprise, "2", "standard", 100'000'000 * kYuan, 2026)));
  ASSERT_TRUE(SubmitApprove(App("startup", young, "2", "startup", 100'000'000 * kYuan, 2026)));
  auto limit = Limit("standard");
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(limit->max_fen, pool);
  EXPECT_EQ(limit->binding_rule, "pool.exhausted");
  ExpectRefused("reviewer:SZ-STIB", Award("standard", pool + 1), "pool.exhausted");
  ASSERT_TRUE(Grant("standard", pool));
  EXPECT_EQ(MeasureYearRow("2", 2026).AvailableFen("city"), 0);
  auto [max, rule] = LimitOrZero("startup");
  EXPECT_EQ(max, 0);
  EXPECT_EQ(rule, "pool.exhausted");
  ExpectRefused("reviewer:SZ-STIB", Award("startup", 1), "pool.exhausted");
  // Other years are other pools: nothing allocated for 2025.
  ASSERT_TRUE(SubmitApprove(App("y2025", young, "2", "startup", 100'000'000 * kYuan, 2025)));
  ExpectRefused("reviewer:SZ-STIB", Award("y2025", 1), "pool.exhausted");
}

TEST_F(RulesTest, PerRecipientYearCapAccumulatesAcrossApplications) {
  const ev::Track& t = TrackOf("2", "standard");
  ASSERT_EQ(t.caps.size(), 1u);
  ASSERT_EQ(t.caps[0].scope, ev::CapScope::kPerRecipientYear);
  const int64_t cap = t.caps[0].amount_fen;
  ASSERT_TRUE(Fund("2", 2025, 5 * cap));
  ASSERT_TRUE(Fund("2", 2026, 5 * cap));
  const int64_t basis = cap * 10;
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  std::string other = NewRecipient(ev::RecipientKind::kEnterprise);
  ASSERT_TRUE(SubmitApprove(App("first", firm, "2", "standard", basis)));
  ASSERT_TRUE(SubmitApprove(App("second", firm, "2", "standard", basis)));
  ASSERT_TRUE(SubmitApprove(App("third", firm, "2", "standard", basis)));
  ASSERT_TRUE(SubmitApprove(App("other", other, "2", "standard", basis)));
  ASSERT_TRUE(SubmitApprove(App("next-year", firm, "2", "standard", basis, 2026)));
  const int64_t first = cap / 3 + 7;
  ASSERT_TRUE(Grant("first", first));
  auto limit = Limit("second");
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(limit->max_fen, cap - first);
  EXPECT_EQ(limit->binding_rule, "cap.per_recipient_year");
  EXPECT_THAT(limit->explanation, HasSubstr(ev::FormatYuan(first)));
  ExpectRefused("reviewer:SZ-STIB", Award("second", cap - first + 1), "cap.per_recipient_year");
  ASSERT_TRUE(Grant("second", cap - first));
  ExpectRefused("reviewer:SZ-STIB", Award("third", 1), "cap.per_recipient_year");
  // Another recipient, or the next fiscal year, starts afresh.
  auto other_limit = Limit("other");
  ASSERT_TRUE(other_limit.ok());
  EXPECT_EQ(other_limit->max_fen, cap);
  auto next_limit = Limit("next-year");
  ASSERT_TRUE(next_limit.ok());
  EXPECT_EQ(next_limit->max_fen, cap);
  // Revoking part of the first award frees that much of the cap.
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", ev::AwardRevoked{"first", 1000, "contract reduced"}));
  auto after = Limit("third");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->max_fen, 1000);
}

TEST_F(RulesTest, AllocationOverTheAnnualBudgetCapIsRefused) {
  int measures = 0;
  for (const ev::Measure& m : ShenzhenPolicy().measures) {
    if (!m.money_rule || !m.annual_budget_cap_stated) continue;
    SCOPED_TRACE("measure " + m.id);
    ++measures;
    ExpectRefused("treasurer", ev::BudgetAllocated{m.id, 2025, m.annual_budget_cap_fen + 1, "city"}, "pool.allocation");
    ASSERT_TRUE(Fund(m.id, 2025, m.annual_budget_cap_fen - 1));
    ASSERT_TRUE(Fund(m.id, 2025, 1));
    ExpectRefused("treasurer", ev::BudgetAllocated{m.id, 2025, 1, "city"}, "pool.allocation");
    // The cap is annual: 2026 has its own.
    EXPECT_TRUE(Fund(m.id, 2026, m.annual_budget_cap_fen));
  }
  EXPECT_EQ(measures, 6) << "measures 2, 3, 4, 5, 6 and 9 state an annual cap";
  // Fiscal years outside the term cannot be funded.
  ExpectRefused("treasurer", ev::BudgetAllocated{"7", 2027, 100, "city"}, "term.closed");
  ExpectRefused("treasurer", ev::BudgetAllocated{"7", 2023, 100, "city"}, "term.closed");
}

// ---------------------------------------------------------------- payouts, reversals, revocations

class MoneyFlowTest : public RulesTest {
 protected:
  void SetUp() override {
    RulesTest::SetUp();
    ASSERT_TRUE(Fund("4", kYear, kPool));
    firm_ = NewRecipient(ev::RecipientKind::kEnterprise);
    ASSERT_TRUE(SubmitApprove(App("pay", firm_, "4", "voucher", 2'000'000 * kYuan)));
    ASSERT_TRUE(Grant("pay", kAward));
  }
  ev::PayoutDisbursed Payout(int64_t fen) { return ev::PayoutDisbursed{"pay", fen, "BANK-" + std::to_string(++ref_)}; }
  static constexpr int64_t kPool = 50'000'000 * kYuan;
  static constexpr int64_t kAward = 300'000 * kYuan + 1;
  std::string firm_;
  int ref_ = 0;
};

TEST_F(MoneyFlowTest, InstalmentsArePaidUpToTheAwardAndNotBeyond) {
  ExpectRefused("treasurer", Payout(kAward + 1), "payout.over_award");
  ASSERT_TRUE(Ok("treasurer", Payout(kAward / 3)));
  ASSERT_TRUE(Ok("treasurer2", Payout(kAward / 3)));
  EXPECT_EQ(pj::StatusName(Application("pay")), "awarded");
  const int64_t rest = kAward - 2 * (kAward / 3);
  ExpectRefused("treasurer", Payout(rest + 1), "payout.over_award");
  ASSERT_TRUE(Ok("treasurer", Payout(rest)));
  EXPECT_EQ(Application("pay").NetPaidFen(), kAward);
  EXPECT_EQ(pj::StatusName(Application("pay")), "paid");
  ExpectRefused("treasurer", Payout(1), "payout.over_award");
  const pj::MeasureYear& my = MeasureYearRow("4", kYear);
  EXPECT_EQ(my.totals.NetPaidFen(), kAward);
  EXPECT_EQ(my.totals.OutstandingFen(), 0);
}

TEST_F(MoneyFlowTest, ReversalThenRepayment) {
  ASSERT_TRUE(Ok("treasurer", Payout(kAward)));
  ExpectRefused("treasurer", ev::PayoutReversed{"pay", kAward + 1, "bank returned it"}, "reversal.over_paid");
  ASSERT_TRUE(Ok("treasurer", ev::PayoutReversed{"pay", 12'345, "wrong account"}));
  EXPECT_EQ(Application("pay").NetPaidFen(), kAward - 12'345);
  EXPECT_EQ(pj::StatusName(Application("pay")), "awarded");
  ExpectRefused("treasurer", Payout(12'346), "payout.over_award");
  ASSERT_TRUE(Ok("treasurer", Payout(12'345)));
  EXPECT_EQ(Application("pay").NetPaidFen(), kAward);
  EXPECT_EQ(pj::StatusName(Application("pay")), "paid");
  const pj::Application& app = Application("pay");
  EXPECT_EQ(app.paid_fen, kAward + 12'345);
  EXPECT_EQ(app.reversed_fen, 12'345);
}

TEST_F(MoneyFlowTest, RevocationReleasesTheUnpaidPartToThePool) {
  const pj::MeasureYear& my = MeasureYearRow("4", kYear);
  EXPECT_EQ(my.AvailableFen("city"), kPool - kAward);
  const int64_t paid = 100'000 * kYuan;
  ASSERT_TRUE(Ok("treasurer", Payout(paid)));
  const int64_t unpaid = kAward - paid;
  ExpectRefused("reviewer:SZ-MIIT", ev::AwardRevoked{"pay", unpaid + 1, "cannot claw back paid money here"},
                "revoke.over_unpaid");
  ASSERT_TRUE(Ok("reviewer:SZ-MIIT", ev::AwardRevoked{"pay", unpaid - 5, "project cut"}));
  EXPECT_EQ(MeasureYearRow("4", kYear).AvailableFen("city"), kPool - kAward + unpaid - 5);
  ASSERT_TRUE(Ok("reviewer2:SZ-MIIT", ev::AwardRevoked{"pay", 5, "project cut"}));
  EXPECT_EQ(MeasureYearRow("4", kYear).AvailableFen("city"), kPool - paid);
  ExpectRefused("reviewer:SZ-MIIT", ev::AwardRevoked{"pay", 1, "again"}, "revoke.over_unpaid");
  ExpectRefused("treasurer", Payout(1), "payout.over_award");
  EXPECT_EQ(pj::StatusName(Application("pay")), "paid");
  // Only a reviewer of the responsible unit revokes.
  ASSERT_TRUE(Ok("treasurer", ev::PayoutReversed{"pay", 10, "returned"}));
  ExpectRefused("reviewer:SZ-STIB", ev::AwardRevoked{"pay", 10, "wrong bureau"}, "unit");
  ExpectRefused("treasurer", ev::AwardRevoked{"pay", 10, "wrong role"}, "role");
}

TEST_F(MoneyFlowTest, StateMachineRefusesOutOfOrderSteps) {
  std::string firm = NewRecipient(ev::RecipientKind::kStartup);
  ASSERT_TRUE(Submit(App("early", firm, "4", "voucher", 1'000'000 * kYuan)));
  ExpectRefused("reviewer:SZ-MIIT", Award("early", 100), "state.transition");
  ExpectRefused("treasurer", ev::PayoutDisbursed{"early", 100, "BANK"}, "state.transition");
  ExpectRefused("reviewer:SZ-MIIT", ev::AwardRevoked{"early", 100, "no"}, "state.transition");
  ASSERT_TRUE(Ok("reviewer:SZ-MIIT", ev::ApplicationRejected{"early", "not a filed model"}));
  ExpectRefused("reviewer:SZ-MIIT", ev::ApplicationApproved{"early", "changed my mind"}, "state.transition");
  ExpectRefused("reviewer:SZ-MIIT", Award("early", 100), "state.transition");
  ExpectRefused("reviewer:SZ-MIIT", Award("pay", 100), "state.transition");  // already awarded
}

// ---------------------------------------------------------------- roles, units, duties

TEST_F(RulesTest, OnlyTheResponsibleUnitDecidesAndAwards) {
  ASSERT_TRUE(Fund("2", kYear, 10'000'000 * kYuan));
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ev::ApplicationSubmitted a = App("u", firm, "2", "standard", 1'000'000 * kYuan);
  ExpectRefused("clerk:SZ-MIIT", a, "unit");
  ASSERT_TRUE(Submit(a));
  ExpectRefused("reviewer:SZ-MIIT", ev::ApplicationApproved{"u", "ok"}, "unit");
  ExpectRefused("clerk:SZ-STIB", ev::ApplicationApproved{"u", "ok"}, "role");
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", ev::ApplicationApproved{"u", "ok"}));
  ExpectRefused("reviewer:SZ-MIIT", Award("u", 100 * kYuan), "unit");
  ExpectRefused("reviewer:SZ-D-nanshan", Award("u", 100 * kYuan), "unit");
  ExpectRefused("treasurer", Award("u", 100 * kYuan), "role");
  ASSERT_TRUE(Ok("reviewer2:SZ-STIB", Award("u", 100 * kYuan)));
  ExpectRefused("reviewer:SZ-STIB", ev::PayoutDisbursed{"u", 100, "BANK"}, "role");
  ExpectRefused("clerk:SZ-STIB", ev::BudgetAllocated{"2", kYear, 100, "city"}, "role");
}

TEST_F(RulesTest, ReviewerWhoIsTheSubmittingClerkCannotApproveOrAward) {
  ASSERT_TRUE(Fund("2", kYear, 10'000'000 * kYuan));
  const std::string clerk_holder = ledger_->view().FindKey(Key("clerk:SZ-STIB").key_id())->holder;
  ASSERT_TRUE(AddKey("self-reviewer", 201, ev::Role::kReviewer, "SZ-STIB", clerk_holder));
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ASSERT_TRUE(Submit(App("sod", firm, "2", "standard", 1'000'000 * kYuan)));
  ExpectRefused("self-reviewer", ev::ApplicationApproved{"sod", "looks fine to me"}, "sod.submit_approve");
  ExpectRefused("self-reviewer", ev::ApplicationRejected{"sod", "no"}, "sod.submit_approve");
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", ev::ApplicationApproved{"sod", "ok"}));
  ExpectRefused("self-reviewer", Award("sod", 100 * kYuan), "sod.submit_approve");
  EXPECT_TRUE(Ok("reviewer:SZ-STIB", Award("sod", 100 * kYuan)));
}

TEST_F(RulesTest, TreasurerWhoIsTheAwardingReviewerCannotPay) {
  ASSERT_TRUE(Fund("2", kYear, 10'000'000 * kYuan));
  const std::string reviewer_holder =
      ledger_->view().FindKey(Key("reviewer:SZ-STIB").key_id())->holder;
  ASSERT_TRUE(AddKey("self-treasurer", 202, ev::Role::kTreasurer, "SZ-FIN", reviewer_holder));
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ASSERT_TRUE(SubmitApprove(App("pay", firm, "2", "standard", 1'000'000 * kYuan)));
  ASSERT_TRUE(Grant("pay", 100 * kYuan));
  ExpectRefused("self-treasurer", ev::PayoutDisbursed{"pay", 100, "BANK-1"}, "sod.award_pay");
  ASSERT_TRUE(Ok("treasurer", ev::PayoutDisbursed{"pay", 100, "BANK-2"}));
  ExpectRefused("self-treasurer", ev::PayoutReversed{"pay", 100, "returned"}, "sod.award_pay");
}

// The same person registered twice by admins who spelt the name differently (case, spaces,
// full-width forms as typed with a Chinese input method) is still one person.
TEST_F(RulesTest, OnePersonRegisteredUnderAnotherSpellingCannotApproveTheirOwnApplication) {
  ASSERT_TRUE(Fund("2", kYear, 10'000'000 * kYuan));
  ASSERT_TRUE(AddKey("wang-clerk", 211, ev::Role::kClerk, "SZ-STIB", "Wang Fang"));
  ASSERT_TRUE(AddKey("wang-reviewer", 212, ev::Role::kReviewer, "SZ-STIB", " WANG  FANG "));
  ASSERT_TRUE(AddKey("wang-fullwidth", 213, ev::Role::kReviewer, "SZ-STIB",
                     "\xef\xbc\xb7\xef\xbd\x81\xef\xbd\x8e\xef\xbd\x87\xe3\x80\x80"
                     "Fang"));
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ASSERT_TRUE(Ok("wang-clerk", App("wf", firm, "2", "standard", 1'000'000 * kYuan)));
  ExpectRefused("wang-reviewer", ev::ApplicationApproved{"wf", "fine"}, "sod.submit_approve");
  ExpectRefused("wang-fullwidth", ev::ApplicationApproved{"wf", "fine"}, "sod.submit_approve");
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", ev::ApplicationApproved{"wf", "ok"}));
  ExpectRefused("wang-reviewer", Award("wf", 100 * kYuan), "sod.submit_approve");
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", Award("wf", 100 * kYuan)));
  ASSERT_TRUE(AddKey("reviewer-as-treasurer", 215, ev::Role::kTreasurer, "SZ-FIN",
                     "HOLDER REVIEWER:SZ-STIB"));
  ExpectRefused("reviewer-as-treasurer", ev::PayoutDisbursed{"wf", 100, "BANK-1"}, "sod.award_pay");
  // Another person entirely still pays; a name that only contains the other is another name.
  ASSERT_TRUE(AddKey("wang-fangfang", 216, ev::Role::kTreasurer, "SZ-FIN", "Wang Fangfang"));
  EXPECT_TRUE(Ok("wang-fangfang", ev::PayoutDisbursed{"wf", 100, "BANK-2"}));
  // A holder that normalises to nothing names nobody.
  keys_["blank"] = std::make_unique<ev::PrivateKey>(testutil::TestKey(217));
  Status blank = Do("admin", ev::KeyRegistered{Key("blank").public_key(), ev::Role::kClerk,
                                               "SZ-STIB", "  \xe3\x80\x80 "});
  EXPECT_TRUE(blank.IsInvalidArgument()) << blank.ToString();
}

TEST(NormalizeHolderTest, CaseWhiteSpaceAndCompatibilityFormsGiveOneForm) {
  EXPECT_EQ(pj::NormalizeHolder("Li Na"), "li na");
  EXPECT_EQ(pj::NormalizeHolder("  LI \t  NA\n"), "li na");
  // Full-width letters and the ideographic space (NFKC), a no-break space.
  EXPECT_EQ(pj::NormalizeHolder("\xef\xbc\xac\xef\xbd\x89\xe3\x80\x80\xef\xbc\xae\xef\xbd\x81"),
            "li na");
  EXPECT_EQ(pj::NormalizeHolder("Li\xc2\xa0Na"), "li na");
  // Composed and decomposed accents; full case folding (sharp s); a zero-width space is dropped.
  EXPECT_EQ(pj::NormalizeHolder("Jos\xc3\xa9"), pj::NormalizeHolder("JOSE\xcc\x81"));
  EXPECT_EQ(pj::NormalizeHolder("Stra\xc3\x9f"
                                "e"),
            pj::NormalizeHolder("STRASSE"));
  EXPECT_EQ(pj::NormalizeHolder("Li\xe2\x80\x8bNa"), "lina");
  // Chinese names are kept; different names stay different.
  EXPECT_EQ(pj::NormalizeHolder("\xe6\x9d\x8e\xe5\xa8\x9c"), "\xe6\x9d\x8e\xe5\xa8\x9c");
  EXPECT_NE(pj::NormalizeHolder("Li Na"), pj::NormalizeHolder("Li Nan"));
  EXPECT_NE(pj::NormalizeHolder("Li Na"), pj::NormalizeHolder("LiNa"));
  EXPECT_EQ(pj::NormalizeHolder(" \t "), "");
  // Deterministic: the same input, the same bytes.
  EXPECT_EQ(pj::NormalizeHolder("Wang Fang"), pj::NormalizeHolder("Wang Fang"));
}

// Only an admin (or the authority) registers and revokes keys: with none left, the ledger
// could never register a key again.
TEST_F(RulesTest, RevokingTheLastAdminOrAuthorityKeyIsRefused) {
  ASSERT_TRUE(Ok("admin", ev::KeyRevoked{Key("authority").key_id(), "authority key retired"}));
  ExpectRefused("admin", ev::KeyRevoked{Key("admin").key_id(), "leaving"}, "key.last_admin");
  ASSERT_TRUE(AddKey("admin2", 221, ev::Role::kAdmin, "LEDGER-ADMIN", "second admin"));
  ASSERT_TRUE(Ok("admin2", ev::KeyRevoked{Key("admin").key_id(), "leaving"}));
  ExpectRefused("admin2", ev::KeyRevoked{Key("admin2").key_id(), "leaving too"}, "key.last_admin");
  // Other keys are revoked as before, and the remaining admin still registers keys.
  EXPECT_TRUE(Ok("admin2", ev::KeyRevoked{Key("clerk:SZ-STIB").key_id(), "moved"}));
  keys_["admin3"] = std::make_unique<ev::PrivateKey>(testutil::TestKey(222));
  EXPECT_TRUE(Ok("admin2", ev::KeyRegistered{Key("admin3").public_key(), ev::Role::kAdmin,
                                             "LEDGER-ADMIN", "third"}));
}

// The authority alone may go only while an admin remains.
TEST_F(RulesTest, TheAuthorityCannotRevokeItselfAsTheLastAdminRight) {
  ASSERT_TRUE(Ok("authority", ev::KeyRevoked{Key("admin").key_id(), "replaced"}));
  ExpectRefused("authority", ev::KeyRevoked{Key("authority").key_id(), "retiring"},
                "key.last_admin");
}

TEST_F(RulesTest, RevokedKeyIsRefused) {
  ASSERT_TRUE(Fund("4", kYear, 10'000'000 * kYuan));
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ASSERT_TRUE(Ok("admin", ev::KeyRevoked{Key("clerk:SZ-MIIT").key_id(), "left the bureau"}));
  ExpectRefused("clerk:SZ-MIIT", App("revoked", firm, "4", "voucher", 1'000'000 * kYuan), "key.revoked");
  ExpectRefused("admin", ev::KeyRevoked{Key("clerk:SZ-MIIT").key_id(), "again"}, "key.revoked");
  ASSERT_TRUE(Ok("admin", ev::KeyRevoked{Key("reviewer:SZ-MIIT").key_id(), "left the bureau"}));
  ASSERT_TRUE(Ok("admin", ev::KeyRegistered{testutil::TestKey(203).public_key(), ev::Role::kClerk, "SZ-MIIT", "new clerk"}));
  keys_["new-clerk"] = std::make_unique<ev::PrivateKey>(testutil::TestKey(203));
  ASSERT_TRUE(Ok("new-clerk", App("fresh", firm, "4", "voucher", 1'000'000 * kYuan)));
  ExpectRefused("reviewer:SZ-MIIT", ev::ApplicationApproved{"fresh", "ok"}, "key.revoked");
  EXPECT_TRUE(Ok("reviewer2:SZ-MIIT", ev::ApplicationApproved{"fresh", "ok"}));
}

// ---------------------------------------------------------------- double claims

TEST_F(RulesTest, OneEvidenceDigestBacksOneAwardAcrossMeasures) {
  ASSERT_TRUE(Fund("2", kYear, 10'000'000 * kYuan));
  ASSERT_TRUE(Fund("4", kYear, 10'000'000 * kYuan));
  const ev::Hash contract = Digest("compute rental contract 2025-001");
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ev::ApplicationSubmitted compute = App("compute", firm, "2", "standard", 1'000'000 * kYuan);
  compute.evidence = {contract};
  ASSERT_TRUE(SubmitApprove(compute));
  ASSERT_TRUE(Grant("compute", 100 * kYuan));
  ev::ApplicationSubmitted model = App("model", firm, "4", "voucher", 1'000'000 * kYuan);
  model.evidence = {Digest("another contract"), contract};
  ExpectRefused("clerk:SZ-MIIT", model, "evidence.double_claim");
}

TEST_F(RulesTest, PendingApplicationsSharingEvidenceGetOneAward) {
  ASSERT_TRUE(Fund("2", kYear, 10'000'000 * kYuan));
  ASSERT_TRUE(Fund("4", kYear, 10'000'000 * kYuan));
  const ev::Hash contract = Digest("shared contract");
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ev::ApplicationSubmitted first = App("first", firm, "2", "standard", 1'000'000 * kYuan);
  ev::ApplicationSubmitted second = App("second", firm, "4", "voucher", 1'000'000 * kYuan);
  first.evidence = {contract};
  second.evidence = {contract};
  ASSERT_TRUE(SubmitApprove(first));
  ASSERT_TRUE(SubmitApprove(second));  // nothing awarded yet: not a claim
  ASSERT_TRUE(Grant("first", 100 * kYuan));
  auto [max, rule] = LimitOrZero("second");
  EXPECT_EQ(max, 0);
  EXPECT_EQ(rule, "evidence.double_claim");
  ExpectRefused("reviewer:SZ-MIIT", Award("second", 1), "evidence.double_claim");
  // Wholly revoking the first award frees the contract.
  ASSERT_TRUE(Ok("reviewer:SZ-STIB", ev::AwardRevoked{"first", 100 * kYuan, "withdrawn"}));
  EXPECT_TRUE(Grant("second", 100 * kYuan));
}

// ---------------------------------------------------------------- the term

TEST_F(RulesTest, ApplicationsCloseWithTheTermButInTermApplicationsMayStillBePaid) {
  ASSERT_EQ(ShenzhenPolicy().term_end, "2026-12-17");
  ASSERT_TRUE(Fund("4", 2026, 10'000'000 * kYuan));
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ASSERT_TRUE(Ok("clerk:SZ-MIIT", App("last-day", firm, "4", "voucher", 1'000'000 * kYuan, 2026),
                 At("2026-12-17T23:59:00")));
  ExpectRefused("clerk:SZ-MIIT", App("late", firm, "4", "voucher", 1'000'000 * kYuan, 2026), "term.closed",
                At("2026-12-18T10:00:00"));
  ASSERT_TRUE(Ok("reviewer:SZ-MIIT", ev::ApplicationApproved{"last-day", "ok"}, At("2026-12-18T11:00:00")));
  ASSERT_TRUE(Ok("reviewer:SZ-MIIT", Award("last-day", 1000 * kYuan), At("2026-12-18T11:30:00")));
  EXPECT_TRUE(Ok("treasurer", ev::PayoutDisbursed{"last-day", 1000 * kYuan, "BANK"}, At("2027-01-05T10:00:00")));
}

TEST_F(RulesTest, FiscalYearsOutsideTheTermAreRefused) {
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ExpectRefused("clerk:SZ-MIIT", App("y2027", firm, "4", "voucher", 1'000'000 * kYuan, 2027), "term.closed");
  ExpectRefused("clerk:SZ-MIIT", App("y2023", firm, "4", "voucher", 1'000'000 * kYuan, 2023), "term.closed");
  EXPECT_TRUE(Submit(App("y2024", firm, "4", "voucher", 1'000'000 * kYuan, 2024)));
}

// ---------------------------------------------------------------- ids and retries

TEST_F(RulesTest, UnknownMeasuresTracksAndMeasuresWithoutMoneyAreRefused) {
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ev::ApplicationSubmitted a = App("x", firm, "2", "standard", 1'000'000 * kYuan);
  a.track = "premium";
  ExpectRefused("clerk:SZ-STIB", a, "track.unknown");
  a.measure = "14";
  ExpectRefused("clerk:SZ-STIB", a, "measure.unknown");
  a.measure = "1";
  ASSERT_FALSE(MeasureOf("1").money_rule);
  ExpectRefused("clerk:SZ-STIB", a, "measure.no_money");
  ExpectRefused("treasurer", ev::BudgetAllocated{"1", kYear, 100, "city"}, "measure.no_money");
  ExpectRefused("treasurer", ev::BudgetAllocated{"14", kYear, 100, "city"}, "measure.unknown");
}

TEST_F(RulesTest, IdempotentRetryReturnsTheFirstSeqAndOtherContentIsAConflict) {
  ASSERT_TRUE(Fund("2", kYear, 10'000'000 * kYuan));
  ledger::AppendRequest request{ev::BudgetAllocated{"2", kYear, 500 * kYuan, "city"}, "alloc-2025-batch-7"};
  auto first = ledger_->Append(Key("treasurer"), std::span(&request, 1), NextAt(), FixedClockMs());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const pj::Hash after_first = Hash();
  clock_ms_ += 60'000;
  auto retry = ledger_->Append(Key("treasurer"), std::span(&request, 1), NextAt(), FixedClockMs());
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_TRUE(retry->front().replayed);
  EXPECT_EQ(retry->front().seq, first->front().seq);
  EXPECT_EQ(Hash(), after_first);
  EXPECT_EQ(MeasureYearRow("2", kYear).AllocatedFen(), 10'000'000 * kYuan + 500 * kYuan);
  ledger::AppendRequest other{ev::BudgetAllocated{"2", kYear, 501 * kYuan, "city"}, "alloc-2025-batch-7"};
  auto conflict = ledger_->Append(Key("treasurer"), std::span(&other, 1), NextAt(), FixedClockMs());
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().rule(), "idempotency.conflict");
  EXPECT_EQ(Hash(), after_first);
  // The same body under the same key from another signer is other content too.
  auto other_signer =
      ledger_->Append(Key("treasurer2"), std::span(&request, 1), NextAt(), FixedClockMs());
  ASSERT_FALSE(other_signer.ok());
  EXPECT_EQ(other_signer.status().rule(), "idempotency.conflict");
}

// ---------------------------------------------------------------- MaxAward's contract

// projections.h: MaxAward is "kRejected if no award is possible at all (state, ...)". An
// application that is only submitted, or already awarded, cannot be awarded.
TEST_F(RulesTest, MaxAwardRefusesAnApplicationNotAwaitingAnAward) {
  ASSERT_TRUE(Fund("4", kYear, 10'000'000 * kYuan));
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise);
  ASSERT_TRUE(Submit(App("submitted", firm, "4", "voucher", 1'000'000 * kYuan)));
  Result<pj::AwardLimit> submitted = Limit("submitted");
  EXPECT_FALSE(submitted.ok()) << "MaxAward quoted " << (submitted.ok() ? submitted->max_fen : 0)
                               << " fen for an application that is not approved";
  if (!submitted.ok()) {
    EXPECT_TRUE(submitted.status().IsRejected());
    EXPECT_EQ(submitted.status().rule(), "state.transition");
  }
  ASSERT_TRUE(Ok("reviewer:SZ-MIIT", ev::ApplicationApproved{"submitted", "ok"}));
  ASSERT_TRUE(Limit("submitted").ok());
  ASSERT_TRUE(Grant("submitted", 100));
  Result<pj::AwardLimit> awarded = Limit("submitted");
  EXPECT_FALSE(awarded.ok()) << "MaxAward quoted " << (awarded.ok() ? awarded->max_fen : 0)
                             << " fen for an application already awarded";
  Result<pj::AwardLimit> unknown = Limit("no-such-application");
  EXPECT_FALSE(unknown.ok());
}

// ---------------------------------------------------------------- CheckPolicy

class CheckPolicyTest : public ::testing::Test {
 protected:
  static ev::Policy Copy() { return ShenzhenPolicy(); }
  // The first track of measure `measure_id` (in the copy).
  static ev::Track& FirstTrack(ev::Policy* p, const std::string& measure_id) {
    for (ev::Measure& m : p->measures) {
      if (m.id == measure_id) return m.tracks.front();
    }
    LEDGER_CHECK(false) << "no measure " << measure_id;
    return p->measures.front().tracks.front();
  }
  static void ExpectRefusedPolicy(const ev::Policy& p, const std::string& what) {
    Status s = pj::CheckPolicy(p);
    EXPECT_TRUE(s.IsInvalidArgument()) << what << ": " << s.ToString();
  }
};

TEST_F(CheckPolicyTest, ShippedPolicyPasses) {
  Status s = pj::CheckPolicy(ShenzhenPolicy());
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(CheckPolicyTest, NegativeOrZeroCapIsRefused) {
  ev::Policy p = Copy();
  FirstTrack(&p, "2").caps.front().amount_fen = -1;
  ExpectRefusedPolicy(p, "negative cap");
  FirstTrack(&p, "2").caps.front().amount_fen = 0;
  ExpectRefusedPolicy(p, "zero cap");
  ev::Policy q = Copy();
  for (ev::Measure& m : q.measures) {
    if (m.id == "2") m.annual_budget_cap_fen = -5;
  }
  ExpectRefusedPolicy(q, "negative annual budget cap");
}

TEST_F(CheckPolicyTest, RateOverOneHundredPercentIsRefused) {
  ev::Policy p = Copy();
  FirstTrack(&p, "2").rate_ceiling_bp = 10001;
  ExpectRefusedPolicy(p, "rate 100.01%");
  FirstTrack(&p, "2").rate_ceiling_bp = 10000;
  EXPECT_TRUE(pj::CheckPolicy(p).ok()) << "100% is allowed (measure 12 matching)";
}

TEST_F(CheckPolicyTest, TrackWithoutCapsIsRefusedUnlessBoundedByItsBasis) {
  ev::Policy p = Copy();
  FirstTrack(&p, "2").caps.clear();
  ExpectRefusedPolicy(p, "rated track without caps");
  ev::Policy merit = Copy();
  ev::Track& sharing = merit.measures[2].tracks[1];
  ASSERT_EQ(sharing.id, "sharing");
  ASSERT_TRUE(sharing.IsMerit());
  sharing.caps.clear();
  sharing.bounded_by_basis_only = true;
  ExpectRefusedPolicy(merit, "merit track without caps claiming a basis bound");
  ev::Policy bounded = Copy();
  FirstTrack(&bounded, "2").caps.clear();
  FirstTrack(&bounded, "2").bounded_by_basis_only = true;
  EXPECT_TRUE(pj::CheckPolicy(bounded).ok());
}

TEST_F(CheckPolicyTest, DuplicateMeasureIdsAreRefused) {
  ev::Policy p = Copy();
  ASSERT_GE(p.measures.size(), 4u);
  p.measures[3].id = p.measures[2].id;
  ExpectRefusedPolicy(p, "duplicate measure id");
}

TEST_F(CheckPolicyTest, DuplicateTrackIdsAreRefused) {
  ev::Policy p = Copy();
  for (ev::Measure& m : p.measures) {
    if (m.id == "2") {
      ASSERT_GE(m.tracks.size(), 2u);
      m.tracks[1].id = m.tracks[0].id;
    }
  }
  ExpectRefusedPolicy(p, "duplicate track id");
  // The same track id in two measures is fine (ids are unique within a measure).
  ev::Policy q = Copy();
  FirstTrack(&q, "4").id = FirstTrack(&q, "2").id;
  EXPECT_TRUE(pj::CheckPolicy(q).ok());
}

class PublishPolicyTest : public RulesTest {};

TEST_F(PublishPolicyTest, MalformedPolicyIsNotPublished) {
  ev::Policy p = ShenzhenPolicy();
  p.version = "1.0.1";
  p.measures[1].tracks[0].rate_ceiling_bp = 20000;
  pj::Hash before = Hash();
  Status s = Do("admin", ev::PolicyPublished{p, "2025-06-01"});
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(Hash(), before);
  // A clerk may not publish even a good one; the admin may.
  p.measures[1].tracks[0].rate_ceiling_bp = 4000;
  ExpectRefused("clerk:SZ-STIB", ev::PolicyPublished{p, "2025-06-01"}, "role");
  EXPECT_TRUE(Ok("admin", ev::PolicyPublished{p, "2025-06-01"}));
}

// ---------------------------------------------------------------- what the writer decides

class ResolveTest : public CoFundingTest {
 protected:
  // Appends `body` signed by `signer`, leaving to the writer what `defaults` names.
  Result<ledger::AppendResult> AppendWith(const std::string& signer, ev::Body body,
                                          pj::Defaults defaults) {
    clock_ms_ += 60'000;
    ledger::AppendRequest request{std::move(body), "", defaults};
    LEDGER_ASSIGN_OR_RETURN(auto results, ledger_->Append(Key(signer), std::span(&request, 1),
                                                          clock_ms_, testutil::FixedClockMs()));
    return results.front();
  }
  static pj::Defaults MaxAndSplit() {
    pj::Defaults d;
    d.award_max = true;
    d.award_split = true;
    return d;
  }
};

TEST_F(ResolveTest, AwardMaxIsMaxAwardSplitAsThePolicySaysDecidedByTheWriter) {
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise, "futian");
  ASSERT_TRUE(SubmitApprove(App("mig", firm, "10", "migration", 1'000'000 * kYuan + 3)));
  Result<pj::AwardLimit> limit = Limit("mig");
  ASSERT_TRUE(limit.ok()) << limit.status().ToString();
  auto result =
      AppendWith("reviewer:SZ-MIIT", ev::AwardGranted{"mig", 0, 0, 0, "scored"}, MaxAndSplit());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_NE(result->note.find(limit->binding_rule), std::string::npos) << result->note;
  const pj::Application& app = Application("mig");
  EXPECT_EQ(app.granted_fen, limit->max_fen);
  EXPECT_EQ(app.city_fen, limit->city_fen);
  EXPECT_EQ(app.district_fen, limit->district_fen);
  EXPECT_NE(app.city_fen, 0);
  EXPECT_NE(app.district_fen, 0);
}

TEST_F(ResolveTest, AwardMaxWithAClerkKeyIsRefusedForTheRoleNotForACap) {
  // Nanshan has no district allocation: the maximum is nothing, a refusal of its own.
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise, "nanshan");
  ASSERT_TRUE(SubmitApprove(App("mig", firm, "10", "migration", 1'000'000 * kYuan)));
  const pj::Hash before = Hash();
  auto result =
      AppendWith("clerk:SZ-MIIT", ev::AwardGranted{"mig", 0, 0, 0, "scored"}, MaxAndSplit());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().rule(), "role") << result.status().ToString();
  EXPECT_EQ(Hash(), before);
}

TEST_F(ResolveTest, AwardMaxOfAnExhaustedPoolIsRefusedNamingThePool) {
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise, "futian");
  ASSERT_TRUE(SubmitApprove(App("mig", firm, "10", "migration", 1'000'000 * kYuan)));
  std::string other = NewRecipient(ev::RecipientKind::kEnterprise, "nanshan");
  // Nanshan has no district allocation: nothing can be awarded to its firm.
  ASSERT_TRUE(SubmitApprove(App("mig-n", other, "10", "migration", 1'000'000 * kYuan)));
  auto result =
      AppendWith("reviewer:SZ-MIIT", ev::AwardGranted{"mig-n", 0, 0, 0, "scored"}, MaxAndSplit());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().rule(), "pool.exhausted") << result.status().ToString();
}

TEST_F(ResolveTest, RevokeWithoutAnAmountRevokesAllThatIsUnpaid) {
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise, "futian");
  ASSERT_TRUE(SubmitApprove(App("mig", firm, "10", "migration", 1'000'000 * kYuan)));
  ASSERT_TRUE(Grant("mig", 200'000 * kYuan));
  ASSERT_TRUE(Ok("treasurer", ev::PayoutDisbursed{"mig", 50'000 * kYuan, "SZFIN-1"}));
  pj::Defaults unpaid;
  unpaid.revoke_unpaid = true;
  auto result = AppendWith("reviewer:SZ-MIIT", ev::AwardRevoked{"mig", 0, "withdrawn"}, unpaid);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(Application("mig").revoked_fen, 150'000 * kYuan);
  EXPECT_EQ(Application("mig").UnpaidFen(), 0);
}

TEST_F(ResolveTest, ApplyWithoutATrackTakesTheMeasuresOnlyTrackAndItsBasisKind) {
  const ev::Measure& m = MeasureOf("10");
  ASSERT_EQ(m.tracks.size(), 1u) << "the test needs a measure with one track";
  std::string firm = NewRecipient(ev::RecipientKind::kEnterprise, "futian");
  ev::ApplicationSubmitted a = App("mig", firm, "10", "migration", 1'000'000 * kYuan);
  a.track.clear();
  a.basis_kind.clear();
  pj::Defaults track;
  track.apply_track = true;
  auto result = AppendWith(Clerk("10"), a, track);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(Application("mig").submitted.track, m.tracks[0].id);
  EXPECT_EQ(Application("mig").submitted.basis_kind, m.tracks[0].basis_kind);
}

}  // namespace
}  // namespace fundledger
