// run_pipeline end to end with the fixture plugins (lines -> upper -> capture): counts,
// captured rows, error files, the ledger's skip/force logic, validate mode, refused inputs,
// failed commits and batch-size independence.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "logging.hpp"
#include "pipeline.hpp"
#include "runner.hpp"
#include "runner_support.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

namespace fs = std::filesystem;
using test::InputLine;

class Runner : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { configure_logging("text", "off"); }

  // Binds a fixture pipeline the way the CLI does (plugin_paths first, then the defaults).
  BoundPipeline bind(const test::PipelineOptions& options = {}) {
    pipeline_ = test::write_fixture_pipeline(dir_, options);
    const PipelineSpec spec = parse_pipeline(pipeline_.file, process_environment());
    PluginRegistry registry(plugin_search_path(spec));
    return bind_pipeline(spec, registry);
  }
  std::string write_input(const std::string& text, const std::string& name = "input.txt") {
    const std::string path = dir_ / ("in/" + name);
    test::write_file(path, text);
    return path;
  }
  static void expect_counts(const RunCounts& actual, const RunCounts& expected) {
    EXPECT_EQ(actual.received, expected.received);
    EXPECT_EQ(actual.loaded, expected.loaded);
    EXPECT_EQ(actual.rejected, expected.rejected);
    EXPECT_EQ(actual.held, expected.held);
    EXPECT_EQ(actual.warnings, expected.warnings);
    EXPECT_TRUE(actual.add_up());
  }

  test::TempDir dir_;
  test::FixturePipeline pipeline_;
};

TEST_F(Runner, LoadsLiveRowsAndAccountsForEveryRecord) {
  const auto lines = test::mixed_input();
  const BoundPipeline bound = bind();
  const std::string input = write_input(test::join_input(lines));
  const RunOutcome outcome = run_pipeline(bound, input, RunOptions{});

  EXPECT_EQ(outcome.exit_code, kExitOk);
  EXPECT_EQ(outcome.record.status, "succeeded");
  EXPECT_EQ(outcome.record.mode, "load");
  EXPECT_EQ(outcome.record.input_name, "input.txt");
  expect_counts(outcome.record.counts, test::expected_counts(lines));
  EXPECT_EQ(test::read_lines(pipeline_.output), test::expected_capture(lines));

  std::map<std::string, int64_t> by_code;
  for (const auto& l : lines)
    for (const auto& f : l.findings) ++by_code[f.code];
  EXPECT_EQ(outcome.findings_by_code, by_code);

  Ledger ledger(pipeline_.ledger);
  const auto stored = ledger.find(outcome.record.run_id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(stored->pipeline, "fixture_pipeline");
  EXPECT_EQ(stored->counts.loaded, outcome.record.counts.loaded);
  EXPECT_EQ(stored->counts.held, outcome.record.counts.held);
  EXPECT_EQ(stored->error_file, outcome.record.error_file);
  EXPECT_EQ(stored->input_sha256.size(), 64u);
  // The findings per code went into the ledger with the run (/metrics reads them there).
  ASSERT_FALSE(by_code.empty());
  EXPECT_EQ(ledger.finding_totals_by_code(), by_code);
}

TEST_F(Runner, ErrorFileHasHeaderAndOneLinePerFindingWithTheOriginalRecord) {
  const auto lines = test::mixed_input();
  const BoundPipeline bound = bind();
  const RunOutcome outcome = run_pipeline(bound, write_input(test::join_input(lines)), RunOptions{});
  ASSERT_EQ(outcome.record.status, "succeeded");
  const std::string& error_file = outcome.record.error_file;
  EXPECT_EQ(fs::path(error_file).parent_path().string(), pipeline_.error_dir);
  EXPECT_EQ(fs::path(error_file).filename().string().substr(0, 10), "input.txt_");
  EXPECT_EQ(test::read_lines(error_file), test::expected_error_file(lines));
}

TEST_F(Runner, CleanInputGivesErrorFileWithOnlyTheHeader) {
  const std::vector<InputLine> lines = {{"E1 a", InputLine::kLoaded, {}},
                                        {"E2 b", InputLine::kLoaded, {}}};
  const BoundPipeline bound = bind();
  const RunOutcome outcome = run_pipeline(bound, write_input(test::join_input(lines)), RunOptions{});
  EXPECT_EQ(outcome.record.status, "succeeded");
  expect_counts(outcome.record.counts, test::expected_counts(lines));
  EXPECT_EQ(test::read_lines(outcome.record.error_file), test::expected_error_file(lines));
  EXPECT_EQ(test::read_lines(pipeline_.output), test::expected_capture(lines));
}

TEST_F(Runner, EmptyInputLoadsNothingAndSucceeds) {
  const BoundPipeline bound = bind();
  const RunOutcome outcome = run_pipeline(bound, write_input(""), RunOptions{});
  EXPECT_EQ(outcome.record.status, "succeeded");
  expect_counts(outcome.record.counts, RunCounts{});
  EXPECT_EQ(test::read_lines(pipeline_.output), test::expected_capture({}));
}

TEST_F(Runner, SecondRunOfSameFileIsSkippedAndChangesNothing) {
  const auto lines = test::mixed_input();
  const BoundPipeline bound = bind();
  const std::string input = write_input(test::join_input(lines));
  const RunOutcome first = run_pipeline(bound, input, RunOptions{});
  ASSERT_EQ(first.record.status, "succeeded");
  fs::remove(pipeline_.output);
  const auto error_files = test::files_in(pipeline_.error_dir);

  const RunOutcome second = run_pipeline(bound, input, RunOptions{});
  EXPECT_EQ(second.record.status, "skipped");
  EXPECT_EQ(second.exit_code, kExitOk);
  EXPECT_NE(second.record.message.find("already loaded by run " + first.record.run_id),
            std::string::npos)
      << second.record.message;
  expect_counts(second.record.counts, RunCounts{});
  EXPECT_TRUE(second.record.error_file.empty());
  EXPECT_FALSE(fs::exists(pipeline_.output)) << "a skipped run reached the sink";
  EXPECT_EQ(test::files_in(pipeline_.error_dir), error_files);

  Ledger ledger(pipeline_.ledger);
  EXPECT_EQ(ledger.find(second.record.run_id)->status, "skipped");
  EXPECT_EQ(ledger.find(first.record.run_id)->status, "succeeded");
  EXPECT_EQ(ledger.successful_load("fixture_pipeline", first.record.input_sha256)->run_id,
            first.record.run_id);
}

TEST_F(Runner, SameContentUnderAnotherNameIsSkippedToo) {
  const auto lines = test::mixed_input();
  const BoundPipeline bound = bind();
  ASSERT_EQ(run_pipeline(bound, write_input(test::join_input(lines), "a.txt"), RunOptions{}).record.status,
            "succeeded");
  const RunOutcome renamed = run_pipeline(bound, write_input(test::join_input(lines), "b.txt"), RunOptions{});
  EXPECT_EQ(renamed.record.status, "skipped");
}

TEST_F(Runner, ForceRerunsAFileAlreadyLoaded) {
  const auto lines = test::mixed_input();
  const BoundPipeline bound = bind();
  const std::string input = write_input(test::join_input(lines));
  ASSERT_EQ(run_pipeline(bound, input, RunOptions{}).record.status, "succeeded");
  fs::remove(pipeline_.output);

  RunOptions force;
  force.force = true;
  const RunOutcome again = run_pipeline(bound, input, force);
  EXPECT_EQ(again.record.status, "succeeded");
  expect_counts(again.record.counts, test::expected_counts(lines));
  EXPECT_EQ(test::read_lines(pipeline_.output), test::expected_capture(lines));
  EXPECT_EQ(test::read_lines(again.record.error_file), test::expected_error_file(lines));
}

TEST_F(Runner, ValidateWritesErrorFileButLoadsNothing) {
  const auto lines = test::mixed_input();
  const BoundPipeline bound = bind();
  const std::string input = write_input(test::join_input(lines));
  RunOptions validate;
  validate.mode = VAXETL_MODE_VALIDATE;
  const RunOutcome outcome = run_pipeline(bound, input, validate);
  EXPECT_EQ(outcome.exit_code, kExitOk);
  EXPECT_EQ(outcome.record.status, "validated");
  EXPECT_EQ(outcome.record.mode, "validate");
  expect_counts(outcome.record.counts, test::expected_counts(lines));  // loaded = would load
  EXPECT_FALSE(fs::exists(pipeline_.output));
  EXPECT_EQ(test::read_lines(outcome.record.error_file), test::expected_error_file(lines));

  // A validation is not a load: the file still loads afterwards.
  const RunOutcome load = run_pipeline(bound, input, RunOptions{});
  EXPECT_EQ(load.record.status, "succeeded");
  EXPECT_EQ(test::read_lines(pipeline_.output), test::expected_capture(lines));
}

TEST_F(Runner, MalformedInputIsRejectedWholeWithFileLevelErrorLine) {
  const BoundPipeline bound = bind();
  const RunOutcome outcome = run_pipeline(bound, write_input("MALFORMED\nE1 fine\nE2 fine\n"), RunOptions{});
  EXPECT_EQ(outcome.record.status, "rejected");
  EXPECT_EQ(outcome.exit_code, kExitInputRejected);
  EXPECT_EQ(outcome.record.message, "input refused whole, nothing loaded: fixture input is marked MALFORMED");
  EXPECT_EQ(outcome.record.counts.loaded, 0);
  EXPECT_TRUE(outcome.record.counts.add_up());
  EXPECT_FALSE(fs::exists(pipeline_.output));
  EXPECT_EQ(test::read_lines(outcome.record.error_file),
            (std::vector<std::string>{
                test::expected_error_file({}).front(),
                "1||||E|FIXTURE_MALFORMED|the file is marked MALFORMED on its first line|"}));
  EXPECT_EQ(outcome.findings_by_code, (std::map<std::string, int64_t>{{"FIXTURE_MALFORMED", 1}}));
  Ledger ledger(pipeline_.ledger);
  EXPECT_EQ(ledger.find(outcome.record.run_id)->status, "rejected");
}

TEST_F(Runner, FailedCommitLoadsNothingAndHoldsTheLiveRows) {
  const auto lines = test::mixed_input();
  test::PipelineOptions options;
  options.extra_sink_config = "    fail_on_commit: true\n";
  const BoundPipeline bound = bind(options);
  const std::string input = write_input(test::join_input(lines));
  const RunOutcome outcome = run_pipeline(bound, input, RunOptions{});
  EXPECT_EQ(outcome.record.status, "failed");
  EXPECT_EQ(outcome.exit_code, kExitRunFailed);
  EXPECT_NE(outcome.record.message.find(
                "sink 'capture' 1.0.0: commit failed (IO_ERROR): fixture commit failure"),
            std::string::npos)
      << outcome.record.message;

  RunCounts expected = test::expected_counts(lines);
  expected.held += expected.loaded;  // nothing was committed: loaded rows become held
  expected.loaded = 0;
  expect_counts(outcome.record.counts, expected);
  EXPECT_FALSE(fs::exists(pipeline_.output));
  EXPECT_FALSE(fs::exists(pipeline_.output + ".partial"));

  // A failed run is not a load: the same file runs again once the cause is fixed.
  const BoundPipeline fixed = bind();
  const RunOutcome rerun = run_pipeline(fixed, input, RunOptions{});
  EXPECT_EQ(rerun.record.status, "succeeded");
  EXPECT_EQ(test::read_lines(pipeline_.output), test::expected_capture(lines));
}

TEST_F(Runner, BatchSizeDoesNotChangeResults) {
  // Enough lines for several batches of every size, and more bytes than the source's buffer.
  std::vector<InputLine> lines;
  for (int round = 0; round < 40; ++round)
    for (const auto& l : test::mixed_input()) lines.push_back(l);
  const std::string text = test::join_input(lines);

  struct Result {
    RunCounts counts;
    std::vector<std::string> capture;
    std::vector<std::string> errors;
  };
  std::vector<Result> results;
  for (const uint32_t batch_size : {1000u, 1u, 3u}) {
    SCOPED_TRACE("batch_size " + std::to_string(batch_size));
    test::TempDir run_dir;
    test::PipelineOptions options;
    options.batch_size = batch_size;
    const test::FixturePipeline p = test::write_fixture_pipeline(run_dir, options);
    const PipelineSpec spec = parse_pipeline(p.file, process_environment());
    EXPECT_EQ(spec.batch_size, batch_size);
    PluginRegistry registry(plugin_search_path(spec));
    const BoundPipeline bound = bind_pipeline(spec, registry);
    const std::string input = run_dir / "input.txt";
    test::write_file(input, text);
    const RunOutcome outcome = run_pipeline(bound, input, RunOptions{});
    ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
    results.push_back({outcome.record.counts, test::read_lines(p.output),
                       test::read_lines(outcome.record.error_file)});
  }
  expect_counts(results[0].counts, test::expected_counts(lines));
  EXPECT_EQ(results[0].capture, test::expected_capture(lines));
  EXPECT_EQ(results[0].errors, test::expected_error_file(lines));
  for (std::size_t i = 1; i < results.size(); ++i) {
    expect_counts(results[i].counts, results[0].counts);
    EXPECT_EQ(results[i].capture, results[0].capture);
    EXPECT_EQ(results[i].errors, results[0].errors);
  }
}

TEST_F(Runner, BatchSizeOptionOverridesThePipeline) {
  const auto lines = test::mixed_input();
  const BoundPipeline bound = bind();
  RunOptions options;
  options.batch_size = 2;
  std::vector<int64_t> progress_records;
  options.on_progress = [&](const ProgressInfo& p) { progress_records.push_back(p.records); };
  const RunOutcome outcome = run_pipeline(bound, write_input(test::join_input(lines)), options);
  EXPECT_EQ(outcome.record.status, "succeeded");
  expect_counts(outcome.record.counts, test::expected_counts(lines));
  EXPECT_EQ(test::read_lines(pipeline_.output), test::expected_capture(lines));
  // The final progress report covers every record.
  ASSERT_FALSE(progress_records.empty());
  EXPECT_EQ(progress_records.back(), static_cast<int64_t>(lines.size()));
}

TEST_F(Runner, RecordNumbersStayFileLineNumbersWhenHeaderLinesAreSkipped) {
  const auto lines = test::mixed_input();
  test::PipelineOptions options;
  options.extra_source_config = "    header_lines: 2\n";
  const BoundPipeline bound = bind(options);
  // Two header lines in front of the usual input: every record moves down two lines.
  std::vector<InputLine> shifted = {{"HEADER one", InputLine::kLoaded, {}},
                                    {"HEADER two", InputLine::kLoaded, {}}};
  shifted.insert(shifted.end(), lines.begin(), lines.end());
  const RunOutcome outcome = run_pipeline(bound, write_input(test::join_input(shifted)), RunOptions{});
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  expect_counts(outcome.record.counts, test::expected_counts(lines));
  std::vector<std::string> capture = test::expected_capture(shifted);
  capture.erase(capture.begin() + 1, capture.begin() + 3);  // the header lines are not records
  EXPECT_EQ(test::read_lines(pipeline_.output), capture);
  EXPECT_EQ(test::read_lines(outcome.record.error_file), test::expected_error_file(shifted));
}

TEST_F(Runner, MissingInputFileExitsWithInputMissing) {
  const BoundPipeline bound = bind();
  const std::string input = dir_ / "in/not-there.txt";
  const RunOutcome outcome = run_pipeline(bound, input, RunOptions{});
  EXPECT_EQ(outcome.exit_code, kExitInputMissing);
  EXPECT_EQ(outcome.record.status, "failed");
  EXPECT_EQ(outcome.record.message, "input file not found or not a regular file: " + input);
  EXPECT_FALSE(fs::exists(pipeline_.output));
}

TEST_F(Runner, DirectoryAsInputExitsWithInputMissing) {
  const BoundPipeline bound = bind();
  const RunOutcome outcome = run_pipeline(bound, dir_.path(), RunOptions{});
  EXPECT_EQ(outcome.exit_code, kExitInputMissing);
}

}  // namespace
}  // namespace vaxetl
