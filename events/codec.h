// Canonical encoding of entries (what is signed and hashed) and the strict JSON forms of event
// bodies and policies. The wire and disk format is schemas/ledger.capnp; FORMAT.md explains it.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>

#include "events/model.h"
#include "events/status.h"

namespace fundledger::events {

// The reader's limits. DecodeEntry enforces them on every entry it reads, and the writer
// signs only bytes that DecodeEntry accepts (EncodeEntryForSigning), so no limit can let an
// entry be written that the ledger then cannot read.
// Larger entries are refused before decoding (kInvalidArgument or kCorruption).
inline constexpr size_t kEntryBytesMax = 1024 * 1024;
// Cap'n Proto nesting limit for untrusted bytes: Entry > PolicyPublished > Policy > Measure >
// Track > Cap/AttributeRule > List(Text) is 8 levels; 16 leaves room, refuses pathological input.
inline constexpr int kNestingLimit = 16;

// Where bytes come from decides the error code of a decoding failure.
enum class BytesOrigin {
  kStored,     // written by this ledger: a failure is kCorruption
  kSubmitted,  // given by a caller or an import file: a failure is kInvalidArgument
};

// Canonical Cap'n Proto bytes of `entry` (single segment, no segment table; capnp
// doc/encoding.md "Canonicalization"). Deterministic: equal entries give equal bytes.
Bytes EncodeEntry(const Entry& entry);

// Decodes canonical Entry bytes. Refuses: size over kEntryBytesMax, nesting over
// kNestingLimit, bytes that are not a valid canonical message (so one entry has exactly one
// byte form), text that is not UTF-8 or holds a NUL, an unknown formatVersion, an unknown body
// kind, and fixed-size fields of the wrong length. Never throws.
Result<Entry> DecodeEntry(std::span<const uint8_t> bytes, BytesOrigin origin);

// The canonical bytes of `entry` (EncodeEntry), but only if DecodeEntry accepts them and gives
// back exactly `entry`: what a writer may sign. kInvalidArgument naming the limit or the field
// otherwise (e.g. "entry of 1048584 bytes is over the limit of 1048576 bytes").
Result<Bytes> EncodeEntryForSigning(const Entry& entry);

// Every text field of `entry` is valid UTF-8 and holds no NUL (Cap'n Proto's Text enforces
// neither; JSON output, projections, C readers and inspectors need both), and no identifier
// (ids, codes, keys, units, holders, attribute keys and values, the idempotency key) holds a
// control character, which would split row keys and one-line output. kInvalidArgument naming
// the field otherwise.
Status CheckEntryText(const Entry& entry);

// Leaf hash of a signed entry: SHA-256(0x00 || entry bytes || signature) (RFC 9162 leaf).
Hash EntryLeafHash(std::span<const uint8_t> entry_bytes, const Signature& signature);

// SHA-256 of the body's canonical bytes: the "content" compared on an idempotent retry.
Hash BodyDigest(const Body& body);

// Parses JSON text strictly: malformed text, duplicate keys in any object, and nesting deeper
// than 64 are kInvalidArgument naming the place.
Result<nlohmann::json> ParseJsonStrict(std::string_view text);

// The body of kind `kind` (e.g. "AwardGranted") from its JSON object, driven by the schema:
// unknown fields, wrong types, non-integer or out-of-range numbers, bad hex, unknown enum
// names are kInvalidArgument naming the field path. Absent fields take their zero value.
Result<Body> BodyFromJson(std::string_view kind, const nlohmann::json& body_json);
// The body as a JSON object: every field, 64-bit integers as JSON numbers, Data as lowercase
// hex, enums in snake_case.
nlohmann::json BodyToJson(const Body& body);

// A policy document (schemas/policy.capnp) from JSON text, as strictly as BodyFromJson.
// Structural rules (caps, rates, ids) are checked by projections::CheckPolicy.
Result<Policy> PolicyFromJson(std::string_view json_text);
nlohmann::json PolicyToJson(const Policy& policy);

// Canonical bytes of a policy alone (its digest identifies a version).
Bytes EncodePolicy(const Policy& policy);

}  // namespace fundledger::events
