// simulate: a realistic programme driven through the normal append path, from any policy.
// Deterministic from --seed (recipients, applications, amounts, decisions); only the ledger id
// (random at init) and so the signatures differ between two runs. Times are spread over the
// simulated years and never later than the moment it runs.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>

#include "events/codec.h"
#include "events/text.h"
#include "ledger/checkpoint.h"
#include "tools/fundledger/context.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;

// Portable draws from mt19937_64 (std distributions differ between standard libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : engine_() % n; }
  int64_t Between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1))); }
  bool Percent(uint64_t p) { return Below(100) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }

 private:
  std::mt19937_64 engine_;
};

struct Officer {
  std::string name;  // key map name, e.g. "reviewer:SZ-STIB:1"
  std::unique_ptr<ev::PrivateKey> key;
};

struct SimApplication {
  ev::ApplicationSubmitted body;
  std::string unit;
  int reviewer = 0;
  bool submitted = false, approved = false, awarded = false;
};

enum class Step { kSubmit, kDecide, kAward, kPay, kRevoke, kReverse };

struct Event {
  int64_t at_ms;
  uint64_t order;
  Step step;
  size_t app;
  int part;  // instalment number for payouts
  bool operator<(const Event& o) const { return at_ms != o.at_ms ? at_ms < o.at_ms : order < o.order; }
};

const char* kSurnames[] = {"Chen", "Li", "Wang", "Zhang", "Liu", "Huang", "Zhou", "Wu", "Lin", "Zheng", "Xu", "Sun"};
const char* kGiven[] = {"Wei", "Fang", "Min", "Jie", "Lei", "Ying", "Hao", "Jing", "Tao", "Yan", "Bo", "Xin"};
const char* kPrefixes[] = {"Pengcheng", "Qianhai", "Shekou", "Xili", "Bantian", "Guangming", "Longgang", "Futian", "Nanshan",
                           "Dameisha", "Huaqiang", "Keyuan", "Xinzhou", "Meilin", "Lianhua", "Shahe"};
const char* kStems[] = {"Intelligence", "Compute", "Data", "Vision", "Robotics", "Semiconductor", "Cloud", "Cognition",
                        "Quantum", "Neural", "Sensing", "Mobility", "Language", "Health AI", "Edge", "Digital Twin"};

std::string Slug(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(c == ' ' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

class Simulator {
 public:
  Simulator(const Context& ctx, uint64_t seed, uint32_t recipients, std::vector<int> years, ev::Policy policy,
            std::string key_dir)
      : ctx_(ctx), rng_(seed), seed_(seed), recipient_count_(recipients), years_(std::move(years)),
        policy_(std::move(policy)), key_dir_(std::move(key_dir)) {}

  Status Run(const std::string& dir) {
    LEDGER_ASSIGN_OR_RETURN(now_ms_, ctx_.Now());
    // Entries run up to "now": one dated past the clock would be refused half way through.
    LEDGER_RETURN_IF_ERROR(pj::CheckNotInFuture(now_ms_, SystemClockMs()));
    LEDGER_RETURN_IF_ERROR(MakeOfficers());
    int64_t start = std::max(*ev::ShanghaiMidnightMs(std::to_string(years_.front()) + "-01-02"),
                             *ev::ShanghaiMidnightMs(policy_.term_start)) + 9 * 3600 * 1000;
    if (start > now_ms_) return Status::InvalidArgument("the simulated years start after now");
    clock_ms_ = start;
    ev::LedgerCreated created;
    created.name = "simulated programme: " + policy_.title_en;
    created.authority_public_key = Key("authority").public_key();
    created.authority_unit = "LEDGER-ADMIN";
    created.authority_holder = holders_["authority"];
    LEDGER_ASSIGN_OR_RETURN(ledger_, ledger::Ledger::Create(dir, Key("authority"), created, clock_ms_));
    LEDGER_RETURN_IF_ERROR(RegisterOfficers());
    LEDGER_RETURN_IF_ERROR(Write("admin", ev::PolicyPublished{policy_, policy_.term_start}));
    LEDGER_RETURN_IF_ERROR(RegisterRecipients());
    for (int year : years_) LEDGER_RETURN_IF_ERROR(SimulateYear(year));
    return Finish();
  }

 private:
  const ev::PrivateKey& Key(const std::string& name) { return *officers_.at(name).key; }

  Status MakeOfficers() {
    std::error_code error;
    std::filesystem::create_directories(key_dir_, error);
    if (error) return Status::IOError("cannot create " + key_dir_);
    auto add = [&](const std::string& name, const std::string& role, const std::string& unit) -> Status {
      // Keys derive from the seed, so the same seed gives the same officers.
      ev::Hash seed = ev::Sha256("fundledger-simulate/" + std::to_string(seed_) + "/" + name);
      LEDGER_ASSIGN_OR_RETURN(ev::PrivateKey key, ev::PrivateKey::FromSeed(std::span<const uint8_t, 32>(seed)));
      // Holders are distinct people: separation of duties compares holders.
      size_t n = officers_.size();
      std::string holder = std::string(kSurnames[n % 12]) + " " + kGiven[(n / 12 + n * 5) % 12];
      if (holders_taken_.count(holder)) holder += " " + std::to_string(n);
      holders_taken_.insert(holder);
      holders_[name] = holder;
      std::string file = key_dir_ + "/" + role + "-" + unit + "-" + Slug(holder) + ".pem";
      LEDGER_RETURN_IF_ERROR(WriteFile(file, key.ToPem(), 0600, ctx_.force));
      LEDGER_RETURN_IF_ERROR(WriteFile(file + ".pub", key.PublicPem(), 0644, ctx_.force));
      roles_[name] = {role, unit};
      officers_[name] = Officer{name, std::make_unique<ev::PrivateKey>(std::move(key))};
      return Status::Ok();
    };
    LEDGER_RETURN_IF_ERROR(add("authority", "authority", "LEDGER-ADMIN"));
    LEDGER_RETURN_IF_ERROR(add("admin", "admin", "LEDGER-ADMIN"));
    treasury_unit_ = "SZ-FIN";
    for (const ev::Unit& u : policy_.units) {
      if (u.code.find("FIN") != std::string::npos) treasury_unit_ = u.code;
    }
    LEDGER_RETURN_IF_ERROR(add("treasurer:0", "treasurer", treasury_unit_));
    LEDGER_RETURN_IF_ERROR(add("treasurer:1", "treasurer", treasury_unit_));
    LEDGER_RETURN_IF_ERROR(add("auditor", "auditor", "AUDIT"));
    LEDGER_RETURN_IF_ERROR(add("notary", "notary", "LEDGER-ADMIN"));
    std::set<std::string> units;
    for (const ev::Measure& m : policy_.measures) units.insert(m.units.begin(), m.units.end());
    for (const std::string& u : units) {
      LEDGER_RETURN_IF_ERROR(add("clerk:" + u + ":0", "clerk", u));
      LEDGER_RETURN_IF_ERROR(add("reviewer:" + u + ":0", "reviewer", u));
      LEDGER_RETURN_IF_ERROR(add("reviewer:" + u + ":1", "reviewer", u));
    }
    return Status::Ok();
  }

  Status RegisterOfficers() {
    for (const auto& [name, ru] : roles_) {
      if (name == "authority") continue;
      ev::Role role{};
      LEDGER_CHECK(ev::ParseRole(ru.first, &role));
      LEDGER_RETURN_IF_ERROR(Write("authority", ev::KeyRegistered{Key(name).public_key(), role, ru.second, holders_[name]}));
    }
    return Status::Ok();
  }

  std::string NewUscc(ev::RecipientKind kind) {
    // Registration authority 9 (market regulation) for firms, 1 (institutions) for public bodies.
    bool institution = kind == ev::RecipientKind::kUniversity || kind == ev::RecipientKind::kResearchInstitute ||
                       kind == ev::RecipientKind::kDataSourceUnit;
    char body[32];
    std::snprintf(body, sizeof(body), "%s440300%09llu", institution ? "12" : "91",
                  static_cast<unsigned long long>(100000000 + uscc_counter_++ * 7919 % 899999999));
    std::string code(body);
    return code + ev::UsccCheckChar(code);
  }

  Status RegisterRecipients() {
    static const std::vector<std::pair<ev::RecipientKind, int>> kMix = {
        {ev::RecipientKind::kEnterprise, 44}, {ev::RecipientKind::kStartup, 26}, {ev::RecipientKind::kUniversity, 4},
        {ev::RecipientKind::kResearchInstitute, 7}, {ev::RecipientKind::kDataSourceUnit, 5},
        {ev::RecipientKind::kPlatformOperator, 6}, {ev::RecipientKind::kLab, 6}, {ev::RecipientKind::kInnovationCentre, 2}};
    static const std::vector<std::pair<std::string, int>> kDistricts = {
        {"nanshan", 34}, {"futian", 14}, {"baoan", 12}, {"longgang", 11}, {"longhua", 10}, {"luohu", 5},
        {"guangming", 5}, {"pingshan", 3}, {"yantian", 2}, {"dapeng", 2}, {"shenshan", 2}};
    // Any unit's clerk registers recipients; the first one does here.
    std::string clerk = officers_.lower_bound("clerk:")->first;
    for (uint32_t i = 0; i < recipient_count_; ++i) {
      ev::RecipientKind kind = Weighted(kMix);
      std::string district = Weighted(kDistricts);
      std::string id = NewUscc(kind);
      std::string name = std::string(kPrefixes[rng_.Below(16)]) + " " + kStems[rng_.Below(16)] + " " +
                         (kind == ev::RecipientKind::kUniversity ? "University" : kind == ev::RecipientKind::kLab ? "Key Laboratory"
                          : kind == ev::RecipientKind::kResearchInstitute ? "Research Institute" : "Co., Ltd.") + " #" + std::to_string(i + 1);
      std::vector<std::string> related;
      if (!recipients_.empty() && rng_.Percent(15)) related.push_back(rng_.Pick(recipients_));
      Advance(20'000);
      LEDGER_RETURN_IF_ERROR(Write(clerk, ev::RecipientRegistered{id, name, kind, district, related}));
      recipients_.push_back(id);
      by_kind_[kind].push_back(id);
      related_[id] = related;
    }
    return Status::Ok();
  }

  template <typename T>
  T Weighted(const std::vector<std::pair<T, int>>& choices) {
    int total = 0;
    for (const auto& c : choices) total += c.second;
    int r = static_cast<int>(rng_.Below(static_cast<uint64_t>(total)));
    for (const auto& c : choices) {
      if ((r -= c.second) < 0) return c.first;
    }
    return choices.back().first;
  }

  static int64_t SmallestCap(const ev::Track& t) {
    int64_t cap = INT64_MAX;
    for (const ev::Cap& c : t.caps) cap = std::min(cap, c.amount_fen);
    return cap == INT64_MAX ? 20'000'000'00 : cap;
  }

  // Budgets: the stated annual cap (90–100% of it), else what the tracks' caps suggest.
  Status AllocateYear(int year, int64_t at) {
    for (const ev::Measure& m : policy_.measures) {
      if (!m.money_rule) continue;
      int64_t amount = 0;
      if (m.annual_budget_cap_stated) {
        amount = m.annual_budget_cap_fen / 100 * rng_.Between(90, 100);
      } else {
        for (const ev::Track& t : m.tracks) amount += SmallestCap(t) * rng_.Between(2, 4);
      }
      amount = amount / 100'000'00 * 100'000'00;  // whole 100,000 yuan
      if (m.co_funded) {
        int64_t city = ev::ApplyRateBp(amount, m.co_funding.city_share_bp);
        clock_ms_ = std::max(clock_ms_, at);
        LEDGER_RETURN_IF_ERROR(Write("treasurer:0", ev::BudgetAllocated{m.id, static_cast<uint16_t>(year), city, "city"}));
        // Each district funds its share of the awards to its own recipients.
        for (std::string_view d : ev::ShenzhenDistricts()) {
          int64_t share = (amount - city) / 4;
          if (share < 100'00) continue;
          LEDGER_RETURN_IF_ERROR(Write("treasurer:0", ev::BudgetAllocated{m.id, static_cast<uint16_t>(year), share / 100'00 * 100'00, std::string(d)}));
        }
      } else {
        clock_ms_ = std::max(clock_ms_, at);
        LEDGER_RETURN_IF_ERROR(Write("treasurer:0", ev::BudgetAllocated{m.id, static_cast<uint16_t>(year), amount, "city"}));
      }
    }
    return Status::Ok();
  }

  // Attributes the track requires, satisfied; `break_one` spoils one of them (refused by rules).
  std::vector<ev::Attribute> Attributes(const ev::Track& t, const std::string& recipient, bool break_one, size_t app_no) {
    std::map<std::string, std::string> attrs;
    for (const ev::AttributeRule& r : t.required_attributes) {
      switch (r.test) {
        case ev::AttributeTest::kEquals: attrs[r.key] = r.values.empty() ? "" : r.values[0]; break;
        case ev::AttributeTest::kOneOf: attrs[r.key] = rng_.Pick(r.values); break;
        case ev::AttributeTest::kPresent:
          attrs[r.key] = r.key == "project_id" ? "P-" + std::to_string(app_no) : r.key + "-" + std::to_string(1000 + app_no);
          break;
        case ev::AttributeTest::kNotRelatedParty: {
          std::string other = rng_.Pick(recipients_);
          if (other == recipient) other = recipients_.front();
          attrs[r.key] = other;
          break;
        }
      }
    }
    if (break_one && !t.required_attributes.empty()) {
      const ev::AttributeRule& r = t.required_attributes[rng_.Below(t.required_attributes.size())];
      if (r.test == ev::AttributeTest::kNotRelatedParty && !related_[recipient].empty()) {
        attrs[r.key] = related_[recipient].front();
      } else if (r.test == ev::AttributeTest::kPresent) {
        attrs.erase(r.key);
      } else {
        attrs[r.key] = r.test == ev::AttributeTest::kOneOf ? "fair" : "false";
      }
    }
    std::vector<ev::Attribute> out;
    for (auto& [k, v] : attrs) out.push_back({k, v});
    return out;
  }

  Status SimulateYear(int year) {
    int64_t year_start = *ev::ShanghaiMidnightMs(std::to_string(year) + "-01-05") + 9 * 3600 * 1000;
    int64_t term_end = *ev::ShanghaiMidnightMs(policy_.term_end);
    if (year_start > now_ms_) return Status::Ok();
    LEDGER_RETURN_IF_ERROR(AllocateYear(year, year_start));
    // Applications per track: the measure's pool shared by its tracks, divided by a typical
    // award (60% of the track's cap), about 15% oversubscribed.
    std::vector<std::pair<const ev::Measure*, const ev::Track*>> plan;
    for (const ev::Measure& m : policy_.measures) {
      const pj::MeasureYear* my =
          ledger_->view().FindMeasureYear(m.id, static_cast<uint16_t>(year));
      if (my == nullptr || m.tracks.empty()) continue;
      int64_t share = my->AllocatedFen() / static_cast<int64_t>(m.tracks.size());
      for (const ev::Track& t : m.tracks) {
        int64_t typical = std::max<int64_t>(SmallestCap(t) / 10 * 6, 1);
        int64_t n = share / typical * 115 / 100 + 1;
        for (int64_t i = 0; i < n; ++i) plan.push_back({&m, &t});
      }
    }
    // Shuffle (Fisher-Yates with the portable generator) so tracks interleave over the year.
    for (size_t i = plan.size(); i > 1; --i) std::swap(plan[i - 1], plan[rng_.Below(i)]);
    std::vector<Event> events;
    uint64_t order = 0;
    for (const auto& [m, t] : plan) {
      // An eligible recipient, drawn by index across the eligible kinds (no copying).
      uint64_t eligible = 0;
      for (ev::RecipientKind k : t->eligible_kinds) eligible += by_kind_[k].size();
      if (eligible == 0) continue;
      bool ineligible = rng_.Percent(3);
      uint64_t pick = rng_.Below(eligible);
      std::string recipient;
      for (ev::RecipientKind k : t->eligible_kinds) {
        if (pick < by_kind_[k].size()) {
          recipient = by_kind_[k][pick];
          break;
        }
        pick -= by_kind_[k].size();
      }
      if (ineligible) recipient = rng_.Pick(recipients_);
      SimApplication app;
      app.body.application_id = "A" + std::to_string(year) + "-" + m->id + "-" + std::to_string(apps_.size() + 1);
      app.body.recipient_id = recipient;
      app.body.measure = m->id;
      app.body.track = t->id;
      app.body.fiscal_year = static_cast<uint16_t>(year);
      app.body.basis_kind = t->basis_kind;
      int64_t cap = SmallestCap(*t);
      if (!t->IsMerit()) {
        // A basis whose rate share lands between 30% and 160% of the cap: some awards bind on the rate, some on the cap.
        int64_t target = cap / 100 * rng_.Between(30, 160);
        app.body.basis_fen = target / std::max<uint32_t>(1, t->rate_ceiling_bp) * 10000 / 100'00 * 100'00;
        if (app.body.basis_fen <= 0) app.body.basis_fen = 1'000'000'00;
      }
      app.body.attributes = Attributes(*t, recipient, rng_.Percent(3), apps_.size() + 1);
      // Evidence: a contract digest; one in a hundred reuses an earlier one (a double claim).
      std::string contract = "contract/" + std::to_string(seed_) + "/" + std::to_string(apps_.size());
      if (!evidence_pool_.empty() && rng_.Percent(1)) {
        app.body.evidence.push_back(rng_.Pick(evidence_pool_));
      } else {
        app.body.evidence.push_back(ev::Sha256(contract));
        evidence_pool_.push_back(app.body.evidence.back());
      }
      app.unit = m->units[rng_.Below(m->units.size())];
      app.reviewer = static_cast<int>(rng_.Below(2));
      int64_t submit = year_start + static_cast<int64_t>(rng_.Below(300)) * ev::kDayMs + static_cast<int64_t>(rng_.Below(8 * 3600)) * 1000;
      if (submit >= term_end) submit = term_end - ev::kDayMs;
      int64_t decide = submit + rng_.Between(5, 25) * ev::kDayMs;
      int64_t award = decide + rng_.Between(3, 30) * ev::kDayMs;
      size_t index = apps_.size();
      apps_.push_back(std::move(app));
      events.push_back({submit, order++, Step::kSubmit, index, 0});
      events.push_back({decide, order++, Step::kDecide, index, 0});
      events.push_back({award, order++, Step::kAward, index, 0});
      int instalments = static_cast<int>(rng_.Between(1, 3));
      for (int p = 0; p < instalments; ++p) {
        events.push_back({award + (p + 1) * rng_.Between(20, 90) * ev::kDayMs, order++, Step::kPay, index, instalments - p});
      }
      if (rng_.Percent(2)) events.push_back({award + rng_.Between(10, 40) * ev::kDayMs, order++, Step::kRevoke, index, 0});
      if (rng_.Percent(1)) events.push_back({award + rng_.Between(120, 200) * ev::kDayMs, order++, Step::kReverse, index, 0});
    }
    std::sort(events.begin(), events.end());
    Progress progress("simulate " + std::to_string(year), events.size());
    size_t done = 0;
    for (const Event& e : events) {
      progress.Update(++done);
      if (e.at_ms > now_ms_) continue;  // not happened yet: stays outstanding
      clock_ms_ = std::max(clock_ms_, e.at_ms);
      LEDGER_RETURN_IF_ERROR(Do(e));
    }
    return Status::Ok();
  }

  Status Do(const Event& e) {
    SimApplication& a = apps_[e.app];
    std::string clerk = "clerk:" + a.unit + ":0";
    std::string reviewer = "reviewer:" + a.unit + ":" + std::to_string(a.reviewer);
    std::string treasurer = "treasurer:" + std::to_string(e.app % 2);
    switch (e.step) {
      case Step::kSubmit:
        return Try(clerk, a.body, &a.submitted);
      case Step::kDecide:
        if (!a.submitted) return Status::Ok();
        if (rng_.Percent(8)) return Try(reviewer, ev::ApplicationRejected{a.body.application_id, "below the programme's merit threshold"}, nullptr);
        return Try(reviewer, ev::ApplicationApproved{a.body.application_id, "meets the guide's conditions"}, &a.approved);
      case Step::kAward: {
        if (!a.approved) return Status::Ok();
        auto limit = pj::MaxAward(ledger_->view(), a.body.application_id, clock_ms_);
        if (!limit.ok()) return Tally(limit.status());
        if (limit->max_fen <= 0) return Tally(Status::Rejected(limit->binding_rule, limit->explanation));
        // One reviewer in thirty asks for more than the rules allow; the ledger refuses it.
        if (rng_.Percent(3)) {
          int64_t over = limit->max_fen + 1000'00;
          int64_t city = 0, district = 0;
          pj::SplitAward(*policy_.FindMeasure(a.body.measure), over, &city, &district);
          LEDGER_RETURN_IF_ERROR(Try(reviewer, ev::AwardGranted{a.body.application_id, over, city, district, "as requested"}, nullptr));
        }
        int64_t amount = rng_.Percent(70) ? limit->max_fen : limit->max_fen / 100 * rng_.Between(60, 99) / 100'00 * 100'00;
        if (amount <= 0) amount = limit->max_fen;
        int64_t city = 0, district = 0;
        pj::SplitAward(*policy_.FindMeasure(a.body.measure), amount, &city, &district);
        LEDGER_RETURN_IF_ERROR(Try(reviewer, ev::AwardGranted{a.body.application_id, amount, city, district,
                                                              "reviewed against the annual guide; score " + std::to_string(rng_.Between(70, 98))},
                                   &a.awarded));
        return Status::Ok();
      }
      case Step::kPay: {
        const pj::Application* app = ledger_->view().FindApplication(a.body.application_id);
        if (!a.awarded || app == nullptr || app->UnpaidFen() <= 0) return Status::Ok();
        int64_t amount = e.part <= 1 ? app->UnpaidFen() : app->UnpaidFen() / e.part / 100 * 100;
        if (amount <= 0) amount = app->UnpaidFen();
        if (rng_.Percent(1)) amount += 500'00;  // a mistyped instalment: refused as over the award
        return Try(treasurer, ev::PayoutDisbursed{a.body.application_id, amount, "SZFIN-" + std::to_string(2000000 + ++payments_)}, nullptr);
      }
      case Step::kRevoke: {
        const pj::Application* app = ledger_->view().FindApplication(a.body.application_id);
        if (!a.awarded || app == nullptr || app->UnpaidFen() <= 0) return Status::Ok();
        return Try(reviewer, ev::AwardRevoked{a.body.application_id, app->UnpaidFen(), "recipient withdrew the project"}, nullptr);
      }
      case Step::kReverse: {
        const pj::Application* app = ledger_->view().FindApplication(a.body.application_id);
        if (app == nullptr || app->NetPaidFen() <= 0) return Status::Ok();
        return Try(treasurer, ev::PayoutReversed{a.body.application_id, std::min<int64_t>(app->NetPaidFen(), 10'000'00), "bank returned the transfer"}, nullptr);
      }
    }
    return Status::Ok();
  }

  // Appends; a rule refusal is part of the programme (counted), anything else stops the run.
  Status Try(const std::string& signer, ev::Body body, bool* ok) {
    Status s = Write(signer, std::move(body));
    if (s.ok()) {
      if (ok) *ok = true;
      return s;
    }
    return Tally(s);
  }

  Status Tally(const Status& s) {
    if (!s.IsRejected()) return s;
    ++refusals_[s.rule()];
    return Status::Ok();
  }

  Status Write(const std::string& signer, ev::Body body) {
    Advance(1000);
    ledger::AppendRequest request{std::move(body), "", {}};
    auto result = ledger_->Append(Key(signer), std::span(&request, 1), clock_ms_, SystemClockMs());
    if (!result.ok()) return result.status();
    return Status::Ok();
  }

  void Advance(int64_t ms) { clock_ms_ = std::min(clock_ms_ + ms, std::max(clock_ms_, now_ms_)); }

  Status Finish() {
    LEDGER_ASSIGN_OR_RETURN(ev::Hash root, ledger::RootAt(ledger_->tree(), ledger_->size()));
    ledger::Checkpoint cp{ledger_->Origin(), ledger_->size(), root};
    std::string note = ledger::SignNote(ledger::CheckpointText(cp), ledger_->Origin(), Key("notary"));
    LEDGER_RETURN_IF_ERROR(ledger_->StoreCheckpoint(ledger_->size(), note));
    std::map<std::string, int64_t> statuses;
    LEDGER_ASSIGN_OR_RETURN(pj::LedgerState apps, ledger_->Rows({"app/"}));
    for (const auto& [key, app] : apps.applications) ++statuses[pj::StatusName(app)];
    uint64_t refused = 0;
    for (const auto& [rule, n] : refusals_) refused += static_cast<uint64_t>(n);
    if (ctx_.json) {
      PrintJson({{"entries", ledger_->size()}, {"recipients", recipients_.size()}, {"applications", statuses},
                 {"refusals", refusals_}, {"origin", ledger_->Origin()}, {"rootHash", ev::Hex(root)}, {"keyDir", key_dir_}});
      return Status::Ok();
    }
    std::cout << "simulated " << ledger_->size() << " entries: " << recipients_.size() << " recipients, " << apps_.size()
              << " applications\n  applications by status:";
    for (const auto& [s, n] : statuses) std::cout << " " << s << " " << n;
    std::cout << "\n  refused by the rules (" << refused << "):";
    for (const auto& [rule, n] : refusals_) std::cout << " " << rule << " " << n;
    std::cout << "\n  checkpoint at " << ledger_->size() << ", root " << ev::Hex(root) << "\n  officers' keys in " << key_dir_ << "\n";
    return Status::Ok();
  }

  const Context& ctx_;
  Rng rng_;
  uint64_t seed_;
  uint32_t recipient_count_;
  std::vector<int> years_;
  ev::Policy policy_;
  std::string key_dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  int64_t clock_ms_ = 0, now_ms_ = 0;
  std::map<std::string, Officer> officers_;
  std::map<std::string, std::string> holders_;
  std::set<std::string> holders_taken_;
  std::map<std::string, std::pair<std::string, std::string>> roles_;
  std::string treasury_unit_;
  std::vector<std::string> recipients_;
  std::map<ev::RecipientKind, std::vector<std::string>> by_kind_;
  std::map<std::string, std::vector<std::string>> related_;
  std::vector<SimApplication> apps_;
  std::vector<ev::Hash> evidence_pool_;
  std::map<std::string, int64_t> refusals_;
  uint64_t uscc_counter_ = 1, payments_ = 0;
};

// Recipients one simulation registers, at most.
inline constexpr uint32_t kRecipientsMax = 5'000'000;

struct SimulateArgs {
  uint32_t recipients = 2000;
  std::string years = "2025,2026";
  uint64_t seed = 1;
  std::string key_dir, policy;
};

Status SimulateCommand(const Context& ctx, const SimulateArgs& a) {
  std::vector<int> years;
  std::stringstream list(a.years);
  for (std::string y; std::getline(list, y, ',');) {
    if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos) return Status::InvalidArgument("--years takes e.g. 2025,2026");
    years.push_back(std::stoi(y));
  }
  if (years.empty() || !std::is_sorted(years.begin(), years.end())) return Status::InvalidArgument("--years must be ascending");
  if (a.recipients == 0 || a.recipients > kRecipientsMax) {
    return Status::InvalidArgument("--recipients must be 1.." + std::to_string(kRecipientsMax));
  }
  // Usage first, then the environment: a malformed option is exit 2 whatever is on disk.
  LEDGER_ASSIGN_OR_RETURN(std::string dir, ctx.LedgerDir());
  if (std::filesystem::exists(dir)) {
    return Status::IOError(dir + " exists; simulate creates a new ledger");
  }
  std::string policy_file = a.policy.empty() ? std::string(FUNDLEDGER_POLICY_DIR) + "/shenzhen-ai-pioneer-2024.json" : a.policy;
  LEDGER_ASSIGN_OR_RETURN(std::string text, ReadFile(policy_file));
  LEDGER_ASSIGN_OR_RETURN(ev::Policy policy, ev::PolicyFromJson(text));
  LEDGER_RETURN_IF_ERROR(pj::CheckPolicy(policy));
  std::string key_dir = a.key_dir.empty() ? dir + "-keys" : a.key_dir;
  Simulator sim(ctx, a.seed, a.recipients, years, std::move(policy), key_dir);
  return sim.Run(dir);
}

}  // namespace

void AddSimulateCommand(CLI::App& app, Context& ctx, Action* run) {
  static SimulateArgs args;
  auto* sim = app.add_subcommand("simulate", "create a new ledger and drive a realistic programme through the normal append path");
  sim->add_option("--recipients", args.recipients, "recipients to register (default 2000)")
      ->transform(DecimalIn(1, kRecipientsMax));
  sim->add_option("--years", args.years, "fiscal years, e.g. 2025,2026 (default)");
  sim->add_option("--seed", args.seed, "the same seed gives the same programme (default 1)")
      ->transform(DecimalIn(0, std::numeric_limits<uint64_t>::max()));
  sim->add_option("--keys-out", args.key_dir, "where officers' keys go (default: DIR-keys)");
  sim->add_flag("--force", ctx.force, "replace officers' key files already in --keys-out");
  sim->add_option("--policy", args.policy, "policy JSON (default: the shipped Shenzhen policy)");
  sim->callback([&ctx, run] { *run = [&ctx] { return SimulateCommand(ctx, args); }; });
}

}  // namespace fundledger::tools
