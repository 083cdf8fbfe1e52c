// Shared by the CVMS store tests: canonical records that own their values, and a fixture with
// a fresh SQLite store in a temporary directory read back through its own connection.
#pragma once

#include <sqlite3.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cvms_store.hpp"

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

class CvmsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cvms_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    options_.database = (dir_ / "cvms.db").string();
    options_.products_path = CVMS_PRODUCTS_FILE;
    options_.schema_path = CVMS_SCHEMA_FILE;
  }
  void TearDown() override {
    if (fs::exists(options_.database)) {
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
    std::vector<ApplyOutcome> outcomes;
    for (const Record& r : records) outcomes.push_back(store.apply(r.values()));
    store.commit({.records_read = records.size(), .records_rejected = 0});
    return outcomes;
  }

  // Reads the database through its own connection, as another process would.
  std::int64_t scalar(const std::string& sql) const {
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
};

}  // namespace cvms_test
