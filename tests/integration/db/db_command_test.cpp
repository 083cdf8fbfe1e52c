// `vaxetl db migrate|status PIPELINE`: the ledger and every VAXETL_CONFIG_STORE value of the
// bound pipeline, per environment, with the plugin's migrations from its data directory. The
// PHI store is PostgreSQL (a scratch database), PROD a SQLite file, NOPHI a per-run scratch.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "db/database.hpp"
#include "db/pipeline_stores.hpp"
#include "pg_scratch_database.hpp"
#include "plugin_registry.hpp"
#include "vaxetl/sdk/companion_tool.hpp"
#include "vaxetl_test_support.hpp"

#include <Poco/Data/Session.h>

namespace vaxetl {
namespace {

namespace fs = std::filesystem;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult run_vaxetl(const std::string& arguments) {
  CommandResult result;
  const std::string command = std::string(VAXETL_EXECUTABLE) + " " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) result.output += buffer;
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

EnvironmentLookup no_environment() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

class DbCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string admin;
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
    phi_.emplace(admin);
    // The plugin in a directory of its own, with a data directory this test controls.
    fs::create_directories(dir_ / "plugins");
    fs::copy_file(VAXETL_STORED_PLUGIN, dir_ / "plugins/vaxetl_stored-1.0.0.so");
    write_migration("sqlite", "0001_items.sql",
                    "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL);\n"
                    "CREATE INDEX items_by_label ON items (label);\n");
    write_migration("postgresql", "0001_items.sql",
                    "CREATE TABLE items (id BIGINT PRIMARY KEY, label TEXT NOT NULL);\n"
                    "CREATE INDEX items_by_label ON items (label);\n");
    write_pipeline(phi_->url());
  }

  void write_migration(const std::string& backend, const std::string& name, const std::string& sql) {
    test::write_file(dir_ / ("plugins/stored-1.0.0/migrations/" + backend + "/" + name), sql);
  }

  void write_pipeline(const std::string& phi_store) {
    test::write_file(pipeline_, "name: stored_pipeline\n"
                                "plugin_paths:\n"
                                "  - " + (dir_ / "plugins") + "\n"
                                "  - " + test::fixture_plugin_dir() + "\n"
                                "ledger: " + ledger_ + "\n"
                                "error_dir: " + (dir_ / "var/errors") + "\n"
                                "environments:\n"
                                "  PROD:\n"
                                "    store: " + prod_ + "\n"
                                "  PHI:\n"
                                "    store: " + phi_store + "\n"
                                "  NOPHI:\n"
                                "    store: ${run.scratch}/nophi.sqlite\n"
                                "source:\n"
                                "  plugin: lines\n"
                                "sink:\n"
                                "  plugin: stored\n"
                                "  config:\n"
                                "    store: ${env.store}\n"
                                "    label: not-a-store.sqlite\n");
  }

  int items_tables(const std::string& location) {
    auto session = db::open_session(db::Location::parse(location));
    int count = -1;
    *session << (db::Location::parse(location).is_postgres()
                     ? "SELECT CAST(count(*) AS INTEGER) FROM information_schema.tables WHERE table_name = 'items'"
                     : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'items'"),
        into(count), now;
    return count;
  }

  const db::StoreMigration& find(const std::vector<db::StoreMigration>& stores, const std::string& environment,
                                 const std::string& store) {
    for (const auto& entry : stores)
      if (entry.environment == environment && entry.store == store) return entry;
    ADD_FAILURE() << "no entry " << environment << " " << store;
    static const db::StoreMigration none;
    return none;
  }

  test::TempDir dir_;
  std::optional<test::PgScratchDatabase> phi_;
  std::string pipeline_ = dir_ / "stored.yaml";
  std::string ledger_ = dir_ / "var/ledger.sqlite";
  std::string prod_ = dir_ / "var/prod.sqlite";
};

TEST_F(DbCommand, StatusThenMigrateEveryEnvironmentsStoresOnce) {
  auto stores = db::pipeline_store_migrations(pipeline_, std::nullopt, false, no_environment());
  // The ledger once, then one store per environment (the plain string is no store).
  ASSERT_EQ(stores.size(), 4u);
  EXPECT_EQ(stores[0].store, "ledger");
  // Status creates no SQLite file: an absent one shows every migration pending.
  EXPECT_TRUE(stores[0].absent);
  EXPECT_EQ(stores[0].skipped, "");
  EXPECT_EQ(stores[0].status.applied, 0);
  EXPECT_GE(stores[0].status.pending.size(), 2u);
  EXPECT_FALSE(fs::exists(ledger_));
  EXPECT_TRUE(find(stores, "PROD", "sink.store").absent);
  EXPECT_EQ(find(stores, "PROD", "sink.store").status.pending, (std::vector<std::string>{"0001_items.sql"}));
  EXPECT_FALSE(fs::exists(prod_));
  const auto& phi = find(stores, "PHI", "sink.store");
  EXPECT_EQ(phi.component, "stored");
  EXPECT_EQ(phi.error, "");
  EXPECT_EQ(phi.status.applied, 0);
  EXPECT_EQ(phi.status.pending, (std::vector<std::string>{"0001_items.sql"}));
  const auto& nophi = find(stores, "NOPHI", "sink.store");
  EXPECT_EQ(nophi.skipped, "a store of one run, created by the run");
  EXPECT_EQ(nophi.location, "${run.scratch}/nophi.sqlite");

  stores = db::pipeline_store_migrations(pipeline_, std::nullopt, true, no_environment());
  ASSERT_EQ(stores.size(), 4u);
  EXPECT_EQ(stores[0].error, "");
  EXPECT_EQ(stores[0].status.applied, stores[0].status.latest);
  EXPECT_GE(stores[0].status.newly_applied.size(), 2u);
  EXPECT_EQ(find(stores, "PROD", "sink.store").status.newly_applied, (std::vector<std::string>{"0001_items.sql"}));
  EXPECT_EQ(find(stores, "PHI", "sink.store").status.newly_applied, (std::vector<std::string>{"0001_items.sql"}));
  EXPECT_EQ(items_tables(prod_), 1);
  EXPECT_EQ(items_tables(phi_->url()), 1);

  for (const auto& entry : db::pipeline_store_migrations(pipeline_, std::nullopt, false, no_environment())) {
    if (!entry.skipped.empty()) continue;
    EXPECT_EQ(entry.error, "") << entry.store;
    EXPECT_TRUE(entry.status.pending.empty()) << entry.environment << " " << entry.store;
  }
}

TEST_F(DbCommand, OneEnvironmentTouchesOnlyItsStoresAndHidesThePassword) {
  // A password in the URL: the test server trusts loopback, so libpq never sends it.
  const std::string url = phi_->url();
  const std::string with_password = "postgresql://vaxetl:Hidden-Pw-42@" + url.substr(url.find('@') + 1);
  write_pipeline(with_password);
  const auto result = run_vaxetl("db migrate " + pipeline_ + " --environment PHI");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("applied 0001_items.sql"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("postgresql://vaxetl:***@"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("Hidden-Pw-42"), std::string::npos) << result.output;
  EXPECT_EQ(items_tables(phi_->url()), 1);
  EXPECT_FALSE(fs::exists(prod_));  // PROD's store was not touched

  const auto status = run_vaxetl("db status " + pipeline_ + " --environment PHI");
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("1/1"), std::string::npos) << status.output;
  EXPECT_EQ(status.output.find("pending 0001"), std::string::npos) << status.output;
}

TEST_F(DbCommand, StatusListsPendingFilesAndMigrateAppliesANewOne) {
  ASSERT_EQ(run_vaxetl("db migrate " + pipeline_).exit_code, 0);
  write_migration("postgresql", "0002_item_kind.sql",
                  "ALTER TABLE items ADD COLUMN kind TEXT;\nUPDATE items SET kind = 'none';\n");
  const auto status = run_vaxetl("db status " + pipeline_ + " -e PHI");
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("pending 0002_item_kind.sql"), std::string::npos) << status.output;
  const auto migrated = run_vaxetl("db migrate " + pipeline_);
  EXPECT_EQ(migrated.exit_code, 0) << migrated.output;
  EXPECT_NE(migrated.output.find("applied 0002_item_kind.sql"), std::string::npos) << migrated.output;
  EXPECT_EQ(migrated.output.find("applied 0001"), std::string::npos) << migrated.output;
}

TEST_F(DbCommand, AChangedMigrationIsRefusedWithExit65) {
  ASSERT_EQ(run_vaxetl("db migrate " + pipeline_).exit_code, 0);
  write_migration("postgresql", "0001_items.sql", "CREATE TABLE items (id BIGINT PRIMARY KEY);\n");
  for (const char* verb : {"status", "migrate"}) {
    const auto result = run_vaxetl(std::string("db ") + verb + " " + pipeline_);
    EXPECT_EQ(result.exit_code, 65) << result.output;
    EXPECT_NE(result.output.find("migration stored version 1"), std::string::npos) << result.output;
  }
}

TEST_F(DbCommand, AStoreWithoutMigrationsForItsBackendIsSkipped) {
  fs::remove_all(dir_ / "plugins/stored-1.0.0/migrations/sqlite");
  const auto stores = db::pipeline_store_migrations(pipeline_, std::string("PROD"), true, no_environment());
  ASSERT_EQ(stores.size(), 2u);
  EXPECT_EQ(stores[1].skipped, "the plugin ships no sqlite migrations");
}

TEST_F(DbCommand, UsageErrorsExit64AndAnUnreachableStoreExits70) {
  EXPECT_EQ(run_vaxetl("db").exit_code, 64);
  EXPECT_EQ(run_vaxetl("db upgrade " + pipeline_).exit_code, 64);
  const auto unknown = run_vaxetl("db status " + pipeline_ + " --environment STAGING");
  EXPECT_EQ(unknown.exit_code, 64) << unknown.output;
  EXPECT_NE(unknown.output.find("no environment STAGING"), std::string::npos) << unknown.output;

  write_pipeline("postgresql://vaxetl:Hidden-Pw-42@127.0.0.1:1/nowhere?connect_timeout=2");
  const auto unreachable = run_vaxetl("db migrate " + pipeline_ + " -e PHI");
  EXPECT_EQ(unreachable.exit_code, 70) << unreachable.output;
  EXPECT_NE(unreachable.output.find("127.0.0.1:1/nowhere"), std::string::npos) << unreachable.output;
  EXPECT_EQ(unreachable.output.find("Hidden-Pw-42"), std::string::npos) << unreachable.output;
}

// describe() (what `vaxetl check` prints) shows a store's location without its password.
TEST_F(DbCommand, DescribeShowsStoresWithoutTheirPassword) {
  write_pipeline("postgresql://vaxetl:Hidden-Pw-42@db.invalid:5432/cvms");
  const PipelineSpec spec = parse_pipeline(
      pipeline_, with_run_variables(no_environment(), {{"file.environment", "PHI"}, {"run.scratch", dir_ / "run"}}));
  PluginRegistry registry(plugin_search_path(spec));
  const std::string text = describe(bind_pipeline(spec, registry));
  EXPECT_NE(text.find("store: postgresql://vaxetl:***@db.invalid:5432/cvms"), std::string::npos) << text;
  EXPECT_NE(text.find("label: not-a-store.sqlite"), std::string::npos) << text;
  EXPECT_EQ(text.find("Hidden-Pw-42"), std::string::npos) << text;
}

TEST_F(DbCommand, AnInvalidPipelineExits65) {
  test::write_file(pipeline_, "name: broken\nsource:\n  plugin: no_such_plugin\nsink:\n  plugin: stored\n");
  EXPECT_EQ(run_vaxetl("db status " + pipeline_).exit_code, 65);
}

// ABI 1.2: the store type is known, validated like a string and printed without a password.
TEST(StoreConfigType, IsDescribedWithoutThePasswordAndRefusedOnAnOlderAbi) {
  const auto plugin = load_plugin(VAXETL_STORED_PLUGIN);
  EXPECT_EQ(plugin->abi_minor, 2u);
  ASSERT_FALSE(plugin->config_fields.empty());
  EXPECT_EQ(plugin->config_fields[0].type, VAXETL_CONFIG_STORE);
  try {
    load_plugin(VAXETL_STORE_ON_OLD_ABI_PLUGIN);
    FAIL() << "a plugin of ABI 1.1 declared a store";
  } catch (const PluginError& e) {
    EXPECT_NE(std::string(e.what()).find("VAXETL_CONFIG_STORE needs ABI 1.2"), std::string::npos) << e.what();
  }
}

// Companion tools find a store as the shipped pipelines name it.
TEST(CompanionTool, StoreLocationFollowsItsVariableThenVaxetlHome) {
  ::unsetenv("VAXETL_TEST_STORE_VAR");
  ::setenv("VAXETL_HOME", "/srv/vaxetl-home", 1);
  EXPECT_EQ(sdk::vaxetl_store_location("VAXETL_TEST_STORE_VAR", "cvms.sqlite"), "/srv/vaxetl-home/cvms.sqlite");
  ::setenv("VAXETL_TEST_STORE_VAR", "", 1);
  EXPECT_EQ(sdk::vaxetl_store_location("VAXETL_TEST_STORE_VAR", "cvms.sqlite"), "/srv/vaxetl-home/cvms.sqlite");
  ::setenv("VAXETL_TEST_STORE_VAR", "postgresql://db/cvms", 1);
  EXPECT_EQ(sdk::vaxetl_store_location("VAXETL_TEST_STORE_VAR", "cvms.sqlite"), "postgresql://db/cvms");
  ::unsetenv("VAXETL_TEST_STORE_VAR");
  ::unsetenv("VAXETL_HOME");
}

}  // namespace
}  // namespace vaxetl
