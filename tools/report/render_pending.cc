// Placeholders for the xlsx and PDF writers (tools/report/xlsx.cc, pdf.cc), which are built
// separately; this file is removed when they arrive. Each call fails as an environment error
// (exit 4): the binary was built without that writer.
#include "tools/report/report.h"

namespace fundledger::report {

Result<std::string> RenderXlsx(const std::vector<Report>& /*reports*/, Lang /*lang*/,
                               const std::string& /*temp_dir*/) {
  return Status::IOError("xlsx writer not built");
}

Result<std::string> RenderPdf(const std::vector<Report>& /*reports*/, Lang /*lang*/) {
  return Status::IOError("pdf writer not built");
}

Result<std::string> ReadXlsxParams(const std::string& /*bytes*/) {
  return Status::IOError("xlsx writer not built");
}

Result<std::string> ReadPdfParams(const std::string& /*bytes*/) {
  return Status::IOError("pdf writer not built");
}

}  // namespace fundledger::report
