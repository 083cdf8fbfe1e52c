// Shared by the MPI index tests: a fresh index (a SQLite file in a temporary directory, or a
// PostgreSQL scratch database migrated like `vaxetl db migrate` does), read back through a
// connection of its own, and helpers that put masters, values and decisions into it.
#pragma once

#include <Poco/Data/Session.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "db/migrations.hpp"
#include "index_store/mpi_store.hpp"
#include "matcher/matcher.hpp"
#include "pg_scratch_database.hpp"
#include "vaxetl_test_support.hpp"

namespace mpi_test {

namespace mpi = vaxetl::mpi;
using vaxetl::test::TempDir;

inline constexpr const char* kDataDir = MPI_DATA_DIR;  // plugins/mpi/data in the source tree

enum class Backend { SQLite, PostgreSQL };
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::SQLite ? "SQLite" : "PostgreSQL";
}

// Applies the mpi component's PostgreSQL migrations, as `vaxetl db migrate` does.
inline void migrate_postgres(const std::string& url) {
  auto session = vaxetl::db::open_session(vaxetl::db::Location::parse(url));
  vaxetl::db::migrate(*session, vaxetl::db::Backend::PostgreSQL, "mpi",
                      std::string(kDataDir) + "/migrations/postgresql");
}

class IndexTest : public ::testing::Test {
 protected:
  // Switches the fixture to a migrated PostgreSQL scratch database; skips (or fails under
  // tools/test.sh) without the test server. Call from SetUp and return if IsSkipped().
  void use_postgres(bool migrated = true) {
    std::string admin;
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
    pg_admin_ = admin;
    pg_ = std::make_unique<vaxetl::test::PgScratchDatabase>(admin);
    location_ = pg_->url();
    if (migrated) migrate_postgres(location_);
  }
  bool postgres() const { return pg_ != nullptr; }

  mpi::StoreOptions options(bool dry_run = false) const {
    mpi::StoreOptions o;
    o.path = location_;
    o.data_dir = kDataDir;
    o.dry_run = dry_run;
    o.busy_timeout_ms = 200;
    return o;
  }
  std::unique_ptr<mpi::MpiStore> open(bool dry_run = false) const {
    return std::make_unique<mpi::MpiStore>(options(dry_run));
  }

  // Runs SQL on a PostgreSQL connection of its own (search_path: the mpi schema); returns the
  // first row's first value ("<no row>", "<null>") and the server's primary error message.
  std::pair<std::string, std::string> pg_run(const std::string& sql) const {
    PGconn* connection = PQconnectdb(location_.c_str());
    std::string value = "<no row>", error;
    if (PQstatus(connection) != CONNECTION_OK) {
      error = PQerrorMessage(connection);
    } else {
      PQsetNoticeProcessor(connection, [](void*, const char*) {}, nullptr);
      PQclear(PQexec(connection, "SET search_path TO mpi"));
      PGresult* result = PQexec(connection, sql.c_str());
      const auto status = PQresultStatus(result);
      if (status == PGRES_TUPLES_OK && PQntuples(result) > 0)
        value = PQgetisnull(result, 0, 0) ? "<null>" : PQgetvalue(result, 0, 0);
      if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
        error = primary != nullptr ? primary : PQerrorMessage(connection);
      }
      PQclear(result);
    }
    PQfinish(connection);
    return {value, error};
  }

  // Reads the index through a connection of its own.
  std::int64_t scalar(const std::string& sql) const {
    if (postgres()) {
      const auto [value, error] = pg_run(sql);
      EXPECT_EQ(error, "") << sql;
      return value == "<no row>" || value == "<null>" ? -1 : std::stoll(value);
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::int64_t value = -1;
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
  std::string text(const std::string& sql) const {
    if (postgres()) {
      const auto [value, error] = pg_run(sql);
      EXPECT_EQ(error, "") << sql;
      return value;
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string value = "<no row>";
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* p = sqlite3_column_text(stmt, 0);
      value = p == nullptr ? "<null>" : reinterpret_cast<const char*>(p);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
  // Runs SQL on its own connection; returns SQLite's error message ("" when it succeeded).
  std::string exec(const std::string& sql) const {
    if (postgres()) return pg_run(sql).second;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
              SQLITE_OK);
    char* error = nullptr;
    std::string message;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK)
      message = error != nullptr ? error : "error";
    sqlite3_free(error);
    sqlite3_close(db);
    return message;
  }
  std::int64_t count(const std::string& table) const { return scalar("SELECT count(*) FROM " + table); }

  // Writes masters with values in one load: each master's values as (field, value) pairs.
  static void add_masters(mpi::MpiStore& store,
                          const std::vector<std::pair<mpi::MasterId,
                                                      std::vector<std::pair<mpi::Field, std::string>>>>& masters,
                          const std::string& run_id = "R-setup") {
    std::vector<mpi::IndexChange> changes;
    for (const auto& [id, values] : masters) {
      changes.push_back({mpi::IndexChange::Kind::NewMaster, id, mpi::Field::FirstName, ""});
      for (const auto& [field, value] : values)
        changes.push_back({mpi::IndexChange::Kind::AddValue, id, field, value});
    }
    store.begin({run_id, "sha-setup"});
    store.persist(changes, "2026-01-02T03:04:05Z");
    store.commit();
  }

  // A result as the matcher would give it, for a record given `id`.
  static mpi::MatchResult result(mpi::MasterId id, mpi::Decision decision, double score = 0,
                                 mpi::MasterId best = 0, mpi::MasterId runner_up = 0,
                                 double runner_up_score = 0) {
    mpi::MatchResult r;
    r.mpi_id = id;
    r.decision = decision;
    r.score = score;
    r.best_candidate = best;
    r.runner_up = runner_up;
    r.runner_up_score = runner_up_score;
    r.candidates = best == 0 ? 0 : (runner_up == 0 ? 1 : 2);
    if (best != 0) {
      r.comparison[static_cast<std::size_t>(mpi::Field::FirstName)] = {1, 3.5f};
      r.comparison[static_cast<std::size_t>(mpi::Field::BirthDate)] = {1, 9.75f};
      r.comparison[static_cast<std::size_t>(mpi::Field::Zip)] = {static_cast<std::uint8_t>(mpi::level_count(mpi::Field::Zip) - 1), -2.25f};
    }
    return r;
  }

  // A record's context for the decision log, owning its text.
  struct Context {
    std::int64_t record_no = 1;
    std::string source = "ACMEPHARM";
    std::string recipient_id = "MRN-A";
    std::string event_id = "EV1";
    mpi::DecisionContext view() const {
      mpi::DecisionContext c;
      c.record_no = record_no;
      c.source = source;
      c.recipient_id = recipient_id;
      c.vax_event_id = event_id;
      c.decided_at = "2026-01-02T03:04:05Z";
      return c;
    }
  };

  TempDir dir_;
  std::string path_ = dir_ / "mpi.sqlite";
  std::unique_ptr<vaxetl::test::PgScratchDatabase> pg_;
  std::string pg_admin_;  // the test server's admin URL, for more scratch databases
  std::string location_ = path_;  // what the store opens: path_ or the scratch database's URL
};

}  // namespace mpi_test
