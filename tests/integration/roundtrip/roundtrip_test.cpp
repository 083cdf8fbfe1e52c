// One canonical record for three formats: vaccinations generated once, written as NCVR, CVRS
// and HL7 VXU, loaded through their own readers into three CVMS stores, must give identical
// rows in every column the three formats all carry.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "runner.hpp"

namespace {

namespace fs = std::filesystem;

// Columns every format carries. Left out, with the reason:
//   dose_status: CVRS and VXU carry a dose number, so "Booster" comes back "Additional";
//   inventory_source: CVRS doses are FEDERAL by rule (the file is generated all-federal);
//   phone, e-mail, suffix, language, guardian, provider, VIS dates: CVRS has no such field.
constexpr const char* kComparedRows =
    "SELECT v.vax_event_id, o.org_code, l.pin, l.name, r.recip_id, r.recip_first_name, r.recip_middle_name, "
    "r.recip_last_name, r.recip_dob, r.recip_sex, r.recip_address_street, r.recip_address_street_2, "
    "r.recip_address_city, r.recip_address_county, r.recip_address_state, r.recip_address_zip, "
    "r.recip_race_1, r.recip_race_2, r.recip_ethnicity, v.admin_date, v.cvx, v.mvx, v.ndc, v.lot_number, "
    "v.vax_expiration, v.vax_admin_site, v.vax_route, v.inventory_source, v.vax_refusal, "
    "v.cmorbid_status, v.serology "
    "FROM vaccinations v JOIN organizations o ON o.org_id = v.org_id "
    "JOIN locations l ON l.location_id = v.location_id JOIN recipients r ON r.recipient_id = v.recipient_id "
    "ORDER BY v.vax_event_id";

std::vector<std::string> rows(const fs::path& db_path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, kComparedRows, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::vector<std::string> result;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      const auto* text = sqlite3_column_text(stmt, c);
      row += std::string(sqlite3_column_name(stmt, c)) + "=" + (text ? reinterpret_cast<const char*>(text) : "NULL") + " ";
    }
    result.push_back(row);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

class RoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vaxetl-roundtrip-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  vaxetl::RunOutcome load(const std::string& plugin, const std::string& version, const fs::path& input,
                          const std::string& extra_config) {
    const fs::path pipeline = dir_ / (plugin + ".yaml");
    std::ofstream(pipeline) << "name: roundtrip-" << plugin << "\n"
                            << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\"]\n"
                            << "ledger: " << (dir_ / "ledger.sqlite").string() << "\n"
                            << "error_dir: " << (dir_ / "errors").string() << "\n"
                            << "source:\n  plugin: " << plugin << "\n  version: \"" << version << "\"\n"
                            << "  config:\n" << extra_config
                            << "sink:\n  plugin: cvms_sink\n  config:\n    database: "
                            << (dir_ / (plugin + ".sqlite")).string() << "\n";
    const auto spec = vaxetl::parse_pipeline(pipeline.string(), vaxetl::process_environment());
    vaxetl::PluginRegistry registry(vaxetl::plugin_search_path(spec));
    return vaxetl::run_pipeline(vaxetl::bind_pipeline(spec, registry), input.string(), {});
  }

  fs::path dir_;
};

TEST_F(RoundTrip, TheSameVaccinationsAsNcvrCvrsAndVxuLoadIdenticalRows) {
  constexpr int kRecords = 400;
  const std::string bin = VAXETL_BIN_DIR;
  const fs::path ncvr = dir_ / "CAROLINAPHARMCOVID_20260101000000_CVMS_PROD_PHI_DIRECT_V1.txt";
  ASSERT_EQ(std::system((bin + "/ncvr_gen --records " + std::to_string(kRecords) +
                         " --seed 77 --error-rate 0 --warning-rate 0 --refusal-rate 0 --federal-rate 1 "
                         "--org CAROLINAPHARM --output " + ncvr.string() + " > /dev/null").c_str()), 0);
  const fs::path cvrs = dir_ / "cvrs.txt";
  const fs::path vxu = dir_ / "vxu.hl7";
  ASSERT_EQ(std::system((bin + "/vaxetl_convert --to cvrs --input " + ncvr.string() + " --output " + cvrs.string() + " > /dev/null").c_str()), 0);
  ASSERT_EQ(std::system((bin + "/vaxetl_convert --to vxu --input " + ncvr.string() + " --output " + vxu.string() + " > /dev/null").c_str()), 0);

  const auto from_ncvr = load("ncvr", "^7.2", ncvr, "    layout_version: \"7.2\"\n");
  const auto from_cvrs = load("cvrs", "^2.0", cvrs, "    org_code: CAROLINAPHARM\n");
  const auto from_vxu = load("vxu", "^2.5", vxu, "    org_code: CAROLINAPHARM\n");
  for (const auto* outcome : {&from_ncvr, &from_cvrs, &from_vxu}) {
    EXPECT_EQ(outcome->record.status, "succeeded") << outcome->record.message;
    EXPECT_EQ(outcome->record.counts.loaded, kRecords) << outcome->record.error_file;
  }
  const auto expected = rows(dir_ / "ncvr.sqlite");
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kRecords));
  const auto cvrs_rows = rows(dir_ / "cvrs.sqlite");
  const auto vxu_rows = rows(dir_ / "vxu.sqlite");
  ASSERT_EQ(cvrs_rows.size(), expected.size());
  ASSERT_EQ(vxu_rows.size(), expected.size());
  int shown = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (cvrs_rows[i] != expected[i] && shown++ < 3) ADD_FAILURE() << "CVRS\n  " << cvrs_rows[i] << "\nNCVR\n  " << expected[i];
    if (vxu_rows[i] != expected[i] && shown++ < 6) ADD_FAILURE() << "VXU\n  " << vxu_rows[i] << "\nNCVR\n  " << expected[i];
  }
  EXPECT_EQ(shown, 0) << shown << " rows differ";
}

}  // namespace
