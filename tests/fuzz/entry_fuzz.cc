// Goal: any bytes given as an entry (import files, check-proof --entry, stored rows) decode
// without crashing or tripping a check; what decodes has exactly one byte form, signs and
// verifies under a fixed key, and folds into every projection and back out of its rows.
#include <array>

#include "events/codec.h"
#include "events/crypto.h"
#include "projections/projections.h"
#include "tests/fuzz/fuzz_util.h"

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::fundledger::fuzz::Fail;

namespace {

const ev::PrivateKey& FixedKey() {
  static const ev::PrivateKey* key = [] {
    std::array<uint8_t, 32> seed{};
    seed.fill(0x5e);
    auto made = ev::PrivateKey::FromSeed(seed);
    if (!made.ok()) Fail("fixed key");
    return new ev::PrivateKey(std::move(*made));
  }();
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto stored = ev::DecodeEntry(bytes, ev::BytesOrigin::kStored);
  auto entry = ev::DecodeEntry(bytes, ev::BytesOrigin::kSubmitted);
  if (stored.ok() != entry.ok()) Fail("origin changed whether bytes decode");
  if (!entry.ok()) {
    if (!stored.status().IsCorruption()) Fail("stored bytes refused without kCorruption");
    return 0;
  }
  if (ev::EncodeEntry(*entry) != ev::Bytes(data, data + size)) Fail("second byte form");
  // Signatures are over exactly these bytes: one flipped bit must not verify.
  const ev::Signature signature = FixedKey().Sign(bytes);
  if (!ev::Ed25519Verify(FixedKey().public_key(), bytes, signature)) Fail("own signature");
  ev::Bytes flipped(data, data + size);
  flipped[size / 2] ^= 0x01;
  if (ev::Ed25519Verify(FixedKey().public_key(), flipped, signature)) Fail("flip verified");
  // The rules and the fold are total over any decodable entry, on an empty state, and every
  // row they write loads back.
  pj::LedgerState state;
  (void)pj::Validate(state, *entry).ok();
  pj::Apply(&state, pj::EntryContext{&*entry, ev::EntryLeafHash(bytes, signature)});
  for (const std::string& key : pj::AllRowKeys(state)) {
    auto row = pj::EncodeRow(state, key);
    if (!row) Fail("row key without a row");
    pj::LedgerState reloaded;
    if (!pj::LoadRow(&reloaded, key, *row).ok()) Fail("row does not load back");
  }
  return 0;
}
