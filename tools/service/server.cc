// The server side of fundledger serve: one thread, one kj event loop, the ledger's one writer.
// Every call runs to its end inside the loop, so a signal is handled between calls and a write
// is never cut in the middle.
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/compat/tls.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/checkpoint.h"
#include "ledger/inspection.h"
#include "ledger/merkle.h"
#include "tools/service/service.h"
#include "tools/service/wire.h"

// Cap'n Proto's generated Server classes and kj's ErrorHandler have protected non-virtual
// destructors by design (they are destroyed through kj::Own's disposer), which this warning
// cannot tell apart from a bug.
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

namespace fundledger::service {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
namespace sv = ::fundledger::schema::service;
using wire::AsData;
using wire::SetError;
using wire::Span;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Writers take the head in turns: write() is answered when no other writer holds it, so
// concurrent writers do not all prepare at one head and all but one sign again (the head moved)
// until they give up. A holder idle for kWriteTurnIdleMs loses its turn to the next in line, so
// a stalled client cannot stop the others; its commit then still finds the head moved if
// another wrote first: turns decide who goes first, never what is written.
struct WriteTurns {
  uint64_t holder = 0;  // the writer holding the turn; 0: none
  int64_t holder_active_ms = 0;
  uint64_t next_id = 1;
  std::deque<uint64_t> waiting;  // writers in line, first come first
  std::map<uint64_t, kj::Own<kj::PromiseFulfiller<void>>> wake;  // how to wake each

  // Whether writer `id` may take the turn now: it is first in line and the turn is free or
  // its holder has been idle too long.
  bool MayTake(uint64_t id, int64_t now_ms) const {
    if (waiting.empty() || waiting.front() != id) return false;
    return holder == 0 || now_ms - holder_active_ms >= kWriteTurnIdleMs;
  }
  void Take(uint64_t id, int64_t now_ms) {
    waiting.pop_front();
    wake.erase(id);
    holder = id;
    holder_active_ms = now_ms;
  }
  // Takes writer `id` out of line (its write() was cancelled: the connection closed) and, if it
  // held the turn, ends it.
  void Forget(uint64_t id) {
    waiting.erase(std::remove(waiting.begin(), waiting.end(), id), waiting.end());
    wake.erase(id);
    Release(id);
    if (holder == 0) WakeFirst();
  }
  // Ends writer `id`'s turn (a no-op if it lost it) and wakes the next in line.
  void Release(uint64_t id) {
    if (holder != id) return;
    holder = 0;
    WakeFirst();
  }
  void WakeFirst() {
    if (waiting.empty()) return;
    auto it = wake.find(waiting.front());
    if (it != wake.end() && it->second->isWaiting()) it->second->fulfill();
  }
};

// What the whole server shares.
struct Shared {
  ledger::Ledger* ledger = nullptr;
  const ServeOptions* options = nullptr;
  int64_t started_ms = 0;
  uint32_t clients = 0;
  uint64_t connections_seen = 0;
  // --- Checkpoints: the latest one served (empty note: none), and when it was signed (0:
  // before this server started).
  std::string checkpoint_note;
  uint64_t checkpoint_size = 0;
  int64_t checkpoint_signed_at_ms = 0;
  kj::Timer* timer = nullptr;
  WriteTurns turns;
};

// Resolves to a turn id once the caller holds the write turn (WriteTurns): at once when the
// turn is free and nobody waits, else when the holder releases it or has been idle too long.
kj::Promise<uint64_t> TakeWriteTurn(Shared& shared, uint64_t id);

kj::Promise<uint64_t> WaitForWriteTurn(Shared& shared, uint64_t id, kj::Promise<void> woken) {
  // Woken by a release, or every quarter of the idle limit to look at an idle holder (and at a
  // wake-up lost to a cancelled waiter).
  auto poll = shared.timer->afterDelay(kWriteTurnIdleMs / 4 * kj::MILLISECONDS);
  return woken.exclusiveJoin(kj::mv(poll)).then([&shared, id]() {
    return TakeWriteTurn(shared, id);
  });
}

kj::Promise<uint64_t> TakeWriteTurn(Shared& shared, uint64_t id) {
  WriteTurns& turns = shared.turns;
  int64_t now = SteadyMs();
  if (turns.MayTake(id, now)) {
    turns.Take(id, now);
    return id;
  }
  auto paf = kj::newPromiseAndFulfiller<void>();
  turns.wake[id] = kj::mv(paf.fulfiller);
  return WaitForWriteTurn(shared, id, kj::mv(paf.promise));
}

// What one connection's capabilities share: its name in the log, its request rate and its
// pending challenge.
struct Peer {
  std::string name;  // "connection 7"
  int64_t window_start_ms = 0;
  uint32_t window_requests = 0;
  std::optional<ev::KeyId> challenged_key;
  std::string challenge;

  // Counts a call; kBusy past the per-second limit, so one client cannot starve the others.
  Status Admit(uint32_t per_second) {
    int64_t now = SteadyMs();
    if (now - window_start_ms >= 1000) {
      window_start_ms = now;
      window_requests = 0;
    }
    if (++window_requests > per_second) {
      return Status::Busy("more than " + std::to_string(per_second) +
                          " requests in one second on this connection (the server's --rate)");
    }
    return Status::Ok();
  }
};

// Logs a refusal once, at warning level, naming the connection.
void LogRefusal(const Peer& peer, const char* call, const Status& status) {
  spdlog::warn("{}: {} refused: {}", peer.name, call, status.ToString());
}

// A key may act while registered and not revoked in the state the server holds now.
Status KeyAllowed(const pj::StateView& view, const ev::KeyId& key_id) {
  const pj::KeyInfo* key = view.FindKey(key_id);
  if (key == nullptr) {
    return Status::Rejected("key.unknown",
                            "key " + ev::Hex(key_id).substr(0, 16) + " is not registered");
  }
  if (key->revoked_seq != 0) {
    return Status::Rejected("key.revoked", "key " + ev::Hex(key_id).substr(0, 16) +
                                               " was revoked at entry " +
                                               std::to_string(key->revoked_seq));
  }
  return Status::Ok();
}

// Rows of `state` (every one is of the prefixes asked for) after key `after`, one page.
template <typename RowsBuilderFn>
bool PageRows(const pj::LedgerState& state, const std::string& after, RowsBuilderFn init) {
  std::vector<std::pair<std::string, std::string>> page;
  size_t bytes = 0;
  bool more = false;
  for (const std::string& key : pj::AllRowKeys(state)) {
    if (!after.empty() && key <= after) continue;
    if (page.size() >= kPageItemsMax || bytes >= kPageBytesMax) {
      more = true;
      break;
    }
    std::optional<std::string> value = pj::EncodeRow(state, key);
    if (!value) continue;
    bytes += key.size() + value->size();
    page.emplace_back(key, std::move(*value));
  }
  auto rows = init(static_cast<unsigned>(page.size()));
  for (unsigned i = 0; i < page.size(); ++i) {
    rows[i].setKey(page[i].first);
    rows[i].setValue(AsData(page[i].second));
  }
  return more;
}

std::vector<std::string> Prefixes(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  for (auto text : list) out.emplace_back(text);
  return out;
}

class WriterImpl final : public sv::Writer::Server {
 public:
  // `turn`: the write turn this writer holds (WriteTurns), released at its commit or end.
  WriterImpl(Shared& shared, std::shared_ptr<Peer> peer, const ev::KeyId& key, uint64_t turn)
      : shared_(shared),
        peer_(std::move(peer)),
        key_(key),
        turn_(turn),
        draft_(shared.ledger->Draft()),
        base_seq_(shared.ledger->head().head_seq),
        base_hash_(shared.ledger->head().head_hash) {}
  ~WriterImpl() { shared_.turns.Release(turn_); }

  kj::Promise<void> prepare(PrepareContext context) override {
    auto results = context.getResults();
    Status s = Prepare(context.getParams().getRequest(), results);
    if (!s.ok()) {
      LogRefusal(*peer_, "prepare", s);
      SetError(results.initError(), s);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> sign(SignContext context) override {
    Status s = Sign(Span(context.getParams().getSignature()));
    if (!s.ok()) {
      LogRefusal(*peer_, "sign", s);
      SetError(context.getResults().initError(), s);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> commit(CommitContext context) override {
    auto results = context.getResults();
    Status s = Commit(results);
    if (!s.ok()) {
      LogRefusal(*peer_, "commit", s);
      SetError(results.initError(), s);
    }
    return kj::READY_NOW;
  }

 private:
  bool HeadMoved() const {
    const pj::LedgerInfo& head = shared_.ledger->head();
    return head.head_seq != base_seq_ || head.head_hash != base_hash_;
  }

  Status Usable() {
    LEDGER_RETURN_IF_ERROR(peer_->Admit(shared_.options->requests_per_second));
    if (finished_) return Status::InvalidArgument("this write was committed or given up");
    if (shared_.turns.holder == turn_) shared_.turns.holder_active_ms = SteadyMs();
    return KeyAllowed(shared_.ledger->view(), key_);
  }

  Status Prepare(sv::Request::Reader request, sv::Writer::PrepareResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Usable());
    if (pending_) return Status::InvalidArgument("the entry prepared last is not signed yet");
    if (HeadMoved()) {
      results.setHeadMoved(true);
      return Status::Ok();
    }
    if (entries_.size() + replayed_ >= ledger::kBatchEntriesMax) {
      return Status::InvalidArgument("more than " + std::to_string(ledger::kBatchEntriesMax) +
                                     " entries in one append");
    }
    LEDGER_ASSIGN_OR_RETURN(ev::Entry asked,
                            ev::DecodeEntry(Span(request.getEntry()), ev::BytesOrigin::kSubmitted));
    ledger::AppendRequest append{std::move(asked.body), std::move(asked.idempotency_key), {}};
    append.defaults.award_max = request.getAwardMax();
    append.defaults.award_split = request.getAwardSplit();
    append.defaults.apply_track = request.getApplyTrack();
    append.defaults.revoke_unpaid = request.getRevokeUnpaid();
    // The server's clock dates the entry; never earlier than the head (recordedAt never
    // decreases, and a head dated a little ahead is within projections::kClockSkewMsMax).
    int64_t at = std::max(shared_.options->clock(), draft_.info.head_recorded_at_ms);
    auto prepared = ledger::PrepareEntry(draft_, key_, append, at);
    draft_.ResetReadStatus();
    LEDGER_RETURN_IF_ERROR(prepared.status());
    if (prepared->replayed_seq != 0) {
      ++replayed_;
      results.setReplayedSeq(prepared->replayed_seq);
      return Status::Ok();
    }
    results.setEntry(AsData(prepared->entry_bytes));
    results.setNote(prepared->note);
    pending_ = std::move(*prepared);
    return Status::Ok();
  }

  Status Sign(std::span<const uint8_t> signature) {
    LEDGER_RETURN_IF_ERROR(Usable());
    if (!pending_) return Status::InvalidArgument("no prepared entry to sign");
    ev::Signature sig{};
    if (signature.size() != sig.size()) {
      return Status::InvalidArgument("a signature is " + std::to_string(sig.size()) +
                                     " bytes, not " + std::to_string(signature.size()));
    }
    std::copy(signature.begin(), signature.end(), sig.begin());
    auto sealed = ledger::ApplyPrepared(&draft_, *pending_, sig);
    if (!sealed.ok()) {
      // A failed read during the fold leaves the draft unsound: give the write up.
      if (!sealed.status().IsInvalidArgument()) finished_ = true;
      return sealed.status();
    }
    pending_.reset();
    entries_.push_back(std::move(*sealed));
    return Status::Ok();
  }

  Status Commit(sv::Writer::CommitResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Usable());
    if (pending_) return Status::InvalidArgument("the entry prepared last is not signed yet");
    finished_ = true;
    // Whatever the outcome, this writer is done with the head: the next may prepare. The
    // commit below runs to its end before the next call is served (one event loop).
    shared_.turns.Release(turn_);
    if (entries_.empty()) return Status::Ok();
    if (HeadMoved()) {
      spdlog::info("{}: write at entry {} retried: the head moved", peer_->name, base_seq_ + 1);
      results.setHeadMoved(true);
      return Status::Ok();
    }
    // Every check again, on the ledger itself: chain, signature, signer, rules, time.
    LEDGER_RETURN_IF_ERROR(shared_.ledger->AppendSigned(entries_, shared_.options->clock()));
    auto seqs = results.initSeqs(static_cast<unsigned>(entries_.size()));
    for (unsigned i = 0; i < entries_.size(); ++i) seqs.set(i, entries_[i].entry.seq);
    spdlog::info("{}: appended entries {}..{} signed by {}", peer_->name,
                 entries_.front().entry.seq, entries_.back().entry.seq,
                 ev::Hex(key_).substr(0, 16));
    return Status::Ok();
  }

  Shared& shared_;
  std::shared_ptr<Peer> peer_;
  ev::KeyId key_;
  uint64_t turn_;
  pj::LedgerState draft_;
  uint64_t base_seq_;
  ev::Hash base_hash_;
  std::optional<ledger::PreparedEntry> pending_;
  std::vector<ledger::StoredEntry> entries_;
  size_t replayed_ = 0;
  bool finished_ = false;
};

class SessionImpl final : public sv::Session::Server {
 public:
  SessionImpl(Shared& shared, std::shared_ptr<Peer> peer, std::optional<ev::KeyId> key)
      : shared_(shared), peer_(std::move(peer)), key_(key) {}

  kj::Promise<void> resident(ResidentContext context) override {
    auto results = context.getResults();
    Status s = Resident(results);
    return Done("resident", s, results);
  }
  kj::Promise<void> readRow(ReadRowContext context) override {
    auto results = context.getResults();
    Status s = ReadRow(context.getParams().getKey(), results);
    return Done("readRow", s, results);
  }
  kj::Promise<void> rows(RowsContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    Status s = Access();
    if (s.ok()) {
      auto state = shared_.ledger->Rows(Prefixes(params.getPrefixes()));
      s = state.status();
      if (s.ok()) {
        results.setMore(
            PageRows(*state, params.getAfter(), [&](unsigned n) { return results.initRows(n); }));
      }
    }
    return Done("rows", s, results);
  }
  kj::Promise<void> readRange(ReadRangeContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    Status s = ReadRange(params.getFirst(), params.getCount(), results);
    return Done("readRange", s, results);
  }
  kj::Promise<void> indexSeqs(IndexSeqsContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    Status s = IndexSeqs(params.getIndex(), params.getAfter(), results);
    return Done("indexSeqs", s, results);
  }
  kj::Promise<void> checkpoints(CheckpointsContext context) override {
    auto results = context.getResults();
    Status s = Checkpoints(context.getParams().getAfter(), results);
    return Done("checkpoints", s, results);
  }
  kj::Promise<void> stateAsOf(StateAsOfContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    Status s = Access();
    if (s.ok()) {
      auto state = shared_.ledger->StateAsOf(params.getSeq(), Prefixes(params.getPrefixes()));
      s = state.status();
      if (s.ok()) {
        results.setMore(
            PageRows(*state, params.getAfter(), [&](unsigned n) { return results.initRows(n); }));
      }
    }
    return Done("stateAsOf", s, results);
  }
  kj::Promise<void> node(NodeContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    Status s = Access();
    if (s.ok()) {
      auto hash = shared_.ledger->tree().Node(params.getLevel(), params.getIndex());
      s = hash.status();
      if (s.ok()) results.setHash(AsData(*hash));
    }
    return Done("node", s, results);
  }
  kj::Promise<void> write(WriteContext context) override {
    auto results = context.getResults();
    Status s = Access();
    if (s.ok() && !key_) {
      s = Status::InvalidArgument("an anonymous session cannot write: authenticate with a key");
    }
    if (s.ok() && shared_.options->read_only) {
      s = Status::InvalidArgument(
          "this service is read-only (a copy another process writes): write to the service it "
          "follows");
    }
    if (!s.ok()) return Done("write", s, results);
    // The writer is made once this call holds the turn, so its draft is the head then.
    uint64_t id = shared_.turns.next_id++;
    shared_.turns.waiting.push_back(id);
    // Until a writer holds the turn, a cancelled call (its connection closed) gives it back.
    auto made = std::make_shared<bool>(false);
    return TakeWriteTurn(shared_, id)
        .then([this, context, made](uint64_t turn) mutable {
          context.getResults().setWriter(kj::heap<WriterImpl>(shared_, peer_, *key_, turn));
          *made = true;
        })
        .attach(kj::defer([&turns = shared_.turns, id, made]() {
          if (!*made) turns.Forget(id);
        }));
  }

  // --- Checkpoints ---
  kj::Promise<void> consistency(ConsistencyContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    Status s = Consistency(params.getOldSize(), params.getNewSize(), results);
    return Done("consistency", s, results);
  }

 private:
  // Whether this session may still read: within the rate, and its key (if any) still
  // registered and not revoked (a revocation ends the access of sessions already open).
  Status Access() {
    LEDGER_RETURN_IF_ERROR(peer_->Admit(shared_.options->requests_per_second));
    if (key_) return KeyAllowed(shared_.ledger->view(), *key_);
    return Status::Ok();
  }

  template <typename Results>
  kj::Promise<void> Done(const char* call, const Status& s, Results& results) {
    if (!s.ok()) {
      LogRefusal(*peer_, call, s);
      SetError(results.initError(), s);
    }
    return kj::READY_NOW;
  }

  Status Resident(sv::Session::ResidentResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Access());
    // The writer holds these rows whole in memory (kResidentRowPrefixes): they are encoded from
    // there rather than read back from the store and decoded first, which was most of the
    // server's work per remote write (every client reloads them after its append).
    const auto* held = dynamic_cast<const pj::LedgerState*>(&shared_.ledger->view());
    pj::LedgerState state;
    if (held != nullptr) {
      state.info = held->info;
      state.keys = held->keys;
      state.policies = held->policies;
    } else {
      std::vector<std::string> prefixes(std::begin(pj::kResidentRowPrefixes),
                                        std::end(pj::kResidentRowPrefixes));
      prefixes.push_back("head");
      LEDGER_ASSIGN_OR_RETURN(state, shared_.ledger->Rows(prefixes));
    }
    // Keys and policies are few (a programme's staff and its policy versions); a state too
    // large for one message is refused rather than sent in part.
    bool more = PageRows(state, "", [&](unsigned n) { return results.initRows(n); });
    if (more) {
      return Status::IOError("the ledger's keys and policies exceed one page of " +
                             std::to_string(kPageItemsMax) + " rows");
    }
    return Status::Ok();
  }

  Status ReadRow(const std::string& key, sv::Session::ReadRowResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Access());
    LEDGER_ASSIGN_OR_RETURN(std::optional<std::string> row,
                            shared_.ledger->inspection().StoredRow(key));
    results.setFound(row.has_value());
    if (row) results.setValue(AsData(*row));
    return Status::Ok();
  }

  Status ReadRange(uint64_t first, uint32_t count, sv::Session::ReadRangeResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Access());
    if (first == 0) return Status::InvalidArgument("entries are numbered from 1");
    uint64_t head = shared_.ledger->size();
    size_t n = std::min<uint64_t>({count, kPageItemsMax, first <= head ? head - first + 1 : 0});
    std::vector<Result<ledger::Bytes>> raw;
    shared_.ledger->ReadRawRange(first, n, &raw);
    std::vector<ledger::Bytes> page;
    size_t bytes = 0;
    for (auto& value : raw) {
      if (!value.ok() && value.status().IsNotFound()) break;
      LEDGER_RETURN_IF_ERROR(value.status());
      if (!page.empty() && bytes + value->size() > kPageBytesMax) break;
      bytes += value->size();
      page.push_back(std::move(*value));
    }
    auto values = results.initValues(static_cast<unsigned>(page.size()));
    for (unsigned i = 0; i < page.size(); ++i) values.set(i, AsData(page[i]));
    return Status::Ok();
  }

  Status IndexSeqs(const std::string& index, uint64_t after,
                   sv::Session::IndexSeqsResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Access());
    LEDGER_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs, shared_.ledger->IndexSeqs(index));
    auto begin = std::upper_bound(seqs.begin(), seqs.end(), after);
    size_t n = std::min<size_t>(static_cast<size_t>(seqs.end() - begin), kPageItemsMax);
    results.setMore(static_cast<size_t>(seqs.end() - begin) > n);
    auto out = results.initSeqs(static_cast<unsigned>(n));
    for (unsigned i = 0; i < n; ++i) out.set(i, begin[i]);
    return Status::Ok();
  }

  Status Checkpoints(uint64_t after, sv::Session::CheckpointsResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Access());
    LEDGER_ASSIGN_OR_RETURN(auto all, shared_.ledger->Checkpoints());
    std::vector<std::pair<uint64_t, std::string>> page;
    for (auto& checkpoint : all) {
      if (checkpoint.first <= after) continue;
      if (page.size() >= kPageItemsMax) {
        results.setMore(true);
        break;
      }
      page.push_back(std::move(checkpoint));
    }
    auto out = results.initCheckpoints(static_cast<unsigned>(page.size()));
    for (unsigned i = 0; i < page.size(); ++i) {
      out[i].setTreeSize(page[i].first);
      out[i].setNote(page[i].second);
    }
    return Status::Ok();
  }

  // --- Checkpoints ---
  Status Consistency(uint64_t old_size, uint64_t new_size,
                     sv::Session::ConsistencyResults::Builder results) {
    LEDGER_RETURN_IF_ERROR(Access());
    if (old_size == 0 || old_size > new_size || new_size > shared_.ledger->size()) {
      return Status::InvalidArgument(
          "a consistency proof is from a size of at least 1 to a "
          "larger or equal size no larger than the ledger's " +
          std::to_string(shared_.ledger->size()));
    }
    LEDGER_ASSIGN_OR_RETURN(std::vector<ev::Hash> proof,
                            ledger::ConsistencyProof(shared_.ledger->tree(), old_size, new_size));
    auto hashes = results.initHashes(static_cast<unsigned>(proof.size()));
    for (unsigned i = 0; i < proof.size(); ++i) hashes.set(i, AsData(proof[i]));
    return Status::Ok();
  }

  Shared& shared_;
  std::shared_ptr<Peer> peer_;
  std::optional<ev::KeyId> key_;
};

class ServiceImpl final : public sv::Service::Server {
 public:
  ServiceImpl(Shared& shared, std::shared_ptr<Peer> peer)
      : shared_(shared), peer_(std::move(peer)) {}

  kj::Promise<void> status(StatusContext context) override {
    auto out = context.getResults().initStatus();
    const pj::LedgerInfo& head = shared_.ledger->head();
    out.setLedgerId(AsData(head.ledger_id));
    out.setSize(head.head_seq);
    auto root = ledger::RootAt(shared_.ledger->tree(), head.head_seq);
    if (root.ok()) out.setRootHash(AsData(*root));
    out.setUptimeMs(SteadyMs() - shared_.started_ms);
    out.setClients(shared_.clients);
    out.setPublicReads(shared_.options->public_reads);
    return kj::READY_NOW;
  }

  kj::Promise<void> hello(HelloContext context) override {
    auto results = context.getResults();
    Status s = peer_->Admit(shared_.options->requests_per_second);
    auto key_bytes = Span(context.getParams().getKeyId());
    ev::KeyId key_id{};
    if (s.ok() && key_bytes.size() != key_id.size()) {
      s = Status::InvalidArgument("a key id is " + std::to_string(key_id.size()) + " bytes");
    }
    if (s.ok()) {
      std::copy(key_bytes.begin(), key_bytes.end(), key_id.begin());
      std::array<uint8_t, wire::kNonceBytes> nonce{};
      ev::RandomBytes(nonce);
      peer_->challenged_key = key_id;
      peer_->challenge = wire::ChallengeText(shared_.ledger->head().ledger_id, nonce);
      results.setChallenge(AsData(peer_->challenge));
    } else {
      LogRefusal(*peer_, "hello", s);
      SetError(results.initError(), s);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> authenticate(AuthenticateContext context) override {
    auto results = context.getResults();
    Status s = Authenticate(Span(context.getParams().getSignature()));
    if (s.ok()) {
      spdlog::info("{}: authenticated as key {}", peer_->name,
                   ev::Hex(*peer_->challenged_key).substr(0, 16));
      results.setSession(kj::heap<SessionImpl>(shared_, peer_, *peer_->challenged_key));
    } else {
      LogRefusal(*peer_, "authenticate", s);
      SetError(results.initError(), s);
    }
    // A challenge answers once, right or wrong.
    peer_->challenged_key.reset();
    peer_->challenge.clear();
    return kj::READY_NOW;
  }

  kj::Promise<void> anonymous(AnonymousContext context) override {
    auto results = context.getResults();
    Status s = peer_->Admit(shared_.options->requests_per_second);
    if (s.ok() && !shared_.options->public_reads) {
      s = Status::Rejected("access.anonymous",
                           "this server does not serve anonymous reads: give --key with a "
                           "registered key");
    }
    if (s.ok()) {
      results.setSession(kj::heap<SessionImpl>(shared_, peer_, std::nullopt));
    } else {
      LogRefusal(*peer_, "anonymous", s);
      SetError(results.initError(), s);
    }
    return kj::READY_NOW;
  }

  // --- Checkpoints ---
  kj::Promise<void> latestCheckpoint(LatestCheckpointContext context) override {
    auto results = context.getResults();
    Status s = peer_->Admit(shared_.options->requests_per_second);
    if (s.ok() && !shared_.checkpoint_note.empty()) {
      results.setNote(shared_.checkpoint_note);
      results.setSignedAtMs(shared_.checkpoint_signed_at_ms);
    } else if (!s.ok()) {
      LogRefusal(*peer_, "latestCheckpoint", s);
      SetError(results.initError(), s);
    }
    return kj::READY_NOW;
  }

 private:
  Status Authenticate(std::span<const uint8_t> signature) {
    LEDGER_RETURN_IF_ERROR(peer_->Admit(shared_.options->requests_per_second));
    if (!peer_->challenged_key) return Status::InvalidArgument("authenticate before hello");
    const ev::KeyId& key_id = *peer_->challenged_key;
    LEDGER_RETURN_IF_ERROR(KeyAllowed(shared_.ledger->view(), key_id));
    const pj::KeyInfo* key = shared_.ledger->view().FindKey(key_id);
    ev::Signature sig{};
    if (signature.size() != sig.size()) {
      return Status::InvalidArgument("a signature is " + std::to_string(sig.size()) + " bytes");
    }
    std::copy(signature.begin(), signature.end(), sig.begin());
    const std::string& text = peer_->challenge;
    std::span<const uint8_t> message(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    if (!ev::Ed25519Verify(key->public_key, message, sig)) {
      return Status::Rejected(
          "key.signature",
          "the challenge's signature does not verify with key " + ev::Hex(key_id).substr(0, 16));
    }
    return Status::Ok();
  }

  Shared& shared_;
  std::shared_ptr<Peer> peer_;
};

// One client connection: its TLS stream and its RPC system, whose bootstrap is a fresh
// ServiceImpl, so challenges and request rates are per connection.
struct Connection {
  Connection(kj::Own<kj::AsyncIoStream> tls_stream, capnp::ReaderOptions reader,
             capnp::Capability::Client bootstrap)
      : stream(kj::mv(tls_stream)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER, reader),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

class Listener final : public kj::TaskSet::ErrorHandler {
 public:
  Listener(Shared& shared, kj::TlsContext& tls) : shared_(shared), tls_(tls), tasks_(*this) {}

  kj::Promise<void> AcceptLoop(kj::ConnectionReceiver& receiver) {
    return receiver.accept().then([this, &receiver](kj::Own<kj::AsyncIoStream> raw) {
      Accepted(kj::mv(raw));
      return AcceptLoop(receiver);
    });
  }

  void taskFailed(kj::Exception&& exception) override {
    spdlog::warn("connection failed: {}", exception.getDescription().cStr());
  }

 private:
  void Accepted(kj::Own<kj::AsyncIoStream> raw) {
    uint64_t id = ++shared_.connections_seen;
    auto peer = std::make_shared<Peer>();
    peer->name = "connection " + std::to_string(id);
    if (shared_.clients >= shared_.options->connections_max) {
      spdlog::warn("{}: refused: {} connections open (the server's --max-connections)", peer->name,
                   shared_.clients);
      return;  // dropping the stream closes it
    }
    ++shared_.clients;
    spdlog::info("{}: opened ({} open)", peer->name, shared_.clients);
    capnp::ReaderOptions reader;
    // kj rejects a message whose size exceeds the traversal limit before reading it, so this
    // is the byte cap of one message too.
    reader.traversalLimitInWords = shared_.options->message_bytes_max / sizeof(capnp::word);
    reader.nestingLimit = 64;
    Shared& shared = shared_;
    auto closed = kj::defer([&shared, peer]() {
      --shared.clients;
      spdlog::info("{}: closed ({} open)", peer->name, shared.clients);
    });
    tasks_.add(tls_.wrapServer(kj::mv(raw))
                   .then([&shared, peer, reader](kj::Own<kj::AsyncIoStream> stream) {
                     auto bootstrap = kj::heap<ServiceImpl>(shared, peer);
                     auto connection =
                         kj::heap<Connection>(kj::mv(stream), reader, kj::mv(bootstrap));
                     auto done = connection->network.onDisconnect();
                     return done.attach(kj::mv(connection));
                   })
                   .catch_([peer](kj::Exception&& e) {
                     spdlog::warn("{}: dropped: {}", peer->name, e.getDescription().cStr());
                   })
                   .attach(kj::mv(closed)));
  }

  Shared& shared_;
  kj::TlsContext& tls_;
  kj::TaskSet tasks_;
};

Status CheckOptions(const ServeOptions& options) {
  if (!options.clock) return Status::InvalidArgument("serve: no clock");
  if (options.read_only && options.notary_key) {
    return Status::InvalidArgument(
        "--notary-key needs the ledger's writer; a read-only service signs no checkpoints");
  }
  if (options.connections_max == 0) {
    return Status::InvalidArgument("--max-connections must be at least 1");
  }
  if (options.requests_per_second == 0) return Status::InvalidArgument("--rate must be at least 1");
  if (options.handshake_seconds == 0) {
    return Status::InvalidArgument("--handshake-timeout must be at least 1");
  }
  if (options.checkpoint_every_seconds < kCheckpointEverySecondsMin ||
      options.checkpoint_every_seconds > kCheckpointEverySecondsMax) {
    return Status::InvalidArgument("--checkpoint-every must be from " +
                                   std::to_string(kCheckpointEverySecondsMin) + " s to " +
                                   std::to_string(kCheckpointEverySecondsMax) + " s");
  }
  if (options.message_bytes_max < kMessageBytesMin) {
    return Status::InvalidArgument("--max-message-bytes must be at least " +
                                   std::to_string(kMessageBytesMin) +
                                   " (an entry of the largest size and its framing)");
  }
  return Status::Ok();
}

// --- Checkpoints ---

// The notary key may sign while it is a registered, unrevoked notary key of the ledger.
Status NotaryAllowed(const pj::StateView& view, const ev::PrivateKey& key) {
  const std::string id = ev::Hex(key.key_id()).substr(0, 16);
  const pj::KeyInfo* info = view.FindKey(key.key_id());
  if (info == nullptr || info->role != ev::Role::kNotary) {
    return Status::InvalidArgument("--notary-key: key " + id +
                                   " is not a registered notary key of this ledger");
  }
  if (info->revoked_seq != 0) {
    return Status::InvalidArgument("--notary-key: key " + id + " was revoked at entry " +
                                   std::to_string(info->revoked_seq));
  }
  return Status::Ok();
}

// Signs, stores and serves a checkpoint of the whole ledger if it has grown since the one
// served. Runs between calls in the event loop, never inside a write.
Status SignCheckpoint(Shared& shared, const ev::PrivateKey& key) {
  ledger::Ledger& ledger = *shared.ledger;
  if (!shared.checkpoint_note.empty() && ledger.size() <= shared.checkpoint_size) {
    return Status::Ok();
  }
  // Revoked while serving: no more checkpoints under that key.
  LEDGER_RETURN_IF_ERROR(NotaryAllowed(ledger.view(), key));
  LEDGER_ASSIGN_OR_RETURN(ev::Hash root, ledger::RootAt(ledger.tree(), ledger.size()));
  ledger::Checkpoint checkpoint{ledger.Origin(), ledger.size(), root};
  std::string note = ledger::SignNote(ledger::CheckpointText(checkpoint), ledger.Origin(), key);
  LEDGER_RETURN_IF_ERROR(ledger.StoreCheckpoint(checkpoint.size, note));
  shared.checkpoint_note = std::move(note);
  shared.checkpoint_size = checkpoint.size;
  shared.checkpoint_signed_at_ms = shared.options->clock();
  spdlog::info("signed checkpoint of {} entries, root {}", checkpoint.size, ev::Hex(root));
  return Status::Ok();
}

// Checks the notary key and takes the latest stored checkpoint as the one served, so a
// restart without growth signs nothing new.
Status StartCheckpoints(Shared& shared, const ev::PrivateKey& key) {
  LEDGER_RETURN_IF_ERROR(NotaryAllowed(shared.ledger->view(), key));
  LEDGER_ASSIGN_OR_RETURN(auto stored, shared.ledger->Checkpoints());
  if (!stored.empty()) {
    shared.checkpoint_size = stored.back().first;
    shared.checkpoint_note = std::move(stored.back().second);
  }
  return Status::Ok();
}

// Every period: a checkpoint if the ledger grew. A failure is logged and tried again at the
// next period; the service goes on serving.
kj::Promise<void> CheckpointLoop(kj::Timer& timer, Shared& shared, const ev::PrivateKey& key) {
  Status s = SignCheckpoint(shared, key);
  if (!s.ok()) spdlog::warn("checkpoint not signed: {}", s.ToString());
  return timer.afterDelay(shared.options->checkpoint_every_seconds * kj::SECONDS)
      .then([&timer, &shared, &key]() { return CheckpointLoop(timer, shared, key); });
}

}  // namespace

Status Serve(const ServeOptions& options) {
  LEDGER_RETURN_IF_ERROR(CheckOptions(options));
  LEDGER_ASSIGN_OR_RETURN(std::string cert_pem, wire::ReadPem(options.cert_file, "certificate"));
  LEDGER_ASSIGN_OR_RETURN(std::string key_pem, wire::ReadPem(options.key_file, "TLS key"));
  // Signals are taken by the event loop, so the one that stops the server is handled between
  // two calls, never inside a write. They are blocked here, before the ledger starts its
  // threads (which inherit the mask): a thread that did not block them would die of them.
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  const ledger::OpenMode mode =
      options.read_only ? ledger::OpenMode::kReader : ledger::OpenMode::kWriter;
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ledger::Ledger::Open(options.ledger_dir, mode));
  Shared shared;
  shared.ledger = ledger.get();
  shared.options = &options;
  shared.started_ms = SteadyMs();
  if (options.notary_key) LEDGER_RETURN_IF_ERROR(StartCheckpoints(shared, *options.notary_key));
  Status result;
  auto failure = kj::runCatchingExceptions([&]() {
    auto io = kj::setupAsyncIo();
    kj::Maybe<kj::TlsKeypair> keypair;
    auto bad_key = kj::runCatchingExceptions([&]() {
      keypair =
          kj::TlsKeypair{kj::TlsPrivateKey(key_pem.c_str()), kj::TlsCertificate(cert_pem.c_str())};
    });
    KJ_IF_MAYBE (e, bad_key) {
      result = Status::IOError("cannot use the certificate " + options.cert_file + " and key " +
                               options.key_file + ": " + e->getDescription().cStr());
      return;
    }
    kj::TlsContext::Options tls_options;
    tls_options.useSystemTrustStore = false;
    KJ_IF_MAYBE (pair, keypair) {
      tls_options.defaultKeypair = *pair;
    }
    tls_options.timer = io.provider->getTimer();
    tls_options.acceptTimeout = options.handshake_seconds * kj::SECONDS;
    kj::TlsContext tls(kj::mv(tls_options));
    auto address = io.provider->getNetwork().parseAddress(options.listen).wait(io.waitScope);
    auto receiver = address->listen();
    std::string bound = options.listen.substr(0, options.listen.rfind(':')) + ":" +
                        std::to_string(receiver->getPort());
    shared.timer = &io.provider->getTimer();
    Listener listener(shared, tls);
    spdlog::info("serving {} ({} entries) on {}{}{}", ledger->Origin(), ledger->size(), bound,
                 options.public_reads ? ", reads public" : "",
                 options.read_only ? ", read-only" : "");
    if (options.on_listening) options.on_listening(bound);
    auto stop =
        io.unixEventPort.onSignal(SIGTERM)
            .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
            .then([](siginfo_t info) { spdlog::info("signal {}: stopping", info.si_signo); });
    // A read-only service reopens its ledger between calls to show what its writer added; a
    // paged read that spans a reopen may see the newer ledger on its later pages.
    std::function<kj::Promise<void>()> refresh = [&]() -> kj::Promise<void> {
      return io.provider->getTimer().afterDelay(kReadOnlyRefreshMs * kj::MILLISECONDS).then([&]() {
        auto fresh = ledger::Ledger::Open(options.ledger_dir, ledger::OpenMode::kReader);
        if (!fresh.ok()) {
          spdlog::warn("reopening {}: {}", options.ledger_dir, fresh.status().ToString());
        } else {
          if ((*fresh)->size() != ledger->size()) {
            spdlog::info("now {} entries", (*fresh)->size());
          }
          ledger = std::move(*fresh);
          shared.ledger = ledger.get();
        }
        return refresh();
      });
    };
    kj::Promise<void> serving = listener.AcceptLoop(*receiver);
    if (options.read_only) serving = serving.exclusiveJoin(refresh());
    if (options.notary_key) {
      // The first check at once: a ledger grown while the server was down is signed now.
      serving = serving.exclusiveJoin(
          CheckpointLoop(io.provider->getTimer(), shared, *options.notary_key));
    }
    serving.exclusiveJoin(kj::mv(stop)).wait(io.waitScope);
  });
  KJ_IF_MAYBE (e, failure) {
    return Status::IOError("serve " + options.listen + ": " + e->getDescription().cStr());
  }
  return result;
}

}  // namespace fundledger::service
