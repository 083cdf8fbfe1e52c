// `vaxetl db migrate|status PIPELINE`: every store a pipeline writes, for each environment it is
// bound for, with its schema migrations. The stores are the ledger (component "ledger", built
// into vaxetl) and every stage config value of type VAXETL_CONFIG_STORE (ABI 1.2; component =
// the plugin's name, files in <plugin data dir>/migrations/{sqlite,postgresql}/).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "db/migrations.hpp"
#include "pipeline.hpp"

namespace vaxetl::db {

struct StoreMigration {
  std::string environment;  // PROD, PHI, NOPHI; "" for the ledger and a pipeline without environments
  std::string store;        // "ledger" or "<stage role>.<config key>", e.g. "sink.database"
  std::string component;    // "ledger" or the plugin's name
  std::string location;     // for display: a PostgreSQL URL without its password
  MigrationStatus status;
  std::string skipped;      // why this store was left alone (empty: it was migrated or read)
  std::string error;        // what stopped it (MigrationError or connection); empty when fine
  bool refused = false;     // error is a MigrationError (changed file, gap, newer database, failed file)
  bool absent = false;      // status: a SQLite file not created yet (every migration pending)
};

// Binds the pipeline for `environment` (default: every environment of its `environments:`;
// none when it has no such section) and migrates (apply) or reads the state of each store, each
// once. A store under ${run.scratch} lives for one run and is skipped. Throws PipelineError for
// an invalid pipeline and std::invalid_argument for an environment the pipeline does not name.
std::vector<StoreMigration> pipeline_store_migrations(const std::string& pipeline_path,
                                                      const std::optional<std::string>& environment, bool apply,
                                                      const EnvironmentLookup& env);

}  // namespace vaxetl::db
