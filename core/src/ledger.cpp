#include "ledger.hpp"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <set>

namespace vaxetl {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

std::string utc_timestamp_iso() {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::string utc_timestamp_iso_days_ago(int days) {
  Poco::Timestamp t;
  t -= Poco::Timespan(days, 0, 0, 0, 0);
  return Poco::DateTimeFormatter::format(t, "%Y-%m-%dT%H:%M:%S.%iZ");
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

namespace {

// Columns added after the first release: added to an older ledger when it is opened.
struct AddedColumn {
  const char* name;
  const char* definition;
};
constexpr AddedColumn kAddedColumns[] = {
    {"pipeline_path", "TEXT NOT NULL DEFAULT ''"},
    {"environment", "TEXT NOT NULL DEFAULT ''"},
    {"org", "TEXT NOT NULL DEFAULT ''"},
    {"format", "TEXT NOT NULL DEFAULT ''"},
    {"file_version", "INTEGER NOT NULL DEFAULT 0"},
    {"corrections", "INTEGER NOT NULL DEFAULT 0"},
    {"clean", "INTEGER NOT NULL DEFAULT 0"},
    {"race_records", "INTEGER NOT NULL DEFAULT 0"},
    {"race_populated", "INTEGER NOT NULL DEFAULT 0"},
    {"race_unknown", "INTEGER NOT NULL DEFAULT 0"},
    {"added", "INTEGER NOT NULL DEFAULT 0"},
    {"updated", "INTEGER NOT NULL DEFAULT 0"},
    {"voided", "INTEGER NOT NULL DEFAULT 0"},
    {"unchanged", "INTEGER NOT NULL DEFAULT 0"},
    {"gate", "TEXT NOT NULL DEFAULT ''"},
    {"rerun_of", "TEXT NOT NULL DEFAULT ''"},
    {"kept_path", "TEXT NOT NULL DEFAULT ''"},
    {"superseded_by", "TEXT NOT NULL DEFAULT ''"},
};

constexpr const char* kSelectColumns =
    "SELECT run_id, pipeline, input_path, input_name, input_sha256, mode, started_at,"
    " COALESCE(ended_at, ''), received, loaded, rejected, held, warnings, status, message,"
    " error_file, pid, pipeline_path, environment, org, format, file_version, corrections, clean,"
    " race_records, race_populated, race_unknown, added, updated, voided, unchanged, gate,"
    " rerun_of, kept_path, superseded_by FROM runs ";

}  // namespace

Ledger::Ledger(const std::string& sqlite_path) {
  Poco::Data::SQLite::Connector::registerConnector();
  const auto parent = std::filesystem::path(sqlite_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  session_ = std::make_unique<Poco::Data::Session>("SQLite", sqlite_path);
  Poco::Data::Session& s = *session_;
  // Several vaxetl processes may share a ledger: wait for locks instead of failing.
  s << "PRAGMA busy_timeout = 30000", now;
  s << "PRAGMA journal_mode = WAL", now;
  migrate();
  mark_interrupted_runs();
}

Ledger::~Ledger() = default;

void Ledger::migrate() {
  Poco::Data::Session& s = *session_;
  s << "CREATE TABLE IF NOT EXISTS runs ("
       " run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, input_path TEXT NOT NULL,"
       " input_name TEXT NOT NULL, input_sha256 TEXT NOT NULL, mode TEXT NOT NULL,"
       " started_at TEXT NOT NULL, ended_at TEXT, received INTEGER NOT NULL DEFAULT 0,"
       " loaded INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,"
       " held INTEGER NOT NULL DEFAULT 0, warnings INTEGER NOT NULL DEFAULT 0,"
       " status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', error_file TEXT NOT NULL DEFAULT '',"
       " pid INTEGER NOT NULL DEFAULT 0)",
      now;
  std::vector<std::string> names;
  s << "SELECT name FROM pragma_table_info('runs')", into(names), now;
  const std::set<std::string> existing(names.begin(), names.end());
  for (const auto& column : kAddedColumns)
    if (!existing.count(column.name))
      s << "ALTER TABLE runs ADD COLUMN " + std::string(column.name) + " " + column.definition, now;
  s << "CREATE INDEX IF NOT EXISTS runs_by_hash ON runs (input_sha256, pipeline, status)", now;
  s << "CREATE INDEX IF NOT EXISTS runs_by_org ON runs (org, started_at)", now;
  s << "CREATE TABLE IF NOT EXISTS providers ("
       " org TEXT PRIMARY KEY, status TEXT NOT NULL, changed_at TEXT NOT NULL,"
       " reason TEXT NOT NULL DEFAULT '', run_id TEXT NOT NULL DEFAULT '',"
       " window_from TEXT NOT NULL DEFAULT '')",
      now;
}

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
  int64_t corrections = r.corrections ? 1 : 0;
  *session_ << "INSERT INTO runs (run_id, pipeline, input_path, input_name, input_sha256, mode,"
               " started_at, status, message, pid, pipeline_path, environment, org, format,"
               " file_version, corrections, rerun_of)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      use(r.run_id), use(r.pipeline), use(r.input_path), use(r.input_name), use(r.input_sha256),
      use(r.mode), use(r.started_at), use(r.status), use(r.message), use(r.pid),
      use(r.pipeline_path), use(r.environment), use(r.org), use(r.format), use(r.file_version),
      use(corrections), use(r.rerun_of), now;
}

void Ledger::finish(const RunRecord& run) {
  RunRecord r = run;
  int64_t clean = r.clean ? 1 : 0;
  *session_ << "UPDATE runs SET ended_at = ?, received = ?, loaded = ?, rejected = ?, held = ?,"
               " warnings = ?, status = ?, message = ?, error_file = ?, clean = ?,"
               " race_records = ?, race_populated = ?, race_unknown = ?, added = ?, updated = ?,"
               " voided = ?, unchanged = ?, gate = ?, kept_path = ? WHERE run_id = ?",
      use(r.ended_at), use(r.counts.received), use(r.counts.loaded), use(r.counts.rejected),
      use(r.counts.held), use(r.counts.warnings), use(r.status), use(r.message),
      use(r.error_file), use(clean), use(r.race_ethnicity.records), use(r.race_ethnicity.populated),
      use(r.race_ethnicity.unknown), use(r.changes.added), use(r.changes.updated),
      use(r.changes.voided), use(r.changes.unchanged), use(r.gate), use(r.kept_path),
      use(r.run_id), now;
}

std::vector<RunRecord> Ledger::query(const std::string& where, const std::vector<std::string>& arguments,
                                     int limit, bool oldest_first) {
  Poco::Data::Statement select(*session_);
  std::vector<std::string> args = arguments;  // Poco binds by reference
  select << std::string(kSelectColumns) + where +
                (oldest_first ? " ORDER BY started_at ASC, rowid ASC" : " ORDER BY started_at DESC, rowid DESC") +
                " LIMIT " + std::to_string(limit);
  for (auto& a : args) select, use(a);
  select.execute();
  Poco::Data::RecordSet rows(select);
  std::vector<RunRecord> result;
  for (std::size_t i = 0; i < rows.rowCount(); ++i) {
    RunRecord r;
    std::size_t c = 0;
    auto text = [&] { return rows.value(c++, i).convert<std::string>(); };
    auto number = [&] { return rows.value(c++, i).convert<int64_t>(); };
    r.run_id = text();
    r.pipeline = text();
    r.input_path = text();
    r.input_name = text();
    r.input_sha256 = text();
    r.mode = text();
    r.started_at = text();
    r.ended_at = text();
    r.counts.received = number();
    r.counts.loaded = number();
    r.counts.rejected = number();
    r.counts.held = number();
    r.counts.warnings = number();
    r.status = text();
    r.message = text();
    r.error_file = text();
    r.pid = number();
    r.pipeline_path = text();
    r.environment = text();
    r.org = text();
    r.format = text();
    r.file_version = number();
    r.corrections = number() != 0;
    r.clean = number() != 0;
    r.race_ethnicity.records = number();
    r.race_ethnicity.populated = number();
    r.race_ethnicity.unknown = number();
    r.changes.added = number();
    r.changes.updated = number();
    r.changes.voided = number();
    r.changes.unchanged = number();
    r.gate = text();
    r.rerun_of = text();
    r.kept_path = text();
    r.superseded_by = text();
    result.push_back(std::move(r));
  }
  return result;
}

std::optional<RunRecord> Ledger::successful_load(const std::string& pipeline, const std::string& sha256) {
  // Hash first: the pipeline name is checked on the few rows that share it.
  for (auto& r : query("WHERE input_sha256 = ? AND mode = 'load' AND status = 'succeeded'", {sha256}, 50))
    if (r.pipeline == pipeline) return r;
  return std::nullopt;
}

std::optional<RunRecord> Ledger::loaded_or_held(const std::string& pipeline, const std::string& environment,
                                                const std::string& sha256) {
  for (auto& r : query("WHERE input_sha256 = ? AND mode = 'load' AND (status = 'succeeded' OR "
                       "(status = 'held' AND superseded_by = ''))",
                       {sha256}, 50))
    if (r.pipeline == pipeline && r.environment == environment) return r;
  return std::nullopt;
}

std::optional<RunRecord> Ledger::find(const std::string& run_id) {
  auto rows = query("WHERE run_id = ?", {run_id}, 1);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::vector<RunRecord> Ledger::recent(int limit) {
  mark_interrupted_runs();
  return query("", {}, limit);
}

std::vector<RunRecord> Ledger::held_runs(const std::string& org) {
  return query("WHERE org = ? AND status = 'held' AND superseded_by = ''", {org}, 100000, true);
}

void Ledger::supersede(const std::string& held_run_id, const std::string& by_run_id) {
  std::string held = held_run_id;
  std::string by = by_run_id;
  *session_ << "UPDATE runs SET superseded_by = ? WHERE run_id = ?", use(by), use(held), now;
}

std::vector<RunRecord> Ledger::runs_of(const std::string& org, int limit) {
  return query("WHERE org = ?", {org}, limit);
}

RaceEthnicityCounts Ledger::window(const std::string& org, const std::string& since,
                                   const std::string& except_sha256) {
  std::string o = org;
  std::string from = since;
  std::string except = except_sha256;
  RaceEthnicityCounts total;
  // Each content counts once, when it was first judged: a rerun or a resumed held file is not
  // judged again, so it never counts twice nor re-enters a window that a resume restarted.
  *session_ << "SELECT COALESCE(SUM(race_records), 0), COALESCE(SUM(race_populated), 0),"
               " COALESCE(SUM(race_unknown), 0) FROM runs r WHERE r.rowid IN ("
               "  SELECT MIN(rowid) FROM runs WHERE org = ? AND environment = 'PROD'"
               "  AND mode = 'load' AND status IN ('succeeded', 'held') AND input_sha256 <> ?"
               "  GROUP BY input_sha256) AND r.started_at >= ?",
      use(o), use(except), use(from), into(total.records), into(total.populated), into(total.unknown), now;
  return total;
}

int64_t Ledger::clean_runs(const std::string& org, const std::string& environment, const std::string& format) {
  std::string o = org, e = environment, f = format;
  int64_t n = 0;
  *session_ << "SELECT COUNT(DISTINCT input_sha256) FROM runs WHERE org = ? AND environment = ?"
               " AND format = ? AND clean = 1",
      use(o), use(e), use(f), into(n), now;
  return n;
}

ProviderState Ledger::provider(const std::string& org) {
  std::string o = org;
  std::vector<std::string> status, changed_at, reason, run_id, window_from;
  *session_ << "SELECT status, changed_at, reason, run_id, window_from FROM providers WHERE org = ?", use(o),
      into(status), into(changed_at), into(reason), into(run_id), into(window_from), now;
  ProviderState state;
  state.org = org;
  if (!status.empty()) {
    state.status = status[0];
    state.changed_at = changed_at[0];
    state.reason = reason[0];
    state.run_id = run_id[0];
    state.window_from = window_from[0];
  }
  return state;
}

std::vector<ProviderState> Ledger::providers() {
  std::vector<std::string> orgs;
  *session_ << "SELECT org FROM providers UNION SELECT DISTINCT org FROM runs WHERE org <> '' ORDER BY 1",
      into(orgs), now;
  std::vector<ProviderState> result;
  for (const auto& org : orgs) result.push_back(provider(org));
  return result;
}

void Ledger::set_provider(const ProviderState& state) {
  ProviderState s = state;
  *session_ << "INSERT INTO providers (org, status, changed_at, reason, run_id, window_from)"
               " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org) DO UPDATE SET status = excluded.status,"
               " changed_at = excluded.changed_at, reason = excluded.reason, run_id = excluded.run_id,"
               " window_from = excluded.window_from",
      use(s.org), use(s.status), use(s.changed_at), use(s.reason), use(s.run_id), use(s.window_from), now;
}

}  // namespace vaxetl
