// policy publish/show, recipient register/show, budget allocate, apply, approve, reject,
// award (--amount | --max), quote, revoke, pay, reverse. Every write is one signed event checked
// against every rule before it is written (projections::Validate via Ledger::Append).
#include <algorithm>
#include <iostream>

#include "events/codec.h"
#include "events/text.h"
#include "tools/fundledger/context.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using nlohmann::json;

Status PolicyPublish(const Context& ctx, const std::string& file, const std::string& effective) {
  LEDGER_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  LEDGER_ASSIGN_OR_RETURN(ev::Policy policy, ev::PolicyFromJson(text));
  LEDGER_RETURN_IF_ERROR(pj::CheckPolicy(policy));
  ev::PolicyPublished body{policy, effective.empty() ? policy.term_start : effective};
  if (!ev::ParseIsoDate(body.effective_from)) return Status::InvalidArgument("--effective must be an ISO date");
  return ctx.AppendOne(body);
}

Result<int64_t> AsOfMs(const Context& ctx, const std::string& as_of) {
  if (as_of.empty()) return ctx.Now();
  Result<int64_t> at = ev::ParseInstant(as_of);
  if (!at.ok()) return at.status().WithPrefix("--as-of");
  return at;
}

Status PolicyShow(const Context& ctx, const std::string& as_of) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  LEDGER_ASSIGN_OR_RETURN(int64_t at, AsOfMs(ctx, as_of));
  const pj::PolicyVersion* version = ledger->view().PolicyAt(at);
  if (version == nullptr) return Status::NotFound("no policy in force on " + ev::ShanghaiDate(at));
  if (ctx.json) {
    PrintJson({{"seq", version->seq}, {"effectiveFrom", version->effective_from}, {"policy", ev::PolicyToJson(version->policy)}});
    return Status::Ok();
  }
  const ev::Policy& p = version->policy;
  std::cout << p.title_zh << "\n" << p.title_en << "\npolicy " << p.id << " version " << p.version << " (entry "
            << version->seq << "), in force from " << version->effective_from << ", term " << p.term_start << " to "
            << p.term_end << "\n\n";
  for (const ev::Measure& m : p.measures) {
    std::cout << "measure " << m.id << "  " << m.name_en << " / " << m.name_zh << "\n";
    if (!m.money_rule) {
      std::cout << "    no money rule\n";
      continue;
    }
    std::string units;
    for (const auto& u : m.units) units += (units.empty() ? "" : ", ") + u;
    std::cout << "    annual pool: " << (m.annual_budget_cap_stated ? ev::FormatYuan(m.annual_budget_cap_fen) + " yuan" : "not stated")
              << "; responsible: " << units;
    if (m.co_funded) std::cout << "; city " << m.co_funding.city_share_bp / 100 << "% / district " << m.co_funding.district_share_bp / 100 << "%";
    std::cout << "\n";
    for (const ev::Track& t : m.tracks) {
      std::cout << "    track " << t.id << ": ";
      if (t.IsMerit()) {
        std::cout << "merit award";
      } else {
        std::cout << "up to " << t.rate_ceiling_bp / 100.0 << "% of " << t.basis_kind;
      }
      for (const ev::Cap& c : t.caps) std::cout << "; cap " << ev::FormatYuan(c.amount_fen) << " " << ev::CapScopeName(c.scope);
      if (t.period_years) std::cout << "; once every " << t.period_years << " years";
      std::cout << "\n";
    }
  }
  return Status::Ok();
}

Status RecipientRegister(const Context& ctx, const std::string& id, const std::string& name, const std::string& kind,
                         const std::string& district, const std::vector<std::string>& related) {
  ev::RecipientRegistered body;
  LEDGER_RETURN_IF_ERROR(ev::CheckUscc(id));
  body.recipient_id = id;
  body.name = name;
  if (!ev::ParseRecipientKind(kind, &body.kind)) {
    return Status::InvalidArgument("unknown recipient kind '" + kind + "' (enterprise, startup, university, research_institute, "
                                   "data_source_unit, platform_operator, lab, innovation_centre)");
  }
  if (!ev::IsShenzhenDistrict(district)) return Status::InvalidArgument("unknown district '" + district + "'");
  body.district = district;
  for (const std::string& r : related) LEDGER_RETURN_IF_ERROR(ev::CheckUscc(r).WithPrefix("--related"));
  body.related_parties = related;
  return ctx.AppendOne(body);
}

Status BudgetAllocate(const Context& ctx, const std::string& measure, int year, const std::string& amount,
                      const std::string& source) {
  LEDGER_ASSIGN_OR_RETURN(int64_t fen, ParseAmountOption("--amount", amount));
  if (year < static_cast<int>(kYearMin) || year > static_cast<int>(kYearMax)) {
    return Status::InvalidArgument("--year must be a calendar year");
  }
  return ctx.AppendOne(ev::BudgetAllocated{measure, static_cast<uint16_t>(year), fen, source});
}

struct ApplyArgs {
  std::string id, recipient, measure, track, basis, basis_kind;
  int year = 0;
  std::vector<std::string> attrs, evidence;
};

Status Apply(const Context& ctx, const ApplyArgs& a) {
  ev::ApplicationSubmitted body;
  body.application_id = a.id;
  body.recipient_id = a.recipient;
  body.measure = a.measure;
  if (a.year < static_cast<int>(kYearMin) || a.year > static_cast<int>(kYearMax)) {
    return Status::InvalidArgument("--year must be a calendar year");
  }
  body.fiscal_year = static_cast<uint16_t>(a.year);
  if (!a.basis.empty()) {
    LEDGER_ASSIGN_OR_RETURN(body.basis_fen, ParseAmountOption("--basis", a.basis));
  }
  for (const std::string& kv : a.attrs) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Status::InvalidArgument("--attr takes KEY=VALUE, got '" + kv + "'");
    body.attributes.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
  }
  std::sort(body.attributes.begin(), body.attributes.end(), [](const auto& x, const auto& y) { return x.key < y.key; });
  for (size_t i = 1; i < body.attributes.size(); ++i) {
    if (body.attributes[i].key == body.attributes[i - 1].key) return Status::InvalidArgument("--attr " + body.attributes[i].key + " given twice");
  }
  for (const std::string& hex : a.evidence) {
    auto digest = ev::ArrayFromHex<32>(hex);
    if (!digest) return Status::InvalidArgument("--evidence takes a SHA-256 digest in hex, got '" + hex + "'");
    body.evidence.push_back(*digest);
  }
  // The writer fills in the track (a measure's only one) and its basis kind from the policy in
  // force, so a clerk need not repeat them.
  body.track = a.track;
  body.basis_kind = a.basis_kind;
  pj::Defaults defaults;
  defaults.apply_track = body.track.empty() || body.basis_kind.empty();
  return ctx.AppendOne(body, defaults);
}

Status Quote(const Context& ctx, const std::string& id, bool print) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  LEDGER_ASSIGN_OR_RETURN(int64_t now, ctx.Now());
  Result<pj::AwardLimit> computed = pj::MaxAward(ledger->view(), id, now);
  LEDGER_RETURN_IF_ERROR(ledger->view().ReadStatus());  // not an answer from an unread row
  LEDGER_ASSIGN_OR_RETURN(pj::AwardLimit limit, std::move(computed));
  if (!print) return Status::Ok();
  if (ctx.json) {
    PrintJson({{"application", id}, {"maxFen", limit.max_fen}, {"cityFen", limit.city_fen}, {"districtFen", limit.district_fen},
               {"rule", limit.binding_rule}, {"explanation", limit.explanation}});
  } else {
    std::cout << "application " << id << ": at most " << ev::FormatYuan(limit.max_fen) << " yuan; binding rule "
              << limit.binding_rule << " (" << limit.explanation << ")\n";
  }
  return Status::Ok();
}

Status Award(const Context& ctx, const std::string& id, const std::string& amount, bool max, const std::string& justification) {
  if (max == !amount.empty()) return Status::InvalidArgument("give exactly one of --amount or --max");
  int64_t fen = 0;
  if (!max) {
    LEDGER_ASSIGN_OR_RETURN(fen, ParseAmountOption("--amount", amount));
  }
  // The maximum and the city/district split are decided by the writer, on the state it holds.
  pj::Defaults defaults;
  defaults.award_max = max;
  defaults.award_split = true;
  return ctx.AppendOne(ev::AwardGranted{id, fen, 0, 0, justification}, defaults);
}

Status Revoke(const Context& ctx, const std::string& id, const std::string& amount, const std::string& reason) {
  int64_t fen = 0;
  pj::Defaults defaults;
  defaults.revoke_unpaid = amount.empty();  // default: all that is not yet paid
  if (!amount.empty()) {
    LEDGER_ASSIGN_OR_RETURN(fen, ParseAmountOption("--amount", amount));
  }
  return ctx.AppendOne(ev::AwardRevoked{id, fen, reason}, defaults);
}

Status Pay(const Context& ctx, const std::string& id, const std::string& amount, const std::string& reference) {
  LEDGER_ASSIGN_OR_RETURN(int64_t fen, ParseAmountOption("--amount", amount));
  return ctx.AppendOne(ev::PayoutDisbursed{id, fen, reference});
}

Status Reverse(const Context& ctx, const std::string& id, const std::string& amount, const std::string& reason) {
  LEDGER_ASSIGN_OR_RETURN(int64_t fen, ParseAmountOption("--amount", amount));
  return ctx.AppendOne(ev::PayoutReversed{id, fen, reason});
}

}  // namespace

void AddMoneyCommands(CLI::App& app, Context& ctx, Action* run) {
  auto* policy = app.add_subcommand("policy", "publish or show the policy");
  policy->require_subcommand(1);
  static std::string policy_file, effective, as_of;
  auto* publish = policy->add_subcommand("publish", "validate a policy JSON file and publish it (admin --key)");
  publish->add_option("--file", policy_file, "policy JSON (schemas/policy.capnp)")->required();
  publish->add_option("--effective", effective, "ISO date from which it governs (default: its termStart)");
  publish->callback([&ctx, run] { *run = [&ctx] { return PolicyPublish(ctx, policy_file, effective); }; });
  auto* show = policy->add_subcommand("show", "print the policy in force");
  show->add_option("--as-of", as_of, "date (default: now)");
  show->callback([&ctx, run] { *run = [&ctx] { return PolicyShow(ctx, as_of); }; });

  auto* recipient = app.add_subcommand("recipient", "register recipients");
  recipient->require_subcommand(1);
  static std::string rid, rname, rkind, rdistrict;
  static std::vector<std::string> related;
  auto* reg = recipient->add_subcommand("register", "register a recipient (clerk --key)");
  reg->add_option("--id", rid, "18-character Unified Social Credit Code")->required();
  reg->add_option("--name", rname, "registered name")->required();
  reg->add_option("--kind", rkind, "enterprise, startup, university, research_institute, data_source_unit, platform_operator, lab, innovation_centre")->required();
  reg->add_option("--district", rdistrict, "Shenzhen district (pinyin)")->required();
  reg->add_option("--related", related, "USCC of a related party (repeatable)");
  reg->callback([&ctx, run] { *run = [&ctx] { return RecipientRegister(ctx, rid, rname, rkind, rdistrict, related); }; });

  auto* budget = app.add_subcommand("budget", "allocate budgets");
  budget->require_subcommand(1);
  static std::string bmeasure, bamount, bsource = "city";
  static int byear = 0;
  auto* allocate = budget->add_subcommand("allocate", "allocate a measure's budget for a fiscal year (admin or treasurer --key)");
  allocate->add_option("--measure", bmeasure, "measure id")->required();
  allocate->add_option("--year", byear, "fiscal year")
      ->required()
      ->transform(DecimalIn(kYearMin, kYearMax));
  allocate->add_option("--amount", bamount, "yuan: 1234567.89, 1,234,567.89, 500万, 3亿")->required();
  allocate->add_option("--source", bsource, "city (default) or a district for co-funded measures");
  allocate->callback([&ctx, run] { *run = [&ctx] { return BudgetAllocate(ctx, bmeasure, byear, bamount, bsource); }; });

  static ApplyArgs a;
  auto* apply = app.add_subcommand("apply", "submit an application (clerk --key)");
  apply->add_option("--id", a.id, "application id")->required();
  apply->add_option("--recipient", a.recipient, "recipient USCC")->required();
  apply->add_option("--measure", a.measure, "measure id")->required();
  apply->add_option("--track", a.track, "track id (may be left out when the measure has one)");
  apply->add_option("--year", a.year, "fiscal year")
      ->required()
      ->transform(DecimalIn(kYearMin, kYearMax));
  apply->add_option("--basis", a.basis, "basis amount in yuan (contract, investment …)");
  apply->add_option("--basis-kind", a.basis_kind, "basis kind (default: the track's)");
  apply->add_option("--attr", a.attrs, "KEY=VALUE attribute (repeatable)");
  apply->add_option("--evidence", a.evidence, "SHA-256 hex of a supporting document (repeatable)");
  apply->callback([&ctx, run] { *run = [&ctx] { return Apply(ctx, a); }; });

  static std::string app_id, note, reason, amount, reference, justification;
  static bool max = false;
  auto* approve = app.add_subcommand("approve", "approve an application (reviewer --key)");
  approve->add_option("application", app_id, "application id")->required();
  approve->add_option("--note", note, "note");
  approve->callback([&ctx, run] { *run = [&ctx] { return ctx.AppendOne(ev::ApplicationApproved{app_id, note}); }; });
  auto* reject = app.add_subcommand("reject", "reject an application (reviewer --key)");
  reject->add_option("application", app_id, "application id")->required();
  reject->add_option("--reason", reason, "why")->required();
  reject->callback([&ctx, run] { *run = [&ctx] { return ctx.AppendOne(ev::ApplicationRejected{app_id, reason}); }; });
  auto* award = app.add_subcommand("award", "grant an award (reviewer --key): --amount X or --max");
  award->add_option("application", app_id, "application id")->required();
  award->add_option("--amount", amount, "yuan");
  award->add_flag("--max", max, "the largest amount the rules allow (says which rule binds)");
  award->add_option("--justification", justification, "required on merit tracks");
  award->callback([&ctx, run] { *run = [&ctx] { return Award(ctx, app_id, amount, max, justification); }; });
  auto* quote = app.add_subcommand("quote", "the largest award the rules allow now, without writing anything");
  quote->add_option("--application,application", app_id, "application id")->required();
  quote->callback([&ctx, run] { *run = [&ctx] { return Quote(ctx, app_id, true); }; });
  auto* revoke = app.add_subcommand("revoke", "revoke (part of) an award's unpaid amount (reviewer --key)");
  revoke->add_option("application", app_id, "application id")->required();
  revoke->add_option("--amount", amount, "yuan (default: all unpaid)");
  revoke->add_option("--reason", reason, "why")->required();
  revoke->callback([&ctx, run] { *run = [&ctx] { return Revoke(ctx, app_id, amount, reason); }; });
  auto* pay = app.add_subcommand("pay", "record a payout (treasurer --key)");
  pay->add_option("application", app_id, "application id")->required();
  pay->add_option("--amount", amount, "yuan")->required();
  pay->add_option("--reference", reference, "treasury payment reference")->required();
  pay->callback([&ctx, run] { *run = [&ctx] { return Pay(ctx, app_id, amount, reference); }; });
  auto* reverse = app.add_subcommand("reverse", "reverse (part of) a payout (treasurer --key)");
  reverse->add_option("application", app_id, "application id")->required();
  reverse->add_option("--amount", amount, "yuan")->required();
  reverse->add_option("--reason", reason, "why")->required();
  reverse->callback([&ctx, run] { *run = [&ctx] { return Reverse(ctx, app_id, amount, reason); }; });
}

}  // namespace fundledger::tools
