// vaxetl-inventory run as a process, as `vaxetl inventory ...` runs it: output, effects on
// the store and exit codes.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cvms_store.hpp"
#include "cvms_test_support.hpp"

namespace {

using namespace cvms_test;

constexpr const char* kTool = VAXETL_BINARY_DIR "/bin/vaxetl-inventory";

struct Result {
  int exit_code = -1;
  std::string out, err;
};

class InventoryToolTest : public CvmsStoreTest {
 protected:
  // Runs the tool in the test's directory with `args` (single-quoted for the shell) and, when
  // given, VAXETL_HOME; `--store` is added unless `default_store`.
  Result run(const std::vector<std::string>& args, bool default_store = false,
             const std::string& vaxetl_home = "") const {
    std::string command = "cd '" + dir_.string() + "' && ";
    if (!vaxetl_home.empty()) command += "VAXETL_HOME='" + vaxetl_home + "' ";
    else command += "unset VAXETL_HOME; ";
    command += kTool;
    for (const auto& arg : args) command += " '" + arg + "'";
    if (!default_store) command += " --store '" + options_.database + "'";
    command += " >'" + (dir_ / "out.txt").string() + "' 2>'" + (dir_ / "err.txt").string() + "'";
    const int status = std::system(command.c_str());
    Result result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = slurp(dir_ / "out.txt");
    result.err = slurp(dir_ / "err.txt");
    return result;
  }
  static std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
};

TEST_P(InventoryToolTest, ReceivePrintsTheDosesAddedAndTheNewOnHand) {
  const Result r = run({"receive", "--pin", "NCA123456", "--ndc", "80777-0273-99", "--lot", "MOD1",
                        "--vials", "3", "--reference", "SHIP-1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("30 doses added"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("on hand: 30 doses"), std::string::npos) << r.out;
  EXPECT_EQ(scalar("SELECT doses_received FROM inventory WHERE lot_number = 'MOD1'"), 30);
  // An 11-digit NDC without hyphens, and --name=value, are accepted.
  const Result again = run({"receive", "--pin=NCA123456", "--ndc=80777027399", "--lot=MOD1", "--vials=1"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("on hand: 40 doses"), std::string::npos) << again.out;
}

TEST_P(InventoryToolTest, ShowPrintsAnAlignedTableAndMarksShortRows) {
  { CvmsStore store(options_); store.receive({.pin = "NCA123456", .ndc = "59267-1000-02", .lot_number = "EW0182", .vials = 1}); }
  load_file("run-1", {state_dose("EV1"), state_dose("EV2").with("lot_number", "FA7484")});
  const Result r = run({"show"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string expected =
      "PIN        NDC            PRODUCT                                    LOT     RECEIVED  ADMINISTERED  ON HAND\n"
      "NCA123456  59267-1000-02  Pfizer-BioNTech (195MDV) COVID-19 Vaccine  EW0182         5             1        4\n"
      "NCA123456  59267-1000-02  Pfizer-BioNTech (195MDV) COVID-19 Vaccine  FA7484         0             1       -1  SHORT\n";
  EXPECT_EQ(r.out, expected);
  const Result other = run({"show", "--pin", "NCA654321"});
  EXPECT_EQ(other.exit_code, 0);
  EXPECT_EQ(other.out, "no state inventory at NCA654321\n");
}

TEST_P(InventoryToolTest, ShowDiscrepanciesListsTheShortKeysWithTheirLoads) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2")});
  const Result r = run({"show", "--discrepancies"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("DOSES SHORT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NCA123456  59267-1000-02"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run-1  ACMEPHARMCOVID_20210315120000_CVMS_PROD_PHI_DIRECT_V1.txt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 location/product/lot key, 2 doses short in total"), std::string::npos) << r.out;
  const Result none = run({"show", "--discrepancies", "--pin", "NCA654321"});
  EXPECT_EQ(none.out, "no inventory discrepancies at NCA654321\n");
}

TEST_P(InventoryToolTest, RefusalsExitWith65AndSayWhatToSendInstead) {
  const Result unit_of_use = run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-01", "--lot", "L", "--vials", "1"});
  EXPECT_EQ(unit_of_use.exit_code, 65);
  EXPECT_NE(unit_of_use.err.find("59267-1000-02 or 59267-1000-03"), std::string::npos) << unit_of_use.err;
  EXPECT_EQ(run({"receive", "--pin", "NCA123456", "--ndc", "12345-6789-01", "--lot", "L", "--vials", "1"}).exit_code, 65);
  EXPECT_EQ(run({"receive", "--pin", "NCA12", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "1"}).exit_code, 65);
  EXPECT_EQ(run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "two"}).exit_code, 65);
  EXPECT_EQ(run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "0"}).exit_code, 65);
  EXPECT_EQ(run({"show", "--pin", "bad"}).exit_code, 65);
  ASSERT_EQ(run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "1",
                 "--reference", "S1"}).exit_code, 0);
  const Result repeat = run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "1",
                             "--reference", "S1"});
  EXPECT_EQ(repeat.exit_code, 65);
  EXPECT_NE(repeat.err.find("already received"), std::string::npos) << repeat.err;
  EXPECT_EQ(count("inventory_receipts"), 1);
}

TEST_P(InventoryToolTest, UsageErrorsExitWith64) {
  EXPECT_EQ(run({}, /*default_store=*/true).exit_code, 64);
  EXPECT_EQ(run({"count"}).exit_code, 64);
  EXPECT_EQ(run({"show", "--colour"}).exit_code, 64);
  const Result missing = run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L"});
  EXPECT_EQ(missing.exit_code, 64);
  EXPECT_NE(missing.err.find("missing --vials"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("usage:"), std::string::npos);
  EXPECT_EQ(run({"receive", "--pin"}, /*default_store=*/true).exit_code, 64);
  const Result help = run({"--help"}, /*default_store=*/true);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("vaxetl-inventory receive"), std::string::npos);
}

TEST_P(InventoryToolTest, StoreFailuresExitWith70) {
  const Result missing = run({"show", "--store", (dir_ / "absent.sqlite").string()}, /*default_store=*/true);
  EXPECT_EQ(missing.exit_code, 70);
  EXPECT_NE(missing.err.find("no CVMS store at"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir_ / "absent.sqlite"));
  std::ofstream(dir_ / "not-a-store.sqlite") << "this is not a SQLite database, it is text long enough "
                                                "to fill SQLite's header of one hundred bytes or so....";
  const Result garbage = run({"show", "--store", (dir_ / "not-a-store.sqlite").string()}, /*default_store=*/true);
  EXPECT_EQ(garbage.exit_code, 70);
  EXPECT_NE(garbage.err.find("not a database"), std::string::npos) << garbage.err;
  const Result no_schema = run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L",
                                "--vials", "1", "--schema", (dir_ / "absent.sql").string()});
  EXPECT_EQ(no_schema.exit_code, 70);
  EXPECT_NE(no_schema.err.find("absent.sql"), std::string::npos) << no_schema.err;
}

TEST_P(InventoryToolTest, TheDefaultStoreIsTheOneThePipelinesUse) {
  const fs::path home = dir_ / "home";
  const Result r = run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "2"},
                       /*default_store=*/true, home.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(home / "cvms.sqlite"));
  // Without VAXETL_HOME: var/ in the working directory.
  EXPECT_EQ(run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "1"},
                /*default_store=*/true).exit_code,
            0);
  EXPECT_TRUE(fs::exists(dir_ / "var" / "cvms.sqlite"));
  const Result shown = run({"show"}, /*default_store=*/true, home.string());
  EXPECT_NE(shown.out.find("       10             0       10"), std::string::npos) << shown.out;
}

TEST_P(InventoryToolTest, VaxetlCvmsStoreNamesTheDefaultStoreAsItDoesForThePipelines) {
  const fs::path home = dir_ / "home";
  const fs::path production = dir_ / "production" / "cvms.sqlite";
  ::setenv("VAXETL_CVMS_STORE", production.c_str(), 1);
  const Result r = run({"receive", "--pin", "NCA123456", "--ndc", "59267-1000-02", "--lot", "L", "--vials", "1"},
                       /*default_store=*/true, home.string());
  ::unsetenv("VAXETL_CVMS_STORE");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(production));
  EXPECT_FALSE(fs::exists(home / "cvms.sqlite"));
}

CVMS_ON_SQLITE_ONLY(InventoryToolTest);

}  // namespace
