// The finance bureau's reports as data (reference/finance-reports.md): each report is a set of
// tables of typed cells plus the provenance that ties every figure to one tree size of the
// ledger. Builders fill it from projections and indexes; writers (xlsx, pdf, csv, json) only lay
// it out, so every format shows the same figures and `report check` can compare any of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/status.h"

namespace fundledger::report {

enum class Lang { kZh, kEn };

// Where the figures come from. Everything here is derived from the ledger at `tree_size`, never
// from a clock, so the same ledger and options give the same bytes.
struct Provenance {
  std::string ledger_id_hex;
  std::string ledger_name;
  std::string origin;           // "fundledger/<ledgerId hex>"
  uint64_t tree_size = 0;
  std::string root_hex;         // RFC 9162 root at tree_size
  std::string state_hash_hex;   // projections::StateHash at tree_size
  std::string checkpoint_note;  // the signed note given with --checkpoint, verbatim; or empty
  int64_t as_of_ms = 0;         // recordedAt of entry tree_size (UTC ms)
  std::string reporting_unit;   // code, e.g. "SZ-FIN", or "all units"
  std::string period;           // "2025", "2025-Q3" or "2025-06"
  int year = 0;
  std::string scope;            // filters, e.g. "measure=2 district=nanshan"; empty for all
  // The options that made the report, in the report builder's own encoding (ASCII, one line).
  // Every file carries it (xlsx custom property "fundledger-params", PDF Keywords, JSON and CSV
  // in their content) so `report check` knows what to re-derive.
  std::string params;
};

// How a column's numbers are shown. Money is always integer fen in the model; a writer shows
// kWan as 万元 with two decimals and kYuan as yuan with two decimals.
enum class CellKind {
  kText,
  kWan,       // money, fen, shown in 万元
  kYuan,      // money, fen, shown in yuan (line items reconciled with bank records)
  kCount,     // a plain integer
  kRateBp,    // basis points, shown as a percentage with two decimals
  kDays,      // a whole number of days
  kSeq,       // an entry seq (provable with `prove inclusion`)
  kDate,      // text "YYYY-MM-DD" (Asia/Shanghai)
};

struct Column {
  std::string key;       // stable machine name, camelCase; money keys end in "Fen", rates in "Bp"
  std::string title_zh;  // column head in Chinese
  std::string title_en;  // column head in English
  CellKind kind = CellKind::kText;
  uint16_t width_chars = 12;  // layout hint for xlsx and pdf (CJK characters count as 2)
};

// One cell: empty, text, or an integer in the column's unit (fen, count, basis points, days, seq).
using Cell = std::variant<std::monostate, std::string, int64_t>;

enum class RowKind : uint8_t { kData, kSubtotal, kTotal };

struct Row {
  std::vector<Cell> cells;  // one per column, in column order
  RowKind kind = RowKind::kData;
  bool flagged = false;     // e.g. execution rate under 90% at year end: needs a written reason
};

// A bar chart: one group of bars per category, one bar per series.
struct Chart {
  std::string title_zh, title_en;
  std::vector<std::string> categories;  // e.g. measure names
  struct Series {
    std::string name_zh, name_en;
    std::vector<int64_t> values_fen;  // one per category
  };
  std::vector<Series> series;
};

struct Table {
  std::string title_zh, title_en;  // section title within the report
  std::vector<Column> columns;
  std::vector<Row> rows;
  std::vector<std::string> notes_zh, notes_en;  // footnotes (flag reasons, assumptions)
};

struct Report {
  std::string kind;      // "execution", "awards", "payments", "performance", "cofunding", "annual"
  std::string title_zh;  // e.g. "专项资金预算执行情况表"
  std::string title_en;  // e.g. "Budget execution"
  std::string sheet_name;  // xlsx sheet name, at most 31 characters, unique in a workbook
  Provenance provenance;
  std::vector<Table> tables;
  std::optional<Chart> chart;
  // Key/value lines of the integrity appendix (annual report; empty otherwise).
  std::vector<std::pair<std::string, std::string>> integrity;
};

// Text of a cell as the writers show it, in `kind`'s unit: "1,234.57" (万元), "12,345,678.90"
// (yuan), "87.65%", "42". Exact: integer arithmetic, round half away from zero at the last digit.
std::string FormatCell(const Cell& cell, CellKind kind);

// The xlsx workbook of `reports` (one sheet each), byte-for-byte deterministic. kIOError if the
// library cannot write its temporary file under `temp_dir`.
Result<std::string> RenderXlsx(const std::vector<Report>& reports, Lang lang,
                               const std::string& temp_dir);

// The PDF of `reports` (A4 landscape, embedded CJK font), byte-for-byte deterministic.
Result<std::string> RenderPdf(const std::vector<Report>& reports, Lang lang);

// Provenance::params as stored in a file made by RenderXlsx / RenderPdf (for `report check`).
// kInvalidArgument if `bytes` is not such a file or carries no params.
Result<std::string> ReadXlsxParams(const std::string& bytes);
Result<std::string> ReadPdfParams(const std::string& bytes);

}  // namespace fundledger::report
