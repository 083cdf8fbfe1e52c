// Issue 6, "Done means": generated NCVR files (some records bad) are put on a real SFTP server;
// two `vaxetl serve` daemons share one PostgreSQL (claims, run ledger, CVMS store, patient
// index) and the shipped pipeline, take the files, load them, and put each error file back on
// the server. One daemon is killed with
// SIGKILL while it holds a file and is started again. Every file is loaded exactly once (the
// ledger), every run's counts add up, and the store holds what the runs loaded.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <iostream>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../integration/serve/daemon_support.hpp"
#include "pg_scratch_database.hpp"
#include "serve/claims.hpp"
#include "vaxetl_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using vaxetl::daemon::ClaimState;
using vaxetl::test::ServeProcess;
using vaxetl::test::wait_until;

constexpr int kFiles = 8;
constexpr int kRecordsPerFile = 4000;

// Rows of a query on PostgreSQL, as text. `may_fail`: a table that may not exist yet.
std::vector<std::vector<std::string>> query(const std::string& url, const std::string& sql, bool may_fail = false) {
  std::vector<std::vector<std::string>> rows;
  PGconn* connection = PQconnectdb(url.c_str());
  EXPECT_EQ(PQstatus(connection), CONNECTION_OK) << PQerrorMessage(connection);
  PGresult* result = PQexec(connection, sql.c_str());
  if (!may_fail) {
    EXPECT_EQ(PQresultStatus(result), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(connection);
  }
  for (int r = 0; r < PQntuples(result); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(result); ++c) row.emplace_back(PQgetvalue(result, r, c));
    rows.push_back(std::move(row));
  }
  PQclear(result);
  PQfinish(connection);
  return rows;
}

int run_tool(const std::string& command) { return std::system((command + " > /dev/null 2>&1").c_str()); }

TEST(ServeE2E, TwoDaemonsOverSftpLoadPostgresqlExactlyOnceThroughASigkill) {
  std::string admin, host, port, user, key, known_hosts, root;
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_HOST", host);
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_PORT", port);
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_USER", user);
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_KEY", key);
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_KNOWN_HOSTS", known_hosts);
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_ROOT", root);

  // One server: the claims and the ledger in one database, the CVMS store and the patient
  // index in others, named to the shipped pipeline by its environment overrides.
  vaxetl::test::PgScratchDatabase operations(admin);
  vaxetl::test::PgScratchDatabase cvms(admin);
  vaxetl::test::PgScratchDatabase mpi(admin);

  vaxetl::test::TempDir dir;
  // The provider's drop point on the SFTP server (the server's root is a local directory too).
  std::random_device random;
  const fs::path remote = fs::path(root) / (std::string("serve-e2e-") + std::to_string(::getpid()) + "-" +
                                            std::to_string(random() % 1000000));
  fs::create_directories(remote / "in");
  fs::create_directories(remote / "out");

  // The shipped NCVR pipeline (routed by file name, MPI stage, race/ethnicity gate), its stores
  // on PostgreSQL through the environment, migrated as an operator does.
  const std::string pipeline = std::string(VAXETL_SOURCE_DIR) + "/pipelines/ncvr-daily.yaml";
  const std::vector<std::string> environment = {
      std::string("VAXETL_HOME=") + dir / "home", std::string("VAXETL_LEDGER=") + operations.url(),
      std::string("VAXETL_CVMS_STORE=") + cvms.url(),
      std::string("VAXETL_MPI_INDEX=") + mpi.url()};
  std::string exports;
  for (const auto& e : environment) exports += e + " ";
  ASSERT_EQ(run_tool(exports + VAXETL_EXECUTABLE + " db migrate " + pipeline + " --environment PROD"), 0);
  const std::string config = dir / "serve.yaml";
  vaxetl::test::write_file(config, std::string("database: ") + operations.url() + "\n"
                                   "work_dir: " + dir / "work" + "\n"
                                   "poll_interval: 100ms\n"
                                   "lease: 2s\n"
                                   "run_timeout: 5m\n"
                                   "channels:\n"
                                   "  - name: carolina-sftp\n"
                                   "    kind: sftp\n"
                                   "    host: " + host + "\n"
                                   "    port: " + port + "\n"
                                   "    user: " + user + "\n"
                                   "    private_key: " + key + "\n"
                                   "    known_hosts: " + known_hosts + "\n"
                                   "    inbox: " + (remote / "in").string() + "\n"
                                   "    outbox: " + (remote / "out").string() + "\n"
                                   "pipelines:\n"
                                   "  - " + pipeline + "\n"
                                   "retry: {attempts: 5, backoff: 200ms, max: 2s}\n");

  // Generated files, 5% of records with an error, each provider's own; uploaded whole (a
  // temporary name the channel never lists, then a rename).
  std::vector<std::string> names;
  for (int i = 0; i < kFiles; ++i) {
    const fs::path generated = fs::path(dir.path()) / "generated" / "";
    fs::create_directories(generated);
    const std::string org = std::string("PHARM") + static_cast<char>('A' + i);
    ASSERT_EQ(run_tool(std::string(VAXETL_BINARY_DIR) + "/bin/ncvr_gen --records " + std::to_string(kRecordsPerFile) +
                       " --seed " + std::to_string(100 + i) + " --error-rate 0.05 --race-unknown-rate 0 --org " + org +
                       " --file-time 2026112108" + std::to_string(10 + i) + "00 --truth " +
                       (dir / (std::string("truth-") + org + ".tsv")) + " --output " + generated.string()),
              0);
    for (const auto& entry : fs::directory_iterator(generated)) {
      const std::string name = entry.path().filename().string();
      fs::copy_file(entry.path(), remote / "in" / (std::string(".") + name + ".upload"));
      fs::rename(remote / "in" / (std::string(".") + name + ".upload"), remote / "in" / name);
      fs::remove(entry.path());
      names.push_back(name);
    }
  }
  ASSERT_EQ(names.size(), static_cast<std::size_t>(kFiles));

  auto first = std::make_unique<ServeProcess>(config, dir / "first.log", environment);
  ServeProcess second(config, dir / "second.log", environment);
  const std::string first_pid = std::to_string(first->pid());
  vaxetl::daemon::ClaimStore observer(operations.url(), "e2e-test:0:0");
  // Killed while its child is loading a file: the ledger shows that file's run in progress.
  ASSERT_TRUE(wait_until([&] {
    for (const auto& row : observer.rows("carolina-sftp")) {
      if (row.state != ClaimState::Claimed || row.owner.find(std::string(":") + first_pid + ":") == std::string::npos)
        continue;
      if (!query(operations.url(), "SELECT 1 FROM runs WHERE status = 'running' AND input_name = '" +
                                       row.key.file_name + "'", true).empty())
        return true;
    }
    return false;
  })) << "the first daemon never ran a file; see " << dir / "first.log";
  EXPECT_EQ(first->kill_now(), 128 + SIGKILL);
  first = std::make_unique<ServeProcess>(config, dir / "first-restarted.log", environment);

  ASSERT_TRUE(wait_until([&] { return vaxetl::test::files_in((remote / "in" / "done").string()).size() == names.size(); },
                         std::chrono::seconds(300)))
      << "see " << dir / "first.log" << ", " << dir / "second.log" << ", " << dir / "first-restarted.log";
  EXPECT_EQ(first->stop(), 0);
  EXPECT_EQ(second.stop(), 0);

  // Exactly once: one successful run per file; any other run of it is the killed one.
  const auto runs = query(operations.url(),
                          "SELECT input_name, status, received, loaded, rejected, held FROM runs ORDER BY started_at");
  std::map<std::string, int> succeeded;
  std::int64_t received = 0, loaded = 0, rejected = 0, interrupted = 0;
  for (const auto& r : runs) {
    if (r[1] == "succeeded") {
      ++succeeded[r[0]];
      const std::int64_t got = std::stoll(r[2]);
      EXPECT_EQ(got, std::stoll(r[3]) + std::stoll(r[4]) + std::stoll(r[5])) << r[0];
      EXPECT_EQ(got, kRecordsPerFile) << r[0];
      EXPECT_GT(std::stoll(r[4]), 0) << r[0] << ": the generated errors were not rejected";
      received += got;
      loaded += std::stoll(r[3]);
      rejected += std::stoll(r[4]);
    } else {
      EXPECT_EQ(r[1], "interrupted") << r[0] << " ended " << r[1];
      ++interrupted;
    }
  }
  for (const auto& name : names) EXPECT_EQ(succeeded[name], 1) << name;
  EXPECT_GE(interrupted, 1) << "the SIGKILL did not land during a run";
  EXPECT_EQ(received, static_cast<std::int64_t>(kFiles) * kRecordsPerFile);
  std::cout << kFiles << " files: received " << received << ", loaded " << loaded << ", rejected " << rejected
            << "; runs interrupted by the SIGKILL: " << interrupted << "\n";

  // The store holds each loaded record once.
  const auto stored = query(cvms.url(), "SELECT COUNT(*) FROM vaccinations");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(std::stoll(stored[0][0]), loaded);

  // Every claim done; each error file back on the server, next to nothing else.
  for (const auto& row : observer.rows("carolina-sftp")) EXPECT_EQ(row.state, ClaimState::Done) << row.key.file_name;
  const auto replies = vaxetl::test::files_in((remote / "out").string());
  EXPECT_EQ(replies.size(), names.size());
  for (const auto& name : names) {
    const auto match = std::count_if(replies.begin(), replies.end(), [&](const std::string& reply) {
      return reply.rfind(name + "_", 0) == 0 && reply.size() > name.size() + 10 &&
             reply.substr(reply.size() - 10) == "_error.txt";
    });
    EXPECT_EQ(match, 1) << "no error file back for " << name;
  }
  EXPECT_TRUE(vaxetl::test::files_in((remote / "in" / "processing").string()).empty());
  std::error_code ec;
  fs::remove_all(remote, ec);
}

}  // namespace
