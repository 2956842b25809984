#include "tools/fundledger/context.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "events/codec.h"
#include "events/text.h"
#include "ledger/exchange.h"
#include "tools/service/service.h"

namespace fundledger::tools {

namespace ev = ::fundledger::events;
using nlohmann::json;

Result<std::string> Context::LedgerDir() const {
  if (!ledger_dir.empty()) return ledger_dir;
  if (const char* env = std::getenv("FUNDLEDGER_DIR"); env != nullptr && *env != '\0') return std::string(env);
  return Status::InvalidArgument("no ledger: give --ledger DIR or set FUNDLEDGER_DIR");
}

Result<std::unique_ptr<ledger::Ledger>> Context::OpenWriter() const {
  if (!Server().empty()) return OpenRemote(/*writer=*/true);
  LEDGER_ASSIGN_OR_RETURN(std::string dir, LedgerDir());
  spdlog::info("opening {} as the writer", dir);
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ledger::Ledger::Open(dir, ledger::OpenMode::kWriter));
  spdlog::info("{}: {} entries, head {}", ledger->Origin(), ledger->size(),
               ev::Hex(ledger->head().head_hash));
  return ledger;
}

Result<std::unique_ptr<ledger::Ledger>> Context::OpenReader() const {
  if (!Server().empty()) return OpenRemote(/*writer=*/false);
  LEDGER_ASSIGN_OR_RETURN(std::string dir, LedgerDir());
  spdlog::info("opening {} as a reader (RocksDB secondary)", dir);
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ledger::Ledger::Open(dir, ledger::OpenMode::kReader));
  spdlog::info("{}: {} entries, head {}", ledger->Origin(), ledger->size(),
               ev::Hex(ledger->head().head_hash));
  return ledger;
}

std::string Context::Server() const {
  if (!server.empty()) return server;
  if (const char* env = std::getenv("FUNDLEDGER_SERVER"); env != nullptr) return env;
  return "";
}

Result<std::unique_ptr<ledger::Ledger>> Context::OpenRemote(bool writer) const {
  if (local_only_command != nullptr) {
    return Status::InvalidArgument(std::string(local_only_command) +
                                   " is not available with --server: it reads the store "
                                   "itself (run it where the ledger is, or on a copy)");
  }
  service::ClientOptions options;
  options.server = Server();
  options.ca_file = server_ca;
  if (writer && !at.empty()) {
    return Status::InvalidArgument(
        "--at is not available with --server: the server's clock "
        "sets recordedAt");
  }
  if (writer || !key_file.empty()) {
    LEDGER_ASSIGN_OR_RETURN(options.key, SigningKey());
  }
  // The checkpoints this client saw, so the server cannot show it another history. The state
  // file is read only when the server serves a checkpoint.
  options.checkpoints = service::CheckpointMemory{
      [this](const std::string& origin) -> Result<std::optional<service::SeenCheckpoint>> {
        LEDGER_ASSIGN_OR_RETURN(std::string path, CheckpointStatePath());
        return RecallCheckpoint(path, origin);
      },
      [this](const service::SeenCheckpoint& seen) -> Status {
        LEDGER_ASSIGN_OR_RETURN(std::string path, CheckpointStatePath());
        spdlog::info("remembering the checkpoint of {} entries in {}", seen.checkpoint.size, path);
        return RememberCheckpoint(path, seen, SystemClockMs());
      }};
  spdlog::info("connecting to {}{}", options.server, writer ? " to write" : "");
  LEDGER_ASSIGN_OR_RETURN(auto ledger, service::ConnectLedger(std::move(options)));
  spdlog::info("{}: {} entries, head {}", ledger->Origin(), ledger->size(),
               ev::Hex(ledger->head().head_hash));
  return ledger;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path);
  return out.str();
}

Status CheckOutputFile(const std::string& path, bool force) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    return Status::IOError(path +
                           " is a symbolic link; refusing to write through it or replace it");
  }
  if (!S_ISREG(st.st_mode)) return Status::IOError(path + " exists and is not a regular file");
  if (!force) {
    return Status::IOError(path + " exists; refusing to overwrite it (--force replaces it)");
  }
  return Status::Ok();
}

namespace {

// Writes all of `data` to `fd`; false on any failure (errno set).
bool WriteAll(int fd, std::string_view data) {
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

// Moves `from` onto `to`; without `replace`, fails with EEXIST if `to` exists, atomically (a
// file created meanwhile is never overwritten).
bool MoveInto(const std::string& from, const std::string& to, bool replace) {
  if (replace) return ::rename(from.c_str(), to.c_str()) == 0;
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno != EINVAL && errno != ENOSYS) return false;
  // A file system without RENAME_NOREPLACE: link() refuses an existing name just as well.
  if (::link(from.c_str(), to.c_str()) != 0) return false;
  ::unlink(from.c_str());
  return true;
}

}  // namespace

Status WriteFile(const std::string& path, const std::string& data, unsigned mode, bool force) {
  return WriteFileStreamed(path, mode, force,
                           [&data](const OutputSink& sink) { return sink(data); });
}

Status WriteFileStreamed(const std::string& path, unsigned mode, bool force,
                         const std::function<Status(const OutputSink&)>& produce) {
  LEDGER_RETURN_IF_ERROR(CheckOutputFile(path, force));
  const std::filesystem::path target(path);
  if (!target.has_filename()) return Status::IOError("cannot write " + path + ": not a file name");
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  unsigned final_mode = mode & 0777u;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    final_mode &= static_cast<unsigned>(st.st_mode);
  }
  std::string temp = dir + "/." + target.filename().string() + ".tmp-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    std::string reason = std::strerror(errno);
    ::unlink(temp.c_str());
    return Status::IOError(what + ": " + reason);
  };
  // fchmod, not the mode of open(): the umask must not decide a key file's mode.
  if (::fchmod(fd, static_cast<mode_t>(final_mode)) != 0) {
    ::close(fd);
    return fail("cannot write " + path);
  }
  // Bytes are collected up to kOutputBufferBytes and written in one call, so a producer may
  // hand over small pieces (an export's lines) without a system call each.
  std::string buffer;
  bool io_failed = false;
  const OutputSink sink = [&](std::string_view piece) -> Status {
    if (io_failed) return Status::IOError("cannot write " + path);
    buffer.append(piece);
    if (buffer.size() < kOutputBufferBytes) return Status::Ok();
    io_failed = !WriteAll(fd, buffer);
    buffer.clear();
    if (io_failed) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
    return Status::Ok();
  };
  Status produced = produce(sink);
  if (!produced.ok()) {
    ::close(fd);
    ::unlink(temp.c_str());
    return produced;
  }
  bool written = !io_failed && WriteAll(fd, buffer) && ::fsync(fd) == 0;
  if (::close(fd) != 0 || !written) return fail("cannot write " + path);
  if (!MoveInto(temp, path, force)) {
    if (errno == EEXIST) {
      ::unlink(temp.c_str());
      return Status::IOError(path + " exists; refusing to overwrite it (--force replaces it)");
    }
    return fail("cannot write " + path);
  }
  // The rename itself is durable only once the directory is synced (EINVAL: a file system
  // that cannot sync directories, where there is nothing more to do).
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool synced = dir_fd >= 0 && (::fsync(dir_fd) == 0 || errno == EINVAL);
  std::string reason = synced ? "" : std::strerror(errno);
  if (dir_fd >= 0) ::close(dir_fd);
  if (!synced) return Status::IOError("cannot sync the directory of " + path + ": " + reason);
  return Status::Ok();
}

Result<ev::PrivateKey> LoadKeyFile(const std::string& path, bool allow_insecure) {
  if (path.empty()) return Status::InvalidArgument("this command signs: give --key FILE");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::IOError("key file " + path + " cannot be read");
  if ((st.st_mode & 077) != 0 && !allow_insecure) {
    return Status::IOError("key file " + path + " is readable by group or others (chmod 600 it, or pass --allow-insecure-key)");
  }
  LEDGER_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto key = ev::PrivateKey::FromPem(pem);
  if (!key.ok()) return Status::IOError("key file " + path + ": " + key.status().message());
  return key;
}

Result<ev::PrivateKey> Context::SigningKey() const { return LoadKeyFile(key_file, allow_insecure_key); }

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<int64_t> Context::Now() const {
  std::string text = at;
  const char* source = "--at";
  if (text.empty()) {
    if (const char* env = std::getenv("FUNDLEDGER_NOW"); env != nullptr) text = env;
    source = "FUNDLEDGER_NOW";
  }
  if (text.empty()) return SystemClockMs();
  Result<int64_t> parsed = ev::ParseInstant(text);
  if (!parsed.ok()) return parsed.status().WithPrefix(source);
  return parsed;
}

Status Context::AppendOne(ev::Body body, const projections::Defaults& defaults) const {
  LEDGER_ASSIGN_OR_RETURN(ev::PrivateKey key, SigningKey());
  LEDGER_ASSIGN_OR_RETURN(int64_t now, Now());
  LEDGER_ASSIGN_OR_RETURN(auto ledger, OpenWriter());
  std::string kind = ev::KindName(body);
  spdlog::info("signing {} with key {} at {}", kind, ev::Hex(key.key_id()).substr(0, 16), ev::FormatInstant(now));
  ledger::AppendRequest request{std::move(body), idempotency_key, defaults};
  LEDGER_ASSIGN_OR_RETURN(auto results,
                          ledger->Append(key, std::span(&request, 1), now, SystemClockMs()));
  const ledger::AppendResult& r = results.front();
  if (json) {
    nlohmann::json out = {{"seq", r.seq}, {"kind", kind}, {"replayed", r.replayed}};
    if (!r.note.empty()) out["decided"] = r.note;
    PrintJson(out);
  } else {
    if (!r.note.empty()) std::cout << r.note << "\n";
    std::cout << (r.replayed ? "already recorded as entry " : "recorded ") << kind << " as entry " << r.seq << "\n";
  }
  return Status::Ok();
}

CLI::Validator DecimalIn(uint64_t min, uint64_t max) {
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "'" + text + "' is not a whole number (decimal digits only)";
        }
        uint64_t value = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size() || value < min ||
            value > max) {
          return "'" + text + "' is out of range " + range;
        }
        text = std::to_string(value);  // "010" must not reach CLI11 as octal
        return "";
      },
      "INTEGER in " + range);
}

Result<int64_t> ParseAmountOption(const char* option, const std::string& text) {
  Result<int64_t> fen = ev::ParseYuan(text);
  if (!fen.ok()) return fen.status().WithPrefix(option);
  return fen;
}

// The same object as an export line, so `log --json`, `show --json` and exports never drift.
json EntryJson(const ledger::StoredEntry& s) { return json::parse(ledger::ExportJsonLine(s)); }

std::string EntryLine(const ledger::StoredEntry& s, const projections::StateView& state) {
  const ev::Entry& e = s.entry;
  std::string who = ev::Hex(e.signer).substr(0, 8);
  if (const auto* key = state.FindKey(e.signer)) who = key->holder + " (" + key->unit + ")";
  std::string what = std::visit(
      [](const auto& b) -> std::string {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ev::ApplicationSubmitted>) {
          return b.application_id + " " + b.recipient_id + " measure " + b.measure + "/" + b.track + " " +
                 std::to_string(b.fiscal_year) + " basis " + ev::FormatYuan(b.basis_fen);
        } else if constexpr (std::is_same_v<T, ev::AwardGranted> || std::is_same_v<T, ev::AwardRevoked> ||
                             std::is_same_v<T, ev::PayoutDisbursed> || std::is_same_v<T, ev::PayoutReversed>) {
          return b.application_id + " " + ev::FormatYuan(b.amount_fen);
        } else if constexpr (std::is_same_v<T, ev::ApplicationApproved> || std::is_same_v<T, ev::ApplicationRejected>) {
          return b.application_id;
        } else if constexpr (std::is_same_v<T, ev::RecipientRegistered>) {
          return b.recipient_id + " " + b.name + " (" + ev::RecipientKindName(b.kind) + ", " + b.district + ")";
        } else if constexpr (std::is_same_v<T, ev::BudgetAllocated>) {
          return "measure " + b.measure + " " + std::to_string(b.fiscal_year) + " " + ev::FormatYuan(b.amount_fen) +
                 " from " + b.source;
        } else if constexpr (std::is_same_v<T, ev::KeyRegistered>) {
          return std::string(ev::RoleName(b.role)) + " " + b.holder + " (" + b.unit + ")";
        } else if constexpr (std::is_same_v<T, ev::PolicyPublished>) {
          return b.policy.id + " " + b.policy.version + " from " + b.effective_from;
        } else if constexpr (std::is_same_v<T, ev::LedgerCreated>) {
          return b.name;
        } else if constexpr (std::is_same_v<T, ev::KeyRevoked>) {
          return ev::Hex(b.key_id).substr(0, 16) + " " + b.reason;
        } else {
          return "tree size " + std::to_string(b.tree_size);
        }
      },
      e.body);
  char head[96];
  std::snprintf(head, sizeof(head), "%7llu  %s  %-20s ", static_cast<unsigned long long>(e.seq),
                ev::FormatInstant(e.recorded_at_ms).substr(0, 16).c_str(), ev::KindName(e.body));
  return std::string(head) + what + "  by " + who;
}

void PrintJson(const json& value) { std::cout << value.dump(-1, ' ', false, json::error_handler_t::replace) << "\n"; }

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(2) == 1 && total > 0) {}

Progress::~Progress() {
  if (enabled_ && last_percent_ >= 0) std::fprintf(stderr, "\n");
}

void Progress::Update(uint64_t done) {
  if (!enabled_) return;
  int percent = static_cast<int>(done * 100 / total_);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  int filled = percent * 30 / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% %llu/%llu", label_.c_str(), filled, "##############################",
               30 - filled, "", percent, static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_));
  std::fflush(stderr);
}

}  // namespace fundledger::tools
