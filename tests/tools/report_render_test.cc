// Goal: the report writers produce files that independent readers open as the finance bureau
// expects — typed numeric cells, merged titles, frozen heads, custom properties (Debian's
// python3-openpyxl and python's zipfile); an A4 PDF with embedded fonts, repeated table heads
// across pages and the root in its metadata (poppler's pdfinfo, pdffonts, pdftotext, pdftoppm) —
// byte-for-byte deterministic, with exact cell text and the params readable back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/testutil/testutil.h"
#include "tools/report/report.h"

namespace fundledger::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testutil::RunShell;
using testutil::ShellQuote;
using testutil::TempDir;

TEST(FormatCellTest, MoneyIsExactAndRoundsHalfAwayFromZero) {
  EXPECT_EQ(FormatCell(Cell{int64_t{123456789}}, CellKind::kYuan), "1,234,567.89");
  EXPECT_EQ(FormatCell(Cell{int64_t{-5}}, CellKind::kYuan), "-0.05");
  EXPECT_EQ(FormatCell(Cell{int64_t{0}}, CellKind::kYuan), "0.00");
  // 万元 with two decimals = hundreds of yuan = 10,000 fen.
  EXPECT_EQ(FormatCell(Cell{int64_t{12'345'678'900}}, CellKind::kWan), "12,345.68");
  EXPECT_EQ(FormatCell(Cell{int64_t{15'000}}, CellKind::kWan), "0.02");
  EXPECT_EQ(FormatCell(Cell{int64_t{14'999}}, CellKind::kWan), "0.01");
  EXPECT_EQ(FormatCell(Cell{int64_t{-15'000}}, CellKind::kWan), "-0.02");
  EXPECT_EQ(FormatCell(Cell{int64_t{4'999}}, CellKind::kWan), "0.00");
  EXPECT_EQ(FormatCell(Cell{INT64_MIN}, CellKind::kYuan), "-92,233,720,368,547,758.08");
  EXPECT_EQ(FormatCell(Cell{int64_t{8765}}, CellKind::kRateBp), "87.65%");
  EXPECT_EQ(FormatCell(Cell{int64_t{1234567}}, CellKind::kCount), "1,234,567");
  EXPECT_EQ(FormatCell(Cell{int64_t{1234567}}, CellKind::kSeq), "1234567");
  EXPECT_EQ(FormatCell(Cell{std::string("南山区")}, CellKind::kText), "南山区");
  EXPECT_EQ(FormatCell(Cell{}, CellKind::kWan), "");
}

// A two-table report with enough rows to break across pages, a flagged row, a total, a chart
// and an integrity appendix, in the shape the builders produce.
Report SampleReport(int rows) {
  Report r;
  r.kind = "execution";
  r.title_zh = "专项资金预算执行情况表";
  r.title_en = "Budget execution";
  r.sheet_name = "execution";
  Provenance& p = r.provenance;
  p.ledger_id_hex = "00112233445566778899aabbccddeeff";
  p.ledger_name = "深圳人工智能专项资金";
  p.origin = "fundledger/" + p.ledger_id_hex;
  p.tree_size = 6999;
  p.root_hex = std::string(64, 'a');
  p.state_hash_hex = std::string(64, 'b');
  p.as_of_ms = testutil::At("2025-12-31T18:00:00");
  p.reporting_unit = "SZ-FIN 深圳市财政局";
  p.period = "2025";
  p.year = 2025;
  p.params = "kind=execution;year=2025;lang=zh;note=(a\\b)";
  Table t;
  t.title_zh = "按措施和类别";
  t.title_en = "By measure and track";
  t.columns = {{"measure", "措施", "Measure", CellKind::kText, 8},
               {"track", "类别", "Track", CellKind::kText, 10},
               {"allocatedFen", "预算数", "Allocated", CellKind::kWan, 12},
               {"paidFen", "已拨付", "Paid", CellKind::kWan, 12},
               {"executionBp", "执行率", "Execution rate", CellKind::kRateBp, 9},
               {"payments", "拨付笔数", "Payments", CellKind::kCount, 8}};
  int64_t total_alloc = 0, total_paid = 0, total_payments = 0;
  for (int i = 0; i < rows; ++i) {
    int64_t alloc = 50'000'000'000 + i * 1'234'567, paid = alloc / 2 + i * 3;
    total_alloc += alloc;
    total_paid += paid;
    total_payments += i;
    Row row;
    row.cells = {std::string("措施 ") + std::to_string(i % 13 + 1), std::string("训力券-standard"),
                 alloc, paid, paid * 10'000 / alloc, int64_t{i}};
    row.flagged = i % 7 == 3;
    t.rows.push_back(row);
  }
  Row total;
  total.kind = RowKind::kTotal;
  total.cells = {std::string("合计"), Cell{}, total_alloc, total_paid, total_paid * 10'000 / total_alloc,
                 total_payments};
  t.rows.push_back(total);
  t.notes_zh = {"注：执行率低于90%的行需书面说明原因。"};
  t.notes_en = {"Note: rows with an execution rate under 90% need a written reason."};
  r.tables.push_back(t);
  Table units;
  units.title_zh = "按责任单位";
  units.title_en = "By responsible unit";
  units.columns = {{"unit", "责任单位", "Unit", CellKind::kText, 16},
                   {"committedFen", "已承诺", "Committed", CellKind::kWan, 12}};
  Row unit_row;
  unit_row.cells.emplace_back(std::string("SZ-STIB 市科技创新局"));
  unit_row.cells.emplace_back(int64_t{1'000'000});
  units.rows.push_back(unit_row);
  r.tables.push_back(units);
  Chart chart;
  chart.title_zh = "各措施预算、承诺与拨付";
  chart.title_en = "Allocated, committed and paid by measure";
  chart.categories = {"措施2", "措施3", "措施10"};
  chart.series = {{"预算", "Allocated", {500'000'000'00, 50'000'000'00, 30'000'000'00}},
                  {"承诺", "Committed", {400'000'000'00, 20'000'000'00, 30'000'000'00}},
                  {"拨付", "Paid", {300'000'000'00, 10'000'000'00, 0}}};
  r.chart = chart;
  r.integrity = {{"账本标识", p.ledger_id_hex}, {"树大小", "6999"}, {"根哈希", p.root_hex}};
  return r;
}

// Writes a rendered file; with REPORT_RENDER_OUT=DIR also keeps a copy there to look at.
void WriteBytes(const std::string& path, const std::string& bytes) {
  testutil::WriteText(path, bytes);
  if (const char* keep = std::getenv("REPORT_RENDER_OUT"); keep != nullptr) {
    testutil::WriteText(std::string(keep) + "/" + path.substr(path.rfind('/') + 1), bytes);
  }
}

// pdftotext spaces CJK text its own way: compare without spaces.
std::string Squeeze(std::string text) {
  std::erase(text, ' ');
  return text;
}

class ReportRenderTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(ReportRenderTest, XlsxOpensWithOpenpyxlWithTypedCellsTitlesAndProperties) {
  Report second = SampleReport(3);
  second.sheet_name = "awards";
  second.title_zh = "资助计划（公示名单）";
  auto bytes = RenderXlsx({SampleReport(40), second}, Lang::kZh, dir_.path());
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  std::string path = dir_.Sub("r.xlsx");
  WriteBytes(path, *bytes);
  // An independent reader: Debian's openpyxl for cells and layout, zipfile for custom props.
  std::string script = R"PY(
import sys, zipfile, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
print("sheets", wb.sheetnames)
ws = wb["execution"]
print("title", ws["A1"].value)
print("merged", "A1:F1" in [str(m) for m in ws.merged_cells.ranges])
print("freeze", ws.freeze_panes)
head_row = None
for row in ws.iter_rows(min_row=1, max_row=12):
    if row[2].value == "预算数（万元）":
        head_row = row[0].row
print("head", head_row)
c = ws.cell(row=head_row + 1, column=3)
print("alloc", c.data_type, repr(c.value), c.number_format)
r = ws.cell(row=head_row + 1, column=5)
print("rate", r.data_type, repr(r.value), r.number_format)
print("charts", len(ws._charts))
custom = zipfile.ZipFile(sys.argv[1]).read("docProps/custom.xml").decode()
print("root-prop", ("a" * 64) in custom, "fundledger-tree-size" in custom)
core = zipfile.ZipFile(sys.argv[1]).read("docProps/core.xml").decode()
print("created", "2025-12-31T10:00:00Z" in core)
)PY";
  testutil::WriteText(dir_.Sub("check.py"), script);
  testutil::ShellRun run = RunShell(dir_.path(), "/usr/bin/python3 check.py r.xlsx");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("sheets ['execution', 'awards']"));
  EXPECT_THAT(run.out, HasSubstr("title 专项资金预算执行情况表"));
  EXPECT_THAT(run.out, HasSubstr("merged True"));
  EXPECT_THAT(run.out, HasSubstr("head 6"));
  EXPECT_THAT(run.out, HasSubstr("freeze A7"));
  // 50,000,000,000 fen = 50,000 万元: a number, not text, in a two-decimal format.
  EXPECT_THAT(run.out, HasSubstr("alloc n 50000 #,##0.00"));
  EXPECT_THAT(run.out, HasSubstr("rate n 0.5 0.00%"));
  EXPECT_THAT(run.out, HasSubstr("charts 1"));
  EXPECT_THAT(run.out, HasSubstr("root-prop True True"));
  EXPECT_THAT(run.out, HasSubstr("created True"));
}

TEST_F(ReportRenderTest, XlsxIsDeterministicAndCarriesItsParams) {
  auto a = RenderXlsx({SampleReport(5)}, Lang::kEn, dir_.path());
  auto b = RenderXlsx({SampleReport(5)}, Lang::kEn, dir_.path());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto params = ReadXlsxParams(*a);
  ASSERT_TRUE(params.ok()) << params.status().message();
  EXPECT_EQ(*params, SampleReport(5).provenance.params);
  Report other = SampleReport(5);
  other.tables[0].rows[0].cells[2] = int64_t{1};  // one figure changed: other bytes
  auto c = RenderXlsx({other}, Lang::kEn, dir_.path());
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);
}

TEST_F(ReportRenderTest, XlsxRefusesRowsThatDoNotMatchTheirColumnsAndUnexactNumbers) {
  Report bad = SampleReport(2);
  bad.tables[0].rows[0].cells.pop_back();
  EXPECT_TRUE(RenderXlsx({bad}, Lang::kZh, dir_.path()).status().IsInvalidArgument());
  Report huge = SampleReport(2);
  huge.tables[0].rows[0].cells[2] = (int64_t{1} << 53) + 1;
  auto status = RenderXlsx({huge}, Lang::kZh, dir_.path()).status();
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_THAT(status.message(), HasSubstr("too large"));
  EXPECT_TRUE(RenderXlsx({}, Lang::kZh, dir_.path()).status().IsInvalidArgument());
  EXPECT_EQ(RunShell(dir_.path(), "ls | grep -c fundledger-report").out, "0\n");  // no temp left
}

TEST_F(ReportRenderTest, ReadXlsxParamsRefusesOtherFiles) {
  EXPECT_TRUE(ReadXlsxParams("").status().IsInvalidArgument());
  EXPECT_TRUE(ReadXlsxParams(std::string(100, 'x')).status().IsInvalidArgument());
  auto pdf = RenderPdf({SampleReport(2)}, Lang::kZh);
  ASSERT_TRUE(pdf.ok());
  EXPECT_TRUE(ReadXlsxParams(*pdf).status().IsInvalidArgument());
  auto xlsx = RenderXlsx({SampleReport(2)}, Lang::kZh, dir_.path());
  ASSERT_TRUE(xlsx.ok());
  std::string cut = xlsx->substr(0, xlsx->size() / 2);  // truncated: no directory
  EXPECT_TRUE(ReadXlsxParams(cut).status().IsInvalidArgument());
}

TEST_F(ReportRenderTest, PdfHasEmbeddedFontsPagesHeadsAndMetadata) {
  auto bytes = RenderPdf({SampleReport(60)}, Lang::kZh);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  WriteBytes(dir_.Sub("r.pdf"), *bytes);
  testutil::ShellRun info = RunShell(dir_.path(), "pdfinfo r.pdf");
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_THAT(info.out, HasSubstr("Pages:           3"));  // 60 rows, 2 tables, chart
  EXPECT_THAT(info.out, HasSubstr("841.89 x 595.28 pts (A4)"));
  EXPECT_THAT(info.out, HasSubstr(std::string(64, 'a')));  // the root, in Subject
  EXPECT_THAT(info.out, HasSubstr("专项资金预算执行情况表"));
  testutil::ShellRun fonts = RunShell(dir_.path(), "pdffonts r.pdf");
  ASSERT_EQ(fonts.code, 0) << fonts.err;
  EXPECT_THAT(fonts.out, HasSubstr("NotoSansCJK"));
  for (const std::string& line : testutil::NonEmptyLines(fonts.out)) {
    if (line.find("NotoSans") == std::string::npos) continue;
    EXPECT_THAT(line, HasSubstr(" yes yes ")) << "font not embedded and subset: " << line;
  }
  // The table head repeats on the second page, and every page is numbered.
  testutil::ShellRun page2 = RunShell(dir_.path(), "pdftotext -f 2 -l 2 -layout r.pdf -");
  ASSERT_EQ(page2.code, 0) << page2.err;
  EXPECT_THAT(page2.out, HasSubstr("预算数（万元）"));
  EXPECT_THAT(page2.out, HasSubstr("（续）"));
  EXPECT_THAT(Squeeze(page2.out), HasSubstr("第2页/共3页"));
  testutil::ShellRun page3 = RunShell(dir_.path(), "pdftotext -f 3 -l 3 -layout r.pdf -");
  EXPECT_THAT(page3.out, HasSubstr("项目负责人"));
  EXPECT_THAT(page3.out, HasSubstr("完整性附录"));
  EXPECT_THAT(page2.out + page3.out, HasSubstr("各措施预算、承诺与拨付"));  // the chart's title
  testutil::ShellRun page1 = RunShell(dir_.path(), "pdftotext -f 1 -l 1 -layout r.pdf -");
  EXPECT_THAT(page1.out, HasSubstr("50,000.00"));
  EXPECT_THAT(page1.out, Not(HasSubstr("项目负责人")));
  testutil::ShellRun png = RunShell(dir_.path(), "pdftoppm -r 40 -png r.pdf page && ls page*.png");
  ASSERT_EQ(png.code, 0) << png.err;
  EXPECT_EQ(testutil::NonEmptyLines(png.out).size(), 3u);
}

TEST_F(ReportRenderTest, PdfIsDeterministicAndCarriesItsParams) {
  auto a = RenderPdf({SampleReport(10)}, Lang::kEn);
  auto b = RenderPdf({SampleReport(10)}, Lang::kEn);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  WriteBytes(dir_.Sub("params.pdf"), *a);
  auto params = ReadPdfParams(*a);
  ASSERT_TRUE(params.ok()) << params.status().message();
  EXPECT_EQ(*params, SampleReport(10).provenance.params);
  EXPECT_TRUE(ReadPdfParams("not a pdf").status().IsInvalidArgument());
  EXPECT_TRUE(ReadPdfParams("%PDF-1.5 no keywords").status().IsInvalidArgument());
  EXPECT_TRUE(ReadPdfParams("%PDF-1.5 /Keywords (cut off").status().IsInvalidArgument());
  EXPECT_TRUE(ReadPdfParams("%PDF-1.5 /Keywords <FEFF0041").status().IsInvalidArgument());
  EXPECT_TRUE(ReadPdfParams("%PDF-1.5 /Keywords <FEFFD800>").status().IsInvalidArgument());
  EXPECT_TRUE(ReadPdfParams("%PDF-1.5 /Keywords <FEFF00G1>").status().IsInvalidArgument());
  auto literal = ReadPdfParams("%PDF-1.5 /Keywords (a\\(b\\)c)");
  ASSERT_TRUE(literal.ok());
  EXPECT_EQ(*literal, "a(b)c");
  auto chinese = ReadPdfParams("%PDF-1.5 /Keywords <FEFF5357D83DDE00>");  // 南 and an emoji
  ASSERT_TRUE(chinese.ok()) << chinese.status().message();
  EXPECT_EQ(*chinese, "南\xF0\x9F\x98\x80");
  Report bad = SampleReport(2);
  bad.tables[1].rows[0].cells.emplace_back();  // one cell too many
  EXPECT_TRUE(RenderPdf({bad}, Lang::kZh).status().IsInvalidArgument());
}

}  // namespace
}  // namespace fundledger::report
