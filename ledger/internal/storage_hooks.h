// Storage hooks for tests: what Ledger::Create/Open pass to RocksDB besides the real file
// system (ledger.h declares StorageHooks without naming RocksDB).
#pragma once

#include <rocksdb/env.h>

namespace fundledger::ledger {

struct StorageHooks {
  // The Env RocksDB does all file I/O through (e.g. rocksdb::NewCompositeEnv over a
  // fault-injecting FileSystemWrapper). Default: nullptr, rocksdb::Env::Default(). Not owned.
  rocksdb::Env* env = nullptr;
};

}  // namespace fundledger::ledger
