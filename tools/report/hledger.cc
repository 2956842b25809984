// The money events as an hledger journal: budget -> commitment -> recipient, one transaction per
// event, so a stock accounting tool can re-add every balance `fundledger query` shows.
//   allocation   budget:<m>:<y>:<source>  +X   appropriation:<source>   -X
//   award        commitment:<m>:<y>       +X   budget:<m>:<y>:city / :<district>  -shares
//   revocation   the award's postings reversed, in the grant's proportion (as projections do)
//   payout       recipient:<uscc>         +X   commitment:<m>:<y>       -X
//   reversal     recipient:<uscc>         -X   commitment:<m>:<y>       +X
// So budget:<m>:<y> is what is still available, commitment:<m>:<y> is committed not paid, and
// recipient:<uscc> is what the recipient was paid, net.
#include <map>

#include "events/text.h"
#include "tools/report/build.h"

namespace fundledger::report {
namespace {

namespace ev = ::fundledger::events;
__extension__ using Int128 = __int128;

// Exact CNY amount from fen: "-1234.05 CNY".
std::string Cny(int64_t fen) {
  uint64_t magnitude = fen < 0 ? 0 - static_cast<uint64_t>(fen) : static_cast<uint64_t>(fen);
  std::string cents = std::to_string(magnitude % 100);
  return std::string(fen < 0 ? "-" : "") + std::to_string(magnitude / 100) + "." +
         (cents.size() == 1 ? "0" : "") + cents + " CNY";
}

struct Posting {
  std::string account;
  int64_t fen = 0;
};

std::string Transaction(const ev::Entry& e, const std::string& description,
                        const std::vector<Posting>& postings) {
  std::string out = ev::ShanghaiDate(e.recorded_at_ms) + " " + description +
                    "  ; seq:" + std::to_string(e.seq) + ", kind:" + ev::KindName(e.body) + "\n";
  for (const Posting& p : postings) {
    if (p.fen == 0) continue;
    out += "    " + p.account + "  " + Cny(p.fen) + "\n";
  }
  return out + "\n";
}

// What the journal needs to know about an application, kept as the events go by.
struct AppMoney {
  std::string measure, year, recipient, district;
  int64_t granted = 0, revoked = 0, district_fen = 0;
};

}  // namespace

Result<std::string> HledgerJournal(const ledger::Ledger& ledger, uint64_t to) {
  if (to > ledger.size()) return Status::InvalidArgument("--to is past the head");
  std::string out = "; fundledger " + ledger.Origin() + ", entries 1.." + std::to_string(to) +
                    "; amounts exact from integer fen\ncommodity 1000.00 CNY\n\n";
  std::map<std::string, AppMoney> apps;
  for (uint64_t seq = 1; seq <= to; ++seq) {
    LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger.Read(seq));
    const ev::Entry& e = stored.entry;
    if (const auto* b = std::get_if<ev::BudgetAllocated>(&e.body)) {
      std::string budget =
          "budget:" + b->measure + ":" + std::to_string(b->fiscal_year) + ":" + b->source;
      out += Transaction(e, "BudgetAllocated " + b->measure + " " + std::to_string(b->fiscal_year),
                         {{budget, b->amount_fen}, {"appropriation:" + b->source, -b->amount_fen}});
    } else if (const auto* s = std::get_if<ev::ApplicationSubmitted>(&e.body)) {
      AppMoney& a = apps[s->application_id];
      a.measure = s->measure;
      a.year = std::to_string(s->fiscal_year);
      a.recipient = s->recipient_id;
      const projections::Application* app = ledger.view().FindApplication(s->application_id);
      a.district = app ? app->district : "";
    } else if (const auto* g = std::get_if<ev::AwardGranted>(&e.body)) {
      AppMoney& a = apps[g->application_id];
      a.granted += g->amount_fen;
      a.district_fen += g->district_fen;
      std::string prefix = a.measure + ":" + a.year;
      out += Transaction(e, "AwardGranted " + g->application_id,
                         {{"commitment:" + prefix, g->amount_fen},
                          {"budget:" + prefix + ":city", -g->city_fen},
                          {"budget:" + prefix + ":" + a.district, -g->district_fen}});
    } else if (const auto* r = std::get_if<ev::AwardRevoked>(&e.body)) {
      AppMoney& a = apps[r->application_id];
      int64_t before = a.revoked;
      a.revoked += r->amount_fen;
      int64_t district_part = 0;
      if (a.granted > 0 && a.district_fen > 0 && a.revoked <= a.granted) {
        district_part =
            static_cast<int64_t>(static_cast<Int128>(a.revoked) * a.district_fen / a.granted -
                                 static_cast<Int128>(before) * a.district_fen / a.granted);
      }
      std::string prefix = a.measure + ":" + a.year;
      out += Transaction(e, "AwardRevoked " + r->application_id,
                         {{"commitment:" + prefix, -r->amount_fen},
                          {"budget:" + prefix + ":city", r->amount_fen - district_part},
                          {"budget:" + prefix + ":" + a.district, district_part}});
    } else if (const auto* p = std::get_if<ev::PayoutDisbursed>(&e.body)) {
      const AppMoney& a = apps[p->application_id];
      out += Transaction(e, "PayoutDisbursed " + p->application_id,
                         {{"recipient:" + a.recipient, p->amount_fen},
                          {"commitment:" + a.measure + ":" + a.year, -p->amount_fen}});
    } else if (const auto* v = std::get_if<ev::PayoutReversed>(&e.body)) {
      const AppMoney& a = apps[v->application_id];
      out += Transaction(e, "PayoutReversed " + v->application_id,
                         {{"recipient:" + a.recipient, -v->amount_fen},
                          {"commitment:" + a.measure + ":" + a.year, v->amount_fen}});
    }
  }
  LEDGER_RETURN_IF_ERROR(ledger.view().ReadStatus());  // a district from an unread row
  return out;
}

}  // namespace fundledger::report
