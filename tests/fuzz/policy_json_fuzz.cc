// Goal: any text given as a policy (policy publish --file) parses strictly or is refused; what
// parses is checked by CheckPolicy without crashing and round-trips through its JSON form.
#include <nlohmann/json.hpp>

#include "events/codec.h"
#include "projections/projections.h"
#include "tests/fuzz/fuzz_util.h"

namespace ev = ::fundledger::events;
namespace pj = ::fundledger::projections;
using ::fundledger::fuzz::Fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto policy = ev::PolicyFromJson(::fundledger::fuzz::AsText(data, size));
  if (!policy.ok()) return 0;
  (void)pj::CheckPolicy(*policy).ok();
  auto again = ev::PolicyFromJson(ev::PolicyToJson(*policy).dump());
  if (!again.ok() || !(*again == *policy)) Fail("policy JSON round trip");
  if (ev::EncodePolicy(*again) != ev::EncodePolicy(*policy)) Fail("policy canonical bytes");
  return 0;
}
