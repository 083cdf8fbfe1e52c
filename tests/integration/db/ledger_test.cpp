// The run ledger, the same tests on SQLite and on PostgreSQL (a scratch database per test), plus
// what only one backend has: SQLite ledgers of older builds, PostgreSQL shared by machines.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <string>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include <optional>
#include <tuple>
#include <vector>

#include "db/built_in_migrations.hpp"
#include "db/database.hpp"
#include "ledger.hpp"
#include "pg_scratch_database.hpp"
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

class LedgerTest : public ::testing::TestWithParam<db::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == db::Backend::SQLite) {
      location_ = dir_ / "nested/dir/ledger.sqlite";  // parent directories are created
      return;
    }
    std::string admin;
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
    scratch_.emplace(admin);
    location_ = scratch_->url();
  }
  const std::string& location() const { return location_; }

  test::TempDir dir_;
  std::optional<test::PgScratchDatabase> scratch_;
  std::string location_;
};

TEST_P(LedgerTest, StoresRunFromStartToFinish) {
  Ledger ledger(location());
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

TEST_P(LedgerTest, SurvivesReopening) {
  {
    Ledger ledger(location());
    ledger.start(make_run("R1", "2024-01-01T00:00:00.000Z", "succeeded"));
  }
  Ledger reopened(location());
  ASSERT_TRUE(reopened.find("R1").has_value());
  EXPECT_EQ(reopened.find("R1")->status, "succeeded");
}

TEST_P(LedgerTest, SuccessfulLoadMatchesHashPipelineModeAndStatus) {
  Ledger ledger(location());
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

TEST_P(LedgerTest, RecentListsNewestFirstUpToTheLimit) {
  Ledger ledger(location());
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

TEST_P(LedgerTest, RunningRowOfDeadProcessBecomesInterrupted) {
  const std::string path = location();
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

TEST_P(LedgerTest, FinishedRowsAreNeverMarkedInterrupted) {
  Ledger ledger(location());
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

// The routing facts, gate counts and changes of a run come back as written.
TEST_P(LedgerTest, KeepsRouteGateAndChangeFacts) {
  Ledger ledger(location());
  RunRecord r = make_run("R1", "2026-11-20T08:00:00.000Z", "running");
  r.pipeline_path = "/etc/vaxetl/ncvr-daily.yaml";
  r.environment = "PROD";
  r.org = "ACME";
  r.format = "NCVR";
  r.file_version = 3;
  r.corrections = true;
  r.rerun_of = "R0";
  ledger.start(r);
  r.status = "held";
  r.race_ethnicity = {100, 90, 8};
  r.changes = {5, 4, 3, 2};
  r.gate = "held: below the production threshold";
  r.kept_path = "/var/held/R1/file.txt";
  ledger.finish(r);
  const auto found = ledger.find("R1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->pipeline_path, r.pipeline_path);
  EXPECT_EQ(found->environment, "PROD");
  EXPECT_EQ(found->org, "ACME");
  EXPECT_EQ(found->format, "NCVR");
  EXPECT_EQ(found->file_version, 3);
  EXPECT_TRUE(found->corrections);
  EXPECT_EQ(found->rerun_of, "R0");
  EXPECT_EQ(found->race_ethnicity.populated, 90);
  EXPECT_EQ(found->race_ethnicity.unknown, 8);
  EXPECT_EQ(found->changes.updated, 4);
  EXPECT_EQ(found->changes.voided, 3);
  EXPECT_EQ(found->gate, r.gate);
  EXPECT_EQ(found->kept_path, r.kept_path);
}

// A ledger written before routing existed gains the new columns and keeps its runs.
TEST(Ledger, UpgradesALedgerFromBeforeRouting) {
  test::TempDir dir;
  const std::string path = dir / "old.sqlite";
  {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session s("SQLite", path);
    s << "CREATE TABLE runs (run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, input_path TEXT NOT NULL,"
         " input_name TEXT NOT NULL, input_sha256 TEXT NOT NULL, mode TEXT NOT NULL,"
         " started_at TEXT NOT NULL, ended_at TEXT, received INTEGER NOT NULL DEFAULT 0,"
         " loaded INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,"
         " held INTEGER NOT NULL DEFAULT 0, warnings INTEGER NOT NULL DEFAULT 0,"
         " status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', error_file TEXT NOT NULL DEFAULT '',"
         " pid INTEGER NOT NULL DEFAULT 0)",
        Poco::Data::Keywords::now;
    s << "INSERT INTO runs (run_id, pipeline, input_path, input_name, input_sha256, mode, started_at, status)"
         " VALUES ('R-old', 'nightly', '/in/a.txt', 'a.txt', 'aa11', 'load', '2026-01-01T00:00:00.000Z', 'succeeded')",
        Poco::Data::Keywords::now;
  }
  Ledger ledger(path);
  const auto old = ledger.find("R-old");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, "succeeded");
  EXPECT_EQ(old->environment, "");
  EXPECT_TRUE(ledger.loaded_or_held("nightly", "", "aa11"));
  // It is now a migrated ledger: every migration recorded, new runs keep host and findings.
  EXPECT_TRUE(ledger_schema_status(path).pending.empty());
  RunRecord r = make_run("R-new", "2026-11-20T00:00:00.000Z", "running", "bb22");
  ledger.start(r);
  r.status = "succeeded";
  r.findings_by_code = {{"NDC_UNKNOWN", 2}};
  ledger.finish(r);
  EXPECT_FALSE(ledger.find("R-new")->host.empty());
  EXPECT_EQ(ledger.finding_totals_by_code().at("NDC_UNKNOWN"), 2);
}

TEST_P(LedgerTest, HeldRunsAreFoundUntilSupersededAndSkipARepeat) {
  Ledger ledger(location());
  for (const auto& [id, at, sha] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"R2", "2026-11-20T09:00:00.000Z", "b2"}, {"R1", "2026-11-20T08:00:00.000Z", "b1"}}) {
    RunRecord r = make_run(id, at, "running", sha);
    r.org = "ACME";
    r.environment = "PROD";
    ledger.start(r);
    r.status = "held";
    ledger.finish(r);
  }
  auto held = ledger.held_runs("ACME");
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].run_id, "R1");  // oldest first
  EXPECT_EQ(held[1].run_id, "R2");
  EXPECT_EQ(ledger.loaded_or_held("nightly", "PROD", "b1")->run_id, "R1");
  EXPECT_FALSE(ledger.loaded_or_held("nightly", "PHI", "b1"));  // another environment's content
  ledger.supersede("R1", "R3");
  held = ledger.held_runs("ACME");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].run_id, "R2");
  EXPECT_FALSE(ledger.loaded_or_held("nightly", "PROD", "b1"));
}

TEST_P(LedgerTest, WindowCountsEachProductionContentOnceWithinTheDays) {
  Ledger ledger(location());
  auto add = [&](const std::string& id, const std::string& at, const std::string& sha, const std::string& environment,
                 const std::string& status, RaceEthnicityCounts counts) {
    RunRecord r = make_run(id, at, "running", sha);
    r.org = "ACME";
    r.environment = environment;
    ledger.start(r);
    r.status = status;
    r.race_ethnicity = counts;
    ledger.finish(r);
  };
  add("R1", "2026-11-01T00:00:00.000Z", "s1", "PROD", "succeeded", {100, 99, 1});
  add("R2", "2026-11-10T00:00:00.000Z", "s2", "PROD", "held", {100, 80, 20});
  add("R3", "2026-11-11T00:00:00.000Z", "s2", "PROD", "succeeded", {100, 80, 20});  // the held file resumed
  add("R4", "2026-11-12T00:00:00.000Z", "s4", "PHI", "succeeded", {100, 0, 100});   // not production
  add("R5", "2026-11-13T00:00:00.000Z", "s5", "PROD", "failed", {100, 0, 100});     // nothing counted
  auto window = ledger.window("ACME", "2026-11-05T00:00:00.000Z");
  EXPECT_EQ(window.records, 100);
  EXPECT_EQ(window.unknown, 20);
  window = ledger.window("ACME", "2026-10-01T00:00:00.000Z");
  EXPECT_EQ(window.records, 200);
  EXPECT_EQ(window.populated, 179);
  EXPECT_EQ(ledger.window("ACME", "2026-10-01T00:00:00.000Z", "s2").records, 100);
}

TEST_P(LedgerTest, ProvidersKeepTheirStateAndCleanRuns) {
  Ledger ledger(location());
  EXPECT_EQ(ledger.provider("ACME").status, "active");  // never seen: active
  RunRecord r = make_run("R1", "2026-11-01T00:00:00.000Z", "running", "c1");
  r.org = "BETA";
  r.environment = "NOPHI";
  r.format = "NCVR";
  ledger.start(r);
  r.status = "succeeded";
  r.clean = true;
  ledger.finish(r);
  EXPECT_EQ(ledger.clean_runs("BETA", "NOPHI", "NCVR"), 1);
  EXPECT_EQ(ledger.clean_runs("BETA", "PHI", "NCVR"), 0);

  ProviderState paused{"ACME", "paused", "2026-11-02T00:00:00.000Z", "held: below", "R9", "2026-11-02T00:00:00.000Z"};
  ledger.set_provider(paused);
  EXPECT_EQ(ledger.provider("ACME").status, "paused");
  EXPECT_EQ(ledger.provider("ACME").run_id, "R9");
  EXPECT_EQ(ledger.provider("ACME").window_from, "2026-11-02T00:00:00.000Z");
  paused.status = "active";
  paused.reason = "resumed by an operator";
  ledger.set_provider(paused);
  EXPECT_EQ(ledger.provider("ACME").reason, "resumed by an operator");
  const auto all = ledger.providers();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].org, "ACME");
  EXPECT_EQ(all[1].org, "BETA");
}

// Each run keeps its findings per code; totals come back per provider and per code, without
// validations, and a finished run written twice keeps one set.
TEST_P(LedgerTest, FindingsPerCodeAddUpPerProvider) {
  Ledger ledger(location());
  auto add = [&](const std::string& id, const std::string& org, const std::string& mode,
                 std::map<std::string, int64_t> findings) {
    RunRecord r = make_run(id, "2026-11-20T08:00:00.000Z", "running", id, mode);
    r.org = org;
    ledger.start(r);
    r.status = mode == "load" ? "succeeded" : "validated";
    r.findings_by_code = std::move(findings);
    ledger.finish(r);
    return r;
  };
  auto first = add("R1", "ACME", "load", {{"NDC_UNKNOWN", 3}, {"DOB_FUTURE", 1}});
  add("R2", "ACME", "load", {{"NDC_UNKNOWN", 2}});
  add("R3", "BETA", "load", {{"NDC_UNKNOWN", 5}});
  add("R4", "BETA", "validate", {{"NDC_UNKNOWN", 100}});  // a validation loads nothing
  ledger.finish(first);  // finishing again replaces, never doubles

  const auto totals = ledger.finding_totals();
  ASSERT_EQ(totals.size(), 3u);
  EXPECT_EQ(totals[0].org, "ACME");
  EXPECT_EQ(totals[0].code, "DOB_FUTURE");
  EXPECT_EQ(totals[0].count, 1);
  EXPECT_EQ(totals[1].code, "NDC_UNKNOWN");
  EXPECT_EQ(totals[1].count, 5);
  EXPECT_EQ(totals[2].org, "BETA");
  EXPECT_EQ(totals[2].count, 5);
  EXPECT_EQ(ledger.finding_totals_by_code(),
            (std::map<std::string, int64_t>{{"DOB_FUTURE", 1}, {"NDC_UNKNOWN", 10}}));
  EXPECT_TRUE(ledger.finding_totals("2026-11-21T00:00:00.000Z").empty());
}

// Several machines share a PostgreSQL ledger: a pid means something only on its own host.
TEST_P(LedgerTest, OnlyRunsOfThisHostAreJudgedByPid) {
  RunRecord elsewhere = make_run("R-elsewhere", "2026-11-20T08:00:00.000Z", "running");
  elsewhere.pid = dead_pid();  // dead here, but it ran on another machine
  elsewhere.host = "another-machine.example";
  RunRecord here = make_run("R-here", "2026-11-20T08:00:01.000Z", "running");
  here.pid = dead_pid();
  {
    Ledger ledger(location());
    ledger.start(elsewhere);
    ledger.start(here);
  }
  Ledger reopened(location());
  EXPECT_EQ(reopened.find("R-elsewhere")->status, "running");
  EXPECT_EQ(reopened.find("R-here")->status, "interrupted");
  EXPECT_EQ(reopened.find("R-elsewhere")->host, "another-machine.example");
  EXPECT_FALSE(reopened.find("R-here")->host.empty());
}

TEST_P(LedgerTest, MigrationsAreRecordedAndAnUpToDateLedgerIsLeftAlone) {
  const auto files = db::built_in_migrations("ledger", GetParam());
  ASSERT_GE(files.size(), 2u);
  const auto before = ledger_schema_status(location());
  EXPECT_EQ(before.applied, 0);
  EXPECT_EQ(before.pending.size(), files.size());
  const auto migrated = migrate_ledger(location());
  EXPECT_EQ(migrated.applied, static_cast<int>(files.size()));
  EXPECT_EQ(migrated.newly_applied.size(), files.size());
  EXPECT_TRUE(migrate_ledger(location()).newly_applied.empty());
  { Ledger ledger(location()); }
  const auto after = ledger_schema_status(location());
  EXPECT_EQ(after.applied, after.latest);
  EXPECT_TRUE(after.pending.empty());
}

// A ledger that a newer build migrated is refused by name, not misread.
TEST_P(LedgerTest, RefusesALedgerNewerThanThisBuild) {
  { Ledger ledger(location()); }
  {
    auto session = db::open_session(db::Location::parse(location()));
    auto files = db::built_in_migrations("ledger", GetParam());
    const auto next = files.size() + 1;
    char name[64];
    std::snprintf(name, sizeof name, "%04zu_from_the_future.sql", next);
    files.push_back({name, "CREATE TABLE from_the_future (id INTEGER);"});
    db::migrate(*session, GetParam(), "ledger", files);
  }
  try {
    Ledger ledger(location());
    FAIL() << "a newer ledger was opened";
  } catch (const db::MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("migration ledger version"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerTest, ::testing::Values(db::Backend::SQLite, db::Backend::PostgreSQL),
                         [](const auto& info) { return info.param == db::Backend::SQLite ? "SQLite" : "PostgreSQL"; });

// A ledger's password never shows in a message.
TEST(Ledger, AnUnreachableLedgerIsNamedWithoutItsPassword) {
  try {
    Ledger ledger("postgresql://vaxetl:s3cret-word@127.0.0.1:1/ledger?connect_timeout=2");
    FAIL() << "an unreachable ledger opened";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find("s3cret-word"), std::string::npos) << message;
    EXPECT_NE(message.find("postgresql://vaxetl:***@127.0.0.1:1/ledger"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace vaxetl
