// Helpers shared by the core, ABI and runner tests: a fresh temporary directory per test,
// small file helpers, and pipeline files that use the fixture plugins.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace vaxetl::test {

namespace fs = std::filesystem;

inline std::string fixture_plugin_dir() { return VAXETL_FIXTURE_PLUGIN_DIR; }

// <fixture dir>/vaxetl_<name>-<version>.so
inline std::string fixture_plugin(const std::string& name, const std::string& version = "1.0.0") {
  return fixture_plugin_dir() + "/vaxetl_" + name + "-" + version + ".so";
}

// A directory of its own for one test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/vaxetl-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const noexcept { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<std::string> split(const std::string& text, char delimiter) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : text) {
    if (c == delimiter) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

// Lines of a text file without their line ends (no trailing empty entry).
inline std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines = split(read_file(path), '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

inline std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A pipeline file in `dir` using the fixture plugins (lines -> upper -> capture by default),
// with its ledger, error directory and capture output inside `dir`.
struct PipelineOptions {
  std::string name = "fixture_pipeline";
  std::string source = "lines";
  std::vector<std::string> transforms = {"upper"};
  std::string sink = "capture";
  uint32_t batch_size = 1000;
  std::string extra_sink_config;    // more "    key: value" lines under the sink's config
  std::string extra_source_config;  // "    key: value" lines under the source's config
};

struct FixturePipeline {
  std::string file;
  std::string ledger;
  std::string error_dir;
  std::string output;
};

inline FixturePipeline write_fixture_pipeline(const TempDir& dir, const PipelineOptions& o = {}) {
  FixturePipeline p;
  p.file = dir / (o.name + ".yaml");
  p.ledger = dir / "var/ledger.sqlite";
  p.error_dir = dir / "var/errors";
  p.output = dir / "captured.tsv";
  std::string text = "name: " + o.name + "\n"
                     "plugin_paths:\n"
                     "  - " + fixture_plugin_dir() + "\n"
                     "batch_size: " + std::to_string(o.batch_size) + "\n"
                     "ledger: " + p.ledger + "\n"
                     "error_dir: " + p.error_dir + "\n"
                     "source:\n"
                     "  plugin: " + o.source + "\n";
  if (!o.extra_source_config.empty()) text += "  config:\n" + o.extra_source_config;
  if (!o.transforms.empty()) {
    text += "transforms:\n";
    for (const auto& t : o.transforms) text += "  - plugin: " + t + "\n";
  }
  text += "sink:\n"
          "  plugin: " + o.sink + "\n";
  if (o.sink == "capture") text += "  config:\n    output: " + p.output + "\n" + o.extra_sink_config;
  write_file(p.file, text);
  return p;
}

// Test servers (tools/test-servers/): each publishes its address in environment variables
// (VAXETL_TEST_PG_URL, VAXETL_TEST_SFTP_PORT, ...). tools/test.sh starts them and sets
// VAXETL_TEST_REQUIRE_SERVERS=1, so in CI a missing server fails the test instead of skipping it.
inline bool test_servers_required() {
  const char* required = std::getenv("VAXETL_TEST_REQUIRE_SERVERS");
  return required != nullptr && std::string(required) == "1";
}

}  // namespace vaxetl::test

// Sets `out` (a std::string) to the environment variable `variable` of a test server, or ends
// the test: skipped when run by hand without servers, failed under tools/test.sh.
#define VAXETL_TEST_SERVER_SETTING(variable, out)                                                   \
  do {                                                                                              \
    const char* vaxetl_value_ = std::getenv(variable);                                              \
    if (vaxetl_value_ == nullptr || *vaxetl_value_ == '\0') {                                       \
      if (::vaxetl::test::test_servers_required())                                                  \
        FAIL() << variable << " is not set: the test servers did not start (tools/test-servers/)"; \
      GTEST_SKIP() << variable << " is not set: start tools/test-servers/up.sh to run this test";  \
    }                                                                                               \
    (out) = vaxetl_value_;                                                                          \
  } while (0)
