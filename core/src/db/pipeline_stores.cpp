#include "db/pipeline_stores.hpp"

#include <Poco/Data/Session.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <stdexcept>

#include "db/database.hpp"
#include "ledger.hpp"
#include "plugin_registry.hpp"

namespace vaxetl::db {

namespace fs = std::filesystem;

namespace {

// Stands in for ${run.scratch}: never created, only recognized in a store's location.
std::string scratch_marker() {
  return (fs::temp_directory_path() / ("vaxetl-db-run-scratch-" + std::to_string(::getpid()))).string();
}

RunVariables variables_for(const std::string& environment, const std::string& scratch) {
  return {{"file.org", "ORG"},           {"file.environment", environment},
          {"file.format", "NCVR"},       {"file.version", "1"},
          {"file.corrections", "false"}, {"file.timestamp", "20210101000000"},
          {"run.scratch", scratch}};
}

const char* backend_folder(Backend backend) { return backend == Backend::PostgreSQL ? "postgresql" : "sqlite"; }

// A SQLite file that does not exist yet: `db status` reports it instead of creating it.
bool absent_sqlite(const Location& location) {
  std::error_code ec;
  return location.backend == Backend::SQLite && !fs::exists(location.target, ec);
}

// read_it reads the state at a location: for a SQLite file not created yet, an empty in-memory
// database stands in, so every file shows as pending and nothing is created.
void run_one(StoreMigration& entry, const Location& location, bool apply,
             const std::function<MigrationStatus()>& migrate_it,
             const std::function<MigrationStatus(const Location&)>& read_it) {
  try {
    if (apply) {
      entry.status = migrate_it();
      return;
    }
    entry.absent = absent_sqlite(location);
    entry.status = read_it(entry.absent ? Location::parse(":memory:") : location);
  } catch (const MigrationError& e) {
    entry.error = e.what();
    entry.refused = true;
  } catch (const std::exception& e) {
    entry.error = e.what();
  }
}

}  // namespace

std::vector<StoreMigration> pipeline_store_migrations(const std::string& pipeline_path,
                                                      const std::optional<std::string>& environment, bool apply,
                                                      const EnvironmentLookup& env) {
  const std::string scratch = scratch_marker();
  // The pipeline's own settings first: which environments it routes to.
  const PipelineSpec probe = parse_pipeline(pipeline_path, with_run_variables(env, variables_for("PROD", scratch)));
  std::vector<std::string> environments;
  for (const char* name : {"PROD", "PHI", "NOPHI"})
    if (probe.environments.count(name)) environments.push_back(name);
  if (environment) {
    if (std::find(environments.begin(), environments.end(), *environment) == environments.end()) {
      std::string known;
      for (const auto& n : environments) known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument("pipeline " + probe.name + " has no environment " + *environment +
                                  (known.empty() ? std::string(" (it has no environments: section)") : "; it has " + known));
    }
    environments = {*environment};
  }
  if (environments.empty()) environments.push_back("");

  std::vector<StoreMigration> result;
  std::set<std::pair<std::string, std::string>> seen;  // (component, target): each store once
  for (const auto& name : environments) {
    const PipelineSpec spec =
        name.empty() ? parse_pipeline(pipeline_path, env)
                     : parse_pipeline(pipeline_path, with_run_variables(env, variables_for(name, scratch)));
    PluginRegistry registry(plugin_search_path(spec));
    const BoundPipeline bound = bind_pipeline(spec, registry);

    const Location ledger = Location::parse(spec.ledger);
    if (seen.insert({"ledger", ledger.target}).second) {
      StoreMigration entry{"", "ledger", "ledger", ledger.display(), {}, "", "", false};
      run_one(
          entry, ledger, apply, [&] { return migrate_ledger(spec.ledger); },
          [&](const Location& at) { return ledger_schema_status(at.backend == Backend::SQLite ? at.target : spec.ledger); });
      result.push_back(std::move(entry));
    }

    std::vector<const BoundStage*> stages{&bound.source};
    for (const auto& transform : bound.transforms) stages.push_back(&transform);
    stages.push_back(&bound.sink);
    for (const BoundStage* stage : stages) {
      const LoadedPlugin& plugin = *stage->plugin;
      for (const auto& [key, value] : stage->config) {
        const auto field = std::find_if(plugin.config_fields.begin(), plugin.config_fields.end(),
                                        [&](const ConfigFieldSpec& f) { return f.name == key; });
        if (field == plugin.config_fields.end() || field->type != VAXETL_CONFIG_STORE || value.empty()) continue;
        const Location location = Location::parse(value);
        if (!seen.insert({plugin.name, location.target}).second) continue;
        StoreMigration entry{name, stage->spec.role + "." + key, plugin.name, location.display(), {}, "", "", false};
        if (location.target.rfind(scratch, 0) == 0) {
          entry.location = "${run.scratch}" + location.target.substr(scratch.size());
          entry.skipped = "a store of one run, created by the run";
          result.push_back(std::move(entry));
          continue;
        }
        const fs::path directory = fs::path(plugin.directory) / (plugin.name + "-" + plugin.version.str()) /
                                   "migrations" / backend_folder(location.backend);
        std::error_code ec;
        if (!fs::is_directory(directory, ec)) {
          entry.skipped = std::string("the plugin ships no ") + backend_folder(location.backend) + " migrations";
          result.push_back(std::move(entry));
          continue;
        }
        const auto component = plugin.name;
        run_one(
            entry, location, apply,
            [&] {
              auto session = open_session(location);
              return migrate(*session, location.backend, component, directory);
            },
            [&](const Location& at) {
              auto session = open_session(at);
              return migration_status(*session, at.backend, component, directory);
            });
        result.push_back(std::move(entry));
      }
    }
  }
  return result;
}

}  // namespace vaxetl::db
