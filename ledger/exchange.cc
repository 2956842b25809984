#include "ledger/exchange.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/chain.h"
#include "ledger/internal/parallel.h"
#include "schemas/ledger.capnp.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using nlohmann::json;

using internal::ParallelFor;

Result<StoredEntry> FromParts(const ev::Bytes& entry_bytes, const ev::Bytes& signature, const std::string& where) {
  if (signature.size() != 64) return Status::InvalidArgument(where + ": signature is not 64 bytes");
  ev::Bytes value = entry_bytes;
  value.insert(value.end(), signature.begin(), signature.end());
  auto stored = SplitStoredValue(value);
  if (!stored.ok()) return Status::InvalidArgument(where + ": " + stored.status().message());
  return stored;
}

Result<StoredEntry> ParseJsonLine(std::string_view line, size_t line_no) {
  const std::string where = "line " + std::to_string(line_no);
  auto parsed = ev::ParseJsonStrict(line);
  if (!parsed.ok()) return parsed.status().WithPrefix(where);
  const json& j = *parsed;
  if (!j.is_object() || !j.contains("entry") || !j["entry"].is_string() || !j.contains("signature") ||
      !j["signature"].is_string()) {
    return Status::InvalidArgument(where + ": needs base64 'entry' and 'signature'");
  }
  auto entry = ev::FromBase64(j["entry"].get<std::string>());
  auto signature = ev::FromBase64(j["signature"].get<std::string>());
  if (!entry || !signature) return Status::InvalidArgument(where + ": entry or signature is not base64");
  LEDGER_ASSIGN_OR_RETURN(StoredEntry stored, FromParts(*entry, *signature, where));
  if (j.contains("leafHash") && j["leafHash"] != ev::Hex(stored.leaf_hash)) {
    return Status::Corruption(where + ": leafHash does not match the entry and signature");
  }
  return stored;
}

Result<std::vector<StoredEntry>> ParseJsonLines(std::string_view data) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string_view::npos) end = data.size();
    lines.push_back(data.substr(start, end - start));
    start = end + 1;
    if (lines.size() > kExportEntriesMax) return Status::InvalidArgument("export has too many lines");
  }
  while (!lines.empty() && lines.back().find_first_not_of(" \r\t") == std::string_view::npos) lines.pop_back();
  std::vector<std::optional<StoredEntry>> slots(lines.size());
  LEDGER_RETURN_IF_ERROR(ParallelFor(lines.size(), [&](size_t i) -> Status {
    LEDGER_ASSIGN_OR_RETURN(StoredEntry stored, ParseJsonLine(lines[i], i + 1));
    slots[i] = std::move(stored);
    return Status::Ok();
  }));
  std::vector<StoredEntry> out;
  out.reserve(slots.size());
  for (auto& slot : slots) out.push_back(std::move(*slot));
  return out;
}

Result<std::vector<StoredEntry>> ParseCapnpStream(std::string_view data) {
  std::vector<StoredEntry> out;
  if (data.size() % sizeof(capnp::word) != 0) return Status::InvalidArgument("capnp export is not whole words");
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(data.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), data.data(), data.size());
  kj::ArrayPtr<const capnp::word> rest = words.asPtr();
  Status status;
  kj::Maybe<kj::Exception> exception = kj::runCatchingExceptions([&] {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = ev::kEntryBytesMax;
    options.nestingLimit = ev::kNestingLimit;
    while (rest.size() > 0 && status.ok()) {
      if (out.size() >= kExportEntriesMax) {
        status = Status::InvalidArgument("export has too many messages");
        return;
      }
      capnp::FlatArrayMessageReader reader(rest, options);
      auto signed_entry = reader.getRoot<schema::SignedEntry>();
      auto entry = signed_entry.getEntry();
      auto signature = signed_entry.getSignature();
      auto stored = FromParts(ev::Bytes(entry.begin(), entry.end()), ev::Bytes(signature.begin(), signature.end()),
                              "message " + std::to_string(out.size() + 1));
      if (!stored.ok()) {
        status = stored.status();
        return;
      }
      out.push_back(std::move(*stored));
      rest = kj::arrayPtr(reader.getEnd(), rest.end());
    }
  });
  KJ_IF_MAYBE(e, exception) {
    return Status::InvalidArgument("capnp export message " + std::to_string(out.size() + 1) + ": " + e->getDescription().cStr());
  }
  LEDGER_RETURN_IF_ERROR(status);
  return out;
}

// The stored value (entry bytes, then the signature) of one export line.
Result<Bytes> JsonLineValue(std::string_view line, uint64_t line_no) {
  const std::string where = "line " + std::to_string(line_no);
  auto parsed = ev::ParseJsonStrict(line);
  if (!parsed.ok()) return parsed.status().WithPrefix(where);
  const json& j = *parsed;
  if (!j.is_object() || !j.contains("entry") || !j["entry"].is_string() ||
      !j.contains("signature") || !j["signature"].is_string()) {
    return Status::InvalidArgument(where + ": needs base64 'entry' and 'signature'");
  }
  auto entry = ev::FromBase64(j["entry"].get<std::string>());
  auto signature = ev::FromBase64(j["signature"].get<std::string>());
  if (!entry || !signature)
    return Status::InvalidArgument(where + ": entry or signature is not base64");
  if (signature->size() != 64)
    return Status::InvalidArgument(where + ": signature is not 64 bytes");
  if (entry->empty()) return Status::InvalidArgument(where + ": entry is empty");
  Bytes value = std::move(*entry);
  value.insert(value.end(), signature->begin(), signature->end());
  if (j.contains("leafHash")) {
    ev::Signature sig{};
    std::memcpy(sig.data(), signature->data(), sig.size());
    const Bytes entry_bytes(value.begin(), value.end() - 64);
    if (j["leafHash"] != ev::Hex(ev::EntryLeafHash(entry_bytes, sig))) {
      return Status::Corruption(where + ": leafHash does not match the entry and signature");
    }
  }
  return value;
}

}  // namespace

std::string ExportJsonLine(const StoredEntry& s) {
  const ev::Entry& e = s.entry;
  json j = {{"seq", e.seq},
            {"kind", ev::KindName(e.body)},
            {"signer", ev::Hex(e.signer)},
            {"recordedAt", e.recorded_at_ms},
            {"recordedAtIso", ev::FormatInstant(e.recorded_at_ms)},
            {"ledgerId", ev::Hex(e.ledger_id)},
            {"prevHash", ev::Hex(e.prev_hash)},
            {"idempotencyKey", e.idempotency_key},
            {"entry", ev::Base64(s.entry_bytes)},
            {"signature", ev::Base64(s.signature)},
            {"leafHash", ev::Hex(s.leaf_hash)},
            {"body", ev::BodyToJson(e.body)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::vector<StoredEntry>> ParseExport(std::string_view data, bool capnp) {
  return capnp ? ParseCapnpStream(data) : ParseJsonLines(data);
}

Status WriteExport(const Ledger& ledger, uint64_t from, uint64_t to, bool capnp, std::string* out) {
  LEDGER_CHECK(out != nullptr);
  return WriteExport(ledger, from, to, capnp, [out](std::string_view piece) {
    out->append(piece);
    return Status::Ok();
  });
}

Status WriteExport(const Ledger& ledger, uint64_t from, uint64_t to, bool capnp,
                   const std::function<Status(std::string_view)>& sink) {
  if (from == 0 || to > ledger.size() || from > to) {
    return Status::InvalidArgument("seq range " + std::to_string(from) + ".." + std::to_string(to) + " is outside 1.." +
                                   std::to_string(ledger.size()));
  }
  for (uint64_t seq = from; seq <= to; ++seq) {
    LEDGER_ASSIGN_OR_RETURN(StoredEntry stored, ledger.Read(seq));
    if (!capnp) {
      LEDGER_RETURN_IF_ERROR(sink(ExportJsonLine(stored) + "\n"));
      continue;
    }
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::SignedEntry>();
    root.setEntry(capnp::Data::Reader(stored.entry_bytes.data(), stored.entry_bytes.size()));
    root.setSignature(capnp::Data::Reader(stored.signature.data(), stored.signature.size()));
    kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
    auto bytes = words.asBytes();
    LEDGER_RETURN_IF_ERROR(
        sink(std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size())));
  }
  return Status::Ok();
}

Status CheckNextEntry(const pj::LedgerState& state, const StoredEntry& sealed, bool signature_checked) {
  const SignatureVerdict checked{true};
  LEDGER_RETURN_IF_ERROR(
      LinkStatus(CheckLink(state, sealed, signature_checked ? &checked : nullptr)));
  return pj::Validate(state, sealed.entry).WithPrefix("entry " + std::to_string(sealed.entry.seq));
}

namespace {

using KeyDirectory = std::map<ev::KeyId, ev::PublicKey>;

// The keys `view` holds, by id.
KeyDirectory KeysOf(const pj::StateView& view) {
  KeyDirectory keys;
  for (const pj::KeyInfo* info : view.AllKeys())
    keys[ev::KeyIdOf(info->public_key)] = info->public_key;
  return keys;
}

// Adds the keys `group` registers to `keys` (the keys registered before the group), then
// verifies every signature of `group` on every core, each with the key its signer id names.
// Keys are named by the hash of their bytes, so gathering them up front is unambiguous; whether
// the signer was registered and unrevoked *at that entry* is the chain check's and the rules'
// job.
Status VerifyGroup(std::span<const StoredEntry> group, KeyDirectory* keys) {
  for (const StoredEntry& s : group) {
    if (const auto* k = std::get_if<ev::KeyRegistered>(&s.entry.body)) {
      (*keys)[ev::KeyIdOf(k->public_key)] = k->public_key;
    }
    if (const auto* c = std::get_if<ev::LedgerCreated>(&s.entry.body)) {
      (*keys)[ev::KeyIdOf(c->authority_public_key)] = c->authority_public_key;
    }
  }
  return ParallelFor(group.size(), [&](size_t i) -> Status {
    const StoredEntry& s = group[i];
    auto it = keys->find(s.entry.signer);
    if (it == keys->end()) {
      return Status::Corruption("entry " + std::to_string(s.entry.seq) +
                                ": signer is not a key of this ledger");
    }
    if (!ev::Ed25519Verify(it->second, s.entry_bytes, s.signature)) {
      return Status::Corruption("entry " + std::to_string(s.entry.seq) +
                                ": signature does not verify");
    }
    return Status::Ok();
  });
}

// Groups read and signature-checked one ahead of the caller: while the caller commits a group
// (rules, fold and writes, on one core), the next one is read, decoded and verified on the
// others. The keys a group is verified with are `keys` (those the target held before the first
// group) plus every key an earlier group registered: what the target holds once the caller has
// committed those groups. An error (reading, decoding, a signature) is handed over in the
// group's turn, after the groups before it, as a loop that reads and verifies each group just
// before committing it would meet it. Not thread-safe: one caller.
class VerifiedGroups {
 public:
  // Makes the next group on the prefetching thread: fills its argument, empty at the end.
  using Job = std::function<Status(std::vector<StoredEntry>*)>;
  // Runs on the caller's thread, at construction and in Next: reads whatever must be read there
  // (a ledger served by --server answers one thread) and returns the job that makes the group.
  using Fetch = std::function<Result<Job>()>;

  VerifiedGroups(KeyDirectory keys, Fetch fetch)
      : keys_(std::move(keys)), fetch_(std::move(fetch)) {
    Prefetch();
  }
  // The prefetching thread holds `this`: neither copied nor moved.
  VerifiedGroups(const VerifiedGroups&) = delete;
  VerifiedGroups& operator=(const VerifiedGroups&) = delete;
  // Waits for the group being made, if any (std::future's destructor joins).
  ~VerifiedGroups() = default;

  // The next group, empty after the last; after an error, nothing more is read.
  Status Next(std::vector<StoredEntry>* group) {
    group->clear();
    if (!pending_.valid()) return Status::Ok();
    LEDGER_RETURN_IF_ERROR(pending_.get());
    group->swap(ahead_);
    if (!group->empty()) Prefetch();
    return Status::Ok();
  }

 private:
  void Prefetch() {
    Result<Job> job = fetch_();
    if (!job.ok()) {
      std::promise<Status> failed;
      failed.set_value(job.status());
      pending_ = failed.get_future();
      return;
    }
    pending_ = std::async(std::launch::async, [this, make = std::move(*job)] {
      LEDGER_RETURN_IF_ERROR(make(&ahead_));
      return VerifyGroup(ahead_, &keys_);
    });
  }

  KeyDirectory keys_;  // the prefetching thread's
  Fetch fetch_;
  std::vector<StoredEntry> ahead_;  // written by the prefetch, read once pending_ is done
  std::future<Status> pending_;     // last: joined first
};

// VerifiedGroups over an import's source, read on the prefetching thread.
VerifiedGroups SourceGroups(const pj::StateView& target, ImportSource* source,
                            size_t group_entries) {
  return VerifiedGroups(KeysOf(target), [source, group_entries]() -> Result<VerifiedGroups::Job> {
    return VerifiedGroups::Job([source, group_entries](std::vector<StoredEntry>* group) {
      return (*source)(group_entries, group);
    });
  });
}

}  // namespace

ImportSource ExportSource(ExportReader* reader) {
  return [reader](size_t max, std::vector<StoredEntry>* out) -> Status {
    out->clear();
    std::vector<std::pair<uint64_t, Bytes>> raw;  // (record number, stored value)
    while (raw.size() < max) {
      LEDGER_ASSIGN_OR_RETURN(std::optional<Bytes> next, reader->NextRaw());
      if (!next) break;
      raw.emplace_back(reader->count(), std::move(*next));
    }
    out->resize(raw.size());
    return ParallelFor(raw.size(), [&](size_t i) -> Status {
      auto split = SplitStoredValue(raw[i].second);
      if (!split.ok()) {
        return Status::InvalidArgument("record " + std::to_string(raw[i].first) + ": " +
                                       split.status().message());
      }
      (*out)[i] = std::move(*split);
      return Status::Ok();
    });
  };
}

// Commits a verified group in synced batches closed at `batch_bytes_max` bytes (at least one
// entry each: Ledger::AppendSignedPrefix), so a group's WriteBatch never holds more than about
// that much; `committed` is told each batch's entry count once it is durable, and an error it
// returns stops the commits there.
Status CommitVerified(Ledger* ledger, std::span<const StoredEntry> group, int64_t now_ms,
                      size_t batch_bytes_max, const std::function<Status(size_t)>& committed) {
  for (size_t done = 0; done < group.size();) {
    LEDGER_ASSIGN_OR_RETURN(
        size_t n, ledger->AppendSignedPrefix(group.subspan(done), now_ms,
                                             /*signatures_verified=*/true, batch_bytes_max));
    LEDGER_CHECK(n > 0 && n <= group.size() - done) << n;
    done += n;
    LEDGER_RETURN_IF_ERROR(committed(n));
  }
  return Status::Ok();
}

Status ImportStream(Ledger* ledger, const std::function<ImportSource()>& open, int64_t now_ms,
                    const std::function<void(uint64_t)>& progress, size_t group_entries,
                    size_t batch_bytes_max) {
  LEDGER_CHECK(ledger != nullptr);
  LEDGER_CHECK(group_entries > 0 && group_entries <= kBatchEntriesMax) << group_entries;
  LEDGER_CHECK(batch_bytes_max > 0);
  ImportSource source = open();
  std::vector<StoredEntry> group;
  uint64_t skipped = 0;  // entries an unfinished import already appended
  if (ledger->import_unfinished()) {
    // A resumed import: the entries already appended must be this export's first ones, byte
    // for byte (their leaf hashes are stored as the Merkle tree's leaves).
    const uint64_t done = ledger->size();
    while (skipped < done) {
      LEDGER_RETURN_IF_ERROR(source(std::min<uint64_t>(group_entries, done - skipped), &group));
      if (group.empty()) {
        return Status::Corruption("the unfinished import holds " + std::to_string(done) +
                                  " entries; this export has " + std::to_string(skipped));
      }
      for (const StoredEntry& s : group) {
        LEDGER_ASSIGN_OR_RETURN(Hash leaf, ledger->tree().Node(0, skipped));
        ++skipped;
        if (leaf != s.leaf_hash) {
          return Status::Corruption(
              "entry " + std::to_string(skipped) +
              " differs from the one the unfinished import appended (another export?)");
        }
      }
    }
    if (progress && skipped > 0) progress(skipped);
  }
  // Into a ledger that already holds entries of its own, nothing may be appended unless every
  // entry passes: a check pass on a draft of the state first, then the export is read again and
  // committed. A new ledger (or a resumed one) is checked once, as it is committed: a refusal
  // leaves an import that its directory's removal (or the same import, resumed) undoes.
  if (!ledger->import_unfinished() && ledger->size() > 0) {
    pj::LedgerState dry = ledger->Draft();
    uint64_t checked = 0;
    VerifiedGroups groups = SourceGroups(dry, &source, group_entries);
    for (;;) {
      LEDGER_RETURN_IF_ERROR(groups.Next(&group));
      if (group.empty()) break;
      for (const StoredEntry& s : group) {
        Status future = pj::CheckNotInFuture(s.entry.recorded_at_ms, now_ms);
        if (!future.ok()) return future.WithPrefix("entry " + std::to_string(s.entry.seq));
        Status verdict = CheckNextEntry(dry, s, /*signature_checked=*/true);
        if (!dry.ReadStatus().ok()) return dry.ReadStatus();  // unsound on an unread row
        LEDGER_RETURN_IF_ERROR(verdict);
        pj::Apply(&dry, pj::EntryContext{&s.entry, s.leaf_hash});
        LEDGER_RETURN_IF_ERROR(dry.ReadStatus());
        dry.dirty.clear();
      }
      checked += group.size();
    }
    if (checked == 0) return Status::InvalidArgument("nothing to import");
    source = open();  // groups has read to the end: its thread no longer uses the source
  }
  uint64_t appended = 0;
  VerifiedGroups groups = SourceGroups(ledger->view(), &source, group_entries);
  for (;;) {
    LEDGER_RETURN_IF_ERROR(groups.Next(&group));
    if (group.empty()) break;
    LEDGER_RETURN_IF_ERROR(CommitVerified(ledger, group, now_ms, batch_bytes_max, [&](size_t n) {
      appended += n;
      if (progress) progress(skipped + appended);
      return Status::Ok();
    }));
  }
  if (appended == 0 && skipped == 0) return Status::InvalidArgument("nothing to import");
  if (ledger->import_unfinished()) return ledger->FinishImport();
  return Status::Ok();
}

Result<FollowResult> Follow(Ledger* mirror, const Ledger& source, int64_t now_ms,
                            const std::function<bool()>& stop,
                            const std::function<void(uint64_t)>& progress, size_t group_entries,
                            size_t batch_bytes_max) {
  LEDGER_CHECK(mirror != nullptr);
  LEDGER_CHECK(batch_bytes_max > 0);
  LEDGER_CHECK(group_entries > 0 && group_entries <= kBatchEntriesMax) << group_entries;
  FollowResult result;
  result.source_size = source.size();
  const uint64_t held = mirror->size();
  // The source's history must contain the mirror's: its entry at the mirror's head is the
  // mirror's head, byte for byte (the leaf hash covers the entry and its signature); every
  // earlier one is then fixed by the chain of previous hashes.
  if (held > 0) {
    if (result.source_size < held) {
      return Status::Corruption("fork: the source holds " + std::to_string(result.source_size) +
                                " entries, fewer than the " + std::to_string(held) +
                                " this mirror has verified");
    }
    LEDGER_ASSIGN_OR_RETURN(Bytes raw, source.ReadRaw(held));
    LEDGER_ASSIGN_OR_RETURN(StoredEntry at_head, SplitStoredValue(raw));
    if (at_head.leaf_hash != mirror->head().head_hash) {
      return Status::Corruption("fork: the source's entry " + std::to_string(held) +
                                " is not the one this mirror holds");
    }
  }
  // The source is read on this thread (a served ledger answers one thread); its entries are
  // decoded and verified on the prefetching one.
  uint64_t next = held + 1;
  VerifiedGroups groups(KeysOf(mirror->view()), [&]() -> Result<VerifiedGroups::Job> {
    auto raw = std::make_shared<std::vector<Result<Bytes>>>();
    const uint64_t first = next;
    if (first <= result.source_size) {
      const size_t count =
          static_cast<size_t>(std::min<uint64_t>(group_entries, result.source_size - first + 1));
      source.ReadRawRange(first, count, raw.get());
      if (raw->size() != count) {
        return Status::Corruption("the source returned " + std::to_string(raw->size()) +
                                  " entries from " + std::to_string(first) + ", not " +
                                  std::to_string(count));
      }
      next += count;
    }
    return VerifiedGroups::Job([raw, first](std::vector<StoredEntry>* group) {
      group->assign(raw->size(), StoredEntry{});
      return ParallelFor(raw->size(), [&](size_t i) -> Status {
        const std::string where = "the source's entry " + std::to_string(first + i);
        if (!(*raw)[i].ok()) return (*raw)[i].status().WithPrefix(where);
        auto split = SplitStoredValue(*(*raw)[i]);
        if (!split.ok()) return split.status().WithPrefix(where);
        (*group)[i] = std::move(*split);
        return Status::Ok();
      });
    });
  });
  std::vector<StoredEntry> group;
  for (;;) {
    if (stop && stop()) break;
    LEDGER_RETURN_IF_ERROR(groups.Next(&group));
    if (group.empty()) break;
    LEDGER_RETURN_IF_ERROR(CommitVerified(mirror, group, now_ms, batch_bytes_max, [&](size_t n) {
      result.appended += n;
      if (progress) progress(mirror->size());
      // A new mirror is marked finished once it holds entry 1, as import marks it at its end.
      return mirror->import_unfinished() ? mirror->FinishImport() : Status::Ok();
    }));
  }
  return result;
}

Status ImportEntries(Ledger* ledger, std::span<const StoredEntry> entries, int64_t now_ms,
                     const std::function<void(uint64_t)>& progress, size_t group_entries,
                     size_t batch_bytes_max) {
  auto open = [entries]() -> ImportSource {
    auto next = std::make_shared<size_t>(0);
    return [entries, next](size_t max, std::vector<StoredEntry>* out) -> Status {
      size_t n = std::min(max, entries.size() - *next);
      out->assign(entries.begin() + static_cast<std::ptrdiff_t>(*next),
                  entries.begin() + static_cast<std::ptrdiff_t>(*next + n));
      *next += n;
      return Status::Ok();
    };
  };
  return ImportStream(ledger, open, now_ms, progress, group_entries, batch_bytes_max);
}

}  // namespace fundledger::ledger

namespace fundledger::ledger {

ExportReader::ExportReader(std::istream* in, bool capnp) : in_(in), capnp_(capnp) {
  LEDGER_CHECK(in_ != nullptr);
}

Result<std::optional<Bytes>> ExportReader::NextRaw() {
  if (count_ >= kExportEntriesMax) {
    return Status::InvalidArgument("export has more than " + std::to_string(kExportEntriesMax) +
                                   " entries");
  }
  auto next = capnp_ ? NextCapnp() : NextJson();
  if (next.ok() && next->has_value()) ++count_;
  return next;
}

Result<size_t> ExportReader::ReadUpTo(char* out, size_t n) {
  size_t got = 0;
  while (got < n && !eof_) {
    in_->read(out + got, static_cast<std::streamsize>(n - got));
    got += static_cast<size_t>(in_->gcount());
    if (in_->bad()) return Status::IOError("cannot read the export");
    if (in_->eof()) eof_ = true;
    if (in_->fail() && !in_->eof()) return Status::IOError("cannot read the export");
  }
  return got;
}

Result<std::optional<Bytes>> ExportReader::NextJson() {
  constexpr size_t kChunkBytes = 64 << 10;
  uint64_t first_blank = 0;  // a blank line is allowed only among the last ones
  while (true) {
    const size_t newline = buffer_.find('\n', pos_);
    const size_t length = (newline == std::string::npos ? buffer_.size() : newline) - pos_;
    if (length > kExportRecordBytesMax) {
      return Status::InvalidArgument("line " + std::to_string(line_ + 1) + " is longer than " +
                                     std::to_string(kExportRecordBytesMax) + " bytes");
    }
    if (newline == std::string::npos && !eof_) {
      buffer_.erase(0, pos_);
      pos_ = 0;
      const size_t had = buffer_.size();
      buffer_.resize(had + kChunkBytes);
      LEDGER_ASSIGN_OR_RETURN(size_t got, ReadUpTo(buffer_.data() + had, kChunkBytes));
      buffer_.resize(had + got);
      continue;
    }
    if (newline == std::string::npos && length == 0) return std::optional<Bytes>();  // the end
    const std::string_view line(buffer_.data() + pos_, length);
    pos_ += length + (newline == std::string::npos ? 0 : 1);
    ++line_;
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) {
      if (first_blank == 0) first_blank = line_;
      continue;
    }
    if (first_blank != 0) {
      return Status::InvalidArgument("line " + std::to_string(first_blank) + " is empty");
    }
    LEDGER_ASSIGN_OR_RETURN(Bytes value, JsonLineValue(line, line_));
    return std::optional<Bytes>(std::move(value));
  }
}

Result<std::optional<Bytes>> ExportReader::NextCapnp() {
  const std::string where = "capnp export message " + std::to_string(count_ + 1);
  uint32_t head[2] = {0, 0};  // segment count - 1, first segment's size in words
  LEDGER_ASSIGN_OR_RETURN(size_t got, ReadUpTo(reinterpret_cast<char*>(head), sizeof head));
  if (got == 0) return std::optional<Bytes>();  // the end
  if (got != sizeof head) return Status::InvalidArgument(where + " is cut short");
  const uint64_t segments = uint64_t{head[0]} + 1;
  if (segments > kExportSegmentsMax) {
    return Status::InvalidArgument(where + " has " + std::to_string(segments) + " segments");
  }
  // The segment table: a u32 count, a u32 size per segment, padded to whole words.
  const size_t table_words = static_cast<size_t>((1 + segments + 1) / 2);
  std::vector<uint32_t> table(table_words * 2, 0);
  table[0] = head[0];
  table[1] = head[1];
  const size_t rest_table = table.size() * 4 - sizeof head;
  LEDGER_ASSIGN_OR_RETURN(got, ReadUpTo(reinterpret_cast<char*>(table.data() + 2), rest_table));
  if (got != rest_table) return Status::InvalidArgument(where + " is cut short");
  uint64_t body_words = 0;
  for (uint64_t i = 0; i < segments; ++i) body_words += table[1 + i];
  const uint64_t total_bytes = (table_words + body_words) * sizeof(capnp::word);
  if (total_bytes > kExportRecordBytesMax) {
    return Status::InvalidArgument(where + " is larger than " +
                                   std::to_string(kExportRecordBytesMax) + " bytes");
  }
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(table_words + body_words);
  std::memcpy(words.asBytes().begin(), table.data(), table_words * sizeof(capnp::word));
  const size_t body_bytes = static_cast<size_t>(body_words * sizeof(capnp::word));
  LEDGER_ASSIGN_OR_RETURN(got, ReadUpTo(reinterpret_cast<char*>(words.asBytes().begin()) +
                                            table_words * sizeof(capnp::word),
                                        body_bytes));
  if (got != body_bytes) return Status::InvalidArgument(where + " is cut short");
  Result<Bytes> value = Status::InvalidArgument(where + ": not a SignedEntry");
  kj::Maybe<kj::Exception> exception = kj::runCatchingExceptions([&] {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = ev::kEntryBytesMax;
    options.nestingLimit = ev::kNestingLimit;
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    auto signed_entry = reader.getRoot<schema::SignedEntry>();
    auto entry = signed_entry.getEntry();
    auto signature = signed_entry.getSignature();
    if (signature.size() != 64) {
      value = Status::InvalidArgument(where + ": signature is not 64 bytes");
    } else if (entry.size() == 0) {
      value = Status::InvalidArgument(where + ": entry is empty");
    } else {
      Bytes bytes(entry.begin(), entry.end());
      bytes.insert(bytes.end(), signature.begin(), signature.end());
      value = std::move(bytes);
    }
  });
  KJ_IF_MAYBE (e, exception) {
    return Status::InvalidArgument(where + ": " + e->getDescription().cStr());
  }
  LEDGER_ASSIGN_OR_RETURN(Bytes bytes, std::move(value));
  return std::optional<Bytes>(std::move(bytes));
}

}  // namespace fundledger::ledger
