// A fault-injecting RocksDB file system for tests (STYLE.md §7 "Fault injection"): writes or
// syncs of every writable file fail with ENOSPC while armed, as on a full disk.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "ledger/internal/storage_hooks.h"

namespace fundledger::testutil {

class FaultInjectingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class Fault : uint8_t {
    kNone,   // every call passes through
    kWrite,  // Append/PositionedAppend fail with NoSpace (ENOSPC)
    kSync,   // Sync/Fsync/RangeSync fail with NoSpace (fsync reporting ENOSPC)
  };

  explicit FaultInjectingFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target)
      : rocksdb::FileSystemWrapper(target) {}

  static const char* kClassName() { return "FaultInjectingFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // Thread-safe: RocksDB's background threads read it.
  void Arm(Fault fault) { fault_.store(fault); }
  Fault fault() const { return fault_.load(); }
  // Calls that failed because of an armed fault (a test that injects must see one).
  uint64_t injected() const { return injected_.load(); }
  void CountInjected() { injected_.fetch_add(1); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;

 private:
  std::atomic<Fault> fault_{Fault::kNone};
  std::atomic<uint64_t> injected_{0};
};

// The file system, an Env over it, and the hooks that hand the Env to Ledger::Create/Open.
// Must outlive every ledger opened with hooks().
class FaultInjection {
 public:
  FaultInjection();
  FaultInjectingFileSystem& fs() { return *fs_; }
  const ledger::StorageHooks* hooks() const { return &hooks_; }

 private:
  std::shared_ptr<FaultInjectingFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  ledger::StorageHooks hooks_;
};

}  // namespace fundledger::testutil
