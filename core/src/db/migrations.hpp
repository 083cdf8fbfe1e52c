// Versioned schema migrations for one component (the ledger, the CVMS store, a plugin) in one
// database. A directory holds the component's files for one backend:
//
//   0001_create_runs.sql
//   0002_add_host.sql          NNNN_description.sql, versions 1, 2, 3, ... without gaps
//
// A file may hold several statements. Each pending file runs in its own transaction, in version
// order, and is recorded in vaxetl_schema_migrations(component, version, description, sha256,
// applied_at). Several components share that table, one database each.
//
// Refused, with a MigrationError that names the component and the version:
//   - an applied file whose bytes changed (sha256 differs): never edit a released migration;
//   - a version missing from the files (a gap, or an applied version whose file is gone);
//   - a database newer than the files (an older build against a newer schema).
//
// Two migrators at once (two `vaxetl db migrate`, or two processes opening one store) are
// serialized: a PostgreSQL advisory lock, SQLite's BEGIN IMMEDIATE.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"

namespace Poco::Data {
class Session;
}

namespace vaxetl::db {

struct MigrationStatus {
  int applied = 0;                    // the database's version (highest applied; 0: none)
  int latest = 0;                     // the highest version among the files
  std::vector<std::string> pending;   // file names not applied yet, in order
  std::vector<std::string> newly_applied;  // migrate() only: the files this call applied
};

// A migration problem that an operator must fix (changed file, gap, newer database, a file's SQL
// failed). The message names the component and the version, never a password.
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Applies every pending file of `directory`, each in its own transaction.
MigrationStatus migrate(Poco::Data::Session& session, Backend backend, std::string_view component,
                        const std::filesystem::path& directory);

// Reads the state without changing anything (no table is created). Throws MigrationError for
// the same inconsistencies migrate() refuses.
MigrationStatus migration_status(Poco::Data::Session& session, Backend backend,
                                 std::string_view component, const std::filesystem::path& directory);

// One migration file's text, for components whose files are built into the binary.
struct MigrationFile {
  std::string name;  // NNNN_description.sql
  std::string sql;
};

// The same two operations over files given in memory (e.g. embedded at build time).
MigrationStatus migrate(Poco::Data::Session& session, Backend backend, std::string_view component,
                        const std::vector<MigrationFile>& files);
MigrationStatus migration_status(Poco::Data::Session& session, Backend backend,
                                 std::string_view component, const std::vector<MigrationFile>& files);

// The files of a directory, sorted by name (non-.sql files ignored). Throws MigrationError when
// the directory is missing.
std::vector<MigrationFile> read_migration_files(const std::filesystem::path& directory,
                                                std::string_view component);

}  // namespace vaxetl::db
