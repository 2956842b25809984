// Goal: any bytes given as an export (import, audit --from-export, check-proof --entry) parse
// as JSON lines or a Cap'n Proto stream or are refused with a Status; what parses re-exports
// to lines that parse to the same entries, and the import dry run (CheckNextEntry + Apply over
// the chain) never crashes.
#include <string>

#include "events/codec.h"
#include "ledger/exchange.h"
#include "projections/projections.h"
#include "tests/fuzz/fuzz_util.h"

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
namespace lg = ::fundledger::ledger;
using ::fundledger::fuzz::Fail;

namespace {

void CheckParsed(const std::vector<lg::StoredEntry>& entries) {
  std::string lines;
  for (const lg::StoredEntry& stored : entries) lines += lg::ExportJsonLine(stored) + "\n";
  auto again = lg::ParseExport(lines, false);
  if (!again.ok() || again->size() != entries.size()) Fail("re-exported lines do not parse");
  for (size_t i = 0; i < entries.size(); ++i) {
    if ((*again)[i].entry_bytes != entries[i].entry_bytes) Fail("re-export changed an entry");
    if ((*again)[i].signature != entries[i].signature) Fail("re-export changed a signature");
  }
  // The import dry run, without storage: every entry must follow the state of those before.
  pj::LedgerState state;
  for (const lg::StoredEntry& stored : entries) {
    if (!lg::CheckNextEntry(state, stored, false).ok()) return;
    pj::Apply(&state, pj::EntryContext{&stored.entry, stored.leaf_hash});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = ::fundledger::fuzz::AsText(data, size);
  for (bool capnp : {false, true}) {
    auto entries = lg::ParseExport(text, capnp);
    if (entries.ok()) CheckParsed(*entries);
  }
  return 0;
}
