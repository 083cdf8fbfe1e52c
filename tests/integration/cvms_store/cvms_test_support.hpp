// Shared by the CVMS store tests: canonical records that own their values, and a fixture with
// a fresh store read back through its own connection. The fixture is parameterized by backend:
// SQLite (a file in a temporary directory) or PostgreSQL (a scratch database of its own on the
// test server, migrated with db::migrate), so the same tests hold both stores to one contract.
#pragma once

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <Poco/Data/Session.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cvms_store.hpp"
#include "db/database.hpp"
#include "db/migrations.hpp"
#include "pg_scratch_database.hpp"
#include "vaxetl_test_support.hpp"

namespace cvms_test {

namespace fs = std::filesystem;
using vaxetl::cvms::ApplyOutcome;
using vaxetl::cvms::CvmsStore;
using vaxetl::cvms::LoadCounts;
using vaxetl::cvms::LoadInfo;
using vaxetl::cvms::RecordValues;
using vaxetl::cvms::StoreOptions;

// A canonical record that owns its values.
struct Record {
  std::array<std::string, vaxetl::canonical::kColumns.size()> cells;

  std::string& operator[](std::string_view column) {
    for (std::size_t i = 0; i < cells.size(); ++i)
      if (vaxetl::canonical::kColumns[i] == column) return cells[i];
    throw std::invalid_argument("no column " + std::string(column));
  }
  Record with(std::string_view column, std::string value) const {
    Record copy = *this;
    copy[column] = std::move(value);
    return copy;
  }
  RecordValues values() const {
    RecordValues v{};
    for (std::size_t i = 0; i < cells.size(); ++i) v[i] = cells[i];
    return v;
  }
};

inline Record state_dose(const std::string& event_id, const std::string& recip_id = "MRN001") {
  Record r;
  r["vax_event_id"] = event_id;
  r["action_code"] = "A";
  r["org_code"] = "ACMEPHARM";
  r["vtrcks_prov_pin"] = "NCA123456";
  r["admin_name"] = "ACME PHARMACY #12";
  r["recip_id"] = recip_id;
  r["recip_first_name"] = "JANE";
  r["recip_last_name"] = "DOE";
  r["recip_dob"] = "1960-04-01";
  r["recip_sex"] = "F";
  r["recip_address_street"] = "1 MAIN ST";
  r["recip_address_city"] = "RALEIGH";
  r["recip_address_county"] = "WAKE";
  r["recip_address_state"] = "NC";
  r["recip_address_zip"] = "27601";
  r["recip_phone"] = "9195550100";
  r["recip_race_1"] = "2106-3";
  r["recip_ethnicity"] = "2186-5";
  r["admin_date"] = "2021-03-15";
  r["cvx"] = "208";
  r["mvx"] = "PFR";
  r["dose_status"] = "Dose One Administered";
  r["ndc"] = "59267-1000-02";
  r["lot_number"] = "EW0182";
  r["vax_expiration"] = "2021-07";
  r["vax_admin_site"] = "LD";
  r["vax_route"] = "C28161";
  r["dose_volume_ml"] = "0.3";
  r["inventory_source"] = "STATE";
  r["vax_refusal"] = "NO";
  r["cmorbid_status"] = "UNK";
  r["serology"] = "UNK";
  r["ndc_as_sent"] = "59267-1000-02";
  return r;
}

// "EV" + std::to_string(i) trips GCC 12's -Wrestrict false positive at -O3; build it in place.
inline std::string numbered(const char* prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

inline Record federal_dose(const std::string& event_id) {
  return state_dose(event_id).with("inventory_source", "FEDERAL");
}

inline Record refusal(const std::string& event_id) {
  Record r = state_dose(event_id);
  for (const char* c : {"ndc", "lot_number", "vax_expiration", "vax_admin_site", "vax_route",
                        "dose_volume_ml", "ndc_as_sent"})
    r[c].clear();
  r["dose_status"] = "Not Administered";
  r["vax_refusal"] = "YES";
  r["refusal_reason"] = "03";
  return r;
}

using vaxetl::db::Backend;

// Applies the CVMS store's PostgreSQL migrations, as `vaxetl db migrate` does.
inline void migrate_postgres(const std::string& url) {
  const auto session = vaxetl::db::open_session(vaxetl::db::Location::parse(url));
  vaxetl::db::migrate(*session, Backend::PostgreSQL, "cvms_sink", CVMS_PG_MIGRATIONS_DIR);
}

class CvmsStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cvms_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    options_.database = (dir_ / "cvms.db").string();
    options_.products_path = CVMS_PRODUCTS_FILE;
    options_.schema_path = CVMS_SCHEMA_FILE;
    if (postgres()) {
      std::string admin;
      VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
      pg_ = std::make_unique<vaxetl::test::PgScratchDatabase>(admin);
      options_.database = pg_->url();
      migrate_postgres(pg_->url());
    }
  }
  void TearDown() override {
    if (postgres() && pg_) {
      // References are documented, not declared: hold the store to every one of them.
      EXPECT_EQ(scalar("SELECT (SELECT count(*) FROM vaccinations v WHERE NOT EXISTS (SELECT 1 "
                       "FROM locations l WHERE l.location_id = v.location_id) OR NOT EXISTS "
                       "(SELECT 1 FROM recipients r WHERE r.recipient_id = v.recipient_id) OR NOT "
                       "EXISTS (SELECT 1 FROM organizations o WHERE o.org_id = v.org_id) OR NOT "
                       "EXISTS (SELECT 1 FROM loads d WHERE d.load_id = v.load_id)) + (SELECT "
                       "count(*) FROM recipients r WHERE NOT EXISTS (SELECT 1 FROM organizations o "
                       "WHERE o.org_id = r.org_id)) + (SELECT count(*) FROM recipient_keys k WHERE "
                       "NOT EXISTS (SELECT 1 FROM recipients r WHERE r.recipient_id = "
                       "k.recipient_id)) + (SELECT count(*) FROM vaccination_history h WHERE NOT "
                       "EXISTS (SELECT 1 FROM vaccinations v WHERE v.vaccination_id = "
                       "h.vaccination_id)) + (SELECT count(*) FROM locations l WHERE NOT EXISTS "
                       "(SELECT 1 FROM organizations o WHERE o.org_id = l.org_id))"),
                0);
      EXPECT_EQ(scalar("SELECT count(*) FROM inventory i WHERE i.on_hand < 0 AND -i.on_hand > "
                       "(SELECT coalesce(sum(d.doses_short), 0) FROM inventory_discrepancies d "
                       "WHERE d.pin = i.pin AND d.ndc = i.ndc AND d.lot_number = i.lot_number)"),
                0);
    } else if (!postgres() && fs::exists(options_.database)) {
      // Foreign keys are declared but not enforced on the load path: hold the store to them.
      EXPECT_EQ(scalar("SELECT count(*) FROM pragma_foreign_key_check"), 0);
      // Inventory never goes silently negative: a deficit is covered by recorded discrepancies.
      if (scalar("SELECT count(*) FROM sqlite_master WHERE name = 'inventory_discrepancies'") == 1) {
        EXPECT_EQ(scalar("SELECT count(*) FROM inventory i WHERE i.on_hand < 0 AND -i.on_hand > "
                         "(SELECT coalesce(sum(d.doses_short), 0) FROM inventory_discrepancies d "
                         "WHERE d.pin = i.pin AND d.ndc = i.ndc AND d.lot_number = i.lot_number)"),
                  0);
      }
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  bool postgres() const { return GetParam() == Backend::PostgreSQL; }

  LoadInfo load(const std::string& run_id, bool validate_only = false) const {
    return {.run_id = run_id, .input_name = "ACMEPHARMCOVID_20210315120000_CVMS_PROD_PHI_DIRECT_V1.txt",
            .input_sha256 = "sha-" + run_id, .validate_only = validate_only};
  }

  // Loads `records` as one committed file and returns the outcomes.
  // With validate_only, the load is rolled back (a dry run).
  std::vector<ApplyOutcome> load_file(const std::string& run_id, const std::vector<Record>& records,
                                      bool validate_only = false) {
    CvmsStore store(options_);
    store.begin(load(run_id, validate_only));
    const auto outcomes = apply_all(store, records);
    store.commit({.records_read = records.size(), .records_rejected = 0});
    return outcomes;
  }

  // Applies `records` as one batch (apply_batch), every record expected valid.
  static std::vector<ApplyOutcome> apply_all(CvmsStore& store, const std::vector<Record>& records,
                                             const std::vector<std::string>& mpi_ids = {}) {
    std::vector<vaxetl::cvms::BatchRecord> batch;
    for (std::size_t i = 0; i < records.size(); ++i)
      batch.push_back({records[i].values(), i < mpi_ids.size() ? std::string_view(mpi_ids[i]) : ""});
    std::vector<ApplyOutcome> outcomes;
    for (const auto& outcome : store.apply_batch(batch)) {
      EXPECT_TRUE(outcome.has_value()) << "a record was refused as invalid";
      outcomes.push_back(outcome.value_or(ApplyOutcome::Unchanged));
    }
    return outcomes;
  }

  // The query's rows (NULL as "<null>"), through a connection of its own as another process
  // would read. SQLite: the file; PostgreSQL: the scratch database.
  std::vector<std::vector<std::string>> rows(const std::string& sql) const {
    return query(GetParam(), options_.database, sql);
  }
  static std::vector<std::vector<std::string>> query(Backend backend, const std::string& database,
                                                     const std::string& sql) {
    std::vector<std::vector<std::string>> result;
    if (backend == Backend::PostgreSQL) {
      PGconn* connection = PQconnectdb(database.c_str());
      PGresult* answer = PQexec(connection, sql.c_str());
      if (PQresultStatus(answer) != PGRES_TUPLES_OK) {
        ADD_FAILURE() << sql << ": " << PQerrorMessage(connection);
      } else {
        for (int r = 0; r < PQntuples(answer); ++r) {
          auto& row = result.emplace_back();
          for (int c = 0; c < PQnfields(answer); ++c)
            row.push_back(PQgetisnull(answer, r, c) ? "<null>" : PQgetvalue(answer, r, c));
        }
      }
      PQclear(answer);
      PQfinish(connection);
      return result;
    }
    sqlite3* db = nullptr;
    sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    } else {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        auto& row = result.emplace_back();
        for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
          const auto* t = sqlite3_column_text(stmt, c);
          row.push_back(t != nullptr ? reinterpret_cast<const char*>(t) : "<null>");
        }
      }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return result;
  }

  // Reads the database through its own connection, as another process would. NULL reads as 0,
  // PostgreSQL's booleans as 1 and 0.
  std::int64_t scalar(const std::string& sql) const {
    if (postgres()) {
      const auto result = rows(sql);
      if (result.empty() || result[0].empty()) {
        ADD_FAILURE() << sql << ": no row";
        return -1;
      }
      const std::string& value = result[0][0];
      if (value == "t") return 1;
      if (value == "f" || value == "<null>") return 0;
      return std::stoll(value);
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(options_.database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::int64_t value = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      value = sqlite3_column_int64(stmt, 0);
    else
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
  std::string text(const std::string& sql) const {
    if (postgres()) {
      const auto result = rows(sql);
      return result.empty() || result[0].empty() ? "<no row>" : result[0][0];
    }
    sqlite3* db = nullptr;
    sqlite3_open_v2(options_.database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    std::string value = "<no row>";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(stmt, 0);
      value = t != nullptr ? reinterpret_cast<const char*>(t) : "<null>";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
  std::int64_t count(const std::string& table) const {
    return scalar("SELECT count(*) FROM " + table);
  }
  std::int64_t administered(const std::string& lot = "EW0182") const {
    return scalar("SELECT coalesce(sum(doses_administered), 0) FROM inventory WHERE pin = "
                  "'NCA123456' AND ndc = '59267-1000-02' AND lot_number = '" + lot + "'");
  }
  void expect_no_load_rows() const {
    for (const char* table : {"vaccinations", "recipients", "locations", "organizations",
                              "inventory", "loads"})
      EXPECT_EQ(count(table), 0) << table;
  }

  fs::path dir_;
  StoreOptions options_;
  std::unique_ptr<vaxetl::test::PgScratchDatabase> pg_;
};

// Runs a fixture's TEST_Ps on both stores, or on SQLite alone (tests of SQLite's own schema
// files and pragmas).
// The prefix names the backend already; a fixed suffix keeps ctest's names readable
// ("PostgreSQL/PgStoreTest.X/store" rather than the parameter's bytes).
inline std::string backend_test_name(const ::testing::TestParamInfo<::vaxetl::db::Backend>&) { return "store"; }
#define CVMS_ON_BOTH_BACKENDS(Fixture)                                                                     \
  INSTANTIATE_TEST_SUITE_P(SQLite, Fixture, ::testing::Values(::vaxetl::db::Backend::SQLite),              \
                           ::cvms_test::backend_test_name);                                                \
  INSTANTIATE_TEST_SUITE_P(PostgreSQL, Fixture, ::testing::Values(::vaxetl::db::Backend::PostgreSQL),      \
                           ::cvms_test::backend_test_name)
#define CVMS_ON_POSTGRESQL_ONLY(Fixture)                                                                 \
  INSTANTIATE_TEST_SUITE_P(PostgreSQL, Fixture, ::testing::Values(::vaxetl::db::Backend::PostgreSQL),    \
                           ::cvms_test::backend_test_name)
#define CVMS_ON_SQLITE_ONLY(Fixture)                                                       \
  INSTANTIATE_TEST_SUITE_P(SQLite, Fixture, ::testing::Values(::vaxetl::db::Backend::SQLite), \
                           ::cvms_test::backend_test_name)

}  // namespace cvms_test
