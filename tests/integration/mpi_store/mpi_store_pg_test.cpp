// The MPI index on PostgreSQL only: migrations (never applied on open; an index with pending
// ones is refused), the append-only triggers, two processes loading against one index at once,
// and a process killed in the middle of a load.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "mpi_test_support.hpp"

namespace mpi_test {
namespace {

namespace fs = std::filesystem;
using mpi::Decision;
using mpi::Field;
using mpi::MasterId;

class PgStoreTest : public IndexTest {
 protected:
  void SetUp() override { use_postgres(); }

  // One load as the mpi transform makes it: begin (the write lock), load the whole index, give
  // `records` records new masters from the loaded next id, persist, append their decisions,
  // commit. `hold_ms` keeps the index between load and persist, as matching a file would.
  // Returns the first id given; throws what the store throws.
  static MasterId load_file(const mpi::StoreOptions& options, const std::string& run_id, int records,
                            int hold_ms, bool commit = true) {
    mpi::MpiStore store(options);
    store.begin({run_id, "sha-" + run_id});
    mpi::Matcher matcher(mpi::load_reference_tables(kDataDir), mpi::Model::defaults());
    const MasterId first = store.load(matcher).next_id;
    if (hold_ms > 0) ::usleep(static_cast<useconds_t>(hold_ms) * 1000);
    std::vector<mpi::IndexChange> changes;
    for (int i = 0; i < records; ++i) {
      const MasterId id = first + static_cast<MasterId>(i);
      changes.push_back({mpi::IndexChange::Kind::NewMaster, id, Field::FirstName, ""});
      changes.push_back({mpi::IndexChange::Kind::AddValue, id, Field::LastName, run_id + "-" + std::to_string(i)});
    }
    store.persist(changes, "2026-03-04T05:06:07Z");
    for (int i = 0; i < records; ++i) {
      Context c;
      c.record_no = i + 1;
      store.append_decision(c.view(), result(first + static_cast<MasterId>(i), Decision::New));
    }
    if (commit) store.commit();
    return first;
  }

  // Runs `body` in a child process; returns its exit status as waitpid gives it. The child
  // never returns into the test (no destructor of the parent's objects runs twice).
  template <class Body>
  static pid_t spawn(Body&& body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: %s\n", e.what());
        code = 1;
      }
      std::fflush(stderr);
      ::_exit(code);
    }
    return pid;
  }
  static int wait_for(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  }
};

TEST_F(PgStoreTest, MigrationsAreNotAppliedOnOpenAndPendingOnesAreRefused) {
  // A database nobody migrated: refused, with the command that fixes it; nothing is created.
  vaxetl::test::PgScratchDatabase bare(pg_admin_);
  auto o = options();
  o.path = bare.url();
  try {
    mpi::MpiStore store(o);
    FAIL() << "opened an index without its schema";
  } catch (const mpi::StoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("run `vaxetl db migrate PIPELINE`"), std::string::npos) << message;
    EXPECT_NE(message.find("0001_index.sql"), std::string::npos) << message;
  }
  {
    PGconn* connection = PQconnectdb(bare.url().c_str());
    PGresult* r = PQexec(connection, "SELECT count(*) FROM pg_namespace WHERE nspname = 'mpi'");
    EXPECT_STREQ(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(connection);
  }

  // A build that carries a newer migration than the database has: refused until migrated.
  const fs::path data = dir_ / "data";
  fs::create_directories(data / "migrations" / "postgresql");
  fs::copy(fs::path(kDataDir) / "migrations" / "postgresql", data / "migrations" / "postgresql");
  vaxetl::test::write_file(data / "migrations" / "postgresql" / "0002_note.sql",
                           "COMMENT ON TABLE mpi.masters IS 'one row per master patient';");
  o = options();
  o.data_dir = data.string();
  try {
    mpi::MpiStore store(o);
    FAIL() << "opened an index with a pending migration";
  } catch (const mpi::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("0002_note.sql"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("vaxetl db migrate"), std::string::npos) << e.what();
  }
  EXPECT_EQ(text("SELECT coalesce(obj_description('mpi.masters'::regclass), '<none>')"), "<none>");
  {
    auto session = vaxetl::db::open_session(vaxetl::db::Location::parse(location_));
    vaxetl::db::migrate(*session, vaxetl::db::Backend::PostgreSQL, "mpi", data / "migrations" / "postgresql");
  }
  mpi::MpiStore store(o);
  EXPECT_EQ(store.counts().active_masters, 0);
}

TEST_F(PgStoreTest, ThePathNeverShowsAPassword) {
  std::string url = location_;
  url.insert(url.find('@'), ":s3cret-pw");  // the test server trusts loopback: any password does
  auto o = options();
  o.path = url;
  mpi::MpiStore store(o);
  EXPECT_EQ(store.path().find("s3cret-pw"), std::string::npos) << store.path();
  EXPECT_NE(store.path().find("***"), std::string::npos) << store.path();
}

TEST_F(PgStoreTest, TriggersKeepTheLogsAppendOnlyForEveryone) {
  auto store = open();
  add_masters(*store, {{1, {{Field::FirstName, "ANN"}}}, {2, {{Field::FirstName, "ANNE"}}}});
  store->begin({"R-1", "sha-1"});
  store->append_decision(Context{}.view(), result(2, Decision::Possible, 8.5, 1));
  store->commit();
  store->merge(1, 2, {"alice", "same person"});
  ASSERT_EQ(count("decisions"), 1);
  ASSERT_EQ(count("operator_actions"), 1);
  // The test connects as the server's superuser: the triggers hold even for it.
  for (const std::string table : {"decisions", "operator_actions"}) {
    for (const std::string& sql : {"DELETE FROM " + table, "TRUNCATE " + table + " CASCADE"})
      EXPECT_EQ(exec(sql), table + " are append-only") << sql;
  }
  EXPECT_EQ(exec("UPDATE decisions SET run_no = run_no"), "decisions are append-only");
  EXPECT_EQ(exec("UPDATE operator_actions SET performed_by = 'mallory'"), "operator_actions are append-only");
  EXPECT_EQ(count("decisions"), 1);
  EXPECT_EQ(count("operator_actions"), 1);
  EXPECT_EQ(text("SELECT performed_by FROM operator_actions"), "alice");
  // The other tables change as operators work: an unmerge updates masters, aliases, reviews.
  EXPECT_NO_THROW(store->unmerge(1, 2, {"bob", "twins"}));
  EXPECT_EQ(count("operator_actions"), 2);
}

TEST_F(PgStoreTest, TwoProcessesLoadingAtOnceGetDistinctIdsAndBothPersist) {
  { auto store = open(); add_masters(*store, {{1, {{Field::FirstName, "ANN"}}}}); }
  auto o = options();
  o.busy_timeout_ms = 60'000;  // the second waits for the first load to end
  constexpr int kRecords = 300;
  // Each holds the index 400 ms between load and persist, so the two loads overlap.
  const pid_t first = spawn([&] { load_file(o, "R-first", kRecords, 400); });
  const pid_t second = spawn([&] { load_file(o, "R-second", kRecords, 400); });
  const int first_status = wait_for(first), second_status = wait_for(second);
  ASSERT_TRUE(WIFEXITED(first_status) && WEXITSTATUS(first_status) == 0);
  ASSERT_TRUE(WIFEXITED(second_status) && WEXITSTATUS(second_status) == 0);

  EXPECT_EQ(count("masters"), 1 + 2 * kRecords);
  EXPECT_EQ(scalar("SELECT count(DISTINCT mpi_id) FROM masters"), 1 + 2 * kRecords);
  EXPECT_EQ(scalar("SELECT max(mpi_id) FROM masters"), 1 + 2 * kRecords) << "no id skipped";
  EXPECT_EQ(count("master_values"), 1 + 2 * kRecords);
  EXPECT_EQ(count("decisions"), 2 * kRecords);
  // Each load's masters are one block of ids after the other's: the second saw the first's.
  EXPECT_EQ(scalar("SELECT count(*) FROM (SELECT created_run FROM masters GROUP BY created_run "
                   "HAVING max(mpi_id) - min(mpi_id) + 1 = count(*)) AS blocks"),
            3);
  // Every decision names a master its own load created.
  EXPECT_EQ(scalar("SELECT count(*) FROM decisions d JOIN masters m ON m.mpi_id = d.mpi_id "
                   "WHERE m.created_run = d.run_no"),
            2 * kRecords);
}

TEST_F(PgStoreTest, AProcessKilledBeforeCommitLeavesTheIndexAsItWasAndReleasesTheLock) {
  { auto store = open(); add_masters(*store, {{1, {{Field::FirstName, "ANN"}}}, {2, {{Field::FirstName, "BO"}}}}); }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const auto o = options();
  const pid_t child = spawn([&] {
    mpi::MpiStore store(o);
    store.begin({"R-doomed", "sha-doomed"});
    mpi::Matcher matcher(mpi::load_reference_tables(kDataDir), mpi::Model::defaults());
    store.load(matcher);
    std::vector<mpi::IndexChange> changes{{mpi::IndexChange::Kind::NewMaster, 3, Field::FirstName, ""},
                                          {mpi::IndexChange::Kind::AddValue, 3, Field::FirstName, "CY"},
                                          {mpi::IndexChange::Kind::AddValue, 1, Field::LastName, "LEE"}};
    store.persist(changes, "2026-03-04T05:06:07Z");
    store.append_decision(Context{}.view(), result(3, Decision::New));
    store.save_model(mpi::Model::defaults(), mpi::EstimationReport{});
    (void)!::write(ready[1], "x", 1);
    ::pause();  // killed here, mid-load, holding the write lock
  });
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::kill(child, SIGKILL);
  const int status = wait_for(child);
  ::close(ready[0]);
  ::close(ready[1]);
  ASSERT_TRUE(WIFSIGNALED(status));

  EXPECT_EQ(count("masters"), 2);
  EXPECT_EQ(count("master_values"), 2);
  EXPECT_EQ(count("decisions"), 0);
  EXPECT_EQ(count("models"), 0);
  EXPECT_EQ(count("runs"), 1) << "only the setup's";
  // The lock died with the connection: the next load starts at once, from the same next id.
  auto o_quick = options();
  o_quick.busy_timeout_ms = 2'000;
  EXPECT_EQ(load_file(o_quick, "R-next", 5, 0), 3u);
  EXPECT_EQ(count("masters"), 7);
}

TEST_F(PgStoreTest, ABusyIndexIsReportedAsBusyAndTheWaiterCanRetry) {
  auto o = options();
  o.busy_timeout_ms = 300;
  mpi::MpiStore holder(o);
  holder.begin({"R-1", "sha-1"});
  mpi::MpiStore waiter(o);
  try {
    waiter.begin({"R-2", "sha-2"});
    FAIL() << "took the write lock twice";
  } catch (const mpi::StoreBusy& e) {
    EXPECT_NE(std::string(e.what()).find("write lock"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(waiter.in_transaction());
  holder.rollback();
  waiter.begin({"R-2", "sha-2"});
  EXPECT_TRUE(waiter.in_transaction());
  waiter.rollback();
}

}  // namespace
}  // namespace mpi_test
