// Goal: what an inspector feeds check-proof and audit --checkpoint (signed checkpoint notes,
// verifier keys, proof JSON with base64 hashes) is parsed and verified without crashing;
// a note opens only if the fixed notary signed it, and a proof verifies only against its root.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/codec.h"
#include "events/crypto.h"
#include "events/text.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "tests/fuzz/fuzz_util.h"

namespace ev = ::fundledger::events;
namespace lg = ::fundledger::ledger;
using ::fundledger::fuzz::Fail;
using nlohmann::json;

namespace {

// The notary of the seed notes in corpus/proof/ (seed bytes 0x7a).
const lg::NoteVerifier& Notary() {
  static const lg::NoteVerifier* verifier = [] {
    std::array<uint8_t, 32> seed{};
    seed.fill(0x7a);
    auto key = ev::PrivateKey::FromSeed(seed);
    if (!key.ok()) Fail("fixed key");
    auto parsed = lg::ParseVerifierKey(lg::VerifierKey("fundledger/fuzz", key->public_key()));
    if (!parsed.ok()) Fail("fixed verifier key");
    return new lg::NoteVerifier(*parsed);
  }();
  return *verifier;
}

void CheckNote(std::string_view text) {
  // As check-proof opens a checkpoint file: the key name is the note's first line.
  auto checkpoint_file = lg::OpenCheckpoint(text, Notary().public_key);
  if (!checkpoint_file.ok() && !checkpoint_file.status().IsCorruption()) Fail("not kCorruption");
  auto opened = lg::OpenNote(text, std::span(&Notary(), 1));
  if (opened.ok()) {
    if (opened->signed_by.empty() || !(opened->signed_by[0] == Notary())) Fail("unsigned note");
    (void)lg::ParseCheckpointText(opened->text).ok();
  }
  auto checkpoint = lg::ParseCheckpointText(text);
  if (checkpoint.ok()) {
    auto again = lg::ParseCheckpointText(lg::CheckpointText(*checkpoint));
    if (!again.ok() || !(*again == *checkpoint)) Fail("checkpoint round trip");
  }
  // The key hash may be given in either case (as Go's note package reads it), so compare what
  // was parsed, not the text.
  auto vkey = lg::ParseVerifierKey(text);
  if (vkey.ok()) {
    auto again = lg::ParseVerifierKey(lg::VerifierKey(vkey->name, vkey->public_key));
    if (!again.ok() || !(*again == *vkey)) Fail("verifier key round trip");
  }
}

std::optional<ev::Bytes> Base64Field(const json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) return std::nullopt;
  return ev::FromBase64(j[name].get<std::string>());
}

uint64_t UintField(const json& j, const char* name) {
  return j.contains(name) && j[name].is_number_unsigned() ? j[name].get<uint64_t>() : 0;
}

// The proof file as check-proof reads it (prove's output), the checkpoint root taken from its
// own "root"/"root2" field so that genuine proofs reach the full verification.
void CheckProofJson(std::string_view text) {
  auto parsed = ev::ParseJsonStrict(text);
  if (!parsed.ok() || !parsed->is_object()) return;
  const json& j = *parsed;
  std::vector<ev::Bytes> proof;
  if (j.contains("proof") && j["proof"].is_array()) {
    for (const json& h : j["proof"]) {
      auto bytes = h.is_string() ? ev::FromBase64(h.get<std::string>()) : std::nullopt;
      if (!bytes) return;
      proof.push_back(*bytes);
    }
  }
  ev::Bytes empty;
  auto leaf = Base64Field(j, "leafHash");
  auto root = Base64Field(j, "root");
  (void)lg::VerifyInclusion(UintField(j, "leafIdx"), UintField(j, "treeSize"),
                            leaf.value_or(empty), proof, root.value_or(empty))
      .ok();
  auto root1 = Base64Field(j, "root1");
  auto root2 = Base64Field(j, "root2");
  (void)lg::VerifyConsistency(UintField(j, "size1"), UintField(j, "size2"),
                              root1.value_or(empty), root2.value_or(empty), proof)
      .ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = ::fundledger::fuzz::AsText(data, size);
  CheckNote(text);
  CheckProofJson(text);
  return 0;
}
