#include "events/model.h"

#include <array>
#include <string_view>

namespace fundledger::events {
namespace {

constexpr std::array<const char*, kKindCount> kKindNames = {
    "LedgerCreated",       "KeyRegistered",        "KeyRevoked",          "PolicyPublished",
    "RecipientRegistered", "BudgetAllocated",      "ApplicationSubmitted", "ApplicationApproved",
    "ApplicationRejected", "AwardGranted",         "AwardRevoked",        "PayoutDisbursed",
    "PayoutReversed",      "AuditAttested"};

constexpr std::array<const char*, kRoleCount> kRoleNames = {
    "authority", "admin", "clerk", "reviewer", "treasurer", "auditor", "notary"};

constexpr std::array<const char*, kRecipientKindCount> kRecipientKindNames = {
    "enterprise", "startup", "university", "research_institute", "data_source_unit",
    "platform_operator", "lab", "innovation_centre"};

}  // namespace

const Track* Measure::FindTrack(const std::string& track_id) const {
  for (const Track& track : tracks) {
    if (track.id == track_id) return &track;
  }
  return nullptr;
}

const Measure* Policy::FindMeasure(const std::string& measure_id) const {
  for (const Measure& measure : measures) {
    if (measure.id == measure_id) return &measure;
  }
  return nullptr;
}

const std::string* ApplicationSubmitted::FindAttribute(const std::string& key) const {
  for (const Attribute& attribute : attributes) {
    if (attribute.key == key) return &attribute.value;
  }
  return nullptr;
}

const char* KindName(size_t kind_index) {
  return kind_index < kKindNames.size() ? kKindNames[kind_index] : "Unknown";
}

int KindIndex(const std::string& name) {
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (name == kKindNames[i]) return static_cast<int>(i);
  }
  return -1;
}

const char* RoleName(Role role) { return kRoleNames[static_cast<size_t>(role)]; }

bool ParseRole(const std::string& name, Role* out) {
  for (size_t i = 0; i < kRoleNames.size(); ++i) {
    if (name == kRoleNames[i]) {
      *out = static_cast<Role>(i);
      return true;
    }
  }
  return false;
}

const char* RecipientKindName(RecipientKind kind) {
  return kRecipientKindNames[static_cast<size_t>(kind)];
}

bool ParseRecipientKind(const std::string& name, RecipientKind* out) {
  for (size_t i = 0; i < kRecipientKindNames.size(); ++i) {
    if (name == kRecipientKindNames[i]) {
      *out = static_cast<RecipientKind>(i);
      return true;
    }
  }
  return false;
}

const char* CapScopeName(CapScope scope) {
  switch (scope) {
    case CapScope::kPerAward: return "per_award";
    case CapScope::kPerRecipientYear: return "per_recipient_year";
    case CapScope::kPerRecipientTerm: return "per_recipient_term";
    case CapScope::kPerProject: return "per_project";
    case CapScope::kPerRecipientMeasureYear: return "per_recipient_measure_year";
  }
  return "unknown";
}

}  // namespace fundledger::events
