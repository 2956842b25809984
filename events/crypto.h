// SHA-256 and Ed25519 (PureEdDSA) through OpenSSL 3 EVP. No I/O: keys come in and go out as PEM text.
#pragma once

#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events/model.h"
#include "events/status.h"

namespace fundledger::events {

Hash Sha256(std::span<const uint8_t> data);
Hash Sha256(std::string_view data);
// KeyId = SHA-256 of the raw 32-byte public key (DESIGN.md §2).
KeyId KeyIdOf(const PublicKey& public_key);

// RFC 9162 §2.1.1 hashing with SHA-256: the one definition behind entries' leaf hashes, the
// ledger's Merkle tree and the state hash over projection rows.
inline constexpr uint8_t kRfc9162LeafPrefix = 0x00;
inline constexpr uint8_t kRfc9162NodePrefix = 0x01;
// SHA-256(0x00 || parts[0] || parts[1] || …): the leaf hash of the concatenated parts, hashed
// incrementally (no copy of large entries).
Hash Rfc9162Leaf(std::initializer_list<std::span<const uint8_t>> parts);
// SHA-256(0x01 || left || right): an interior node.
Hash Rfc9162Node(const Hash& left, const Hash& right);
// SHA-256 of the empty string: the root of the empty tree.
Hash Rfc9162EmptyRoot();
// MTH(D[n]) over leaf hashes held in memory (RFC 9162 §2.1.1, split at the largest power of two
// below n); Rfc9162EmptyRoot() for none. Recursion depth is at most 64.
Hash Rfc9162Root(std::span<const Hash> leaves);

// The same root as Rfc9162Root over leaves given one at a time, holding only the roots of the
// perfect subtrees completed so far (at most 64 hashes): a state hash over a million rows need
// not hold a million leaves. Not thread safe.
class Rfc9162RootBuilder {
 public:
  void Add(const Hash& leaf);
  // Rfc9162Root of the leaves added so far (Rfc9162EmptyRoot() for none).
  Hash Root() const;
  uint64_t size() const { return size_; }

 private:
  // peaks_[i] is the root of a perfect subtree whose size is the i-th set bit of size_, from
  // the highest: the right edge of the tree.
  std::vector<Hash> peaks_;
  uint64_t size_ = 0;
};

// The verifying contexts Ed25519Verify keeps per thread, one per key (a ledger's staff have a
// few dozen keys); all are dropped when a new key would pass this.
inline constexpr size_t kVerifyContextsMax = 256;

// True iff `signature` is a valid Ed25519 signature of `message` by `public_key`. Safe to call
// concurrently: each thread keeps its own verifying contexts (kVerifyContextsMax).
bool Ed25519Verify(const PublicKey& public_key, std::span<const uint8_t> message,
                   const Signature& signature);

// An Ed25519 private key. Thread safety: Sign() is const and safe to call concurrently.
class PrivateKey {
 public:
  // A new random key (OpenSSL's CSPRNG).
  static Result<PrivateKey> Generate();
  // Parses a PKCS#8 PEM private key; kInvalidArgument if it is not an Ed25519 key, or if it
  // is encrypted: no passphrase is ever prompted for (scripts must not hang on a terminal
  // prompt), and the message says the key is encrypted.
  static Result<PrivateKey> FromPem(std::string_view pem);
  // The key built deterministically from a 32-byte seed (tests and golden files only).
  static Result<PrivateKey> FromSeed(std::span<const uint8_t, 32> seed);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  std::string ToPem() const;        // PKCS#8 PEM
  std::string PublicPem() const;    // SubjectPublicKeyInfo PEM
  const PublicKey& public_key() const { return public_key_; }
  KeyId key_id() const { return KeyIdOf(public_key_); }
  Signature Sign(std::span<const uint8_t> message) const;

 private:
  struct Impl;
  explicit PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  PublicKey public_key_{};
};

// Parses a SubjectPublicKeyInfo PEM public key; kInvalidArgument if it is not Ed25519.
Result<PublicKey> PublicKeyFromPem(std::string_view pem);

// Fills `out` with cryptographically random bytes.
void RandomBytes(std::span<uint8_t> out);

}  // namespace fundledger::events
