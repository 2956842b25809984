// Storage hooks for tests: what Ledger::Create/Open pass to RocksDB besides the real file
// system (ledger.h declares StorageHooks without naming RocksDB).
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/env.h>

#include <cstddef>
#include <memory>

#include "ledger/ledger.h"

namespace fundledger::ledger {

struct StorageHooks {
  // The Env RocksDB does all file I/O through (e.g. rocksdb::NewCompositeEnv over a
  // fault-injecting FileSystemWrapper). Default: nullptr, rocksdb::Env::Default(). Not owned.
  rocksdb::Env* env = nullptr;
  // Cached projection rows past which a writer drops them after a commit (kCachedRowsMax), set
  // low so that tests reach the point where rows are read back from the store.
  size_t cached_rows_max = kCachedRowsMax;
};

namespace internal {
// The block cache every column family of every ledger in the process reads through
// (kBlockCacheBytes; ledger/store.cc).
std::shared_ptr<rocksdb::Cache> SharedBlockCache();
}  // namespace internal

}  // namespace fundledger::ledger
