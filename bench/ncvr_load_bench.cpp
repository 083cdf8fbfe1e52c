// NCVR load benchmark: the same generated file through vaxetl (validate + load into SQLite)
// and through sqlite3's .import (no validation), in one run; prints both throughputs, their
// ratio, and vaxetl's peak resident memory at each size.
//
//   ncvr_load_bench [--records 1000000,5000000] [--work-dir DIR] [--keep]
//
// Throughput is compared at the first size; peak memory is reported at every size.
// Targets (issue 2): vaxetl >= 1.5x .import throughput; peak RSS < 256 MiB.
#include <spawn.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Measured {
  double seconds = 0;
  double peak_rss_mib = 0;
  int exit_code = 0;
};

// Runs argv with stdin from `stdin_path` (if any) and stdout/stderr to `log_path`; returns wall
// time and the child's peak RSS from wait4's rusage.
Measured run(const std::vector<std::string>& argv, const std::string& log_path,
             const std::optional<std::string>& stdin_path = std::nullopt,
             const std::vector<std::string>& extra_env = {}) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_path) posix_spawn_file_actions_addopen(&actions, 0, stdin_path->c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage(extra_env);
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_storage) env.push_back(e.data());
  env.push_back(nullptr);

  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data()) != 0) {
    std::fprintf(stderr, "cannot start %s\n", args[0]);
    std::exit(2);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  const auto end = std::chrono::steady_clock::now();
  posix_spawn_file_actions_destroy(&actions);
  Measured m;
  m.seconds = std::chrono::duration<double>(end - start).count();
  m.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return m;
}

std::vector<long> parse_sizes(const std::string& text) {
  std::vector<long> sizes;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) sizes.push_back(std::stol(item));
  return sizes;
}

void require_ok(const Measured& m, const std::string& what, const std::string& log) {
  if (m.exit_code == 0) return;
  std::fprintf(stderr, "%s failed (exit %d); see %s\n", what.c_str(), m.exit_code, log.c_str());
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
    require_ok(run({bin + "/ncvr_gen", "--records", std::to_string(records), "--seed", "42", "--org", "BENCH",
                    "--race-unknown-rate", "0.01", "--race-declined-rate", "0.01", "--output", input},
                   log),
               "ncvr_gen", log);
    const auto home = work / ("home_" + std::to_string(records));
    fs::create_directories(home);
    const Measured vaxetl =
        run({bin + "/vaxetl", "run", pipeline, "--input", input, "--no-progress"}, log,
            std::nullopt, {"VAXETL_HOME=" + home.string()});
    require_ok(vaxetl, "vaxetl run", log);
    const double rate = static_cast<double>(records) / vaxetl.seconds;
    worst_rss = std::max(worst_rss, vaxetl.peak_rss_mib);
    std::printf("%-10ld %-28s %10.2f %14.0f %14.1f\n", records, "vaxetl validate+load", vaxetl.seconds,
                rate, vaxetl.peak_rss_mib);
    if (n == 0) {
      vaxetl_rate = rate;
      const std::string script = (work / "import.sql").string();
      std::ofstream(script) << ".mode list\n.separator |\n.import " << input << " ncvr\n";
      const Measured import = run({"sqlite3", (work / "import.sqlite").string()}, log, script);
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
