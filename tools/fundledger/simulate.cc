#include "tools/fundledger/context.h"
namespace fundledger::tools {
void AddSimulateCommand(CLI::App&, Context&, Action*) {}
}  // namespace fundledger::tools
