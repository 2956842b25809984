// Goal: the RFC 9162 maths of ledger/merkle.h is right and its verifiers refuse hostile proofs.
// Roots and proofs are checked against naive recursive transcriptions of the RFC definitions,
// every generated proof must verify and every single-bit change to it must not, and the
// verifiers run over every transparency-dev/merkle vector in tests/data/merkle-vectors
// (JSON decoding included, so malformed hashes are part of the tested path).
#include "ledger/merkle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "events/text.h"

namespace fundledger::ledger {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kTreeSizeTested = 70;

std::string B64(const Hash& hash) { return events::Base64(hash); }

// Leaf hashes of distinct small payloads.
std::vector<Hash> MakeLeaves(uint64_t count) {
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < count; ++i) {
    const std::vector<uint8_t> data = {static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8), 0x5a};
    leaves.push_back(LeafHash(data));
  }
  return leaves;
}

// ---- Naive transcriptions of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1. ----

using Leaves = std::span<const Hash>;

uint64_t Split(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash NaiveMth(Leaves d) {
  if (d.empty()) return EmptyRoot();
  if (d.size() == 1) return d[0];
  const uint64_t k = Split(d.size());
  return NodeHash(NaiveMth(d.first(k)), NaiveMth(d.subspan(k)));
}

std::vector<Hash> NaivePath(uint64_t m, Leaves d) {
  if (d.size() <= 1) return {};
  const uint64_t k = Split(d.size());
  std::vector<Hash> path;
  if (m < k) {
    path = NaivePath(m, d.first(k));
    path.push_back(NaiveMth(d.subspan(k)));
  } else {
    path = NaivePath(m - k, d.subspan(k));
    path.push_back(NaiveMth(d.first(k)));
  }
  return path;
}

std::vector<Hash> NaiveSubproof(uint64_t m, Leaves d, bool b) {
  if (m == d.size()) return b ? std::vector<Hash>{} : std::vector<Hash>{NaiveMth(d)};
  const uint64_t k = Split(d.size());
  std::vector<Hash> proof;
  if (m <= k) {
    proof = NaiveSubproof(m, d.first(k), b);
    proof.push_back(NaiveMth(d.subspan(k)));
  } else {
    proof = NaiveSubproof(m - k, d.subspan(k), false);
    proof.push_back(NaiveMth(d.first(k)));
  }
  return proof;
}

class MerkleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    leaves_ = MakeLeaves(kTreeSizeTested);
    for (const Hash& leaf : leaves_) tree_.Append(leaf);
  }
  Leaves Prefix(uint64_t size) const { return Leaves(leaves_).first(size); }

  std::vector<Hash> leaves_;
  MemoryMerkleTree tree_;
};

// A node source whose reads all fail, as a broken disk would.
class FailingSource : public MerkleNodeSource {
 public:
  Result<Hash> Node(uint32_t, uint64_t) const override { return Status::IOError("disk on fire"); }
};

// Calls `check(bad_proof)` for copies of `proof` with one bit of one component flipped: every
// bit of every component when `exhaustive`, else three spread bit positions per component
// (SHA-256 treats all input bits alike; what varies is the component's role in the proof).
template <typename F>
void ForEachBitFlip(const std::vector<Hash>& proof, bool exhaustive, F check) {
  std::vector<Hash> bad = proof;
  for (size_t i = 0; i < bad.size(); ++i) {
    for (size_t bit = 0; bit < 256; ++bit) {
      if (!exhaustive && bit != 0 && bit != 255 && bit != (i * 37 + 101) % 256) continue;
      bad[i][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      check(bad);
      bad[i][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
  }
}

// Trees up to this size get every bit of every proof component flipped.
constexpr uint64_t kExhaustiveFlipSizeMax = 8;

TEST(MerkleHashTest, KnownAnswers) {
  EXPECT_EQ(B64(EmptyRoot()), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(B64(LeafHash({})), "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
  // NodeHash is SHA-256(0x01 || l || r): check against a hand-built preimage.
  const Hash l = LeafHash(std::vector<uint8_t>{1});
  const Hash r = LeafHash(std::vector<uint8_t>{2});
  std::vector<uint8_t> preimage{0x01};
  preimage.insert(preimage.end(), l.begin(), l.end());
  preimage.insert(preimage.end(), r.begin(), r.end());
  EXPECT_EQ(NodeHash(l, r), events::Sha256(preimage));
  EXPECT_NE(NodeHash(l, r), NodeHash(r, l));
}

// The RFC 6962 test tree (the one the merkle-vectors were made from): 8 leaves, known roots.
TEST(MerkleHashTest, Rfc6962TestTreeRoots) {
  const std::vector<std::vector<uint8_t>> inputs = {
      {},
      {0x00},
      {0x10},
      {0x20, 0x21},
      {0x30, 0x31},
      {0x40, 0x41, 0x42, 0x43},
      {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
      {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e,
       0x6f}};
  const std::vector<std::string> roots_hex = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  MemoryMerkleTree tree;
  for (size_t i = 0; i < inputs.size(); ++i) {
    tree.Append(LeafHash(inputs[i]));
    EXPECT_EQ(events::Hex(tree.Root()), roots_hex[i]) << "size " << i + 1;
  }
  EXPECT_EQ(B64(tree.Root()), "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=");
}

TEST_F(MerkleTest, RootAtMatchesNaiveMthForEverySize) {
  for (uint64_t size = 0; size <= kTreeSizeTested; ++size) {
    Result<Hash> root = RootAt(tree_, size);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    EXPECT_EQ(*root, NaiveMth(Prefix(size))) << "size " << size;
  }
  EXPECT_EQ(tree_.Root(), NaiveMth(leaves_));
  EXPECT_EQ(tree_.size(), kTreeSizeTested);
}

TEST_F(MerkleTest, IncrementalRootsMatchNaiveMth) {
  MemoryMerkleTree tree;
  EXPECT_EQ(tree.Root(), EmptyRoot());
  for (uint64_t size = 1; size <= kTreeSizeTested; ++size) {
    tree.Append(leaves_[size - 1]);
    EXPECT_EQ(tree.Root(), NaiveMth(Prefix(size))) << "size " << size;
  }
}

TEST_F(MerkleTest, NodesCompletedByStoresLeafAndCompletedParents) {
  MemoryMerkleTree tree;
  for (uint64_t i = 0; i < kTreeSizeTested; ++i) {
    Result<std::vector<MerkleNode>> nodes = NodesCompletedBy(tree, i, leaves_[i]);
    ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
    ASSERT_EQ(nodes->size(), static_cast<size_t>(std::countr_one(i)) + 1) << "leaf " << i;
    for (size_t j = 0; j < nodes->size(); ++j) {
      const MerkleNode& node = (*nodes)[j];
      EXPECT_EQ(node.level, j);
      EXPECT_EQ(node.index, i >> j);
      const uint64_t first = node.index << node.level;
      EXPECT_EQ(node.hash, NaiveMth(Leaves(leaves_).subspan(first, uint64_t{1} << node.level)));
    }
    tree.Append(leaves_[i]);
  }
}

TEST_F(MerkleTest, StorageErrorsArePassedOn) {
  FailingSource broken;
  EXPECT_TRUE(NodesCompletedBy(broken, 1, leaves_[1]).status().IsIOError());
  Result<std::vector<MerkleNode>> first = NodesCompletedBy(broken, 0, leaves_[0]);
  EXPECT_TRUE(first.ok());  // Leaf 0 completes no parent: nothing to read.
  EXPECT_TRUE(RootAt(broken, 3).status().IsIOError());
  EXPECT_TRUE(InclusionProof(broken, 0, 2).status().IsIOError());
  EXPECT_TRUE(ConsistencyProof(broken, 1, 3).status().IsIOError());
  // A tree asked about leaves it does not hold.
  EXPECT_TRUE(RootAt(tree_, kTreeSizeTested + 1).status().IsNotFound());
  EXPECT_TRUE(InclusionProof(tree_, 0, kTreeSizeTested + 1).status().IsNotFound());
  EXPECT_TRUE(ConsistencyProof(tree_, 3, kTreeSizeTested + 1).status().IsNotFound());
  EXPECT_TRUE(tree_.Node(0, kTreeSizeTested).status().IsNotFound());
  EXPECT_TRUE(tree_.Node(7, 0).status().IsNotFound());  // 128 leaves: not complete.
}

TEST_F(MerkleTest, BuildersRefuseBadArguments) {
  EXPECT_TRUE(InclusionProof(tree_, 5, 5).status().IsInvalidArgument());
  EXPECT_TRUE(InclusionProof(tree_, 0, 0).status().IsInvalidArgument());
  EXPECT_TRUE(InclusionProof(tree_, 0, kTreeSizeMax + 1).status().IsInvalidArgument());
  EXPECT_TRUE(ConsistencyProof(tree_, 6, 5).status().IsInvalidArgument());
  EXPECT_TRUE(ConsistencyProof(tree_, 1, kTreeSizeMax + 1).status().IsInvalidArgument());
  EXPECT_TRUE(RootAt(tree_, kTreeSizeMax + 1).status().IsInvalidArgument());
}

TEST_F(MerkleTest, InclusionProofsMatchRfcAndVerify) {
  for (uint64_t size = 1; size <= kTreeSizeTested; ++size) {
    const Hash root = NaiveMth(Prefix(size));
    for (uint64_t index = 0; index < size; ++index) {
      SCOPED_TRACE("index " + std::to_string(index) + " size " + std::to_string(size));
      Result<std::vector<Hash>> proof = InclusionProof(tree_, index, size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_EQ(*proof, NaivePath(index, Prefix(size)));
      EXPECT_TRUE(VerifyInclusion(index, size, leaves_[index], *proof, root).ok());
    }
  }
}

TEST_F(MerkleTest, InclusionProofWithAnyBitFlippedFails) {
  size_t refused = 0;
  for (uint64_t size = 1; size <= kTreeSizeTested; ++size) {
    const Hash root = NaiveMth(Prefix(size));
    for (uint64_t index = 0; index < size; ++index) {
      Result<std::vector<Hash>> proof = InclusionProof(tree_, index, size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      ForEachBitFlip(*proof, size <= kExhaustiveFlipSizeMax, [&](const std::vector<Hash>& bad) {
        Status status = VerifyInclusion(index, size, leaves_[index], bad, root);
        EXPECT_TRUE(status.IsCorruption()) << "index " << index << " size " << size;
        ++refused;
      });
    }
  }
  std::cout << "[          ] " << refused << " bit-flipped inclusion proofs refused\n";
}

TEST_F(MerkleTest, InclusionProofForOtherPositionsFails) {
  for (uint64_t size = 1; size <= 20; ++size) {
    const Hash root = NaiveMth(Prefix(size));
    for (uint64_t index = 0; index < size; ++index) {
      SCOPED_TRACE("index " + std::to_string(index) + " size " + std::to_string(size));
      std::vector<Hash> proof = *InclusionProof(tree_, index, size);
      const Hash& leaf = leaves_[index];
      if (size > 1) {
        EXPECT_FALSE(VerifyInclusion(index ^ 1, size, leaf, proof, root).ok());
        EXPECT_FALSE(VerifyInclusion(index, size, leaves_[(index + 1) % size], proof, root).ok());
      }
      // The size is not hashed (a proof for size 3 may also be one for size 4); the root
      // binds it, so the next tree's root must not match.
      EXPECT_FALSE(VerifyInclusion(index, size, leaf, proof, NaiveMth(Prefix(size + 1))).ok());
      EXPECT_FALSE(VerifyInclusion(index, size * 2, leaf, proof, root).ok());
      EXPECT_FALSE(VerifyInclusion(index, size, leaf, proof, EmptyRoot()).ok());
      EXPECT_FALSE(VerifyInclusion(size, size, leaf, proof, root).ok());
      std::vector<Hash> longer = proof;
      longer.push_back(root);
      EXPECT_FALSE(VerifyInclusion(index, size, leaf, longer, root).ok());
      if (!proof.empty()) {
        std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(VerifyInclusion(index, size, leaf, shorter, root).ok());
      }
    }
  }
}

TEST_F(MerkleTest, ConsistencyProofsMatchRfcAndVerify) {
  for (uint64_t size2 = 1; size2 <= kTreeSizeTested; ++size2) {
    const Hash root2 = NaiveMth(Prefix(size2));
    for (uint64_t size1 = 1; size1 <= size2; ++size1) {
      SCOPED_TRACE("size1 " + std::to_string(size1) + " size2 " + std::to_string(size2));
      const Hash root1 = NaiveMth(Prefix(size1));
      Result<std::vector<Hash>> proof = ConsistencyProof(tree_, size1, size2);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_EQ(*proof,
                size1 == size2 ? std::vector<Hash>{} : NaiveSubproof(size1, Prefix(size2), true));
      EXPECT_TRUE(VerifyConsistency(size1, size2, root1, root2, *proof).ok());
      if (size1 != size2) {
        EXPECT_FALSE(VerifyConsistency(size1, size2, root2, root1, *proof).ok());
        EXPECT_FALSE(VerifyConsistency(size1 + 1, size2, root1, root2, *proof).ok());
        // As for inclusion, size2 is bound by root2 only.
        EXPECT_FALSE(
            VerifyConsistency(size1, size2, root1, NaiveMth(Prefix(size2 - 1)), *proof).ok());
        EXPECT_FALSE(VerifyConsistency(size1, size2 * 2, root1, root2, *proof).ok());
        std::vector<Hash> shorter(proof->begin(), proof->end() - 1);
        EXPECT_FALSE(VerifyConsistency(size1, size2, root1, root2, shorter).ok());
        std::vector<Hash> longer = *proof;
        longer.push_back(root2);
        EXPECT_FALSE(VerifyConsistency(size1, size2, root1, root2, longer).ok());
      }
    }
  }
}

TEST_F(MerkleTest, ConsistencyProofWithAnyBitFlippedFails) {
  size_t refused = 0;
  for (uint64_t size2 = 2; size2 <= kTreeSizeTested; ++size2) {
    const Hash root2 = NaiveMth(Prefix(size2));
    for (uint64_t size1 = 1; size1 < size2; ++size1) {
      const Hash root1 = NaiveMth(Prefix(size1));
      Result<std::vector<Hash>> proof = ConsistencyProof(tree_, size1, size2);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      ForEachBitFlip(*proof, size2 <= kExhaustiveFlipSizeMax, [&](const std::vector<Hash>& bad) {
        Status status = VerifyConsistency(size1, size2, root1, root2, bad);
        EXPECT_TRUE(status.IsCorruption()) << "size1 " << size1 << " size2 " << size2;
        ++refused;
      });
    }
  }
  std::cout << "[          ] " << refused << " bit-flipped consistency proofs refused\n";
}

TEST_F(MerkleTest, ConsistencyEdgeCases) {
  const Hash root3 = NaiveMth(Prefix(3));
  // From the empty tree: the builder gives the empty proof, the verifier has nothing to check
  // and refuses, as transparency-dev/merkle does.
  EXPECT_TRUE(ConsistencyProof(tree_, 0, 3)->empty());
  Status from_empty = VerifyConsistency(0, 3, EmptyRoot(), root3, {});
  EXPECT_TRUE(from_empty.IsCorruption());
  EXPECT_THAT(from_empty.message(), HasSubstr("empty tree"));
  // Size 0 to size 0: only the empty tree's root.
  EXPECT_TRUE(ConsistencyProof(tree_, 0, 0)->empty());
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).ok());
  EXPECT_TRUE(VerifyConsistency(0, 0, root3, root3, {}).IsCorruption());
  // Equal sizes: equal roots and an empty proof.
  EXPECT_TRUE(VerifyConsistency(3, 3, root3, root3, {}).ok());
  EXPECT_TRUE(VerifyConsistency(3, 3, root3, EmptyRoot(), {}).IsCorruption());
  const std::vector<Hash> one = {root3};
  EXPECT_TRUE(VerifyConsistency(3, 3, root3, root3, one).IsCorruption());
  // Going backwards, and no proof at all.
  EXPECT_TRUE(VerifyConsistency(4, 3, root3, root3, one).IsCorruption());
  EXPECT_TRUE(VerifyConsistency(2, 3, NaiveMth(Prefix(2)), root3, {}).IsCorruption());
}

TEST(MerkleVerifyTest, RefusesOversizedInputsWithoutHashing) {
  const Hash h = EmptyRoot();
  const std::vector<Hash> huge(kProofHashesMax + 1, h);
  EXPECT_THAT(VerifyInclusion(0, 10, h, huge, h).message(), HasSubstr("too many"));
  EXPECT_THAT(VerifyConsistency(1, 10, h, h, huge).message(), HasSubstr("too many"));
  EXPECT_TRUE(VerifyInclusion(0, kTreeSizeMax + 1, h, {}, h).IsCorruption());
  EXPECT_TRUE(VerifyConsistency(1, kTreeSizeMax + 1, h, h, {}).IsCorruption());
  EXPECT_TRUE(VerifyInclusion(UINT64_MAX, UINT64_MAX, h, {}, h).IsCorruption());
  // The largest legal tree: a 63-component proof runs and fails on the root, not a check.
  const std::vector<Hash> deep(63, h);
  EXPECT_THAT(VerifyInclusion(kTreeSizeMax - 1, kTreeSizeMax, h, deep, h).message(),
              HasSubstr("root"));
}

TEST(MerkleVerifyTest, RawOverloadsRefuseWrongLengths) {
  const Hash leaf = LeafHash({});
  const events::Bytes good(leaf.begin(), leaf.end());
  const events::Bytes short_hash(leaf.begin(), leaf.end() - 1);
  events::Bytes long_hash = good;
  long_hash.push_back(0);
  const std::vector<events::Bytes> none;
  EXPECT_TRUE(VerifyInclusion(0, 1, good, none, good).ok());
  EXPECT_THAT(VerifyInclusion(0, 1, short_hash, none, good).message(), HasSubstr("leaf hash"));
  EXPECT_THAT(VerifyInclusion(0, 1, good, none, long_hash).message(), HasSubstr("33 bytes"));
  EXPECT_TRUE(VerifyInclusion(0, 1, events::Bytes{}, none, events::Bytes{}).IsCorruption());
  // Tree of 2: the proof is the other leaf; a 31-byte component is refused.
  MemoryMerkleTree tree;
  tree.Append(leaf);
  tree.Append(LeafHash(std::vector<uint8_t>{1}));
  const Hash root = tree.Root();
  const events::Bytes root_bytes(root.begin(), root.end());
  const Hash sibling = *tree.Node(0, 1);
  std::vector<events::Bytes> proof = {events::Bytes(sibling.begin(), sibling.end())};
  EXPECT_TRUE(VerifyInclusion(0, 2, good, proof, root_bytes).ok());
  proof[0].pop_back();
  EXPECT_THAT(VerifyInclusion(0, 2, good, proof, root_bytes).message(),
              HasSubstr("component 0 is 31 bytes"));
  EXPECT_TRUE(VerifyConsistency(1, 1, good, good, none).ok());
  EXPECT_TRUE(VerifyConsistency(1, 1, short_hash, short_hash, none).IsCorruption());
  EXPECT_TRUE(VerifyConsistency(1, 2, good, root_bytes, proof).IsCorruption());
}

// ---- transparency-dev/merkle vectors ----

// Vectors where this verifier is deliberately stricter than upstream: upstream accepts equal
// sizes with equal 12-byte "roots" ("don't care 2") because it never looks at them; a root
// that is not 32 bytes cannot be an RFC 9162 SHA-256 root, so the raw overloads refuse it.
constexpr std::string_view kStricterThanUpstream[] = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
};

bool IsStricterThanUpstream(const std::string& name) {
  return std::find(std::begin(kStricterThanUpstream), std::end(kStricterThanUpstream), name) !=
         std::end(kStricterThanUpstream);
}

// Base64 from a vector; a malformed string becomes a 1-byte value that the raw verifiers
// then refuse for its length, so bad encoding is a refusal, never a crash.
events::Bytes Decode(const nlohmann::json& value) {
  if (!value.is_string()) return {0xff};
  std::optional<events::Bytes> bytes = events::FromBase64(value.get<std::string>());
  return bytes.has_value() ? *bytes : events::Bytes{0xff};
}

std::vector<events::Bytes> DecodeProof(const nlohmann::json& value) {
  std::vector<events::Bytes> proof;
  if (value.is_null()) return proof;
  for (const nlohmann::json& component : value) proof.push_back(Decode(component));
  return proof;
}

Status RunInclusionVector(const nlohmann::json& v) {
  return VerifyInclusion(v.at("leafIdx").get<uint64_t>(), v.at("treeSize").get<uint64_t>(),
                         Decode(v.at("leafHash")), DecodeProof(v.at("proof")),
                         Decode(v.at("root")));
}

Status RunConsistencyVector(const nlohmann::json& v) {
  return VerifyConsistency(v.at("size1").get<uint64_t>(), v.at("size2").get<uint64_t>(),
                           Decode(v.at("root1")), Decode(v.at("root2")),
                           DecodeProof(v.at("proof")));
}

TEST(MerkleVectorsTest, EveryVectorAcceptedIffWantErrIsFalse) {
  namespace fs = std::filesystem;
  const fs::path base = fs::path(FUNDLEDGER_SOURCE_DIR) / "tests" / "data" / "merkle-vectors";
  std::map<std::string, int> ran;  // kind -> cases
  int accepted = 0;
  int refused = 0;
  for (const std::string kind : {"inclusion", "consistency"}) {
    ASSERT_TRUE(fs::is_directory(base / kind)) << base / kind;
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(base / kind)) {
      if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry);
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      const std::string name = fs::relative(file, base).generic_string();
      std::ifstream in(file);
      const nlohmann::json v = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(v.is_discarded()) << name << ": not JSON";
      const Status status = kind == "inclusion" ? RunInclusionVector(v) : RunConsistencyVector(v);
      bool want_ok = !v.at("wantErr").get<bool>();
      if (IsStricterThanUpstream(name)) {
        EXPECT_TRUE(want_ok) << name << ": upstream changed; revisit kStricterThanUpstream";
        EXPECT_THAT(status.message(), HasSubstr("not 32")) << name;
        want_ok = false;
      }
      EXPECT_EQ(status.ok(), want_ok)
          << name << " (" << v.value("desc", "") << "): " << status.ToString();
      if (!status.ok()) {
        EXPECT_TRUE(status.IsCorruption()) << name << ": " << status.ToString();
      }
      (status.ok() ? accepted : refused)++;
      ++ran[kind];
    }
  }
  std::cout << "[          ] merkle vectors: " << ran["inclusion"] << " inclusion + "
            << ran["consistency"] << " consistency = " << accepted + refused << " cases, "
            << accepted << " accepted, " << refused << " refused\n";
  RecordProperty("vector_cases", accepted + refused);
  EXPECT_GE(ran["inclusion"], 90);  // 98 files at transparency-dev/merkle 417fb0c.
  EXPECT_GE(ran["consistency"], 90);
  EXPECT_GE(accepted + refused, 100);
  EXPECT_GE(accepted, 10);  // Not only refusals: the happy paths ran too.
}

}  // namespace
}  // namespace fundledger::ledger
