// Runs a bound pipeline over one input file: streams batches from the source through the
// transforms into the sink, applies per-record findings, writes the error file, and records
// the run in the ledger. One sink transaction per input: a failure leaves nothing loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "pipeline.hpp"

namespace vaxetl {

// Process exit codes of `vaxetl run` / `validate` (documented in the README).
enum ExitCode : int {
  kExitOk = 0,               // the run completed; some records may have been rejected or held
  kExitUsage = 64,           // bad command line
  kExitPipelineInvalid = 65, // pipeline file, plugin or config problem; no data moved
  kExitInputRejected = 66,   // the input was refused whole (malformed); it is kept
  kExitRunFailed = 70,       // I/O, plugin or store failure; nothing was loaded, rerun the file
  kExitInputMissing = 74,    // the input file cannot be read
};

struct ProgressInfo {
  int64_t records = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  double seconds = 0;
};

// A line about the whole file for the error file (line 0), e.g. the race/ethnicity gate's report.
struct FileNote {
  std::string code;
  vaxetl_severity severity = VAXETL_SEVERITY_WARNING;
  std::string message;  // no PHI
};

// What a pre-commit check decided once every record went through the sink.
struct PreCommitVerdict {
  bool hold = false;          // roll the load back; loadable records count as held
  bool counts_as_clean = true;  // false: this run does not count as a clean onboarding run
  std::string gate;           // verdict summary kept in the ledger
  std::vector<FileNote> notes;
};

struct RunOptions {
  vaxetl_run_mode mode = VAXETL_MODE_LOAD;
  bool force = false;                      // load even if this file's hash was loaded before
  std::optional<uint32_t> batch_size;      // overrides the pipeline's
  std::function<void(const ProgressInfo&)> on_progress;  // called about twice a second
  // Facts about the input known before the run (its route by file name, what it reruns); the
  // runner copies them into the ledger row.
  RunRecord facts;
  // Every record's org_code must be this (the organization in the file name); others are
  // rejected with FILE_ORG_MISMATCH.
  std::optional<std::string> expected_org;
  // Write a per-record list of what the load changed (or, validating, would change).
  bool list_changes = false;
  // Called after the last record went through the sink, before commit, with the counts so far.
  std::function<PreCommitVerdict(const RunRecord&)> before_commit;
};

struct RunOutcome {
  RunRecord record;
  int exit_code = kExitOk;
  std::map<std::string, int64_t> findings_by_code;  // code -> count (no values)
  std::string changes_file;  // with RunOptions::list_changes
};

RunOutcome run_pipeline(const BoundPipeline& pipeline, const std::string& input_path,
                        const RunOptions& options);

}  // namespace vaxetl
