// Goal: an export is read one record at a time (ledger::ExportReader), so audit --from-export
// holds one entry, never the file; and a hostile export gets a clear kInvalidArgument naming
// the line or message, never a crash or an unbounded buffer: a truncated JSON line, a Cap'n
// Proto message cut short, a line or message over kExportRecordBytesMax, a blank line before
// the end, a segment table claiming too many segments, a leafHash that does not match.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/exchange.h"
#include "ledger/ledger.h"
#include "tests/testutil/testutil.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
using ::testing::HasSubstr;

// Every stored value the reader gives for `data`, or its first error.
Result<std::vector<Bytes>> ReadAll(const std::string& data, bool capnp) {
  std::istringstream in(data);
  ExportReader reader(&in, capnp);
  std::vector<Bytes> out;
  while (true) {
    LEDGER_ASSIGN_OR_RETURN(std::optional<Bytes> next, reader.NextRaw());
    if (!next) return out;
    out.push_back(std::move(*next));
  }
}

class ExportStreamTest : public testutil::LedgerFixture {
 protected:
  std::string Export(bool capnp) {
    std::string out;
    Status s = WriteExport(*ledger_, 1, ledger_->size(), capnp, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
};

TEST_F(ExportStreamTest, StreamedRecordsAreTheStoredValuesInBothFormats) {
  for (bool capnp : {false, true}) {
    SCOPED_TRACE(capnp ? "capnp" : "jsonl");
    Result<std::vector<Bytes>> values = ReadAll(Export(capnp), capnp);
    ASSERT_TRUE(values.ok()) << values.status().ToString();
    ASSERT_EQ(values->size(), ledger_->size());
    for (uint64_t seq = 1; seq <= ledger_->size(); ++seq) {
      auto raw = ledger_->ReadRaw(seq);
      ASSERT_TRUE(raw.ok());
      EXPECT_EQ((*values)[seq - 1], *raw) << "entry " << seq;
    }
  }
}

TEST_F(ExportStreamTest, TrailingBlankLinesAreIgnoredButABlankLineBeforeTheEndIsNamed) {
  const std::string jsonl = Export(false);
  Result<std::vector<Bytes>> trailing = ReadAll(jsonl + "\n \n\r\n", false);
  ASSERT_TRUE(trailing.ok()) << trailing.status().ToString();
  EXPECT_EQ(trailing->size(), ledger_->size());
  const size_t first_end = jsonl.find('\n');
  std::string gap = jsonl.substr(0, first_end + 1) + "\n" + jsonl.substr(first_end + 1);
  Result<std::vector<Bytes>> refused = ReadAll(gap, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsInvalidArgument()) << refused.status().ToString();
  EXPECT_THAT(refused.status().message(), HasSubstr("line 2 is empty"));
}

TEST_F(ExportStreamTest, TruncatedJsonLineIsNamed) {
  std::string jsonl = Export(false);
  jsonl.resize(jsonl.size() - 40);  // the last line cut in the middle, no newline
  Result<std::vector<Bytes>> refused = ReadAll(jsonl, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsInvalidArgument()) << refused.status().ToString();
  EXPECT_THAT(refused.status().message(), HasSubstr("line " + std::to_string(ledger_->size())));
}

TEST_F(ExportStreamTest, OversizedLineIsRefusedWithoutReadingItWhole) {
  const std::string jsonl = Export(false);
  for (const char* end : {"", "\n"}) {
    std::string hostile = jsonl + std::string(kExportRecordBytesMax + 1, 'x') + end;
    Result<std::vector<Bytes>> refused = ReadAll(hostile, false);
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(refused.status().IsInvalidArgument()) << refused.status().ToString();
    EXPECT_THAT(refused.status().message(),
                HasSubstr("line " + std::to_string(ledger_->size() + 1) + " is longer than"));
  }
}

TEST_F(ExportStreamTest, CapnpMessageCutShortIsNamed) {
  const std::string capnp = Export(true);
  for (size_t cut : {size_t{3}, size_t{8}, size_t{200}}) {
    SCOPED_TRACE("cut " + std::to_string(cut));
    Result<std::vector<Bytes>> refused = ReadAll(capnp.substr(0, capnp.size() - cut), true);
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(refused.status().IsInvalidArgument()) << refused.status().ToString();
    EXPECT_THAT(refused.status().message(),
                HasSubstr("message " + std::to_string(ledger_->size())));
  }
}

TEST_F(ExportStreamTest, CapnpSegmentTableOverTheLimitsIsRefused) {
  const std::string capnp = Export(true);
  auto with_head = [&](uint32_t segments_minus_one, uint32_t first_words) {
    std::string head(8, '\0');
    std::memcpy(head.data(), &segments_minus_one, 4);
    std::memcpy(head.data() + 4, &first_words, 4);
    return capnp + head + std::string(64, '\0');
  };
  Result<std::vector<Bytes>> many = ReadAll(with_head(1'000'000, 1), true);
  ASSERT_FALSE(many.ok());
  EXPECT_THAT(many.status().message(), HasSubstr("segments"));
  Result<std::vector<Bytes>> large = ReadAll(with_head(0, 0xffffffffu), true);
  ASSERT_FALSE(large.ok());
  EXPECT_TRUE(large.status().IsInvalidArgument()) << large.status().ToString();
  EXPECT_THAT(large.status().message(), HasSubstr("larger than"));
}

TEST_F(ExportStreamTest, LeafHashThatDoesNotMatchIsCorruption) {
  std::string jsonl = Export(false);
  const size_t at = jsonl.find("\"leafHash\":\"") + 12;
  jsonl[at] = jsonl[at] == '0' ? '1' : '0';
  Result<std::vector<Bytes>> refused = ReadAll(jsonl, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsCorruption()) << refused.status().ToString();
  EXPECT_THAT(refused.status().message(), HasSubstr("line 1: leafHash"));
}

}  // namespace
}  // namespace fundledger::ledger
