// VXU parse benchmark: generates N realistic VXU^V04 messages (default 100,000) into a file,
// then in one run times
//   1. our parser: split the file into messages and index every segment and field,
//   2. our parser plus the full IG validation and canonical mapping (what the plugin does),
//   3. Debian's python3-hl7 (hl7.parse on every message of the same file),
//   4. end to end: the same file loaded by the real pipeline, build/bin/vaxetl run with a
//      temporary pipeline (vxu source -> cvms_sink into SQLite, VAXETL_HOME in the work dir),
//      timed from process start to exit (plugin loading, validation, ACK file, store, commit),
// and prints the rates and the ratio. (1)-(3) are single-threaded: rates are per core. (4) is
// the CLI as shipped, which runs its stages on their own threads.
//
//   vxu_parse_bench [--messages N] [--python-messages M] [--work-dir DIR] [--keep] [--repeat R]
//                   [--no-python] [--no-load]
//
// python3-hl7 builds an object per component and takes about 2 ms per message, so on the
// default 100,000 messages its part runs for minutes; --python-messages M times it on the
// file's first M messages only (the rate is per message either way).
//
// Targets: >= 150,000 messages/s for (1); >= 50,000 messages/s end to end (4).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "hl7/message.hpp"
#include "ncvr/product_catalog.hpp"
#include "vxu/converter.hpp"
#include "vxu/generator.hpp"

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The python side: reads the file, cuts it at each MSH, and times hl7.parse alone. It prints
// "<messages> <seconds>" or fails with python's own error.
const char* const kPythonScript = R"PY(
import sys, time, hl7
data = open(sys.argv[1], 'rb').read().decode('utf-8')
parts = data.split('\rMSH|')
messages = [parts[0]] + ['MSH|' + p for p in parts[1:]]
if int(sys.argv[2]) > 0:
    messages = messages[:int(sys.argv[2])]
start = time.perf_counter()
count = 0
for m in messages:
    msg = hl7.parse(m)
    count += 1
elapsed = time.perf_counter() - start
# Touch a field so the parse cannot be lazy.
assert str(msg.segment('PID')[5][0][0]) != ''
print(count, elapsed)
)PY";

}  // namespace

int main(int argc, char** argv) {
  std::size_t messages = 100000;
  int repeat = 3;
  fs::path work_dir = fs::temp_directory_path() / "vxu_parse_bench";
  bool keep = false;
  std::size_t python_messages = 0;  // 0: all
  bool run_python = true;
  bool run_load = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--messages" && i + 1 < argc) messages = std::stoul(argv[++i]);
    else if (arg == "--work-dir" && i + 1 < argc) work_dir = argv[++i];
    else if (arg == "--repeat" && i + 1 < argc) repeat = std::stoi(argv[++i]);
    else if (arg == "--python-messages" && i + 1 < argc) python_messages = std::stoul(argv[++i]);
    else if (arg == "--keep") keep = true;
    else if (arg == "--no-python") run_python = false;
    else if (arg == "--no-load") run_load = false;
    else {
      std::fprintf(stderr, "usage: vxu_parse_bench [--messages N] [--python-messages M] [--work-dir DIR] [--keep] [--repeat R] [--no-python] [--no-load]\n");
      return 2;
    }
  }
  fs::create_directories(work_dir);
  const fs::path file = work_dir / "vxu_bench.hl7";

  // 1. Generate.
  std::string text;
  text.reserve(messages * 1700);
  vaxetl::vxu::VxuGenerator generator;
  std::size_t groups = 0;
  for (std::size_t i = 1; i <= messages; ++i) groups += generator.append(i, text);
  std::ofstream(file, std::ios::binary) << text;
  std::printf("generated %zu messages (%zu order groups), %.1f MiB, %.0f bytes/message: %s\n", messages, groups,
              static_cast<double>(text.size()) / (1024.0 * 1024.0),
              static_cast<double>(text.size()) / static_cast<double>(messages), file.c_str());

  // Read it back, as a reader would, so the timed loops start from the file's bytes.
  std::ifstream in(file, std::ios::binary);
  const std::string input((std::istreambuf_iterator<char>(in)), {});

  // 2. Our parser: best of `repeat` runs.
  vaxetl::hl7::Message message;
  double best_parse = 1e30;
  std::size_t parsed = 0;
  std::size_t fields_seen = 0;
  for (int r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    vaxetl::hl7::MessageSplitter splitter(input);
    std::string_view m;
    parsed = 0;
    while (splitter.next(m)) {
      if (message.parse(m) != vaxetl::hl7::Message::Status::kOk) {
        std::fprintf(stderr, "message %zu did not parse\n", parsed + 1);
        return 1;
      }
      fields_seen += message.segment_count();
      ++parsed;
    }
    best_parse = std::min(best_parse, seconds_since(start));
  }
  if (parsed != messages) {
    std::fprintf(stderr, "parsed %zu messages, expected %zu\n", parsed, messages);
    return 1;
  }

  // 3. Parse + validate + map.
  const auto catalog = vaxetl::ncvr::ProductCatalog::load(VAXETL_SOURCE_DIR "/plugins/ncvr/data/products.tsv");
  vaxetl::vxu::Converter converter(catalog, vaxetl::vxu::ConverterOptions{"", vaxetl::ncvr::Date{2026, 1, 1}, false});
  double best_convert = 1e30;
  std::size_t rows = 0;
  for (int r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    vaxetl::hl7::MessageSplitter splitter(input);
    std::string_view m;
    rows = 0;
    while (splitter.next(m)) {
      converter.convert(message, message.parse(m));
      rows += converter.row_count();
    }
    best_convert = std::min(best_convert, seconds_since(start));
  }

  const double ours = static_cast<double>(messages) / best_parse;
  const double ours_full = static_cast<double>(messages) / best_convert;
  std::printf("vaxetl hl7 parser:            %10.0f messages/s  (%.1f MB/s, best of %d, %.3f s)\n", ours,
              static_cast<double>(input.size()) / best_parse / 1e6, repeat, best_parse);
  std::printf("vaxetl parse+validate+map:    %10.0f messages/s  (%zu rows, %.3f s)\n", ours_full, rows, best_convert);
  std::printf("target >= 150000 messages/s for the parser: %s\n", ours >= 150000 ? "met" : "NOT MET");

  // 4. End to end: vaxetl run, vxu -> cvms_sink into a fresh SQLite store, best of `repeat`
  // (each run in a fresh VAXETL_HOME: a second load of the same file would be skipped).
  double best_load = -1;
  if (run_load) {
    const std::string bin = VAXETL_BIN_DIR;
    const fs::path pipeline = work_dir / "vxu-bench.yaml";
    std::ofstream(pipeline) << "name: vxu-bench\n"
                            << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\"]\n"
                            << "batch_size: 10000\n"
                            << "ledger: ${VAXETL_HOME:-var}/ledger.sqlite\n"
                            << "error_dir: ${VAXETL_HOME:-var}/errors\n"
                            << "source:\n  plugin: vxu\n  version: \"^2.5\"\n  config:\n"
                            << "    as_of_date: \"2026-01-01\"\n"
                            << "sink:\n  plugin: cvms_sink\n  version: \"^1.0\"\n  config:\n"
                            << "    database: ${VAXETL_HOME:-var}/cvms.sqlite\n";
    const std::string log = (work_dir / "vaxetl_run.log").string();
    for (int r = 0; r < repeat; ++r) {
      const fs::path home = work_dir / ("home_" + std::to_string(r));
      fs::remove_all(home);
      fs::create_directories(home);
      const vaxetl::bench::ChildRun run = vaxetl::bench::run_child(
          {bin + "/vaxetl", "run", pipeline.string(), "--input", file.string(), "--no-progress"}, log,
          {"VAXETL_HOME=" + home.string()});
      const double seconds = run.seconds;
      if (run.exit_code != 0) {
        std::fprintf(stderr, "vaxetl run failed; see %s\n", log.c_str());
        return 1;
      }
      if (best_load < 0 || seconds < best_load) best_load = seconds;
      if (r + 1 < repeat) fs::remove_all(home);
    }
    const double rate = static_cast<double>(messages) / best_load;
    std::printf("vaxetl run (vxu -> cvms_sink, SQLite): %10.0f messages/s  (%zu rows, %.3f s, best of %d)\n", rate, rows,
                best_load, repeat);
    std::printf("target >= 50000 messages/s end to end: %s\n", rate >= 50000 ? "met" : "NOT MET");
    std::fflush(stdout);
  }

  if (run_python) {
    // 5. python3-hl7 on the same file.
    const fs::path script = work_dir / "python_hl7_bench.py";
    std::ofstream(script) << kPythonScript;
    const fs::path out = work_dir / "python_hl7_bench.out";
    // Debian's interpreter: the one python3-hl7 installs into, whatever PATH puts first.
    const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const std::string command = python + " " + script.string() + " " + file.string() + " " + std::to_string(python_messages) + " > " + out.string();
    const int rc = std::system(command.c_str());
    if (rc != 0) {
      std::printf("python3-hl7: not measured (exit %d); install it with apt-get install -y python3-hl7\n", rc);
    } else {
      std::ifstream result(out);
      std::size_t py_count = 0;
      double py_seconds = 0;
      result >> py_count >> py_seconds;
      const double python = static_cast<double>(py_count) / py_seconds;
      std::printf("python3-hl7 hl7.parse:        %10.0f messages/s  (%zu messages, %.3f s)\n", python, py_count,
                  py_seconds);
      std::printf("ratio vaxetl/python3-hl7: parse %.1fx, parse+validate+map %.1fx\n", ours / python,
                  ours_full / python);
    }
  }
  if (!keep) fs::remove_all(work_dir);
  return fields_seen == 0 ? 1 : 0;
}
