// Command line of ncvr_gen. Files are written under a ".part" name and renamed when complete,
// so a loader watching the output directory never sees a half-written file.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ncvr_gen.hpp"

namespace vaxetl::ncvr_gen {
namespace {

constexpr const char* kUsage =
    "usage: ncvr_gen [options]\n"
    "Writes a synthetic NCVR v7.2 file (pipe-delimited, header line) and a ground-truth TSV.\n"
    "  --records N          records to write (default 1000; corrections lines with --corrections,\n"
    "                       default 200)\n"
    "  --seed S             PRNG seed; same seed and options give the same bytes (default 1)\n"
    "  --org ORG            organization code, A-Z0-9 (default CAROLINAPHARM)\n"
    "  --output PATH        data file, or an existing directory: the file is then named\n"
    "                       <ORG>COVID_<YYYYMMDDHHMMSS>_CVMS_PROD_PHI_DIRECT_V<n>.txt (default .)\n"
    "  --truth PATH         ground-truth TSV (default <output>.truth.tsv)\n"
    "  --error-rate R       share of records with one injected error (default 0.05)\n"
    "  --warning-rate R     share of records with one injected warning (default 0.02)\n"
    "  --repeat-rate R      share of records that are a later dose of an earlier recipient (0.2)\n"
    "  --federal-rate R     share with inventory_source FEDERAL (default 0.3)\n"
    "  --refusal-rate R     share of valid refusal records (default 0.01)\n"
    "  --alt-form-rate R    share using the layout's alternative valid forms: 6-character PIN,\n"
    "                       10-digit NDC (default 0)\n"
    "  --phi-markers        every PHI name/street/e-mail is a unique token like PHIFN0000123\n"
    "  --crlf               CRLF line ends (default LF)\n"
    "  --today YYYY-MM-DD   reference date: admin dates fall in 2021-01-01..today-1 (2026-11-01)\n"
    "  --products PATH      product catalog TSV (default " VAXETL_NCVR_DATA_DIR "/products.tsv)\n"
    "  --layout PATH        NCVR layout TSV, column name (default " VAXETL_NCVR_DATA_DIR
    "/ncvr-v7.2.tsv)\n"
    "  --file-time T        YYYYMMDDHHMMSS used in a generated file name (default: now, UTC)\n"
    "  --file-version N     the V<n> of a generated file name (default 1)\n"
    "  --environment E      PROD (default), PHI (staging) or NOPHI (QA/UAT): the generated name\n"
    "                       <ORG>COVID_<ts>_CVMS_{PROD_PHI|PHI|NOPHI}_DIRECT_V<n>.txt\n"
    "  --race-unknown-rate R   share of recipients with race_1 and/or ethnicity UNK\n"
    "  --race-declined-rate R  share with race_1 and/or ethnicity DECLINED (and no UNK); unset:\n"
    "                       both as before (UNK 1%, DECLINED 1% each, independently); one set:\n"
    "                       the other is 0.02\n"
    "  --admin-days N       admin dates in the N days before --today (default: 2021-01-01 on)\n"
    "  --lots-out PATH      TSV of STATE doses expected to load per (PIN, unit-of-sale NDC, lot)\n"
    "  --corrections        write a corrections file (PROD only) of a base daily file generated\n"
    "                       with --base-records/--base-seed and all the other options given here;\n"
    "                       name <ORG>COVID_<ts>_CVMS_PROD_PHI_DIRECT_CORRECTIONS_V<n>.txt\n"
    "  --base-records N     records of the base file (default 1000)\n"
    "  --base-seed S        seed of the base file (default 1)\n"
    "  --mix LIST           corrections mix as case=weight,... over add-fixed, update, update-same,\n"
    "                       delete, update-unknown, delete-unknown, add-conflict, add-same (unnamed\n"
    "                       cases 0; default 10,30,10,15,5,5,10,15 in that order)\n"
    "  --corrections-error-rate R  share of corrections lines with one injected error (default 0)\n"
    "  --name-for-org       print the file name that would be generated for the options and exit\n"
    "  --help               this text\n";

struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

std::uint64_t parse_u64(std::string_view opt, std::string_view v) {
  std::uint64_t out = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size() || v.empty())
    throw UsageError(std::string(opt) + " expects a non-negative integer, got '" + std::string(v) + "'");
  return out;
}

double parse_rate(std::string_view opt, const std::string& v) {
  char* end = nullptr;
  const double out = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !(out >= 0.0 && out <= 1.0))
    throw UsageError(std::string(opt) + " expects a number between 0 and 1, got '" + v + "'");
  return out;
}

std::string now_timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

bool valid_timestamp(std::string_view t) {
  if (t.size() != 14) return false;
  for (char c : t)
    if (c < '0' || c > '9') return false;
  Days ignored;
  const std::string date = std::string(t.substr(0, 4)) + "-" + std::string(t.substr(4, 2)) + "-" +
                           std::string(t.substr(6, 2));
  return parse_date(date, ignored) && t.substr(8, 2) < "24" && t.substr(10, 2) < "60" &&
         t.substr(12, 2) < "60";
}

struct File {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f{nullptr, &std::fclose};
  std::string final_path, part_path;
  void open(const std::string& path) {
    final_path = path;
    // Devices and pipes (/dev/null, /dev/stdout) are written in place.
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    const bool special = !ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st);
    part_path = special ? path : path + ".part";
    f.reset(std::fopen(part_path.c_str(), "wb"));
    if (!f) throw std::runtime_error("cannot open for writing: " + part_path);
  }
  void commit() {
    std::FILE* raw = f.release();
    if (std::fclose(raw) != 0) throw std::runtime_error("write error on " + part_path);
    if (part_path != final_path) std::filesystem::rename(part_path, final_path);
  }
  void abandon() {
    if (!f) return;
    f.reset();
    if (part_path == final_path) return;
    std::error_code ec;
    std::filesystem::remove(part_path, ec);
  }
};

}  // namespace

int run_cli(int argc, char** argv) {
  Options o;
  bool name_only = false;
  bool records_given = false;
  std::string output = ".";
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      std::string value;
      bool has_value = false;
      if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
        has_value = true;
      }
      auto next = [&]() -> std::string {
        if (has_value) return value;
        if (i + 1 >= argc) throw UsageError(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--help" || arg == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (arg == "--records") {
        o.records = parse_u64(arg, next());
        records_given = true;
      }
      else if (arg == "--seed") o.seed = parse_u64(arg, next());
      else if (arg == "--org") o.org = next();
      else if (arg == "--output") output = next();
      else if (arg == "--truth") o.truth = next();
      else if (arg == "--error-rate") o.error_rate = parse_rate(arg, next());
      else if (arg == "--warning-rate") o.warning_rate = parse_rate(arg, next());
      else if (arg == "--repeat-rate") o.repeat_rate = parse_rate(arg, next());
      else if (arg == "--federal-rate") o.federal_rate = parse_rate(arg, next());
      else if (arg == "--refusal-rate") o.refusal_rate = parse_rate(arg, next());
      else if (arg == "--alt-form-rate") o.alt_form_rate = parse_rate(arg, next());
      else if (arg == "--phi-markers") o.phi_markers = true;
      else if (arg == "--crlf") o.crlf = true;
      else if (arg == "--today") {
        const std::string v = next();
        if (!parse_date(v, o.today)) throw UsageError("--today expects YYYY-MM-DD, got '" + v + "'");
      } else if (arg == "--products") o.products_path = next();
      else if (arg == "--layout") o.layout_path = next();
      else if (arg == "--file-time") {
        o.file_time = next();
        if (!valid_timestamp(o.file_time))
          throw UsageError("--file-time expects YYYYMMDDHHMMSS, got '" + o.file_time + "'");
      } else if (arg == "--file-version") {
        const std::uint64_t v = parse_u64(arg, next());
        if (v == 0 || v > 9999) throw UsageError("--file-version must be 1-9999");
        o.file_version = static_cast<unsigned>(v);
      } else if (arg == "--environment") {
        const std::string v = next();
        if (!parse_environment(v, o.environment))
          throw UsageError("--environment expects PROD, PHI or NOPHI, got '" + v + "'");
      } else if (arg == "--race-unknown-rate") o.race_unknown_rate = parse_rate(arg, next());
      else if (arg == "--race-declined-rate") o.race_declined_rate = parse_rate(arg, next());
      else if (arg == "--admin-days") {
        const std::uint64_t v = parse_u64(arg, next());
        if (v == 0 || v > 100000) throw UsageError("--admin-days must be 1-100000");
        o.admin_days = static_cast<unsigned>(v);
      } else if (arg == "--lots-out") o.lots_out = next();
      else if (arg == "--corrections") o.corrections = true;
      else if (arg == "--base-records") o.base_records = parse_u64(arg, next());
      else if (arg == "--base-seed") o.base_seed = parse_u64(arg, next());
      else if (arg == "--mix") o.mix = parse_mix(next());
      else if (arg == "--corrections-error-rate") o.corrections_error_rate = parse_rate(arg, next());
      else if (arg == "--name-for-org") name_only = true;
      else throw UsageError("unknown option '" + arg + "' (see --help)");
    }
    if (o.corrections && !records_given) o.records = 200;
    validate(o);
    if (o.corrections) validate(base_options(o));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "ncvr_gen: %s\n", e.what());
    return 2;
  }

  const std::string timestamp = o.file_time.empty() ? now_timestamp() : o.file_time;
  const std::string generated_name =
      file_name_for_org(o.org, timestamp, o.file_version, o.environment, o.corrections);
  if (name_only) {
    std::printf("%s\n", generated_name.c_str());
    return 0;
  }

  File data, truth, lots;
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(output, ec) || (!output.empty() && output.back() == '/'))
      output = (std::filesystem::path(output) / generated_name).string();
    o.output = output;
    if (o.truth.empty()) o.truth = output + ".truth.tsv";
    const bool device = std::filesystem::exists(o.output, ec) &&
                        !std::filesystem::is_regular_file(o.output, ec);
    const bool same = !device && (o.truth == o.output || (std::filesystem::exists(o.truth, ec) &&
                                                          std::filesystem::equivalent(o.truth, o.output, ec)));
    if (same) throw std::runtime_error("--truth must differ from the data file");
    if (!o.lots_out.empty() && (o.lots_out == o.output || o.lots_out == o.truth))
      throw std::runtime_error("--lots-out must differ from the data and truth files");
    const Catalog catalog =
        Catalog::load(o.products_path.empty() ? default_products_path() : o.products_path,
                      o.layout_path.empty() ? default_layout_path() : o.layout_path);
    for (const std::string& path : {o.output, o.truth, o.lots_out}) {
      if (path.empty()) continue;
      const auto parent = std::filesystem::path(path).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
    }
    data.open(o.output);
    truth.open(o.truth);
    if (!o.lots_out.empty()) lots.open(o.lots_out);
    const Summary s = generate(o, catalog, data.f.get(), truth.f.get(), lots.f.get());
    data.commit();
    truth.commit();
    if (!o.lots_out.empty()) lots.commit();
    // Counts and paths only: never a record's content.
    using ull = unsigned long long;
    std::string counts;
    char buf[512];
    if (o.corrections) {
      std::snprintf(buf, sizeof buf, "%llu corrections of %llu base records (seed %llu):",
                    static_cast<ull>(s.records), static_cast<ull>(o.base_records),
                    static_cast<ull>(o.base_seed));
      counts = buf;
      for (std::size_t k = 0; k < kCaseNames.size(); ++k) {
        std::snprintf(buf, sizeof buf, "%s %llu %.*s", k ? "," : "", static_cast<ull>(s.case_counts[k]),
                      static_cast<int>(kCaseNames[k].size()), kCaseNames[k].data());
        counts += buf;
      }
      counts += "; expected";
      for (std::size_t k = 0; k < kOutcomes.size(); ++k) {
        std::snprintf(buf, sizeof buf, "%s %llu %.*s", k ? "," : "", static_cast<ull>(s.outcome_counts[k]),
                      static_cast<int>(kOutcomes[k].size()), kOutcomes[k].data());
        counts += buf;
      }
      counts += ";";
    } else {
      std::snprintf(buf, sizeof buf,
                    "%llu records, %llu expected rejected, %llu with warnings, %llu refusals, "
                    "%llu repeat doses,",
                    static_cast<ull>(s.records), static_cast<ull>(s.rejected),
                    static_cast<ull>(s.warnings), static_cast<ull>(s.refusals),
                    static_cast<ull>(s.repeats));
      counts = buf;
    }
    std::snprintf(buf, sizeof buf, " %llu race/ethnicity populated, %llu unknown",
                  static_cast<ull>(s.race_populated), static_cast<ull>(s.race_unknown));
    counts += buf;
    std::string lots_note;
    if (!o.lots_out.empty()) {
      std::snprintf(buf, sizeof buf, ", %llu keys, %lld doses)", static_cast<ull>(s.lot_keys),
                    static_cast<long long>(s.lot_doses));
      lots_note = std::string(" (lots: ").append(o.lots_out).append(buf);
    }
    std::printf("ncvr_gen: %s -> %s (truth: %s)%s\n", counts.c_str(), o.output.c_str(),
                o.truth.c_str(), lots_note.c_str());
    return 0;
  } catch (const std::exception& e) {
    data.abandon();
    truth.abandon();
    lots.abandon();
    std::fprintf(stderr, "ncvr_gen: %s\n", e.what());
    return 1;
  }
}

}  // namespace vaxetl::ncvr_gen
