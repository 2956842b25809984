// Goal: `fundledger import` never deletes what it did not create, and a killed import does not
// brick its directory (issue 7 items 4 and 11). A refused import into an existing directory
// that holds no ledger keeps that directory and every file in it: a non-empty one is refused
// before anything is written (exit 4), an empty one is left empty. An import killed after its
// first committed group leaves a directory that other commands refuse with a clear "did not
// finish" (exit 4); running the same import again resumes it, and the result audits clean and
// exports byte for byte what was imported. Resuming with another export is refused (exit 3) and
// keeps the unfinished ledger.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "ledger/exchange.h"
#include "tests/testutil/testutil.h"

namespace fundledger::tools {
namespace {

using ::testing::HasSubstr;
using testutil::ShellQuote;

constexpr int kExitIntegrity = 3;
constexpr int kExitEnvironment = 4;
constexpr int kExitCrashHook = 86;  // FUNDLEDGER_TEST_IMPORT_CRASH ends the process with it

// Every file under `dir` with its bytes (what a refusal must leave exactly as it was).
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file())
      out[entry.path().string()] = testutil::ReadText(entry.path().string());
    else
      out[entry.path().string() + "/"] = "";
  }
  return out;
}

class ImportRecoveryTest : public testutil::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    Allocate("2", 2025, 1'000'000'000);
    for (uint32_t n = 1; n <= 12; ++n) AddRecipient(n, events::RecipientKind::kEnterprise);
    std::string text;
    ASSERT_TRUE(ledger::WriteExport(*ledger_, 1, ledger_->size(), false, &text).ok());
    export_text_ = text;
    export_ = dir_->Sub("export.jsonl");
    testutil::WriteText(export_, text);
    ASSERT_GT(ledger_->size(), 20u);
  }

  testutil::ShellRun Run(const std::string& args, const std::string& env = "") {
    return testutil::RunShell(dir_->path(), env + " " + ShellQuote(FUNDLEDGER_BINARY) + " " + args);
  }

  // The export without one entry in the middle: it parses, and the dry run refuses the gap
  // after the new ledger was created.
  std::string GappedExport() {
    std::vector<std::string> lines = testutil::NonEmptyLines(export_text_);
    lines.erase(lines.begin() + 10);
    std::string path = dir_->Sub("gapped.jsonl");
    std::string text;
    for (const std::string& l : lines) text += l + "\n";
    testutil::WriteText(path, text);
    return path;
  }

  std::string export_, export_text_;
};

TEST_F(ImportRecoveryTest, RefusedImportIntoANonEmptyDirectoryKeepsEveryFile) {
  std::string target = dir_->Sub("papers");
  std::filesystem::create_directories(target + "/drafts");
  testutil::WriteText(target + "/notes.txt", "not a ledger\n");
  testutil::WriteText(target + "/drafts/a.txt", "draft\n");
  const auto before = Files(target);
  for (const std::string& file : {GappedExport(), export_}) {
    testutil::ShellRun run = Run("--ledger " + ShellQuote(target) + " import " + ShellQuote(file));
    EXPECT_EQ(run.code, kExitEnvironment) << run.out << run.err;
    EXPECT_THAT(run.err, HasSubstr("is not empty and holds no ledger"));
    EXPECT_EQ(Files(target), before);
  }
}

TEST_F(ImportRecoveryTest, RefusedImportIntoAnEmptyDirectoryLeavesItEmpty) {
  std::string target = dir_->Sub("empty");
  std::filesystem::create_directories(target);
  testutil::ShellRun run =
      Run("--ledger " + ShellQuote(target) + " import " + ShellQuote(GappedExport()));
  EXPECT_EQ(run.code, kExitIntegrity) << run.out << run.err;
  EXPECT_TRUE(std::filesystem::is_directory(target));
  EXPECT_TRUE(Files(target).empty());
}

TEST_F(ImportRecoveryTest, KilledImportIsResumedByRunningItAgain) {
  std::string target = dir_->Sub("imported");
  std::string import = "--ledger " + ShellQuote(target) + " import " + ShellQuote(export_);
  testutil::ShellRun killed = Run(import, "FUNDLEDGER_TEST_IMPORT_CRASH=5");
  ASSERT_EQ(killed.code, kExitCrashHook) << killed.out << killed.err;

  testutil::ShellRun verify = Run("--ledger " + ShellQuote(target) + " verify");
  EXPECT_EQ(verify.code, kExitEnvironment) << verify.out << verify.err;
  EXPECT_THAT(verify.err, HasSubstr("did not finish; run the same import again"));

  // Another export (a different history) may not complete it, and changes nothing.
  std::vector<std::string> lines = testutil::NonEmptyLines(export_text_);
  std::string other = dir_->Sub("other.jsonl");
  testutil::WriteText(other, lines[0] + "\n" + lines[1] + "\n");  // shorter: not the same export
  testutil::ShellRun wrong =
      Run("--ledger " + ShellQuote(target) + " import " + ShellQuote(GappedExport()));
  EXPECT_EQ(wrong.code, kExitIntegrity) << wrong.out << wrong.err;
  testutil::ShellRun shorter =
      Run("--ledger " + ShellQuote(target) + " import " + ShellQuote(other));
  EXPECT_EQ(shorter.code, kExitIntegrity) << shorter.out << shorter.err;
  EXPECT_TRUE(std::filesystem::exists(target + "/CURRENT"));

  testutil::ShellRun resumed = Run(import);
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  testutil::ShellRun audit = Run("--ledger " + ShellQuote(target) + " audit");
  EXPECT_EQ(audit.code, 0) << audit.out << audit.err;
  testutil::ShellRun exported = Run("--ledger " + ShellQuote(target) + " export");
  EXPECT_EQ(exported.code, 0) << exported.err;
  EXPECT_EQ(exported.out, export_text_);
}

}  // namespace
}  // namespace fundledger::tools
