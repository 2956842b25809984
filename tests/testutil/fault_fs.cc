#include "tests/testutil/fault_fs.h"

#include <utility>

namespace fundledger::testutil {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// A writable file whose writes and syncs consult the file system's armed fault.
class FaultInjectingFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultInjectingFile(std::unique_ptr<rocksdb::FSWritableFile> target, FaultInjectingFileSystem* fs)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(target)), fs_(fs) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    if (Fails(FaultInjectingFileSystem::Fault::kWrite))
      return IOStatus::NoSpace("injected: no space left on device");
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    if (Fails(FaultInjectingFileSystem::Fault::kWrite))
      return IOStatus::NoSpace("injected: no space left on device");
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    if (Fails(FaultInjectingFileSystem::Fault::kWrite))
      return IOStatus::NoSpace("injected: no space left on device");
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, dbg);
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    if (Fails(FaultInjectingFileSystem::Fault::kSync))
      return IOStatus::NoSpace("injected: fsync failed, no space");
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    if (Fails(FaultInjectingFileSystem::Fault::kSync))
      return IOStatus::NoSpace("injected: fsync failed, no space");
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& options,
                     IODebugContext* dbg) override {
    if (Fails(FaultInjectingFileSystem::Fault::kSync))
      return IOStatus::NoSpace("injected: fsync failed, no space");
    return FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, options, dbg);
  }

 private:
  bool Fails(FaultInjectingFileSystem::Fault kind) {
    if (fs_->fault() != kind) return false;
    fs_->CountInjected();
    return true;
  }

  FaultInjectingFileSystem* fs_;
};

}  // namespace

IOStatus FaultInjectingFileSystem::NewWritableFile(const std::string& name,
                                                   const rocksdb::FileOptions& options,
                                                   std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                   IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = FileSystemWrapper::NewWritableFile(name, options, &file, dbg);
  if (s.ok()) *result = std::make_unique<FaultInjectingFile>(std::move(file), this);
  return s;
}

IOStatus FaultInjectingFileSystem::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = FileSystemWrapper::ReopenWritableFile(name, options, &file, dbg);
  if (s.ok()) *result = std::make_unique<FaultInjectingFile>(std::move(file), this);
  return s;
}

FaultInjection::FaultInjection()
    : fs_(std::make_shared<FaultInjectingFileSystem>(rocksdb::FileSystem::Default())),
      env_(rocksdb::NewCompositeEnv(fs_)) {
  hooks_.env = env_.get();
}

}  // namespace fundledger::testutil
