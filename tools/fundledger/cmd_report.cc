// report KIND|--all: the finance bureau's reports from one tree size of the ledger, and
// report check FILE: whether FILE is exactly what the ledger gives at the size it records.
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <iostream>

#include "events/text.h"
#include "ledger/exchange.h"
#include "tools/fundledger/context.h"
#include "tools/report/build.h"
#include "tools/report/render.h"

namespace fundledger::tools {
namespace {

namespace ev = ::fundledger::events;
namespace rp = ::fundledger::report;

struct ReportArgs {
  std::vector<std::string> words;  // KIND, or "check" FILE
  bool all = false;
  int year = 0;
  std::string period, as_of, checkpoint, notary_key, measure, unit, district, format, out;
  std::string lang = "zh", from_export;
  bool public_only = false;
};

// A directory under /tmp this command made, removed with its contents when done.
class ScratchDir {
 public:
  static Result<std::unique_ptr<ScratchDir>> Make() {
    std::string pattern = "/tmp/fundledger-report-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
      return Status::IOError("cannot make a directory under /tmp");
    auto dir = std::unique_ptr<ScratchDir>(new ScratchDir());
    dir->path_ = pattern;
    return dir;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  ScratchDir() = default;
  std::string path_;
};

// One output: a file name relative to --out's directory (empty: --out itself) and its bytes.
struct Output {
  std::string name;
  std::string bytes;
};

// csv: a folder (one file per report plus tidy.csv); json: one file for one report, a folder
// of <kind>.json for several; xlsx and pdf: one file holding every report.
Result<std::vector<Output>> Render(const std::vector<rp::Report>& reports, const rp::Options& o) {
  std::vector<Output> out;
  if (o.format == "csv") {
    for (const rp::Report& r : reports) out.push_back({r.kind + ".csv", rp::RenderCsv(r, o.lang)});
    out.push_back({"tidy.csv", rp::RenderTidyCsv(reports, o.lang)});
  } else if (o.format == "json") {
    for (const rp::Report& r : reports)
      out.push_back({reports.size() == 1 ? "" : r.kind + ".json", rp::RenderJson(r)});
  } else if (o.format == "xlsx") {
    LEDGER_ASSIGN_OR_RETURN(const rp::Renderers* writers, rp::LoadRenderers());
    LEDGER_ASSIGN_OR_RETURN(auto scratch, ScratchDir::Make());
    LEDGER_ASSIGN_OR_RETURN(std::string bytes, writers->xlsx(reports, o.lang, scratch->path()));
    out.push_back({"", std::move(bytes)});
  } else {
    LEDGER_ASSIGN_OR_RETURN(const rp::Renderers* writers, rp::LoadRenderers());
    LEDGER_ASSIGN_OR_RETURN(std::string bytes, writers->pdf(reports, o.lang));
    out.push_back({"", std::move(bytes)});
  }
  return out;
}

Result<rp::Options> OptionsFromArgs(const ReportArgs& a) {
  rp::Options o;
  if (a.all) {
    if (!a.words.empty()) return Status::InvalidArgument("give a report KIND or --all, not both");
    o.kinds = rp::ReportKinds();
  } else if (a.words.size() == 1) {
    o.kinds = {a.words[0]};
  } else {
    return Status::InvalidArgument(
        "give one report KIND (execution, awards, payments, performance, "
        "cofunding, annual) or --all");
  }
  if (a.year == 0) return Status::InvalidArgument("--year is required");
  if (a.out.empty()) return Status::InvalidArgument("--out is required");
  if (a.lang != "zh" && a.lang != "en") return Status::InvalidArgument("--lang must be zh or en");
  if (!a.as_of.empty() && !a.checkpoint.empty())
    return Status::InvalidArgument("give --as-of or --checkpoint, not both");
  if (!a.notary_key.empty() && a.checkpoint.empty())
    return Status::InvalidArgument("--notary-key needs --checkpoint");
  if (!a.from_export.empty()) return Status::InvalidArgument("--from-export is for `report check`");
  o.year = a.year;
  o.period = a.period;
  o.measure = a.measure;
  o.unit = a.unit;
  o.district = a.district;
  o.public_only = a.public_only;
  o.lang = a.lang == "zh" ? rp::Lang::kZh : rp::Lang::kEn;
  // No --format (or "all"): every format, into the folder --out.
  const bool all_formats = a.format.empty() || a.format == "all";
  o.format = all_formats ? "xlsx" : a.format;
  LEDGER_RETURN_IF_ERROR(rp::CheckOptions(o));
  if (all_formats) o.format = "all";
  return o;
}

// Writes every output, each with WriteFile (atomic, never through a link). Every target is
// checked before the first is written, so a refused one (an existing file without --force)
// leaves all of them as they were.
Status WriteOutputs(const std::string& out, const std::vector<Output>& outputs, bool force) {
  bool folder = outputs.size() > 1 || !outputs.front().name.empty();
  for (const Output& o : outputs) {
    struct stat st {};
    if (folder && ::stat(out.c_str(), &st) != 0) break;  // a new folder holds nothing yet
    LEDGER_RETURN_IF_ERROR(CheckOutputFile(folder ? out + "/" + o.name : out, force));
  }
  if (folder) {
    struct stat st {};
    if (::stat(out.c_str(), &st) != 0) {
      if (::mkdir(out.c_str(), 0755) != 0) return Status::IOError("cannot make the folder " + out);
    } else if (!S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument("--out " + out +
                                     " is not a folder (csv and several json reports go in one)");
    }
  }
  for (const Output& o : outputs) {
    // "csv/execution.csv" (every format at once): the sub-folder is made on first use.
    if (size_t slash = o.name.find('/'); slash != std::string::npos) {
      std::string sub = out + "/" + o.name.substr(0, slash);
      struct stat st {};
      if (::stat(sub.c_str(), &st) != 0 && ::mkdir(sub.c_str(), 0755) != 0) {
        return Status::IOError("cannot make the folder " + sub);
      }
    }
    LEDGER_RETURN_IF_ERROR(WriteFile(folder ? out + "/" + o.name : out, o.bytes, 0644, force));
  }
  return Status::Ok();
}

Status MakeReports(const Context& ctx, const ReportArgs& a) {
  LEDGER_ASSIGN_OR_RETURN(rp::Options o, OptionsFromArgs(a));
  LEDGER_ASSIGN_OR_RETURN(auto ledger, ctx.OpenReader());
  uint64_t size = ledger->size();
  if (!a.as_of.empty()) {
    LEDGER_ASSIGN_OR_RETURN(size, rp::ResolveAsOf(*ledger, a.as_of));
  } else if (!a.checkpoint.empty()) {
    LEDGER_ASSIGN_OR_RETURN(std::string note, ReadFile(a.checkpoint));
    std::optional<ev::PublicKey> notary;
    if (!a.notary_key.empty()) {
      LEDGER_ASSIGN_OR_RETURN(std::string pem, ReadFile(a.notary_key));
      auto key = ev::PublicKeyFromPem(pem);
      if (!key.ok()) return Status::InvalidArgument("--notary-key: " + key.status().message());
      notary = *key;
    }
    auto verified = rp::VerifyCheckpoint(*ledger, note, notary ? &*notary : nullptr);
    if (!verified.ok()) return verified.status().WithPrefix("--checkpoint " + a.checkpoint);
    size = *verified;
    o.checkpoint_note = note;
  }
  LEDGER_ASSIGN_OR_RETURN(o.tree_size, rp::EffectiveSize(*ledger, o, size));
  // Each format's files carry their own params (the format is one of them), so each is built
  // and rendered on its own; all are written only once every one is ready and every target
  // is free (WriteOutputs), so a refusal leaves no half set.
  const bool all_formats = o.format == "all";
  const std::vector<std::string> formats =
      all_formats ? std::vector<std::string>{"xlsx", "pdf", "csv", "json"}
                  : std::vector<std::string>{o.format};
  const std::string base = (o.kinds.size() == 1 ? o.kinds.front() + "-" : std::string()) +
                           (o.period.empty() ? std::to_string(o.year) : o.period);
  std::vector<rp::Report> reports;
  std::vector<Output> outputs;
  for (const std::string& format : formats) {
    rp::Options one = o;
    one.format = format;
    LEDGER_ASSIGN_OR_RETURN(reports, rp::BuildReports(*ledger, one));
    LEDGER_ASSIGN_OR_RETURN(std::vector<Output> rendered, Render(reports, one));
    for (Output& r : rendered) {
      if (all_formats) r.name = r.name.empty() ? base + "." + format : format + "/" + r.name;
      outputs.push_back(std::move(r));
    }
  }
  LEDGER_RETURN_IF_ERROR(WriteOutputs(a.out, outputs, ctx.force));
  const rp::Provenance& p = reports.front().provenance;
  if (ctx.json) {
    PrintJson({{"out", a.out},
               {"reports", o.kinds},
               {"formats", formats},
               {"treeSize", p.tree_size},
               {"rootHash", p.root_hex},
               {"stateHash", p.state_hash_hex},
               {"params", p.params}});
  } else {
    std::string as;
    for (const std::string& format : formats) as += (as.empty() ? "" : ", ") + format;
    std::cout << "wrote " << o.kinds.size() << " report(s) as " << as << " to " << a.out
              << " as of entry " << p.tree_size << " (root " << p.root_hex << ")\n";
  }
  return Status::Ok();
}

// Where two renderings first differ: a line for text, a byte offset for binary files.
std::string FirstDifference(const std::string& expected, const std::string& found, bool text) {
  size_t i = 0;
  while (i < expected.size() && i < found.size() && expected[i] == found[i]) ++i;
  if (!text)
    return "byte " + std::to_string(i) + " (expected " + std::to_string(expected.size()) +
           " bytes, found " + std::to_string(found.size()) + ")";
  size_t line = 1 + static_cast<size_t>(std::count(
                        expected.begin(), expected.begin() + static_cast<ptrdiff_t>(i), '\n'));
  auto line_at = [i](const std::string& s) {
    size_t start = s.rfind('\n', i == 0 ? 0 : i - 1);
    start = (start == std::string::npos || i == 0) ? 0 : start + 1;
    std::string l = s.substr(start, s.find('\n', start) - start);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    return l.size() > 100 ? l.substr(0, 100) + "…" : l;
  };
  return "line " + std::to_string(line) + ": the ledger gives '" + line_at(expected) +
         "', the file has '" + line_at(found) + "'";
}

Status CheckReport(const Context& ctx, const ReportArgs& a) {
  if (a.words.size() != 2)
    return Status::InvalidArgument("usage: report check FILE (--ledger DIR | --from-export F)");
  const std::string& file = a.words[1];
  LEDGER_ASSIGN_OR_RETURN(std::string bytes, ReadFile(file));
  std::string params;
  std::string part;
  bool text = true;
  if (bytes.starts_with("PK\x03\x04")) {
    LEDGER_ASSIGN_OR_RETURN(params, rp::ReadXlsxParams(bytes));
    text = false;
  } else if (bytes.starts_with("%PDF")) {
    LEDGER_ASSIGN_OR_RETURN(params, rp::ReadPdfParams(bytes));
    text = false;
  } else {
    auto read = rp::ReadTextParams(bytes);
    if (!read.ok()) return read.status().WithPrefix(file);
    size_t at = read->rfind(" part=");
    if (at == std::string::npos)
      return Status::InvalidArgument(file + ": report params name no part");
    params = read->substr(0, at);
    part = read->substr(at + 6);
  }
  auto parsed = rp::ParseParams(params);
  if (!parsed.ok()) return parsed.status().WithPrefix(file);
  rp::Options o = *parsed;
  if (text != (o.format == "csv" || o.format == "json"))
    return Status::InvalidArgument(file + ": params name format " + o.format);
  std::unique_ptr<ScratchDir> scratch;
  std::unique_ptr<ledger::Ledger> ledger;
  if (!a.from_export.empty()) {
    LEDGER_ASSIGN_OR_RETURN(std::string data, ReadFile(a.from_export));
    bool capnp = a.from_export.ends_with(".capnp") || a.from_export.ends_with(".bin");
    LEDGER_ASSIGN_OR_RETURN(auto entries, ledger::ParseExport(data, capnp));
    LEDGER_ASSIGN_OR_RETURN(scratch, ScratchDir::Make());
    LEDGER_ASSIGN_OR_RETURN(ledger, ledger::Ledger::CreateForImport(scratch->path() + "/ledger"));
    LEDGER_RETURN_IF_ERROR(
        ledger::ImportEntries(ledger.get(), entries, SystemClockMs(), [](uint64_t) {}));
  } else {
    LEDGER_ASSIGN_OR_RETURN(ledger, ctx.OpenReader());
  }
  if (o.tree_size > ledger->size()) {
    return Status::Corruption(file + " was made at tree size " + std::to_string(o.tree_size) +
                              "; the ledger has " + std::to_string(ledger->size()) + " entries");
  }
  if (!o.checkpoint_note.empty()) {
    auto verified = rp::VerifyCheckpoint(*ledger, o.checkpoint_note, nullptr);
    if (!verified.ok()) return verified.status().WithPrefix(file + ": its checkpoint");
  }
  LEDGER_ASSIGN_OR_RETURN(std::vector<rp::Report> reports, rp::BuildReports(*ledger, o));
  LEDGER_ASSIGN_OR_RETURN(std::vector<Output> outputs, Render(reports, o));
  const Output* expected = nullptr;
  for (const Output& out : outputs) {
    std::string name = out.name.empty() ? "" : out.name.substr(0, out.name.find('.'));
    if (!text || (o.format == "json" && reports.size() == 1) || name == part) expected = &out;
  }
  if (expected == nullptr)
    return Status::InvalidArgument(file + ": the params name an unknown part '" + part + "'");
  const rp::Provenance& p = reports.front().provenance;
  if (expected->bytes != bytes) {
    return Status::Corruption(file + " is not what the ledger gives at tree size " +
                              std::to_string(p.tree_size) + ": " +
                              FirstDifference(expected->bytes, bytes, text));
  }
  if (ctx.json) {
    PrintJson({{"ok", true}, {"file", file}, {"treeSize", p.tree_size}, {"rootHash", p.root_hex}});
  } else {
    std::cout << "ok: " << file << " is exactly the report the ledger gives at tree size "
              << p.tree_size << " (root " << p.root_hex << ")\n";
  }
  return Status::Ok();
}

}  // namespace

void AddReportCommands(CLI::App& app, Context& ctx, Action* run) {
  static ReportArgs a;
  auto* report = app.add_subcommand(
      "report",
      "the finance bureau's reports (execution, awards, payments, performance, cofunding, "
      "annual) as xlsx, pdf, csv or json; `report check FILE` re-derives one");
  report->add_option("kind", a.words, "KIND, or: check FILE");
  report->add_flag("--all", a.all,
                   "every report: one workbook, one PDF, or one folder (csv, json)");
  report->add_option("--year", a.year, "fiscal year (calendar year)")
      ->transform(DecimalIn(kYearMin, kYearMax));
  report->add_option("--period", a.period, "2025, 2025-Q3 or 2025-06 (default: the year)");
  report->add_option("--as-of", a.as_of, "entry seq, or ISO date (end of that day, Asia/Shanghai)");
  report->add_option("--checkpoint", a.checkpoint,
                     "a signed checkpoint note: verified, then its size is used");
  report->add_option("--notary-key", a.notary_key,
                     "the notary's public key (PEM) for --checkpoint "
                     "(default: the ledger's notary keys)");
  report->add_option("--measure", a.measure, "only this measure");
  report->add_option("--unit", a.unit, "only this responsible unit");
  report->add_option("--district", a.district, "only recipients of this district");
  report->add_flag("--public", a.public_only,
                   "award list for publication: no application ids or seqs");
  report->add_option("--format", a.format,
                     "xlsx, pdf, csv (a folder), json, or all (default): every format into the "
                     "folder --out");
  report->add_option("--out", a.out, "output file, or folder for csv and several json reports");
  report->add_flag("--force", ctx.force, "replace existing output files");
  report->add_option("--lang", a.lang, "zh (default) or en");
  report->add_option("--from-export", a.from_export,
                     "report check: re-derive from an export file instead of --ledger");
  report->callback([&ctx, run] {
    *run = [&ctx] {
      if (!a.words.empty() && a.words.front() == "check") return CheckReport(ctx, a);
      return MakeReports(ctx, a);
    };
  });
}

}  // namespace fundledger::tools
