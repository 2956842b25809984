// The xlsx and PDF writers need libxlsxwriter, cairo and pango: some forty shared libraries that
// every process would map and relocate at start. They live in a module of their own,
// kRenderModuleFile beside the fundledger executable, that only `report` loads; every other
// command starts without them.
#pragma once

#include <string>
#include <vector>

#include "events/status.h"
#include "tools/report/report.h"

namespace fundledger::report {

inline constexpr char kRenderModuleFile[] = "libfundledger_render.so";
// The module's one exported C symbol: a function returning its Renderers.
inline constexpr char kRenderEntryPoint[] = "fundledger_renderers";
// Raised whenever Renderers or the report model changes shape, so an executable never calls a
// module built from other sources.
inline constexpr int kRenderAbi = 1;

struct Renderers {
  int abi = 0;          // kRenderAbi of the module's build
  size_t report_bytes;  // sizeof(Report) in the module's build
  Result<std::string> (*xlsx)(const std::vector<Report>& reports, Lang lang,
                              const std::string& temp_dir);
  Result<std::string> (*pdf)(const std::vector<Report>& reports, Lang lang);
};

// The writers, loaded once per process from kRenderModuleFile in the directory of the running
// executable. kIOError naming the module's path and the loader's reason if it is missing, does
// not load, or comes from another build (kRenderAbi, sizeof(Report)).
Result<const Renderers*> LoadRenderers();

}  // namespace fundledger::report
