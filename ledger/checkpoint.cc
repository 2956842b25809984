// C2SP tlog-checkpoint texts and signed notes (see checkpoint.h). Parsing is strict and every
// refusal names its reason in one line, because a checkpoint is what a third party checks.
#include "ledger/checkpoint.h"

#include <algorithm>
#include <array>
#include <optional>

#include "events/check.h"
#include "events/text.h"
#include "ledger/merkle.h"

namespace fundledger::ledger {
namespace {

// "— ": U+2014 EM DASH in UTF-8, then a space.
constexpr std::string_view kSignaturePrefix = "\xE2\x80\x94 ";
constexpr size_t kKeyHashBytes = 4;
constexpr size_t kUint64DigitsMax = 20;
static_assert(sizeof(events::Signature) == 64, "Ed25519 signatures are 64 bytes");

std::span<const uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Calls `f(code_point)` for each code point of `s` while `f` returns true. False if `s` is not
// valid UTF-8 (overlong forms, surrogates and code points above U+10FFFF are invalid) or `f`
// returned false.
template <typename F>
bool ForEachCodePoint(std::string_view s, F f) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t length = 1;
    uint32_t cp = b0;
    uint32_t min = 0;
    if (b0 >= 0x80) {
      if ((b0 & 0xE0) == 0xC0) {
        length = 2;
        cp = b0 & 0x1Fu;
        min = 0x80;
      } else if ((b0 & 0xF0) == 0xE0) {
        length = 3;
        cp = b0 & 0x0Fu;
        min = 0x800;
      } else if ((b0 & 0xF8) == 0xF0) {
        length = 4;
        cp = b0 & 0x07u;
        min = 0x10000;
      } else {
        return false;
      }
    }
    if (s.size() - i < length) return false;
    for (size_t j = 1; j < length; ++j) {
      const auto b = static_cast<uint8_t>(s[i + j]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (!f(cp)) return false;
    i += length;
  }
  return true;
}

bool IsControl(uint32_t cp) { return cp < 0x20 || cp == 0x7F; }

// Go's unicode.IsSpace, which golang.org/x/mod/sumdb/note uses for key names.
bool IsSpace(uint32_t cp) {
  switch (cp) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// Valid UTF-8 with no control character but "\n" (the C2SP rule for note text).
bool IsValidNoteText(std::string_view text) {
  return ForEachCodePoint(text, [](uint32_t cp) { return cp == '\n' || !IsControl(cp); });
}

bool IsValidOrigin(std::string_view origin) {
  return !origin.empty() && ForEachCodePoint(origin, [](uint32_t cp) { return !IsControl(cp); });
}

// Takes the next "\n"-terminated line off `*rest`; false (and nothing taken) if there is none.
bool NextLine(std::string_view* rest, std::string_view* line) {
  const size_t end = rest->find('\n');
  if (end == std::string_view::npos) return false;
  *line = rest->substr(0, end);
  rest->remove_prefix(end + 1);
  return true;
}

// Strict decimal: digits only, no leading zero unless the number is 0, fits uint64_t.
std::optional<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > kUint64DigitsMax) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::array<uint8_t, kKeyHashBytes> KeyHashBytes(uint32_t key_hash) {
  return {static_cast<uint8_t>(key_hash >> 24), static_cast<uint8_t>(key_hash >> 16),
          static_cast<uint8_t>(key_hash >> 8), static_cast<uint8_t>(key_hash)};
}

uint32_t KeyHashFromBytes(std::span<const uint8_t> bytes) {
  LEDGER_CHECK(bytes.size() >= kKeyHashBytes);
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

struct SignatureLine {
  std::string_view name;
  uint32_t key_hash = 0;
  events::Bytes signature;  // Without the key hash; length unchecked (the key type decides).
};

// Parses "— <name> <base64(key hash || signature)>" (without its "\n").
Result<SignatureLine> ParseSignatureLine(std::string_view line) {
  if (!line.starts_with(kSignaturePrefix)) {
    return Status::Corruption("does not start with an em dash and a space");
  }
  line.remove_prefix(kSignaturePrefix.size());
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) {
    return Status::Corruption("no space between key name and signature");
  }
  SignatureLine out;
  out.name = line.substr(0, space);
  if (!IsValidNoteKeyName(out.name)) return Status::Corruption("invalid key name");
  std::optional<events::Bytes> blob = events::FromBase64(line.substr(space + 1));
  if (!blob.has_value()) return Status::Corruption("signature is not strict base64");
  if (blob->size() <= kKeyHashBytes) return Status::Corruption("signature is too short");
  out.key_hash = KeyHashFromBytes(*blob);
  out.signature.assign(blob->begin() + kKeyHashBytes, blob->end());
  return out;
}

// The verifier for (name, key_hash), or nullptr if the key is unknown.
const NoteVerifier* FindVerifier(std::span<const NoteVerifier> verifiers, std::string_view name,
                                 uint32_t key_hash) {
  for (const NoteVerifier& v : verifiers) {
    if (v.name == name && v.key_hash == key_hash) return &v;
  }
  return nullptr;
}

// Two trusted keys under one (name, key hash) would make "which key signed" ambiguous.
Status CheckVerifiersDistinct(std::span<const NoteVerifier> verifiers) {
  for (size_t i = 0; i < verifiers.size(); ++i) {
    if (FindVerifier(verifiers.first(i), verifiers[i].name, verifiers[i].key_hash) != nullptr) {
      return Status::InvalidArgument("note verifiers: two keys share name " + verifiers[i].name +
                                     " and key hash");
    }
  }
  return Status::Ok();
}

// Verifies one signature line against `text`; adds its verifier to `*signed_by` if known.
Status CheckSignatureLine(std::string_view line, std::string_view text,
                          std::span<const NoteVerifier> verifiers,
                          std::vector<NoteVerifier>* signed_by) {
  LEDGER_ASSIGN_OR_RETURN(SignatureLine sig, ParseSignatureLine(line));
  const NoteVerifier* verifier = FindVerifier(verifiers, sig.name, sig.key_hash);
  if (verifier == nullptr) return Status::Ok();  // Another party's signature: not ours to judge.
  const std::string who = VerifierKey(verifier->name, verifier->public_key)
                              .substr(0, verifier->name.size() + 1 + 2 * kKeyHashBytes);
  events::Signature signature{};
  if (sig.signature.size() != signature.size()) {
    return Status::Corruption("signature by " + who + " is " +
                              std::to_string(sig.signature.size()) + " bytes, not 64");
  }
  std::copy(sig.signature.begin(), sig.signature.end(), signature.begin());
  if (!events::Ed25519Verify(verifier->public_key, AsBytes(text), signature)) {
    return Status::Corruption("signature by " + who + " does not verify");
  }
  if (std::find(signed_by->begin(), signed_by->end(), *verifier) == signed_by->end()) {
    signed_by->push_back(*verifier);
  }
  return Status::Ok();
}

}  // namespace

std::string CheckpointText(const Checkpoint& checkpoint) {
  LEDGER_CHECK(IsValidOrigin(checkpoint.origin)) << "origin=" << checkpoint.origin;
  return checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" +
         events::Base64(checkpoint.root) + "\n";
}

Result<Checkpoint> ParseCheckpointText(std::string_view text) {
  if (text.size() > kNoteBytesMax) return Status::Corruption("checkpoint: over the size limit");
  if (!IsValidNoteText(text)) {
    return Status::Corruption("checkpoint: not UTF-8 text without control characters");
  }
  std::string_view rest = text;
  std::string_view origin, size_line, root_line;
  if (!NextLine(&rest, &origin) || !IsValidOrigin(origin)) {
    return Status::Corruption("checkpoint: missing or empty origin line");
  }
  if (!NextLine(&rest, &size_line)) return Status::Corruption("checkpoint: missing size line");
  std::optional<uint64_t> size = ParseDecimal(size_line);
  if (!size.has_value()) return Status::Corruption("checkpoint: size is not a strict decimal");
  if (*size > kTreeSizeMax) return Status::Corruption("checkpoint: size is over 2^63");
  if (!NextLine(&rest, &root_line)) return Status::Corruption("checkpoint: missing root line");
  std::optional<events::Bytes> root = events::FromBase64(root_line);
  if (!root.has_value() || root->size() != kHashBytes) {
    return Status::Corruption("checkpoint: root is not 32 bytes of strict base64");
  }
  std::string_view extension;
  while (!rest.empty()) {  // Bounded by kNoteBytesMax: each pass consumes a line.
    if (!NextLine(&rest, &extension)) {
      return Status::Corruption("checkpoint: last line does not end in a newline");
    }
    if (extension.empty()) return Status::Corruption("checkpoint: empty extension line");
  }
  Checkpoint checkpoint{.origin = std::string(origin), .size = *size, .root = {}};
  std::copy(root->begin(), root->end(), checkpoint.root.begin());
  return checkpoint;
}

uint32_t NoteKeyHash(std::string_view name, const events::PublicKey& public_key) {
  std::vector<uint8_t> preimage(name.begin(), name.end());
  preimage.push_back('\n');
  preimage.push_back(kNoteAlgEd25519);
  preimage.insert(preimage.end(), public_key.begin(), public_key.end());
  return KeyHashFromBytes(events::Sha256(preimage));
}

bool IsValidNoteKeyName(std::string_view name) {
  return !name.empty() && ForEachCodePoint(name, [](uint32_t cp) {
    return cp != '+' && !IsControl(cp) && !IsSpace(cp);
  });
}

std::string VerifierKey(std::string_view name, const events::PublicKey& public_key) {
  LEDGER_CHECK(IsValidNoteKeyName(name)) << "name=" << name;
  std::vector<uint8_t> key{kNoteAlgEd25519};
  key.insert(key.end(), public_key.begin(), public_key.end());
  return std::string(name) + "+" + events::Hex(KeyHashBytes(NoteKeyHash(name, public_key))) + "+" +
         events::Base64(key);
}

Result<NoteVerifier> ParseVerifierKey(std::string_view vkey) {
  if (vkey.size() > kNoteBytesMax) return Status::InvalidArgument("verifier key: too long");
  const size_t plus1 = vkey.find('+');
  const size_t plus2 = plus1 == std::string_view::npos ? plus1 : vkey.find('+', plus1 + 1);
  if (plus2 == std::string_view::npos) {
    return Status::InvalidArgument("verifier key: not <name>+<key hash>+<key>");
  }
  NoteVerifier verifier;
  verifier.name = std::string(vkey.substr(0, plus1));
  if (!IsValidNoteKeyName(verifier.name)) return Status::InvalidArgument("verifier key: bad name");
  std::array<uint8_t, kKeyHashBytes> hash{};
  if (!events::FromHex(vkey.substr(plus1 + 1, plus2 - plus1 - 1), hash)) {
    return Status::InvalidArgument("verifier key: key hash is not 8 hex digits");
  }
  verifier.key_hash = KeyHashFromBytes(hash);
  std::optional<events::Bytes> key = events::FromBase64(vkey.substr(plus2 + 1));
  if (!key.has_value() || key->empty()) {
    return Status::InvalidArgument("verifier key: key is not strict base64");
  }
  if ((*key)[0] != kNoteAlgEd25519 || key->size() != 1 + verifier.public_key.size()) {
    return Status::InvalidArgument("verifier key: not an Ed25519 key");
  }
  std::copy(key->begin() + 1, key->end(), verifier.public_key.begin());
  if (NoteKeyHash(verifier.name, verifier.public_key) != verifier.key_hash) {
    return Status::InvalidArgument("verifier key: key hash does not match name and key");
  }
  return verifier;
}

std::string SignNote(std::string_view text, std::string_view name, const events::PrivateKey& key) {
  LEDGER_CHECK(!text.empty());
  LEDGER_CHECK(text.back() == '\n');
  LEDGER_CHECK(IsValidNoteText(text));
  LEDGER_CHECK(IsValidNoteKeyName(name)) << "name=" << name;
  const events::Signature signature = key.Sign(AsBytes(text));
  std::vector<uint8_t> blob;
  const std::array<uint8_t, kKeyHashBytes> hash = KeyHashBytes(NoteKeyHash(name, key.public_key()));
  blob.insert(blob.end(), hash.begin(), hash.end());
  blob.insert(blob.end(), signature.begin(), signature.end());
  std::string note(text);
  note += "\n";
  note += kSignaturePrefix;
  note += name;
  note += " ";
  note += events::Base64(blob);
  note += "\n";
  return note;
}

Result<OpenedNote> OpenNote(std::string_view note, std::span<const NoteVerifier> verifiers) {
  LEDGER_RETURN_IF_ERROR(CheckVerifiersDistinct(verifiers));
  if (note.size() > kNoteBytesMax) return Status::Corruption("note: over the size limit");
  if (!IsValidNoteText(note)) {
    return Status::Corruption("note: not UTF-8 text without control characters");
  }
  const size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return Status::Corruption("note: no blank line before the signatures");
  }
  OpenedNote opened{.text = std::string(note.substr(0, split + 1)), .signed_by = {}};
  std::string_view rest = note.substr(split + 2);
  if (rest.empty()) return Status::Corruption("note: no signature lines");
  std::string_view line;
  for (size_t number = 1; !rest.empty(); ++number) {
    if (number > kNoteSignaturesMax) return Status::Corruption("note: too many signature lines");
    const std::string where = "note: signature line " + std::to_string(number);
    if (!NextLine(&rest, &line)) {
      return Status::Corruption(where + ": does not end in a newline");
    }
    Status status = CheckSignatureLine(line, opened.text, verifiers, &opened.signed_by);
    if (!status.ok()) return status.WithPrefix(where);
  }
  if (opened.signed_by.empty()) return Status::Corruption("note: no signature by a known key");
  return opened;
}

Result<Checkpoint> OpenCheckpoint(std::string_view note, const events::PublicKey& notary) {
  // VerifierKey requires a valid name: a hostile first line must be refused here, not abort.
  const std::string_view origin = note.substr(0, note.find('\n'));
  if (!IsValidNoteKeyName(origin)) return Status::Corruption("note: bad origin line");
  auto verifier = ParseVerifierKey(VerifierKey(origin, notary));
  if (!verifier.ok()) {
    return Status::Corruption("note: origin line: " + verifier.status().message());
  }
  LEDGER_ASSIGN_OR_RETURN(OpenedNote opened, OpenNote(note, std::span(&*verifier, 1)));
  return ParseCheckpointText(opened.text);
}

}  // namespace fundledger::ledger
