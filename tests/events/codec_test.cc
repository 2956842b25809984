// Goal: pin down the format third parties verify (DESIGN.md §2) and the strict JSON forms of
// events/codec.h. Every body kind round-trips canonically (bytes -> entry -> the same bytes);
// DecodeEntry refuses every byte form that is not the one canonical form of a known entry
// (truncated, misaligned, trailing words, out-of-order layout, unknown version or kind,
// fixed-size fields of the wrong length) with kCorruption for stored bytes and
// kInvalidArgument for submitted bytes; random byte flips never decode silently to the same
// entry; and the JSON readers refuse unknown fields, wrong types, floats for money, out-of-range
// integers, bad hex, unknown enum names and kinds, duplicate keys and malformed text.
#include "events/codec.h"

#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "events/crypto.h"
#include "events/model.h"
#include "events/text.h"
#include "schemas/ledger.capnp.h"
#include "tests/testutil/testutil.h"

namespace fundledger::events {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
namespace s = ::fundledger::schema;

// Seed for the property tests: LEDGER_TEST_SEED overrides the fixed default (STYLE.md §7).
uint64_t TestSeed() {
  if (const char* env = std::getenv("LEDGER_TEST_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return 20250301;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ShippedPolicyText() {
  return ReadText(testutil::SourcePath("schemas/policies/shenzhen-ai-pioneer-2024.json"));
}

// One body of every kind, in Body's index order, with non-trivial values (non-ASCII text,
// lists of several items, values near the type limits).
std::vector<Body> SampleBodies() {
  const PublicKey authority = testutil::TestKey(1).public_key();
  const PublicKey reviewer = testutil::TestKey(2).public_key();
  const std::string uscc = testutil::Uscc(1);
  std::vector<Body> bodies;
  bodies.push_back(LedgerCreated{"深圳 AI 先锋城市 subsidy ledger", authority, "LEDGER-ADMIN", "张三", "CNY", "fen", 100});
  bodies.push_back(KeyRegistered{reviewer, Role::kReviewer, "SZ-STIB", "李四 (reviewer)"});
  bodies.push_back(KeyRevoked{KeyIdOf(reviewer), "key lost on 2025-03-01"});
  bodies.push_back(PolicyPublished{testutil::ShenzhenPolicy(), "2024-12-18"});
  bodies.push_back(RecipientRegistered{uscc, "深圳某某科技有限公司", RecipientKind::kResearchInstitute, "nanshan",
                                       {testutil::Uscc(2), testutil::Uscc(3)}});
  bodies.push_back(BudgetAllocated{"10", 2026, 123'456'789'012, "futian"});
  bodies.push_back(ApplicationSubmitted{"A-2025-0001", uscc, "2", "startup", 2025, 400'000'001,
                                        "compute_service_contract",
                                        {{"cac_filing_number", "粤-2025-77"}, {"rented_compute", "true"}},
                                        {testutil::Digest("contract 1"), testutil::Digest("invoice 1")}});
  bodies.push_back(ApplicationApproved{"A-2025-0001", "meets every condition of measure 2"});
  bodies.push_back(ApplicationRejected{"A-2025-0002", "basis not evidenced"});
  bodies.push_back(AwardGranted{"A-2025-0001", std::numeric_limits<int64_t>::max(), 75'000'000,
                                std::numeric_limits<int64_t>::min(), "merit: top of the benchmark"});
  bodies.push_back(AwardRevoked{"A-2025-0001", 2'500, "over-claimed"});
  bodies.push_back(PayoutDisbursed{"A-2025-0001", 100'000'000, "TREAS-2025-000042"});
  bodies.push_back(PayoutReversed{"A-2025-0001", -99, "returned by the bank"});
  bodies.push_back(AuditAttested{1'234'567, testutil::Digest("root"), testutil::Digest("state"),
                                 testutil::Digest("findings"), 4'000'000'000u});
  return bodies;
}

Entry SampleEntry(Body body) {
  Entry e;
  const size_t kind = body.index();
  for (size_t i = 0; i < e.ledger_id.size(); ++i) e.ledger_id[i] = static_cast<uint8_t>(0xa0 + i);
  e.seq = (uint64_t{1} << 40) + kind;
  e.prev_hash = testutil::Digest("prev " + std::to_string(kind));
  e.recorded_at_ms = testutil::At("2025-03-01T09:30:00") + static_cast<int64_t>(kind);
  e.signer = KeyIdOf(testutil::TestKey(3).public_key());
  e.idempotency_key = "batch-7/line-" + std::to_string(kind);
  e.body = std::move(body);
  return e;
}

std::vector<Entry> SampleEntries() {
  std::vector<Entry> out;
  for (Body& body : SampleBodies()) out.push_back(SampleEntry(std::move(body)));
  return out;
}

// A small entry (for exhaustive flips).
Entry SmallEntry() { return SampleEntry(ApplicationApproved{"A-1", "ok"}); }

kj::Array<capnp::word> Words(const Bytes& bytes) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
  return words;
}

Bytes ToBytes(kj::ArrayPtr<const capnp::word> words) {
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

// "" if equal, else the first differing offset (entries are too long to print whole).
std::string FirstDifference(const Bytes& a, const Bytes& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) return "first difference at byte " + std::to_string(i);
  }
  if (a.size() != b.size()) return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
  return "";
}

// Copies canonical `bytes` into a builder, lets `change` edit it through the generated schema
// API, and returns the canonical bytes of the result.
template <typename Change>
Bytes Rewrite(const Bytes& bytes, Change&& change) {
  kj::Array<capnp::word> words = Words(bytes);
  kj::ArrayPtr<const capnp::word> segments[1] = {words.asPtr()};
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1));
  capnp::MallocMessageBuilder builder;
  builder.setRoot(reader.getRoot<s::Entry>());
  change(builder.getRoot<s::Entry>());
  kj::Array<capnp::word> canonical = capnp::canonicalize(builder.getRoot<s::Entry>().asReader());
  return ToBytes(canonical.asPtr());
}

capnp::Data::Reader DataOf(const std::vector<uint8_t>& bytes) { return capnp::Data::Reader(bytes.data(), bytes.size()); }

// Both origins fail, with the code each origin promises.
void ExpectRefusedBothWays(const Bytes& bytes, const std::string& what) {
  SCOPED_TRACE(what);
  Result<Entry> stored = DecodeEntry(bytes, BytesOrigin::kStored);
  ASSERT_FALSE(stored.ok()) << "stored bytes decoded";
  EXPECT_TRUE(stored.status().IsCorruption()) << stored.status().ToString();
  Result<Entry> submitted = DecodeEntry(bytes, BytesOrigin::kSubmitted);
  ASSERT_FALSE(submitted.ok()) << "submitted bytes decoded";
  EXPECT_TRUE(submitted.status().IsInvalidArgument()) << submitted.status().ToString();
}

class CodecTest : public ::testing::Test {};

// ---------------------------------------------------------------- canonical round trip

TEST_F(CodecTest, SamplesCoverEveryBodyKind) {
  std::vector<Body> bodies = SampleBodies();
  ASSERT_EQ(bodies.size(), kKindCount);
  for (size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(bodies[i].index(), i) << KindName(i);
}

TEST_F(CodecTest, EveryBodyKindRoundTripsCanonically) {
  for (const Entry& entry : SampleEntries()) {
    SCOPED_TRACE(KindName(entry.body));
    Bytes bytes = EncodeEntry(entry);
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(bytes.size() % 8, 0u);
    EXPECT_EQ(EncodeEntry(entry), bytes) << "encoding is not deterministic";
    for (BytesOrigin origin : {BytesOrigin::kStored, BytesOrigin::kSubmitted}) {
      Result<Entry> decoded = DecodeEntry(bytes, origin);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      EXPECT_TRUE(*decoded == entry) << "decode(encode(e)) != e";
      EXPECT_EQ(EncodeEntry(*decoded), bytes) << "encode(decode(bytes)) != bytes";
    }
  }
}

TEST_F(CodecTest, ShenzhenPolicyEntryRoundTripsWithEveryMeasure) {
  Entry entry = SampleEntry(PolicyPublished{testutil::ShenzhenPolicy(), "2024-12-18"});
  ASSERT_GE(testutil::ShenzhenPolicy().measures.size(), 13u);
  Bytes bytes = EncodeEntry(entry);
  EXPECT_LT(bytes.size(), kEntryBytesMax);
  Result<Entry> decoded = DecodeEntry(bytes, BytesOrigin::kStored);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto& policy = std::get<PolicyPublished>(decoded->body).policy;
  EXPECT_EQ(policy, testutil::ShenzhenPolicy());
  EXPECT_EQ(EncodePolicy(policy), EncodePolicy(testutil::ShenzhenPolicy()));
  EXPECT_EQ(EncodeEntry(*decoded), bytes);
}

TEST_F(CodecTest, DifferentEntriesHaveDifferentBytes) {
  Entry a = SmallEntry();
  Entry b = a;
  b.seq += 1;
  Entry c = a;
  c.idempotency_key += "x";
  Entry d = a;
  std::get<ApplicationApproved>(d.body).note = "ok.";
  EXPECT_NE(EncodeEntry(a), EncodeEntry(b));
  EXPECT_NE(EncodeEntry(a), EncodeEntry(c));
  EXPECT_NE(EncodeEntry(a), EncodeEntry(d));
  EXPECT_NE(BodyDigest(a.body), BodyDigest(d.body));
  EXPECT_EQ(BodyDigest(a.body), BodyDigest(b.body)) << "the body digest covers the body only";
}

TEST_F(CodecTest, LeafHashIsSha256OfZeroByteEntryAndSignature) {
  Bytes bytes = EncodeEntry(SmallEntry());
  PrivateKey key = testutil::TestKey(9);
  Signature signature = key.Sign(bytes);
  Bytes preimage = {0x00};
  preimage.insert(preimage.end(), bytes.begin(), bytes.end());
  preimage.insert(preimage.end(), signature.begin(), signature.end());
  EXPECT_EQ(EntryLeafHash(bytes, signature), Sha256(preimage));
  EXPECT_TRUE(Ed25519Verify(key.public_key(), bytes, signature));
}

// Ed25519Verify keeps a verifying context per key and thread: a context must answer for its own
// key only, after a refusal as before it, and past the bound on kept contexts.
TEST_F(CodecTest, Ed25519VerifyAnswersForTheKeyGivenWhateverContextsItKeeps) {
  const Bytes message = EncodeEntry(SmallEntry());
  Bytes other_message = message;
  other_message.back() ^= 1;
  PrivateKey a = testutil::TestKey(9);
  PrivateKey b = testutil::TestKey(10);
  const Signature by_a = a.Sign(message);
  const Signature by_b = b.Sign(message);
  Signature flipped = by_a;
  flipped[5] ^= 0x10;
  auto check_all = [&] {
    EXPECT_TRUE(Ed25519Verify(a.public_key(), message, by_a));
    EXPECT_FALSE(Ed25519Verify(b.public_key(), message, by_a)) << "a's signature under b";
    EXPECT_TRUE(Ed25519Verify(b.public_key(), message, by_b));
    EXPECT_FALSE(Ed25519Verify(a.public_key(), message, by_b)) << "b's signature under a";
    EXPECT_FALSE(Ed25519Verify(a.public_key(), other_message, by_a)) << "another message";
    EXPECT_FALSE(Ed25519Verify(a.public_key(), message, flipped)) << "a flipped bit";
    EXPECT_TRUE(Ed25519Verify(a.public_key(), message, by_a)) << "a's context after refusals";
  };
  check_all();
  check_all();
  // More keys than a thread keeps contexts for: the set is dropped and made anew.
  for (size_t i = 0; i <= kVerifyContextsMax; ++i) {
    PublicKey key = a.public_key();
    key[0] ^= static_cast<uint8_t>(i);
    key[1] ^= static_cast<uint8_t>(i >> 8);
    if (key == a.public_key()) continue;
    EXPECT_FALSE(Ed25519Verify(key, message, by_a));
  }
  check_all();
  // Other threads keep contexts of their own.
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) check_all();
    });
  for (std::thread& thread : threads) thread.join();
}

// ---------------------------------------------------------------- refusals

TEST_F(CodecTest, DecodeRefusesEmptyMisalignedTruncatedAndOversizedBytes) {
  const Bytes good = EncodeEntry(SampleEntry(SampleBodies()[6]));
  ExpectRefusedBothWays(Bytes{}, "empty");
  ExpectRefusedBothWays(Bytes(good.begin(), good.end() - 1), "one byte short (not a multiple of 8)");
  Bytes plus_one = good;
  plus_one.push_back(0);
  ExpectRefusedBothWays(plus_one, "one byte over (not a multiple of 8)");
  ExpectRefusedBothWays(Bytes(good.begin(), good.begin() + 3), "three bytes");
  for (size_t words = 1; words * 8 < good.size(); words += 3) {
    ExpectRefusedBothWays(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(words * 8)),
                          "truncated to " + std::to_string(words) + " words");
  }
  ExpectRefusedBothWays(Bytes(good.begin(), good.end() - 8), "last word cut");
  Bytes huge(kEntryBytesMax + 8, 0);
  std::copy(good.begin(), good.end(), huge.begin());
  ExpectRefusedBothWays(huge, "over kEntryBytesMax");
}

TEST_F(CodecTest, DecodeRefusesTrailingWordsAndSegmentTable) {
  const Bytes good = EncodeEntry(SmallEntry());
  Bytes trailing = good;
  trailing.insert(trailing.end(), 8, 0);
  ExpectRefusedBothWays(trailing, "a trailing zero word");
  Bytes trailing_data = good;
  trailing_data.insert(trailing_data.end(), {1, 2, 3, 4, 5, 6, 7, 8});
  ExpectRefusedBothWays(trailing_data, "a trailing data word");

  // The standard stream framing (segment table first) is not the canonical flat form.
  kj::Array<capnp::word> words = Words(good);
  kj::ArrayPtr<const capnp::word> segments[1] = {words.asPtr()};
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1));
  capnp::MallocMessageBuilder builder;
  builder.setRoot(reader.getRoot<s::Entry>());
  kj::Array<capnp::word> framed = capnp::messageToFlatArray(builder);
  ExpectRefusedBothWays(ToBytes(framed.asPtr()), "segment table framing");
}

TEST_F(CodecTest, DecodeRefusesObjectsOutOfPreorder) {
  // Built field by field in reverse pointer order: every value is right, the layout is not the
  // canonical one (capnp doc/encoding.md: objects in pre-order), so its signature would be over
  // a second byte form of the same entry.
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<s::Entry>();
  auto approved = root.initBody().initApplicationApproved();
  approved.setNote("ok");
  approved.setApplicationId("A-1");
  root.setIdempotencyKey("k");
  const Entry model = SmallEntry();
  std::vector<uint8_t> signer(model.signer.begin(), model.signer.end());
  std::vector<uint8_t> prev(model.prev_hash.begin(), model.prev_hash.end());
  std::vector<uint8_t> ledger_id(model.ledger_id.begin(), model.ledger_id.end());
  root.setSigner(DataOf(signer));
  root.setPrevHash(DataOf(prev));
  root.setLedgerId(DataOf(ledger_id));
  root.setFormatVersion(kFormatVersion);
  root.setSeq(7);
  root.setRecordedAt(1);
  auto segments = builder.getSegmentsForOutput();
  ASSERT_EQ(segments.size(), 1u);
  Bytes bytes = ToBytes(segments[0]);
  // Precondition: the same values in canonical form are other bytes.
  Bytes canonical = Rewrite(bytes, [](s::Entry::Builder) {});
  ASSERT_NE(canonical, bytes);
  ASSERT_TRUE(DecodeEntry(canonical, BytesOrigin::kStored).ok());
  ExpectRefusedBothWays(bytes, "out of pre-order");
}

TEST_F(CodecTest, DecodeRefusesUnknownFormatVersion) {
  const Bytes good = EncodeEntry(SmallEntry());
  for (uint16_t version : {uint16_t{0}, uint16_t{2}, uint16_t{0xffff}}) {
    Bytes bytes = Rewrite(good, [version](s::Entry::Builder e) { e.setFormatVersion(version); });
    ExpectRefusedBothWays(bytes, "formatVersion " + std::to_string(version));
    Result<Entry> r = DecodeEntry(bytes, BytesOrigin::kSubmitted);
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr("version"));
    }
  }
}

TEST_F(CodecTest, DecodeRefusesUnknownBodyKind) {
  const Bytes good = EncodeEntry(SmallEntry());
  // The union discriminant sits in the root's data section, which a canonical message starts
  // right after the root pointer (word 1).
  const uint32_t offset = capnp::Schema::from<s::Entry::Body>().getProto().getStruct().getDiscriminantOffset();
  const size_t at = 8 + 2 * size_t{offset};
  ASSERT_LT(at + 1, good.size());
  const uint16_t current = static_cast<uint16_t>(good[at] | (good[at + 1] << 8));
  ASSERT_EQ(current, static_cast<uint16_t>(s::Entry::Body::APPLICATION_APPROVED));
  for (uint16_t kind : {uint16_t{kKindCount}, uint16_t{kKindCount + 1}, uint16_t{0xffff}}) {
    Bytes bytes = good;
    bytes[at] = static_cast<uint8_t>(kind & 0xff);
    bytes[at + 1] = static_cast<uint8_t>(kind >> 8);
    ExpectRefusedBothWays(bytes, "body kind " + std::to_string(kind));
  }
}

TEST_F(CodecTest, DecodeRefusesFixedSizeFieldsOfTheWrongLength) {
  const Bytes good = EncodeEntry(SmallEntry());
  for (size_t size : {size_t{0}, size_t{15}, size_t{17}, size_t{32}}) {
    std::vector<uint8_t> data(size, 0x5a);
    ExpectRefusedBothWays(Rewrite(good, [&](s::Entry::Builder e) { e.setLedgerId(DataOf(data)); }),
                          "ledgerId of " + std::to_string(size) + " bytes");
  }
  for (size_t size : {size_t{0}, size_t{16}, size_t{31}, size_t{33}, size_t{64}}) {
    std::vector<uint8_t> data(size, 0x5a);
    ExpectRefusedBothWays(Rewrite(good, [&](s::Entry::Builder e) { e.setPrevHash(DataOf(data)); }),
                          "prevHash of " + std::to_string(size) + " bytes");
    ExpectRefusedBothWays(Rewrite(good, [&](s::Entry::Builder e) { e.setSigner(DataOf(data)); }),
                          "signer of " + std::to_string(size) + " bytes");
  }
  // Fixed-size fields inside bodies.
  const Bytes key_registered = EncodeEntry(SampleEntry(SampleBodies()[1]));
  const Bytes key_revoked = EncodeEntry(SampleEntry(SampleBodies()[2]));
  const Bytes created = EncodeEntry(SampleEntry(SampleBodies()[0]));
  const Bytes submitted = EncodeEntry(SampleEntry(SampleBodies()[6]));
  const Bytes attested = EncodeEntry(SampleEntry(SampleBodies()[13]));
  std::vector<uint8_t> short_key(31, 1);
  ExpectRefusedBothWays(Rewrite(key_registered, [&](s::Entry::Builder e) {
                          e.getBody().getKeyRegistered().setPublicKey(DataOf(short_key));
                        }),
                        "KeyRegistered.publicKey of 31 bytes");
  ExpectRefusedBothWays(Rewrite(key_revoked, [&](s::Entry::Builder e) {
                          e.getBody().getKeyRevoked().setKeyId(DataOf(short_key));
                        }),
                        "KeyRevoked.keyId of 31 bytes");
  ExpectRefusedBothWays(Rewrite(created, [&](s::Entry::Builder e) {
                          e.getBody().getLedgerCreated().setAuthorityPublicKey(DataOf(short_key));
                        }),
                        "LedgerCreated.authorityPublicKey of 31 bytes");
  ExpectRefusedBothWays(Rewrite(submitted, [&](s::Entry::Builder e) {
                          e.getBody().getApplicationSubmitted().getEvidence().set(1, DataOf(short_key));
                        }),
                        "ApplicationSubmitted.evidence[1] of 31 bytes");
  ExpectRefusedBothWays(Rewrite(attested, [&](s::Entry::Builder e) {
                          e.getBody().getAuditAttested().setRootHash(DataOf(short_key));
                        }),
                        "AuditAttested.rootHash of 31 bytes");
  ExpectRefusedBothWays(Rewrite(attested, [&](s::Entry::Builder e) {
                          e.getBody().getAuditAttested().setStateHash(DataOf(short_key));
                        }),
                        "AuditAttested.stateHash of 31 bytes");
  ExpectRefusedBothWays(Rewrite(attested, [&](s::Entry::Builder e) {
                          e.getBody().getAuditAttested().setFindingsDigest(DataOf(short_key));
                        }),
                        "AuditAttested.findingsDigest of 31 bytes");
}

TEST_F(CodecTest, DecodeRefusesUnknownEnumValues) {
  const Bytes key_registered = EncodeEntry(SampleEntry(SampleBodies()[1]));
  ExpectRefusedBothWays(Rewrite(key_registered, [](s::Entry::Builder e) {
                          e.getBody().getKeyRegistered().setRole(static_cast<s::Role>(kRoleCount));
                        }),
                        "role one past the last");
  const Bytes recipient = EncodeEntry(SampleEntry(SampleBodies()[4]));
  ExpectRefusedBothWays(Rewrite(recipient, [](s::Entry::Builder e) {
                          e.getBody().getRecipientRegistered().setKind(static_cast<s::RecipientKind>(200));
                        }),
                        "recipient kind 200");
}

TEST_F(CodecTest, DecodeRefusesUnknownEnumValuesInsideAPolicy) {
  // A stored PolicyPublished whose cap scope or eligible kind is not one the model knows must not
  // decode into an entry that re-encodes to other bytes (one entry, one byte form).
  const Bytes policy = EncodeEntry(SampleEntry(SampleBodies()[3]));
  ExpectRefusedBothWays(Rewrite(policy, [](s::Entry::Builder e) {
                          auto track = e.getBody().getPolicyPublished().getPolicy().getMeasures()[1].getTracks()[0];
                          track.getCaps()[0].setScope(static_cast<s::CapScope>(300));
                        }),
                        "cap scope 300");
  ExpectRefusedBothWays(Rewrite(policy, [](s::Entry::Builder e) {
                          auto track = e.getBody().getPolicyPublished().getPolicy().getMeasures()[1].getTracks()[0];
                          track.getEligibleKinds().set(0, static_cast<s::RecipientKind>(9));
                        }),
                        "eligible kind 9");
}

TEST_F(CodecTest, DecodeRefusesNonZeroPaddingInTheDataSection) {
  // The root's data section holds formatVersion (bits 0-15), the body discriminant and then
  // unused bits up to the word's end. Setting unused bits gives bytes that are not
  // EncodeEntry of any entry; accepting them means one entry has two signed byte forms.
  const Entry entry = SmallEntry();
  const Bytes good = EncodeEntry(entry);
  const uint32_t offset = capnp::Schema::from<s::Entry::Body>().getProto().getStruct().getDiscriminantOffset();
  ASSERT_EQ(offset, 1u) << "layout changed; adjust the padding byte below";
  Bytes bytes = good;
  bytes[8 + 6] ^= 0x01;  // data word 0, byte 6: past formatVersion (0-1) and the discriminant (2-3)
  Result<Entry> decoded = DecodeEntry(bytes, BytesOrigin::kStored);
  if (decoded.ok()) {
    EXPECT_FALSE(*decoded == entry) << "bytes with a set padding bit decode to the very same entry";
    EXPECT_EQ(FirstDifference(EncodeEntry(*decoded), bytes), "");
  }
}

// ---------------------------------------------------------------- property: byte flips

// Any decodable byte string is the canonical encoding of what it decodes to, so a changed byte
// either fails to decode or decodes to a different entry (never silently to the same one).
void CheckFlip(const Bytes& original, const Entry& entry, const Bytes& flipped, const std::string& where) {
  Result<Entry> decoded = DecodeEntry(flipped, BytesOrigin::kStored);
  if (!decoded.ok()) {
    EXPECT_TRUE(decoded.status().IsCorruption()) << where << ": " << decoded.status().ToString();
    return;
  }
  EXPECT_FALSE(*decoded == entry) << where << ": decoded silently to the same entry";
  EXPECT_EQ(FirstDifference(EncodeEntry(*decoded), flipped), "")
      << where << ": decodes, but is not the canonical encoding of what it decodes to";
  ASSERT_NE(flipped, original);
}

TEST_F(CodecTest, RandomByteFlipsNeverDecodeToTheSameEntry) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (const Entry& entry : SampleEntries()) {
    SCOPED_TRACE(KindName(entry.body));
    const Bytes original = EncodeEntry(entry);
    std::uniform_int_distribution<size_t> position(0, original.size() - 1);
    std::uniform_int_distribution<int> mask(1, 255);
    for (int trial = 0; trial < 150; ++trial) {
      Bytes flipped = original;
      const size_t at = position(rng);
      const int xor_mask = mask(rng);
      flipped[at] = static_cast<uint8_t>(flipped[at] ^ xor_mask);
      CheckFlip(original, entry, flipped, "byte " + std::to_string(at) + " ^ " + std::to_string(xor_mask));
      if (::testing::Test::HasFailure()) return;  // one counterexample is enough
    }
  }
}

TEST_F(CodecTest, EveryBitFlipOfASmallEntryIsDetected) {
  const Entry entry = SmallEntry();
  const Bytes original = EncodeEntry(entry);
  for (size_t at = 0; at < original.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes flipped = original;
      flipped[at] = static_cast<uint8_t>(flipped[at] ^ (1 << bit));
      CheckFlip(original, entry, flipped, "byte " + std::to_string(at) + " bit " + std::to_string(bit));
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// ---------------------------------------------------------------- JSON: strict parsing

TEST_F(CodecTest, ParseJsonStrictRefusesDuplicateKeysAtAnyDepth) {
  for (const char* text : {R"({"a":1,"a":2})", R"({"a":1,"b":2,"a":1})", R"({"x":{"a":1,"a":2}})",
                           R"([{"a":1},{"b":{"c":1,"c":1}}])", R"({"k":[[{"z":null,"z":null}]]})"}) {
    SCOPED_TRACE(text);
    Result<json> parsed = ParseJsonStrict(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_TRUE(parsed.status().IsInvalidArgument());
    EXPECT_THAT(parsed.status().message(), HasSubstr("duplicate"));
  }
}

TEST_F(CodecTest, ParseJsonStrictAcceptsTheSameKeyInSiblingObjects) {
  Result<json> parsed = ParseJsonStrict(R"({"x":{"a":1},"y":{"a":2},"a":[{"a":1},{"a":2}],"b":{"x":{"a":3}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ((*parsed)["b"]["x"]["a"], 3);
}

TEST_F(CodecTest, ParseJsonStrictRefusesMalformedText) {
  for (const char* text : {"", " ", "{", R"({"a":})", R"({"a":1,})", "{'a':1}", R"({"a":1} x)", R"({"a":1}{})",
                           "[1,2", "NaN", R"({"a":01})", R"({"a":"\u00"})", R"({"a":tru})", "// c\n{}"}) {
    SCOPED_TRACE(text);
    Result<json> parsed = ParseJsonStrict(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_TRUE(parsed.status().IsInvalidArgument()) << parsed.status().ToString();
  }
}

TEST_F(CodecTest, ParseJsonStrictRefusesNestingDeeperThan64) {
  auto nested = [](int depth) { return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']'); };
  EXPECT_TRUE(ParseJsonStrict(nested(10)).ok());
  EXPECT_TRUE(ParseJsonStrict(nested(64)).ok()) << "64 levels are allowed";
  Result<json> deep = ParseJsonStrict(nested(65));
  ASSERT_FALSE(deep.ok()) << "65 levels";
  EXPECT_TRUE(deep.status().IsInvalidArgument());
  EXPECT_FALSE(ParseJsonStrict(nested(100000)).ok());
}

// ---------------------------------------------------------------- JSON: bodies

TEST_F(CodecTest, EveryBodyKindRoundTripsThroughJson) {
  for (const Body& body : SampleBodies()) {
    SCOPED_TRACE(KindName(body));
    json j = BodyToJson(body);
    ASSERT_TRUE(j.is_object());
    // Through text, as a file or a command line would carry it.
    Result<json> reparsed = ParseJsonStrict(j.dump());
    ASSERT_TRUE(reparsed.ok()) << reparsed.status().ToString();
    Result<Body> back = BodyFromJson(KindName(body), *reparsed);
    ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << j.dump();
    EXPECT_TRUE(*back == body);
    EXPECT_EQ(BodyToJson(*back), j);
    EXPECT_EQ(BodyDigest(*back), BodyDigest(body));
  }
}

TEST_F(CodecTest, BodyToJsonUsesSchemaNamesIntegersLowercaseHexAndSnakeCaseEnums) {
  const std::vector<Body> bodies = SampleBodies();
  json key = BodyToJson(bodies[1]);
  EXPECT_EQ(key["role"], "reviewer");
  EXPECT_EQ(key["publicKey"], Hex(std::get<KeyRegistered>(bodies[1]).public_key));
  json recipient = BodyToJson(bodies[4]);
  EXPECT_EQ(recipient["kind"], "research_institute");
  EXPECT_EQ(recipient["recipientId"], testutil::Uscc(1));
  EXPECT_EQ(recipient["relatedParties"].size(), 2u);
  json award = BodyToJson(bodies[9]);
  EXPECT_TRUE(award["amountFen"].is_number_integer());
  EXPECT_EQ(award["amountFen"].get<int64_t>(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(award["districtFen"].get<int64_t>(), std::numeric_limits<int64_t>::min());
  json submitted = BodyToJson(bodies[6]);
  EXPECT_EQ(submitted["evidence"][0], Hex(testutil::Digest("contract 1")));
  EXPECT_EQ(submitted["attributes"][1]["key"], "rented_compute");
}

TEST_F(CodecTest, BodyFromJsonTakesZeroValuesForAbsentFields) {
  Result<Body> body = BodyFromJson("ApplicationApproved", json::object());
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_TRUE(*body == Body(ApplicationApproved{}));
  Result<Body> recipient = BodyFromJson("RecipientRegistered", json::parse(R"({"kind":"data_source_unit"})"));
  ASSERT_TRUE(recipient.ok()) << recipient.status().ToString();
  EXPECT_EQ(std::get<RecipientRegistered>(*recipient).kind, RecipientKind::kDataSourceUnit);
}

struct BadBody {
  const char* kind;
  const char* json_text;
  const char* names;  // expected in the message (the field path or the problem)
};

TEST_F(CodecTest, BodyFromJsonRefusesMalformedBodies) {
  const std::string key64(64, 'a');
  const std::vector<BadBody> cases = {
      // unknown fields, also nested
      {"AwardGranted", R"({"applicationId":"A","amount":100})", "amount"},
      {"AwardGranted", R"({"applicationId":"A","amountFen":100,"AmountFen":1})", "AmountFen"},
      {"PolicyPublished", R"({"policy":{"id":"p","bogus":1}})", "bogus"},
      {"ApplicationSubmitted", R"({"attributes":[{"key":"a","value":"b","extra":"c"}]})", "extra"},
      // wrong types
      {"AwardGranted", R"({"applicationId":"A","amountFen":"100"})", "amountFen"},
      {"AwardGranted", R"({"applicationId":5})", "applicationId"},
      {"AwardGranted", R"({"applicationId":null})", "applicationId"},
      {"AwardGranted", R"({"amountFen":true})", "amountFen"},
      {"AwardGranted", R"([])", "object"},
      {"AwardGranted", R"("A-1")", "object"},
      {"RecipientRegistered", R"({"relatedParties":"91440300708461136T"})", "relatedParties"},
      {"RecipientRegistered", R"({"relatedParties":[1]})", "relatedParties[0]"},
      {"ApplicationSubmitted", R"({"attributes":[{"key":1}]})", "attributes[0].key"},
      {"ApplicationSubmitted", R"({"attributes":{"key":"a"}})", "attributes"},
      {"PolicyPublished", R"({"policy":"shenzhen"})", "policy"},
      {"PolicyPublished", R"({"policy":{"measures":[{"coFunded":"yes"}]}})", "coFunded"},
      // floats for integer amounts, even whole ones
      {"AwardGranted", R"({"applicationId":"A","amountFen":1.5})", "amountFen"},
      {"AwardGranted", R"({"applicationId":"A","amountFen":100.0})", "amountFen"},
      {"PayoutDisbursed", R"({"amountFen":1e3})", "amountFen"},
      {"BudgetAllocated", R"({"fiscalYear":2025.5})", "fiscalYear"},
      // integers out of range for the schema type
      {"BudgetAllocated", R"({"fiscalYear":65536})", "fiscalYear"},
      {"BudgetAllocated", R"({"fiscalYear":-1})", "fiscalYear"},
      {"BudgetAllocated", R"({"amountFen":9223372036854775808})", "amountFen"},
      {"BudgetAllocated", R"({"amountFen":-9223372036854775809})", "amountFen"},
      {"BudgetAllocated", R"({"amountFen":18446744073709551616})", "amountFen"},
      {"LedgerCreated", R"({"minorPerMajor":4294967296})", "minorPerMajor"},
      {"AuditAttested", R"({"findingsCount":-1})", "findingsCount"},
      {"AuditAttested", R"({"treeSize":-5})", "treeSize"},
      // bad hex, and hex of the wrong length for a fixed-size field
      {"KeyRegistered", R"({"publicKey":"zz"})", "publicKey"},
      {"KeyRegistered", R"({"publicKey":"abc"})", "publicKey"},
      {"KeyRegistered", R"({"publicKey":"0x1234"})", "publicKey"},
      {"KeyRegistered", R"({"publicKey":"00ff"})", "publicKey"},
      {"KeyRevoked", R"({"keyId":12})", "keyId"},
      {"ApplicationSubmitted", R"({"evidence":["00"]})", "evidence"},
      {"AuditAttested", R"({"rootHash":"g000000000000000000000000000000000000000000000000000000000000000"})", "rootHash"},
      // unknown enum names (snake_case only)
      {"KeyRegistered", R"({"role":"boss"})", "role"},
      {"KeyRegistered", R"({"role":"Reviewer"})", "role"},
      {"KeyRegistered", R"({"role":""})", "role"},
      {"KeyRegistered", R"({"role":3})", "role"},
      {"RecipientRegistered", R"({"kind":"researchInstitute"})", "kind"},
      {"RecipientRegistered", R"({"kind":"research__institute"})", "kind"},
      {"RecipientRegistered", R"({"kind":"research_institute_"})", "kind"},
      {"PolicyPublished", R"({"policy":{"measures":[{"tracks":[{"caps":[{"scope":"per_galaxy"}]}]}]}})", "scope"},
  };
  for (const BadBody& c : cases) {
    SCOPED_TRACE(std::string(c.kind) + " " + c.json_text);
    Result<json> parsed = ParseJsonStrict(c.json_text);
    if (!parsed.ok()) {
      // Only numbers nlohmann cannot hold at all may fail here; they must still be refused.
      EXPECT_TRUE(parsed.status().IsInvalidArgument());
      continue;
    }
    Result<Body> body = BodyFromJson(c.kind, *parsed);
    ASSERT_FALSE(body.ok()) << "accepted";
    EXPECT_TRUE(body.status().IsInvalidArgument()) << body.status().ToString();
    EXPECT_THAT(body.status().message(), HasSubstr(c.names));
  }
}

TEST_F(CodecTest, BodyFromJsonRefusesUnknownKinds) {
  for (const char* kind : {"AwardGiven", "awardGranted", "award_granted", "", "Entry", "SignedEntry", "Policy"}) {
    SCOPED_TRACE(kind);
    Result<Body> body = BodyFromJson(kind, json::object());
    ASSERT_FALSE(body.ok());
    EXPECT_TRUE(body.status().IsInvalidArgument());
  }
}

TEST_F(CodecTest, BodyFromJsonAcceptsTheCliExampleRecipient) {
  Result<json> parsed = ParseJsonStrict(
      R"({"recipientId":"91440300708461136T","name":"X","kind":"enterprise","district":"nanshan"})");
  ASSERT_TRUE(parsed.ok());
  Result<Body> body = BodyFromJson("RecipientRegistered", *parsed);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  const auto& r = std::get<RecipientRegistered>(*body);
  EXPECT_EQ(r.recipient_id, "91440300708461136T");
  EXPECT_EQ(r.kind, RecipientKind::kEnterprise);
  EXPECT_TRUE(r.related_parties.empty());
}

// ---------------------------------------------------------------- JSON: policies

TEST_F(CodecTest, ShippedPolicyRoundTripsThroughJson) {
  Result<Policy> first = PolicyFromJson(ShippedPolicyText());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->id, "shenzhen-ai-pioneer-2024");
  json j = PolicyToJson(*first);
  Result<Policy> second = PolicyFromJson(j.dump());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(PolicyToJson(*second), j);
  EXPECT_EQ(EncodePolicy(*second), EncodePolicy(*first));
  // Pretty-printed, as a person would keep the file.
  Result<Policy> from_written = PolicyFromJson(PolicyToJson(*first).dump(2));
  ASSERT_TRUE(from_written.ok());
  EXPECT_EQ(*from_written, *first);
}

TEST_F(CodecTest, PolicyFromJsonRefusesUnknownFieldsDuplicateKeysAndWrongTypesDeepInside) {
  Result<json> shipped = ParseJsonStrict(ShippedPolicyText());
  ASSERT_TRUE(shipped.ok());
  {
    json doc = *shipped;
    doc["measures"][1]["tracks"][0]["rateCeiling"] = 5000;
    Result<Policy> p = PolicyFromJson(doc.dump());
    ASSERT_FALSE(p.ok());
    EXPECT_TRUE(p.status().IsInvalidArgument());
    EXPECT_THAT(p.status().message(), HasSubstr("measures[1].tracks[0].rateCeiling"));
  }
  {
    json doc = *shipped;
    doc["measures"][1]["tracks"][0]["caps"][0]["amountFen"] = 10000000.5;
    Result<Policy> p = PolicyFromJson(doc.dump());
    ASSERT_FALSE(p.ok());
    EXPECT_THAT(p.status().message(), HasSubstr("amountFen"));
  }
  {
    json doc = *shipped;
    doc["measures"][1]["tracks"][0]["eligibleKinds"][0] = "Enterprise";
    EXPECT_FALSE(PolicyFromJson(doc.dump()).ok());
  }
  {
    // A duplicate key deep inside: the second value would silently win in a lax reader.
    std::string text = ShippedPolicyText();
    const std::string needle = "\"rateCeilingBp\": 5000";
    size_t at = text.find(needle);
    ASSERT_NE(at, std::string::npos);
    text.insert(at, "\"rateCeilingBp\": 10000, ");
    Result<Policy> p = PolicyFromJson(text);
    ASSERT_FALSE(p.ok());
    EXPECT_THAT(p.status().message(), HasSubstr("duplicate"));
  }
  EXPECT_FALSE(PolicyFromJson("").ok());
  EXPECT_FALSE(PolicyFromJson("[]").ok());
  EXPECT_FALSE(PolicyFromJson(R"({"id":"p","version":1})").ok());
}

}  // namespace
}  // namespace fundledger::events

namespace fundledger::events {
namespace {

// Found by tests/fuzz (entry target): Cap'n Proto Text does not enforce UTF-8, and invalid
// text crashed the JSON row encoder during audit. Decode and the rules now refuse it.
TEST(CodecUtf8Test, InvalidUtf8TextIsRefusedAtDecodeAndByTheRules) {
  Entry e;
  e.seq = 2;
  e.body = RecipientRegistered{"91440300708461136T", std::string("bad \xff\xfe name"), RecipientKind::kEnterprise,
                               "nanshan", {}};
  Bytes bytes = EncodeEntry(e);
  auto decoded = DecodeEntry(bytes, BytesOrigin::kSubmitted);
  ASSERT_FALSE(decoded.ok());
  EXPECT_TRUE(decoded.status().IsInvalidArgument());
  EXPECT_NE(decoded.status().message().find("recipientRegistered.name is not valid UTF-8"), std::string::npos)
      << decoded.status().message();
  EXPECT_TRUE(DecodeEntry(bytes, BytesOrigin::kStored).status().IsCorruption());
  EXPECT_FALSE(CheckEntryText(e).ok());
  // Overlong encodings and surrogates are not UTF-8 either; real Chinese text is.
  for (const char* text : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    std::get<RecipientRegistered>(e.body).name = text;
    EXPECT_FALSE(CheckEntryText(e).ok()) << text;
  }
  std::get<RecipientRegistered>(e.body).name = "深圳市人工智能有限公司";
  EXPECT_TRUE(CheckEntryText(e).ok());
}

}  // namespace
}  // namespace fundledger::events
