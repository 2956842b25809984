// Builders of the finance bureau's six reports (issue 9) from one tree size of a ledger, the CSV
// and JSON writers, the parameter line every output carries, and the hledger journal.
// Figures come from the projections (or, below the head, from the row history) and from the
// entries named by each application's `seqs`: never a replay, never the clock, so the same
// ledger and options give the same reports, byte for byte.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "events/status.h"
#include "ledger/ledger.h"
#include "tools/report/report.h"

namespace fundledger::report {

// The six report kinds, in the order `--all` writes them.
inline const std::vector<std::string>& ReportKinds();

// Limits on what a report request may name (each is checked; larger input is kInvalidArgument).
inline constexpr size_t kParamsBytesMax = 16 * 1024;  // the params line, with a checkpoint note
inline constexpr size_t kFilterBytesMax = 64;         // --measure, --unit, --district values
inline constexpr int kYearMin = 2000;
inline constexpr int kYearMax = 2100;
// Rows of the annual report's top-recipients table.
inline constexpr size_t kTopRecipients = 10;
// Execution rate (basis points) under which a year-end row is flagged for a written reason.
inline constexpr int64_t kFlagRateBp = 9000;

// What to build. Everything here is recorded in the params line of every output.
struct Options {
  std::vector<std::string> kinds;       // one kind, or all six in ReportKinds() order
  int year = 0;                         // fiscal year = calendar year
  std::string period;                   // "2025", "2025-Q3" or "2025-06"; empty: the whole year
  uint64_t tree_size = 0;               // entries the report is made from; 0: resolve to the head
  std::string measure, unit, district;  // filters; empty: all
  bool public_only = false;             // awards: drop internal columns (application, seq)
  Lang lang = Lang::kZh;
  std::string format;           // "xlsx", "pdf", "csv", "json"
  std::string checkpoint_note;  // the verified signed note the size came from, or empty
};

// The params line: "fundledger-report v1 kinds=… year=… period=… size=… lang=… format=…
// public=0|1 [measure=…] [unit=…] [district=…] [note=<base64 checkpoint note>]". ASCII, one
// line, fields in this order, so equal options give equal text.
std::string EncodeParams(const Options& options);
// Parses EncodeParams' output strictly (unknown or repeated fields, bad values: kInvalidArgument
// naming the field). The note is decoded back to its text.
Result<Options> ParseParams(const std::string& text);

// Checks option values a user typed: kinds known, year in range, period of that year, filters
// short slugs, format known. kInvalidArgument naming the option (e.g. "--period").
Status CheckOptions(const Options& options);

// The last seq recorded at or before the end of `date_or_seq` (a seq, or an ISO date meaning
// the end of that Shanghai day) in `ledger`; kInvalidArgument for malformed text ("--as-of"),
// kNotFound if no entry is that early.
Result<uint64_t> ResolveAsOf(const ledger::Ledger& ledger, const std::string& date_or_seq);

// Verifies a checkpoint note against `ledger`: signed by `notary` if given, else by any notary
// key registered in the ledger; origin is the ledger's; size within the ledger; root equal to
// the ledger's root at that size. Returns the size. kCorruption naming the failure.
Result<uint64_t> VerifyCheckpoint(const ledger::Ledger& ledger, const std::string& note,
                                  const events::PublicKey* notary);

// Builds options.kinds from `ledger` at options.tree_size (REQUIRES: 1 <= tree_size <= size,
// set by the caller; further limited to the end of the period). kCorruption if stored rows or
// entries do not read back; kInvalidArgument for bad options.
Result<std::vector<Report>> BuildReports(const ledger::Ledger& ledger, const Options& options);

// The tree size the reports are made from: `size` limited to the last entry recorded by the end
// of the period (a report of 2025-Q1 shows the figures at 31 March).
Result<uint64_t> EffectiveSize(const ledger::Ledger& ledger, const Options& options, uint64_t size);

// One CSV file: UTF-8 with BOM; line 1 "fundledger-params,<params> part=<part>", then the
// header block, each table (title, column heads, rows as shown), the signature footer.
std::string RenderCsv(const Report& report, Lang lang);
// The tidy long form of `reports`: BOM, params line (part=tidy), then
// "report,table,row,keys,column,value" with one line per numeric cell (fen, bp, count, seq).
std::string RenderTidyCsv(const std::vector<Report>& reports, Lang lang);
// One JSON document of `report`: "params", "provenance", titles, tables with rows as objects
// keyed by column key (money: integer fen in keys ending "Fen"), chart and integrity lines.
std::string RenderJson(const Report& report);

// The params line stored in a CSV or JSON file made above, with its part; kInvalidArgument if
// `bytes` is neither.
Result<std::string> ReadTextParams(const std::string& bytes);

// The money events of entries 1..`to` as an hledger journal: one transaction per allocation,
// award, revocation, payout and reversal, seq as a tag, amounts in CNY with two decimals.
// Accounts: appropriation:<source>, budget:<measure>:<year>:<source>,
// commitment:<measure>:<year>, recipient:<uscc>. kCorruption if an entry does not read back.
Result<std::string> HledgerJournal(const ledger::Ledger& ledger, uint64_t to);

inline const std::vector<std::string>& ReportKinds() {
  static const std::vector<std::string> kinds = {"execution",   "awards",    "payments",
                                                 "performance", "cofunding", "annual"};
  return kinds;
}

}  // namespace fundledger::report
