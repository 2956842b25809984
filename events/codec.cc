#include "events/codec.h"

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "events/crypto.h"
#include "events/internal/capnp_convert.h"
#include "events/text.h"

namespace fundledger::events {
namespace {

namespace s = ::fundledger::schema;
using nlohmann::json;

inline constexpr int kJsonDepthMax = 64;
inline constexpr size_t kTraversalsPerDecode = 8;

Bytes WordsToBytes(kj::ArrayPtr<const capnp::word> words) {
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

// "researchInstitute" -> "research_institute"
std::string CamelToSnake(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      out.push_back('_');
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "research_institute" -> "researchInstitute"; "" if the input is not lowercase snake_case.
std::string SnakeToCamel(std::string_view name) {
  std::string out;
  bool upper = false;
  for (char c : name) {
    if (c == '_') {
      if (upper || out.empty()) return "";
      upper = true;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return "";
    out.push_back(upper ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return upper ? "" : out;
}

// ---- JSON -> capnp, driven by the schema ----

Status FillStruct(const json& in, capnp::DynamicStruct::Builder out, const std::string& path);

Result<int64_t> JsonInteger(const json& v, const std::string& path, int64_t min, int64_t max) {
  if (!v.is_number_integer()) {
    return Status::InvalidArgument(path + ": expected an integer, got " + std::string(v.type_name()) +
                                   (v.is_number_float() ? " (amounts are integer fen)" : ""));
  }
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Status::InvalidArgument(path + ": integer out of range");
  }
  int64_t value = v.get<int64_t>();
  if (value < min || value > max) {
    return Status::InvalidArgument(path + ": " + std::to_string(value) + " is out of range [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return value;
}

Result<capnp::DynamicValue::Reader> ScalarFromJson(const json& v, capnp::Type type,
                                                   const std::string& path,
                                                   std::vector<std::vector<kj::byte>>* keep) {
  using W = capnp::schema::Type;
  switch (type.which()) {
    case W::BOOL:
      if (!v.is_boolean()) return Status::InvalidArgument(path + ": expected true or false");
      return capnp::DynamicValue::Reader(v.get<bool>());
    case W::INT16: case W::INT32: case W::INT64: case W::INT8: {
      int64_t max = type.which() == W::INT64 ? INT64_MAX : type.which() == W::INT32 ? INT32_MAX
                    : type.which() == W::INT16 ? INT16_MAX : INT8_MAX;
      LEDGER_ASSIGN_OR_RETURN(int64_t value, JsonInteger(v, path, -max - 1, max));
      return capnp::DynamicValue::Reader(value);
    }
    case W::UINT8: case W::UINT16: case W::UINT32: case W::UINT64: {
      int64_t max = type.which() == W::UINT64 ? INT64_MAX : type.which() == W::UINT32 ? int64_t{UINT32_MAX}
                    : type.which() == W::UINT16 ? int64_t{UINT16_MAX} : int64_t{UINT8_MAX};
      LEDGER_ASSIGN_OR_RETURN(int64_t value, JsonInteger(v, path, 0, max));
      return capnp::DynamicValue::Reader(static_cast<uint64_t>(value));
    }
    case W::TEXT:
      if (!v.is_string()) return Status::InvalidArgument(path + ": expected a string");
      return capnp::DynamicValue::Reader(capnp::Text::Reader(v.get_ref<const std::string&>().c_str(),
                                                             v.get_ref<const std::string&>().size()));
    case W::DATA: {
      if (!v.is_string()) return Status::InvalidArgument(path + ": expected lowercase hex");
      const std::string& text = v.get_ref<const std::string&>();
      std::vector<kj::byte> bytes(text.size() / 2);
      if (text.size() % 2 != 0 || !FromHex(text, bytes)) {
        return Status::InvalidArgument(path + ": not hex");
      }
      keep->push_back(std::move(bytes));
      return capnp::DynamicValue::Reader(capnp::Data::Reader(keep->back().data(), keep->back().size()));
    }
    case W::ENUM: {
      if (!v.is_string()) return Status::InvalidArgument(path + ": expected a name");
      std::string camel = SnakeToCamel(v.get_ref<const std::string&>());
      KJ_IF_MAYBE(enumerant, type.asEnum().findEnumerantByName(camel)) {
        return capnp::DynamicValue::Reader(capnp::DynamicEnum(*enumerant));
      }
      std::string names;
      for (auto e : type.asEnum().getEnumerants()) {
        names += (names.empty() ? "" : ", ") + CamelToSnake(e.getProto().getName().cStr());
      }
      return Status::InvalidArgument(path + ": unknown value '" + v.get_ref<const std::string&>() +
                                     "' (one of " + names + ")");
    }
    default:
      return Status::InvalidArgument(path + ": unsupported field type");
  }
}

Status FillList(const json& in, capnp::DynamicList::Builder out, capnp::Type element,
                const std::string& path) {
  std::vector<std::vector<kj::byte>> keep;
  for (unsigned i = 0; i < out.size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (element.isStruct()) {
      LEDGER_RETURN_IF_ERROR(FillStruct(in[i], out[i].as<capnp::DynamicStruct>(), item_path));
    } else if (element.isList()) {
      return Status::InvalidArgument(item_path + ": nested lists are not supported");
    } else {
      LEDGER_ASSIGN_OR_RETURN(auto value, ScalarFromJson(in[i], element, item_path, &keep));
      out.set(i, value);
    }
  }
  return Status::Ok();
}

Status FillStruct(const json& in, capnp::DynamicStruct::Builder out, const std::string& path) {
  if (!in.is_object()) return Status::InvalidArgument(path + ": expected an object");
  auto schema = out.getSchema();
  for (auto it = in.begin(); it != in.end(); ++it) {
    const std::string field_path = path.empty() ? it.key() : path + "." + it.key();
    KJ_IF_MAYBE(field, schema.findFieldByName(it.key())) {
      capnp::Type type = field->getType();
      if (type.isStruct()) {
        LEDGER_RETURN_IF_ERROR(FillStruct(*it, out.init(*field).as<capnp::DynamicStruct>(), field_path));
      } else if (type.isList()) {
        if (!it->is_array()) return Status::InvalidArgument(field_path + ": expected an array");
        auto list = out.init(*field, static_cast<unsigned>(it->size())).as<capnp::DynamicList>();
        LEDGER_RETURN_IF_ERROR(FillList(*it, list, type.asList().getElementType(), field_path));
      } else {
        std::vector<std::vector<kj::byte>> keep;
        LEDGER_ASSIGN_OR_RETURN(auto value, ScalarFromJson(*it, type, field_path, &keep));
        out.set(*field, value);
      }
    } else {
      return Status::InvalidArgument(field_path + ": unknown field");
    }
  }
  return Status::Ok();
}

// ---- capnp -> JSON ----

json ValueToJson(capnp::DynamicValue::Reader value, capnp::Type type);

json StructToJson(capnp::DynamicStruct::Reader in) {
  json out = json::object();
  for (auto field : in.getSchema().getFields()) {
    out[field.getProto().getName().cStr()] = ValueToJson(in.get(field), field.getType());
  }
  return out;
}

json ValueToJson(capnp::DynamicValue::Reader value, capnp::Type type) {
  using W = capnp::schema::Type;
  switch (type.which()) {
    case W::BOOL: return value.as<bool>();
    case W::INT8: case W::INT16: case W::INT32: case W::INT64: return value.as<int64_t>();
    case W::UINT8: case W::UINT16: case W::UINT32: case W::UINT64: return value.as<uint64_t>();
    case W::TEXT: {
      auto text = value.as<capnp::Text>();
      return std::string(text.begin(), text.size());
    }
    case W::DATA: {
      auto data = value.as<capnp::Data>();
      return Hex(std::span<const uint8_t>(data.begin(), data.size()));
    }
    case W::ENUM: {
      KJ_IF_MAYBE(e, value.as<capnp::DynamicEnum>().getEnumerant()) {
        return CamelToSnake(e->getProto().getName().cStr());
      }
      return value.as<capnp::DynamicEnum>().getRaw();
    }
    case W::STRUCT: return StructToJson(value.as<capnp::DynamicStruct>());
    case W::LIST: {
      json out = json::array();
      auto element = type.asList().getElementType();
      for (auto item : value.as<capnp::DynamicList>()) out.push_back(ValueToJson(item, element));
      return out;
    }
    default: return nullptr;
  }
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n;
  }
  return true;
}

// Why `text` cannot be held as entry text ("" if it can): Cap'n Proto's Text does not enforce
// UTF-8 (JSON output and projections need it), and a NUL ends the text for every C reader.
std::string TextProblem(std::string_view text) {
  if (!ValidUtf8(text)) return "is not valid UTF-8";
  if (text.find('\0') != std::string_view::npos) return "contains a NUL character";
  return "";
}

// The first Text below a value (in the active union members) that TextProblem refuses, as
// its path below the value then the problem (".name is not valid UTF-8", "[2].id contains a
// NUL character"); "" if there is none. The path is spelled out only for a bad text: the walk
// over good text allocates nothing.
std::string BadTextIn(capnp::DynamicStruct::Reader in);

std::string BadTextBelow(capnp::DynamicValue::Reader value, capnp::Type type) {
  if (type.isText()) {
    auto text = value.as<capnp::Text>();
    std::string problem = TextProblem(std::string_view(text.begin(), text.size()));
    return problem.empty() ? "" : " " + problem;
  }
  if (type.isStruct()) return BadTextIn(value.as<capnp::DynamicStruct>());
  if (type.isList()) {
    auto element = type.asList().getElementType();
    if (!element.isText() && !element.isStruct() && !element.isList()) return "";
    unsigned i = 0;
    for (auto item : value.as<capnp::DynamicList>()) {
      std::string bad = BadTextBelow(item, element);
      if (!bad.empty()) return "[" + std::to_string(i) + "]" + bad;
      ++i;
    }
  }
  return "";
}

std::string BadTextOfField(capnp::DynamicStruct::Reader in, capnp::StructSchema::Field field) {
  capnp::Type type = field.getType();
  if (!type.isText() && !type.isStruct() && !type.isList()) return "";
  std::string bad = BadTextBelow(in.get(field), type);
  return bad.empty() ? "" : "." + std::string(field.getProto().getName().cStr()) + bad;
}

std::string BadTextIn(capnp::DynamicStruct::Reader in) {
  for (auto field : in.getSchema().getNonUnionFields()) {
    std::string bad = BadTextOfField(in, field);
    if (!bad.empty()) return bad;
  }
  KJ_IF_MAYBE (field, in.which()) {
    return BadTextOfField(in, *field);
  }
  return "";
}

// "<path> <problem>" for the first Text field below `in` (named `path`) that TextProblem
// refuses; "" if there is none.
std::string FindBadText(capnp::DynamicStruct::Reader in, std::string_view path) {
  std::string bad = BadTextIn(in);
  return bad.empty() ? "" : std::string(path) + bad;
}

// Byte offset of the first control character (C0, DEL or C1) in valid UTF-8 `text`; npos.
size_t ControlCharAt(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return i;
    // U+0080..U+009F are encoded as 0xC2 0x80..0x9F.
    if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      return i;
    }
  }
  return std::string_view::npos;
}

// The identifier fields of an entry, by JSON field path below the body: the texts that become
// row and index keys, are matched by rules, or name a person, where a control character is
// never meant and would split keys and one-line output.
using NamedTexts = std::vector<std::pair<std::string, const std::string*>>;

void PolicyIdentifiers(const Policy& p, NamedTexts* out) {
  out->emplace_back("policy.id", &p.id);
  out->emplace_back("policy.version", &p.version);
  out->emplace_back("policy.termStart", &p.term_start);
  out->emplace_back("policy.termEnd", &p.term_end);
  out->emplace_back("policy.currency", &p.currency);
  for (size_t u = 0; u < p.units.size(); ++u) {
    out->emplace_back("policy.units[" + std::to_string(u) + "].code", &p.units[u].code);
  }
  for (size_t m = 0; m < p.measures.size(); ++m) {
    const Measure& measure = p.measures[m];
    const std::string mp = "policy.measures[" + std::to_string(m) + "]";
    out->emplace_back(mp + ".id", &measure.id);
    for (size_t u = 0; u < measure.units.size(); ++u) {
      out->emplace_back(mp + ".units[" + std::to_string(u) + "]", &measure.units[u]);
    }
    for (size_t t = 0; t < measure.tracks.size(); ++t) {
      const Track& track = measure.tracks[t];
      const std::string tp = mp + ".tracks[" + std::to_string(t) + "]";
      out->emplace_back(tp + ".id", &track.id);
      out->emplace_back(tp + ".basisKind", &track.basis_kind);
      for (size_t r = 0; r < track.required_attributes.size(); ++r) {
        const AttributeRule& rule = track.required_attributes[r];
        const std::string rp = tp + ".requiredAttributes[" + std::to_string(r) + "]";
        out->emplace_back(rp + ".key", &rule.key);
        for (size_t v = 0; v < rule.values.size(); ++v) {
          out->emplace_back(rp + ".values[" + std::to_string(v) + "]", &rule.values[v]);
        }
      }
    }
  }
}

struct IdentifierLister {
  NamedTexts* out;
  void Add(const char* field, const std::string& value) { out->emplace_back(field, &value); }
  void operator()(const LedgerCreated& e) {
    Add("authorityUnit", e.authority_unit);
    Add("authorityHolder", e.authority_holder);
    Add("currency", e.currency);
    Add("minorUnit", e.minor_unit);
  }
  void operator()(const KeyRegistered& e) {
    Add("unit", e.unit);
    Add("holder", e.holder);
  }
  void operator()(const KeyRevoked&) {}
  void operator()(const PolicyPublished& e) {
    Add("effectiveFrom", e.effective_from);
    PolicyIdentifiers(e.policy, out);
  }
  void operator()(const RecipientRegistered& e) {
    Add("recipientId", e.recipient_id);
    Add("district", e.district);
    for (size_t i = 0; i < e.related_parties.size(); ++i) {
      out->emplace_back("relatedParties[" + std::to_string(i) + "]", &e.related_parties[i]);
    }
  }
  void operator()(const BudgetAllocated& e) {
    Add("measure", e.measure);
    Add("source", e.source);
  }
  void operator()(const ApplicationSubmitted& e) {
    Add("applicationId", e.application_id);
    Add("recipientId", e.recipient_id);
    Add("measure", e.measure);
    Add("track", e.track);
    Add("basisKind", e.basis_kind);
    for (size_t i = 0; i < e.attributes.size(); ++i) {
      out->emplace_back("attributes[" + std::to_string(i) + "].key", &e.attributes[i].key);
      out->emplace_back("attributes[" + std::to_string(i) + "].value", &e.attributes[i].value);
    }
  }
  void operator()(const ApplicationApproved& e) { Add("applicationId", e.application_id); }
  void operator()(const ApplicationRejected& e) { Add("applicationId", e.application_id); }
  void operator()(const AwardGranted& e) { Add("applicationId", e.application_id); }
  void operator()(const AwardRevoked& e) { Add("applicationId", e.application_id); }
  void operator()(const PayoutDisbursed& e) {
    Add("applicationId", e.application_id);
    Add("reference", e.reference);
  }
  void operator()(const PayoutReversed& e) { Add("applicationId", e.application_id); }
  void operator()(const AuditAttested&) {}
};

NamedTexts Identifiers(const Entry& entry) {
  NamedTexts out = {{"idempotencyKey", &entry.idempotency_key}};
  std::visit(IdentifierLister{&out}, entry.body);
  return out;
}

std::string BodyFieldName(std::string_view kind) {
  std::string name(kind);
  if (!name.empty()) name[0] = static_cast<char>(name[0] - 'A' + 'a');
  return name;
}

Status FromKjException(const kj::Exception& e, BytesOrigin origin, std::string_view what) {
  std::string message = std::string(what) + ": " + e.getDescription().cStr();
  return origin == BytesOrigin::kStored ? Status::Corruption(message) : Status::InvalidArgument(message);
}

}  // namespace

Bytes EncodeEntry(const Entry& entry) {
  capnp::MallocMessageBuilder message;
  internal::ToCapnp(entry, message.initRoot<s::Entry>());
  return WordsToBytes(capnp::canonicalize(message.getRoot<s::Entry>().asReader()));
}

Result<Entry> DecodeEntry(std::span<const uint8_t> bytes, BytesOrigin origin) {
  auto fail = [origin](std::string message) {
    return origin == BytesOrigin::kStored ? Status::Corruption(message) : Status::InvalidArgument(message);
  };
  if (bytes.size() > kEntryBytesMax) {
    return fail("entry of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                std::to_string(kEntryBytesMax) + " bytes (kEntryBytesMax)");
  }
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return fail("entry bytes are not whole 8-byte words");
  }
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  Entry entry;
  std::string error;
  kj::Maybe<kj::Exception> exception = kj::runCatchingExceptions([&] {
    capnp::ReaderOptions options;
    // Decoding reads the message a few times (canonical check, UTF-8 walk, conversion); the
    // limit stays proportional to the input, so hostile pointers cannot amplify work.
    options.traversalLimitInWords = words.size() * kTraversalsPerDecode + 64;
    options.nestingLimit = kNestingLimit;
    kj::ArrayPtr<const capnp::word> segments[1] = {words.asPtr()};
    capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
    if (!reader.isCanonical()) {
      error = "entry bytes are not in canonical form";
      return;
    }
    error = FindBadText(capnp::toDynamic(reader.getRoot<s::Entry>()), "entry");
    if (!error.empty()) return;
    error = internal::FromCapnp(reader.getRoot<s::Entry>(), &entry);
  });
  KJ_IF_MAYBE(e, exception) { return FromKjException(*e, origin, "entry does not decode"); }
  if (!error.empty()) return fail(error);
  // Cap'n Proto's canonical check does not cover padding bits or union tags whose members
  // share a layout; re-encoding does. So one entry has exactly one byte form (format 1; a
  // later format version that adds fields decodes its old versions by their own rules).
  if (EncodeEntry(entry) != Bytes(bytes.begin(), bytes.end())) {
    return fail("entry bytes are not the canonical encoding of their content");
  }
  return entry;
}

Status CheckEntryText(const Entry& entry) {
  capnp::MallocMessageBuilder message;
  internal::ToCapnp(entry, message.initRoot<s::Entry>());
  std::string bad = FindBadText(capnp::toDynamic(message.getRoot<s::Entry>().asReader()), "entry");
  if (!bad.empty()) return Status::InvalidArgument(bad);
  const std::string body = "entry.body." + BodyFieldName(KindName(entry.body));
  for (const auto& [field, value] : Identifiers(entry)) {
    size_t at = ControlCharAt(*value);
    if (at != std::string::npos) {
      return Status::InvalidArgument((field == "idempotencyKey" ? "entry." : body + ".") + field +
                                     " holds a control character at byte " + std::to_string(at) +
                                     "; identifiers may not");
    }
  }
  return Status::Ok();
}

Result<Bytes> EncodeEntryForSigning(const Entry& entry) {
  Bytes bytes = EncodeEntry(entry);
  LEDGER_ASSIGN_OR_RETURN(Entry decoded, DecodeEntry(bytes, BytesOrigin::kSubmitted));
  if (decoded != entry) return Status::InvalidArgument("entry does not decode to what was encoded");
  return bytes;
}

Hash EntryLeafHash(std::span<const uint8_t> entry_bytes, const Signature& signature) {
  return Rfc9162Leaf({entry_bytes, signature});
}

Hash BodyDigest(const Body& body) {
  capnp::MallocMessageBuilder message;
  auto entry = message.initRoot<s::Entry>();
  internal::BodyToCapnp(body, entry.initBody());
  Bytes bytes = WordsToBytes(capnp::canonicalize(entry.asReader()));
  return Sha256(bytes);
}

Result<json> ParseJsonStrict(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  std::string error;
  json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth >= kJsonDepthMax) throw std::runtime_error("nested deeper than 64 levels");
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(key).second) throw std::runtime_error("duplicate key \"" + key + "\"");
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // nlohmann's messages start with "[json.exception.parse_error.101] "; keep the readable part.
    size_t pos = what.find("] ");
    return Status::InvalidArgument("malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

Result<Body> BodyFromJson(std::string_view kind, const json& body_json) {
  if (KindIndex(std::string(kind)) < 0) {
    return Status::InvalidArgument("unknown event kind '" + std::string(kind) + "'");
  }
  capnp::MallocMessageBuilder message;
  auto entry = message.initRoot<s::Entry>();
  Body body;
  std::string error;
  Status status;
  kj::Maybe<kj::Exception> exception = kj::runCatchingExceptions([&] {
    auto dynamic_body = capnp::toDynamic(entry.initBody());
    auto field = dynamic_body.getSchema().getFieldByName(BodyFieldName(kind));
    status = FillStruct(body_json, dynamic_body.init(field).as<capnp::DynamicStruct>(), "body");
    if (!status.ok()) return;
    error = internal::BodyFromCapnp(entry.asReader().getBody(), &body);
  });
  KJ_IF_MAYBE(e, exception) { return FromKjException(*e, BytesOrigin::kSubmitted, "body"); }
  LEDGER_RETURN_IF_ERROR(status);
  if (!error.empty()) return Status::InvalidArgument("body: " + error);
  return body;
}

json BodyToJson(const Body& body) {
  capnp::MallocMessageBuilder message;
  auto entry = message.initRoot<s::Entry>();
  internal::BodyToCapnp(body, entry.initBody());
  auto dynamic_body = capnp::toDynamic(entry.asReader().getBody());
  KJ_IF_MAYBE(field, dynamic_body.which()) {
    return StructToJson(dynamic_body.get(*field).as<capnp::DynamicStruct>());
  }
  LEDGER_CHECK(false) << "body union without a member";
  return nullptr;
}

Result<Policy> PolicyFromJson(std::string_view json_text) {
  LEDGER_ASSIGN_OR_RETURN(json doc, ParseJsonStrict(json_text));
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<s::Policy>();
  Status status;
  Policy policy;
  kj::Maybe<kj::Exception> exception = kj::runCatchingExceptions([&] {
    status = FillStruct(doc, capnp::toDynamic(root), "policy");
    if (!status.ok()) return;
    std::string error = internal::FromCapnp(root.asReader(), &policy);
    if (!error.empty()) status = Status::InvalidArgument(error);
  });
  KJ_IF_MAYBE(e, exception) { return FromKjException(*e, BytesOrigin::kSubmitted, "policy"); }
  LEDGER_RETURN_IF_ERROR(status);
  return policy;
}

json PolicyToJson(const Policy& policy) {
  capnp::MallocMessageBuilder message;
  internal::ToCapnp(policy, message.initRoot<s::Policy>());
  return StructToJson(capnp::toDynamic(message.getRoot<s::Policy>().asReader()));
}

Bytes EncodePolicy(const Policy& policy) {
  capnp::MallocMessageBuilder message;
  internal::ToCapnp(policy, message.initRoot<s::Policy>());
  return WordsToBytes(capnp::canonicalize(message.getRoot<s::Policy>().asReader()));
}

}  // namespace fundledger::events
