#include "tools/report/render.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

namespace fundledger::report {
namespace {

Result<const Renderers*> Load() {
  std::error_code error;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return Status::IOError("cannot locate the running executable: " + error.message());
  const std::string path = (exe.parent_path() / kRenderModuleFile).string();
  const std::string what = "cannot load the report writers " + path + ": ";
  // Never closed: the writers stay mapped until the process ends.
  void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module == nullptr) return Status::IOError(what + ::dlerror());
  using Entry = const Renderers* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(module, kRenderEntryPoint));
  if (entry == nullptr) return Status::IOError(what + "no entry point " + kRenderEntryPoint);
  const Renderers* renderers = entry();
  if (renderers == nullptr || renderers->abi != kRenderAbi ||
      renderers->report_bytes != sizeof(Report) || renderers->xlsx == nullptr ||
      renderers->pdf == nullptr) {
    return Status::IOError(what + "it comes from another build of fundledger");
  }
  return renderers;
}

}  // namespace

Result<const Renderers*> LoadRenderers() {
  static std::once_flag once;
  static Result<const Renderers*> loaded = Status::IOError("not loaded");
  std::call_once(once, [] { loaded = Load(); });
  return loaded;
}

}  // namespace fundledger::report
