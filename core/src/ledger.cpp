#include "ledger.hpp"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>

namespace vaxetl {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

std::string utc_timestamp_iso() {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::string new_run_id() {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> dist;
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", dist(device));
  std::string id = "R";
  id += Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y%m%dT%H%M%SZ-");
  id += suffix;
  return id;
}

Ledger::Ledger(const std::string& sqlite_path) {
  Poco::Data::SQLite::Connector::registerConnector();
  const auto parent = std::filesystem::path(sqlite_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  session_ = std::make_unique<Poco::Data::Session>("SQLite", sqlite_path);
  Poco::Data::Session& s = *session_;
  // Several vaxetl processes may share a ledger: wait for locks instead of failing.
  s << "PRAGMA busy_timeout = 30000", now;
  s << "PRAGMA journal_mode = WAL", now;
  s << "CREATE TABLE IF NOT EXISTS runs ("
       " run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, input_path TEXT NOT NULL,"
       " input_name TEXT NOT NULL, input_sha256 TEXT NOT NULL, mode TEXT NOT NULL,"
       " started_at TEXT NOT NULL, ended_at TEXT, received INTEGER NOT NULL DEFAULT 0,"
       " loaded INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,"
       " held INTEGER NOT NULL DEFAULT 0, warnings INTEGER NOT NULL DEFAULT 0,"
       " status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', error_file TEXT NOT NULL DEFAULT '',"
       " pid INTEGER NOT NULL DEFAULT 0)",
      now;
  s << "CREATE INDEX IF NOT EXISTS runs_by_hash ON runs (input_sha256, pipeline, status)", now;
  mark_interrupted_runs();
}

Ledger::~Ledger() = default;

void Ledger::mark_interrupted_runs() {
  std::vector<std::string> ids;
  std::vector<int64_t> pids;
  *session_ << "SELECT run_id, pid FROM runs WHERE status = 'running'", into(ids), into(pids), now;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool alive = pids[i] > 0 && (::kill(static_cast<pid_t>(pids[i]), 0) == 0 || errno == EPERM);
    if (alive) continue;  // still running (possibly this very process)
    std::string message = "the process ended while the run was in progress; nothing was committed";
    std::string id = ids[i];
    *session_ << "UPDATE runs SET status = 'interrupted', message = ? WHERE run_id = ? AND status = 'running'",
        use(message), use(id), now;
  }
}

void Ledger::start(const RunRecord& run) {
  RunRecord r = run;
  *session_ << "INSERT INTO runs (run_id, pipeline, input_path, input_name, input_sha256, mode,"
               " started_at, status, message, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      use(r.run_id), use(r.pipeline), use(r.input_path), use(r.input_name), use(r.input_sha256),
      use(r.mode), use(r.started_at), use(r.status), use(r.message), use(r.pid), now;
}

void Ledger::finish(const RunRecord& run) {
  RunRecord r = run;
  *session_ << "UPDATE runs SET ended_at = ?, received = ?, loaded = ?, rejected = ?, held = ?,"
               " warnings = ?, status = ?, message = ?, error_file = ? WHERE run_id = ?",
      use(r.ended_at), use(r.counts.received), use(r.counts.loaded), use(r.counts.rejected),
      use(r.counts.held), use(r.counts.warnings), use(r.status), use(r.message),
      use(r.error_file), use(r.run_id), now;
}

std::vector<RunRecord> Ledger::query(const std::string& where, const std::string& argument, int limit) {
  Poco::Data::Statement select(*session_);
  std::string arg = argument;
  select << "SELECT run_id, pipeline, input_path, input_name, input_sha256, mode, started_at,"
            " COALESCE(ended_at, ''), received, loaded, rejected, held, warnings, status, message,"
            " error_file, pid FROM runs " + where + " ORDER BY started_at DESC, rowid DESC LIMIT " +
                std::to_string(limit);
  if (where.find('?') != std::string::npos) select, use(arg);
  select.execute();
  Poco::Data::RecordSet rows(select);
  std::vector<RunRecord> result;
  for (std::size_t i = 0; i < rows.rowCount(); ++i) {
    RunRecord r;
    std::size_t c = 0;
    r.run_id = rows.value(c++, i).convert<std::string>();
    r.pipeline = rows.value(c++, i).convert<std::string>();
    r.input_path = rows.value(c++, i).convert<std::string>();
    r.input_name = rows.value(c++, i).convert<std::string>();
    r.input_sha256 = rows.value(c++, i).convert<std::string>();
    r.mode = rows.value(c++, i).convert<std::string>();
    r.started_at = rows.value(c++, i).convert<std::string>();
    r.ended_at = rows.value(c++, i).convert<std::string>();
    r.counts.received = rows.value(c++, i).convert<int64_t>();
    r.counts.loaded = rows.value(c++, i).convert<int64_t>();
    r.counts.rejected = rows.value(c++, i).convert<int64_t>();
    r.counts.held = rows.value(c++, i).convert<int64_t>();
    r.counts.warnings = rows.value(c++, i).convert<int64_t>();
    r.status = rows.value(c++, i).convert<std::string>();
    r.message = rows.value(c++, i).convert<std::string>();
    r.error_file = rows.value(c++, i).convert<std::string>();
    r.pid = rows.value(c++, i).convert<int64_t>();
    result.push_back(std::move(r));
  }
  return result;
}

std::optional<RunRecord> Ledger::successful_load(const std::string& pipeline, const std::string& sha256) {
  // Hash first: the pipeline name is checked on the few rows that share it.
  for (auto& r : query("WHERE input_sha256 = ? AND mode = 'load' AND status = 'succeeded'", sha256, 50))
    if (r.pipeline == pipeline) return r;
  return std::nullopt;
}

std::optional<RunRecord> Ledger::find(const std::string& run_id) {
  auto rows = query("WHERE run_id = ?", run_id, 1);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::vector<RunRecord> Ledger::recent(int limit) {
  mark_interrupted_runs();
  return query("", "", limit);
}

}  // namespace vaxetl
