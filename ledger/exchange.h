// Export and import of signed entries (DESIGN.md §7): JSON lines (one object per entry, the
// same object `log --json` prints) and a Cap'n Proto stream of SignedEntry messages.
#pragma once

#include <functional>
#include <istream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.h"
#include "ledger/ledger.h"

namespace fundledger::ledger {

// Import reads, decodes and verifies signatures in groups of this many entries.
inline constexpr size_t kImportGroupEntries = 10'000;
// Import commits a group's entries in synced WriteBatches closed once they hold this many
// bytes (then the projection rows they changed are added). Every changed row goes in twice
// (projection and history version): a 10,000-entry group made a batch of about 30 MiB, grown
// by doubling to 56, that the memtables then took whole; 40% of the peak memory of importing
// 10^5 entries. At 1 MiB a commit holds a few hundred entries, so its sync stays a small share.
inline constexpr size_t kImportBatchBytesMax = size_t{1} << 20;
// Allocations of at least this many bytes are mapped on their own and unmapped when freed
// (glibc's M_MMAP_THRESHOLD, set where import and mirror open their ledger; setting it keeps
// glibc from raising it). Import allocates and frees memtable blocks and batches of megabytes
// on several threads; under the default, raised threshold the freed ones stayed in the heap,
// 19 MiB more peak memory importing 10^5 entries.
inline constexpr size_t kImportMmapThresholdBytes = size_t{1} << 20;
// Entries in one export file, at most.
inline constexpr size_t kExportEntriesMax = 50'000'000;

// Longest line of a JSON-lines export, and largest message of a Cap'n Proto export, in bytes:
// an entry at events::kEntryBytesMax in base64 with its body as JSON stays well below it.
inline constexpr size_t kExportRecordBytesMax = size_t{8} << 20;
// Segments of one Cap'n Proto export message, at most (a SignedEntry as written has one).
inline constexpr uint32_t kExportSegmentsMax = 64;

// An export read one entry at a time from a stream, never held whole: JSON lines (each with
// `entry` and `signature` in base64; a `leafHash`, if present, must match) or Cap'n Proto
// SignedEntry messages. Memory: one record and a read buffer, whatever the export's size.
// Not thread safe; `in` is not owned and must outlive the reader.
class ExportReader {
 public:
  ExportReader(std::istream* in, bool capnp);
  // The next entry as stored (canonical entry bytes, then the 64-byte signature), not yet
  // decoded; nullopt at the end (trailing blank lines are ignored). kInvalidArgument naming
  // the line or message: malformed JSON or base64, a blank line before the end, a record over
  // kExportRecordBytesMax, a message cut short, more than kExportEntriesMax entries;
  // kCorruption for a leafHash that does not match; kIOError if the stream fails.
  Result<std::optional<Bytes>> NextRaw();
  // Entries returned so far.
  uint64_t count() const { return count_; }

 private:
  Result<std::optional<Bytes>> NextJson();
  Result<std::optional<Bytes>> NextCapnp();
  // Reads up to `n` bytes into `out`; returns how many (fewer only at the end).
  Result<size_t> ReadUpTo(char* out, size_t n);
  std::istream* in_;
  bool capnp_;
  std::string buffer_;  // JSON lines read but not yet returned, from pos_
  size_t pos_ = 0;
  bool eof_ = false;
  uint64_t line_ = 0, count_ = 0;
};

// The JSON line of one entry: seq, kind, signer, recordedAt, recordedAtIso, ledgerId, prevHash,
// idempotencyKey, entry (base64), signature (base64), leafHash (hex), body.
std::string ExportJsonLine(const StoredEntry& stored);

// Parses an export: JSON lines (each with at least `entry` and `signature`; a `leafHash`, if
// present, must match) or, if `capnp`, a stream of SignedEntry messages. Decodes in parallel.
// kInvalidArgument naming the line or message on malformed input.
Result<std::vector<StoredEntry>> ParseExport(std::string_view data, bool capnp);

// Writes entries [from, to] of `ledger` to `out` (JSON lines or Cap'n Proto stream).
Status WriteExport(const Ledger& ledger, uint64_t from, uint64_t to, bool capnp, std::string* out);
// The same, each entry's bytes handed to `sink` as soon as it is read, so an export of any
// size holds one entry at a time. The first error (a read, or the sink's) stops it.
Status WriteExport(const Ledger& ledger, uint64_t from, uint64_t to, bool capnp,
                   const std::function<Status(std::string_view)>& sink);

// Entries of an import in order, a group at a time: fills `out` (cleared first) with up to
// `max` entries, none at the end. Errors name the record (kInvalidArgument) as ExportReader.
using ImportSource = std::function<Status(size_t max, std::vector<StoredEntry>* out)>;
// The entries `reader` reads, decoded on every core.
ImportSource ExportSource(ExportReader* reader);

// Appends the entries `open()` reads to `ledger`, a group of `group_entries` (at most
// kBatchEntriesMax) at a time, holding two groups in memory whatever the export's size: the
// next group is read and its signatures checked on every core while the current one is
// committed (`open()`'s source is called from a thread of its own, one call at a time). An
// error of the next group is returned after the current one is committed, as if it were read
// only then. Each entry is checked (chain, ledger id, time,
// signer rights, every rule) once, as it is committed in a synced WriteBatch closed once it
// holds `batch_bytes_max` bytes or the group ends (Ledger::AppendSignedPrefix). An entry
// dated later than `now_ms` (the importer's clock) plus projections::kClockSkewMsMax is
// kRejected ("time.future"): the copy would refuse every write at the real time. `progress`
// gets the number of this export's entries the ledger holds after each commit.
// All or nothing: into a new ledger (empty, from CreateForImport) a refusal leaves an
// unfinished import that its creator removes; into a ledger that already holds entries the
// whole export is first checked on a draft of the state (read through `open()` a first time)
// and nothing is appended unless every entry passes. Into a ledger marked as an unfinished
// import (a crash), the entries it already holds must be this export's first ones
// (kCorruption otherwise); the rest is appended and the mark cleared, so a killed import is
// resumed by running it again.
Status ImportStream(Ledger* ledger, const std::function<ImportSource()>& open, int64_t now_ms,
                    const std::function<void(uint64_t)>& progress,
                    size_t group_entries = kImportGroupEntries,
                    size_t batch_bytes_max = kImportBatchBytesMax);
// ImportStream over entries held in memory.
Status ImportEntries(Ledger* ledger, std::span<const StoredEntry> entries, int64_t now_ms,
                     const std::function<void(uint64_t)>& progress,
                     size_t group_entries = kImportGroupEntries,
                     size_t batch_bytes_max = kImportBatchBytesMax);

// What one Follow call did.
struct FollowResult {
  uint64_t appended = 0;     // entries appended to the mirror
  uint64_t source_size = 0;  // entries the source held
};

// A mirror's catch-up: appends to `mirror` the entries `source` holds beyond the mirror's head,
// a group of `group_entries` (at most kBatchEntriesMax) at a time, each verified exactly as
// import verifies it (signatures on every core, then the chain, the signer's rights and every
// rule, once) and committed as import commits it, in synced batches of at most about
// `batch_bytes_max` bytes; so a mirror stopped at any point holds a verified prefix of the
// source and the next call resumes from it. As import, the next group is read (on a thread of
// its own) and verified while the current one is committed. `stop`, if set, is asked between
// groups.
// `progress` gets the mirror's size after each commit.
// A source whose history does not contain the mirror's is refused before anything is
// appended (kCorruption, "fork"): it holds fewer entries than the mirror, or another entry at
// the mirror's head. An entry that fails its checks is refused as import refuses it; the
// batches committed before it stay. A new mirror (CreateForImport) is marked finished once it holds
// entry 1.
Result<FollowResult> Follow(Ledger* mirror, const Ledger& source, int64_t now_ms,
                            const std::function<bool()>& stop,
                            const std::function<void(uint64_t)>& progress,
                            size_t group_entries = kImportGroupEntries,
                            size_t batch_bytes_max = kImportBatchBytesMax);

// Checks that `sealed` may follow the head of `state`: ledger::CheckLink (seq, ledger id, prev
// hash, time order, signer registered with a key matching its id, the signature, the leaf
// hash), then projections::Validate. `signature_checked`: the caller verified the signature
// with the key whose id is the signer's (CheckLink's SignatureVerdict). kCorruption for
// integrity, rule errors as Validate.
Status CheckNextEntry(const projections::LedgerState& state, const StoredEntry& sealed, bool signature_checked);

}  // namespace fundledger::ledger
