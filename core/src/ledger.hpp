// The run ledger: one row per run of a pipeline over an input file, in SQLite (the embedded
// default) or PostgreSQL (shared by several machines), through Poco::Data. It answers "was this
// file already loaded?" and "what happened to it?". Its schema is the migration files of
// core/migrations/ledger/, built into the binary.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/migrations.hpp"

namespace Poco::Data {
class Session;
}

namespace vaxetl {

struct RunCounts {
  int64_t received = 0;
  int64_t loaded = 0;
  int64_t rejected = 0;
  int64_t held = 0;
  int64_t warnings = 0;  // findings of severity W (records with warnings still load)
  bool add_up() const noexcept { return received == loaded + rejected + held; }
};

// Records of a file counted for the race and ethnicity gate (vaccination records only).
struct RaceEthnicityCounts {
  int64_t records = 0;
  int64_t populated = 0;  // race and ethnicity both a code or DECLINED
  int64_t unknown = 0;    // race or ethnicity UNK
  RaceEthnicityCounts& operator+=(const RaceEthnicityCounts& o) noexcept {
    records += o.records;
    populated += o.populated;
    unknown += o.unknown;
    return *this;
  }
};

// What the sink did with the loaded records (or would have, in a dry run).
struct ChangeCounts {
  int64_t added = 0;
  int64_t updated = 0;
  int64_t voided = 0;
  int64_t unchanged = 0;
};

struct RunRecord {
  std::string run_id;
  std::string pipeline;
  std::string input_path;
  std::string input_name;
  std::string input_sha256;
  std::string mode;  // load | validate
  std::string started_at;  // ISO 8601 UTC
  std::string ended_at;
  RunCounts counts;
  // running | succeeded | validated | rejected (input refused whole) | failed | skipped |
  // interrupted (the process died while running)
  std::string status;
  std::string message;  // no PHI: counts, codes, file names
  std::string error_file;
  int64_t pid = 0;
  std::string host;  // the machine whose process `pid` ran it (set by start() when empty)
  // Routing by North Carolina file name; empty/0 when the pipeline takes any name.
  std::string pipeline_path;  // absolute, so `vaxetl rerun` finds it again
  std::string environment;    // PROD | PHI | NOPHI
  std::string org;            // ORGNAME of the file name
  std::string format;         // NCVR | CVRS | VXU
  int64_t file_version = 0;
  bool corrections = false;
  bool clean = false;         // loaded with nothing rejected or held (onboarding counts these)
  RaceEthnicityCounts race_ethnicity;
  ChangeCounts changes;
  std::string gate;           // the race/ethnicity gate's verdict (no PHI)
  std::string rerun_of;       // the run this one reran or resumed
  std::string kept_path;      // a held input's kept copy
  std::string superseded_by;  // the run that later loaded this held input
  // Findings per code (no values), written by finish() into run_findings.
  std::map<std::string, int64_t> findings_by_code;
};

// Findings of one code summed over runs, per provider (org "" for runs outside routing).
struct FindingTotal {
  std::string org;
  std::string code;
  int64_t count = 0;
};

// A provider's automation state (the race and ethnicity gate pauses it).
struct ProviderState {
  std::string org;
  std::string status = "active";  // active | paused
  std::string changed_at;
  std::string reason;             // why paused, or how it was resumed (no PHI)
  std::string run_id;             // the run that paused or resumed it
  // The race/ethnicity window starts no earlier than this (ISO; empty: no limit). A resume
  // starts a fresh window, so the files it loaded do not pause the provider again.
  std::string window_from;
};

class Ledger {
 public:
  // `location`: a SQLite path or a PostgreSQL URL (db::Location). Opening applies the ledger's
  // pending migrations, so an older SQLite ledger keeps working.
  explicit Ledger(const std::string& location);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  void start(const RunRecord& run);
  void finish(const RunRecord& run);
  // The most recent run of `pipeline` that loaded a file with this hash, if any.
  std::optional<RunRecord> successful_load(const std::string& pipeline, const std::string& sha256);
  std::optional<RunRecord> find(const std::string& run_id);
  std::vector<RunRecord> recent(int limit);

  // A load of this content for this pipeline and environment that succeeded, or is held (the
  // file is already in hand), if any.
  std::optional<RunRecord> loaded_or_held(const std::string& pipeline, const std::string& environment,
                                          const std::string& sha256);
  // Held runs of `org` not yet loaded by a later run, oldest first.
  std::vector<RunRecord> held_runs(const std::string& org);
  void supersede(const std::string& held_run_id, const std::string& by_run_id);
  // The provider's recent runs (any environment), newest first.
  std::vector<RunRecord> runs_of(const std::string& org, int limit);
  // Race/ethnicity counts of the provider's PROD files first judged (loaded or held) at or
  // after `since` (ISO), each content once. `except_sha256`: the file being judged, which the
  // caller counts itself.
  RaceEthnicityCounts window(const std::string& org, const std::string& since,
                             const std::string& except_sha256 = "");
  // Clean runs of `org` per environment and format, for onboarding.
  int64_t clean_runs(const std::string& org, const std::string& environment, const std::string& format);

  ProviderState provider(const std::string& org);  // "active" when never seen
  std::vector<ProviderState> providers();  // every org with a run or a state
  void set_provider(const ProviderState& state);

  // Findings recorded at finish, per provider and code, of runs started at or after `since`
  // (ISO; empty: all). Validations are left out: they load nothing.
  std::vector<FindingTotal> finding_totals(const std::string& since = "");
  // The same summed over providers: code -> count.
  std::map<std::string, int64_t> finding_totals_by_code(const std::string& since = "");

 private:
  void mark_interrupted_runs();
  std::string sql(std::string_view text) const;  // '?' markers for the backend
  std::vector<RunRecord> query(const std::string& where, const std::vector<std::string>& arguments,
                               int limit, bool oldest_first = false);

  std::unique_ptr<Poco::Data::Session> session_;
  db::Backend backend_ = db::Backend::SQLite;
  std::string host_;
};

// `vaxetl db migrate|status` for a ledger location: the ledger component's migrations.
db::MigrationStatus migrate_ledger(const std::string& location);
db::MigrationStatus ledger_schema_status(const std::string& location);

// The ledger the shipped pipelines use when nothing names one: $VAXETL_LEDGER (a SQLite path
// or a PostgreSQL URL), else ${VAXETL_HOME:-var}/ledger.sqlite.
std::string default_ledger_location();

std::string utc_timestamp_iso();  // 2026-11-21T14:03:05.123Z
std::string utc_timestamp_iso_days_ago(int days);
std::string new_run_id();         // R20261121T140305Z-1a2b3c4d

}  // namespace vaxetl
