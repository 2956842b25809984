// The fold: Apply(state, entry) and the persisted row form of the state.
#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "projections/projections.h"

namespace fundledger::projections {
namespace {

std::span<const uint8_t> AsBytes(std::string_view text) {
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
    Head();
  }

  // The head, the ledger's identity and the keys only (ApplyChain).
  void RunChain() {
    if (const auto* created = std::get_if<ev::LedgerCreated>(&entry_.body)) On(*created);
    if (const auto* registered = std::get_if<ev::KeyRegistered>(&entry_.body)) On(*registered);
    if (const auto* revoked = std::get_if<ev::KeyRevoked>(&entry_.body)) On(*revoked);
    Head();
  }

 private:
  void Head() {
    LedgerInfo& info = state_->info;
    info.head_seq = entry_.seq;
    info.head_hash = leaf_hash_;
    info.head_recorded_at_ms = entry_.recorded_at_ms;
    Touch("head");
  }

  void Touch(const std::string& key) { state_->dirty.insert(key); }

  void RecordIdempotency() {
    if (entry_.idempotency_key.empty()) return;
    std::string key = RowKeyIdempotency(entry_.idempotency_key);
    if (Existing(&LedgerState::idempotency, key) != nullptr) return;
    state_->idempotency[key] = IdempotencyRecord{entry_.seq, ContentDigest(entry_)};
    Touch(key);
  }

  // Row `key` of `map`, read into memory first if the state is backed; nullptr if absent.
  template <typename T>
  T* Existing(std::map<std::string, T> LedgerState::*map, const std::string& key) {
    state_->Fault(key);
    auto it = (state_->*map).find(key);
    return it == (state_->*map).end() ? nullptr : &it->second;
  }
  // Row `key` of `map`, made empty if absent.
  template <typename T>
  T& Row(std::map<std::string, T> LedgerState::*map, const std::string& key) {
    state_->Fault(key);
    return (state_->*map)[key];
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
    if (Existing(&LedgerState::keys, key) != nullptr) return;
    state_->keys[key] = KeyInfo{e.public_key, e.role, e.unit, e.holder, entry_.seq, 0, 0, ""};
    Touch(key);
  }
  void On(const ev::KeyRevoked& e) {
    std::string key = RowKeyKey(e.key_id);
    KeyInfo* info = Existing(&LedgerState::keys, key);
    if (info == nullptr || info->revoked_seq != 0) return;
    info->revoked_seq = entry_.seq;
    info->revoked_at_ms = entry_.recorded_at_ms;
    info->revoke_reason = e.reason;
    Touch(key);
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
    if (Existing(&LedgerState::recipients, key) != nullptr) return;
    state_->recipients[key] = Recipient{e, entry_.seq};
    Touch(key);
  }
  void On(const ev::BudgetAllocated& e) {
    std::string key = RowKeyMeasureYear(e.measure, e.fiscal_year);
    Add(&Row(&LedgerState::measure_years, key).allocated_fen[e.source], e.amount_fen);
    Touch(key);
  }
  void On(const ev::ApplicationSubmitted& e) {
    std::string key = RowKeyApplication(e.application_id);
    if (Existing(&LedgerState::applications, key) != nullptr) return;
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
      std::string key = RowKeyEvidence(digest);
      if (Existing(&LedgerState::evidence, key) == nullptr) {
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
    std::string key = RowKeyApplication(id);
    Application* app = Existing(&LedgerState::applications, key);
    if (app == nullptr) return nullptr;
    app->seqs.push_back(entry_.seq);
    Touch(key);
    return app;
  }

  void ReleaseEvidence(const Application& app, const std::string& id) {
    for (const Hash& digest : app.submitted.evidence) {
      std::string key = RowKeyEvidence(digest);
      const std::string* holder = Existing(&LedgerState::evidence, key);
      if (holder != nullptr && *holder == id) {
        Touch(key);
        state_->evidence.erase(key);
        state_->NoteRemoved(key);
      }
    }
  }

  // Moves money through every grouping the application belongs to. `city_delta` and
  // `district_delta` change the committed amount per funding source (grants, revocations).
  void MoveMoney(const Application* app, const Movement& m, int64_t city_delta,
                 int64_t district_delta) {
    const ev::ApplicationSubmitted& s = app->submitted;
    std::string my_key = RowKeyMeasureYear(s.measure, s.fiscal_year);
    MeasureYear& my = Row(&LedgerState::measure_years, my_key);
    AddTotals(&my.totals, m);
    if (city_delta != 0) Add(&my.committed_fen["city"], city_delta);
    if (district_delta != 0) Add(&my.committed_fen[app->district], district_delta);
    Touch(my_key);

    std::string ry_key = RowKeyRecipientYear(s.recipient_id, s.measure, s.track, s.fiscal_year);
    RecipientTrackYear& ry = Row(&LedgerState::recipient_years, ry_key);
    AddTotals(&ry.totals, m);
    if (m.granted > 0) ++ry.live_awards;
    if (m.revoked > 0 && app->NetAwardFen() <= 0 && ry.live_awards > 0) --ry.live_awards;
    Touch(ry_key);

    int64_t committed_delta = SaturatingSub(m.granted, m.revoked);
    if (committed_delta != 0) {
      std::string pkey = RowKeyProject(s);
      Add(&Row(&LedgerState::projects, pkey), committed_delta);
      Touch(pkey);
    }
    std::string unit_key = RowKeyUnit(app->award_unit.empty() ? app->unit : app->award_unit);
    AddTotals(&Row(&LedgerState::units, unit_key), m);
    Touch(unit_key);
    std::string district_key = RowKeyDistrict(app->district);
    AddTotals(&Row(&LedgerState::districts, district_key), m);
    Touch(district_key);
  }

  // Keeps per-measure status counts in step with the application's status.
  void Recount(const std::string* before, const Application& app) {
    std::string key = RowKeyMeasureYear(app.submitted.measure, app.submitted.fiscal_year);
    MeasureYear& my = Row(&LedgerState::measure_years, key);
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

// ---- JSON text written directly, for the rows that change with most entries ----

// A JSON string as json::dump() writes it: printable ASCII other than '"' and '\' as it is,
// anything else (escapes, UTF-8) by nlohmann itself.
void AppendJsonString(std::string* out, std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out->append(json(std::string(s)).dump());
      return;
    }
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

// A JSON object as json::dump() writes it: no spaces, members in key order (nlohmann's objects
// are std::maps), which Key checks as they are added.
class JsonObjectText {
 public:
  JsonObjectText() { out_.push_back('{'); }
  JsonObjectText& Str(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(&out_, value);
    return *this;
  }
  JsonObjectText& Int(std::string_view key, int64_t value) {
    Key(key);
    out_.append(std::to_string(value));
    return *this;
  }
  JsonObjectText& UInt(std::string_view key, uint64_t value) {
    Key(key);
    out_.append(std::to_string(value));
    return *this;
  }
  // `text`: JSON already.
  JsonObjectText& Raw(std::string_view key, std::string_view text) {
    Key(key);
    out_.append(text);
    return *this;
  }
  std::string Done() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void Key(std::string_view key) {
    LEDGER_CHECK(members_ == 0 || last_ < key) << "JSON members out of order: " << key;
    if (members_++ != 0) out_.push_back(',');
    AppendJsonString(&out_, key);
    out_.push_back(':');
    last_ = key;
  }
  std::string out_;
  std::string_view last_;  // the last member's key (an empty key is a key like any other)
  size_t members_ = 0;
};

// events::BodyToJson(ApplicationSubmitted)'s text: the schema's fields by name, Data as hex.
std::string SubmittedText(const ev::ApplicationSubmitted& s) {
  std::string attributes = "[";
  for (const ev::Attribute& a : s.attributes) {
    if (attributes.size() > 1) attributes.push_back(',');
    attributes.append(JsonObjectText().Str("key", a.key).Str("value", a.value).Done());
  }
  attributes.push_back(']');
  std::string evidence = "[";
  for (const Hash& digest : s.evidence) {
    if (evidence.size() > 1) evidence.push_back(',');
    AppendJsonString(&evidence, ev::Hex(digest));
  }
  evidence.push_back(']');
  return JsonObjectText()
      .Str("applicationId", s.application_id)
      .Raw("attributes", attributes)
      .Int("basisFen", s.basis_fen)
      .Str("basisKind", s.basis_kind)
      .Raw("evidence", evidence)
      .UInt("fiscalYear", s.fiscal_year)
      .Str("measure", s.measure)
      .Str("recipientId", s.recipient_id)
      .Str("track", s.track)
      .Done();
}

// TotalsJson's text.
std::string TotalsText(const Totals& t) {
  return JsonObjectText()
      .Int("grantedFen", t.granted_fen)
      .Int("paidFen", t.paid_fen)
      .Int("reversedFen", t.reversed_fen)
      .Int("revokedFen", t.revoked_fen)
      .Done();
}

// A map of amounts or counts by name as a JSON object's text (std::map's order is nlohmann's).
std::string CountsText(const std::map<std::string, int64_t>& counts) {
  JsonObjectText out;
  for (const auto& [name, count] : counts) out.Int(name, count);
  return out.Done();
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

json PolicyJson(const PolicyVersion& v) {
  return {{"seq", v.seq},
          {"effectiveFromMs", v.effective_from_ms},
          {"effectiveFrom", v.effective_from},
          {"policy", ev::PolicyToJson(v.policy)}};
}
PolicyVersion PolicyFrom(const json& j) {
  auto policy = ev::PolicyFromJson(j.at("policy").dump());
  if (!policy.ok()) throw std::runtime_error(policy.status().message());
  return PolicyVersion{j.at("seq").get<uint64_t>(), j.at("effectiveFromMs").get<int64_t>(),
                       j.at("effectiveFrom").get<std::string>(), *policy};
}

json RecipientJson(const Recipient& r) {
  return {{"info", ev::BodyToJson(ev::Body(r.info))}, {"seq", r.seq}};
}
Recipient RecipientFrom(const json& j) {
  auto body = ev::BodyFromJson("RecipientRegistered", j.at("info"));
  if (!body.ok()) throw std::runtime_error(body.status().message());
  return Recipient{std::get<ev::RecipientRegistered>(*body), j.at("seq").get<uint64_t>()};
}

json MeasureYearJson(const MeasureYear& m) {
  return {{"allocatedFen", m.allocated_fen},
          {"committedFen", m.committed_fen},
          {"totals", TotalsJson(m.totals)},
          {"statusCounts", m.status_counts}};
}
std::string MeasureYearText(const MeasureYear& m) {
  return JsonObjectText()
      .Raw("allocatedFen", CountsText(m.allocated_fen))
      .Raw("committedFen", CountsText(m.committed_fen))
      .Raw("statusCounts", CountsText(m.status_counts))
      .Raw("totals", TotalsText(m.totals))
      .Done();
}
MeasureYear MeasureYearFrom(const json& j) {
  MeasureYear m;
  m.allocated_fen = j.at("allocatedFen").get<std::map<std::string, int64_t>>();
  m.committed_fen = j.at("committedFen").get<std::map<std::string, int64_t>>();
  m.totals = TotalsFrom(j.at("totals"));
  m.status_counts = j.at("statusCounts").get<std::map<std::string, int64_t>>();
  return m;
}

json RecipientYearJson(const RecipientTrackYear& r) {
  return {{"totals", TotalsJson(r.totals)}, {"liveAwards", r.live_awards}};
}
std::string RecipientYearText(const RecipientTrackYear& r) {
  return JsonObjectText()
      .UInt("liveAwards", r.live_awards)
      .Raw("totals", TotalsText(r.totals))
      .Done();
}
RecipientTrackYear RecipientYearFrom(const json& j) {
  return RecipientTrackYear{TotalsFrom(j.at("totals")), j.at("liveAwards").get<uint32_t>()};
}

json ProjectJson(const int64_t& committed) { return {{"committedFen", committed}}; }
int64_t ProjectFrom(const json& j) { return j.at("committedFen").get<int64_t>(); }

json EvidenceJson(const std::string& application) { return {{"application", application}}; }
std::string EvidenceFrom(const json& j) { return j.at("application").get<std::string>(); }

json IdempotencyJson(const IdempotencyRecord& r) {
  return {{"seq", r.seq}, {"content", ev::Hex(r.content)}};
}
IdempotencyRecord IdempotencyFrom(const json& j) {
  return IdempotencyRecord{j.at("seq").get<uint64_t>(), HexArray<32>(j.at("content"))};
}

// Written directly: equal to ApplicationJson(a).dump() byte for byte (RowTextTest).
std::string ApplicationRowText(const Application& a) {
  std::string seqs = "[";
  for (uint64_t seq : a.seqs) {
    if (seqs.size() > 1) seqs.push_back(',');
    seqs.append(std::to_string(seq));
  }
  seqs.push_back(']');
  return JsonObjectText()
      .Str("awardUnit", a.award_unit)
      .Str("awarder", ev::Hex(a.awarder))
      .Str("awarderHolder", a.awarder_holder)
      .Int("cityFen", a.city_fen)
      .Str("decider", ev::Hex(a.decider))
      .Str("deciderHolder", a.decider_holder)
      .Str("district", a.district)
      .Int("districtFen", a.district_fen)
      .Int("grantedFen", a.granted_fen)
      .Int("paidFen", a.paid_fen)
      .Int("reversedFen", a.reversed_fen)
      .Int("revokedFen", a.revoked_fen)
      .Raw("seqs", seqs)
      .Int("state", static_cast<int>(a.state))
      .Raw("submitted", SubmittedText(a.submitted))
      .Str("submitter", ev::Hex(a.submitter))
      .Str("submitterHolder", a.submitter_holder)
      .Str("unit", a.unit)
      .Done();
}

// ---- The row codec: one entry per kind of row ----

}  // namespace

// A forward walk over the rows of one kind (RowWalk merges one per kind).
class RowCursor {
 public:
  virtual ~RowCursor() = default;
  // The current row's key; nullptr past the last.
  virtual const std::string* key() const = 0;
  // REQUIRES: key() != nullptr.
  virtual json Encode() const = 0;
  // Encode()'s JSON text; a kind that writes it directly overrides this.
  virtual std::string EncodeText() const { return Encode().dump(); }
  virtual void Next() = 0;
};

namespace {

// One kind of projection row: the keys it owns, where its rows live in LedgerState, and their
// persisted JSON form. Adding a projection is one entry in RowKinds().
class RowKind {
 public:
  virtual ~RowKind() = default;
  // Whether `key` is a key of this kind.
  virtual bool Owns(const std::string& key) const = 0;
  // Rows of this kind that a backed state always holds whole.
  virtual bool resident() const = 0;
  virtual std::optional<json> Encode(const LedgerState& s, const std::string& key) const = 0;
  // Encode()'s JSON text (the row's stored value); a kind that writes it directly overrides this.
  virtual std::optional<std::string> EncodeText(const LedgerState& s,
                                                const std::string& key) const {
    std::optional<json> j = Encode(s, key);
    if (!j) return std::nullopt;
    return j->dump();
  }
  // Throws on a value that does not parse (LoadRow turns it into kCorruption).
  virtual void Load(LedgerState* s, const std::string& key, const json& value) const = 0;
  virtual bool Has(const LedgerState& s, const std::string& key) const = 0;
  virtual void Erase(LedgerState* s, const std::string& key) const = 0;
  virtual void AddKeys(const LedgerState& s, std::vector<std::string>* out) const = 0;
  virtual size_t Count(const LedgerState& s) const = 0;
  // The rows of this kind in `s`, in key order.
  virtual std::unique_ptr<RowCursor> Walk(const LedgerState& s) const = 0;
};

// Rows kept in one map of LedgerState, keyed by row key under `prefix`.
template <typename T>
class MapRows : public RowKind {
 public:
  using Map = std::map<std::string, T>;
  // `text`, if given, writes encode's JSON text directly (the same bytes as its dump()).
  MapRows(std::string_view prefix, Map LedgerState::*map, json (*encode)(const T&),
          T (*decode)(const json&), std::string (*text)(const T&) = nullptr)
      : prefix_(prefix), map_(map), encode_(encode), decode_(decode), text_(text) {}

  bool Owns(const std::string& key) const override { return key.starts_with(prefix_); }
  bool resident() const override {
    for (const char* prefix : kResidentRowPrefixes) {
      if (prefix_ == prefix) return true;
    }
    return false;
  }
  std::optional<json> Encode(const LedgerState& s, const std::string& key) const override {
    auto it = (s.*map_).find(key);
    if (it == (s.*map_).end()) return std::nullopt;
    return encode_(it->second);
  }
  std::optional<std::string> EncodeText(const LedgerState& s,
                                        const std::string& key) const override {
    auto it = (s.*map_).find(key);
    if (it == (s.*map_).end()) return std::nullopt;
    return Text(it->second);
  }
  void Load(LedgerState* s, const std::string& key, const json& value) const override {
    (s->*map_)[key] = decode_(value);
  }
  bool Has(const LedgerState& s, const std::string& key) const override {
    return (s.*map_).count(key) != 0;
  }
  void Erase(LedgerState* s, const std::string& key) const override { (s->*map_).erase(key); }
  void AddKeys(const LedgerState& s, std::vector<std::string>* out) const override {
    for (const auto& [key, row] : s.*map_) out->push_back(key);
  }
  size_t Count(const LedgerState& s) const override { return (s.*map_).size(); }
  std::unique_ptr<RowCursor> Walk(const LedgerState& s) const override {
    return std::make_unique<Cursor>(*this, s.*map_);
  }

 private:
  // A row's JSON text: written directly if the kind can, else encode's dump().
  std::string Text(const T& row) const {
    return text_ != nullptr ? text_(row) : encode_(row).dump();
  }

  class Cursor : public RowCursor {
   public:
    Cursor(const MapRows& kind, const Map& map) : kind_(kind), it_(map.begin()), end_(map.end()) {}
    const std::string* key() const override { return it_ == end_ ? nullptr : &it_->first; }
    json Encode() const override { return kind_.encode_(it_->second); }
    std::string EncodeText() const override { return kind_.Text(it_->second); }
    void Next() override { ++it_; }

   private:
    const MapRows& kind_;
    typename Map::const_iterator it_, end_;
  };

  std::string_view prefix_;
  Map LedgerState::*map_;
  json (*encode_)(const T&);
  T (*decode_)(const json&);
  std::string (*text_)(const T&);
};

// The one row "head": the ledger's identity and its head entry.
class HeadRow : public RowKind {
 public:
  bool Owns(const std::string& key) const override { return key == "head"; }
  bool resident() const override { return true; }
  std::optional<json> Encode(const LedgerState& s, const std::string&) const override {
    const LedgerInfo& i = s.info;
    return json{{"ledgerId", ev::Hex(i.ledger_id)}, {"name", i.name},
                {"authority", ev::Hex(i.authority)}, {"seq", i.head_seq},
                {"hash", ev::Hex(i.head_hash)}, {"recordedAt", i.head_recorded_at_ms}};
  }
  std::optional<std::string> EncodeText(const LedgerState& s, const std::string&) const override {
    return Text(s.info);
  }
  void Load(LedgerState* s, const std::string&, const json& j) const override {
    s->info.ledger_id = HexArray<16>(j.at("ledgerId"));
    s->info.name = j.at("name").get<std::string>();
    s->info.authority = HexArray<32>(j.at("authority"));
    s->info.head_seq = j.at("seq").get<uint64_t>();
    s->info.head_hash = HexArray<32>(j.at("hash"));
    s->info.head_recorded_at_ms = j.at("recordedAt").get<int64_t>();
  }
  bool Has(const LedgerState&, const std::string&) const override { return true; }
  void Erase(LedgerState* s, const std::string&) const override { s->info = LedgerInfo{}; }
  void AddKeys(const LedgerState&, std::vector<std::string>* out) const override {
    out->push_back("head");
  }
  size_t Count(const LedgerState&) const override { return 1; }
  std::unique_ptr<RowCursor> Walk(const LedgerState& s) const override {
    return std::make_unique<Cursor>(*this, s);
  }

 private:
  // Encode()'s text, written directly: the head changes with every entry.
  static std::string Text(const LedgerInfo& i) {
    return JsonObjectText()
        .Str("authority", ev::Hex(i.authority))
        .Str("hash", ev::Hex(i.head_hash))
        .Str("ledgerId", ev::Hex(i.ledger_id))
        .Str("name", i.name)
        .Int("recordedAt", i.head_recorded_at_ms)
        .UInt("seq", i.head_seq)
        .Done();
  }

  class Cursor : public RowCursor {
   public:
    Cursor(const HeadRow& kind, const LedgerState& s) : kind_(kind), s_(s) {}
    const std::string* key() const override { return done_ ? nullptr : &key_; }
    json Encode() const override { return *kind_.Encode(s_, key_); }
    std::string EncodeText() const override { return Text(s_.info); }
    void Next() override { done_ = true; }

   private:
    const HeadRow& kind_;
    const LedgerState& s_;
    const std::string key_ = "head";
    bool done_ = false;
  };
};

const std::vector<const RowKind*>& RowKinds() {
  using S = LedgerState;
  static const HeadRow head;
  static const MapRows<KeyInfo> keys("key/", &S::keys, KeyJson, KeyFrom);
  static const MapRows<PolicyVersion> policies("policy/", &S::policies, PolicyJson, PolicyFrom);
  static const MapRows<Recipient> recipients("recipient/", &S::recipients, RecipientJson,
                                             RecipientFrom);
  static const MapRows<Application> applications("app/", &S::applications, ApplicationJson,
                                                 ApplicationFrom, ApplicationRowText);
  static const MapRows<MeasureYear> measure_years("my/", &S::measure_years, MeasureYearJson,
                                                  MeasureYearFrom, MeasureYearText);
  static const MapRows<RecipientTrackYear> recipient_years(
      "rty/", &S::recipient_years, RecipientYearJson, RecipientYearFrom, RecipientYearText);
  static const MapRows<int64_t> projects("proj/", &S::projects, ProjectJson, ProjectFrom);
  static const MapRows<Totals> units("unit/", &S::units, TotalsJson, TotalsFrom, TotalsText);
  static const MapRows<Totals> districts("district/", &S::districts, TotalsJson, TotalsFrom,
                                         TotalsText);
  static const MapRows<std::string> evidence("evidence/", &S::evidence, EvidenceJson, EvidenceFrom);
  static const MapRows<IdempotencyRecord> idempotency("idem/", &S::idempotency, IdempotencyJson,
                                                      IdempotencyFrom);
  static const std::vector<const RowKind*> kinds = {
      &head,     &keys,  &policies,  &recipients, &applications, &measure_years, &recipient_years,
      &projects, &units, &districts, &evidence,   &idempotency};
  return kinds;
}

// The kind owning `key`; nullptr if none does.
const RowKind* KindOf(const std::string& key) {
  for (const RowKind* kind : RowKinds()) {
    if (kind->Owns(key)) return kind;
  }
  return nullptr;
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

RowSource::~RowSource() = default;
StateView::~StateView() = default;

void LedgerState::Fault(const std::string& row_key) const {
  if (source == nullptr || absent_.count(row_key) != 0) return;
  const RowKind* kind = KindOf(row_key);
  if (kind == nullptr || kind->resident() || kind->Has(*this, row_key)) return;
  Result<std::optional<std::string>> row = source->ReadRow(row_key);
  if (!row.ok()) {
    if (read_status_.ok()) read_status_ = row.status();
    return;
  }
  if (!row->has_value()) {
    absent_.insert(row_key);
    return;
  }
  // A cache fill: the rows stand for the same state before and after, so lookups stay const.
  // A backed state is never a const object (it is the ledger's member), so the cast is sound.
  Status loaded = LoadRow(const_cast<LedgerState*>(this), row_key, **row);
  if (!loaded.ok() && read_status_.ok()) read_status_ = loaded;
}

void LedgerState::ForgetCached() {
  LEDGER_CHECK(dirty.empty());
  for (const RowKind* kind : RowKinds()) {
    if (kind->resident()) continue;
    std::vector<std::string> cached;
    kind->AddKeys(*this, &cached);
    for (const std::string& key : cached) kind->Erase(this, key);
  }
  absent_.clear();
}

size_t LedgerState::CachedRows() const {
  size_t rows = 0;
  for (const RowKind* kind : RowKinds()) {
    if (!kind->resident()) rows += kind->Count(*this);
  }
  return rows + absent_.size();
}

namespace {
template <typename T>
const T* Lookup(const LedgerState& s, const std::map<std::string, T>& map, const std::string& key) {
  s.Fault(key);
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}
}  // namespace

const KeyInfo* LedgerState::FindKey(const KeyId& key_id) const {
  return Lookup(*this, keys, RowKeyKey(key_id));
}
std::vector<const KeyInfo*> LedgerState::AllKeys() const {
  std::vector<const KeyInfo*> out;
  for (const auto& [key, key_info] : keys) out.push_back(&key_info);
  return out;
}
std::vector<const PolicyVersion*> LedgerState::AllPolicies() const {
  std::vector<const PolicyVersion*> out;
  for (const auto& [key, version] : policies) out.push_back(&version);
  return out;
}
const Application* LedgerState::FindApplication(const std::string& id) const {
  return Lookup(*this, applications, RowKeyApplication(id));
}
const Recipient* LedgerState::FindRecipient(const std::string& uscc) const {
  return Lookup(*this, recipients, RowKeyRecipient(uscc));
}
const MeasureYear* LedgerState::FindMeasureYear(const std::string& measure, uint16_t year) const {
  return Lookup(*this, measure_years, RowKeyMeasureYear(measure, year));
}
const RecipientTrackYear* LedgerState::FindRecipientYear(const std::string& uscc,
                                                         const std::string& measure,
                                                         const std::string& track,
                                                         uint16_t year) const {
  return Lookup(*this, recipient_years, RowKeyRecipientYear(uscc, measure, track, year));
}
const int64_t* LedgerState::FindProject(const std::string& row_key) const {
  return Lookup(*this, projects, row_key);
}
const std::string* LedgerState::FindEvidence(const Hash& digest) const {
  return Lookup(*this, evidence, RowKeyEvidence(digest));
}
const IdempotencyRecord* LedgerState::FindIdempotency(const std::string& idempotency_key) const {
  return Lookup(*this, idempotency, RowKeyIdempotency(idempotency_key));
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
std::string RowKeyProject(const ev::ApplicationSubmitted& a) {
  const std::string* project = a.FindAttribute("project_id");
  return "proj/" + a.measure + "/" + a.track + "/" +
         (project != nullptr ? *project : "application:" + a.application_id);
}
std::string RowKeyEvidence(const Hash& digest) { return "evidence/" + ev::Hex(digest); }
std::string RowKeyIdempotency(const std::string& key) { return "idem/" + key; }
std::string RowKeyUnit(const std::string& unit) { return "unit/" + unit; }
std::string RowKeyDistrict(const std::string& district) { return "district/" + district; }

void Apply(LedgerState* state, const EntryContext& context) {
  LEDGER_CHECK(state != nullptr);
  LEDGER_CHECK(context.entry != nullptr);
  Folder(state, context).Run();
  LEDGER_CHECK(state->info.head_seq == context.entry->seq);
}

void ApplyChain(LedgerState* state, const EntryContext& context) {
  LEDGER_CHECK(state != nullptr);
  LEDGER_CHECK(context.entry != nullptr);
  Folder(state, context).RunChain();
  LEDGER_CHECK(state->info.head_seq == context.entry->seq);
}

std::optional<std::string> EncodeRow(const LedgerState& state, const std::string& row_key) {
  const RowKind* kind = KindOf(row_key);
  if (kind == nullptr) return std::nullopt;
  state.Fault(row_key);
  return kind->EncodeText(state, row_key);
}

std::optional<std::string> EncodeRowJson(const LedgerState& state, const std::string& row_key) {
  const RowKind* kind = KindOf(row_key);
  if (kind == nullptr) return std::nullopt;
  state.Fault(row_key);
  std::optional<json> j = kind->Encode(state, row_key);
  if (!j) return std::nullopt;
  return j->dump();
}

Status LoadRow(LedgerState* state, const std::string& row_key, const std::string& value) {
  const RowKind* kind = KindOf(row_key);
  if (kind == nullptr) {
    return Status::Corruption("projection row '" + row_key + "' is of no known kind");
  }
  try {
    kind->Load(state, row_key, json::parse(value));
  } catch (const std::exception& e) {
    return Status::Corruption("projection row '" + row_key + "' does not parse: " + e.what());
  }
  return Status::Ok();
}

void EraseRow(LedgerState* s, const std::string& key) {
  if (const RowKind* kind = KindOf(key)) kind->Erase(s, key);
}

std::vector<std::string> AllRowKeys(const LedgerState& s) {
  std::vector<std::string> keys;
  for (const RowKind* kind : RowKinds()) kind->AddKeys(s, &keys);
  std::sort(keys.begin(), keys.end());
  return keys;
}

Hash StateLeaf(std::string_view row_key, std::string_view value) {
  uint32_t size = static_cast<uint32_t>(row_key.size());
  std::array<uint8_t, 4> length{};
  for (size_t i = 0; i < 4; ++i) length[i] = static_cast<uint8_t>(size >> (24 - 8 * i));
  return ev::Rfc9162Leaf({length, AsBytes(row_key), AsBytes(value)});
}

RowWalk::RowWalk(const LedgerState& state) {
  for (const RowKind* kind : RowKinds()) cursors_.push_back(kind->Walk(state));
  Pick();
}

RowWalk::~RowWalk() = default;

const std::string& RowWalk::key() const {
  LEDGER_CHECK(Valid());
  return *current_->key();
}

std::string RowWalk::value() const {
  LEDGER_CHECK(Valid());
  return current_->EncodeText();
}

void RowWalk::Next() {
  LEDGER_CHECK(Valid());
  current_->Next();
  Pick();
}

void RowWalk::Pick() {
  current_ = nullptr;
  for (const std::unique_ptr<RowCursor>& cursor : cursors_) {
    const std::string* key = cursor->key();
    if (key == nullptr) continue;
    // Kinds own disjoint keys, so no two cursors stand on the same key.
    LEDGER_CHECK(current_ == nullptr || *key != *current_->key());
    if (current_ == nullptr || *key < *current_->key()) current_ = cursor.get();
  }
}

Hash StateHash(const LedgerState& state) {
  ev::Rfc9162RootBuilder root;
  for (RowWalk rows(state); rows.Valid(); rows.Next())
    root.Add(StateLeaf(rows.key(), rows.value()));
  return root.Root();
}

}  // namespace fundledger::projections
