// A plugin that fails at run time ends the run "failed" with a message naming the plugin and
// what it did; nothing reaches the sink.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ledger.hpp"
#include "logging.hpp"
#include "pipeline.hpp"
#include "runner.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

namespace fs = std::filesystem;

class StageFailure : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { configure_logging("text", "off"); }

  RunOutcome run_with_source(const std::string& source) {
    test::PipelineOptions options;
    options.source = source;
    pipeline_ = test::write_fixture_pipeline(dir_, options);
    input_ = dir_ / "input.txt";
    test::write_file(input_, "E1 alpha\nE2 beta\n");
    const PipelineSpec spec = parse_pipeline(pipeline_.file, [](const std::string&) {
      return std::optional<std::string>();
    });
    PluginRegistry registry(spec.plugin_paths);
    const BoundPipeline bound = bind_pipeline(spec, registry);
    return run_pipeline(bound, input_, RunOptions{});
  }

  test::TempDir dir_;
  test::FixturePipeline pipeline_;
  std::string input_;
};

TEST_F(StageFailure, ExceptionInSourceFailsRunWithItsMessage) {
  const RunOutcome outcome = run_with_source("throws");
  EXPECT_EQ(outcome.record.status, "failed");
  EXPECT_EQ(outcome.exit_code, kExitRunFailed);
  EXPECT_NE(outcome.record.message.find(
                "source 'throws' 1.0.0: next_batch failed (INTERNAL): fixture exploded"),
            std::string::npos)
      << outcome.record.message;
  EXPECT_EQ(outcome.record.counts.received, 0);
  EXPECT_EQ(outcome.record.counts.loaded, 0);
  EXPECT_TRUE(outcome.record.counts.add_up());
  EXPECT_FALSE(fs::exists(pipeline_.output));

  Ledger ledger(pipeline_.ledger);
  const auto stored = ledger.find(outcome.record.run_id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "failed");
  EXPECT_EQ(stored->message, outcome.record.message);
}

TEST_F(StageFailure, ErrorWithoutMessageIsReportedAsPluginDefect) {
  const RunOutcome outcome = run_with_source("silent_error");
  EXPECT_EQ(outcome.record.status, "failed");
  EXPECT_EQ(outcome.exit_code, kExitRunFailed);
  EXPECT_NE(outcome.record.message.find(
                "source 'silent_error' 1.0.0 returned IO_ERROR from open without an error "
                "message; this is a defect in the plugin"),
            std::string::npos)
      << outcome.record.message;
  // The descriptor's origin tells the operator whom to report it to.
  EXPECT_NE(outcome.record.message.find("(vaxetl tests)"), std::string::npos)
      << outcome.record.message;
  EXPECT_TRUE(outcome.record.counts.add_up());
  EXPECT_FALSE(fs::exists(pipeline_.output));
}

}  // namespace
}  // namespace vaxetl
