// Reading back the params a report file carries (Provenance::params), for `report check`:
// from an xlsx workbook's docProps/custom.xml (the zip inflated with zlib) and from a PDF's
// Keywords. Kept apart from the writers, which are loaded only by `report` (render_module.cc).

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "tools/report/report.h"

namespace fundledger::report {

// ---- Reading the params back: the zip's docProps/custom.xml ----

namespace {

uint32_t Le(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
  return v;
}

// One member of a zip archive, inflated. Bounded: the member may be at most 1 MiB.
Result<std::string> ZipMember(const std::string& zip, const std::string& wanted) {
  constexpr size_t kEocdBytes = 22, kCentralBytes = 46, kLocalBytes = 30, kMemberMax = 1 << 20;
  if (zip.size() < kEocdBytes) return Status::InvalidArgument("not an xlsx file (too short)");
  size_t eocd = zip.size() - kEocdBytes;
  size_t stop = zip.size() > kEocdBytes + 65535 ? zip.size() - kEocdBytes - 65535 : 0;
  while (Le(zip, eocd, 4) != 0x06054b50) {
    if (eocd == stop) return Status::InvalidArgument("not an xlsx file (no zip directory)");
    --eocd;
  }
  size_t entries = Le(zip, eocd + 10, 2), at = Le(zip, eocd + 16, 4);
  for (size_t i = 0; i < entries; ++i) {
    if (at + kCentralBytes > zip.size() || Le(zip, at, 4) != 0x02014b50) break;
    uint32_t method = Le(zip, at + 10, 2), packed = Le(zip, at + 20, 4), size = Le(zip, at + 24, 4);
    size_t name_len = Le(zip, at + 28, 2), extra = Le(zip, at + 30, 2),
           comment = Le(zip, at + 32, 2);
    size_t local = Le(zip, at + 42, 4);
    if (at + kCentralBytes + name_len > zip.size()) break;
    std::string name = zip.substr(at + kCentralBytes, name_len);
    at += kCentralBytes + name_len + extra + comment;
    if (name != wanted) continue;
    if (size > kMemberMax || local + kLocalBytes > zip.size()) break;
    size_t data = local + kLocalBytes + Le(zip, local + 26, 2) + Le(zip, local + 28, 2);
    if (data + packed > zip.size()) break;
    if (method == 0) return zip.substr(data, packed);
    if (method != 8) break;
    std::string out(size, '\0');
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return Status::IOError("zlib: cannot inflate");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zip.data() + data));
    z.avail_in = packed;
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = size;
    int rc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.total_out != size) break;
    return out;
  }
  return Status::InvalidArgument("not an xlsx file made by fundledger (no readable " + wanted +
                                 ")");
}

std::string XmlUnescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + 1)) {
      s.replace(i, std::strlen(from), to);
    }
  }
  return s;
}

}  // namespace

Result<std::string> ReadXlsxParams(const std::string& bytes) {
  LEDGER_ASSIGN_OR_RETURN(std::string xml, ZipMember(bytes, "docProps/custom.xml"));
  const std::string marker = "name=\"fundledger-params\"><vt:lpwstr>";
  size_t start = xml.find(marker);
  if (start == std::string::npos)
    return Status::InvalidArgument("the workbook carries no fundledger params");
  start += marker.size();
  size_t end = xml.find("</vt:lpwstr>", start);
  if (end == std::string::npos)
    return Status::InvalidArgument("the workbook's fundledger params are cut off");
  return XmlUnescape(xml.substr(start, end - start));
}

// ---- Reading the params back: a PDF's Keywords ----

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void AppendUtf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// A PDF hex string "<FEFF…>" holding UTF-16BE text, from just after '<'. Bounded by kMax units.
Result<std::string> Utf16HexString(const std::string& bytes, size_t at) {
  constexpr size_t kMax = 4096;
  std::vector<uint32_t> units;
  while (at + 4 <= bytes.size() && bytes[at] != '>' && units.size() < kMax) {
    uint32_t unit = 0;
    for (size_t i = 0; i < 4; ++i) {
      int d = HexDigit(bytes[at + i]);
      if (d < 0) return Status::InvalidArgument("the PDF's params are not a hex string");
      unit = unit << 4 | static_cast<uint32_t>(d);
    }
    units.push_back(unit);
    at += 4;
  }
  if (at >= bytes.size() || bytes[at] != '>')
    return Status::InvalidArgument("the PDF's params are cut off");
  if (units.empty() || units[0] != 0xFEFF)
    return Status::InvalidArgument("the PDF's params are not UTF-16");
  std::string out;
  for (size_t i = 1; i < units.size(); ++i) {
    uint32_t u = units[i];
    if (u >= 0xD800 && u < 0xDC00 && i + 1 < units.size() && units[i + 1] >= 0xDC00 &&
        units[i + 1] < 0xE000) {
      u = 0x10000 + ((u - 0xD800) << 10) + (units[++i] - 0xDC00);
    } else if (u >= 0xD800 && u < 0xE000) {
      return Status::InvalidArgument("the PDF's params are not valid UTF-16");
    }
    AppendUtf8(u, &out);
  }
  return out;
}

// A PDF literal string "(…)" from just after '(' (with \\, \( and \) escapes and nesting).
Result<std::string> LiteralString(const std::string& bytes, size_t at) {
  std::string out;
  int depth = 1;
  for (; at < bytes.size() && out.size() < 4096; ++at) {
    char c = bytes[at];
    if (c == '\\' && at + 1 < bytes.size()) {
      out.push_back(bytes[++at]);
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) return out;
    out.push_back(c);
  }
  return Status::InvalidArgument("the PDF's params are cut off");
}

}  // namespace

// Cairo writes Keywords into the document information dictionary as a hex string of UTF-16BE
// text "<FEFF…>"; a literal "(…)" is read too.
Result<std::string> ReadPdfParams(const std::string& bytes) {
  if (bytes.compare(0, 5, "%PDF-") != 0) return Status::InvalidArgument("not a PDF file");
  size_t at = bytes.rfind("/Keywords");
  if (at == std::string::npos)
    return Status::InvalidArgument("the PDF carries no fundledger params");
  at += 9;
  while (at < bytes.size() && bytes[at] == ' ') ++at;
  if (at < bytes.size() && bytes[at] == '<') return Utf16HexString(bytes, at + 1);
  if (at < bytes.size() && bytes[at] == '(') return LiteralString(bytes, at + 1);
  return Status::InvalidArgument("the PDF's params are not a string");
}

}  // namespace fundledger::report
