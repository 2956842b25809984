// The archived copy of a report (reference/finance-reports.md "Formats"): A4 landscape pages with
// Chinese text laid out by pango in an embedded Noto CJK font, tables that break across pages
// with their heads repeated, page numbers, vector bar charts, the integrity appendix, and PDF
// metadata carrying the root hash. Two passes over the same layout code: the first counts pages
// (for "page N of M"), the second draws. Deterministic: no clock, the creation date is the
// ledger's.
#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <memory>
#include <string>

#include "events/text.h"
#include "tools/report/report.h"

namespace fundledger::report {
namespace {

// Layout in PDF points (1/72 inch). Geometry is not money: doubles are right here.
constexpr double kPageWidth = 841.89, kPageHeight = 595.28;  // A4 landscape
constexpr double kMargin = 32, kFooterHeight = 18;
constexpr double kRowHeight = 13.5, kHeadHeight = 24, kCellPad = 3;
constexpr double kChartHeight = 230;
constexpr double kSignatureHeight = 40;  // the signature line and the space above it
constexpr const char* kFont = "Noto Sans CJK SC";

const std::string& Pick(Lang lang, const std::string& zh, const std::string& en) {
  return lang == Lang::kZh ? zh : en;
}

bool IsNumeric(CellKind kind) {
  return kind != CellKind::kText && kind != CellKind::kDate;
}

std::string Head(Lang lang, const Column& column) {
  const std::string& title = Pick(lang, column.title_zh, column.title_en);
  if (column.kind == CellKind::kWan) return title + (lang == Lang::kZh ? "（万元）" : " (10k yuan)");
  if (column.kind == CellKind::kYuan) return title + (lang == Lang::kZh ? "（元）" : " (yuan)");
  return title;
}

cairo_status_t Append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

cairo_status_t Discard(void*, const unsigned char*, unsigned int) { return CAIRO_STATUS_SUCCESS; }

// "D:20251231235959+08'00'" for the PDF creation date.
std::string PdfDate(int64_t utc_ms) {
  std::string iso = events::FormatInstant(utc_ms);  // 2025-03-01T09:30:00.000+08:00
  std::string digits;
  for (size_t i = 0; i < 19 && i < iso.size(); ++i) {
    if (iso[i] >= '0' && iso[i] <= '9') digits.push_back(iso[i]);
  }
  return "D:" + digits + "+08'00'";
}

class Writer {
 public:
  Writer(cairo_surface_t* surface, Lang lang, bool draw, int total_pages)
      : cr_(cairo_create(surface)), layout_(pango_cairo_create_layout(cr_)), lang_(lang),
        draw_(draw), total_pages_(total_pages) {
    // Metrics independent of the surface's hinting, so both passes break pages identically.
    cairo_font_options_t* options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(pango_layout_get_context(layout_), options);
    cairo_font_options_destroy(options);
    pango_layout_context_changed(layout_);
  }
  ~Writer() {
    g_object_unref(layout_);
    cairo_destroy(cr_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  int pages() const { return page_; }
  cairo_status_t status() const { return cairo_status(cr_); }

  void WriteReport(const Report& r) {
    report_ = &r;
    NewPage(/*continued=*/false);
    Text(Pick(lang_, r.title_zh, r.title_en), 16, true, kMargin, y_, Usable(), PANGO_ALIGN_CENTER);
    y_ += 26;
    for (const std::string& line : MetaLines(r)) {
      y_ += Text(line, 7.5, false, kMargin, y_, Usable(), PANGO_ALIGN_LEFT, /*wrap=*/true) + 2;
    }
    y_ += 6;
    for (const Table& t : r.tables) WriteTable(t);
    if (r.chart && !r.chart->categories.empty()) WriteChart(*r.chart);
    if (!r.integrity.empty()) WriteIntegrity(r);
    Need(kSignatureHeight);
    y_ += 10;
    Text(lang_ == Lang::kZh ? "项目负责人（签字）：____________________      财务负责人（签字）：____________________"
                            : "Project lead (signature): ____________________      Finance lead (signature): ____________________",
         9, false, kMargin, y_, Usable(), PANGO_ALIGN_LEFT);
    y_ += 20;
    EndPage();
  }

 private:
  static double Usable() { return kPageWidth - 2 * kMargin; }
  double Bottom() const { return kPageHeight - kMargin - kFooterHeight; }

  std::vector<std::string> MetaLines(const Report& r) const {
    const Provenance& p = r.provenance;
    std::string date = events::ShanghaiDate(p.as_of_ms);
    bool zh = lang_ == Lang::kZh;
    std::string cp = p.checkpoint_note.empty() ? (zh ? "无" : "none") : (zh ? "已验证" : "verified");
    std::vector<std::string> lines;
    lines.push_back(zh ? "填报单位：" + p.reporting_unit + "    期间：" + p.period +
                             "    金额单位：万元（明细为元）    账本：" + p.ledger_name + "（" +
                             p.ledger_id_hex + "）"
                       : "Reporting unit: " + p.reporting_unit + "    Period: " + p.period +
                             "    Currency: 10k yuan (line items in yuan)    Ledger: " +
                             p.ledger_name + " (" + p.ledger_id_hex + ")");
    lines.push_back(zh ? "截至条目 " + std::to_string(p.tree_size) + "（" + date + "）    根哈希 " +
                             p.root_hex + "    签名检查点：" + cp
                       : "As of entry " + std::to_string(p.tree_size) + " (" + date + ")    root " +
                             p.root_hex + "    signed checkpoint: " + cp);
    if (!p.scope.empty()) lines.push_back((zh ? "范围：" : "Scope: ") + p.scope);
    return lines;
  }

  // Lays out `text` in a box; draws it in the second pass. Returns the height used.
  double Text(const std::string& text, double size, bool bold, double x, double y, double width,
              PangoAlignment align, bool wrap = false) {
    PangoFontDescription* font = pango_font_description_from_string(kFont);
    pango_font_description_set_size(font, static_cast<int>(size * PANGO_SCALE));
    pango_font_description_set_weight(font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(layout_, font);
    pango_font_description_free(font);
    pango_layout_set_width(layout_, static_cast<int>(width * PANGO_SCALE));
    pango_layout_set_ellipsize(layout_, wrap ? PANGO_ELLIPSIZE_NONE : PANGO_ELLIPSIZE_END);
    pango_layout_set_wrap(layout_, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(layout_, align);
    pango_layout_set_text(layout_, text.c_str(), static_cast<int>(text.size()));
    int w = 0, h = 0;
    pango_layout_get_size(layout_, &w, &h);
    if (draw_) {
      cairo_move_to(cr_, x, y);
      pango_cairo_show_layout(cr_, layout_);
    }
    return static_cast<double>(h) / PANGO_SCALE;
  }

  void Fill(double x, double y, double w, double h, double grey_r, double g, double b) {
    if (!draw_) return;
    cairo_set_source_rgb(cr_, grey_r, g, b);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
    cairo_set_source_rgb(cr_, 0, 0, 0);
  }

  void Box(double x, double y, double w, double h) {
    if (!draw_) return;
    cairo_set_line_width(cr_, 0.4);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_stroke(cr_);
  }

  void NewPage(bool continued) {
    if (page_open_) EndPage();
    ++page_;
    page_open_ = true;
    y_ = kMargin;
    if (continued && report_ != nullptr) {
      std::string title = Pick(lang_, report_->title_zh, report_->title_en) +
                          (lang_ == Lang::kZh ? "（续）" : " (continued)");
      y_ += Text(title, 9, true, kMargin, y_, Usable(), PANGO_ALIGN_LEFT) + 4;
    }
  }

  void EndPage() {
    if (!page_open_) return;
    const Provenance& p = report_->provenance;
    std::string left = p.origin + " · " + (lang_ == Lang::kZh ? "条目 " : "size ") +
                       std::to_string(p.tree_size) + " · root " + p.root_hex.substr(0, 16) + "…";
    std::string right = lang_ == Lang::kZh
                            ? "第 " + std::to_string(page_) + " 页 / 共 " + std::to_string(total_pages_) + " 页"
                            : "Page " + std::to_string(page_) + " of " + std::to_string(total_pages_);
    double y = kPageHeight - kMargin - 8;
    Text(left, 6.5, false, kMargin, y, Usable() * 0.7, PANGO_ALIGN_LEFT);
    Text(right, 7, false, kMargin + Usable() * 0.7, y, Usable() * 0.3, PANGO_ALIGN_RIGHT);
    if (draw_) cairo_show_page(cr_);
    page_open_ = false;
  }

  // Starts a new page unless `height` fits below the cursor.
  bool Need(double height) {
    if (y_ + height <= Bottom()) return false;
    NewPage(/*continued=*/true);
    return true;
  }

  // Column widths from what the cells hold: each column asks for its widest cell. When the asks
  // exceed the page, only the widest columns give way, down to one common cap (water-filling),
  // so dates, codes and amounts stay whole and long names are the ones cut. Text width is
  // estimated from characters (CJK as two), which is enough for layout and cheap per row.
  std::vector<double> Widths(const Table& t) const {
    // Points per narrow character of a 7 pt cell: pango lays text out at 96 dpi, so a "7 pt"
    // font is 9.3 PDF points tall and its digits about 5.2 points wide (bold a little more).
    constexpr double kUnit = 5.5, kMinWidth = 26;
    const size_t n = t.columns.size();
    std::vector<double> need(n);
    for (size_t c = 0; c < n; ++c) {
      // The head wraps onto two lines; bold totals are about a tenth wider.
      double units = std::max<double>(4, static_cast<double>(TextUnits(Head(lang_, t.columns[c]))) / 2 + 1);
      for (const Row& row : t.rows) {
        if (c >= row.cells.size()) continue;
        double cell = static_cast<double>(TextUnits(FormatCell(row.cells[c], t.columns[c].kind)));
        units = std::max(units, row.kind == RowKind::kData ? cell : cell * 1.1);
      }
      need[c] = std::max(kMinWidth, units * kUnit + 2 * kCellPad);
    }
    double total = 0;
    for (double w : need) total += w;
    std::vector<double> widths(need);
    if (total <= Usable()) {
      for (double& w : widths) w *= Usable() / total;  // spread the spare room
      return widths;
    }
    std::vector<double> sorted(need);
    std::sort(sorted.begin(), sorted.end());
    double remaining = Usable(), cap = Usable() / static_cast<double>(n);
    for (size_t i = 0; i < n; ++i) {
      cap = remaining / static_cast<double>(n - i);
      if (sorted[i] > cap) break;
      remaining -= sorted[i];
    }
    for (double& w : widths) w = std::min(w, cap);
    return widths;
  }

  // Display width of UTF-8 text in narrow characters: wide (CJK, full-width) code points count 2.
  static size_t TextUnits(const std::string& text) {
    size_t units = 0;
    for (size_t i = 0; i < text.size();) {
      auto lead = static_cast<unsigned char>(text[i]);
      size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      units += len >= 3 ? 2 : 1;
      i += len;
    }
    return units;
  }

  void WriteHeadRow(const Table& t, const std::vector<double>& widths) {
    double x = kMargin;
    Fill(kMargin, y_, Usable(), kHeadHeight, 0.87, 0.92, 0.97);
    for (size_t c = 0; c < t.columns.size(); ++c) {
      Box(x, y_, widths[c], kHeadHeight);
      Text(Head(lang_, t.columns[c]), 6.5, true, x + kCellPad, y_ + 2, widths[c] - 2 * kCellPad,
           PANGO_ALIGN_CENTER, /*wrap=*/true);
      x += widths[c];
    }
    y_ += kHeadHeight;
  }

  void WriteTable(const Table& t) {
    std::vector<double> widths = Widths(t);
    const std::string& title = Pick(lang_, t.title_zh, t.title_en);
    Need(kHeadHeight + 3 * kRowHeight + (title.empty() ? 0 : 16));
    if (!title.empty()) y_ += Text(title, 10, true, kMargin, y_, Usable(), PANGO_ALIGN_LEFT) + 3;
    WriteHeadRow(t, widths);
    for (const Row& row : t.rows) {
      if (Need(kRowHeight)) WriteHeadRow(t, widths);
      bool total = row.kind != RowKind::kData;
      if (total) Fill(kMargin, y_, Usable(), kRowHeight, 0.91, 0.90, 0.90);
      if (!total && row.flagged) Fill(kMargin, y_, Usable(), kRowHeight, 0.97, 0.80, 0.68);
      double x = kMargin;
      for (size_t c = 0; c < t.columns.size() && c < row.cells.size(); ++c) {
        Box(x, y_, widths[c], kRowHeight);
        Text(FormatCell(row.cells[c], t.columns[c].kind), 7, total, x + kCellPad, y_ + 2,
             widths[c] - 2 * kCellPad, IsNumeric(t.columns[c].kind) ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT);
        x += widths[c];
      }
      y_ += kRowHeight;
    }
    for (const std::string& note : lang_ == Lang::kZh ? t.notes_zh : t.notes_en) {
      Need(12);
      y_ += Text(note, 7, false, kMargin, y_ + 2, Usable(), PANGO_ALIGN_LEFT, true) + 2;
    }
    y_ += 12;
  }

  void WriteIntegrity(const Report& r) {
    Need(20 + kRowHeight * 3);
    y_ += Text(lang_ == Lang::kZh ? "完整性附录" : "Integrity appendix", 10, true, kMargin, y_, Usable(),
               PANGO_ALIGN_LEFT) + 4;
    for (size_t i = 0; i < r.integrity.size(); ++i) {
      const auto& [key, value] = r.integrity[i];
      // Values (hashes, notes) may run over several lines; measure them before placing. The
      // last line keeps the signature line company on its page.
      bool saved = draw_;
      draw_ = false;
      double h = Text(value, 7, false, kMargin + 150, y_, Usable() - 150, PANGO_ALIGN_LEFT, true);
      draw_ = saved;
      Need(h + 3 + (i + 1 == r.integrity.size() ? kSignatureHeight : 0));
      Text(key, 7, true, kMargin, y_, 145, PANGO_ALIGN_LEFT);
      y_ += Text(value, 7, false, kMargin + 150, y_, Usable() - 150, PANGO_ALIGN_LEFT, true) + 3;
    }
    y_ += 8;
  }

  // A grouped bar chart in 万元 with a labelled value axis.
  void WriteChart(const Chart& chart) {
    Need(kChartHeight + 20);
    y_ += Text(Pick(lang_, chart.title_zh, chart.title_en), 10, true, kMargin, y_, Usable(),
               PANGO_ALIGN_CENTER) + 4;
    int64_t max_fen = 1;
    for (const auto& s : chart.series) {
      for (int64_t v : s.values_fen) max_fen = std::max(max_fen, v);
    }
    // A round step of 1, 2 or 5 × 10^k 万元, at most six steps up to the largest bar.
    int64_t step = 1'000'000, decade = 1'000'000;  // 1 万元 in fen
    for (bool found = false; !found && decade <= INT64_MAX / 50;) {
      for (int64_t m : {1, 2, 5}) {
        if (max_fen / (decade * m) < 6) {
          step = decade * m;
          found = true;
          break;
        }
      }
      decade *= 10;
    }
    int64_t axis_max = (max_fen / step + 1) * step;
    double left = kMargin + 60, top = y_ + 4, height = kChartHeight - 50;
    double width = Usable() - 70;
    double base = top + height;
    if (draw_) {
      cairo_set_line_width(cr_, 0.5);
      cairo_move_to(cr_, left, top);
      cairo_line_to(cr_, left, base);
      cairo_line_to(cr_, left + width, base);
      cairo_stroke(cr_);
    }
    for (int64_t tick = 0; tick <= axis_max; tick += step) {
      double ty = base - height * static_cast<double>(tick) / static_cast<double>(axis_max);
      Text(FormatCell(Cell{tick / 1'000'000}, CellKind::kCount), 6, false, kMargin, ty - 4, 56, PANGO_ALIGN_RIGHT);
      if (draw_ && tick > 0) {
        cairo_set_source_rgb(cr_, 0.85, 0.85, 0.85);
        cairo_move_to(cr_, left, ty);
        cairo_line_to(cr_, left + width, ty);
        cairo_stroke(cr_);
        cairo_set_source_rgb(cr_, 0, 0, 0);
      }
    }
    static constexpr double kColours[][3] = {{0.27, 0.45, 0.77}, {0.93, 0.49, 0.19}, {0.44, 0.68, 0.28},
                                             {0.65, 0.65, 0.65}};
    size_t n = chart.categories.size(), m = std::max<size_t>(chart.series.size(), 1);
    double group = width / static_cast<double>(n), bar = group * 0.8 / static_cast<double>(m);
    for (size_t i = 0; i < n; ++i) {
      double gx = left + group * static_cast<double>(i) + group * 0.1;
      for (size_t s = 0; s < chart.series.size(); ++s) {
        int64_t v = i < chart.series[s].values_fen.size() ? chart.series[s].values_fen[i] : 0;
        double h = height * static_cast<double>(std::max<int64_t>(v, 0)) / static_cast<double>(axis_max);
        const double* c = kColours[s % 4];
        Fill(gx + bar * static_cast<double>(s), base - h, bar * 0.92, h, c[0], c[1], c[2]);
      }
      Text(chart.categories[i], 6, false, left + group * static_cast<double>(i), base + 3, group,
           PANGO_ALIGN_CENTER, true);
    }
    double lx = left;
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const double* c = kColours[s % 4];
      Fill(lx, base + 28, 9, 9, c[0], c[1], c[2]);
      Text(Pick(lang_, chart.series[s].name_zh, chart.series[s].name_en), 7, false, lx + 12, base + 27, 110,
           PANGO_ALIGN_LEFT);
      lx += 125;
    }
    Text(lang_ == Lang::kZh ? "单位：万元" : "10k yuan", 7, false, left + width - 100, base + 27, 100,
         PANGO_ALIGN_RIGHT);
    y_ = base + 45;
  }

  cairo_t* cr_;
  PangoLayout* layout_;
  Lang lang_;
  bool draw_;
  int total_pages_;
  int page_ = 0;
  bool page_open_ = false;
  double y_ = kMargin;
  const Report* report_ = nullptr;
};

void SetMetadata(cairo_surface_t* surface, const std::vector<Report>& reports, Lang lang) {
  const Report& first = reports.front();
  const Provenance& p = first.provenance;
  std::string title = reports.size() == 1 ? Pick(lang, first.title_zh, first.title_en)
                                          : (lang == Lang::kZh ? "专项资金报表" : "Special fund reports");
  std::string subject = p.origin + " tree size " + std::to_string(p.tree_size) + " root " + p.root_hex;
  std::string date = PdfDate(p.as_of_ms);
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_SUBJECT, subject.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_AUTHOR, "fundledger");
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "fundledger");
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_KEYWORDS, p.params.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, date.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_MOD_DATE, date.c_str());
}

// One pass over every report on a PDF surface writing to `sink`. Returns the page count.
Result<int> Pass(const std::vector<Report>& reports, Lang lang, bool draw, int total_pages,
                 cairo_write_func_t sink, void* closure) {
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(sink, closure, kPageWidth, kPageHeight);
  cairo_pdf_surface_restrict_to_version(surface, CAIRO_PDF_VERSION_1_5);
  if (draw) SetMetadata(surface, reports, lang);
  int pages = 0;
  cairo_status_t status;
  {
    Writer writer(surface, lang, draw, total_pages);
    for (const Report& r : reports) writer.WriteReport(r);
    pages = writer.pages();
    status = writer.status();
  }
  cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    return Status::IOError(std::string("pdf: ") + cairo_status_to_string(status));
  }
  return pages;
}

}  // namespace

Result<std::string> RenderPdf(const std::vector<Report>& reports, Lang lang) {
  if (reports.empty()) return Status::InvalidArgument("pdf: no report to write");
  for (const Report& r : reports) {
    for (const Table& t : r.tables) {
      for (const Row& row : t.rows) {
        if (row.cells.size() != t.columns.size()) {
          return Status::InvalidArgument("report table '" + t.title_en + "': a row has " +
                                         std::to_string(row.cells.size()) + " cells for " +
                                         std::to_string(t.columns.size()) + " columns");
        }
      }
    }
  }
  LEDGER_ASSIGN_OR_RETURN(int pages, Pass(reports, lang, false, 0, Discard, nullptr));
  std::string out;
  LEDGER_ASSIGN_OR_RETURN(int drawn, Pass(reports, lang, true, pages, Append, &out));
  if (drawn != pages) return Status::IOError("pdf: page count changed between passes");
  return out;
}

}  // namespace fundledger::report
