// The mpi transform on a PostgreSQL index, through the vaxetl binary, as an operator meets it:
// ncvr -> mpi -> the capturing test sink (tests/integration/mpi_plugin). A run before
// `vaxetl db migrate` is refused with what to do; migrate creates the index; a load, then a
// forced rerun that repeats the first decisions and adds no master. The plugin is the one
// SQLite uses, only `index:` changes; the URL's password never reaches the output.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "mpi_test_support.hpp"

namespace mpi_test {
namespace {

constexpr const char* kBin = VAXETL_BINARY_DIR "/bin";
constexpr const char* kToday = "2026-11-01";
constexpr const char* kInput = "CAROLINAPHARMCOVID_20261101010101_CVMS_PROD_PHI_DIRECT_V1.txt";

class MpiTransformPgTest : public IndexTest {
 protected:
  void SetUp() override {
    use_postgres(/*migrated=*/false);
    if (IsSkipped() || HasFatalFailure()) return;
    std::string url = location_;
    url.insert(url.find('@'), ":pw-in-url");  // loopback trust: accepted, and must stay hidden
    vaxetl::test::write_file(
        dir_ / "pipeline.yaml",
        std::string("name: mpi-pg\n") + "plugin_paths: [\"" + VAXETL_PLUGIN_DIR + "\", \"" +
            VAXETL_BINARY_DIR + "/tests/mpi-fixture-plugins\"]\n" + "ledger: " + (dir_ / "ledger.sqlite") +
            "\nerror_dir: " + (dir_ / "errors") + "\nsource:\n  plugin: ncvr\n  version: \"^7.2\"\n" +
            "  config:\n    as_of_date: \"" + kToday + "\"\n" +
            "transforms:\n  - plugin: mpi\n    config:\n      index: \"" + url + "\"\n" +
            "      learn_min_pairs: 1\n" + "sink:\n  plugin: mpi_capture\n  config:\n    output: " +
            (dir_ / "captured.tsv") + "\n");
    const std::string generate = std::string(kBin) + "/ncvr_gen --records 400 --seed 11 --org CAROLINAPHARM --today " +
                                 kToday + " --error-rate 0 --warning-rate 0 --output '" + (dir_ / kInput) +
                                 "' > /dev/null";
    ASSERT_EQ(std::system(generate.c_str()), 0) << generate;
  }

  // Runs `vaxetl ARGS`; returns its exit code, with stdout and stderr in `output`.
  int vaxetl(const std::string& args, std::string& output) const {
    const std::string command = "cd '" + dir_.path() + "' && " + kBin + "/vaxetl " + args + " > out.txt 2>&1";
    const int status = std::system(command.c_str());
    output = vaxetl::test::read_file(dir_ / "out.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int run(const std::string& extra, std::string& output) const {
    return vaxetl("run pipeline.yaml --input " + std::string(kInput) + " " + extra, output);
  }
};

TEST_F(MpiTransformPgTest, MigratedThenLoadedAndRerun) {
  std::string refused;
  EXPECT_NE(run("", refused), 0) << refused;
  EXPECT_NE(refused.find("run `vaxetl db migrate PIPELINE` first"), std::string::npos) << refused;
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'mpi'"), 0);

  std::string migrated;
  ASSERT_EQ(vaxetl("db migrate pipeline.yaml", migrated), 0) << migrated;
  EXPECT_EQ(scalar("SELECT count(*) FROM public.vaxetl_schema_migrations WHERE component = 'mpi'"), 1);

  std::string output;
  ASSERT_EQ(run("", output), 0) << output;
  EXPECT_EQ(count("decisions"), 400);
  const std::int64_t masters = count("masters");
  EXPECT_GT(masters, 0);
  EXPECT_LE(masters, 400);
  EXPECT_EQ(scalar("SELECT count(*) FROM decisions WHERE decision = 'new'"), masters);
  EXPECT_EQ(count("runs"), 1);
  EXPECT_EQ(count("models"), 1) << "learn_model stored the estimated model";
  EXPECT_NE(output.find("masters in the index"), std::string::npos) << output;

  std::string again;
  ASSERT_EQ(run("--force", again), 0) << again;
  EXPECT_EQ(count("masters"), masters) << "a rerun creates no master";
  EXPECT_EQ(scalar("SELECT count(*) FROM decisions WHERE replay_of IS NOT NULL"), 400);
  EXPECT_EQ(scalar("SELECT count(*) FROM decisions r JOIN decisions o ON o.seq = r.replay_of "
                   "WHERE r.mpi_id <> o.mpi_id"),
            0)
      << "each record keeps its first master";
  EXPECT_NE(again.find("repeat their earlier decision"), std::string::npos) << again;

  for (const std::string* text : {&refused, &migrated, &output, &again}) {
    EXPECT_EQ(text->find("pw-in-url"), std::string::npos) << *text;
    EXPECT_NE(text->find(":***@"), std::string::npos) << *text;
  }
}

}  // namespace
}  // namespace mpi_test
