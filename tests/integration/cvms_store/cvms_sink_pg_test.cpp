// The cvms_sink plugin on PostgreSQL through the command line: a generated NCVR file validated
// and loaded by `vaxetl run`, a dry run by `vaxetl validate`, and a forced rerun, each checked
// against the store and the loads row.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "cvms_test_support.hpp"

namespace cvms_test {
namespace {

constexpr const char* kBin = VAXETL_BINARY_DIR "/bin";

class SinkOnPostgresTest : public CvmsStoreTest {
 protected:
  // Runs a command with the test's store, ledger and error directory; returns its exit code.
  int vaxetl(const std::string& args) const {
    const std::string command = "VAXETL_TEST_STORE='" + options_.database + "' VAXETL_TEST_LEDGER='" +
                                (dir_ / "ledger.sqlite").string() + "' VAXETL_TEST_ERRORS='" +
                                (dir_ / "errors").string() + "' " + kBin + "/vaxetl " + args +
                                " >>'" + (dir_ / "log.txt").string() + "' 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string generate(int records, int seed) const {
    const std::string file = (dir_ / ("BENCHCOVID_2026112008000" + std::to_string(seed) +
                                      "_CVMS_PROD_PHI_DIRECT_V1.txt")).string();
    const std::string command = std::string(kBin) + "/ncvr_gen --records " + std::to_string(records) +
                                " --seed " + std::to_string(seed) + " --org BENCH --output '" + file +
                                "' --truth '" + file + ".truth' >/dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0);
    return file;
  }
  std::string pipeline() const {
    const std::string path = (dir_ / "pipeline.yaml").string();
    std::ofstream(path) << "name: cvms-pg-test\n"
                           "ledger: ${VAXETL_TEST_LEDGER}\n"
                           "error_dir: ${VAXETL_TEST_ERRORS}\n"
                           "source:\n  plugin: ncvr\n  version: \"^7.2\"\n"
                           "  config:\n    layout_version: \"7.2\"\n"
                           "sink:\n  plugin: cvms_sink\n  version: \"^1.0\"\n"
                           "  config:\n    database: ${VAXETL_TEST_STORE}\n";
    return path;
  }
};

TEST_P(SinkOnPostgresTest, AFileIsValidatedAndLoadedADryRunWritesNothingAndARerunIsUnchanged) {
  const std::string yaml = pipeline();
  const std::string file = generate(3000, 7);
  ASSERT_EQ(vaxetl("run " + yaml + " --input '" + file + "' --no-progress"), 0);
  const std::int64_t stored = count("vaccinations");
  EXPECT_GT(stored, 2500);  // ncvr_gen rejects about 5% by design
  EXPECT_EQ(text("SELECT records_read || '|' || records_inserted FROM loads"),
            "3000|" + std::to_string(stored));
  EXPECT_EQ(scalar("SELECT records_inserted + records_rejected FROM loads"), 3000);
  EXPECT_GT(count("recipients"), 0);
  EXPECT_GT(scalar("SELECT sum(doses_administered) FROM inventory"), 0);

  const std::string other = generate(500, 8);
  ASSERT_EQ(vaxetl("validate " + yaml + " --input '" + other + "' --no-progress"), 0);
  EXPECT_EQ(count("vaccinations"), stored);
  EXPECT_EQ(count("loads"), 1);

  ASSERT_EQ(vaxetl("run " + yaml + " --input '" + file + "' --no-progress --force"), 0);
  EXPECT_EQ(count("vaccinations"), stored);
  EXPECT_EQ(scalar("SELECT records_unchanged FROM loads ORDER BY load_id DESC LIMIT 1"), stored);
}

TEST_P(SinkOnPostgresTest, VaxetlInventoryReceivesAndShowsOnAPostgresStore) {
  const std::string out = (dir_ / "out.txt").string();
  const auto tool = [&](const std::string& args) {
    const std::string command = "cd '" + dir_.string() + "' && " + kBin + "/vaxetl-inventory " + args + " --store '" +
                                options_.database + "' >'" + out + "' 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  const auto printed = [&] {
    std::ifstream in(out);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  ASSERT_EQ(tool("receive --pin NCA123456 --ndc 80777-0273-99 --lot MOD1 --vials 3"), 0) << printed();
  EXPECT_NE(printed().find("on hand: 30 doses"), std::string::npos) << printed();
  EXPECT_EQ(scalar("SELECT doses_received FROM inventory WHERE lot_number = 'MOD1'"), 30);
  ASSERT_EQ(tool("show --pin NCA123456"), 0) << printed();
  EXPECT_NE(printed().find("MOD1"), std::string::npos) << printed();
  // No directory named after the URL appears where the tool ran.
  EXPECT_FALSE(fs::exists(dir_ / "postgresql:"));
}

CVMS_ON_POSTGRESQL_ONLY(SinkOnPostgresTest);

}  // namespace
}  // namespace cvms_test
