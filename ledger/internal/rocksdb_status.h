// The one adapter from rocksdb::Status to fundledger::Status.
#pragma once

#include <rocksdb/status.h>

#include <string>

#include "events/status.h"

namespace fundledger::ledger::internal {

inline Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  std::string message = what + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(message);
  if (s.IsNotFound()) return Status::NotFound(message);
  // RocksDB reports a held LOCK file as an IOError mentioning the lock.
  if (s.IsIOError() && (s.ToString().find("lock") != std::string::npos ||
                        s.ToString().find("Resource temporarily unavailable") != std::string::npos)) {
    return Status::Busy("ledger in use by another process");
  }
  return Status::IOError(message);
}

}  // namespace fundledger::ledger::internal
