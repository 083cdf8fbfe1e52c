// What an operator runs, above the runner: a file routed by its North Carolina file name into
// its environment's pipeline, the race/ethnicity gate with provider pause and resume, reruns
// from the ledger, and the providers' status. docs/operations.md is the operator's side.
#pragma once

#include <string>
#include <vector>

#include "ledger.hpp"
#include "pipeline.hpp"
#include "runner.hpp"

namespace vaxetl {

struct FileRunRequest {
  std::string pipeline_path;
  std::string input_path;
  RunOptions options;        // mode, force, batch size, progress, list_changes
  std::string rerun_of;      // the ledger run this one repeats, if any
  bool bypass_gate = false;  // an operator's resume or rerun: load even below the gate (still reported)
};

// Every run one request made: usually one; a paused provider's recovery also loads its held
// files, in the order they came, before the file that recovered it.
struct FileRunResult {
  std::vector<RunOutcome> runs;
  int exit_code = kExitOk;  // the requested file's
};

// Routes (file name -> environment, organization, variables), binds the pipeline for that
// route, and runs it. A name the pipeline's file_names rule refuses is refused whole: the run
// is recorded as rejected, with an error file, and the file is left where it is.
FileRunResult run_file(const FileRunRequest& request, const EnvironmentLookup& env);

// Reruns a ledger run's input (its kept copy for a held run) through the same pipeline, even
// if it was loaded before; records already stored stay unchanged. Throws std::runtime_error
// when the run is unknown or its input is gone or changed.
FileRunResult rerun(const std::string& ledger_path, const std::string& run_id,
                    const RunOptions& options, const EnvironmentLookup& env);

// Marks the provider active again and loads its held files in the order they were received.
// Stops at the first file that does not load and reports it.
FileRunResult resume_provider(const std::string& ledger_path, const std::string& org,
                              const std::string& reason, const RunOptions& options,
                              const EnvironmentLookup& env);

struct ProviderReport {
  ProviderState state;
  std::string stage;  // onboarding stage (nc-rules.md "Environments and test files")
  RaceEthnicityCounts window;
  int64_t held_files = 0;
  std::vector<RunRecord> last_runs;
};
std::vector<ProviderReport> provider_reports(const std::string& ledger_path, int window_days,
                                             int runs_per_provider);

// A pipeline's own settings (ledger, directories, file_names, the gate) before any file is
// routed: a file's run variables stand in with placeholders.
PipelineSpec pipeline_settings(const std::string& pipeline_path, const EnvironmentLookup& env);

// Checks a pipeline for every environment its file_names rule routes to (or once, without).
std::vector<BoundPipeline> bind_for_check(const std::string& pipeline_path, const EnvironmentLookup& env);

}  // namespace vaxetl
