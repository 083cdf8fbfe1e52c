// `vaxetl serve`: HL7 VXU messages sent over MLLP are ACKed, queued durably, loaded into the
// CVMS store in batches, and a SIGTERM stops the daemon cleanly with nothing left unloaded.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "mllp/mllp_client.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
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

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vaxetl-serve-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    port_ = free_port();
    const std::string bin = VAXETL_BIN_DIR;
    const std::string ncvr = (dir_ / "n.txt").string();
    const std::string vxu = (dir_ / "v.hl7").string();
    ASSERT_EQ(std::system((bin + "/ncvr_gen --records 25 --seed 11 --error-rate 0 --warning-rate 0 --output " + ncvr +
                           " > /dev/null").c_str()), 0);
    ASSERT_EQ(std::system((bin + "/vaxetl_convert --to vxu --input " + ncvr + " --output " + vxu + " > /dev/null").c_str()), 0);
    std::ifstream in(vxu, std::ios::binary);
    for (std::string message; std::getline(in, message);)
      if (!message.empty()) messages_.push_back(message);
    pipeline_ = dir_ / "vxu-mllp.yaml";
    std::ofstream(pipeline_) << "name: vxu-mllp-test\n"
                             << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\"]\n"
                             << "ledger: " << (dir_ / "ledger.sqlite").string() << "\n"
                             << "error_dir: " << (dir_ / "errors").string() << "\n"
                             << "mllp:\n  port: " << port_ << "\n  inbox: " << inbox().string()
                             << "\n  spool_dir: " << (dir_ / "spool").string() << "\n  batch_interval_ms: 100\n"
                             << "source:\n  plugin: vxu\n  config:\n    org_code: CAROLINAPHARM\n"
                             << "sink:\n  plugin: cvms_sink\n  config:\n    database: " << store().string() << "\n";
  }
  void TearDown() override {
    if (pid_ > 0) stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path inbox() const { return dir_ / "inbox.sqlite"; }
  fs::path store() const { return dir_ / "cvms.sqlite"; }

  void start() {
    const std::string log = (dir_ / "serve.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {VAXETL_EXECUTABLE, "serve", (config_.empty() ? pipeline_ : config_).string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    // Wait until it accepts connections.
    for (int attempt = 0; attempt < 100; ++attempt) {
      try {
        vaxetl::mllp::MllpClient probe("127.0.0.1", port_);
        return;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    FAIL() << "vaxetl serve did not start listening; see " << log;
  }

  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void send_all() {
    vaxetl::mllp::MllpClient client("127.0.0.1", port_);
    for (std::size_t i = 0; i < messages_.size(); ++i) {
      const std::string ack = client.send(messages_[i]);
      // The converter numbers MSH-10 from 1: every ACK accepts and names its message.
      EXPECT_NE(ack.find("MSA|AA|" + std::to_string(i + 1) + "\r"), std::string::npos) << ack;
    }
  }

  fs::path dir_;
  fs::path pipeline_;
  fs::path config_;  // a daemon configuration to serve instead of the pipeline
  uint16_t port_ = 0;
  pid_t pid_ = 0;
  std::vector<std::string> messages_;
};

TEST_F(ServeTest, AcksQueuesAndLoadsEveryMessageThenStopsCleanlyOnSigterm) {
  ASSERT_EQ(messages_.size(), 25u);
  start();
  send_all();
  EXPECT_EQ(stop(), 0);
  EXPECT_EQ(scalar(inbox(), "SELECT count(*) FROM inbox WHERE state = 'done'"), 25);
  EXPECT_EQ(scalar(store(), "SELECT count(*) FROM vaccinations"), 25);
  EXPECT_EQ(scalar(dir_ / "ledger.sqlite",
                   "SELECT sum(received) - sum(loaded) - sum(rejected) - sum(held) FROM runs"), 0);
}

// The file daemon's configuration runs the same listener (mllp: pipeline) beside its channels.
TEST_F(ServeTest, DaemonConfigurationRunsTheMllpListenerBesideItsChannels) {
  config_ = dir_ / "serve.yaml";
  std::ofstream(config_) << "database: " << (dir_ / "claims.sqlite").string() << "\n"
                         << "work_dir: " << (dir_ / "work").string() << "\n"
                         << "poll_interval: 100ms\n"
                         << "channels:\n  - name: drop\n    kind: folder\n"
                         << "    inbox: " << (dir_ / "drop/in").string() << "\n"
                         << "    outbox: " << (dir_ / "drop/out").string() << "\n"
                         << "pipelines: []\n"
                         << "mllp:\n  pipeline: " << pipeline_.string() << "\n";
  start();
  send_all();
  EXPECT_EQ(stop(), 0);
  EXPECT_EQ(scalar(inbox(), "SELECT count(*) FROM inbox WHERE state = 'done'"), 25);
  EXPECT_EQ(scalar(store(), "SELECT count(*) FROM vaccinations"), 25);
}

TEST_F(ServeTest, MessagesResentToARestartedDaemonAreNotLoadedTwice) {
  start();
  send_all();
  EXPECT_EQ(stop(), 0);
  start();
  send_all();
  EXPECT_EQ(stop(), 0);
  EXPECT_EQ(scalar(inbox(), "SELECT count(*) FROM inbox WHERE state = 'done'"), 50);
  EXPECT_EQ(scalar(store(), "SELECT count(*) FROM vaccinations"), 25);
}

TEST_F(ServeTest, AcksCarryTheValidationResultAeWithErrOrArForAnUnsupportedVersion) {
  start();
  vaxetl::mllp::MllpClient client("127.0.0.1", port_);
  // A non-COVID vaccine: the order group is rejected, the message is AE with an ERR naming RXA-5.
  std::string not_covid = messages_[0];
  const auto cvx_at = not_covid.find("^^CVX");
  ASSERT_NE(cvx_at, std::string::npos);
  const auto cvx_start = not_covid.rfind('|', cvx_at) + 1;
  not_covid.replace(cvx_start, cvx_at - cvx_start, "08");  // hepatitis B, not COVID-19
  const std::string ae = client.send(not_covid);
  EXPECT_NE(ae.find("MSA|AE|1\r"), std::string::npos) << ae;
  EXPECT_NE(ae.find("\rERR||RXA^1^5"), std::string::npos) << ae;
  // HL7 2.3 is not the 2.5.1 profile: AR with table 0357 code 203.
  std::string old_version = messages_[1];
  const auto version_at = old_version.find("|2.5.1|");
  ASSERT_NE(version_at, std::string::npos);
  old_version.replace(version_at, 7, "|2.3|");
  const std::string ar = client.send(old_version);
  EXPECT_NE(ar.find("MSA|AR|2\r"), std::string::npos) << ar;
  EXPECT_NE(ar.find("203"), std::string::npos) << ar;
  EXPECT_EQ(stop(), 0);
  // Both were queued before their ACK, and the loads reject them with the same reasons.
  EXPECT_EQ(scalar(inbox(), "SELECT count(*) FROM inbox"), 2);
  EXPECT_EQ(scalar(store(), "SELECT count(*) FROM vaccinations"), 0);
}

}  // namespace
