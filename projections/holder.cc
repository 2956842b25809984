// The one form in which key holders are compared (separation of duties is about people, and one
// person is registered by different admins, on different days, with different keyboards).
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <climits>

#include "projections/projections.h"

namespace fundledger::projections {

std::string NormalizeHolder(std::string_view holder) {
  UErrorCode error = U_ZERO_ERROR;
  // NFKC_Casefold is built into ICU's data library: no file is read, no locale is consulted.
  const icu::Normalizer2* nfkc_casefold = icu::Normalizer2::getNFKCCasefoldInstance(error);
  LEDGER_CHECK(U_SUCCESS(error) && nfkc_casefold != nullptr)
      << "ICU NFKC_Casefold data: " << u_errorName(error);
  const auto length = static_cast<int32_t>(std::min<size_t>(holder.size(), INT32_MAX));
  icu::UnicodeString folded = nfkc_casefold->normalize(
      icu::UnicodeString::fromUTF8(icu::StringPiece(holder.data(), length)), error);
  LEDGER_CHECK(U_SUCCESS(error)) << "NFKC_Casefold: " << u_errorName(error);
  // Runs of white space (any Unicode White_Space) become one space; none at either end.
  icu::UnicodeString spaced;
  bool pending_space = false;
  for (int32_t i = 0; i < folded.length();) {
    UChar32 c = folded.char32At(i);
    i += U16_LENGTH(c);
    if (u_isUWhiteSpace(c)) {
      pending_space = !spaced.isEmpty();
      continue;
    }
    if (pending_space) spaced.append(static_cast<UChar>(' '));
    pending_space = false;
    spaced.append(c);
  }
  std::string out;
  spaced.toUTF8String(out);
  return out;
}

}  // namespace fundledger::projections
