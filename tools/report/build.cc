// The six report builders. Balances come from the projections at the report's tree size (the
// live state at the head, the row history below it); dates and payment lines come from the
// entries each application's `seqs` names. Nothing reads a clock.
#include "tools/report/build.h"

#include <algorithm>
#include <set>

#include "events/text.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"

namespace fundledger::report {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
__extension__ using Int128 = __int128;

// ---- Reading the ledger: every read of entries and rows is here, in one place ----

// One entry about an application, as the builders need it.
struct AppEvent {
  uint64_t seq = 0;
  int64_t at_ms = 0;
  ev::KeyId signer{};
  ev::Body body;
};

struct AppView {
  const pj::Application* app = nullptr;
  const pj::Recipient* recipient = nullptr;  // nullptr if not registered (never, in practice)
  std::vector<AppEvent> events;              // seq order, seqs <= tree size
  int64_t approved_ms = -1, awarded_ms = -1, first_paid_ms = -1;
  uint64_t award_seq = 0;
  int64_t payouts = 0;  // PayoutDisbursed entries
  std::string Unit() const { return app->award_unit.empty() ? app->unit : app->award_unit; }
};

// The state at the report's tree size and the entries of the applications in scope.
struct Snapshot {
  pj::LedgerState rows;  // every row as it stood after entry `size`, whole
  const pj::LedgerState& state() const { return rows; }
  uint64_t size = 0;
  int64_t as_of_ms = 0;
  ev::Hash root{}, state_hash{};
};

// Entry `seq`, tied to the Merkle tree whose root the report states: its leaf hash must be the
// stored leaf. Signatures are not re-verified here (Ed25519 was most of a report's time); an
// entry altered behind the ledger's back changes its leaf, hence the root a checkpoint pins.
Result<ev::Entry> ReadEntry(const ledger::Ledger& ledger, uint64_t seq) {
  const std::string where = "entry " + std::to_string(seq);
  auto raw = ledger.ReadRaw(seq);
  if (!raw.ok())
    return raw.status().IsNotFound() ? Status::Corruption(where + " is missing") : raw.status();
  LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger::SplitStoredValue(*raw));
  if (stored.entry.seq != seq) return Status::Corruption(where + ": stored under the wrong seq");
  LEDGER_ASSIGN_OR_RETURN(ev::Hash leaf, ledger.tree().Node(0, seq - 1));
  if (leaf != stored.leaf_hash)
    return Status::Corruption(where + ": not the leaf the Merkle tree holds");
  return std::move(stored.entry);
}

Result<Snapshot> ReadSnapshot(const ledger::Ledger& ledger, uint64_t size) {
  Snapshot snap;
  snap.size = size;
  // Every row as it stood after entry `size`: the state hash is over all of them.
  if (size == ledger.size()) {
    LEDGER_ASSIGN_OR_RETURN(snap.rows, ledger.Rows({""}));
  } else {
    LEDGER_ASSIGN_OR_RETURN(snap.rows, ledger.StateAsOf(size, {""}));
  }
  LEDGER_ASSIGN_OR_RETURN(ev::Entry last, ReadEntry(ledger, size));
  snap.as_of_ms = last.recorded_at_ms;
  LEDGER_ASSIGN_OR_RETURN(snap.root, ledger::RootAt(ledger.tree(), size));
  snap.state_hash = pj::StateHash(snap.state());
  return snap;
}

Result<std::vector<AppEvent>> ReadAppEvents(const ledger::Ledger& ledger,
                                            const pj::Application& app, uint64_t size) {
  std::vector<AppEvent> out;
  for (uint64_t seq : app.seqs) {
    if (seq > size) break;
    LEDGER_ASSIGN_OR_RETURN(ev::Entry entry, ReadEntry(ledger, seq));
    out.push_back({seq, entry.recorded_at_ms, entry.signer, std::move(entry.body)});
  }
  return out;
}

// ---- Small helpers ----

bool MeasureLess(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;  // "2" < "10"
}

int64_t ShanghaiDay(int64_t utc_ms) {
  int64_t local = utc_ms + ev::kShanghaiOffsetMs;
  return local >= 0 ? local / ev::kDayMs : -((-local + ev::kDayMs - 1) / ev::kDayMs);
}

// num / den in basis points, rounded half away from zero; empty if den <= 0.
Cell RateBp(int64_t num, int64_t den) {
  if (den <= 0) return std::monostate{};
  Int128 scaled = static_cast<Int128>(num) * 10000 * 2;
  Int128 q = (scaled >= 0 ? scaled + den : scaled - den) / (2 * static_cast<Int128>(den));
  return static_cast<int64_t>(q);
}

// Nearest-rank percentile `p` (1..100) of `values` (sorted here); empty if none.
Cell Percentile(std::vector<int64_t> values, int p) {
  if (values.empty()) return std::monostate{};
  std::sort(values.begin(), values.end());
  size_t rank = (static_cast<size_t>(p) * values.size() + 99) / 100;
  return values[std::max<size_t>(rank, 1) - 1];
}

// The district part of an application's committed money (revocations release each pool in
// the grant's proportion, as projections do on running totals).
int64_t CommittedDistrictFen(const pj::Application& app) {
  if (app.granted_fen <= 0 || app.district_fen <= 0) return 0;
  Int128 revoked = static_cast<Int128>(app.revoked_fen) * app.district_fen / app.granted_fen;
  return app.district_fen - static_cast<int64_t>(revoked);
}

struct Sums {
  int64_t allocated = 0, committed = 0, paid = 0, reversed = 0, payouts = 0;
  std::set<std::string> recipients;
  void Add(const AppView& v) {
    committed += v.app->NetAwardFen();
    paid += v.app->NetPaidFen();
    reversed += v.app->reversed_fen;
    payouts += v.payouts;
    if (v.app->NetAwardFen() > 0) recipients.insert(v.app->submitted.recipient_id);
  }
};

// ---- The build context ----

class Builder {
 public:
  Builder(const ledger::Ledger& ledger, const Options& o, Snapshot snap)
      : ledger_(ledger), o_(o), snap_(std::move(snap)), s_(snap_.state()) {}

  Status Init();
  Report Execution();
  Report Awards();
  Report Payments();
  Report Performance();
  Report Cofunding();
  Result<Report> Annual();

 private:
  std::string T(const char* zh, const char* en) const { return o_.lang == Lang::kZh ? zh : en; }
  Report Start(const std::string& kind, const char* zh, const char* en, const char* sheet) const;
  std::string MeasureName(const std::string& id) const;
  std::string TrackName(const std::string& measure, const std::string& track) const;
  Row TotalRow(RowKind kind, size_t columns, const std::string& label) const;
  void Footer(Table* table) const;
  Table ExecutionByMeasure(std::vector<std::string>* flag_notes) const;
  Table ExecutionByUnit() const;
  Table MonthlyRunning() const;
  std::vector<std::string> Measures() const;
  bool InPeriod(int64_t at_ms) const { return at_ms >= period_start_ms_ && at_ms < period_end_ms_; }

  const ledger::Ledger& ledger_;
  const Options& o_;
  Snapshot snap_;
  const pj::LedgerState& s_;
  const ev::Policy* policy_ = nullptr;
  std::vector<AppView> apps_;  // in scope: the year and the filters; application id order
  Provenance prov_;
  int64_t period_start_ms_ = 0, period_end_ms_ = 0;
  bool full_year_ = true;
};

// [start, end) of the period in UTC ms (Shanghai days); kInvalidArgument if malformed.
Status PeriodRange(const Options& o, int64_t* start, int64_t* end, bool* full_year) {
  std::string p = o.period.empty() ? std::to_string(o.year) : o.period;
  std::string year = std::to_string(o.year);
  std::string first, next;
  auto month = [&](int m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02d", m);
    return std::string(buf);
  };
  if (p == year) {
    first = year + "-01-01";
    next = std::to_string(o.year + 1) + "-01-01";
  } else if (p.size() == 7 && p.starts_with(year + "-Q") && p[6] >= '1' && p[6] <= '4') {
    int q = p[6] - '0';
    first = year + "-" + month(3 * q - 2) + "-01";
    next = q == 4 ? std::to_string(o.year + 1) + "-01-01" : year + "-" + month(3 * q + 1) + "-01";
  } else if (p.size() == 7 && p.starts_with(year + "-") && p.substr(5) >= "01" &&
             p.substr(5) <= "12" && p.find_first_not_of("0123456789", 5) == std::string::npos) {
    int m = std::stoi(p.substr(5));
    first = p + "-01";
    next = m == 12 ? std::to_string(o.year + 1) + "-01-01" : year + "-" + month(m + 1) + "-01";
  } else {
    return Status::InvalidArgument("--period must be " + year + ", " + year + "-Q1..Q4 or " + year +
                                   "-01..12, not '" + p + "'");
  }
  *start = *ev::ShanghaiMidnightMs(first);
  *end = *ev::ShanghaiMidnightMs(next);
  *full_year = p == year;
  return Status::Ok();
}

Status Builder::Init() {
  bool full_year = true;
  LEDGER_RETURN_IF_ERROR(PeriodRange(o_, &period_start_ms_, &period_end_ms_, &full_year));
  full_year_ = full_year;
  const pj::PolicyVersion* version = s_.PolicyAt(snap_.as_of_ms);
  if (version == nullptr) version = s_.PolicyAt(INT64_MAX);
  policy_ = version ? &version->policy : nullptr;
  for (const auto& [key, app] : s_.applications) {
    const ev::ApplicationSubmitted& sub = app.submitted;
    if (sub.fiscal_year != o_.year) continue;
    if (!o_.measure.empty() && sub.measure != o_.measure) continue;
    if (!o_.district.empty() && app.district != o_.district) continue;
    AppView view;
    view.app = &app;
    if (!o_.unit.empty() && view.Unit() != o_.unit) continue;
    view.recipient = s_.FindRecipient(sub.recipient_id);
    LEDGER_ASSIGN_OR_RETURN(view.events, ReadAppEvents(ledger_, app, snap_.size));
    for (const AppEvent& e : view.events) {
      if (std::holds_alternative<ev::ApplicationApproved>(e.body) && view.approved_ms < 0) {
        view.approved_ms = e.at_ms;
      } else if (std::holds_alternative<ev::AwardGranted>(e.body) && view.award_seq == 0) {
        view.awarded_ms = e.at_ms;
        view.award_seq = e.seq;
      } else if (std::holds_alternative<ev::PayoutDisbursed>(e.body)) {
        ++view.payouts;
        if (view.first_paid_ms < 0) view.first_paid_ms = e.at_ms;
      }
    }
    apps_.push_back(std::move(view));
  }
  const pj::LedgerInfo& info = ledger_.head();
  prov_.ledger_id_hex = ev::Hex(info.ledger_id);
  prov_.ledger_name = info.name;
  prov_.origin = "fundledger/" + prov_.ledger_id_hex;
  prov_.tree_size = snap_.size;
  prov_.root_hex = ev::Hex(snap_.root);
  prov_.state_hash_hex = ev::Hex(snap_.state_hash);
  prov_.checkpoint_note = o_.checkpoint_note;
  prov_.as_of_ms = snap_.as_of_ms;
  prov_.reporting_unit = o_.unit.empty() ? T("全部单位", "all units") : o_.unit;
  prov_.period = o_.period.empty() ? std::to_string(o_.year) : o_.period;
  prov_.year = o_.year;
  std::string scope;
  if (!o_.measure.empty()) scope += "measure=" + o_.measure;
  if (!o_.unit.empty()) scope += std::string(scope.empty() ? "" : " ") + "unit=" + o_.unit;
  if (!o_.district.empty())
    scope += std::string(scope.empty() ? "" : " ") + "district=" + o_.district;
  prov_.scope = scope;
  prov_.params = EncodeParams(o_);
  return Status::Ok();
}

Report Builder::Start(const std::string& kind, const char* zh, const char* en,
                      const char* sheet) const {
  Report r;
  r.kind = kind;
  r.title_zh = zh;
  r.title_en = en;
  r.sheet_name = sheet;
  r.provenance = prov_;
  return r;
}

std::string Builder::MeasureName(const std::string& id) const {
  const ev::Measure* m = policy_ ? policy_->FindMeasure(id) : nullptr;
  if (m == nullptr) return id;
  return o_.lang == Lang::kZh ? m->name_zh : m->name_en;
}

std::string Builder::TrackName(const std::string& measure, const std::string& track) const {
  const ev::Measure* m = policy_ ? policy_->FindMeasure(measure) : nullptr;
  const ev::Track* t = m ? m->FindTrack(track) : nullptr;
  if (t == nullptr) return track;
  const std::string& name = o_.lang == Lang::kZh ? t->name_zh : t->name_en;
  return name.empty() ? track : name;
}

Row Builder::TotalRow(RowKind kind, size_t columns, const std::string& label) const {
  Row row;
  row.kind = kind;
  row.cells.assign(columns, std::monostate{});
  row.cells[0] = label;
  return row;
}

// The signature lines every filed table ends with (项目负责人 / 财务负责人).
void Builder::Footer(Table* table) const {
  table->notes_zh.push_back("项目负责人：__________    财务负责人：__________");
  table->notes_en.push_back("Project lead: __________    Finance lead: __________");
}

// Measures with money or applications in the year, after the filters, in policy order.
std::vector<std::string> Builder::Measures() const {
  std::set<std::string> ids;
  for (const auto& [key, my] : s_.measure_years) {
    std::string rest = key.substr(3);
    std::string m = rest.substr(0, rest.rfind('/'));
    if (rest.substr(rest.rfind('/') + 1) != std::to_string(o_.year)) continue;
    if (!o_.measure.empty() && m != o_.measure) continue;
    if (!o_.unit.empty()) {
      const ev::Measure* def = policy_ ? policy_->FindMeasure(m) : nullptr;
      if (def == nullptr ||
          std::find(def->units.begin(), def->units.end(), o_.unit) == def->units.end())
        continue;
    }
    ids.insert(m);
  }
  for (const AppView& v : apps_) ids.insert(v.app->submitted.measure);
  std::vector<std::string> out(ids.begin(), ids.end());
  std::sort(out.begin(), out.end(), MeasureLess);
  return out;
}

Column Col(const char* key, const char* zh, const char* en, CellKind kind, uint16_t width = 12) {
  return Column{key, zh, en, kind, width};
}

// ---- execution ----

Table Builder::ExecutionByMeasure(std::vector<std::string>* flag_notes) const {
  Table t;
  t.title_zh = "按措施和类别";
  t.title_en = "By measure and track";
  t.columns = {Col("measure", "措施", "Measure", CellKind::kText, 6),
               Col("measureName", "措施名称", "Measure name", CellKind::kText, 24),
               Col("track", "类别", "Track", CellKind::kText, 14),
               Col("source", "资金来源", "Source", CellKind::kText, 10),
               Col("allocatedFen", "调整后预算", "Allocated", CellKind::kWan),
               Col("committedFen", "已承诺", "Committed", CellKind::kWan),
               Col("paidFen", "已拨付", "Paid", CellKind::kWan),
               Col("reversedFen", "已退回", "Reversed", CellKind::kWan),
               Col("unpaidFen", "已承诺未拨付", "Committed not paid", CellKind::kWan),
               Col("unspentFen", "未使用", "Unspent", CellKind::kWan),
               Col("executionRateBp", "执行率", "Execution rate", CellKind::kRateBp, 10),
               Col("recipients", "受助单位数", "Recipients", CellKind::kCount, 8),
               Col("payments", "拨付笔数", "Payments", CellKind::kCount, 8)};
  const size_t n = t.columns.size();
  Sums grand;
  for (const std::string& m : Measures()) {
    const ev::Measure* def = policy_ ? policy_->FindMeasure(m) : nullptr;
    bool co_funded = def != nullptr && def->co_funded;
    auto my_it = s_.measure_years.find(pj::RowKeyMeasureYear(m, static_cast<uint16_t>(o_.year)));
    const pj::MeasureYear* my = my_it == s_.measure_years.end() ? nullptr : &my_it->second;
    std::map<std::string, Sums> by_track;
    std::map<std::string, std::array<int64_t, 2>> by_source;  // committed, paid
    Sums measure_sums;
    for (const AppView& v : apps_) {
      if (v.app->submitted.measure != m) continue;
      by_track[v.app->submitted.track].Add(v);
      measure_sums.Add(v);
      int64_t district = CommittedDistrictFen(*v.app);
      int64_t paid_city = v.app->NetPaidFen(), paid_district = 0;
      if (def != nullptr && co_funded)
        pj::SplitAward(*def, v.app->NetPaidFen(), &paid_city, &paid_district);
      by_source["city"][0] += v.app->NetAwardFen() - district;
      by_source["city"][1] += paid_city;
      if (co_funded) {
        by_source[v.app->district][0] += district;
        by_source[v.app->district][1] += paid_district;
      }
    }
    std::string source_all = co_funded ? T("市区共担", "city+district") : T("市级", "city");
    for (const auto& [track, sums] : by_track) {
      t.rows.push_back(
          {{m, MeasureName(m), TrackName(m, track), source_all, std::monostate{}, sums.committed,
            sums.paid, sums.reversed, sums.committed - sums.paid, std::monostate{},
            std::monostate{}, static_cast<int64_t>(sums.recipients.size()), sums.payouts},
           RowKind::kData,
           false});
    }
    measure_sums.allocated = my ? my->AllocatedFen() : 0;
    Row sub = TotalRow(RowKind::kSubtotal, n, m);
    sub.cells[1] = MeasureName(m) + T(" 小计", " subtotal");
    sub.cells[3] = source_all;
    sub.cells[4] = measure_sums.allocated;
    sub.cells[5] = measure_sums.committed;
    sub.cells[6] = measure_sums.paid;
    sub.cells[7] = measure_sums.reversed;
    sub.cells[8] = measure_sums.committed - measure_sums.paid;
    sub.cells[9] = measure_sums.allocated - measure_sums.committed;
    sub.cells[10] = RateBp(measure_sums.paid, measure_sums.allocated);
    sub.cells[11] = static_cast<int64_t>(measure_sums.recipients.size());
    sub.cells[12] = measure_sums.payouts;
    if (full_year_ && measure_sums.allocated > 0 &&
        std::get<int64_t>(sub.cells[10]) < kFlagRateBp) {
      sub.flagged = true;
      flag_notes->push_back(m);
    }
    t.rows.push_back(std::move(sub));
    if (co_funded) {
      // City and district money apart: each source's pool, what it committed and its share of
      // the paid money (payouts are split by the policy's co-funding shares).
      std::set<std::string> sources;
      if (my)
        for (const auto& [src, fen] : my->allocated_fen) sources.insert(src);
      for (const auto& [src, cp] : by_source) sources.insert(src);
      for (const std::string& src : sources) {
        if (!o_.district.empty() && src != "city" && src != o_.district) continue;
        int64_t allocated = 0;
        if (my && my->allocated_fen.count(src)) allocated = my->allocated_fen.at(src);
        std::array<int64_t, 2> cp =
            by_source.count(src) ? by_source.at(src) : std::array<int64_t, 2>{};
        std::string label = src == "city" ? T("市级", "city") : src;
        t.rows.push_back({{m, MeasureName(m), std::monostate{}, label, allocated, cp[0], cp[1],
                           std::monostate{}, cp[0] - cp[1], allocated - cp[0],
                           RateBp(cp[1], allocated), std::monostate{}, std::monostate{}},
                          RowKind::kData,
                          false});
      }
    }
    grand.allocated += measure_sums.allocated;
    grand.committed += measure_sums.committed;
    grand.paid += measure_sums.paid;
    grand.reversed += measure_sums.reversed;
    grand.payouts += measure_sums.payouts;
    grand.recipients.insert(measure_sums.recipients.begin(), measure_sums.recipients.end());
  }
  Row total = TotalRow(RowKind::kTotal, n, T("合计", "Total"));
  total.cells[4] = grand.allocated;
  total.cells[5] = grand.committed;
  total.cells[6] = grand.paid;
  total.cells[7] = grand.reversed;
  total.cells[8] = grand.committed - grand.paid;
  total.cells[9] = grand.allocated - grand.committed;
  total.cells[10] = RateBp(grand.paid, grand.allocated);
  total.cells[11] = static_cast<int64_t>(grand.recipients.size());
  total.cells[12] = grand.payouts;
  t.rows.push_back(std::move(total));
  t.notes_zh = {
      "金额单位：万元。已承诺 = 资助额减撤销额；已拨付 = 拨付额减退回额；"
      "执行率 = 已拨付 ÷ 调整后预算。"};
  t.notes_en = {
      "Amounts in 10,000 yuan. Committed = awarded less revoked; paid = payouts less "
      "reversals; execution rate = paid / allocated budget."};
  return t;
}

Table Builder::ExecutionByUnit() const {
  Table t;
  t.title_zh = "按主管单位";
  t.title_en = "By responsible unit";
  t.columns = {Col("unit", "主管单位", "Unit", CellKind::kText, 12),
               Col("unitName", "单位名称", "Unit name", CellKind::kText, 24),
               Col("committedFen", "已承诺", "Committed", CellKind::kWan),
               Col("paidFen", "已拨付", "Paid", CellKind::kWan),
               Col("reversedFen", "已退回", "Reversed", CellKind::kWan),
               Col("unpaidFen", "已承诺未拨付", "Committed not paid", CellKind::kWan),
               Col("recipients", "受助单位数", "Recipients", CellKind::kCount, 8),
               Col("payments", "拨付笔数", "Payments", CellKind::kCount, 8)};
  std::map<std::string, Sums> by_unit;
  Sums grand;
  for (const AppView& v : apps_) {
    by_unit[v.Unit()].Add(v);
    grand.Add(v);
  }
  for (const auto& [unit, sums] : by_unit) {
    std::string name = unit;
    if (policy_) {
      for (const ev::Unit& u : policy_->units) {
        if (u.code == unit) name = o_.lang == Lang::kZh ? u.name_zh : u.name_en;
      }
    }
    t.rows.push_back(
        {{unit, name, sums.committed, sums.paid, sums.reversed, sums.committed - sums.paid,
          static_cast<int64_t>(sums.recipients.size()), sums.payouts},
         RowKind::kData,
         false});
  }
  Row total = TotalRow(RowKind::kTotal, t.columns.size(), T("合计", "Total"));
  total.cells[2] = grand.committed;
  total.cells[3] = grand.paid;
  total.cells[4] = grand.reversed;
  total.cells[5] = grand.committed - grand.paid;
  total.cells[6] = static_cast<int64_t>(grand.recipients.size());
  total.cells[7] = grand.payouts;
  t.rows.push_back(std::move(total));
  return t;
}

// Committed and paid to the end of each month of the period, from the entries' dates.
Table Builder::MonthlyRunning() const {
  Table t;
  t.title_zh = "按月累计";
  t.title_en = "Running totals by month";
  t.columns = {Col("month", "月份", "Month", CellKind::kText, 8),
               Col("committedFen", "累计已承诺", "Committed to date", CellKind::kWan),
               Col("paidFen", "累计已拨付", "Paid to date", CellKind::kWan),
               Col("paidInMonthFen", "本月拨付", "Paid in month", CellKind::kWan),
               Col("payments", "本月拨付笔数", "Payments in month", CellKind::kCount, 8)};
  std::vector<const AppEvent*> money;
  for (const AppView& v : apps_) {
    for (const AppEvent& e : v.events) money.push_back(&e);
  }
  std::sort(money.begin(), money.end(),
            [](const AppEvent* a, const AppEvent* b) { return a->seq < b->seq; });
  int64_t committed = 0, paid = 0;
  size_t next = 0;
  int64_t month_start = period_start_ms_;
  while (month_start < period_end_ms_) {
    std::string date = ev::ShanghaiDate(month_start);  // YYYY-MM-01
    int y = std::stoi(date.substr(0, 4)), mo = std::stoi(date.substr(5, 2));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-01", mo == 12 ? y + 1 : y, mo == 12 ? 1 : mo + 1);
    int64_t month_end = *ev::ShanghaiMidnightMs(buf);
    int64_t paid_in_month = 0, payments = 0;
    for (; next < money.size() && money[next]->at_ms < month_end; ++next) {
      const AppEvent& e = *money[next];
      bool in_month = e.at_ms >= month_start;
      if (const auto* g = std::get_if<ev::AwardGranted>(&e.body)) committed += g->amount_fen;
      if (const auto* r = std::get_if<ev::AwardRevoked>(&e.body)) committed -= r->amount_fen;
      if (const auto* p = std::get_if<ev::PayoutDisbursed>(&e.body)) {
        paid += p->amount_fen;
        if (in_month) {
          paid_in_month += p->amount_fen;
          ++payments;
        }
      }
      if (const auto* r = std::get_if<ev::PayoutReversed>(&e.body)) {
        paid -= r->amount_fen;
        if (in_month) paid_in_month -= r->amount_fen;
      }
    }
    if (month_start > snap_.as_of_ms) break;  // no figures past the report's tree size
    t.rows.push_back(
        {{date.substr(0, 7), committed, paid, paid_in_month, payments}, RowKind::kData, false});
    month_start = month_end;
  }
  return t;
}

Report Builder::Execution() {
  Report r = Start("execution", "专项资金预算执行情况表", "Budget execution", "execution");
  std::vector<std::string> flagged;
  r.tables.push_back(ExecutionByMeasure(&flagged));
  for (const std::string& m : flagged) {
    r.tables[0].notes_zh.push_back("措施" + m + "年末执行率低于90%，须书面说明原因。");
    r.tables[0].notes_en.push_back("Measure " + m +
                                   ": execution rate under 90% at year end; "
                                   "a written reason is required.");
  }
  Footer(&r.tables[0]);
  r.tables.push_back(ExecutionByUnit());
  r.tables.push_back(MonthlyRunning());
  Chart chart;
  chart.title_zh = "各措施预算、承诺与拨付（万元）";
  chart.title_en = "Allocated, committed and paid by measure";
  chart.series = {
      {"调整后预算", "Allocated", {}}, {"已承诺", "Committed", {}}, {"已拨付", "Paid", {}}};
  for (const Row& row : r.tables[0].rows) {
    if (row.kind != RowKind::kSubtotal) continue;
    chart.categories.push_back(std::get<std::string>(row.cells[0]));
    for (size_t i = 0; i < 3; ++i)
      chart.series[i].values_fen.push_back(std::get<int64_t>(row.cells[4 + i]));
  }
  r.chart = std::move(chart);
  return r;
}

// ---- awards ----

Report Builder::Awards() {
  Report r = Start("awards", "资助计划（公示名单）", "Award list", "awards");
  Table t;
  t.title_zh = "资助计划";
  t.title_en = "Awards";
  t.columns = {Col("no", "序号", "No.", CellKind::kCount, 6),
               Col("measure", "措施", "Measure", CellKind::kText, 6),
               Col("track", "类别", "Track", CellKind::kText, 14),
               Col("application", "申请编号", "Application", CellKind::kText, 14),
               Col("recipientName", "单位名称", "Recipient", CellKind::kText, 28),
               Col("uscc", "统一社会信用代码", "Unified Social Credit Code", CellKind::kText, 20),
               Col("district", "所在区", "District", CellKind::kText, 10),
               Col("amountFen", "资助金额", "Amount", CellKind::kWan),
               Col("revokedFen", "已撤销", "Revoked", CellKind::kWan),
               Col("cityFen", "市级资金", "City share", CellKind::kWan),
               Col("districtFen", "区级资金", "District share", CellKind::kWan),
               Col("awardDate", "资助日期", "Award date", CellKind::kDate, 11),
               Col("seq", "账本序号", "Entry seq", CellKind::kSeq, 9)};
  std::vector<std::pair<uint64_t, const AppView*>> awarded;
  for (const AppView& v : apps_) {
    if (v.award_seq != 0 && InPeriod(v.awarded_ms)) awarded.push_back({v.award_seq, &v});
  }
  std::sort(awarded.begin(), awarded.end());
  int64_t no = 0, amount = 0, revoked = 0, city = 0, district = 0;
  for (const auto& [seq, v] : awarded) {
    const pj::Application& a = *v->app;
    std::string name = v->recipient ? v->recipient->info.name : "";
    t.rows.push_back({{++no, a.submitted.measure, TrackName(a.submitted.measure, a.submitted.track),
                       a.submitted.application_id, name, a.submitted.recipient_id, a.district,
                       a.granted_fen, a.revoked_fen, a.city_fen, a.district_fen,
                       ev::ShanghaiDate(v->awarded_ms), static_cast<int64_t>(seq)},
                      RowKind::kData,
                      false});
    amount += a.granted_fen;
    revoked += a.revoked_fen;
    city += a.city_fen;
    district += a.district_fen;
  }
  Row total = TotalRow(RowKind::kTotal, t.columns.size(), T("合计", "Total"));
  total.cells[7] = amount;
  total.cells[8] = revoked;
  total.cells[9] = city;
  total.cells[10] = district;
  t.rows.push_back(std::move(total));
  if (o_.public_only) {
    // For publication (公示): the application ids and entry seqs are internal keys.
    for (size_t col : {size_t{12}, size_t{3}}) {
      t.columns.erase(t.columns.begin() + static_cast<ptrdiff_t>(col));
      for (Row& row : t.rows) row.cells.erase(row.cells.begin() + static_cast<ptrdiff_t>(col));
    }
  }
  Footer(&t);
  r.tables.push_back(std::move(t));
  return r;
}

// ---- payments ----

Report Builder::Payments() {
  Report r = Start("payments", "资金拨付台账", "Payment register", "payments");
  Table t;
  t.title_zh = "拨付与退回";
  t.title_en = "Payouts and reversals";
  t.columns = {
      Col("date", "日期", "Date", CellKind::kDate, 11),
      Col("seq", "账本序号", "Entry seq", CellKind::kSeq, 9),
      Col("kind", "类型", "Kind", CellKind::kText, 8),
      Col("recipientName", "单位名称", "Recipient", CellKind::kText, 28),
      Col("uscc", "统一社会信用代码", "Unified Social Credit Code", CellKind::kText, 20),
      Col("application", "申请编号", "Application", CellKind::kText, 14),
      Col("measure", "措施", "Measure", CellKind::kText, 6),
      Col("amountFen", "金额（元）", "Amount (yuan)", CellKind::kYuan, 16),
      Col("reference", "支付凭证号 / 原因", "Payment reference / reason", CellKind::kText, 20),
      Col("treasurerKey", "经办密钥", "Treasurer key", CellKind::kText, 18),
      Col("paidToDateFen", "该项目累计拨付（元）", "Paid to date (yuan)", CellKind::kYuan, 16)};
  struct Line {
    uint64_t seq;
    Row row;
  };
  std::vector<Line> lines;
  for (const AppView& v : apps_) {
    int64_t to_date = 0;
    std::string name = v.recipient ? v.recipient->info.name : "";
    for (const AppEvent& e : v.events) {
      const auto* p = std::get_if<ev::PayoutDisbursed>(&e.body);
      const auto* q = std::get_if<ev::PayoutReversed>(&e.body);
      if (p == nullptr && q == nullptr) continue;
      int64_t amount = p ? p->amount_fen : -q->amount_fen;
      to_date += amount;
      if (!InPeriod(e.at_ms)) continue;
      lines.push_back(
          {e.seq,
           {{ev::ShanghaiDate(e.at_ms), static_cast<int64_t>(e.seq),
             p ? T("拨付", "payout") : T("退回", "reversal"), name, v.app->submitted.recipient_id,
             v.app->submitted.application_id, v.app->submitted.measure, amount,
             p ? p->reference : q->reason, ev::Hex(e.signer).substr(0, 16), to_date},
            RowKind::kData,
            false}});
    }
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.seq < b.seq; });
  int64_t total_fen = 0;
  for (Line& line : lines) {
    total_fen += std::get<int64_t>(line.row.cells[7]);
    t.rows.push_back(std::move(line.row));
  }
  Row total = TotalRow(RowKind::kTotal, t.columns.size(), T("合计", "Total"));
  total.cells[7] = total_fen;
  t.rows.push_back(std::move(total));
  t.notes_zh = {"金额单位：元；退回为负数。每行可用 `fundledger prove inclusion --seq` 证明。"};
  t.notes_en = {
      "Amounts in yuan; reversals are negative. Every line can be proved with "
      "`fundledger prove inclusion --seq`."};
  Footer(&t);
  r.tables.push_back(std::move(t));
  return r;
}

// ---- performance ----

Report Builder::Performance() {
  Report r = Start("performance", "项目支出绩效自评表（资金部分）", "Performance self-evaluation",
                   "performance");
  Table t;
  t.title_zh = "资金与时效指标";
  t.title_en = "Money and timeliness";
  t.columns = {Col("measure", "措施", "Measure", CellKind::kText, 6),
               Col("measureName", "措施名称", "Measure name", CellKind::kText, 24),
               Col("allocatedFen", "调整后预算", "Allocated", CellKind::kWan),
               Col("paidFen", "已拨付", "Paid", CellKind::kWan),
               Col("executionRateBp", "执行率", "Execution rate", CellKind::kRateBp, 10),
               Col("recipients", "受助单位数", "Recipients", CellKind::kCount, 8),
               Col("awards", "资助项目数", "Awards", CellKind::kCount, 8),
               Col("approvalToAwardMedianDays", "批准至资助中位天数",
                   "Approval to award, median days", CellKind::kDays, 10),
               Col("approvalToAwardP90Days", "批准至资助90分位天数",
                   "Approval to award, 90th pct days", CellKind::kDays, 10),
               Col("awardToPaymentMedianDays", "资助至首次拨付中位天数",
                   "Award to first payment, median days", CellKind::kDays, 10),
               Col("awardToPaymentP90Days", "资助至首次拨付90分位天数",
                   "Award to first payment, 90th pct days", CellKind::kDays, 10),
               Col("applications", "申请数", "Applications", CellKind::kCount, 8),
               Col("rejected", "不予资助数", "Rejected", CellKind::kCount, 8),
               Col("rejectedShareBp", "不予资助占比", "Rejected share", CellKind::kRateBp, 10)};
  Table reasons;
  reasons.title_zh = "不予资助原因";
  reasons.title_en = "Rejections by reason";
  reasons.columns = {Col("measure", "措施", "Measure", CellKind::kText, 6),
                     Col("reason", "原因", "Reason", CellKind::kText, 40),
                     Col("count", "数量", "Count", CellKind::kCount, 8),
                     Col("shareBp", "占比", "Share", CellKind::kRateBp, 10)};
  for (const std::string& m : Measures()) {
    Sums sums;
    std::vector<int64_t> to_award, to_pay;
    int64_t awards = 0, applications = 0, rejected = 0;
    std::map<std::string, int64_t> by_reason;
    for (const AppView& v : apps_) {
      if (v.app->submitted.measure != m) continue;
      sums.Add(v);
      ++applications;
      if (v.award_seq != 0) ++awards;
      if (v.award_seq != 0 && v.approved_ms >= 0)
        to_award.push_back(ShanghaiDay(v.awarded_ms) - ShanghaiDay(v.approved_ms));
      if (v.award_seq != 0 && v.first_paid_ms >= 0)
        to_pay.push_back(ShanghaiDay(v.first_paid_ms) - ShanghaiDay(v.awarded_ms));
      for (const AppEvent& e : v.events) {
        if (const auto* rj = std::get_if<ev::ApplicationRejected>(&e.body)) {
          ++rejected;
          ++by_reason[rj->reason];
        }
      }
    }
    auto my = s_.measure_years.find(pj::RowKeyMeasureYear(m, static_cast<uint16_t>(o_.year)));
    int64_t allocated = my == s_.measure_years.end() ? 0 : my->second.AllocatedFen();
    Row row{{m, MeasureName(m), allocated, sums.paid, RateBp(sums.paid, allocated),
             static_cast<int64_t>(sums.recipients.size()), awards, Percentile(to_award, 50),
             Percentile(to_award, 90), Percentile(to_pay, 50), Percentile(to_pay, 90), applications,
             rejected, RateBp(rejected, applications)},
            RowKind::kData,
            false};
    row.flagged = full_year_ && allocated > 0 && std::get<int64_t>(row.cells[4]) < kFlagRateBp;
    t.rows.push_back(std::move(row));
    for (const auto& [reason, count] : by_reason) {
      reasons.rows.push_back({{m, reason, count, RateBp(count, rejected)}, RowKind::kData, false});
    }
  }
  t.notes_zh = {"天数按上海日期计；中位数和90分位数取最近秩。"};
  t.notes_en = {"Days between Asia/Shanghai dates; median and 90th percentile by nearest rank."};
  reasons.notes_zh = {
      "账本记录评审不予资助的决定及其原因；被规则拒绝的写入从不进入账本，故无规则代码统计。"};
  reasons.notes_en = {
      "The ledger records reviewers' rejections with their reason; writes refused "
      "by a rule never enter the ledger, so their rule codes cannot be counted."};
  Footer(&t);
  r.tables.push_back(std::move(t));
  r.tables.push_back(std::move(reasons));
  return r;
}

// ---- cofunding ----

Report Builder::Cofunding() {
  Report r = Start("cofunding", "市区资金分担表", "City-district co-funding", "cofunding");
  Table t;
  t.title_zh = "市区分担";
  t.title_en = "Shares by district";
  t.columns = {
      Col("measure", "措施", "Measure", CellKind::kText, 6),
      Col("district", "区", "District", CellKind::kText, 10),
      Col("districtAllocatedFen", "区级预算", "District allocation", CellKind::kWan),
      Col("cityCommittedFen", "市级已承诺", "City committed", CellKind::kWan),
      Col("districtCommittedFen", "区级已承诺", "District committed", CellKind::kWan),
      Col("cityPaidFen", "市级已拨付", "City paid", CellKind::kWan),
      Col("districtPaidFen", "区级已拨付", "District paid", CellKind::kWan),
      Col("districtCommitRateBp", "区级承诺率", "District commitment rate", CellKind::kRateBp, 10),
      Col("districtPaidRateBp", "区级执行率", "District execution rate", CellKind::kRateBp, 10),
      Col("recipients", "受助单位数", "Recipients", CellKind::kCount, 8)};
  std::array<int64_t, 5> grand{};
  for (const std::string& m : Measures()) {
    const ev::Measure* def = policy_ ? policy_->FindMeasure(m) : nullptr;
    if (def == nullptr || !def->co_funded) continue;
    auto my = s_.measure_years.find(pj::RowKeyMeasureYear(m, static_cast<uint16_t>(o_.year)));
    std::map<std::string, std::array<int64_t, 5>> by_district;
    std::map<std::string, std::set<std::string>> recipients;
    if (my != s_.measure_years.end()) {
      for (const auto& [src, fen] : my->second.allocated_fen) {
        if (src != "city" && (o_.district.empty() || src == o_.district))
          by_district[src][0] += fen;
      }
    }
    for (const AppView& v : apps_) {
      if (v.app->submitted.measure != m) continue;
      auto& d = by_district[v.app->district];
      int64_t district = CommittedDistrictFen(*v.app);
      int64_t paid_city = 0, paid_district = 0;
      pj::SplitAward(*def, v.app->NetPaidFen(), &paid_city, &paid_district);
      d[1] += v.app->NetAwardFen() - district;
      d[2] += district;
      d[3] += paid_city;
      d[4] += paid_district;
      if (v.app->NetAwardFen() > 0)
        recipients[v.app->district].insert(v.app->submitted.recipient_id);
    }
    for (const auto& [district, d] : by_district) {
      t.rows.push_back({{m, district, d[0], d[1], d[2], d[3], d[4], RateBp(d[2], d[0]),
                         RateBp(d[4], d[0]), static_cast<int64_t>(recipients[district].size())},
                        RowKind::kData,
                        false});
      for (size_t i = 0; i < 5; ++i) grand[i] += d[i];
    }
  }
  Row total = TotalRow(RowKind::kTotal, t.columns.size(), T("合计", "Total"));
  for (size_t i = 0; i < 5; ++i) total.cells[2 + i] = grand[i];
  total.cells[7] = RateBp(grand[2], grand[0]);
  total.cells[8] = RateBp(grand[4], grand[0]);
  t.rows.push_back(std::move(total));
  t.notes_zh = {"仅列市区共担的措施。已拨付按政策的分担比例拆分（拨付本身不分市区）。"};
  t.notes_en = {
      "Co-funded measures only. Paid money is split by the policy's co-funding shares "
      "(payouts themselves are not split)."};
  Footer(&t);
  r.tables.push_back(std::move(t));
  return r;
}

// ---- annual ----

Result<Report> Builder::Annual() {
  Report r = Start("annual", "专项资金使用情况（决算）报告", "Year-end statement", "annual");
  std::vector<std::string> flagged;
  Table execution = ExecutionByMeasure(&flagged);
  for (const std::string& m : flagged) {
    execution.notes_zh.push_back("措施" + m + "年末执行率低于90%，须书面说明原因。");
    execution.notes_en.push_back("Measure " + m +
                                 ": execution rate under 90% at year end; "
                                 "a written reason is required.");
  }
  r.tables.push_back(std::move(execution));

  Table top;
  top.title_zh = "主要受助单位";
  top.title_en = "Top recipients";
  top.columns = {Col("rank", "排名", "Rank", CellKind::kCount, 6),
                 Col("recipientName", "单位名称", "Recipient", CellKind::kText, 28),
                 Col("uscc", "统一社会信用代码", "Unified Social Credit Code", CellKind::kText, 20),
                 Col("district", "所在区", "District", CellKind::kText, 10),
                 Col("committedFen", "已承诺", "Committed", CellKind::kWan),
                 Col("paidFen", "已拨付", "Paid", CellKind::kWan),
                 Col("awards", "资助项目数", "Awards", CellKind::kCount, 8)};
  std::map<std::string, std::array<int64_t, 3>> by_recipient;
  for (const AppView& v : apps_) {
    auto& x = by_recipient[v.app->submitted.recipient_id];
    x[0] += v.app->NetAwardFen();
    x[1] += v.app->NetPaidFen();
    if (v.award_seq != 0) ++x[2];
  }
  std::vector<std::pair<std::string, std::array<int64_t, 3>>> ranked(by_recipient.begin(),
                                                                     by_recipient.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second[0] > b.second[0]; });
  int64_t rank = 0;
  for (const auto& [uscc, x] : ranked) {
    if (x[0] <= 0 || static_cast<size_t>(rank) >= kTopRecipients) break;
    const pj::Recipient* rec = s_.FindRecipient(uscc);
    top.rows.push_back(
        {{++rank, rec ? rec->info.name : "", uscc, rec ? rec->info.district : "", x[0], x[1], x[2]},
         RowKind::kData,
         false});
  }
  r.tables.push_back(std::move(top));

  Table caps;
  caps.title_zh = "单位年度限额检查";
  caps.title_en = "Per-recipient-year cap checks";
  caps.columns = {
      Col("uscc", "统一社会信用代码", "Unified Social Credit Code", CellKind::kText, 20),
      Col("measure", "措施", "Measure", CellKind::kText, 6),
      Col("track", "类别", "Track", CellKind::kText, 14),
      Col("capFen", "限额", "Cap", CellKind::kWan),
      Col("usedFen", "已承诺", "Used", CellKind::kWan),
      Col("usedShareBp", "使用比例", "Used share", CellKind::kRateBp, 10),
      Col("within", "是否在限额内", "Within cap", CellKind::kText, 8)};
  std::string year_suffix = "/" + std::to_string(o_.year);
  std::set<std::string> in_scope;
  for (const AppView& v : apps_) {
    const auto& sub = v.app->submitted;
    in_scope.insert(
        pj::RowKeyRecipientYear(sub.recipient_id, sub.measure, sub.track, sub.fiscal_year));
  }
  for (const auto& [key, rty] : s_.recipient_years) {
    if (!in_scope.count(key) || rty.totals.CommittedFen() <= 0) continue;
    // key = "rty/<uscc>/<measure>/<track>/<year>"
    std::string rest = key.substr(4);
    size_t a = rest.find('/'), b = rest.find('/', a + 1), c = rest.rfind('/');
    std::string uscc = rest.substr(0, a), m = rest.substr(a + 1, b - a - 1),
                track = rest.substr(b + 1, c - b - 1);
    const ev::Measure* def = policy_ ? policy_->FindMeasure(m) : nullptr;
    const ev::Track* tr = def ? def->FindTrack(track) : nullptr;
    if (tr == nullptr) continue;
    for (const ev::Cap& cap : tr->caps) {
      if (cap.scope != ev::CapScope::kPerRecipientYear) continue;
      int64_t used = rty.totals.CommittedFen();
      caps.rows.push_back(
          {{uscc, m, TrackName(m, track), cap.amount_fen, used, RateBp(used, cap.amount_fen),
            used <= cap.amount_fen ? T("是", "yes") : T("否", "no")},
           RowKind::kData,
           used > cap.amount_fen});
    }
  }
  r.tables.push_back(std::move(caps));

  Table corrections;
  corrections.title_zh = "撤销、退回与重复申报";
  corrections.title_en = "Revocations, reversals and double claims";
  corrections.columns = {Col("item", "项目", "Item", CellKind::kText, 30),
                         Col("count", "笔数", "Count", CellKind::kCount, 8),
                         Col("amountFen", "金额", "Amount", CellKind::kWan)};
  int64_t revocations = 0, revoked = 0, reversals = 0, reversed = 0;
  for (const AppView& v : apps_) {
    for (const AppEvent& e : v.events) {
      if (const auto* x = std::get_if<ev::AwardRevoked>(&e.body)) {
        ++revocations;
        revoked += x->amount_fen;
      } else if (const auto* y = std::get_if<ev::PayoutReversed>(&e.body)) {
        ++reversals;
        reversed += y->amount_fen;
      }
    }
  }
  corrections.rows.push_back(
      {{T("资助撤销", "Award revocations"), revocations, revoked}, RowKind::kData, false});
  corrections.rows.push_back(
      {{T("拨付退回", "Payout reversals"), reversals, reversed}, RowKind::kData, false});
  corrections.rows.push_back({{T("已认领的证据摘要（每份只支持一项资助）",
                                 "Evidence digests claimed (each backs one award)"),
                               static_cast<int64_t>(s_.evidence.size()), std::monostate{}},
                              RowKind::kData,
                              false});
  corrections.notes_zh = {
      "重复申报在写入前即被拒绝（规则 evidence.double_claim），账本中不会出现。"};
  corrections.notes_en = {
      "Double claims are refused before anything is written (rule "
      "evidence.double_claim), so none appears in the ledger."};
  Footer(&corrections);
  r.tables.push_back(std::move(corrections));

  // The integrity appendix: what an inspector needs to prove the figures.
  std::string audit = T("此规模前无审计证明", "no audit attested up to this size");
  LEDGER_ASSIGN_OR_RETURN(std::vector<uint64_t> attested, ledger_.IndexSeqs("kind/AuditAttested"));
  for (uint64_t seq : attested) {
    if (seq > snap_.size) break;
    LEDGER_ASSIGN_OR_RETURN(ev::Entry e, ReadEntry(ledger_, seq));
    const auto* body = std::get_if<ev::AuditAttested>(&e.body);
    if (body == nullptr)
      return Status::Corruption("entry " + std::to_string(seq) + " is indexed as AuditAttested");
    audit = T("审计证明：条目 ", "attested by entry ") + std::to_string(seq) +
            T("，规模 ", ", size ") + std::to_string(body->tree_size) +
            T("，发现 ", ", findings ") + std::to_string(body->findings_count) +
            T("，根哈希 ", ", root ") + ev::Hex(body->root_hash);
  }
  r.integrity = {{T("账本标识", "Ledger id"), prov_.ledger_id_hex},
                 {T("账本名称", "Ledger name"), prov_.ledger_name},
                 {T("树规模", "Tree size"), std::to_string(prov_.tree_size)},
                 {T("根哈希", "Root hash"), prov_.root_hex},
                 {T("状态哈希", "State hash"), prov_.state_hash_hex},
                 {T("截至", "As of"), ev::FormatInstant(prov_.as_of_ms)},
                 {T("检查点", "Checkpoint"),
                  prov_.checkpoint_note.empty() ? T("无", "none") : prov_.checkpoint_note},
                 {T("审计结果", "Audit result"), audit}};
  return r;
}

bool IsSlug(const std::string& text) {
  if (text.empty() || text.size() > kFilterBytesMax) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

std::string EncodeParams(const Options& o) {
  std::string kinds;
  for (const std::string& k : o.kinds) kinds += (kinds.empty() ? "" : ",") + k;
  std::string out = "fundledger-report v1 kinds=" + kinds + " year=" + std::to_string(o.year) +
                    " period=" + (o.period.empty() ? std::to_string(o.year) : o.period) +
                    " size=" + std::to_string(o.tree_size) +
                    " lang=" + (o.lang == Lang::kZh ? "zh" : "en") + " format=" + o.format +
                    " public=" + (o.public_only ? "1" : "0");
  if (!o.measure.empty()) out += " measure=" + o.measure;
  if (!o.unit.empty()) out += " unit=" + o.unit;
  if (!o.district.empty()) out += " district=" + o.district;
  if (!o.checkpoint_note.empty()) {
    out +=
        " note=" + ev::Base64(std::span(reinterpret_cast<const uint8_t*>(o.checkpoint_note.data()),
                                        o.checkpoint_note.size()));
  }
  return out;
}

Result<Options> ParseParams(const std::string& text) {
  if (text.size() > kParamsBytesMax)
    return Status::InvalidArgument("report params longer than the limit");
  const std::string magic = "fundledger-report v1";
  if (!text.starts_with(magic)) return Status::InvalidArgument("not fundledger report params (v1)");
  Options o;
  std::set<std::string> seen;
  size_t pos = magic.size();
  while (pos < text.size()) {
    if (text[pos] != ' ')
      return Status::InvalidArgument("report params: malformed at byte " + std::to_string(pos));
    size_t end = text.find(' ', pos + 1);
    if (end == std::string::npos) end = text.size();
    std::string field = text.substr(pos + 1, end - pos - 1);
    pos = end;
    size_t eq = field.find('=');
    if (eq == std::string::npos)
      return Status::InvalidArgument("report params: field without '=': " + field);
    std::string key = field.substr(0, eq), value = field.substr(eq + 1);
    if (!seen.insert(key).second)
      return Status::InvalidArgument("report params: repeated field " + key);
    auto number = [&](uint64_t* out) {
      if (value.empty() || value.size() > 19 ||
          value.find_first_not_of("0123456789") != std::string::npos)
        return false;
      *out = std::stoull(value);
      return true;
    };
    uint64_t n = 0;
    if (key == "kinds") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        o.kinds.push_back(value.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (key == "year") {
      if (!number(&n) || n > static_cast<uint64_t>(kYearMax))
        return Status::InvalidArgument("report params: bad year");
      o.year = static_cast<int>(n);
    } else if (key == "period") {
      o.period = value;
    } else if (key == "size") {
      if (!number(&n) || n == 0) return Status::InvalidArgument("report params: bad size");
      o.tree_size = n;
    } else if (key == "lang") {
      if (value != "zh" && value != "en") return Status::InvalidArgument("report params: bad lang");
      o.lang = value == "zh" ? Lang::kZh : Lang::kEn;
    } else if (key == "format") {
      o.format = value;
    } else if (key == "public") {
      if (value != "0" && value != "1") return Status::InvalidArgument("report params: bad public");
      o.public_only = value == "1";
    } else if (key == "measure") {
      o.measure = value;
    } else if (key == "unit") {
      o.unit = value;
    } else if (key == "district") {
      o.district = value;
    } else if (key == "note") {
      auto bytes = ev::FromBase64(value);
      if (!bytes) return Status::InvalidArgument("report params: note is not base64");
      o.checkpoint_note.assign(bytes->begin(), bytes->end());
    } else {
      return Status::InvalidArgument("report params: unknown field " + key);
    }
  }
  for (const char* required : {"kinds", "year", "size", "lang", "format", "public"}) {
    if (!seen.count(required))
      return Status::InvalidArgument(std::string("report params: no ") + required);
  }
  LEDGER_RETURN_IF_ERROR(CheckOptions(o));
  if (EncodeParams(o) != text)
    return Status::InvalidArgument("report params are not in canonical form");
  return o;
}

Status CheckOptions(const Options& o) {
  if (o.kinds.empty()) return Status::InvalidArgument("give a report KIND or --all");
  for (const std::string& k : o.kinds) {
    if (std::find(ReportKinds().begin(), ReportKinds().end(), k) == ReportKinds().end()) {
      return Status::InvalidArgument("unknown report '" + k +
                                     "' (execution, awards, payments, "
                                     "performance, cofunding, annual)");
    }
  }
  if (o.year < kYearMin || o.year > kYearMax) {
    return Status::InvalidArgument("--year must be between " + std::to_string(kYearMin) + " and " +
                                   std::to_string(kYearMax));
  }
  int64_t start = 0, end = 0;
  bool full = true;
  LEDGER_RETURN_IF_ERROR(PeriodRange(o, &start, &end, &full));
  if (!o.measure.empty() && !IsSlug(o.measure))
    return Status::InvalidArgument("--measure is not a measure id");
  if (!o.unit.empty() && !IsSlug(o.unit))
    return Status::InvalidArgument("--unit is not a unit code");
  if (!o.district.empty() && !IsSlug(o.district))
    return Status::InvalidArgument("--district is not a district");
  if (o.format != "xlsx" && o.format != "pdf" && o.format != "csv" && o.format != "json") {
    return Status::InvalidArgument("--format must be xlsx, pdf, csv or json");
  }
  return Status::Ok();
}

Result<uint64_t> ResolveAsOf(const ledger::Ledger& ledger, const std::string& as_of) {
  if (as_of.empty()) return ledger.size();
  if (as_of.find_first_not_of("0123456789") == std::string::npos) {
    if (as_of.size() > 19) return Status::InvalidArgument("--as-of seq is too large");
    uint64_t seq = std::stoull(as_of);
    if (seq == 0) return Status::InvalidArgument("--as-of seq starts at 1");
    if (seq > ledger.size()) {
      return Status::InvalidArgument("--as-of " + as_of + " is past the head (" +
                                     std::to_string(ledger.size()) + ")");
    }
    return seq;
  }
  auto at = ev::ParseInstant(as_of);
  if (!at.ok()) return Status::InvalidArgument("--as-of: " + at.status().message());
  int64_t limit = *at + (as_of.size() == 10 ? ev::kDayMs - 1 : 0);  // a date: its end
  // recordedAt never decreases, so the last entry at or before `limit` is found by bisection.
  uint64_t lo = 0, hi = ledger.size();
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    LEDGER_ASSIGN_OR_RETURN(ev::Entry e, ReadEntry(ledger, mid));
    if (e.recorded_at_ms <= limit)
      lo = mid;
    else
      hi = mid - 1;
  }
  if (lo == 0) return Status::NotFound("the ledger has no entry on or before " + as_of);
  return lo;
}

Result<uint64_t> EffectiveSize(const ledger::Ledger& ledger, const Options& o, uint64_t size) {
  int64_t start = 0, end = 0;
  bool full = true;
  LEDGER_RETURN_IF_ERROR(PeriodRange(o, &start, &end, &full));
  uint64_t lo = 0, hi = size;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    LEDGER_ASSIGN_OR_RETURN(ev::Entry e, ReadEntry(ledger, mid));
    if (e.recorded_at_ms < end)
      lo = mid;
    else
      hi = mid - 1;
  }
  if (lo == 0) return Status::NotFound("the ledger has no entry before the end of the period");
  return lo;
}

Result<uint64_t> VerifyCheckpoint(const ledger::Ledger& ledger, const std::string& note,
                                  const ev::PublicKey* notary) {
  if (note.size() > ledger::kNoteBytesMax)
    return Status::Corruption("checkpoint note is too large");
  std::string origin = ledger.Origin();
  std::vector<ledger::NoteVerifier> verifiers;
  auto add = [&](const ev::PublicKey& key) {
    verifiers.push_back({origin, ledger::NoteKeyHash(origin, key), key});
  };
  if (notary != nullptr) {
    add(*notary);
  } else {
    for (const pj::KeyInfo* key : ledger.view().AllKeys()) {
      if (key->role == ev::Role::kNotary) add(key->public_key);
    }
  }
  if (verifiers.empty())
    return Status::Corruption("checkpoint: the ledger has no notary key to verify it");
  auto opened = ledger::OpenNote(note, verifiers);
  if (!opened.ok()) return Status::Corruption("checkpoint: " + opened.status().message());
  auto cp = ledger::ParseCheckpointText(opened->text);
  if (!cp.ok()) return Status::Corruption("checkpoint: " + cp.status().message());
  if (cp->origin != origin)
    return Status::Corruption("checkpoint is of " + cp->origin + ", not " + origin);
  if (cp->size == 0 || cp->size > ledger.size()) {
    return Status::Corruption("checkpoint size " + std::to_string(cp->size) +
                              " is not within the ledger's " + std::to_string(ledger.size()) +
                              " entries");
  }
  LEDGER_ASSIGN_OR_RETURN(ev::Hash root, ledger::RootAt(ledger.tree(), cp->size));
  if (root != cp->root) {
    return Status::Corruption("checkpoint root differs from the ledger's root at size " +
                              std::to_string(cp->size));
  }
  return cp->size;
}

Result<std::vector<Report>> BuildReports(const ledger::Ledger& ledger, const Options& options) {
  LEDGER_RETURN_IF_ERROR(CheckOptions(options));
  LEDGER_CHECK(options.tree_size >= 1);
  LEDGER_CHECK(options.tree_size <= ledger.size());
  LEDGER_ASSIGN_OR_RETURN(Snapshot snap, ReadSnapshot(ledger, options.tree_size));
  Builder builder(ledger, options, std::move(snap));
  LEDGER_RETURN_IF_ERROR(builder.Init());
  std::vector<Report> reports;
  for (const std::string& kind : options.kinds) {
    if (kind == "execution") reports.push_back(builder.Execution());
    if (kind == "awards") reports.push_back(builder.Awards());
    if (kind == "payments") reports.push_back(builder.Payments());
    if (kind == "performance") reports.push_back(builder.Performance());
    if (kind == "cofunding") reports.push_back(builder.Cofunding());
    if (kind == "annual") {
      LEDGER_ASSIGN_OR_RETURN(Report annual, builder.Annual());
      reports.push_back(std::move(annual));
    }
  }
  LEDGER_CHECK(reports.size() == options.kinds.size());
  return reports;
}

}  // namespace fundledger::report
