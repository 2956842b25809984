// LEDGER_CHECK: programmer errors abort, in every build type (STYLE.md §6): a ledger of public
// money must not run on in an unknown state. LEDGER_DCHECK is for costly checks only.
#pragma once

#include <sstream>

namespace fundledger::internal_check {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace fundledger::internal_check

#define LEDGER_CHECK(cond)      \
  if (cond) {                   \
  } else                        \
    ::fundledger::internal_check::CheckFailure(__FILE__, __LINE__, #cond)

#ifdef NDEBUG
#define LEDGER_DCHECK(cond) \
  if (true) {               \
  } else                    \
    ::fundledger::internal_check::CheckFailure(__FILE__, __LINE__, #cond)
#else
#define LEDGER_DCHECK(cond) LEDGER_CHECK(cond)
#endif
