// Goal: fundledger serve is the same ledger at a distance. A server process on a loopback port
// with a certificate made at test time, driven by CLI clients and by a raw protocol client:
// remote reads byte-identical to local ones, writes signed by each client's own key (several at
// once), the head-moved re-sign path, idempotent retries, revoked and unregistered keys refused,
// bad messages and wrong capability use refused without harm, limits, and SIGTERM exiting 0
// with a ledger that audits clean.
#include "tools/service/service.h"

#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>
#include <kj/compat/tls.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "schemas/service.capnp.h"
#include "tests/testutil/testutil.h"

#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

namespace fundledger::service {
namespace {

namespace ev = ::fundledger::events;
namespace sv = ::fundledger::schema::service;
using nlohmann::json;
using ::testing::HasSubstr;
using testutil::ShellQuote;
using testutil::ShellRun;

// The simulated programme's clock, and a clock the server dates entries by (its writes are
// dated no earlier than the head, so a fixed clock in the past still writes in order).
constexpr const char* kNow = "2025-12-31T12:00:00+08:00";

ShellRun Sh(const std::string& dir, const std::string& command) {
  return testutil::RunShell(dir, command);
}

// The one file in `dir` whose name starts with `prefix` and ends in ".pem".
std::string KeyFile(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(".pem")) found.push_back(entry.path().string());
  }
  std::sort(found.begin(), found.end());
  EXPECT_FALSE(found.empty()) << "no key " << prefix << "*.pem in " << dir;
  return found.empty() ? "" : found.front();
}

// A `fundledger serve` child process; stopped with SIGTERM when destroyed.
class ServerProcess {
 public:
  ServerProcess(const std::string& dir, const std::string& flags,
                const std::string& ledger = "ledger") {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    log_ = dir + "/serve-" + std::to_string(++count_) + ".log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      int err = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(err, 2);
      ::close(out[0]);
      ::setenv("FUNDLEDGER_NOW", kNow, 1);
      if (::chdir(dir.c_str()) != 0) ::_exit(99);
      std::string command = std::string("exec ") + ShellQuote(FUNDLEDGER_BINARY) + " --ledger " +
                            ShellQuote(ledger) +
                            " serve --listen 127.0.0.1:0 --tls-cert tls.crt "
                            "--tls-key tls.key " +
                            flags;
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(98);
    }
    ::close(out[1]);
    FILE* in = ::fdopen(out[0], "r");
    char line[256] = {0};
    if (std::fgets(line, sizeof(line), in) != nullptr) {
      std::smatch m;
      std::string text(line);
      if (std::regex_search(text, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"))) {
        port_ = std::stoi(m[1].str());
      }
    }
    std::fclose(in);
    EXPECT_GT(port_, 0) << "serve did not start: " << testutil::ReadText(log_);
  }
  ~ServerProcess() {
    if (pid_ > 0 && !stopped_) Stop();
  }
  // SIGTERM and the exit status (-1 if it did not exit normally).
  int Stop() {
    stopped_ = true;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // SIGKILL: no chance to finish anything.
  void Kill() {
    stopped_ = true;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }
  std::string address() const { return "localhost:" + std::to_string(port_); }
  std::string Log() const { return testutil::ReadText(log_); }
  pid_t pid() const { return pid_; }

 private:
  static inline int count_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  bool stopped_ = false;
  std::string log_;
};

// A protocol client below RemoteLedger, for calls the library never makes.
class RawClient {
 public:
  // `io`: the thread's one event loop, shared by the raw clients of a test.
  RawClient(kj::AsyncIoContext& io, int port, const std::string& ca_file,
            uint64_t receive_bytes = 64 << 20)
      : io_(io) {
    std::string pem = testutil::ReadText(ca_file);
    trusted_.emplace_back(pem.c_str());
    kj::TlsContext::Options options;
    options.useSystemTrustStore = false;
    options.trustedCertificates = kj::arrayPtr(trusted_.data(), trusted_.size());
    tls_ = kj::heap<kj::TlsContext>(kj::mv(options));
    auto address = io_.provider->getNetwork()
                       .parseAddress("127.0.0.1:" + std::to_string(port))
                       .wait(io_.waitScope);
    auto raw = address->connect().wait(io_.waitScope);
    stream_ = tls_->wrapClient(kj::mv(raw), "localhost").wait(io_.waitScope);
    capnp::ReaderOptions reader;
    reader.traversalLimitInWords = receive_bytes / 8;
    network_ =
        kj::heap<capnp::TwoPartyVatNetwork>(*stream_, capnp::rpc::twoparty::Side::CLIENT, reader);
    rpc_ = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcClient(*network_));
    capnp::MallocMessageBuilder vat_message(8);
    auto vat = vat_message.initRoot<capnp::rpc::twoparty::VatId>();
    vat.setSide(capnp::rpc::twoparty::Side::SERVER);
    service_ = rpc_->bootstrap(vat).castAs<sv::Service>();
  }

  kj::WaitScope& ws() { return io_.waitScope; }
  sv::Service::Client& service() { return *service_; }

  // A session opened by `key` (hello, signature, authenticate); a failure is a test failure.
  sv::Session::Client Session(const ev::PrivateKey& key) {
    auto hello = service().helloRequest();
    ev::KeyId id = key.key_id();
    hello.setKeyId(capnp::Data::Reader(id.data(), id.size()));
    auto challenge = hello.send().wait(ws());
    EXPECT_FALSE(challenge.hasError());
    auto text = challenge.getChallenge();
    ev::Signature sig = key.Sign(std::span<const uint8_t>(text.begin(), text.size()));
    auto auth = service().authenticateRequest();
    auth.setSignature(capnp::Data::Reader(sig.data(), sig.size()));
    auto reply = auth.send().wait(ws());
    EXPECT_FALSE(reply.hasError()) << reply.getError().getMessage().cStr();
    return reply.getSession();
  }

 private:
  kj::AsyncIoContext& io_;
  std::vector<kj::TlsCertificate> trusted_;
  kj::Own<kj::TlsContext> tls_;
  kj::Own<kj::AsyncIoStream> stream_;
  kj::Own<capnp::TwoPartyVatNetwork> network_;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc_;
  std::optional<sv::Service::Client> service_;
};

ev::PrivateKey LoadKey(const std::string& path) {
  std::string pem = testutil::ReadText(path);
  auto key = ev::PrivateKey::FromPem(pem);
  EXPECT_TRUE(key.ok()) << path;
  return std::move(*key);
}

// A canonical Entry carrying only a body, as a client sends a request.
ev::Bytes RequestBytes(const ev::Body& body, const std::string& idempotency_key = "") {
  ev::Entry entry;
  entry.body = body;
  entry.idempotency_key = idempotency_key;
  return ev::EncodeEntry(entry);
}

ev::Body RecipientBody(uint32_t n) {
  ev::RecipientRegistered r;
  r.recipient_id = testutil::Uscc(n);
  r.name = "remote recipient " + std::to_string(n);
  r.kind = ev::RecipientKind::kEnterprise;
  r.district = "nanshan";
  return r;
}

class ServiceTest : public ::testing::Test {
 protected:
  // One simulated programme for the suite (a trimmed policy: about a hundred entries), copied
  // into each test's directory, with a self-signed certificate for localhost.
  static void SetUpTestSuite() {
    template_ = new testutil::TempDir();
    const std::string dir = template_->path();
    json policy = json::parse(
        testutil::ReadText(testutil::SourcePath("schemas/policies/shenzhen-ai-pioneer-2024.json")));
    json measures = json::array();
    for (json& m : policy["measures"]) {
      const std::string id = m.value("id", "");
      if (id != "2" && id != "7") continue;
      if (m.value("annualBudgetCapStated", false)) {
        int64_t smallest = INT64_MAX;
        for (const json& t : m["tracks"]) {
          for (const json& c : t["caps"]) {
            smallest = std::min(smallest, c["amountFen"].get<int64_t>());
          }
        }
        m["annualBudgetCapFen"] = 3 * smallest;
      }
      measures.push_back(m);
    }
    policy["measures"] = measures;
    policy["note"] = "trimmed copy of the shipped policy for service_test";
    testutil::WriteText(dir + "/small-policy.json", policy.dump());
    *setup_ = Sh(dir, "FUNDLEDGER_NOW=" + ShellQuote(kNow) + " " + ShellQuote(FUNDLEDGER_BINARY) +
                          " --ledger ledger simulate --recipients 12 --years 2025 --seed 5 "
                          "--keys-out keys --policy small-policy.json");
    ShellRun cert = Sh(dir,
                       "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                       "-keyout tls.key -out tls.crt -days 2 -subj /CN=localhost "
                       "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>&1");
    if (cert.code != 0) setup_->code = 100 + cert.code, setup_->err += cert.out;
  }
  static void TearDownTestSuite() {
    delete template_;
    template_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(setup_->code, 0) << setup_->out << setup_->err;
    dir_ = std::make_unique<testutil::TempDir>();
    std::filesystem::copy(template_->path(), dir_->path(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_->path())) {
      if (entry.path().extension() == ".pem" || entry.path().extension() == ".key") {
        ASSERT_EQ(::chmod(entry.path().c_str(), 0600), 0);
      }
    }
    keys_ = Path("keys");
    admin_ = KeyFile(keys_, "admin-");
    auditor_ = KeyFile(keys_, "auditor-");
    treasurer_ = KeyFile(keys_, "treasurer-");
  }

  std::string Path(const std::string& name) const { return dir_->Sub(name); }

  void Start(const std::string& flags = "") {
    server_ = std::make_unique<ServerProcess>(dir_->path(), flags);
    ASSERT_GT(server_->port(), 0);
  }
  // fundledger with --server `server` (any command; `--ledger` names a local directory).
  ShellRun Against(const ServerProcess& server, const std::string& args) const {
    return Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --server " + server.address() +
                                " --server-ca tls.crt " + args);
  }

  // fundledger on the local ledger directory (a reader beside the server, or after it).
  ShellRun Local(const std::string& args) const {
    return Sh(dir_->path(), "FUNDLEDGER_NOW=" + ShellQuote(kNow) + " " +
                                ShellQuote(FUNDLEDGER_BINARY) + " --ledger ledger " + args);
  }
  // fundledger on the server, authenticated by `key` ("" for none).
  ShellRun Remote(const std::string& key, const std::string& args) const {
    std::string key_flag = key.empty() ? "" : " --key " + ShellQuote(key);
    return Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --server " + server_->address() +
                                " --server-ca tls.crt" + key_flag + " " + args);
  }
  ClientOptions Options(const std::string& key) const {
    ClientOptions options;
    options.server = server_->address();
    options.ca_file = Path("tls.crt");
    if (!key.empty()) options.key = LoadKey(key);
    return options;
  }
  // The server's size and root, from `fundledger status` (a process of its own, so it may
  // run while this thread holds a RawClient's event loop).
  std::string RemoteRoot() const {
    ShellRun status = Remote("", "status --json");
    EXPECT_EQ(status.code, 0) << status.err;
    json j = json::parse(status.out, nullptr, false);
    if (j.is_discarded()) return "";
    return j.value("rootHash", "") + "@" + std::to_string(j.value("size", 0));
  }
  // A new key registered by the admin (remotely) as a clerk of `unit`, holder `holder`.
  std::string NewClerk(const std::string& name, const std::string& unit,
                       const std::string& holder) {
    ShellRun gen = Local("key gen --out " + ShellQuote(name));
    EXPECT_EQ(gen.code, 0) << gen.err;
    ShellRun reg =
        Remote(admin_, "key register --public-key " + ShellQuote(name + ".pub") +
                           " --role clerk --unit " + unit + " --holder " + ShellQuote(holder));
    EXPECT_EQ(reg.code, 0) << reg.out << reg.err;
    return Path(name);
  }

  static inline testutil::TempDir* template_ = nullptr;
  static inline ShellRun* setup_ = new ShellRun();
  std::unique_ptr<testutil::TempDir> dir_;
  std::unique_ptr<ServerProcess> server_;
  std::string keys_, admin_, auditor_, treasurer_;
};

// Every read command gives remotely the bytes it gives locally, with the same exit code.
TEST_F(ServiceTest, RemoteReadsAreByteIdenticalToLocal) {
  Start();
  ShellRun apps = Local("log --json");
  ASSERT_EQ(apps.code, 0) << apps.err;
  std::string app_id, uscc;
  for (const std::string& line : testutil::NonEmptyLines(apps.out)) {
    json j = json::parse(line);
    if (j.value("kind", "") == "PayoutDisbursed" && app_id.empty()) {
      app_id = j["body"]["applicationId"].get<std::string>();
    }
    if (j.value("kind", "") == "ApplicationSubmitted" && uscc.empty()) {
      uscc = j["body"]["recipientId"].get<std::string>();
    }
  }
  ASSERT_FALSE(app_id.empty());
  ASSERT_FALSE(uscc.empty());
  const std::vector<std::string> commands = {
      "log",
      "log --json",
      "show 5",
      "show 7 --json",
      "show 100000",
      "key list",
      "key list --json",
      "query measure",
      "query measure 2 --year 2025 --json",
      "query recipient " + uscc,
      "query unit",
      "query district",
      "query application " + app_id,
      "query application " + app_id + " --as-of 40",
      "history --application " + app_id,
      "history --recipient " + uscc + " --json",
      "quote " + app_id,
      "prove inclusion --seq 9",
      "prove consistency --from 10",
      "export",
      "export --format hledger",
      "report execution --year 2025 --format csv --out exec",
  };
  for (const std::string& command : commands) {
    SCOPED_TRACE(command);
    ShellRun local = Local(command);
    std::error_code ignored;
    std::filesystem::rename(Path("exec"), Path("exec-local"), ignored);
    ShellRun remote = Remote(auditor_, command);
    EXPECT_EQ(remote.code, local.code) << remote.err;
    EXPECT_EQ(remote.out, local.out);
    if (local.code == 0) {
      EXPECT_FALSE(local.out.empty());
    } else {
      EXPECT_EQ(remote.err, local.err);  // a refusal says the same thing
    }
  }
  // The report's files are the same bytes too.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(Path("exec-local"))) {
    std::string name = entry.path().filename().string();
    EXPECT_EQ(testutil::ReadText(Path("exec/" + name)), testutil::ReadText(entry.path())) << name;
    ++files;
  }
  EXPECT_GT(files, 0u);
}

// Writes from several clients at once, each signed by its own key on its own side; every
// acknowledged entry is there, in one chain that audits clean after the server stops.
TEST_F(ServiceTest, ConcurrentClientsWriteWithTheirOwnKeys) {
  Start();
  std::vector<std::string> clerks;
  for (int i = 0; i < 4; ++i) {
    clerks.push_back(NewClerk("clerk" + std::to_string(i) + ".pem", "SZ-STIB",
                              "remote clerk " + std::to_string(i)));
  }
  auto before = Local("log --json");
  size_t entries_before = testutil::NonEmptyLines(before.out).size();
  std::string script;
  for (int i = 0; i < 4; ++i) {
    script += "(for n in 1 2 3 4 5; do " + ShellQuote(FUNDLEDGER_BINARY) + " --server " +
              server_->address() + " --server-ca tls.crt --key " +
              ShellQuote(clerks[static_cast<size_t>(i)]) + " recipient register --id $(cat uscc-" +
              std::to_string(i) + "-$n) --name \"r " + std::to_string(i) +
              " $n\" --kind enterprise --district futian"
              " >> out-" +
              std::to_string(i) + " 2>&1 || echo FAILED >> out-" + std::to_string(i) + "; done) & ";
    for (int n = 1; n <= 5; ++n) {
      testutil::WriteText(Path("uscc-" + std::to_string(i) + "-" + std::to_string(n)),
                          testutil::Uscc(static_cast<uint32_t>(90000 + i * 10 + n)));
    }
  }
  ShellRun all = Sh(dir_->path(), script + "wait");
  ASSERT_EQ(all.code, 0) << all.err;
  std::set<uint64_t> seqs;
  for (int i = 0; i < 4; ++i) {
    std::string out = testutil::ReadText(Path("out-" + std::to_string(i)));
    EXPECT_THAT(out, ::testing::Not(HasSubstr("FAILED"))) << out;
    std::smatch m;
    std::string rest = out;
    while (std::regex_search(rest, m, std::regex("as entry ([0-9]+)"))) {
      seqs.insert(std::stoull(m[1].str()));
      rest = m.suffix();
    }
  }
  EXPECT_EQ(seqs.size(), 20u);
  EXPECT_EQ(server_->Stop(), 0) << server_->Log();
  ShellRun after = Local("log --json");
  std::vector<std::string> lines = testutil::NonEmptyLines(after.out);
  EXPECT_EQ(lines.size(), entries_before + 20);
  for (uint64_t seq : seqs) {
    json j = json::parse(lines.at(seq - 1));
    EXPECT_EQ(j["kind"], "RecipientRegistered") << seq;
  }
  ShellRun audit = Local("audit");
  EXPECT_EQ(audit.code, 0) << audit.out << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("result: clean"));
}

// A refusal by a rule is the same over the wire: exit 1, the same rule and message.
TEST_F(ServiceTest, RuleRefusalKeepsItsCodeAndMessage) {
  Start();
  const std::string args = "budget allocate --measure 2 --year 2025 --amount 999999999999";
  ShellRun remote = Remote(treasurer_, args + " --json");
  ShellRun local_after = Local("--key " + ShellQuote(treasurer_) + " " + args + " --json");
  // Run locally only after the server stopped (the writer lock is the server's).
  EXPECT_EQ(server_->Stop(), 0);
  ShellRun local = Local("--key " + ShellQuote(treasurer_) + " " + args + " --json");
  EXPECT_EQ(local_after.code, 4);  // the server held the ledger
  EXPECT_EQ(local.code, 1) << local.err;
  EXPECT_EQ(remote.code, 1) << remote.err;
  EXPECT_EQ(remote.out, local.out);
  EXPECT_FALSE(json::parse(remote.out).value("rule", "").empty()) << remote.out;
}

// `append --file` over the wire is one batch: all of it at consecutive seqs, or nothing, with
// the refusal naming the request as it does locally.
TEST_F(ServiceTest, AppendFileBatchIsAllOrNothing) {
  Start();
  std::string clerk = NewClerk("batch.pem", "SZ-STIB", "batch clerk");
  auto line = [](uint32_t n, const std::string& name) {
    return R"({"kind":"RecipientRegistered","body":{"recipientId":")" + testutil::Uscc(n) +
           R"(","name":")" + name + R"(","kind":"enterprise","district":"nanshan"}})" + "\n";
  };
  testutil::WriteText(Path("good.jsonl"), line(78001, "a") + line(78002, "b") + line(78003, "c"));
  testutil::WriteText(Path("bad.jsonl"), line(78004, "d") + line(78005, "e") + line(78004, "f"));
  ShellRun good = Remote(clerk, "append --file good.jsonl --json");
  ASSERT_EQ(good.code, 0) << good.err;
  std::vector<std::string> lines = testutil::NonEmptyLines(good.out);
  ASSERT_EQ(lines.size(), 3u) << good.out;
  uint64_t first = json::parse(lines[0]).value("seq", uint64_t{0});
  EXPECT_EQ(json::parse(lines[2]).value("seq", uint64_t{0}), first + 2);
  std::string root = RemoteRoot();
  ShellRun bad = Remote(clerk, "append --file bad.jsonl");
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(RemoteRoot(), root);
  EXPECT_EQ(server_->Stop(), 0);
  ShellRun local = Local("--key " + ShellQuote(clerk) + " append --file bad.jsonl");
  EXPECT_EQ(local.code, 1);
  EXPECT_EQ(bad.err, local.err);
  EXPECT_THAT(bad.err, HasSubstr("request 3"));
}

// An idempotent retry over the wire records once and says so.
TEST_F(ServiceTest, IdempotentRetryOverTheWire) {
  Start();
  std::string clerk = NewClerk("idem.pem", "SZ-STIB", "idem clerk");
  const std::string args = "--idempotency-key reg-1 recipient register --id " +
                           testutil::Uscc(77001) +
                           " --name once --kind enterprise "
                           "--district futian";
  ShellRun first = Remote(clerk, args);
  ShellRun second = Remote(clerk, args);
  ASSERT_EQ(first.code, 0) << first.err;
  ASSERT_EQ(second.code, 0) << second.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(first.out, m, std::regex("as entry ([0-9]+)")));
  EXPECT_THAT(second.out, HasSubstr("already recorded"));
  EXPECT_THAT(second.out, HasSubstr("entry " + m[1].str() + "\n"));
  ShellRun conflict = Remote(clerk, std::regex_replace(args, std::regex("once"), "other"));
  EXPECT_EQ(conflict.code, 1);
  EXPECT_THAT(conflict.err, HasSubstr("idempotency.conflict"));
}

// A revoked key and an unregistered one can neither read nor write; nothing is written.
TEST_F(ServiceTest, RevokedAndUnregisteredKeysAreRefused) {
  Start();
  std::string clerk = NewClerk("gone.pem", "SZ-STIB", "gone clerk");
  ShellRun ok = Remote(clerk, "key list");
  ASSERT_EQ(ok.code, 0) << ok.err;
  ev::PrivateKey key = LoadKey(clerk);
  ShellRun revoke = Remote(admin_, "key revoke " + ev::Hex(key.key_id()) + " --reason left");
  ASSERT_EQ(revoke.code, 0) << revoke.err;
  std::string root = RemoteRoot();
  const std::string write = "recipient register --id " + testutil::Uscc(77002) +
                            " --name x --kind enterprise --district futian";
  ShellRun read = Remote(clerk, "key list");
  ShellRun wrote = Remote(clerk, write);
  EXPECT_EQ(read.code, 1);
  EXPECT_THAT(read.err, HasSubstr("key.revoked"));
  EXPECT_EQ(wrote.code, 1);
  EXPECT_THAT(wrote.err, HasSubstr("key.revoked"));
  ShellRun gen = Local("key gen --out stranger.pem");
  ASSERT_EQ(gen.code, 0);
  ShellRun stranger_read = Remote(Path("stranger.pem"), "log");
  ShellRun stranger_write = Remote(Path("stranger.pem"), write);
  EXPECT_EQ(stranger_read.code, 1);
  EXPECT_THAT(stranger_read.err, HasSubstr("key.unknown"));
  EXPECT_EQ(stranger_write.code, 1);
  EXPECT_THAT(stranger_write.err, HasSubstr("key.unknown"));
  ShellRun anonymous = Remote("", "log");
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_THAT(anonymous.err, HasSubstr("access.anonymous"));
  EXPECT_EQ(RemoteRoot(), root);
}

// A session opened before its key was revoked loses access at the revocation.
TEST_F(ServiceTest, RevocationEndsAnOpenSession) {
  Start();
  std::string clerk = NewClerk("open.pem", "SZ-STIB", "open clerk");
  auto ledger = ConnectLedger(Options(clerk));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  ASSERT_TRUE((*ledger)->Read(1).ok());
  ev::PrivateKey key = LoadKey(clerk);
  ShellRun revoke = Remote(admin_, "key revoke " + ev::Hex(key.key_id()) + " --reason left");
  ASSERT_EQ(revoke.code, 0) << revoke.err;
  auto read = (*ledger)->Read(1);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().rule(), "key.revoked");
}

// With --public-reads a client without a key reads, but cannot write.
TEST_F(ServiceTest, PublicReadsServeAnonymousReadsOnly) {
  Start("--public-reads");
  ShellRun local = Local("query measure");
  ShellRun remote = Remote("", "query measure");
  EXPECT_EQ(remote.code, 0) << remote.err;
  EXPECT_EQ(remote.out, local.out);
  kj::AsyncIoContext io = kj::setupAsyncIo();
  RawClient raw(io, server_->port(), Path("tls.crt"));
  auto anonymous = raw.service().anonymousRequest().send().wait(raw.ws());
  ASSERT_FALSE(anonymous.hasError());
  auto write = anonymous.getSession().writeRequest().send().wait(raw.ws());
  ASSERT_TRUE(write.hasError());
  EXPECT_THAT(std::string(write.getError().getMessage().cStr()), HasSubstr("cannot write"));
}

// The write's head moves between signing and commit: the client prepares and signs again at
// the new head, and its entry lands after the other one.
TEST_F(ServiceTest, HeadMovedWriteIsSignedAgain) {
  Start();
  std::string clerk = NewClerk("race.pem", "SZ-STIB", "racing clerk");
  std::string other = NewClerk("other.pem", "SZ-STIB", "other clerk");
  ClientOptions options = Options(clerk);
  std::vector<int> attempts;
  options.before_commit = [&](int attempt) {
    attempts.push_back(attempt);
    if (attempt > 0) return;
    ShellRun moved = Remote(other, "recipient register --id " + testutil::Uscc(77010) +
                                       " --name first --kind enterprise --district futian");
    EXPECT_EQ(moved.code, 0) << moved.err;
  };
  auto ledger = ConnectLedger(std::move(options));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  uint64_t head = (*ledger)->size();
  ledger::AppendRequest request{RecipientBody(77011), "", {}};
  ev::PrivateKey key = LoadKey(clerk);
  auto results = (*ledger)->Append(key, std::span(&request, 1), 0, 0);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  EXPECT_EQ(attempts, (std::vector<int>{0, 1}));
  EXPECT_EQ(results->front().seq, head + 2);
  EXPECT_FALSE(results->front().replayed);
  EXPECT_EQ((*ledger)->size(), head + 2);
  auto stored = (*ledger)->Read(head + 2);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->entry.signer, key.key_id());
  EXPECT_THAT(server_->Log(), HasSubstr("retried: the head moved"));
}

// The head, keys and policies a client loads at connect and after each write (`resident`)
// are the rows the store holds, also after a key registered through the server since it
// started: a client shows the policy in force and the keys exactly as a local reader does.
TEST_F(ServiceTest, ResidentRowsAreTheStoredRows) {
  Start();
  NewClerk("resident.pem", "SZ-STIB", "resident clerk");
  for (const char* command : {"policy show", "key list", "--json key list"}) {
    ShellRun local = Local(command);
    ShellRun remote = Remote(auditor_, command);
    ASSERT_EQ(local.code, 0) << command << ": " << local.err;
    EXPECT_EQ(remote.code, 0) << command << ": " << remote.err;
    EXPECT_EQ(remote.out, local.out) << command;
    EXPECT_FALSE(local.out.empty()) << command;
  }
  EXPECT_THAT(Remote(auditor_, "key list").out, HasSubstr("resident clerk"));
}

// Eight clients writing at once through the client library, each with its own connection and
// key: every append succeeds at its first attempt, because writers take the head in turns
// (server.cc WriteTurns) rather than all preparing at one head and signing again until some
// give up ("the head moved 8 times").
TEST_F(ServiceTest, ConcurrentWritersTakeTurnsAndNoneGivesUp) {
  Start();
  constexpr int kClients = 8;
  constexpr int kAppends = 15;
  std::vector<std::string> clerks;
  for (int i = 0; i < kClients; ++i) {
    clerks.push_back(NewClerk("turn" + std::to_string(i) + ".pem", "SZ-STIB",
                              "turn clerk " + std::to_string(i)));
  }
  std::vector<Status> failures(kClients);
  std::vector<std::vector<uint64_t>> seqs(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      const size_t c = static_cast<size_t>(i);
      auto ledger = ConnectLedger(Options(clerks[c]));
      if (!ledger.ok()) {
        failures[c] = ledger.status();
        return;
      }
      ev::PrivateKey key = LoadKey(clerks[c]);
      for (int n = 0; n < kAppends; ++n) {
        ledger::AppendRequest request{
            RecipientBody(static_cast<uint32_t>(78000 + i * 100 + n)), "", {}};
        auto done = (*ledger)->Append(key, std::span(&request, 1), 0, 0);
        if (!done.ok()) {
          failures[c] = done.status();
          return;
        }
        seqs[c].push_back(done->front().seq);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (int i = 0; i < kClients; ++i) {
    const size_t c = static_cast<size_t>(i);
    EXPECT_TRUE(failures[c].ok()) << "client " << i << ": " << failures[c].ToString();
    all.insert(seqs[c].begin(), seqs[c].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kClients * kAppends));
  EXPECT_EQ(server_->Stop(), 0) << server_->Log();
  EXPECT_THAT(server_->Log(), ::testing::Not(HasSubstr("retried: the head moved")));
  ShellRun audit = Local("audit");
  EXPECT_EQ(audit.code, 0) << audit.out << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("result: clean"));
}

// Two writers on the raw protocol: the one that commits second is told the head moved and
// nothing of its batch is written.
TEST_F(ServiceTest, StaleCommitWritesNothing) {
  Start();
  std::string clerk = NewClerk("stale.pem", "SZ-STIB", "stale clerk");
  ev::PrivateKey key = LoadKey(clerk);
  kj::AsyncIoContext io = kj::setupAsyncIo();
  RawClient a(io, server_->port(), Path("tls.crt"));
  RawClient b(io, server_->port(), Path("tls.crt"));
  auto prepare_and_sign = [&](RawClient& c, sv::Writer::Client& writer, uint32_t n) {
    auto prepare = writer.prepareRequest();
    auto bytes = RequestBytes(RecipientBody(n));
    prepare.initRequest().setEntry(capnp::Data::Reader(bytes.data(), bytes.size()));
    auto prepared = prepare.send().wait(c.ws());
    EXPECT_FALSE(prepared.hasError());
    auto entry = prepared.getEntry();
    ev::Signature sig = key.Sign(std::span<const uint8_t>(entry.begin(), entry.size()));
    auto sign = writer.signRequest();
    sign.setSignature(capnp::Data::Reader(sig.data(), sig.size()));
    auto signed_reply = sign.send().wait(c.ws());
    EXPECT_FALSE(signed_reply.hasError());
  };
  auto writer_a = a.Session(key).writeRequest().send().wait(a.ws()).getWriter();
  auto writer_b = b.Session(key).writeRequest().send().wait(b.ws()).getWriter();
  prepare_and_sign(a, writer_a, 77020);
  prepare_and_sign(b, writer_b, 77021);
  auto committed_b = writer_b.commitRequest().send().wait(b.ws());
  ASSERT_FALSE(committed_b.hasError());
  EXPECT_FALSE(committed_b.getHeadMoved());
  std::string root = RemoteRoot();
  auto committed_a = writer_a.commitRequest().send().wait(a.ws());
  ASSERT_FALSE(committed_a.hasError());
  EXPECT_TRUE(committed_a.getHeadMoved());
  EXPECT_EQ(RemoteRoot(), root);
}

// Capabilities used out of order or with forged bytes are refused; the ledger is unchanged and
// the server goes on serving.
TEST_F(ServiceTest, WrongCapabilityUseIsRefusedWithoutHarm) {
  Start();
  std::string clerk = NewClerk("wrong.pem", "SZ-STIB", "wrong clerk");
  ev::PrivateKey key = LoadKey(clerk);
  std::string root = RemoteRoot();
  kj::AsyncIoContext io = kj::setupAsyncIo();
  RawClient c(io, server_->port(), Path("tls.crt"));
  auto error_of = [](const auto& reply) {
    return reply.hasError() ? std::string(reply.getError().getMessage().cStr()) : "";
  };
  // authenticate without hello; a signature by another key; a challenge answered twice.
  auto early = c.service().authenticateRequest().send().wait(c.ws());
  EXPECT_THAT(error_of(early), HasSubstr("before hello"));
  auto hello = c.service().helloRequest();
  ev::KeyId id = key.key_id();
  hello.setKeyId(capnp::Data::Reader(id.data(), id.size()));
  auto challenge = hello.send().wait(c.ws());
  ev::PrivateKey stranger = *ev::PrivateKey::Generate();
  auto text = challenge.getChallenge();
  ev::Signature forged = stranger.Sign(std::span<const uint8_t>(text.begin(), text.size()));
  auto auth = c.service().authenticateRequest();
  auth.setSignature(capnp::Data::Reader(forged.data(), forged.size()));
  auto refused = auth.send().wait(c.ws());
  ASSERT_TRUE(refused.hasError());
  EXPECT_EQ(std::string(refused.getError().getRule().cStr()), "key.signature");
  ev::Signature right = key.Sign(std::span<const uint8_t>(text.begin(), text.size()));
  auto again = c.service().authenticateRequest();
  again.setSignature(capnp::Data::Reader(right.data(), right.size()));
  EXPECT_THAT(error_of(again.send().wait(c.ws())), HasSubstr("before hello"));

  // A call of the wrong interface on the bootstrap: refused by the RPC layer, and the
  // connection goes on serving.
  auto mistyped = c.service().castAs<sv::Session>().readRowRequest();
  mistyped.setKey("head");
  auto mistyped_failure = kj::runCatchingExceptions([&]() { mistyped.send().wait(c.ws()); });
  EXPECT_TRUE(mistyped_failure != nullptr);

  auto writer = c.Session(key).writeRequest().send().wait(c.ws()).getWriter();
  // sign before prepare; garbage request bytes; commit with an unsigned entry; a signature over
  // other bytes; a short signature.
  ev::Signature sig{};
  auto sign = writer.signRequest();
  sign.setSignature(capnp::Data::Reader(sig.data(), sig.size()));
  EXPECT_THAT(error_of(sign.send().wait(c.ws())), HasSubstr("no prepared entry"));
  auto garbage = writer.prepareRequest();
  const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  garbage.initRequest().setEntry(capnp::Data::Reader(junk, sizeof(junk)));
  EXPECT_THAT(error_of(garbage.send().wait(c.ws())), ::testing::Not(::testing::IsEmpty()));
  auto prepare = writer.prepareRequest();
  auto bytes = RequestBytes(RecipientBody(77030));
  prepare.initRequest().setEntry(capnp::Data::Reader(bytes.data(), bytes.size()));
  auto prepared = prepare.send().wait(c.ws());
  ASSERT_FALSE(prepared.hasError()) << error_of(prepared);
  EXPECT_THAT(error_of(writer.commitRequest().send().wait(c.ws())), HasSubstr("not signed"));
  auto entry = prepared.getEntry();
  ev::Bytes altered(entry.begin(), entry.end());
  altered.back() ^= 1;
  ev::Signature wrong = key.Sign(altered);
  auto sign_wrong = writer.signRequest();
  sign_wrong.setSignature(capnp::Data::Reader(wrong.data(), wrong.size()));
  EXPECT_THAT(error_of(sign_wrong.send().wait(c.ws())), HasSubstr("does not verify"));
  auto sign_short = writer.signRequest();
  sign_short.setSignature(capnp::Data::Reader(wrong.data(), 10));
  EXPECT_THAT(error_of(sign_short.send().wait(c.ws())), HasSubstr("bytes"));
  EXPECT_EQ(RemoteRoot(), root);
  // A write committed once cannot be used again.
  ev::Signature good = key.Sign(std::span<const uint8_t>(entry.begin(), entry.size()));
  auto sign_good = writer.signRequest();
  sign_good.setSignature(capnp::Data::Reader(good.data(), good.size()));
  EXPECT_EQ(error_of(sign_good.send().wait(c.ws())), "");
  EXPECT_EQ(error_of(writer.commitRequest().send().wait(c.ws())), "");
  EXPECT_THAT(error_of(writer.commitRequest().send().wait(c.ws())), HasSubstr("committed"));
  EXPECT_NE(RemoteRoot(), root);
}

// Bytes that are not the protocol: plain text instead of TLS, garbage and a truncated message
// inside TLS, a message over --max-message-bytes. Each costs its sender the connection; the
// ledger is unchanged and others are served.
TEST_F(ServiceTest, BadMessagesAreRefusedWithoutHarm) {
  Start("--max-message-bytes 1200000");
  kj::AsyncIoContext io = kj::setupAsyncIo();
  std::string root = RemoteRoot();
  const std::string port = std::to_string(server_->port());
  ShellRun plain = Sh(dir_->path(), "bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port +
                                        " && printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3 && "
                                        "timeout 5 cat <&3 > /dev/null; true'");
  EXPECT_EQ(plain.code, 0) << plain.err;
  const std::string s_client = "timeout 10 openssl s_client -quiet -connect 127.0.0.1:" + port +
                               " -CAfile tls.crt -verify_return_error < ";
  // Random bytes, then a segment table that promises 2^20 words and ends after 8 bytes.
  ShellRun garbage = Sh(dir_->path(), "head -c 4096 /dev/urandom > garbage.bin && " + s_client +
                                          "garbage.bin > /dev/null 2>&1; true");
  EXPECT_EQ(garbage.code, 0);
  ShellRun truncated =
      Sh(dir_->path(), "printf '\\000\\000\\000\\000\\000\\000\\020\\000abcdefgh' > cut.bin && " +
                           s_client + "cut.bin > /dev/null 2>&1; true");
  EXPECT_EQ(truncated.code, 0);
  {
    // A readRow whose key alone is over the limit: the server drops the connection unread.
    RawClient c(io, server_->port(), Path("tls.crt"));
    auto session = c.Session(LoadKey(auditor_));
    auto request = session.readRowRequest();
    request.setKey(std::string(2 << 20, 'k'));
    auto failure = kj::runCatchingExceptions([&]() { request.send().wait(c.ws()); });
    EXPECT_TRUE(failure != nullptr);
  }
  EXPECT_EQ(RemoteRoot(), root);
  ShellRun log = Remote(auditor_, "show 3");
  EXPECT_EQ(log.code, 0) << log.err;
  EXPECT_THAT(server_->Log(), HasSubstr("dropped"));
  EXPECT_EQ(server_->Stop(), 0);
  ShellRun audit = Local("audit");
  EXPECT_EQ(audit.code, 0) << audit.out << audit.err;
}

// Over --rate a connection's calls are refused (kBusy, exit 4) until the next second.
TEST_F(ServiceTest, RequestRateIsLimitedPerConnection) {
  Start("--rate 5");
  auto ledger = ConnectLedger(Options(auditor_));  // hello, authenticate, resident: 3 calls
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  std::vector<Status> reads;
  for (int i = 0; i < 4; ++i) reads.push_back((*ledger)->ReadRaw(1).status());
  EXPECT_TRUE(reads[0].ok()) << reads[0].ToString();
  EXPECT_TRUE(reads[1].ok()) << reads[1].ToString();
  EXPECT_TRUE(reads[2].IsBusy()) << reads[2].ToString();
  EXPECT_THAT(reads[2].message(), HasSubstr("--rate"));
  // Another connection has its own allowance.
  auto other = ConnectLedger(Options(auditor_));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_TRUE((*other)->ReadRaw(1).ok());
}

// Past --max-connections a new connection is closed at once; the client says so (exit 4).
TEST_F(ServiceTest, ConnectionsAreLimited) {
  Start("--max-connections 1");
  auto first = ConnectLedger(Options(auditor_));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ShellRun second = Remote(auditor_, "log");
  EXPECT_EQ(second.code, 4) << second.err;
  EXPECT_THAT(second.err, HasSubstr("server localhost:"));
  EXPECT_THAT(server_->Log(), HasSubstr("--max-connections"));
  first->reset();
  // The slot is free again once the first client has gone.
  ShellRun third;
  for (int i = 0; i < 50; ++i) {
    third = Remote(auditor_, "show 1");
    if (third.code == 0) break;
  }
  EXPECT_EQ(third.code, 0) << third.err;
}

// A connection that never starts its TLS handshake is closed after --handshake-timeout, so
// silent sockets cannot hold every slot.
TEST_F(ServiceTest, SilentConnectionsAreClosedAfterTheHandshakeTimeout) {
  Start("--max-connections 1 --handshake-timeout 1");
  const std::string port = std::to_string(server_->port());
  // A socket that says nothing for 30 s, in the background, holding the only slot.
  ShellRun hold = Sh(dir_->path(), "bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port +
                                       " && sleep 30' > /dev/null 2>&1 & echo $!");
  ASSERT_EQ(hold.code, 0);
  // Until the server closes it (1 s), others are refused; then they are served.
  ShellRun served;
  for (int i = 0; i < 400; ++i) {
    served = Remote(auditor_, "show 1");
    if (served.code == 0) break;
  }
  EXPECT_EQ(served.code, 0) << served.err;
  EXPECT_THAT(server_->Log(), HasSubstr("connection 1: dropped"));
  Sh(dir_->path(), "kill " + testutil::NonEmptyLines(hold.out).at(0) + " 2>/dev/null; true");
}

// No server, a server whose certificate is not trusted, or commands that need the store:
// clear errors with their exit codes.
TEST_F(ServiceTest, EnvironmentErrorsNameTheServer) {
  Start();
  ShellRun untrusted =
      Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --server " + server_->address() +
                           " --key " + ShellQuote(auditor_) + " --server-ca " +
                           ShellQuote(testutil::SourcePath("README.md")) + " log");
  EXPECT_EQ(untrusted.code, 4) << untrusted.err;
  ShellRun gen = Sh(dir_->path(),
                    "openssl req -x509 -newkey ec -pkeyopt "
                    "ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.crt "
                    "-days 2 -subj /CN=localhost 2>&1");
  ASSERT_EQ(gen.code, 0) << gen.out;
  ShellRun wrong_ca =
      Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --server " + server_->address() +
                           " --key " + ShellQuote(auditor_) + " --server-ca other.crt log");
  EXPECT_EQ(wrong_ca.code, 4);
  EXPECT_THAT(wrong_ca.err, HasSubstr("server " + server_->address()));
  ShellRun audit = Remote(auditor_, "audit");
  EXPECT_EQ(audit.code, 2) << audit.err;
  EXPECT_THAT(audit.err, HasSubstr("not available with --server"));
  ShellRun at = Remote(treasurer_,
                       "--at 2025-12-31T13:00:00+08:00 budget allocate --measure 2 "
                       "--year 2025 --amount 1");
  EXPECT_EQ(at.code, 2);
  EXPECT_THAT(at.err, HasSubstr("--at is not available with --server"));
  int port = server_->port();
  EXPECT_EQ(server_->Stop(), 0);
  ShellRun gone = Sh(dir_->path(),
                     ShellQuote(FUNDLEDGER_BINARY) + " --server localhost:" + std::to_string(port) +
                         " --server-ca tls.crt --key " + ShellQuote(auditor_) + " log");
  EXPECT_EQ(gone.code, 4);
  EXPECT_THAT(gone.err, HasSubstr("server localhost:" + std::to_string(port)));
}

// SIGTERM stops the server with exit 0 and a ledger that audits clean with the root it served.
TEST_F(ServiceTest, SigtermExitsZeroWithACleanLedger) {
  Start();
  std::string clerk = NewClerk("last.pem", "SZ-STIB", "last clerk");
  ShellRun wrote = Remote(clerk, "recipient register --id " + testutil::Uscc(77040) +
                                     " --name last --kind enterprise --district futian");
  ASSERT_EQ(wrote.code, 0) << wrote.err;
  auto status = QueryStatus(Options(""));
  ASSERT_TRUE(status.ok());
  EXPECT_GE(status->clients, 1u);
  std::string root = RemoteRoot();
  EXPECT_EQ(server_->Stop(), 0) << server_->Log();
  EXPECT_THAT(server_->Log(), HasSubstr("stopping"));
  ShellRun audit = Local("audit");
  EXPECT_EQ(audit.code, 0) << audit.out << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("result: clean"));
  // Started again, it serves the same ledger: nothing acknowledged was lost.
  Start();
  EXPECT_EQ(RemoteRoot(), root);
}

// A mirror follows the service over the wire, verifying every entry as import does, and ends
// with the service's root; its copy audits clean. A second service started from the same
// export that then wrote another entry is a fork: the mirror refuses it (exit 3) and keeps its
// copy as it was.
TEST_F(ServiceTest, MirrorFollowsTheServiceAndRefusesAForkedOne) {
  ShellRun exported = Local("export --out copy.jsonl");
  ASSERT_EQ(exported.code, 0) << exported.err;
  ShellRun imported =
      Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --ledger forked import copy.jsonl");
  ASSERT_EQ(imported.code, 0) << imported.err;
  Start();
  ServerProcess forked(dir_->path(), "", "forked");
  ASSERT_GT(forked.port(), 0);
  std::string clerk = NewClerk("mirror-clerk.pem", "SZ-STIB", "mirror clerk");
  ShellRun wrote = Remote(clerk, "recipient register --id " + testutil::Uscc(88001) +
                                     " --name mirrored --kind enterprise --district futian");
  ASSERT_EQ(wrote.code, 0) << wrote.err;
  // The fork: the same history up to the export, then another entry.
  ShellRun other = Against(forked, "--key " + ShellQuote(admin_) +
                                       " key register --public-key mirror-clerk.pem.pub --role "
                                       "clerk --unit SZ-STIB --holder 'forked clerk'");
  ASSERT_EQ(other.code, 0) << other.err;

  ShellRun mirror =
      Against(*server_, "--key " + ShellQuote(auditor_) + " --ledger mirror mirror --once");
  ASSERT_EQ(mirror.code, 0) << mirror.out << mirror.err;
  EXPECT_THAT(mirror.out, HasSubstr("all verified"));
  ShellRun audit =
      Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --ledger mirror --json verify");
  ASSERT_EQ(audit.code, 0) << audit.err;
  json verified = json::parse(audit.out);
  EXPECT_EQ(verified.value("rootHash", "") + "@" + std::to_string(verified.value("entries", 0)),
            RemoteRoot());
  ShellRun full = Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --ledger mirror audit");
  EXPECT_EQ(full.code, 0) << full.out << full.err;
  EXPECT_THAT(full.out, HasSubstr("result: clean"));

  ShellRun fork =
      Against(forked, "--key " + ShellQuote(auditor_) + " --ledger mirror mirror --once");
  EXPECT_EQ(fork.code, 3) << fork.out << fork.err;
  EXPECT_THAT(fork.err, HasSubstr("fork"));
  ShellRun after =
      Sh(dir_->path(), ShellQuote(FUNDLEDGER_BINARY) + " --ledger mirror --json verify");
  EXPECT_EQ(json::parse(after.out).value("rootHash", ""), verified.value("rootHash", ""));
}

// The service killed (SIGKILL) while several clients write: every write a client saw
// acknowledged is in the ledger, which audits clean, and the service starts again on it.
TEST_F(ServiceTest, SigkillDuringWritesLosesNoAcknowledgedEntry) {
  Start();
  std::vector<std::string> clerks;
  for (int i = 0; i < 3; ++i) {
    clerks.push_back(NewClerk("kill" + std::to_string(i) + ".pem", "SZ-STIB",
                              "kill clerk " + std::to_string(i)));
  }
  // Each client writes until the server is gone, noting "<id> <output>" per write.
  std::string script;
  for (int i = 0; i < 3; ++i) {
    script += "(n=0; while [ $n -lt 200 ]; do n=$((n+1)); id=$(sed -n ${n}p ids-" +
              std::to_string(i) + "); " + ShellQuote(FUNDLEDGER_BINARY) + " --server " +
              server_->address() + " --server-ca tls.crt --key " +
              ShellQuote(clerks[static_cast<size_t>(i)]) +
              " recipient register --id $id --name \"k $id\" --kind enterprise "
              "--district futian > one-" +
              std::to_string(i) +
              " 2>&1 || break; "
              "echo \"$id $(cat one-" +
              std::to_string(i) + ")\" >> acked-" + std::to_string(i) + "; done) & ";
    std::string ids;
    for (uint32_t n = 1; n <= 200; ++n)
      ids += testutil::Uscc(60000 + static_cast<uint32_t>(i) * 1000 + n) + "\n";
    testutil::WriteText(Path("ids-" + std::to_string(i)), ids);
  }
  pid_t writers = ::fork();
  if (writers == 0) {
    ShellRun all = Sh(dir_->path(), script + "wait");
    ::_exit(all.code);
  }
  // Let some writes through, then kill the server in the middle of others.
  for (int i = 0; i < 200; ++i) {
    ::usleep(50'000);
    std::string acked = testutil::ReadText(Path("acked-0")) + testutil::ReadText(Path("acked-1"));
    if (testutil::NonEmptyLines(acked).size() >= 6) break;
  }
  server_->Kill();
  int status = 0;
  ::waitpid(writers, &status, 0);
  std::map<std::string, uint64_t> acked;  // recipient id -> seq the client was told
  for (int i = 0; i < 3; ++i) {
    for (const std::string& line :
         testutil::NonEmptyLines(testutil::ReadText(Path("acked-" + std::to_string(i))))) {
      std::smatch m;
      if (std::regex_search(line, m, std::regex("^([0-9A-Z]+) .*as entry ([0-9]+)"))) {
        acked[m[1].str()] = std::stoull(m[2].str());
      }
    }
  }
  ASSERT_GE(acked.size(), 6u);
  ShellRun log = Local("log --json");
  ASSERT_EQ(log.code, 0) << log.err;
  std::vector<std::string> lines = testutil::NonEmptyLines(log.out);
  for (const auto& [id, seq] : acked) {
    ASSERT_LE(seq, lines.size()) << id << " acknowledged as entry " << seq << " is gone";
    json j = json::parse(lines[seq - 1]);
    EXPECT_EQ(j["body"].value("recipientId", ""), id) << "entry " << seq;
  }
  ShellRun audit = Local("audit");
  EXPECT_EQ(audit.code, 0) << audit.out << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("result: clean"));
  Start();
  EXPECT_EQ(RemoteRoot().substr(RemoteRoot().find('@') + 1), std::to_string(lines.size()));
}

// A mirror's copy served read-only beside the mirror that writes it: reads give the copy's
// root, writes are refused (exit 2) and change nothing, and entries the mirror adds later are
// served after the service reopens its copy.
TEST_F(ServiceTest, MirrorCopyIsServedReadOnlyAndShowsWhatTheMirrorAdds) {
  Start();
  ShellRun first =
      Against(*server_, "--key " + ShellQuote(auditor_) + " --ledger mirror mirror --once");
  ASSERT_EQ(first.code, 0) << first.err;
  ServerProcess copy(dir_->path(), "--read-only", "mirror");
  ASSERT_GT(copy.port(), 0);
  auto root_of = [&](const ServerProcess& server) {
    ShellRun status = Against(server, "--key " + ShellQuote(auditor_) + " status --json");
    EXPECT_EQ(status.code, 0) << status.err;
    json j = json::parse(status.out, nullptr, false);
    return j.is_discarded() ? std::string()
                            : j.value("rootHash", "") + "@" + std::to_string(j.value("size", 0));
  };
  EXPECT_EQ(root_of(copy), RemoteRoot());
  const std::string before = root_of(copy);
  ShellRun refused = Against(copy, "--key " + ShellQuote(admin_) + " recipient register --id " +
                                       testutil::Uscc(88100) +
                                       " --name refused --kind enterprise --district futian");
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("write to the service it follows"));
  EXPECT_EQ(root_of(copy), before);
  // The service grows; the mirror follows; the read-only service shows it after a reopen.
  std::string clerk = NewClerk("grow.pem", "SZ-STIB", "grow clerk");
  ShellRun more =
      Against(*server_, "--key " + ShellQuote(auditor_) + " --ledger mirror mirror --once");
  ASSERT_EQ(more.code, 0) << more.err;
  std::string seen;
  for (int i = 0; i < 50 && seen != RemoteRoot(); ++i) {
    ::usleep(100'000);
    seen = root_of(copy);
  }
  EXPECT_EQ(seen, RemoteRoot());
  EXPECT_EQ(copy.Stop(), 0) << copy.Log();
}

// --- Checkpoints: serve --notary-key signs them periodically; clients remember the last one
// they verified per ledger and refuse a server whose new one does not extend it.
class ServiceCheckpointTest : public ServiceTest {
 protected:
  std::string NotaryFlags() const {
    return "--notary-key " + ShellQuote(KeyFile(keys_, "notary-")) + " --checkpoint-every 1s";
  }
  // fundledger on `server` with the client state file `state`.
  ShellRun At(const ServerProcess& server, const std::string& key, const std::string& args,
              const std::string& state) const {
    std::string key_flag = key.empty() ? "" : " --key " + ShellQuote(key);
    return Sh(dir_->path(), "FUNDLEDGER_CHECKPOINT_STATE=" + ShellQuote(state) + " " +
                                ShellQuote(FUNDLEDGER_BINARY) + " --server " + server.address() +
                                " --server-ca tls.crt" + key_flag + " " + args);
  }
  // A new clerk key registered on `server` by the admin (one entry).
  void Register(const ServerProcess& server, const std::string& name) {
    ShellRun gen = Local("key gen --out " + ShellQuote(name));
    ASSERT_EQ(gen.code, 0) << gen.err;
    ShellRun reg = At(server, admin_,
                      "key register --public-key " + ShellQuote(name + ".pub") +
                          " --role clerk --unit SZ-STIB --holder " + ShellQuote(name),
                      Path("scratch-state"));
    ASSERT_EQ(reg.code, 0) << reg.out << reg.err;
  }
  // The server's status once its checkpoint covers its whole ledger (waits up to 15 s).
  json CheckpointedStatus(const ServerProcess& server) const {
    json j;
    for (int i = 0; i < 150; ++i) {
      ShellRun status = At(server, "", "status --json", Path("scratch-state"));
      j = json::parse(status.out, nullptr, false);
      if (!j.is_discarded() && j.contains("checkpoint") &&
          j["checkpoint"].value("treeSize", uint64_t{0}) == j.value("size", uint64_t{0})) {
        return j;
      }
      ::usleep(100 * 1000);
    }
    ADD_FAILURE() << "no checkpoint of the whole ledger: " << j.dump() << "\n" << server.Log();
    return json();
  }
  // The state file read by another JSON reader (python3), as "<size> <root>" of ledger `id`.
  std::string StateByPython(const std::string& state, const std::string& id) const {
    ShellRun py = Sh(dir_->path(),
                     "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                     "e=d[\"ledgers\"][sys.argv[2]]; print(e[\"size\"], e[\"root\"])' " +
                         ShellQuote(state) + " " + id);
    EXPECT_EQ(py.code, 0) << py.err;
    return py.out;
  }
  static std::string IdOf(const json& status) {
    return status.value("origin", "").substr(std::string("fundledger/").size());
  }
};

// The service signs a checkpoint when the ledger has grown, stores it, serves it, and the note
// verifies with the ledger's notary key (audit --checkpoint) on the ledger afterwards.
TEST_F(ServiceCheckpointTest, ServiceSignsCheckpointsPeriodically) {
  Start(NotaryFlags());
  json first = CheckpointedStatus(*server_);
  ASSERT_FALSE(first.is_null());
  Register(*server_, "grown.pem");
  json second = CheckpointedStatus(*server_);
  ASSERT_FALSE(second.is_null());
  EXPECT_EQ(second["checkpoint"]["treeSize"], first["size"].get<uint64_t>() + 1);
  EXPECT_EQ(second["checkpoint"]["rootHash"], second["rootHash"]);
  EXPECT_TRUE(second["checkpoint"].contains("signedAt"));
  // The note as served, for audit --checkpoint.
  std::string note;
  {
    kj::AsyncIoContext io = kj::setupAsyncIo();
    RawClient raw(io, server_->port(), Path("tls.crt"));
    auto reply = raw.service().latestCheckpointRequest().send().wait(raw.ws());
    ASSERT_FALSE(reply.hasError());
    note = reply.getNote();
  }
  testutil::WriteText(Path("served.note"), note);
  EXPECT_THAT(server_->Log(),
              HasSubstr("signed checkpoint of " + std::to_string(second["size"].get<uint64_t>())));
  EXPECT_EQ(server_->Stop(), 0);
  ShellRun audit = Local("audit --json --checkpoint served.note");
  EXPECT_EQ(audit.code, 0) << audit.out << audit.err;
  // A note altered by one digit is a finding of the audit: the check above can fail.
  std::string forged = note;
  forged[forged.find('\n') + 1] = forged[forged.find('\n') + 1] == '9' ? '8' : '9';
  testutil::WriteText(Path("forged.note"), forged);
  EXPECT_EQ(Local("audit --json --checkpoint forged.note").code, 3);
}

// A client remembers the checkpoint it verified; when the server has grown it checks the
// consistency proof and remembers the newer one. The state file is JSON another reader opens.
TEST_F(ServiceCheckpointTest, ClientAcceptsConsistentNewerCheckpoint) {
  Start(NotaryFlags());
  json before = CheckpointedStatus(*server_);
  ASSERT_FALSE(before.is_null());
  const std::string state = Path("home/state/fundledger/checkpoints");
  ShellRun read = At(*server_, auditor_, "key list", state);
  ASSERT_EQ(read.code, 0) << read.err;
  struct stat st {};
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(StateByPython(state, IdOf(before)), std::to_string(before["size"].get<uint64_t>()) +
                                                    " " + before["rootHash"].get<std::string>() +
                                                    "\n");
  Register(*server_, "later.pem");
  Register(*server_, "later2.pem");
  json after = CheckpointedStatus(*server_);
  ASSERT_FALSE(after.is_null());
  read = At(*server_, auditor_, "key list", state);
  ASSERT_EQ(read.code, 0) << read.err;
  EXPECT_EQ(StateByPython(state, IdOf(after)), std::to_string(after["size"].get<uint64_t>()) + " " +
                                                   after["rootHash"].get<std::string>() + "\n");
}

// Two services started from the same export, then diverged: a client that saw A's checkpoint
// refuses B (exit 3), writes nothing and keeps what it remembered.
TEST_F(ServiceCheckpointTest, ClientRefusesServerOfAnotherHistory) {
  ShellRun exported = Local("export --out ledger.jsonl");
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::filesystem::create_directories(Path("b"));
  for (const char* file : {"tls.crt", "tls.key"}) {
    std::filesystem::copy_file(Path(file), Path(std::string("b/") + file));
  }
  ShellRun imported =
      Sh(Path("b"), ShellQuote(FUNDLEDGER_BINARY) + " --ledger ledger import ../ledger.jsonl");
  ASSERT_EQ(imported.code, 0) << imported.err;
  Start(NotaryFlags());
  ServerProcess b(Path("b"), NotaryFlags());
  ASSERT_GT(b.port(), 0);
  Register(*server_, "only-on-a.pem");
  Register(b, "only-on-b.pem");
  Register(b, "only-on-b2.pem");
  json a_status = CheckpointedStatus(*server_);
  json b_status = CheckpointedStatus(b);
  ASSERT_FALSE(a_status.is_null());
  ASSERT_FALSE(b_status.is_null());
  ASSERT_EQ(a_status["origin"], b_status["origin"]);
  const std::string state = Path("client-state");
  ShellRun on_a = At(*server_, auditor_, "key list", state);
  ASSERT_EQ(on_a.code, 0) << on_a.err;
  const std::string remembered = testutil::ReadText(state);
  ShellRun on_b = At(b, auditor_, "key list", state);
  EXPECT_EQ(on_b.code, 3) << on_b.out << on_b.err;
  EXPECT_THAT(on_b.err, HasSubstr("is not consistent with the one seen on"));
  EXPECT_EQ(on_b.out, "");
  EXPECT_EQ(testutil::ReadText(state), remembered);
  // A write through B is refused before anything is prepared: B's ledger does not grow.
  ASSERT_EQ(Local("key gen --out refused.pem").code, 0);
  ShellRun write = At(b, admin_,
                      "key register --public-key refused.pem.pub --role clerk --unit SZ-STIB "
                      "--holder refused",
                      state);
  EXPECT_EQ(write.code, 3) << write.err;
  EXPECT_EQ(CheckpointedStatus(b)["size"], b_status["size"]);
  EXPECT_EQ(testutil::ReadText(state), remembered);
  // A is still accepted.
  EXPECT_EQ(At(*server_, auditor_, "key list", state).code, 0);
  // A client that saw B's larger checkpoint refuses A's smaller one.
  const std::string state_b = Path("client-state-b");
  ASSERT_EQ(At(b, auditor_, "key list", state_b).code, 0);
  const std::string remembered_b = testutil::ReadText(state_b);
  ShellRun smaller = At(*server_, auditor_, "key list", state_b);
  EXPECT_EQ(smaller.code, 3) << smaller.err;
  EXPECT_THAT(smaller.err, HasSubstr("it is smaller"));
  EXPECT_EQ(testutil::ReadText(state_b), remembered_b);
}

// A state file that is not what the client writes is refused in one line (exit 2), left as it
// is, and nothing is read from the server.
TEST_F(ServiceCheckpointTest, CorruptStateFileIsRefusedCleanly) {
  Start(NotaryFlags());
  json status = CheckpointedStatus(*server_);
  ASSERT_FALSE(status.is_null());
  const std::string state = Path("state");
  ASSERT_EQ(At(*server_, auditor_, "key list", state).code, 0);
  json good = json::parse(testutil::ReadText(state));
  json wrong_root = good;
  wrong_root["ledgers"][IdOf(status)]["root"] = std::string(64, '0');
  json no_format = good;
  no_format.erase("format");
  for (const std::string& text :
       std::vector<std::string>{"{not json", "", "[]", wrong_root.dump(), no_format.dump(),
                                std::string("{\"format\":\"fundledger-checkpoint-state/1\","
                                            "\"ledgers\":{\"") +
                                    IdOf(status) + "\":{\"size\":-1}}}"}) {
    testutil::WriteText(state, text);
    ShellRun read = At(*server_, auditor_, "key list", state);
    EXPECT_EQ(read.code, 2) << text << "\n" << read.err;
    EXPECT_THAT(read.err, HasSubstr("checkpoint state " + state));
    EXPECT_EQ(testutil::NonEmptyLines(read.err).size(), 1u) << read.err;
    EXPECT_EQ(read.out, "");
    EXPECT_EQ(testutil::ReadText(state), text);
  }
}

// The notary key must be a registered, unrevoked notary key of the ledger: else serve refuses
// to start (exit 2, one line). Bad --checkpoint-every values are usage errors.
TEST_F(ServiceCheckpointTest, ServeRefusesKeyThatIsNotANotary) {
  ASSERT_EQ(Local("key gen --out stranger.pem").code, 0);
  const std::string serve = "serve --listen 127.0.0.1:0 --tls-cert tls.crt --tls-key tls.key ";
  for (const std::string& flags :
       {"--notary-key " + ShellQuote(admin_), std::string("--notary-key stranger.pem"),
        "--notary-key " + ShellQuote(KeyFile(keys_, "notary-")) + " --checkpoint-every 0s",
        "--notary-key " + ShellQuote(KeyFile(keys_, "notary-")) + " --checkpoint-every 2d",
        "--notary-key " + ShellQuote(KeyFile(keys_, "notary-")) + " --checkpoint-every 25h",
        std::string("--checkpoint-every 5m")}) {
    // A server that starts would not return: `timeout` ends it (exit 124, a test failure).
    ShellRun run =
        Sh(dir_->path(), "FUNDLEDGER_NOW=" + ShellQuote(kNow) + " timeout 20 " +
                             ShellQuote(FUNDLEDGER_BINARY) + " --ledger ledger " + serve + flags);
    EXPECT_EQ(run.code, 2) << flags << "\n" << run.out << run.err;
    EXPECT_EQ(testutil::NonEmptyLines(run.err).size(), 1u) << run.err;
    EXPECT_EQ(run.out, "") << flags;
  }
  ShellRun admin =
      Sh(dir_->path(), "timeout 20 " + ShellQuote(FUNDLEDGER_BINARY) + " --ledger ledger " + serve +
                           "--notary-key " + ShellQuote(admin_));
  EXPECT_THAT(admin.err, HasSubstr("is not a registered notary key of this ledger"));
}

}  // namespace
}  // namespace fundledger::service
