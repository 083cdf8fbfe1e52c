#include "db/migrations.hpp"

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/SHA2Engine.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

namespace vaxetl::db {

namespace {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

constexpr std::string_view kTable = "vaxetl_schema_migrations";

struct Migration {
  int version = 0;
  std::string description;
  std::string name;
  const std::string* sql = nullptr;
  std::string sha256;
};

std::string sha256_hex(std::string_view bytes) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(bytes.data(), static_cast<unsigned>(bytes.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

[[noreturn]] void refuse(std::string_view component, int version, const std::string& problem) {
  throw MigrationError("migration " + std::string(component) + " version " + std::to_string(version) +
                       ": " + problem);
}

// Parses NNNN_description.sql, sorts by version and checks the versions run 1, 2, ... N.
std::vector<Migration> parse_files(std::string_view component, const std::vector<MigrationFile>& files) {
  std::vector<Migration> migrations;
  for (const auto& file : files) {
    const std::string_view name = file.name;
    int version = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), version);
    const auto consumed = static_cast<std::size_t>(end - name.data());
    if (error != std::errc{} || consumed == 0 || consumed >= name.size() || name[consumed] != '_' ||
        name.size() < 4 || name.substr(name.size() - 4) != ".sql" || version <= 0)
      throw MigrationError("migration " + std::string(component) + ": file " + file.name +
                           " is not named NNNN_description.sql");
    Migration migration;
    migration.version = version;
    migration.name = file.name;
    migration.description = std::string(name.substr(consumed + 1, name.size() - 4 - consumed - 1));
    migration.sql = &file.sql;
    migration.sha256 = sha256_hex(file.sql);
    migrations.push_back(std::move(migration));
  }
  std::sort(migrations.begin(), migrations.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    const int expected = static_cast<int>(i) + 1;
    if (migrations[i].version == expected) continue;
    if (migrations[i].version < expected)
      refuse(component, migrations[i].version, "two files carry this version");
    refuse(component, expected, "no file carries this version (the files jump to " +
                                    std::to_string(migrations[i].version) + ")");
  }
  return migrations;
}

// Runs SQL text that may hold several statements, outside Poco's statement layer: SQLite's
// exec and libpq's simple query protocol both take a whole script. Messages carry the server's
// primary text only (no DETAIL, which may quote a row's values).
void execute_script(Poco::Data::Session& session, Backend backend, const std::string& sql) {
  if (backend == Backend::SQLite) {
    sqlite3* handle = Poco::Data::SQLite::Utility::dbHandle(session);
    char* message = nullptr;
    const int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      std::string text = message != nullptr ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      throw std::runtime_error(text);
    }
    return;
  }
  auto* connection = static_cast<PGconn*>(postgres_connection(session));
  if (connection == nullptr) throw std::logic_error("a PostgreSQL location without a PostgreSQL session");
  PGresult* result = PQexec(connection, sql.c_str());
  const auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    std::string text = primary != nullptr ? primary : PQerrorMessage(connection);
    if (state != nullptr) text += std::string(" (SQLSTATE ") + state + ")";
    PQclear(result);
    throw std::runtime_error(text);
  }
  PQclear(result);
}

std::string single_value(Poco::Data::Session& session, Backend backend, const std::string& sql) {
  if (backend == Backend::PostgreSQL) {
    auto* connection = static_cast<PGconn*>(postgres_connection(session));
    PGresult* result = PQexec(connection, sql.c_str());
    std::string value;
    const bool ok = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1;
    if (ok) value = PQgetvalue(result, 0, 0);
    const std::string error = ok ? "" : PQerrorMessage(connection);
    PQclear(result);
    if (!ok) throw std::runtime_error(error);
    return value;
  }
  std::string value;
  session << sql, into(value), now;
  return value;
}

// Serializes migrators on PostgreSQL for the life of the object. The wait is unbounded (a long
// migration elsewhere must finish first), so the session's lock_timeout is lifted meanwhile.
class AdvisoryLock {
 public:
  AdvisoryLock(Poco::Data::Session& session, Backend backend) : session_(session), backend_(backend) {
    if (backend_ != Backend::PostgreSQL) return;
    const std::string timeout = single_value(session_, backend_, "SHOW lock_timeout");
    execute_script(session_, backend_, "SET lock_timeout = 0");
    execute_script(session_, backend_, "SELECT pg_advisory_lock(hashtext('vaxetl_schema_migrations'))");
    execute_script(session_, backend_, "SET lock_timeout = '" + timeout + "'");
  }
  ~AdvisoryLock() {
    if (backend_ != Backend::PostgreSQL) return;
    try {
      execute_script(session_, backend_, "SELECT pg_advisory_unlock(hashtext('vaxetl_schema_migrations'))");
    } catch (...) {
      // The lock goes with the connection anyway.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  Poco::Data::Session& session_;
  Backend backend_;
};

bool table_exists(Poco::Data::Session& session, Backend backend) {
  const std::string sql =
      backend == Backend::SQLite
          ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'vaxetl_schema_migrations'"
          : "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name = 'vaxetl_schema_migrations'";
  return single_value(session, backend, sql) != "0";
}

void create_table(Poco::Data::Session& session, Backend backend) {
  const std::string applied_at = backend == Backend::SQLite
                                     ? "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
                                     : "TIMESTAMPTZ NOT NULL DEFAULT now()";
  execute_script(session, backend,
                 "CREATE TABLE IF NOT EXISTS " + std::string(kTable) +
                     " (component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,"
                     " sha256 TEXT NOT NULL, applied_at " +
                     applied_at + ", PRIMARY KEY (component, version))");
}

std::map<int, std::string> applied_versions(Poco::Data::Session& session, Backend backend,
                                            std::string_view component) {
  std::vector<int> versions;
  std::vector<std::string> digests;
  std::string name(component);
  session << bind_markers(backend, "SELECT version, sha256 FROM vaxetl_schema_migrations "
                                   "WHERE component = ? ORDER BY version"),
      use(name), into(versions), into(digests), now;
  std::map<int, std::string> applied;
  for (std::size_t i = 0; i < versions.size(); ++i) applied.emplace(versions[i], digests[i]);
  return applied;
}

// Compares the database with the files; returns the status (pending = files after the
// database's version) or throws for a changed file, a hole, or a newer database.
MigrationStatus compare(std::string_view component, const std::vector<Migration>& files,
                        const std::map<int, std::string>& applied) {
  MigrationStatus status;
  status.latest = files.empty() ? 0 : files.back().version;
  int expected = 1;
  for (const auto& [version, digest] : applied) {
    if (version > status.latest)
      refuse(component, version,
             "the database is newer than this build's migrations (latest " + std::to_string(status.latest) +
                 "): run a vaxetl at least as new as the one that migrated it");
    if (version != expected)
      refuse(component, expected, "not applied although version " + std::to_string(version) + " is");
    const auto& file = files[static_cast<std::size_t>(version - 1)];
    if (file.sha256 != digest)
      refuse(component, version,
             "file " + file.name + " changed after it was applied (sha256 differs); add a new migration instead");
    ++expected;
  }
  status.applied = expected - 1;
  for (const auto& file : files)
    if (file.version > status.applied) status.pending.push_back(file.name);
  return status;
}

void rollback_quietly(Poco::Data::Session& session, Backend backend) {
  try {
    execute_script(session, backend, "ROLLBACK");
  } catch (...) {
    // No transaction open, or the connection is gone: nothing to undo.
  }
}

std::string begin_statement(Backend backend) {
  return backend == Backend::SQLite ? "BEGIN IMMEDIATE" : "BEGIN";
}

}  // namespace

std::vector<MigrationFile> read_migration_files(const std::filesystem::path& directory,
                                                std::string_view component) {
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error))
    throw MigrationError("migration " + std::string(component) + ": no migrations directory " +
                         directory.string());
  std::vector<MigrationFile> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw MigrationError("migration " + std::string(component) + ": cannot read " + entry.path().string());
    files.push_back({entry.path().filename().string(), text.str()});
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

MigrationStatus migration_status(Poco::Data::Session& session, Backend backend, std::string_view component,
                                 const std::vector<MigrationFile>& files) {
  const auto migrations = parse_files(component, files);
  try {
    const auto applied = table_exists(session, backend) ? applied_versions(session, backend, component)
                                                         : std::map<int, std::string>{};
    return compare(component, migrations, applied);
  } catch (const Poco::Exception& e) {
    throw MigrationError("migration " + std::string(component) + ": cannot read the applied versions: " +
                         e.displayText());
  }
}

MigrationStatus migrate(Poco::Data::Session& session, Backend backend, std::string_view component,
                        const std::vector<MigrationFile>& files) {
  const auto migrations = parse_files(component, files);
  std::string name(component);
  AdvisoryLock lock(session, backend);
  std::vector<std::string> newly_applied;
  int version_in_progress = 0;
  try {
    // Created only when missing: a role without DDL rights can still run an up-to-date store.
    if (!table_exists(session, backend)) {
      execute_script(session, backend, begin_statement(backend));
      create_table(session, backend);
      execute_script(session, backend, "COMMIT");
    }
    // One transaction per file. The state is read again inside each transaction: on SQLite,
    // BEGIN IMMEDIATE is the lock, so another migrator may have moved on in between.
    for (;;) {
      version_in_progress = 0;
      execute_script(session, backend, begin_statement(backend));
      auto status = compare(component, migrations, applied_versions(session, backend, component));
      if (status.pending.empty()) {
        execute_script(session, backend, "COMMIT");
        status.newly_applied = std::move(newly_applied);
        return status;
      }
      const auto& next = migrations[static_cast<std::size_t>(status.applied)];
      version_in_progress = next.version;
      execute_script(session, backend, *next.sql);
      int version = next.version;
      std::string description = next.description;
      std::string digest = next.sha256;
      session << bind_markers(backend, "INSERT INTO vaxetl_schema_migrations (component, version, description, "
                                       "sha256) VALUES (?, ?, ?, ?)"),
          use(name), use(version), use(description), use(digest), now;
      execute_script(session, backend, "COMMIT");
      newly_applied.push_back(next.name);
    }
  } catch (const MigrationError&) {
    rollback_quietly(session, backend);
    throw;
  } catch (const Poco::Exception& e) {
    rollback_quietly(session, backend);
    if (version_in_progress > 0) refuse(component, version_in_progress, e.displayText());
    throw MigrationError("migration " + name + ": " + e.displayText());
  } catch (const std::runtime_error& e) {
    rollback_quietly(session, backend);
    if (version_in_progress > 0) refuse(component, version_in_progress, e.what());
    throw MigrationError("migration " + name + ": " + e.what());
  }
}

MigrationStatus migrate(Poco::Data::Session& session, Backend backend, std::string_view component,
                        const std::filesystem::path& directory) {
  return migrate(session, backend, component, read_migration_files(directory, component));
}

MigrationStatus migration_status(Poco::Data::Session& session, Backend backend, std::string_view component,
                                 const std::filesystem::path& directory) {
  return migration_status(session, backend, component, read_migration_files(directory, component));
}

}  // namespace vaxetl::db
