// Plain C++ values for entries, event bodies and policies: what projections and tools work with.
// The wire form is schemas/ledger.capnp; events/codec.h converts, byte for byte canonically.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace fundledger::events {

using Hash = std::array<uint8_t, 32>;        // SHA-256 digest
using KeyId = Hash;                          // SHA-256 of a raw Ed25519 public key
using PublicKey = std::array<uint8_t, 32>;   // raw Ed25519 public key
using Signature = std::array<uint8_t, 64>;   // Ed25519 signature
using LedgerId = std::array<uint8_t, 16>;
using Bytes = std::vector<uint8_t>;

inline constexpr uint16_t kFormatVersion = 1;

enum class Role : uint8_t { kAuthority, kAdmin, kClerk, kReviewer, kTreasurer, kAuditor, kNotary };
inline constexpr int kRoleCount = 7;

enum class RecipientKind : uint8_t {
  kEnterprise,
  kStartup,
  kUniversity,
  kResearchInstitute,
  kDataSourceUnit,
  kPlatformOperator,
  kLab,
  kInnovationCentre,
};
inline constexpr int kRecipientKindCount = 8;

enum class CapScope : uint8_t {
  kPerAward,
  kPerRecipientYear,
  kPerRecipientTerm,
  kPerProject,
  kPerRecipientMeasureYear,
};

inline constexpr int kCapScopeCount = 5;

enum class AttributeTest : uint8_t { kEquals, kOneOf, kPresent, kNotRelatedParty };
inline constexpr int kAttributeTestCount = 4;

// ---- Policy (schemas/policy.capnp) ----

struct Unit {
  std::string code, name_en, name_zh, kind;
  bool operator==(const Unit&) const = default;
};
struct Cap {
  CapScope scope = CapScope::kPerAward;
  int64_t amount_fen = 0;
  std::string source, note;
  bool operator==(const Cap&) const = default;
};
struct AttributeRule {
  std::string key;
  AttributeTest test = AttributeTest::kEquals;
  std::vector<std::string> values;
  std::string source, note;
  bool operator==(const AttributeRule&) const = default;
};
struct Track {
  std::string id, name_en, name_zh, basis_kind;
  uint32_t rate_ceiling_bp = 0;
  std::vector<Cap> caps;
  uint16_t period_years = 0;
  std::vector<RecipientKind> eligible_kinds;
  std::vector<AttributeRule> required_attributes;
  bool bounded_by_basis_only = false;
  std::string source, note;
  bool IsMerit() const { return basis_kind.empty(); }
  bool operator==(const Track&) const = default;
};
struct CoFunding {
  uint32_t city_share_bp = 10000;
  uint32_t district_share_bp = 0;
  std::string source, note;
  bool operator==(const CoFunding&) const = default;
};
struct Measure {
  std::string id, name_en, name_zh;
  bool money_rule = false;
  bool annual_budget_cap_stated = false;
  int64_t annual_budget_cap_fen = 0;
  std::vector<std::string> units;
  std::vector<Track> tracks;
  bool co_funded = false;
  CoFunding co_funding;
  std::string source, note;
  const Track* FindTrack(const std::string& track_id) const;
  bool operator==(const Measure&) const = default;
};
struct Policy {
  std::string id, version, title_zh, title_en, issuer;
  std::string term_start, term_end;  // ISO dates, inclusive, Asia/Shanghai
  std::string currency;
  std::vector<Unit> units;
  std::vector<Measure> measures;
  std::string source, note;
  const Measure* FindMeasure(const std::string& measure_id) const;
  bool operator==(const Policy&) const = default;
};

// ---- Event bodies (schemas/ledger.capnp, DESIGN.md §3) ----

struct LedgerCreated {
  std::string name;
  PublicKey authority_public_key{};
  std::string authority_unit, authority_holder;
  std::string currency = "CNY", minor_unit = "fen";
  uint32_t minor_per_major = 100;
  bool operator==(const LedgerCreated&) const = default;
};
struct KeyRegistered {
  PublicKey public_key{};
  Role role = Role::kClerk;
  std::string unit, holder;
  bool operator==(const KeyRegistered&) const = default;
};
struct KeyRevoked {
  KeyId key_id{};
  std::string reason;
  bool operator==(const KeyRevoked&) const = default;
};
struct PolicyPublished {
  Policy policy;
  std::string effective_from;  // ISO date
  bool operator==(const PolicyPublished&) const = default;
};
struct RecipientRegistered {
  std::string recipient_id, name;
  RecipientKind kind = RecipientKind::kEnterprise;
  std::string district;
  std::vector<std::string> related_parties;
  bool operator==(const RecipientRegistered&) const = default;
};
struct BudgetAllocated {
  std::string measure;
  uint16_t fiscal_year = 0;
  int64_t amount_fen = 0;
  std::string source;  // "city" or a district
  bool operator==(const BudgetAllocated&) const = default;
};
struct Attribute {
  std::string key, value;
  bool operator==(const Attribute&) const = default;
};
struct ApplicationSubmitted {
  std::string application_id, recipient_id, measure, track;
  uint16_t fiscal_year = 0;
  int64_t basis_fen = 0;
  std::string basis_kind;
  std::vector<Attribute> attributes;  // sorted by key, unique keys
  std::vector<Hash> evidence;
  const std::string* FindAttribute(const std::string& key) const;
  bool operator==(const ApplicationSubmitted&) const = default;
};
struct ApplicationApproved {
  std::string application_id, note;
  bool operator==(const ApplicationApproved&) const = default;
};
struct ApplicationRejected {
  std::string application_id, reason;
  bool operator==(const ApplicationRejected&) const = default;
};
struct AwardGranted {
  std::string application_id;
  int64_t amount_fen = 0, city_fen = 0, district_fen = 0;
  std::string justification;
  bool operator==(const AwardGranted&) const = default;
};
struct AwardRevoked {
  std::string application_id;
  int64_t amount_fen = 0;
  std::string reason;
  bool operator==(const AwardRevoked&) const = default;
};
struct PayoutDisbursed {
  std::string application_id;
  int64_t amount_fen = 0;
  std::string reference;
  bool operator==(const PayoutDisbursed&) const = default;
};
struct PayoutReversed {
  std::string application_id;
  int64_t amount_fen = 0;
  std::string reason;
  bool operator==(const PayoutReversed&) const = default;
};
struct AuditAttested {
  uint64_t tree_size = 0;
  Hash root_hash{}, state_hash{}, findings_digest{};
  uint32_t findings_count = 0;
  bool operator==(const AuditAttested&) const = default;
};

// The order matches the union ordinals of Entry.body (schemas/ledger.capnp).
using Body = std::variant<LedgerCreated, KeyRegistered, KeyRevoked, PolicyPublished,
                          RecipientRegistered, BudgetAllocated, ApplicationSubmitted,
                          ApplicationApproved, ApplicationRejected, AwardGranted, AwardRevoked,
                          PayoutDisbursed, PayoutReversed, AuditAttested>;
inline constexpr size_t kKindCount = std::variant_size_v<Body>;

struct Entry {
  uint16_t format_version = kFormatVersion;
  LedgerId ledger_id{};
  uint64_t seq = 0;
  Hash prev_hash{};
  int64_t recorded_at_ms = 0;
  KeyId signer{};
  std::string idempotency_key;
  Body body;
  bool operator==(const Entry&) const = default;
};

// Kind names as DESIGN.md §3 spells them ("AwardGranted"); index = Body::index().
const char* KindName(size_t kind_index);
// Index of `name` in Body, or -1.
int KindIndex(const std::string& name);
inline const char* KindName(const Body& body) { return KindName(body.index()); }

const char* RoleName(Role role);              // "reviewer"
bool ParseRole(const std::string& name, Role* out);
const char* RecipientKindName(RecipientKind kind);  // "research_institute"
bool ParseRecipientKind(const std::string& name, RecipientKind* out);
const char* CapScopeName(CapScope scope);     // "perRecipientYear"

}  // namespace fundledger::events
