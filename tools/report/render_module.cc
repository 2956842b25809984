// The entry point of the report writers' module (render.h): built with xlsx.cc and pdf.cc
// into kRenderModuleFile; the symbols they use from the rest of fundledger resolve against
// the executable that loads it (tools/report/render_exports.list).
#include "tools/report/render.h"

extern "C" __attribute__((visibility("default"))) const fundledger::report::Renderers*
fundledger_renderers() {
  namespace rp = fundledger::report;
  static const rp::Renderers renderers{rp::kRenderAbi, sizeof(rp::Report), &rp::RenderXlsx,
                                       &rp::RenderPdf};
  return &renderers;
}
