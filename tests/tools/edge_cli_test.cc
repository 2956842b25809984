// Goal: what a script or an insider hands the command line cannot brick the ledger, hang, or
// damage a file. A write dated past the machine's clock (--at, FUNDLEDGER_NOW, init) is refused
// with the rule "time.future" and the ledger stays writable; audit and import judge time by the
// machine's clock; text with a NUL is refused (exit 2); every numeric option refuses what it
// cannot hold as a usage error naming the option (never "unexpected error"); an encrypted key
// file is refused as encrypted without a prompt, even on a terminal; and output files are never
// overwritten without --force, never loosened, never written through a symbolic link.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "events/crypto.h"
#include "events/text.h"
#include "ledger/exchange.h"
#include "ledger/ledger.h"
#include "tests/testutil/cli_ledger.h"
#include "tests/testutil/testutil.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using Outcome = testutil::ShellRun;
using testutil::ReadText;
using testutil::WriteText;

constexpr const char* kNow = "2025-01-02T09:00:00+08:00";
constexpr int kExitRule = 1;
constexpr int kExitUsage = 2;
constexpr int kExitEnvironment = 4;

std::string Q(const std::string& word) { return testutil::ShellQuote(word); }

// fundledger at the fixed recordedAt, with the ledger at `dir`/ledger; `args` are shell words.
Outcome FlIn(const std::string& dir, const std::string& args) {
  return testutil::RunShell(dir, "FUNDLEDGER_NOW=" + Q(kNow) + " " + Q(FUNDLEDGER_BINARY) +
                                     " --ledger " + Q(dir + "/ledger") + " " + args);
}

std::string RecipientLine(uint32_t n, const std::string& name) {
  return R"({"kind":"RecipientRegistered","body":{"recipientId":")" + testutil::Uscc(n) +
         R"(","name":")" + name + R"(","kind":"enterprise","district":"nanshan"}})";
}

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Names in `dir` that are not in `before` (temporary files left behind, files created).
std::vector<std::string> NewNames(const std::string& dir, const std::vector<std::string>& before) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (std::find(before.begin(), before.end(), name) == before.end()) out.push_back(name);
  }
  return out;
}
std::vector<std::string> Names(const std::string& dir) { return NewNames(dir, {}); }

class EdgeCliTest : public ::testing::Test {
 protected:
  // One ledger made by the CLI for the suite, copied into each test's directory
  // (testutil::CliTemplateLedger: authority.pem, admin.pem, clerk.pem; entries 1, 2 and 3).
  static void SetUpTestSuite() {
    template_ = new testutil::CliTemplateLedger(FUNDLEDGER_BINARY, kNow, "edge test ledger");
  }
  static void TearDownTestSuite() {
    delete template_;
    template_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(template_, nullptr);
    dir_ = std::make_unique<testutil::TempDir>();
    ASSERT_NO_FATAL_FAILURE(template_->CopyTo(dir_->path()));
  }

  std::string Path(const std::string& name) const { return dir_->Sub(name); }
  Outcome Sh(const std::string& command) const { return testutil::RunShell(dir_->path(), command); }
  Outcome Fl(const std::string& args) const { return FlIn(dir_->path(), args); }
  Outcome AppendFile(const std::string& text, const std::string& flags = "") {
    WriteText(Path("events.jsonl"), text);
    return Fl("--key clerk.pem " + flags + " append --file events.jsonl");
  }

  // Size and head hash, read in-process by a reader.
  std::pair<uint64_t, std::string> Head() const {
    auto reader = ledger::Ledger::Open(Path("ledger"), ledger::OpenMode::kReader);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return {0, ""};
    return {(*reader)->size(), ev::Hex((*reader)->head().head_hash)};
  }

  static testutil::CliTemplateLedger* template_;
  std::unique_ptr<testutil::TempDir> dir_;
};

testutil::CliTemplateLedger* EdgeCliTest::template_ = nullptr;

// ---------------------------------------------------------------- time

TEST_F(EdgeCliTest, WriteDatedPastTheClockIsRefusedAndTheLedgerStaysWritable) {
  const auto before = Head();
  WriteText(Path("events.jsonl"), RecipientLine(1, "ahead") + "\n");
  Outcome ahead =
      Fl("--json --at 2099-01-01T00:00:00+08:00 --key clerk.pem append --file events.jsonl");
  EXPECT_EQ(ahead.code, kExitRule) << ahead.err;
  EXPECT_THAT(ahead.err, HasSubstr("time.future"));
  json error = json::parse(ahead.out, nullptr, false);
  EXPECT_EQ(error.value("rule", ""), "time.future") << ahead.out;
  Outcome env = Sh("FUNDLEDGER_NOW=2099-01-01 " + Q(FUNDLEDGER_BINARY) +
                   " --ledger ledger --key clerk.pem "
                   "append --file events.jsonl");
  EXPECT_EQ(env.code, kExitRule) << env.err;
  EXPECT_EQ(Head(), before);
  // A write at the real time still goes through; so does one dated in the past after the head.
  Outcome now =
      Sh(Q(FUNDLEDGER_BINARY) + " --ledger ledger --key clerk.pem append --file events.jsonl");
  EXPECT_EQ(now.code, 0) << now.err;
  EXPECT_EQ(Head().first, before.first + 1);
  // init dated ahead is refused and creates nothing.
  Outcome init = Sh(Q(FUNDLEDGER_BINARY) +
                    " --ledger new --at 2099-01-01 init --authority-key authority.pem --name x");
  EXPECT_EQ(init.code, kExitRule) << init.err;
  EXPECT_FALSE(std::filesystem::exists(Path("new")));
}

// A ledger some other tool dated ahead: audit says so, and import will not copy it.
TEST_F(EdgeCliTest, AuditReportsAndImportRefusesEntriesDatedPastTheClock) {
  const ev::PrivateKey authority = testutil::TestKey(1);
  ev::LedgerCreated created;
  created.name = "dated ahead";
  created.authority_public_key = authority.public_key();
  created.authority_unit = "LEDGER-ADMIN";
  created.authority_holder = "authority";
  {
    auto ahead =
        ledger::Ledger::Create(Path("ahead"), authority, created, testutil::At("2099-01-01"));
    ASSERT_TRUE(ahead.ok()) << ahead.status().ToString();
    std::string data;
    ASSERT_TRUE(ledger::WriteExport(**ahead, 1, 1, false, &data).ok());
    WriteText(Path("ahead.jsonl"), data);
  }
  Outcome audit = Sh(Q(FUNDLEDGER_BINARY) + " --ledger ahead --json audit");
  EXPECT_EQ(audit.code, kExitRule) << audit.err;
  json report = json::parse(audit.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << audit.out;
  EXPECT_EQ(report.value("integrityFindings", -1), 0);
  ASSERT_EQ(report["findings"].size(), 1u) << audit.out;
  EXPECT_EQ(report["findings"][0].value("code", ""), "time.future");
  Outcome from_export = Sh(Q(FUNDLEDGER_BINARY) + " --json audit --from-export ahead.jsonl");
  EXPECT_EQ(from_export.code, kExitRule) << from_export.err;
  Outcome import = Sh(Q(FUNDLEDGER_BINARY) + " --ledger copy --json import ahead.jsonl");
  EXPECT_EQ(import.code, kExitRule) << import.err;
  EXPECT_THAT(import.err, HasSubstr("time.future"));
}

// ---------------------------------------------------------------- text

TEST_F(EdgeCliTest, NulInJsonTextIsRefusedAsMalformedAndLeavesTheLedgerUnchanged) {
  const auto before = Head();
  Outcome nul =
      AppendFile(RecipientLine(1, "first") + "\n" + RecipientLine(2, "shown\\u0000hidden") + "\n");
  EXPECT_EQ(nul.code, kExitUsage) << nul.err;
  EXPECT_THAT(nul.err,
              HasSubstr("request 2: entry.body.recipientRegistered.name contains a NUL character"));
  Outcome control = AppendFile(
      R"({"kind":"RecipientRegistered","body":{"recipientId":")" + testutil::Uscc(3) +
      R"(","name":"x","kind":"enterprise","district":"nanshan"},"idempotencyKey":"k\n"})");
  EXPECT_EQ(control.code, kExitUsage) << control.err;
  EXPECT_THAT(control.err, HasSubstr("idempotencyKey holds a control character"));
  EXPECT_EQ(Head(), before);
}

// ---------------------------------------------------------------- numbers in options

TEST_F(EdgeCliTest, EveryNumericOptionRefusesWhatItCannotHoldAsAUsageErrorNamingIt) {
  struct Case {
    std::string args, option;
  };
  const std::string huge = "99999999999999999999999";
  const std::vector<Case> cases = {
      {"log --from -1", "--from"},
      {"log --from 0", "--from"},
      {"log --to " + huge, "--to"},
      {"log --to 0x10", "--to"},
      {"log --limit 1e3", "--limit"},
      {"log --limit ' 5'", "--limit"},
      {"log --limit ''", "--limit"},
      {"log --limit +5", "--limit"},
      {"show " + huge, "seq"},
      {"show -- -1", "seq"},
      {"show 0", "seq"},
      {"query measure --year " + huge, "--year"},
      {"query measure --year -5", "--year"},
      {"query measure --year 20250", "--year"},
      {"query measure --as-of " + huge, "--as-of"},
      {"query measure --as-of 2025-13-01", "--as-of"},
      {"query recipient " + testutil::Uscc(1) + " --as-of " + huge, "--as-of"},
      {"query application A-1 --as-of " + huge, "--as-of"},
      {"query unit --as-of " + huge, "--as-of"},
      {"query district --as-of " + huge, "--as-of"},
      {"history --application A-1 --as-of " + huge, "--as-of"},
      {"policy show --as-of " + huge, "--as-of"},
      {"prove inclusion --seq " + huge, "--seq"},
      {"prove inclusion --seq 1 --size -1", "--size"},
      {"prove consistency --from 1.5", "--from"},
      {"prove consistency --from 1 --to " + huge, "--to"},
      {"export --from -1", "--from"},
      {"export --to 18446744073709551616", "--to"},
      {"--key clerk.pem budget allocate --measure 2 --year " + huge + " --amount 1", "--year"},
      {"--key clerk.pem budget allocate --measure 2 --year 2025 --amount 1e9", "--amount"},
      {"--key clerk.pem budget allocate --measure 2 --year 2025 --amount " + huge + "万",
       "--amount"},
      {"--key clerk.pem apply --id A --recipient R --measure 2 --year -2025", "--year"},
      {"--key clerk.pem apply --id A --recipient R --measure 2 --year 2025 --basis -1", "--basis"},
      {"--key clerk.pem award A-1 --amount 0x10", "--amount"},
      {"--key clerk.pem revoke A-1 --amount 1.001 --reason r", "--amount"},
      {"--key clerk.pem pay A-1 --amount -5 --reference r", "--amount"},
      {"--key clerk.pem reverse A-1 --amount x --reason r", "--amount"},
      {"--key clerk.pem --at 2025-02-30 append --file events.jsonl", "--at"},
      {"simulate --recipients 0", "--recipients"},
      {"simulate --recipients 4294967296", "--recipients"},
      {"simulate --seed -1", "--seed"},
      {"simulate --seed " + huge, "--seed"},
      {"simulate --years 2025,99999", "--years"},
  };
  WriteText(Path("events.jsonl"), RecipientLine(1, "x") + "\n");
  const auto before = Head();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    Outcome o = Fl(c.args);
    EXPECT_EQ(o.code, kExitUsage) << o.err;
    EXPECT_THAT(o.err, HasSubstr(c.option));
    EXPECT_THAT(o.err, Not(HasSubstr("unexpected error")));
  }
  Outcome env = Sh("FUNDLEDGER_NOW=2025-01-02T25:00:00 " + Q(FUNDLEDGER_BINARY) +
                   " --ledger ledger --key clerk.pem append --file events.jsonl");
  EXPECT_EQ(env.code, kExitUsage) << env.err;
  EXPECT_THAT(env.err, HasSubstr("FUNDLEDGER_NOW"));
  EXPECT_EQ(Head(), before);
  // The largest values are taken as numbers (a seq past the head clamps, as before).
  Outcome largest = Fl("log --from 1 --to 18446744073709551615 --limit 18446744073709551615");
  EXPECT_EQ(largest.code, 0) << largest.err;
  Outcome zero_padded = Fl("show 010");
  EXPECT_EQ(zero_padded.code, kExitUsage) << zero_padded.err;
  EXPECT_THAT(zero_padded.err, HasSubstr("entry 10 does not exist"))
      << "010 is ten, not octal eight";
}

// ---------------------------------------------------------------- encrypted keys

TEST_F(EdgeCliTest, EncryptedKeyFileIsRefusedAsEncryptedAndNeverPrompts) {
  ASSERT_EQ(Sh("openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:secret -out enc.pem "
               "2>/dev/null && "
               "chmod 600 enc.pem")
                .code,
            0);
  WriteText(Path("events.jsonl"), RecipientLine(1, "x") + "\n");
  const auto before = Head();
  Outcome piped = Sh("echo secret | " + Q(FUNDLEDGER_BINARY) +
                     " --ledger ledger --key enc.pem append --file "
                     "events.jsonl");
  EXPECT_EQ(piped.code, kExitEnvironment) << piped.err;
  EXPECT_THAT(piped.err, HasSubstr("encrypted"));
  // On a terminal too (script(1) gives the command one): no prompt, the same refusal.
  Outcome tty =
      Sh("timeout 20 script -qec " +
         Q(Q(FUNDLEDGER_BINARY) + " --ledger ledger --key enc.pem append --file events.jsonl") +
         " /dev/null </dev/null");
  EXPECT_EQ(tty.code, kExitEnvironment) << tty.out << tty.err;
  EXPECT_THAT(tty.out, HasSubstr("encrypted"));
  EXPECT_THAT(tty.out, Not(HasSubstr("phrase:")));
  EXPECT_EQ(Head(), before);
}

// ---------------------------------------------------------------- output files

TEST_F(EdgeCliTest, ExportNeverOverwritesWithoutForceAndNeverLoosensAFile) {
  WriteText(Path("private.txt"), "someone's notes\n");
  ASSERT_EQ(::chmod(Path("private.txt").c_str(), 0600), 0);
  const std::vector<std::string> names = Names(dir_->path());
  Outcome refused = Fl("export --out private.txt");
  EXPECT_EQ(refused.code, kExitEnvironment) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  EXPECT_EQ(ReadText(Path("private.txt")), "someone's notes\n");
  EXPECT_EQ(ModeOf(Path("private.txt")), 0600u);
  Outcome forced = Fl("export --out private.txt --force");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(testutil::NonEmptyLines(ReadText(Path("private.txt"))).size(), Head().first);
  EXPECT_EQ(ModeOf(Path("private.txt")), 0600u) << "--force made the file readable by others";
  Outcome fresh = Fl("export --out fresh.jsonl");
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_EQ(ModeOf(Path("fresh.jsonl")), 0644u);
  EXPECT_EQ(NewNames(dir_->path(), names), std::vector<std::string>{"fresh.jsonl"})
      << "temporary files left";
}

TEST_F(EdgeCliTest, OutputFilesAreNeverWrittenThroughSymbolicLinks) {
  ASSERT_EQ(::symlink(Path("elsewhere/target.pem").c_str(), Path("dangling.pem").c_str()), 0);
  ASSERT_EQ(::mkdir(Path("elsewhere").c_str(), 0755), 0);
  Outcome gen = Fl("key gen --out dangling.pem");
  EXPECT_EQ(gen.code, kExitEnvironment) << gen.err;
  EXPECT_THAT(gen.err, HasSubstr("symbolic link"));
  EXPECT_FALSE(std::filesystem::exists(Path("elsewhere/target.pem")));
  EXPECT_FALSE(std::filesystem::exists(Path("dangling.pem.pub")));
  WriteText(Path("elsewhere/kept.txt"), "kept\n");
  ASSERT_EQ(::symlink(Path("elsewhere/kept.txt").c_str(), Path("link.jsonl").c_str()), 0);
  for (const char* force : {"", " --force"}) {
    Outcome o = Fl(std::string("export --out link.jsonl") + force);
    EXPECT_EQ(o.code, kExitEnvironment) << o.err;
    EXPECT_EQ(ReadText(Path("elsewhere/kept.txt")), "kept\n");
    EXPECT_TRUE(std::filesystem::is_symlink(Path("link.jsonl")));
  }
}

TEST_F(EdgeCliTest, KeyGenNeverReplacesAnExistingPublicKeyWithoutForce) {
  WriteText(Path("k.pem.pub"), "an earlier public key\n");
  Outcome refused = Fl("key gen --out k.pem");
  EXPECT_EQ(refused.code, kExitEnvironment) << refused.err;
  EXPECT_EQ(ReadText(Path("k.pem.pub")), "an earlier public key\n");
  EXPECT_FALSE(std::filesystem::exists(Path("k.pem"))) << "a private key without its .pub was left";
  // --force replaces both, each keeping the stricter of its old and new mode.
  WriteText(Path("k.pem"), "old private key\n");
  ASSERT_EQ(::chmod(Path("k.pem").c_str(), 0640), 0);
  ASSERT_EQ(::chmod(Path("k.pem.pub").c_str(), 0600), 0);
  Outcome forced = Fl("key gen --out k.pem --force");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(ModeOf(Path("k.pem")), 0600u);
  EXPECT_EQ(ModeOf(Path("k.pem.pub")), 0600u);
  EXPECT_EQ(Sh("openssl pkey -in k.pem -noout").code, 0);
}

TEST_F(EdgeCliTest, RefusedCheckpointOutputLeavesTheLedgerWithoutANewCheckpoint) {
  ASSERT_EQ(Fl("key gen --out notary.pem").code, 0);
  Outcome reg = Fl(
      "--key admin.pem key register --public-key notary.pem.pub --role notary --unit LEDGER-ADMIN "
      "--holder notary");
  ASSERT_EQ(reg.code, 0) << reg.err;
  WriteText(Path("published.checkpoint"), "the checkpoint published last week\n");
  auto checkpoints = [&] {
    auto reader = ledger::Ledger::Open(Path("ledger"), ledger::OpenMode::kReader);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    auto stored =
        reader.ok()
            ? (*reader)->Checkpoints()
            : Result<std::vector<std::pair<uint64_t, std::string>>>(Status::IOError("no reader"));
    return stored.ok() ? stored->size() : size_t{999};
  };
  const size_t before = checkpoints();
  Outcome refused = Fl("--key notary.pem checkpoint --out published.checkpoint");
  EXPECT_EQ(refused.code, kExitEnvironment) << refused.err;
  EXPECT_EQ(ReadText(Path("published.checkpoint")), "the checkpoint published last week\n");
  EXPECT_EQ(checkpoints(), before);
  Outcome forced = Fl("--key notary.pem checkpoint --out published.checkpoint --force");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_THAT(ReadText(Path("published.checkpoint")), HasSubstr("fundledger/"));
  EXPECT_EQ(checkpoints(), before + 1);
}

}  // namespace
}  // namespace fundledger::tools
