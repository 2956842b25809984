// fundledger: the command line of the subsidy ledger. Exit codes (DESIGN.md §10):
// 0 ok · 1 refused by a rule · 2 usage or malformed input · 3 integrity failure · 4 environment.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "tools/fundledger/context.h"

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 refused by a rule, 2 usage or malformed input, 3 integrity failure, "
    "4 environment (ledger in use, missing directory, unreadable key file).";

int Main(int argc, char** argv) {
  using fundledger::Status;
  fundledger::tools::Context ctx;
  CLI::App app{"fundledger: a signed, hash-chained ledger of public subsidy money", "fundledger"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.fallthrough();
  app.option_defaults()->always_capture_default(false);
  app.add_option("--ledger", ctx.ledger_dir, "ledger directory (default: $FUNDLEDGER_DIR)");
  app.add_option("--key", ctx.key_file, "private key file (PKCS#8 PEM, mode 0600) that signs a write");
  app.add_option("--at", ctx.at, "recordedAt of a write, ISO-8601 (default: $FUNDLEDGER_NOW, else now)");
  app.add_option("--idempotency-key", ctx.idempotency_key, "retrying with the same key and content records once");
  app.add_flag("--json", ctx.json, "machine-readable output");
  app.add_flag("-v,--verbose", ctx.verbose, "log progress on stderr");
  app.add_flag("--allow-insecure-key", ctx.allow_insecure_key, "accept a key file readable by group or others");
  app.add_option("--server", ctx.server,
                 "use the ledger served at HOST:PORT instead of --ledger "
                 "(default: $FUNDLEDGER_SERVER)");
  app.add_option("--server-ca", ctx.server_ca, "PEM certificate(s) to trust for --server");
  app.add_option("--checkpoint-state", ctx.checkpoint_state,
                 "file of the servers' checkpoints this client saw (default: "
                 "$FUNDLEDGER_CHECKPOINT_STATE, else $XDG_STATE_HOME/fundledger/checkpoints)");

  fundledger::tools::Action run;
  fundledger::tools::AddCoreCommands(app, ctx, &run);
  fundledger::tools::AddMoneyCommands(app, ctx, &run);
  fundledger::tools::AddQueryCommands(app, ctx, &run);
  fundledger::tools::AddAuditCommands(app, ctx, &run);
  fundledger::tools::AddSimulateCommand(app, ctx, &run);
  fundledger::tools::AddReportCommands(app, ctx, &run);
  fundledger::tools::AddMirrorCommand(app, ctx, &run);
  fundledger::tools::AddServiceCommands(app, ctx, &run);
  for (CLI::App* sub : app.get_subcommands({})) sub->footer(kExitCodes);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "fundledger: usage: %s (see --help)\n", e.what());
    return 2;
  }
  auto logger = spdlog::stderr_logger_st("fundledger");
  spdlog::set_default_logger(logger);
  spdlog::set_level(ctx.verbose ? spdlog::level::info : spdlog::level::warn);
  spdlog::set_pattern("fundledger: %v");
  if (!run) {
    std::fprintf(stderr, "fundledger: usage: give a command (see --help)\n");
    return 2;
  }
  Status status = run();
  if (!status.ok()) {
    std::fprintf(stderr, "fundledger: %s\n", status.ToString().c_str());
    if (ctx.json && !ctx.report_printed) {
      nlohmann::json error = {{"error", status.message()}, {"exitCode", status.ExitCode()}};
      if (status.IsRejected()) error["rule"] = status.rule();
      std::cout << error.dump() << "\n";
    }
  }
  return status.ExitCode();
}

}  // namespace

int main(int argc, char** argv) {
  // The one top-level catch: nothing below throws across a module boundary, but a library
  // (CLI11, nlohmann, std) may; report it in one line rather than crash.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fundledger: unexpected error: %s\n", e.what());
    return 4;
  }
}
