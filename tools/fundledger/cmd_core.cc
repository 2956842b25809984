// init, key gen/register/revoke/list, append, log, show, verify.
#include <filesystem>
#include <iostream>

#include "events/codec.h"
#include "events/text.h"
#include "ledger/audit.h"
#include "tools/fundledger/context.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
using nlohmann::json;

Status Init(const Context& ctx, const std::string& authority_file, const std::string& name,
            const std::string& unit, const std::string& holder) {
  LEDGER_ASSIGN_OR_RETURN(std::string dir, ctx.LedgerDir());
  LEDGER_ASSIGN_OR_RETURN(ev::PrivateKey authority, LoadKeyFile(authority_file, ctx.allow_insecure_key));
  LEDGER_ASSIGN_OR_RETURN(int64_t now, ctx.Now());
  LEDGER_RETURN_IF_ERROR(projections::CheckNotInFuture(now, SystemClockMs()));
  ev::LedgerCreated created;
  created.name = name;
  created.authority_public_key = authority.public_key();
  created.authority_unit = unit;
  created.authority_holder = holder;
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ledger::Ledger::Create(dir, authority, created, now));
  if (ctx.json) {
    PrintJson({{"ledgerId", ev::Hex(ledger->head().ledger_id)},
               {"origin", ledger->Origin()},
               {"seq", 1}});
  } else {
    std::cout << "created ledger '" << name << "' at " << dir << "\nledger id "
              << ev::Hex(ledger->head().ledger_id) << "\n";
  }
  return Status::Ok();
}

Status KeyGen(const Context& ctx, const std::string& out) {
  // Both files are checked before either is written: a refused .pub leaves no new private key.
  LEDGER_RETURN_IF_ERROR(CheckOutputFile(out, ctx.force));
  LEDGER_RETURN_IF_ERROR(CheckOutputFile(out + ".pub", ctx.force));
  LEDGER_ASSIGN_OR_RETURN(ev::PrivateKey key, ev::PrivateKey::Generate());
  LEDGER_RETURN_IF_ERROR(WriteFile(out, key.ToPem(), 0600, ctx.force));
  LEDGER_RETURN_IF_ERROR(WriteFile(out + ".pub", key.PublicPem(), 0644, ctx.force));
  if (ctx.json) {
    PrintJson({{"keyId", ev::Hex(key.key_id())}, {"publicKey", ev::Hex(key.public_key())}, {"file", out}});
  } else {
    std::cout << ev::Hex(key.key_id()) << "\n";
  }
  return Status::Ok();
}

Status KeyRegister(const Context& ctx, const std::string& public_file, const std::string& role_name,
                   const std::string& unit, const std::string& holder) {
  LEDGER_ASSIGN_OR_RETURN(std::string pem, ReadFile(public_file));
  LEDGER_ASSIGN_OR_RETURN(ev::PublicKey public_key, ev::PublicKeyFromPem(pem));
  ev::KeyRegistered body;
  body.public_key = public_key;
  if (!ev::ParseRole(role_name, &body.role) || body.role == ev::Role::kAuthority) {
    return Status::InvalidArgument("unknown role '" + role_name + "' (admin, clerk, reviewer, treasurer, auditor, notary)");
  }
  body.unit = unit;
  body.holder = holder;
  return ctx.AppendOne(body);
}

Status KeyRevoke(const Context& ctx, const std::string& key_id_hex, const std::string& reason) {
  auto key_id = ev::ArrayFromHex<32>(key_id_hex);
  if (!key_id) return Status::InvalidArgument("key id must be 64 hex characters");
  return ctx.AppendOne(ev::KeyRevoked{*key_id, reason});
}

Status KeyList(const Context& ctx) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  for (const projections::KeyInfo* info : ledger->view().AllKeys()) {
    const projections::KeyInfo& k = *info;
    std::string id = ev::Hex(ev::KeyIdOf(k.public_key));
    std::string status = k.revoked_seq ? "revoked" : "active";
    if (ctx.json) {
      PrintJson({{"keyId", id}, {"publicKey", ev::Hex(k.public_key)}, {"role", ev::RoleName(k.role)}, {"unit", k.unit},
                 {"holder", k.holder}, {"status", status}, {"registeredSeq", k.registered_seq},
                 {"revokedSeq", k.revoked_seq}});
    } else {
      std::printf("%s  %-9s %-12s %-24s %s%s\n", id.substr(0, 16).c_str(), ev::RoleName(k.role), k.unit.c_str(),
                  k.holder.c_str(), status.c_str(),
                  k.revoked_seq ? (" at entry " + std::to_string(k.revoked_seq) + ": " + k.revoke_reason).c_str() : "");
    }
  }
  return Status::Ok();
}

// One event from a JSON object {"kind", "body", "idempotencyKey"}; other keys are refused.
Result<ledger::AppendRequest> RequestFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("an event must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "kind" && it.key() != "body" && it.key() != "idempotencyKey") {
      return Status::InvalidArgument("unknown field '" + it.key() + "' (an event has kind, body, idempotencyKey)");
    }
  }
  if (!j.contains("kind") || !j["kind"].is_string()) return Status::InvalidArgument("event needs a string 'kind'");
  if (!j.contains("body")) return Status::InvalidArgument("event needs a 'body'");
  ledger::AppendRequest request;
  if (j.contains("idempotencyKey")) {
    if (!j["idempotencyKey"].is_string()) return Status::InvalidArgument("idempotencyKey must be a string");
    request.idempotency_key = j["idempotencyKey"].get<std::string>();
  }
  const std::string kind = j["kind"].get<std::string>();
  if (kind == "LedgerCreated") return Status::InvalidArgument("LedgerCreated is written by init only");
  LEDGER_ASSIGN_OR_RETURN(request.body, ev::BodyFromJson(kind, j["body"]));
  return request;
}

Result<std::vector<ledger::AppendRequest>> ReadEvents(const std::string& text) {
  std::vector<ledger::AppendRequest> requests;
  // A whole-file object is one event; otherwise one event per non-empty line.
  auto whole = ev::ParseJsonStrict(text);
  if (whole.ok() && whole->is_object()) {
    LEDGER_ASSIGN_OR_RETURN(auto request, RequestFromJson(*whole));
    requests.push_back(std::move(request));
    return requests;
  }
  size_t line_no = 0, start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    ++line_no;
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (requests.size() >= ledger::kBatchEntriesMax) return Status::InvalidArgument("more than " + std::to_string(ledger::kBatchEntriesMax) + " events in one file");
    auto parsed = ev::ParseJsonStrict(line);
    if (!parsed.ok()) return parsed.status().WithPrefix("line " + std::to_string(line_no));
    auto request = RequestFromJson(*parsed);
    if (!request.ok()) return request.status().WithPrefix("line " + std::to_string(line_no));
    requests.push_back(std::move(*request));
  }
  if (requests.empty()) return Status::InvalidArgument("no events in the file");
  return requests;
}

Status AppendFile(const Context& ctx, const std::string& file) {
  LEDGER_ASSIGN_OR_RETURN(std::string text, file == "-" ? Result<std::string>(std::string(std::istreambuf_iterator<char>(std::cin), {})) : ReadFile(file));
  LEDGER_ASSIGN_OR_RETURN(auto requests, ReadEvents(text));
  LEDGER_ASSIGN_OR_RETURN(ev::PrivateKey key, ctx.SigningKey());
  LEDGER_ASSIGN_OR_RETURN(int64_t now, ctx.Now());
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenWriter());
  LEDGER_ASSIGN_OR_RETURN(auto results, ledger->Append(key, requests, now, SystemClockMs()));
  for (size_t i = 0; i < results.size(); ++i) {
    if (ctx.json) {
      PrintJson({{"seq", results[i].seq}, {"kind", ev::KindName(requests[i].body)}, {"replayed", results[i].replayed}});
    } else {
      std::cout << (results[i].replayed ? "already recorded " : "recorded ") << ev::KindName(requests[i].body)
                << " as entry " << results[i].seq << "\n";
    }
  }
  return Status::Ok();
}

struct LogFilter {
  std::string kind, recipient, application;
  uint64_t from = 1, to = 0, limit = 0;
};

Status Log(const Context& ctx, const LogFilter& f) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  std::vector<uint64_t> seqs;
  std::string index;
  if (!f.kind.empty()) {
    if (ev::KindIndex(f.kind) < 0) return Status::InvalidArgument("unknown event kind '" + f.kind + "'");
    index = "kind/" + f.kind;
  }
  if (!f.recipient.empty()) index = "recipient/" + f.recipient;
  if (!f.application.empty()) index = "application/" + f.application;
  uint64_t to = f.to == 0 ? ledger->size() : std::min(f.to, ledger->size());
  if (!index.empty()) {
    LEDGER_ASSIGN_OR_RETURN(seqs, ledger->IndexSeqs(index));
  }
  uint64_t shown = 0;
  // Prints entry `seq`; false once the limit is reached.
  auto show = [&](uint64_t seq) -> Result<bool> {
    LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger->Read(seq));
    if (!f.kind.empty() && f.kind != ev::KindName(stored.entry.body)) return true;
    if (ctx.json) {
      PrintJson(EntryJson(stored));
    } else {
      std::cout << EntryLine(stored, ledger->view()) << "\n";
    }
    return f.limit == 0 || ++shown < f.limit;
  };
  if (index.empty()) {
    // Every entry in the range, read one at a time: a limit reads that many, whatever the size.
    for (uint64_t seq = f.from; seq <= to; ++seq) {
      LEDGER_ASSIGN_OR_RETURN(bool more, show(seq));
      if (!more) break;
    }
    return Status::Ok();
  }
  for (uint64_t seq : seqs) {
    if (seq < f.from || seq > to) continue;
    LEDGER_ASSIGN_OR_RETURN(bool more, show(seq));
    if (!more) break;
  }
  return Status::Ok();
}

Status Show(const Context& ctx, uint64_t seq) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger->Read(seq));
  json j = EntryJson(stored);
  if (ctx.json) {
    PrintJson(j);
  } else {
    std::cout << EntryLine(stored, ledger->view()) << "\n" << j.dump(2) << "\n";
  }
  return Status::Ok();
}

Status Verify(const Context& ctx) {
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  ledger::AuditOptions options;
  options.check_rules = false;
  options.chain_only = true;
  Progress progress("verify", ledger->size());
  options.progress = [&progress](uint64_t done) { progress.Update(done); };
  ledger::LedgerEntrySource source(ledger.get());
  LEDGER_ASSIGN_OR_RETURN(ledger::AuditReport report, ledger::Audit(source, options));
  for (const ledger::Finding& f : report.findings) {
    if (!f.integrity) continue;
    if (ctx.json) PrintJson({{"ok", false}, {"seq", f.seq}, {"code", f.code}, {"message", f.message}});
    ctx.report_printed = ctx.json;
    return Status::Corruption(f.message);
  }
  if (ctx.json) {
    PrintJson({{"ok", true}, {"entries", report.entries}, {"rootHash", ev::Hex(report.root)}});
  } else {
    std::cout << "ok: " << report.entries << " entries, chain and signatures verified from entry 1\nroot "
              << ev::Hex(report.root) << "\n";
  }
  return Status::Ok();
}

}  // namespace

void AddCoreCommands(CLI::App& app, Context& ctx, Action* run) {
  auto* init = app.add_subcommand("init", "create a ledger whose entry 1 is signed by the authority key");
  static std::string authority, name, unit = "LEDGER-ADMIN", holder = "authority";
  init->add_option("--authority-key", authority, "authority's private key file")->required();
  init->add_option("--name", name, "ledger name")->required();
  init->add_option("--unit", unit, "authority's unit (default LEDGER-ADMIN)");
  init->add_option("--holder", holder, "authority key holder (default 'authority')");
  init->callback([&ctx, run] { *run = [&ctx] { return Init(ctx, authority, name, unit, holder); }; });

  auto* key = app.add_subcommand("key", "generate, register, revoke and list signing keys");
  key->require_subcommand(1);
  static std::string out, public_file, role, key_unit, key_holder, key_id, reason;
  auto* gen = key->add_subcommand("gen", "write a new Ed25519 key to FILE (0600) and FILE.pub; print its key id");
  gen->add_option("--out", out, "private key file")->required();
  gen->add_flag("--force", ctx.force,
                "replace existing FILE and FILE.pub (keeping their stricter modes)");
  gen->callback([&ctx, run] { *run = [&ctx] { return KeyGen(ctx, out); }; });
  auto* reg = key->add_subcommand("register", "register a public key with a role and unit (signed by an admin --key)");
  reg->add_option("--public-key", public_file, "FILE.pub")->required();
  reg->add_option("--role", role, "admin, clerk, reviewer, treasurer, auditor or notary")->required();
  reg->add_option("--unit", key_unit, "bureau code, e.g. SZ-STIB")->required();
  reg->add_option("--holder", key_holder, "the person who holds the key")->required();
  reg->callback([&ctx, run] { *run = [&ctx] { return KeyRegister(ctx, public_file, role, key_unit, key_holder); }; });
  auto* revoke = key->add_subcommand("revoke", "revoke a key (signed by an admin --key)");
  revoke->add_option("keyid", key_id, "hex key id")->required();
  revoke->add_option("--reason", reason, "why")->required();
  revoke->callback([&ctx, run] { *run = [&ctx] { return KeyRevoke(ctx, key_id, reason); }; });
  auto* list = key->add_subcommand("list", "list registered keys");
  list->callback([&ctx, run] { *run = [&ctx] { return KeyList(ctx); }; });

  auto* append = app.add_subcommand("append", "append events from a JSON file (one object, or JSON lines), all or nothing");
  static std::string file;
  append->add_option("--file", file, "events file, or - for standard input")->required();
  append->callback([&ctx, run] { *run = [&ctx] { return AppendFile(ctx, file); }; });

  auto* log = app.add_subcommand("log", "list entries");
  static LogFilter filter;
  log->add_option("--kind", filter.kind, "only this event kind");
  log->add_option("--recipient", filter.recipient, "only entries about this recipient (USCC)");
  log->add_option("--application", filter.application, "only entries about this application");
  log->add_option("--from", filter.from, "first seq")->transform(DecimalIn(1, kSeqMax));
  log->add_option("--to", filter.to, "last seq")->transform(DecimalIn(1, kSeqMax));
  log->add_option("--limit", filter.limit, "at most this many")->transform(DecimalIn(1, kSeqMax));
  log->callback([&ctx, run] { *run = [&ctx] { return Log(ctx, filter); }; });

  auto* show = app.add_subcommand("show", "show one entry: decoded body, signature, leaf hash");
  static uint64_t seq = 0;
  show->add_option("seq", seq, "entry seq")->required()->transform(DecimalIn(1, kSeqMax));
  show->callback([&ctx, run] { *run = [&ctx] { return Show(ctx, seq); }; });

  auto* verify = app.add_subcommand("verify", "check the chain and every signature from entry 1");
  verify->callback([&ctx, run] { *run = [&ctx] { return Verify(ctx); }; });
}

}  // namespace fundledger::tools
