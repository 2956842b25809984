#include "tests/testutil/testutil.h"

#include <rocksdb/db.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "events/codec.h"
#include "events/text.h"

namespace fundledger::testutil {

namespace ev = ::fundledger::events;

ev::PrivateKey TestKey(uint8_t n) {
  std::array<uint8_t, 32> seed{};
  seed.fill(n);
  seed[0] = 0x5e;
  auto key = ev::PrivateKey::FromSeed(seed);
  LEDGER_CHECK(key.ok());
  return std::move(*key);
}

TempDir::TempDir() {
  char pattern[] = "/tmp/fundledger-test-XXXXXX";
  LEDGER_CHECK(mkdtemp(pattern) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string SourcePath(const std::string& relative) { return std::string(FUNDLEDGER_SOURCE_DIR) + "/" + relative; }

const ev::Policy& ShenzhenPolicy() {
  static const ev::Policy* policy = [] {
    std::ifstream in(SourcePath("schemas/policies/shenzhen-ai-pioneer-2024.json"));
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = ev::PolicyFromJson(text.str());
    LEDGER_CHECK(parsed.ok()) << parsed.status().ToString();
    return new ev::Policy(std::move(*parsed));
  }();
  return *policy;
}

int64_t At(const std::string& iso) {
  auto ms = ev::ParseInstant(iso);
  LEDGER_CHECK(ms.ok()) << iso;
  return *ms;
}

int64_t FixedClockMs() { return At("2030-01-01T00:00:00"); }

std::string Uscc(uint32_t n) {
  char body[32];
  std::snprintf(body, sizeof(body), "91440300%09u", n % 1000000000u);
  std::string code(body);
  return code + ev::UsccCheckChar(code);
}

ev::Hash Digest(const std::string& label) { return ev::Sha256(label); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string ShellQuote(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::vector<std::string> NonEmptyLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

ShellRun RunShell(const std::string& dir, const std::string& command) {
  const std::string out = dir + "/.stdout", err = dir + "/.stderr";
  const std::string line = "cd " + ShellQuote(dir) + " && ( " + command + " ) >" + ShellQuote(out) + " 2>" + ShellQuote(err);
  int status = std::system(line.c_str());
  ShellRun run;
  run.code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  run.out = ReadText(out);
  run.err = ReadText(err);
  return run;
}

std::string LedgerFixture::UnitOf(const std::string& measure) {
  const ev::Measure* m = ShenzhenPolicy().FindMeasure(measure);
  LEDGER_CHECK(m != nullptr && !m->units.empty()) << measure;
  return m->units.front();
}

void LedgerFixture::SetUp() {
  dir_ = std::make_unique<TempDir>();
  path_ = dir_->Sub("ledger");
  uint8_t n = 1;
  auto add = [&](const std::string& name) { keys_[name] = std::make_unique<ev::PrivateKey>(TestKey(n++)); };
  add("authority");
  add("admin");
  add("treasurer");
  add("treasurer2");
  add("auditor");
  add("notary");
  for (const ev::Unit& u : ShenzhenPolicy().units) {
    add("clerk:" + u.code);
    add("reviewer:" + u.code);
    add("reviewer2:" + u.code);
  }
  clock_ms_ = At("2025-01-02T09:00:00");
  ev::LedgerCreated created;
  created.name = "test ledger";
  created.authority_public_key = Key("authority").public_key();
  created.authority_unit = "LEDGER-ADMIN";
  created.authority_holder = "authority";
  auto ledger = ledger::Ledger::Create(path_, Key("authority"), created, clock_ms_);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  ledger_ = std::move(*ledger);
  RegisterOfficers();
}

void LedgerFixture::RegisterOfficers() {
  auto reg = [&](const std::string& name, ev::Role role, const std::string& unit) {
    MustAppend("authority", ev::KeyRegistered{Key(name).public_key(), role, unit, "holder " + name});
  };
  reg("admin", ev::Role::kAdmin, "LEDGER-ADMIN");
  reg("treasurer", ev::Role::kTreasurer, "SZ-FIN");
  reg("treasurer2", ev::Role::kTreasurer, "SZ-FIN");
  reg("auditor", ev::Role::kAuditor, "AUDIT");
  reg("notary", ev::Role::kNotary, "LEDGER-ADMIN");
  for (const ev::Unit& u : ShenzhenPolicy().units) {
    reg("clerk:" + u.code, ev::Role::kClerk, u.code);
    reg("reviewer:" + u.code, ev::Role::kReviewer, u.code);
    reg("reviewer2:" + u.code, ev::Role::kReviewer, u.code);
  }
  MustAppend("admin", ev::PolicyPublished{ShenzhenPolicy(), ShenzhenPolicy().term_start});
}

void LedgerFixture::TearDown() {
  ledger_.reset();
  dir_.reset();
}

const ev::PrivateKey& LedgerFixture::Key(const std::string& name) const {
  auto it = keys_.find(name);
  LEDGER_CHECK(it != keys_.end()) << "no test key " << name;
  return *it->second;
}

Result<uint64_t> LedgerFixture::Append(const std::string& signer, ev::Body body, int64_t at_ms) {
  if (at_ms == 0) {
    clock_ms_ += 60'000;
    at_ms = clock_ms_;
  } else {
    clock_ms_ = std::max(clock_ms_, at_ms);
  }
  ledger::AppendRequest request{std::move(body), ""};
  LEDGER_ASSIGN_OR_RETURN(
      auto results, ledger_->Append(Key(signer), std::span(&request, 1), at_ms, FixedClockMs()));
  return results.front().seq;
}

uint64_t LedgerFixture::MustAppend(const std::string& signer, ev::Body body) {
  std::string kind = ev::KindName(body);
  auto seq = Append(signer, std::move(body));
  LEDGER_CHECK(seq.ok()) << kind << ": " << seq.status().ToString();
  return *seq;
}

std::string LedgerFixture::AddRecipient(uint32_t n, ev::RecipientKind kind, const std::string& district,
                                        std::vector<std::string> related) {
  std::string id = Uscc(n);
  MustAppend("clerk:SZ-STIB", ev::RecipientRegistered{id, "recipient " + std::to_string(n), kind, district, related});
  return id;
}

void LedgerFixture::Allocate(const std::string& measure, uint16_t year, int64_t fen, const std::string& source) {
  MustAppend("treasurer", ev::BudgetAllocated{measure, year, fen, source});
}

void LedgerFixture::SubmitAndApprove(const ev::ApplicationSubmitted& application) {
  std::string unit = UnitOf(application.measure);
  MustAppend("clerk:" + unit, application);
  MustAppend("reviewer:" + unit, ev::ApplicationApproved{application.application_id, "ok"});
}

void LedgerFixture::Reopen() {
  ledger_.reset();
  auto ledger = ledger::Ledger::Open(path_, ledger::OpenMode::kWriter);
  LEDGER_CHECK(ledger.ok()) << ledger.status().ToString();
  ledger_ = std::move(*ledger);
}

void RewriteStoredRecord(const std::string& path, const std::string& family, const std::string& key,
                         const std::function<void(std::optional<std::string>*)>& change) {
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == family) cf = handles[i];
  }
  EXPECT_NE(cf, nullptr) << "no column family " << family;
  if (cf != nullptr) {
    std::string stored;
    rocksdb::Status got = db->Get(rocksdb::ReadOptions(), cf, key, &stored);
    EXPECT_TRUE(got.ok() || got.IsNotFound()) << got.ToString();
    std::optional<std::string> value;
    if (got.ok()) value = std::move(stored);
    change(&value);
    rocksdb::WriteOptions synced;
    synced.sync = true;
    rocksdb::Status put = value ? db->Put(synced, cf, key, *value) : db->Delete(synced, cf, key);
    EXPECT_TRUE(put.ok()) << put.ToString();
  }
  for (auto* handle : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
}

projections::LedgerState WholeState(const ledger::Ledger& ledger) {
  auto rows = ledger.Rows({""});
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? std::move(*rows) : projections::LedgerState{};
}

std::map<std::string, std::string> ViewRows(const ledger::Ledger& ledger) {
  projections::LedgerState whole = WholeState(ledger);
  projections::LedgerState view = ledger.Draft();
  std::vector<std::string> keys = projections::AllRowKeys(whole);
  for (const std::string& key : projections::AllRowKeys(view)) keys.push_back(key);
  std::map<std::string, std::string> rows;
  for (const std::string& key : keys) {
    rows[key] = projections::EncodeRow(view, key).value_or("(absent)");
  }
  EXPECT_TRUE(view.ReadStatus().ok()) << view.ReadStatus().ToString();
  return rows;
}

}  // namespace fundledger::testutil
