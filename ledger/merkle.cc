// RFC 9162 Merkle tree maths (see merkle.h). The builders follow the recursive definitions of
// §2.1.3.1 and §2.1.4.1 unrolled into loops; the verifiers are the step-by-step algorithms of
// §2.1.3.2 and §2.1.4.2, so a reviewer can check them line by line against the RFC.
#include "ledger/merkle.h"

#include <algorithm>
#include <bit>
#include <string>

#include "events/check.h"

namespace fundledger::ledger {
namespace {


// The largest power of two strictly below `count`: where RFC 9162 splits D[count].
uint64_t SplitPoint(uint64_t count) {
  LEDGER_CHECK(count >= 2) << "count=" << count;
  uint64_t k = std::bit_floor(count - 1);
  LEDGER_CHECK(k < count && 2 * k >= count) << "count=" << count << " k=" << k;
  return k;
}

// MTH(D[start:start+count]). Every range the RFC recursion visits starts at a multiple of
// bit_ceil(count), so each binary digit of `count` is one stored perfect subtree, largest
// first, and the MTH is their right fold.
Result<Hash> RangeHash(const MerkleNodeSource& src, uint64_t start, uint64_t count) {
  LEDGER_CHECK(count > 0);
  LEDGER_CHECK(count <= kTreeSizeMax - start) << "start=" << start << " count=" << count;
  LEDGER_CHECK(start % std::bit_ceil(count) == 0) << "start=" << start << " count=" << count;
  std::vector<Hash> pieces;
  uint64_t offset = start;
  for (uint32_t level = kMerkleLevelsMax; level-- > 0;) {
    const uint64_t width = uint64_t{1} << level;
    if ((count & width) == 0) continue;
    LEDGER_ASSIGN_OR_RETURN(Hash piece, src.Node(level, offset >> level));
    pieces.push_back(piece);
    offset += width;
  }
  LEDGER_CHECK(offset == start + count);
  Hash root = pieces.back();
  for (size_t i = pieces.size() - 1; i-- > 0;) root = NodeHash(pieces[i], root);
  return root;
}

Status Mismatch(const std::string& what) { return Status::Corruption(what); }

Result<Hash> HashFromBytes(std::span<const uint8_t> bytes, const std::string& what) {
  if (bytes.size() != kHashBytes) {
    return Status::Corruption(what + " is " + std::to_string(bytes.size()) + " bytes, not 32");
  }
  Hash hash{};
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

Result<std::vector<Hash>> ProofFromBytes(std::span<const events::Bytes> proof,
                                         const std::string& what) {
  if (proof.size() > kProofHashesMax) {
    return Status::Corruption(what + ": " + std::to_string(proof.size()) +
                              " components, more than any valid proof has");
  }
  std::vector<Hash> hashes;
  hashes.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) {
    LEDGER_ASSIGN_OR_RETURN(Hash h,
                            HashFromBytes(proof[i], what + " component " + std::to_string(i)));
    hashes.push_back(h);
  }
  return hashes;
}

// RFC 9162 §2.1.4.2 steps 2-8 for 0 < size1 < size2 and a non-empty proof.
Status VerifyConsistencyPath(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                             std::span<const Hash> proof) {
  LEDGER_CHECK(0 < size1 && size1 < size2) << "size1=" << size1 << " size2=" << size2;
  LEDGER_CHECK(!proof.empty());
  // Step 2: a power-of-two size1 is itself a node on the path; its root starts the chain.
  const bool seed_is_root1 = std::has_single_bit(size1);
  Hash fr = seed_is_root1 ? root1 : proof[0];
  Hash sr = fr;
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {  // Step 4.
    fn >>= 1;
    sn >>= 1;
  }
  for (size_t i = seed_is_root1 ? 0 : 1; i < proof.size(); ++i) {  // Step 6.
    if (sn == 0) return Mismatch("consistency proof: too many components");
    const Hash& c = proof[i];
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Mismatch("consistency proof: too few components");
  if (fr != root1) return Mismatch("consistency proof: does not lead to root1");
  if (sr != root2) return Mismatch("consistency proof: does not lead to root2");
  return Status::Ok();
}

}  // namespace


MerkleNodeSource::~MerkleNodeSource() = default;

Result<std::vector<MerkleNode>> NodesCompletedBy(const MerkleNodeSource& src, uint64_t leaf_index,
                                                 const Hash& leaf_hash) {
  LEDGER_CHECK(leaf_index < kTreeSizeMax) << "leaf_index=" << leaf_index;
  std::vector<MerkleNode> nodes;
  nodes.push_back(MerkleNode{.level = 0, .index = leaf_index, .hash = leaf_hash});
  Hash hash = leaf_hash;
  uint64_t index = leaf_index;
  uint32_t level = 0;
  // An odd index is a right child: with it, its parent's subtree is complete.
  while ((index & 1) != 0) {
    LEDGER_ASSIGN_OR_RETURN(Hash left, src.Node(level, index - 1));
    hash = NodeHash(left, hash);
    index >>= 1;
    ++level;
    nodes.push_back(MerkleNode{.level = level, .index = index, .hash = hash});
  }
  LEDGER_CHECK(nodes.size() == static_cast<size_t>(std::countr_one(leaf_index)) + 1);
  LEDGER_CHECK(nodes.back().index << nodes.back().level <= leaf_index);
  return nodes;
}

Result<Hash> RootAt(const MerkleNodeSource& src, uint64_t size) {
  if (size > kTreeSizeMax) {
    return Status::InvalidArgument("tree size " + std::to_string(size) + " is over 2^63");
  }
  if (size == 0) return EmptyRoot();
  return RangeHash(src, 0, size);
}

Result<std::vector<Hash>> InclusionProof(const MerkleNodeSource& src, uint64_t leaf_index,
                                         uint64_t size) {
  if (size > kTreeSizeMax) {
    return Status::InvalidArgument("tree size " + std::to_string(size) + " is over 2^63");
  }
  if (leaf_index >= size) {
    return Status::InvalidArgument("leaf index " + std::to_string(leaf_index) +
                                   " is not below tree size " + std::to_string(size));
  }
  // Walks PATH(m, D[n]) from the root down; the RFC lists the siblings bottom-up.
  std::vector<Hash> path;
  uint64_t start = 0;
  uint64_t count = size;
  uint64_t index = leaf_index;
  while (count > 1) {
    const uint64_t k = SplitPoint(count);
    if (index < k) {
      LEDGER_ASSIGN_OR_RETURN(Hash right, RangeHash(src, start + k, count - k));
      path.push_back(right);
      count = k;
    } else {
      LEDGER_ASSIGN_OR_RETURN(Hash left, RangeHash(src, start, k));
      path.push_back(left);
      start += k;
      index -= k;
      count -= k;
    }
  }
  LEDGER_CHECK(index == 0 && start == leaf_index);
  LEDGER_CHECK(path.size() <= kProofHashesMax);
  std::reverse(path.begin(), path.end());
  return path;
}

Result<std::vector<Hash>> ConsistencyProof(const MerkleNodeSource& src, uint64_t old_size,
                                           uint64_t new_size) {
  if (new_size > kTreeSizeMax) {
    return Status::InvalidArgument("tree size " + std::to_string(new_size) + " is over 2^63");
  }
  if (old_size > new_size) {
    return Status::InvalidArgument("old size " + std::to_string(old_size) + " is above new size " +
                                   std::to_string(new_size));
  }
  std::vector<Hash> path;
  if (old_size == 0 || old_size == new_size) return path;
  // Walks SUBPROOF(m, D[n], b) from the root down; the RFC lists the hashes bottom-up.
  uint64_t start = 0;
  uint64_t count = new_size;
  uint64_t m = old_size;
  bool whole_old_tree = true;  // b: D[start:start+m] is the old tree itself, known to the verifier.
  while (m != count) {
    const uint64_t k = SplitPoint(count);
    if (m <= k) {
      LEDGER_ASSIGN_OR_RETURN(Hash right, RangeHash(src, start + k, count - k));
      path.push_back(right);
      count = k;
    } else {
      LEDGER_ASSIGN_OR_RETURN(Hash left, RangeHash(src, start, k));
      path.push_back(left);
      start += k;
      m -= k;
      count -= k;
      whole_old_tree = false;
    }
  }
  if (!whole_old_tree) {
    LEDGER_ASSIGN_OR_RETURN(Hash subtree, RangeHash(src, start, count));
    path.push_back(subtree);
  }
  LEDGER_CHECK(!path.empty());
  LEDGER_CHECK(path.size() <= kProofHashesMax);
  std::reverse(path.begin(), path.end());
  return path;
}

Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                       std::span<const Hash> proof, const Hash& root) {
  if (tree_size > kTreeSizeMax) return Mismatch("inclusion proof: tree size is over 2^63");
  if (leaf_index >= tree_size) {
    return Mismatch("inclusion proof: leaf index " + std::to_string(leaf_index) +
                    " is not below tree size " + std::to_string(tree_size));
  }
  if (proof.size() > kProofHashesMax) return Mismatch("inclusion proof: too many components");
  // RFC 9162 §2.1.3.2, steps 2-5.
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return Mismatch("inclusion proof: too many components");
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Mismatch("inclusion proof: too few components");
  if (r != root) return Mismatch("inclusion proof: does not lead to the root");
  return Status::Ok();
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                         std::span<const Hash> proof) {
  if (size2 > kTreeSizeMax) return Mismatch("consistency proof: size2 is over 2^63");
  if (size1 > size2) {
    return Mismatch("consistency proof: size1 " + std::to_string(size1) + " is above size2 " +
                    std::to_string(size2));
  }
  if (proof.size() > kProofHashesMax) return Mismatch("consistency proof: too many components");
  if (size1 == size2) {
    if (!proof.empty()) return Mismatch("consistency proof: not empty for equal sizes");
    if (root1 != root2) return Mismatch("consistency proof: roots differ for equal sizes");
    if (size1 == 0 && root1 != EmptyRoot()) {
      return Mismatch("consistency proof: root of size 0 is not the empty tree's root");
    }
    return Status::Ok();
  }
  if (size1 == 0) return Mismatch("consistency proof: from the empty tree is meaningless");
  if (proof.empty()) return Mismatch("consistency proof: empty for different sizes");
  return VerifyConsistencyPath(size1, size2, root1, root2, proof);
}

Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, std::span<const uint8_t> leaf_hash,
                       std::span<const events::Bytes> proof, std::span<const uint8_t> root) {
  LEDGER_ASSIGN_OR_RETURN(Hash leaf, HashFromBytes(leaf_hash, "inclusion proof: leaf hash"));
  LEDGER_ASSIGN_OR_RETURN(Hash root_hash, HashFromBytes(root, "inclusion proof: root"));
  LEDGER_ASSIGN_OR_RETURN(std::vector<Hash> path, ProofFromBytes(proof, "inclusion proof"));
  return VerifyInclusion(leaf_index, tree_size, leaf, path, root_hash);
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, std::span<const uint8_t> root1,
                         std::span<const uint8_t> root2, std::span<const events::Bytes> proof) {
  LEDGER_ASSIGN_OR_RETURN(Hash first, HashFromBytes(root1, "consistency proof: root1"));
  LEDGER_ASSIGN_OR_RETURN(Hash second, HashFromBytes(root2, "consistency proof: root2"));
  LEDGER_ASSIGN_OR_RETURN(std::vector<Hash> path, ProofFromBytes(proof, "consistency proof"));
  return VerifyConsistency(size1, size2, first, second, path);
}

Result<Hash> MemoryMerkleTree::Node(uint32_t level, uint64_t index) const {
  if (level >= nodes_.size() || index >= nodes_[level].size()) {
    return Status::NotFound("merkle node (" + std::to_string(level) + ", " + std::to_string(index) +
                            ") is not stored");
  }
  return nodes_[level][index];
}

void MemoryMerkleTree::Append(const Hash& leaf_hash) {
  LEDGER_CHECK(size_ < kTreeSizeMax) << "size=" << size_;
  Result<std::vector<MerkleNode>> nodes = NodesCompletedBy(*this, size_, leaf_hash);
  // Every left sibling of a completed parent was stored by an earlier Append.
  LEDGER_CHECK(nodes.ok()) << nodes.status().ToString();
  for (const MerkleNode& node : *nodes) {
    if (nodes_.size() <= node.level) nodes_.resize(node.level + size_t{1});
    LEDGER_CHECK(nodes_[node.level].size() == node.index)
        << "level=" << node.level << " index=" << node.index;
    nodes_[node.level].push_back(node.hash);
  }
  ++size_;
}

Hash MemoryMerkleTree::Root() const {
  Result<Hash> root = RootAt(*this, size_);
  LEDGER_CHECK(root.ok()) << root.status().ToString();
  return *root;
}

}  // namespace fundledger::ledger
