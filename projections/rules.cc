// The rules of DESIGN.md §4: who may sign what, the application state machine, and the money
// rules of the policy in force. Every refusal names a stable rule code (DESIGN.md §10).
#include <algorithm>
#include <set>
#include <type_traits>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "projections/projections.h"

namespace fundledger::projections {
namespace {

namespace ev = ::fundledger::events;
using ev::FormatYuan;

std::string Yuan(int64_t fen) { return FormatYuan(fen) + " yuan"; }

Status Reject(const std::string& rule, const std::string& message) {
  return Status::Rejected(rule, message);
}

bool IsAdmin(ev::Role role) { return role == ev::Role::kAdmin || role == ev::Role::kAuthority; }

// The application's measure and track under the policy in force at `at_ms`.
struct PolicyView {
  const PolicyVersion* version = nullptr;
  const ev::Measure* measure = nullptr;
  const ev::Track* track = nullptr;
};

Result<PolicyView> ResolvePolicy(const StateView& state, int64_t at_ms,
                                 const std::string& measure_id, const std::string* track_id) {
  PolicyView view;
  view.version = state.PolicyAt(at_ms);
  if (view.version == nullptr) {
    return Reject("policy.none", "no policy is in force on " + ev::ShanghaiDate(at_ms));
  }
  view.measure = view.version->policy.FindMeasure(measure_id);
  if (view.measure == nullptr) {
    return Reject("measure.unknown", "measure '" + measure_id + "' is not in policy " +
                                         view.version->policy.id + " " + view.version->policy.version);
  }
  if (!view.measure->money_rule) {
    return Reject("measure.no_money", "measure " + measure_id + " grants no money through the ledger");
  }
  // A policy that broke CheckPolicy is still in the state when audit replays a hostile export;
  // the rates the rules compute with must then refuse, not reach ApplyRateBp's checks.
  const std::string where = "policy " + view.version->policy.id + " measure " + measure_id;
  if (view.measure->co_funded && view.measure->co_funding.city_share_bp > 10000) {
    return Status::InvalidArgument(where + ": city share over 100% (the policy is invalid)");
  }
  if (track_id != nullptr) {
    view.track = view.measure->FindTrack(*track_id);
    if (view.track == nullptr) {
      std::string names;
      for (const auto& t : view.measure->tracks) names += (names.empty() ? "" : ", ") + t.id;
      return Reject("track.unknown", "measure " + measure_id + " has no track '" + *track_id +
                                         "' (tracks: " + names + ")");
    }
    if (view.track->rate_ceiling_bp > 10000) {
      return Status::InvalidArgument(where + " track " + *track_id +
                                     ": rate ceiling over 100% (the policy is invalid)");
    }
  }
  return view;
}

// Fiscal years a policy term covers, and whether `at_ms` falls inside the term.
bool YearInTerm(const ev::Policy& policy, uint16_t year) {
  auto start = ev::ParseIsoDate(policy.term_start);
  auto end = ev::ParseIsoDate(policy.term_end);
  if (!start || !end) return false;
  int first = std::stoi(ev::FormatIsoDate(*start).substr(0, 4));
  int last = std::stoi(ev::FormatIsoDate(*end).substr(0, 4));
  return year >= first && year <= last;
}

bool InTerm(const ev::Policy& policy, int64_t at_ms) {
  auto start = ev::ShanghaiMidnightMs(policy.term_start);
  auto end = ev::ShanghaiMidnightMs(policy.term_end);
  return start && end && at_ms >= *start && at_ms < *end + ev::kDayMs;
}

bool UnitResponsible(const ev::Measure& measure, const std::string& unit) {
  return std::find(measure.units.begin(), measure.units.end(), unit) != measure.units.end();
}

std::string UnitList(const ev::Measure& measure) {
  std::string out;
  for (const auto& u : measure.units) out += (out.empty() ? "" : ", ") + u;
  return out;
}

std::string Where(const ev::Measure& m, const ev::Track& t) {
  return "measure " + m.id + " track " + t.id;
}

// Who may sign each kind of entry (DESIGN.md §3), and how a refusal names the act.
struct RoleNeed {
  std::vector<ev::Role> roles;  // an admin need is met by the authority too
  const char* what = "";
};

RoleNeed RoleFor(const ev::Body& body) {
  using R = ev::Role;
  return std::visit(
      [](const auto& b) -> RoleNeed {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ev::LedgerCreated>)
          return {{R::kAuthority}, "creating the ledger"};
        if constexpr (std::is_same_v<T, ev::KeyRegistered>)
          return {{R::kAdmin}, "registering a key"};
        if constexpr (std::is_same_v<T, ev::KeyRevoked>) return {{R::kAdmin}, "revoking a key"};
        if constexpr (std::is_same_v<T, ev::PolicyPublished>)
          return {{R::kAdmin}, "publishing a policy"};
        if constexpr (std::is_same_v<T, ev::RecipientRegistered>) {
          return {{R::kClerk}, "registering a recipient"};
        }
        if constexpr (std::is_same_v<T, ev::BudgetAllocated>) {
          return {{R::kAdmin, R::kTreasurer}, "allocating a budget"};
        }
        if constexpr (std::is_same_v<T, ev::ApplicationSubmitted>) {
          return {{R::kClerk}, "submitting an application"};
        }
        if constexpr (std::is_same_v<T, ev::ApplicationApproved>)
          return {{R::kReviewer}, "approve"};
        if constexpr (std::is_same_v<T, ev::ApplicationRejected>) return {{R::kReviewer}, "reject"};
        if constexpr (std::is_same_v<T, ev::AwardGranted>)
          return {{R::kReviewer}, "granting an award"};
        if constexpr (std::is_same_v<T, ev::AwardRevoked>)
          return {{R::kReviewer}, "revoking an award"};
        if constexpr (std::is_same_v<T, ev::PayoutDisbursed> ||
                      std::is_same_v<T, ev::PayoutReversed>) {
          return {{R::kTreasurer}, "a payout"};
        }
        if constexpr (std::is_same_v<T, ev::AuditAttested>)
          return {{R::kAuditor}, "an audit attestation"};
        return {{}, "an unknown kind of entry"};
      },
      body);
}

class Validator {
 public:
  Validator(const StateView& state, const ev::Entry& entry) : state_(state), entry_(entry) {}

  Status Run() {
    LEDGER_RETURN_IF_ERROR(ev::CheckEntryText(entry_));
    if (!entry_.idempotency_key.empty()) {
      if (const IdempotencyRecord* used = state_.FindIdempotency(entry_.idempotency_key)) {
        return Reject("idempotency.conflict",
                      "idempotency key '" + entry_.idempotency_key + "' was used by entry " +
                          std::to_string(used->seq) + " with other content");
      }
    }
    if (entry_.seq == 1) return std::visit([this](const auto& b) { return First(b); }, entry_.body);
    if (std::holds_alternative<ev::LedgerCreated>(entry_.body)) {
      return Reject("state.transition", "LedgerCreated may only be entry 1");
    }
    LEDGER_RETURN_IF_ERROR(Signer());
    return std::visit([this](const auto& b) { return On(b); }, entry_.body);
  }

  // The signer is registered, not revoked, and holds a role that may sign the body's kind.
  // REQUIRES: entry seq > 1.
  Status Signer() {
    signer_ = state_.FindKey(entry_.signer);
    if (signer_ == nullptr) {
      return Reject("key.unknown", "signer " + ev::Hex(entry_.signer).substr(0, 16) + "… is not a registered key");
    }
    if (signer_->revoked_seq != 0) {
      return Reject("key.revoked", "signer key of " + signer_->holder + " (" + signer_->unit +
                                       ") was revoked at entry " + std::to_string(signer_->revoked_seq));
    }
    RoleNeed need = RoleFor(entry_.body);
    return NeedRole(need.roles, need.what);
  }

 private:
  template <typename T>
  Status First(const T&) {
    return Reject("state.transition", "entry 1 must be LedgerCreated");
  }
  Status First(const ev::LedgerCreated& e) {
    if (ev::KeyIdOf(e.authority_public_key) != entry_.signer) {
      return Reject("role", "entry 1 must be signed by the authority key it names");
    }
    if (e.name.empty()) return Status::InvalidArgument("ledger name is empty");
    if (e.currency != "CNY" || e.minor_unit != "fen" || e.minor_per_major != 100) {
      return Status::InvalidArgument("currency must be CNY in fen (100 fen a yuan)");
    }
    return Status::Ok();
  }

  Status NeedRole(const std::vector<ev::Role>& roles, const char* what) {
    for (ev::Role r : roles) {
      if (signer_->role == r || (r == ev::Role::kAdmin && IsAdmin(signer_->role))) return Status::Ok();
    }
    std::string names;
    for (ev::Role r : roles) names += (names.empty() ? "" : " or ") + std::string(ev::RoleName(r));
    return Reject("role", std::string(what) + " needs a " + names + " key; " + signer_->holder +
                              " signs as " + ev::RoleName(signer_->role));
  }

  Status NeedUnit(const ev::Measure& measure, const char* what) {
    if (UnitResponsible(measure, signer_->unit)) return Status::Ok();
    return Reject("unit", std::string(what) + " on measure " + measure.id + " needs a key of " +
                              UnitList(measure) + "; " + signer_->holder + " is of " + signer_->unit);
  }

  Status On(const ev::LedgerCreated&) { return Status::Ok(); }  // unreachable: seq > 1 refused above

  Status On(const ev::KeyRegistered& e) {
    if (e.role == ev::Role::kAuthority) return Reject("role", "the authority role is given only at init");
    if (e.unit.empty() || NormalizeHolder(e.holder).empty()) {
      return Status::InvalidArgument("key needs a unit and a holder");
    }
    if (state_.FindKey(ev::KeyIdOf(e.public_key)) != nullptr) {
      return Reject("key.duplicate", "key " + ev::Hex(ev::KeyIdOf(e.public_key)).substr(0, 16) + "… is already registered");
    }
    return Status::Ok();
  }

  Status On(const ev::KeyRevoked& e) {
    const KeyInfo* key = state_.FindKey(e.key_id);
    if (key == nullptr) return Reject("key.unknown", "key " + ev::Hex(e.key_id) + " is not registered");
    if (key->revoked_seq != 0) return Reject("key.revoked", "key of " + key->holder + " is already revoked");
    if (e.reason.empty()) return Status::InvalidArgument("a revocation needs a reason");
    // Only an admin (or the authority) registers keys: with none left, no key could ever be
    // registered or revoked again.
    if (IsAdmin(key->role) && !AdminRemainsWithout(RowKeyKey(e.key_id))) {
      return Reject("key.last_admin", "revoking the " + std::string(ev::RoleName(key->role)) +
                                          " key of " + key->holder +
                                          " would leave no admin or authority key; "
                                          "register another admin first");
    }
    return Status::Ok();
  }

  // Whether an unrevoked admin or authority key other than row `row_key` exists.
  bool AdminRemainsWithout(const std::string& row_key) const {
    for (const KeyInfo* info : state_.AllKeys()) {
      if (RowKeyKey(ev::KeyIdOf(info->public_key)) != row_key && info->revoked_seq == 0 &&
          IsAdmin(info->role)) {
        return true;
      }
    }
    return false;
  }

  Status On(const ev::PolicyPublished& e) {
    LEDGER_RETURN_IF_ERROR(CheckPolicy(e.policy));
    if (!ev::ParseIsoDate(e.effective_from)) {
      return Status::InvalidArgument("effective date '" + e.effective_from + "' is not an ISO date");
    }
    for (const PolicyVersion* version : state_.AllPolicies()) {
      if (version->policy.id == e.policy.id && version->policy.version == e.policy.version) {
        return Reject("policy.duplicate", "policy " + e.policy.id + " version " + e.policy.version +
                                              " was already published at entry " +
                                              std::to_string(version->seq));
      }
    }
    return Status::Ok();
  }

  Status On(const ev::RecipientRegistered& e) {
    LEDGER_RETURN_IF_ERROR(ev::CheckUscc(e.recipient_id));
    if (e.name.empty()) return Status::InvalidArgument("recipient name is empty");
    if (!ev::IsShenzhenDistrict(e.district)) {
      return Status::InvalidArgument("unknown district '" + e.district + "'");
    }
    for (const std::string& related : e.related_parties) {
      LEDGER_RETURN_IF_ERROR(ev::CheckUscc(related).WithPrefix("related party"));
    }
    if (const Recipient* r = state_.FindRecipient(e.recipient_id)) {
      return Reject("recipient.duplicate", "recipient " + e.recipient_id + " is already registered at entry " +
                                               std::to_string(r->seq));
    }
    return Status::Ok();
  }

  Status On(const ev::BudgetAllocated& e) {
    if (e.amount_fen <= 0 || e.amount_fen > ev::kAmountFenMax) {
      return Status::InvalidArgument("allocation must be a positive amount");
    }
    LEDGER_ASSIGN_OR_RETURN(PolicyView view, ResolvePolicy(state_, entry_.recorded_at_ms, e.measure, nullptr));
    if (!YearInTerm(view.version->policy, e.fiscal_year)) {
      return Reject("term.closed", "fiscal year " + std::to_string(e.fiscal_year) + " is outside the term of policy " +
                                       view.version->policy.id);
    }
    bool district = e.source != "city";
    if (district && (!view.measure->co_funded || !ev::IsShenzhenDistrict(e.source))) {
      return Reject("pool.source", "measure " + e.measure + " is funded by the city; source '" + e.source +
                                       "' cannot allocate to it");
    }
    const MeasureYear* my = state_.FindMeasureYear(e.measure, e.fiscal_year);
    int64_t already = my == nullptr ? 0 : my->AllocatedFen();
    int64_t after = 0;
    if (!ev::CheckedAdd(already, e.amount_fen, &after)) return Status::InvalidArgument("allocation overflows");
    if (view.measure->annual_budget_cap_stated && after > view.measure->annual_budget_cap_fen) {
      return Reject("pool.allocation", "measure " + e.measure + ": annual budget cap " +
                                           Yuan(view.measure->annual_budget_cap_fen) + " for " +
                                           std::to_string(e.fiscal_year) + ", already allocated " +
                                           FormatYuan(already) + ", asked " + FormatYuan(e.amount_fen));
    }
    return Status::Ok();
  }

  Status On(const ev::ApplicationSubmitted& e) {
    if (e.application_id.empty()) return Status::InvalidArgument("application id is empty");
    if (state_.FindApplication(e.application_id) != nullptr) {
      return Reject("application.duplicate", "application " + e.application_id + " already exists");
    }
    LEDGER_ASSIGN_OR_RETURN(PolicyView view, ResolvePolicy(state_, entry_.recorded_at_ms, e.measure, &e.track));
    LEDGER_RETURN_IF_ERROR(NeedUnit(*view.measure, "submitting"));
    const ev::Policy& policy = view.version->policy;
    if (!InTerm(policy, entry_.recorded_at_ms)) {
      return Reject("term.closed", "applications to policy " + policy.id + " are accepted from " +
                                       policy.term_start + " to " + policy.term_end + ", not on " +
                                       ev::ShanghaiDate(entry_.recorded_at_ms));
    }
    if (!YearInTerm(policy, e.fiscal_year)) {
      return Reject("term.closed", "fiscal year " + std::to_string(e.fiscal_year) + " is outside the term of " + policy.id);
    }
    const Recipient* recipient = state_.FindRecipient(e.recipient_id);
    if (recipient == nullptr) return Reject("recipient.unknown", "recipient " + e.recipient_id + " is not registered");
    LEDGER_RETURN_IF_ERROR(CheckBasis(e, *view.measure, *view.track));
    LEDGER_RETURN_IF_ERROR(CheckEligibility(e, recipient->info, *view.measure, *view.track));
    for (const Hash& digest : e.evidence) {
      if (const std::string* holder = state_.FindEvidence(digest)) {
        return Reject("evidence.double_claim", "evidence " + ev::Hex(digest).substr(0, 16) +
                                                   "… already backs the award of application " +
                                                   *holder);
      }
    }
    return Status::Ok();
  }

  Status CheckBasis(const ev::ApplicationSubmitted& e, const ev::Measure& m, const ev::Track& t) {
    for (size_t i = 1; i < e.attributes.size(); ++i) {
      if (!(e.attributes[i - 1].key < e.attributes[i].key)) {
        return Status::InvalidArgument("attributes must be sorted by key with no repeats");
      }
    }
    if (e.basis_fen < 0 || e.basis_fen > ev::kAmountFenMax) return Status::InvalidArgument("basis out of range");
    if (t.IsMerit()) {
      if (e.evidence.empty()) {
        return Reject("evidence.required", Where(m, t) + " grants on merit: an evidence digest is required");
      }
      return Status::Ok();
    }
    if (e.basis_fen <= 0) return Reject("basis.required", Where(m, t) + " needs a basis amount (" + t.basis_kind + ")");
    if (e.basis_kind != t.basis_kind) {
      return Reject("basis.kind", Where(m, t) + " takes a basis of kind " + t.basis_kind + ", not '" + e.basis_kind + "'");
    }
    return Status::Ok();
  }

  Status CheckEligibility(const ev::ApplicationSubmitted& e, const ev::RecipientRegistered& r,
                          const ev::Measure& m, const ev::Track& t) {
    if (!t.eligible_kinds.empty() &&
        std::find(t.eligible_kinds.begin(), t.eligible_kinds.end(), r.kind) == t.eligible_kinds.end()) {
      std::string kinds;
      for (auto k : t.eligible_kinds) kinds += (kinds.empty() ? "" : ", ") + std::string(ev::RecipientKindName(k));
      return Reject("eligibility.kind", Where(m, t) + " is open to " + kinds + "; " + e.recipient_id + " is " +
                                            ev::RecipientKindName(r.kind));
    }
    for (const ev::AttributeRule& rule : t.required_attributes) {
      const std::string* value = e.FindAttribute(rule.key);
      std::string shown = value == nullptr ? "absent" : "'" + *value + "'";
      bool ok = false;
      std::string wanted;
      switch (rule.test) {
        case ev::AttributeTest::kEquals:
          ok = value != nullptr && !rule.values.empty() && *value == rule.values[0];
          wanted = rule.key + "=" + (rule.values.empty() ? "" : rule.values[0]);
          break;
        case ev::AttributeTest::kOneOf:
          ok = value != nullptr && std::find(rule.values.begin(), rule.values.end(), *value) != rule.values.end();
          wanted = rule.key + " in {";
          for (size_t i = 0; i < rule.values.size(); ++i) wanted += (i ? ", " : "") + rule.values[i];
          wanted += "}";
          break;
        case ev::AttributeTest::kPresent:
          ok = value != nullptr && !value->empty();
          wanted = rule.key + " given";
          break;
        case ev::AttributeTest::kNotRelatedParty:
          ok = value != nullptr && !value->empty() &&
               std::find(r.related_parties.begin(), r.related_parties.end(), *value) == r.related_parties.end();
          wanted = rule.key + " not a related party of the recipient";
          if (value != nullptr && !ok) shown = "'" + *value + "', a related party";
          break;
      }
      if (!ok) return Reject("eligibility.attribute", Where(m, t) + " requires " + wanted + "; it is " + shown);
    }
    return Status::Ok();
  }

  Result<const Application*> NeedApplication(const std::string& id) {
    const Application* app = state_.FindApplication(id);
    if (app == nullptr) return Reject("application.unknown", "application '" + id + "' does not exist");
    return app;
  }

  Status NeedState(const Application& app, AppState wanted, const char* what) {
    if (app.state == wanted) return Status::Ok();
    return Reject("state.transition", "application " + app.submitted.application_id + " is " + StatusName(app) +
                                          "; cannot " + what);
  }

  // Separation of duties by key and by holder: one person may hold several keys, registered
  // with the name spelt differently (case, spaces, full-width forms): holders are compared
  // as NormalizeHolder gives them.
  Status NotSame(const KeyId& other_key, const std::string& other_holder, const char* rule, const char* what) {
    if (entry_.signer == other_key ||
        (!other_holder.empty() &&
         NormalizeHolder(signer_->holder) == NormalizeHolder(other_holder))) {
      return Reject(rule, std::string(what) + " (" + signer_->holder + ")");
    }
    return Status::Ok();
  }

  Status Decision(const std::string& id, const char* what) {
    LEDGER_ASSIGN_OR_RETURN(const Application* app, NeedApplication(id));
    LEDGER_ASSIGN_OR_RETURN(PolicyView view, ResolvePolicy(state_, entry_.recorded_at_ms, app->submitted.measure, nullptr));
    LEDGER_RETURN_IF_ERROR(NeedUnit(*view.measure, what));
    LEDGER_RETURN_IF_ERROR(NeedState(*app, AppState::kSubmitted, what));
    return NotSame(app->submitter, app->submitter_holder, "sod.submit_approve",
                   "the reviewer who decides may not be the clerk who submitted");
  }

  Status On(const ev::ApplicationApproved& e) { return Decision(e.application_id, "approve"); }
  Status On(const ev::ApplicationRejected& e) {
    if (e.reason.empty()) return Status::InvalidArgument("a rejection needs a reason");
    return Decision(e.application_id, "reject");
  }

  Status On(const ev::AwardGranted& e) {
    LEDGER_ASSIGN_OR_RETURN(const Application* app, NeedApplication(e.application_id));
    LEDGER_ASSIGN_OR_RETURN(PolicyView view, ResolvePolicy(state_, entry_.recorded_at_ms, app->submitted.measure,
                                                           &app->submitted.track));
    LEDGER_RETURN_IF_ERROR(NeedUnit(*view.measure, "awarding"));
    LEDGER_RETURN_IF_ERROR(NeedState(*app, AppState::kApproved, "award"));
    LEDGER_RETURN_IF_ERROR(NotSame(app->submitter, app->submitter_holder, "sod.submit_approve",
                                   "the reviewer who awards may not be the clerk who submitted"));
    if (e.amount_fen <= 0 || e.amount_fen > ev::kAmountFenMax) return Status::InvalidArgument("award must be a positive amount");
    if (view.track->IsMerit() && e.justification.empty()) {
      return Reject("justification.required", Where(*view.measure, *view.track) + " grants on merit: a justification is required");
    }
    int64_t city = 0, district = 0;
    SplitAward(*view.measure, e.amount_fen, &city, &district);
    if (e.city_fen != city || e.district_fen != district) {
      return Reject("funding.split", "measure " + view.measure->id + " splits " + FormatYuan(e.amount_fen) +
                                         " as city " + FormatYuan(city) + " / district " + FormatYuan(district) +
                                         "; the award says " + FormatYuan(e.city_fen) + " / " + FormatYuan(e.district_fen));
    }
    LEDGER_ASSIGN_OR_RETURN(AwardLimit limit, MaxAward(state_, e.application_id, entry_.recorded_at_ms));
    if (e.amount_fen > limit.max_fen) {
      return Reject(limit.binding_rule, limit.explanation + ", asked " + FormatYuan(e.amount_fen));
    }
    return Status::Ok();
  }

  Status On(const ev::AwardRevoked& e) {
    LEDGER_ASSIGN_OR_RETURN(const Application* app, NeedApplication(e.application_id));
    LEDGER_ASSIGN_OR_RETURN(PolicyView view, ResolvePolicy(state_, entry_.recorded_at_ms, app->submitted.measure, nullptr));
    LEDGER_RETURN_IF_ERROR(NeedUnit(*view.measure, "revoking"));
    LEDGER_RETURN_IF_ERROR(NeedState(*app, AppState::kAwarded, "revoke"));
    if (e.reason.empty()) return Status::InvalidArgument("a revocation needs a reason");
    if (e.amount_fen <= 0) return Status::InvalidArgument("revocation must be a positive amount");
    if (e.amount_fen > app->UnpaidFen()) {
      return Reject("revoke.over_unpaid", "application " + e.application_id + ": only the unpaid part of the award may be revoked: unpaid " +
                                              FormatYuan(app->UnpaidFen()) + ", asked " + FormatYuan(e.amount_fen));
    }
    return Status::Ok();
  }

  Status Payment(const std::string& id, int64_t amount, const Application** out) {
    LEDGER_ASSIGN_OR_RETURN(const Application* app, NeedApplication(id));
    LEDGER_RETURN_IF_ERROR(NeedState(*app, AppState::kAwarded, "pay or reverse"));
    LEDGER_RETURN_IF_ERROR(NotSame(app->awarder, app->awarder_holder, "sod.award_pay",
                                   "the treasurer who pays may not be the reviewer who awarded"));
    if (amount <= 0 || amount > ev::kAmountFenMax) return Status::InvalidArgument("amount must be positive");
    *out = app;
    return Status::Ok();
  }

  Status On(const ev::PayoutDisbursed& e) {
    const Application* app = nullptr;
    LEDGER_RETURN_IF_ERROR(Payment(e.application_id, e.amount_fen, &app));
    if (e.reference.empty()) return Status::InvalidArgument("a payout needs a payment reference");
    if (e.amount_fen > app->UnpaidFen()) {
      return Reject("payout.over_award", "application " + e.application_id + ": award " + FormatYuan(app->NetAwardFen()) +
                                             ", already paid " + FormatYuan(app->NetPaidFen()) + ", asked " +
                                             FormatYuan(e.amount_fen));
    }
    return Status::Ok();
  }

  Status On(const ev::PayoutReversed& e) {
    const Application* app = nullptr;
    LEDGER_RETURN_IF_ERROR(Payment(e.application_id, e.amount_fen, &app));
    if (e.reason.empty()) return Status::InvalidArgument("a reversal needs a reason");
    if (e.amount_fen > app->NetPaidFen()) {
      return Reject("reversal.over_paid", "application " + e.application_id + ": paid " + FormatYuan(app->NetPaidFen()) +
                                              ", asked to reverse " + FormatYuan(e.amount_fen));
    }
    return Status::Ok();
  }

  Status On(const ev::AuditAttested& e) {
    if (e.tree_size == 0 || e.tree_size >= entry_.seq) {
      return Reject("audit.size", "an attestation covers entries before it: tree size " + std::to_string(e.tree_size) +
                                      " at entry " + std::to_string(entry_.seq));
    }
    return Status::Ok();
  }

  const StateView& state_;
  const ev::Entry& entry_;
  const KeyInfo* signer_ = nullptr;
};

// One bound on an award: what the rule allows in total, and what is already used of it.
struct Bound {
  std::string rule, label;
  int64_t limit = 0, used = 0;
  int64_t Remaining() const { return std::max<int64_t>(0, SaturatingSub(limit, used)); }
};

int64_t NetCommitted(const StateView& s, const ev::ApplicationSubmitted& a,
                     const std::string& track, uint16_t year) {
  const RecipientTrackYear* row = s.FindRecipientYear(a.recipient_id, a.measure, track, year);
  return row == nullptr ? 0 : row->totals.CommittedFen();
}

void CapBounds(const StateView& s, const ev::ApplicationSubmitted& a, const ev::Measure& m,
               const ev::Track& t, const ev::Policy& policy, std::vector<Bound>* out) {
  const std::string year = std::to_string(a.fiscal_year);
  for (const ev::Cap& cap : t.caps) {
    switch (cap.scope) {
      case ev::CapScope::kPerAward:
        out->push_back({"cap.per_award", "per-award cap " + Yuan(cap.amount_fen), cap.amount_fen, 0});
        break;
      case ev::CapScope::kPerRecipientYear:
        out->push_back({"cap.per_recipient_year",
                        "per-recipient cap " + Yuan(cap.amount_fen) + " for " + year,
                        cap.amount_fen, NetCommitted(s, a, t.id, a.fiscal_year)});
        break;
      case ev::CapScope::kPerRecipientTerm: {
        int64_t used = 0;
        auto start = ev::ParseIsoDate(policy.term_start);
        auto end = ev::ParseIsoDate(policy.term_end);
        if (start && end) {
          int first = std::stoi(ev::FormatIsoDate(*start).substr(0, 4));
          int last = std::stoi(ev::FormatIsoDate(*end).substr(0, 4));
          for (int y = first; y <= last; ++y) {
            used = SaturatingAdd(used, NetCommitted(s, a, t.id, static_cast<uint16_t>(y)));
          }
        }
        out->push_back({"cap.per_term", "per-recipient cap " + Yuan(cap.amount_fen) + " over the policy term",
                        cap.amount_fen, used});
        break;
      }
      case ev::CapScope::kPerProject: {
        const std::string* project = a.FindAttribute("project_id");
        const int64_t* committed = s.FindProject(RowKeyProject(a));
        out->push_back({"cap.per_project",
                        "per-project cap " + Yuan(cap.amount_fen) + " for project " +
                            (project != nullptr ? *project : a.application_id),
                        cap.amount_fen, committed == nullptr ? 0 : *committed});
        break;
      }
      case ev::CapScope::kPerRecipientMeasureYear: {
        int64_t used = 0;
        for (const ev::Track& other : m.tracks) {
          used = SaturatingAdd(used, NetCommitted(s, a, other.id, a.fiscal_year));
        }
        out->push_back({"cap.per_recipient_measure_year",
                        "per-recipient cap " + Yuan(cap.amount_fen) + " across measure " + m.id + " for " + year,
                        cap.amount_fen, used});
        break;
      }
    }
  }
}

// The largest amount whose split fits every funding source's available pool.
int64_t PoolMax(const ev::Measure& m, int64_t city_available, int64_t district_available, int64_t upper) {
  auto fits = [&](int64_t amount) {
    int64_t city = 0, district = 0;
    SplitAward(m, amount, &city, &district);
    return city <= city_available && district <= district_available;
  };
  int64_t lo = 0, hi = std::max<int64_t>(0, upper);
  if (fits(hi)) return hi;
  while (lo + 1 < hi) {  // invariant: fits(lo), !fits(hi)
    int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace

Hash ContentDigest(const ev::Entry& entry) {
  Hash body = ev::BodyDigest(entry.body);
  std::string preimage(entry.signer.begin(), entry.signer.end());
  preimage.append(body.begin(), body.end());
  return ev::Sha256(preimage);
}

Status Validate(const StateView& state, const ev::Entry& entry) {
  return Validator(state, entry).Run();
}

Status CheckNotInFuture(int64_t recorded_at_ms, int64_t now_ms) {
  int64_t latest = 0;
  if (!ev::CheckedAdd(now_ms, kClockSkewMsMax, &latest) || recorded_at_ms <= latest) {
    return Status::Ok();
  }
  return Reject("time.future", "recordedAt " + ev::FormatInstant(recorded_at_ms) +
                                   " is later than the clock " + ev::FormatInstant(now_ms) +
                                   " plus " + std::to_string(kClockSkewMsMax / 60'000) +
                                   " minutes");
}

void SplitAward(const ev::Measure& measure, int64_t amount_fen, int64_t* city_fen, int64_t* district_fen) {
  LEDGER_CHECK(amount_fen >= 0);
  if (!measure.co_funded) {
    *city_fen = amount_fen;
    *district_fen = 0;
    return;
  }
  *city_fen = ev::ApplyRateBp(amount_fen, measure.co_funding.city_share_bp);
  *district_fen = amount_fen - *city_fen;
  LEDGER_CHECK(*city_fen + *district_fen == amount_fen);
}

Result<AwardLimit> MaxAward(const StateView& s, const std::string& application_id, int64_t at_ms) {
  const Application* app = s.FindApplication(application_id);
  if (app == nullptr) return Reject("application.unknown", "application '" + application_id + "' does not exist");
  if (app->state != AppState::kApproved) {
    return Reject("state.transition", "application " + application_id + " is " + StatusName(*app) +
                                          "; only an approved application can be awarded");
  }
  const ev::ApplicationSubmitted& a = app->submitted;
  // An application refused for its basis is still in an audit's replayed state.
  if (a.basis_fen < 0 || a.basis_fen > ev::kAmountFenMax) {
    return Status::InvalidArgument("application " + application_id + " has a basis out of range");
  }
  LEDGER_ASSIGN_OR_RETURN(PolicyView view, ResolvePolicy(s, at_ms, a.measure, &a.track));
  const ev::Measure& m = *view.measure;
  const ev::Track& t = *view.track;
  std::vector<Bound> bounds;
  if (!t.IsMerit()) {
    bounds.push_back({"rate.ceiling", "rate ceiling " + std::to_string(t.rate_ceiling_bp / 100) + "." +
                                          std::to_string(t.rate_ceiling_bp % 100 / 10) + "% of basis " + FormatYuan(a.basis_fen),
                      ev::ApplyRateBp(a.basis_fen, t.rate_ceiling_bp), 0});
  }
  CapBounds(s, a, m, t, view.version->policy, &bounds);
  if (t.period_years > 0) {
    for (int y = a.fiscal_year - t.period_years + 1; y <= a.fiscal_year + t.period_years - 1; ++y) {
      const RecipientTrackYear* row =
          s.FindRecipientYear(a.recipient_id, m.id, t.id, static_cast<uint16_t>(y));
      if (row != nullptr && row->live_awards > 0) {
        bounds.push_back({"cap.period", "once every " + std::to_string(t.period_years) + " years: already awarded for " +
                                            std::to_string(y), 0, 0});
        break;
      }
    }
  }
  for (const Hash& digest : a.evidence) {
    const std::string* holder = s.FindEvidence(digest);
    if (holder != nullptr && *holder != application_id) {
      bounds.push_back(
          {"evidence.double_claim",
           "evidence " + ev::Hex(digest).substr(0, 16) + "… already backs application " + *holder,
           0, 0});
    }
  }
  // The pool: what is allocated for the year less what is committed, per funding source.
  const MeasureYear* my_row = s.FindMeasureYear(a.measure, a.fiscal_year);
  MeasureYear empty;
  const MeasureYear& my = my_row == nullptr ? empty : *my_row;
  int64_t upper = ev::kAmountFenMax;
  for (const Bound& b : bounds) upper = std::min(upper, b.Remaining());
  int64_t pool_max = PoolMax(m, my.AvailableFen("city"), my.AvailableFen(app->district), upper);
  if (my.AllocatedFen() == 0) {
    bounds.push_back({"pool.exhausted", "measure " + m.id + ": no budget allocated for " + std::to_string(a.fiscal_year), 0, 0});
  } else if (pool_max < upper) {
    int64_t committed = my.totals.CommittedFen();
    bounds.push_back({"pool.exhausted",
                      "measure " + m.id + ": budget " + Yuan(my.AllocatedFen()) + " for " +
                          std::to_string(a.fiscal_year) +
                          (m.co_funded ? " (city and " + app->district + " shares)" : ""),
                      SaturatingAdd(committed, pool_max), committed});
  }
  // CheckPolicy gives every track a bound, but an invalid policy replayed by audit may not.
  if (bounds.empty()) {
    return Status::InvalidArgument(Where(m, t) + ": the track has no cap (the policy is invalid)");
  }
  const Bound* binding = &bounds.front();
  for (const Bound& b : bounds) {
    if (b.Remaining() < binding->Remaining()) binding = &b;
  }
  AwardLimit limit;
  // Totals that rule-breaking entries pushed past any real amount leave a bound's remainder
  // above kAmountFenMax; no award may exceed that bound anyway.
  limit.max_fen = std::min(binding->Remaining(), ev::kAmountFenMax);
  limit.binding_rule = binding->rule;
  limit.explanation = Where(m, t) + ": " + binding->label;
  if (binding->used > 0 || binding->rule.starts_with("cap.per_r") || binding->rule == "cap.per_project") {
    limit.explanation += ", already awarded " + FormatYuan(binding->used);
  }
  SplitAward(m, limit.max_fen, &limit.city_fen, &limit.district_fen);
  return limit;
}

Result<std::string> Resolve(const StateView& state, const ev::Entry& draft,
                            const Defaults& defaults, ev::Body* body) {
  if (!defaults.Any()) return std::string();
  // The signer's right first: a clerk asking for an award's maximum is told `role`, not a cap.
  if (draft.seq > 1) LEDGER_RETURN_IF_ERROR(Validator(state, draft).Signer());
  const int64_t at_ms = draft.recorded_at_ms;
  std::string note;
  if (auto* award = std::get_if<ev::AwardGranted>(body)) {
    const Application* app = state.FindApplication(award->application_id);
    if (app == nullptr) {
      return Reject("application.unknown",
                    "application '" + award->application_id + "' does not exist");
    }
    if (defaults.award_max) {
      LEDGER_ASSIGN_OR_RETURN(AwardLimit limit, MaxAward(state, award->application_id, at_ms));
      if (limit.max_fen <= 0) {
        return Reject(limit.binding_rule, limit.explanation + "; nothing can be awarded");
      }
      award->amount_fen = limit.max_fen;
      note = "awarding the maximum, " + FormatYuan(limit.max_fen) + " yuan; binding " +
             limit.binding_rule + ": " + limit.explanation;
    }
    if (defaults.award_split) {
      LEDGER_ASSIGN_OR_RETURN(PolicyView view,
                              ResolvePolicy(state, at_ms, app->submitted.measure, nullptr));
      if (award->amount_fen <= 0 || award->amount_fen > ev::kAmountFenMax) {
        return Status::InvalidArgument("award must be a positive amount");
      }
      SplitAward(*view.measure, award->amount_fen, &award->city_fen, &award->district_fen);
    }
  } else if (auto* revoke = std::get_if<ev::AwardRevoked>(body)) {
    const Application* app = state.FindApplication(revoke->application_id);
    if (app == nullptr) {
      return Reject("application.unknown",
                    "application '" + revoke->application_id + "' does not exist");
    }
    if (defaults.revoke_unpaid) revoke->amount_fen = app->UnpaidFen();
  } else if (auto* apply = std::get_if<ev::ApplicationSubmitted>(body)) {
    if (defaults.apply_track) {
      const PolicyVersion* version = state.PolicyAt(at_ms);
      const ev::Measure* m = version ? version->policy.FindMeasure(apply->measure) : nullptr;
      if (apply->track.empty() && m != nullptr && m->tracks.size() == 1) {
        apply->track = m->tracks[0].id;
      }
      if (apply->track.empty()) {
        return Status::InvalidArgument("a track is required (measure " + apply->measure +
                                       " has several tracks or is unknown)");
      }
      const ev::Track* t = m != nullptr ? m->FindTrack(apply->track) : nullptr;
      if (apply->basis_kind.empty() && t != nullptr) apply->basis_kind = t->basis_kind;
    }
  }
  return note;
}

Status CheckPolicy(const ev::Policy& p) {
  auto bad = [&p](const std::string& m) { return Status::InvalidArgument("policy " + p.id + ": " + m); };
  if (p.id.empty() || p.version.empty()) return Status::InvalidArgument("policy: id and version are required");
  if (p.currency != "CNY") return bad("currency must be CNY");
  auto start = ev::ParseIsoDate(p.term_start);
  auto end = ev::ParseIsoDate(p.term_end);
  if (!start || !end) return bad("termStart and termEnd must be ISO dates");
  if (*end < *start) return bad("termEnd is before termStart");
  std::set<std::string> units, measures;
  for (const ev::Unit& u : p.units) {
    if (u.code.empty() || !units.insert(u.code).second) return bad("unit code '" + u.code + "' is empty or repeated");
  }
  for (const ev::Measure& m : p.measures) {
    std::string where = "measure " + m.id;
    if (m.id.empty() || !measures.insert(m.id).second) return bad("measure id '" + m.id + "' is empty or repeated");
    if (m.annual_budget_cap_fen < 0 || m.annual_budget_cap_fen > ev::kAmountFenMax) return bad(where + ": annual budget cap out of range");
    if (m.annual_budget_cap_stated && m.annual_budget_cap_fen == 0) return bad(where + ": stated annual cap is zero");
    if (!m.money_rule && !m.tracks.empty()) return bad(where + ": a measure without a money rule has no tracks");
    if (m.money_rule && m.tracks.empty()) return bad(where + ": a money measure needs at least one track");
    if (m.money_rule && m.units.empty()) return bad(where + ": no responsible unit");
    for (const std::string& u : m.units) {
      if (!units.count(u)) return bad(where + ": unknown unit '" + u + "'");
    }
    if (m.co_funding.city_share_bp + m.co_funding.district_share_bp != 10000 && m.co_funded) {
      return bad(where + ": co-funding shares must add up to 100%");
    }
    std::set<std::string> tracks;
    for (const ev::Track& t : m.tracks) {
      std::string tw = where + " track " + t.id;
      if (t.id.empty() || !tracks.insert(t.id).second) return bad(where + ": track id '" + t.id + "' is empty or repeated");
      for (char c : t.id) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return bad(tw + ": id must be a lowercase slug");
      }
      if (t.rate_ceiling_bp > 10000) return bad(tw + ": rate over 100%");
      if (t.IsMerit() != (t.rate_ceiling_bp == 0)) return bad(tw + ": a rate needs a basisKind and a basisKind needs a rate");
      if (t.caps.empty() && !(t.bounded_by_basis_only && !t.IsMerit())) return bad(tw + ": no cap");
      for (const ev::Cap& c : t.caps) {
        if (c.amount_fen <= 0 || c.amount_fen > ev::kAmountFenMax) return bad(tw + ": caps must be positive");
      }
      for (const ev::AttributeRule& r : t.required_attributes) {
        if (r.key.empty()) return bad(tw + ": attribute rule without a key");
        if ((r.test == ev::AttributeTest::kEquals || r.test == ev::AttributeTest::kOneOf) && r.values.empty()) {
          return bad(tw + ": attribute rule on " + r.key + " needs values");
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace fundledger::projections
