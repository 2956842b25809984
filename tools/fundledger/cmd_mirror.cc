// `fundledger mirror`: a copy of a ledger (a service's, or a directory's) that follows it,
// verifying every entry exactly as import does (ledger::Follow), committing in groups, resuming
// where it stopped, and refusing a source whose history is not the one it has verified (a fork).
#include <signal.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "ledger/exchange.h"
#include "tools/fundledger/context.h"

namespace fundledger::tools {
namespace {

volatile std::sig_atomic_t g_stop = 0;

void OnStopSignal(int) { g_stop = 1; }

struct MirrorArgs {
  std::string from_ledger;
  bool once = false;
  uint64_t interval_secs = 2;
};

// The source, opened anew for every round so that it shows its latest entries: a service
// (--server; authenticated by --key unless it serves public reads), or a ledger directory as a
// reader (a RocksDB secondary: safe beside its running writer).
Result<std::unique_ptr<ledger::Ledger>> OpenSource(const Context& ctx, const MirrorArgs& args) {
  if (!ctx.Server().empty()) return ctx.OpenRemote(/*writer=*/false);
  auto source = ledger::Ledger::Open(args.from_ledger, ledger::OpenMode::kReader);
  if (!source.ok()) return source.status().WithPrefix("the source " + args.from_ledger);
  return source;
}

Status MirrorCommand(const Context& ctx, const MirrorArgs& args) {
  LEDGER_ASSIGN_OR_RETURN(std::string dir, ctx.LedgerDir());
  const bool remote = !ctx.Server().empty();
  if (remote == !args.from_ledger.empty()) {
    return Status::InvalidArgument("mirror follows either --server HOST:PORT or --from-ledger DIR");
  }
  if (!remote && std::filesystem::weakly_canonical(dir) ==
                     std::filesystem::weakly_canonical(args.from_ledger)) {
    return Status::InvalidArgument("--ledger and --from-ledger name the same directory");
  }
  const std::string source_name = remote ? ctx.Server() : args.from_ledger;
  // The source is checked before the mirror's directory is made.
  LEDGER_ASSIGN_OR_RETURN(auto source, OpenSource(ctx, args));
  LEDGER_ASSIGN_OR_RETURN(ImportTarget target, OpenImportTarget(dir));
  if (!args.once) {
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    action.sa_flags = SA_RESTART;  // storage calls go on; the flag is read between groups
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
  }
  auto stop = [] { return g_stop != 0; };
  for (;;) {
    const uint64_t before = target.ledger->size();
    Progress progress("mirror", source->size());
    auto followed = ledger::Follow(target.ledger.get(), *source, SystemClockMs(), stop,
                                   [&progress](uint64_t held) { progress.Update(held); });
    if (!followed.ok()) {
      // A mirror this run created that holds nothing verified is removed; one that holds a
      // verified prefix keeps it.
      if (target.ledger->size() == 0) target.Discard();
      return followed.status();
    }
    if (followed->appended > 0 || args.once) {
      if (ctx.json) {
        PrintJson({{"appended", followed->appended},
                   {"from", before + 1},
                   {"to", target.ledger->size()},
                   {"sourceSize", followed->source_size}});
      } else if (followed->appended == 0) {
        std::cout << "up to date: " << target.ledger->size() << " entries, as the source"
                  << std::endl;
      } else {
        std::cout << "mirrored " << followed->appended << " entries (" << before + 1 << ".."
                  << target.ledger->size() << "), all verified; the source holds "
                  << followed->source_size << std::endl;
      }
    }
    if (target.ledger->size() == 0) {
      target.Discard();
      return Status::InvalidArgument("the source " + source_name + " holds no entries");
    }
    if (args.once || stop()) return Status::Ok();
    source.reset();
    for (uint64_t waited = 0; waited < args.interval_secs * 10 && !stop(); ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (stop()) return Status::Ok();
    LEDGER_ASSIGN_OR_RETURN(source, OpenSource(ctx, args));
  }
}

}  // namespace

void AddMirrorCommand(CLI::App& app, Context& ctx, Action* run) {
  static MirrorArgs args;
  auto* mirror = app.add_subcommand(
      "mirror",
      "follow a service (--server) or another ledger into --ledger, verifying every entry as "
      "import does; refuses a fork");
  mirror->add_option("--from-ledger", args.from_ledger,
                     "the ledger directory to follow (instead of --server)");
  mirror->add_flag("--once", args.once, "catch up once and exit (default: follow until stopped)");
  mirror->add_option("--interval", args.interval_secs, "seconds between catch-ups (default 2)")
      ->transform(DecimalIn(1, 3600));
  mirror->callback([&ctx, run] { *run = [&ctx] { return MirrorCommand(ctx, args); }; });
}

}  // namespace fundledger::tools
