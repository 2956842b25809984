// Goal: any text given as an event body (append --file, the body of an export line) parses
// strictly or is refused with a Status; what is accepted under any kind round-trips through its
// JSON form and its canonical entry bytes.
#include <nlohmann/json.hpp>

#include "events/codec.h"
#include "tests/fuzz/fuzz_util.h"

namespace ev = ::fundledger::events;
using ::fundledger::fuzz::Fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = ev::ParseJsonStrict(::fundledger::fuzz::AsText(data, size));
  if (!json.ok() || !json->is_object()) return 0;
  for (size_t kind = 0; kind < ev::kKindCount; ++kind) {
    auto body = ev::BodyFromJson(ev::KindName(kind), *json);
    if (!body.ok()) continue;
    auto again = ev::BodyFromJson(ev::KindName(kind), ev::BodyToJson(*body));
    if (!again.ok() || !(*again == *body)) Fail("body JSON round trip");
    // Its JSON text must itself parse strictly (what log --json prints, import reads).
    if (!ev::ParseJsonStrict(ev::BodyToJson(*body).dump()).ok()) Fail("printed body unparsable");
  }
  return 0;
}
