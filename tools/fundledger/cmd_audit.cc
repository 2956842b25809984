// audit, checkpoint, prove, check-proof, export, import, rebuild: the inspector's tools.
#include <malloc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "events/codec.h"
#include "events/text.h"
#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/exchange.h"
#include "tools/fundledger/context.h"
#include "tools/report/build.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using nlohmann::json;

struct AuditArgs {
  std::string from_export;
  std::vector<std::string> checkpoints;
  bool attest = false;
  std::string attestation_out;
  bool since_attestation = false;
};

bool IsCapnpFile(const std::string& path) { return path.ends_with(".capnp") || path.ends_with(".bin"); }

// An export file's entries for audit, streamed: counted on a first pass, which also refuses a
// malformed file (exit 2) before anything is audited, then read again in order as the audit
// asks for them. Holds one record at a time, whatever the file's size.
class StreamedExport : public ledger::EntrySource {
 public:
  static Result<std::unique_ptr<StreamedExport>> Open(const std::string& path, bool capnp) {
    auto source = std::unique_ptr<StreamedExport>(new StreamedExport(path, capnp));
    if (!source->in_) return Status::IOError("cannot read " + path);
    ledger::ExportReader counter(&source->in_, capnp);
    while (true) {
      LEDGER_ASSIGN_OR_RETURN(auto next, counter.NextRaw());
      if (!next) break;
    }
    source->size_ = counter.count();
    source->in_.clear();
    source->in_.seekg(0);
    if (!source->in_) return Status::IOError("cannot read " + path);
    return source;
  }
  uint64_t Size() const override { return size_; }
  // Entries are read in order only (Audit asks for them so).
  Result<ev::Bytes> Raw(uint64_t seq) const override {
    if (seq != next_seq_)
      return Status::IOError("the export is read in order, not entry " + std::to_string(seq));
    ++next_seq_;
    auto next = reader_.NextRaw();
    // The file was checked whole on the first pass: a change now is a read failure.
    if (!next.ok()) return Status::IOError(next.status().message());
    if (!next->has_value())
      return Status::NotFound("entry " + std::to_string(seq) + " is not in the export");
    return std::move(**next);
  }

 private:
  StreamedExport(const std::string& path, bool capnp)
      : in_(path, std::ios::binary), reader_(&in_, capnp) {}
  mutable std::ifstream in_;
  mutable ledger::ExportReader reader_;
  mutable uint64_t next_seq_ = 1;
  uint64_t size_ = 0;
};

void PrintSummary(const Context& ctx, const ledger::AuditReport& report, const std::string& origin) {
  std::map<std::string, pj::Totals> by_measure;
  std::map<std::string, int64_t> allocated;
  for (const auto& [key, my] : report.state.measure_years) {
    std::string rest = key.substr(3);
    std::string m = rest.substr(0, rest.rfind('/'));
    pj::Totals& t = by_measure[m];
    t.granted_fen += my.totals.granted_fen;
    t.revoked_fen += my.totals.revoked_fen;
    t.paid_fen += my.totals.paid_fen;
    t.reversed_fen += my.totals.reversed_fen;
    allocated[m] += my.AllocatedFen();
  }
  size_t integrity = 0, rules = 0;
  for (const auto& f : report.findings) (f.integrity ? integrity : rules)++;
  auto rows_of = [&report](const char* kind) -> uint64_t {
    auto it = report.row_counts.find(kind);
    return it == report.row_counts.end() ? 0 : it->second;
  };
  if (ctx.json) {
    json measures = json::array();
    for (const auto& [m, t] : by_measure) {
      measures.push_back({{"measure", m}, {"allocatedFen", allocated[m]}, {"awardedFen", t.CommittedFen()},
                          {"paidFen", t.NetPaidFen()}});
    }
    json findings = json::array();
    for (const auto& f : report.findings) {
      findings.push_back({{"seq", f.seq}, {"kind", f.kind}, {"code", f.code}, {"message", f.message}, {"integrity", f.integrity}});
    }
    PrintJson({{"origin", origin},
               {"entries", report.entries},
               {"recipients", rows_of("recipient")},
               {"applications", rows_of("app")},
               {"rootHash", ev::Hex(report.root)},
               {"stateHash", ev::Hex(report.state_hash)},
               {"checkpointsChecked", report.checkpoints_checked},
               {"firstReplayed", report.first_replayed},
               {"integrityFindings", integrity},
               {"ruleFindings", rules},
               {"measures", measures},
               {"findings", findings}});
    return;
  }
  for (const auto& f : report.findings) {
    std::cout << (f.integrity ? "INTEGRITY " : "RULE      ") << (f.seq ? "seq " + std::to_string(f.seq) + " " : "")
              << (f.kind.empty() ? "" : f.kind + " ") << "[" << f.code << "] " << f.message << "\n";
  }
  if (report.attestation_seq != 0) {
    std::cout << "audit since the attestation at entry " << report.attestation_seq
              << " (entries before it as attested, not re-checked)\n";
  }
  std::cout << "audit of " << origin << "\n  entries " << report.entries << ", recipients "
            << rows_of("recipient") << ", applications " << rows_of("app")
            << ", checkpoints checked " << report.checkpoints_checked << "\n  root  "
            << ev::Hex(report.root) << "\n  state " << ev::Hex(report.state_hash) << "\n";
  std::printf("  %-8s %20s %20s %20s\n", "measure", "allocated", "awarded", "paid");
  for (const auto& [m, t] : by_measure) {
    std::printf("  %-8s %20s %20s %20s\n", m.c_str(), ev::FormatYuan(allocated[m]).c_str(),
                ev::FormatYuan(t.CommittedFen()).c_str(), ev::FormatYuan(t.NetPaidFen()).c_str());
  }
  std::cout << "  result: " << (integrity ? "INTEGRITY FAILURE" : rules ? "rule findings" : "clean") << " (" << integrity
            << " integrity, " << rules << " rule findings)\n";
}

// A signed attestation of an audited export: a signed note by the auditor.
std::string AttestationText(const std::string& origin, const ledger::AuditReport& report) {
  ev::Hash digest = ev::Sha256(report.FindingsText());
  return "fundledger-attestation\n" + origin + "\n" + std::to_string(report.entries) + "\n" + ev::Base64(report.root) + "\n" +
         ev::Base64(report.state_hash) + "\n" + ev::Base64(digest) + "\n" + std::to_string(report.findings.size()) + "\n";
}

Status Attest(const Context& ctx, const AuditArgs& args, ledger::Ledger* writer, const ledger::AuditReport& report,
              const std::string& origin) {
  LEDGER_ASSIGN_OR_RETURN(ev::PrivateKey key, ctx.SigningKey());
  if (writer == nullptr) {
    if (args.attestation_out.empty()) return Status::InvalidArgument("--attest on an export needs --attestation-out FILE");
    std::string note = ledger::SignNote(AttestationText(origin, report), "fundledger-auditor/" + ev::Hex(key.key_id()).substr(0, 16), key);
    LEDGER_RETURN_IF_ERROR(WriteFile(args.attestation_out, note, 0644, ctx.force));
    if (!ctx.json) std::cout << "attestation written to " << args.attestation_out << "\n";
    return Status::Ok();
  }
  LEDGER_ASSIGN_OR_RETURN(int64_t now, ctx.Now());
  ev::AuditAttested body{report.entries, report.root, report.state_hash, ev::Sha256(report.FindingsText()),
                         static_cast<uint32_t>(report.findings.size())};
  ledger::AppendRequest request{body, ctx.idempotency_key, {}};
  LEDGER_ASSIGN_OR_RETURN(auto results,
                          writer->Append(key, std::span(&request, 1), now, SystemClockMs()));
  if (!ctx.json) std::cout << "attested as entry " << results.front().seq << "\n";
  return Status::Ok();
}

Status AuditCommand(const Context& ctx, const AuditArgs& args) {
  if (!args.attestation_out.empty()) {
    LEDGER_RETURN_IF_ERROR(CheckOutputFile(args.attestation_out, ctx.force));
  }
  ledger::AuditOptions options;
  for (const std::string& file : args.checkpoints) {
    LEDGER_ASSIGN_OR_RETURN(std::string note, ReadFile(file));
    options.checkpoint_notes.push_back(note);
  }
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<ledger::EntrySource> source;
  if (args.since_attestation && !args.from_export.empty()) {
    return Status::InvalidArgument("--since-attestation audits a ledger, not --from-export");
  }
  options.since_attestation = args.since_attestation;
  if (!args.from_export.empty()) {
    LEDGER_ASSIGN_OR_RETURN(source,
                            StreamedExport::Open(args.from_export, IsCapnpFile(args.from_export)));
  } else {
    // An attesting audit holds the writer lock so nothing is appended between audit and attestation.
    LEDGER_ASSIGN_OR_RETURN(ledger, args.attest ? ctx.OpenWriter() : ctx.OpenReader());
    options.stored = ledger.get();
    source = std::make_unique<ledger::LedgerEntrySource>(ledger.get());
  }
  Progress progress("audit", source->Size());
  options.progress = [&progress](uint64_t done) { progress.Update(done); };
  options.now_ms = SystemClockMs();
  LEDGER_ASSIGN_OR_RETURN(ledger::AuditReport report, ledger::Audit(*source, options));
  std::string origin = "fundledger/" + ev::Hex(report.state.info.ledger_id);
  PrintSummary(ctx, report, origin);
  ctx.report_printed = true;
  if (!report.IntegrityOk()) return Status::Corruption("audit found integrity failures; first: " + [&] {
    for (const auto& f : report.findings) if (f.integrity) return f.message;
    return std::string();
  }());
  if (args.attest) LEDGER_RETURN_IF_ERROR(Attest(ctx, args, ledger.get(), report, origin));
  if (!report.RulesOk()) {
    return Status::Rejected("audit.findings", std::to_string(report.findings.size()) + " rule findings");
  }
  return Status::Ok();
}

Status CheckpointCommand(const Context& ctx, const std::string& out) {
  // Before the checkpoint is stored: a refused --out leaves the ledger as it was.
  if (!out.empty()) LEDGER_RETURN_IF_ERROR(CheckOutputFile(out, ctx.force));
  LEDGER_ASSIGN_OR_RETURN(ev::PrivateKey key, ctx.SigningKey());
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenWriter());
  const pj::KeyInfo* info = ledger->view().FindKey(key.key_id());
  if (info == nullptr || info->role != ev::Role::kNotary) {
    return Status::Rejected("role", "a checkpoint is signed by a registered notary key");
  }
  if (info->revoked_seq != 0) return Status::Rejected("key.revoked", "the notary key was revoked");
  LEDGER_ASSIGN_OR_RETURN(ev::Hash root, ledger::RootAt(ledger->tree(), ledger->size()));
  ledger::Checkpoint checkpoint{ledger->Origin(), ledger->size(), root};
  std::string note = ledger::SignNote(ledger::CheckpointText(checkpoint), ledger->Origin(), key);
  LEDGER_RETURN_IF_ERROR(ledger->StoreCheckpoint(ledger->size(), note));
  if (!out.empty()) LEDGER_RETURN_IF_ERROR(WriteFile(out, note, 0644, ctx.force));
  std::string vkey = ledger::VerifierKey(ledger->Origin(), key.public_key());
  if (ctx.json) {
    PrintJson({{"origin", checkpoint.origin}, {"treeSize", checkpoint.size}, {"rootHash", ev::Hex(root)}, {"note", note},
               {"verifierKey", vkey}});
  } else {
    std::cout << note << "verifier key: " << vkey << "\n";
  }
  return Status::Ok();
}

json HashesJson(const std::vector<ev::Hash>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) out.push_back(ev::Base64(h));
  return out;
}

Status ProveInclusion(const Context& ctx, uint64_t seq, uint64_t size) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  if (size == 0) size = ledger->size();
  if (seq == 0 || seq > size || size > ledger->size()) return Status::InvalidArgument("need 1 <= seq <= size <= " + std::to_string(ledger->size()));
  LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger->Read(seq));
  LEDGER_ASSIGN_OR_RETURN(auto proof, ledger::InclusionProof(ledger->tree(), seq - 1, size));
  LEDGER_ASSIGN_OR_RETURN(ev::Hash root, ledger::RootAt(ledger->tree(), size));
  json j = {{"type", "inclusion"}, {"origin", ledger->Origin()}, {"seq", seq}, {"leafIdx", seq - 1}, {"treeSize", size},
            {"leafHash", ev::Base64(stored.leaf_hash)}, {"root", ev::Base64(root)}, {"proof", HashesJson(proof)}};
  std::cout << (ctx.json ? j.dump() : j.dump(2)) << "\n";
  return Status::Ok();
}

Status ProveConsistency(const Context& ctx, uint64_t from, uint64_t to) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  if (to == 0) to = ledger->size();
  if (from == 0 || from > to || to > ledger->size()) return Status::InvalidArgument("need 1 <= from <= to <= " + std::to_string(ledger->size()));
  LEDGER_ASSIGN_OR_RETURN(auto proof, ledger::ConsistencyProof(ledger->tree(), from, to));
  LEDGER_ASSIGN_OR_RETURN(ev::Hash root1, ledger::RootAt(ledger->tree(), from));
  LEDGER_ASSIGN_OR_RETURN(ev::Hash root2, ledger::RootAt(ledger->tree(), to));
  json j = {{"type", "consistency"}, {"origin", ledger->Origin()}, {"size1", from}, {"size2", to},
            {"root1", ev::Base64(root1)}, {"root2", ev::Base64(root2)}, {"proof", HashesJson(proof)}};
  std::cout << (ctx.json ? j.dump() : j.dump(2)) << "\n";
  return Status::Ok();
}

struct CheckProofArgs {
  std::string checkpoint, proof, public_key, old_checkpoint, entry;
};

// Opens a checkpoint note with the notary's public key; the note name is its origin line.
Result<ledger::Checkpoint> OpenCheckpointFile(const std::string& file, const ev::PublicKey& notary) {
  LEDGER_ASSIGN_OR_RETURN(std::string note, ReadFile(file));
  auto checkpoint = ledger::OpenCheckpoint(note, notary);
  if (!checkpoint.ok()) return Status::Corruption("checkpoint " + file + ": " + checkpoint.status().message());
  return checkpoint;
}

Result<ev::Bytes> B64Field(const json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) return Status::InvalidArgument(std::string("proof needs '") + name + "'");
  auto bytes = ev::FromBase64(j[name].get<std::string>());
  if (!bytes) return Status::InvalidArgument(std::string("proof '") + name + "' is not base64");
  return *bytes;
}

Result<uint64_t> UintField(const json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_number_unsigned()) return Status::InvalidArgument(std::string("proof needs an integer '") + name + "'");
  return j[name].get<uint64_t>();
}

Status CheckProof(const Context& ctx, const CheckProofArgs& a) {
  LEDGER_ASSIGN_OR_RETURN(std::string pub_pem, ReadFile(a.public_key));
  LEDGER_ASSIGN_OR_RETURN(ev::PublicKey notary, ev::PublicKeyFromPem(pub_pem));
  LEDGER_ASSIGN_OR_RETURN(ledger::Checkpoint cp, OpenCheckpointFile(a.checkpoint, notary));
  LEDGER_ASSIGN_OR_RETURN(std::string proof_text, ReadFile(a.proof));
  LEDGER_ASSIGN_OR_RETURN(json j, ev::ParseJsonStrict(proof_text));
  if (!j.is_object() || !j.contains("type")) return Status::InvalidArgument("proof file needs a 'type'");
  if (j.contains("origin") && j["origin"] != cp.origin) {
    return Status::Corruption("the proof is for " + j["origin"].dump() + ", the checkpoint for " + cp.origin);
  }
  json proof_hashes = j.contains("proof") ? j["proof"] : json::array();
  if (!proof_hashes.is_array()) return Status::InvalidArgument("'proof' must be an array");
  std::vector<ev::Bytes> proof;
  for (const json& h : proof_hashes) {
    auto bytes = h.is_string() ? ev::FromBase64(h.get<std::string>()) : std::nullopt;
    if (!bytes) return Status::InvalidArgument("proof hashes must be base64");
    proof.push_back(*bytes);
  }
  std::string what;
  if (j["type"] == "inclusion") {
    LEDGER_ASSIGN_OR_RETURN(uint64_t index, UintField(j, "leafIdx"));
    LEDGER_ASSIGN_OR_RETURN(uint64_t size, UintField(j, "treeSize"));
    LEDGER_ASSIGN_OR_RETURN(ev::Bytes leaf, B64Field(j, "leafHash"));
    if (size != cp.size) return Status::Corruption("the proof is for tree size " + std::to_string(size) + ", the checkpoint for " + std::to_string(cp.size));
    if (!a.entry.empty()) {
      // The entry the inspector holds must be the leaf the proof is about.
      LEDGER_ASSIGN_OR_RETURN(std::string line, ReadFile(a.entry));
      LEDGER_ASSIGN_OR_RETURN(auto entries, ledger::ParseExport(line, false));
      if (entries.size() != 1) return Status::InvalidArgument("--entry holds one entry (show SEQ --json)");
      if (ev::Bytes(entries[0].leaf_hash.begin(), entries[0].leaf_hash.end()) != leaf) {
        return Status::Corruption("the proof is for another leaf than the entry given");
      }
      if (entries[0].entry.seq != index + 1) return Status::Corruption("the entry's seq does not match the proof's leaf index");
      if ("fundledger/" + ev::Hex(entries[0].entry.ledger_id) != cp.origin) return Status::Corruption("the entry belongs to another ledger");
    }
    LEDGER_RETURN_IF_ERROR(ledger::VerifyInclusion(index, size, leaf, proof, cp.root));
    what = "entry " + std::to_string(index + 1) + " is included in the checkpointed tree of " + std::to_string(size);
  } else if (j["type"] == "consistency") {
    LEDGER_ASSIGN_OR_RETURN(uint64_t size1, UintField(j, "size1"));
    LEDGER_ASSIGN_OR_RETURN(uint64_t size2, UintField(j, "size2"));
    LEDGER_ASSIGN_OR_RETURN(ev::Bytes root1, B64Field(j, "root1"));
    if (size2 != cp.size) return Status::Corruption("the proof ends at size " + std::to_string(size2) + ", the checkpoint is " + std::to_string(cp.size));
    if (!a.old_checkpoint.empty()) {
      LEDGER_ASSIGN_OR_RETURN(ledger::Checkpoint old, OpenCheckpointFile(a.old_checkpoint, notary));
      if (old.origin != cp.origin) return Status::Corruption("the two checkpoints are of different ledgers");
      if (old.size != size1 || ev::Bytes(old.root.begin(), old.root.end()) != root1) {
        return Status::Corruption("the proof does not start at the older checkpoint");
      }
    }
    LEDGER_RETURN_IF_ERROR(ledger::VerifyConsistency(size1, size2, root1, ev::Bytes(cp.root.begin(), cp.root.end()), proof));
    what = "the tree of " + std::to_string(size1) + " is a prefix of the checkpointed tree of " + std::to_string(size2);
  } else {
    return Status::InvalidArgument("proof type must be inclusion or consistency");
  }
  if (ctx.json) PrintJson({{"ok", true}, {"origin", cp.origin}, {"statement", what}});
  else std::cout << "ok: " << what << " (" << cp.origin << ")\n";
  return Status::Ok();
}

Status ExportCommand(const Context& ctx, const std::string& format, uint64_t from, uint64_t to, const std::string& out) {
  if (format != "jsonl" && format != "capnp" && format != "hledger") {
    return Status::InvalidArgument("--format is jsonl, capnp or hledger");
  }
  const bool to_file = !out.empty() && out != "-";
  if (to_file) LEDGER_RETURN_IF_ERROR(CheckOutputFile(out, ctx.force));
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  if (to == 0) to = ledger->size();
  if (format == "hledger") {
    // A journal's balances need every money event from the start: --from does not apply.
    if (from != 1) return Status::InvalidArgument("--from does not apply to --format hledger");
    LEDGER_ASSIGN_OR_RETURN(std::string data, report::HledgerJournal(*ledger, to));
    if (!to_file) {
      std::cout << data;
      return Status::Ok();
    }
    LEDGER_RETURN_IF_ERROR(WriteFile(out, data, 0644, ctx.force));
  } else if (!to_file) {
    // Entries go out as they are read: an export never holds the ledger in memory.
    LEDGER_RETURN_IF_ERROR(
        ledger::WriteExport(*ledger, from, to, format == "capnp", [](std::string_view piece) {
          std::cout.write(piece.data(), static_cast<std::streamsize>(piece.size()));
          return std::cout ? Status::Ok() : Status::IOError("cannot write standard output");
        }));
    return Status::Ok();
  } else {
    LEDGER_RETURN_IF_ERROR(WriteFileStreamed(out, 0644, ctx.force, [&](const OutputSink& sink) {
      return ledger::WriteExport(*ledger, from, to, format == "capnp", sink);
    }));
  }
  if (!ctx.json) std::cerr << "exported entries " << from << ".." << to << " to " << out << "\n";
  return Status::Ok();
}

// Test hook, for tests only: FUNDLEDGER_TEST_IMPORT_CRASH=N verifies the import in groups of N
// entries and ends the process abruptly after the first commit (the first group, or its first
// kImportBatchBytesMax), as a crash or kill would.
// 0 when unset or not a number in 1..kBatchEntriesMax.
size_t ImportCrashGroupForTesting() {
  const char* text = std::getenv("FUNDLEDGER_TEST_IMPORT_CRASH");
  if (text == nullptr) return 0;
  char* end = nullptr;
  unsigned long long n = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || n == 0 || n > ledger::kBatchEntriesMax) return 0;
  return static_cast<size_t>(n);
}

}  // namespace

void ImportTarget::Discard() {
  ledger.reset();
  if (!fresh) return;
  std::error_code ignored;  // why: best effort; the refusal's own error is what gets reported
  if (!dir_existed) {
    std::filesystem::remove_all(root, ignored);
    return;
  }
  for (const auto& child : std::filesystem::directory_iterator(root, ignored)) {
    std::filesystem::remove_all(child.path(), ignored);
  }
}

Result<ImportTarget> OpenImportTarget(const std::string& dir) {
  namespace fs = std::filesystem;
  // Best effort (a refusal leaves glibc's default): large blocks go back to the system when
  // freed instead of staying in the heap (ledger::kImportMmapThresholdBytes).
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(ledger::kImportMmapThresholdBytes));
  ImportTarget target;
  target.root = dir;
  std::error_code error;
  target.fresh = !fs::exists(target.root / "CURRENT", error);
  target.dir_existed = fs::exists(target.root, error);
  if (target.fresh && target.dir_existed) {
    // Never write over files that are not a ledger: a refusal would have to remove them.
    if (!fs::is_directory(target.root, error)) return Status::IOError(dir + " is not a directory");
    bool empty = fs::is_empty(target.root, error);
    if (error) return Status::IOError("cannot read " + dir + ": " + error.message());
    if (!empty) {
      return Status::IOError(
          dir +
          " is not empty and holds no ledger; import into a new or empty directory or a ledger");
    }
  }
  if (target.fresh) {
    auto created = ledger::Ledger::CreateForImport(dir);
    if (!created.ok()) {
      target.Discard();
      return created.status();
    }
    target.ledger = std::move(*created);
  } else {
    ledger::OpenOptions options;
    options.resume_import = true;  // a killed import into a new directory is resumed
    LEDGER_ASSIGN_OR_RETURN(target.ledger, ledger::Ledger::Open(dir, options));
  }
  return target;
}

namespace {

Status ImportCommand(const Context& ctx, const std::string& file, const std::string& format) {
  LEDGER_ASSIGN_OR_RETURN(std::string dir, ctx.LedgerDir());
  bool capnp = format.empty() ? IsCapnpFile(file) : format == "capnp";
  // The export is read a group at a time (twice into a ledger that holds entries already: a
  // check pass, then the commit), never held whole.
  std::unique_ptr<std::ifstream> in;
  std::unique_ptr<ledger::ExportReader> reader;
  auto open = [&]() -> ledger::ImportSource {
    in = std::make_unique<std::ifstream>(file, std::ios::binary);
    reader = std::make_unique<ledger::ExportReader>(in.get(), capnp);
    if (!*in) {
      return [file](size_t, std::vector<ledger::StoredEntry>*) {
        return Status::IOError("cannot read " + file);
      };
    }
    return ledger::ExportSource(reader.get());
  };
  {
    std::ifstream probe(file, std::ios::binary);
    if (!probe) return Status::IOError("cannot read " + file);
  }
  std::error_code size_error;
  const uint64_t file_bytes = std::filesystem::file_size(file, size_error);
  LEDGER_ASSIGN_OR_RETURN(ImportTarget target, OpenImportTarget(dir));
  std::unique_ptr<ledger::Ledger>& ledger = target.ledger;
  uint64_t before = ledger->size();
  Progress progress("import (bytes)", size_error ? 0 : file_bytes);
  const size_t crash_group = ImportCrashGroupForTesting();
  auto on_group = [&progress, &in, crash_group](uint64_t) {
    std::streamoff at = in ? static_cast<std::streamoff>(in->tellg()) : -1;
    if (at >= 0) progress.Update(static_cast<uint64_t>(at));
    if (crash_group != 0) std::_Exit(86);
  };
  Status status =
      ledger::ImportStream(ledger.get(), open, SystemClockMs(), on_group,
                           crash_group != 0 ? crash_group : ledger::kImportGroupEntries);
  if (!status.ok()) {
    target.Discard();  // nothing of a ledger this run created may stay behind
    return status;
  }
  uint64_t added = ledger->size() - before;
  if (ctx.json)
    PrintJson({{"imported", added}, {"from", before + 1}, {"to", ledger->size()}});
  else
    std::cout << "imported " << added << " entries (" << before + 1 << ".." << ledger->size()
              << "), all verified\n";
  return Status::Ok();
}

Status RebuildCommand(const Context& ctx) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenWriter());
  LEDGER_ASSIGN_OR_RETURN(uint64_t differing, ledger->Rebuild());
  if (ctx.json) PrintJson({{"entries", ledger->size()}, {"rowsRewritten", differing}});
  else std::cout << "rebuilt projections from " << ledger->size() << " entries; " << differing << " rows differed and were rewritten\n";
  return Status::Ok();
}

}  // namespace

void AddAuditCommands(CLI::App& app, Context& ctx, Action* run) {
  static AuditArgs audit_args;
  auto* audit = app.add_subcommand("audit", "replay from entry 1: bytes, chain, signatures, signer rights, every rule, projections, checkpoints. Exit 0 clean, 1 rule findings, 3 integrity failure");
  audit->add_option("--from-export", audit_args.from_export, "audit an export file (jsonl, or .capnp) with no RocksDB at all");
  audit->add_option("--checkpoint", audit_args.checkpoints, "a published checkpoint note to check (repeatable)");
  audit->add_flag("--attest", audit_args.attest, "append an AuditAttested entry signed by --key (or write --attestation-out for an export)");
  audit->add_option("--attestation-out", audit_args.attestation_out, "attestation file for an export audit");
  audit->add_flag(
      "--since-attestation", audit_args.since_attestation,
      "re-check only from the last AuditAttested entry: the state and tree it attests are "
      "read from the store and checked against it, later entries get every check");
  audit->add_flag("--force", ctx.force, "replace an existing --attestation-out file");
  audit->callback([&ctx, run] { *run = [&ctx] { return AuditCommand(ctx, audit_args); }; });

  static std::string checkpoint_out;
  auto* checkpoint = app.add_subcommand("checkpoint", "sign the current tree head as a C2SP checkpoint (notary --key)");
  checkpoint->add_option("--out", checkpoint_out, "write the signed note to this file for publication");
  checkpoint->add_flag("--force", ctx.force, "replace an existing --out file");
  checkpoint->callback([&ctx, run] { *run = [&ctx] { return CheckpointCommand(ctx, checkpoint_out); }; });

  auto* prove = app.add_subcommand("prove", "RFC 9162 inclusion and consistency proofs");
  prove->require_subcommand(1);
  static uint64_t seq = 0, size = 0, from = 0, to = 0;
  auto* inclusion = prove->add_subcommand("inclusion", "prove entry SEQ is in the tree of SIZE entries");
  inclusion->add_option("--seq", seq, "entry seq")->required()->transform(DecimalIn(1, kSeqMax));
  inclusion->add_option("--size", size, "tree size (default: head)")
      ->transform(DecimalIn(1, kSeqMax));
  inclusion->callback([&ctx, run] { *run = [&ctx] { return ProveInclusion(ctx, seq, size); }; });
  auto* consistency = prove->add_subcommand("consistency", "prove the tree of FROM entries is a prefix of the tree of TO");
  consistency->add_option("--from", from, "older tree size")
      ->required()
      ->transform(DecimalIn(1, kSeqMax));
  consistency->add_option("--to", to, "newer tree size (default: head)")
      ->transform(DecimalIn(1, kSeqMax));
  consistency->callback([&ctx, run] { *run = [&ctx] { return ProveConsistency(ctx, from, to); }; });

  static CheckProofArgs cp;
  auto* check = app.add_subcommand("check-proof", "verify a proof against a checkpoint file, opening no ledger");
  check->add_option("--checkpoint", cp.checkpoint, "signed checkpoint note")->required();
  check->add_option("--proof", cp.proof, "proof JSON from 'prove'")->required();
  check->add_option("--public-key", cp.public_key, "notary's public key (PEM)")->required();
  check->add_option("--old-checkpoint", cp.old_checkpoint, "for a consistency proof: the older checkpoint");
  check->add_option("--entry", cp.entry, "for an inclusion proof: the entry (show SEQ --json) the proof must be about");
  check->callback([&ctx, run] { *run = [&ctx] { return CheckProof(ctx, cp); }; });

  static std::string format = "jsonl", out;
  static uint64_t efrom = 1, eto = 0;
  auto* exp = app.add_subcommand("export", "every entry with signature and leaf hash (JSON lines or Cap'n Proto stream)");
  exp->add_option("--format", format,
                  "jsonl (default), capnp, or hledger (a journal of the money events)");
  exp->add_option("--from", efrom, "first seq (default 1)")->transform(DecimalIn(1, kSeqMax));
  exp->add_option("--to", eto, "last seq (default: head)")->transform(DecimalIn(1, kSeqMax));
  exp->add_option("--out", out, "file (default: standard output)");
  exp->add_flag("--force", ctx.force, "replace an existing --out file (keeping its stricter mode)");
  exp->callback([&ctx, run] { *run = [&ctx] { return ExportCommand(ctx, format, efrom, eto, out); }; });

  static std::string import_file, import_format;
  auto* imp = app.add_subcommand("import", "import an export into a new or existing ledger, re-verifying everything; appends nothing on any error");
  imp->add_option("file", import_file, "export file")->required();
  imp->add_option("--format", import_format, "jsonl or capnp (default: by file name)");
  imp->callback([&ctx, run] { *run = [&ctx] { return ImportCommand(ctx, import_file, import_format); }; });

  auto* rebuild = app.add_subcommand("rebuild", "recompute every projection from entry 1 and rewrite the stored rows");
  rebuild->callback([&ctx, run] { *run = [&ctx] { return RebuildCommand(ctx); }; });
}

}  // namespace fundledger::tools
