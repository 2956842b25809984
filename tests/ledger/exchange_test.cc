// Goal: export and import keep a ledger exactly (DESIGN.md §2, §6, §7). Export -> import into a
// new directory -> export is byte-identical in both formats (JSON lines and the Cap'n Proto
// stream), and the imported ledger audits clean with the same root and state hash. Import is
// all or nothing and refuses hostile exports, appending nothing: a flipped signature byte, an
// entry removed from the middle (a chain gap), another ledger's entries, a wrong leafHash,
// malformed JSON. Importing the rest of an export into a ledger that holds its beginning
// continues the chain. ParseExport refuses truncated Cap'n Proto data.
#include "ledger/exchange.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/audit.h"
#include "ledger/inspection.h"
#include "ledger/internal/storage_format.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::testing::HasSubstr;
using nlohmann::json;
using testutil::FixedClockMs;

std::vector<std::string> SplitLines(const std::string& text) { return testutil::NonEmptyLines(text); }

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

std::string DescribeFindings(const AuditReport& report) {
  std::string out;
  for (const Finding& f : report.findings) out += std::to_string(f.seq) + " " + f.code + " " + f.message + "\n";
  return out.empty() ? "(no findings)" : out;
}

AuditReport AuditStored(const Ledger& ledger) {
  AuditOptions options;
  options.stored = &ledger;
  LedgerEntrySource source(&ledger);
  Result<AuditReport> report = Audit(source, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.ok() ? std::move(*report) : AuditReport{};
}

std::string Export(const Ledger& ledger, bool capnp, uint64_t from = 1, uint64_t to = 0) {
  std::string out;
  Status s = WriteExport(ledger, from, to == 0 ? ledger.size() : to, capnp, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<StoredEntry> MustParse(const std::string& data, bool capnp) {
  Result<std::vector<StoredEntry>> parsed = ParseExport(data, capnp);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? std::move(*parsed) : std::vector<StoredEntry>{};
}

class ExchangeTest : public testutil::LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    if (HasFatalFailure()) return;
    Programme();
    size_ = ledger_->size();
    ASSERT_GE(size_, 40u);
  }

  // Recipients, a budget, applications through award, payout, revocation and reversal.
  void Programme() {
    Allocate("2", 2025, 1'000'000'000);
    for (uint32_t i = 1; i <= 4; ++i) {
      std::string recipient = AddRecipient(i, ev::RecipientKind::kEnterprise);
      std::string id = "A-" + std::to_string(i);
      SubmitAndApprove(ev::ApplicationSubmitted{id, recipient, "2", "standard", 2025, 400'000'000,
                                                "compute_service_contract", {{"rented_compute", "true"}},
                                                {testutil::Digest("contract " + id)}});
      MustAppend("reviewer:SZ-STIB", ev::AwardGranted{id, 150'000'000, 150'000'000, 0, ""});
      MustAppend("treasurer", ev::PayoutDisbursed{id, 50'000'000, "TREAS-2025-" + std::to_string(i)});
    }
    MustAppend("reviewer:SZ-STIB", ev::AwardRevoked{"A-3", 20'000'000, "partly withdrawn"});
    MustAppend("treasurer", ev::PayoutReversed{"A-4", 10'000'000, "paid to a wrong account"});
  }

  // Another ledger (its own random ledger id) made with the same keys and the same script, so
  // its entries have the same seqs; `extra` more entries follow.
  std::unique_ptr<Ledger> OtherLedger(const std::string& path, uint32_t extra) {
    std::unique_ptr<Ledger> mine = std::move(ledger_);
    const int64_t clock = clock_ms_;
    clock_ms_ = testutil::At("2025-01-02T09:00:00");
    ev::LedgerCreated created;
    created.name = "another ledger";
    created.authority_public_key = Key("authority").public_key();
    created.authority_unit = "LEDGER-ADMIN";
    created.authority_holder = "authority";
    Result<std::unique_ptr<Ledger>> other = Ledger::Create(path, Key("authority"), created, clock_ms_);
    EXPECT_TRUE(other.ok()) << other.status().ToString();
    if (!other.ok()) {
      ledger_ = std::move(mine);
      return nullptr;
    }
    ledger_ = std::move(*other);
    RegisterOfficers();
    Programme();
    for (uint32_t i = 0; i < extra; ++i) AddRecipient(500 + i, ev::RecipientKind::kStartup);
    std::unique_ptr<Ledger> out = std::move(ledger_);
    ledger_ = std::move(mine);
    clock_ms_ = clock;
    EXPECT_NE(out->head().ledger_id, ledger_->head().ledger_id);
    return out;
  }

  std::unique_ptr<Ledger> FreshForImport(const std::string& name) {
    Result<std::unique_ptr<Ledger>> created = Ledger::CreateForImport(dir_->Sub(name));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? std::move(*created) : nullptr;
  }

  // Imports `entries` into a new ledger and expects a refusal naming `where` with nothing
  // appended: no head, no stored entry.
  Status ExpectRefusedIntoFresh(const std::vector<StoredEntry>& entries, const std::string& where,
                                const std::string& name) {
    std::unique_ptr<Ledger> target = FreshForImport(name);
    if (target == nullptr) return Status::IOError("no target");
    Status s = ImportEntries(target.get(), entries, FixedClockMs(), nullptr);
    EXPECT_FALSE(s.ok()) << "the import was accepted";
    EXPECT_TRUE(s.IsCorruption() || s.IsRejected() || s.IsInvalidArgument()) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(where)) << s.ToString();
    EXPECT_EQ(target->size(), 0u);
    Result<uint64_t> stored = target->inspection().CountStoredEntries();
    EXPECT_TRUE(stored.ok() && *stored == 0u) << (stored.ok() ? std::to_string(*stored) : stored.status().ToString());
    target.reset();
    Result<std::unique_ptr<Ledger>> reopened = Ledger::Open(dir_->Sub(name), OpenMode::kReader);
    EXPECT_FALSE(reopened.ok()) << "an empty import target opened as a ledger";
    return s;
  }

  uint64_t size_ = 0;
};

TEST_F(ExchangeTest, ExportImportExportIsByteIdenticalAndAuditsTheSame) {
  const std::string jsonl = Export(*ledger_, false);
  const std::string capnp = Export(*ledger_, true);
  ASSERT_EQ(SplitLines(jsonl).size(), size_);
  ASSERT_EQ(capnp.size() % 8, 0u);
  const AuditReport original = AuditStored(*ledger_);
  ASSERT_TRUE(original.findings.empty()) << DescribeFindings(original);
  const Hash root = *RootAt(ledger_->tree(), size_);
  EXPECT_EQ(original.root, root);

  for (bool from_capnp : {false, true}) {
    SCOPED_TRACE(from_capnp ? "imported from capnp" : "imported from jsonl");
    const std::string name = from_capnp ? "imported-capnp" : "imported-jsonl";
    std::vector<StoredEntry> entries = MustParse(from_capnp ? capnp : jsonl, from_capnp);
    ASSERT_EQ(entries.size(), size_);
    std::unique_ptr<Ledger> imported = FreshForImport(name);
    ASSERT_NE(imported, nullptr);
    std::vector<uint64_t> progress;
    Status s = ImportEntries(imported.get(), entries, FixedClockMs(),
                             [&progress](uint64_t done) { progress.push_back(done); });
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(imported->size(), size_);
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.back(), size_);
    EXPECT_EQ(imported->head().head_hash, ledger_->head().head_hash);
    EXPECT_EQ(imported->Origin(), ledger_->Origin());
    EXPECT_TRUE(Export(*imported, false) == jsonl) << "jsonl re-export differs";
    EXPECT_TRUE(Export(*imported, true) == capnp) << "capnp re-export differs";

    // Reopened from disk, it audits clean with the same root and state hash.
    imported.reset();
    Result<std::unique_ptr<Ledger>> reopened = Ledger::Open(dir_->Sub(name), OpenMode::kReader);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    const AuditReport report = AuditStored(**reopened);
    EXPECT_TRUE(report.findings.empty()) << DescribeFindings(report);
    EXPECT_EQ(report.entries, size_);
    EXPECT_EQ(report.root, original.root);
    EXPECT_EQ(report.state_hash, original.state_hash);
    EXPECT_EQ(*RootAt((*reopened)->tree(), size_), root);
    EXPECT_EQ(pj::StateHash(testutil::WholeState(**reopened)),
              pj::StateHash(testutil::WholeState(*ledger_)));
  }
}

// An export whose entries are dated ahead of the importer's clock would make the copy refuse
// every write at the real time: the import is refused whole, before any group is committed.
TEST_F(ExchangeTest, ImportOfEntriesDatedLaterThanTheImportersClockIsRefusedWhole) {
  const std::vector<StoredEntry> entries = MustParse(Export(*ledger_, false), false);
  ASSERT_GT(entries.size(), 10u);
  // The clock reads the time of entry 10: entries more than the skew later are "in the future".
  const int64_t clock = entries[9].entry.recorded_at_ms;
  size_t first_ahead = 0;
  while (entries[first_ahead].entry.recorded_at_ms <= clock + pj::kClockSkewMsMax) ++first_ahead;
  std::unique_ptr<Ledger> target = FreshForImport("from-the-future");
  ASSERT_NE(target, nullptr);
  Status s = ImportEntries(target.get(), entries, clock, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsRejected()) << s.ToString();
  EXPECT_EQ(s.rule(), "time.future");
  EXPECT_THAT(s.message(), HasSubstr("entry " + std::to_string(first_ahead + 1) + ": recordedAt"));
  EXPECT_EQ(target->size(), 0u);
  Result<uint64_t> stored = target->inspection().CountStoredEntries();
  EXPECT_TRUE(stored.ok() && *stored == 0u);
  // Group commits check it too (AppendSigned is what each group goes through).
  Status group = target->AppendSigned(std::span(entries).first(first_ahead + 1), clock);
  EXPECT_EQ(group.rule(), "time.future") << group.ToString();
  EXPECT_EQ(target->size(), 0u);
  // At a clock after the last entry, the same import succeeds.
  EXPECT_TRUE(
      ImportEntries(target.get(), entries, entries.back().entry.recorded_at_ms, nullptr).ok());
  EXPECT_EQ(target->size(), entries.size());
}

TEST_F(ExchangeTest, PartialExportsConcatenateToTheWholeExport) {
  const uint64_t half = size_ / 2;
  for (bool capnp : {false, true}) {
    EXPECT_TRUE(Export(*ledger_, capnp, 1, half) + Export(*ledger_, capnp, half + 1, size_) == Export(*ledger_, capnp));
  }
  std::string out;
  EXPECT_TRUE(WriteExport(*ledger_, 0, size_, false, &out).IsInvalidArgument());
  EXPECT_TRUE(WriteExport(*ledger_, 1, size_ + 1, false, &out).IsInvalidArgument());
  EXPECT_TRUE(WriteExport(*ledger_, 5, 4, true, &out).IsInvalidArgument());
}

TEST_F(ExchangeTest, ImportRefusesAFlippedSignatureByte) {
  const uint64_t k = size_ / 2;
  std::vector<std::string> lines = SplitLines(Export(*ledger_, false));
  json line = json::parse(lines[k - 1]);
  std::optional<ev::Bytes> signature = ev::FromBase64(line["signature"].get<std::string>());
  ASSERT_TRUE(signature.has_value());
  (*signature)[20] = static_cast<uint8_t>((*signature)[20] ^ 0x04);
  line["signature"] = ev::Base64(*signature);

  {
    SCOPED_TRACE("leafHash left as exported: the line is refused by ParseExport");
    std::vector<std::string> damaged = lines;
    damaged[k - 1] = line.dump();
    Result<std::vector<StoredEntry>> parsed = ParseExport(JoinLines(damaged), false);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.status().message(), HasSubstr("line " + std::to_string(k)));
  }
  {
    SCOPED_TRACE("no leafHash: the import refuses the signature");
    line.erase("leafHash");
    std::vector<std::string> damaged = lines;
    damaged[k - 1] = line.dump();
    std::vector<StoredEntry> entries = MustParse(JoinLines(damaged), false);
    ASSERT_EQ(entries.size(), size_);
    Status s = ExpectRefusedIntoFresh(entries, "entry " + std::to_string(k), "flipped-jsonl");
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
  {
    SCOPED_TRACE("the capnp stream, its leaf hash recomputed");
    std::vector<StoredEntry> entries = MustParse(Export(*ledger_, true), true);
    entries[k - 1].signature[63] = static_cast<uint8_t>(entries[k - 1].signature[63] ^ 0x10);
    entries[k - 1].leaf_hash = ev::EntryLeafHash(entries[k - 1].entry_bytes, entries[k - 1].signature);
    Status s = ExpectRefusedIntoFresh(entries, "entry " + std::to_string(k), "flipped-capnp");
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
}

TEST_F(ExchangeTest, ImportRefusesAChainGap) {
  const uint64_t k = size_ / 2;
  std::vector<StoredEntry> entries = MustParse(Export(*ledger_, false), false);
  entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(k - 1));  // entry k gone
  Status s = ExpectRefusedIntoFresh(entries, "entry " + std::to_string(k + 1), "gap");
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_F(ExchangeTest, ImportRefusesDuplicatedOrReorderedEntries) {
  const uint64_t k = size_ / 2;
  std::vector<StoredEntry> entries = MustParse(Export(*ledger_, false), false);
  std::vector<StoredEntry> duplicated = entries;
  duplicated.insert(duplicated.begin() + static_cast<std::ptrdiff_t>(k), entries[k - 1]);
  EXPECT_TRUE(ExpectRefusedIntoFresh(duplicated, "entry " + std::to_string(k), "duplicated").IsCorruption());
  std::vector<StoredEntry> swapped = entries;
  std::swap(swapped[k - 1], swapped[k]);
  EXPECT_TRUE(ExpectRefusedIntoFresh(swapped, "entry " + std::to_string(k + 1), "swapped").IsCorruption());
}

TEST_F(ExchangeTest, ImportRefusesAnotherLedgersEntries) {
  std::unique_ptr<Ledger> other = OtherLedger(dir_->Sub("other"), 3);
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(other->size(), size_ + 3);
  const std::vector<StoredEntry> mine = MustParse(Export(*ledger_, false), false);
  const std::vector<StoredEntry> theirs = MustParse(Export(*other, false), false);
  ASSERT_EQ(mine.size(), size_);

  {
    SCOPED_TRACE("the other ledger's next entries appended to this ledger's export");
    std::vector<StoredEntry> mixed = mine;
    mixed.insert(mixed.end(), theirs.begin() + static_cast<std::ptrdiff_t>(size_), theirs.end());
    Status s = ExpectRefusedIntoFresh(mixed, "entry " + std::to_string(size_ + 1), "appended");
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("another ledger"));
  }
  {
    SCOPED_TRACE("the other ledger's entries from the middle on");
    const uint64_t k = size_ / 2;
    std::vector<StoredEntry> mixed(mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(k));
    mixed.insert(mixed.end(), theirs.begin() + static_cast<std::ptrdiff_t>(k), theirs.end());
    Status s = ExpectRefusedIntoFresh(mixed, "entry " + std::to_string(k + 1), "spliced");
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
  {
    SCOPED_TRACE("the other ledger's next entries imported into a copy of this ledger");
    std::unique_ptr<Ledger> copy = FreshForImport("copy");
    ASSERT_NE(copy, nullptr);
    ASSERT_TRUE(ImportEntries(copy.get(), mine, FixedClockMs(), nullptr).ok());
    const Hash head = copy->head().head_hash;
    Status s = ImportEntries(copy.get(), std::span(theirs).subspan(size_), FixedClockMs(), nullptr);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_EQ(copy->size(), size_);
    EXPECT_EQ(copy->head().head_hash, head);
    EXPECT_EQ(*copy->inspection().CountStoredEntries(), size_);
  }
}

TEST_F(ExchangeTest, ParseExportRefusesAWrongLeafHash) {
  const uint64_t k = size_ / 2;
  std::vector<std::string> lines = SplitLines(Export(*ledger_, false));
  json line = json::parse(lines[k - 1]);
  line["leafHash"] = json::parse(lines[k])["leafHash"];  // entry k+1's
  lines[k - 1] = line.dump();
  Result<std::vector<StoredEntry>> parsed = ParseExport(JoinLines(lines), false);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("line " + std::to_string(k)));
  EXPECT_THAT(parsed.status().message(), HasSubstr("leafHash"));
}

TEST_F(ExchangeTest, ParseExportRefusesMalformedJsonNamingTheLine) {
  const uint64_t k = 7;
  const std::vector<std::string> lines = SplitLines(Export(*ledger_, false));
  const json good = json::parse(lines[k - 1]);
  std::vector<std::pair<std::string, std::string>> cases;
  cases.emplace_back("truncated", lines[k - 1].substr(0, lines[k - 1].size() / 2));
  cases.emplace_back("not JSON", "entry, signature");
  cases.emplace_back("an array", "[1,2,3]");
  cases.emplace_back("blank line in the middle", "");
  cases.emplace_back("a duplicate key", "{\"entry\":\"AAAA\"," + lines[k - 1].substr(1));
  json no_entry = good;
  no_entry.erase("entry");
  cases.emplace_back("no entry", no_entry.dump());
  json no_signature = good;
  no_signature.erase("signature");
  cases.emplace_back("no signature", no_signature.dump());
  json bad_base64 = good;
  bad_base64["entry"] = "%%%%";
  cases.emplace_back("entry not base64", bad_base64.dump());
  json short_signature = good;
  short_signature["signature"] = ev::Base64(ev::Bytes(63, 7));
  cases.emplace_back("63-byte signature", short_signature.dump());
  json number_entry = good;
  number_entry["entry"] = 12;
  cases.emplace_back("entry a number", number_entry.dump());
  json garbage_entry = good;
  garbage_entry["entry"] = ev::Base64(ev::Bytes(40, 0xab));
  garbage_entry.erase("leafHash");
  cases.emplace_back("entry bytes that do not decode", garbage_entry.dump());
  for (const auto& [what, text] : cases) {
    SCOPED_TRACE(what);
    std::vector<std::string> damaged = lines;
    damaged[k - 1] = text;
    Result<std::vector<StoredEntry>> parsed = ParseExport(JoinLines(damaged), false);
    ASSERT_FALSE(parsed.ok()) << "accepted";
    EXPECT_TRUE(parsed.status().IsInvalidArgument() || parsed.status().IsCorruption()) << parsed.status().ToString();
    EXPECT_THAT(parsed.status().message(), HasSubstr("line " + std::to_string(k)));
  }
  // Trailing blank lines are allowed; an empty export parses to nothing and imports nothing.
  EXPECT_EQ(MustParse(JoinLines(lines) + "\n\n", false).size(), size_);
  std::vector<StoredEntry> none = MustParse("", false);
  EXPECT_TRUE(none.empty());
  std::unique_ptr<Ledger> target = FreshForImport("empty");
  ASSERT_NE(target, nullptr);
  EXPECT_TRUE(ImportEntries(target.get(), none, FixedClockMs(), nullptr).IsInvalidArgument());
}

TEST_F(ExchangeTest, ImportIntoALedgerHoldingTheFirstHalfContinuesItsChain) {
  const uint64_t half = size_ / 2;
  const std::vector<StoredEntry> entries = MustParse(Export(*ledger_, true), true);
  const std::span<const StoredEntry> all(entries);
  {
    std::unique_ptr<Ledger> target = FreshForImport("halves");
    ASSERT_NE(target, nullptr);
    ASSERT_TRUE(ImportEntries(target.get(), all.first(half), FixedClockMs(), nullptr).ok());
    EXPECT_EQ(target->size(), half);
  }
  Result<std::unique_ptr<Ledger>> reopened = Ledger::Open(dir_->Sub("halves"), OpenMode::kWriter);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  Ledger& target = **reopened;
  ASSERT_EQ(target.size(), half);

  // Importing the first half again, or a later slice that skips entries, appends nothing.
  EXPECT_TRUE(ImportEntries(&target, all.first(half), FixedClockMs(), nullptr).IsCorruption());
  EXPECT_TRUE(
      ImportEntries(&target, all.subspan(half + 1), FixedClockMs(), nullptr).IsCorruption());
  EXPECT_EQ(target.size(), half);

  Status s = ImportEntries(&target, all.subspan(half), FixedClockMs(), nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(target.size(), size_);
  EXPECT_TRUE(Export(target, false) == Export(*ledger_, false));
  const AuditReport report = AuditStored(target);
  EXPECT_TRUE(report.findings.empty()) << DescribeFindings(report);
  EXPECT_EQ(report.root, *RootAt(ledger_->tree(), size_));
  EXPECT_EQ(report.state_hash, pj::StateHash(testutil::WholeState(*ledger_)));

  // The second half alone is no ledger.
  EXPECT_FALSE(ExpectRefusedIntoFresh(std::vector<StoredEntry>(all.subspan(half).begin(), all.subspan(half).end()),
                                      "entry " + std::to_string(half + 1), "second-half-only")
                   .ok());
}

TEST_F(ExchangeTest, ParseExportRefusesTruncatedCapnp) {
  const std::string whole = Export(*ledger_, true);
  // Message boundaries, from exports of one entry each.
  std::set<size_t> boundaries = {0};
  size_t offset = 0;
  for (uint64_t seq = 1; seq <= size_; ++seq) {
    offset += Export(*ledger_, true, seq, seq).size();
    boundaries.insert(offset);
  }
  ASSERT_EQ(offset, whole.size());
  std::vector<size_t> cuts = {whole.size() - 1, whole.size() - 8, whole.size() - 3, 4, 8, 12};
  auto it = boundaries.begin();
  for (uint64_t seq = 1; seq <= size_; seq += 9) {
    const size_t start = *std::next(it, static_cast<std::ptrdiff_t>(seq - 1));
    const size_t end = *std::next(it, static_cast<std::ptrdiff_t>(seq));
    cuts.push_back(start + 8);                            // the segment table only
    cuts.push_back(start + ((end - start) / 16) * 8);     // half a message, whole words
    cuts.push_back(end - 8);                              // one word short
    cuts.push_back(start + (end - start) / 2 + 1);        // half a message, not whole words
  }
  for (size_t cut : cuts) {
    if (boundaries.count(cut)) continue;  // a cut between messages is a shorter, valid export
    SCOPED_TRACE("cut at byte " + std::to_string(cut) + " of " + std::to_string(whole.size()));
    Result<std::vector<StoredEntry>> parsed = ParseExport(std::string_view(whole).substr(0, cut), true);
    EXPECT_FALSE(parsed.ok()) << "parsed " << (parsed.ok() ? parsed->size() : 0) << " entries";
    if (!parsed.ok()) {
      EXPECT_TRUE(parsed.status().IsInvalidArgument() || parsed.status().IsCorruption()) << parsed.status().ToString();
    }
  }
  // A cut between messages parses to the entries before it.
  const size_t ten = *std::next(boundaries.begin(), 10);
  EXPECT_EQ(MustParse(whole.substr(0, ten), true).size(), 10u);
  // Garbage after the last message is refused too.
  EXPECT_FALSE(ParseExport(whole + std::string(8, '\xff'), true).ok());
  // The JSON parser on capnp bytes, and the capnp parser on JSON lines, refuse.
  EXPECT_FALSE(ParseExport(whole, false).ok());
  EXPECT_FALSE(ParseExport(Export(*ledger_, false), true).ok());
}

TEST_F(ExchangeTest, ImportRefusesAnEntryChangedAfterSigning) {
  std::vector<StoredEntry> entries = MustParse(Export(*ledger_, true), true);
  const uint64_t k = size_ / 3;
  // recordedAt one millisecond later: still in time order, bytes re-encoded, old signature kept.
  ev::Entry changed = entries[k - 1].entry;
  changed.recorded_at_ms += 1;
  ev::Bytes value = ev::EncodeEntry(changed);
  value.insert(value.end(), entries[k - 1].signature.begin(), entries[k - 1].signature.end());
  Result<StoredEntry> resealed = SplitStoredValue(value);
  ASSERT_TRUE(resealed.ok()) << resealed.status().ToString();
  entries[k - 1] = *resealed;
  Status s = ExpectRefusedIntoFresh(entries, "entry " + std::to_string(k), "changed-entry");
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

}  // namespace
// Import reads its export a group at a time. Into a ledger holding entries of its own, a
// refusal in a later group still appends nothing (the check pass); into a new ledger, the
// groups before it stay as an unfinished import, which only the same import may open.
TEST_F(ExchangeTest, ImportRefusedInALaterGroupAppendsNothingToALedgerWithEntries) {
  const uint64_t half = size_ / 2;
  const std::vector<StoredEntry> entries = MustParse(Export(*ledger_, false), false);
  std::vector<StoredEntry> later(entries.begin() + static_cast<std::ptrdiff_t>(half),
                                 entries.end());
  ASSERT_GE(later.size(), 4u);
  later.back().signature[0] ^= 1;  // the last group's last entry no longer verifies
  std::unique_ptr<Ledger> target = FreshForImport("later-group");
  ASSERT_NE(target, nullptr);
  ASSERT_TRUE(ImportEntries(target.get(), std::span(entries).first(half), FixedClockMs(), nullptr,
                            /*group_entries=*/2)
                  .ok());
  const Hash head = target->head().head_hash;
  Status s = ImportEntries(target.get(), later, FixedClockMs(), nullptr, /*group_entries=*/2);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(target->size(), half);
  EXPECT_EQ(target->head().head_hash, head);
  EXPECT_EQ(*target->inspection().CountStoredEntries(), half);
}

TEST_F(ExchangeTest, ImportIntoANewLedgerRefusedInALaterGroupStaysUnfinished) {
  std::vector<StoredEntry> entries = MustParse(Export(*ledger_, false), false);
  entries.back().signature[0] ^= 1;
  {
    std::unique_ptr<Ledger> target = FreshForImport("new-later-group");
    ASSERT_NE(target, nullptr);
    Status s = ImportEntries(target.get(), entries, FixedClockMs(), nullptr, /*group_entries=*/2);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_LT(target->size(), entries.size());
  }
  Result<std::unique_ptr<Ledger>> opened =
      Ledger::Open(dir_->Sub("new-later-group"), OpenMode::kWriter);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("did not finish"));
}

// Import commits a verified group in batches closed by bytes (kImportBatchBytesMax), so its
// memory does not grow with the group: with a one-byte limit each commit holds one entry
// (progress is told after each), a refusal keeps the commits before it as an unfinished
// import, and running the same import again resumes it to a copy that audits clean.
TEST_F(ExchangeTest, ImportCommitsAGroupInBatchesClosedByBytesAndResumes) {
  const std::vector<StoredEntry> entries = MustParse(Export(*ledger_, false), false);
  const size_t k = entries.size() / 2;
  ASSERT_GE(k, 3u);
  std::vector<StoredEntry> repeated(entries.begin(),
                                    entries.begin() + static_cast<std::ptrdiff_t>(k) + 1);
  repeated.push_back(entries[k]);  // signed, so it verifies; the chain refuses it (seq)
  std::vector<uint64_t> sizes;
  {
    std::unique_ptr<Ledger> target = FreshForImport("by-bytes");
    ASSERT_NE(target, nullptr);
    Status s = ImportEntries(
        target.get(), repeated, FixedClockMs(), [&sizes](uint64_t n) { sizes.push_back(n); },
        /*group_entries=*/repeated.size(), /*batch_bytes_max=*/1);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_EQ(target->size(), k + 1);  // one group, yet every commit before the refusal stays
  }
  ASSERT_EQ(sizes.size(), k + 1);
  for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(sizes[i], i + 1);
  OpenOptions options;
  options.resume_import = true;
  Result<std::unique_ptr<Ledger>> resumed = Ledger::Open(dir_->Sub("by-bytes"), options);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_TRUE((*resumed)->import_unfinished());
  Status s = ImportEntries(resumed->get(), entries, FixedClockMs(), nullptr,
                           /*group_entries=*/4, /*batch_bytes_max=*/1);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE((*resumed)->import_unfinished());
  EXPECT_EQ(Export(**resumed, false), Export(*ledger_, false));
  const AuditReport report = AuditStored(**resumed);
  EXPECT_TRUE(report.findings.empty()) << DescribeFindings(report);
}

}  // namespace fundledger::ledger

namespace fundledger::ledger {

// A mirror (ledger::Follow) follows its source a group at a time, each verified as import
// verifies it; stopped between groups it holds a verified prefix, marked finished once it holds
// entry 1, and the next call resumes; caught up it audits clean with its source's root.
TEST_F(ExchangeTest, MirrorFollowsInGroupsResumesAndEndsWithItsSourcesRoot) {
  std::unique_ptr<Ledger> mirror = FreshForImport("mirror");
  ASSERT_NE(mirror, nullptr);
  int groups = 0;
  auto first = Follow(
      mirror.get(), *ledger_, FixedClockMs(), [&groups] { return groups++ >= 1; }, nullptr,
      /*group_entries=*/7);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->appended, 7u);
  EXPECT_EQ(first->source_size, size_);
  EXPECT_EQ(mirror->size(), 7u);
  EXPECT_FALSE(mirror->import_unfinished());
  auto rest = Follow(mirror.get(), *ledger_, FixedClockMs(), nullptr, nullptr, 7);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->appended, size_ - 7);
  AuditReport copy = AuditStored(*mirror);
  AuditReport original = AuditStored(*ledger_);
  EXPECT_TRUE(copy.IntegrityOk() && copy.RulesOk()) << DescribeFindings(copy);
  EXPECT_EQ(copy.entries, size_);
  EXPECT_EQ(copy.root, original.root);
  EXPECT_EQ(copy.state_hash, original.state_hash);
  auto again = Follow(mirror.get(), *ledger_, FixedClockMs(), nullptr, nullptr, 7);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->appended, 0u);
}

// A mirror commits a verified group as import does, in batches closed by bytes: with a one-byte
// limit every entry is its own durable commit (progress after each), and the mirror still ends
// with its source's root and state.
TEST_F(ExchangeTest, MirrorCommitsAGroupInBatchesClosedByBytes) {
  std::unique_ptr<Ledger> mirror = FreshForImport("mirror");
  ASSERT_NE(mirror, nullptr);
  std::vector<uint64_t> told;
  auto followed = Follow(
      mirror.get(), *ledger_, FixedClockMs(), nullptr,
      [&told](uint64_t held) { told.push_back(held); }, kImportGroupEntries,
      /*batch_bytes_max=*/1);
  ASSERT_TRUE(followed.ok()) << followed.status().ToString();
  EXPECT_EQ(followed->appended, size_);
  ASSERT_EQ(told.size(), size_);
  for (size_t i = 0; i < told.size(); ++i) EXPECT_EQ(told[i], i + 1);
  EXPECT_FALSE(mirror->import_unfinished());
  AuditReport copy = AuditStored(*mirror);
  EXPECT_TRUE(copy.IntegrityOk() && copy.RulesOk()) << DescribeFindings(copy);
  EXPECT_EQ(copy.root, AuditStored(*ledger_).root);
}

// A source whose history is not the mirror's is refused before anything is appended: one that
// went on differently after the mirror's head (a fork), and one shorter than the mirror.
TEST_F(ExchangeTest, MirrorRefusesAForkAndAShorterSource) {
  const uint64_t k = size_ / 2;
  const std::vector<StoredEntry> entries = MustParse(Export(*ledger_, false), false);
  // The fork: the source's first k entries, then one of its own.
  std::unique_ptr<Ledger> fork = FreshForImport("fork");
  ASSERT_NE(fork, nullptr);
  ASSERT_TRUE(ImportEntries(fork.get(), std::span(entries).first(k), FixedClockMs(), nullptr).ok());
  std::swap(ledger_, fork);
  AddRecipient(900, ev::RecipientKind::kStartup);
  std::swap(ledger_, fork);
  ASSERT_EQ(fork->size(), k + 1);

  std::unique_ptr<Ledger> mirror = FreshForImport("mirror");
  ASSERT_NE(mirror, nullptr);
  ASSERT_TRUE(Follow(mirror.get(), *fork, FixedClockMs(), nullptr, nullptr).ok());
  ASSERT_EQ(mirror->size(), k + 1);
  const Hash head = mirror->head().head_hash;
  auto forked = Follow(mirror.get(), *ledger_, FixedClockMs(), nullptr, nullptr);
  ASSERT_FALSE(forked.ok());
  EXPECT_TRUE(forked.status().IsCorruption()) << forked.status().ToString();
  EXPECT_THAT(forked.status().message(), HasSubstr("fork"));
  EXPECT_EQ(mirror->size(), k + 1);
  EXPECT_EQ(mirror->head().head_hash, head);

  // A mirror of the whole ledger refuses the fork, which is shorter.
  std::unique_ptr<Ledger> whole = FreshForImport("whole");
  ASSERT_NE(whole, nullptr);
  ASSERT_TRUE(Follow(whole.get(), *ledger_, FixedClockMs(), nullptr, nullptr).ok());
  auto shorter = Follow(whole.get(), *fork, FixedClockMs(), nullptr, nullptr);
  ASSERT_FALSE(shorter.ok());
  EXPECT_THAT(shorter.status().message(), HasSubstr("fewer"));
  EXPECT_EQ(whole->size(), size_);
}

// An entry of the source that does not verify stops the mirror at the group holding it; the
// groups before it stay, verified.
TEST_F(ExchangeTest, MirrorStopsAtAnEntryThatDoesNotVerifyAndKeepsTheGroupsBefore) {
  const uint64_t k = size_ / 2;
  const std::string copy = dir_->Sub("tampered");
  ledger_.reset();
  std::filesystem::copy(path_, copy, std::filesystem::copy_options::recursive);
  Reopen();
  testutil::RewriteStoredRecord(copy, internal::kCfEntries, internal::SeqKey(k),
                                [](std::optional<std::string>* value) {
                                  ASSERT_TRUE(value->has_value());
                                  (**value)[(*value)->size() - 1] ^= 1;  // the signature
                                });
  Result<std::unique_ptr<Ledger>> source = Ledger::Open(copy, OpenMode::kReader);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::unique_ptr<Ledger> mirror = FreshForImport("mirror");
  ASSERT_NE(mirror, nullptr);
  auto followed = Follow(mirror.get(), **source, FixedClockMs(), nullptr, nullptr, 4);
  ASSERT_FALSE(followed.ok());
  EXPECT_TRUE(followed.status().IsCorruption()) << followed.status().ToString();
  EXPECT_THAT(followed.status().message(),
              HasSubstr("entry " + std::to_string(k) + ": signature does not verify"));
  EXPECT_EQ(mirror->size(), (k - 1) / 4 * 4);
  AuditReport kept = AuditStored(*mirror);
  EXPECT_TRUE(kept.IntegrityOk()) << DescribeFindings(kept);
}

}  // namespace fundledger::ledger
