// The RocksDB layout (DESIGN.md §6). A change here is a format change: bump kStorageFormat.
//
// Column families:
//   entries      key = seq:u64 big-endian (byte order == seq order)
//                value = canonical Entry bytes || 64-byte Ed25519 signature
//   index        key = "<index>/" || seq:u64 BE, value empty; index is "recipient/<uscc>",
//                "application/<id>" or "kind/<Kind>"
//   projections  key = row key (projections::AllRowKeys), value = row JSON
//   merkle       key = level:u8 || index:u64 BE, value = 32-byte hash of that perfect subtree
//   checkpoints  key = tree size:u64 BE, value = signed note text
//   history      key = row key || 0x00 || ~seq:u64 BE (newest first), value = the row as
//                it stood after entry seq; an empty value: the row was removed. "Row R as of
//                seq N" is one Seek to R || 0x00 || ~N.
//   meta         "format" -> u32 little-endian; "import-unfinished" -> empty, present from an
//                import-only Create until the import's last entry is appended;
//                "checkpoint/" || tree size:u64 BE -> SHA-256 of the stored note (written with
//                it, so audit notices a stored checkpoint that disappeared or changed)
//   default      nothing (audit reports any record; and any other column family)
// One append = entries + index + projections + merkle + meta in ONE WriteBatch written with
// WriteOptions::sync = true: after a crash, all or none exist.
#pragma once

#include <cstdint>
#include <string>

namespace fundledger::ledger::internal {

inline constexpr size_t kSeqKeyBytes = 8;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kMerkleKeyBytes = 9;
static_assert(kSeqKeyBytes == 8, "entry key layout changed: bump kStorageFormat");
static_assert(kMerkleKeyBytes == 1 + 8, "merkle key layout changed: bump kStorageFormat");

inline constexpr const char* kCfEntries = "entries";
inline constexpr const char* kCfIndex = "index";
inline constexpr const char* kCfProjections = "projections";
inline constexpr const char* kCfMerkle = "merkle";
inline constexpr const char* kCfCheckpoints = "checkpoints";
inline constexpr const char* kCfMeta = "meta";
inline constexpr const char* kCfHistory = "history";
inline constexpr const char* kMetaImportUnfinished = "import-unfinished";
inline constexpr const char* kMetaCheckpointPrefix = "checkpoint/";

inline std::string SeqKey(uint64_t seq) {
  std::string key(kSeqKeyBytes, '\0');
  for (size_t i = 0; i < kSeqKeyBytes; ++i) key[i] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
  return key;
}

inline uint64_t SeqFromKey(const char* data) {
  uint64_t seq = 0;
  for (size_t i = 0; i < kSeqKeyBytes; ++i) seq = (seq << 8) | static_cast<uint8_t>(data[i]);
  return seq;
}

inline std::string MerkleKey(uint32_t level, uint64_t index) {
  return std::string(1, static_cast<char>(level)) + SeqKey(index);
}

inline std::string HistoryKey(const std::string& row_key, uint64_t seq) {
  return row_key + std::string(1, '\0') + SeqKey(~seq);
}

}  // namespace fundledger::ledger::internal
