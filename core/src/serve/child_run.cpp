#include "serve/child_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace vaxetl::daemon {

namespace fs = std::filesystem;

namespace {

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  return std::string(text);
}

std::int64_t leading_number(const std::string& text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

std::string ChildResult::describe() const {
  if (timed_out) return "the run took longer than the timeout and was killed";
  if (signal != 0) return std::string("the run crashed (signal ") + std::to_string(signal) + ", " + ::strsignal(signal) + ")";
  std::string text = "the run exited with code " + std::to_string(exit_code);
  if (!status.empty()) text += " (status " + status + (run_id.empty() ? "" : ", run " + run_id) + ")";
  return text;
}

fs::path self_executable() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find this program (/proc/self/exe): " + ec.message());
  return self;
}

ChildResult run_child(const fs::path& program, const std::vector<std::string>& args, const fs::path& report_path,
                      std::chrono::milliseconds timeout) {
  std::vector<std::string> argv_text;
  argv_text.push_back(program.string());
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string report = report_path.string();

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("cannot start a child run: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the daemon died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon blocks SIGTERM for its waiter thread
    const int out = ::open(report.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0 || ::dup2(out, STDOUT_FILENO) < 0) ::_exit(127);
    ::close_range(3, ~0U, 0);  // the daemon's sockets and databases are not the child's
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }

  ChildResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (auto pause = std::chrono::milliseconds(5);; pause = std::min(pause * 2, std::chrono::milliseconds(200))) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);  // the whole group: the child and anything it started
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(pause);
  }
  if (WIFEXITED(status) && !result.timed_out) result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  std::ifstream in(report_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  parse_run_report(text.str(), result);
  return result;
}

void parse_run_report(const std::string& text, ChildResult& result) {
  std::istringstream lines(text);
  bool in_first_block = false;
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    const std::string value = trimmed(std::string_view(line).substr(colon + 1));
    if (key == "run") {
      if (in_first_block) break;  // a resumed provider's held files follow; the first is ours
      in_first_block = true;
      result.run_id = value;
    } else if (!in_first_block) {
      continue;
    } else if (key == "status") {
      result.status = value;
    } else if (key == "message") {
      result.message = value;
    } else if (key == "error file") {
      result.error_file = value;
    } else if (key == "received") {
      result.received = leading_number(value);
    } else if (key == "loaded") {
      result.loaded = leading_number(value);
    } else if (key == "rejected") {
      result.rejected = leading_number(value);
    } else if (key == "held") {
      result.held = leading_number(value);
    }
  }
}

}  // namespace vaxetl::daemon
