#include "events/crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <map>

namespace fundledger::events {
namespace {

// Drains OpenSSL's error queue into one line (the "one adapter per dependency" rule).
std::string OpenSslError(std::string_view what) {
  std::string message(what);
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    message += ": ";
    message += buffer;
  }
  return message;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  LEDGER_CHECK(size >= 0);
  return std::string(data, static_cast<size_t>(size));
}

// OpenSSL's passphrase callback. Without one, OpenSSL prompts on the terminal for an
// encrypted key, which blocks scripts and reads a passphrase nobody meant to give: this one
// only notes (in *user) that a passphrase was wanted, and refuses.
int RefusePassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* user) {
  *static_cast<bool*>(user) = true;
  return -1;
}

bool RawPublicKey(EVP_PKEY* key, PublicKey* out) {
  size_t size = out->size();
  return EVP_PKEY_get_raw_public_key(key, out->data(), &size) == 1 && size == out->size();
}

// A SHA-256 context of this thread, initialised for a new digest. OpenSSL 3 looks an
// algorithm named by EVP_sha256() up in its provider (a locked table, name matching) every
// time a context is initialised with it, and EVP_Digest allocates a context per call: the
// algorithm fetched once and a context kept per thread hash a 65-byte Merkle node in about a
// third of the time (docs/DECISIONS.md, "SHA-256 fetched once"). One digest at a time per
// thread: nothing between Sha256Begin and Sha256End may hash.
EVP_MD_CTX* Sha256Begin() {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  LEDGER_CHECK(sha256 != nullptr);
  thread_local const MdCtxPtr ctx(EVP_MD_CTX_new());
  LEDGER_CHECK(ctx != nullptr);
  LEDGER_CHECK(EVP_DigestInit_ex2(ctx.get(), sha256, nullptr) == 1);
  return ctx.get();
}

void Sha256Add(EVP_MD_CTX* ctx, std::span<const uint8_t> part) {
  LEDGER_CHECK(EVP_DigestUpdate(ctx, part.data(), part.size()) == 1);
}

Hash Sha256End(EVP_MD_CTX* ctx) {
  Hash out{};
  unsigned int size = 0;
  LEDGER_CHECK(EVP_DigestFinal_ex(ctx, out.data(), &size) == 1);
  LEDGER_CHECK(size == out.size());
  return out;
}

}  // namespace

Hash Sha256(std::span<const uint8_t> data) {
  EVP_MD_CTX* ctx = Sha256Begin();
  Sha256Add(ctx, data);
  return Sha256End(ctx);
}

Hash Sha256(std::string_view data) {
  return Sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

Hash Rfc9162Leaf(std::initializer_list<std::span<const uint8_t>> parts) {
  EVP_MD_CTX* ctx = Sha256Begin();
  const uint8_t prefix = kRfc9162LeafPrefix;
  Sha256Add(ctx, {&prefix, 1});
  for (std::span<const uint8_t> part : parts) Sha256Add(ctx, part);
  return Sha256End(ctx);
}

Hash Rfc9162Node(const Hash& left, const Hash& right) {
  std::array<uint8_t, 1 + 2 * sizeof(Hash)> preimage{};
  preimage[0] = kRfc9162NodePrefix;
  std::copy(left.begin(), left.end(), preimage.begin() + 1);
  std::copy(right.begin(), right.end(), preimage.begin() + 1 + sizeof(Hash));
  return Sha256(preimage);
}

Hash Rfc9162EmptyRoot() { return Sha256(std::string_view()); }

Hash Rfc9162Root(std::span<const Hash> leaves) {
  if (leaves.empty()) return Rfc9162EmptyRoot();
  if (leaves.size() == 1) return leaves[0];
  size_t split = std::bit_floor(leaves.size() - 1);  // largest power of two below n
  LEDGER_CHECK(split < leaves.size() && 2 * split >= leaves.size());
  return Rfc9162Node(Rfc9162Root(leaves.first(split)), Rfc9162Root(leaves.subspan(split)));
}

void Rfc9162RootBuilder::Add(const Hash& leaf) {
  LEDGER_CHECK(size_ < UINT64_MAX);
  peaks_.push_back(leaf);
  // Each trailing set bit of the old size is a perfect subtree the new leaf's completes.
  for (uint64_t carried = size_; (carried & 1) != 0; carried >>= 1) {
    LEDGER_CHECK(peaks_.size() >= 2);
    Hash right = peaks_.back();
    peaks_.pop_back();
    peaks_.back() = Rfc9162Node(peaks_.back(), right);
  }
  ++size_;
  LEDGER_CHECK(peaks_.size() == static_cast<size_t>(std::popcount(size_)));
}

Hash Rfc9162RootBuilder::Root() const {
  if (peaks_.empty()) return Rfc9162EmptyRoot();
  // MTH splits at the largest power of two below n: the highest peak is the left subtree of
  // the root and the rest fold the same way, so the peaks join from the right.
  Hash root = peaks_.back();
  for (size_t i = peaks_.size() - 1; i-- > 0;) root = Rfc9162Node(peaks_[i], root);
  return root;
}

KeyId KeyIdOf(const PublicKey& public_key) { return Sha256(std::span<const uint8_t>(public_key)); }

namespace {

// A verifying context per recently used key, per thread. OpenSSL 3 looks the signature
// algorithm up in its provider (a locked table, name matching) every time a context is
// initialised with a key; re-initialising a context that already holds the key skips that
// lookup (EVP_DigestVerifyInit with no key): 7% more verifications a second on two threads
// (bench/verify_bench, docs/DECISIONS.md).
// The context holds its own copy of the key, found by the whole 32 bytes. An OpenSSL that
// cannot re-initialise this way looks the algorithm up again for the same held key: slower,
// never another key.
class VerifyContexts {
 public:
  // The context for `public_key`, initialised for a new verification; nullptr if OpenSSL
  // refuses the key (not a point of the curve).
  EVP_MD_CTX* For(const PublicKey& public_key) {
    auto it = contexts_.find(public_key);
    if (it != contexts_.end()) {
      if (EVP_DigestVerifyInit(it->second.get(), nullptr, nullptr, nullptr, nullptr) == 1) {
        return it->second.get();
      }
      contexts_.erase(it);  // a context OpenSSL will not reuse: made anew below
    }
    PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(),
                                            public_key.size()));
    if (key == nullptr) return nullptr;
    MdCtxPtr ctx(EVP_MD_CTX_new());
    LEDGER_CHECK(ctx != nullptr);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return nullptr;
    if (contexts_.size() >= kVerifyContextsMax) contexts_.clear();
    return contexts_.emplace(public_key, std::move(ctx)).first->second.get();
  }

 private:
  std::map<PublicKey, MdCtxPtr> contexts_;
};

}  // namespace

bool Ed25519Verify(const PublicKey& public_key, std::span<const uint8_t> message,
                   const Signature& signature) {
  thread_local VerifyContexts contexts;
  EVP_MD_CTX* ctx = contexts.For(public_key);
  bool ok = ctx != nullptr && EVP_DigestVerify(ctx, signature.data(), signature.size(),
                                               message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

struct PrivateKey::Impl {
  PkeyPtr key;
};

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  LEDGER_CHECK(RawPublicKey(impl_->key.get(), &public_key_));
}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return Status::IOError(OpenSslError("ed25519 key generation failed"));
  return PrivateKey(std::make_unique<Impl>(Impl{PkeyPtr(key)}));
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  LEDGER_CHECK(bio != nullptr);
  bool encrypted = false;
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassphrase, &encrypted));
  if (key == nullptr) {
    ERR_clear_error();
    if (encrypted) {
      return Status::InvalidArgument(
          "the private key is encrypted with a passphrase, and no passphrase is ever asked for; "
          "write a decrypted copy (openssl pkey -in FILE -out PLAIN.pem) kept at mode 0600");
    }
    return Status::InvalidArgument("not a PEM private key");
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return Status::InvalidArgument("private key is not an Ed25519 key");
  }
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(key)}));
}

Result<PrivateKey> PrivateKey::FromSeed(std::span<const uint8_t, 32> seed) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (key == nullptr) return Status::InvalidArgument(OpenSslError("bad ed25519 seed"));
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(key)}));
}

std::string PrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  LEDGER_CHECK(bio != nullptr);
  LEDGER_CHECK(PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                        nullptr) == 1);
  return BioToString(bio.get());
}

std::string PrivateKey::PublicPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  LEDGER_CHECK(bio != nullptr);
  LEDGER_CHECK(PEM_write_bio_PUBKEY(bio.get(), impl_->key.get()) == 1);
  return BioToString(bio.get());
}

Signature PrivateKey::Sign(std::span<const uint8_t> message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  LEDGER_CHECK(ctx != nullptr);
  LEDGER_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) == 1);
  Signature signature{};
  size_t size = signature.size();
  LEDGER_CHECK(EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size()) ==
               1);
  LEDGER_CHECK(size == signature.size());
  return signature;
}

Result<PublicKey> PublicKeyFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  LEDGER_CHECK(bio != nullptr);
  bool encrypted = false;  // a public key never asks; the callback keeps OpenSSL from prompting
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, RefusePassphrase, &encrypted));
  if (key == nullptr) {
    ERR_clear_error();
    return Status::InvalidArgument("not a PEM public key");
  }
  PublicKey out{};
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519 || !RawPublicKey(key.get(), &out)) {
    return Status::InvalidArgument("public key is not an Ed25519 key");
  }
  return out;
}

void RandomBytes(std::span<uint8_t> out) {
  LEDGER_CHECK(RAND_bytes(out.data(), static_cast<int>(out.size())) == 1);
}

}  // namespace fundledger::events
