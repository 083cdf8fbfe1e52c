// Pipeline files: parsing (with ${VAR} interpolation), binding stages to plugins, validating
// every stage's config against its plugin's field table and the columns stages pass along,
// all before any data moves.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugin_registry.hpp"

namespace vaxetl {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string str() const;
};

// One or more problems in a pipeline, each "file:line:column: message".
class PipelineError : public std::runtime_error {
 public:
  explicit PipelineError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct ConfigValue {
  std::string key;
  std::string value;
  SourceLocation location;
};

struct StageSpec {
  std::string role;  // "source", "transforms[0]", "sink"
  std::string plugin;
  std::string version_constraint;
  std::vector<ConfigValue> config;
  SourceLocation location;
};

// North Carolina's race and ethnicity gate (nc-rules.md), per file and over a rolling window
// per provider. Shares are percentages of a file's vaccination records.
struct RaceEthnicityGateSpec {
  bool enabled = false;         // on when the pipeline has a race_ethnicity_gate section
  double populated_min = 97.0;  // below this a PROD file is held and the provider paused
  double unknown_max = 3.0;     // above this likewise
  double goal_populated = 99.0;   // reported when missed, never held for
  double goal_unknown_max = 1.0;
  int window_days = 30;         // the provider's rolling window
  int64_t min_records = 50;     // smaller files are judged by the window alone
};

struct PipelineSpec {
  std::string path;
  std::string name;
  std::string description;
  std::vector<std::string> plugin_paths;  // resolved against the pipeline file's directory
  uint32_t batch_size = 10000;
  std::string ledger;     // SQLite file of the run ledger
  std::string error_dir;  // where error files are written
  StageSpec source;
  std::vector<StageSpec> transforms;
  StageSpec sink;
  // file_names: nc-cvms requires every input to carry a North Carolina CVMS file name and
  // routes it by environment; "any" (the default) takes any name.
  bool nc_file_names = false;
  std::string file_format;  // NCVR, CVRS or VXU: the file names this pipeline takes (empty: any)
  // environments: PROD/PHI/NOPHI -> key -> value, reachable in stage config as ${env.KEY} for
  // the input's environment (the stores are named here).
  std::map<std::string, std::map<std::string, std::string>> environments;
  RaceEthnicityGateSpec race_ethnicity_gate;
  std::string held_dir;  // where held files are kept until they are resumed
  // `vaxetl serve` settings (optional `mllp:` section), validated where they are used.
  std::vector<ConfigValue> mllp;
  SourceLocation mllp_location;
};

// Looks up an environment variable; injectable for tests.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvironmentLookup process_environment();

// Replaces ${VAR} and ${VAR:-default}; "$$" is a literal "$". Throws std::invalid_argument
// naming the variable when one is unset and has no default.
std::string interpolate(const std::string& text, const EnvironmentLookup& env);

// Run variables a file's route adds to the environment: file.org, file.environment (PROD, PHI,
// NOPHI), file.format, file.version, file.corrections (true/false), file.timestamp, run.scratch
// (a directory that lives for one run). ${env.KEY} reads the pipeline's environments section
// for file.environment.
using RunVariables = std::map<std::string, std::string>;
EnvironmentLookup with_run_variables(EnvironmentLookup base, RunVariables variables);

PipelineSpec parse_pipeline(const std::string& path, const EnvironmentLookup& env);

struct BoundStage {
  StageSpec spec;
  std::shared_ptr<LoadedPlugin> plugin;
  std::vector<std::pair<std::string, std::string>> config;  // validated, defaults applied
};

struct BoundPipeline {
  PipelineSpec spec;
  BoundStage source;
  std::vector<BoundStage> transforms;
  BoundStage sink;
};

// Resolves every stage's plugin, checks kinds, config and column flow. Collects every problem
// it can find before throwing PipelineError.
BoundPipeline bind_pipeline(const PipelineSpec& spec, PluginRegistry& registry);

// A human-readable summary of the bound pipeline; secret config values are masked.
std::string describe(const BoundPipeline& pipeline);

// The search path for this pipeline: its plugin_paths first, then the defaults.
std::vector<std::string> plugin_search_path(const PipelineSpec& spec);

}  // namespace vaxetl
