// Goal: random but seeded sequences of operations (registrations, allocations, applications,
// decisions, awards including over the limit, revocations, payouts including too much, reversals,
// all-or-nothing batches) pushed through Ledger::Append never break a money rule: every refusal
// leaves the state exactly as it was (StateHash), and afterwards every cap of every scope, every
// pool and every payout — recomputed here independently from the applications — holds; the
// ledger's aggregates agree with the applications; Rebuild() finds no differing row; a reopened
// ledger has the same state; and folding every prefix 1..k with projections::Apply from an empty
// state gives the state the ledger had right after entry k (STYLE.md §7: seed printed with
// SCOPED_TRACE, overridable by LEDGER_TEST_SEED).
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
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
using testutil::Digest;
using testutil::FixedClockMs;
using testutil::LedgerFixture;
using testutil::ShenzhenPolicy;
using testutil::Uscc;

constexpr int64_t kYuan = ev::kFenPerYuan;

uint64_t TestSeed() {
  if (const char* env = std::getenv("LEDGER_TEST_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return 20241218;
}

const std::vector<std::string>& Districts() {
  static const std::vector<std::string>* d = new std::vector<std::string>{"nanshan", "futian", "luohu"};
  return *d;
}

// Every (measure, track) of the policy that grants money.
std::vector<std::pair<const ev::Measure*, const ev::Track*>> MoneyTracks() {
  std::vector<std::pair<const ev::Measure*, const ev::Track*>> out;
  for (const ev::Measure& m : ShenzhenPolicy().measures) {
    if (!m.money_rule) continue;
    for (const ev::Track& t : m.tracks) out.emplace_back(&m, &t);
  }
  return out;
}

class PropertyTest : public LedgerFixture {
 protected:
  struct Op {
    std::string label;   // "award", "pay", ...
    std::string signer;  // a fixture key name
    std::vector<ledger::AppendRequest> requests;
  };

  void Seed(uint64_t seed) { rng_.seed(seed); }

  int64_t Uniform(int64_t lo, int64_t hi) {
    if (hi < lo) hi = lo;
    std::uniform_int_distribution<int64_t> d(lo, hi);
    return d(rng_);
  }
  bool Chance(int percent) { return Uniform(0, 99) < percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    LEDGER_CHECK(!items.empty());
    return items[static_cast<size_t>(Uniform(0, static_cast<int64_t>(items.size()) - 1))];
  }

  // A random money track; co-funded measures (one of the policy's twelve) get extra weight so
  // their two-pool arithmetic is exercised.
  const std::pair<const ev::Measure*, const ev::Track*>& PickTrack() {
    if (Chance(15)) {
      std::vector<std::pair<const ev::Measure*, const ev::Track*>> co;
      for (const auto& mt : tracks_) {
        if (mt.first->co_funded) co.push_back(mt);
      }
      if (!co.empty()) {
        const auto& chosen = Pick(co);
        for (const auto& mt : tracks_) {
          if (mt == chosen) return mt;
        }
      }
    }
    return Pick(tracks_);
  }

  // Pointers into a snapshot of the rows, valid until the next call.
  std::vector<const pj::Application*> AppsWhere(bool (*pred)(const pj::Application&)) const {
    std::vector<const pj::Application*> out;
    snapshot_ = testutil::WholeState(*ledger_);
    for (const auto& [key, app] : snapshot_.applications) {
      if (pred(app)) out.push_back(&app);
    }
    return out;
  }

  // ---- generators: mostly valid operations, and some just past validity ----

  Op Register() {
    uint32_t n = static_cast<uint32_t>(Uniform(1, 40));
    ev::RecipientRegistered r;
    r.recipient_id = Uscc(n);
    r.name = "recipient " + std::to_string(n);
    r.kind = static_cast<ev::RecipientKind>(Uniform(0, ev::kRecipientKindCount - 1));
    r.district = Pick(Districts());
    if (Chance(30)) r.related_parties.push_back(Uscc(static_cast<uint32_t>(Uniform(1, 40))));
    return {"register", "clerk:SZ-STIB", {{r, ""}}};
  }

  Op Allocate() {
    const auto& [m, t] = PickTrack();
    ev::BudgetAllocated b;
    b.measure = m->id;
    b.fiscal_year = static_cast<uint16_t>(Chance(85) ? 2025 : Chance(70) ? 2026 : 2027);
    b.source = "city";
    if (m->co_funded && Chance(50)) b.source = Pick(Districts());
    // Mostly fund what an approved application waits for (its measure, year and district).
    auto waiting = AppsWhere([](const pj::Application& a) { return a.state == pj::AppState::kApproved; });
    if (!waiting.empty() && Chance(60)) {
      const pj::Application* app = Pick(waiting);
      const ev::Measure* wm = ShenzhenPolicy().FindMeasure(app->submitted.measure);
      b.measure = wm->id;
      b.fiscal_year = app->submitted.fiscal_year;
      b.source = wm->co_funded && Chance(50) ? app->district : "city";
      b.amount_fen = Uniform(1, 4'000'000 * kYuan);
      return {"allocate", "treasurer", {{b, ""}}};
    }
    if (!m->co_funded && Chance(4)) b.source = "nanshan";
    b.amount_fen = Chance(5) && m->annual_budget_cap_stated ? m->annual_budget_cap_fen : Uniform(1, 4'000'000 * kYuan);
    return {"allocate", Chance(80) ? "treasurer" : "admin", {{b, ""}}};
  }

  Op Submit() {
    const pj::LedgerState s = testutil::WholeState(*ledger_);
    if (s.recipients.empty()) return Register();
    const auto& [m, t] = PickTrack();
    // Prefer a recipient of an eligible kind.
    std::vector<const pj::Recipient*> eligible, all;
    for (const auto& [key, r] : s.recipients) {
      all.push_back(&r);
      if (std::find(t->eligible_kinds.begin(), t->eligible_kinds.end(), r.info.kind) != t->eligible_kinds.end()) {
        eligible.push_back(&r);
      }
    }
    const pj::Recipient* r = !eligible.empty() && Chance(85) ? Pick(eligible) : Pick(all);
    ev::ApplicationSubmitted a;
    a.application_id = Chance(2) && !s.applications.empty() ? s.applications.begin()->second.submitted.application_id
                                                             : "A" + std::to_string(++next_app_);
    a.recipient_id = Chance(2) ? Uscc(999) : r->info.recipient_id;
    a.measure = m->id;
    a.track = t->id;
    a.fiscal_year = static_cast<uint16_t>(Chance(80) ? 2025 : 2026);
    if (!t->IsMerit()) {
      int64_t cap = 0;
      for (const ev::Cap& c : t->caps) cap = cap == 0 ? c.amount_fen : std::min(cap, c.amount_fen);
      int64_t top = cap > 0 ? cap / t->rate_ceiling_bp * 10000 * 2 : 5'000'000 * kYuan;
      a.basis_fen = Uniform(1, top);
      a.basis_kind = Chance(3) ? "wrong_kind" : t->basis_kind;
    }
    std::map<std::string, std::string> attrs;
    for (const ev::AttributeRule& rule : t->required_attributes) {
      switch (rule.test) {
        case ev::AttributeTest::kEquals:
        case ev::AttributeTest::kOneOf:
          attrs[rule.key] = Pick(rule.values);
          break;
        case ev::AttributeTest::kPresent:
          attrs[rule.key] = "P" + std::to_string(Uniform(1, 4));
          break;
        case ev::AttributeTest::kNotRelatedParty:
          attrs[rule.key] = Uscc(static_cast<uint32_t>(Uniform(1, 60)));  // sometimes a related party
          break;
      }
    }
    if (!attrs.empty() && Chance(8)) {
      auto it = attrs.begin();
      std::advance(it, Uniform(0, static_cast<int64_t>(attrs.size()) - 1));
      if (Chance(50)) {
        attrs.erase(it);
      } else {
        it->second = "fair";
      }
    }
    for (const auto& [key, value] : attrs) a.attributes.push_back({key, value});
    if (!Chance(4)) a.evidence.push_back(Digest("contract " + std::to_string(Uniform(0, 150))));
    std::string unit = Chance(93) ? Pick(m->units) : Pick(ShenzhenPolicy().units).code;
    return {"submit", "clerk:" + unit, {{a, ""}}};
  }

  Op Decide() {
    auto apps = AppsWhere([](const pj::Application& a) { return a.state == pj::AppState::kSubmitted; });
    if (apps.empty()) return Submit();
    const pj::Application* app = Pick(apps);
    const ev::Measure* m = ShenzhenPolicy().FindMeasure(app->submitted.measure);
    std::string unit = Chance(95) ? Pick(m->units) : "SZ-FIN";
    std::string signer = (Chance(50) ? "reviewer:" : "reviewer2:") + unit;
    if (Chance(82)) return {"approve", signer, {{ev::ApplicationApproved{app->submitted.application_id, "ok"}, ""}}};
    return {"reject", signer, {{ev::ApplicationRejected{app->submitted.application_id, "below threshold"}, ""}}};
  }

  Op Award() {
    auto apps = AppsWhere([](const pj::Application& a) { return a.state == pj::AppState::kApproved; });
    if (apps.empty()) {
      apps = AppsWhere([](const pj::Application& a) { return a.state == pj::AppState::kAwarded; });
      if (apps.empty() || Chance(70)) return Decide();
    }
    const pj::Application* app = Pick(apps);
    const ev::Measure* m = ShenzhenPolicy().FindMeasure(app->submitted.measure);
    auto limit = pj::MaxAward(ledger_->view(), app->submitted.application_id, clock_ms_ + 60'000);
    int64_t max = limit.ok() ? limit->max_fen : 0;
    if (max == 0 && Chance(60)) return Allocate();
    int64_t amount = 0;
    int64_t roll = Uniform(0, 99);
    if (roll < 35) {
      amount = max;
    } else if (roll < 50) {
      amount = max + 1;
    } else if (roll < 75) {
      amount = Uniform(1, max);
    } else if (roll < 85) {
      amount = Uniform(max + 1, 2 * max + 1000);
    } else {
      amount = max / 2;
    }
    amount = std::max<int64_t>(1, amount);
    ev::AwardGranted g;
    g.application_id = app->submitted.application_id;
    g.amount_fen = amount;
    pj::SplitAward(*m, amount, &g.city_fen, &g.district_fen);
    if (Chance(4)) {
      if (g.district_fen > 0) {
        ++g.city_fen;
        --g.district_fen;
      } else {
        --g.city_fen;
        ++g.district_fen;
      }
    }
    g.justification = Chance(96) ? "scored against the guide" : "";
    std::string signer = (Chance(50) ? "reviewer:" : "reviewer2:") + Pick(m->units);
    return {"award", signer, {{g, ""}}};
  }

  static bool Awarded(const pj::Application& a) { return a.state == pj::AppState::kAwarded; }

  Op Revoke() {
    auto apps = AppsWhere([](const pj::Application& a) { return Awarded(a) && a.NetAwardFen() > 0; });
    if (apps.empty()) return Award();
    const pj::Application* app = Pick(apps);
    const ev::Measure* m = ShenzhenPolicy().FindMeasure(app->submitted.measure);
    int64_t unpaid = app->UnpaidFen();
    int64_t amount = unpaid > 0 && Chance(70) ? (Chance(30) ? unpaid : Uniform(1, unpaid)) : unpaid + 1;
    return {"revoke", "reviewer:" + Pick(m->units), {{ev::AwardRevoked{app->submitted.application_id, amount, "audit finding"}, ""}}};
  }

  Op Pay(bool allow_batches) {
    auto apps = AppsWhere([](const pj::Application& a) { return Awarded(a) && a.UnpaidFen() > 0; });
    if (apps.empty()) return Award();
    const pj::Application* app = Pick(apps);
    int64_t unpaid = app->UnpaidFen();
    std::string signer = Chance(50) ? "treasurer" : "treasurer2";
    const std::string& id = app->submitted.application_id;
    if (allow_batches && Chance(25)) {
      // Instalments in one all-or-nothing append; sometimes together too much.
      Op op{"pay-batch", signer, {}};
      int64_t count = Uniform(2, 3);
      for (int64_t i = 0; i < count; ++i) {
        op.requests.push_back({ev::PayoutDisbursed{id, Uniform(1, unpaid * 3 / 4 + 1), "BANK-" + std::to_string(++reference_)}, ""});
      }
      return op;
    }
    int64_t roll = Uniform(0, 99);
    int64_t amount = roll < 50 ? Uniform(1, unpaid) : roll < 75 ? unpaid : unpaid + Uniform(1, 1000);
    return {"pay", signer, {{ev::PayoutDisbursed{id, amount, "BANK-" + std::to_string(++reference_)}, ""}}};
  }

  Op Reverse() {
    auto apps = AppsWhere([](const pj::Application& a) { return Awarded(a) && a.NetPaidFen() > 0; });
    if (apps.empty()) return Pay(false);
    const pj::Application* app = Pick(apps);
    int64_t paid = app->NetPaidFen();
    int64_t amount = Chance(75) ? Uniform(1, paid) : paid + 1;
    return {"reverse", Chance(50) ? "treasurer" : "treasurer2",
            {{ev::PayoutReversed{app->submitted.application_id, amount, "returned by the bank"}, ""}}};
  }

  Op Generate(bool allow_batches) {
    int64_t roll = Uniform(0, 99);
    if (roll < 8) return Register();
    if (roll < 16) return Allocate();
    if (roll < 38) return Submit();
    if (roll < 52) return Decide();
    if (roll < 70) return Award();
    if (roll < 76) return Revoke();
    if (roll < 93) return Pay(allow_batches);
    return Reverse();
  }

  // Runs `count` operations; checks each refusal leaves the ledger untouched, and records the
  // state hash after each accepted append and every accepted allocation.
  void Run(int count, bool allow_batches) {
    hash_after_[ledger_->size()] = pj::StateHash(testutil::WholeState(*ledger_));
    for (int i = 0; i < count; ++i) {
      Op op = Generate(allow_batches);
      SCOPED_TRACE("operation " + std::to_string(i) + " (" + op.label + ")");
      const pj::Hash before = pj::StateHash(testutil::WholeState(*ledger_));
      const uint64_t size = ledger_->size();
      clock_ms_ += 60'000;
      auto result = ledger_->Append(Key(op.signer), op.requests, clock_ms_, FixedClockMs());
      if (!result.ok()) {
        ASSERT_NE(result.status().code(), StatusCode::kIOError) << result.status().ToString();
        ASSERT_NE(result.status().code(), StatusCode::kCorruption) << result.status().ToString();
        EXPECT_EQ(ledger_->size(), size) << "refused but the ledger grew: " << result.status().ToString();
        EXPECT_EQ(pj::StateHash(testutil::WholeState(*ledger_)), before)
            << "refused but the state changed: " << result.status().ToString();
        ++refused_[result.status().IsRejected() ? result.status().rule() : "invalid-argument"];
        if (op.requests.size() > 1) ++refused_["(whole batches)"];
        continue;
      }
      ASSERT_EQ(result->size(), op.requests.size());
      EXPECT_EQ(ledger_->size(), size + op.requests.size());
      hash_after_[ledger_->size()] = pj::StateHash(testutil::WholeState(*ledger_));
      ++accepted_[op.label];
      for (const ledger::AppendRequest& r : op.requests) {
        if (const auto* b = std::get_if<ev::BudgetAllocated>(&r.body)) {
          allocated_[pj::RowKeyMeasureYear(b->measure, b->fiscal_year)][b->source] += b->amount_fen;
        }
      }
    }
  }

  std::string Summary() const {
    std::string out = "accepted:";
    for (const auto& [label, n] : accepted_) out += " " + label + "=" + std::to_string(n);
    out += "; refused:";
    for (const auto& [rule, n] : refused_) out += " " + rule + "=" + std::to_string(n);
    int co_funded = 0, co_revoked = 0;
    const pj::LedgerState whole = testutil::WholeState(*ledger_);
    for (const auto& [key, app] : whole.applications) {
      const ev::Measure* m = ShenzhenPolicy().FindMeasure(app.submitted.measure);
      if (m == nullptr || !m->co_funded || app.granted_fen == 0) continue;
      ++co_funded;
      if (app.revoked_fen > 0) ++co_revoked;
    }
    out += "; co-funded awards=" + std::to_string(co_funded) + " (revoked in part or whole: " + std::to_string(co_revoked) + ")";
    return out;
  }

  // Every cap, pool and payout rule, recomputed from the applications of the final state.
  void CheckInvariants() {
    const pj::LedgerState s = testutil::WholeState(*ledger_);
    const ev::Policy& policy = ShenzhenPolicy();
    std::map<std::string, int64_t> used, limit;         // cap group -> committed, cap
    std::map<std::string, pj::Totals> my_sum, rty_sum;  // recomputed aggregates
    std::map<std::string, std::pair<int, std::vector<int>>> live_years;  // recipient/track -> period, years
    std::map<std::string, std::string> evidence_owner;
    std::map<std::string, std::map<std::string, int64_t>> net_by_district;  // co-funded measure-year -> district -> net award
    auto totals_of = [](const pj::Application& a) {
      return pj::Totals{a.granted_fen, a.revoked_fen, a.paid_fen, a.reversed_fen};
    };
    auto add = [](pj::Totals* into, const pj::Totals& t) {
      into->granted_fen += t.granted_fen;
      into->revoked_fen += t.revoked_fen;
      into->paid_fen += t.paid_fen;
      into->reversed_fen += t.reversed_fen;
    };
    for (const auto& [key, app] : s.applications) {
      SCOPED_TRACE(key);
      const ev::ApplicationSubmitted& a = app.submitted;
      const ev::Measure* m = policy.FindMeasure(a.measure);
      ASSERT_NE(m, nullptr);
      const ev::Track* t = m->FindTrack(a.track);
      ASSERT_NE(t, nullptr);
      if (app.state != pj::AppState::kAwarded) {
        EXPECT_EQ(totals_of(app), pj::Totals{}) << "money moved on an application never awarded";
      }
      EXPECT_GE(app.revoked_fen, 0);
      EXPECT_LE(app.revoked_fen, app.granted_fen);
      EXPECT_GE(app.reversed_fen, 0);
      EXPECT_LE(app.reversed_fen, app.paid_fen);
      EXPECT_LE(app.NetPaidFen(), app.NetAwardFen()) << "paid more than the award";
      EXPECT_EQ(app.city_fen + app.district_fen, app.granted_fen);
      int64_t city = 0, district = 0;
      pj::SplitAward(*m, app.granted_fen, &city, &district);
      EXPECT_EQ(app.city_fen, city);
      EXPECT_EQ(app.district_fen, district);
      if (!t->IsMerit()) {
        EXPECT_LE(app.granted_fen, ev::ApplyRateBp(a.basis_fen, t->rate_ceiling_bp)) << "over the rate ceiling";
      } else if (app.granted_fen > 0) {
        EXPECT_FALSE(a.evidence.empty()) << "merit award without evidence";
      }
      const int64_t net = app.NetAwardFen();
      const std::string year = std::to_string(a.fiscal_year);
      for (const ev::Cap& c : t->caps) {
        std::string group;
        switch (c.scope) {
          case ev::CapScope::kPerAward:
            EXPECT_LE(app.granted_fen, c.amount_fen) << "over the per-award cap";
            continue;
          case ev::CapScope::kPerRecipientYear:
            group = "recipient-year/" + a.recipient_id + "/" + m->id + "/" + t->id + "/" + year;
            break;
          case ev::CapScope::kPerRecipientTerm:
            group = "recipient-term/" + a.recipient_id + "/" + m->id + "/" + t->id;
            break;
          case ev::CapScope::kPerProject: {
            const std::string* project = a.FindAttribute("project_id");
            group = "project/" + m->id + "/" + t->id + "/" + (project ? *project : "app:" + a.application_id);
            break;
          }
          case ev::CapScope::kPerRecipientMeasureYear:
            group = "recipient-measure-year/" + a.recipient_id + "/" + m->id + "/" + year;
            break;
        }
        used[group] += net;
        limit[group] = c.amount_fen;
      }
      if (t->period_years > 0 && net > 0) {
        auto& entry = live_years[a.recipient_id + "/" + m->id + "/" + t->id];
        entry.first = t->period_years;
        entry.second.push_back(a.fiscal_year);
      }
      if (net > 0) {
        for (const ev::Hash& digest : a.evidence) {
          auto [it, fresh] = evidence_owner.emplace(ev::Hex(digest), a.application_id);
          EXPECT_TRUE(fresh) << "evidence " << ev::Hex(digest).substr(0, 12) << " backs " << it->second << " and "
                             << a.application_id;
        }
      }
      if (m->co_funded) net_by_district[pj::RowKeyMeasureYear(a.measure, a.fiscal_year)][app.district] += net;
      add(&my_sum[pj::RowKeyMeasureYear(a.measure, a.fiscal_year)], totals_of(app));
      add(&rty_sum[pj::RowKeyRecipientYear(a.recipient_id, a.measure, a.track, a.fiscal_year)], totals_of(app));
    }
    for (const auto& [group, amount] : used) {
      EXPECT_LE(amount, limit[group]) << "cap exceeded: " << group;
      EXPECT_GE(amount, 0) << group;
    }
    for (auto& [group, entry] : live_years) {
      auto& [period, years] = entry;
      std::sort(years.begin(), years.end());
      for (size_t i = 1; i < years.size(); ++i) {
        EXPECT_GE(years[i] - years[i - 1], period) << "two live awards within the period: " << group;
      }
    }
    // Pools: per measure-year and funding source, committed within what was allocated.
    std::set<std::string> my_keys;
    for (const auto& [key, my] : s.measure_years) my_keys.insert(key);
    for (const auto& [key, sum] : my_sum) my_keys.insert(key);
    for (const std::string& key : my_keys) {
      SCOPED_TRACE(key);
      auto it = s.measure_years.find(key);
      ASSERT_NE(it, s.measure_years.end());
      const pj::MeasureYear& my = it->second;
      const std::map<std::string, int64_t>& alloc = allocated_[key];
      int64_t allocated_total = 0;
      for (const auto& [source, amount] : alloc) allocated_total += amount;
      EXPECT_EQ(my.allocated_fen, alloc) << "allocations recorded differ from those accepted";
      EXPECT_LE(my_sum[key].CommittedFen(), allocated_total) << "more awarded than allocated";
      EXPECT_EQ(my.totals, my_sum[key]) << "measure-year totals differ from the applications";
      int64_t committed_sources = 0;
      for (const auto& [source, amount] : my.committed_fen) {
        committed_sources += amount;
        auto a = alloc.find(source);
        EXPECT_GE(amount, 0) << "negative commitment on source " << source;
        EXPECT_LE(amount, a == alloc.end() ? 0 : a->second) << "source " << source << " over its allocation";
      }
      EXPECT_EQ(committed_sources, my_sum[key].CommittedFen());
      // A district pool holds no more than its recipients' net awards, and nothing once they are
      // all revoked.
      for (const auto& [source, amount] : my.committed_fen) {
        if (source == "city") continue;
        int64_t net_awards = net_by_district[key][source];
        EXPECT_LE(amount, net_awards) << "district " << source << " holds more than its recipients' net awards";
        if (net_awards == 0) {
          EXPECT_EQ(amount, 0) << "district " << source << " holds money for revoked awards";
        }
      }
      // The annual cap binds the allocations.
      std::string measure = key.substr(3, key.rfind('/') - 3);
      const ev::Measure* m = policy.FindMeasure(measure);
      ASSERT_NE(m, nullptr);
      if (m->annual_budget_cap_stated) {
        EXPECT_LE(allocated_total, m->annual_budget_cap_fen);
      }
    }
    for (const auto& [key, sum] : rty_sum) {
      auto it = s.recipient_years.find(key);
      // The row appears with the first money moved.
      EXPECT_EQ(it == s.recipient_years.end() ? pj::Totals{} : it->second.totals, sum) << key;
    }
    for (const auto& [key, row] : s.recipient_years) {
      EXPECT_TRUE(rty_sum.count(key)) << "recipient-year row without an application: " << key;
    }
  }

  void RebuildAndReopenAgree() {
    const pj::Hash before = pj::StateHash(testutil::WholeState(*ledger_));
    Result<uint64_t> differing = ledger_->Rebuild();
    ASSERT_TRUE(differing.ok()) << differing.status().ToString();
    EXPECT_EQ(*differing, 0u) << "Rebuild() found rows differing from the stored projections";
    EXPECT_EQ(pj::StateHash(testutil::WholeState(*ledger_)), before);
    Reopen();
    EXPECT_EQ(pj::StateHash(testutil::WholeState(*ledger_)), before)
        << "the reopened ledger has another state";
  }

  std::mt19937_64 rng_;
  std::vector<std::pair<const ev::Measure*, const ev::Track*>> tracks_ = MoneyTracks();
  std::map<std::string, std::map<std::string, int64_t>> allocated_;  // measure-year row key -> source -> fen
  std::map<uint64_t, pj::Hash> hash_after_;                            // seq -> StateHash after it
  std::map<std::string, int> accepted_, refused_;
  mutable pj::LedgerState snapshot_;  // AppsWhere's rows
  int next_app_ = 0;
  int reference_ = 0;
};

TEST_F(PropertyTest, RandomOperationsKeepEveryRuleAndRebuildIdentically) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed));
  Seed(seed);
  ASSERT_NO_FATAL_FAILURE(Run(250, /*allow_batches=*/true));
  std::cerr << "seed " << seed << ": " << Summary() << "\n";
  EXPECT_GE(accepted_["award"], 10) << Summary();
  EXPECT_GE(accepted_["pay"], 5) << Summary();
  EXPECT_GE(refused_.size(), 5u) << Summary();
  CheckInvariants();
  RebuildAndReopenAgree();
}

TEST_F(PropertyTest, RandomOperationsKeepEveryRuleAndRebuildIdenticallySecondSeed) {
  const uint64_t seed = TestSeed() + 1;
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed) + " (the second run uses seed + 1)");
  Seed(seed);
  ASSERT_NO_FATAL_FAILURE(Run(250, /*allow_batches=*/true));
  std::cerr << "seed " << seed << ": " << Summary() << "\n";
  EXPECT_GE(accepted_["award"], 10) << Summary();
  CheckInvariants();
  RebuildAndReopenAgree();
}

TEST_F(PropertyTest, EveryPrefixFoldsToTheStateTheLedgerHadAfterIt) {
  const uint64_t seed = TestSeed() + 2;
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed) + " (the prefix run uses seed + 2)");
  Seed(seed);
  ASSERT_NO_FATAL_FAILURE(Run(120, /*allow_batches=*/false));
  const uint64_t n = ledger_->size();
  std::vector<ledger::StoredEntry> entries;
  for (uint64_t seq = 1; seq <= n; ++seq) {
    Result<ledger::StoredEntry> stored = ledger_->Read(seq);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    entries.push_back(std::move(*stored));
  }
  size_t compared = 0;
  for (uint64_t k = 1; k <= n; ++k) {
    pj::LedgerState folded;
    for (uint64_t i = 0; i < k; ++i) pj::Apply(&folded, pj::EntryContext{&entries[i].entry, entries[i].leaf_hash});
    const pj::Hash hash = pj::StateHash(folded);
    auto it = hash_after_.find(k);
    if (it != hash_after_.end()) {
      EXPECT_EQ(hash, it->second) << "folding entries 1.." << k << " differs from the ledger's state after entry " << k;
      ++compared;
    }
    Result<pj::LedgerState> as_of = ledger_->StateAsOf(k, {""});
    ASSERT_TRUE(as_of.ok()) << as_of.status().ToString();
    EXPECT_EQ(pj::StateHash(*as_of), hash) << "StateAsOf(" << k << ") differs from folding entries 1.." << k;
  }
  EXPECT_EQ(compared, hash_after_.size());
  EXPECT_GE(compared, 40u) << Summary();
  EXPECT_EQ(hash_after_.rbegin()->second, pj::StateHash(testutil::WholeState(*ledger_)));
}

// Application rows are written directly, not through nlohmann's objects: their bytes are under
// the state hash and the stored rows, so they must be json::dump()'s exactly, for any content:
// quotes, backslashes, control characters, UTF-8, DEL, empty strings and lists, extreme numbers.
TEST(RowTextTest, ApplicationRowWrittenDirectlyIsNlohmannsDumpByteForByte) {
  std::mt19937_64 random(11);
  const std::vector<std::string> pieces = {
      "",     "A-1", "clerk:SZ-STIB", "\"", "\\", "\n", "\t",      "\x01", "\x1f",
      "\x7f", "/",   "深圳市",        "é",  " ",  "{}", "a\"b\\c", "0",    "-"};
  auto text = [&] {
    std::string out;
    for (uint64_t n = random() % 4; n > 0; --n) {
      if (random() % 3 == 0) {
        out.push_back(static_cast<char>(0x20 + random() % 0x5f));  // printable ASCII
      } else {
        out += pieces[random() % pieces.size()];
      }
    }
    return out;
  };
  const std::vector<int64_t> amounts = {0, 1, -1, INT64_MIN, INT64_MAX, 150'000'000};
  auto amount = [&] {
    return random() % 2 == 0 ? amounts[random() % amounts.size()] : static_cast<int64_t>(random());
  };
  auto digest = [&] {
    ev::Hash h{};
    for (uint8_t& b : h) b = static_cast<uint8_t>(random());
    return h;
  };
  for (int round = 0; round < 2000; ++round) {
    pj::Application a;
    a.submitted = ev::ApplicationSubmitted{
        text(), text(), text(), text(), static_cast<uint16_t>(random()), amount(), text(), {}, {}};
    for (uint64_t n = random() % 4; n > 0; --n) a.submitted.attributes.push_back({text(), text()});
    for (uint64_t n = random() % 3; n > 0; --n) a.submitted.evidence.push_back(digest());
    a.state = static_cast<pj::AppState>(random() % 4);
    a.unit = text();
    a.submitter = digest();
    a.decider = digest();
    a.awarder = digest();
    a.submitter_holder = text();
    a.decider_holder = text();
    a.awarder_holder = text();
    a.granted_fen = amount();
    a.revoked_fen = amount();
    a.paid_fen = amount();
    a.reversed_fen = amount();
    a.city_fen = amount();
    a.district_fen = amount();
    a.award_unit = text();
    a.district = text();
    for (uint64_t n = random() % 5; n > 0; --n)
      a.seqs.push_back(random() % 2 ? random() : UINT64_MAX);
    pj::LedgerState state;
    const std::string key = pj::RowKeyApplication(a.submitted.application_id);
    state.applications[key] = a;
    const std::optional<std::string> reference = pj::EncodeRowJson(state, key);
    ASSERT_TRUE(reference.has_value());
    ASSERT_EQ(pj::EncodeRow(state, key), reference) << "round " << round;
    // A walk over the rows writes it too, and LoadRow reads it back to the same row.
    pj::RowWalk walk(state);
    while (walk.Valid() && walk.key() != key) walk.Next();
    ASSERT_TRUE(walk.Valid()) << key;
    ASSERT_EQ(walk.value(), *reference) << "round " << round;
    pj::LedgerState loaded;
    ASSERT_TRUE(pj::LoadRow(&loaded, key, *reference).ok()) << "round " << round;
    ASSERT_EQ(pj::EncodeRow(loaded, key), reference) << "round " << round;
  }
}

// The other rows that change with most entries are written directly too: the head,
// measure-years, recipient-years, units and districts. Each, read by key and by a walk over
// the state, must be json::dump()'s text exactly, and load back to itself.
TEST(RowTextTest, HeadAndTotalsRowsWrittenDirectlyAreNlohmannsDumpByteForByte) {
  std::mt19937_64 random(12);
  const std::vector<std::string> names = {"",     "city",   "nanshan", "\"",  "\\", "\n", "\x01",
                                          "\x7f", "深圳市", "é",       "a b", "{}", "0"};
  const std::vector<int64_t> amounts = {0, 1, -1, INT64_MIN, INT64_MAX, 150'000'000};
  auto amount = [&] {
    return random() % 2 == 0 ? amounts[random() % amounts.size()] : static_cast<int64_t>(random());
  };
  auto totals = [&] { return pj::Totals{amount(), amount(), amount(), amount()}; };
  auto counts = [&] {
    std::map<std::string, int64_t> out;
    for (uint64_t n = random() % 4; n > 0; --n) out[names[random() % names.size()]] = amount();
    return out;
  };
  for (int round = 0; round < 1000; ++round) {
    pj::LedgerState state;
    for (uint8_t& b : state.info.ledger_id) b = static_cast<uint8_t>(random());
    for (uint8_t& b : state.info.authority) b = static_cast<uint8_t>(random());
    for (uint8_t& b : state.info.head_hash) b = static_cast<uint8_t>(random());
    state.info.name = names[random() % names.size()] + names[random() % names.size()];
    state.info.head_seq = random() % 2 ? random() : UINT64_MAX;
    state.info.head_recorded_at_ms = amount();
    const std::string measure = "m" + std::to_string(round);
    pj::MeasureYear year{counts(), counts(), totals(), counts()};
    state.measure_years[pj::RowKeyMeasureYear(measure, 2025)] = year;
    pj::RecipientTrackYear track{totals(), static_cast<uint32_t>(random())};
    state.recipient_years[pj::RowKeyRecipientYear("914403000000000001", measure, "t", 2026)] =
        track;
    state.units[pj::RowKeyUnit("SZ-" + std::to_string(round))] = totals();
    state.districts[pj::RowKeyDistrict(names[random() % names.size()])] = totals();
    size_t rows = 0;
    for (pj::RowWalk walk(state); walk.Valid(); walk.Next(), ++rows) {
      const std::string key = walk.key();
      const std::optional<std::string> reference = pj::EncodeRowJson(state, key);
      ASSERT_TRUE(reference.has_value()) << key;
      ASSERT_EQ(walk.value(), *reference) << key << ", round " << round;
      ASSERT_EQ(pj::EncodeRow(state, key), reference) << key << ", round " << round;
      pj::LedgerState loaded;
      ASSERT_TRUE(pj::LoadRow(&loaded, key, *reference).ok()) << key << ", round " << round;
      ASSERT_EQ(pj::EncodeRow(loaded, key), reference) << key << ", round " << round;
    }
    ASSERT_EQ(rows, 5u);
  }
}

}  // namespace
}  // namespace fundledger
