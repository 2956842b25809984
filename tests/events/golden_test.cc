// Goal: the bytes third parties verify (canonical entry bytes, signatures, leaf hashes, the
// chain) do not change by accident. A fixed event script signed with fixed keys is compared
// byte for byte with tests/golden/. A diff is a format change (STYLE.md §3): bump
// formatVersion, update schemas/FORMAT.md, and rewrite with LEDGER_UPDATE_GOLDEN=1.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <fstream>
#include <sstream>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "tests/testutil/testutil.h"

namespace fundledger::events {
namespace {

using testutil::TestKey;

std::vector<Entry> Script() {
  PrivateKey authority = TestKey(1), clerk = TestKey(2), reviewer = TestKey(3), treasurer = TestKey(4);
  LedgerId ledger_id{};
  for (size_t i = 0; i < ledger_id.size(); ++i) ledger_id[i] = static_cast<uint8_t>(0xa0 + i);
  std::vector<Body> bodies = {
      LedgerCreated{"golden ledger", authority.public_key(), "LEDGER-ADMIN", "authority", "CNY", "fen", 100},
      KeyRegistered{clerk.public_key(), Role::kClerk, "SZ-STIB", "Li Na"},
      KeyRegistered{reviewer.public_key(), Role::kReviewer, "SZ-STIB", "Wang Fang"},
      KeyRegistered{treasurer.public_key(), Role::kTreasurer, "SZ-FIN", "Zhao Lei"},
      BudgetAllocated{"2", 2025, 500'000'000'00, "city"},
      RecipientRegistered{"91440300708461136T", "Golden AI Co., Ltd.", RecipientKind::kStartup, "nanshan", {"91110000802100433B"}},
      ApplicationSubmitted{"A-1", "91440300708461136T", "2", "startup", 2025, 12'000'000'00, "compute_service_contract",
                           {{"rented_compute", "true"}}, {Sha256(std::string_view("contract A-1"))}},
      ApplicationApproved{"A-1", "meets the guide"},
      AwardGranted{"A-1", 7'200'000'00, 7'200'000'00, 0, ""},
      PayoutDisbursed{"A-1", 3'000'000'00, "SZFIN-1"},
      PayoutReversed{"A-1", 1'00, "bank returned"},
      AwardRevoked{"A-1", 1'00, "rounding"},
      ApplicationRejected{"A-2", "incomplete"},
      KeyRevoked{clerk.key_id(), "left the bureau"},
      AuditAttested{10, Sha256(std::string_view("root")), Sha256(std::string_view("state")), Sha256(std::string_view("f")), 0},
  };
  std::vector<const PrivateKey*> signers = {&authority, &authority, &authority, &authority, &treasurer,
                                            &clerk,     &clerk,     &reviewer,  &reviewer,  &treasurer,
                                            &treasurer, &reviewer,  &reviewer,  &authority, &authority};
  std::vector<Entry> entries;
  Hash prev{};
  for (size_t i = 0; i < bodies.size(); ++i) {
    Entry e;
    e.ledger_id = ledger_id;
    e.seq = i + 1;
    e.prev_hash = prev;
    e.recorded_at_ms = 1'735'700'000'000 + static_cast<int64_t>(i) * 60'000;
    e.signer = signers[i]->key_id();
    e.idempotency_key = i % 3 == 0 ? "key-" + std::to_string(i) : "";
    e.body = bodies[i];
    Bytes bytes = EncodeEntry(e);
    prev = EntryLeafHash(bytes, signers[i]->Sign(bytes));
    entries.push_back(std::move(e));
  }
  return entries;
}

std::string Dump(const std::vector<Entry>& entries, std::string* binary) {
  PrivateKey authority = TestKey(1), clerk = TestKey(2), reviewer = TestKey(3), treasurer = TestKey(4);
  std::map<KeyId, const PrivateKey*> keys = {{authority.key_id(), &authority}, {clerk.key_id(), &clerk},
                                             {reviewer.key_id(), &reviewer}, {treasurer.key_id(), &treasurer}};
  std::ostringstream text;
  for (const Entry& e : entries) {
    Bytes bytes = EncodeEntry(e);
    Signature sig = keys.at(e.signer)->Sign(bytes);
    binary->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    binary->append(reinterpret_cast<const char*>(sig.data()), sig.size());
    text << e.seq << " " << KindName(e.body) << " bytes " << bytes.size() << "\n  entry " << Base64(bytes)
         << "\n  signature " << Base64(sig) << "\n  leaf " << Hex(EntryLeafHash(bytes, sig)) << "\n";
  }
  return text.str();
}

std::string ReadOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(GoldenTest, EntryBytesSignaturesAndLeafHashesAreUnchanged) {
  std::string binary;
  std::string text = Dump(Script(), &binary);
  const std::string dir = testutil::SourcePath("tests/golden/");
  if (std::getenv("LEDGER_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(dir + "entries.bin", std::ios::binary) << binary;
    std::ofstream(dir + "entries.txt") << text;
  }
  EXPECT_EQ(ReadOrEmpty(dir + "entries.txt"), text) << "golden text differs: a format change (see the file's comment)";
  EXPECT_TRUE(ReadOrEmpty(dir + "entries.bin") == binary) << "golden bytes differ";
}

TEST(GoldenTest, GoldenEntriesDecodeAndVerify) {
  std::string binary = ReadOrEmpty(testutil::SourcePath("tests/golden/entries.bin"));
  std::vector<Entry> script = Script();
  PrivateKey authority = TestKey(1), clerk = TestKey(2), reviewer = TestKey(3), treasurer = TestKey(4);
  std::map<KeyId, PublicKey> keys = {{authority.key_id(), authority.public_key()}, {clerk.key_id(), clerk.public_key()},
                                     {reviewer.key_id(), reviewer.public_key()}, {treasurer.key_id(), treasurer.public_key()}};
  size_t offset = 0;
  for (const Entry& expected : script) {
    size_t size = EncodeEntry(expected).size();
    ASSERT_LE(offset + size + 64, binary.size());
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(binary.data()) + offset, size);
    Signature sig{};
    std::memcpy(sig.data(), binary.data() + offset + size, 64);
    auto decoded = DecodeEntry(bytes, BytesOrigin::kStored);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, expected);
    EXPECT_TRUE(Ed25519Verify(keys.at(decoded->signer), bytes, sig)) << "seq " << expected.seq;
    offset += size + 64;
  }
  EXPECT_EQ(offset, binary.size());
}

}  // namespace
}  // namespace fundledger::events
