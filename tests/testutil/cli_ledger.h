// The small ledger that command-line suites start every test from, made once per suite by the
// fundledger binary itself (so the suites test the CLI from `key gen` and `init` on) and copied
// into each test's directory instead of paying for six processes per test.
#pragma once

#include <string>

#include "tests/testutil/testutil.h"

namespace fundledger::testutil {

// A directory holding `ledger/` and the keys authority.pem (created the ledger), admin.pem
// (admin of LEDGER-ADMIN, holder "admin") and clerk.pem (clerk of SZ-STIB, holder "clerk one"),
// each with its FILE.pub: entries 1, 2 and 3, recorded at `now` (FUNDLEDGER_NOW). Every step
// that fails is a test failure (EXPECT), so a suite's SetUpTestSuite may build it. Not copyable;
// removed with its directory when destroyed.
class CliTemplateLedger {
 public:
  // Runs `binary` to build the ledger named `name`.
  CliTemplateLedger(const std::string& binary, const std::string& now, const std::string& name);
  CliTemplateLedger(const CliTemplateLedger&) = delete;
  CliTemplateLedger& operator=(const CliTemplateLedger&) = delete;

  // Copies everything into `dir` (replacing files of the same name) and sets the private keys
  // to 0600 again, as the CLI requires; a failure is a fatal test failure (ASSERT).
  void CopyTo(const std::string& dir) const;

  // Key ids (lowercase hex, as `key gen` printed them).
  const std::string& authority_id() const { return authority_id_; }
  const std::string& admin_id() const { return admin_id_; }
  const std::string& clerk_id() const { return clerk_id_; }

 private:
  TempDir dir_;
  std::string authority_id_, admin_id_, clerk_id_;
};

}  // namespace fundledger::testutil
