// NCVR load benchmark: the same generated file through vaxetl (validate + load into SQLite)
// and through sqlite3's .import (no validation), in one run; prints both throughputs, their
// ratio, and vaxetl's peak resident memory at each size.
//
//   ncvr_load_bench [--records 1000000,5000000] [--work-dir DIR] [--keep]
//
// Throughput is compared at the first size; peak memory is reported at every size.
// Targets (issue 2): vaxetl >= 1.5x .import throughput; peak RSS < 256 MiB.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace {

namespace bench = vaxetl::bench;

namespace fs = std::filesystem;

std::vector<long> parse_sizes(const std::string& text) {
  std::vector<long> sizes;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) sizes.push_back(std::stol(item));
  return sizes;
}

void require_ok(const bench::ChildRun& m, const std::string& what, const std::string& log) {
  if (m.exit_code == 0) return;
  if (!m.started) std::fprintf(stderr, "cannot start %s\n", what.c_str());
  else std::fprintf(stderr, "%s failed (exit %d); see %s\n", what.c_str(), m.exit_code, log.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<long> sizes = {1000000, 5000000};
  fs::path work = fs::temp_directory_path() / "vaxetl-bench";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--records" && i + 1 < argc) sizes = parse_sizes(argv[++i]);
    else if (arg == "--work-dir" && i + 1 < argc) work = argv[++i];
    else if (arg == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: ncvr_load_bench [--records N[,N...]] [--work-dir DIR] [--keep]\n");
      return 64;
    }
  }
  const std::string bin = VAXETL_BIN_DIR;
  const std::string pipeline = std::string(VAXETL_SOURCE_DIR) + "/pipelines/ncvr-daily.yaml";
  fs::remove_all(work);
  fs::create_directories(work);
  const std::string log = (work / "bench.log").string();

  std::printf("%-10s %-28s %10s %14s %14s\n", "records", "what", "seconds", "records/s", "peak RSS MiB");
  double vaxetl_rate = 0;
  double import_rate = 0;
  double worst_rss = 0;
  for (std::size_t n = 0; n < sizes.size(); ++n) {
    const long records = sizes[n];
    // A production file name (the pipeline routes by it), one per size; race and ethnicity
    // well inside the gate, so the file loads rather than being held.
    const std::string input =
        (work / ("BENCHCOVID_20261120080000_CVMS_PROD_PHI_DIRECT_V" + std::to_string(n + 1) + ".txt")).string();
    require_ok(bench::run_child({bin + "/ncvr_gen", "--records", std::to_string(records), "--seed", "42", "--org", "BENCH",
                    "--race-unknown-rate", "0.01", "--race-declined-rate", "0.01", "--output", input},
                   log),
               "ncvr_gen", log);
    const auto home = work / ("home_" + std::to_string(records));
    fs::create_directories(home);
    const bench::ChildRun vaxetl = bench::run_child({bin + "/vaxetl", "run", pipeline, "--input", input, "--no-progress"},
                                                    log, {"VAXETL_HOME=" + home.string()});
    require_ok(vaxetl, "vaxetl run", log);
    const double rate = static_cast<double>(records) / vaxetl.seconds;
    worst_rss = std::max(worst_rss, vaxetl.peak_rss_mib);
    std::printf("%-10ld %-28s %10.2f %14.0f %14.1f\n", records, "vaxetl validate+load", vaxetl.seconds,
                rate, vaxetl.peak_rss_mib);
    if (n == 0) {
      vaxetl_rate = rate;
      const std::string script = (work / "import.sql").string();
      std::ofstream(script) << ".mode list\n.separator |\n.import " << input << " ncvr\n";
      const bench::ChildRun import = bench::run_child({"sqlite3", (work / "import.sqlite").string()}, log, {}, script);
      require_ok(import, "sqlite3 .import", log);
      import_rate = static_cast<double>(records) / import.seconds;
      std::printf("%-10ld %-28s %10.2f %14.0f %14.1f\n", records, "sqlite3 .import (no checks)",
                  import.seconds, import_rate, import.peak_rss_mib);
    }
    std::fflush(stdout);
    fs::remove(input);
    if (!keep) fs::remove_all(home);
  }
  const double ratio = vaxetl_rate / import_rate;
  std::printf("\nthroughput ratio vaxetl / .import at %ld records: %.2fx (target >= 1.5x: %s)\n",
              sizes.front(), ratio, ratio >= 1.5 ? "met" : "NOT met");
  std::printf("peak vaxetl RSS over all sizes: %.1f MiB (target < 256 MiB: %s)\n", worst_rss,
              worst_rss < 256 ? "met" : "NOT met");
  if (!keep) fs::remove_all(work);
  return 0;
}
