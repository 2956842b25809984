// Goal: pin down the text forms of events/text.h (hex, base64, money in fen/yuan, USCC
// identifiers, Shenzhen districts, Asia/Shanghai dates and instants) so that every accepted
// form round-trips exactly and every malformed form is refused with kInvalidArgument (or
// nullopt / false) instead of being silently misread as a different value.
#include "events/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace fundledger::events {
namespace {

using ::testing::HasSubstr;

// 'text', as the parsers quote their input. Appended, not "'" + std::string(text) + "'": GCC 12
// at -O3 reports that concatenation as an overlapping memcpy (a false -Wrestrict positive).
std::string Quoted(std::string_view text) {
  std::string quoted = "'";
  quoted.append(text);
  quoted += '\'';
  return quoted;
}

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr std::string_view kUsccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";

// Seed for the property tests: LEDGER_TEST_SEED overrides the fixed default (STYLE.md §7).
uint64_t TestSeed() {
  if (const char* env = std::getenv("LEDGER_TEST_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return 20250301;
}

Bytes BytesOf(std::string_view text) { return Bytes(text.begin(), text.end()); }

// ---------------------------------------------------------------- Hex

TEST(TextHexTest, RoundTripGivesLowercaseAndOriginalBytes) {
  const std::array<uint8_t, 6> bytes = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  const std::string hex = Hex(bytes);
  EXPECT_EQ(hex, "00017f80abff");
  std::array<uint8_t, 6> back{};
  ASSERT_TRUE(FromHex(hex, back));
  EXPECT_EQ(back, bytes);
  EXPECT_EQ(Hex(std::span<const uint8_t>()), "");
}

TEST(TextHexTest, RoundTripHoldsForEveryByteValue) {
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  const std::string hex = Hex(all);
  ASSERT_EQ(hex.size(), 512u);
  std::vector<uint8_t> back(256);
  ASSERT_TRUE(FromHex(hex, back));
  EXPECT_EQ(back, all);
}

TEST(TextHexTest, UpperCaseIsAccepted) {
  auto parsed = ArrayFromHex<3>("ABcDeF");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, (std::array<uint8_t, 3>{0xab, 0xcd, 0xef}));
}

TEST(TextHexTest, WrongLengthIsRefused) {
  std::array<uint8_t, 2> out{};
  EXPECT_FALSE(FromHex("abc", out));     // odd, short
  EXPECT_FALSE(FromHex("ab", out));      // one byte short
  EXPECT_FALSE(FromHex("abcdef", out));  // one byte long
  EXPECT_FALSE(FromHex("", out));
  EXPECT_FALSE(ArrayFromHex<32>(std::string(63, 'a')).has_value());
  EXPECT_FALSE(ArrayFromHex<32>(std::string(65, 'a')).has_value());
  EXPECT_TRUE(ArrayFromHex<32>(std::string(64, 'a')).has_value());
}

TEST(TextHexTest, BadCharactersAreRefused) {
  std::array<uint8_t, 2> out{};
  const std::string_view refused[] = {"0g00", "000G", "00 0", "-001", "0x00", "00\n0", "+0ff",
                                      std::string_view("00\0" "0", 4)};
  for (std::string_view bad : refused) {
    EXPECT_FALSE(FromHex(bad, out)) << "'" << bad << "'";
  }
  const std::string high_bit = "\xc3\xa9" "00";  // 'é' in UTF-8, same byte count
  EXPECT_FALSE(FromHex(high_bit, out));
}

// ---------------------------------------------------------------- Base64

struct Rfc4648Vector {
  std::string_view plain;
  std::string_view encoded;
};
constexpr std::array<Rfc4648Vector, 7> kRfc4648Section10 = {{
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
}};

TEST(TextBase64Test, EncodesRfc4648TestVectors) {
  for (const auto& v : kRfc4648Section10) {
    EXPECT_EQ(Base64(BytesOf(v.plain)), v.encoded) << "'" << v.plain << "'";
  }
}

TEST(TextBase64Test, DecodesRfc4648TestVectors) {
  for (const auto& v : kRfc4648Section10) {
    auto decoded = FromBase64(v.encoded);
    ASSERT_TRUE(decoded.has_value()) << "'" << v.encoded << "'";
    EXPECT_EQ(*decoded, BytesOf(v.plain)) << "'" << v.encoded << "'";
  }
}

TEST(TextBase64Test, RoundTripHoldsForSeededRandomBytes) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t len = 0; len < 70; ++len) {
    Bytes bytes(len);
    for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
    const std::string text = Base64(bytes);
    EXPECT_EQ(text.size(), (len + 2) / 3 * 4);
    auto back = FromBase64(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, bytes) << text;
  }
}

TEST(TextBase64Test, BadLengthIsRefused) {
  for (std::string_view bad : {"Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYmFy="}) {
    EXPECT_FALSE(FromBase64(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(TextBase64Test, BadCharactersAreRefused) {
  // URL-safe alphabet and other non-alphabet bytes.
  const std::string_view refused[] = {"Zm9-", "Zm9_", "Zm9!", "Zm.v", "Zm9v\xff\xff\xff\xff",
                                      std::string_view("Zm9\0", 4)};
  for (std::string_view bad : refused) {
    EXPECT_FALSE(FromBase64(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(TextBase64Test, DataAfterPaddingIsRefused) {
  for (std::string_view bad : {"Zg=A", "Zm=v", "Zg==Zm9v", "Zm8=Zg==", "Zm8=Zm8="}) {
    EXPECT_FALSE(FromBase64(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(TextBase64Test, PaddingInTheMiddleOrTooMuchPaddingIsRefused) {
  for (std::string_view bad : {"Zm9v=mFy", "Zm9vY=Fy", "Z===", "====", "Zm9v====", "=m9v"}) {
    EXPECT_FALSE(FromBase64(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(TextBase64Test, NonCanonicalTrailingBitsAreRefused) {
  // "f" is canonically "Zg=="; "Zh==" carries nonzero bits below the padding.
  ASSERT_TRUE(FromBase64("Zg==").has_value());
  for (std::string_view bad : {"Zh==", "Zi==", "Zv==", "Zm9=", "Zm9vYh==", "Zm9vYmF="}) {
    EXPECT_FALSE(FromBase64(bad).has_value()) << "'" << bad << "'";
  }
  // Every non-canonical sibling of a 1- and 2-byte group is refused; only the canonical passes.
  for (char c : std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")) {
    const std::string one = std::string("Z") + c + "==";
    EXPECT_EQ(FromBase64(one).has_value(), c == 'g' || c == 'w' || c == 'A' || c == 'Q') << one;
    const std::string two = std::string("Zm") + c + "=";
    EXPECT_EQ(FromBase64(two).has_value(), std::string_view("AEIMQUYcgkosw048").find(c) !=
                                               std::string_view::npos)
        << two;
  }
}

TEST(TextBase64Test, WhitespaceIsRefused) {
  for (std::string_view bad : {"Zm9v ", " Zm9v", "Zm9v\n", "Zm 9v", "Zm9 ", "Zm9v\r\nYmFy",
                               "Zm9vYmFy\n\n\n\n", "Zm\t8"}) {
    EXPECT_FALSE(FromBase64(bad).has_value()) << "'" << bad << "'";
  }
}

// ---------------------------------------------------------------- Money arithmetic

TEST(TextMoneyTest, CheckedAddComputesInRangeSums) {
  int64_t out = 0;
  ASSERT_TRUE(CheckedAdd(kInt64Max, kInt64Min, &out));
  EXPECT_EQ(out, -1);
  ASSERT_TRUE(CheckedAdd(kInt64Max - 1, 1, &out));
  EXPECT_EQ(out, kInt64Max);
  ASSERT_TRUE(CheckedAdd(kInt64Min + 1, -1, &out));
  EXPECT_EQ(out, kInt64Min);
}

TEST(TextMoneyTest, CheckedAddOverflowAtInt64LimitsLeavesOutUnchanged) {
  constexpr int64_t kSentinel = 4242;
  int64_t out = kSentinel;
  EXPECT_FALSE(CheckedAdd(kInt64Max, 1, &out));
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedAdd(1, kInt64Max, &out));
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedAdd(kInt64Max, kInt64Max, &out));
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedAdd(kInt64Min, -1, &out));
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedAdd(kInt64Min, kInt64Min, &out));
  EXPECT_EQ(out, kSentinel);
}

TEST(TextMoneyTest, CheckedSubComputesInRangeDifferences) {
  int64_t out = 0;
  ASSERT_TRUE(CheckedSub(kInt64Max, kInt64Max, &out));
  EXPECT_EQ(out, 0);
  ASSERT_TRUE(CheckedSub(kInt64Min, kInt64Min, &out));
  EXPECT_EQ(out, 0);
  ASSERT_TRUE(CheckedSub(-1, kInt64Max, &out));
  EXPECT_EQ(out, kInt64Min);
  ASSERT_TRUE(CheckedSub(kInt64Max - 1, -1, &out));
  EXPECT_EQ(out, kInt64Max);
}

TEST(TextMoneyTest, CheckedSubOverflowAtInt64LimitsLeavesOutUnchanged) {
  constexpr int64_t kSentinel = -4242;
  int64_t out = kSentinel;
  EXPECT_FALSE(CheckedSub(kInt64Min, 1, &out));
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedSub(kInt64Max, -1, &out));
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedSub(0, kInt64Min, &out));  // -INT64_MIN is not representable
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedSub(kInt64Max, kInt64Min, &out));
  EXPECT_EQ(out, kSentinel);
  EXPECT_FALSE(CheckedSub(kInt64Min, kInt64Max, &out));
  EXPECT_EQ(out, kSentinel);
}

TEST(TextMoneyTest, ApplyRateBpFloorsFractionalFen) {
  EXPECT_EQ(ApplyRateBp(1, 5000), 0);        // 0.5 fen
  EXPECT_EQ(ApplyRateBp(3, 3333), 0);        // 0.9999 fen
  EXPECT_EQ(ApplyRateBp(10001, 5000), 5000);  // 5000.5 fen
  EXPECT_EQ(ApplyRateBp(9999, 1), 0);        // 0.9999 fen
  EXPECT_EQ(ApplyRateBp(10000, 1), 1);
  EXPECT_EQ(ApplyRateBp(19999, 9999), 19997);  // 19997.0001 fen
  EXPECT_EQ(ApplyRateBp(123456789, 3000), 37037036);  // 37037036.7 fen
}

TEST(TextMoneyTest, ApplyRateBpZeroRateIsZero) {
  EXPECT_EQ(ApplyRateBp(0, 0), 0);
  EXPECT_EQ(ApplyRateBp(123456789, 0), 0);
  EXPECT_EQ(ApplyRateBp(kAmountFenMax, 0), 0);
}

TEST(TextMoneyTest, ApplyRateBpAtAmountMaxDoesNotOverflow) {
  EXPECT_EQ(ApplyRateBp(kAmountFenMax, 10000), kAmountFenMax);
  EXPECT_EQ(ApplyRateBp(kAmountFenMax, 9999), kAmountFenMax / 10000 * 9999);
  EXPECT_EQ(ApplyRateBp(kAmountFenMax - 1, 10000), kAmountFenMax - 1);
  // (10^17 - 1) * 9999 / 10^4 = 99'990'000'000'000'000 - 0.9999 -> floor ...989'999'...
  EXPECT_EQ(ApplyRateBp(kAmountFenMax - 1, 9999), 99'989'999'999'999'999);
  EXPECT_EQ(ApplyRateBp(kAmountFenMax, 1), kAmountFenMax / 10000);
}

__extension__ typedef __int128 Int128;  // exact reference for the product

TEST(TextMoneyTest, ApplyRateBpMatchesWideArithmeticForSeededValues) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> amount(0, kAmountFenMax);
  std::uniform_int_distribution<uint32_t> rate(0, 10000);
  for (int i = 0; i < 20000; ++i) {
    const int64_t a = i % 4 == 0 ? amount(rng) % 1'000'000 : amount(rng);
    const uint32_t r = rate(rng);
    const auto expected = static_cast<int64_t>(Int128{a} * Int128{r} / 10000);
    ASSERT_EQ(ApplyRateBp(a, r), expected) << a << " fen at " << r << " bp";
  }
}

// ---------------------------------------------------------------- Yuan text

TEST(TextYuanTest, ParseAcceptsPlainAndGroupedAmounts) {
  struct Case {
    std::string_view text;
    int64_t fen;
  };
  const Case cases[] = {
      {"1234567.89", 123456789},
      {"1,234,567.89", 123456789},
      {"500万", 500'000'000},      // 5,000,000.00 yuan
      {"3亿", 30'000'000'000},     // 300,000,000.00 yuan
      {"12.5万", 12'500'000},      // 125,000.00 yuan
      {"0.01", 1},
      {"1元", 100},
      {"  7 ", 700},
      {"0", 0},
      {"0.00", 0},
      {"7.5", 750},
      {"1,000", 100000},
      {"12.345678万", 12'345'678},  // 123,456.78 yuan: fen precision after scaling
      {"1000000000000000", kAmountFenMax},  // exactly the maximum
      {"10000000亿", kAmountFenMax},
  };
  for (const auto& c : cases) {
    Result<int64_t> parsed = ParseYuan(c.text);
    ASSERT_TRUE(parsed.ok()) << "'" << c.text << "': " << parsed.status().message();
    EXPECT_EQ(*parsed, c.fen) << "'" << c.text << "'";
  }
}

TEST(TextYuanTest, ParseRefusesMalformedAmountsNamingTheInput) {
  const std::string_view refused[] = {
      "-1",
      "1.001",                 // finer than one fen
      "abc",
      "",
      "   ",
      "1..2",
      ",1",
      "1e5",
      "\xef\xbc\x91\xef\xbc\x92",  // "１２", full-width digits
      "1000000000000000.01",   // kAmountFenMax + 1 fen
      "10000001亿",            // above kAmountFenMax
      "99999999999999999999",  // overflows int64 in fen
      "1.",
      "+1",
      "万",
      "12.3456789万",          // finer than one fen after scaling
      "1.2.3",
  };
  for (std::string_view text : refused) {
    Result<int64_t> parsed = ParseYuan(text);
    ASSERT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << *parsed;
    EXPECT_TRUE(parsed.status().IsInvalidArgument()) << "'" << text << "'";
    EXPECT_THAT(parsed.status().message(), HasSubstr(Quoted(text)));
  }
}

TEST(TextYuanTest, ParseRefusesMisgroupedCommas) {
  // "1,5" is 1.5 in many locales; reading it as 15 yuan would misstate the amount tenfold.
  const std::string_view refused[] = {"1,5", "12,34", "1,2345", "1234,567", "1,,234", "1,",
                                      "1,234,56", "1,234.5,6", "1,234,"};
  for (std::string_view text : refused) {
    Result<int64_t> parsed = ParseYuan(text);
    ASSERT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << *parsed;
    EXPECT_TRUE(parsed.status().IsInvalidArgument()) << "'" << text << "'";
    EXPECT_THAT(parsed.status().message(), HasSubstr(Quoted(text)));
  }
  Result<int64_t> grouped = ParseYuan("12,345,678万");
  ASSERT_TRUE(grouped.ok()) << grouped.status().message();
  EXPECT_EQ(*grouped, 12'345'678LL * 10000 * 100);
}

TEST(TextYuanTest, FormatGivesTwoDecimalsAndGroups) {
  EXPECT_EQ(FormatYuan(0), "0.00");
  EXPECT_EQ(FormatYuan(5), "0.05");
  EXPECT_EQ(FormatYuan(10), "0.10");
  EXPECT_EQ(FormatYuan(100), "1.00");
  EXPECT_EQ(FormatYuan(99999), "999.99");
  EXPECT_EQ(FormatYuan(100000), "1,000.00");
  EXPECT_EQ(FormatYuan(123456789), "1,234,567.89");
  EXPECT_EQ(FormatYuan(kAmountFenMax), "1,000,000,000,000,000.00");
}

TEST(TextYuanTest, FormatNegativeHasLeadingMinus) {
  EXPECT_EQ(FormatYuan(-5), "-0.05");
  EXPECT_EQ(FormatYuan(-123456789), "-1,234,567.89");
}

TEST(TextYuanTest, FormatInt64ExtremesDoNotCrash) {
  EXPECT_EQ(FormatYuan(kInt64Min), "-92,233,720,368,547,758.08");
  EXPECT_EQ(FormatYuan(kInt64Max), "92,233,720,368,547,758.07");
}

TEST(TextYuanTest, ParseOfFormatIsIdentityForSeededAmounts) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<int64_t> values = {0, 1, 9, 10, 99, 100, 101, 999, 1000, 99999, 100000,
                                 kAmountFenMax - 1, kAmountFenMax};
  std::uniform_int_distribution<int64_t> uniform(0, kAmountFenMax);
  std::uniform_int_distribution<int> digits(1, 17);
  for (int i = 0; i < 5000; ++i) {
    values.push_back(uniform(rng));
    // Spread over magnitudes too: a value with a random number of digits.
    int64_t bound = 1;
    for (int d = digits(rng); d > 0; --d) bound *= 10;
    values.push_back(uniform(rng) % bound);
  }
  for (int64_t x : values) {
    const std::string text = FormatYuan(x);
    Result<int64_t> back = ParseYuan(text);
    ASSERT_TRUE(back.ok()) << x << " -> '" << text << "': " << back.status().message();
    ASSERT_EQ(*back, x) << "'" << text << "'";
  }
  // Just past validity: the formatted form of kAmountFenMax + 1 is refused.
  Result<int64_t> past = ParseYuan(FormatYuan(kAmountFenMax + 1));
  EXPECT_FALSE(past.ok());
  EXPECT_TRUE(past.status().IsInvalidArgument());
}

// ---------------------------------------------------------------- USCC

constexpr std::array<std::string_view, 2> kValidUscc = {"91440300708461136T", "91110000802100433B"};

TEST(TextUsccTest, ReferenceExamplesAreValid) {
  for (std::string_view code : kValidUscc) {
    Status status = CheckUscc(code);
    EXPECT_TRUE(status.ok()) << code << ": " << status.message();
    EXPECT_EQ(UsccCheckChar(code.substr(0, 17)), code[17]) << code;
  }
}

TEST(TextUsccTest, WrongCheckCharacterIsRefusedNamingIt) {
  Status status = CheckUscc("91440300708461136X");
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_THAT(status.message(), HasSubstr("91440300708461136X"));
  EXPECT_THAT(status.message(), HasSubstr("check character"));
  EXPECT_THAT(status.message(), HasSubstr("'T'"));  // the expected check character
}

TEST(TextUsccTest, WrongLengthIsRefused) {
  for (std::string_view bad : {"", "9144030070846113", "91440300708461136",
                               "91440300708461136T0", "91440300708461136TT"}) {
    Status status = CheckUscc(bad);
    EXPECT_TRUE(status.IsInvalidArgument()) << "'" << bad << "'";
    EXPECT_THAT(status.message(), HasSubstr("18 characters"));
    EXPECT_THAT(status.message(), HasSubstr(Quoted(bad)));
  }
}

TEST(TextUsccTest, ForbiddenLettersAreRefusedInEveryPosition) {
  const std::string valid(kValidUscc[0]);
  for (char forbidden : std::string_view("IOZSV")) {
    for (size_t pos = 0; pos < valid.size(); ++pos) {
      std::string code = valid;
      code[pos] = forbidden;
      Status status = CheckUscc(code);
      EXPECT_TRUE(status.IsInvalidArgument()) << code;
      EXPECT_THAT(status.message(), HasSubstr("character " + std::to_string(pos + 1))) << code;
    }
  }
}

TEST(TextUsccTest, LowerCaseAndNonAsciiAreRefused) {
  for (std::string_view bad : {"91440300708461136t", "9144030070846113\xc3\xa9",
                               "a1440300708461136T", " 1440300708461136T"}) {
    EXPECT_TRUE(CheckUscc(bad).IsInvalidArgument()) << bad;
  }
}

TEST(TextUsccTest, EverySingleSubstitutionIsDetected) {
  // Weights 3^(i-1) mod 31 are nonzero and 31 is prime, so a change of one value by d
  // (0 < |d| < 31) changes the sum by d*w != 0 (mod 31): no single substitution collides.
  int tried = 0;
  int collisions = 0;
  for (std::string_view valid : kValidUscc) {
    for (size_t pos = 0; pos < valid.size(); ++pos) {
      for (char c : kUsccAlphabet) {
        if (c == valid[pos]) continue;
        std::string code(valid);
        code[pos] = c;
        ++tried;
        Status status = CheckUscc(code);
        if (status.ok()) {
          ++collisions;
          ADD_FAILURE() << "undetected substitution: " << code;
          continue;
        }
        EXPECT_TRUE(status.IsInvalidArgument()) << code;
        EXPECT_THAT(status.message(), HasSubstr("check character")) << code;
      }
    }
  }
  EXPECT_EQ(tried, 2 * 18 * 30);
  EXPECT_EQ(collisions, 0);
}

TEST(TextUsccTest, CheckCharGeneratesValidCodes) {
  EXPECT_EQ(UsccCheckChar("91440300708461136"), 'T');
  EXPECT_EQ(UsccCheckChar("91110000802100433"), 'B');
  EXPECT_EQ(UsccCheckChar("00000000000000000"), '0');  // sum 0 -> c = 31 -> 0
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, kUsccAlphabet.size() - 1);
  for (int i = 0; i < 2000; ++i) {
    std::string first17;
    for (int j = 0; j < 17; ++j) first17.push_back(kUsccAlphabet[pick(rng)]);
    const char check = UsccCheckChar(first17);
    ASSERT_NE(check, '\0') << first17;
    Status status = CheckUscc(first17 + check);
    EXPECT_TRUE(status.ok()) << first17 << check << ": " << status.message();
  }
}

TEST(TextUsccTest, CheckCharOfInvalidPrefixIsNul) {
  EXPECT_EQ(UsccCheckChar(""), '\0');
  EXPECT_EQ(UsccCheckChar("9144030070846113"), '\0');     // 16
  EXPECT_EQ(UsccCheckChar("91440300708461136T"), '\0');   // 18
  EXPECT_EQ(UsccCheckChar("9144030070846113I"), '\0');    // forbidden letter
  EXPECT_EQ(UsccCheckChar("9144030070846113a"), '\0');    // lower case
  EXPECT_EQ(UsccCheckChar(std::string_view("9144030070846113\0", 17)), '\0');
}

// ---------------------------------------------------------------- Districts

TEST(TextDistrictTest, AllElevenShenzhenDistrictsAreAccepted) {
  const std::vector<std::string_view> expected = {
      "futian",  "luohu",    "nanshan",   "yantian", "baoan",   "longgang",
      "longhua", "pingshan", "guangming", "dapeng",  "shenshan"};
  for (std::string_view d : expected) EXPECT_TRUE(IsShenzhenDistrict(d)) << d;
  auto listed = ShenzhenDistricts();
  EXPECT_EQ(std::vector<std::string_view>(listed.begin(), listed.end()), expected);
}

TEST(TextDistrictTest, OtherSpellingsAreRefused) {
  for (std::string_view bad : {"Futian", "shenzhen", "FUTIAN", " futian", "futian ", "",
                               "bao'an", "福田"}) {
    EXPECT_FALSE(IsShenzhenDistrict(bad)) << "'" << bad << "'";
  }
}

// ---------------------------------------------------------------- Dates

TEST(TextDateTest, ParseIsoDateAcceptsValidDates) {
  EXPECT_EQ(ParseIsoDate("1970-01-01"), int64_t{0});
  EXPECT_EQ(ParseIsoDate("1970-01-02"), int64_t{1});
  EXPECT_EQ(ParseIsoDate("2000-03-01"), int64_t{11017});
  EXPECT_EQ(ParseIsoDate("2025-01-01"), int64_t{20089});
  EXPECT_EQ(ParseIsoDate("2024-02-29"), int64_t{19782});
  EXPECT_TRUE(ParseIsoDate("2000-02-29").has_value());  // divisible by 400
  EXPECT_TRUE(ParseIsoDate("2025-12-31").has_value());
}

TEST(TextDateTest, ParseIsoDateRefusesInvalidDates) {
  for (std::string_view bad :
       {"2025-02-29", "2100-02-29", "2025-13-01", "2025-00-10", "2025-04-31", "2025-01-32",
        "2025-01-00", "2025-1-01", "2025-01-1", "25-01-01", "2025/01/01", "2025-01-01T",
        "20250101", "", "yesterday", "2025-0a-01", "+025-01-01", "2025-+1-01", " 2025-01-1",
        "2025-01-1 "}) {
    EXPECT_FALSE(ParseIsoDate(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(TextDateTest, FormatIsoDateRoundTripsEveryDayFrom1970To2100) {
  const std::optional<int64_t> first = ParseIsoDate("1970-01-01");
  const std::optional<int64_t> last = ParseIsoDate("2100-12-31");
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(last.has_value());
  std::string previous;
  for (int64_t day = *first; day <= *last; ++day) {
    const std::string text = FormatIsoDate(day);
    ASSERT_EQ(text.size(), 10u) << day;
    ASSERT_EQ(ParseIsoDate(text), day) << text;
    ASSERT_LT(previous, text) << day;  // strictly increasing, no day skipped or repeated
    previous = text;
  }
  EXPECT_EQ(previous, "2100-12-31");
  EXPECT_EQ(FormatIsoDate(0), "1970-01-01");
  EXPECT_EQ(FormatIsoDate(19782), "2024-02-29");
}

TEST(TextDateTest, ShanghaiMidnightIsSixteenHundredUtcTheDayBefore) {
  EXPECT_EQ(ShanghaiMidnightMs("2025-01-01"), int64_t{1735660800000});  // 2024-12-31T16:00:00Z
  EXPECT_EQ(ShanghaiMidnightMs("1970-01-01"), -kShanghaiOffsetMs);
  EXPECT_FALSE(ShanghaiMidnightMs("2025-02-29").has_value());
}

TEST(TextDateTest, ShanghaiDateChangesAtSixteenHundredUtc) {
  const int64_t midnight = 1735660800000;  // 2024-12-31T16:00:00.000Z
  EXPECT_EQ(ShanghaiDate(midnight - 1), "2024-12-31");  // 15:59:59.999Z
  EXPECT_EQ(ShanghaiDate(midnight), "2025-01-01");      // 16:00:00.000Z
  EXPECT_EQ(ShanghaiDate(midnight + kDayMs - 1), "2025-01-01");
  EXPECT_EQ(ShanghaiDate(midnight + kDayMs), "2025-01-02");
  EXPECT_EQ(ShanghaiDate(0), "1970-01-01");
  EXPECT_EQ(ShanghaiDate(-kShanghaiOffsetMs), "1970-01-01");
  EXPECT_EQ(ShanghaiDate(-kShanghaiOffsetMs - 1), "1969-12-31");
}

// ---------------------------------------------------------------- Instants

constexpr int64_t k20250301T0130Z = 1740792600000;  // 2025-03-01T01:30:00Z = 09:30 Shanghai

TEST(TextDateTest, ParseInstantAcceptsDatesLocalTimesAndOffsets) {
  struct Case {
    std::string_view text;
    int64_t utc_ms;
  };
  const Case cases[] = {
      {"2025-03-01", k20250301T0130Z - 9 * 3600000 - 1800000},  // Shanghai midnight
      {"2025-03-01T09:30:00", k20250301T0130Z},
      {"2025-03-01T09:30:00+08:00", k20250301T0130Z},
      {"2025-03-01T09:30:00.5+08:00", k20250301T0130Z + 500},
      {"2025-03-01T09:30:00.123", k20250301T0130Z + 123},
      {"2025-03-01T01:30:00Z", k20250301T0130Z},
      {"2025-03-01T01:30:00.250Z", k20250301T0130Z + 250},
      {"2025-03-01T00:00:00", k20250301T0130Z - 9 * 3600000 - 1800000},
      {"2025-03-01T23:59:59.999", k20250301T0130Z + 14 * 3600000 + 1800000 - 1},
  };
  for (const auto& c : cases) {
    Result<int64_t> parsed = ParseInstant(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().message();
    EXPECT_EQ(*parsed, c.utc_ms) << c.text;
  }
  EXPECT_EQ(*ParseInstant("2025-03-01"), *ShanghaiMidnightMs("2025-03-01"));
  EXPECT_EQ(*ParseInstant("2025-03-01T01:30:00Z"), *ParseInstant("2025-03-01T09:30:00"));
}

TEST(TextDateTest, ParseInstantRefusesMalformedTimesNamingTheInput) {
  for (std::string_view bad :
       {"2025-03-01T25:00:00", "2025-03-01T24:00:00", "2025-03-01T09:60:00",
        "2025-03-01T09:30:60", "2025-03-01T09:30", "2025-03-01T09:30:00-05:00", "yesterday", "",
        "2025-02-29T09:30:00", "2025-03-01 09:30:00", "2025-03-01T09:30:00.", "2025-03-01T09:30:00.1234",
        "2025-03-01T09:30:00z", "2025-03-01T09:30:00+08", "2025-03-01T09:30:00Z+08:00",
        "2025-03-01T9:30:00", "2025-03-01T09:30:00 "}) {
    Result<int64_t> parsed = ParseInstant(bad);
    ASSERT_FALSE(parsed.ok()) << "'" << bad << "' parsed as " << *parsed;
    EXPECT_TRUE(parsed.status().IsInvalidArgument()) << "'" << bad << "'";
    EXPECT_THAT(parsed.status().message(), HasSubstr(Quoted(bad)));
  }
}

TEST(TextDateTest, FormatInstantOfParseInstantRoundTrips) {
  EXPECT_EQ(FormatInstant(k20250301T0130Z), "2025-03-01T09:30:00.000+08:00");
  EXPECT_EQ(FormatInstant(*ParseInstant("2025-03-01T01:30:00Z")), "2025-03-01T09:30:00.000+08:00");
  EXPECT_EQ(FormatInstant(*ParseInstant("2025-03-01")), "2025-03-01T00:00:00.000+08:00");
  EXPECT_EQ(FormatInstant(1735660800000 - 1), "2024-12-31T23:59:59.999+08:00");
  for (std::string_view canonical :
       {"2025-03-01T09:30:00.500+08:00", "1970-01-01T00:00:00.000+08:00",
        "2024-02-29T23:59:59.999+08:00", "2100-12-31T12:00:00.001+08:00"}) {
    Result<int64_t> parsed = ParseInstant(canonical);
    ASSERT_TRUE(parsed.ok()) << canonical << ": " << parsed.status().message();
    EXPECT_EQ(FormatInstant(*parsed), canonical);
  }
}

TEST(TextDateTest, ParseInstantOfFormatInstantIsIdentityForSeededInstants) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  // From Shanghai midnight of 1970-01-01 to the end of 2100.
  std::uniform_int_distribution<int64_t> instant(-kShanghaiOffsetMs, 4'133'951'999'999);
  for (int i = 0; i < 20000; ++i) {
    const int64_t ms = instant(rng);
    const std::string text = FormatInstant(ms);
    Result<int64_t> back = ParseInstant(text);
    ASSERT_TRUE(back.ok()) << ms << " -> " << text << ": " << back.status().message();
    ASSERT_EQ(*back, ms) << text;
    ASSERT_EQ(text.substr(0, 10), ShanghaiDate(ms)) << ms;
  }
}

}  // namespace
}  // namespace fundledger::events
