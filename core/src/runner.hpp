// Runs a bound pipeline over one input file: streams batches from the source through the
// transforms into the sink, applies per-record findings, writes the error file, and records
// the run in the ledger. One sink transaction per input: a failure leaves nothing loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

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

struct RunOptions {
  vaxetl_run_mode mode = VAXETL_MODE_LOAD;
  bool force = false;                      // load even if this file's hash was loaded before
  std::optional<uint32_t> batch_size;      // overrides the pipeline's
  std::function<void(const ProgressInfo&)> on_progress;  // called about twice a second
};

struct RunOutcome {
  RunRecord record;
  int exit_code = kExitOk;
  std::map<std::string, int64_t> findings_by_code;  // code -> count (no values)
};

RunOutcome run_pipeline(const BoundPipeline& pipeline, const std::string& input_path,
                        const RunOptions& options);

}  // namespace vaxetl
