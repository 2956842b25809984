// Goal: the fundledger command line keeps the contract of DESIGN.md §7 and §10 as a script sees
// it: key files (0600 private key, FILE.pub, key id = SHA-256 of the raw public key), key
// register/revoke/list, all-or-nothing `append --file` with clear exit codes, the --json shapes
// of log/show/verify, one writer at a time with readers beside it, and above all that an entry
// the project wrote is checked by stock tools alone: `openssl pkeyutl -verify -rawin` for the
// signature, `sha256sum` for the leaf hash, `capnp decode --flat` for the bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "events/codec.h"
#include "events/text.h"
#include "ledger/ledger.h"
#include "tests/testutil/cli_ledger.h"
#include "tests/testutil/testutil.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
using ::testing::HasSubstr;
using nlohmann::json;

constexpr const char* kNow = "2025-01-02T09:00:00+08:00";

using Outcome = testutil::ShellRun;
using testutil::ReadText;
using testutil::WriteText;
std::string Quote(const std::string& word) { return testutil::ShellQuote(word); }
std::vector<std::string> Lines(const std::string& text) { return testutil::NonEmptyLines(text); }

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  for (const std::string& line : Lines(text)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    out.push_back(j);
  }
  return out;
}

bool IsLowerHex(const std::string& text, size_t size) {
  return text.size() == size && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string RecipientLine(uint32_t n, const std::string& extra_body = "", const std::string& idempotency_key = "") {
  std::string line = R"({"kind":"RecipientRegistered","body":{"recipientId":")" + testutil::Uscc(n) +
                     R"(","name":"recipient )" + std::to_string(n) + R"(","kind":"enterprise","district":"nanshan")" +
                     extra_body + "}";
  if (!idempotency_key.empty()) line += R"(,"idempotencyKey":")" + idempotency_key + "\"";
  return line + "}";
}

Outcome ShIn(const std::string& dir, const std::string& command) { return testutil::RunShell(dir, command); }

// fundledger with the fixed clock and the ledger at `dir`/ledger; `args` are shell words.
Outcome FlIn(const std::string& dir, const std::string& args) {
  return ShIn(dir, "FUNDLEDGER_NOW=" + Quote(kNow) + " " + Quote(FUNDLEDGER_BINARY) + " --ledger " +
                       Quote(dir + "/ledger") + " " + args);
}

// `key gen --out NAME` in `dir`; returns the printed key id.
std::string KeyGenIn(const std::string& dir, const std::string& name) {
  Outcome o = FlIn(dir, "key gen --out " + Quote(name));
  EXPECT_EQ(o.code, 0) << o.err;
  std::vector<std::string> lines = Lines(o.out);
  EXPECT_EQ(lines.size(), 1u) << o.out;
  return lines.empty() ? "" : lines.front();
}

class CliTest : public ::testing::Test {
 protected:
  // One ledger made by the CLI for the whole suite, copied into each test's directory
  // (testutil::CliTemplateLedger: authority.pem, admin.pem, clerk.pem; entries 1, 2 and 3).
  static void SetUpTestSuite() {
    template_ = new testutil::CliTemplateLedger(FUNDLEDGER_BINARY, kNow, "cli test ledger");
  }
  static void TearDownTestSuite() {
    delete template_;
    template_ = nullptr;
  }

  void SetUp() override {
    dir_ = std::make_unique<testutil::TempDir>();
    ledger_ = dir_->Sub("ledger");
  }

  std::string Path(const std::string& name) const { return dir_->Sub(name); }
  Outcome Sh(const std::string& command) const { return ShIn(dir_->path(), command); }
  Outcome Fl(const std::string& args) const { return FlIn(dir_->path(), args); }
  std::string KeyGen(const std::string& name) const { return KeyGenIn(dir_->path(), name); }

  // This test's copy of the template ledger and keys.
  void InitLedger() {
    ASSERT_NE(template_, nullptr);
    ASSERT_NO_FATAL_FAILURE(template_->CopyTo(dir_->path()));
    authority_id_ = template_->authority_id();
    admin_id_ = template_->admin_id();
    clerk_id_ = template_->clerk_id();
    ASSERT_TRUE(IsLowerHex(clerk_id_, 64));
  }

  // Size and head hash of the ledger, read in-process by a reader (cheaper than a process).
  std::pair<uint64_t, std::string> Head() const {
    Result<std::unique_ptr<ledger::Ledger>> reader = ledger::Ledger::Open(ledger_, ledger::OpenMode::kReader);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return {0, ""};
    return {(*reader)->size(), ev::Hex((*reader)->head().head_hash)};
  }

  // Entries as `log --json` prints them.
  std::vector<json> Log() const {
    Outcome o = Fl("log --json");
    EXPECT_EQ(o.code, 0) << o.err;
    return JsonLines(o.out);
  }

  Outcome AppendFile(const std::string& key, const std::string& text, const std::string& flags = "") {
    WriteText(Path("events.jsonl"), text);
    return Fl("--key " + Quote(key) + " " + flags + " append --file events.jsonl");
  }

  static testutil::CliTemplateLedger* template_;
  std::unique_ptr<testutil::TempDir> dir_;
  std::string ledger_;
  std::string authority_id_, admin_id_, clerk_id_;
};

testutil::CliTemplateLedger* CliTest::template_ = nullptr;

// ---------------------------------------------------------------- keys

TEST_F(CliTest, KeyGenWritesPrivateKey0600AndPrintsSha256OfRawPublicKey) {
  const std::string id = KeyGen("k.pem");
  EXPECT_TRUE(IsLowerHex(id, 64)) << id;
  struct stat st {};
  ASSERT_EQ(::stat(Path("k.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(Path("k.pem.pub").c_str(), &st), 0);
  // Stock OpenSSL reads both files; the key id is SHA-256 of the raw key (the DER's last 32 bytes).
  EXPECT_EQ(Sh("openssl pkey -in k.pem -noout").code, 0);
  Outcome digest = Sh("openssl pkey -pubin -in k.pem.pub -outform DER | tail -c 32 | sha256sum");
  ASSERT_EQ(digest.code, 0) << digest.err;
  EXPECT_EQ(digest.out.substr(0, 64), id);
  // A second gen never overwrites a key.
  const std::string pem = ReadText(Path("k.pem"));
  Outcome again = Fl("key gen --out k.pem");
  EXPECT_EQ(again.code, 4) << again.err;
  EXPECT_EQ(ReadText(Path("k.pem")), pem);
  // --json names the same key.
  Outcome j = Fl("--json key gen --out j.pem");
  ASSERT_EQ(j.code, 0) << j.err;
  std::vector<json> lines = JsonLines(j.out);
  ASSERT_EQ(lines.size(), 1u);
  Outcome raw = Sh("openssl pkey -pubin -in j.pem.pub -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \\n'");
  ASSERT_EQ(raw.code, 0);
  EXPECT_EQ(lines[0].value("publicKey", ""), raw.out);
  Outcome j_digest = Sh("openssl pkey -pubin -in j.pem.pub -outform DER | tail -c 32 | sha256sum");
  EXPECT_EQ(lines[0].value("keyId", ""), j_digest.out.substr(0, 64));
}

TEST_F(CliTest, KeyRegisterRevokeAndListJson) {
  InitLedger();
  Outcome raw = Sh("openssl pkey -pubin -in clerk.pem.pub -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \\n'");
  ASSERT_EQ(raw.code, 0);
  auto find = [](const std::vector<json>& keys, const std::string& id) -> json {
    for (const json& k : keys) {
      if (k.value("keyId", "") == id) return k;
    }
    return json();
  };
  Outcome list = Fl("--json key list");
  ASSERT_EQ(list.code, 0) << list.err;
  std::vector<json> keys = JsonLines(list.out);
  EXPECT_EQ(keys.size(), 3u) << list.out;
  json clerk = find(keys, clerk_id_);
  ASSERT_TRUE(clerk.is_object()) << list.out;
  EXPECT_EQ(clerk.value("publicKey", ""), raw.out);
  EXPECT_EQ(clerk.value("role", ""), "clerk");
  EXPECT_EQ(clerk.value("unit", ""), "SZ-STIB");
  EXPECT_EQ(clerk.value("holder", ""), "clerk one");
  EXPECT_EQ(clerk.value("status", ""), "active");
  EXPECT_EQ(find(keys, admin_id_).value("role", ""), "admin");
  EXPECT_EQ(find(keys, authority_id_).value("role", ""), "authority");

  Outcome revoke = Fl("--key admin.pem key revoke " + clerk_id_ + " --reason 'left the bureau'");
  ASSERT_EQ(revoke.code, 0) << revoke.err;
  list = Fl("--json key list");
  ASSERT_EQ(list.code, 0) << list.err;
  json revoked = find(JsonLines(list.out), clerk_id_);
  EXPECT_EQ(revoked.value("status", ""), "revoked");
  // A revoked key signs nothing: a rule refusal, exit 1, rule in --json.
  const auto before = Head();
  Outcome refused = AppendFile("clerk.pem", RecipientLine(1) + "\n", "--json");
  EXPECT_EQ(refused.code, 1) << refused.err;
  std::vector<json> error = JsonLines(refused.out);
  ASSERT_EQ(error.size(), 1u) << refused.out;
  EXPECT_EQ(error[0].value("rule", ""), "key.revoked");
  EXPECT_EQ(Head(), before);
}

TEST_F(CliTest, KeyFileReadableByOthersIsRefusedUnlessAllowed) {
  InitLedger();
  const auto before = Head();
  ASSERT_EQ(::chmod(Path("clerk.pem").c_str(), 0644), 0);
  Outcome refused = AppendFile("clerk.pem", RecipientLine(1) + "\n");
  EXPECT_EQ(refused.code, 4) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("clerk.pem"));
  EXPECT_EQ(Head(), before);
  ASSERT_EQ(::chmod(Path("clerk.pem").c_str(), 0640), 0);
  EXPECT_EQ(AppendFile("clerk.pem", RecipientLine(1) + "\n").code, 4) << "readable by group";
  Outcome allowed = AppendFile("clerk.pem", RecipientLine(1) + "\n", "--allow-insecure-key");
  EXPECT_EQ(allowed.code, 0) << allowed.err;
  EXPECT_EQ(Head().first, before.first + 1);
}

// ---------------------------------------------------------------- append --file

TEST_F(CliTest, AppendFileIsAllOrNothing) {
  InitLedger();
  const auto head = Head();
  const size_t before = Log().size();
  ASSERT_EQ(before, head.first);
  struct Case {
    const char* what;
    std::string text;
    int code;
  };
  const std::vector<Case> cases = {
      {"unknown body field on line 2", RecipientLine(1) + "\n" + RecipientLine(2, R"(,"nickname":"x")") + "\n", 2},
      {"malformed JSON on line 2", RecipientLine(1) + "\n" + R"({"kind":"RecipientRegistered","body":{)" + "\n", 2},
      {"unknown kind on line 2", RecipientLine(1) + "\n" + R"({"kind":"RecipientRenamed","body":{}})" + "\n", 2},
      {"unknown event field on line 2", RecipientLine(1) + "\n" + R"({"kind":"RecipientRegistered","body":{},"signer":"x"})" + "\n", 2},
      {"float amount on line 2", RecipientLine(1) + "\n" + R"({"kind":"BudgetAllocated","body":{"amountFen":1.5}})" + "\n", 2},
      {"duplicate key on line 2", RecipientLine(1) + "\n" + R"({"kind":"RecipientRegistered","kind":"KeyRevoked","body":{}})" + "\n", 2},
      {"rule refusal on line 2 (same recipient twice)", RecipientLine(1) + "\n" + RecipientLine(1) + "\n", 1},
      {"rule refusal on line 3", RecipientLine(1) + "\n" + RecipientLine(2) + "\n" + RecipientLine(1) + "\n", 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Outcome o = AppendFile("clerk.pem", c.text);
    EXPECT_EQ(o.code, c.code) << o.err;
    EXPECT_FALSE(o.err.empty());
    // Malformed input (exit 2) is refused before the ledger is opened; a rule refusal (exit 1)
    // is found after line 1 was staged, so that is where all-or-nothing is at stake.
    if (c.code == 1) {
      EXPECT_EQ(Head(), head) << "something was written";
    }
  }
  EXPECT_EQ(Head(), head) << "something was written";
  Outcome malformed = AppendFile("clerk.pem", R"({"kind":"RecipientRegistered","body":)");
  EXPECT_EQ(malformed.code, 2) << malformed.err;
  Outcome unknown_kind = AppendFile("clerk.pem", R"({"kind":"AwardGiven","body":{}})");
  EXPECT_EQ(unknown_kind.code, 2) << unknown_kind.err;
  Outcome unknown_field = AppendFile("clerk.pem", RecipientLine(3, R"(,"colour":"red")"));
  EXPECT_EQ(unknown_field.code, 2) << unknown_field.err;
  EXPECT_THAT(unknown_field.err, HasSubstr("colour"));
  EXPECT_EQ(Log().size(), before);

  Outcome ok = AppendFile("clerk.pem", RecipientLine(1) + "\n\n" + RecipientLine(2) + "\n", "--json");
  ASSERT_EQ(ok.code, 0) << ok.err;
  std::vector<json> results = JsonLines(ok.out);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].value("seq", 0u), before + 1);
  EXPECT_EQ(results[1].value("seq", 0u), before + 2);
  EXPECT_EQ(results[1].value("kind", ""), "RecipientRegistered");
  EXPECT_EQ(Log().size(), before + 2);
}

TEST_F(CliTest, AppendRetryWithIdempotencyKeyRecordsOnce) {
  InitLedger();
  const std::string text = RecipientLine(7, "", "import-7");
  Outcome first = AppendFile("clerk.pem", text, "--json");
  ASSERT_EQ(first.code, 0) << first.err;
  const auto size = Head();
  Outcome again = AppendFile("clerk.pem", text, "--json");
  ASSERT_EQ(again.code, 0) << again.err;
  std::vector<json> a = JsonLines(first.out), b = JsonLines(again.out);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].value("seq", 0u), a[0].value("seq", 1u));
  EXPECT_TRUE(b[0].value("replayed", false));
  EXPECT_EQ(Head(), size);
  // Same key, other content: a rule refusal naming the rule.
  Outcome conflict = AppendFile("clerk.pem", RecipientLine(8, "", "import-7"), "--json");
  EXPECT_EQ(conflict.code, 1) << conflict.err;
  std::vector<json> error = JsonLines(conflict.out);
  ASSERT_EQ(error.size(), 1u);
  EXPECT_EQ(error[0].value("rule", ""), "idempotency.conflict");
  EXPECT_EQ(Head(), size);
}

// ---------------------------------------------------------------- log, show, verify

TEST_F(CliTest, LogJsonPrintsOneObjectPerEntryWithTheContractFields) {
  InitLedger();
  ASSERT_EQ(AppendFile("clerk.pem", RecipientLine(1) + "\n" + RecipientLine(2) + "\n").code, 0);
  std::vector<json> entries = Log();
  ASSERT_EQ(entries.size(), 5u);
  const int64_t now = *ev::ParseInstant(kNow);
  for (size_t i = 0; i < entries.size(); ++i) {
    const json& e = entries[i];
    SCOPED_TRACE(e.dump());
    for (const char* field : {"seq", "kind", "signer", "recordedAt", "entry", "signature", "leafHash", "body"}) {
      EXPECT_TRUE(e.contains(field)) << field;
    }
    EXPECT_EQ(e.value("seq", 0u), i + 1);
    EXPECT_TRUE(e["recordedAt"].is_number_integer());
    EXPECT_EQ(e.value("recordedAt", int64_t{0}), now);
    EXPECT_TRUE(IsLowerHex(e.value("signer", ""), 64));
    EXPECT_TRUE(IsLowerHex(e.value("leafHash", ""), 64));
    EXPECT_TRUE(e["body"].is_object());
    // entry and signature are base64 of the canonical bytes and the 64-byte signature.
    std::optional<ev::Bytes> bytes = ev::FromBase64(e.value("entry", ""));
    std::optional<ev::Bytes> signature = ev::FromBase64(e.value("signature", ""));
    ASSERT_TRUE(bytes.has_value());
    ASSERT_TRUE(signature.has_value());
    ASSERT_EQ(signature->size(), 64u);
    Result<ev::Entry> decoded = ev::DecodeEntry(*bytes, ev::BytesOrigin::kSubmitted);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->seq, i + 1);
    EXPECT_EQ(ev::KindName(decoded->body), e.value("kind", ""));
    EXPECT_EQ(ev::BodyToJson(decoded->body), e["body"]);
    ev::Signature sig{};
    std::copy(signature->begin(), signature->end(), sig.begin());
    EXPECT_EQ(ev::Hex(ev::EntryLeafHash(*bytes, sig)), e.value("leafHash", ""));
  }
  EXPECT_EQ(entries[0].value("kind", ""), "LedgerCreated");
  EXPECT_EQ(entries[0]["body"].value("name", ""), "cli test ledger");
  EXPECT_EQ(entries[0].value("signer", ""), authority_id_);
  EXPECT_EQ(entries[1].value("signer", ""), authority_id_);
  EXPECT_EQ(entries[2].value("signer", ""), admin_id_);
  EXPECT_EQ(entries[3].value("signer", ""), clerk_id_);
  EXPECT_EQ(entries[3]["body"].value("recipientId", ""), testutil::Uscc(1));
  // show SEQ --json prints the same object; --kind filters.
  Outcome show = Fl("show 4 --json");
  ASSERT_EQ(show.code, 0) << show.err;
  std::vector<json> shown = JsonLines(show.out);
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0], entries[3]);
  Outcome kind = Fl("log --json --kind RecipientRegistered");
  ASSERT_EQ(kind.code, 0) << kind.err;
  EXPECT_EQ(JsonLines(kind.out).size(), 2u);
}

TEST_F(CliTest, ShowPastTheHeadIsNotFound) {
  InitLedger();
  Outcome o = Fl("show 99 --json");
  EXPECT_EQ(o.code, 2) << o.err;
}

TEST_F(CliTest, VerifyExitsZeroOnAnIntactLedgerWithJson) {
  InitLedger();
  ASSERT_EQ(AppendFile("clerk.pem", RecipientLine(1) + "\n").code, 0);
  Outcome text = Fl("verify");
  EXPECT_EQ(text.code, 0) << text.err;
  Outcome o = Fl("verify --json");
  ASSERT_EQ(o.code, 0) << o.err;
  std::vector<json> lines = JsonLines(o.out);
  ASSERT_EQ(lines.size(), 1u) << o.out;
  EXPECT_TRUE(lines[0].value("ok", false));
  EXPECT_EQ(lines[0].value("entries", 0u), 4u);
  EXPECT_TRUE(IsLowerHex(lines[0].value("rootHash", ""), 64));
}

// THE KEY TEST: an entry the project wrote is verified and decoded by stock tools alone.
TEST_F(CliTest, ShownEntryVerifiesWithStockOpensslSha256sumAndCapnpDecode) {
  InitLedger();
  ASSERT_EQ(AppendFile("clerk.pem", RecipientLine(1) + "\n").code, 0);
  constexpr int kSeq = 4;
  Outcome show = Fl("show " + std::to_string(kSeq) + " --json");
  ASSERT_EQ(show.code, 0) << show.err;
  std::vector<json> shown = JsonLines(show.out);
  ASSERT_EQ(shown.size(), 1u);
  const json& e = shown[0];
  ASSERT_EQ(e.value("signer", ""), clerk_id_);
  WriteText(Path("entry.b64"), e.value("entry", ""));
  WriteText(Path("sig.b64"), e.value("signature", ""));
  ASSERT_EQ(Sh("base64 -d entry.b64 > entry.bin && base64 -d sig.b64 > sig.bin").code, 0);
  ASSERT_EQ(ReadText(Path("sig.bin")).size(), 64u);
  // The signer's public key is the .pub file key gen wrote.
  ASSERT_EQ(Sh("cp clerk.pem.pub signer.pub").code, 0);

  Outcome verified = Sh("openssl pkeyutl -verify -pubin -inkey signer.pub -rawin -in entry.bin -sigfile sig.bin");
  EXPECT_EQ(verified.code, 0) << verified.out << verified.err;

  std::string bad = ReadText(Path("entry.bin"));
  ASSERT_GT(bad.size(), 40u);
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x01);
  WriteText(Path("bad.bin"), bad);
  Outcome forged = Sh("openssl pkeyutl -verify -pubin -inkey signer.pub -rawin -in bad.bin -sigfile sig.bin");
  EXPECT_NE(forged.code, 0) << "openssl accepted a changed entry: " << forged.out;
  Outcome other_key = Sh("openssl pkeyutl -verify -pubin -inkey admin.pem.pub -rawin -in entry.bin -sigfile sig.bin");
  EXPECT_NE(other_key.code, 0) << "openssl accepted another signer";

  // leaf hash = SHA-256(0x00 || entry || signature); octal escape: /bin/sh's printf has no \x.
  Outcome leaf = Sh("(printf '\\000'; cat entry.bin sig.bin) | sha256sum");
  ASSERT_EQ(leaf.code, 0) << leaf.err;
  EXPECT_EQ(leaf.out.substr(0, 64), e.value("leafHash", ""));

  const std::string schemas = std::string(FUNDLEDGER_SOURCE_DIR) + "/schemas";
  Outcome decoded = Sh("capnp decode --flat -I/usr/include --import-path=" + Quote(schemas) + " " +
                       Quote(schemas + "/ledger.capnp") + " Entry < entry.bin");
  ASSERT_EQ(decoded.code, 0) << decoded.err;
  EXPECT_THAT(decoded.out, HasSubstr("seq = " + std::to_string(kSeq)));
  EXPECT_THAT(decoded.out, HasSubstr("formatVersion = 1"));
  EXPECT_THAT(decoded.out, HasSubstr(testutil::Uscc(1)));
}

// ---------------------------------------------------------------- one writer, readers beside it

TEST_F(CliTest, SecondWriterIsRefusedWhileTheLedgerIsHeldAndReadersStillWork) {
  InitLedger();
  ASSERT_EQ(AppendFile("clerk.pem", RecipientLine(1) + "\n").code, 0);
  const auto before = Head();
  {
    Result<std::unique_ptr<ledger::Ledger>> held = ledger::Ledger::Open(ledger_, ledger::OpenMode::kWriter);
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    Outcome refused = AppendFile("clerk.pem", RecipientLine(2) + "\n");
    EXPECT_EQ(refused.code, 4) << refused.err;
    EXPECT_THAT(refused.err, HasSubstr("ledger in use by another process"));
    // Readers open a secondary instance beside the writer.
    EXPECT_EQ(Log().size(), before.first);
    Outcome query = Fl("--json query recipient " + testutil::Uscc(1));
    EXPECT_EQ(query.code, 0) << query.err;
    EXPECT_EQ(JsonLines(query.out).size(), 1u);
    EXPECT_EQ((*held)->size(), before.first);
    EXPECT_EQ(Head(), before);
  }
  Outcome after = AppendFile("clerk.pem", RecipientLine(2) + "\n");
  EXPECT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(Head().first, before.first + 1);
}

// ---------------------------------------------------------------- exit codes

TEST_F(CliTest, ExitCodesFollowTheDesign) {
  InitLedger();
  EXPECT_EQ(Fl("--help").code, 0);
  Outcome unknown_flag = Fl("log --no-such-flag");
  EXPECT_EQ(unknown_flag.code, 2) << unknown_flag.err;
  EXPECT_EQ(Fl("").code, 2) << "no command";
  EXPECT_EQ(Fl("no-such-command").code, 2);
  Outcome missing = Sh(Quote(FUNDLEDGER_BINARY) + " --ledger " + Quote(Path("no-ledger-here")) + " log");
  EXPECT_EQ(missing.code, 4) << missing.err;
  Outcome missing_verify = Sh(Quote(FUNDLEDGER_BINARY) + " --ledger " + Quote(Path("no-ledger-here")) + " verify");
  EXPECT_EQ(missing_verify.code, 4) << missing_verify.err;
  // A clerk may not register keys: a rule refusal.
  KeyGen("extra.pem");
  Outcome role = Fl("--json --key clerk.pem key register --public-key extra.pem.pub --role clerk --unit SZ-STIB --holder x");
  EXPECT_EQ(role.code, 1) << role.err;
  std::vector<json> error = JsonLines(role.out);
  ASSERT_EQ(error.size(), 1u) << role.out;
  EXPECT_EQ(error[0].value("rule", ""), "role");
  EXPECT_EQ(error[0].value("exitCode", 0), 1);
  // Another ledger cannot be created over this one.
  Outcome init_again = Fl("init --authority-key authority.pem --name again");
  EXPECT_EQ(init_again.code, 4) << init_again.err;
  EXPECT_EQ(Head().first, 3u);
}

// ---------------------------------------------------------------- decided by the writer

// award --max, revoke without --amount and apply without --track are decided by the writer
// after it checked the key: a missing key file is an environment error, a clerk's key is refused
// for its role, whatever the application.
TEST_F(CliTest, AwardMaxChecksTheKeyBeforeAnyDecision) {
  InitLedger();
  const auto before = Head();
  Outcome missing = Fl("--key no-such.pem award A-1 --max");
  EXPECT_EQ(missing.code, 4) << missing.err;
  EXPECT_NE(missing.err.find("no-such.pem"), std::string::npos) << missing.err;
  Outcome clerk = Fl("--key clerk.pem award A-1 --max");
  EXPECT_EQ(clerk.code, 1) << clerk.err;
  EXPECT_NE(clerk.err.find("(role)"), std::string::npos) << clerk.err;
  Outcome revoke = Fl("--key clerk.pem revoke A-1 --reason withdrawn");
  EXPECT_EQ(revoke.code, 1) << revoke.err;
  EXPECT_NE(revoke.err.find("(role)"), std::string::npos) << revoke.err;
  EXPECT_EQ(Head(), before);
}

}  // namespace
}  // namespace fundledger::tools
