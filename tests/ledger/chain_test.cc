// Goal: the one chain check (ledger/chain.h) is what verify, audit and import apply, and the
// parallel replay that checks signatures ahead of the fold finds exactly what an in-order check
// would: entry 1 signed by its authority key but naming another signer id is refused by
// verify (check_rules off), audit and import alike; a forged signature or an unregistered
// signer in a later replay window is named at its own seq; a key registered at seq k may sign
// k+1 even within one window.
#include "ledger/chain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "events/codec.h"
#include "events/crypto.h"
#include "ledger/audit.h"
#include "ledger/exchange.h"
#include "ledger/ledger.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::testing::HasSubstr;

ev::Bytes Joined(const StoredEntry& s) {
  ev::Bytes value = s.entry_bytes;
  value.insert(value.end(), s.signature.begin(), s.signature.end());
  return value;
}

// `e` signed by `key`, with its leaf hash, as a writer would seal it.
StoredEntry Seal(const ev::Entry& e, const ev::PrivateKey& key) {
  StoredEntry s;
  auto bytes = ev::EncodeEntryForSigning(e);
  LEDGER_CHECK(bytes.ok()) << bytes.status().ToString();
  s.entry_bytes = *bytes;
  s.signature = key.Sign(s.entry_bytes);
  s.leaf_hash = ev::EntryLeafHash(s.entry_bytes, s.signature);
  s.entry = e;
  return s;
}

std::optional<Finding> FirstIntegrity(const AuditReport& report) {
  for (const Finding& f : report.findings) {
    if (f.integrity) return f;
  }
  return std::nullopt;
}

class ChainTest : public testutil::LedgerFixture {
 protected:
  // Every stored value of the fixture's ledger, in order.
  std::vector<ev::Bytes> StoredValues() {
    std::vector<ev::Bytes> values;
    for (uint64_t seq = 1; seq <= ledger_->size(); ++seq) {
      auto raw = ledger_->ReadRaw(seq);
      EXPECT_TRUE(raw.ok());
      if (raw.ok()) values.push_back(*raw);
    }
    return values;
  }

  // Entry 1 as the authority signs it, but naming `signer` as its signer id.
  StoredEntry EntryOneNaming(const ev::KeyId& signer) {
    auto first = ledger_->Read(1);
    LEDGER_CHECK(first.ok()) << first.status().ToString();
    ev::Entry e = first->entry;
    e.signer = signer;
    return Seal(e, Key("authority"));
  }
};

TEST_F(ChainTest, VerifyRefusesEntryOneWhoseSignerIdIsNotItsKeys) {
  const StoredEntry forged = EntryOneNaming(Key("admin").key_id());
  MemoryEntrySource source({Joined(forged)});
  AuditOptions verify;  // what `fundledger verify` runs: chain and signatures, no rules
  verify.check_rules = false;
  verify.chain_only = true;
  Result<AuditReport> report = Audit(source, verify);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::optional<Finding> first = FirstIntegrity(*report);
  ASSERT_TRUE(first.has_value()) << "entry 1 naming another signer id verified";
  EXPECT_EQ(first->seq, 1u);
  EXPECT_EQ(first->code, "integrity.signer");
  EXPECT_THAT(first->message, HasSubstr("entry 1"));
}

TEST_F(ChainTest, AuditAndImportRefuseEntryOneWhoseSignerIdIsNotItsKeys) {
  const StoredEntry forged = EntryOneNaming(Key("admin").key_id());
  MemoryEntrySource source({Joined(forged)});
  Result<AuditReport> report = Audit(source, AuditOptions{});
  ASSERT_TRUE(report.ok());
  ASSERT_TRUE(FirstIntegrity(*report).has_value());
  EXPECT_EQ(FirstIntegrity(*report)->code, "integrity.signer");
  std::optional<LinkFailure> link = CheckLink(pj::LedgerState{}, forged, nullptr);
  ASSERT_TRUE(link.has_value());
  EXPECT_EQ(link->code, "integrity.signer");
  EXPECT_TRUE(CheckNextEntry(pj::LedgerState{}, forged, false).IsCorruption());
  // The genuine entry 1 follows an empty state.
  auto genuine = ledger_->Read(1);
  ASSERT_TRUE(genuine.ok());
  EXPECT_FALSE(CheckLink(pj::LedgerState{}, *genuine, nullptr).has_value());
}

TEST_F(ChainTest, ForgedSignatureInALaterWindowIsNamedAtItsSeq) {
  // Enough entries for several replay windows, in one append.
  std::vector<AppendRequest> requests;
  for (uint32_t i = 1; i <= 2600; ++i) {
    requests.push_back(AppendRequest{ev::RecipientRegistered{testutil::Uscc(i),
                                                             "recipient " + std::to_string(i),
                                                             ev::RecipientKind::kEnterprise,
                                                             "nanshan",
                                                             {}},
                                     ""});
  }
  auto appended = ledger_->Append(Key("clerk:SZ-STIB"), requests, clock_ms_, clock_ms_);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  std::vector<ev::Bytes> values = StoredValues();
  ASSERT_GT(values.size(), 2600u);
  {
    MemoryEntrySource intact(values);
    Result<AuditReport> report = Audit(intact, AuditOptions{});
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->IntegrityOk());
    EXPECT_EQ(report->entries, values.size());
  }
  const uint64_t seq = values.size() - 300;  // past the first windows
  values[seq - 1].back() ^= 0x01;            // the signature's last byte
  MemoryEntrySource forged(values);
  AuditOptions verify;
  verify.check_rules = false;
  verify.chain_only = true;
  Result<AuditReport> report = Audit(forged, verify);
  ASSERT_TRUE(report.ok());
  std::optional<Finding> first = FirstIntegrity(*report);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->seq, seq);
  EXPECT_EQ(first->code, "integrity.signature");
  EXPECT_EQ(report->entries, seq - 1);
}

TEST_F(ChainTest, KeyRegisteredAtKSignsKPlusOneAndAnUnregisteredSignerIsNamed) {
  ev::PrivateKey late = testutil::TestKey(240);
  const uint64_t registered = MustAppend(
      "admin", ev::KeyRegistered{late.public_key(), ev::Role::kClerk, "SZ-STIB", "late clerk"});
  auto next = ledger_->Append(
      late,
      std::vector<AppendRequest>{
          AppendRequest{ev::RecipientRegistered{
                            testutil::Uscc(7), "r7", ev::RecipientKind::kEnterprise, "nanshan", {}},
                        ""}},
      clock_ms_ + 60'000, clock_ms_ + 60'000);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  ASSERT_EQ(next->front().seq, registered + 1);
  std::vector<ev::Bytes> values = StoredValues();
  {
    MemoryEntrySource intact(values);
    Result<AuditReport> report = Audit(intact, AuditOptions{});
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->IntegrityOk()) << report->FindingsText();
  }
  // The same entry by a key nobody registered: its signature is valid, its signer is not.
  ev::PrivateKey stranger = testutil::TestKey(241);
  auto last = ledger_->Read(registered + 1);
  ASSERT_TRUE(last.ok());
  ev::Entry e = last->entry;
  e.signer = stranger.key_id();
  values.back() = Joined(Seal(e, stranger));
  MemoryEntrySource forged(values);
  Result<AuditReport> report = Audit(forged, AuditOptions{});
  ASSERT_TRUE(report.ok());
  std::optional<Finding> first = FirstIntegrity(*report);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->seq, registered + 1);
  EXPECT_EQ(first->code, "integrity.signer");
}

// verify folds only the chain's part: the head and the keys come out as the full fold's (so a
// key registered or revoked within the ledger is judged alike), and no other row is held.
TEST_F(ChainTest, VerifyFoldsTheHeadAndKeysAsAuditDoesAndNothingElse) {
  AddRecipient(1, ev::RecipientKind::kEnterprise);
  MustAppend("admin", ev::KeyRevoked{Key("treasurer2").key_id(), "left the bureau"});
  AddRecipient(2, ev::RecipientKind::kStartup);
  MemoryEntrySource source(StoredValues());
  Result<AuditReport> audit = Audit(source, AuditOptions{});
  AuditOptions verify_options;
  verify_options.check_rules = false;
  verify_options.chain_only = true;
  Result<AuditReport> verify = Audit(source, verify_options);
  ASSERT_TRUE(audit.ok() && verify.ok());
  ASSERT_TRUE(audit->IntegrityOk() && verify->IntegrityOk());
  EXPECT_EQ(verify->entries, audit->entries);
  EXPECT_EQ(verify->root, audit->root);
  const pj::LedgerState& full = audit->state;
  const pj::LedgerState& chain = verify->state;
  EXPECT_EQ(pj::EncodeRow(chain, "head"), pj::EncodeRow(full, "head"));
  ASSERT_EQ(chain.keys.size(), full.keys.size());
  for (const auto& [row, info] : full.keys) {
    EXPECT_EQ(pj::EncodeRow(chain, row), pj::EncodeRow(full, row)) << row;
  }
  const pj::KeyInfo* revoked = chain.FindKey(Key("treasurer2").key_id());
  ASSERT_NE(revoked, nullptr);
  EXPECT_NE(revoked->revoked_seq, 0u);
  EXPECT_FALSE(full.recipients.empty());
  EXPECT_TRUE(chain.recipients.empty());
  EXPECT_TRUE(chain.policies.empty());
  EXPECT_EQ(verify->state_hash, Hash{});
  EXPECT_NE(audit->state_hash, Hash{});
}

// A chain-only replay checks nothing else: asking it for rules or a stored ledger to compare
// is refused by name rather than one of the two silently dropped.
TEST_F(ChainTest, ChainOnlyWithRulesOrAStoredLedgerIsRefused) {
  MemoryEntrySource source(StoredValues());
  AuditOptions with_rules;
  with_rules.chain_only = true;  // check_rules left at its default
  AuditOptions with_stored;
  with_stored.check_rules = false;
  with_stored.chain_only = true;
  with_stored.stored = ledger_.get();
  for (const AuditOptions* options : {&with_rules, &with_stored}) {
    Result<AuditReport> report = Audit(source, *options);
    ASSERT_FALSE(report.ok());
    EXPECT_TRUE(report.status().IsInvalidArgument()) << report.status().ToString();
    EXPECT_THAT(report.status().message(), HasSubstr("chain_only"));
  }
}

}  // namespace
}  // namespace fundledger::ledger
