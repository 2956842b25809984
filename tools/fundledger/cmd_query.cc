// query measure|recipient|unit|district|application and history. Answers come from the
// projections (or, with --as-of, from the row history: one seek per row), never a replay.
#include <charconv>
#include <iostream>

#include "events/codec.h"
#include "events/text.h"
#include "tools/fundledger/context.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using nlohmann::json;

// --as-of SEQ or DATE (end of that day, Asia/Shanghai) -> the last seq then; 0 = the head.
Result<uint64_t> ResolveAsOf(const ledger::Ledger& ledger, const std::string& as_of) {
  if (as_of.empty()) return ledger.size();
  if (as_of.find_first_not_of("0123456789") == std::string::npos) {
    uint64_t seq = 0;
    auto [end, error] = std::from_chars(as_of.data(), as_of.data() + as_of.size(), seq);
    if (error != std::errc() || end != as_of.data() + as_of.size()) {
      return Status::InvalidArgument("--as-of: seq " + as_of + " is out of range");
    }
    if (seq == 0) return Status::InvalidArgument("--as-of seq starts at 1");
    return std::min<uint64_t>(seq, ledger.size());
  }
  Result<int64_t> parsed = ev::ParseInstant(as_of);
  if (!parsed.ok()) return parsed.status().WithPrefix("--as-of");
  int64_t at = *parsed;
  if (as_of.size() == 10) at += ev::kDayMs - 1;  // a date means the end of that day
  // recordedAt never decreases, so the last entry at or before `at` is found by bisection.
  uint64_t lo = 0, hi = ledger.size();
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry e, ledger.Read(mid));
    if (e.entry.recorded_at_ms <= at) lo = mid; else hi = mid - 1;
  }
  if (lo == 0) return Status::NotFound("the ledger has no entry on or before " + as_of);
  return lo;
}

// The rows to answer from, whole: those under `prefixes` at the head (the projections), or as
// of --as-of (the row history: one seek per row). Never every row of the ledger.
struct View {
  std::unique_ptr<ledger::Ledger> ledger;
  pj::LedgerState rows;
  uint64_t seq = 0;
  bool historical = false;
  const pj::LedgerState& state() const { return rows; }
};

Status LoadRows(View* view, const std::vector<std::string>& prefixes) {
  std::vector<std::string> all = prefixes;
  all.push_back("head");
  all.push_back("policy/");
  view->historical = view->seq < view->ledger->size();
  if (view->historical) {
    LEDGER_ASSIGN_OR_RETURN(view->rows, view->ledger->StateAsOf(view->seq, all));
  } else {
    LEDGER_ASSIGN_OR_RETURN(view->rows, view->ledger->Rows(all));
  }
  return Status::Ok();
}

// A reader at --as-of (the head if none) without rows yet.
Result<View> OpenAt(const Context& ctx, const std::string& as_of) {
  View view;
  LEDGER_ASSIGN_OR_RETURN(view.ledger, ctx.OpenReader());
  LEDGER_ASSIGN_OR_RETURN(view.seq, ResolveAsOf(*view.ledger, as_of));
  return view;
}

Result<View> OpenView(const Context& ctx, const std::string& as_of,
                      const std::vector<std::string>& prefixes) {
  LEDGER_ASSIGN_OR_RETURN(View view, OpenAt(ctx, as_of));
  LEDGER_RETURN_IF_ERROR(LoadRows(&view, prefixes));
  return view;
}

// The applications of recipient `uscc` submitted at or before entry `until`, from the
// recipient's index (not a walk over every application).
Result<std::vector<std::string>> RecipientApplications(const ledger::Ledger& ledger,
                                                       const std::string& uscc, uint64_t until) {
  std::vector<std::string> ids;
  LEDGER_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs, ledger.IndexSeqs("recipient/" + uscc));
  for (uint64_t seq : seqs) {
    if (seq > until) break;
    LEDGER_ASSIGN_OR_RETURN(events::Bytes raw, ledger.ReadRaw(seq));
    LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger::SplitStoredValue(raw));
    const auto* submitted = std::get_if<ev::ApplicationSubmitted>(&stored.entry.body);
    if (submitted != nullptr && submitted->recipient_id == uscc) {
      ids.push_back(submitted->application_id);
    }
  }
  return ids;
}

json TotalsJson(const pj::Totals& t) {
  return {{"grantedFen", t.granted_fen}, {"revokedFen", t.revoked_fen}, {"committedFen", t.CommittedFen()},
          {"paidFen", t.paid_fen}, {"reversedFen", t.reversed_fen}, {"netPaidFen", t.NetPaidFen()},
          {"outstandingFen", t.OutstandingFen()}};
}

std::string Y(int64_t fen) { return ev::FormatYuan(fen); }

// The fiscal year that ends projection row key `key` (".../<year>"), which was written as
// four digits; anything else is a damaged row (kCorruption), not a crash.
Result<int> YearOfRowKey(const std::string& key) {
  std::string_view digits = std::string_view(key).substr(key.rfind('/') + 1);
  int year = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), year);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return Status::Corruption("projection row key '" + key + "' does not end in a year");
  }
  return year;
}

void PrintAsOf(const Context& ctx, const View& view) {
  if (!ctx.json && view.historical) std::cout << "as of entry " << view.seq << "\n";
}

Status QueryMeasure(const Context& ctx, const std::string& measure, int year, const std::string& as_of) {
  LEDGER_ASSIGN_OR_RETURN(View view, OpenView(ctx, as_of, {"my/"}));
  const pj::LedgerState& s = view.state();
  const pj::PolicyVersion* policy = s.PolicyAt(INT64_MAX);
  PrintAsOf(ctx, view);
  if (!ctx.json) {
    std::printf("%-4s %-5s %17s %17s %17s %17s %17s  %s\n", "meas", "year", "allocated", "committed", "paid", "outstanding",
                "available", "applications");
  }
  pj::Totals sum;
  int64_t allocated_sum = 0;
  bool any = false;
  for (const auto& [key, my] : s.measure_years) {
    // key = "my/<measure>/<year>"
    std::string rest = key.substr(3);
    std::string m = rest.substr(0, rest.rfind('/'));
    LEDGER_ASSIGN_OR_RETURN(int y, YearOfRowKey(key));
    if (!measure.empty() && m != measure) continue;
    if (year != 0 && y != year) continue;
    any = true;
    int64_t allocated = my.AllocatedFen();
    int64_t available = allocated - my.totals.CommittedFen();
    const ev::Measure* def = policy ? policy->policy.FindMeasure(m) : nullptr;
    if (ctx.json) {
      json j = TotalsJson(my.totals);
      j["measure"] = m;
      j["year"] = y;
      j["allocatedFen"] = allocated;
      j["availableFen"] = available;
      j["allocatedBySourceFen"] = my.allocated_fen;
      j["committedBySourceFen"] = my.committed_fen;
      j["applications"] = my.status_counts;
      if (def && def->annual_budget_cap_stated) j["annualCapFen"] = def->annual_budget_cap_fen;
      PrintJson(j);
    } else {
      std::string counts;
      for (const auto& [status, n] : my.status_counts) counts += status + " " + std::to_string(n) + "  ";
      std::printf("%-4s %-5d %17s %17s %17s %17s %17s  %s\n", m.c_str(), y, Y(allocated).c_str(),
                  Y(my.totals.CommittedFen()).c_str(), Y(my.totals.NetPaidFen()).c_str(),
                  Y(my.totals.OutstandingFen()).c_str(), Y(available).c_str(), counts.c_str());
    }
    allocated_sum += allocated;
    sum.granted_fen += my.totals.granted_fen;
    sum.revoked_fen += my.totals.revoked_fen;
    sum.paid_fen += my.totals.paid_fen;
    sum.reversed_fen += my.totals.reversed_fen;
  }
  if (!measure.empty() && !any) return Status::NotFound("no budget or application for measure " + measure);
  if (!ctx.json) {
    std::printf("%-10s %17s %17s %17s %17s %17s\n", "total", Y(allocated_sum).c_str(), Y(sum.CommittedFen()).c_str(),
                Y(sum.NetPaidFen()).c_str(), Y(sum.OutstandingFen()).c_str(), Y(allocated_sum - sum.CommittedFen()).c_str());
    std::cout << "amounts in yuan; committed = awarded less revoked; outstanding = committed less net paid\n";
  }
  return Status::Ok();
}

json ApplicationJson(const pj::Application& a) {
  const ev::ApplicationSubmitted& s = a.submitted;
  return {{"application", s.application_id}, {"recipient", s.recipient_id}, {"measure", s.measure}, {"track", s.track},
          {"year", s.fiscal_year}, {"basisFen", s.basis_fen}, {"basisKind", s.basis_kind}, {"status", pj::StatusName(a)},
          {"grantedFen", a.granted_fen}, {"revokedFen", a.revoked_fen}, {"awardFen", a.NetAwardFen()},
          {"paidFen", a.NetPaidFen()}, {"unpaidFen", a.UnpaidFen()}, {"cityFen", a.city_fen},
          {"districtFen", a.district_fen}, {"unit", a.unit}, {"district", a.district}, {"seqs", a.seqs}};
}

Status QueryApplication(const Context& ctx, const std::string& id, const std::string& as_of) {
  LEDGER_ASSIGN_OR_RETURN(View view, OpenView(ctx, as_of, {pj::RowKeyApplication(id)}));
  const pj::Application* a = view.state().FindApplication(id);
  if (a == nullptr) return Status::NotFound("application '" + id + "' does not exist");
  if (ctx.json) {
    PrintJson(ApplicationJson(*a));
    return Status::Ok();
  }
  PrintAsOf(ctx, view);
  const auto& s = a->submitted;
  std::cout << "application " << id << ": " << pj::StatusName(*a) << "\n  recipient " << s.recipient_id << ", measure "
            << s.measure << " track " << s.track << ", fiscal year " << s.fiscal_year << ", basis " << Y(s.basis_fen)
            << (s.basis_kind.empty() ? "" : " (" + s.basis_kind + ")") << "\n  award " << Y(a->NetAwardFen())
            << " (granted " << Y(a->granted_fen) << ", revoked " << Y(a->revoked_fen) << "; city " << Y(a->city_fen)
            << ", district " << Y(a->district_fen) << ")\n  paid " << Y(a->NetPaidFen()) << ", unpaid " << Y(a->UnpaidFen())
            << "\n  entries:";
  for (uint64_t seq : a->seqs) std::cout << " " << seq;
  std::cout << "\n";
  return Status::Ok();
}

Status QueryRecipient(const Context& ctx, const std::string& uscc, const std::string& as_of) {
  LEDGER_ASSIGN_OR_RETURN(View view, OpenAt(ctx, as_of));
  // Which applications are the recipient's: its index, read before the rows.
  LEDGER_ASSIGN_OR_RETURN(std::vector<std::string> app_ids,
                          RecipientApplications(*view.ledger, uscc, view.seq));
  std::vector<std::string> prefixes = {pj::RowKeyRecipient(uscc), "rty/" + uscc + "/"};
  for (const std::string& id : app_ids) prefixes.push_back(pj::RowKeyApplication(id));
  LEDGER_RETURN_IF_ERROR(LoadRows(&view, prefixes));
  const pj::LedgerState& s = view.state();
  const pj::Recipient* r = s.FindRecipient(uscc);
  if (r == nullptr) return Status::NotFound("recipient " + uscc + " is not registered");
  json lines = json::array();
  pj::Totals total;
  for (auto it = s.recipient_years.lower_bound("rty/" + uscc + "/"); it != s.recipient_years.end() && it->first.starts_with("rty/" + uscc + "/"); ++it) {
    std::string rest = it->first.substr(4 + uscc.size() + 1);  // measure/track/year
    size_t a = rest.find('/'), b = rest.rfind('/');
    json j = TotalsJson(it->second.totals);
    j["measure"] = rest.substr(0, a);
    j["track"] = rest.substr(a + 1, b - a - 1);
    LEDGER_ASSIGN_OR_RETURN(int year, YearOfRowKey(it->first));
    j["year"] = year;
    lines.push_back(j);
    total.granted_fen += it->second.totals.granted_fen;
    total.revoked_fen += it->second.totals.revoked_fen;
    total.paid_fen += it->second.totals.paid_fen;
    total.reversed_fen += it->second.totals.reversed_fen;
  }
  json apps = json::array();
  for (const std::string& id : app_ids) {
    const pj::Application* app = s.FindApplication(id);
    if (app != nullptr && app->submitted.recipient_id == uscc)
      apps.push_back(ApplicationJson(*app));
  }
  if (ctx.json) {
    json j = {{"recipient", uscc}, {"name", r->info.name}, {"kind", ev::RecipientKindName(r->info.kind)},
              {"district", r->info.district}, {"relatedParties", r->info.related_parties}, {"byTrack", lines},
              {"totals", TotalsJson(total)}, {"applications", apps}};
    PrintJson(j);
    return Status::Ok();
  }
  PrintAsOf(ctx, view);
  std::cout << uscc << "  " << r->info.name << " (" << ev::RecipientKindName(r->info.kind) << ", " << r->info.district << ")\n";
  for (const json& l : lines) {
    std::printf("  measure %-3s %-14s %d  committed %15s  paid %15s\n", l["measure"].get<std::string>().c_str(),
                l["track"].get<std::string>().c_str(), l["year"].get<int>(), Y(l["committedFen"]).c_str(),
                Y(l["netPaidFen"]).c_str());
  }
  std::cout << "  total committed " << Y(total.CommittedFen()) << ", paid " << Y(total.NetPaidFen()) << "\n  applications:";
  for (const json& a : apps) std::cout << " " << a["application"].get<std::string>() << " (" << a["status"].get<std::string>() << ")";
  std::cout << "\n";
  return Status::Ok();
}

Status QueryTotals(const Context& ctx, const std::string& what, const std::string& name, const std::string& as_of) {
  std::string prefix = what + "/";
  LEDGER_ASSIGN_OR_RETURN(View view, OpenView(ctx, as_of, {prefix}));
  const auto& map = what == "unit" ? view.state().units : view.state().districts;
  bool any = false;
  for (const auto& [key, totals] : map) {
    std::string n = key.substr(prefix.size());
    if (!name.empty() && n != name) continue;
    any = true;
    if (ctx.json) {
      json j = TotalsJson(totals);
      j[what] = n;
      PrintJson(j);
    } else {
      std::printf("%-14s committed %17s  paid %17s  outstanding %17s\n", n.c_str(), Y(totals.CommittedFen()).c_str(),
                  Y(totals.NetPaidFen()).c_str(), Y(totals.OutstandingFen()).c_str());
    }
  }
  if (!name.empty() && !any) return Status::NotFound("no money recorded for " + what + " " + name);
  return Status::Ok();
}

Status History(const Context& ctx, const std::string& recipient, const std::string& application, const std::string& as_of) {
  if (recipient.empty() == application.empty()) return Status::InvalidArgument("give one of --recipient or --application");
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  LEDGER_ASSIGN_OR_RETURN(uint64_t until, ResolveAsOf(*ledger, as_of));
  LEDGER_ASSIGN_OR_RETURN(auto seqs, ledger->IndexSeqs(recipient.empty() ? "application/" + application : "recipient/" + recipient));
  if (seqs.empty()) return Status::NotFound("no entries for " + (recipient.empty() ? "application " + application : "recipient " + recipient));
  for (uint64_t seq : seqs) {
    if (seq > until) break;
    LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger->Read(seq));
    if (ctx.json)
      PrintJson(EntryJson(stored));
    else
      std::cout << EntryLine(stored, ledger->view()) << "\n";
  }
  return Status::Ok();
}

}  // namespace

void AddQueryCommands(CLI::App& app, Context& ctx, Action* run) {
  auto* query = app.add_subcommand("query", "balances by measure, recipient, unit, district; application status");
  query->require_subcommand(1);
  static std::string name, as_of;
  static int year = 0;
  auto add_as_of = [](CLI::App* c) { c->add_option("--as-of", as_of, "entry seq, or ISO date (end of that day, Asia/Shanghai)"); };
  auto* measure = query->add_subcommand("measure", "allocated, committed, paid, outstanding, available per measure and year");
  measure->add_option("measure", name, "measure id (default: all)");
  measure->add_option("--year", year, "fiscal year (default: all)")
      ->transform(DecimalIn(kYearMin, kYearMax));
  add_as_of(measure);
  measure->callback([&ctx, run] { *run = [&ctx] { return QueryMeasure(ctx, name, year, as_of); }; });
  auto* recipient = query->add_subcommand("recipient", "a recipient's awards and payouts per measure, track and year");
  recipient->add_option("recipient", name, "USCC")->required();
  add_as_of(recipient);
  recipient->callback([&ctx, run] { *run = [&ctx] { return QueryRecipient(ctx, name, as_of); }; });
  auto* unit = query->add_subcommand("unit", "money by responsible unit");
  unit->add_option("unit", name, "unit code (default: all)");
  add_as_of(unit);
  unit->callback([&ctx, run] { *run = [&ctx] { return QueryTotals(ctx, "unit", name, as_of); }; });
  auto* district = query->add_subcommand("district", "money by recipient district");
  district->add_option("district", name, "district (default: all)");
  add_as_of(district);
  district->callback([&ctx, run] { *run = [&ctx] { return QueryTotals(ctx, "district", name, as_of); }; });
  auto* application = query->add_subcommand("application", "an application's status, amounts and entries");
  application->add_option("application", name, "application id")->required();
  add_as_of(application);
  application->callback([&ctx, run] { *run = [&ctx] { return QueryApplication(ctx, name, as_of); }; });

  auto* history = app.add_subcommand("history", "every entry about a recipient or an application");
  static std::string hr, ha, has_of;
  history->add_option("--recipient", hr, "USCC");
  history->add_option("--application", ha, "application id");
  history->add_option("--as-of", has_of, "entry seq or ISO date");
  history->callback([&ctx, run] { *run = [&ctx] { return History(ctx, hr, ha, has_of); }; });
}

}  // namespace fundledger::tools
