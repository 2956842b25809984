// Goal: what the edge of the events module refuses, it refuses for the reader's reasons. An
// entry is signed only if DecodeEntry takes its bytes back unchanged (the largest readable
// entry is encodable for signing, one byte more is not, and the message names the limit); a
// NUL inside any text reaches the signed bytes whole and is refused, where it used to be cut
// off silently; identifiers refuse control characters while free text keeps its line breaks;
// and an encrypted private key is refused with a message saying so, never with a prompt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/model.h"

namespace fundledger::events {
namespace {

using ::testing::HasSubstr;

Entry Recipient(std::string name) {
  Entry e;
  e.seq = 2;
  e.recorded_at_ms = 1'735'779'600'000;
  e.body = RecipientRegistered{
      "91440300708461136T", std::move(name), RecipientKind::kEnterprise, "nanshan", {}};
  return e;
}

TEST(EdgeTest, EncodeForSigningTakesTheLargestReadableEntryAndRefusesOneByteMore) {
  // A name of 8w - 1 bytes takes w words with its NUL terminator; 8w bytes take w + 1.
  const size_t base = EncodeEntry(Recipient(std::string(7, 'n'))).size() - 8;
  const size_t largest = kEntryBytesMax - base - 1;
  Result<Bytes> fits = EncodeEntryForSigning(Recipient(std::string(largest, 'n')));
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->size(), kEntryBytesMax);
  EXPECT_TRUE(DecodeEntry(*fits, BytesOrigin::kStored).ok());

  Result<Bytes> over = EncodeEntryForSigning(Recipient(std::string(largest + 1, 'n')));
  ASSERT_FALSE(over.ok());
  EXPECT_TRUE(over.status().IsInvalidArgument()) << over.status().ToString();
  EXPECT_EQ(over.status().ExitCode(), 2);
  EXPECT_THAT(
      over.status().message(),
      HasSubstr("entry of " + std::to_string(kEntryBytesMax + 8) + " bytes is over the limit of " +
                std::to_string(kEntryBytesMax) + " bytes (kEntryBytesMax)"));
}

TEST(EdgeTest, NulInsideTextIsKeptWholeAndRefusedByTheTextCheckAndTheReader) {
  const std::string name("shown\0hidden", 12);
  const Entry e = Recipient(name);
  Status checked = CheckEntryText(e);
  ASSERT_FALSE(checked.ok());
  EXPECT_TRUE(checked.IsInvalidArgument());
  EXPECT_THAT(checked.message(),
              HasSubstr("entry.body.recipientRegistered.name contains a NUL character"));
  // The encoding no longer drops the text after the NUL: the signed bytes would hold it all.
  Bytes bytes = EncodeEntry(e);
  EXPECT_NE(bytes, EncodeEntry(Recipient("shown")));
  Result<Entry> decoded = DecodeEntry(bytes, BytesOrigin::kSubmitted);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("contains a NUL character"));
  EXPECT_TRUE(DecodeEntry(bytes, BytesOrigin::kStored).status().IsCorruption());
  EXPECT_FALSE(EncodeEntryForSigning(e).ok());
  // A JSON body carries a NUL as \u0000; it is refused the same way.
  Result<Body> body = BodyFromJson("ApplicationApproved",
                                   nlohmann::json::parse(R"({"applicationId":"A-1\u0000x"})"));
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  Entry approved;
  approved.seq = 3;
  approved.body = *body;
  EXPECT_THAT(CheckEntryText(approved).message(),
              HasSubstr("applicationApproved.applicationId contains a NUL"));
}

// The check names the bad text by its whole path, list positions included, and only the
// first bad text: the one an inspector or a clerk has to fix.
TEST(EdgeTest, BadTextDeepInAListIsNamedByItsPathAndPosition) {
  Entry e;
  e.seq = 7;
  ApplicationSubmitted submitted;
  submitted.application_id = "A-1";
  submitted.attributes = {{"gpu", "H800"}, {"site", "ok"}, {"note", "bad \xff"}, {"x\xfe", "y"}};
  e.body = submitted;
  Status checked = CheckEntryText(e);
  EXPECT_TRUE(checked.IsInvalidArgument()) << checked.ToString();
  EXPECT_EQ(checked.message(),
            "entry.body.applicationSubmitted.attributes[2].value is not valid UTF-8");
  std::get<ApplicationSubmitted>(e.body).attributes[2].value = "fine";
  EXPECT_EQ(CheckEntryText(e).message(),
            "entry.body.applicationSubmitted.attributes[3].key is not valid UTF-8");
  std::get<ApplicationSubmitted>(e.body).attributes[3].key = std::string("x\0", 2);
  EXPECT_EQ(CheckEntryText(e).message(),
            "entry.body.applicationSubmitted.attributes[3].key contains a NUL character");
  std::get<ApplicationSubmitted>(e.body).attributes.pop_back();
  EXPECT_TRUE(CheckEntryText(e).ok()) << CheckEntryText(e).ToString();
}

TEST(EdgeTest, IdentifiersRefuseControlCharactersFreeTextKeepsItsLineBreaks) {
  Entry e;
  e.seq = 5;
  e.body = ApplicationRejected{"A-1", "missing:\n\tthe contract\r\n"};
  EXPECT_TRUE(CheckEntryText(e).ok()) << CheckEntryText(e).ToString();
  for (const std::string id : {"A-1\t", "A\n1", "A\x7f", "A\xc2\x80", "A\xc2\x9f", "\x1b[2JA"}) {
    std::get<ApplicationRejected>(e.body).application_id = id;
    Status s = CheckEntryText(e);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_THAT(
        s.message(),
        HasSubstr("entry.body.applicationRejected.applicationId holds a control character"));
  }
  // Printable text beyond ASCII is an identifier like any other (U+00A0 is not a control).
  std::get<ApplicationRejected>(e.body).application_id =
      "\xe7\x94\xb3\xe8\xaf\xb7-\xc2\xa0"
      "1";
  EXPECT_TRUE(CheckEntryText(e).ok());
  e.idempotency_key = "retry\n";
  EXPECT_THAT(CheckEntryText(e).message(),
              HasSubstr("entry.idempotencyKey holds a control character"));
  e.idempotency_key = "";
  Entry key;
  key.seq = 4;
  key.body = KeyRegistered{{}, Role::kClerk, "SZ-STIB", "Li\tNa"};
  EXPECT_THAT(CheckEntryText(key).message(),
              HasSubstr("keyRegistered.holder holds a control character"));
  PolicyPublished published;
  published.effective_from = "2025-01-01";
  published.policy.measures.push_back(Measure{});
  published.policy.measures[0].id = "2\n";
  Entry policy;
  policy.seq = 6;
  policy.body = published;
  EXPECT_THAT(CheckEntryText(policy).message(),
              HasSubstr("policy.measures[0].id holds a control character"));
}

TEST(EdgeTest, EncryptedPrivateKeyIsRefusedAsEncryptedWithoutAPrompt) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  ASSERT_NE(key, nullptr);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  static const char kPassphrase[] = "correct horse";
  ASSERT_EQ(
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), kPassphrase,
                                    static_cast<int>(sizeof(kPassphrase) - 1), nullptr, nullptr),
      1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  ASSERT_GT(size, 0);
  const std::string pem(data, static_cast<size_t>(size));
  ASSERT_THAT(pem, HasSubstr("ENCRYPTED PRIVATE KEY"));
  Result<PrivateKey> loaded = PrivateKey::FromPem(pem);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("encrypted with a passphrase"));
  // The same key unencrypted loads.
  std::unique_ptr<BIO, decltype(&BIO_free)> plain(BIO_new(BIO_s_mem()), BIO_free);
  ASSERT_EQ(PEM_write_bio_PrivateKey(plain.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
            1);
  size = BIO_get_mem_data(plain.get(), &data);
  EXPECT_TRUE(PrivateKey::FromPem(std::string(data, static_cast<size_t>(size))).ok());
}

// The streaming root is the in-memory root for every size up to past several powers of two,
// so a state hash computed row by row is the one computed over a vector of leaves.
TEST(EdgeTest, Rfc9162RootBuilderGivesTheRootOfTheLeavesInMemory) {
  std::vector<Hash> leaves;
  Rfc9162RootBuilder builder;
  EXPECT_EQ(builder.Root(), Rfc9162EmptyRoot());
  for (int i = 0; i < 70; ++i) {
    leaves.push_back(Sha256(std::to_string(i)));
    builder.Add(leaves.back());
    ASSERT_EQ(builder.size(), leaves.size());
    EXPECT_EQ(builder.Root(), Rfc9162Root(leaves)) << "size " << leaves.size();
  }
}

}  // namespace
}  // namespace fundledger::events
