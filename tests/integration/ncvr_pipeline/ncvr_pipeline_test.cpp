// The first real pipeline end to end: ncvr_gen writes a file with known errors, the ncvr
// source and cvms_sink load it into SQLite, and the error file, the store and the ledger must
// agree with the generator's ground truth. Reruns must change nothing; no PHI may reach a log.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "runner.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<std::string> split(const std::string& line, char delimiter) {
  std::vector<std::string> cells;
  std::string cell;
  std::stringstream in(line);
  while (std::getline(in, cell, delimiter)) cells.push_back(cell);
  if (!line.empty() && line.back() == delimiter) cells.emplace_back();
  return cells;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &utc);
  return text;
}

struct TruthRow {
  std::string event_id;
  bool rejected = false;
  std::set<std::string> codes;
};

// Small read-only access to the CVMS store for assertions.
class Store {
 public:
  explicit Store(const fs::path& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  ~Store() { sqlite3_close(db_); }
  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    int64_t value = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  }
  // Row counts and inventory totals: if any of these move, the store changed.
  std::vector<int64_t> fingerprint() {
    return {scalar("SELECT COUNT(*) FROM vaccinations"), scalar("SELECT COUNT(*) FROM recipients"),
            scalar("SELECT COUNT(*) FROM locations"), scalar("SELECT COUNT(*) FROM inventory"),
            scalar("SELECT COALESCE(SUM(doses_administered), 0) FROM inventory"),
            scalar("SELECT COALESCE(SUM(doses_received), 0) FROM inventory")};
  }

 private:
  sqlite3* db_ = nullptr;
};

class NcvrPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vaxetl-e2e-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "inbox");
    today_ = today_utc();
    pipeline_path_ = dir_ / "ncvr-daily.yaml";
    std::ofstream(pipeline_path_)
        << "name: ncvr-e2e\n"
        << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\"]\n"
        << "batch_size: 777\n"  // not a divisor of the record count: exercises a partial batch
        << "ledger: " << (dir_ / "ledger.sqlite").string() << "\n"
        << "error_dir: " << (dir_ / "errors").string() << "\n"
        << "source:\n  plugin: ncvr\n  version: \"^7.2\"\n  config:\n    as_of_date: \"" << today_ << "\"\n"
        << "sink:\n  plugin: cvms_sink\n  version: \"^1.0\"\n  config:\n"
        << "    database: " << (dir_ / "cvms.sqlite").string() << "\n";
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path generate(int records, const std::string& extra = "") {
    const fs::path input = dir_ / "inbox" / "CAROLINAPHARMCOVID_20260102030405_CVMS_PROD_PHI_DIRECT_V1.txt";
    const std::string command = std::string(VAXETL_BIN_DIR) + "/ncvr_gen --records " +
                                std::to_string(records) + " --seed 20261121 --today " + today_ +
                                " --output " + input.string() + " " + extra + " > /dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return input;
  }

  std::map<uint64_t, TruthRow> truth(const fs::path& input) {
    std::map<uint64_t, TruthRow> rows;
    const auto lines = read_lines(input.string() + ".truth.tsv");
    for (std::size_t i = 1; i < lines.size(); ++i) {
      const auto cells = split(lines[i], '\t');
      TruthRow row;
      row.event_id = cells.at(1);
      row.rejected = cells.at(2) == "rejected";
      if (cells.size() > 3)
        for (const auto& code : split(cells[3], ',')) if (!code.empty()) row.codes.insert(code);
      rows[std::stoull(cells.at(0))] = row;
    }
    return rows;
  }

  vaxetl::RunOutcome run(const fs::path& input, vaxetl::RunOptions options = {}) {
    const auto spec = vaxetl::parse_pipeline(pipeline_path_.string(), vaxetl::process_environment());
    vaxetl::PluginRegistry registry(vaxetl::plugin_search_path(spec));
    const auto bound = vaxetl::bind_pipeline(spec, registry);
    return vaxetl::run_pipeline(bound, input.string(), options);
  }

  fs::path dir_;
  fs::path pipeline_path_;
  std::string today_;
};

TEST_F(NcvrPipelineTest, LoadsGeneratedFileExactlyAsGroundTruthSays) {
  constexpr int kRecords = 6000;
  const fs::path input = generate(kRecords, "--error-rate 0.1 --warning-rate 0.05 --alt-form-rate 0.05");
  const auto expected = truth(input);
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kRecords));

  const auto outcome = run(input);
  const auto& counts = outcome.record.counts;
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  EXPECT_EQ(outcome.exit_code, vaxetl::kExitOk);
  EXPECT_EQ(counts.received, kRecords);
  EXPECT_EQ(counts.received, counts.loaded + counts.rejected + counts.held);

  int64_t expected_rejected = 0;
  for (const auto& [line, row] : expected) expected_rejected += row.rejected;
  EXPECT_EQ(counts.rejected, expected_rejected);
  EXPECT_EQ(counts.loaded, kRecords - expected_rejected);
  EXPECT_EQ(counts.held, 0);

  // Every injected code is reported on its line, with E for rejected records and only W for
  // loaded ones; every reported line quotes the original record.
  const auto error_lines = read_lines(outcome.record.error_file);
  ASSERT_FALSE(error_lines.empty());
  EXPECT_EQ(error_lines.front(), "line|vax_event_id|field_position|field_name|severity|code|message|original_record");
  const auto data_lines = read_lines(input);
  std::map<uint64_t, std::set<std::string>> reported_codes;
  std::map<uint64_t, std::set<std::string>> reported_severities;
  for (std::size_t i = 1; i < error_lines.size(); ++i) {
    const auto cells = split(error_lines[i], '|');
    ASSERT_GE(cells.size(), 8u) << "error line " << i;
    const uint64_t line = std::stoull(cells[0]);
    reported_codes[line].insert(cells[5]);
    reported_severities[line].insert(cells[4]);
    const std::string original = error_lines[i].substr(error_lines[i].find('|', error_lines[i].find(cells[6]) + cells[6].size()) + 1);
    EXPECT_EQ(original, data_lines.at(line - 1)) << "error line " << i;
    EXPECT_EQ(cells[1], expected.at(line).event_id) << "error line " << i;
  }
  for (const auto& [line, row] : expected) {
    for (const auto& code : row.codes)
      EXPECT_TRUE(reported_codes[line].count(code)) << "line " << line << " should report " << code;
    if (row.rejected) {
      EXPECT_TRUE(reported_severities[line].count("E")) << "line " << line << " should be rejected";
    } else {
      EXPECT_FALSE(reported_severities[line].count("E")) << "line " << line << " should load";
    }
  }

  // The store holds exactly the loaded records, and STATE inventory counts their doses.
  Store store(dir_ / "cvms.sqlite");
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM vaccinations"), counts.loaded);
  int64_t state_doses = 0;
  for (const auto& [line, row] : expected) {
    if (row.rejected) continue;
    const auto fields = split(data_lines.at(line - 1), '|');
    if (fields.at(43) == "STATE" && fields.at(44) != "YES") ++state_doses;
  }
  EXPECT_EQ(store.scalar("SELECT SUM(doses_administered) FROM inventory"), state_doses);
  EXPECT_LT(store.scalar("SELECT COUNT(*) FROM recipients"), counts.loaded)
      << "repeat doses must share one recipient";
}

TEST_F(NcvrPipelineTest, RerunningTheSameFileChangesNothing) {
  const fs::path input = generate(3000);
  const auto first = run(input);
  ASSERT_EQ(first.record.status, "succeeded") << first.record.message;
  const auto before = Store(dir_ / "cvms.sqlite").fingerprint();

  const auto second = run(input);
  EXPECT_EQ(second.record.status, "skipped");
  EXPECT_NE(second.record.message.find("already loaded by run " + first.record.run_id), std::string::npos);
  EXPECT_EQ(Store(dir_ / "cvms.sqlite").fingerprint(), before);

  vaxetl::RunOptions force;
  force.force = true;
  const auto forced = run(input, force);
  EXPECT_EQ(forced.record.status, "succeeded") << forced.record.message;
  EXPECT_EQ(forced.record.counts.loaded, first.record.counts.loaded);
  EXPECT_EQ(forced.record.counts.rejected, first.record.counts.rejected);
  EXPECT_EQ(Store(dir_ / "cvms.sqlite").fingerprint(), before);
}

TEST_F(NcvrPipelineTest, ValidateWritesErrorFileAndChangesNoData) {
  const fs::path input = generate(2000);
  const auto outcome = run(input, [] { vaxetl::RunOptions o; o.mode = VAXETL_MODE_VALIDATE; return o; }());
  EXPECT_EQ(outcome.record.status, "validated") << outcome.record.message;
  EXPECT_GT(outcome.record.counts.rejected, 0);
  EXPECT_TRUE(fs::exists(outcome.record.error_file));
  EXPECT_GT(read_lines(outcome.record.error_file).size(), 1u);
  EXPECT_EQ(Store(dir_ / "cvms.sqlite").scalar("SELECT COUNT(*) FROM vaccinations"), 0);
  // Validation is not a load: the file can still be loaded afterwards.
  EXPECT_EQ(run(input).record.status, "succeeded");
}

TEST_F(NcvrPipelineTest, MalformedHeaderRejectsFileWholeAndKeepsIt) {
  const fs::path input = generate(50);
  auto lines = read_lines(input);
  lines[0].replace(lines[0].find("org_code"), 8, "org_name");
  {
    std::ofstream out(input);
    for (const auto& l : lines) out << l << "\n";
  }
  const auto outcome = run(input);
  EXPECT_EQ(outcome.record.status, "rejected");
  EXPECT_EQ(outcome.exit_code, vaxetl::kExitInputRejected);
  EXPECT_EQ(outcome.record.counts.loaded, 0);
  // Every record of a refused file is accounted for, as rejected.
  EXPECT_EQ(outcome.record.counts.received, 50);
  EXPECT_EQ(outcome.record.counts.rejected, 50);
  EXPECT_TRUE(fs::exists(input)) << "a refused file is kept";
  const auto error_lines = read_lines(outcome.record.error_file);
  ASSERT_EQ(error_lines.size(), 2u);
  EXPECT_NE(error_lines[1].find("|E|NCVR_HEADER_MISMATCH|"), std::string::npos) << error_lines[1];
  EXPECT_NE(error_lines[1].find("position 3"), std::string::npos) << error_lines[1];
  EXPECT_EQ(Store(dir_ / "cvms.sqlite").scalar("SELECT COUNT(*) FROM vaccinations"), 0);
}

TEST_F(NcvrPipelineTest, StoreRejectsRepeatedAndConflictingEventsWithReasons) {
  const fs::path input = generate(200, "--error-rate 0 --warning-rate 0");
  ASSERT_EQ(run(input).record.status, "succeeded");
  auto lines = read_lines(input);
  const std::string repeated = lines.at(1);
  // A second file: record 2 resent unchanged (harmless), record 3 resent with one field
  // changed (a conflict: changes go through corrections), and record 2 again in the same file.
  auto changed = split(lines.at(2), '|');
  changed.at(27) = changed.at(27) == "Spanish" ? "English" : "Spanish";  // recip_language
  std::string changed_line;
  for (std::size_t i = 0; i < changed.size(); ++i) changed_line += (i ? "|" : "") + changed[i];
  const fs::path second = dir_ / "inbox" / "CAROLINAPHARMCOVID_20260103030405_CVMS_PROD_PHI_DIRECT_V1.txt";
  {
    std::ofstream out(second);
    out << lines.at(0) << "\n" << repeated << "\n" << changed_line << "\n" << repeated << "\n";
  }
  const auto outcome = run(second);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  EXPECT_EQ(outcome.record.counts.received, 3);
  EXPECT_EQ(outcome.record.counts.loaded, 1);
  EXPECT_EQ(outcome.record.counts.rejected, 2);
  const auto error_lines = read_lines(outcome.record.error_file);
  ASSERT_EQ(error_lines.size(), 3u);
  EXPECT_EQ(error_lines[1].rfind("3|", 0), 0u) << error_lines[1];
  EXPECT_NE(error_lines[1].find("|E|CVMS_EVENT_CONFLICT|"), std::string::npos) << error_lines[1];
  EXPECT_NE(error_lines[1].find("corrections file"), std::string::npos) << error_lines[1];
  EXPECT_EQ(error_lines[2].rfind("4|", 0), 0u) << error_lines[2];
  EXPECT_NE(error_lines[2].find("|E|CVMS_DUPLICATE_EVENT|"), std::string::npos) << error_lines[2];
  EXPECT_EQ(Store(dir_ / "cvms.sqlite").scalar("SELECT COUNT(*) FROM vaccinations"), 200);
}

TEST_F(NcvrPipelineTest, NoPhiReachesAnyLogLine) {
  const fs::path input = generate(1500, "--phi-markers --error-rate 0.2 --warning-rate 0.1");
  // Every name, street and e-mail in the file is a unique marker token.
  std::set<std::string> markers;
  const auto data_lines = read_lines(input);
  for (std::size_t i = 1; i < data_lines.size(); ++i) {
    const auto fields = split(data_lines[i], '|');
    for (std::size_t f : {6u, 7u, 8u, 12u, 13u, 19u, 28u})
      if (f < fields.size() && fields[f].rfind("PHI", 0) == 0) markers.insert(fields[f]);
  }
  ASSERT_GT(markers.size(), 1000u);

  // In-process: capture everything the core and plugins log, at debug level.
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  const auto outcome = run(input);
  spdlog::set_default_logger(previous);
  ASSERT_EQ(outcome.record.status, "succeeded");

  // And through the command line, in both log formats, including a malformed-file failure.
  const std::string log_file = (dir_ / "cli.log").string();
  const std::string vaxetl = std::string(VAXETL_BIN_DIR) + "/vaxetl";
  for (const std::string format : {"text", "json"}) {
    const std::string command = vaxetl + " run " + pipeline_path_.string() + " --force --log-level debug --log-format " +
                                format + " --input " + input.string() + " >> " + log_file + " 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  const std::string logs = captured.str() + [&] {
    std::ifstream in(log_file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  ASSERT_NE(logs.find("received"), std::string::npos) << "the logs were captured";
  for (const auto& marker : markers) EXPECT_EQ(logs.find(marker), std::string::npos) << "PHI in logs: " << marker;
  // The ledger's messages are operator-facing too.
  EXPECT_EQ(outcome.record.message.find("PHI"), std::string::npos);
}

}  // namespace
