// North Carolina's automation rules end to end (issue 3). Every test drives the programs an
// operator runs (ncvr_gen, vaxetl_convert, vaxetl, vaxetl inventory) as processes against a
// fresh VAXETL_HOME and the shipped pipelines, then checks the stores and the ledger directly.
// Conservation (received = loaded + rejected + held) is checked on every run printed.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "vaxetl_test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace test = vaxetl::test;

const std::string kBin = std::string(VAXETL_BINARY_DIR) + "/bin/";
const std::string kPipelines = std::string(VAXETL_SOURCE_DIR) + "/pipelines/";
constexpr const char* kOrg = "CAROLINAPHARM";

using test::read_lines;
using test::split;

// A TSV with a header line, as rows of column -> value.
std::vector<std::map<std::string, std::string>> read_tsv(const fs::path& path) {
  const auto lines = read_lines(path);
  std::vector<std::map<std::string, std::string>> rows;
  if (lines.empty()) return rows;
  const auto header = split(lines[0], '\t');
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto cells = split(lines[i], '\t');
    std::map<std::string, std::string> row;
    for (std::size_t c = 0; c < header.size() && c < cells.size(); ++c) row[header[c]] = cells[c];
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Command {
  int exit_code = -1;
  std::string out;
};

// One run as `vaxetl run` prints it ("key: value" lines; blocks separated by a blank line).
using RunBlock = std::map<std::string, std::string>;

int64_t number(const RunBlock& run, const std::string& key) {
  auto it = run.find(key);
  if (it == run.end()) return -1;
  return std::atoll(it->second.c_str());
}

class Sqlite {
 public:
  explicit Sqlite(const fs::path& path) {
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  ~Sqlite() { sqlite3_close(db_); }
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;
  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db_);
    int64_t value = -1;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string value;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return value;
  }
  // Everything a load can change: if none of these move, the store did not change.
  std::vector<int64_t> fingerprint() {
    return {scalar("SELECT COUNT(*) FROM vaccinations"),
            scalar("SELECT COUNT(*) FROM vaccinations WHERE status = 'voided'"),
            scalar("SELECT COALESCE(SUM(content_hash % 1000003), 0) FROM vaccinations"),
            scalar("SELECT COUNT(*) FROM recipients"),
            scalar("SELECT COUNT(*) FROM vaccination_history"),
            scalar("SELECT COALESCE(SUM(doses_administered), 0) FROM inventory"),
            scalar("SELECT COALESCE(SUM(doses_received), 0) FROM inventory"),
            scalar("SELECT COUNT(*) FROM inventory_discrepancies")};
  }

 private:
  sqlite3* db_ = nullptr;
};

class NcRules : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("vaxetl-e2e-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_ / "inbox");
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(home_);
  }

  // Runs a program with VAXETL_HOME (and `environment`, "NAME=value ...") set; stdout
  // captured, stderr appended to the run log.
  Command exec(const std::string& program, const std::string& arguments, const std::string& environment = "") {
    const std::string line = environment + " VAXETL_HOME='" + home_.string() + "' '" + kBin + program + "' " + arguments +
                             " 2>>'" + (home_ / "stderr.log").string() + "'";
    Command result;
    std::FILE* pipe = ::popen(line.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
  }

  // ncvr_gen into the inbox; returns the data file's path.
  fs::path generate(const std::string& arguments) {
    const Command c = exec("ncvr_gen", "--output '" + (home_ / "inbox").string() + "/' " + arguments);
    EXPECT_EQ(c.exit_code, 0) << c.out;
    std::smatch match;
    EXPECT_TRUE(std::regex_search(c.out, match, std::regex(R"(-> (\S+\.txt) \(truth)"))) << c.out;
    return match.size() > 1 ? fs::path(match[1].str()) : fs::path();
  }

  // `vaxetl run|validate ...`: every printed run, with conservation checked on each.
  std::vector<RunBlock> vaxetl(const std::string& arguments, int expected_exit = 0) {
    const Command c = exec("vaxetl", arguments + " --no-progress");
    EXPECT_EQ(c.exit_code, expected_exit) << arguments << "\n" << c.out;
    return parse_runs(c.out);
  }
  std::vector<RunBlock> run(const std::string& pipeline, const fs::path& input, const std::string& extra = "",
                            int expected_exit = 0) {
    return vaxetl("run " + kPipelines + pipeline + " --input '" + input.string() + "' " + extra, expected_exit);
  }

  static std::vector<RunBlock> parse_runs(const std::string& out) {
    std::vector<RunBlock> runs;
    std::istringstream in(out);
    RunBlock current;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("run:", 0) == 0 && !current.empty()) {
        runs.push_back(current);
        current.clear();
      }
      const auto colon = line.find(':');
      if (colon == std::string::npos || line.empty() || line[0] == ' ') continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (!current.count(line.substr(0, colon))) current[line.substr(0, colon)] = value;
    }
    if (!current.empty()) runs.push_back(current);
    std::erase_if(runs, [](const RunBlock& r) { return !r.count("run"); });  // a preamble line
    for (const auto& r : runs) {
      EXPECT_EQ(number(r, "received"), number(r, "loaded") + number(r, "rejected") + number(r, "held"))
          << "conservation broken in run " << r.at("run");
    }
    return runs;
  }

  fs::path store(const char* name = "cvms.sqlite") const { return home_ / name; }
  fs::path ledger() const { return home_ / "ledger.sqlite"; }

  fs::path home_;
};

// The truth sidecar of a generated data file.
std::vector<std::map<std::string, std::string>> truth_of(const fs::path& data) {
  return read_tsv(data.string() + ".truth.tsv");
}

int64_t count_expected(const std::vector<std::map<std::string, std::string>>& truth, const std::string& expected) {
  int64_t n = 0;
  for (const auto& row : truth) n += row.at("expected") == expected;
  return n;
}

// --- 1. File names decide what happens -------------------------------------------------------

TEST_F(NcRules, EachEnvironmentLoadsOnlyItsOwnStore) {
  const fs::path prod = generate("--records 400 --seed 11 --file-time 20261120080000");
  const auto truth = truth_of(prod);
  const auto loaded = count_expected(truth, "loaded");
  auto runs = run("ncvr-daily.yaml", prod);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_EQ(runs[0]["file"], "NCVR PROD from CAROLINAPHARM (V1)");
  EXPECT_EQ(number(runs[0], "loaded"), loaded);
  EXPECT_EQ(number(runs[0], "rejected"), count_expected(truth, "rejected"));
  EXPECT_FALSE(fs::exists(store("cvms-staging.sqlite")));
  // Records the source could not split (a wrong field count) are not also "another org's".
  for (const auto& line : read_lines(runs[0]["error file"])) EXPECT_EQ(line.find("FILE_ORG_MISMATCH"), std::string::npos) << line;

  const fs::path phi = generate("--records 300 --seed 12 --environment PHI --file-time 20261120090000");
  runs = run("ncvr-daily.yaml", phi);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["file"], "NCVR PHI from CAROLINAPHARM (V1)");
  EXPECT_EQ(number(runs[0], "loaded"), count_expected(truth_of(phi), "loaded"));
  {
    Sqlite production(store()), staging(store("cvms-staging.sqlite"));
    EXPECT_EQ(production.scalar("SELECT COUNT(*) FROM vaccinations"), loaded);
    EXPECT_EQ(staging.scalar("SELECT COUNT(*) FROM vaccinations"), number(runs[0], "loaded"));
  }

  // NOPHI: validated end to end through a store that lives for the run only.
  const auto before = Sqlite(store()).fingerprint();
  auto index_rows = [&] {
    Sqlite index(store("mpi.sqlite"));
    return std::vector<int64_t>{index.scalar("SELECT COUNT(*) FROM masters"),
                                index.scalar("SELECT COUNT(*) FROM master_values"),
                                index.scalar("SELECT COUNT(*) FROM decisions")};
  };
  const auto index_before = index_rows();
  EXPECT_GT(index_before[0], 0);
  const fs::path nophi = generate("--records 200 --seed 13 --environment NOPHI --file-time 20261120100000");
  runs = run("ncvr-daily.yaml", nophi);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_EQ(runs[0]["file"], "NCVR NOPHI from CAROLINAPHARM (V1)");
  EXPECT_EQ(number(runs[0], "loaded"), count_expected(truth_of(nophi), "loaded"));
  EXPECT_GT(number(runs[0], "loaded"), 0);
  EXPECT_EQ(Sqlite(store()).fingerprint(), before);
  EXPECT_EQ(index_rows(), index_before);
  std::set<std::string> stores;
  for (const auto& entry : fs::recursive_directory_iterator(home_))
    if (entry.path().extension() == ".sqlite") stores.insert(entry.path().filename().string());
  // Each environment has its own patient index beside its CVMS store; NOPHI's went with the run.
  EXPECT_EQ(stores, (std::set<std::string>{"cvms.sqlite", "cvms-staging.sqlite", "ledger.sqlite",
                                           "mpi.sqlite", "mpi-staging.sqlite"}));

  Sqlite runs_table(ledger());
  EXPECT_EQ(runs_table.scalar("SELECT COUNT(DISTINCT environment) FROM runs WHERE org = 'CAROLINAPHARM'"), 3);
  // The ledger is found through a routed pipeline's own settings.
  const Command listed = exec("vaxetl", "runs --pipeline " + kPipelines + "ncvr-daily.yaml");
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_NE(listed.out.find(runs[0]["run"]), std::string::npos) << listed.out;
}

TEST_F(NcRules, CvmsKeepsOneRecipientPerMasterAndOperatorsMergeAndUnmergeThem) {
  const fs::path file = generate("--records 300 --seed 21 --file-time 20261120080000");
  auto runs = run("ncvr-daily.yaml", file);
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_EQ(runs[0]["status"], "succeeded");
  std::string survivor, retired;
  {
    Sqlite cvms(store()), index(store("mpi.sqlite"));
    // One recipient per master: every loaded record's master, and no master twice.
    EXPECT_EQ(cvms.scalar("SELECT COUNT(*) FROM recipients WHERE mpi_id IS NULL"), 0);
    EXPECT_EQ(cvms.scalar("SELECT COUNT(DISTINCT mpi_id) FROM recipients"), cvms.scalar("SELECT COUNT(*) FROM recipients"));
    EXPECT_LE(cvms.scalar("SELECT COUNT(*) FROM recipients"), index.scalar("SELECT COUNT(*) FROM masters"));
    survivor = cvms.text("SELECT mpi_id FROM recipients ORDER BY mpi_id LIMIT 1");
    retired = cvms.text("SELECT mpi_id FROM recipients ORDER BY mpi_id LIMIT 1 OFFSET 1");
  }
  ASSERT_FALSE(survivor.empty());
  ASSERT_FALSE(retired.empty());
  auto doses = [&](const std::string& mpi_id) {
    return Sqlite(store()).scalar("SELECT COUNT(*) FROM vaccinations v JOIN recipients r USING (recipient_id) "
                                  "WHERE r.mpi_id = '" + mpi_id + "'");
  };
  const int64_t survivor_doses = doses(survivor), retired_doses = doses(retired);
  ASSERT_GT(retired_doses, 0);

  Command c = exec("vaxetl", "mpi merge " + survivor + " " + retired + " --reason 'e2e test' --by tester");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  EXPECT_NE(c.out.find("moved to " + survivor), std::string::npos) << c.out;
  EXPECT_EQ(doses(survivor), survivor_doses + retired_doses);
  EXPECT_EQ(doses(retired), 0);
  // Again: the index is already done and CVMS has nothing more to move.
  c = exec("vaxetl", "mpi merge " + survivor + " " + retired);
  EXPECT_EQ(c.exit_code, 0) << c.out;
  EXPECT_EQ(doses(survivor), survivor_doses + retired_doses);

  c = exec("vaxetl", "mpi unmerge " + survivor + " " + retired + " --reason 'not the same person' --by tester");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  EXPECT_EQ(doses(survivor), survivor_doses);
  EXPECT_EQ(doses(retired), retired_doses);
  // Unmerging what is not merged is refused and changes nothing.
  c = exec("vaxetl", "mpi unmerge " + survivor + " " + retired);
  EXPECT_EQ(c.exit_code, 65) << c.out;
  EXPECT_EQ(doses(retired), retired_doses);
}

TEST_F(NcRules, NameThatFitsNoPatternIsRefusedWholeAndKept) {
  const fs::path generated = generate("--records 50 --seed 3 --file-time 20261120080000");
  const fs::path odd = home_ / "inbox" / "carolinapharm_daily_export.txt";
  fs::rename(generated, odd);
  auto runs = run("ncvr-daily.yaml", odd, "", 66);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "rejected");
  EXPECT_NE(runs[0]["message"].find("ORGCOVID_YYYYMMDDHHMMSS_CVMS_"), std::string::npos) << runs[0]["message"];
  EXPECT_TRUE(fs::exists(odd)) << "a refused file is kept";
  const auto error_lines = read_lines(runs[0]["error file"]);
  ASSERT_EQ(error_lines.size(), 2u);
  EXPECT_NE(error_lines[1].find("|FILE_NAME|"), std::string::npos);
  EXPECT_FALSE(fs::exists(store()));

  // A CVRS name given to the NCVR pipeline is the operator's mistake, said as such.
  const fs::path cvrs_named = home_ / "inbox" / "CAROLINAPHARMCOVID_20261120080000_CVMS_CVRS_PROD_PHI_V1.txt";
  fs::copy_file(odd, cvrs_named);
  const Command c = exec("vaxetl", "run " + kPipelines + "ncvr-daily.yaml --input '" + cvrs_named.string() + "'");
  EXPECT_EQ(c.exit_code, 64);
}

TEST_F(NcRules, RecordsOfAnotherOrganizationAreRejected) {
  const fs::path file = generate("--records 120 --seed 5 --error-rate 0 --warning-rate 0 --org OTHERPHARM "
                                 "--file-time 20261120080000");
  const fs::path renamed = home_ / "inbox" / "CAROLINAPHARMCOVID_20261120080000_CVMS_PROD_PHI_DIRECT_V1.txt";
  fs::rename(file, renamed);
  auto runs = run("ncvr-daily.yaml", renamed);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(number(runs[0], "rejected"), 120);
  EXPECT_EQ(number(runs[0], "loaded"), 0);
  int mismatches = 0;
  for (const auto& line : read_lines(runs[0]["error file"])) mismatches += line.find("|org_code|E|FILE_ORG_MISMATCH|") != std::string::npos;
  EXPECT_EQ(mismatches, 120);
  // Another organization's records say nothing about this provider's race/ethnicity rate.
  EXPECT_EQ(runs[0].count("race/eth"), 0u) << runs[0]["race/eth"];
}

TEST_F(NcRules, OnboardingCountsCleanNoPhiRunsOfAtLeast1500Records) {
  const std::string clean = "--error-rate 0 --warning-rate 0 --race-unknown-rate 0 --environment NOPHI ";
  auto runs = run("ncvr-daily.yaml", generate(clean + "--records 1000 --seed 21 --file-time 20261120080000"));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(number(runs[0], "rejected"), 0);
  EXPECT_EQ(runs[0]["clean"], "no") << "fewer than 1,500 records do not count";
  bool noted = false;
  for (const auto& line : read_lines(runs[0]["error file"])) noted |= line.find("ONBOARDING_TOO_FEW_RECORDS") != std::string::npos;
  EXPECT_TRUE(noted);

  for (int i = 0; i < 2; ++i) {
    runs = run("ncvr-daily.yaml", generate(clean + "--records 1500 --seed " + std::to_string(30 + i) +
                                           " --file-time 2026112009000" + std::to_string(i)));
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0]["clean"], "yes");
  }
  Command providers = exec("vaxetl", "providers");
  EXPECT_EQ(providers.exit_code, 0);
  EXPECT_NE(providers.out.find("staging (clean PHI runs 0 of 1)"), std::string::npos) << providers.out;

  runs = run("ncvr-daily.yaml", generate("--error-rate 0 --warning-rate 0 --race-unknown-rate 0 --environment PHI "
                                         "--records 100 --seed 40 --file-time 20261120100000"));
  EXPECT_EQ(runs[0]["clean"], "yes");
  providers = exec("vaxetl", "providers");
  EXPECT_NE(providers.out.find("ready for production"), std::string::npos) << providers.out;
}

// CVRS and VXU files carry the same patients as an NCVR file, converted by vaxetl_convert.
TEST_F(NcRules, CvrsAndVxuFilesRouteByNameAndFederalDosesNeverTouchInventory) {
  const fs::path ncvr = generate("--records 300 --seed 8 --error-rate 0 --warning-rate 0 --federal-rate 1 "
                                 "--file-time 20261120080000");
  const fs::path cvrs = home_ / "inbox" / "CAROLINAPHARMCOVID_20261120080000_CVMS_CVRS_PROD_PHI_V1.txt";
  ASSERT_EQ(exec("vaxetl_convert", "--to cvrs --input '" + ncvr.string() + "' --output '" + cvrs.string() + "'").exit_code, 0);
  auto runs = run("cvrs-daily.yaml", cvrs);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["file"], "CVRS PROD from CAROLINAPHARM (V1)");
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_GT(number(runs[0], "loaded"), 0);
  {
    Sqlite s(store());
    EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM vaccinations"), number(runs[0], "loaded"));
    EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM vaccinations WHERE reported_to_cdc = 1"), number(runs[0], "loaded"));
    EXPECT_EQ(s.scalar("SELECT COALESCE(SUM(doses_administered), 0) FROM inventory"), 0);
    EXPECT_EQ(s.text("SELECT DISTINCT o.org_code FROM vaccinations v JOIN organizations o USING (org_id)"), kOrg);
  }
  const fs::path vxu = home_ / "inbox" / "CAROLINAPHARMCOVID_20261120090000_CVMS_VXU_PHI_V1.txt";
  ASSERT_EQ(exec("vaxetl_convert", "--to vxu --input '" + ncvr.string() + "' --output '" + vxu.string() + "'").exit_code, 0);
  runs = run("vxu-daily.yaml", vxu);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["file"], "VXU PHI from CAROLINAPHARM (V1)");
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_GT(number(runs[0], "loaded"), 0);
  EXPECT_EQ(Sqlite(store("cvms-staging.sqlite")).scalar("SELECT COUNT(*) FROM vaccinations"), number(runs[0], "loaded"));
}

// --- 2. Corrections and reruns ---------------------------------------------------------------

class Corrections : public NcRules {
 protected:
  // Loads the base daily file and writes (not runs) its corrections file.
  void SetUp() override {
    NcRules::SetUp();
    base_ = generate(base_options_ + " --file-time 20261120080000");
    base_runs_ = run("ncvr-daily.yaml", base_);
    ASSERT_EQ(base_runs_.size(), 1u);
    corrections_ = generate(base_options_ + " --corrections --base-records 2000 --base-seed 7 --records 400 "
                            "--seed 70 --file-time 20261121080000");
    truth_ = truth_of(corrections_);
    ASSERT_EQ(truth_.size(), 400u);
    ASSERT_NE(corrections_.filename().string().find("_CORRECTIONS_V1.txt"), std::string::npos);
  }

  // Records 2000 (seed 7) with a share of federal doses; STATE lots from a month of dates.
  const std::string base_options_ = "--records 2000 --seed 7 --admin-days 30 --today 2026-11-20";
  fs::path base_, corrections_;
  std::vector<RunBlock> base_runs_;
  std::vector<std::map<std::string, std::string>> truth_;
};

TEST_F(Corrections, DryRunListsEveryRecordsChangeAndTouchesNothing) {
  const auto before = Sqlite(store()).fingerprint();
  auto runs = run("ncvr-daily.yaml", corrections_, "--dry-run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "validated");
  EXPECT_EQ(runs[0]["file"], "NCVR PROD corrections from CAROLINAPHARM (V1)");
  EXPECT_EQ(Sqlite(store()).fingerprint(), before);
  // A dry run's findings are not an error file to return to the provider.
  EXPECT_NE(runs[0]["error file"].find("_validation.txt"), std::string::npos) << runs[0]["error file"];

  const auto lines = read_lines(runs[0]["change list"]);
  ASSERT_EQ(lines.size(), truth_.size() + 1);
  EXPECT_EQ(lines[0], "line|vax_event_id|action|outcome|codes");
  std::map<std::string, int> by_outcome;
  for (std::size_t i = 0; i < truth_.size(); ++i) {
    const auto cells = split(lines[i + 1], '|');
    ASSERT_GE(cells.size(), 5u) << lines[i + 1];
    const auto& expected = truth_[i];
    EXPECT_EQ(cells[0], expected.at("line"));
    EXPECT_EQ(cells[1], expected.at("vax_event_id"));
    EXPECT_EQ(cells[2], expected.at("action"));
    EXPECT_EQ(cells[3], expected.at("expected")) << "case " << expected.at("case") << " line " << cells[0];
    if (expected.at("expected") == "rejected") {
      EXPECT_NE(cells[4].find(expected.at("codes")), std::string::npos) << expected.at("case");
    }
    ++by_outcome[cells[3]];
  }
  for (const char* outcome : {"added", "updated", "voided", "unchanged", "rejected"})
    EXPECT_GT(by_outcome[outcome], 0) << outcome;
}

TEST_F(Corrections, ApplyKeepHistoryMoveInventoryAndRerunChangesNothing) {
  std::map<std::string, int64_t> expected;
  std::map<std::string, int64_t> by_code;
  for (const auto& row : truth_) {
    ++expected[row.at("expected")];
    if (row.at("expected") == "rejected") ++by_code[row.at("codes")];
  }
  int64_t state_before = 0;
  {
    Sqlite s(store());
    state_before = s.scalar("SELECT SUM(doses_administered) FROM inventory");
  }
  auto runs = run("ncvr-daily.yaml", corrections_);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_EQ(runs[0]["changes"], std::to_string(expected["added"]) + " added, " + std::to_string(expected["updated"]) +
                                    " updated, " + std::to_string(expected["voided"]) + " voided, " +
                                    std::to_string(expected["unchanged"]) + " unchanged");
  EXPECT_EQ(number(runs[0], "rejected"), expected["rejected"]);
  // The error file of a corrections run is named on the corrections file's name.
  EXPECT_EQ(fs::path(runs[0]["error file"]).filename().string().rfind(corrections_.filename().string() + "_", 0), 0u);
  for (const auto& [code, count] : by_code) {
    int seen = 0;
    for (const auto& line : read_lines(runs[0]["error file"])) seen += line.find("|" + code + "|") != std::string::npos;
    EXPECT_EQ(seen, count) << code;
  }

  Sqlite s(store());
  EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM vaccination_history"), expected["updated"] + expected["voided"]);
  EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM vaccinations WHERE status = 'voided'"), expected["voided"]);
  // Every history row names the corrections file and run that made the change.
  EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM vaccination_history h JOIN loads l ON l.load_id = h.load_id "
                     "WHERE l.input_name = '" + corrections_.filename().string() + "' AND l.run_id = '" +
                     runs[0]["run"] + "'"),
            expected["updated"] + expected["voided"]);
  // Inventory follows the changes: recompute what the active STATE doses should have taken.
  EXPECT_EQ(s.scalar("SELECT SUM(doses_administered) FROM inventory"),
            s.scalar("SELECT COUNT(*) FROM vaccinations WHERE status = 'active' AND inventory_source = 'STATE' "
                     "AND COALESCE(vax_refusal, 'NO') <> 'YES'"));
  EXPECT_NE(s.scalar("SELECT SUM(doses_administered) FROM inventory"), state_before);

  // Rerunning the corrections run (vaxetl rerun) changes nothing.
  const auto before = s.fingerprint();
  runs = vaxetl("rerun " + runs[0]["run"]);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_EQ(number(runs[0], "received"), static_cast<int64_t>(truth_.size()));
  EXPECT_EQ(s.fingerprint(), before);
  // And so does the base file's rerun.
  runs = vaxetl("rerun " + base_runs_[0]["run"]);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(s.fingerprint(), before);
}

TEST_F(NcRules, RerunOfAChangedFileIsRefused) {
  const fs::path file = generate("--records 100 --seed 9 --file-time 20261120080000");
  auto runs = run("ncvr-daily.yaml", file);
  ASSERT_EQ(runs.size(), 1u);
  std::ofstream(file, std::ios::app) << "extra line\n";
  const Command c = exec("vaxetl", "rerun " + runs[0]["run"]);
  EXPECT_EQ(c.exit_code, 74);
  EXPECT_EQ(exec("vaxetl", "rerun R-does-not-exist").exit_code, 74);
}

// --- 3. Inventory ----------------------------------------------------------------------------

TEST_F(NcRules, StateDosesDrawDownReceivedInventoryAndShortfallsAreRecorded) {
  const fs::path file = generate("--records 1500 --seed 15 --admin-days 7 --today 2026-11-20 --warning-rate 0.05 "
                                 "--lots-out '" + (home_ / "lots.tsv").string() + "' --file-time 20261120080000");
  const auto lots = read_tsv(home_ / "lots.tsv");
  ASSERT_GE(lots.size(), 4u);
  // Receive plenty for some keys; the rest will be short.
  int64_t received_doses = 0;
  const std::size_t received_keys = std::min<std::size_t>(12, lots.size() / 2);
  for (std::size_t i = 0; i < received_keys; ++i) {
    const auto& lot = lots[i];
    const Command c = exec("vaxetl", "inventory receive --pin " + lot.at("vtrcks_prov_pin") + " --ndc " +
                                         lot.at("ndc") + " --lot '" + lot.at("lot_number") + "' --vials 100 --reference SHIP" +
                                         std::to_string(i));
    ASSERT_EQ(c.exit_code, 0) << c.out;
  }
  {
    Sqlite s(store());
    received_doses = s.scalar("SELECT SUM(doses_received) FROM inventory");
    EXPECT_GT(received_doses, 0);
  }
  // The same shipment cannot be received twice; a unit-of-use NDC is refused.
  EXPECT_EQ(exec("vaxetl", "inventory receive --pin " + lots[0].at("vtrcks_prov_pin") + " --ndc " + lots[0].at("ndc") +
                               " --lot '" + lots[0].at("lot_number") + "' --vials 1 --reference SHIP0").exit_code, 65);
  EXPECT_EQ(exec("vaxetl", "inventory receive --pin NCA123456 --ndc 59267-1000-01 --lot X1 --vials 1").exit_code, 65);

  auto runs = run("ncvr-daily.yaml", file);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_GT(number(runs[0], "warnings"), 0);  // unit-of-use NDCs among them, mapped and loaded

  Sqlite s(store());
  int64_t expected_taken = 0, expected_short = 0;
  for (std::size_t i = 0; i < lots.size(); ++i) {
    const int64_t doses = std::atoll(lots[i].at("doses").c_str());
    expected_taken += doses;
    if (i >= received_keys) expected_short += doses;
  }
  EXPECT_EQ(s.scalar("SELECT SUM(doses_administered) FROM inventory"), expected_taken);
  EXPECT_EQ(s.scalar("SELECT SUM(doses_received) FROM inventory"), received_doses);
  EXPECT_EQ(s.scalar("SELECT SUM(doses_short) FROM inventory_discrepancies"), expected_short);
  // Only unit-of-sale NDCs reach inventory, and no FEDERAL dose does.
  EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM inventory i LEFT JOIN products p ON p.ndc_unit_of_sale = i.ndc "
                     "WHERE p.ndc_unit_of_sale IS NULL"), 0);
  EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM vaccinations WHERE inventory_source = 'FEDERAL' AND reported_to_cdc = 1"),
            s.scalar("SELECT COUNT(*) FROM vaccinations WHERE inventory_source = 'FEDERAL'"));
  // A unit-of-use NDC as sent is stored under its own unit of sale.
  EXPECT_GT(s.scalar("SELECT COUNT(*) FROM vaccinations v JOIN products p ON p.ndc_unit_of_use = v.ndc_as_sent "
                     "WHERE p.ndc_unit_of_use <> p.ndc_unit_of_sale"), 0);
  EXPECT_EQ(s.scalar("SELECT COUNT(*) FROM vaccinations v WHERE v.ndc_as_sent IN (SELECT ndc_unit_of_use FROM products) "
                     "AND v.ndc NOT IN (SELECT ndc_unit_of_sale FROM products p WHERE p.ndc_unit_of_use = v.ndc_as_sent)"),
            0);

  const Command show = exec("vaxetl", "inventory show --discrepancies");
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find(lots.back().at("vtrcks_prov_pin")), std::string::npos) << show.out;
}

// --- 4. The race and ethnicity gate ----------------------------------------------------------

class Gate : public NcRules {
 protected:
  // A PROD file; `unknown` is the share of records sent with race or ethnicity UNK.
  fs::path prod_file(int seed, const std::string& time, double unknown, int records) {
    return generate("--records " + std::to_string(records) + " --seed " + std::to_string(seed) +
                    " --error-rate 0 --warning-rate 0 --race-unknown-rate " + std::to_string(unknown) +
                    " --file-time " + time);
  }
  int64_t stored() { return fs::exists(store()) ? Sqlite(store()).scalar("SELECT COUNT(*) FROM vaccinations") : 0; }
  std::string provider_status() {
    return Sqlite(ledger()).text("SELECT status FROM providers WHERE org = 'CAROLINAPHARM'");
  }
};

TEST_F(Gate, ProviderBelowTheThresholdIsHeldPausedAndResumedInOrder) {
  const fs::path good = prod_file(51, "20261118080000", 0.0, 300);
  auto runs = run("ncvr-daily.yaml", good);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  const int64_t after_good = stored();
  EXPECT_EQ(after_good, 300);

  // 20% unknown: held, not loaded, not lost; the provider is paused.
  const fs::path bad = prod_file(52, "20261119080000", 0.2, 300);
  runs = run("ncvr-daily.yaml", bad);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "held");
  EXPECT_EQ(number(runs[0], "held"), 300);
  EXPECT_EQ(number(runs[0], "loaded"), 0);
  EXPECT_TRUE(fs::exists(runs[0]["kept"]));
  EXPECT_EQ(stored(), after_good);
  EXPECT_EQ(provider_status(), "paused");
  bool reported = false;
  for (const auto& line : read_lines(runs[0]["error file"])) reported |= line.find("|H|RACE_ETHNICITY_GATE|") != std::string::npos;
  EXPECT_TRUE(reported) << "the report goes back with the error file";

  // A good file from a paused provider is held too while the window is below the threshold.
  const fs::path next = prod_file(53, "20261120080000", 0.0, 200);
  runs = run("ncvr-daily.yaml", next);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "held");
  EXPECT_EQ(stored(), after_good);
  // Sending a held file again does not hold it twice.
  runs = run("ncvr-daily.yaml", next);
  EXPECT_EQ(runs[0]["status"], "skipped");

  const Command providers = exec("vaxetl", "providers");
  EXPECT_NE(providers.out.find("paused"), std::string::npos) << providers.out;

  // The operator resumes: both held files load, oldest first, once.
  runs = vaxetl("resume CAROLINAPHARM");
  const std::string resumed_bad_run = runs.empty() ? "" : runs[0]["run"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_NE(runs[0]["repeats"], runs[1]["repeats"]);
  for (const auto& r : runs) EXPECT_EQ(r.at("status"), "succeeded");
  EXPECT_EQ(number(runs[0], "loaded"), 300);
  EXPECT_EQ(number(runs[1], "loaded"), 200);
  EXPECT_EQ(stored(), after_good + 500);
  EXPECT_EQ(provider_status(), "active");
  {
    Sqlite l(ledger());
    EXPECT_EQ(l.scalar("SELECT COUNT(*) FROM runs WHERE status = 'held' AND superseded_by = ''"), 0);
    // Held in the order they came, loaded in the same order.
    EXPECT_LT(l.text("SELECT started_at FROM runs WHERE input_name = '" + bad.filename().string() + "' AND status = 'succeeded'"),
              l.text("SELECT started_at FROM runs WHERE input_name = '" + next.filename().string() + "' AND status = 'succeeded'"));
  }
  // Nothing is loaded twice: resuming again finds nothing, a rerun changes nothing.
  const auto before = Sqlite(store()).fingerprint();
  const Command again = exec("vaxetl", "resume CAROLINAPHARM");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("held files loaded: 0"), std::string::npos) << again.out;
  runs = vaxetl("rerun " + resumed_bad_run);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded") << "an operator's rerun is not held again";
  EXPECT_EQ(Sqlite(store()).fingerprint(), before);
  EXPECT_EQ(provider_status(), "active");
  // A resume starts a fresh window: the next clean file loads instead of pausing again.
  runs = run("ncvr-daily.yaml", prod_file(54, "20261121080000", 0.0, 200));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded") << runs[0]["race/eth"];
  EXPECT_EQ(provider_status(), "active");
}

TEST_F(Gate, PausedProviderRecoversWhenItsWindowRecovers) {
  auto runs = run("ncvr-daily.yaml", prod_file(61, "20261118080000", 0.25, 100));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "held");
  EXPECT_EQ(provider_status(), "paused");
  // A large clean file brings the window back over the threshold: automation resumes, the
  // held file loads first, then this one.
  runs = run("ncvr-daily.yaml", prod_file(62, "20261119080000", 0.0, 3000));
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0]["status"], "held");
  EXPECT_EQ(runs[1]["status"], "succeeded");
  EXPECT_EQ(number(runs[1], "loaded"), 100);
  EXPECT_EQ(runs[2]["status"], "succeeded");
  EXPECT_EQ(number(runs[2], "loaded"), 3000);
  EXPECT_EQ(stored(), 3100);
  EXPECT_EQ(provider_status(), "active");
}

TEST_F(Gate, NonProductionFilesAreReportedNeverHeld) {
  auto runs = run("ncvr-daily.yaml", generate("--records 200 --seed 71 --error-rate 0 --race-unknown-rate 0.3 "
                                              "--environment PHI --file-time 20261120080000"));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_NE(runs[0]["race/eth"].find("would be held in production"), std::string::npos) << runs[0]["race/eth"];
  EXPECT_EQ(Sqlite(ledger()).scalar("SELECT COUNT(*) FROM providers WHERE status = 'paused'"), 0);
}

TEST_F(Gate, ThresholdsComeFromThePipelineConfiguration) {
  // The same 20%-unknown file passes when the operator's pipeline allows 25%.
  const fs::path file = prod_file(81, "20261120080000", 0.2, 200);
  const Command c = exec("vaxetl", "run " + kPipelines + "ncvr-daily.yaml --input '" + file.string() + "' --no-progress");
  ASSERT_EQ(c.exit_code, 0);
  EXPECT_EQ(parse_runs(c.out)[0]["status"], "held");
  fs::remove_all(home_ / "held");
  fs::remove(ledger());
  const Command relaxed = exec("vaxetl", "run " + kPipelines + "ncvr-daily.yaml --input '" + file.string() + "' --no-progress",
                               "VAXETL_RACE_UNKNOWN_MAX=25 VAXETL_RACE_POPULATED_MIN=70");
  EXPECT_EQ(relaxed.exit_code, 0);
  EXPECT_EQ(parse_runs(relaxed.out)[0]["status"], "succeeded") << relaxed.out;
}

TEST_F(Gate, NoRecordValueReachesALogOrTheOperatorsOutput) {
  // Every name, street and e-mail is a marker token; none may appear outside the error files.
  const std::string markers = "--phi-markers --error-rate 0.05 --race-unknown-rate 0.2 ";
  const fs::path held = generate(markers + "--records 300 --seed 91 --file-time 20261119080000");
  const fs::path corrections = generate(markers + "--corrections --base-records 300 --base-seed 91 --records 40 "
                                        "--seed 92 --file-time 20261120080000");
  std::string printed;
  for (const std::string& command :
       {"run " + kPipelines + "ncvr-daily.yaml --log-format json --input '" + held.string() + "'",
        std::string("resume CAROLINAPHARM"),
        "run " + kPipelines + "ncvr-daily.yaml --dry-run --input '" + corrections.string() + "'",
        std::string("providers --log-format json"), std::string("runs"), std::string("inventory show --discrepancies")}) {
    const Command c = exec("vaxetl", command);
    EXPECT_EQ(c.exit_code, 0) << command;
    printed += c.out;
  }
  EXPECT_EQ(Sqlite(ledger()).scalar("SELECT COUNT(*) FROM runs WHERE status = 'held'"), 1);
  const std::regex marker("PHI[A-Z0-9]{2}[0-9]{7}");
  EXPECT_TRUE(std::regex_search(test::read_file(held), marker)) << "the input carries markers";
  EXPECT_FALSE(std::regex_search(printed, marker)) << "stdout";
  EXPECT_FALSE(std::regex_search(test::read_file(home_ / "stderr.log"), marker)) << "logs";
  std::string ledger_text;
  {
    Sqlite l(ledger());
    ledger_text = l.text("SELECT group_concat(message || gate || input_name, ' ') FROM runs") +
                  l.text("SELECT group_concat(reason, ' ') FROM providers");
  }
  EXPECT_FALSE(ledger_text.empty());
  EXPECT_FALSE(std::regex_search(ledger_text, marker)) << "ledger";
}

}  // namespace
