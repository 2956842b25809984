// Which index lists an entry (DESIGN.md §6 "indexes"): shared by the append path and audit.
#pragma once

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "events/model.h"
#include "projections/projections.h"

namespace fundledger::ledger::internal {

// Index names an entry is listed under (DESIGN.md §6 "indexes").
inline std::vector<std::string> IndexNames(const projections::LedgerState& state, const events::Entry& entry) {
  std::vector<std::string> names = {std::string("kind/") + events::KindName(entry.body)};
  auto application = [&](const std::string& id) {
    names.push_back("application/" + id);
    if (const projections::Application* app = state.FindApplication(id)) {
      names.push_back("recipient/" + app->submitted.recipient_id);
    }
  };
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, events::RecipientRegistered>) {
          names.push_back("recipient/" + b.recipient_id);
        } else if constexpr (std::is_same_v<T, events::ApplicationSubmitted>) {
          names.push_back("application/" + b.application_id);
          names.push_back("recipient/" + b.recipient_id);
        } else if constexpr (std::is_same_v<T, events::ApplicationApproved> || std::is_same_v<T, events::ApplicationRejected> ||
                             std::is_same_v<T, events::AwardGranted> || std::is_same_v<T, events::AwardRevoked> ||
                             std::is_same_v<T, events::PayoutDisbursed> || std::is_same_v<T, events::PayoutReversed>) {
          application(b.application_id);
        }
      },
      entry.body);
  return names;
}

}  // namespace fundledger::ledger::internal
