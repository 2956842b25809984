// Text forms of bytes, money, identifiers and dates. Pure functions, no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "events/model.h"
#include "events/status.h"

namespace fundledger::events {

std::string Hex(std::span<const uint8_t> bytes);  // lowercase
// Exactly `out.size()` bytes of hex (either case); false and `out` unspecified otherwise.
bool FromHex(std::string_view text, std::span<uint8_t> out);
template <size_t N>
std::optional<std::array<uint8_t, N>> ArrayFromHex(std::string_view text) {
  std::array<uint8_t, N> out{};
  if (!FromHex(text, out)) return std::nullopt;
  return out;
}

std::string Base64(std::span<const uint8_t> bytes);  // standard alphabet, padded
// Strict standard base64 (padding required, no whitespace); nullopt if malformed.
std::optional<Bytes> FromBase64(std::string_view text);

// ---- Money: integer fen, checked arithmetic (DESIGN.md §4). ----
inline constexpr int64_t kFenPerYuan = 100;
// Largest amount any field may hold: 10^15 yuan in fen, far above any budget, far below
// INT64_MAX so sums of a million such fields cannot overflow unnoticed.
inline constexpr int64_t kAmountFenMax = 100'000'000'000'000'000;

// a + b / a - b; false on overflow (and *out unchanged).
bool CheckedAdd(int64_t a, int64_t b, int64_t* out);
bool CheckedSub(int64_t a, int64_t b, int64_t* out);
// floor(amount_fen * rate_bp / 10000) without overflow for amounts up to kAmountFenMax.
int64_t ApplyRateBp(int64_t amount_fen, uint32_t rate_bp);

// Parses a yuan amount: "1234567.89", "1,234,567.89", "500万", "3亿", "12.5万", "0.01".
// At most two decimals after unit scaling (fen is the smallest unit). kInvalidArgument names
// the problem. Negative amounts are refused.
Result<int64_t> ParseYuan(std::string_view text);
// "1,234,567.89" (always two decimals; a leading '-' for negatives).
std::string FormatYuan(int64_t fen);

// ---- Identifiers ----
// GB 32100-2015 Unified Social Credit Code: 18 chars, check character verified.
Status CheckUscc(std::string_view code);
// The check character for the first 17 characters (for generators); '\0' if they are invalid.
char UsccCheckChar(std::string_view first17);

// Shenzhen's districts (lowercase pinyin, DESIGN.md §10).
bool IsShenzhenDistrict(std::string_view district);
std::span<const std::string_view> ShenzhenDistricts();

// ---- Dates: ISO-8601 calendar dates and instants, Asia/Shanghai (UTC+8, no DST) ----
inline constexpr int64_t kShanghaiOffsetMs = 8LL * 3600 * 1000;
inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;
// "2025-03-01" -> days since 1970-01-01; nullopt if not a valid date.
std::optional<int64_t> ParseIsoDate(std::string_view date);
std::string FormatIsoDate(int64_t days_since_epoch);
// UTC ms of local midnight starting `date` in Asia/Shanghai.
std::optional<int64_t> ShanghaiMidnightMs(std::string_view date);
// The Asia/Shanghai calendar date of a UTC ms instant.
std::string ShanghaiDate(int64_t utc_ms);
// Parses "2025-03-01" (Shanghai midnight), "2025-03-01T09:30:00" (Shanghai local),
// or with an explicit "Z" / "+08:00" offset, to UTC ms.
Result<int64_t> ParseInstant(std::string_view text);
// "2025-03-01T09:30:00.000+08:00"
std::string FormatInstant(int64_t utc_ms);

}  // namespace fundledger::events
