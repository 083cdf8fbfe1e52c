// Where a store lives. Every store setting (a pipeline's `ledger:`, the sink's `database:`, the
// mpi transform's `index:`) is one string that names either a SQLite file, the embedded
// default, or a PostgreSQL database, the production store:
//
//   var/cvms.sqlite                              a SQLite file (created when absent)
//   sqlite:var/cvms.sqlite                       the same, explicitly
//   postgresql://vaxetl@db.internal:5432/cvms    PostgreSQL, a libpq connection URI
//   postgres://...                               the same
//   postgresql:host=db.internal dbname=cvms      PostgreSQL, a libpq key=value string
//
// A password belongs in ~/.pgpass or PGPASSWORD, not in a pipeline; one given in the URL is
// accepted but never shown (display()).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace Poco::Data {
class Session;
}

namespace vaxetl::db {

enum class Backend { SQLite, PostgreSQL };

struct Location {
  Backend backend = Backend::SQLite;
  // The SQLite file path, or the libpq connection string (URI or key=value).
  std::string target;

  // Throws std::invalid_argument for an empty string or a "postgresql:" with nothing after it.
  static Location parse(std::string_view text);

  bool is_postgres() const noexcept { return backend == Backend::PostgreSQL; }
  // For logs and messages: the path, or the URL with any password replaced by "***".
  std::string display() const;
};

// Opens a Poco::Data session on the location. SQLite: creates the file's directory, sets the
// busy timeout, WAL journal. PostgreSQL: connects with the libpq string; the session's
// PGconn is reachable through postgres_connection() for COPY.
// Throws std::runtime_error whose message names the location by display(), never a password.
std::unique_ptr<Poco::Data::Session> open_session(const Location& location, int busy_timeout_ms = 30'000);

// The libpq connection under a PostgreSQL session (a PGconn*, typed void* so this header needs
// no libpq), for COPY and other calls Poco::Data does not offer. nullptr for SQLite.
void* postgres_connection(Poco::Data::Session& session);

// SQL written once with '?' placeholders, rewritten for the backend: PostgreSQL's connector
// binds positional markers, so each '?' outside quotes becomes $1, $2, ...
std::string bind_markers(Backend backend, std::string_view sql);

}  // namespace vaxetl::db
