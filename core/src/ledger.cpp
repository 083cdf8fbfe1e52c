#include "ledger.hpp"

#include "vaxetl/sdk/companion_tool.hpp"

#include <Poco/Data/Session.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>

#include "db/built_in_migrations.hpp"
#include "db/database.hpp"

namespace vaxetl {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

std::string default_ledger_location() { return sdk::vaxetl_store_location("VAXETL_LEDGER", "ledger.sqlite"); }

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

// Columns added to the first release's `runs` before the ledger had migrations: an older SQLite
// ledger gets those it lacks before migration 1 (whose CREATE ... IF NOT EXISTS it then passes).
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
    " rerun_of, kept_path, superseded_by, host FROM runs ";

constexpr std::string_view kComponent = "ledger";

// A ledger written before migrations existed: bring its `runs` to migration 1's shape. In one
// IMMEDIATE transaction, so two processes opening it at once do not both add a column.
void add_columns_of_older_ledger(Poco::Data::Session& session) {
  session << "BEGIN IMMEDIATE", now;
  try {
    std::vector<std::string> names;
    session << "SELECT name FROM pragma_table_info('runs')", into(names), now;
    const std::set<std::string> existing(names.begin(), names.end());
    if (!existing.empty())
      for (const auto& column : kAddedColumns)
        if (!existing.count(column.name))
          session << "ALTER TABLE runs ADD COLUMN " + std::string(column.name) + " " + column.definition, now;
    session << "COMMIT", now;
  } catch (...) {
    session << "ROLLBACK", now;
    throw;
  }
}

// Opens the location and applies the ledger's pending migrations (none pending: no lock, no write).
std::unique_ptr<Poco::Data::Session> open_ledger(const db::Location& location, db::MigrationStatus* status) {
  auto session = db::open_session(location);
  const auto files = db::built_in_migrations(kComponent, location.backend);
  auto current = db::migration_status(*session, location.backend, kComponent, files);
  if (!current.pending.empty()) {
    if (location.backend == db::Backend::SQLite) add_columns_of_older_ledger(*session);
    current = db::migrate(*session, location.backend, kComponent, files);
  }
  if (status != nullptr) *status = current;
  return session;
}

std::string this_host() {
  try {
    return Poco::Environment::nodeName();
  } catch (const Poco::Exception&) {
    return "";
  }
}

}  // namespace

db::MigrationStatus migrate_ledger(const std::string& location) {
  db::MigrationStatus status;
  open_ledger(db::Location::parse(location), &status);
  return status;
}

db::MigrationStatus ledger_schema_status(const std::string& location) {
  const auto parsed = db::Location::parse(location);
  auto session = db::open_session(parsed);
  return db::migration_status(*session, parsed.backend, kComponent,
                              db::built_in_migrations(kComponent, parsed.backend));
}

Ledger::Ledger(const std::string& location) {
  const auto parsed = db::Location::parse(location);
  backend_ = parsed.backend;
  host_ = this_host();
  session_ = open_ledger(parsed, nullptr);
  mark_interrupted_runs();
}

Ledger::~Ledger() = default;

std::string Ledger::sql(std::string_view text) const { return db::bind_markers(backend_, text); }

void Ledger::mark_interrupted_runs() {
  // Only this machine's processes can be judged by pid; runs recorded before hosts were kept
  // (host '') come from a SQLite ledger, which is local.
  std::vector<std::string> ids;
  std::vector<int64_t> pids;
  std::string host = host_;
  *session_ << sql("SELECT run_id, pid FROM runs WHERE status = 'running' AND (host = ? OR host = '')"),
      use(host), into(ids), into(pids), now;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool alive = pids[i] > 0 && (::kill(static_cast<pid_t>(pids[i]), 0) == 0 || errno == EPERM);
    if (alive) continue;  // still running (possibly this very process)
    std::string message = "the process ended while the run was in progress; nothing was committed";
    std::string id = ids[i];
    *session_ << sql("UPDATE runs SET status = 'interrupted', message = ? WHERE run_id = ? AND status = 'running'"),
        use(message), use(id), now;
  }
}

void Ledger::start(const RunRecord& run) {
  RunRecord r = run;
  int64_t corrections = r.corrections ? 1 : 0;
  if (r.host.empty()) r.host = host_;
  *session_ << sql("INSERT INTO runs (run_id, pipeline, input_path, input_name, input_sha256, mode,"
                   " started_at, status, message, pid, pipeline_path, environment, org, format,"
                   " file_version, corrections, rerun_of, host)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      use(r.run_id), use(r.pipeline), use(r.input_path), use(r.input_name), use(r.input_sha256),
      use(r.mode), use(r.started_at), use(r.status), use(r.message), use(r.pid),
      use(r.pipeline_path), use(r.environment), use(r.org), use(r.format), use(r.file_version),
      use(corrections), use(r.rerun_of), use(r.host), now;
}

void Ledger::finish(const RunRecord& run) {
  RunRecord r = run;
  int64_t clean = r.clean ? 1 : 0;
  // The row and its findings together: /metrics never sees a finished run without its codes.
  session_->begin();
  try {
    *session_ << sql("UPDATE runs SET ended_at = ?, received = ?, loaded = ?, rejected = ?, held = ?,"
                     " warnings = ?, status = ?, message = ?, error_file = ?, clean = ?,"
                     " race_records = ?, race_populated = ?, race_unknown = ?, added = ?, updated = ?,"
                     " voided = ?, unchanged = ?, gate = ?, kept_path = ? WHERE run_id = ?"),
        use(r.ended_at), use(r.counts.received), use(r.counts.loaded), use(r.counts.rejected),
        use(r.counts.held), use(r.counts.warnings), use(r.status), use(r.message),
        use(r.error_file), use(clean), use(r.race_ethnicity.records), use(r.race_ethnicity.populated),
        use(r.race_ethnicity.unknown), use(r.changes.added), use(r.changes.updated),
        use(r.changes.voided), use(r.changes.unchanged), use(r.gate), use(r.kept_path),
        use(r.run_id), now;
    *session_ << sql("DELETE FROM run_findings WHERE run_id = ?"), use(r.run_id), now;
    for (const auto& [code, count] : r.findings_by_code) {
      std::string c = code;
      int64_t n = count;
      *session_ << sql("INSERT INTO run_findings (run_id, code, count) VALUES (?, ?, ?)"), use(r.run_id), use(c),
          use(n), now;
    }
    session_->commit();
  } catch (...) {
    session_->rollback();
    throw;
  }
}

std::vector<RunRecord> Ledger::query(const std::string& where, const std::vector<std::string>& arguments,
                                     int limit, bool oldest_first) {
  Poco::Data::Statement select(*session_);
  std::vector<std::string> args = arguments;  // Poco binds by reference
  select << sql(std::string(kSelectColumns) + where) +
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
    r.host = text();
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
  *session_ << sql("UPDATE runs SET superseded_by = ? WHERE run_id = ?"), use(by), use(held), now;
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
  // CAST: PostgreSQL sums BIGINT into NUMERIC.
  *session_ << sql("SELECT CAST(COALESCE(SUM(race_records), 0) AS BIGINT),"
                   " CAST(COALESCE(SUM(race_populated), 0) AS BIGINT),"
                   " CAST(COALESCE(SUM(race_unknown), 0) AS BIGINT) FROM runs r WHERE r.rowid IN ("
                   "  SELECT MIN(rowid) FROM runs WHERE org = ? AND environment = 'PROD'"
                   "  AND mode = 'load' AND status IN ('succeeded', 'held') AND input_sha256 <> ?"
                   "  GROUP BY input_sha256) AND r.started_at >= ?"),
      use(o), use(except), use(from), into(total.records), into(total.populated), into(total.unknown), now;
  return total;
}

int64_t Ledger::clean_runs(const std::string& org, const std::string& environment, const std::string& format) {
  std::string o = org, e = environment, f = format;
  int64_t n = 0;
  *session_ << sql("SELECT CAST(COUNT(DISTINCT input_sha256) AS BIGINT) FROM runs WHERE org = ?"
                   " AND environment = ? AND format = ? AND clean = 1"),
      use(o), use(e), use(f), into(n), now;
  return n;
}

ProviderState Ledger::provider(const std::string& org) {
  std::string o = org;
  std::vector<std::string> status, changed_at, reason, run_id, window_from;
  *session_ << sql("SELECT status, changed_at, reason, run_id, window_from FROM providers WHERE org = ?"), use(o),
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
  *session_ << sql("INSERT INTO providers (org, status, changed_at, reason, run_id, window_from)"
                   " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org) DO UPDATE SET status = excluded.status,"
                   " changed_at = excluded.changed_at, reason = excluded.reason, run_id = excluded.run_id,"
                   " window_from = excluded.window_from"),
      use(s.org), use(s.status), use(s.changed_at), use(s.reason), use(s.run_id), use(s.window_from), now;
}

std::vector<FindingTotal> Ledger::finding_totals(const std::string& since) {
  std::string from = since;
  std::vector<std::string> orgs, codes;
  std::vector<int64_t> counts;
  *session_ << sql("SELECT r.org, f.code, CAST(SUM(f.count) AS BIGINT) FROM run_findings f"
                   " JOIN runs r ON r.run_id = f.run_id WHERE r.mode <> 'validate' AND r.started_at >= ?"
                   " GROUP BY r.org, f.code ORDER BY r.org, f.code"),
      use(from), into(orgs), into(codes), into(counts), now;
  std::vector<FindingTotal> totals;
  for (std::size_t i = 0; i < orgs.size(); ++i) totals.push_back({orgs[i], codes[i], counts[i]});
  return totals;
}

std::map<std::string, int64_t> Ledger::finding_totals_by_code(const std::string& since) {
  std::map<std::string, int64_t> totals;
  for (const auto& total : finding_totals(since)) totals[total.code] += total.count;
  return totals;
}

}  // namespace vaxetl
