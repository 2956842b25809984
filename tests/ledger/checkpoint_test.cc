// Goal: checkpoints and signed notes interoperate with C2SP tooling (the published vectors of
// shared/reference/c2sp-note-vectors.md open) and OpenNote refuses hostile notes: unknown or
// forged signers, any changed byte, truncation, malformed lines, and notes over the limits.
#include "ledger/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "events/text.h"
#include "ledger/merkle.h"

namespace fundledger::ledger {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kDash = "\xE2\x80\x94 ";  // U+2014 and a space.

// Vector 1: the C2SP signed-note specification's example.
constexpr std::string_view kVkey1 =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
constexpr std::string_view kNote1Base64 =
    "VGhpcyBpcyBhbiBleGFtcGxlIG1lc3NhZ2UuCgrigJQgZXhhbXBsZS5jb20vZm9vIFV3MlFPa244c3JWMXlKR2gyVllS"
    "bEwxVG5hZ3YxWUVxNlRmWHBwemkyT05uY0FsVGdLN1p0ZzFFUllOWlhzWWpPQkgzbUZYbVJLdXdIakcxWXU3MkluZXlh"
    "UU09Cg==";
// Vector 2: Go's sumdb note package documentation.
constexpr std::string_view kVkey2 =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kText2 =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr std::string_view kSig2 =
    "PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6K"
    "E6RyyBwJnAM=";

std::string Note1() {
  std::optional<events::Bytes> bytes = events::FromBase64(kNote1Base64);
  EXPECT_TRUE(bytes.has_value());
  return bytes.has_value() ? std::string(bytes->begin(), bytes->end()) : std::string();
}

std::string Note2() {
  return std::string(kText2) + "\n" + std::string(kDash) + std::string(kSig2) + "\n";
}

events::PrivateKey KeyFromSeed(uint8_t fill) {
  std::array<uint8_t, 32> seed{};
  seed.fill(fill);
  Result<events::PrivateKey> key = events::PrivateKey::FromSeed(seed);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(*key);
}

NoteVerifier VerifierOf(std::string_view name, const events::PrivateKey& key) {
  Result<NoteVerifier> verifier = ParseVerifierKey(VerifierKey(name, key.public_key()));
  EXPECT_TRUE(verifier.ok()) << verifier.status().ToString();
  return *verifier;
}

class CheckpointTest : public ::testing::Test {
 protected:
  CheckpointTest()
      : notary_(KeyFromSeed(1)),
        other_(KeyFromSeed(2)),
        origin_("fundledger/" + events::Hex(std::array<uint8_t, 16>{0xab, 0xcd})),
        checkpoint_{.origin = origin_, .size = 5, .root = LeafHash(std::vector<uint8_t>{7})},
        verifiers_{VerifierOf(origin_, notary_)} {}

  std::string SignedCheckpoint() const {
    return SignNote(CheckpointText(checkpoint_), origin_, notary_);
  }

  events::PrivateKey notary_;
  events::PrivateKey other_;
  std::string origin_;
  Checkpoint checkpoint_;
  std::vector<NoteVerifier> verifiers_;
};

// ---- The published vectors ----

TEST(CheckpointVectorsTest, SpecExampleOpensWithItsVerifierKey) {
  Result<NoteVerifier> verifier = ParseVerifierKey(kVkey1);
  ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
  EXPECT_EQ(verifier->name, "example.com/foo");
  EXPECT_EQ(verifier->key_hash, 0x530d903au);
  EXPECT_EQ(VerifierKey(verifier->name, verifier->public_key), kVkey1);
  const std::string note = Note1();
  ASSERT_THAT(note, HasSubstr("\xE2\x80\x94 example.com/foo "));
  Result<OpenedNote> opened = OpenNote(note, std::span(&*verifier, 1));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->text, "This is an example message.\n");
  ASSERT_EQ(opened->signed_by.size(), 1u);
  EXPECT_EQ(opened->signed_by[0], *verifier);
}

TEST(CheckpointVectorsTest, GoNoteExampleOpensWithItsVerifierKey) {
  Result<NoteVerifier> verifier = ParseVerifierKey(kVkey2);
  ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
  EXPECT_EQ(verifier->key_hash, 0xc74f20a3u);
  EXPECT_EQ(NoteKeyHash("PeterNeumann", verifier->public_key), 0xc74f20a3u);
  EXPECT_EQ(VerifierKey("PeterNeumann", verifier->public_key), kVkey2);
  Result<OpenedNote> opened = OpenNote(Note2(), std::span(&*verifier, 1));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->text, kText2);
  // Each vector's key does not vouch for the other's note.
  Result<NoteVerifier> verifier1 = ParseVerifierKey(kVkey1);
  ASSERT_TRUE(verifier1.ok());
  EXPECT_TRUE(OpenNote(Note2(), std::span(&*verifier1, 1)).status().IsCorruption());
  // Both keys known, one signature line: still opens, signed by one.
  const std::vector<NoteVerifier> both = {*verifier1, *verifier};
  Result<OpenedNote> either = OpenNote(Note2(), both);
  ASSERT_TRUE(either.ok()) << either.status().ToString();
  EXPECT_EQ(either->signed_by, std::vector<NoteVerifier>{*verifier});
}

TEST(CheckpointVectorsTest, EmptyTreeCheckpoint) {
  const Checkpoint empty{.origin = "example.com/log", .size = 0, .root = EmptyRoot()};
  EXPECT_EQ(CheckpointText(empty),
            "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
  Result<Checkpoint> parsed = ParseCheckpointText(CheckpointText(empty));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, empty);
}

// ---- Round trip ----

TEST_F(CheckpointTest, SignOpenParseRoundTrip) {
  const std::string note = SignedCheckpoint();
  EXPECT_TRUE(
      note.starts_with(CheckpointText(checkpoint_) + "\n" + std::string(kDash) + origin_ + " "));
  Result<OpenedNote> opened = OpenNote(note, verifiers_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->signed_by, verifiers_);
  Result<Checkpoint> parsed = ParseCheckpointText(opened->text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, checkpoint_);
}

TEST_F(CheckpointTest, CosignedNoteNamesEveryKnownSigner) {
  const std::string text = CheckpointText(checkpoint_);
  const std::string by_notary = SignNote(text, origin_, notary_);
  const std::string by_witness = SignNote(text, "witness.example", other_);
  // A cosigned note: the text once, then both signature lines.
  const std::string cosigned = by_notary + by_witness.substr(text.size() + 1);
  const std::vector<NoteVerifier> both = {VerifierOf("witness.example", other_), verifiers_[0]};
  Result<OpenedNote> opened = OpenNote(cosigned, both);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->signed_by, (std::vector<NoteVerifier>{verifiers_[0], both[0]}));
  // Only the notary known: the witness line is another party's, ignored.
  Result<OpenedNote> notary_only = OpenNote(cosigned, verifiers_);
  ASSERT_TRUE(notary_only.ok()) << notary_only.status().ToString();
  EXPECT_EQ(notary_only->signed_by, verifiers_);
  // The same line twice is one signer.
  Result<OpenedNote> twice = OpenNote(by_notary + by_notary.substr(text.size() + 1), verifiers_);
  ASSERT_TRUE(twice.ok()) << twice.status().ToString();
  EXPECT_EQ(twice->signed_by, verifiers_);
}

// ---- Hostile notes ----

TEST_F(CheckpointTest, NoteSignedByUnknownKeyIsRefused) {
  const std::string note = SignNote(CheckpointText(checkpoint_), origin_, other_);
  Status status = OpenNote(note, verifiers_).status();
  EXPECT_TRUE(status.IsCorruption());
  EXPECT_THAT(status.message(), HasSubstr("no signature by a known key"));
  EXPECT_TRUE(OpenNote(SignedCheckpoint(), {}).status().IsCorruption());
}

TEST_F(CheckpointTest, ForgedSignatureUnderKnownKeyHashIsRefused) {
  // The other key signs, but the line claims the notary's name and key hash.
  const std::string text = CheckpointText(checkpoint_);
  const events::Signature forged =
      other_.Sign(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  const uint32_t hash = verifiers_[0].key_hash;
  events::Bytes blob = {static_cast<uint8_t>(hash >> 24), static_cast<uint8_t>(hash >> 16),
                        static_cast<uint8_t>(hash >> 8), static_cast<uint8_t>(hash)};
  blob.insert(blob.end(), forged.begin(), forged.end());
  const std::string note =
      text + "\n" + std::string(kDash) + origin_ + " " + events::Base64(blob) + "\n";
  Status status = OpenNote(note, verifiers_).status();
  EXPECT_TRUE(status.IsCorruption());
  EXPECT_THAT(status.message(), HasSubstr("signature line 1: signature by " + origin_));
  EXPECT_THAT(status.message(), HasSubstr("does not verify"));
  // A known key's bad signature refuses the note even when another known key signed well.
  const std::string good = SignedCheckpoint();
  EXPECT_TRUE(OpenNote(good + note.substr(text.size() + 1), verifiers_).status().IsCorruption());
  // A known key hash with a signature of the wrong length.
  blob.pop_back();
  const std::string short_sig =
      text + "\n" + std::string(kDash) + origin_ + " " + events::Base64(blob) + "\n";
  EXPECT_THAT(OpenNote(short_sig, verifiers_).status().message(), HasSubstr("63 bytes, not 64"));
}

TEST_F(CheckpointTest, CheckpointOfAnotherLedgerShowsItsOrigin) {
  // Another ledger's notary signs a checkpoint of its own ledger: the note opens for whoever
  // trusts that notary, and the origin tells the caller it is not our ledger.
  const std::string other_origin = "fundledger/" + events::Hex(std::array<uint8_t, 16>{0x01});
  Checkpoint theirs = checkpoint_;
  theirs.origin = other_origin;
  const std::string note = SignNote(CheckpointText(theirs), other_origin, other_);
  const std::vector<NoteVerifier> their_verifiers = {VerifierOf(other_origin, other_)};
  Result<OpenedNote> opened = OpenNote(note, their_verifiers);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Result<Checkpoint> parsed = ParseCheckpointText(opened->text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->origin, other_origin);
  EXPECT_NE(parsed->origin, checkpoint_.origin);
  EXPECT_EQ(parsed->size, checkpoint_.size);
  // Our notary's verifier (named by our origin) does not open it.
  EXPECT_TRUE(OpenNote(note, verifiers_).status().IsCorruption());
}

TEST_F(CheckpointTest, AnyChangedByteIsRefused) {
  const std::string note = SignedCheckpoint();
  for (size_t i = 0; i < note.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::string bad = note;
      bad[i] = static_cast<char>(static_cast<uint8_t>(bad[i]) ^ flip);
      Result<OpenedNote> opened = OpenNote(bad, verifiers_);
      EXPECT_FALSE(opened.ok()) << "byte " << i << " ^ " << int{flip};
      if (!opened.ok()) {
        EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
      }
    }
  }
}

TEST_F(CheckpointTest, TruncatedNoteIsRefused) {
  const std::string note = SignedCheckpoint();
  for (size_t length = 0; length < note.size(); ++length) {
    EXPECT_FALSE(OpenNote(note.substr(0, length), verifiers_).ok()) << "length " << length;
  }
  EXPECT_THAT(OpenNote(note.substr(0, note.size() - 1), verifiers_).status().message(),
              HasSubstr("does not end in a newline"));
  const size_t line = note.rfind(kDash);
  const std::string half = note.substr(0, line + (note.size() - line) / 2) + "\n";
  EXPECT_THAT(OpenNote(half, verifiers_).status().message(), HasSubstr("signature line 1"));
}

TEST_F(CheckpointTest, MalformedNotesAreRefused) {
  const std::string text = CheckpointText(checkpoint_);
  const std::string note = SignedCheckpoint();
  const std::string sig_line = note.substr(text.size() + 1);
  const std::string body = sig_line.substr(kDash.size());  // "<name> <base64>\n"
  struct Case {
    std::string note;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {text, "no blank line"},
      {text + "\n", "no signature lines"},
      {text + "\n" + "- " + body, "em dash"},
      {text + "\n" + std::string(kDash) + origin_ + "\n", "no space"},
      {text + "\n" + std::string(kDash) + origin_ + " AAAA\n", "too short"},
      {text + "\n" + std::string(kDash) + origin_ + " not-base64!\n", "base64"},
      {text + "\n" + std::string(kDash) + " " + body, "key name"},
      {text + "\n" + sig_line + "\n", "no signature lines"},  // Blank line after: last "\n\n".
      {text + "\n" + sig_line + sig_line.substr(0, sig_line.size() - 1), "newline"},
      {"\xff" + note, "UTF-8"},
      {"a\rb\n" + note.substr(text.size()), "control"},
      {text + "\n" + std::string(kDash) + "a+b " + body.substr(origin_.size() + 1), "key name"},
  };
  for (const Case& c : cases) {
    Status status = OpenNote(c.note, verifiers_).status();
    EXPECT_TRUE(status.IsCorruption()) << c.note << " -> " << status.ToString();
    EXPECT_THAT(status.message(), HasSubstr(c.reason)) << c.note;
  }
}

TEST_F(CheckpointTest, NotesOverTheLimitsAreRefused) {
  const std::string text = CheckpointText(checkpoint_);
  const std::string sig_line = SignedCheckpoint().substr(text.size() + 1);
  std::string many = text + "\n";
  for (size_t i = 0; i <= kNoteSignaturesMax; ++i) many += sig_line;
  ASSERT_LE(many.size(), kNoteBytesMax);
  EXPECT_THAT(OpenNote(many, verifiers_).status().message(), HasSubstr("too many signature"));
  const std::string huge = std::string(kNoteBytesMax, 'a') + "\n\n" + sig_line;
  EXPECT_THAT(OpenNote(huge, verifiers_).status().message(), HasSubstr("size limit"));
  // Exactly the limit of lines is fine.
  std::string hundred = text + "\n";
  for (size_t i = 0; i < kNoteSignaturesMax; ++i) hundred += sig_line;
  EXPECT_TRUE(OpenNote(hundred, verifiers_).ok());
}

// check-proof reads a checkpoint file whose origin it does not know: the first line names the
// key, so a hostile first line must be a refusal, not a failed check (found by proof_fuzz).
TEST_F(CheckpointTest, OpenCheckpointTakesItsOriginFromTheNote) {
  Result<Checkpoint> opened = OpenCheckpoint(SignedCheckpoint(), notary_.public_key());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, checkpoint_);
  EXPECT_TRUE(OpenCheckpoint(SignedCheckpoint(), other_.public_key()).status().IsCorruption());
  for (const std::string& note : {std::string(), std::string("\n"), std::string("bad origin\n1\n"),
                                 "a+b\n" + SignedCheckpoint(), std::string("\x01\n"),
                                 std::string(kNoteBytesMax + 1, 'o')}) {
    SCOPED_TRACE(note.substr(0, 20));
    Status status = OpenCheckpoint(note, notary_.public_key()).status();
    EXPECT_TRUE(status.IsCorruption()) << status.ToString();
  }
}

TEST_F(CheckpointTest, AmbiguousVerifiersAreInvalidArgument) {
  NoteVerifier twin = verifiers_[0];
  twin.public_key = other_.public_key();  // Same name and key hash, another key.
  const std::vector<NoteVerifier> ambiguous = {verifiers_[0], twin};
  EXPECT_TRUE(OpenNote(SignedCheckpoint(), ambiguous).status().IsInvalidArgument());
}

// ---- Checkpoint text ----

TEST(CheckpointTextTest, ExtensionLinesAreAllowedAndIgnored) {
  const std::string root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  Result<Checkpoint> parsed = ParseCheckpointText("o\n18\n" + root + "\nextra one\nextra two\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->origin, "o");
  EXPECT_EQ(parsed->size, 18u);
  EXPECT_EQ(parsed->root, EmptyRoot());
  EXPECT_EQ(ParseCheckpointText("o\n9223372036854775808\n" + root + "\n")->size, kTreeSizeMax);
}

TEST(CheckpointTextTest, MalformedTextsAreRefused) {
  const std::string root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "origin"},
      {"\n1\n" + root + "\n", "origin"},
      {"o", "origin"},
      {"o\n", "size line"},
      {"o\n1", "size line"},
      {"o\n01\n" + root + "\n", "strict decimal"},
      {"o\n00\n" + root + "\n", "strict decimal"},
      {"o\n-1\n" + root + "\n", "strict decimal"},
      {"o\n+1\n" + root + "\n", "strict decimal"},
      {"o\n 1\n" + root + "\n", "strict decimal"},
      {"o\n1 \n" + root + "\n", "strict decimal"},
      {"o\n\n" + root + "\n", "strict decimal"},
      {"o\n0x10\n" + root + "\n", "strict decimal"},
      {"o\n18446744073709551616\n" + root + "\n", "strict decimal"},
      {"o\n99999999999999999999\n" + root + "\n", "strict decimal"},
      {"o\n9223372036854775809\n" + root + "\n", "over 2^63"},
      {"o\n1\n", "root line"},
      {"o\n1\n" + root, "root line"},
      {"o\n1\n" + root.substr(0, 40) + "\n", "32 bytes"},
      {"o\n1\nAAAA\n", "32 bytes"},
      {"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n", "strict base64"},  // Padding bits.
      {"o\n1\n" + root + " \n", "strict base64"},
      {"o\n1\n" + root + "\n\n", "empty extension"},
      {"o\n1\n" + root + "\nextension", "newline"},
      {"o\r\n1\n" + root + "\n", "control"},
      {"o\n1\r\n" + root + "\n", "control"},
      {"\xc0\xaf\n1\n" + root + "\n", "UTF-8"},  // Overlong "/".
  };
  for (const auto& [text, reason] : cases) {
    Status status = ParseCheckpointText(text).status();
    EXPECT_TRUE(status.IsCorruption()) << text << " -> " << status.ToString();
    EXPECT_THAT(status.message(), HasSubstr(reason)) << text;
  }
}

TEST(CheckpointTextTest, LargestSizeRoundTrips) {
  const Checkpoint big{.origin = "fundledger/x", .size = kTreeSizeMax, .root = EmptyRoot()};
  EXPECT_EQ(*ParseCheckpointText(CheckpointText(big)), big);
}

// ---- Verifier keys ----

TEST(CheckpointVerifierKeyTest, MalformedKeysAreRefused) {
  const std::string key = "AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not <name>"},
      {"example.com/foo", "not <name>"},
      {"example.com/foo+530d903a", "not <name>"},
      {"+530d903a+" + key, "bad name"},
      {"exa mple+530d903a+" + key, "bad name"},
      {"example.com/foo+530d903+" + key, "8 hex"},
      {"example.com/foo+530d903a0+" + key, "8 hex"},
      {"example.com/foo+530d903g+" + key, "8 hex"},
      {"example.com/foo+530d903b+" + key, "does not match"},
      {"example.com/fox+530d903a+" + key, "does not match"},
      {"example.com/foo+530d903a+" + key + "=", "base64"},
      {"example.com/foo+530d903a+" + key + "+x", "base64"},
      {"example.com/foo+530d903a+", "base64"},
      {"example.com/foo+530d903a+AgkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "Ed25519"},
      {"example.com/foo+530d903a+AQ==", "Ed25519"},
  };
  for (const auto& [vkey, reason] : cases) {
    Status status = ParseVerifierKey(vkey).status();
    EXPECT_TRUE(status.IsInvalidArgument()) << vkey << " -> " << status.ToString();
    EXPECT_THAT(status.message(), HasSubstr(reason)) << vkey;
  }
  // Upper-case hex is accepted, as Go's note package does.
  EXPECT_TRUE(ParseVerifierKey("example.com/foo+530D903A+" + key).ok());
}

TEST(CheckpointVerifierKeyTest, KeyNames) {
  EXPECT_TRUE(IsValidNoteKeyName("fundledger/00ff"));
  EXPECT_TRUE(IsValidNoteKeyName("例子.中国/日志"));
  EXPECT_FALSE(IsValidNoteKeyName(""));
  EXPECT_FALSE(IsValidNoteKeyName("a b"));
  EXPECT_FALSE(IsValidNoteKeyName("a+b"));
  EXPECT_FALSE(IsValidNoteKeyName("a\tb"));
  EXPECT_FALSE(
      IsValidNoteKeyName("a\xc2\xa0"
                         "b"));  // U+00A0 no-break space.
  EXPECT_FALSE(
      IsValidNoteKeyName("a\xe3\x80\x80"
                         "b"));                       // U+3000 ideographic space.
  EXPECT_FALSE(IsValidNoteKeyName("a\xed\xa0\x80"));  // A surrogate.
}

}  // namespace
}  // namespace fundledger::ledger
