#include "operations.hpp"

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "db/database.hpp"
#include "error_file.hpp"
#include "file_digest.hpp"
#include "nc_file_name.hpp"
#include "race_ethnicity_gate.hpp"

namespace vaxetl {

namespace fs = std::filesystem;

namespace {

// Onboarding: a NOPHI NCVR file must hold at least this many records (nc-rules.md).
constexpr int64_t kNoPhiMinimumRecords = 1500;

// A directory that lives for one run (${run.scratch}: the NOPHI throwaway store goes there).
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (fs::temp_directory_path() / "vaxetl-run-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot create a scratch directory under " + fs::temp_directory_path().string());
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

RunVariables route_variables(const nc::FileName& name, const std::string& scratch) {
  return {{"file.org", name.org},
          {"file.environment", nc::to_string(name.environment)},
          {"file.format", nc::to_string(name.format)},
          {"file.version", std::to_string(name.version)},
          {"file.corrections", name.corrections ? "true" : "false"},
          {"file.timestamp", name.timestamp},
          {"run.scratch", scratch}};
}

// Stand-in values for reading a pipeline's own settings before a file is routed.
RunVariables placeholder_variables(const char* environment) {
  return {{"file.org", "ORG"},          {"file.environment", environment},
          {"file.format", "NCVR"},      {"file.version", "1"},
          {"file.corrections", "false"}, {"file.timestamp", "20210101000000"},
          {"run.scratch", (fs::temp_directory_path() / "vaxetl-check").string()}};
}

BoundPipeline bind_spec(const PipelineSpec& spec) {
  PluginRegistry registry(plugin_search_path(spec));
  return bind_pipeline(spec, registry);
}

// A file whose name the pipeline refuses: recorded, answered with an error file, left in place.
FileRunResult refuse_name(const PipelineSpec& spec, const FileRunRequest& request, const std::string& reason) {
  RunOutcome outcome;
  RunRecord& r = outcome.record;
  r.run_id = new_run_id();
  r.pipeline = spec.name;
  r.pipeline_path = fs::absolute(request.pipeline_path).string();
  r.input_path = request.input_path;
  r.input_name = fs::path(request.input_path).filename().string();
  r.input_sha256 = sha256_of_file(request.input_path);
  r.mode = request.options.mode == VAXETL_MODE_VALIDATE ? "validate" : "load";
  r.started_at = utc_timestamp_iso();
  r.pid = static_cast<int64_t>(::getpid());
  r.rerun_of = request.rerun_of;
  r.status = "rejected";
  r.message = "input refused whole, nothing read or loaded; the file is kept where it is: " + reason;
  ErrorFileWriter errors(spec.error_dir, r.input_name, ErrorFileWriter::Kind::Findings,
                        request.options.mode == VAXETL_MODE_VALIDATE ? "validation" : "error");
  errors.add(0, "", 0, "", 'E', "FILE_NAME", reason, "");
  r.error_file = errors.publish();
  r.ended_at = utc_timestamp_iso();
  outcome.findings_by_code["FILE_NAME"] = 1;
  outcome.exit_code = kExitInputRejected;
  Ledger ledger(spec.ledger);
  ledger.start(r);
  ledger.finish(r);
  spdlog::error("run {}: {}", r.run_id, r.message);
  FileRunResult result;
  result.exit_code = outcome.exit_code;
  result.runs.push_back(std::move(outcome));
  return result;
}

// The provider's rolling window starts `days` ago, or at its last resume if that is later.
std::string window_start(const ProviderState& provider, int days) {
  return std::max(utc_timestamp_iso_days_ago(days), provider.window_from);
}

// The race/ethnicity gate and the onboarding checks, judged once every record went through.
PreCommitVerdict judge(const PipelineSpec& spec, const nc::FileName& name, const RunRecord& run,
                       bool bypass_gate, GateVerdict::Action& action) {
  PreCommitVerdict verdict;
  action = GateVerdict::Action::Load;
  if (name.environment == nc::Environment::NoPhi && name.format == nc::FileFormat::Ncvr &&
      run.counts.received < kNoPhiMinimumRecords) {
    verdict.counts_as_clean = false;
    verdict.notes.push_back({"ONBOARDING_TOO_FEW_RECORDS", VAXETL_SEVERITY_WARNING,
                             "an onboarding NOPHI NCVR file must hold at least " +
                                 std::to_string(kNoPhiMinimumRecords) + " records; this one has " +
                                 std::to_string(run.counts.received) +
                                 ", so the run does not count as a clean onboarding run"});
  }
  const RaceEthnicityGateSpec& gate = spec.race_ethnicity_gate;
  if (!gate.enabled || run.race_ethnicity.records == 0) return verdict;
  const bool production = name.environment == nc::Environment::Prod;
  Ledger ledger(spec.ledger);
  const ProviderState provider = ledger.provider(name.org);
  const bool paused = provider.status == "paused";
  RaceEthnicityCounts window = ledger.window(name.org, window_start(provider, gate.window_days), run.input_sha256);
  if (production) window += run.race_ethnicity;
  else window = run.race_ethnicity;
  GateVerdict g = judge_race_ethnicity(gate, run.race_ethnicity, window, production, paused);
  if (bypass_gate && g.action != GateVerdict::Action::Load) {
    g.action = GateVerdict::Action::Load;
    g.summary = "loaded on an operator's resume or rerun; the gate said: " + g.summary;
  }
  action = g.action;
  verdict.gate = g.summary;
  verdict.hold = g.action != GateVerdict::Action::Load;
  if (g.action == GateVerdict::Action::ResumeProvider) {
    verdict.notes.push_back({"RACE_ETHNICITY_GATE", VAXETL_SEVERITY_HOLD,
                             g.summary + ". Automation for " + name.org +
                                 " resumes: its held files load first, in the order they came, then "
                                 "this file in a run of its own, whose error file is the one returned"});
  } else if (verdict.hold) {
    verdict.notes.push_back({"RACE_ETHNICITY_GATE", VAXETL_SEVERITY_HOLD,
                             g.summary + ". The file is held, not loaded and not lost; automation for " +
                                 name.org + " is paused until the rate recovers or an operator resumes it. "
                                 "Send race (field 21) and ethnicity (field 27) for every record; "
                                 "DECLINED where the patient declined to state"});
  } else if (!g.file_passes || !g.window_passes || !g.meets_goal) {
    verdict.notes.push_back({"RACE_ETHNICITY_RATE", VAXETL_SEVERITY_WARNING,
                             g.summary + ". Send race and ethnicity for every record; DECLINED where "
                                         "the patient declined to state"});
  }
  return verdict;
}

}  // namespace

FileRunResult run_file(const FileRunRequest& request, const EnvironmentLookup& env) {
  const PipelineSpec probe = pipeline_settings(request.pipeline_path, env);
  const std::string input_name = fs::path(request.input_path).filename().string();
  std::error_code ec;
  const bool readable = fs::is_regular_file(request.input_path, ec);
  if (!probe.nc_file_names || !readable) {
    // No routing (or nothing to route): the runner reports a missing input itself.
    FileRunResult result;
    const PipelineSpec spec = probe.nc_file_names
                                  ? probe
                                  : parse_pipeline(request.pipeline_path, env);
    RunOptions options = request.options;
    options.facts.pipeline_path = fs::absolute(request.pipeline_path).string();
    options.facts.rerun_of = request.rerun_of;
    result.runs.push_back(run_pipeline(bind_spec(spec), request.input_path, options));
    result.exit_code = result.runs.back().exit_code;
    return result;
  }
  const nc::FileNameResult parsed = nc::parse_file_name(input_name);
  if (!parsed.name) return refuse_name(probe, request, parsed.error);
  const nc::FileName& name = *parsed.name;
  if (!probe.file_format.empty() && probe.file_format != nc::to_string(name.format))
    throw std::invalid_argument("the file name says " + std::string(nc::to_string(name.format)) +
                                " but pipeline " + probe.name + " takes " + probe.file_format +
                                " files; run it with the " + nc::to_string(name.format) + " pipeline");

  ScratchDirectory scratch;
  const PipelineSpec spec =
      parse_pipeline(request.pipeline_path, with_run_variables(env, route_variables(name, scratch.path())));
  const BoundPipeline pipeline = bind_spec(spec);

  RunOptions options = request.options;
  RunRecord& facts = options.facts;
  facts.pipeline_path = fs::absolute(request.pipeline_path).string();
  facts.environment = nc::to_string(name.environment);
  facts.org = name.org;
  facts.format = nc::to_string(name.format);
  facts.file_version = name.version;
  facts.corrections = name.corrections;
  facts.rerun_of = request.rerun_of;
  options.expected_org = name.org;
  GateVerdict::Action action = GateVerdict::Action::Load;
  options.before_commit = [&](const RunRecord& run) {
    return judge(spec, name, run, request.bypass_gate, action);
  };

  FileRunResult result;
  result.runs.push_back(run_pipeline(pipeline, request.input_path, options));
  result.exit_code = result.runs.back().exit_code;
  const RunRecord run = result.runs.back().record;  // a copy: result.runs grows below
  if (request.options.mode != VAXETL_MODE_LOAD || run.status != "held") return result;

  Ledger ledger(spec.ledger);
  if (action == GateVerdict::Action::ResumeProvider) {
    spdlog::info("run {}: {} recovered its race/ethnicity rate; loading its held files in order",
                 run.run_id, name.org);
    RunOptions resume_options = request.options;
    resume_options.list_changes = false;
    FileRunResult resumed = resume_provider(spec.ledger, name.org,
                                            "the race/ethnicity rate recovered (run " + run.run_id + ")",
                                            resume_options, env);
    for (auto& r : resumed.runs) result.runs.push_back(std::move(r));
    return result;
  }
  if (ledger.provider(name.org).status != "paused") {
    ProviderState paused;
    paused.org = name.org;
    paused.status = "paused";
    paused.changed_at = utc_timestamp_iso();
    paused.reason = run.gate;
    paused.run_id = run.run_id;
    ledger.set_provider(paused);
    spdlog::warn("provider {} paused by run {}: {}", name.org, run.run_id, run.gate);
  }
  return result;
}

FileRunResult rerun(const std::string& ledger_path, const std::string& run_id, const RunOptions& options,
                    const EnvironmentLookup& env) {
  Ledger ledger(ledger_path);
  const auto previous = ledger.find(run_id);
  if (!previous)
    throw std::runtime_error("no run " + run_id + " in the ledger " + db::Location::parse(ledger_path).display());
  if (previous->pipeline_path.empty())
    throw std::runtime_error("run " + run_id + " was recorded before reruns were possible (no pipeline path); "
                             "run its input again with vaxetl run --force");
  const std::string input = previous->kept_path.empty() ? previous->input_path : previous->kept_path;
  std::error_code ec;
  if (!fs::is_regular_file(input, ec))
    throw std::runtime_error("the input of run " + run_id + " is no longer at " + input +
                             "; put the file back there or run it again with vaxetl run");
  if (sha256_of_file(input) != previous->input_sha256)
    throw std::runtime_error("the file at " + input + " changed since run " + run_id +
                             " (its sha256 differs); a changed file is a new file: run it with vaxetl run");
  FileRunRequest request;
  request.pipeline_path = previous->pipeline_path;
  request.input_path = input;
  request.options = options;
  request.options.force = true;
  request.rerun_of = run_id;
  request.bypass_gate = true;  // the operator chose to run this file again; the gate still reports
  FileRunResult result = run_file(request, env);
  const RunRecord& rerun_record = result.runs.front().record;
  if (previous->status == "held" && previous->superseded_by.empty() && rerun_record.status == "succeeded")
    ledger.supersede(run_id, rerun_record.run_id);
  return result;
}

FileRunResult resume_provider(const std::string& ledger_path, const std::string& org, const std::string& reason,
                              const RunOptions& options, const EnvironmentLookup& env) {
  FileRunResult result;
  {
    Ledger ledger(ledger_path);
    ProviderState state;
    state.org = org;
    state.status = "active";
    state.changed_at = utc_timestamp_iso();
    state.reason = reason;
    ledger.set_provider(state);
  }
  Ledger ledger(ledger_path);
  for (const RunRecord& held : ledger.held_runs(org)) {
    FileRunRequest request;
    request.pipeline_path = held.pipeline_path;
    request.input_path = held.kept_path;
    request.options = options;
    request.options.force = true;  // the held file's content is in the ledger already
    request.rerun_of = held.run_id;
    request.bypass_gate = true;
    FileRunResult one = run_file(request, env);
    const RunRecord loaded = one.runs.front().record;
    if (loaded.status == "succeeded") ledger.supersede(held.run_id, loaded.run_id);
    for (auto& r : one.runs) result.runs.push_back(std::move(r));
    if (loaded.status != "succeeded") {
      result.exit_code = one.exit_code == kExitOk ? kExitRunFailed : one.exit_code;
      spdlog::error("resume of {} stopped at held run {}: {}", org, held.run_id, loaded.message);
      return result;
    }
  }
  // A fresh window from here: the files just loaded were judged already, and counting them
  // again would pause the provider on its next file.
  ProviderState resumed = ledger.provider(org);
  resumed.window_from = utc_timestamp_iso();
  ledger.set_provider(resumed);
  return result;
}

std::vector<ProviderReport> provider_reports(const std::string& ledger_path, int window_days,
                                             int runs_per_provider) {
  Ledger ledger(ledger_path);
  std::vector<ProviderReport> reports;
  const std::string since = utc_timestamp_iso_days_ago(window_days);
  for (const ProviderState& state : ledger.providers()) {
    ProviderReport report;
    report.state = state;
    report.window = ledger.window(state.org, std::max(since, state.window_from));
    report.held_files = static_cast<int64_t>(ledger.held_runs(state.org).size());
    report.last_runs = ledger.runs_of(state.org, runs_per_provider);
    bool in_production = false;
    std::string format = "NCVR";
    for (const auto& r : ledger.runs_of(state.org, 1000)) {
      if (r.environment == "PROD" && r.mode == "load" && (r.status == "succeeded" || r.status == "held"))
        in_production = true;
    }
    if (!report.last_runs.empty() && !report.last_runs.front().format.empty())
      format = report.last_runs.front().format;
    if (in_production) {
      report.stage = "production";
    } else {
      const int64_t nophi = ledger.clean_runs(state.org, "NOPHI", format);
      const int64_t phi = ledger.clean_runs(state.org, "PHI", format);
      if (nophi < 2)
        report.stage = "testing (clean NOPHI runs " + std::to_string(nophi) + " of 2)";
      else if (phi < 1)
        report.stage = "staging (clean PHI runs 0 of 1)";
      else
        report.stage = "ready for production";
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

PipelineSpec pipeline_settings(const std::string& pipeline_path, const EnvironmentLookup& env) {
  return parse_pipeline(pipeline_path, with_run_variables(env, placeholder_variables("PROD")));
}

std::vector<BoundPipeline> bind_for_check(const std::string& pipeline_path, const EnvironmentLookup& env) {
  std::vector<BoundPipeline> bound;
  const PipelineSpec probe = pipeline_settings(pipeline_path, env);
  if (!probe.nc_file_names) {
    bound.push_back(bind_spec(parse_pipeline(pipeline_path, env)));
    return bound;
  }
  for (const char* environment : {"PROD", "PHI", "NOPHI"})
    bound.push_back(bind_spec(parse_pipeline(pipeline_path, with_run_variables(env, placeholder_variables(environment)))));
  return bound;
}

}  // namespace vaxetl
