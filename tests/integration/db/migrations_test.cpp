// Schema migrations on SQLite and on PostgreSQL (a scratch database per test): order, one
// transaction per file, the record of what was applied, and every refusal.
#include "db/database.hpp"
#include "db/migrations.hpp"

#include <Poco/Data/Session.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <thread>

#include "pg_scratch_database.hpp"
#include "vaxetl_test_support.hpp"

namespace {

using vaxetl::db::Backend;
using vaxetl::db::MigrationError;
using vaxetl::db::MigrationFile;
using vaxetl::test::TempDir;
using vaxetl::test::write_file;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;

// One empty database of the parameter's backend.
class MigrationsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::SQLite) {
      location_ = (dir_ / "store.sqlite");
      return;
    }
    std::string admin;
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
    scratch_.emplace(admin);
    location_ = scratch_->url();
  }

  std::unique_ptr<Poco::Data::Session> open() {
    return vaxetl::db::open_session(vaxetl::db::Location::parse(location_));
  }
  Backend backend() const { return GetParam(); }

  int count(Poco::Data::Session& session, const std::string& sql) {
    int value = -1;
    session << "SELECT CAST((" + sql + ") AS INTEGER)", into(value), now;
    return value;
  }

  TempDir dir_;
  std::optional<vaxetl::test::PgScratchDatabase> scratch_;
  std::string location_;
};

// Two statements per file, and a semicolon inside a string literal.
std::vector<MigrationFile> base_files() {
  return {
      {"0001_create_things.sql",
       "CREATE TABLE things (id INTEGER PRIMARY KEY, label TEXT NOT NULL);\n"
       "INSERT INTO things (id, label) VALUES (1, 'one; still one');\n"},
      {"0002_add_kind.sql",
       "ALTER TABLE things ADD COLUMN kind TEXT;\n"
       "UPDATE things SET kind = 'first';\n"
       "CREATE INDEX things_kind ON things (kind);\n"},
  };
}

TEST_P(MigrationsTest, StatusListsEveryFileOfAnEmptyDatabaseWithoutCreatingAnything) {
  auto session = open();
  const auto status = vaxetl::db::migration_status(*session, backend(), "demo", base_files());
  EXPECT_EQ(status.applied, 0);
  EXPECT_EQ(status.latest, 2);
  EXPECT_EQ(status.pending, (std::vector<std::string>{"0001_create_things.sql", "0002_add_kind.sql"}));
  const std::string tables = backend() == Backend::SQLite
                                 ? "SELECT count(*) FROM sqlite_master WHERE name = 'vaxetl_schema_migrations'"
                                 : "SELECT count(*) FROM information_schema.tables WHERE table_name = "
                                   "'vaxetl_schema_migrations'";
  EXPECT_EQ(count(*session, tables), 0);
}

TEST_P(MigrationsTest, AppliesMultiStatementFilesInOrderAndRecordsEach) {
  auto session = open();
  const auto status = vaxetl::db::migrate(*session, backend(), "demo", base_files());
  EXPECT_EQ(status.applied, 2);
  EXPECT_EQ(status.latest, 2);
  EXPECT_TRUE(status.pending.empty());
  EXPECT_EQ(status.newly_applied, (std::vector<std::string>{"0001_create_things.sql", "0002_add_kind.sql"}));

  std::string label, kind;
  *session << "SELECT label, kind FROM things WHERE id = 1", into(label), into(kind), now;
  EXPECT_EQ(label, "one; still one");
  EXPECT_EQ(kind, "first");

  std::vector<int> versions;
  std::vector<std::string> descriptions, digests;
  *session << "SELECT version, description, sha256 FROM vaxetl_schema_migrations WHERE component = 'demo' "
              "ORDER BY version",
      into(versions), into(descriptions), into(digests), now;
  EXPECT_EQ(versions, (std::vector<int>{1, 2}));
  EXPECT_EQ(descriptions, (std::vector<std::string>{"create_things", "add_kind"}));
  ASSERT_EQ(digests.size(), 2u);
  EXPECT_EQ(digests[0].size(), 64u);
  EXPECT_NE(digests[0], digests[1]);
  EXPECT_EQ(count(*session, "SELECT count(*) FROM vaxetl_schema_migrations WHERE applied_at IS NULL"), 0);
}

TEST_P(MigrationsTest, ASecondRunAppliesOnlyTheNewFile) {
  auto session = open();
  vaxetl::db::migrate(*session, backend(), "demo", base_files());
  EXPECT_TRUE(vaxetl::db::migrate(*session, backend(), "demo", base_files()).newly_applied.empty());

  auto files = base_files();
  files.push_back({"0003_second_thing.sql", "INSERT INTO things (id, label, kind) VALUES (2, 'two', 'second');"});
  const auto before = vaxetl::db::migration_status(*session, backend(), "demo", files);
  EXPECT_EQ(before.applied, 2);
  EXPECT_EQ(before.pending, (std::vector<std::string>{"0003_second_thing.sql"}));
  const auto after = vaxetl::db::migrate(*session, backend(), "demo", files);
  EXPECT_EQ(after.newly_applied, (std::vector<std::string>{"0003_second_thing.sql"}));
  EXPECT_EQ(count(*session, "SELECT count(*) FROM things"), 2);
}

TEST_P(MigrationsTest, ComponentsKeepTheirOwnVersions) {
  auto session = open();
  vaxetl::db::migrate(*session, backend(), "demo", base_files());
  const auto other = vaxetl::db::migrate(*session, backend(), "other",
                                         std::vector<MigrationFile>{{"0001_other.sql", "CREATE TABLE other_things (id INTEGER);"}});
  EXPECT_EQ(other.applied, 1);
  EXPECT_EQ(vaxetl::db::migration_status(*session, backend(), "demo", base_files()).applied, 2);
}

TEST_P(MigrationsTest, RefusesAnAppliedFileThatChanged) {
  auto session = open();
  vaxetl::db::migrate(*session, backend(), "demo", base_files());
  auto files = base_files();
  files[1].sql += "-- edited afterwards\n";
  for (const bool apply : {false, true}) {
    try {
      if (apply)
        vaxetl::db::migrate(*session, backend(), "demo", files);
      else
        vaxetl::db::migration_status(*session, backend(), "demo", files);
      FAIL() << "a changed migration was accepted";
    } catch (const MigrationError& e) {
      EXPECT_NE(std::string(e.what()).find("migration demo version 2"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("changed"), std::string::npos) << e.what();
    }
  }
}

TEST_P(MigrationsTest, RefusesAMissingVersion) {
  auto session = open();
  auto files = base_files();
  files.push_back({"0004_later.sql", "SELECT 1;"});
  try {
    vaxetl::db::migrate(*session, backend(), "demo", files);
    FAIL() << "a gap in the versions was accepted";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("migration demo version 3"), std::string::npos) << e.what();
  }
  // Nothing ran: the files are checked before the database is touched.
  EXPECT_EQ(vaxetl::db::migration_status(*session, backend(), "demo", base_files()).applied, 0);
}

TEST_P(MigrationsTest, RefusesADatabaseNewerThanTheFiles) {
  auto session = open();
  auto files = base_files();
  files.push_back({"0003_newer.sql", "CREATE TABLE newer (id INTEGER);"});
  vaxetl::db::migrate(*session, backend(), "demo", files);
  try {
    vaxetl::db::migrate(*session, backend(), "demo", base_files());
    FAIL() << "an older build migrated a newer database";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("migration demo version 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST_P(MigrationsTest, RefusesABadFileName) {
  auto session = open();
  EXPECT_THROW(vaxetl::db::migrate(*session, backend(), "demo",
                                           std::vector<MigrationFile>{{"create.sql", "SELECT 1;"}}), MigrationError);
}

TEST_P(MigrationsTest, AFailingFileIsRolledBackWholeAndNamed) {
  auto session = open();
  auto files = base_files();
  files.push_back({"0003_broken.sql",
                   "CREATE TABLE half_done (id INTEGER);\n"
                   "INSERT INTO no_such_table VALUES (1);\n"});
  try {
    vaxetl::db::migrate(*session, backend(), "demo", files);
    FAIL() << "a failing migration was reported applied";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("migration demo version 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos) << e.what();
  }
  const auto status = vaxetl::db::migration_status(*session, backend(), "demo", files);
  EXPECT_EQ(status.applied, 2);
  EXPECT_EQ(status.pending, (std::vector<std::string>{"0003_broken.sql"}));
  const std::string half_done = backend() == Backend::SQLite
                                    ? "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'"
                                    : "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half_done'";
  EXPECT_EQ(count(*session, half_done), 0);
  // The session is usable afterwards: fixing the file lets it through.
  files[2].sql = "CREATE TABLE half_done (id INTEGER);";
  EXPECT_EQ(vaxetl::db::migrate(*session, backend(), "demo", files).applied, 3);
}

TEST_P(MigrationsTest, ConcurrentMigratorsApplyEachFileOnce) {
  // Plain CREATE TABLE (no IF NOT EXISTS) fails if a file ran twice.
  std::vector<MigrationFile> files;
  for (int version = 1; version <= 6; ++version) {
    char name[32];
    std::snprintf(name, sizeof name, "%04d_table_%d.sql", version, version);
    files.push_back({name, "CREATE TABLE t" + std::to_string(version) + " (id INTEGER);\n"
                           "INSERT INTO t" + std::to_string(version) + " VALUES (1);\n"});
  }
  constexpr int kMigrators = 4;
  std::vector<std::size_t> applied(kMigrators, 0);
  std::vector<std::string> errors(kMigrators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i)
    threads.emplace_back([&, i] {
      try {
        auto session = open();
        applied[i] = vaxetl::db::migrate(*session, backend(), "race", files).newly_applied.size();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& thread : threads) thread.join();
  std::size_t total = 0;
  for (int i = 0; i < kMigrators; ++i) {
    EXPECT_EQ(errors[i], "") << "migrator " << i;
    total += applied[i];
  }
  EXPECT_EQ(total, files.size());
  auto session = open();
  EXPECT_EQ(count(*session, "SELECT count(*) FROM vaxetl_schema_migrations WHERE component = 'race'"), 6);
  for (int version = 1; version <= 6; ++version)
    EXPECT_EQ(count(*session, "SELECT count(*) FROM t" + std::to_string(version)), 1);
}

TEST_P(MigrationsTest, ReadsADirectoryOfFiles) {
  write_file(dir_ / "migrations/0001_create_things.sql", base_files()[0].sql);
  write_file(dir_ / "migrations/0002_add_kind.sql", base_files()[1].sql);
  write_file(dir_ / "migrations/README.md", "not a migration");
  auto session = open();
  const auto status = vaxetl::db::migrate(*session, backend(), "demo", std::filesystem::path(dir_ / "migrations"));
  EXPECT_EQ(status.newly_applied.size(), 2u);
  // The same bytes given in memory are the same migrations.
  EXPECT_EQ(vaxetl::db::migration_status(*session, backend(), "demo", base_files()).applied, 2);
  EXPECT_THROW(vaxetl::db::migration_status(*session, backend(), "demo", std::filesystem::path(dir_ / "none")),
               MigrationError);
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrationsTest, ::testing::Values(Backend::SQLite, Backend::PostgreSQL),
                         [](const auto& info) { return info.param == Backend::SQLite ? "SQLite" : "PostgreSQL"; });

}  // namespace
