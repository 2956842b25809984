// Goal: the fixture builds a ledger with the Shenzhen policy and a first award passes.
#include "tests/testutil/testutil.h"

namespace fundledger {
namespace {
using testutil::LedgerFixture;
class FixtureSmokeTest : public LedgerFixture {};
TEST_F(FixtureSmokeTest, PolicyIsInForce) {
  ASSERT_NE(ledger_->state().PolicyAt(testutil::At("2025-06-01")), nullptr);
  EXPECT_EQ(ledger_->state().PolicyAt(testutil::At("2025-06-01"))->policy.id, "shenzhen-ai-pioneer-2024");
}
}  // namespace
}  // namespace fundledger
