// serve (the ledger as a service, docs/SERVICE.md) and status (what a server reports).
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "events/text.h"
#include "tools/fundledger/context.h"
#include "tools/service/service.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;

struct ServeFlags {
  std::string listen, cert, key;
  bool public_reads = false;
  bool read_only = false;
  uint64_t connections_max = service::kDefaultConnectionsMax;
  uint64_t message_bytes_max = service::kDefaultMessageBytesMax;
  uint64_t rate = service::kDefaultRequestsPerSecond;
  uint64_t handshake_seconds = service::kDefaultHandshakeSeconds;
  // --- Checkpoints ---
  std::string notary_key;
  std::string checkpoint_every;
};

// "60s", "5m", "1h" or a bare number of seconds, within the service's bounds.
Result<uint32_t> ParseCheckpointEvery(const std::string& text) {
  const std::string bounds = std::to_string(service::kCheckpointEverySecondsMin) + " s to " +
                             std::to_string(service::kCheckpointEverySecondsMax) + " s";
  size_t digits = text.find_first_not_of("0123456789");
  std::string number = text.substr(0, digits);
  std::string unit = digits == std::string::npos ? "s" : text.substr(digits);
  uint64_t scale = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (number.empty() || number.size() > 9 || scale == 0) {
    return Status::InvalidArgument("--checkpoint-every " + text +
                                   ": give a duration such as 60s, 5m or 1h");
  }
  uint64_t seconds = std::stoull(number) * scale;
  if (seconds < service::kCheckpointEverySecondsMin ||
      seconds > service::kCheckpointEverySecondsMax) {
    return Status::InvalidArgument("--checkpoint-every " + text + ": must be from " + bounds);
  }
  return static_cast<uint32_t>(seconds);
}

Status Serve(const Context& ctx, const ServeFlags& flags) {
  if (!ctx.Server().empty()) return Status::InvalidArgument("serve takes --ledger, not --server");
  LEDGER_ASSIGN_OR_RETURN(std::string dir, ctx.LedgerDir());
  // A check of --at / FUNDLEDGER_NOW before anything is opened; the clock reads it per write.
  LEDGER_RETURN_IF_ERROR(ctx.Now().status());
  service::ServeOptions options;
  options.ledger_dir = dir;
  options.listen = flags.listen;
  options.cert_file = flags.cert;
  options.key_file = flags.key;
  options.public_reads = flags.public_reads;
  options.read_only = flags.read_only;
  options.connections_max = static_cast<uint32_t>(flags.connections_max);
  options.message_bytes_max = flags.message_bytes_max;
  options.requests_per_second = static_cast<uint32_t>(flags.rate);
  options.handshake_seconds = static_cast<uint32_t>(flags.handshake_seconds);
  // --- Checkpoints ---
  if (!flags.checkpoint_every.empty() && flags.notary_key.empty()) {
    return Status::InvalidArgument("--checkpoint-every needs --notary-key");
  }
  if (!flags.checkpoint_every.empty()) {
    LEDGER_ASSIGN_OR_RETURN(options.checkpoint_every_seconds,
                            ParseCheckpointEvery(flags.checkpoint_every));
  }
  if (!flags.notary_key.empty()) {
    auto notary = LoadKeyFile(flags.notary_key, ctx.allow_insecure_key);
    if (!notary.ok()) return notary.status().WithPrefix("--notary-key");
    options.notary_key = std::move(*notary);
  }
  // The writer's clock: the system's, or FUNDLEDGER_NOW / --at (a fixed time, for tests and
  // demonstrations). Now() was checked above, so it cannot fail here.
  options.clock = [&ctx]() {
    Result<int64_t> now = ctx.Now();
    return now.ok() ? *now : SystemClockMs();
  };
  options.on_listening = [](const std::string& bound) {
    // One line on stdout, so a script (or a test) that asked for port 0 learns the port.
    std::cout << "listening on " << bound << std::endl;
  };
  // The service logs every connection, write and refusal (-v or not).
  if (spdlog::get_level() > spdlog::level::info) spdlog::set_level(spdlog::level::info);
  return service::Serve(options);
}

Status ServerStatus(const Context& ctx) {
  service::ClientOptions options;
  options.server = ctx.Server();
  options.ca_file = ctx.server_ca;
  if (options.server.empty()) return Status::InvalidArgument("status needs --server HOST:PORT");
  LEDGER_ASSIGN_OR_RETURN(service::ServerStatus status, service::QueryStatus(std::move(options)));
  if (ctx.json) {
    nlohmann::json out = {{"origin", status.origin},          {"size", status.size},
                          {"rootHash", ev::Hex(status.root)}, {"uptimeMs", status.uptime_ms},
                          {"clients", status.clients},        {"publicReads", status.public_reads}};
    // --- Checkpoints ---
    if (status.checkpoint) {
      out["checkpoint"] = {{"treeSize", status.checkpoint->size},
                           {"rootHash", ev::Hex(status.checkpoint->root)}};
      if (status.checkpoint_signed_at_ms != 0) {
        out["checkpoint"]["signedAt"] = ev::FormatInstant(status.checkpoint_signed_at_ms);
      }
    }
    PrintJson(out);
  } else {
    std::cout << status.origin << "\nsize " << status.size << "\nroot " << ev::Hex(status.root)
              << "\nuptime " << status.uptime_ms / 1000 << " s\nclients " << status.clients
              << (status.public_reads ? "\nreads public" : "") << "\n";
    // --- Checkpoints ---
    if (status.checkpoint) {
      std::cout << "checkpoint " << status.checkpoint->size << " entries, root "
                << ev::Hex(status.checkpoint->root) << ", signed "
                << (status.checkpoint_signed_at_ms != 0
                        ? ev::FormatInstant(status.checkpoint_signed_at_ms)
                        : "before the server started")
                << "\n";
    }
  }
  return Status::Ok();
}

}  // namespace

// Registered after every other command (main.cc), so it can mark those that need the store.
void AddServiceCommands(CLI::App& app, Context& ctx, Action* run) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve = app.add_subcommand(
      "serve", "serve the ledger at --ledger over TLS: the one writer, clients sign their entries");
  serve->add_option("--listen", flags->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->required();
  serve->add_option("--tls-cert", flags->cert, "PEM certificate chain of the server")->required();
  serve->add_option("--tls-key", flags->key, "PEM private key of the certificate")->required();
  serve->add_flag("--public-reads", flags->public_reads, "serve reads without authentication");
  serve->add_flag("--read-only", flags->read_only,
                  "serve a ledger another process writes (a mirror's copy): reads only");
  serve->add_option("--max-connections", flags->connections_max, "connections open at once")
      ->transform(DecimalIn(1, 100'000));
  serve
      ->add_option("--max-message-bytes", flags->message_bytes_max,
                   "largest message read from a client")
      ->transform(DecimalIn(service::kMessageBytesMin, uint64_t{1} << 30));
  serve->add_option("--rate", flags->rate, "requests per second per connection")
      ->transform(DecimalIn(1, 1'000'000));
  serve
      ->add_option("--handshake-timeout", flags->handshake_seconds,
                   "seconds a new connection has to finish its TLS handshake")
      ->transform(DecimalIn(1, 3600));
  serve->callback([&ctx, run, flags]() { *run = [&ctx, flags]() { return Serve(ctx, *flags); }; });

  // --- Checkpoints ---
  serve->add_option("--notary-key", flags->notary_key,
                    "sign checkpoints with this registered notary key (PKCS#8 PEM, mode 0600)");
  serve->add_option("--checkpoint-every", flags->checkpoint_every,
                    "with --notary-key: sign a checkpoint this often if the ledger grew "
                    "(e.g. 60s, 5m; default 60s, 1s to 24h)");

  CLI::App* status = app.add_subcommand("status", "what the server at --server reports");
  status->callback([&ctx, run]() { *run = [&ctx]() { return ServerStatus(ctx); }; });

  // Commands that replay the store on several threads say so with --server (their own
  // callbacks are left as they are: this runs when their parsing completes, before them).
  for (CLI::App* command : app.get_subcommands({})) {
    for (const char* name : {"audit", "verify"}) {
      if (command->get_name() != name) continue;
      command->parse_complete_callback([&ctx, name]() { ctx.local_only_command = name; });
    }
  }
}

}  // namespace fundledger::tools
