#include "ledger/audit.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/chain.h"
#include "ledger/checkpoint.h"
#include "ledger/inspection.h"
#include "ledger/internal/index_names.h"
#include "ledger/internal/parallel.h"
#include "ledger/internal/scratch_rows.h"
#include "ledger/internal/storage_format.h"

namespace fundledger::ledger {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;

Finding Integrity(uint64_t seq, std::string kind, std::string code, std::string message) {
  return Finding{seq, std::move(kind), std::move(code), std::move(message), true};
}

// The replay's Merkle tree, held as its frontier: the last completed node of each level. Those
// are the left siblings the next leaf completes parents with and the nodes the root is folded
// from, so at most 64 hashes are held whatever the size. Each node is handed to `on_node` as it
// is completed (audit compares it with the stored one), and the roots at sizes asked for ahead
// (the checkpoints to check) are kept as the tree passes them. An incremental audit resumes
// from the frontier of the stored tree at the attested size, whose root the attestation signed.
// Not thread safe.
class ReplayTree : public MerkleNodeSource {
 public:
  using OnNode = std::function<void(const MerkleNode&)>;
  ReplayTree() = default;
  void set_on_node(OnNode on_node) { on_node_ = std::move(on_node); }
  // Roots to keep as the tree reaches these sizes; those within a resumed base are read from it.
  void KeepRootsAt(std::set<uint64_t> sizes) { wanted_ = std::move(sizes); }
  // Starts at `base_size` leaves, reading the frontier from `base`. Errors from `base`.
  Status Resume(const MerkleNodeSource* base, uint64_t base_size) {
    LEDGER_CHECK(size_ == 0);
    for (uint32_t level = 0; level < kMerkleLevelsMax; ++level) {
      if (((base_size >> level) & 1) == 0) continue;
      const uint64_t index = (base_size >> level) - 1;
      LEDGER_ASSIGN_OR_RETURN(Hash hash, base->Node(level, index));
      frontier_[level] = Last{index, hash};
    }
    base_ = base;
    base_size_ = base_size;
    size_ = base_size;
    return Status::Ok();
  }
  // The frontier's nodes only: all NodesCompletedBy and the root at size() ever read.
  Result<Hash> Node(uint32_t level, uint64_t index) const override {
    if (level < kMerkleLevelsMax && frontier_[level] && frontier_[level]->index == index) {
      return frontier_[level]->hash;
    }
    return Status::NotFound("merkle node " + std::to_string(level) + "/" + std::to_string(index) +
                            " is not on the replay's frontier");
  }
  // Appends one leaf hash and keeps the nodes it completes on the frontier.
  void Append(const Hash& leaf_hash) {
    Result<std::vector<MerkleNode>> nodes = NodesCompletedBy(*this, size_, leaf_hash);
    // Every left sibling of a completed parent is the last completed node of its level.
    LEDGER_CHECK(nodes.ok()) << nodes.status().ToString();
    for (const MerkleNode& node : *nodes) {
      frontier_[node.level] = Last{node.index, node.hash};
      ++completed_;
      if (on_node_) on_node_(node);
    }
    ++size_;
    if (wanted_.count(size_) != 0) roots_[size_] = Root();
  }
  Hash Root() const {
    Result<Hash> root = ledger::RootAt(*this, size_);
    LEDGER_CHECK(root.ok()) << root.status().ToString();
    return *root;
  }
  // The root at `size`: the current size, a size asked for ahead and passed, or one within the
  // base. kNotFound otherwise (a size past the replay's end); errors from the base.
  Result<Hash> RootAt(uint64_t size) const {
    if (size == size_) return Root();
    if (size == 0) return EmptyRoot();
    if (auto kept = roots_.find(size); kept != roots_.end()) return kept->second;
    if (base_ != nullptr && size <= base_size_) return ledger::RootAt(*base_, size);
    return Status::NotFound("the replay kept no root at size " + std::to_string(size));
  }
  uint64_t size() const { return size_; }
  uint64_t base_size() const { return base_size_; }
  // Nodes completed by the leaves appended since the start (or the base).
  uint64_t completed() const { return completed_; }

 private:
  struct Last {
    uint64_t index = 0;
    Hash hash{};
  };
  std::array<std::optional<Last>, kMerkleLevelsMax> frontier_;
  const MerkleNodeSource* base_ = nullptr;
  uint64_t base_size_ = 0;
  uint64_t size_ = 0;
  uint64_t completed_ = 0;
  OnNode on_node_;
  std::set<uint64_t> wanted_;
  std::map<uint64_t, Hash> roots_;
};

// Checks entry `seq` against the state and tree of entries 1..seq-1. An integrity finding
// stops the replay; rule findings are appended and replay goes on.
class Replayer {
 public:
  Replayer(const AuditOptions& options, AuditReport* report)
      : options_(options),
        report_(report),
        may_spill_(!options.chain_only && !options.since_attestation) {}

  // False once an integrity failure was found. `verdict`: the signature checked ahead of the
  // replay (nullptr: CheckLink verifies it here).
  bool Step(uint64_t seq, const Result<StoredEntry>& split, const SignatureVerdict* verdict) {
    if (!split.ok()) {
      const Status& why = split.status();
      const char* code = why.IsNotFound()  ? "integrity.missing"
                         : why.IsIOError() ? "integrity.read"
                                           : "integrity.decode";
      return Fail(Integrity(seq, "", code, "entry " + std::to_string(seq) + ": " + why.message()));
    }
    const StoredEntry& s = *split;
    const ev::Entry& e = s.entry;
    const std::string kind = ev::KindName(e.body);
    if (auto failure = CheckLink(report_->state, s, verdict)) {
      return Fail(Integrity(seq, kind, std::move(failure->code), std::move(failure->message)));
    }
    if (options_.check_rules) {
      Status valid = pj::Validate(report_->state, e);
      if (!valid.ok() && report_->findings.size() < options_.findings_max) {
        std::string code = valid.IsRejected() ? valid.rule() : "input.invalid";
        report_->findings.push_back(Finding{seq, kind, code, "entry " + std::to_string(seq) + ": " + valid.message(), false});
      }
      CheckTime(seq, kind, e);
      if (const auto* attested = std::get_if<ev::AuditAttested>(&e.body)) CheckAttestation(seq, *attested);
      if (!status_.ok()) return false;
    }
    if (options_.stored != nullptr) CheckIndex(seq, kind, e);
    if (options_.chain_only) {
      pj::ApplyChain(&report_->state, pj::EntryContext{&e, s.leaf_hash});
    } else {
      pj::Apply(&report_->state, pj::EntryContext{&e, s.leaf_hash});
    }
    if (options_.stored != nullptr) CheckHistory(seq, kind);
    if (scratch_ != nullptr) {
      unspilled_.insert(report_->state.dirty.begin(), report_->state.dirty.end());
    }
    report_->state.dirty.clear();
    tree_.Append(s.leaf_hash);
    report_->entries = seq;
    return !may_spill_ || HoldRows();
  }

  // Why the replay could not go on (the scratch store failed), else Ok. Step returns false then.
  const Status& status() const { return status_; }
  // After the last entry: every row the replay computed, in key order, if it moved them to its
  // scratch store (nullptr: they are all in report->state). kIOError from the store.
  Result<std::unique_ptr<Inspection::Cursor>> FinalRows() {
    if (scratch_ == nullptr) return std::unique_ptr<Inspection::Cursor>();
    LEDGER_RETURN_IF_ERROR(Spill());
    return scratch_->Rows();
  }
  // The scratch store's rows once more, as FinalRows last left them. REQUIRES: FinalRows gave
  // a cursor.
  std::unique_ptr<Inspection::Cursor> RowsAgain() const {
    LEDGER_CHECK(scratch_ != nullptr);
    return scratch_->Rows();
  }

  const ReplayTree& tree() const { return tree_; }
  ReplayTree* mutable_tree() { return &tree_; }
  uint64_t expected_index_keys() const { return index_keys_; }
  uint64_t expected_history_versions() const { return history_versions_; }
  // Rows the entries replayed by an incremental audit changed.
  const std::set<std::string>& touched_rows() const { return touched_rows_; }
  // The attestation an incremental audit starts from (0: none).
  void set_base_attestation(uint64_t seq) { base_attestation_ = seq; }

  // Derived records (index, row history, Merkle nodes) are checked against what the replay
  // derives; a difference is an integrity finding but does not stop the replay.
  void Derived(uint64_t seq, const std::string& kind, const char* code, const std::string& why) {
    if (derived_findings_++ < kDerivedFindingsMax) report_->findings.push_back(Integrity(seq, kind, code, why));
  }

 private:
  bool Fail(Finding finding) {
    report_->findings.push_back(std::move(finding));
    return false;
  }

  // An entry dated after the audit runs (beyond the clock skew a writer is allowed).
  void CheckTime(uint64_t seq, const std::string& kind, const ev::Entry& e) {
    if (!options_.now_ms || report_->findings.size() >= options_.findings_max) return;
    Status future = pj::CheckNotInFuture(e.recorded_at_ms, *options_.now_ms);
    if (future.ok()) return;
    report_->findings.push_back(Finding{
        seq, kind, future.rule(), "entry " + std::to_string(seq) + ": " + future.message(), false});
  }

  void CheckAttestation(uint64_t seq, const ev::AuditAttested& a) {
    auto finding = [&](const std::string& why) {
      report_->findings.push_back(Finding{seq, "AuditAttested", "audit.attestation", "entry " + std::to_string(seq) + ": " + why, false});
    };
    if (a.tree_size != seq - 1) return finding("attests tree size " + std::to_string(a.tree_size) + ", not the entries before it");
    auto root = tree_.RootAt(a.tree_size);
    if (!root.ok() || *root != a.root_hash) finding("root hash is not the root of the first " + std::to_string(a.tree_size) + " entries");
    // The attestation an incremental audit starts from: its state hash is checked against the
    // stored rows once the replay is done (VerifyAttestedBase), not on the rows read so far.
    if (seq == base_attestation_) return;
    Result<Hash> state_hash = StateHashNow();
    if (!state_hash.ok()) {
      status_ = state_hash.status();
      return;
    }
    if (*state_hash != a.state_hash) finding("state hash is not that of the projections at " + std::to_string(a.tree_size));
  }

  // StateHash of the replay's state so far, all of whose rows may not be in memory.
  Result<Hash> StateHashNow() {
    if (scratch_ == nullptr) return pj::StateHash(report_->state);
    LEDGER_RETURN_IF_ERROR(Spill());
    ev::Rfc9162RootBuilder root;
    std::unique_ptr<Inspection::Cursor> rows = scratch_->Rows();
    for (; rows->Valid(); rows->Next()) root.Add(pj::StateLeaf(rows->key(), rows->value()));
    LEDGER_RETURN_IF_ERROR(rows->status());
    return root.Root();
  }

  // Keeps the rows held in memory within rows_held_max: past it, all go to the scratch store
  // (the fold reads back those it needs). False, with status(), if the store fails.
  bool HoldRows() {
    const uint64_t held = report_->state.CachedRows();
    report_->rows_held_peak = std::max<uint64_t>(report_->rows_held_peak, held);
    if (held <= options_.rows_held_max) return true;
    status_ = Spill();
    return status_.ok();
  }

  // Writes the rows changed since the last spill (at the first, every row) to the scratch store
  // and drops them from memory. REQUIRES: no entry is being folded (state.dirty empty).
  Status Spill() {
    LEDGER_CHECK(may_spill_);
    if (scratch_ == nullptr) {
      LEDGER_ASSIGN_OR_RETURN(scratch_, internal::ScratchRows::Create());
      const std::vector<std::string> all = pj::AllRowKeys(report_->state);
      unspilled_.insert(all.begin(), all.end());
    }
    LEDGER_RETURN_IF_ERROR(scratch_->Write(report_->state, unspilled_));
    unspilled_.clear();
    report_->state.ForgetCached();
    report_->state.source = scratch_.get();
    ++report_->spills;
    return Status::Ok();
  }

  // Every index the entry belongs in lists it (entries hidden from history/log are caught).
  // Checked in CheckDerived, with the other entries of its window.
  void CheckIndex(uint64_t seq, const std::string& kind, const ev::Entry& e) {
    for (std::string& index : internal::IndexNames(report_->state, e)) {
      ++index_keys_;
      index_at_.push_back(Inspection::NameAt{std::move(index), seq});
    }
    NoteKind(seq, kind);
  }

  // Every row the entry changed has its version at this seq, as the replay computes it (so
  // as-of answers cannot be forged). Checked in CheckDerived.
  void CheckHistory(uint64_t seq, const std::string& kind) {
    if (options_.since_attestation)
      touched_rows_.insert(report_->state.dirty.begin(), report_->state.dirty.end());
    for (const std::string& row : report_->state.dirty) {
      ++history_versions_;
      history_at_.push_back(Inspection::NameAt{row, seq});
      history_expected_.push_back(pj::EncodeRow(report_->state, row).value_or(""));
    }
    NoteKind(seq, kind);
  }

 public:
  // The index and history checks of the entries stepped since the last call, read in one
  // sweep of each family rather than a seek per record. Their findings are appended in seq
  // order, after the rule findings of the same entries (Audit orders the report by seq).
  void CheckDerived() {
    if (options_.stored == nullptr) return;
    std::vector<bool> listed;
    std::vector<std::optional<std::string>> versions;
    const Status index_read = options_.stored->inspection().IndexListed(index_at_, &listed);
    const Status history_read =
        options_.stored->inspection().HistoryVersions(history_at_, &versions);
    // In seq order, an entry's index checks before its history's, as each entry was stepped.
    size_t i = 0, h = 0;
    while (i < index_at_.size() || h < history_at_.size()) {
      const bool index_next = h == history_at_.size() ||
                              (i < index_at_.size() && index_at_[i].seq <= history_at_[h].seq);
      if (index_next) {
        const Inspection::NameAt& at = index_at_[i];
        if (!index_read.ok() || !listed[i])
          Derived(at.seq, KindOf(at.seq), "integrity.index",
                  "index " + at.name + " does not list entry " + std::to_string(at.seq));
        ++i;
      } else {
        const Inspection::NameAt& at = history_at_[h];
        if (!history_read.ok() || !versions[h] || *versions[h] != history_expected_[h])
          Derived(at.seq, KindOf(at.seq), "integrity.history",
                  "row history of " + at.name + " at entry " + std::to_string(at.seq) +
                      " differs from the replay");
        ++h;
      }
    }
    index_at_.clear();
    history_at_.clear();
    history_expected_.clear();
    kinds_.clear();
  }

 private:
  // The kind of each entry with checks waiting for CheckDerived, named in its findings.
  void NoteKind(uint64_t seq, const std::string& kind) {
    if (kinds_.empty() || kinds_.back().first != seq) kinds_.emplace_back(seq, kind);
  }
  const std::string& KindOf(uint64_t seq) const {
    auto it = std::lower_bound(kinds_.begin(), kinds_.end(), seq,
                               [](const auto& known, uint64_t s) { return known.first < s; });
    LEDGER_CHECK(it != kinds_.end() && it->first == seq);
    return it->second;
  }

  static constexpr uint64_t kDerivedFindingsMax = 100;
  const AuditOptions& options_;
  AuditReport* report_;
  ReplayTree tree_;
  uint64_t index_keys_ = 0, history_versions_ = 0, derived_findings_ = 0;
  uint64_t base_attestation_ = 0;
  std::set<std::string> touched_rows_;
  // A full audit's rows once they passed rows_held_max, and those changed since they were last
  // written there.
  const bool may_spill_;
  std::unique_ptr<internal::ScratchRows> scratch_;
  std::set<std::string> unspilled_;
  // Checks waiting for CheckDerived: index and history records to look up (in seq order), the
  // history versions the replay computed, and the kinds of their entries.
  std::vector<Inspection::NameAt> index_at_, history_at_;
  std::vector<std::string> history_expected_;
  std::vector<std::pair<uint64_t, std::string>> kinds_;
  Status status_ = Status::Ok();
};

// Every stored Merkle node equals the replay's: proofs read these nodes, not just the root.
// Nodes are compared as the replay completes them. A full audit reads each level's stored
// records through a cursor of its own: a level's nodes complete in index order, which is its
// records' key order, so a node missing, altered or not of the tree is named as the two
// sequences are merged, in one pass over the stored tree and with no tree held. An incremental
// audit reads only the nodes its new entries complete, one at a time. Findings wait for
// Finish: they are reported only for a replay whose chain is intact.
class MerkleComparer {
 public:
  MerkleComparer(const Ledger& stored, bool incremental)
      : stored_(stored), incremental_(incremental) {}

  void Completed(const MerkleNode& node) {
    if (incremental_) {
      auto got = stored_.tree().Node(node.level, node.index);
      if (!got.ok() || *got != node.hash)
        Finding(Name(node.level, node.index) + " does not match the entries");
      return;
    }
    std::unique_ptr<Inspection::Cursor>& cursor = levels_[node.level];
    if (!cursor) cursor = stored_.inspection().MerkleFrom(LevelStart(node.level));
    const std::string want = internal::MerkleKey(node.level, node.index);
    for (; cursor->Valid() && InLevel(cursor->key(), node.level) && cursor->key() < want;
         cursor->Next()) {
      Stray(cursor->key());
    }
    if (!cursor->Valid() || cursor->key() != want) {
      Finding(Name(node.level, node.index) + " is missing");
      return;
    }
    if (cursor->value() !=
        std::string_view(reinterpret_cast<const char*>(node.hash.data()), node.hash.size())) {
      Finding(Name(node.level, node.index) + " does not match the entries");
    }
    cursor->Next();
  }

  // After a replay whose chain is intact: a full audit names the stored records no completed
  // node accounted for (the rest of each level, and every level above the tree's top).
  void Finish(uint64_t tree_size, AuditReport* report) {
    if (!incremental_) {
      size_t level = 0;
      for (; level < levels_.size() && levels_[level]; ++level)
        Drain(levels_[level].get(), static_cast<uint32_t>(level));
      if (level < kMerkleLevelsMax) {
        std::unique_ptr<Inspection::Cursor> above =
            stored_.inspection().MerkleFrom(LevelStart(static_cast<uint32_t>(level)));
        Drain(above.get(), std::nullopt);
      }
    }
    for (const std::string& name : strays_)
      Finding(name + " is not a node of the tree of " + std::to_string(tree_size) + " entries");
    if (!read_error_.ok())
      report->findings.push_back(Integrity(0, "", "integrity.read", read_error_.message()));
    for (std::string& why : findings_)
      report->findings.push_back(Integrity(0, "", "integrity.merkle", std::move(why)));
  }

 private:
  static constexpr size_t kFindingsMax = 100;
  static std::string Name(uint32_t level, uint64_t index) {
    return "stored Merkle node " + std::to_string(level) + "/" + std::to_string(index);
  }
  // Level 0's cursor starts before every key, so that a malformed key sorting first is seen.
  static std::string LevelStart(uint32_t level) {
    return level == 0 ? std::string() : std::string(1, static_cast<char>(level));
  }
  static bool InLevel(std::string_view key, uint32_t level) {
    return key.empty() ? level == 0 : static_cast<uint8_t>(key[0]) == level;
  }
  void Finding(std::string why) {
    if (findings_.size() < kFindingsMax) findings_.push_back(std::move(why));
  }
  // A stored record that is no node of the tree: named once the tree's size is known.
  void Stray(std::string_view key) {
    if (key.size() != internal::kMerkleKeyBytes) {
      Finding("stored Merkle record " +
              ev::Hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key.data()),
                                               key.size())) +
              " is not a node");
    } else if (strays_.size() < kFindingsMax) {
      strays_.push_back(Name(static_cast<uint8_t>(key[0]), internal::SeqFromKey(key.data() + 1)));
    }
  }
  // The cursor's remaining records of `level` (every remaining record: nullopt) are strays.
  void Drain(Inspection::Cursor* cursor, std::optional<uint32_t> level) {
    for (; cursor->Valid() && (!level || InLevel(cursor->key(), *level)); cursor->Next())
      Stray(cursor->key());
    if (Status s = cursor->status(); !s.ok() && read_error_.ok()) read_error_ = s;
  }

  const Ledger& stored_;
  const bool incremental_;
  std::array<std::unique_ptr<Inspection::Cursor>, kMerkleLevelsMax> levels_;
  std::vector<std::string> findings_, strays_;
  Status read_error_ = Status::Ok();
};

// The stored projection rows against the replay's, merged in key order as they are read: a
// row missing, differing or not produced by the replay is named, and no row is held twice.
// `replayed`: the replay's rows when they are not all in report->state (nullptr: they are).
void CompareRows(const Ledger& stored, Inspection::Cursor* replayed, AuditReport* report) {
  auto name = [report](std::string_view key, RowDifference difference) {
    const char* how = difference == RowDifference::kMissing   ? " is missing"
                      : difference == RowDifference::kDiffers ? " differs from the replay"
                                                              : " is not produced by the replay";
    report->findings.push_back(Integrity(0, "", "integrity.projection",
                                         "projection row " + std::string(key) + how));
  };
  Status merged = replayed != nullptr ? MergeRows(stored.inspection(), replayed, name)
                                      : MergeRows(stored.inspection(), report->state, name);
  if (!merged.ok())
    report->findings.push_back(Integrity(0, "", "integrity.projection", merged.message()));
}

// A full audit's comparisons: the entry count, every projection row and Merkle node, records
// nothing accounts for and the derived records' counts, each a read of the whole store.
void CompareStored(const Ledger& stored, const Replayer& replayer, MerkleComparer* merkle,
                   Inspection::Cursor* replayed, AuditReport* report) {
  const ReplayTree& tree = replayer.tree();
  auto count = stored.inspection().CountStoredEntries();
  if (count.ok() && *count != report->entries) {
    report->findings.push_back(Integrity(0, "", "integrity.count", "the ledger stores " + std::to_string(*count) +
                                                                     " entries but its head is entry " + std::to_string(report->entries)));
  }
  CompareRows(stored, replayed, report);
  merkle->Finish(tree.size(), report);
  auto unaccounted = stored.inspection().UnaccountedRecords();
  if (!unaccounted.ok()) {
    report->findings.push_back(Integrity(0, "", "integrity.read", unaccounted.status().message()));
  } else {
    for (auto& [code, message] : *unaccounted)
      report->findings.push_back(Integrity(0, "", code, message));
  }
  // Records beyond those the replay derives (an index entry or a row version slipped in).
  auto counts = stored.inspection().CountDerived();
  if (!counts.ok()) {
    report->findings.push_back(Integrity(0, "", "integrity.read", counts.status().message()));
    return;
  }
  const uint64_t expected[3] = {replayer.expected_index_keys(),
                                replayer.expected_history_versions(), tree.completed()};
  const char* names[3] = {"index", "history", "merkle"};
  for (size_t i = 0; i < 3; ++i) {
    if ((*counts)[i] != expected[i]) {
      report->findings.push_back(Integrity(0, "", std::string("integrity.") + names[i],
                                           "the ledger stores " + std::to_string((*counts)[i]) + " " + names[i] +
                                               " records; the entries give " + std::to_string(expected[i])));
    }
  }
}

// Entries read, decoded and signature-checked ahead of the in-order replay, in windows.
struct Window {
  uint64_t first = 0;
  std::vector<Result<StoredEntry>> entries;
  // The signature checked with the key whose id is the signer's; nullopt when no entry before
  // it registered that id (CheckLink then names the unregistered signer).
  std::vector<std::optional<SignatureVerdict>> verdicts;
};

// Entries per window, and windows prepared ahead of the replay at most: memory stays
// kReplayWindowEntries * (kReplayWindowsAhead + 2) entries whatever the ledger's size.
constexpr size_t kReplayWindowEntries = 1024;
constexpr size_t kReplayWindowsAhead = 2;

// Reads, decodes and verifies windows on a thread of its own (its loops on every core) while
// the caller folds the previous ones: decode, signatures and the replay overlap.
class WindowReader {
 public:
  // `known`: keys registered before `first` (an incremental audit's resumed state), by id.
  WindowReader(const EntrySource& source, uint64_t first, uint64_t last,
               std::map<ev::KeyId, ev::PublicKey> known)
      : source_(source), next_(first), last_(last), directory_(std::move(known)), thread_([this] {
          Run();
        }) {}
  ~WindowReader() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  // The next window in order; nullopt after the last.
  std::optional<Window> Next() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return !ready_.empty() || done_; });
    if (ready_.empty()) return std::nullopt;
    Window w = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return w;
  }

 private:
  void Run() {
    while (next_ <= last_) {
      Window w = Prepare(
          next_, static_cast<size_t>(std::min<uint64_t>(kReplayWindowEntries, last_ - next_ + 1)));
      next_ += w.entries.size();
      std::unique_lock lock(mu_);
      changed_.wait(lock, [this] { return ready_.size() < kReplayWindowsAhead || stop_; });
      if (stop_) break;
      ready_.push_back(std::move(w));
      changed_.notify_all();
    }
    std::lock_guard lock(mu_);
    done_ = true;
    changed_.notify_all();
  }

  Window Prepare(uint64_t first, size_t count) {
    Window w;
    w.first = first;
    std::vector<Result<Bytes>> raw;
    source_.ReadRange(first, count, &raw);
    LEDGER_CHECK(raw.size() == count) << raw.size() << " of " << count;
    std::vector<std::optional<Result<StoredEntry>>> split(count);
    internal::ParallelFor(count, [&](size_t i) {
      if (!raw[i].ok()) {
        const Status& why = raw[i].status();
        split[i] = why.IsNotFound() ? why : Status::IOError(why.message());
      } else {
        split[i] = SplitStoredValue(*raw[i]);
      }
      return Status::Ok();
    }).IgnoreError();  // why: the loop body records its outcome per entry and never fails
    // Keys are known by the hash of their bytes, so the key an id names can be taken from any
    // registration before the entry, in file order, without the replayed state.
    std::vector<const ev::PublicKey*> keys(count, nullptr);
    for (size_t i = 0; i < count; ++i) {
      w.entries.push_back(std::move(*split[i]));
      if (!w.entries[i].ok()) continue;
      const ev::Entry& e = w.entries[i]->entry;
      const ev::PublicKey* named = nullptr;
      if (const auto* c = std::get_if<ev::LedgerCreated>(&e.body)) named = &c->authority_public_key;
      if (const auto* k = std::get_if<ev::KeyRegistered>(&e.body)) named = &k->public_key;
      if (named != nullptr) directory_.emplace(ev::KeyIdOf(*named), *named);
      auto it = directory_.find(e.signer);
      if (it != directory_.end()) keys[i] = &it->second;
    }
    w.verdicts.resize(count);
    internal::ParallelFor(count, [&](size_t i) {
      if (keys[i] == nullptr) return Status::Ok();
      const StoredEntry& s = *w.entries[i];
      w.verdicts[i] = SignatureVerdict{ev::Ed25519Verify(*keys[i], s.entry_bytes, s.signature)};
      return Status::Ok();
    }).IgnoreError();  // why: as above, verdicts are per entry
    return w;
  }

  const EntrySource& source_;
  uint64_t next_;
  const uint64_t last_;
  std::map<ev::KeyId, ev::PublicKey> directory_;  // Run's thread only
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Window> ready_;  // GUARDED_BY(mu_)
  bool stop_ = false;         // GUARDED_BY(mu_)
  bool done_ = false;         // GUARDED_BY(mu_)
  std::thread thread_;        // last: starts once the members above exist
};

}  // namespace

EntrySource::~EntrySource() = default;

void EntrySource::ReadRange(uint64_t first, size_t count, std::vector<Result<Bytes>>* out) const {
  out->clear();
  for (uint64_t seq = first; seq < first + count; ++seq) out->push_back(Raw(seq));
}

Result<Bytes> MemoryEntrySource::Raw(uint64_t seq) const {
  if (seq == 0 || seq > values_.size()) return Status::NotFound("entry " + std::to_string(seq) + " is not in the export");
  return values_[seq - 1];
}

bool AuditReport::IntegrityOk() const {
  for (const Finding& f : findings) {
    if (f.integrity) return false;
  }
  return true;
}

bool AuditReport::RulesOk() const {
  for (const Finding& f : findings) {
    if (!f.integrity) return false;
  }
  return true;
}

std::string AuditReport::FindingsText() const {
  std::string out = "entries " + std::to_string(entries) + "\nroot " + ev::Hex(root) + "\nstate " + ev::Hex(state_hash) + "\n";
  for (const Finding& f : findings) out += std::to_string(f.seq) + " " + f.code + " " + f.message + "\n";
  return out;
}

std::vector<Finding> CheckCheckpoint(const std::string& note, const pj::LedgerState& state,
                                     const RootLookup& root_at, uint64_t tree_size) {
  std::vector<Finding> out;
  auto finding = [&out](const std::string& why) {
    out.push_back(Integrity(0, "", "integrity.checkpoint", "checkpoint: " + why));
  };
  const std::string origin = "fundledger/" + ev::Hex(state.info.ledger_id);
  std::vector<NoteVerifier> verifiers;
  for (const auto& [key, info] : state.keys) {
    if (info.role != ev::Role::kNotary) continue;
    auto v = ParseVerifierKey(VerifierKey(origin, info.public_key));
    if (v.ok()) verifiers.push_back(*v);
  }
  auto opened = OpenNote(note, verifiers);
  if (!opened.ok()) {
    finding("not signed by a notary key registered in this ledger (" + opened.status().message() + ")");
    return out;
  }
  auto checkpoint = ParseCheckpointText(opened->text);
  if (!checkpoint.ok()) {
    finding(checkpoint.status().message());
    return out;
  }
  if (checkpoint->origin != origin) {
    finding("origin " + checkpoint->origin + " is another ledger's");
    return out;
  }
  if (checkpoint->size > tree_size) {
    finding("covers " + std::to_string(checkpoint->size) + " entries but the ledger holds " + std::to_string(tree_size) +
            " (entries were removed after it was published)");
    return out;
  }
  auto root = root_at(checkpoint->size);
  if (!root.ok() || *root != checkpoint->root) {
    finding("root at size " + std::to_string(checkpoint->size) + " does not match the entries");
  }
  return out;
}

namespace {

// The refusal of an incremental audit whose stored base is not the attested state.
std::string NotAttestedState() {
  return ": the stored projections are not the state it attests with the later entries "
         "applied; run a full audit";
}

// Whether `row_key` is of the rows a state holds whole (the head, keys, policies).
bool IsResident(std::string_view row_key) {
  if (row_key == "head") return true;
  for (const char* prefix : pj::kResidentRowPrefixes) {
    if (row_key.starts_with(prefix)) return true;
  }
  return false;
}

using RowValues = std::map<std::string, std::optional<std::string>, std::less<>>;

// The rows as they stood after the entry before the attestation, read from the row history
// one at a time as the replay asks for them. Every answer is kept: VerifyAttestedBase then
// checks them, with every other stored row, against the state hash the attestation signed.
class AttestedRows : public pj::RowSource {
 public:
  AttestedRows(const Inspection* store, uint64_t seq) : store_(store), seq_(seq) {}
  Result<std::optional<std::string>> ReadRow(const std::string& row_key) const override {
    auto known = read_.find(row_key);
    if (known != read_.end()) return known->second;
    LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> value, store_->RowAsOf(row_key, seq_));
    read_.emplace(row_key, value);
    return value;
  }
  const RowValues& read() const { return read_; }

 private:
  const Inspection* store_;
  uint64_t seq_;
  mutable RowValues read_;
};

// What an incremental audit starts from.
struct AttestedBase {
  uint64_t seq = 0;    // the attestation's
  Hash state_hash{};   // the state hash it signed
  RowValues resident;  // the head, keys and policies before it, whole
};

// Starts an incremental audit at the last AuditAttested entry: the Merkle tree of the entries
// before it is the stored one and must give the attested root; the rows before it are read
// from the row history as the replay asks for them (`rows`), the head, keys and policies at
// once, and are checked against the attested state hash after the replay
// (VerifyAttestedBase). The attestation entry and every later one are then replayed in full.
// kNotFound without an attestation; kCorruption when the stored prefix is not the attested one.
Result<AttestedBase> ResumeFromAttestation(const Ledger& ledger, AuditReport* report,
                                           ReplayTree* tree, const AttestedRows** rows_out,
                                           std::optional<AttestedRows>* rows) {
  LEDGER_ASSIGN_OR_RETURN(std::vector<uint64_t> listed,
                          ledger.IndexSeqs(std::string("kind/") + "AuditAttested"));
  uint64_t seq = 0;
  for (uint64_t s : listed) {
    if (s <= ledger.size()) seq = std::max(seq, s);
  }
  if (seq == 0)
    return Status::NotFound("the ledger holds no AuditAttested entry; run a full audit");
  const std::string where = "entry " + std::to_string(seq);
  LEDGER_ASSIGN_OR_RETURN(Bytes raw, ledger.ReadRaw(seq));
  auto split = SplitStoredValue(raw);
  const auto* attested = split.ok() ? std::get_if<ev::AuditAttested>(&split->entry.body) : nullptr;
  if (attested == nullptr || split->entry.seq != seq || attested->tree_size != seq - 1) {
    return Status::Corruption(where +
                              ": the index lists it as an attestation of the entries "
                              "before it, but it is not one; run a full audit");
  }
  std::vector<std::string> resident = {"head"};
  resident.insert(resident.end(), std::begin(pj::kResidentRowPrefixes),
                  std::end(pj::kResidentRowPrefixes));
  LEDGER_ASSIGN_OR_RETURN(pj::LedgerState state, ledger.StateAsOf(seq - 1, resident));
  if (state.info.head_seq != seq - 1) {
    return Status::Corruption(where + NotAttestedState());
  }
  auto root = RootAt(ledger.tree(), seq - 1);
  if (!root.ok() || *root != attested->root_hash) {
    return Status::Corruption(where +
                              ": the stored Merkle tree before it is not the tree it "
                              "attests; run a full audit");
  }
  AttestedBase base;
  base.seq = seq;
  base.state_hash = attested->state_hash;
  for (const std::string& key : pj::AllRowKeys(state)) {
    if (IsResident(key)) base.resident[key] = pj::EncodeRow(state, key);
  }
  rows->emplace(&ledger.inspection(), seq - 1);
  *rows_out = &**rows;
  state.source = &**rows;
  report->state = std::move(state);
  report->entries = seq - 1;
  report->attestation_seq = seq;
  LEDGER_RETURN_IF_ERROR(tree->Resume(&ledger.tree(), seq - 1));
  return base;
}

// StateHash's leaves over the stored rows (given in key order) with some rows replaced: `over`
// holds the rows known otherwise (nullopt: absent); a head, key or policy row not in it is
// absent. `pair`, if set, is called for every row in `over` or of those kinds, with the
// replacing value and the stored one; `leaf` for every row of the result.
class OverlaidLeaves {
 public:
  using Pair = std::function<void(const std::string&, const std::optional<std::string>&,
                                  std::optional<std::string_view>)>;
  using Leaf = std::function<void(std::string_view key, std::string_view value)>;
  OverlaidLeaves(const RowValues& over, Pair pair, Leaf leaf)
      : over_(over), next_(over.begin()), pair_(std::move(pair)), leaf_(std::move(leaf)) {}

  // `stored_leaf`: the stored row's leaf, computed by the first of several passes over the
  // same row that needs it and shared with the others (nullopt until then).
  void Stored(std::string_view key, std::string_view value, std::optional<Hash>* stored_leaf) {
    Before(key);
    if (next_ != over_.end() && next_->first == key) {
      if (pair_) pair_(next_->first, next_->second, value);
      if (next_->second) Add(key, *next_->second);
      ++next_;
    } else if (IsResident(key)) {
      if (pair_) pair_(std::string(key), std::nullopt, value);
    } else {
      if (!*stored_leaf) *stored_leaf = pj::StateLeaf(key, value);
      Add(key, value, **stored_leaf);
    }
  }
  Hash Root() {
    for (; next_ != over_.end(); ++next_) Replaced();
    return ev::Rfc9162Root(leaves_);
  }

 private:
  // The replaced rows before stored row `key`: not stored.
  void Before(std::string_view key) {
    for (; next_ != over_.end() && next_->first < key; ++next_) Replaced();
  }
  void Replaced() {
    if (pair_) pair_(next_->first, next_->second, std::nullopt);
    if (next_->second) Add(next_->first, *next_->second);
  }
  void Add(std::string_view key, std::string_view value) {
    Add(key, value, pj::StateLeaf(key, value));
  }
  void Add(std::string_view key, std::string_view value, const Hash& leaf) {
    leaves_.push_back(leaf);
    if (leaf_) leaf_(key, value);
  }
  const RowValues& over_;
  RowValues::const_iterator next_;
  Pair pair_;
  Leaf leaf_;
  std::vector<Hash> leaves_;
};

// Ends an incremental audit of an intact chain, in one pass over the stored rows. The rows the
// replay started from (those it read, as they stood before the attestation, and every other
// stored row as it stands) must give the attested state hash: so the rows read from the history
// are the attested ones, and no row the new entries did not touch has changed since. The rows
// the replay read or changed must be stored as the replay left them. The state hash of the
// result is computed from the same pass. kCorruption if the base is not the attested state.
Status VerifyAttestedBase(const Ledger& ledger, const Replayer& replayer, const AttestedRows& rows,
                          const AttestedBase& base, AuditReport* report) {
  for (const std::string& key : replayer.touched_rows()) {
    if (IsResident(key)) continue;
    LEDGER_RETURN_IF_ERROR(rows.ReadRow(key).status());  // its version before, recorded
  }
  RowValues before = base.resident, after;
  for (const std::string& key : pj::AllRowKeys(report->state)) {
    if (IsResident(key)) after[key] = pj::EncodeRow(report->state, key);
  }
  for (const auto& [key, value] : rows.read()) {
    if (IsResident(key)) continue;
    before[key] = value;
    after[key] = pj::EncodeRow(report->state, key);
  }
  LEDGER_RETURN_IF_ERROR(report->state.ReadStatus());
  auto projection = [report](const std::string& why) {
    report->findings.push_back(Integrity(0, "", "integrity.projection", why));
  };
  auto compare = [&](const std::string& key, const std::optional<std::string>& replayed,
                     std::optional<std::string_view> stored) {
    if (replayed && !stored) {
      projection("projection row " + key + " is missing");
    } else if (!replayed && stored) {
      projection("projection row " + key + " is not produced by the replay");
    } else if (replayed && *stored != *replayed) {
      projection("projection row " + key + " differs from the replay");
    }
  };
  std::vector<std::pair<std::string, std::string>> summary_rows;
  auto count = [&](std::string_view key, std::string_view value) {
    const std::string kind(key.substr(0, key.find('/')));
    ++report->row_counts[kind];
    // The audit's summary lists the measure-years; they are few.
    if (kind == "my" && !after.count(key)) summary_rows.emplace_back(key, value);
  };
  OverlaidLeaves attested(before, nullptr, nullptr);
  OverlaidLeaves replayed(after, compare, count);
  LEDGER_RETURN_IF_ERROR(
      ledger.inspection().ScanRows([&](std::string_view key, std::string_view value) {
        std::optional<Hash> leaf;  // a row neither overlay replaces is hashed once for both
        attested.Stored(key, value, &leaf);
        replayed.Stored(key, value, &leaf);
      }));
  if (attested.Root() != base.state_hash) {
    return Status::Corruption("entry " + std::to_string(base.seq) + NotAttestedState());
  }
  report->state_hash = replayed.Root();
  for (const auto& [key, value] : summary_rows) {
    LEDGER_RETURN_IF_ERROR(pj::LoadRow(&report->state, key, value));
  }
  return Status::Ok();
}

// An incremental audit's comparisons, of an intact chain's new entries only: none is stored
// past the head, the Merkle nodes they completed from the attested frontier (compared as they
// completed), and the rows (VerifyAttestedBase, whose error this returns).
Status CompareSinceAttestation(const Ledger& stored, const Replayer& replayer,
                               MerkleComparer* merkle, const AttestedRows& rows,
                               const AttestedBase& base, AuditReport* report) {
  std::vector<Result<Bytes>> beyond;
  stored.ReadRawRange(report->entries + 1, 1, &beyond);
  if (beyond.size() != 1 || beyond[0].ok() || !beyond[0].status().IsNotFound()) {
    report->findings.push_back(Integrity(
        0, "", "integrity.count",
        "the ledger stores an entry after its head, entry " + std::to_string(report->entries)));
  }
  merkle->Finish(replayer.tree().size(), report);
  return VerifyAttestedBase(stored, replayer, rows, base, report);
}

// The size a checkpoint note claims, read without checking its signature (CheckCheckpoint
// checks it): the replay keeps the root at that size. nullopt if it is no checkpoint.
std::optional<uint64_t> CheckpointSize(std::string_view note) {
  const size_t end = note.find("\n\n");
  if (end == std::string_view::npos) return std::nullopt;
  auto checkpoint = ParseCheckpointText(note.substr(0, end + 1));
  if (!checkpoint.ok()) return std::nullopt;
  return checkpoint->size;
}

// The state hash and row counts of a replay whose rows are in its scratch store, in one pass
// over them; the measure-years, which the audit's summary lists, are loaded into the report's
// state. kIOError from the store, kCorruption if a row it wrote does not load.
Status SummariseSpilled(Inspection::Cursor* rows, AuditReport* report) {
  ev::Rfc9162RootBuilder root;
  for (; rows->Valid(); rows->Next()) {
    const std::string_view key = rows->key();
    root.Add(pj::StateLeaf(key, rows->value()));
    const std::string kind(key.substr(0, key.find('/')));
    ++report->row_counts[kind];
    if (kind == "my") {
      LEDGER_RETURN_IF_ERROR(
          pj::LoadRow(&report->state, std::string(key), std::string(rows->value())));
    }
  }
  LEDGER_RETURN_IF_ERROR(rows->status());
  report->state_hash = root.Root();
  return Status::Ok();
}

}  // namespace

Result<AuditReport> Audit(const EntrySource& source, const AuditOptions& options) {
  if (options.chain_only &&
      (options.check_rules || options.stored != nullptr || options.since_attestation)) {
    return Status::InvalidArgument(
        "audit options: chain_only excludes check_rules, a stored ledger and since_attestation");
  }
  AuditReport report;
  Replayer replayer(options, &report);
  const uint64_t size = source.Size();
  uint64_t first = 1;
  std::map<ev::KeyId, ev::PublicKey> known;
  std::optional<AttestedRows> attested_rows;  // an incremental replay's rows: outlive it
  const AttestedRows* rows = nullptr;
  AttestedBase base;
  if (options.since_attestation) {
    if (options.stored == nullptr) {
      return Status::InvalidArgument("an audit since the last attestation needs the ledger itself");
    }
    LEDGER_ASSIGN_OR_RETURN(
        base, ResumeFromAttestation(*options.stored, &report, replayer.mutable_tree(), &rows,
                                    &attested_rows));
    first = base.seq;
    replayer.set_base_attestation(first);
    for (const auto& [row, info] : report.state.keys)
      known.emplace(ev::KeyIdOf(info.public_key), info.public_key);
  }
  // The checkpoints to check once the replay is done: their roots are kept as the tree passes
  // their sizes (the tree holds no more than its frontier).
  std::vector<std::string> notes = options.checkpoint_notes;
  if (options.stored != nullptr) {
    LEDGER_ASSIGN_OR_RETURN(auto stored_notes, options.stored->Checkpoints());
    for (auto& [tree_size, note] : stored_notes) notes.push_back(note);
  }
  std::set<uint64_t> checkpoint_sizes;
  for (const std::string& note : notes) {
    if (auto claimed = CheckpointSize(note)) checkpoint_sizes.insert(*claimed);
  }
  replayer.mutable_tree()->KeepRootsAt(std::move(checkpoint_sizes));
  std::optional<MerkleComparer> merkle;
  if (options.stored != nullptr) {
    merkle.emplace(*options.stored, options.since_attestation);
    replayer.mutable_tree()->set_on_node(
        [&merkle](const MerkleNode& node) { merkle->Completed(node); });
  }
  report.first_replayed = first;
  if (first <= size) {
    WindowReader reader(source, first, size, std::move(known));
    bool intact = true;
    for (auto w = reader.Next(); w && intact; w = reader.Next()) {
      for (size_t i = 0; i < w->entries.size() && intact; ++i) {
        const auto& verdict = w->verdicts[i];
        intact = replayer.Step(w->first + i, w->entries[i], verdict ? &*verdict : nullptr);
      }
      replayer.CheckDerived();
      const uint64_t done = w->first + w->entries.size() - 1;
      if (options.progress) options.progress(done);
    }
  }
  LEDGER_RETURN_IF_ERROR(replayer.status());  // the scratch store failed: no audit
  // Every finding so far is of the replay; CheckDerived added each window's derived findings
  // after the window's rule findings.
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.seq < b.seq; });
  LEDGER_RETURN_IF_ERROR(report.state.ReadStatus());  // a decision on an unread row is unsound
  bool chain_intact = report.IntegrityOk();
  if (rows != nullptr && !chain_intact) {
    // The attestation itself does not follow the rows before it: they are not what it signed.
    for (const Finding& f : report.findings) {
      if (f.integrity && f.seq == base.seq) {
        return Status::Corruption("entry " + std::to_string(base.seq) + NotAttestedState());
      }
    }
  }
  if (chain_intact && rows != nullptr) {
    LEDGER_RETURN_IF_ERROR(
        CompareSinceAttestation(*options.stored, replayer, &*merkle, *rows, base, &report));
  }
  // A full audit's rows, if the replay moved them to its scratch store.
  std::unique_ptr<Inspection::Cursor> spilled;
  if (rows == nullptr && !options.chain_only) {
    LEDGER_ASSIGN_OR_RETURN(spilled, replayer.FinalRows());
  }
  if (chain_intact && rows == nullptr && options.stored != nullptr) {
    CompareStored(*options.stored, replayer, &*merkle, spilled.get(), &report);
  }
  if (chain_intact) {
    const ReplayTree& tree = replayer.tree();
    auto root_at = [&tree](uint64_t at) { return tree.RootAt(at); };
    for (const std::string& note : notes) {
      for (Finding& f : CheckCheckpoint(note, report.state, root_at, report.entries)) {
        report.findings.push_back(std::move(f));
      }
      ++report.checkpoints_checked;
    }
  }
  report.root = replayer.tree().Root();
  if (options.chain_only) {
    report.state_hash = Hash{};  // only the head and the keys were folded: no state to hash
  } else if (rows == nullptr && spilled != nullptr) {
    spilled = replayer.RowsAgain();  // from the first row
    LEDGER_RETURN_IF_ERROR(SummariseSpilled(spilled.get(), &report));
  } else if (rows == nullptr) {
    report.state_hash = pj::StateHash(report.state);
    for (pj::RowWalk walk(report.state); walk.Valid(); walk.Next()) {
      const std::string& key = walk.key();
      ++report.row_counts[key.substr(0, key.find('/'))];
    }
  } else if (!chain_intact) {
    report.state_hash = Hash{};  // the replay stopped short: no state to hash
  }
  // A backed state must not outlive its rows (`attested_rows` ends with this call): the report
  // keeps what was read, and a lookup past it finds nothing rather than freed memory.
  report.state.source = nullptr;
  return report;
}

}  // namespace fundledger::ledger
