// RFC 9162 Merkle tree maths: leaf and node hashing, roots, inclusion and consistency proofs
// and their verifiers (DESIGN.md §2). Pure: no I/O, no clock. The tree's nodes live wherever
// the caller keeps them (RocksDB for the ledger, memory for tests and audit) and are read
// through MerkleNodeSource.
//
// Node addressing: node (level, index) is the root of the perfect subtree covering leaves
// [index * 2^level, (index + 1) * 2^level); level 0 holds the leaf hashes. Only perfect
// subtrees are stored; the hash of any other range is folded from at most 64 of them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "events/crypto.h"
#include "events/model.h"
#include "events/status.h"

namespace fundledger::ledger {

using Hash = events::Hash;

// Most leaves a tree may hold. Node ranges [index * 2^level, (index + 1) * 2^level) then fit
// uint64_t, and levels run 0..63. Larger sizes are kInvalidArgument (builders) or
// kCorruption (verifiers).
inline constexpr uint64_t kTreeSizeMax = uint64_t{1} << 63;
inline constexpr uint32_t kMerkleLevelsMax = 64;
// No valid inclusion or consistency proof of a tree of at most kTreeSizeMax leaves has more
// components; a longer proof is refused before any hashing.
inline constexpr size_t kProofHashesMax = 64;
inline constexpr size_t kHashBytes = 32;
static_assert(sizeof(Hash) == kHashBytes, "RFC 9162 with SHA-256: 32-byte hashes");

// RFC 9162 hashing is defined once, in events/crypto.h; these keep the RFC's names here.
// SHA-256(0x00 || data): the leaf hash. The ledger's leaves are canonical Entry bytes followed
// by the signature (events::EntryLeafHash).
inline Hash LeafHash(std::span<const uint8_t> data) { return events::Rfc9162Leaf({data}); }
// SHA-256(0x01 || left || right): an interior node.
inline Hash NodeHash(const Hash& left, const Hash& right) { return events::Rfc9162Node(left, right); }
// SHA-256 of the empty string: the root of the tree of size 0.
inline Hash EmptyRoot() { return events::Rfc9162EmptyRoot(); }

// Read access to stored perfect-subtree hashes. Implementations decide storage and
// thread safety; the functions below only call Node() and never keep the reference.
class MerkleNodeSource {
 public:
  virtual ~MerkleNodeSource();
  // The hash of the perfect subtree covering leaves [index * 2^level, (index + 1) * 2^level).
  // kNotFound if that subtree is not (yet) stored; kIOError or kCorruption from storage.
  virtual Result<Hash> Node(uint32_t level, uint64_t index) const = 0;
};

// One stored node: the perfect subtree (level, index) and its hash.
struct MerkleNode {
  uint32_t level = 0;
  uint64_t index = 0;
  Hash hash{};
  bool operator==(const MerkleNode&) const = default;
};

// The nodes to store when leaf `leaf_index` (0-based) with hash `leaf_hash` is appended to a
// tree of exactly `leaf_index` leaves: (0, leaf_index) first, then every parent it completes,
// lowest level first (at most 64 nodes). Reads only the left siblings, one per completed
// parent, from `src`. Errors from `src` are passed on; nothing is returned then.
// REQUIRES: leaf_index < kTreeSizeMax.
Result<std::vector<MerkleNode>> NodesCompletedBy(const MerkleNodeSource& src, uint64_t leaf_index,
                                                 const Hash& leaf_hash);

// MTH of the first `size` leaves (EmptyRoot() for 0), from at most 64 node reads.
// Errors from `src` are passed on (kNotFound if `src` holds fewer than `size` leaves).
// kInvalidArgument if size > kTreeSizeMax.
Result<Hash> RootAt(const MerkleNodeSource& src, uint64_t size);

// RFC 9162 §2.1.3.1 PATH(leaf_index, D[size]): sibling hashes from the leaf upwards, at most
// 63. Costs O(log^2 size) node reads at worst (right-border siblings are folded like RootAt).
// kInvalidArgument if leaf_index >= size or size > kTreeSizeMax; errors from `src` are passed on.
Result<std::vector<Hash>> InclusionProof(const MerkleNodeSource& src, uint64_t leaf_index,
                                         uint64_t size);

// RFC 9162 §2.1.4.1 PROOF(old_size, D[new_size]). Empty when old_size is 0 or equals
// new_size (note that VerifyConsistency refuses old_size 0 with new_size > 0: there is
// nothing to prove). kInvalidArgument if old_size > new_size or new_size > kTreeSizeMax; errors
// from `src` are passed on.
Result<std::vector<Hash>> ConsistencyProof(const MerkleNodeSource& src, uint64_t old_size,
                                           uint64_t new_size);

// RFC 9162 §2.1.3.2: ok iff `proof` proves that leaf `leaf_index` of the tree of `tree_size`
// leaves with root `root` has hash `leaf_hash`. kCorruption with a one-line reason otherwise
// (index out of range, wrong proof length, root mismatch). Never aborts on hostile input.
Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                       std::span<const Hash> proof, const Hash& root);

// RFC 9162 §2.1.4.2: ok iff `proof` proves the tree (size1, root1) is a prefix of the tree
// (size2, root2). Equal sizes need an empty proof and equal roots (and, for size 0, roots
// equal to EmptyRoot()). size1 == 0 < size2 is refused: a consistency proof from the empty
// tree is meaningless (as in transparency-dev/merkle). kCorruption with a one-line reason on
// any failure. Never aborts on hostile input.
Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                         std::span<const Hash> proof);

// The same verifiers on untrusted byte strings (decoded JSON, proof files): any hash or proof
// component that is not exactly 32 bytes is kCorruption, then the typed verifier runs.
Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, std::span<const uint8_t> leaf_hash,
                       std::span<const events::Bytes> proof, std::span<const uint8_t> root);
Status VerifyConsistency(uint64_t size1, uint64_t size2, std::span<const uint8_t> root1,
                         std::span<const uint8_t> root2, std::span<const events::Bytes> proof);

// An in-memory append-only tree (tests, import, audit). Not thread safe.
class MemoryMerkleTree : public MerkleNodeSource {
 public:
  MemoryMerkleTree() = default;
  // kNotFound unless (level, index) is a completed perfect subtree.
  Result<Hash> Node(uint32_t level, uint64_t index) const override;
  // Appends one leaf hash and stores the nodes it completes (NodesCompletedBy).
  // REQUIRES: size() < kTreeSizeMax (checked).
  void Append(const Hash& leaf_hash);
  // Leaves appended so far.
  uint64_t size() const { return size_; }
  // MTH of all leaves appended so far.
  Hash Root() const;

 private:
  // nodes_[level][index]; levels grow as the tree does.
  std::vector<std::vector<Hash>> nodes_;
  uint64_t size_ = 0;
};

}  // namespace fundledger::ledger
