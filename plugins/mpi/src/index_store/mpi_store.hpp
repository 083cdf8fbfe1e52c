// The persisted master patient index: the masters, the values each has seen, the append-only
// decision log, possible matches under review, operators' merges and the estimated models, in a
// SQLite file or a PostgreSQL database, chosen by StoreOptions::path read as a store location
// (db::Location: a file path, or postgresql://...). docs/mpi-operations.md describes both for
// operators. The same API and behaviour on both; what differs is below.
//
// SQLite: the schema is data (plugins/mpi/data/mpi-schema*.sql), created and upgraded on open.
// PostgreSQL: the schema is versioned migrations (plugins/mpi/data/migrations/postgresql/
// NNNN_*.sql, component "mpi", tables in the schema "mpi") applied by `vaxetl db migrate`
// (db::migrate); opening applies nothing and refuses a database with pending migrations.
// Decisions, reviews and replays are buffered and sent by COPY (before any other statement
// and at commit), persist() sends masters and values by COPY, and load() reads the index with
// two streaming COPY ... TO STDOUT queries: no row-by-row round trips on the hot paths.
//
// A load is one transaction, taken before the index is read so that nothing changes under it:
//
//   MpiStore store({.path = "var/mpi.sqlite", .data_dir = <plugin data dir>});
//   store.begin({.run_id = ..., .input_sha256 = ...});  // BEGIN IMMEDIATE: the single writer
//   store.load(matcher);                 // every active master's values, the next id
//   for (each record) { result = matcher.match(...); store.append_decision(info, result); }
//   store.persist(matcher.changes(), now); matcher.clear_changes();  // as often as wanted
//   store.save_model(matcher.reestimate(&report), report);           // optional
//   store.commit();                      // or rollback(); the destructor rolls back
//
// Nothing of a load is visible before commit(); a crash leaves the index as it was.
//
// One writer at a time, on both backends, from begin() (before load()) to commit(): SQLite's
// BEGIN IMMEDIATE; on PostgreSQL a transaction-scoped advisory lock (pg_advisory_xact_lock)
// taken in begin(), waited for up to busy_timeout_ms (lock_timeout) and then StoreBusy, and
// released by commit, rollback or the death of the process's connection. Why a lock and not an
// id sequence plus a conflict check: a load matches against the index it read into memory at
// its start, so two loads at once would not only race for ids, they would each miss the other's
// new masters and give one person two masters; serializing loads keeps "the index in memory is
// the index" true. Ids then come from max(mpi_id) + 1 as on SQLite and can never be handed out
// twice (the primary key would fail the second load rather than merge two people). A second
// process waits for the first load to commit and then loads the index with its masters.
// With StoreOptions::dry_run (validate mode) the store reads inside one transaction that is
// rolled back when it closes, and refuses to write: a dry run leaves no trace.
//
// Operators' merge, unmerge and dismiss run in their own transactions and are logged in
// operator_actions. A merge keeps the survivor's id and makes the retired id an alias of it;
// values stay with the master that learned them, so an unmerge gives the retired master back
// exactly its own values and ends the alias.
//
// Not thread-safe: one MpiStore per thread. PHI: the index stores values (it is a store, like
// CVMS); no exception message of this class contains one (PostgreSQL errors carry the server's
// primary message only, never its DETAIL, which may quote a row).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "matcher/matcher.hpp"

namespace vaxetl::mpi {

// The SQLite schema version this build writes. Opening an index whose version is newer throws.
inline constexpr int kIndexSchemaVersion = 2;

struct StoreOptions {
  std::string path;      // the SQLite index file, or a PostgreSQL URL (db::Location)
  std::string data_dir;  // holds mpi-schema.sql, mpi-schema-NNNN.sql, migrations/postgresql/
  bool create = true;    // false: an absent file throws IndexMissing instead of being created
                         // (SQLite; a PostgreSQL index is created by `vaxetl db migrate`)
  bool dry_run = false;  // read in one transaction rolled back on close; writes throw
  int busy_timeout_ms = 30'000;  // wait this long for another writer before StoreBusy
  std::size_t cache_kib = 64 * 1024;
};

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Another connection holds the write lock past the busy timeout (a load in progress), or
// PostgreSQL broke a deadlock.
class StoreBusy : public StoreError {
 public:
  using StoreError::StoreError;
};
// StoreOptions::create was false and there is no index file.
class IndexMissing : public StoreError {
 public:
  using StoreError::StoreError;
};
// An operator request the index cannot carry out (unknown id, merging a retired master, ...).
// Nothing was written; the message says what to do instead.
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Who asks for an operator action, and why; both are kept in operator_actions.
struct Operator {
  std::string by;
  std::string reason;
};

// The load a transaction belongs to; its runs row is written with the load's first change.
struct LoadRun {
  std::string run_id;        // the vaxetl run id
  std::string input_sha256;  // hex digest of the input: finds a rerun of the same file
};

// What the log records about a record besides the matcher's result.
struct DecisionContext {
  std::int64_t record_no = 0;
  std::string_view source;        // org_code
  std::string_view recipient_id;  // recip_id
  std::string_view vax_event_id;
  std::string_view record_type;
  std::int64_t model_version = 0;  // 0: Model::defaults()
  std::string_view decided_at;     // UTC timestamp (utc_timestamp())
};

// One row of the decision log.
struct StoredDecision {
  std::int64_t seq = 0;
  std::string run_id, input_sha256;
  std::int64_t record_no = 0;
  std::string source, recipient_id, vax_event_id, record_type;
  std::string decision;  // linked, new, possible
  MasterId mpi_id = 0;
  MasterId best_candidate = 0;  // 0: none
  double score = 0;
  MasterId runner_up = 0;
  double runner_up_score = 0;
  std::uint32_t candidates = 0;
  std::string rule;
  std::string comparison;  // "field=level:+w.ww;..." (comparison_text)
  std::int64_t model_version = 0;
  std::int64_t replay_of = 0;  // a rerun's row: the seq of the decision it repeats
  std::string decided_at;
};

// What a rerun needs of a record's first decision.
struct PriorDecision {
  std::int64_t record_no = 0;
  std::int64_t seq = 0;
  Decision decision = Decision::New;
  double score = 0;
  MasterId mpi_id = 0;      // as decided
  MasterId mpi_id_now = 0;  // followed through operators' merges since
};

struct MasterInfo {
  MasterId id = 0;
  bool active = true;
  MasterId merged_into = 0;  // retired: the master it was merged into
  std::string created_run, created_at;
};

struct AliasInfo {
  std::int64_t alias_id = 0;
  MasterId retired = 0, survivor = 0;
  std::string created_at, created_by, reason;
  std::string ended_at, ended_by, end_reason;  // empty while the alias holds
};

struct OperatorActionInfo {
  std::int64_t action_id = 0;
  std::string action;  // merge, unmerge, dismiss
  MasterId survivor = 0, retired = 0;
  std::int64_t review_id = 0;
  std::string performed_by, reason, performed_at;
};

struct ReviewItem {
  std::int64_t review_id = 0;
  std::int64_t decision_seq = 0;
  MasterId mpi_id = 0;     // the master the record was given
  MasterId candidate = 0;  // the master it may be
  double score = 0;
  std::string status;  // open, merged, dismissed
  std::string created_at, resolved_at, resolved_by;
  std::string run_id;
  std::int64_t record_no = 0;
  std::string comparison;
};

struct StoredModel {
  std::int64_t version = 0;
  Model model;
  std::string created_at, run_id;
  std::uint32_t pairs = 0, iterations = 0;
  double match_share = 0;
};

struct IndexCounts {
  std::int64_t active_masters = 0, retired_masters = 0, values = 0;
  std::int64_t decisions = 0, linked = 0, created = 0, possible = 0, replayed = 0;
  std::int64_t open_reviews = 0, merged_reviews = 0, dismissed_reviews = 0;
  std::int64_t active_aliases = 0, operator_actions = 0;
  std::int64_t models = 0, latest_model_version = 0;
};

struct LoadSummary {
  std::uint64_t masters = 0;  // active masters restored
  std::uint64_t values = 0;   // values restored (a merged master's count for its survivor)
  MasterId next_id = 1;
};

struct OperatorResult {
  std::int64_t action_id = 0;
  std::int64_t reviews_resolved = 0;  // reviews the action closed
};

// "first_name=nickname:+3.10;birth_date=exact:+9.80": the level and weight of every field that
// was not missing, in Field order. No values.
std::string comparison_text(const MatchResult& result);

// One field of a comparison text, parsed back (explain, review).
struct ComparedField {
  std::string field, level;
  double weight = 0;
};
std::vector<ComparedField> parse_comparison(std::string_view text);

// The current time as the index stores it: "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_timestamp();

class MpiStore {
 public:
  // SQLite: opens (or creates) the index and brings its schema up to kIndexSchemaVersion.
  // PostgreSQL: connects and checks the mpi migrations; pending ones throw StoreError saying
  // to run `vaxetl db migrate PIPELINE`. Throws IndexMissing, StoreBusy, or StoreError
  // (unreadable schema files, a newer schema, the database).
  explicit MpiStore(const StoreOptions& options);
  ~MpiStore();  // rolls back an open transaction
  MpiStore(const MpiStore&) = delete;
  MpiStore& operator=(const MpiStore&) = delete;

  // The location for messages: the SQLite path, or the URL with any password shown as ***.
  const std::string& path() const noexcept;
  bool dry_run() const noexcept;

  // ---- one load -------------------------------------------------------------------------
  // The write lock (see above), held until commit() or rollback(); what follows is written for
  // `run`. A dry run is already inside its read transaction (on PostgreSQL a READ ONLY,
  // REPEATABLE READ snapshot): begin() does nothing.
  void begin(const LoadRun& run);
  void commit();
  void rollback() noexcept;
  bool in_transaction() const noexcept;

  // Restores the index into an empty matcher: the values of every active master (and of the
  // masters merged into it) in the order they were learned, masters without values, next id.
  LoadSummary load(Matcher& matcher);
  std::optional<StoredModel> latest_model();
  // Writes new masters and values, in order. Needs begin().
  void persist(std::span<const IndexChange> changes, std::string_view at);
  // Appends a decision (and, for Possible, a review item against best_candidate). Needs begin().
  std::int64_t append_decision(const DecisionContext& context, const MatchResult& result);
  // Appends a rerun's decision: a copy of decision `original_seq` (its decision, score,
  // comparison and model version) for this run, giving the record `mpi_id_now` (the original
  // master followed through merges). No review: the original's still stands. A missing
  // original throws StoreError (on PostgreSQL when the buffered rows are sent, by commit()).
  std::int64_t append_replay(const DecisionContext& context, std::int64_t original_seq,
                             MasterId mpi_id_now);
  // Stores a new model version, estimated by this load, and returns it. Needs begin().
  std::int64_t save_model(const Model& model, const EstimationReport& report);
  // The first decision for each record of an input the index has matched before (a rerun),
  // ordered by record_no; empty for an input never seen.
  std::vector<PriorDecision> decisions_of_input(std::string_view input_sha256);

  // ---- operators (each its own transaction, logged) ---------------------------------------
  // survivor keeps its id; retired becomes its alias; open reviews between masters that are now
  // one are closed as merged. Refused: unknown ids, the same id twice, a retired master on
  // either side.
  OperatorResult merge(MasterId survivor, MasterId retired, const Operator& by);
  // Undoes the merge of retired into survivor: retired is active again with its own values,
  // the alias ends, the reviews that merge closed are closed as dismissed. Refused unless
  // retired is merged directly into survivor.
  OperatorResult unmerge(MasterId survivor, MasterId retired, const Operator& by);
  // Closes an open review without merging. Refused for an unknown or closed review.
  OperatorResult dismiss(std::int64_t review_id, const Operator& by);

  // ---- reading ----------------------------------------------------------------------------
  // The active master `id` answers for now (itself when active); 0 for an unknown id.
  MasterId resolve(MasterId id);
  std::optional<MasterInfo> master(MasterId id);
  // Masters merged into `id`, directly or through others.
  std::vector<MasterId> merged_into(MasterId id);
  std::vector<StoredDecision> decisions_for_record(std::string_view run_id, std::int64_t record_no);
  std::vector<StoredDecision> decisions_for_recipient(std::string_view source,
                                                      std::string_view recipient_id);
  // Decisions that gave a record to `id` or to a master merged into it, oldest first.
  std::vector<StoredDecision> decisions_for_master(MasterId id);
  std::optional<StoredDecision> decision(std::int64_t seq);
  bool has_run(std::string_view run_id);
  std::vector<AliasInfo> aliases_of(MasterId id);            // as retired or as survivor
  std::vector<OperatorActionInfo> actions_on(MasterId id);   // naming it, oldest first
  std::vector<ReviewItem> reviews(bool include_closed);
  std::optional<ReviewItem> review(std::int64_t review_id);
  // How many values the master holds per field: its own, and with merged masters'.
  struct FieldValueCount {
    Field field;
    std::int64_t own = 0, with_merged = 0;
  };
  std::vector<FieldValueCount> value_counts(MasterId id);
  // The values a master learned itself (origin), for tests and audits; Field order.
  std::vector<std::pair<Field, std::string>> own_values(MasterId id);
  IndexCounts counts();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vaxetl::mpi
