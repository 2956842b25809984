// The fold: Apply(state, entry) and the persisted row form of the state.
#include <array>
#include <climits>
#include <cstdio>
#include <span>
#include <nlohmann/json.hpp>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "projections/projections.h"

namespace fundledger::projections {
namespace {

std::span<const uint8_t> AsBytes(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}


using nlohmann::json;
namespace ev = ::fundledger::events;

std::string PolicyRowKey(uint64_t seq) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "policy/%020llu", static_cast<unsigned long long>(seq));
  return buffer;
}

std::string YearText(uint16_t year) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "%04u", static_cast<unsigned>(year));
  return buffer;
}

// Saturating add: Apply is total even over entries that broke a rule (audit replays them).
void Add(int64_t* total, int64_t amount) { *total = SaturatingAdd(*total, amount); }

__extension__ typedef __int128 Int128;

// a * b / c without intermediate overflow. REQUIRES: c > 0.
int64_t MulDiv(int64_t a, int64_t b, int64_t c) {
  LEDGER_CHECK(c > 0);
  return static_cast<int64_t>(static_cast<Int128>(a) * b / c);
}

// Folds one money movement into every grouping it belongs to.
struct Movement {
  int64_t granted = 0, revoked = 0, paid = 0, reversed = 0;
};

void AddTotals(Totals* totals, const Movement& m) {
  Add(&totals->granted_fen, m.granted);
  Add(&totals->revoked_fen, m.revoked);
  Add(&totals->paid_fen, m.paid);
  Add(&totals->reversed_fen, m.reversed);
}

class Folder {
 public:
  Folder(LedgerState* state, const EntryContext& context)
      : state_(state), entry_(*context.entry), leaf_hash_(context.leaf_hash) {}

  void Run() {
    std::visit([this](const auto& body) { On(body); }, entry_.body);
    RecordIdempotency();
    LedgerInfo& info = state_->info;
    info.head_seq = entry_.seq;
    info.head_hash = leaf_hash_;
    info.head_recorded_at_ms = entry_.recorded_at_ms;
    Touch("head");
  }

 private:
  void Touch(const std::string& key) { state_->dirty.insert(key); }

  void RecordIdempotency() {
    if (entry_.idempotency_key.empty()) return;
    std::string key = "idem/" + entry_.idempotency_key;
    if (state_->idempotency.count(key)) return;
    state_->idempotency[key] = IdempotencyRecord{entry_.seq, ContentDigest(entry_)};
    Touch(key);
  }

  void On(const ev::LedgerCreated& e) {
    state_->info.ledger_id = entry_.ledger_id;
    state_->info.name = e.name;
    state_->info.authority = ev::KeyIdOf(e.authority_public_key);
    std::string key = RowKeyKey(state_->info.authority);
    state_->keys[key] = KeyInfo{e.authority_public_key, ev::Role::kAuthority, e.authority_unit,
                                e.authority_holder, entry_.seq, 0, 0, ""};
    Touch(key);
  }
  void On(const ev::KeyRegistered& e) {
    std::string key = RowKeyKey(ev::KeyIdOf(e.public_key));
    if (state_->keys.count(key)) return;
    state_->keys[key] = KeyInfo{e.public_key, e.role, e.unit, e.holder, entry_.seq, 0, 0, ""};
    Touch(key);
  }
  void On(const ev::KeyRevoked& e) {
    auto it = state_->keys.find(RowKeyKey(e.key_id));
    if (it == state_->keys.end() || it->second.revoked_seq != 0) return;
    it->second.revoked_seq = entry_.seq;
    it->second.revoked_at_ms = entry_.recorded_at_ms;
    it->second.revoke_reason = e.reason;
    Touch(it->first);
  }
  void On(const ev::PolicyPublished& e) {
    std::string key = PolicyRowKey(entry_.seq);
    auto effective = ev::ShanghaiMidnightMs(e.effective_from);
    state_->policies[key] = PolicyVersion{entry_.seq, effective.value_or(entry_.recorded_at_ms),
                                          e.effective_from, e.policy};
    Touch(key);
  }
  void On(const ev::RecipientRegistered& e) {
    std::string key = RowKeyRecipient(e.recipient_id);
    if (state_->recipients.count(key)) return;
    state_->recipients[key] = Recipient{e, entry_.seq};
    Touch(key);
  }
  void On(const ev::BudgetAllocated& e) {
    std::string key = RowKeyMeasureYear(e.measure, e.fiscal_year);
    Add(&state_->measure_years[key].allocated_fen[e.source], e.amount_fen);
    Touch(key);
  }
  void On(const ev::ApplicationSubmitted& e) {
    std::string key = RowKeyApplication(e.application_id);
    if (state_->applications.count(key)) return;
    Application app;
    app.submitted = e;
    app.submitter = entry_.signer;
    if (const KeyInfo* k = state_->FindKey(entry_.signer)) {
      app.submitter_holder = k->holder;
      app.unit = k->unit;
    }
    if (const Recipient* r = state_->FindRecipient(e.recipient_id)) app.district = r->info.district;
    app.seqs.push_back(entry_.seq);
    state_->applications[key] = std::move(app);
    Touch(key);
    Recount(nullptr, state_->applications[key]);
  }
  void On(const ev::ApplicationApproved& e) { Decide(e.application_id, AppState::kApproved); }
  void On(const ev::ApplicationRejected& e) { Decide(e.application_id, AppState::kRejected); }

  void Decide(const std::string& id, AppState next) {
    Application* app = Find(id);
    if (app == nullptr) return;
    std::string before = StatusName(*app);
    app->state = next;
    app->decider = entry_.signer;
    if (const KeyInfo* k = state_->FindKey(entry_.signer)) app->decider_holder = k->holder;
    Recount(&before, *app);
  }

  void On(const ev::AwardGranted& e) {
    Application* app = Find(e.application_id);
    if (app == nullptr) return;
    std::string before = StatusName(*app);
    app->state = AppState::kAwarded;
    app->awarder = entry_.signer;
    if (const KeyInfo* k = state_->FindKey(entry_.signer)) {
      app->awarder_holder = k->holder;
      app->award_unit = k->unit;
    }
    Add(&app->granted_fen, e.amount_fen);
    Add(&app->city_fen, e.city_fen);
    Add(&app->district_fen, e.district_fen);
    for (const Hash& digest : app->submitted.evidence) {
      std::string key = "evidence/" + ev::Hex(digest);
      if (!state_->evidence.count(key)) {
        state_->evidence[key] = e.application_id;
        Touch(key);
      }
    }
    MoveMoney(app, Movement{e.amount_fen, 0, 0, 0}, e.city_fen, e.district_fen);
    Recount(&before, *app);
  }
  void On(const ev::AwardRevoked& e) {
    Application* app = Find(e.application_id);
    if (app == nullptr) return;
    std::string before = StatusName(*app);
    // The revoked amount leaves the pools in the grant's city/district proportion, computed on
    // running totals so that revocations in instalments release each pool exactly what it
    // committed (rounding each instalment alone would drift by a fen per instalment).
    int64_t revoked_before = app->revoked_fen;
    Add(&app->revoked_fen, e.amount_fen);
    int64_t district_part = 0;
    if (app->granted_fen > 0 && app->district_fen > 0 && revoked_before >= 0 && app->revoked_fen <= app->granted_fen) {
      district_part = MulDiv(app->revoked_fen, app->district_fen, app->granted_fen) -
                      MulDiv(revoked_before, app->district_fen, app->granted_fen);
    }
    MoveMoney(app, Movement{0, e.amount_fen, 0, 0}, SaturatingSub(district_part, e.amount_fen),
              SaturatingSub(0, district_part));
    if (app->NetAwardFen() <= 0) ReleaseEvidence(*app, e.application_id);
    Recount(&before, *app);
  }
  void On(const ev::PayoutDisbursed& e) {
    Application* app = Find(e.application_id);
    if (app == nullptr) return;
    std::string before = StatusName(*app);
    Add(&app->paid_fen, e.amount_fen);
    MoveMoney(app, Movement{0, 0, e.amount_fen, 0}, 0, 0);
    Recount(&before, *app);
  }
  void On(const ev::PayoutReversed& e) {
    Application* app = Find(e.application_id);
    if (app == nullptr) return;
    std::string before = StatusName(*app);
    Add(&app->reversed_fen, e.amount_fen);
    MoveMoney(app, Movement{0, 0, 0, e.amount_fen}, 0, 0);
    Recount(&before, *app);
  }
  void On(const ev::AuditAttested&) {}

  Application* Find(const std::string& id) {
    auto it = state_->applications.find(RowKeyApplication(id));
    if (it == state_->applications.end()) return nullptr;
    it->second.seqs.push_back(entry_.seq);
    Touch(it->first);
    return &it->second;
  }

  void ReleaseEvidence(const Application& app, const std::string& id) {
    for (const Hash& digest : app.submitted.evidence) {
      auto it = state_->evidence.find("evidence/" + ev::Hex(digest));
      if (it != state_->evidence.end() && it->second == id) {
        Touch(it->first);
        state_->evidence.erase(it);
      }
    }
  }

  // Moves money through every grouping the application belongs to. `city_delta` and
  // `district_delta` change the committed amount per funding source (grants, revocations).
  void MoveMoney(const Application* app, const Movement& m, int64_t city_delta,
                 int64_t district_delta) {
    const ev::ApplicationSubmitted& s = app->submitted;
    std::string my_key = RowKeyMeasureYear(s.measure, s.fiscal_year);
    MeasureYear& my = state_->measure_years[my_key];
    AddTotals(&my.totals, m);
    if (city_delta != 0) Add(&my.committed_fen["city"], city_delta);
    if (district_delta != 0) Add(&my.committed_fen[app->district], district_delta);
    Touch(my_key);

    std::string ry_key = RowKeyRecipientYear(s.recipient_id, s.measure, s.track, s.fiscal_year);
    RecipientTrackYear& ry = state_->recipient_years[ry_key];
    AddTotals(&ry.totals, m);
    if (m.granted > 0) ++ry.live_awards;
    if (m.revoked > 0 && app->NetAwardFen() <= 0 && ry.live_awards > 0) --ry.live_awards;
    Touch(ry_key);

    int64_t committed_delta = SaturatingSub(m.granted, m.revoked);
    if (committed_delta != 0) {
      const std::string* project = s.FindAttribute("project_id");
      std::string pkey = "proj/" + s.measure + "/" + s.track + "/" +
                         (project != nullptr ? *project : "application:" + s.application_id);
      Add(&state_->projects[pkey], committed_delta);
      Touch(pkey);
    }
    std::string unit_key = "unit/" + (app->award_unit.empty() ? app->unit : app->award_unit);
    AddTotals(&state_->units[unit_key], m);
    Touch(unit_key);
    std::string district_key = "district/" + app->district;
    AddTotals(&state_->districts[district_key], m);
    Touch(district_key);
  }

  // Keeps per-measure status counts in step with the application's status.
  void Recount(const std::string* before, const Application& app) {
    std::string key = RowKeyMeasureYear(app.submitted.measure, app.submitted.fiscal_year);
    MeasureYear& my = state_->measure_years[key];
    if (before != nullptr) {
      auto it = my.status_counts.find(*before);
      if (it != my.status_counts.end() && --it->second == 0) my.status_counts.erase(it);
    }
    ++my.status_counts[StatusName(app)];
    Touch(key);
  }

  LedgerState* state_;
  const ev::Entry& entry_;
  Hash leaf_hash_;
};

// ---- Row encoding (JSON with sorted keys: deterministic bytes) ----

json TotalsJson(const Totals& t) {
  return {{"grantedFen", t.granted_fen}, {"revokedFen", t.revoked_fen},
          {"paidFen", t.paid_fen}, {"reversedFen", t.reversed_fen}};
}
Totals TotalsFrom(const json& j) {
  return Totals{j.at("grantedFen").get<int64_t>(), j.at("revokedFen").get<int64_t>(),
                j.at("paidFen").get<int64_t>(), j.at("reversedFen").get<int64_t>()};
}

template <size_t N>
std::array<uint8_t, N> HexArray(const json& j) {
  auto out = ev::ArrayFromHex<N>(j.get<std::string>());
  if (!out) throw std::runtime_error("bad hex");
  return *out;
}

json ApplicationJson(const Application& a) {
  return {{"submitted", ev::BodyToJson(ev::Body(a.submitted))},
          {"state", static_cast<int>(a.state)},
          {"unit", a.unit},
          {"submitter", ev::Hex(a.submitter)},
          {"decider", ev::Hex(a.decider)},
          {"awarder", ev::Hex(a.awarder)},
          {"submitterHolder", a.submitter_holder},
          {"deciderHolder", a.decider_holder},
          {"awarderHolder", a.awarder_holder},
          {"grantedFen", a.granted_fen},
          {"revokedFen", a.revoked_fen},
          {"paidFen", a.paid_fen},
          {"reversedFen", a.reversed_fen},
          {"cityFen", a.city_fen},
          {"districtFen", a.district_fen},
          {"awardUnit", a.award_unit},
          {"district", a.district},
          {"seqs", a.seqs}};
}

Application ApplicationFrom(const json& j) {
  Application a;
  auto body = ev::BodyFromJson("ApplicationSubmitted", j.at("submitted"));
  if (!body.ok()) throw std::runtime_error(body.status().message());
  a.submitted = std::get<ev::ApplicationSubmitted>(*body);
  int state = j.at("state").get<int>();
  if (state < 0 || state > 3) throw std::runtime_error("bad application state");
  a.state = static_cast<AppState>(state);
  a.unit = j.at("unit").get<std::string>();
  a.submitter = HexArray<32>(j.at("submitter"));
  a.decider = HexArray<32>(j.at("decider"));
  a.awarder = HexArray<32>(j.at("awarder"));
  a.submitter_holder = j.at("submitterHolder").get<std::string>();
  a.decider_holder = j.at("deciderHolder").get<std::string>();
  a.awarder_holder = j.at("awarderHolder").get<std::string>();
  a.granted_fen = j.at("grantedFen").get<int64_t>();
  a.revoked_fen = j.at("revokedFen").get<int64_t>();
  a.paid_fen = j.at("paidFen").get<int64_t>();
  a.reversed_fen = j.at("reversedFen").get<int64_t>();
  a.city_fen = j.at("cityFen").get<int64_t>();
  a.district_fen = j.at("districtFen").get<int64_t>();
  a.award_unit = j.at("awardUnit").get<std::string>();
  a.district = j.at("district").get<std::string>();
  a.seqs = j.at("seqs").get<std::vector<uint64_t>>();
  return a;
}

json KeyJson(const KeyInfo& k) {
  return {{"publicKey", ev::Hex(k.public_key)}, {"role", static_cast<int>(k.role)},
          {"unit", k.unit}, {"holder", k.holder}, {"registeredSeq", k.registered_seq},
          {"revokedSeq", k.revoked_seq}, {"revokedAt", k.revoked_at_ms},
          {"revokeReason", k.revoke_reason}};
}

KeyInfo KeyFrom(const json& j) {
  KeyInfo k;
  k.public_key = HexArray<32>(j.at("publicKey"));
  int role = j.at("role").get<int>();
  if (role < 0 || role >= ev::kRoleCount) throw std::runtime_error("bad role");
  k.role = static_cast<ev::Role>(role);
  k.unit = j.at("unit").get<std::string>();
  k.holder = j.at("holder").get<std::string>();
  k.registered_seq = j.at("registeredSeq").get<uint64_t>();
  k.revoked_seq = j.at("revokedSeq").get<uint64_t>();
  k.revoked_at_ms = j.at("revokedAt").get<int64_t>();
  k.revoke_reason = j.at("revokeReason").get<std::string>();
  return k;
}

std::optional<json> RowJson(const LedgerState& s, const std::string& key) {
  auto find = [&key](const auto& map) { return map.find(key); };
  if (key == "head") {
    const LedgerInfo& i = s.info;
    return json{{"ledgerId", ev::Hex(i.ledger_id)}, {"name", i.name},
                {"authority", ev::Hex(i.authority)}, {"seq", i.head_seq},
                {"hash", ev::Hex(i.head_hash)}, {"recordedAt", i.head_recorded_at_ms}};
  }
  if (key.starts_with("key/")) {
    auto it = find(s.keys);
    if (it != s.keys.end()) return KeyJson(it->second);
  } else if (key.starts_with("policy/")) {
    auto it = find(s.policies);
    if (it != s.policies.end()) {
      return json{{"seq", it->second.seq}, {"effectiveFromMs", it->second.effective_from_ms},
                  {"effectiveFrom", it->second.effective_from},
                  {"policy", ev::PolicyToJson(it->second.policy)}};
    }
  } else if (key.starts_with("recipient/")) {
    auto it = find(s.recipients);
    if (it != s.recipients.end()) {
      return json{{"info", ev::BodyToJson(ev::Body(it->second.info))}, {"seq", it->second.seq}};
    }
  } else if (key.starts_with("app/")) {
    auto it = find(s.applications);
    if (it != s.applications.end()) return ApplicationJson(it->second);
  } else if (key.starts_with("my/")) {
    auto it = find(s.measure_years);
    if (it != s.measure_years.end()) {
      const MeasureYear& m = it->second;
      return json{{"allocatedFen", m.allocated_fen}, {"committedFen", m.committed_fen},
                  {"totals", TotalsJson(m.totals)}, {"statusCounts", m.status_counts}};
    }
  } else if (key.starts_with("rty/")) {
    auto it = find(s.recipient_years);
    if (it != s.recipient_years.end()) {
      return json{{"totals", TotalsJson(it->second.totals)}, {"liveAwards", it->second.live_awards}};
    }
  } else if (key.starts_with("proj/")) {
    auto it = find(s.projects);
    if (it != s.projects.end()) return json{{"committedFen", it->second}};
  } else if (key.starts_with("unit/")) {
    auto it = find(s.units);
    if (it != s.units.end()) return TotalsJson(it->second);
  } else if (key.starts_with("district/")) {
    auto it = find(s.districts);
    if (it != s.districts.end()) return TotalsJson(it->second);
  } else if (key.starts_with("evidence/")) {
    auto it = find(s.evidence);
    if (it != s.evidence.end()) return json{{"application", it->second}};
  } else if (key.starts_with("idem/")) {
    auto it = find(s.idempotency);
    if (it != s.idempotency.end()) {
      return json{{"seq", it->second.seq}, {"content", ev::Hex(it->second.content)}};
    }
  }
  return std::nullopt;
}

void LoadRowJson(LedgerState* s, const std::string& key, const json& j) {
  if (key == "head") {
    s->info.ledger_id = HexArray<16>(j.at("ledgerId"));
    s->info.name = j.at("name").get<std::string>();
    s->info.authority = HexArray<32>(j.at("authority"));
    s->info.head_seq = j.at("seq").get<uint64_t>();
    s->info.head_hash = HexArray<32>(j.at("hash"));
    s->info.head_recorded_at_ms = j.at("recordedAt").get<int64_t>();
  } else if (key.starts_with("key/")) {
    s->keys[key] = KeyFrom(j);
  } else if (key.starts_with("policy/")) {
    auto policy = ev::PolicyFromJson(j.at("policy").dump());
    if (!policy.ok()) throw std::runtime_error(policy.status().message());
    s->policies[key] = PolicyVersion{j.at("seq").get<uint64_t>(), j.at("effectiveFromMs").get<int64_t>(),
                                     j.at("effectiveFrom").get<std::string>(), *policy};
  } else if (key.starts_with("recipient/")) {
    auto body = ev::BodyFromJson("RecipientRegistered", j.at("info"));
    if (!body.ok()) throw std::runtime_error(body.status().message());
    s->recipients[key] = Recipient{std::get<ev::RecipientRegistered>(*body), j.at("seq").get<uint64_t>()};
  } else if (key.starts_with("app/")) {
    s->applications[key] = ApplicationFrom(j);
  } else if (key.starts_with("my/")) {
    MeasureYear m;
    m.allocated_fen = j.at("allocatedFen").get<std::map<std::string, int64_t>>();
    m.committed_fen = j.at("committedFen").get<std::map<std::string, int64_t>>();
    m.totals = TotalsFrom(j.at("totals"));
    m.status_counts = j.at("statusCounts").get<std::map<std::string, int64_t>>();
    s->measure_years[key] = std::move(m);
  } else if (key.starts_with("rty/")) {
    s->recipient_years[key] = RecipientTrackYear{TotalsFrom(j.at("totals")), j.at("liveAwards").get<uint32_t>()};
  } else if (key.starts_with("proj/")) {
    s->projects[key] = j.at("committedFen").get<int64_t>();
  } else if (key.starts_with("unit/")) {
    s->units[key] = TotalsFrom(j);
  } else if (key.starts_with("district/")) {
    s->districts[key] = TotalsFrom(j);
  } else if (key.starts_with("evidence/")) {
    s->evidence[key] = j.at("application").get<std::string>();
  } else if (key.starts_with("idem/")) {
    s->idempotency[key] = IdempotencyRecord{j.at("seq").get<uint64_t>(), HexArray<32>(j.at("content"))};
  } else {
    throw std::runtime_error("unknown row kind");
  }
}

}  // namespace

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_sub_overflow(a, b, &out)) return out;
  return b < 0 ? INT64_MAX : INT64_MIN;
}

int64_t MeasureYear::AllocatedFen() const {
  int64_t total = 0;
  for (const auto& [source, amount] : allocated_fen) Add(&total, amount);
  return total;
}

int64_t MeasureYear::AvailableFen(const std::string& source) const {
  auto a = allocated_fen.find(source);
  auto c = committed_fen.find(source);
  int64_t available = a == allocated_fen.end() ? 0 : a->second;
  if (c != committed_fen.end()) Add(&available, -c->second);
  return available;
}

std::string StatusName(const Application& a) {
  switch (a.state) {
    case AppState::kSubmitted: return "submitted";
    case AppState::kApproved: return "approved";
    case AppState::kRejected: return "rejected";
    case AppState::kAwarded:
      if (a.NetAwardFen() <= 0) return "revoked";
      if (a.NetPaidFen() >= a.NetAwardFen()) return "paid";
      return "awarded";
  }
  return "unknown";
}

const KeyInfo* LedgerState::FindKey(const KeyId& key_id) const {
  auto it = keys.find(RowKeyKey(key_id));
  return it == keys.end() ? nullptr : &it->second;
}
const Application* LedgerState::FindApplication(const std::string& id) const {
  auto it = applications.find(RowKeyApplication(id));
  return it == applications.end() ? nullptr : &it->second;
}
const Recipient* LedgerState::FindRecipient(const std::string& uscc) const {
  auto it = recipients.find(RowKeyRecipient(uscc));
  return it == recipients.end() ? nullptr : &it->second;
}
const PolicyVersion* LedgerState::PolicyAt(int64_t at_ms) const {
  const PolicyVersion* best = nullptr;
  for (const auto& [key, version] : policies) {  // ascending seq
    if (version.effective_from_ms > at_ms) continue;
    if (best == nullptr || version.effective_from_ms >= best->effective_from_ms) best = &version;
  }
  return best;
}

std::string RowKeyKey(const KeyId& key_id) { return "key/" + ev::Hex(key_id); }
std::string RowKeyApplication(const std::string& id) { return "app/" + id; }
std::string RowKeyRecipient(const std::string& uscc) { return "recipient/" + uscc; }
std::string RowKeyMeasureYear(const std::string& measure, uint16_t year) {
  return "my/" + measure + "/" + YearText(year);
}
std::string RowKeyRecipientYear(const std::string& uscc, const std::string& measure,
                                const std::string& track, uint16_t year) {
  return "rty/" + uscc + "/" + measure + "/" + track + "/" + YearText(year);
}

void Apply(LedgerState* state, const EntryContext& context) {
  LEDGER_CHECK(state != nullptr);
  LEDGER_CHECK(context.entry != nullptr);
  Folder(state, context).Run();
  LEDGER_CHECK(state->info.head_seq == context.entry->seq);
}

std::optional<std::string> EncodeRow(const LedgerState& state, const std::string& row_key) {
  std::optional<json> j = RowJson(state, row_key);
  if (!j) return std::nullopt;
  return j->dump();
}

Status LoadRow(LedgerState* state, const std::string& row_key, const std::string& value) {
  try {
    LoadRowJson(state, row_key, json::parse(value));
  } catch (const std::exception& e) {
    return Status::Corruption("projection row '" + row_key + "' does not parse: " + e.what());
  }
  return Status::Ok();
}

void EraseRow(LedgerState* s, const std::string& key) {
  if (key == "head") {
    s->info = LedgerInfo{};
    return;
  }
  s->keys.erase(key);
  s->policies.erase(key);
  s->recipients.erase(key);
  s->applications.erase(key);
  s->measure_years.erase(key);
  s->recipient_years.erase(key);
  s->projects.erase(key);
  s->units.erase(key);
  s->districts.erase(key);
  s->evidence.erase(key);
  s->idempotency.erase(key);
}

std::vector<std::string> AllRowKeys(const LedgerState& s) {
  std::vector<std::string> keys = {"head"};
  auto add = [&keys](const auto& map) {
    for (const auto& [key, value] : map) keys.push_back(key);
  };
  add(s.keys);
  add(s.policies);
  add(s.recipients);
  add(s.applications);
  add(s.measure_years);
  add(s.recipient_years);
  add(s.projects);
  add(s.units);
  add(s.districts);
  add(s.evidence);
  add(s.idempotency);
  std::sort(keys.begin(), keys.end());
  return keys;
}

Hash StateHash(const LedgerState& state) {
  std::vector<Hash> leaves;
  for (const std::string& key : AllRowKeys(state)) {
    std::string value = *EncodeRow(state, key);
    uint32_t size = static_cast<uint32_t>(key.size());
    std::array<uint8_t, 4> length{};
    for (size_t i = 0; i < 4; ++i) length[i] = static_cast<uint8_t>(size >> (24 - 8 * i));
    leaves.push_back(ev::Rfc9162Leaf({length, AsBytes(key), AsBytes(value)}));
  }
  return ev::Rfc9162Root(leaves);
}

}  // namespace fundledger::projections
