// The client side: a ledger::Ledger whose rows, entries, index and tree come from a server, and
// whose writes are prepared by the server and signed here.
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/compat/tls.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
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

namespace fundledger::service {
namespace {

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
namespace sv = ::fundledger::schema::service;
using wire::AsData;
using wire::Span;

Status NotRemote(const char* what) {
  return Status::InvalidArgument(std::string(what) + " is not available with --server");
}

// The host part of "HOST:PORT" ("[::1]:7000" gives "::1"), which the certificate must name.
std::string HostOf(const std::string& server) {
  std::string host = server.substr(0, server.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

// kj allows one event loop per thread: the connections a thread opens share it.
struct ThreadIo {
  ThreadIo() : io(kj::setupAsyncIo()) {}
  kj::AsyncIoContext io;
};

std::shared_ptr<ThreadIo> CurrentThreadIo() {
  thread_local std::weak_ptr<ThreadIo> current;
  std::shared_ptr<ThreadIo> io = current.lock();
  if (!io) {
    io = std::make_shared<ThreadIo>();
    current = io;
  }
  return io;
}

// An open, TLS-protected RPC connection to a server, driven synchronously: each call waits
// for its answer on the event loop of the thread that opened it.
class Channel {
 public:
  explicit Channel(std::string server)
      : server_(std::move(server)),
        owner_(std::this_thread::get_id()),
        thread_io_(CurrentThreadIo()),
        io_(thread_io_->io) {}

  Status Connect(const std::string& ca_file) {
    std::string ca_pem;
    if (!ca_file.empty()) {
      LEDGER_ASSIGN_OR_RETURN(ca_pem, wire::ReadPem(ca_file, "server CA file"));
    }
    if (server_.find(':') == std::string::npos) {
      return Status::InvalidArgument("--server " + server_ + ": give HOST:PORT");
    }
    return Run([&]() -> Status {
      kj::TlsContext::Options options;
      std::vector<kj::TlsCertificate> trusted;
      if (!ca_pem.empty()) {
        trusted.emplace_back(ca_pem.c_str());
        options.useSystemTrustStore = false;
        options.trustedCertificates = kj::arrayPtr(trusted.data(), trusted.size());
      }
      tls_ = kj::heap<kj::TlsContext>(kj::mv(options));
      auto address = io_.provider->getNetwork().parseAddress(server_).wait(io_.waitScope);
      auto raw = address->connect().wait(io_.waitScope);
      stream_ = tls_->wrapClient(kj::mv(raw), HostOf(server_).c_str()).wait(io_.waitScope);
      capnp::ReaderOptions reader;
      reader.traversalLimitInWords = kClientMessageBytesMax / sizeof(capnp::word);
      // TwoPartyClient takes no ReaderOptions in Cap'n Proto 0.9, hence the parts by hand.
      network_ =
          kj::heap<capnp::TwoPartyVatNetwork>(*stream_, capnp::rpc::twoparty::Side::CLIENT, reader);
      rpc_ =
          kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcClient(*network_));
      capnp::MallocMessageBuilder vat_message(8);
      auto vat = vat_message.initRoot<capnp::rpc::twoparty::VatId>();
      vat.setSide(capnp::rpc::twoparty::Side::SERVER);
      service_ = rpc_->bootstrap(vat).castAs<sv::Service>();
      return Status::Ok();
    });
  }

  // Runs `fn`, turning a kj exception (connection refused or dropped, TLS failure, a message
  // over a limit) into kIOError naming the server: exit 4, as any unreachable environment.
  template <typename Fn>
  Status Run(Fn&& fn) {
    // The event loop is the opening thread's; work spread over threads (audit's parallel
    // replay) needs the ledger itself.
    if (std::this_thread::get_id() != owner_) {
      return Status::InvalidArgument(
          "reading from several threads is not available with "
          "--server");
    }
    Status out;
    auto failure = kj::runCatchingExceptions([&]() { out = fn(); });
    KJ_IF_MAYBE (e, failure) {
      return Status::IOError("server " + server_ + ": " + e->getDescription().cStr());
    }
    return out;
  }

  kj::WaitScope& wait_scope() { return io_.waitScope; }
  sv::Service::Client& service() { return *service_; }
  const std::string& server() const { return server_; }

 private:
  std::string server_;
  std::thread::id owner_;
  std::shared_ptr<ThreadIo> thread_io_;
  kj::AsyncIoContext& io_;
  kj::Own<kj::TlsContext> tls_;
  kj::Own<kj::AsyncIoStream> stream_;
  kj::Own<capnp::TwoPartyVatNetwork> network_;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc_;
  std::optional<sv::Service::Client> service_;
};

// The error a result carries, if any.
template <typename Reader>
Status ErrorOf(const Reader& results) {
  if (results.hasError()) return wire::ToStatus(results.getError());
  return Status::Ok();
}

class RemoteLedger;

class RemoteRows final : public pj::RowSource {
 public:
  explicit RemoteRows(const RemoteLedger* ledger) : ledger_(ledger) {}
  Result<std::optional<std::string>> ReadRow(const std::string& row_key) const override;

 private:
  const RemoteLedger* ledger_;
};

class RemoteTree final : public ledger::MerkleNodeSource {
 public:
  explicit RemoteTree(const RemoteLedger* ledger) : ledger_(ledger) {}
  Result<events::Hash> Node(uint32_t level, uint64_t index) const override;

 private:
  const RemoteLedger* ledger_;
};

// An audit reads the store itself: over the wire there is none to read (audit and verify are
// refused with --server before they get here; a mirror audits its own copy).
class NoInspection final : public ledger::Inspection {
 public:
  Result<uint64_t> CountStoredEntries() const override { return NotRemote("counting records"); }
  Result<std::optional<std::string>> StoredRow(const std::string&) const override {
    return NotRemote("audit of stored rows");
  }
  Status ScanRows(const std::function<void(std::string_view, std::string_view)>&) const override {
    return NotRemote("audit of stored rows");
  }
  Result<std::optional<std::string>> RowAsOf(const std::string&, uint64_t) const override {
    return NotRemote("audit of row history");
  }
  Status HistoryVersions(const std::vector<NameAt>&,
                         std::vector<std::optional<std::string>>*) const override {
    return NotRemote("audit of row history");
  }
  Status IndexListed(const std::vector<NameAt>&, std::vector<bool>*) const override {
    return NotRemote("audit of the index");
  }
  Result<std::array<uint64_t, 3>> CountDerived() const override {
    return NotRemote("audit of derived records");
  }
  Result<std::vector<std::pair<std::string, std::string>>> UnaccountedRecords() const override {
    return NotRemote("audit of stored records");
  }
  // A cursor that is at its end with the refusal as its status.
  std::unique_ptr<Cursor> MerkleFrom(std::string_view) const override {
    class Refused final : public Cursor {
     public:
      bool Valid() const override { return false; }
      std::string_view key() const override { return {}; }
      std::string_view value() const override { return {}; }
      void Next() override {}
      Status status() const override { return NotRemote("audit of the Merkle tree"); }
    };
    return std::make_unique<Refused>();
  }
};

class RemoteLedger final : public ledger::Ledger {
 public:
  RemoteLedger(std::unique_ptr<Channel> channel, ClientOptions options)
      : channel_(std::move(channel)), options_(std::move(options)), rows_(this), tree_(this) {}
  // kj members may declare throwing destructors; a Ledger is destroyed without exceptions.
  ~RemoteLedger() noexcept override = default;

  Status OpenSession() {
    return channel_->Run([&]() -> Status {
      if (!options_.key) {
        auto reply = channel_->service().anonymousRequest().send().wait(channel_->wait_scope());
        LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
        session_ = reply.getSession();
        return Status::Ok();
      }
      const ev::PrivateKey& key = *options_.key;
      auto hello = channel_->service().helloRequest();
      ev::KeyId key_id = key.key_id();
      hello.setKeyId(AsData(key_id));
      auto challenge = hello.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(challenge));
      auto text = Span(challenge.getChallenge());
      if (text.size() > 256) return Status::IOError("the server's challenge is too long");
      auto auth = channel_->service().authenticateRequest();
      ev::Signature signature = key.Sign(text);
      auth.setSignature(AsData(signature));
      auto reply = auth.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      session_ = reply.getSession();
      return Status::Ok();
    });
  }

  // The head, keys and policies, as RocksLedger::LoadState reads them, through the same row
  // codec (projections::LoadRow).
  Status LoadState() {
    pj::LedgerState state;
    Status run = channel_->Run([&]() -> Status {
      auto reply = session().residentRequest().send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      for (auto row : reply.getRows()) {
        std::string value(reinterpret_cast<const char*>(row.getValue().begin()),
                          row.getValue().size());
        LEDGER_RETURN_IF_ERROR(pj::LoadRow(&state, row.getKey(), value));
      }
      return Status::Ok();
    });
    LEDGER_RETURN_IF_ERROR(run);
    if (state.info.head_seq == 0) return Status::Corruption("the server's ledger has no head");
    state_ = std::move(state);
    state_.source = &rows_;
    return Status::Ok();
  }

  Result<std::optional<std::string>> FetchRow(const std::string& key) const {
    std::optional<std::string> out;
    Status run = channel_->Run([&]() -> Status {
      auto request = session().readRowRequest();
      request.setKey(key);
      auto reply = request.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      if (reply.getFound()) {
        out = std::string(reinterpret_cast<const char*>(reply.getValue().begin()),
                          reply.getValue().size());
      }
      return Status::Ok();
    });
    LEDGER_RETURN_IF_ERROR(run);
    return out;
  }

  Result<events::Hash> FetchNode(uint32_t level, uint64_t index) const {
    events::Hash out{};
    Status run = channel_->Run([&]() -> Status {
      auto request = session().nodeRequest();
      request.setLevel(level);
      request.setIndex(index);
      auto reply = request.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      auto hash = Span(reply.getHash());
      if (hash.size() != out.size()) return Status::Corruption("the server sent a short hash");
      std::copy(hash.begin(), hash.end(), out.begin());
      return Status::Ok();
    });
    LEDGER_RETURN_IF_ERROR(run);
    return out;
  }

  // --- ledger::Ledger ---

  Result<pj::LedgerState> Rows(const std::vector<std::string>& prefixes) const override {
    return Paged(prefixes, std::nullopt);
  }
  Status FinishImport() override { return NotRemote("import"); }
  Result<std::vector<ledger::AppendResult>> Append(const ev::PrivateKey& signer,
                                                   std::span<const ledger::AppendRequest> requests,
                                                   int64_t at_ms, int64_t now_ms) override;
  Status AppendSigned(std::span<const ledger::StoredEntry>, int64_t, bool) override {
    return NotRemote("appending entries signed elsewhere (import)");
  }
  Result<ledger::StoredEntry> Read(uint64_t seq) const override;
  Result<ledger::Bytes> ReadRaw(uint64_t seq) const override {
    std::vector<Result<ledger::Bytes>> out;
    ReadRawRange(seq, 1, &out);
    return std::move(out.front());
  }
  Result<std::vector<uint64_t>> IndexSeqs(const std::string& index) const override;
  const ledger::MerkleNodeSource& tree() const override { return tree_; }
  const ledger::Inspection& inspection() const override {
    static const NoInspection none;
    return none;
  }
  Status StoreCheckpoint(uint64_t, const std::string&) override {
    return NotRemote("storing a checkpoint");
  }
  Result<std::vector<std::pair<uint64_t, std::string>>> Checkpoints() const override;
  Result<uint64_t> Rebuild() override { return NotRemote("rebuild"); }
  Result<pj::LedgerState> StateAsOf(uint64_t seq,
                                    const std::vector<std::string>& prefixes) const override {
    return Paged(prefixes, seq);
  }
  void ReadRawRange(uint64_t first, size_t count,
                    std::vector<Result<ledger::Bytes>>* out) const override;

  // --- Checkpoints ---
  // The server's latest checkpoint, verified against the notary keys of the loaded state and,
  // if `memory` recalls an older one of this ledger, by a consistency proof from it; then
  // remembered. kCorruption if it fails (nothing remembered).
  Status CheckCheckpoint(const CheckpointMemory& memory);

 private:
  sv::Session::Client& session() const { return *session_; }

  // Rows (as_of empty) or StateAsOf, page by page, into a whole state.
  Result<pj::LedgerState> Paged(const std::vector<std::string>& prefixes,
                                std::optional<uint64_t> as_of) const;
  // One attempt of a write; nullopt if the head moved and it must be made again.
  Result<std::optional<std::vector<ledger::AppendResult>>> TryAppend(
      const ev::PrivateKey& signer, std::span<const ledger::AppendRequest> requests, int attempt);

  std::unique_ptr<Channel> channel_;
  ClientOptions options_;
  RemoteRows rows_;
  RemoteTree tree_;
  mutable std::optional<sv::Session::Client> session_;
};

Result<std::optional<std::string>> RemoteRows::ReadRow(const std::string& row_key) const {
  return ledger_->FetchRow(row_key);
}

Result<events::Hash> RemoteTree::Node(uint32_t level, uint64_t index) const {
  return ledger_->FetchNode(level, index);
}

template <typename List>
void SetPrefixes(List list, const std::vector<std::string>& prefixes) {
  for (unsigned i = 0; i < prefixes.size(); ++i) list.set(i, prefixes[i]);
}

Result<pj::LedgerState> RemoteLedger::Paged(const std::vector<std::string>& prefixes,
                                            std::optional<uint64_t> as_of) const {
  if (prefixes.size() > kPageItemsMax) return Status::InvalidArgument("too many row prefixes");
  pj::LedgerState out;
  std::string after;
  bool more = true;
  // Each page ends past the last; a server that does not move on is cut off.
  for (uint64_t pages = 0; more; ++pages) {
    if (pages > (uint64_t{1} << 32)) return Status::IOError("the server pages without end");
    Status run = channel_->Run([&]() -> Status {
      auto load = [&](auto reply) -> Status {
        LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
        more = reply.getMore();
        std::string last = after;
        for (auto row : reply.getRows()) {
          std::string key = row.getKey();
          if (key <= last) return Status::IOError("the server sent rows out of order");
          std::string value(reinterpret_cast<const char*>(row.getValue().begin()),
                            row.getValue().size());
          LEDGER_RETURN_IF_ERROR(pj::LoadRow(&out, key, value));
          last = key;
        }
        if (more && last == after) return Status::IOError("the server sent an empty page");
        after = last;
        return Status::Ok();
      };
      if (as_of) {
        auto request = session().stateAsOfRequest();
        request.setSeq(*as_of);
        SetPrefixes(request.initPrefixes(static_cast<unsigned>(prefixes.size())), prefixes);
        request.setAfter(after);
        return load(request.send().wait(channel_->wait_scope()));
      }
      auto request = session().rowsRequest();
      SetPrefixes(request.initPrefixes(static_cast<unsigned>(prefixes.size())), prefixes);
      request.setAfter(after);
      return load(request.send().wait(channel_->wait_scope()));
    });
    LEDGER_RETURN_IF_ERROR(run);
  }
  return out;
}

void RemoteLedger::ReadRawRange(uint64_t first, size_t count,
                                std::vector<Result<ledger::Bytes>>* out) const {
  out->clear();
  uint64_t next = first;
  while (out->size() < count) {
    size_t asked = std::min<size_t>(count - out->size(), kPageItemsMax);
    size_t got = 0;
    Status s = channel_->Run([&]() -> Status {
      auto request = session().readRangeRequest();
      request.setFirst(next);
      request.setCount(static_cast<uint32_t>(asked));
      auto reply = request.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      for (auto value : reply.getValues()) {
        if (got >= asked) break;
        out->push_back(ledger::Bytes(value.begin(), value.end()));
        ++got;
      }
      return Status::Ok();
    });
    if (!s.ok()) {
      while (out->size() < count) out->push_back(s);
      return;
    }
    next += got;
    if (got == 0) break;  // past the head
  }
  while (out->size() < count) {
    uint64_t seq = first + out->size();
    out->push_back(Status::NotFound("entry " + std::to_string(seq) + " does not exist"));
  }
}

Result<ledger::StoredEntry> RemoteLedger::Read(uint64_t seq) const {
  auto raw = ReadRaw(seq);
  if (!raw.ok() && raw.status().IsNotFound() && seq >= 1 && seq <= size()) {
    return Status::Corruption("entry " + std::to_string(seq) + " is missing below the head " +
                              std::to_string(size()));
  }
  LEDGER_ASSIGN_OR_RETURN(ledger::Bytes value, std::move(raw));
  LEDGER_ASSIGN_OR_RETURN(ledger::StoredEntry stored, ledger::SplitStoredValue(value));
  const std::string where = "entry " + std::to_string(seq);
  if (stored.entry.seq != seq) return Status::Corruption(where + ": sent for the wrong seq");
  // The server is not trusted with signatures: each entry is checked against its signer's
  // key, registered before it (entry 1 against the authority key it names).
  std::optional<ev::PublicKey> key;
  if (seq == 1) {
    if (const auto* created = std::get_if<ev::LedgerCreated>(&stored.entry.body)) {
      key = created->authority_public_key;
    }
    if (key && ev::KeyIdOf(*key) != stored.entry.signer) key.reset();
  } else if (const pj::KeyInfo* info = state_.FindKey(stored.entry.signer)) {
    if (info->registered_seq < seq) key = info->public_key;
  }
  if (!key || !ev::Ed25519Verify(*key, stored.entry_bytes, stored.signature)) {
    return Status::Corruption(where + ": signature does not verify");
  }
  return stored;
}

Result<std::vector<uint64_t>> RemoteLedger::IndexSeqs(const std::string& index) const {
  std::vector<uint64_t> out;
  bool more = true;
  while (more) {
    Status run = channel_->Run([&]() -> Status {
      auto request = session().indexSeqsRequest();
      request.setIndex(index);
      request.setAfter(out.empty() ? 0 : out.back());
      auto reply = request.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      more = reply.getMore();
      size_t before = out.size();
      for (uint64_t seq : reply.getSeqs()) {
        if (!out.empty() && seq <= out.back()) {
          return Status::IOError("the server sent index seqs out of order");
        }
        out.push_back(seq);
      }
      if (more && out.size() == before) return Status::IOError("the server sent an empty page");
      return Status::Ok();
    });
    LEDGER_RETURN_IF_ERROR(run);
  }
  return out;
}

Result<std::vector<std::pair<uint64_t, std::string>>> RemoteLedger::Checkpoints() const {
  std::vector<std::pair<uint64_t, std::string>> out;
  bool more = true;
  while (more) {
    Status run = channel_->Run([&]() -> Status {
      auto request = session().checkpointsRequest();
      request.setAfter(out.empty() ? 0 : out.back().first);
      auto reply = request.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      more = reply.getMore();
      size_t before = out.size();
      for (auto checkpoint : reply.getCheckpoints()) {
        if (!out.empty() && checkpoint.getTreeSize() <= out.back().first) {
          return Status::IOError("the server sent checkpoints out of order");
        }
        out.emplace_back(checkpoint.getTreeSize(), checkpoint.getNote());
      }
      if (more && out.size() == before) return Status::IOError("the server sent an empty page");
      return Status::Ok();
    });
    LEDGER_RETURN_IF_ERROR(run);
  }
  return out;
}

// --- Checkpoints ---

// The note and its signing time the server serves; an empty note if it serves none.
Result<std::pair<std::string, int64_t>> FetchLatestCheckpoint(Channel& channel) {
  std::pair<std::string, int64_t> out;
  Status run = channel.Run([&]() -> Status {
    auto reply = channel.service().latestCheckpointRequest().send().wait(channel.wait_scope());
    LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
    if (reply.getNote().size() > ledger::kNoteBytesMax) {
      return Status::Corruption("the server's checkpoint note is over " +
                                std::to_string(ledger::kNoteBytesMax) + " bytes");
    }
    out = {std::string(reply.getNote()), reply.getSignedAtMs()};
    return Status::Ok();
  });
  LEDGER_RETURN_IF_ERROR(run);
  return out;
}

std::string Describe(const ledger::Checkpoint& checkpoint) {
  return std::to_string(checkpoint.size) + " entries, root " +
         ev::Hex(checkpoint.root).substr(0, 16);
}

Status RemoteLedger::CheckCheckpoint(const CheckpointMemory& memory) {
  LEDGER_ASSIGN_OR_RETURN(auto latest, FetchLatestCheckpoint(*channel_));
  const std::string origin = Origin();
  LEDGER_ASSIGN_OR_RETURN(std::optional<SeenCheckpoint> seen, memory.recall(origin));
  if (latest.first.empty()) {
    // Nothing to check against: the one remembered stays for the next server that serves one.
    if (seen) {
      spdlog::warn("server {} serves no checkpoint; the one seen on {} ({}) is kept",
                   channel_->server(), ev::FormatInstant(seen->seen_at_ms),
                   Describe(seen->checkpoint));
    }
    return Status::Ok();
  }
  // Signed by a notary key registered in this ledger, as audit --checkpoint checks it.
  std::vector<ledger::NoteVerifier> verifiers;
  for (const auto& [row, info] : state_.keys) {
    if (info.role != ev::Role::kNotary) continue;
    auto verifier = ledger::ParseVerifierKey(ledger::VerifierKey(origin, info.public_key));
    if (verifier.ok()) verifiers.push_back(*verifier);
  }
  auto opened = ledger::OpenNote(latest.first, verifiers);
  if (!opened.ok()) {
    return Status::Corruption("the server's checkpoint is not signed by a notary key of " + origin +
                              ": " + opened.status().message());
  }
  auto served = ledger::ParseCheckpointText(opened->text);
  if (!served.ok()) {
    return Status::Corruption("the server's checkpoint: " + served.status().message());
  }
  if (served->origin != origin) {
    return Status::Corruption("the server's checkpoint is of " + served->origin + ", not " +
                              origin);
  }
  if (served->size > size()) {
    return Status::Corruption("the server's checkpoint covers " + std::to_string(served->size) +
                              " entries but its ledger holds " + std::to_string(size()));
  }
  if (seen) {
    const ledger::Checkpoint& old = seen->checkpoint;
    auto inconsistent = [&](const std::string& why) {
      return Status::Corruption("the server's checkpoint (" + Describe(*served) +
                                ") is not consistent with the one seen on " +
                                ev::FormatInstant(seen->seen_at_ms) + " (" + Describe(old) +
                                "): " + why);
    };
    if (served->size < old.size) return inconsistent("it is smaller");
    if (served->size == old.size) {
      if (served->root != old.root) return inconsistent("the same size with another root");
      return Status::Ok();  // nothing newer to remember
    }
    std::vector<ev::Hash> proof;
    Status run = channel_->Run([&]() -> Status {
      auto request = session().consistencyRequest();
      request.setOldSize(old.size);
      request.setNewSize(served->size);
      auto reply = request.send().wait(channel_->wait_scope());
      LEDGER_RETURN_IF_ERROR(ErrorOf(reply));
      // RFC 9162: a proof has at most two hashes per level of a tree of 2^64 leaves.
      if (reply.getHashes().size() > 128) return Status::Corruption("the proof is too long");
      for (auto hash : reply.getHashes()) {
        ev::Hash h{};
        if (hash.size() != h.size()) return Status::Corruption("a proof hash is not 32 bytes");
        std::copy(hash.begin(), hash.end(), h.begin());
        proof.push_back(h);
      }
      return Status::Ok();
    });
    if (run.IsCorruption()) return inconsistent(run.message());
    LEDGER_RETURN_IF_ERROR(run);
    Status verified =
        ledger::VerifyConsistency(old.size, served->size, old.root, served->root, proof);
    if (!verified.ok()) return inconsistent(verified.message());
  }
  return memory.remember(SeenCheckpoint{*served, latest.first, 0});
}

Result<std::vector<ledger::AppendResult>> RemoteLedger::Append(
    const ev::PrivateKey& signer, std::span<const ledger::AppendRequest> requests,
    int64_t /*at_ms*/, int64_t /*now_ms*/) {
  if (requests.empty()) return Status::InvalidArgument("nothing to append");
  if (requests.size() > ledger::kBatchEntriesMax) {
    return Status::InvalidArgument("more than " + std::to_string(ledger::kBatchEntriesMax) +
                                   " entries in one append");
  }
  if (!options_.key || options_.key->key_id() != signer.key_id()) {
    return Status::InvalidArgument(
        "a write with --server is signed by the key the session "
        "was opened with (--key)");
  }
  for (int attempt = 0; attempt < kWriteAttemptsMax; ++attempt) {
    if (attempt > 0) {
      // Writers that lost the race wait a random, growing while, so they do not meet again.
      std::array<uint8_t, 2> noise{};
      ev::RandomBytes(noise);
      int64_t ms = (1 + (noise[0] | noise[1] << 8) % 8) << std::min(attempt, 5);
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    LEDGER_ASSIGN_OR_RETURN(auto results, TryAppend(signer, requests, attempt));
    if (results) {
      LEDGER_RETURN_IF_ERROR(LoadState());  // the new head, keys and policies
      return std::move(*results);
    }
  }
  return Status::Busy("the ledger's head moved " + std::to_string(kWriteAttemptsMax) +
                      " times during this write; nothing was written, try again");
}

Result<std::optional<std::vector<ledger::AppendResult>>> RemoteLedger::TryAppend(
    const ev::PrivateKey& signer, std::span<const ledger::AppendRequest> requests, int attempt) {
  std::optional<std::vector<ledger::AppendResult>> out;
  Status run = channel_->Run([&]() -> Status {
    auto opened = session().writeRequest().send().wait(channel_->wait_scope());
    LEDGER_RETURN_IF_ERROR(ErrorOf(opened));
    sv::Writer::Client writer = opened.getWriter();
    std::vector<ledger::AppendResult> results;
    for (size_t i = 0; i < requests.size(); ++i) {
      const ledger::AppendRequest& request = requests[i];
      auto where = [&](const Status& s) {
        return requests.size() > 1 ? s.WithPrefix("request " + std::to_string(i + 1)) : s;
      };
      // Only body and idempotency key of this entry are read by the server.
      ev::Entry asked;
      asked.body = request.body;
      asked.idempotency_key = request.idempotency_key;
      auto bytes = ev::EncodeEntryForSigning(asked);
      if (!bytes.ok()) return where(bytes.status());
      auto prepare = writer.prepareRequest();
      auto wire_request = prepare.initRequest();
      wire_request.setEntry(AsData(*bytes));
      wire_request.setAwardMax(request.defaults.award_max);
      wire_request.setAwardSplit(request.defaults.award_split);
      wire_request.setApplyTrack(request.defaults.apply_track);
      wire_request.setRevokeUnpaid(request.defaults.revoke_unpaid);
      auto prepared = prepare.send().wait(channel_->wait_scope());
      if (Status s = ErrorOf(prepared); !s.ok()) return where(s);
      if (prepared.getHeadMoved()) return Status::Ok();
      if (prepared.getReplayedSeq() != 0) {
        results.push_back(ledger::AppendResult{prepared.getReplayedSeq(), true, ""});
        continue;
      }
      // The server chose seq, prev hash and time; the author signs only an entry of this
      // ledger, by this key, carrying exactly the body asked for.
      auto entry_bytes = Span(prepared.getEntry());
      LEDGER_ASSIGN_OR_RETURN(ev::Entry entry,
                              ev::DecodeEntry(entry_bytes, ev::BytesOrigin::kSubmitted));
      if (entry.ledger_id != state_.info.ledger_id || entry.signer != signer.key_id() ||
          entry.idempotency_key != request.idempotency_key ||
          std::string_view(ev::KindName(entry.body)) != ev::KindName(request.body) ||
          (!request.defaults.Any() && ev::BodyDigest(entry.body) != ev::BodyDigest(request.body))) {
        return Status::Corruption("the server prepared an entry other than the one asked for");
      }
      auto sign = writer.signRequest();
      ev::Signature signature = signer.Sign(entry_bytes);
      sign.setSignature(AsData(signature));
      auto signed_reply = sign.send().wait(channel_->wait_scope());
      if (Status s = ErrorOf(signed_reply); !s.ok()) return where(s);
      results.push_back(ledger::AppendResult{entry.seq, false, prepared.getNote()});
    }
    if (options_.before_commit) options_.before_commit(attempt);
    auto committed = writer.commitRequest().send().wait(channel_->wait_scope());
    LEDGER_RETURN_IF_ERROR(ErrorOf(committed));
    if (committed.getHeadMoved()) return Status::Ok();
    out = std::move(results);
    return Status::Ok();
  });
  LEDGER_RETURN_IF_ERROR(run);
  return out;
}

Result<std::unique_ptr<Channel>> OpenChannel(const ClientOptions& options) {
  auto channel = std::make_unique<Channel>(options.server);
  LEDGER_RETURN_IF_ERROR(channel->Connect(options.ca_file));
  return channel;
}

}  // namespace

Result<std::unique_ptr<ledger::Ledger>> ConnectLedger(ClientOptions options) {
  LEDGER_ASSIGN_OR_RETURN(auto channel, OpenChannel(options));
  std::optional<CheckpointMemory> checkpoints = options.checkpoints;
  auto remote = std::make_unique<RemoteLedger>(std::move(channel), std::move(options));
  LEDGER_RETURN_IF_ERROR(remote->OpenSession());
  LEDGER_RETURN_IF_ERROR(remote->LoadState());
  if (checkpoints) LEDGER_RETURN_IF_ERROR(remote->CheckCheckpoint(*checkpoints));
  return std::unique_ptr<ledger::Ledger>(std::move(remote));
}

Result<ServerStatus> QueryStatus(const ClientOptions& options) {
  LEDGER_ASSIGN_OR_RETURN(auto channel, OpenChannel(options));
  ServerStatus out;
  Status run = channel->Run([&]() -> Status {
    auto reply = channel->service().statusRequest().send().wait(channel->wait_scope());
    auto status = reply.getStatus();
    auto id = Span(status.getLedgerId());
    auto root = Span(status.getRootHash());
    if (id.size() != 16 || root.size() != out.root.size()) {
      return Status::IOError("the server's status is malformed");
    }
    out.origin = "fundledger/" + ev::Hex(id);
    out.size = status.getSize();
    std::copy(root.begin(), root.end(), out.root.begin());
    out.uptime_ms = status.getUptimeMs();
    out.clients = status.getClients();
    out.public_reads = status.getPublicReads();
    return Status::Ok();
  });
  LEDGER_RETURN_IF_ERROR(run);
  // --- Checkpoints: as the server states it; the signature is checked on connecting.
  LEDGER_ASSIGN_OR_RETURN(auto latest, FetchLatestCheckpoint(*channel));
  if (!latest.first.empty()) {
    size_t end = latest.first.rfind("\n\n");
    auto parsed = ledger::ParseCheckpointText(
        end == std::string::npos ? std::string_view()
                                 : std::string_view(latest.first).substr(0, end + 1));
    if (!parsed.ok()) {
      return Status::Corruption("the server's checkpoint: " + parsed.status().message());
    }
    out.checkpoint = *parsed;
    out.checkpoint_signed_at_ms = latest.second;
  }
  return out;
}

}  // namespace fundledger::service
