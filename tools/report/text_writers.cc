// CSV and JSON writers of the report model. Both carry the params line in their content so
// `report check` can re-derive them, and both are deterministic: no clock, sorted JSON keys.
#include <nlohmann/json.hpp>

#include "events/text.h"
#include "tools/report/build.h"

namespace fundledger::report {
namespace {

using nlohmann::json;

constexpr const char* kBom = "\xEF\xBB\xBF";
constexpr const char* kParamsLabel = "fundledger-params";

// RFC 4180 field: quoted when it holds a comma, quote, CR or LF.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + CsvField(fields[i]);
  return out + "\r\n";
}

const std::string& Pick(Lang lang, const std::string& zh, const std::string& en) {
  return lang == Lang::kZh ? zh : en;
}

// The header block every filed table starts with: unit, period, currency unit, ledger.
std::vector<std::pair<std::string, std::string>> HeaderBlock(const Report& r, Lang lang) {
  const Provenance& p = r.provenance;
  bool zh = lang == Lang::kZh;
  return {
      {zh ? "报告单位" : "Reporting unit", p.reporting_unit},
      {zh ? "期间" : "Period", p.period},
      {zh ? "金额单位" : "Currency unit", zh ? "万元（另注明者除外）" : "10,000 yuan unless noted"},
      {zh ? "范围" : "Scope", p.scope.empty() ? (zh ? "全部" : "all") : p.scope},
      {zh ? "账本" : "Ledger", p.origin},
      {zh ? "树规模" : "Tree size", std::to_string(p.tree_size)},
      {zh ? "根哈希" : "Root hash", p.root_hex},
      {zh ? "状态哈希" : "State hash", p.state_hash_hex},
      {zh ? "截至" : "As of", events::FormatInstant(p.as_of_ms)}};
}

const char* RowKindName(RowKind kind) {
  switch (kind) {
    case RowKind::kData:
      return "data";
    case RowKind::kSubtotal:
      return "subtotal";
    case RowKind::kTotal:
      return "total";
  }
  return "data";
}

const char* CellKindName(CellKind kind) {
  switch (kind) {
    case CellKind::kText:
      return "text";
    case CellKind::kWan:
      return "fen";
    case CellKind::kYuan:
      return "fen";
    case CellKind::kCount:
      return "count";
    case CellKind::kRateBp:
      return "bp";
    case CellKind::kDays:
      return "days";
    case CellKind::kSeq:
      return "seq";
    case CellKind::kDate:
      return "date";
  }
  return "text";
}

json CellJson(const Cell& cell) {
  if (const auto* text = std::get_if<std::string>(&cell)) return *text;
  if (const auto* n = std::get_if<int64_t>(&cell)) return *n;
  return nullptr;
}

}  // namespace

std::string RenderCsv(const Report& r, Lang lang) {
  std::string out = kBom;
  out += CsvLine({kParamsLabel, r.provenance.params + " part=" + r.kind});
  out += CsvLine({Pick(lang, r.title_zh, r.title_en)});
  for (const auto& [key, value] : HeaderBlock(r, lang)) out += CsvLine({key, value});
  for (const Table& t : r.tables) {
    out += "\r\n" + CsvLine({Pick(lang, t.title_zh, t.title_en)});
    std::vector<std::string> heads;
    for (const Column& c : t.columns) heads.push_back(Pick(lang, c.title_zh, c.title_en));
    out += CsvLine(heads);
    for (const Row& row : t.rows) {
      std::vector<std::string> fields;
      for (size_t i = 0; i < row.cells.size(); ++i)
        fields.push_back(FormatCell(row.cells[i], t.columns[i].kind));
      if (row.flagged) fields.push_back(lang == Lang::kZh ? "需说明" : "reason required");
      out += CsvLine(fields);
    }
    for (const std::string& note : lang == Lang::kZh ? t.notes_zh : t.notes_en)
      out += CsvLine({note});
  }
  if (!r.integrity.empty()) {
    out += "\r\n" + CsvLine({lang == Lang::kZh ? "完整性附录" : "Integrity appendix"});
    for (const auto& [key, value] : r.integrity) out += CsvLine({key, value});
  }
  return out;
}

std::string RenderTidyCsv(const std::vector<Report>& reports, Lang lang) {
  (void)lang;  // the tidy form is for machines: keys and integers only
  std::string out = kBom;
  std::string params = reports.empty() ? "" : reports.front().provenance.params;
  out += CsvLine({kParamsLabel, params + " part=tidy"});
  out += CsvLine({"report", "table", "row", "keys", "column", "unit", "value"});
  for (const Report& r : reports) {
    for (size_t ti = 0; ti < r.tables.size(); ++ti) {
      const Table& t = r.tables[ti];
      for (size_t ri = 0; ri < t.rows.size(); ++ri) {
        const Row& row = t.rows[ri];
        std::string keys;
        for (size_t i = 0; i < row.cells.size(); ++i) {
          if (const auto* text = std::get_if<std::string>(&row.cells[i])) {
            if (t.columns[i].kind == CellKind::kText || t.columns[i].kind == CellKind::kDate) {
              keys += (keys.empty() ? "" : "|") + *text;
            }
          }
        }
        if (row.kind != RowKind::kData)
          keys = std::string(RowKindName(row.kind)) + (keys.empty() ? "" : "|" + keys);
        for (size_t i = 0; i < row.cells.size(); ++i) {
          const auto* n = std::get_if<int64_t>(&row.cells[i]);
          if (n == nullptr) continue;
          out += CsvLine({r.kind, std::to_string(ti), std::to_string(ri), keys, t.columns[i].key,
                          CellKindName(t.columns[i].kind), std::to_string(*n)});
        }
      }
    }
  }
  return out;
}

std::string RenderJson(const Report& r) {
  const Provenance& p = r.provenance;
  json doc;
  doc["params"] = p.params + " part=" + r.kind;
  doc["report"] = r.kind;
  doc["titleZh"] = r.title_zh;
  doc["titleEn"] = r.title_en;
  doc["provenance"] = {{"ledgerId", p.ledger_id_hex},
                       {"ledgerName", p.ledger_name},
                       {"origin", p.origin},
                       {"treeSize", p.tree_size},
                       {"rootHash", p.root_hex},
                       {"stateHash", p.state_hash_hex},
                       {"checkpoint", p.checkpoint_note},
                       {"recordedAt", p.as_of_ms},
                       {"reportingUnit", p.reporting_unit},
                       {"period", p.period},
                       {"year", p.year},
                       {"scope", p.scope}};
  json tables = json::array();
  for (const Table& t : r.tables) {
    json columns = json::array();
    for (const Column& c : t.columns) {
      columns.push_back({{"key", c.key},
                         {"titleZh", c.title_zh},
                         {"titleEn", c.title_en},
                         {"unit", CellKindName(c.kind)}});
    }
    json rows = json::array();
    for (const Row& row : t.rows) {
      json j = {{"rowKind", RowKindName(row.kind)}, {"flagged", row.flagged}};
      for (size_t i = 0; i < row.cells.size(); ++i) j[t.columns[i].key] = CellJson(row.cells[i]);
      rows.push_back(std::move(j));
    }
    tables.push_back({{"titleZh", t.title_zh},
                      {"titleEn", t.title_en},
                      {"columns", columns},
                      {"rows", rows},
                      {"notesZh", t.notes_zh},
                      {"notesEn", t.notes_en}});
  }
  doc["tables"] = tables;
  if (r.chart) {
    json series = json::array();
    for (const auto& s : r.chart->series) {
      series.push_back({{"nameZh", s.name_zh}, {"nameEn", s.name_en}, {"valuesFen", s.values_fen}});
    }
    doc["chart"] = {{"titleZh", r.chart->title_zh},
                    {"titleEn", r.chart->title_en},
                    {"categories", r.chart->categories},
                    {"series", series}};
  }
  if (!r.integrity.empty()) {
    json lines = json::array();
    for (const auto& [key, value] : r.integrity) lines.push_back({key, value});
    doc["integrity"] = lines;
  }
  return doc.dump(2) + "\n";
}

Result<std::string> ReadTextParams(const std::string& bytes) {
  std::string bom = kBom;
  if (bytes.starts_with(bom)) {
    std::string prefix = bom + kParamsLabel + ",";
    size_t end = bytes.find("\r\n");
    if (!bytes.starts_with(prefix) || end == std::string::npos) {
      return Status::InvalidArgument("the CSV file has no fundledger-params line");
    }
    std::string field = bytes.substr(prefix.size(), end - prefix.size());
    // The line is never longer than kParamsBytesMax plus the label; quoted when it has a comma.
    if (field.size() >= 2 && field.front() == '"' && field.back() == '"')
      field = field.substr(1, field.size() - 2);
    if (field.find('"') != std::string::npos)
      return Status::InvalidArgument("malformed fundledger-params line");
    return field;
  }
  json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("params") ||
      !doc["params"].is_string()) {
    return Status::InvalidArgument("the file is not a fundledger report (xlsx, pdf, csv or json)");
  }
  return doc["params"].get<std::string>();
}

}  // namespace fundledger::report
