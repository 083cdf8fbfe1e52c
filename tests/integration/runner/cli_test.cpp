// The real `vaxetl` executable: check, plugins and run, as an operator would call them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "plugin_registry.hpp"
#include "runner.hpp"
#include "runner_support.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string quoted(const std::string& text) {
  std::string q = "'";
  for (char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class Cli : public ::testing::Test {
 protected:
  // Runs vaxetl with `args` (already quoted) and `env_prefix` (e.g. "VAR=value "); the plugin
  // path from the test's own environment never leaks in.
  CommandResult vaxetl(const std::string& args, const std::string& env_prefix = "") {
    const std::string out = dir_ / "stdout.txt";
    const std::string err = dir_ / "stderr.txt";
    const std::string command = "env -u VAXETL_PLUGIN_PATH " + env_prefix + quoted(VAXETL_EXECUTABLE) +
                                " " + args + " >" + quoted(out) + " 2>" + quoted(err) + " </dev/null";
    const int status = std::system(command.c_str());
    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = test::read_file(out);
    result.err = test::read_file(err);
    return result;
  }

  test::TempDir dir_;
};

TEST_F(Cli, CheckValidatesPipelineAndMasksSecrets) {
  test::PipelineOptions options;
  options.extra_sink_config = "    password: s3cret-Value\n";
  const auto pipeline = test::write_fixture_pipeline(dir_, options);
  const CommandResult result = vaxetl("check " + quoted(pipeline.file));
  EXPECT_EQ(result.exit_code, kExitOk) << result.out << result.err;
  EXPECT_EQ(result.out.find("s3cret-Value"), std::string::npos) << result.out;
  EXPECT_EQ(result.err.find("s3cret-Value"), std::string::npos) << result.err;
  EXPECT_NE(result.out.find("\n    password: ********\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  source: source 'lines' 1.0.0 from " + test::fixture_plugin("lines")),
            std::string::npos)
      << result.out;
  const std::string ok = "OK: stages, config and columns agree\n";
  ASSERT_GE(result.out.size(), ok.size());
  EXPECT_EQ(result.out.substr(result.out.size() - ok.size()), ok);
}

TEST_F(Cli, CheckReportsPipelineProblemsWithExitCode65) {
  test::PipelineOptions options;
  options.sink = "needs_mpi";
  const auto pipeline = test::write_fixture_pipeline(dir_, options);
  const CommandResult result = vaxetl("check " + quoted(pipeline.file));
  EXPECT_EQ(result.exit_code, kExitPipelineInvalid);
  EXPECT_NE(result.err.find("needs column 'mpi_id', which no earlier stage produces"), std::string::npos)
      << result.err;
}

TEST_F(Cli, PluginsListsLoadedAndRefusedPlugins) {
  const CommandResult result =
      vaxetl("plugins", "VAXETL_PLUGIN_PATH=" + quoted(test::fixture_plugin_dir()) + " ");
  // Refused libraries make the listing exit like an invalid pipeline.
  EXPECT_EQ(result.exit_code, kExitPipelineInvalid) << result.out << result.err;
  const std::vector<std::string> lines = test::split(result.out, '\n');

  auto line_ending_with = [&](const std::string& path) -> std::size_t {
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i].size() >= path.size() && lines[i].substr(lines[i].size() - path.size()) == path)
        return i;
    return lines.size();
  };
  auto words = [](const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    return w;
  };

  EXPECT_EQ(words(lines.at(0)), (std::vector<std::string>{"NAME", "VERSION", "KIND", "ABI", "PATH"}));
  const std::string abi = std::to_string(VAXETL_ABI_MAJOR) + "." + std::to_string(VAXETL_ABI_MINOR);
  const std::vector<std::vector<std::string>> loaded = {
      {"lines", "1.0.0", "source"},       {"upper", "1.0.0", "transform"},
      {"capture", "1.0.0", "sink"},       {"needs_mpi", "1.0.0", "sink"},
      {"versioned", "1.1.0", "source"},   {"versioned", "2.0.0", "source"}};
  for (const auto& p : loaded) {
    const std::string path = test::fixture_plugin(p[0], p[1]);
    const std::size_t i = line_ending_with(path);
    ASSERT_LT(i, lines.size()) << path << " not listed:\n" << result.out;
    EXPECT_EQ(words(lines[i]), (std::vector<std::string>{p[0], p[1], p[2], abi, path}));
  }
  for (const std::string name : {"wrong_major", "newer_minor", "no_entry", "no_description"}) {
    const std::string path = test::fixture_plugin(name);
    const std::size_t i = line_ending_with(path);
    ASSERT_LT(i + 1, lines.size()) << path << " not listed:\n" << result.out;
    EXPECT_EQ(words(lines[i]), (std::vector<std::string>{"?", "?", "?", "?", path}));
    std::string reason;
    try {
      load_plugin(path);
    } catch (const PluginError& e) {
      reason = e.what();
    }
    EXPECT_EQ(lines[i + 1], "    refused: " + reason);
  }
  const std::string searched = "searched: " + test::fixture_plugin_dir() + " ";
  EXPECT_NE(result.out.find("\n" + searched), std::string::npos) << result.out;
}

TEST_F(Cli, RunWithJsonLogsWritesOneJsonObjectPerStderrLine) {
  const auto lines = test::mixed_input();
  const auto pipeline = test::write_fixture_pipeline(dir_);
  const std::string input = dir_ / "input.txt";
  test::write_file(input, test::join_input(lines));
  const CommandResult result =
      vaxetl("run " + quoted(pipeline.file) + " --input " + quoted(input) + " --log-format json");
  EXPECT_EQ(result.exit_code, kExitOk) << result.out << result.err;
  EXPECT_NE(result.out.find("status:     succeeded\n"), std::string::npos) << result.out;
  const RunCounts expected = test::expected_counts(lines);
  EXPECT_NE(result.out.find("loaded:     " + std::to_string(expected.loaded) + "\n"), std::string::npos)
      << result.out;
  EXPECT_EQ(test::read_lines(pipeline.output), test::expected_capture(lines));

  const std::vector<std::string> log_lines = test::split(result.err, '\n');
  ASSERT_GE(log_lines.size(), 2u) << "no log lines";
  EXPECT_TRUE(log_lines.back().empty()) << "the last log line is not terminated";
  for (std::size_t i = 0; i + 1 < log_lines.size(); ++i) {
    const std::string& line = log_lines[i];
    ASSERT_FALSE(line.empty()) << "empty stderr line " << i;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_NE(line.find("\"message\":\""), std::string::npos) << line;
  }
}

TEST_F(Cli, RunExitCodesFollowTheOutcome) {
  const auto pipeline = test::write_fixture_pipeline(dir_);
  const std::string malformed = dir_ / "malformed.txt";
  test::write_file(malformed, "MALFORMED\n");
  EXPECT_EQ(vaxetl("run " + quoted(pipeline.file) + " --input " + quoted(malformed)).exit_code,
            kExitInputRejected);
  EXPECT_EQ(vaxetl("run " + quoted(pipeline.file) + " --input " + quoted(dir_ / "absent.txt")).exit_code,
            kExitInputMissing);
  EXPECT_EQ(vaxetl("run " + quoted(pipeline.file)).exit_code, kExitUsage);
}

}  // namespace
}  // namespace vaxetl
