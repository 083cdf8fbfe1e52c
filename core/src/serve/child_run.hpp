// One file's run in a child process of its own: `vaxetl run PIPELINE --input FILE` of this
// very program. A plugin that crashes, hangs or leaks takes the child down, never the daemon.
// The child dies with the daemon (PR_SET_PDEATHSIG), so a killed daemon leaves no run behind
// that a restarted one could race; the ledger marks such a run interrupted.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace vaxetl::daemon {

struct ChildResult {
  int exit_code = -1;    // the child's exit status; -1 when it did not exit on its own
  int signal = 0;        // the signal that ended it (0: none)
  bool timed_out = false;  // killed for running longer than the timeout
  // From the child's report (stdout): the requested file's run.
  std::string run_id;
  std::string status;
  std::string error_file;
  std::string message;  // for a run that did not succeed (no PHI: codes, run ids)
  std::int64_t received = 0, loaded = 0, rejected = 0, held = 0;

  bool exited() const noexcept { return exit_code >= 0; }
  // No PHI: exit codes, signals, the run's status.
  std::string describe() const;
};

// The program `vaxetl` itself (/proc/self/exe).
std::filesystem::path self_executable();

// Runs `program args...` with stdout to `report_path` (read back afterwards) and stderr
// inherited, in a process group of its own (a Ctrl-C meant for the daemon does not reach it),
// killed after `timeout`. The daemon's own SIGTERM never reaches it: the file in hand finishes.
ChildResult run_child(const std::filesystem::path& program, const std::vector<std::string>& args,
                      const std::filesystem::path& report_path, std::chrono::milliseconds timeout);

// Reads the fields above from `vaxetl run`'s report (the first run block).
void parse_run_report(const std::string& text, ChildResult& result);

}  // namespace vaxetl::daemon
