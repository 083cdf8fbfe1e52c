// Helpers for the daemon tests: a `vaxetl serve CONFIG` process started and stopped like an
// operator's service manager does, waits on observable state (never on time alone), and the
// run ledger read back with SQLite.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace vaxetl::test {

// A running `vaxetl serve`, killed (SIGKILL) if the test ends without stopping it.
class ServeProcess {
 public:
  ServeProcess(const std::string& config, const std::string& log,
               const std::vector<std::string>& extra_env = {}) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {VAXETL_EXECUTABLE, "serve", config};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (char** e = environ; *e != nullptr; ++e) env_text.emplace_back(*e);
    env_text.insert(env_text.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start vaxetl serve");
  }
  ~ServeProcess() {
    if (pid_ > 0) kill_now();
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }

  // SIGTERM and wait: the exit code (128 + signal when killed by one).
  int stop() { return signal_and_wait(SIGTERM); }
  int kill_now() { return signal_and_wait(SIGKILL); }

  // Still running?
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = 0;
      return false;
    }
    return true;
  }

 private:
  int signal_and_wait(int signal) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_status_;
  }

  pid_t pid_ = 0;
  int exit_status_ = -1;
};

// Waits up to `limit` for `done()`; false when it never became true.
inline bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(90)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// status -> count of ledger runs per input name.
inline std::map<std::string, std::map<std::string, int>> ledger_runs(const std::string& ledger) {
  std::map<std::string, std::map<std::string, int>> runs;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(ledger.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return runs;
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT input_name, status FROM runs", -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      const std::string status = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
      ++runs[name][status];
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return runs;
}

}  // namespace vaxetl::test
