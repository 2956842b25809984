// Goal: the inspector's workflow works end to end through the `fundledger` binary and refuses
// what a hostile party would hand an inspector (DESIGN.md §2, §7, §10). A small simulated
// programme is checkpointed by the notary; `audit` of the ledger and of its export (with the
// checkpoint) agree on root and state hash; an inclusion proof checks against the checkpoint
// with the notary's public key, while a proof moved to another leaf, an --entry that is another
// entry, a checkpoint opened with a key that is not the notary's, and another ledger's
// checkpoint all exit 3; a consistency proof links an older checkpoint to a newer one; an
// auditor's attestation is appended and the ledger still audits clean; `query --as-of` a seq or
// a date answers what the live query said then; a tampered export is refused by audit and by
// import (which leaves no directory behind).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "events/text.h"
#include "tests/testutil/testutil.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
using ::testing::HasSubstr;
using nlohmann::json;

// Every command runs at this fixed "now": simulate spreads 2025 up to it.
constexpr const char* kNow = "2025-12-31T12:00:00+08:00";
// Writes after the simulation are recorded at these times (after kNow).
constexpr const char* kLater = "2026-01-05T10:00:00+08:00";
constexpr const char* kLater2 = "2026-01-06T10:00:00+08:00";
constexpr int kExitIntegrity = 3;

using CliRun = testutil::ShellRun;
using testutil::NonEmptyLines;
using testutil::ReadText;
using testutil::WriteText;
std::string Q(const std::string& word) { return testutil::ShellQuote(word); }

// `fundledger <args>` in `dir` at the fixed clock.
CliRun FundledgerIn(const std::string& dir, const std::string& args) {
  return testutil::RunShell(dir, "FUNDLEDGER_NOW=" + Q(kNow) + " " + Q(FUNDLEDGER_BINARY) + " " + args);
}

json ParseOne(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not one JSON object: " << text;
  return j.is_discarded() ? json::object() : j;
}

bool IsHex64(const json& j) {
  if (!j.is_string()) return false;
  const std::string s = j.get<std::string>();
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The one file in `dir` whose name starts with `prefix` and ends in ".pem" (not ".pub").
std::string KeyFile(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(".pem")) found.push_back(entry.path().string());
  }
  std::sort(found.begin(), found.end());
  EXPECT_FALSE(found.empty()) << "no key " << prefix << "*.pem in " << dir;
  return found.empty() ? "" : found.front();
}

class InspectorCliTest : public ::testing::Test {
 protected:
  // Two small simulated ledgers for the whole suite, copied into each test's directory:
  // "ledger" (seed 3, keys in "keys") and "other" (seed 4, keys in "other-keys").
  //
  // The shipped policy's pools make about 2,000 entries whatever --recipients says (8 s of synced
  // appends), so the programme runs under a trimmed copy: measures 2, 4 and 7, each stated annual
  // pool cut to three times its track's smallest cap. About 120 entries, under a second.
  static void SetUpTestSuite() {
    template_ = new testutil::TempDir();
    const std::string dir = template_->path();
    json policy = ParseOne(ReadText(testutil::SourcePath("schemas/policies/shenzhen-ai-pioneer-2024.json")));
    json measures = json::array();
    for (json& m : policy["measures"]) {
      const std::string id = m.value("id", "");
      if (id != "2" && id != "4" && id != "7") continue;
      if (m.value("annualBudgetCapStated", false)) {
        int64_t smallest = INT64_MAX;
        for (const json& t : m["tracks"]) {
          for (const json& c : t["caps"]) smallest = std::min(smallest, c["amountFen"].get<int64_t>());
        }
        m["annualBudgetCapFen"] = 3 * smallest;
      }
      measures.push_back(m);
    }
    policy["measures"] = measures;
    policy["note"] = "trimmed copy of the shipped policy for inspector_cli_test: smaller pools, fewer measures";
    WriteText(dir + "/small-policy.json", policy.dump());
    *simulate_ = FundledgerIn(dir, "--ledger ledger simulate --recipients 30 --years 2025 --seed 3 --keys-out keys "
                                   "--policy small-policy.json");
    *other_simulate_ = FundledgerIn(dir, "--ledger other simulate --recipients 12 --years 2025 --seed 4 "
                                         "--keys-out other-keys --policy small-policy.json");
  }
  static void TearDownTestSuite() {
    delete template_;
    template_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(simulate_->code, 0) << simulate_->out << simulate_->err;
    ASSERT_EQ(other_simulate_->code, 0) << other_simulate_->out << other_simulate_->err;
    dir_ = std::make_unique<testutil::TempDir>();
    std::error_code error;
    std::filesystem::copy(template_->path(), dir_->path(),
                          std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing, error);
    ASSERT_FALSE(error) << error.message();
    for (const char* keys : {"keys", "other-keys"}) {
      for (const auto& entry : std::filesystem::directory_iterator(Path(keys))) {
        if (entry.path().extension() == ".pem") {
          ASSERT_EQ(::chmod(entry.path().c_str(), 0600), 0);
        }
      }
    }
    notary_ = KeyFile(Path("keys"), "notary-");
    auditor_ = KeyFile(Path("keys"), "auditor-");
    treasurer_ = KeyFile(Path("keys"), "treasurer-");
    other_notary_ = KeyFile(Path("other-keys"), "notary-");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(simulate_->out, m, std::regex("simulated ([0-9]+) entries"))) << simulate_->out;
    entries_ = std::stoull(m[1].str());
    ASSERT_GE(entries_, 60u);
  }

  std::string Path(const std::string& name) const { return dir_->Sub(name); }
  // fundledger on this test's copy of "ledger".
  CliRun Fl(const std::string& args) const { return FundledgerIn(dir_->path(), "--ledger ledger " + args); }
  // fundledger on this test's copy of "other".
  CliRun Other(const std::string& args) const { return FundledgerIn(dir_->path(), "--ledger other " + args); }
  // fundledger with no ledger (check-proof opens none).
  CliRun Bare(const std::string& args) const { return FundledgerIn(dir_->path(), args); }

  // Signs a checkpoint of "ledger" with the notary key into `file`.
  void Checkpoint(const std::string& file) {
    CliRun r = Fl("--key " + Q(notary_) + " checkpoint --out " + Q(file));
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_TRUE(std::filesystem::exists(Path(file)));
  }

  // `prove ... --json` into `file`; returns the proof.
  json Prove(const std::string& args, const std::string& file) {
    CliRun r = Fl("prove " + args + " --json");
    EXPECT_EQ(r.code, 0) << r.err;
    WriteText(Path(file), r.out);
    return ParseOne(r.out);
  }

  CliRun CheckProof(const std::string& checkpoint, const std::string& proof, const std::string& public_key,
                 const std::string& extra = "") {
    return Bare("check-proof --checkpoint " + Q(checkpoint) + " --proof " + Q(proof) + " --public-key " + Q(public_key) +
                " " + extra);
  }

  // The report of `audit --json`: exactly one JSON object, also when the audit fails (DESIGN §10).
  json AuditJson(const std::string& args, int expected_code = 0) {
    CliRun r = Fl("audit --json " + args);
    EXPECT_EQ(r.code, expected_code) << r.out << r.err;
    std::vector<std::string> lines = NonEmptyLines(r.out);
    EXPECT_EQ(lines.size(), 1u) << r.out;
    return ParseOne(lines.empty() ? "" : lines.front());
  }

  static testutil::TempDir* template_;
  static std::unique_ptr<CliRun> simulate_, other_simulate_;
  std::unique_ptr<testutil::TempDir> dir_;
  std::string notary_, auditor_, treasurer_, other_notary_;
  uint64_t entries_ = 0;
};

testutil::TempDir* InspectorCliTest::template_ = nullptr;
std::unique_ptr<CliRun> InspectorCliTest::simulate_ = std::make_unique<CliRun>();
std::unique_ptr<CliRun> InspectorCliTest::other_simulate_ = std::make_unique<CliRun>();

TEST_F(InspectorCliTest, SimulateWritesOfficersKeysAndAuditsClean) {
  EXPECT_THAT(simulate_->out, HasSubstr("officers' keys in keys"));
  for (const std::string& key : {notary_, auditor_, treasurer_}) {
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0) << key;
    EXPECT_TRUE(std::filesystem::exists(key + ".pub")) << key;
  }
  struct stat st {};
  ASSERT_EQ(::stat((template_->path() + "/keys/" + std::filesystem::path(notary_).filename().string()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "simulate wrote the notary's private key readable by others";
  EXPECT_TRUE(std::filesystem::exists(KeyFile(Path("keys"), "authority-")));
  EXPECT_TRUE(std::filesystem::exists(KeyFile(Path("keys"), "clerk-SZ-STIB-")));
  EXPECT_TRUE(std::filesystem::exists(KeyFile(Path("keys"), "reviewer-SZ-STIB-")));

  json audit = AuditJson("");
  EXPECT_EQ(audit.value("entries", uint64_t{0}), entries_);
  EXPECT_TRUE(IsHex64(audit["rootHash"])) << audit.dump();
  EXPECT_TRUE(IsHex64(audit["stateHash"])) << audit.dump();
  ASSERT_TRUE(audit["findings"].is_array()) << audit.dump();
  EXPECT_TRUE(audit["findings"].empty()) << audit.dump();
  EXPECT_EQ(audit.value("integrityFindings", -1), 0);
  EXPECT_GE(audit.value("checkpointsChecked", 0), 1) << "simulate stores a checkpoint";
  EXPECT_THAT(audit.value("origin", ""), HasSubstr("fundledger/"));
}

TEST_F(InspectorCliTest, LedgerAuditAndExportAuditAgreeWithTheCheckpoint) {
  Checkpoint("cp.txt");
  const std::string note = ReadText(Path("cp.txt"));
  json ledger_audit = AuditJson("--checkpoint cp.txt");
  EXPECT_GE(ledger_audit.value("checkpointsChecked", 0), 2);
  EXPECT_TRUE(ledger_audit["findings"].empty()) << ledger_audit.dump();
  const std::string origin = ledger_audit.value("origin", "");
  EXPECT_TRUE(note.starts_with(origin + "\n" + std::to_string(entries_) + "\n")) << note;

  for (const char* format : {"jsonl", "capnp"}) {
    SCOPED_TRACE(format);
    const std::string file = std::string("export.") + format;
    CliRun exported = Fl(std::string("export --format ") + format + " --out " + file);
    ASSERT_EQ(exported.code, 0) << exported.err;
    json from_export = AuditJson("--from-export " + file + " --checkpoint cp.txt");
    EXPECT_EQ(from_export.value("entries", uint64_t{0}), entries_);
    EXPECT_EQ(from_export.value("rootHash", "x"), ledger_audit.value("rootHash", "y"));
    EXPECT_EQ(from_export.value("stateHash", "x"), ledger_audit.value("stateHash", "y"));
    EXPECT_EQ(from_export.value("checkpointsChecked", 0), 1);
    EXPECT_TRUE(from_export["findings"].empty()) << from_export.dump();
  }
  // The other ledger's checkpoint does not hold for this export.
  CliRun other_cp = Other("--key " + Q(other_notary_) + " checkpoint --out other-cp.txt");
  ASSERT_EQ(other_cp.code, 0) << other_cp.err;
  json mismatched = AuditJson("--from-export export.jsonl --checkpoint other-cp.txt", kExitIntegrity);
  EXPECT_GE(mismatched.value("integrityFindings", 0), 1) << mismatched.dump();
}

TEST_F(InspectorCliTest, TamperedExportIsRefusedByAuditAndImport) {
  ASSERT_EQ(Fl("export --out export.jsonl").code, 0);
  std::vector<std::string> lines = NonEmptyLines(ReadText(Path("export.jsonl")));
  ASSERT_EQ(lines.size(), entries_);
  const size_t k = lines.size() / 2;
  json line = ParseOne(lines[k - 1]);
  std::optional<ev::Bytes> signature = ev::FromBase64(line["signature"].get<std::string>());
  ASSERT_TRUE(signature.has_value());
  (*signature)[3] = static_cast<uint8_t>((*signature)[3] ^ 0x20);
  line["signature"] = ev::Base64(*signature);
  line.erase("leafHash");
  lines[k - 1] = line.dump();
  std::string tampered;
  for (const std::string& l : lines) tampered += l + "\n";
  WriteText(Path("tampered.jsonl"), tampered);

  CliRun audit = Fl("audit --from-export tampered.jsonl");
  EXPECT_EQ(audit.code, kExitIntegrity) << audit.out << audit.err;
  EXPECT_THAT(audit.out + audit.err, HasSubstr("entry " + std::to_string(k)));

  CliRun import = Bare("--ledger imported import tampered.jsonl");
  EXPECT_EQ(import.code, kExitIntegrity) << import.out << import.err;
  EXPECT_FALSE(std::filesystem::exists(Path("imported"))) << "a refused import left a directory behind";

  // The untouched export imports, and the copy audits to the same root.
  CliRun clean = Bare("--ledger imported import export.jsonl");
  ASSERT_EQ(clean.code, 0) << clean.err;
  CliRun copy_audit = Bare("--ledger imported audit --json");
  ASSERT_EQ(copy_audit.code, 0) << copy_audit.err;
  EXPECT_EQ(ParseOne(copy_audit.out).value("rootHash", "x"), AuditJson("").value("rootHash", "y"));
}

TEST_F(InspectorCliTest, InclusionProofChecksAndHostileOnesExit3) {
  Checkpoint("cp.txt");
  const uint64_t seq = entries_ / 2, other_seq = seq + 1;
  json proof = Prove("inclusion --seq " + std::to_string(seq), "p.json");
  EXPECT_EQ(proof.value("seq", uint64_t{0}), seq);
  EXPECT_EQ(proof.value("treeSize", uint64_t{0}), entries_);
  const std::string pub = notary_ + ".pub";

  CliRun ok = CheckProof("cp.txt", "p.json", pub);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("entry " + std::to_string(seq) + " is included"));

  for (const auto& [s, file] : {std::pair{seq, "e.json"}, std::pair{other_seq, "e-other.json"}}) {
    CliRun show = Fl("show " + std::to_string(s) + " --json");
    ASSERT_EQ(show.code, 0) << show.err;
    WriteText(Path(file), show.out);
  }
  CliRun with_entry = CheckProof("cp.txt", "p.json", pub, "--entry e.json");
  EXPECT_EQ(with_entry.code, 0) << with_entry.err;

  {
    SCOPED_TRACE("--entry is another entry");
    CliRun r = CheckProof("cp.txt", "p.json", pub, "--entry e-other.json");
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("leafHash moved to another entry's");
    json moved = proof;
    moved["leafHash"] = Prove("inclusion --seq " + std::to_string(other_seq), "p-other.json")["leafHash"];
    ASSERT_NE(moved["leafHash"], proof["leafHash"]);
    WriteText(Path("moved.json"), moved.dump());
    CliRun r = CheckProof("cp.txt", "moved.json", pub);
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("leaf index moved to the next leaf");
    json moved = proof;
    moved["leafIdx"] = seq;  // entry seq+1
    WriteText(Path("moved-index.json"), moved.dump());
    CliRun r = CheckProof("cp.txt", "moved-index.json", pub);
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("a proof component altered");
    json altered = proof;
    ASSERT_FALSE(altered["proof"].empty());
    std::optional<ev::Bytes> first = ev::FromBase64(altered["proof"][0].get<std::string>());
    ASSERT_TRUE(first.has_value());
    (*first)[0] = static_cast<uint8_t>((*first)[0] ^ 0x01);
    altered["proof"][0] = ev::Base64(*first);
    WriteText(Path("altered.json"), altered.dump());
    CliRun r = CheckProof("cp.txt", "altered.json", pub);
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("the checkpoint opened with the auditor's key, not the notary's");
    CliRun r = CheckProof("cp.txt", "p.json", auditor_ + ".pub");
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("another ledger's checkpoint, opened with its notary's key");
    CliRun other_cp = Other("--key " + Q(other_notary_) + " checkpoint --out other-cp.txt");
    ASSERT_EQ(other_cp.code, 0) << other_cp.err;
    CliRun r = CheckProof("other-cp.txt", "p.json", other_notary_ + ".pub");
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
    // Without the proof's origin, and with the other checkpoint's size: the root still differs.
    const std::string other_note = ReadText(Path("other-cp.txt"));
    const size_t first_nl = other_note.find('\n');
    const uint64_t other_size = std::stoull(other_note.substr(first_nl + 1, other_note.find('\n', first_nl + 1) - first_nl - 1));
    json stripped = proof;
    stripped.erase("origin");
    stripped["treeSize"] = other_size;
    WriteText(Path("stripped.json"), stripped.dump());
    CliRun r2 = CheckProof("other-cp.txt", "stripped.json", other_notary_ + ".pub");
    EXPECT_EQ(r2.code, kExitIntegrity) << r2.out << r2.err;
    // And this ledger's checkpoint opened with the other notary's key.
    CliRun r3 = CheckProof("cp.txt", "p.json", other_notary_ + ".pub");
    EXPECT_EQ(r3.code, kExitIntegrity) << r3.out << r3.err;
  }
  for (const char* bad : {"", "bad origin\n1\n", "\n\n"}) {
    SCOPED_TRACE(std::string("a checkpoint file whose first line is no key name: ") + bad);
    WriteText(Path("bad-cp.txt"), bad);
    CliRun r = CheckProof("bad-cp.txt", "p.json", pub);
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("origin line"));
  }
  {
    SCOPED_TRACE("a proof for an older tree size than the checkpoint's");
    Prove("inclusion --seq " + std::to_string(seq) + " --size " + std::to_string(entries_ - 1), "p-old.json");
    CliRun r = CheckProof("cp.txt", "p-old.json", pub);
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
}

TEST_F(InspectorCliTest, ConsistencyProofLinksOlderAndNewerCheckpoints) {
  Checkpoint("cp-old.txt");
  const uint64_t old_size = entries_;
  CliRun allocate = Fl("--key " + Q(treasurer_) + " --at " + kLater + " budget allocate --measure 7 --year 2025 --amount 100万");
  ASSERT_EQ(allocate.code, 0) << allocate.out << allocate.err;
  CliRun allocate2 = Fl("--key " + Q(treasurer_) + " --at " + kLater2 + " budget allocate --measure 7 --year 2025 --amount 50万");
  ASSERT_EQ(allocate2.code, 0) << allocate2.out << allocate2.err;
  Checkpoint("cp-new.txt");
  const std::string pub = notary_ + ".pub";

  json proof = Prove("consistency --from " + std::to_string(old_size), "c.json");
  EXPECT_EQ(proof.value("size1", uint64_t{0}), old_size);
  EXPECT_EQ(proof.value("size2", uint64_t{0}), old_size + 2);
  CliRun ok = CheckProof("cp-new.txt", "c.json", pub, "--old-checkpoint cp-old.txt");
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  CliRun ok_alone = CheckProof("cp-new.txt", "c.json", pub);
  EXPECT_EQ(ok_alone.code, 0) << ok_alone.out << ok_alone.err;

  {
    SCOPED_TRACE("the newer checkpoint given as the older one");
    CliRun r = CheckProof("cp-new.txt", "c.json", pub, "--old-checkpoint cp-new.txt");
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("the proof checked against the older checkpoint as the newer one");
    CliRun r = CheckProof("cp-old.txt", "c.json", pub);
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("a proof from another size than the older checkpoint's");
    Prove("consistency --from " + std::to_string(old_size - 1), "c-off.json");
    CliRun r = CheckProof("cp-new.txt", "c-off.json", pub, "--old-checkpoint cp-old.txt");
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
  }
  {
    SCOPED_TRACE("root1 and a proof component altered");
    json altered = proof;
    std::optional<ev::Bytes> root1 = ev::FromBase64(altered["root1"].get<std::string>());
    ASSERT_TRUE(root1.has_value());
    (*root1)[9] = static_cast<uint8_t>((*root1)[9] ^ 0x01);
    altered["root1"] = ev::Base64(*root1);
    WriteText(Path("c-root.json"), altered.dump());
    CliRun r = CheckProof("cp-new.txt", "c-root.json", pub);
    EXPECT_EQ(r.code, kExitIntegrity) << r.out << r.err;
    altered = proof;
    ASSERT_FALSE(altered["proof"].empty());
    std::optional<ev::Bytes> last = ev::FromBase64(altered["proof"].back().get<std::string>());
    ASSERT_TRUE(last.has_value());
    (*last)[31] = static_cast<uint8_t>((*last)[31] ^ 0x01);
    altered["proof"].back() = ev::Base64(*last);
    WriteText(Path("c-proof.json"), altered.dump());
    CliRun r2 = CheckProof("cp-new.txt", "c-proof.json", pub, "--old-checkpoint cp-old.txt");
    EXPECT_EQ(r2.code, kExitIntegrity) << r2.out << r2.err;
  }
  // The ledger with both checkpoints stored still audits clean, with the files too.
  json audit = AuditJson("--checkpoint cp-old.txt --checkpoint cp-new.txt");
  EXPECT_TRUE(audit["findings"].empty()) << audit.dump();
}

TEST_F(InspectorCliTest, AttestationIsAppendedAndTheLedgerStillAuditsClean) {
  json before = AuditJson("");
  CliRun attest = Fl("--key " + Q(auditor_) + " --at " + kLater + " audit --attest");
  ASSERT_EQ(attest.code, 0) << attest.out << attest.err;
  EXPECT_THAT(attest.out, HasSubstr("attested as entry " + std::to_string(entries_ + 1)));

  CliRun show = Fl("show " + std::to_string(entries_ + 1) + " --json");
  ASSERT_EQ(show.code, 0) << show.err;
  json entry = ParseOne(show.out);
  EXPECT_EQ(entry.value("kind", ""), "AuditAttested");
  EXPECT_EQ(entry["body"].value("treeSize", uint64_t{0}), entries_) << entry.dump();

  json after = AuditJson("");
  EXPECT_EQ(after.value("entries", uint64_t{0}), entries_ + 1);
  EXPECT_TRUE(after["findings"].empty()) << after.dump();
  EXPECT_NE(after.value("rootHash", ""), before.value("rootHash", ""));

  // A second attestation covers the first.
  CliRun again = Fl("--key " + Q(auditor_) + " --at " + kLater2 + " audit --attest");
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  json twice = AuditJson("");
  EXPECT_EQ(twice.value("entries", uint64_t{0}), entries_ + 2);
  EXPECT_TRUE(twice["findings"].empty()) << twice.dump();

  // An attestation needs the auditor's key.
  CliRun wrong = Fl("--key " + Q(treasurer_) + " --at " + kLater2 + " audit --attest");
  EXPECT_EQ(wrong.code, 1) << wrong.out << wrong.err;
}

TEST_F(InspectorCliTest, QueryAsOfEqualsTheLiveAnswerThen) {
  CliRun live = Fl("query measure --json");
  ASSERT_EQ(live.code, 0) << live.err;
  ASSERT_FALSE(NonEmptyLines(live.out).empty());
  const uint64_t head = entries_;
  CliRun live_m2 = Fl("query measure 2 --year 2025 --json");
  ASSERT_EQ(live_m2.code, 0) << live_m2.err;

  CliRun allocate = Fl("--key " + Q(treasurer_) + " --at " + kLater + " budget allocate --measure 7 --year 2025 --amount 100万");
  ASSERT_EQ(allocate.code, 0) << allocate.out << allocate.err;
  CliRun allocate2 = Fl("--key " + Q(treasurer_) + " --at " + kLater2 + " budget allocate --measure 2 --year 2026 --amount 200万");
  ASSERT_EQ(allocate2.code, 0) << allocate2.out << allocate2.err;

  CliRun now = Fl("query measure --json");
  ASSERT_EQ(now.code, 0) << now.err;
  EXPECT_NE(now.out, live.out) << "the allocations did not change the answer";

  CliRun by_seq = Fl("query measure --as-of " + std::to_string(head) + " --json");
  ASSERT_EQ(by_seq.code, 0) << by_seq.err;
  EXPECT_EQ(by_seq.out, live.out);

  CliRun by_date = Fl("query measure --as-of 2025-12-31 --json");
  ASSERT_EQ(by_date.code, 0) << by_date.err;
  EXPECT_EQ(by_date.out, live.out);

  CliRun m2_then = Fl("query measure 2 --year 2025 --as-of " + std::to_string(head) + " --json");
  ASSERT_EQ(m2_then.code, 0) << m2_then.err;
  EXPECT_EQ(m2_then.out, live_m2.out);

  CliRun between = Fl("query measure --as-of 2026-01-05 --json");
  ASSERT_EQ(between.code, 0) << between.err;
  EXPECT_NE(between.out, live.out);
  EXPECT_NE(between.out, now.out);
  CliRun by_new_seq = Fl("query measure --as-of " + std::to_string(head + 1) + " --json");
  ASSERT_EQ(by_new_seq.code, 0) << by_new_seq.err;
  EXPECT_EQ(by_new_seq.out, between.out);

  CliRun latest = Fl("query measure --as-of 2026-01-06 --json");
  ASSERT_EQ(latest.code, 0) << latest.err;
  EXPECT_EQ(latest.out, now.out);

  CliRun before_any = Fl("query measure --as-of 2020-01-01 --json");
  EXPECT_EQ(before_any.code, 2) << before_any.out << before_any.err;
}

}  // namespace
}  // namespace fundledger::tools

namespace fundledger::tools {
namespace {

// `mirror --once` copies the ledger, every entry verified, and a later run takes the entries
// written since; the copy has the source's root. Following another ledger (a fork of the
// mirror's history) is an integrity failure (exit 3) that leaves the mirror as it was; a source
// that is not there is exit 4 and makes no mirror.
TEST_F(InspectorCliTest, MirrorFollowsItsSourceAndRefusesAnother) {
  auto root = [this](const std::string& ledger) {
    CliRun r = FundledgerIn(dir_->path(), "--ledger " + ledger + " --json verify");
    EXPECT_EQ(r.code, 0) << r.err;
    return ParseOne(r.out).value("rootHash", "");
  };
  CliRun first = Bare("--ledger mirror mirror --from-ledger ledger --once");
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("mirrored " + std::to_string(entries_) + " entries"));
  EXPECT_EQ(root("mirror"), root("ledger"));
  CliRun attest = Fl("--key " + Q(auditor_) + " audit --attest");
  ASSERT_EQ(attest.code, 0) << attest.err;
  CliRun second = Bare("--json --ledger mirror mirror --from-ledger ledger --once");
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(ParseOne(second.out).value("appended", 0), 1);
  EXPECT_EQ(root("mirror"), root("ledger"));

  const std::string before = root("mirror");
  CliRun fork = Bare("--ledger mirror mirror --from-ledger other --once");
  EXPECT_EQ(fork.code, kExitIntegrity) << fork.out << fork.err;
  EXPECT_THAT(fork.err, HasSubstr("fork"));
  EXPECT_EQ(NonEmptyLines(fork.err).size(), 1u) << fork.err;
  EXPECT_EQ(root("mirror"), before);

  CliRun missing = Bare("--ledger new-mirror mirror --from-ledger no-such-ledger --once");
  EXPECT_EQ(missing.code, 4) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(Path("new-mirror")));
}

// Without --once the mirror keeps following: an entry written to the source after it started is
// mirrored at the next catch-up, and SIGTERM ends it with exit 0 between catch-ups.
TEST_F(InspectorCliTest, MirrorFollowsUntilStopped) {
  const std::string fl = Q(FUNDLEDGER_BINARY);
  CliRun run = testutil::RunShell(
      dir_->path(),
      "export FUNDLEDGER_NOW=" + Q(kNow) + "; " + fl +
          " --ledger mirror mirror --from-ledger ledger --interval 1 > mirror.out 2>&1 & m=$!; "
          "for i in $(seq 100); do grep -q 'mirrored' mirror.out && break; sleep 0.1; done; " +
          fl + " --ledger ledger --key " + Q(auditor_) +
          " audit --attest > /dev/null || exit 90; "
          "for i in $(seq 100); do grep -q 'mirrored 1 entries' mirror.out && break; sleep 0.1; "
          "done; "
          "kill -TERM $m; wait $m; echo \"mirror exit $?\"; cat mirror.out");
  EXPECT_THAT(run.out, HasSubstr("mirrored 1 entries")) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("mirror exit 0")) << run.out << run.err;
  auto root = [this](const std::string& ledger) {
    CliRun r = FundledgerIn(dir_->path(), "--ledger " + ledger + " --json verify");
    return ParseOne(r.out).value("rootHash", "");
  };
  EXPECT_EQ(root("mirror"), root("ledger"));
}

}  // namespace
}  // namespace fundledger::tools
