// The checkpoints a client remembers, one per ledger, in a small JSON state file
// (schemas/FORMAT.md "Checkpoint state"), so that a server cannot show it a history other than
// the one it saw before.
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>
#include <vector>

#include "events/text.h"
#include "ledger/checkpoint.h"
#include "tools/fundledger/context.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
using nlohmann::json;

constexpr const char* kStateFormat = "fundledger-checkpoint-state/1";
constexpr const char* kOriginPrefix = "fundledger/";

Status Malformed(const std::string& path, const std::string& why) {
  return Status::InvalidArgument("checkpoint state " + path + ": " + why +
                                 " (the file is left as it is: repair it, or move it aside to "
                                 "trust the server afresh)");
}

// The ledgers object of the state file; an empty one if the file does not exist.
Result<json> LoadState(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, error))) {
    return json{{"format", kStateFormat}, {"ledgers", json::object()}};
  }
  auto size = std::filesystem::file_size(path, error);
  if (!error && size > kCheckpointStateBytesMax) {
    return Malformed(path, "larger than " + std::to_string(kCheckpointStateBytesMax) + " bytes");
  }
  LEDGER_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json state = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) return Malformed(path, "not a JSON object");
  if (state.value("format", json()) != kStateFormat) {
    return Malformed(path, std::string("no \"format\": \"") + kStateFormat + "\"");
  }
  if (!state.contains("ledgers") || !state["ledgers"].is_object()) {
    return Malformed(path, "no \"ledgers\" object");
  }
  if (state["ledgers"].size() > kCheckpointStateLedgersMax) {
    return Malformed(path, "more than " + std::to_string(kCheckpointStateLedgersMax) + " ledgers");
  }
  return state;
}

// One ledger's entry, checked: the note must state the size and root recorded beside it.
Result<service::SeenCheckpoint> ParseSeen(const std::string& path, const std::string& id,
                                          const json& entry) {
  const std::string where = "ledger " + id + ": ";
  if (!entry.is_object()) return Malformed(path, where + "not an object");
  const json& size = entry.value("size", json());
  const json& root = entry.value("root", json());
  const json& note = entry.value("note", json());
  const json& seen_at = entry.value("seenAt", json());
  if (!size.is_number_unsigned() || size.get<uint64_t>() == 0) {
    return Malformed(path, where + "\"size\" is not a whole number of at least 1");
  }
  if (!root.is_string() || !note.is_string() || !seen_at.is_string()) {
    return Malformed(path, where + "\"root\", \"note\" and \"seenAt\" must be strings");
  }
  service::SeenCheckpoint out;
  out.checkpoint.origin = kOriginPrefix + id;
  out.checkpoint.size = size.get<uint64_t>();
  auto root_bytes = ev::ArrayFromHex<32>(root.get<std::string>());
  if (!root_bytes) return Malformed(path, where + "\"root\" is not 64 hex digits");
  out.checkpoint.root = *root_bytes;
  out.note = note.get<std::string>();
  auto at = ev::ParseInstant(seen_at.get<std::string>());
  if (!at.ok()) return Malformed(path, where + "\"seenAt\": " + at.status().message());
  out.seen_at_ms = *at;
  // The note's own text must say what the entry says (its signature was checked when seen).
  size_t end = out.note.rfind("\n\n");
  auto stated = ledger::ParseCheckpointText(end == std::string::npos
                                                ? std::string_view()
                                                : std::string_view(out.note).substr(0, end + 1));
  if (!stated.ok() || !(*stated == out.checkpoint)) {
    return Malformed(path, where + "the note does not state this size and root");
  }
  return out;
}

}  // namespace

Result<std::string> Context::CheckpointStatePath() const {
  if (!checkpoint_state.empty()) return checkpoint_state;
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  };
  if (std::string path = env("FUNDLEDGER_CHECKPOINT_STATE"); !path.empty()) return path;
  // The XDG base directory specification ignores a relative XDG_STATE_HOME.
  if (std::string state = env("XDG_STATE_HOME"); !state.empty() && state.front() == '/') {
    return state + "/fundledger/checkpoints";
  }
  if (std::string home = env("HOME"); !home.empty()) {
    return home + "/.local/state/fundledger/checkpoints";
  }
  return Status::IOError(
      "no place for the checkpoints seen: give --checkpoint-state F, or set "
      "FUNDLEDGER_CHECKPOINT_STATE or HOME");
}

Result<std::optional<service::SeenCheckpoint>> RecallCheckpoint(const std::string& path,
                                                                const std::string& origin) {
  LEDGER_ASSIGN_OR_RETURN(json state, LoadState(path));
  if (!origin.starts_with(kOriginPrefix)) return std::optional<service::SeenCheckpoint>();
  const std::string id = origin.substr(std::string(kOriginPrefix).size());
  const json& ledgers = state["ledgers"];
  auto found = ledgers.find(id);
  if (found == ledgers.end()) return std::optional<service::SeenCheckpoint>();
  LEDGER_ASSIGN_OR_RETURN(service::SeenCheckpoint seen, ParseSeen(path, id, *found));
  return std::optional<service::SeenCheckpoint>(std::move(seen));
}

Status RememberCheckpoint(const std::string& path, service::SeenCheckpoint seen, int64_t now_ms) {
  LEDGER_ASSIGN_OR_RETURN(json state, LoadState(path));
  const std::string& origin = seen.checkpoint.origin;
  if (!origin.starts_with(kOriginPrefix)) {
    return Status::InvalidArgument("a checkpoint of " + origin + " is not a fundledger ledger's");
  }
  const std::string id = origin.substr(std::string(kOriginPrefix).size());
  json& ledgers = state["ledgers"];
  if (!ledgers.contains(id) && ledgers.size() >= kCheckpointStateLedgersMax) {
    return Status::InvalidArgument("checkpoint state " + path + " already holds " +
                                   std::to_string(kCheckpointStateLedgersMax) + " ledgers");
  }
  ledgers[id] = {{"size", seen.checkpoint.size},
                 {"root", ev::Hex(seen.checkpoint.root)},
                 {"note", seen.note},
                 {"seenAt", ev::FormatInstant(now_ms)}};
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    // Only directories made here get 0700; an existing one is left as it is.
    std::vector<std::filesystem::path> missing;
    std::error_code error;
    for (auto dir = parent; !dir.empty() && !std::filesystem::exists(dir, error);
         dir = dir.parent_path()) {
      missing.push_back(dir);
      if (dir == dir.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
        return Status::IOError("cannot make the directory " + it->string() + " for " + path);
      }
    }
  }
  return WriteFile(path, state.dump(2) + "\n", 0600, /*force=*/true);
}

}  // namespace fundledger::tools
