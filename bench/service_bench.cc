// service_bench: the load bench/service.sh puts on a running `fundledger serve`, through the
// client library (service::ConnectLedger), one connection and one key per client thread.
//
//   service_bench append --server H:P --ca F --key K... --seconds S --first N
//       each key's thread appends RecipientRegistered entries of fresh USCCs (numbered from N,
//       so they always pass the rules) one command at a time; an append returns only after the
//       server's synced commit. Prints appends/s and the p50/p90 latency of one append.
//   service_bench read --server H:P --ca F --key K... --seconds S --rows F
//       each key's thread reads the projection rows named in F (one row key a line, e.g.
//       "recipient/<uscc>", "app/<id>"), one point read over the wire each, decoded by the row
//       codec; the client's row cache is bypassed so every query is a round trip.
//   service_bench mirror --server H:P --ca F --key K --ledger DIR
//       a new ledger at DIR follows the server (ledger::Follow: every entry verified as import
//       verifies it). Prints entries/s.
//
// Output: one "name value" line per figure, for the script to read. Exit 2 on bad arguments,
// 4 when the server cannot be used, 1 when a client's operation failed.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "events/crypto.h"
#include "ledger/exchange.h"
#include "tools/service/service.h"

namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
namespace sv = ::fundledger::service;
using fundledger::Result;
using fundledger::Status;
using Clock = std::chrono::steady_clock;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Result<ev::PrivateKey> LoadKey(const std::string& path) {
  LEDGER_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  return ev::PrivateKey::FromPem(pem);
}

// A valid unified social credit code 914403000<8 digits><check> (GB 32100-2015), as
// bench/read_path.sh makes them; simulate's codes never collide with these.
std::string Uscc(uint64_t number) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  static constexpr int kWeights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                       29, 25, 13, 8,  24, 10, 30, 28};
  char digits[9];
  std::snprintf(digits, sizeof(digits), "%08llu",
                static_cast<unsigned long long>(number % 100000000));
  std::string code = std::string("914403000") + digits;
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    sum += static_cast<int>(std::string_view(kAlphabet).find(code[static_cast<size_t>(i)])) *
           kWeights[i];
  }
  return code + kAlphabet[(31 - sum % 31) % 31];
}

// Nearest-rank percentile of `ms` (sorted here).
double Percentile(std::vector<double>& ms, double p) {
  if (ms.empty()) return 0;
  std::sort(ms.begin(), ms.end());
  size_t rank = static_cast<size_t>(std::ceil(static_cast<double>(ms.size()) * p / 100.0));
  return ms[std::clamp<size_t>(rank, 1, ms.size()) - 1];
}

struct Common {
  std::string server, ca;
  std::vector<std::string> keys;
  double seconds = 10;
};

Result<std::unique_ptr<fundledger::ledger::Ledger>> Connect(const Common& common,
                                                            const std::string& key_file) {
  sv::ClientOptions options;
  options.server = common.server;
  options.ca_file = common.ca;
  LEDGER_ASSIGN_OR_RETURN(options.key, LoadKey(key_file));
  return sv::ConnectLedger(std::move(options));
}

// Runs `work(client index, ledger, deadline, latencies)` on one thread per key, all connected
// before the clock starts; prints the count, the rate and the percentiles under `name`.
template <typename Work>
int RunClients(const Common& common, const char* name, Work work) {
  const size_t n = common.keys.size();
  std::vector<std::vector<double>> latencies(n);
  std::vector<Status> failures(n);
  std::atomic<size_t> connected{0};
  std::atomic<bool> go{false};
  Clock::time_point start, deadline;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto ledger = Connect(common, common.keys[i]);
      connected.fetch_add(1);
      if (!ledger.ok()) {
        failures[i] = ledger.status();
        return;
      }
      while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      failures[i] = work(i, **ledger, deadline, &latencies[i]);
    });
  }
  while (connected.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(common.seconds));
  go.store(true);
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  int code = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!failures[i].ok()) {
      std::fprintf(stderr, "client %zu: %s\n", i + 1, failures[i].ToString().c_str());
      code = 1;
    }
  }
  std::printf("%s_count %zu\n%s_seconds %.3f\n%s_per_second %.1f\n", name, all.size(), name,
              elapsed, name, static_cast<double>(all.size()) / elapsed);
  std::printf("%s_p50_ms %.2f\n", name, Percentile(all, 50));
  std::printf("%s_p90_ms %.2f\n", name, Percentile(all, 90));
  std::printf("%s_failed_clients %d\n", name,
              static_cast<int>(std::count_if(failures.begin(), failures.end(),
                                             [](const Status& s) { return !s.ok(); })));
  return code;
}

int Append(const Common& common, uint64_t first) {
  return RunClients(common, "append",
                    [&](size_t client, fundledger::ledger::Ledger& ledger,
                        Clock::time_point deadline, std::vector<double>* ms) {
                      auto key = LoadKey(common.keys[client]);
                      if (!key.ok()) return key.status();
                      // Each client numbers its ids in its own block of 10^6 past `first`.
                      uint64_t next = first + client * 1000000;
                      while (Clock::now() < deadline) {
                        ev::RecipientRegistered body;
                        body.recipient_id = Uscc(next);
                        body.name = "Bench " + std::to_string(next++);
                        body.district = "nanshan";
                        fundledger::ledger::AppendRequest request;
                        request.body = body;
                        auto t0 = Clock::now();
                        auto done = ledger.Append(*key, std::span(&request, 1), 0, 0);
                        auto t1 = Clock::now();
                        if (!done.ok()) return done.status();
                        ms->push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                      }
                      return Status::Ok();
                    });
}

int Read(const Common& common, const std::vector<std::string>& rows) {
  return RunClients(common, "read",
                    [&](size_t client, fundledger::ledger::Ledger& ledger,
                        Clock::time_point deadline, std::vector<double>* ms) {
                      // The view is the client's LedgerState over the server's rows; its source
                      // reads one row over the wire without caching it.
                      const auto* state = dynamic_cast<const pj::LedgerState*>(&ledger.view());
                      if (state == nullptr || state->source == nullptr) {
                        return Status::InvalidArgument("the connected ledger has no row source");
                      }
                      size_t next = client * 7919;
                      while (Clock::now() < deadline) {
                        const std::string& key = rows[next++ % rows.size()];
                        auto t0 = Clock::now();
                        auto value = state->source->ReadRow(key);
                        if (!value.ok()) return value.status();
                        if (!*value)
                          return Status::NotFound("row " + key + " is not on the server");
                        pj::LedgerState scratch;
                        if (Status s = pj::LoadRow(&scratch, key, **value); !s.ok()) return s;
                        auto t1 = Clock::now();
                        ms->push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                      }
                      return Status::Ok();
                    });
}

int Mirror(const Common& common, const std::string& dir) {
  auto source = Connect(common, common.keys.front());
  if (!source.ok()) {
    std::fprintf(stderr, "%s\n", source.status().ToString().c_str());
    return 4;
  }
  auto start = Clock::now();
  auto mirror = fundledger::ledger::Ledger::CreateForImport(dir);
  if (!mirror.ok()) {
    std::fprintf(stderr, "%s\n", mirror.status().ToString().c_str());
    return 4;
  }
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto followed = fundledger::ledger::Follow(mirror->get(), **source, now_ms, nullptr, nullptr);
  Status finished = followed.ok() ? (*mirror)->FinishImport() : followed.status();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (!finished.ok()) {
    std::fprintf(stderr, "mirror: %s\n", finished.ToString().c_str());
    return 1;
  }
  std::printf("mirror_entries %llu\nmirror_seconds %.3f\nmirror_per_second %.1f\n",
              static_cast<unsigned long long>(followed->appended), elapsed,
              static_cast<double>(followed->appended) / elapsed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"load a running fundledger serve through the client library"};
  app.require_subcommand(1);
  Common common;
  uint64_t first = 10000000;
  std::string rows_file, ledger_dir;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--server", common.server, "HOST:PORT")->required();
    sub->add_option("--ca", common.ca, "the server's certificate")->required();
    sub->add_option("--key", common.keys, "a registered key per client")->required();
  };
  auto* append = app.add_subcommand("append", "concurrent appends");
  add_common(append);
  append->add_option("--seconds", common.seconds);
  append->add_option("--first", first, "the first USCC number of the fresh ids");
  auto* read = app.add_subcommand("read", "concurrent point reads");
  add_common(read);
  read->add_option("--seconds", common.seconds);
  read->add_option("--rows", rows_file, "row keys, one a line")->required();
  auto* mirror = app.add_subcommand("mirror", "a new mirror catching up");
  add_common(mirror);
  mirror->add_option("--ledger", ledger_dir, "the new mirror's directory")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (append->parsed()) return Append(common, first);
  if (read->parsed()) {
    std::vector<std::string> rows;
    std::ifstream in(rows_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) rows.push_back(line);
    }
    if (rows.empty()) {
      std::fprintf(stderr, "no row keys in %s\n", rows_file.c_str());
      return 2;
    }
    return Read(common, rows);
  }
  return Mirror(common, ledger_dir);
}
