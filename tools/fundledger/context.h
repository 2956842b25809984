// What every fundledger command shares: the global options, key loading with its permission
// check, the clock (tools may read it; projections never do), and output in text or JSON.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "events/crypto.h"
#include "ledger/ledger.h"

namespace fundledger::tools {

struct Context {
  std::string ledger_dir;       // --ledger or FUNDLEDGER_DIR
  std::string key_file;         // --key
  std::string at;               // --at or FUNDLEDGER_NOW
  std::string idempotency_key;  // --idempotency-key
  bool json = false;            // --json
  bool verbose = false;         // -v
  bool allow_insecure_key = false;
  // Set by a command that already printed its --json report, so a failure adds no second object.
  mutable bool report_printed = false;

  // The ledger directory; kInvalidArgument if neither --ledger nor FUNDLEDGER_DIR is set.
  Result<std::string> LedgerDir() const;
  Result<std::unique_ptr<ledger::Ledger>> OpenWriter() const;
  Result<std::unique_ptr<ledger::Ledger>> OpenReader() const;
  // The signing key from --key: refused if missing, unreadable, not Ed25519, or readable by
  // group or others (unless --allow-insecure-key). Environment errors are kIOError (exit 4).
  Result<events::PrivateKey> SigningKey() const;
  // recordedAt for a write: --at, else FUNDLEDGER_NOW, else the system clock.
  Result<int64_t> Now() const;
  // Appends one body signed with --key, prints "seq N" (or JSON), returns the status.
  Status AppendOne(events::Body body) const;
};

// Loads a private key file with the permission check.
Result<events::PrivateKey> LoadKeyFile(const std::string& path, bool allow_insecure);
Result<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` with `mode` (created or truncated), fsynced.
Status WriteFile(const std::string& path, const std::string& data, unsigned mode);

// JSON of one stored entry (DESIGN.md §10 / issue contract): seq, kind, signer, recordedAt,
// entry (base64 canonical bytes), signature (base64), leafHash (hex), body, and more.
nlohmann::json EntryJson(const ledger::StoredEntry& stored);
// One human line for an entry: "   42  2025-03-01 09:30  AwardGranted  A-2025-001 500,000.00".
std::string EntryLine(const ledger::StoredEntry& stored, const projections::LedgerState& state);

// Prints a JSON value on one line to stdout.
void PrintJson(const nlohmann::json& value);

// A progress bar on stderr when it is a terminal; silent otherwise.
class Progress {
 public:
  Progress(std::string label, uint64_t total);
  ~Progress();
  void Update(uint64_t done);

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  int last_percent_ = -1;
};

// Registers every command on `app`; each sets `*run` to its action.
using Action = std::function<Status()>;
void AddCoreCommands(CLI::App& app, Context& ctx, Action* run);
void AddMoneyCommands(CLI::App& app, Context& ctx, Action* run);
void AddQueryCommands(CLI::App& app, Context& ctx, Action* run);
void AddAuditCommands(CLI::App& app, Context& ctx, Action* run);
void AddSimulateCommand(CLI::App& app, Context& ctx, Action* run);
void AddReportCommands(CLI::App& app, Context& ctx, Action* run);

}  // namespace fundledger::tools
