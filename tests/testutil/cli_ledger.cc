#include "tests/testutil/cli_ledger.h"

#include <sys/stat.h>

#include <filesystem>
#include <vector>

namespace fundledger::testutil {
namespace {

// fundledger at `now`, with the ledger at `dir`/ledger; `args` are shell words.
ShellRun Fundledger(const std::string& binary, const std::string& now, const std::string& dir,
                    const std::string& args) {
  return RunShell(dir, "FUNDLEDGER_NOW=" + ShellQuote(now) + " " + ShellQuote(binary) +
                           " --ledger " + ShellQuote(dir + "/ledger") + " " + args);
}

}  // namespace

CliTemplateLedger::CliTemplateLedger(const std::string& binary, const std::string& now,
                                     const std::string& name) {
  const std::string dir = dir_.path();
  auto run = [&](const std::string& args) {
    ShellRun o = Fundledger(binary, now, dir, args);
    EXPECT_EQ(o.code, 0) << args << ": " << o.err;
    return o;
  };
  // `key gen` prints the key id alone on one line.
  auto key_gen = [&](const std::string& file) {
    std::vector<std::string> lines = NonEmptyLines(run("key gen --out " + file).out);
    EXPECT_EQ(lines.size(), 1u) << file;
    return lines.empty() ? std::string() : lines.front();
  };
  authority_id_ = key_gen("authority.pem");
  run("init --authority-key authority.pem --name " + ShellQuote(name));
  admin_id_ = key_gen("admin.pem");
  run("--key authority.pem key register --public-key admin.pem.pub --role admin "
      "--unit LEDGER-ADMIN --holder admin");
  clerk_id_ = key_gen("clerk.pem");
  run("--key admin.pem key register --public-key clerk.pem.pub --role clerk "
      "--unit SZ-STIB --holder 'clerk one'");
}

void CliTemplateLedger::CopyTo(const std::string& dir) const {
  std::error_code error;
  std::filesystem::copy(
      dir_.path(), dir,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing,
      error);
  ASSERT_FALSE(error) << error.message();
  for (const char* key : {"authority.pem", "admin.pem", "clerk.pem"}) {
    const std::string path = dir + "/" + key;
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0) << path;
  }
}

}  // namespace fundledger::testutil
