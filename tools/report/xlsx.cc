// The workbook the bureaus exchange (reference/finance-reports.md "Formats"): one sheet per
// report laid out like their templates — merged title, header block, frozen column heads, typed
// numeric cells with 万元/yuan/percent formats, totals rows, signature line, a native bar chart —
// written with libxlsxwriter. Deterministic: the creation date is the ledger's, not the clock's,
// and libxlsxwriter stamps every zip member with a fixed date.
#include <unistd.h>
#include <xlsxwriter.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "events/text.h"
#include "tools/report/report.h"

namespace fundledger::report {
namespace {

// A cell value as an xlsx number. Exact fen below 2^53 convert to the double nearest the decimal
// value (one correctly rounded division), which Excel shows to the fen; the model never stores
// money as floating point, only this writer hands Excel the number type its format requires.
inline constexpr int64_t kExactMax = int64_t{1} << 53;

Result<double> CellNumber(int64_t value, CellKind kind) {
  if (value > kExactMax || value < -kExactMax) {
    return Status::InvalidArgument("report value " + std::to_string(value) +
                                   " is too large for an exact spreadsheet number");
  }
  double v = static_cast<double>(value);
  switch (kind) {
    case CellKind::kWan:
      return v / 1'000'000.0;  // fen -> 万元
    case CellKind::kYuan:
      return v / 100.0;  // fen -> yuan
    case CellKind::kRateBp:
      return v / 10'000.0;  // bp -> fraction, shown as a percentage
    default:
      return v;
  }
}

const char* Pick(Lang lang, const std::string& zh, const std::string& en) {
  return lang == Lang::kZh ? zh.c_str() : en.c_str();
}

std::string UnitLabel(Lang lang, bool has_wan, bool has_yuan) {
  if (has_wan && has_yuan) return lang == Lang::kZh ? "万元 / 元（见列标题）" : "10k yuan / yuan (see heads)";
  if (has_yuan) return lang == Lang::kZh ? "元" : "yuan";
  return lang == Lang::kZh ? "万元" : "10k yuan (万元)";
}

// Column head with its unit, e.g. "已拨付（万元）" / "Paid (10k yuan)".
std::string Head(Lang lang, const Column& column) {
  std::string title = lang == Lang::kZh ? column.title_zh : column.title_en;
  if (column.kind == CellKind::kWan) return title + (lang == Lang::kZh ? "（万元）" : " (10k yuan)");
  if (column.kind == CellKind::kYuan) return title + (lang == Lang::kZh ? "（元）" : " (yuan)");
  return title;
}

// The formats of one workbook, made once.
struct Formats {
  lxw_format* title;
  lxw_format* meta;
  lxw_format* table_title;
  lxw_format* head;
  lxw_format* text;
  lxw_format* money;
  lxw_format* rate;
  lxw_format* count;
  lxw_format* plain_int;
  // Same as above, bold on a grey ground: totals and subtotals.
  lxw_format* total_text;
  lxw_format* total_money;
  lxw_format* total_rate;
  lxw_format* total_count;
  // Flagged rows (execution rate under 90% at year end) on a light red ground.
  lxw_format* flag_text;
  lxw_format* flag_money;
  lxw_format* flag_rate;
  lxw_format* flag_count;
  lxw_format* note;
};

lxw_format* NewFormat(lxw_workbook* wb, const char* num_format, bool bold, uint32_t fill) {
  lxw_format* f = workbook_add_format(wb);
  format_set_font_name(f, "Noto Sans CJK SC");
  format_set_font_size(f, 10);
  format_set_border(f, LXW_BORDER_THIN);
  format_set_align(f, LXW_ALIGN_VERTICAL_CENTER);
  if (num_format != nullptr) format_set_num_format(f, num_format);
  if (bold) format_set_bold(f);
  if (fill != 0) {
    format_set_pattern(f, LXW_PATTERN_SOLID);
    format_set_bg_color(f, fill);
  }
  return f;
}

Formats MakeFormats(lxw_workbook* wb) {
  constexpr uint32_t kGrey = 0xE7E6E6, kRed = 0xF8CBAD, kHead = 0xDDEBF7;
  Formats f{};
  f.title = workbook_add_format(wb);
  format_set_font_name(f.title, "Noto Sans CJK SC");
  format_set_font_size(f.title, 16);
  format_set_bold(f.title);
  format_set_align(f.title, LXW_ALIGN_CENTER);
  format_set_align(f.title, LXW_ALIGN_VERTICAL_CENTER);
  f.meta = workbook_add_format(wb);
  format_set_font_name(f.meta, "Noto Sans CJK SC");
  format_set_font_size(f.meta, 9);
  f.table_title = workbook_add_format(wb);
  format_set_font_name(f.table_title, "Noto Sans CJK SC");
  format_set_font_size(f.table_title, 11);
  format_set_bold(f.table_title);
  f.head = NewFormat(wb, nullptr, true, kHead);
  format_set_text_wrap(f.head);
  format_set_align(f.head, LXW_ALIGN_CENTER);
  f.text = NewFormat(wb, nullptr, false, 0);
  f.money = NewFormat(wb, "#,##0.00", false, 0);
  f.rate = NewFormat(wb, "0.00%", false, 0);
  f.count = NewFormat(wb, "#,##0", false, 0);
  f.plain_int = NewFormat(wb, "0", false, 0);
  f.total_text = NewFormat(wb, nullptr, true, kGrey);
  f.total_money = NewFormat(wb, "#,##0.00", true, kGrey);
  f.total_rate = NewFormat(wb, "0.00%", true, kGrey);
  f.total_count = NewFormat(wb, "#,##0", true, kGrey);
  f.flag_text = NewFormat(wb, nullptr, false, kRed);
  f.flag_money = NewFormat(wb, "#,##0.00", false, kRed);
  f.flag_rate = NewFormat(wb, "0.00%", false, kRed);
  f.flag_count = NewFormat(wb, "#,##0", false, kRed);
  f.note = workbook_add_format(wb);
  format_set_font_name(f.note, "Noto Sans CJK SC");
  format_set_font_size(f.note, 9);
  format_set_italic(f.note);
  return f;
}

lxw_format* CellFormat(const Formats& f, CellKind kind, const Row& row) {
  bool total = row.kind != RowKind::kData;
  bool flag = !total && row.flagged;
  switch (kind) {
    case CellKind::kWan:
    case CellKind::kYuan:
      return total ? f.total_money : flag ? f.flag_money : f.money;
    case CellKind::kRateBp:
      return total ? f.total_rate : flag ? f.flag_rate : f.rate;
    case CellKind::kCount:
    case CellKind::kDays:
      return total ? f.total_count : flag ? f.flag_count : f.count;
    case CellKind::kSeq:
      return total ? f.total_count : flag ? f.flag_count : f.plain_int;
    case CellKind::kText:
    case CellKind::kDate:
      break;
  }
  return total ? f.total_text : flag ? f.flag_text : f.text;
}

Status Check(lxw_error error, const char* what) {
  if (error == LXW_NO_ERROR) return Status::Ok();
  return Status::IOError(std::string("xlsx: ") + what + ": " + lxw_strerror(error));
}

struct SheetWriter {
  lxw_workbook* wb;
  lxw_worksheet* ws;
  const Formats& f;
  Lang lang;
  lxw_row_t row = 0;
  lxw_col_t width = 1;  // columns spanned by title and header block

  Status Line(const std::string& text, lxw_format* format) {
    if (width > 1) {
      LEDGER_RETURN_IF_ERROR(Check(
          worksheet_merge_range(ws, row, 0, row, static_cast<lxw_col_t>(width - 1), text.c_str(),
                                format),
          "merge"));
    } else {
      LEDGER_RETURN_IF_ERROR(Check(worksheet_write_string(ws, row, 0, text.c_str(), format),
                                   "write"));
    }
    ++row;
    return Status::Ok();
  }

  Status WriteCell(lxw_col_t col, const Column& column, const Cell& cell, const Row& r) {
    lxw_format* format = CellFormat(f, column.kind, r);
    if (const auto* value = std::get_if<int64_t>(&cell)) {
      LEDGER_ASSIGN_OR_RETURN(double number, CellNumber(*value, column.kind));
      return Check(worksheet_write_number(ws, row, col, number, format), "number");
    }
    std::string text = FormatCell(cell, column.kind);
    if (text.empty()) return Check(worksheet_write_blank(ws, row, col, format), "blank");
    return Check(worksheet_write_string(ws, row, col, text.c_str(), format), "string");
  }

  Status WriteTable(const Table& table, bool freeze) {
    std::string title = lang == Lang::kZh ? table.title_zh : table.title_en;
    if (!title.empty()) LEDGER_RETURN_IF_ERROR(Line(title, f.table_title));
    for (size_t c = 0; c < table.columns.size(); ++c) {
      std::string head = Head(lang, table.columns[c]);
      LEDGER_RETURN_IF_ERROR(Check(
          worksheet_write_string(ws, row, static_cast<lxw_col_t>(c), head.c_str(), f.head),
          "head"));
    }
    LEDGER_RETURN_IF_ERROR(Check(worksheet_set_row(ws, row, 30, nullptr), "row height"));
    ++row;
    if (freeze) worksheet_freeze_panes(ws, row, 0);
    for (const Row& r : table.rows) {
      if (r.cells.size() != table.columns.size()) {
        return Status::InvalidArgument("report table '" + table.title_en + "': a row has " +
                                       std::to_string(r.cells.size()) + " cells for " +
                                       std::to_string(table.columns.size()) + " columns");
      }
      for (size_t c = 0; c < r.cells.size(); ++c) {
        LEDGER_RETURN_IF_ERROR(
            WriteCell(static_cast<lxw_col_t>(c), table.columns[c], r.cells[c], r));
      }
      ++row;
    }
    const auto& notes = lang == Lang::kZh ? table.notes_zh : table.notes_en;
    for (const std::string& note : notes) LEDGER_RETURN_IF_ERROR(Line(note, f.note));
    ++row;  // one blank row between tables
    return Status::Ok();
  }

  // The chart's figures as a small table (a native chart reads its series from cells), then
  // the chart beside it.
  Status WriteChart(const Chart& chart, const std::string& sheet_name) {
    LEDGER_RETURN_IF_ERROR(Line(Pick(lang, chart.title_zh, chart.title_en), f.table_title));
    lxw_row_t first = row;
    LEDGER_RETURN_IF_ERROR(Check(worksheet_write_string(ws, row, 0, "", f.head), "head"));
    for (size_t s = 0; s < chart.series.size(); ++s) {
      std::string head = std::string(Pick(lang, chart.series[s].name_zh, chart.series[s].name_en)) +
                         (lang == Lang::kZh ? "（万元）" : " (10k yuan)");
      LEDGER_RETURN_IF_ERROR(Check(
          worksheet_write_string(ws, row, static_cast<lxw_col_t>(s + 1), head.c_str(), f.head),
          "head"));
    }
    ++row;
    for (size_t i = 0; i < chart.categories.size(); ++i, ++row) {
      LEDGER_RETURN_IF_ERROR(
          Check(worksheet_write_string(ws, row, 0, chart.categories[i].c_str(), f.text), "cat"));
      for (size_t s = 0; s < chart.series.size(); ++s) {
        if (chart.series[s].values_fen.size() != chart.categories.size()) {
          return Status::InvalidArgument("report chart: a series has the wrong length");
        }
        LEDGER_ASSIGN_OR_RETURN(double v, CellNumber(chart.series[s].values_fen[i], CellKind::kWan));
        LEDGER_RETURN_IF_ERROR(Check(
            worksheet_write_number(ws, row, static_cast<lxw_col_t>(s + 1), v, f.money), "value"));
      }
    }
    if (chart.categories.empty()) return Status::Ok();
    lxw_row_t last = row - 1;
    lxw_chart* c = workbook_add_chart(wb, LXW_CHART_COLUMN);
    for (size_t s = 0; s < chart.series.size(); ++s) {
      lxw_chart_series* series = chart_add_series(c, nullptr, nullptr);
      auto col = static_cast<lxw_col_t>(s + 1);
      chart_series_set_categories(series, sheet_name.c_str(), first + 1, 0, last, 0);
      chart_series_set_values(series, sheet_name.c_str(), first + 1, col, last, col);
      chart_series_set_name_range(series, sheet_name.c_str(), first, col);
    }
    chart_title_set_name(c, Pick(lang, chart.title_zh, chart.title_en));
    chart_axis_set_name(c->y_axis, lang == Lang::kZh ? "万元" : "10k yuan");
    chart_legend_set_position(c, LXW_CHART_LEGEND_BOTTOM);
    lxw_chart_options options{};
    options.x_scale = 1.6;
    options.y_scale = 1.3;
    return Check(worksheet_insert_chart_opt(ws, first, static_cast<lxw_col_t>(chart.series.size() + 2),
                                            c, &options),
                 "chart");
  }
};

std::string MetaLine1(const Report& r, Lang lang, const std::string& unit_label) {
  const Provenance& p = r.provenance;
  if (lang == Lang::kZh) {
    return "填报单位：" + p.reporting_unit + "    期间：" + p.period + "    金额单位：" + unit_label +
           "    账本：" + p.ledger_name + "（" + p.ledger_id_hex + "）";
  }
  return "Reporting unit: " + p.reporting_unit + "    Period: " + p.period +
         "    Currency unit: " + unit_label + "    Ledger: " + p.ledger_name + " (" +
         p.ledger_id_hex + ")";
}

std::string MetaLine2(const Report& r, Lang lang) {
  const Provenance& p = r.provenance;
  std::string date = events::ShanghaiDate(p.as_of_ms);
  std::string cp = p.checkpoint_note.empty() ? (lang == Lang::kZh ? "无" : "none")
                                             : (lang == Lang::kZh ? "已验证" : "verified");
  if (lang == Lang::kZh) {
    return "截至条目 " + std::to_string(p.tree_size) + "（" + date + "）    根哈希 " + p.root_hex +
           "    状态哈希 " + p.state_hash_hex + "    签名检查点：" + cp +
           (p.scope.empty() ? "" : "    范围：" + p.scope);
  }
  return "As of entry " + std::to_string(p.tree_size) + " (" + date + ")    root " + p.root_hex +
         "    state hash " + p.state_hash_hex + "    signed checkpoint: " + cp +
         (p.scope.empty() ? "" : "    scope: " + p.scope);
}

Status WriteSheet(lxw_workbook* wb, const Formats& f, const Report& r, Lang lang) {
  lxw_worksheet* ws = workbook_add_worksheet(wb, r.sheet_name.c_str());
  if (ws == nullptr) return Status::InvalidArgument("xlsx: bad or duplicate sheet name '" + r.sheet_name + "'");
  SheetWriter w{wb, ws, f, lang};
  bool has_wan = false, has_yuan = false;
  size_t width = 1;
  for (const Table& t : r.tables) {
    width = std::max(width, t.columns.size());
    for (const Column& c : t.columns) {
      has_wan = has_wan || c.kind == CellKind::kWan;
      has_yuan = has_yuan || c.kind == CellKind::kYuan;
      (void)c;
    }
  }
  w.width = static_cast<lxw_col_t>(width);
  // Column widths: the widest hint of any table in that position.
  for (size_t c = 0; c < width; ++c) {
    uint16_t chars = 8;
    for (const Table& t : r.tables) {
      if (c < t.columns.size()) chars = std::max(chars, t.columns[c].width_chars);
    }
    worksheet_set_column(ws, static_cast<lxw_col_t>(c), static_cast<lxw_col_t>(c), chars * 1.1,
                         nullptr);
  }
  LEDGER_RETURN_IF_ERROR(w.Line(Pick(lang, r.title_zh, r.title_en), f.title));
  worksheet_set_row(ws, 0, 28, nullptr);
  LEDGER_RETURN_IF_ERROR(w.Line(MetaLine1(r, lang, UnitLabel(lang, has_wan, has_yuan)), f.meta));
  LEDGER_RETURN_IF_ERROR(w.Line(MetaLine2(r, lang), f.meta));
  ++w.row;
  for (size_t i = 0; i < r.tables.size(); ++i) {
    LEDGER_RETURN_IF_ERROR(w.WriteTable(r.tables[i], i == 0));
  }
  if (!r.integrity.empty()) {
    LEDGER_RETURN_IF_ERROR(
        w.Line(lang == Lang::kZh ? "完整性附录" : "Integrity appendix", f.table_title));
    for (const auto& [key, value] : r.integrity) {
      worksheet_write_string(ws, w.row, 0, key.c_str(), f.total_text);
      worksheet_write_string(ws, w.row, 1, value.c_str(), f.text);
      ++w.row;
    }
    ++w.row;
  }
  LEDGER_RETURN_IF_ERROR(w.Line(lang == Lang::kZh
                                    ? "项目负责人（签字）：________________    财务负责人（签字）：________________"
                                    : "Project lead (signature): ________________    Finance lead (signature): ________________",
                                f.meta));
  ++w.row;
  if (r.chart) LEDGER_RETURN_IF_ERROR(w.WriteChart(*r.chart, r.sheet_name));
  worksheet_set_landscape(ws);
  worksheet_set_paper(ws, 9);  // A4
  worksheet_fit_to_pages(ws, 1, 0);
  return Status::Ok();
}

// Reads a whole file and removes it.
Result<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("xlsx: cannot read back " + path);
  std::ostringstream out;
  out << in.rdbuf();
  ::unlink(path.c_str());
  return out.str();
}

}  // namespace

Result<std::string> RenderXlsx(const std::vector<Report>& reports, Lang lang,
                               const std::string& temp_dir) {
  if (reports.empty()) return Status::InvalidArgument("xlsx: no report to write");
  std::string path = temp_dir + "/fundledger-report-XXXXXX";
  std::unique_ptr<char[]> name(new char[path.size() + 1]);
  std::memcpy(name.get(), path.c_str(), path.size() + 1);
  int fd = ::mkstemp(name.get());
  if (fd < 0) return Status::IOError("xlsx: cannot create a temporary file in " + temp_dir);
  ::close(fd);
  path = name.get();
  lxw_workbook_options options{};
  options.tmpdir = const_cast<char*>(temp_dir.c_str());  // libxlsxwriter's API is not const
  lxw_workbook* wb = workbook_new_opt(path.c_str(), &options);
  if (wb == nullptr) {
    ::unlink(path.c_str());
    return Status::IOError("xlsx: cannot start a workbook in " + temp_dir);
  }
  const Provenance& p = reports.front().provenance;
  std::string title = Pick(lang, reports.front().title_zh, reports.front().title_en);
  std::string subject = "root " + p.root_hex + " at tree size " + std::to_string(p.tree_size);
  lxw_doc_properties props{};
  props.title = const_cast<char*>(title.c_str());
  props.subject = const_cast<char*>(subject.c_str());
  props.author = const_cast<char*>("fundledger");
  props.keywords = const_cast<char*>(p.params.c_str());
  props.created = static_cast<time_t>(p.as_of_ms / 1000);  // the ledger's time, not the clock's
  workbook_set_properties(wb, &props);
  workbook_set_custom_property_string(wb, "fundledger-params", p.params.c_str());
  workbook_set_custom_property_string(wb, "fundledger-ledger-id", p.ledger_id_hex.c_str());
  workbook_set_custom_property_string(wb, "fundledger-tree-size",
                                      std::to_string(p.tree_size).c_str());
  workbook_set_custom_property_string(wb, "fundledger-root", p.root_hex.c_str());
  workbook_set_custom_property_string(wb, "fundledger-state-hash", p.state_hash_hex.c_str());
  Formats formats = MakeFormats(wb);
  Status status = Status::Ok();
  for (const Report& r : reports) {
    status = WriteSheet(wb, formats, r, lang);
    if (!status.ok()) break;
  }
  lxw_error closed = workbook_close(wb);  // frees the workbook in every case
  if (status.ok()) status = Check(closed, "close");
  if (!status.ok()) {
    ::unlink(path.c_str());
    return status;
  }
  return Slurp(path);
}

}  // namespace fundledger::report
