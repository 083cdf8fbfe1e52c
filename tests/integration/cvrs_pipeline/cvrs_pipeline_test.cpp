// CVRS end to end: a file of NC vaccinations, out-of-state vaccinations and bad records goes
// through the cvrs source and cvms_sink into SQLite. Counts must add up, out-of-state records
// are held with their reason in the error file, refused files count every record, and a rerun
// changes nothing.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "runner.hpp"

namespace {

namespace fs = std::filesystem;

const std::string kSamples = VAXETL_SOURCE_DIR "/tests/fixtures/samples/CDCgov_CDC_IIS_Open_Tools__";

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

int64_t scalar(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// One v2 record: an identified NC vaccination unless changed.
std::string record(int n, const std::string& admin_state = "NC", const std::string& dob = "1980-05-17") {
  const std::string county = admin_state == "NC" ? "37183" : "45045";
  const std::string zip = admin_state == "NC" ? "27601" : "29601";
  const std::string dose = n % 3 == 0 ? "2" : "1";
  return "EVT" + std::to_string(n) + "\tI\t\tMRN" + std::to_string(n / 2) + "\tJane\t\tDoe\t" + dob +
         "\tF\t1 Main St\t\tRaleigh\t37183\tNC\t27601\t2106-3\t\t\t\t\t\t2186-5\t2021-03-15\t208\t59267-1000-01\tPFR\t"
         "EN6201\t2021-06-30\tLD\tC28161\t" + dose + "\tNO\tAcme Health\tAcme Pharmacy\t123456\t17\t2 Main St\t\t"
         "Raleigh\t" + county + "\t" + admin_state + "\t" + zip + "\tNO\tUNK\tUNK";
}

class CvrsPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vaxetl-cvrs-e2e-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "inbox");
    pipeline_path_ = dir_ / "cvrs-daily.yaml";
    std::ofstream(pipeline_path_)
        << "name: cvrs-e2e\n"
        << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\"]\n"
        << "batch_size: 97\n"
        << "ledger: " << (dir_ / "ledger.sqlite").string() << "\n"
        << "error_dir: " << (dir_ / "errors").string() << "\n"
        << "source:\n  plugin: cvrs\n  version: \"^2.0\"\n  config:\n    org_code: ACMEPHARM\n"
        << "    as_of_date: \"2021-06-01\"\n"
        << "sink:\n  plugin: cvms_sink\n  version: \"^1.0\"\n  config:\n"
        << "    database: " << (dir_ / "cvms.sqlite").string() << "\n";
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  vaxetl::RunOutcome run(const fs::path& input, vaxetl::RunOptions options = {}) {
    const auto spec = vaxetl::parse_pipeline(pipeline_path_.string(), vaxetl::process_environment());
    vaxetl::PluginRegistry registry(vaxetl::plugin_search_path(spec));
    const auto bound = vaxetl::bind_pipeline(spec, registry);
    return vaxetl::run_pipeline(bound, input.string(), options);
  }

  fs::path write_file(const std::string& name, const std::vector<std::string>& lines) {
    const fs::path path = dir_ / "inbox" / name;
    std::ofstream out(path);
    for (const auto& line : lines) out << line << "\r\n";  // CDC samples use CRLF
    return path;
  }

  fs::path dir_;
  fs::path pipeline_path_;
};

TEST_F(CvrsPipelineTest, CountsAddUpAndOutOfStateRecordsAreHeldWithTheirReason) {
  std::vector<std::string> lines = {read_lines(kSamples + "testgood.txt").at(0)};
  constexpr int kNc = 300, kOther = 40, kBad = 10;
  for (int i = 0; i < kNc; ++i) lines.push_back(record(i));
  for (int i = 0; i < kOther; ++i) lines.push_back(record(1000 + i, "SC"));
  for (int i = 0; i < kBad; ++i) lines.push_back(record(2000 + i, "NC", "2030-01-01"));  // DOB in the future
  const fs::path input = write_file("ACMEPHARMCOVID_20210601000000_CVMS_CVRS_PROD_PHI_V1.txt", lines);

  const auto outcome = run(input);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  const auto& counts = outcome.record.counts;
  EXPECT_EQ(counts.received, kNc + kOther + kBad);
  EXPECT_EQ(counts.loaded, kNc);
  EXPECT_EQ(counts.held, kOther);
  EXPECT_EQ(counts.rejected, kBad);
  EXPECT_EQ(counts.received, counts.loaded + counts.rejected + counts.held);

  // Held lines carry CVRS_NOT_NC with severity H; rejected ones their E code; the unit-of-use
  // NDC warning is on every loaded line.
  std::map<std::string, int> by_code;
  const auto error_lines = read_lines(outcome.record.error_file);
  ASSERT_FALSE(error_lines.empty());
  for (std::size_t i = 1; i < error_lines.size(); ++i) {
    if (error_lines[i].find("|H|CVRS_NOT_NC|") != std::string::npos) {
      ++by_code["hold"];
      EXPECT_NE(error_lines[i].find("outside NC"), std::string::npos) << error_lines[i];
    }
    if (error_lines[i].find("|E|CVRS_DATE_FUTURE|") != std::string::npos) ++by_code["future"];
    if (error_lines[i].find("|W|CVRS_NDC_UNIT_OF_USE|") != std::string::npos) ++by_code["uou"];
  }
  EXPECT_EQ(by_code["hold"], kOther);
  EXPECT_EQ(by_code["future"], kBad);
  EXPECT_EQ(by_code["uou"], kNc + kOther + kBad);  // warnings are reported on rejected lines too

  // The store: federal doses recorded, never decrementing inventory; unit of sale kept.
  const fs::path db = dir_ / "cvms.sqlite";
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM vaccinations"), kNc);
  EXPECT_EQ(scalar(db, "SELECT COALESCE(SUM(doses_administered), 0) FROM inventory"), 0);
  EXPECT_LT(scalar(db, "SELECT COUNT(*) FROM recipients"), kNc);
}

TEST_F(CvrsPipelineTest, RerunningTheSameFileChangesNothing) {
  std::vector<std::string> lines = {read_lines(kSamples + "testgood.txt").at(0)};
  for (int i = 0; i < 120; ++i) lines.push_back(record(i, i % 10 == 0 ? "SC" : "NC"));
  const fs::path input = write_file("ACMEPHARMCOVID_20210602000000_CVMS_CVRS_PROD_PHI_V1.txt", lines);
  const auto first = run(input);
  ASSERT_EQ(first.record.status, "succeeded") << first.record.message;
  const fs::path db = dir_ / "cvms.sqlite";
  const auto before = scalar(db, "SELECT COUNT(*) FROM vaccinations");
  EXPECT_EQ(before, 108);

  const auto second = run(input);
  EXPECT_EQ(second.record.status, "skipped");
  vaxetl::RunOptions force;
  force.force = true;
  const auto forced = run(input, force);
  EXPECT_EQ(forced.record.status, "succeeded") << forced.record.message;
  EXPECT_EQ(forced.record.counts.held, first.record.counts.held);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM vaccinations"), before);
}

TEST_F(CvrsPipelineTest, CdcTestGoodIsHeldWholeAsMichigan) {
  const auto outcome = run(kSamples + "testgood.txt");
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  EXPECT_EQ(outcome.record.counts.received, 33);
  EXPECT_EQ(outcome.record.counts.held, 33);
  EXPECT_EQ(outcome.record.counts.rejected, 0);
  EXPECT_EQ(scalar(dir_ / "cvms.sqlite", "SELECT COUNT(*) FROM vaccinations"), 0);
}

TEST_F(CvrsPipelineTest, FilesThatAreNotCvrsAreRefusedWholeWithTheirCode) {
  const std::map<std::string, std::string> expected = {{"notacvrs.txt", "CVRS_NOT_CVRS"},
                                                       {"testMissingHeaders.txt", "CVRS_HEADER_MISSING"}};
  for (const auto& [name, code] : expected) {
    const fs::path input = dir_ / "inbox" / name;
    fs::copy_file(kSamples + name, input);
    const auto outcome = run(input);
    EXPECT_EQ(outcome.record.status, "rejected") << name;
    EXPECT_EQ(outcome.exit_code, vaxetl::kExitInputRejected) << name;
    EXPECT_EQ(outcome.record.counts.loaded, 0) << name;
    EXPECT_EQ(outcome.record.counts.received, outcome.record.counts.rejected) << name;
    EXPECT_GT(outcome.record.counts.received, 0) << name;
    const auto error_lines = read_lines(outcome.record.error_file);
    ASSERT_GE(error_lines.size(), 2u) << name;
    EXPECT_NE(error_lines[1].find("|E|" + code + "|"), std::string::npos) << error_lines[1];
    EXPECT_TRUE(fs::exists(input)) << "a refused file is kept";
  }
}

}  // namespace
