// Goal: the text forms people type (amounts, dates, instants, USCCs, hex, base64: CLI options
// and JSON fields) parse or are refused with a Status, never crash; what parses is in range
// and its printed form parses back to the same value.
#include <array>
#include <string>

#include "events/text.h"
#include "tests/fuzz/fuzz_util.h"

namespace ev = ::fundledger::events;
using ::fundledger::fuzz::Fail;

namespace {

void CheckAmount(std::string_view text) {
  auto fen = ev::ParseYuan(text);
  if (!fen.ok()) return;
  if (*fen < 0 || *fen > ev::kAmountFenMax) Fail("amount out of range");
  auto again = ev::ParseYuan(ev::FormatYuan(*fen));
  if (!again.ok() || *again != *fen) Fail("amount round trip");
}

void CheckDates(std::string_view text) {
  if (auto days = ev::ParseIsoDate(text)) {
    if (ev::ParseIsoDate(ev::FormatIsoDate(*days)) != days) Fail("date round trip");
    auto midnight = ev::ShanghaiMidnightMs(text);
    if (!midnight || ev::ShanghaiDate(*midnight) != ev::FormatIsoDate(*days)) {
      Fail("date midnight");
    }
  }
  auto ms = ev::ParseInstant(text);
  if (!ms.ok()) return;
  auto again = ev::ParseInstant(ev::FormatInstant(*ms));
  if (!again.ok() || *again != *ms) Fail("instant round trip");
}

void CheckEncodings(std::string_view text) {
  if (auto bytes = ev::FromBase64(text)) {
    if (ev::Base64(*bytes) != text) Fail("base64 is not strict");
  }
  if (auto hash = ev::ArrayFromHex<32>(text)) {
    if (ev::ArrayFromHex<32>(ev::Hex(*hash)) != hash) Fail("hex round trip");
  }
  if (ev::CheckUscc(text).ok()) {
    if (text.size() != 18) Fail("uscc length");
    if (ev::UsccCheckChar(text.substr(0, 17)) != text[17]) Fail("uscc check character");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = ::fundledger::fuzz::AsText(data, size);
  CheckAmount(text);
  CheckDates(text);
  CheckEncodings(text);
  return 0;
}
