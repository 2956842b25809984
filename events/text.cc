#include "events/text.h"

#include <array>
#include <charconv>
#include <cstring>

namespace fundledger::events {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUsccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static_assert(kUsccAlphabet.size() == 31);

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(char c) {
  const char* p = std::strchr(kBase64Alphabet, c);
  if (c == '\0' || p == nullptr) return -1;
  return static_cast<int>(p - kBase64Alphabet);
}

constexpr std::array<std::string_view, 11> kDistricts = {
    "futian",  "luohu",   "nanshan",  "yantian", "baoan",   "longgang",
    "longhua", "pingshan", "guangming", "dapeng", "shenshan"};

// Days from civil date (H. Hinnant's algorithm), proleptic Gregorian.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool ParseUnsigned(std::string_view text, unsigned* out) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::string Hex(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
  }
  return out;
}

bool FromHex(std::string_view text, std::span<uint8_t> out) {
  if (text.size() != out.size() * 2) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(text[2 * i]);
    int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

std::string Base64(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64Alphabet[(v >> shift) & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    if (rest == 2) v |= uint32_t{bytes[i + 1]} << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<Bytes> FromBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + static_cast<size_t>(j)];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = Base64Value(c);
      if (v[j] < 0) return std::nullopt;
    }
    uint32_t word = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                    (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<uint8_t>(word >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>((word >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<uint8_t>(word & 0xff));
    // Canonical encoding only: bits below the padding must be zero.
    if (pad == 1 && (word & 0xff) != 0) return std::nullopt;
    if (pad == 2 && (word & 0xffff) != 0) return std::nullopt;
  }
  return out;
}

bool CheckedAdd(int64_t a, int64_t b, int64_t* out) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

bool CheckedSub(int64_t a, int64_t b, int64_t* out) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

int64_t ApplyRateBp(int64_t amount_fen, uint32_t rate_bp) {
  LEDGER_CHECK(amount_fen >= 0) << amount_fen;
  LEDGER_CHECK(amount_fen <= kAmountFenMax) << amount_fen;
  LEDGER_CHECK(rate_bp <= 10000) << rate_bp;
  // 10^17 * 10^4 overflows int64, so split: amount = q * 10000 + r.
  int64_t q = amount_fen / 10000;
  int64_t r = amount_fen % 10000;
  return q * rate_bp + r * rate_bp / 10000;
}

Result<int64_t> ParseYuan(std::string_view text) {
  const std::string original(text);
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("amount '" + original + "': " + why);
  };
  // Trim ASCII spaces.
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  int scale_digits = 0;  // 万 = 10^4, 亿 = 10^8
  constexpr std::string_view kWan = "万";
  constexpr std::string_view kYi = "亿";
  if (text.ends_with(kWan)) {
    scale_digits = 4;
    text.remove_suffix(kWan.size());
  } else if (text.ends_with(kYi)) {
    scale_digits = 8;
    text.remove_suffix(kYi.size());
  } else if (text.ends_with("元")) {
    text.remove_suffix(std::string_view("元").size());
  }
  if (text.empty()) return bad("no digits");
  if (text.front() == '-') return bad("negative amounts are not accepted");
  std::string digits;   // integer part, commas removed
  std::string decimals;
  bool seen_point = false;
  size_t group_start = std::string::npos;  // digits.size() at the last comma
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ',') {
      if (seen_point || digits.empty()) return bad("misplaced comma");
      // Commas group thousands: 1-3 digits before the first, exactly 3 after each.
      if (group_start == std::string::npos ? digits.size() > 3 : digits.size() - group_start != 3) {
        return bad("misplaced comma");
      }
      group_start = digits.size();
      continue;
    }
    if (c == '.') {
      if (seen_point) return bad("two decimal points");
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return bad("not a number (use 1234567.89, 1,234,567.89, 500万 or 3亿)");
    (seen_point ? decimals : digits).push_back(c);
  }
  if (digits.empty()) return bad("no digits before the decimal point");
  if (group_start != std::string::npos && digits.size() - group_start != 3) return bad("misplaced comma");
  if (seen_point && decimals.empty()) return bad("no digits after the decimal point");
  // Value in fen = (digits.decimals) * 10^scale * 100.
  const int fen_digits = scale_digits + 2;
  while (!decimals.empty() && decimals.back() == '0') decimals.pop_back();
  if (static_cast<int>(decimals.size()) > fen_digits) return bad("finer than one fen");
  std::string all = digits + decimals + std::string(static_cast<size_t>(fen_digits) - decimals.size(), '0');
  size_t first = all.find_first_not_of('0');
  if (first == std::string::npos) return int64_t{0};
  all = all.substr(first);
  if (all.size() > 18) return bad("too large");
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(all.data(), all.data() + all.size(), value);
  if (ec != std::errc() || ptr != all.data() + all.size()) return bad("too large");
  if (value > kAmountFenMax) return bad("too large");
  return value;
}

std::string FormatYuan(int64_t fen) {
  bool negative = fen < 0;
  // Work in unsigned to format INT64_MIN safely.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(fen) : static_cast<uint64_t>(fen);
  std::string integer = std::to_string(magnitude / 100);
  std::string grouped;
  for (size_t i = 0; i < integer.size(); ++i) {
    if (i > 0 && (integer.size() - i) % 3 == 0) grouped.push_back(',');
    grouped.push_back(integer[i]);
  }
  uint64_t cents = magnitude % 100;
  std::string out = negative ? "-" : "";
  out += grouped;
  out += '.';
  out += static_cast<char>('0' + cents / 10);
  out += static_cast<char>('0' + cents % 10);
  return out;
}

char UsccCheckChar(std::string_view first17) {
  if (first17.size() != 17) return '\0';
  int sum = 0;
  int weight = 1;
  for (char c : first17) {
    size_t v = kUsccAlphabet.find(c);
    if (v == std::string_view::npos) return '\0';
    sum += static_cast<int>(v) * weight;
    weight = weight * 3 % 31;
  }
  int check = 31 - sum % 31;
  if (check == 31) check = 0;
  return kUsccAlphabet[static_cast<size_t>(check)];
}

Status CheckUscc(std::string_view code) {
  // Appended rather than `"'" + std::string(code) + "'"`, which GCC 12 at -O3 reports as an
  // overlapping memcpy (a false -Wrestrict positive, GCC bug 105329) and so stops a -Werror build.
  std::string quoted = "'";
  quoted.append(code);
  quoted += '\'';
  if (code.size() != 18) {
    return Status::InvalidArgument("unified social credit code " + quoted + " must have 18 characters, has " +
                                   std::to_string(code.size()));
  }
  for (size_t i = 0; i < code.size(); ++i) {
    if (kUsccAlphabet.find(code[i]) == std::string_view::npos) {
      return Status::InvalidArgument("unified social credit code " + quoted + ": character " +
                                     std::to_string(i + 1) + " is not one of " + std::string(kUsccAlphabet));
    }
  }
  char expected = UsccCheckChar(code.substr(0, 17));
  if (expected != code[17]) {
    return Status::InvalidArgument("unified social credit code " + quoted + ": check character should be '" +
                                   std::string(1, expected) + "'");
  }
  return Status::Ok();
}

bool IsShenzhenDistrict(std::string_view district) {
  for (std::string_view d : kDistricts) {
    if (d == district) return true;
  }
  return false;
}

std::span<const std::string_view> ShenzhenDistricts() { return kDistricts; }

std::optional<int64_t> ParseIsoDate(std::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
  unsigned y = 0, m = 0, d = 0;
  if (!ParseUnsigned(date.substr(0, 4), &y) || !ParseUnsigned(date.substr(5, 2), &m) ||
      !ParseUnsigned(date.substr(8, 2), &d)) {
    return std::nullopt;
  }
  if (y < 1970 || m < 1 || m > 12 || d < 1) return std::nullopt;
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  unsigned month_days = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  if (d > month_days) return std::nullopt;
  return DaysFromCivil(y, m, d);
}

std::string FormatIsoDate(int64_t days) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buffer;
}

std::optional<int64_t> ShanghaiMidnightMs(std::string_view date) {
  auto days = ParseIsoDate(date);
  if (!days) return std::nullopt;
  return *days * kDayMs - kShanghaiOffsetMs;
}

std::string ShanghaiDate(int64_t utc_ms) {
  int64_t local = utc_ms + kShanghaiOffsetMs;
  int64_t days = local >= 0 ? local / kDayMs : (local - kDayMs + 1) / kDayMs;
  return FormatIsoDate(days);
}

Result<int64_t> ParseInstant(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("time '" + std::string(text) +
                                   "': expected 2025-03-01 or 2025-03-01T09:30:00[+08:00|Z]");
  };
  auto midnight = ShanghaiMidnightMs(text.substr(0, std::min<size_t>(10, text.size())));
  if (!midnight) return bad();
  if (text.size() == 10) return *midnight;
  if (text.size() < 19 || text[10] != 'T' || text[13] != ':' || text[16] != ':') return bad();
  unsigned hh = 0, mm = 0, ss = 0;
  if (!ParseUnsigned(text.substr(11, 2), &hh) || !ParseUnsigned(text.substr(14, 2), &mm) ||
      !ParseUnsigned(text.substr(17, 2), &ss) || hh > 23 || mm > 59 || ss > 59) {
    return bad();
  }
  std::string_view rest = text.substr(19);
  int64_t millis = 0;
  if (rest.starts_with('.')) {
    size_t n = 1;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    std::string frac(rest.substr(1, n - 1));
    if (frac.empty() || frac.size() > 3) return bad();
    frac.resize(3, '0');
    millis = std::stoll(frac);
    rest.remove_prefix(n);
  }
  int64_t local_ms = *midnight + (int64_t{hh} * 3600 + int64_t{mm} * 60 + ss) * 1000 + millis;
  if (rest.empty() || rest == "+08:00") return local_ms;
  if (rest == "Z" || rest == "+00:00") return local_ms + kShanghaiOffsetMs;
  return bad();
}

std::string FormatInstant(int64_t utc_ms) {
  int64_t local = utc_ms + kShanghaiOffsetMs;
  int64_t days = local >= 0 ? local / kDayMs : (local - kDayMs + 1) / kDayMs;
  int64_t in_day = local - days * kDayMs;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%sT%02lld:%02lld:%02lld.%03lld+08:00",
                FormatIsoDate(days).c_str(), static_cast<long long>(in_day / 3600000),
                static_cast<long long>(in_day / 60000 % 60),
                static_cast<long long>(in_day / 1000 % 60), static_cast<long long>(in_day % 1000));
  return buffer;
}

}  // namespace fundledger::events
