#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "ledger.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

RunRecord make_run(const std::string& id, const std::string& started_at, const std::string& status,
                   const std::string& sha = "aa11", const std::string& mode = "load") {
  RunRecord r;
  r.run_id = id;
  r.pipeline = "nightly";
  r.input_path = "/in/file.txt";
  r.input_name = "file.txt";
  r.input_sha256 = sha;
  r.mode = mode;
  r.started_at = started_at;
  r.status = status;
  r.pid = static_cast<int64_t>(::getpid());
  return r;
}

// The pid of a process that has exited and been reaped.
int64_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return static_cast<int64_t>(child);
}

TEST(Ledger, StoresRunFromStartToFinish) {
  test::TempDir dir;
  Ledger ledger(dir / "nested/dir/ledger.sqlite");  // parent directories are created
  RunRecord run = make_run("R1", "2024-01-01T00:00:00.000Z", "running");
  ledger.start(run);
  auto stored = ledger.find("R1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "running");
  EXPECT_EQ(stored->ended_at, "");
  EXPECT_EQ(stored->pid, run.pid);

  run.status = "succeeded";
  run.ended_at = "2024-01-01T00:00:05.000Z";
  run.counts = {10, 7, 2, 1, 3};
  run.message = "loaded";
  run.error_file = "/errors/file.txt_error.txt";
  ledger.finish(run);
  stored = ledger.find("R1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->pipeline, "nightly");
  EXPECT_EQ(stored->input_path, "/in/file.txt");
  EXPECT_EQ(stored->input_name, "file.txt");
  EXPECT_EQ(stored->input_sha256, "aa11");
  EXPECT_EQ(stored->mode, "load");
  EXPECT_EQ(stored->started_at, "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(stored->ended_at, "2024-01-01T00:00:05.000Z");
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(stored->message, "loaded");
  EXPECT_EQ(stored->error_file, "/errors/file.txt_error.txt");
  EXPECT_EQ(stored->counts.received, 10);
  EXPECT_EQ(stored->counts.loaded, 7);
  EXPECT_EQ(stored->counts.rejected, 2);
  EXPECT_EQ(stored->counts.held, 1);
  EXPECT_EQ(stored->counts.warnings, 3);
  EXPECT_FALSE(ledger.find("R-unknown").has_value());
}

TEST(Ledger, SurvivesReopening) {
  test::TempDir dir;
  {
    Ledger ledger(dir / "ledger.sqlite");
    ledger.start(make_run("R1", "2024-01-01T00:00:00.000Z", "succeeded"));
  }
  Ledger reopened(dir / "ledger.sqlite");
  ASSERT_TRUE(reopened.find("R1").has_value());
  EXPECT_EQ(reopened.find("R1")->status, "succeeded");
}

TEST(Ledger, SuccessfulLoadMatchesHashPipelineModeAndStatus) {
  test::TempDir dir;
  Ledger ledger(dir / "ledger.sqlite");
  ledger.start(make_run("R-failed", "2024-01-01T00:00:00.000Z", "failed", "hash1"));
  ledger.start(make_run("R-validated", "2024-01-01T00:00:01.000Z", "succeeded", "hash1", "validate"));
  RunRecord other_pipeline = make_run("R-other", "2024-01-01T00:00:02.000Z", "succeeded", "hash1");
  other_pipeline.pipeline = "weekly";
  ledger.start(other_pipeline);
  EXPECT_FALSE(ledger.successful_load("nightly", "hash1").has_value());

  ledger.start(make_run("R-old", "2024-01-02T00:00:00.000Z", "succeeded", "hash1"));
  ledger.start(make_run("R-new", "2024-01-03T00:00:00.000Z", "succeeded", "hash1"));
  ledger.start(make_run("R-hash2", "2024-01-04T00:00:00.000Z", "succeeded", "hash2"));
  const auto found = ledger.successful_load("nightly", "hash1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->run_id, "R-new");  // the most recent
  EXPECT_EQ(ledger.successful_load("weekly", "hash1")->run_id, "R-other");
  EXPECT_FALSE(ledger.successful_load("nightly", "hash3").has_value());
}

TEST(Ledger, RecentListsNewestFirstUpToTheLimit) {
  test::TempDir dir;
  Ledger ledger(dir / "ledger.sqlite");
  ledger.start(make_run("R-b", "2024-01-02T00:00:00.000Z", "succeeded"));
  ledger.start(make_run("R-a", "2024-01-01T00:00:00.000Z", "succeeded"));
  ledger.start(make_run("R-c", "2024-01-03T00:00:00.000Z", "failed"));
  ledger.start(make_run("R-c2", "2024-01-03T00:00:00.000Z", "failed"));  // same time: later row first
  std::vector<std::string> ids;
  for (const auto& r : ledger.recent(10)) ids.push_back(r.run_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"R-c2", "R-c", "R-b", "R-a"}));
  ids.clear();
  for (const auto& r : ledger.recent(2)) ids.push_back(r.run_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"R-c2", "R-c"}));
}

TEST(Ledger, RunningRowOfDeadProcessBecomesInterrupted) {
  test::TempDir dir;
  const std::string path = dir / "ledger.sqlite";
  RunRecord dead = make_run("R-dead", "2024-01-01T00:00:00.000Z", "running");
  dead.pid = dead_pid();
  RunRecord alive = make_run("R-alive", "2024-01-01T00:00:01.000Z", "running");
  alive.pid = static_cast<int64_t>(::getppid());  // the test runner: alive, not us
  {
    Ledger ledger(path);
    ledger.start(dead);
    ledger.start(alive);
    // recent() re-checks running rows.
    const auto rows = ledger.recent(10);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(ledger.find("R-dead")->status, "interrupted");
    EXPECT_EQ(ledger.find("R-dead")->message,
              "the process ended while the run was in progress; nothing was committed");
    EXPECT_EQ(ledger.find("R-alive")->status, "running");
  }
  // Opening a ledger checks them too.
  {
    Ledger ledger(path);
    RunRecord another = make_run("R-dead2", "2024-01-02T00:00:00.000Z", "running");
    another.pid = dead_pid();
    ledger.start(another);
  }
  Ledger reopened(path);
  EXPECT_EQ(reopened.find("R-dead2")->status, "interrupted");
  EXPECT_EQ(reopened.find("R-alive")->status, "running");
}

TEST(Ledger, FinishedRowsAreNeverMarkedInterrupted) {
  test::TempDir dir;
  Ledger ledger(dir / "ledger.sqlite");
  RunRecord run = make_run("R1", "2024-01-01T00:00:00.000Z", "succeeded");
  run.pid = dead_pid();
  ledger.start(run);
  ledger.recent(5);
  EXPECT_EQ(ledger.find("R1")->status, "succeeded");
}

TEST(Ledger, RunIdsAndTimestampsHaveTheDocumentedShape) {
  const std::string id = new_run_id();
  EXPECT_TRUE(std::regex_match(id, std::regex(R"(R\d{8}T\d{6}Z-[0-9a-f]{8})"))) << id;
  EXPECT_NE(new_run_id(), new_run_id());
  const std::string now = utc_timestamp_iso();
  EXPECT_TRUE(std::regex_match(now, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")))
      << now;
}

}  // namespace
}  // namespace vaxetl
