// What every fundledger command shares: the global options, key loading with its permission
// check, the clock (tools may read it; projections never do), and output in text or JSON.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "events/crypto.h"
#include "ledger/ledger.h"
#include "tools/service/service.h"

namespace fundledger::tools {

struct Context {
  std::string ledger_dir;       // --ledger or FUNDLEDGER_DIR
  std::string key_file;         // --key
  std::string at;               // --at or FUNDLEDGER_NOW
  std::string idempotency_key;  // --idempotency-key
  bool json = false;            // --json
  bool verbose = false;         // -v
  bool allow_insecure_key = false;
  bool force = false;  // --force of a command that writes files: replace existing ones
  // Set by a command that already printed its --json report, so a failure adds no second object.
  mutable bool report_printed = false;

  // --- Remote use (fundledger serve, docs/SERVICE.md) ---
  std::string server;     // --server HOST:PORT or FUNDLEDGER_SERVER
  std::string server_ca;  // --server-ca: PEM certificate(s) trusted for the server
  // Set by a command that reads the store itself on several threads (audit, verify): with
  // --server it is refused before anything is read, rather than failing part-way.
  const char* local_only_command = nullptr;
  // The server to use instead of a local directory: --server, else FUNDLEDGER_SERVER, else "".
  std::string Server() const;
  // A ledger served by Server(), authenticated by --key if given (reads without a key need a
  // --public-reads server). A writer needs --key, and refuses --at: the server's clock dates
  // remote writes (FUNDLEDGER_NOW is not used for them). kIOError naming the server if it
  // cannot be reached; the server's refusals keep their codes.
  Result<std::unique_ptr<ledger::Ledger>> OpenRemote(bool writer) const;
  // --- Checkpoints a client remembers (docs/SERVICE.md "Checkpoints") ---
  std::string checkpoint_state;  // --checkpoint-state F
  // The state file: --checkpoint-state, else FUNDLEDGER_CHECKPOINT_STATE, else
  // $XDG_STATE_HOME/fundledger/checkpoints (an absolute XDG_STATE_HOME), else
  // $HOME/.local/state/fundledger/checkpoints; kIOError if none of them is set.
  Result<std::string> CheckpointStatePath() const;

  // The ledger directory; kInvalidArgument if neither --ledger nor FUNDLEDGER_DIR is set.
  Result<std::string> LedgerDir() const;
  Result<std::unique_ptr<ledger::Ledger>> OpenWriter() const;
  Result<std::unique_ptr<ledger::Ledger>> OpenReader() const;
  // The signing key from --key: refused if missing, unreadable, not Ed25519, or readable by
  // group or others (unless --allow-insecure-key). Environment errors are kIOError (exit 4).
  Result<events::PrivateKey> SigningKey() const;
  // recordedAt for a write: --at, else FUNDLEDGER_NOW, else the system clock. A malformed
  // time is kInvalidArgument naming --at or FUNDLEDGER_NOW.
  Result<int64_t> Now() const;
  // Appends one body signed with --key, leaving to the writer what `defaults` names
  // (projections::Resolve); prints what it decided and "recorded … as entry N" (or JSON).
  Status AppendOne(events::Body body, const projections::Defaults& defaults = {}) const;
};

// The machine's clock in UTC ms, never --at or FUNDLEDGER_NOW: what a write's recordedAt may
// not run ahead of (projections::CheckNotInFuture) and the moment an audit runs.
int64_t SystemClockMs();

// Loads a private key file with the permission check.
Result<events::PrivateKey> LoadKeyFile(const std::string& path, bool allow_insecure);
Result<std::string> ReadFile(const std::string& path);
// Whether WriteFile(path, …, force) may write `path`: nothing is there, or (with `force`) a
// regular file is. A symbolic link (even dangling), anything but a regular file, or an
// existing file without `force` is kIOError naming the path. Commands call it before they
// change anything, so a refused output file leaves the ledger as it was.
Status CheckOutputFile(const std::string& path, bool force);
// The one way the CLI writes an output file (keys, exports, checkpoints, attestations): `data`
// goes to a new temporary file in the same directory (O_EXCL), is fsynced, and is renamed onto
// `path`, whose directory is then fsynced; so `path` holds the old bytes or the new, never a
// part, and nothing is written through a link. Refused as CheckOutputFile says. With `force`
// an existing file is replaced and keeps the stricter of its mode and `mode` (bits in both).
// On error `path` is unchanged and the temporary file removed.
Status WriteFile(const std::string& path, const std::string& data, unsigned mode, bool force);
// Receives an output's bytes piece by piece; an error stops the producer.
using OutputSink = std::function<Status(std::string_view)>;
// Bytes WriteFileStreamed collects before one write call.
inline constexpr size_t kOutputBufferBytes = 1 << 20;
// WriteFile for an output too large to hold (an export): `produce` hands its bytes to the sink
// in order, and they go to the temporary file through a buffer of kOutputBufferBytes; the
// contract is WriteFile's (refusals, temporary file fsynced and renamed, directory synced,
// modes). If `produce` or a write fails, its error is returned, `path` is unchanged and the
// temporary file removed.
Status WriteFileStreamed(const std::string& path, unsigned mode, bool force,
                         const std::function<Status(const OutputSink&)>& produce);

// The ledger an import or a mirror writes into: the directory's ledger (a killed import or
// mirror is resumed), or a new one (Ledger::CreateForImport) in a new or empty directory.
// Files that are not a ledger are never written over (kIOError). Opening one also sets glibc's
// mmap threshold for the rest of the process (ledger::kImportMmapThresholdBytes).
struct ImportTarget {
  std::unique_ptr<ledger::Ledger> ledger;
  bool fresh = false;        // this run created the ledger
  bool dir_existed = false;  // the directory was there before this run
  std::filesystem::path root;
  // Closes the ledger and, if this run created it, removes it: the directory if this run made
  // it, else (it was empty) only what this run put in it.
  void Discard();
};
Result<ImportTarget> OpenImportTarget(const std::string& dir);

// --- Checkpoints a client remembers (docs/SERVICE.md "Checkpoints", FORMAT.md) ---
// The state file holds at most this many ledgers and bytes; a larger one is refused.
inline constexpr size_t kCheckpointStateLedgersMax = 1000;
inline constexpr size_t kCheckpointStateBytesMax = 16 << 20;
// The checkpoint remembered in the state file at `path` for the ledger `origin`; nullopt if
// the file or its entry is absent. A malformed file is kInvalidArgument naming it (the file
// is left as it is); an unreadable one kIOError.
Result<std::optional<service::SeenCheckpoint>> RecallCheckpoint(const std::string& path,
                                                                const std::string& origin);
// Keeps `seen` as the checkpoint of its ledger in the state file at `path`, stamped with
// `now_ms`: written whole with WriteFile (mode 0600), missing directories made with mode 0700.
// Errors as RecallCheckpoint's, and WriteFile's.
Status RememberCheckpoint(const std::string& path, service::SeenCheckpoint seen, int64_t now_ms);

// Bounds of numeric options: a seq or tree size is 1..2^64-1; a fiscal year is a four-digit
// calendar year from 1970 (events::ParseIsoDate's range).
inline constexpr uint64_t kSeqMax = std::numeric_limits<uint64_t>::max();
inline constexpr uint64_t kYearMin = 1970;
inline constexpr uint64_t kYearMax = 9999;

// A CLI11 transform for a numeric option (->transform, so the rewritten text is what CLI11
// converts): the text must be a plain decimal integer in [min, max] and goes on as that number.
// CLI11 alone wraps "-1" to 2^64-1, reads "010" as octal and "0x10" as hex, and takes "" and " 5".
// The refusal is a usage error (exit 2) naming the option.
CLI::Validator DecimalIn(uint64_t min, uint64_t max);
// The amount (events::ParseYuan) given to `option`; kInvalidArgument naming the option.
Result<int64_t> ParseAmountOption(const char* option, const std::string& text);

// JSON of one stored entry (DESIGN.md §10 / issue contract): seq, kind, signer, recordedAt,
// entry (base64 canonical bytes), signature (base64), leafHash (hex), body, and more.
nlohmann::json EntryJson(const ledger::StoredEntry& stored);
// One human line for an entry: "   42  2025-03-01 09:30  AwardGranted  A-2025-001 500,000.00".
std::string EntryLine(const ledger::StoredEntry& stored, const projections::StateView& state);

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
void AddMirrorCommand(CLI::App& app, Context& ctx, Action* run);
// `serve` (the service) and `status` (a server's state).
void AddServiceCommands(CLI::App& app, Context& ctx, Action* run);

}  // namespace fundledger::tools
