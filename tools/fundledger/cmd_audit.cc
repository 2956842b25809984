#include "tools/fundledger/context.h"
namespace fundledger::tools {
void AddAuditCommands(CLI::App&, Context&, Action*) {}
}  // namespace fundledger::tools
