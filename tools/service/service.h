// fundledger as a service (DESIGN.md §9, docs/SERVICE.md): `Serve` runs the one writer behind
// Cap'n Proto RPC over TLS; `ConnectLedger` is a ledger::Ledger whose reads and writes go to
// such a server, so every command works remotely unchanged. Keys never leave their holders:
// the server prepares each entry, the client signs it. No Cap'n Proto or kj type appears here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "events/crypto.h"
#include "events/status.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"

namespace fundledger::service {

// Rows, seqs or entries one paged call returns at most, and the bytes of entries one readRange
// page carries at most (one entry is always carried; events::kEntryBytesMax bounds it).
inline constexpr uint32_t kPageItemsMax = 1000;
inline constexpr size_t kPageBytesMax = 4 << 20;
// A write whose head moved under it is prepared and signed again at most this many times.
inline constexpr int kWriteAttemptsMax = 8;
// What a client accepts in one message from the server: a full page plus framing.
inline constexpr uint64_t kClientMessageBytesMax = 64 << 20;
// Defaults of the server's limits (ServeOptions).
inline constexpr uint32_t kDefaultConnectionsMax = 64;
inline constexpr uint64_t kDefaultMessageBytesMax = 4 << 20;
inline constexpr uint32_t kDefaultRequestsPerSecond = 200;
// A connection that has not finished its TLS handshake by then is closed, so silent sockets
// cannot hold every connection slot.
inline constexpr uint32_t kDefaultHandshakeSeconds = 10;
// How often a read-only service reopens its ledger to show what its writer added.
inline constexpr uint32_t kReadOnlyRefreshMs = 1000;
// Writers take the head in turns (one prepares, signs and commits while the others wait in
// line); a writer that makes no call for this long loses its turn to the next, so a stalled
// client cannot hold up the rest.
inline constexpr int64_t kWriteTurnIdleMs = 1000;
// A submitted message may not be smaller than an entry of the largest size plus framing.
inline constexpr uint64_t kMessageBytesMin = (1 << 20) + (64 << 10);

// --- Checkpoints (docs/SERVICE.md "Checkpoints") ---
// Bounds of `serve --checkpoint-every`: at least a second (a checkpoint costs a signature and a
// synced write), at most a day (a client should not wait longer to learn the head), and the
// default.
inline constexpr uint32_t kCheckpointEverySecondsMin = 1;
inline constexpr uint32_t kCheckpointEverySecondsMax = 24 * 60 * 60;
inline constexpr uint32_t kDefaultCheckpointEverySeconds = 60;

// A checkpoint a client verified: the tree head, the signed note, and when it was seen (the
// client's clock, UTC ms).
struct SeenCheckpoint {
  ledger::Checkpoint checkpoint;
  std::string note;
  int64_t seen_at_ms = 0;
};

// What a client remembers of the checkpoints it verified, one per ledger (keyed by origin).
// `recall` gives the one remembered for `origin` (nullopt: none); `remember` keeps a newer one
// in its place. Errors of either end the connection with their code.
struct CheckpointMemory {
  std::function<Result<std::optional<SeenCheckpoint>>(const std::string& origin)> recall;
  std::function<Status(const SeenCheckpoint&)> remember;
};

struct ClientOptions {
  std::string server;   // "HOST:PORT"
  std::string ca_file;  // PEM certificate(s) to trust; empty: the system trust store
  // Signs the server's challenge so reads are allowed (and must sign a write's entries).
  // nullopt: an anonymous session, which only a --public-reads server grants.
  std::optional<events::PrivateKey> key;
  // Test hook: called before each commit of a write with the attempt number (0-based), so a
  // test can move the head in between. Default: none.
  std::function<void(int attempt)> before_commit;
  // The client's memory of checkpoints. When set, connecting fetches the server's latest
  // checkpoint, verifies it against the ledger's registered notary keys and, if an older one is
  // remembered, the RFC 9162 consistency proof from it; a server that fails is refused with
  // kCorruption and nothing is remembered. Unset (tests, status): not checked.
  std::optional<CheckpointMemory> checkpoints;
};

// Connects, authenticates and loads the head, keys and policies (as Ledger::Open does), so
// `view()` answers lookups by reading rows from the server when first asked.
// kIOError naming the server if it cannot be reached, TLS fails or the connection drops;
// the server's refusal (unregistered or revoked key, no anonymous reads) keeps its code.
// Methods that need the store itself (audit's, Rebuild, FinishImport, AppendSigned,
// StoreCheckpoint) answer kInvalidArgument "… is not available with --server".
// Append runs the two-phase write: recordedAt is the server's clock (`at_ms` is not used;
// the CLI refuses --at with --server), and `now_ms` is not used either.
// Thread safety: one thread; one connected ledger per thread at a time.
Result<std::unique_ptr<ledger::Ledger>> ConnectLedger(ClientOptions options);

// The server's answer to `status`, for `fundledger status --server`.
struct ServerStatus {
  std::string origin;  // "fundledger/<ledger id hex>"
  uint64_t size = 0;
  events::Hash root{};
  int64_t uptime_ms = 0;
  uint32_t clients = 0;
  bool public_reads = false;
  // The latest checkpoint the server serves, as it states it (its signature is checked by
  // connecting with a CheckpointMemory, not here); nullopt if it serves none.
  std::optional<ledger::Checkpoint> checkpoint;
  int64_t checkpoint_signed_at_ms = 0;  // 0: signed before the server started
};
Result<ServerStatus> QueryStatus(const ClientOptions& options);

struct ServeOptions {
  std::string ledger_dir;
  std::string listen;         // "HOST:PORT"; port 0 picks a free one (see on_listening)
  std::string cert_file;      // PEM certificate chain of the server
  std::string key_file;       // PEM private key of the certificate
  bool public_reads = false;  // reads without authentication. Default: false.
  // Serve a ledger another process writes (a mirror's copy): opened as a reader beside its
  // writer, reopened every kReadOnlyRefreshMs to show the entries written since, and every
  // write refused. Default: false (the service is the ledger's one writer).
  bool read_only = false;
  uint32_t connections_max = kDefaultConnectionsMax;  // more are closed at once
  // Largest message read from a client; a larger one drops its connection, unread.
  uint64_t message_bytes_max = kDefaultMessageBytesMax;
  uint32_t requests_per_second = kDefaultRequestsPerSecond;  // per connection; more: kBusy
  uint32_t handshake_seconds = kDefaultHandshakeSeconds;  // then an unfinished TLS handshake ends
  // The server's clock (UTC ms): what dates every entry. Required.
  std::function<int64_t()> clock;
  // Signs a checkpoint every `checkpoint_every_seconds` when the ledger has grown since the
  // last, stores it and serves it (latestCheckpoint). Must be a registered notary key of the
  // ledger, not revoked, else Serve refuses to start. nullopt: no checkpoints are signed or
  // served.
  std::optional<events::PrivateKey> notary_key;
  uint32_t checkpoint_every_seconds = kDefaultCheckpointEverySeconds;
  // Called once with the bound "HOST:PORT" when the server accepts connections.
  std::function<void(const std::string&)> on_listening;
};

// Opens the ledger as its one writer and serves it until SIGTERM or SIGINT, which let the
// call in flight finish and then return Ok. kIOError/kBusy opening the ledger, reading the
// certificate or key, or binding the address; kInvalidArgument for a bad option (a notary
// key that is not a registered, unrevoked notary of the ledger included).
Status Serve(const ServeOptions& options);

}  // namespace fundledger::service
