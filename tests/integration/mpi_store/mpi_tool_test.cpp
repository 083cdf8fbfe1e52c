// vaxetl-mpi run as a process, as `vaxetl mpi ...` runs it: output, effects on the index and
// exit codes. Values in the index are marker tokens that must never be printed.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "mpi_test_support.hpp"

namespace mpi_test {
namespace {

namespace fs = std::filesystem;
using mpi::Decision;
using mpi::Field;

constexpr const char* kTool = VAXETL_BINARY_DIR "/bin/vaxetl-mpi";
constexpr const char* kVaxetl = VAXETL_BINARY_DIR "/bin/vaxetl";

struct Result {
  int exit_code = -1;
  std::string out, err;
};

class MpiToolTest : public IndexTest {
 protected:
  virtual Backend backend() const { return Backend::SQLite; }
  void SetUp() override {
    if (backend() == Backend::PostgreSQL) {
      use_postgres();
      if (IsSkipped() || HasFatalFailure()) return;
    }
    auto store = open();
    add_masters(*store, {{1, {{Field::FirstName, "PHIFIRSTONE"}, {Field::LastName, "PHILASTONE"},
                              {Field::BirthDate, "1950-02-03"}}},
                         {2, {{Field::FirstName, "PHIFIRSTTWO"}, {Field::LastName, "PHILASTONE"}}},
                         {3, {{Field::FirstName, "PHIFIRSTTHREE"}}}},
                "R20260102T030405Z-aaaaaaaa");
    store->begin({"R20260102T030405Z-bbbbbbbb", "sha-t"});
    Context linked;
    linked.record_no = 17;
    linked.recipient_id = "MRN-PHIRECIP";
    linked.event_id = "EV-17";
    store->append_decision(linked.view(), result(1, Decision::Linked, 23.4, 1, 3, 4.25));
    Context possible = linked;
    possible.record_no = 18;
    possible.recipient_id = "MRN-OTHER";
    possible.event_id = "EV-18";
    store->append_decision(possible.view(), result(2, Decision::Possible, 9.0, 1));
    store->commit();
  }

  // Runs `program` with `args` (single-quoted) in the test's directory; --index is added
  // unless `default_index`.
  Result run(const std::vector<std::string>& args, bool default_index = false,
             const std::string& vaxetl_home = "", const std::string& program = kTool) const {
    std::string command = "cd '" + dir_.path() + "' && ";
    if (!vaxetl_home.empty()) command += "VAXETL_HOME='" + vaxetl_home + "' ";
    else command += "unset VAXETL_HOME; ";
    command += "USER=tester " + program;
    for (const auto& arg : args) command += " '" + arg + "'";
    if (!default_index) command += " --index '" + location_ + "'";
    command += " >'" + (dir_ / "out.txt") + "' 2>'" + (dir_ / "err.txt") + "'";
    const int status = std::system(command.c_str());
    Result result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = vaxetl::test::read_file(dir_ / "out.txt");
    result.err = vaxetl::test::read_file(dir_ / "err.txt");
    return result;
  }

  static void expect_no_values(const Result& r) {
    for (const char* marker : {"PHIFIRST", "PHILAST", "PHIRECIP", "1950-02-03"}) {
      EXPECT_EQ(r.out.find(marker), std::string::npos) << marker << " in:\n" << r.out;
      EXPECT_EQ(r.err.find(marker), std::string::npos) << marker << " in:\n" << r.err;
    }
  }
};

// The tool's commands on both backends: `vaxetl mpi` works on PostgreSQL unchanged.
class MpiToolBackendTest : public MpiToolTest, public ::testing::WithParamInterface<Backend> {
 protected:
  Backend backend() const override { return GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Backends, MpiToolBackendTest,
                         ::testing::Values(Backend::SQLite, Backend::PostgreSQL), backend_name);

TEST_P(MpiToolBackendTest, ExplainARunRecordShowsTheDecisionFieldByField) {
  const Result r = run({"explain", "R20260102T030405Z-bbbbbbbb:17"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("record R20260102T030405Z-bbbbbbbb:17 (vax_event_id EV-17, org ACMEPHARM)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decision   linked"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mpi_id     MPI0000000001"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("score      23.40 against MPI0000000001 (2 candidates scored)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("runner-up  MPI0000000003 at 4.25"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule       none (the score decided)"), std::string::npos) << r.out;
  const std::string first_level(mpi::level_name(Field::FirstName, 1));
  EXPECT_NE(r.out.find("first_name"), std::string::npos);
  EXPECT_NE(r.out.find(first_level), std::string::npos);
  EXPECT_NE(r.out.find("+9.75"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-2.25"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("email"), std::string::npos) << "every field is listed, missing ones too";
  expect_no_values(r);
}

TEST_P(MpiToolBackendTest, ExplainARecipientListsItsDecisions) {
  const Result r = run({"explain", "ACMEPHARM:MRN-PHIRECIP"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(":17"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(":18"), std::string::npos) << r.out;
  expect_no_values(r);
}

TEST_P(MpiToolBackendTest, ExplainAMasterShowsItsHistoryMergesAndAliases) {
  ASSERT_EQ(run({"merge", "MPI0000000001", "MPI0000000002", "--reason", "same person"}).exit_code, 0);
  const Result r = run({"explain", "MPI0000000001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("master MPI0000000001: active"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("merged in  MPI0000000002"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MPI0000000002 -> MPI0000000001  merged"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("by tester: same person"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first_name 1/2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decisions (2)"), std::string::npos) << r.out;
  const Result retired = run({"explain", "MPI0000000002"});
  ASSERT_EQ(retired.exit_code, 0) << retired.err;
  EXPECT_NE(retired.out.find("retired, merged into MPI0000000001"), std::string::npos) << retired.out;
  expect_no_values(r);
  expect_no_values(retired);
}

TEST_P(MpiToolBackendTest, ExplainRefusesWhatItCannotFind) {
  const Result unknown = run({"explain", "R20990101T000000Z-ffffffff:3"});
  EXPECT_EQ(unknown.exit_code, 65);
  EXPECT_NE(unknown.err.find("RUN_ID:RECORD_NO"), std::string::npos) << unknown.err;
  EXPECT_EQ(run({"explain", "MPI0000000404"}).exit_code, 65);
  EXPECT_EQ(run({"explain", "nonsense"}).exit_code, 64);
  EXPECT_EQ(run({"explain"}).exit_code, 64);
}

TEST_P(MpiToolBackendTest, ReviewListsOpenPossibleMatchesWithTheFieldsThatAgreed) {
  const Result r = run({"review"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("REVIEW  MPI_ID         CANDIDATE      SCORE  RECORD"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MPI0000000002  MPI0000000001   9.00  R20260102T030405Z-bbbbbbbb:18  first_name,birth_date  zip"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("1 open possible match;"), std::string::npos) << r.out;
  expect_no_values(r);

  ASSERT_EQ(run({"dismiss", "1", "--reason", "different people"}).exit_code, 0);
  EXPECT_EQ(run({"review"}).out, "no open possible matches\n");
  const Result all = run({"review", "--all"});
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_NE(all.out.find("dismissed"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("by tester"), std::string::npos) << all.out;
}

TEST_P(MpiToolBackendTest, ReviewShowsTheFirstReviewsUpToTheLimit) {
  {
    auto store = open();
    store->begin({"R20260103T030405Z-cccccccc", "sha-u"});
    for (int i = 0; i < 3; ++i) {
      Context c;
      c.record_no = 100 + i;
      store->append_decision(c.view(), result(3, Decision::Possible, 8.0, 1));
    }
    store->commit();
  }
  const Result limited = run({"review", "--limit", "2"});
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  EXPECT_NE(limited.out.find("the first 2 of 4 shown; --limit 0 lists all"), std::string::npos) << limited.out;
  EXPECT_NE(limited.out.find("4 open possible matches"), std::string::npos) << limited.out;
  EXPECT_EQ(limited.out.find(":101"), std::string::npos) << limited.out;
  const Result all = run({"review", "--limit", "0"});
  EXPECT_NE(all.out.find(":102"), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find("shown;"), std::string::npos) << all.out;
  EXPECT_EQ(run({"review", "--limit", "many"}).exit_code, 64);
}

TEST_P(MpiToolBackendTest, MergeAndUnmergeChangeTheIndexAndRefuseWhatCannotBeDone) {
  const Result merged = run({"merge", "MPI0000000001", "MPI0000000002", "--by", "alice", "--reason", "checked"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_NE(merged.out.find("merged MPI0000000002 into MPI0000000001"), std::string::npos) << merged.out;
  EXPECT_NE(merged.out.find("1 open review closed"), std::string::npos) << merged.out;
  EXPECT_EQ(text("SELECT performed_by FROM operator_actions"), "alice");
  EXPECT_EQ(scalar("SELECT merged_into FROM masters WHERE mpi_id = 2"), 1);

  const Result again = run({"merge", "MPI0000000003", "MPI0000000002"});
  EXPECT_EQ(again.exit_code, 65);
  EXPECT_NE(again.err.find("unmerge it first"), std::string::npos) << again.err;
  const Result wrong = run({"unmerge", "MPI0000000003", "MPI0000000002"});
  EXPECT_EQ(wrong.exit_code, 65);
  EXPECT_NE(wrong.err.find("vaxetl mpi unmerge MPI0000000001 MPI0000000002"), std::string::npos) << wrong.err;
  EXPECT_EQ(run({"merge", "MPI0000000001", "MPI0000000099"}).exit_code, 65);
  EXPECT_EQ(run({"merge", "MPI0000000001", "12"}).exit_code, 64);

  const Result unmerged = run({"unmerge", "MPI0000000001", "MPI0000000002", "--reason", "twins"});
  ASSERT_EQ(unmerged.exit_code, 0) << unmerged.err;
  EXPECT_NE(unmerged.out.find("is active again"), std::string::npos) << unmerged.out;
  EXPECT_EQ(text("SELECT status FROM masters WHERE mpi_id = 2"), "active");
  EXPECT_EQ(text("SELECT performed_by FROM operator_actions WHERE action = 'unmerge'"), "tester");
  EXPECT_EQ(count("operator_actions"), 2);
}

TEST_P(MpiToolBackendTest, DismissRefusesUnknownAndClosedReviews) {
  ASSERT_EQ(run({"dismiss", "1"}).exit_code, 0);
  const Result twice = run({"dismiss", "1"});
  EXPECT_EQ(twice.exit_code, 65);
  EXPECT_NE(twice.err.find("already dismissed"), std::string::npos) << twice.err;
  EXPECT_EQ(run({"dismiss", "42"}).exit_code, 65);
  EXPECT_EQ(run({"dismiss", "first"}).exit_code, 64);
}

TEST_P(MpiToolBackendTest, StatsCountsTheIndex) {
  const Result r = run({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("masters           3 active, 0 retired"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decisions         2: 1 linked, 0 new, 1 possible, 0 reruns"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reviews           1 open"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("built-in defaults"), std::string::npos) << r.out;
}

TEST_F(MpiToolTest, TheIndexDefaultsToVaxetlHomeAndTheCliRunsTheTool) {
  const std::string home = dir_ / "home";
  fs::create_directories(home);
  fs::copy_file(path_, home + "/mpi.sqlite");
  const Result r = run({"stats"}, /*default_index=*/true, home, kVaxetl + std::string(" mpi"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(home + "/mpi.sqlite"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 active"), std::string::npos) << r.out;
  // No index at the default place: refused, with what to do.
  const Result none = run({"stats"}, /*default_index=*/true);
  EXPECT_EQ(none.exit_code, 65);
  EXPECT_NE(none.err.find("there is no MPI index at var/mpi.sqlite"), std::string::npos) << none.err;
  EXPECT_FALSE(fs::exists(dir_ / "var/mpi.sqlite"));
}

TEST_F(MpiToolTest, UsageErrorsExitWith64) {
  EXPECT_EQ(run({}, /*default_index=*/true).exit_code, 64);
  EXPECT_EQ(run({"split"}).exit_code, 64);
  EXPECT_EQ(run({"review", "--colour"}).exit_code, 64);
  EXPECT_EQ(run({"merge", "MPI0000000001"}).exit_code, 64);
  const Result help = run({"--help"}, /*default_index=*/true);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: vaxetl-mpi explain RECORD"), std::string::npos);
}

// A merge with the CVMS store on PostgreSQL moves doses there too: a PostgreSQL URL is a store,
// not a file that might be missing. An unmigrated database shows it was really opened.
class MpiToolOnPostgresTest : public MpiToolTest {
 protected:
  Backend backend() const override { return Backend::PostgreSQL; }
};

TEST_F(MpiToolOnPostgresTest, AMergeUsesAPostgresqlCvmsStoreInsteadOfSkippingIt) {
  vaxetl::test::PgScratchDatabase cvms(pg_admin_);
  const Result r = run({"merge", "MPI0000000001", "MPI0000000002", "--cvms", cvms.url()});
  EXPECT_EQ(r.exit_code, 70) << r.out << r.err;
  EXPECT_NE(r.err.find("vaxetl db migrate"), std::string::npos) << r.err;
  expect_no_values(r);
}

}  // namespace
}  // namespace mpi_test
