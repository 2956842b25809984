// Shared test helpers: fixed keys, temporary directories, the shipped policy, and a ledger
// with a full set of officers so tests state only what they are about.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/crypto.h"
#include "events/model.h"
#include "ledger/ledger.h"

namespace fundledger::testutil {

// A deterministic Ed25519 key from a one-byte seed (so golden files and signatures are stable).
events::PrivateKey TestKey(uint8_t n);

// A fresh directory under /tmp, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Rewrites record `key` of column family `family` in the closed ledger at `path`, as someone
// with the files could: `change` gets its value (nullopt if absent) and leaves the new one.
void RewriteStoredRecord(const std::string& path, const std::string& family, const std::string& key,
                         const std::function<void(std::optional<std::string>*)>& change);

// Every projection row of `ledger`, read whole from its store.
projections::LedgerState WholeState(const ledger::Ledger& ledger);
// Every row as the ledger's own view answers it (its rows in memory first, then the store), by
// key, over the keys of both: a refused batch that left a row changed in memory shows here
// even though the store is unchanged.
std::map<std::string, std::string> ViewRows(const ledger::Ledger& ledger);

// schemas/policies/shenzhen-ai-pioneer-2024.json, parsed (aborts the test if it does not).
const events::Policy& ShenzhenPolicy();
std::string SourcePath(const std::string& relative);  // FUNDLEDGER_SOURCE_DIR + "/" + relative

// UTC ms of a Shanghai local time, e.g. At("2025-03-01T09:00:00").
int64_t At(const std::string& iso);
// The writer's and auditor's clock in tests (no real clock): 2030-01-01, later than every
// time the tests record, so only tests about the clock bound meet "time.future".
int64_t FixedClockMs();

// Files and shell commands, for tests that run the fundledger binary.
std::string ReadText(const std::string& path);
void WriteText(const std::string& path, const std::string& text);
std::string ShellQuote(const std::string& word);  // single-quoted for /bin/sh
std::vector<std::string> NonEmptyLines(const std::string& text);
struct ShellRun {
  int code = -1;
  std::string out, err;
};
// Runs `command` with /bin/sh in `dir`, capturing stdout, stderr and the exit code.
ShellRun RunShell(const std::string& dir, const std::string& command);

// A valid USCC built from a number (check character computed).
std::string Uscc(uint32_t n);
// A SHA-256 digest from a label, for evidence.
events::Hash Digest(const std::string& label);

// A ledger at a temp dir with the Shenzhen policy published (effective 2024-12-18), and one key
// per officer: Key("admin"), Key("clerk:SZ-STIB"), Key("reviewer:SZ-STIB"),
// Key("reviewer2:SZ-STIB") (a second reviewer of the unit), Key("treasurer"), Key("auditor"),
// Key("notary"), for every unit of the policy (clerk:/reviewer:/reviewer2:<unit>).
class LedgerFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  const events::PrivateKey& Key(const std::string& name) const;
  // Appends one body signed by Key(signer) at `at_ms` (default: the fixture's clock, which
  // advances one minute per append).
  Result<uint64_t> Append(const std::string& signer, events::Body body, int64_t at_ms = 0);
  // The same, asserting success; returns the seq.
  uint64_t MustAppend(const std::string& signer, events::Body body);

  // Registers a recipient of `kind` in `district`; returns its USCC.
  std::string AddRecipient(uint32_t n, events::RecipientKind kind, const std::string& district = "nanshan",
                           std::vector<std::string> related = {});
  // Allocates `yuan` to measure/year from the city.
  void Allocate(const std::string& measure, uint16_t year, int64_t fen, const std::string& source = "city");
  // Submits (by the measure's first unit's clerk) and approves (by its reviewer) an application.
  void SubmitAndApprove(const events::ApplicationSubmitted& application);
  // The responsible unit of a measure (its first) in the Shenzhen policy.
  static std::string UnitOf(const std::string& measure);

  // Registers every officer's key (signed by the authority) and publishes the Shenzhen policy
  // in ledger_ (SetUp does this; tests that build a second ledger call it again).
  void RegisterOfficers();
  // Closes and reopens the ledger (e.g. to check persistence).
  void Reopen();

  std::unique_ptr<TempDir> dir_;
  std::string path_;
  std::unique_ptr<ledger::Ledger> ledger_;
  int64_t clock_ms_ = 0;
  std::map<std::string, std::unique_ptr<events::PrivateKey>> keys_;
};

}  // namespace fundledger::testutil
