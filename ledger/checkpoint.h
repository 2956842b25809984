// Checkpoints as C2SP tlog-checkpoint texts inside C2SP signed notes (DESIGN.md §2), so that
// existing transparency-log tooling and witnesses can read and verify what the ledger
// publishes. Pure: no I/O, no clock. Worked examples: shared/reference/c2sp-note-vectors.md.
//
// Checkpoint text (each line ends in "\n"; further non-empty extension lines may follow):
//   <origin>            e.g. "fundledger/<ledger id, 32 lowercase hex>"
//   <tree size>         decimal, no sign, no leading zeros (except "0")
//   <root hash>         standard padded base64 of the 32-byte RFC 9162 root
// Signed note: <text> "\n" then one line per signature:
//   "— " <key name> " " base64(key hash, 4 bytes big-endian || Ed25519 signature over <text>)
// where "—" is U+2014 and key hash = first 4 bytes of SHA-256(name || "\n" || 0x01 || pubkey).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events/crypto.h"
#include "events/model.h"
#include "events/status.h"

namespace fundledger::ledger {

// Limits on untrusted notes: anything larger is refused before it is parsed.
inline constexpr size_t kNoteBytesMax = 64 * 1024;
inline constexpr size_t kNoteSignaturesMax = 100;
// Signature type byte of Ed25519 keys in C2SP signed notes.
inline constexpr uint8_t kNoteAlgEd25519 = 0x01;

// A signed tree head: the first `size` leaves of the log named `origin` have RFC 9162 root
// `root`. The origin binds a checkpoint to one ledger; callers compare it.
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  events::Hash root{};
  bool operator==(const Checkpoint&) const = default;
};

// "<origin>\n<size>\n<base64 root>\n". REQUIRES: origin is a valid origin line (non-empty,
// valid UTF-8, no control characters); checked, since a bad one would be a bug of ours.
std::string CheckpointText(const Checkpoint& checkpoint);

// Parses a checkpoint note text (as OpenNote returns it). Strict: the three lines above,
// each ending in "\n"; extension lines after the third must be non-empty and are ignored.
// kCorruption naming the first problem otherwise.
Result<Checkpoint> ParseCheckpointText(std::string_view text);

// First 4 bytes, big-endian, of SHA-256(name || "\n" || 0x01 || public_key).
uint32_t NoteKeyHash(std::string_view name, const events::PublicKey& public_key);

// A key trusted to sign notes under `name`.
struct NoteVerifier {
  std::string name;
  uint32_t key_hash = 0;  // NoteKeyHash(name, public_key)
  events::PublicKey public_key{};
  bool operator==(const NoteVerifier&) const = default;
};

// "<name>+<key hash, 8 lowercase hex>+<base64(0x01 || public_key)>", the form Go's
// golang.org/x/mod/sumdb/note and C2SP witnesses take. REQUIRES: IsValidNoteKeyName(name).
std::string VerifierKey(std::string_view name, const events::PublicKey& public_key);

// Parses a verifier key (user configuration). kInvalidArgument if it is malformed, names no
// Ed25519 key, or its key hash does not match its name and key.
Result<NoteVerifier> ParseVerifierKey(std::string_view vkey);

// Key names: non-empty valid UTF-8 without ASCII whitespace, control characters or '+'.
bool IsValidNoteKeyName(std::string_view name);

// The signed note: `text`, a blank line, and one signature line by `key` under `name`.
// REQUIRES: text is non-empty valid UTF-8 ending in "\n" with no control character but "\n";
// IsValidNoteKeyName(name). Both are checked (a bad one is a bug of ours). Thread safety: as
// key.Sign().
std::string SignNote(std::string_view text, std::string_view name, const events::PrivateKey& key);

// A note whose signatures were checked.
struct OpenedNote {
  std::string text;                     // The signed text, ending in "\n".
  std::vector<NoteVerifier> signed_by;  // Known verifiers whose signature verified, in the
                                        // order of their first signature line, no repeats.
};

// Splits `note` at its last "\n\n" into text and signature lines, checks the form strictly,
// and verifies every signature line whose (name, key hash) matches one of `verifiers`.
// Lines of unknown keys are checked for form only, then ignored. kCorruption with one line
// naming why if the note is malformed or over the limits above, if a known key's signature
// does not verify, or if no known verifier signed. kInvalidArgument if two of `verifiers`
// share a name and key hash (ambiguous configuration). Nothing is returned on error.
Result<OpenedNote> OpenNote(std::string_view note, std::span<const NoteVerifier> verifiers);

// Opens a published checkpoint note signed by `notary` under the note's own first line (its
// origin) as key name, and parses the checkpoint it signs: how check-proof reads a checkpoint
// file, where the origin is not known in advance. kCorruption with one line naming why if the
// origin line is no valid key name (an empty file included), if OpenNote refuses the note, or
// if the signed text is no checkpoint. Never aborts on hostile input.
Result<Checkpoint> OpenCheckpoint(std::string_view note, const events::PublicKey& notary);

}  // namespace fundledger::ledger
