// Running a program for a benchmark: its output appended to a log, its wall time, exit code and
// peak resident memory. Shared by the benchmarks that time vaxetl against another tool.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace vaxetl::bench {

struct ChildRun {
  bool started = false;
  int exit_code = -1;  // 128 + signal when killed
  double seconds = 0;
  double peak_rss_mib = 0;
};

// Runs argv (looked up on PATH) with stdout and stderr appended to `log`, stdin from `stdin_path`
// when given, and `extra_env` ("NAME=value") ahead of this process's environment.
inline ChildRun run_child(const std::vector<std::string>& argv, const std::string& log,
                          const std::vector<std::string>& extra_env = {},
                          const std::optional<std::string>& stdin_path = std::nullopt) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_path) posix_spawn_file_actions_addopen(&actions, 0, stdin_path->c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage(extra_env);
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_storage) env.push_back(e.data());
  env.push_back(nullptr);

  ChildRun run;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return run;
  run.started = true;
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace vaxetl::bench
