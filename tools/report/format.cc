// Cell text shared by every writer, so the PDF, the CSV and the workbook's shown values agree.
#include <cstdlib>
#include <string>

#include "tools/report/report.h"

namespace fundledger::report {
namespace {

// "1234567" -> "1,234,567".
// Builds a new string rather than inserting in place (GCC 12's -Wrestrict false positive).
std::string GroupThousands(const std::string& digits) {
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// `value` / 10^`scale_digits`, rounded half away from zero to two decimals, grouped.
// Integer arithmetic only: money never passes through floating point.
std::string Decimal2(int64_t value, int scale_digits) {
  bool negative = value < 0;
  // |INT64_MIN| does not fit in int64; uint64 holds every magnitude.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  uint64_t divisor = 1;
  for (int i = 2; i < scale_digits; ++i) divisor *= 10;  // to hundredths of the shown unit
  uint64_t hundredths = magnitude / divisor;
  if (divisor > 1 && (magnitude % divisor) * 2 >= divisor) ++hundredths;
  uint64_t cents = hundredths % 100;
  std::string text = GroupThousands(std::to_string(hundredths / 100)) + (cents < 10 ? ".0" : ".") +
                     std::to_string(cents);
  return (negative && hundredths != 0) ? "-" + text : text;
}

}  // namespace

std::string FormatCell(const Cell& cell, CellKind kind) {
  if (std::holds_alternative<std::monostate>(cell)) return "";
  if (const auto* text = std::get_if<std::string>(&cell)) return *text;
  int64_t value = std::get<int64_t>(cell);
  switch (kind) {
    case CellKind::kWan:
      return Decimal2(value, 6);  // 1 万元 = 10^6 fen
    case CellKind::kYuan:
      return Decimal2(value, 2);  // 1 yuan = 100 fen
    case CellKind::kRateBp:
      return Decimal2(value, 2) + "%";  // 1% = 100 bp
    case CellKind::kSeq:
      return std::to_string(value);  // as `prove inclusion` takes it
    case CellKind::kCount:
    case CellKind::kDays:
      return value < 0 ? "-" + GroupThousands(std::to_string(0 - static_cast<uint64_t>(value)))
                       : GroupThousands(std::to_string(value));
    case CellKind::kText:
    case CellKind::kDate:
      return std::to_string(value);
  }
  return std::to_string(value);
}

}  // namespace fundledger::report
