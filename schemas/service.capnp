@0xdfe93ba86f1f8ef2;
# The service protocol of `fundledger serve` (docs/SERVICE.md): Cap'n Proto RPC over TLS. It
# carries stored bytes as they are (entry values, projection rows in their row encoding), so a
# client decodes and checks them with the same code as a local reader. Evolution as for
# ledger.capnp: new fields and methods take new ordinals; nothing is renumbered or reused.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fundledger::schema::service");

# A refusal or failure, with the code of events/status.h (StatusCode) so that a remote command
# exits as the local one would: 1 rejected (with `rule`), 2 invalid argument or not found,
# 3 corruption, 4 I/O or busy. Absent (hasError() false) on success.
struct Error {
  code @0 :UInt8;
  rule @1 :Text;
  message @2 :Text;
}

struct ServerStatus {
  ledgerId @0 :Data;      # 16 bytes
  size @1 :UInt64;        # entries (the head seq)
  rootHash @2 :Data;      # RFC 9162 root over the leaves 1..size
  uptimeMs @3 :Int64;
  clients @4 :UInt32;     # connections open now
  publicReads @5 :Bool;   # reads need no authentication
}

# One projection row: its key and stored bytes (projections::LoadRow's encoding).
struct Row {
  key @0 :Text;
  value @1 :Data;
}

struct Checkpoint {
  treeSize @0 :UInt64;
  note @1 :Text;
}

# The bootstrap capability. Reads and writes go through a Session, obtained by signing a
# challenge (hello, then authenticate) or, only when the server runs --public-reads, by
# `anonymous` (reads only).
interface Service {
  status @0 () -> (status :ServerStatus);
  # A challenge for `keyId` (32 bytes): the text "fundledger-service-auth/1 <ledger id hex>
  # <nonce hex>\n" with 32 fresh random bytes of nonce. Valid for one authenticate call on this
  # connection.
  hello @1 (keyId :Data) -> (error :Error, challenge :Data);
  # Ed25519 signature of the challenge by the key named in hello: a registered key, not revoked.
  authenticate @2 (signature :Data) -> (error :Error, session :Session);
  anonymous @3 () -> (error :Error, session :Session);

  # --- Checkpoints (docs/SERVICE.md "Checkpoints") ---
  # The latest checkpoint the server signed or stored, as a C2SP signed note (the `checkpoint`
  # command's format), when the server runs with --notary-key; hasNote false otherwise.
  # signedAtMs: the server's clock when it signed it, 0 if it was signed before the server
  # started. Needs no session: a checkpoint is made to be published.
  latestCheckpoint @4 () -> (error :Error, note :Text, signedAtMs :Int64);
}

# Every list a call returns is bounded (docs/SERVICE.md "Limits"); a paged call returns `more`
# and the caller asks again from where the page ended.
interface Session {
  # The rows a ledger holds whole: "head" and every "key/" and "policy/" row.
  resident @0 () -> (error :Error, rows :List(Row));
  # Row `key` as stored; found = false if there is none.
  readRow @1 (key :Text) -> (error :Error, found :Bool, value :Data);
  # Current rows whose keys start with any of `prefixes`, in order, after key `after` ("" from
  # the first), at most one page.
  rows @2 (prefixes :List(Text), after :Text) -> (error :Error, rows :List(Row), more :Bool);
  # Raw stored values (canonical entry bytes followed by the 64-byte signature) of entries
  # first..first+count-1 that exist; fewer than `count` only past the head or past a page.
  readRange @3 (first :UInt64, count :UInt32) -> (error :Error, values :List(Data));
  # Seqs an index lists, ascending, greater than `after`, at most one page.
  indexSeqs @4 (index :Text, after :UInt64) -> (error :Error, seqs :List(UInt64), more :Bool);
  # Stored checkpoints by tree size, those larger than `after`, at most one page.
  checkpoints @5 (after :UInt64) -> (error :Error, checkpoints :List(Checkpoint), more :Bool);
  # Rows as they stood after entry `seq` (Ledger::StateAsOf), paged as `rows`.
  stateAsOf @6 (seq :UInt64, prefixes :List(Text), after :Text)
      -> (error :Error, rows :List(Row), more :Bool);
  # A stored Merkle node (MerkleNodeSource::Node); error kNotFound if it is not stored.
  node @7 (level :UInt32, index :UInt64) -> (error :Error, hash :Data);
  # A write: only on a session authenticated by a key; its entries must be signed by that key.
  write @8 () -> (error :Error, writer :Writer);

  # --- Checkpoints (docs/SERVICE.md "Checkpoints") ---
  # RFC 9162 consistency proof from the tree of `oldSize` leaves to that of `newSize`
  # (ledger::ConsistencyProof): 0 < oldSize <= newSize <= the ledger's size, else kInvalidArgument.
  consistency @9 (oldSize :UInt64, newSize :UInt64) -> (error :Error, hashes :List(Data));
}

# What a client asks to append: `entry` is a canonical Entry (events::EncodeEntry) of which only
# body and idempotencyKey are used; the flags are projections::Defaults.
struct Request {
  entry @0 :Data;
  awardMax @1 :Bool;
  awardSplit @2 :Bool;
  applyTrack @3 :Bool;
  revokeUnpaid @4 :Bool;
}

# One all-or-nothing batch: prepare request 1, sign it, prepare request 2 (on the state the
# first leaves), sign it, …, commit. The server dates entries by its own clock and keeps the
# batch on a draft: nothing is written before commit, and nothing if the head moved meanwhile
# (then commit answers headMoved and the client starts the batch again).
interface Writer {
  # The entry to sign (canonical bytes, seq, prev hash and recordedAt chosen by the server), or
  # replayedSeq > 0 for an idempotent retry (nothing to sign). `note`: what the server decided
  # for the request (projections::Resolve).
  prepare @0 (request :Request)
      -> (error :Error, entry :Data, replayedSeq :UInt64, note :Text, headMoved :Bool);
  # The 64-byte Ed25519 signature of the entry last prepared.
  sign @1 (signature :Data) -> (error :Error);
  # Writes every signed entry in one synced batch. headMoved: another write came first;
  # nothing was written.
  commit @2 () -> (error :Error, headMoved :Bool, seqs :List(UInt64));
}
