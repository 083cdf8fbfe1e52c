#include "mpi_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace vaxetl::mpi {
namespace {

namespace fs = std::filesystem;

// ---- thin RAII over the sqlite3 C API ---------------------------------------------------

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// sqlite3_errmsg names tables, columns and constraints, never bound values.
[[noreturn]] void throw_sqlite(sqlite3* db, std::string_view what) {
  const int rc = sqlite3_extended_errcode(db);
  std::string message("MPI index: ");
  message.append(what).append(": ").append(sqlite3_errmsg(db));
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) throw StoreBusy(message);
  throw StoreError(message);
}

Stmt prepare(sqlite3* db, std::string_view sql, bool persistent = false) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                         persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr) != SQLITE_OK)
    throw_sqlite(db, "preparing a statement");
  return Stmt(raw);
}

// One execution of a prepared statement: binds, steps, reads columns, and resets the statement
// when the scope ends (also on exceptions), so no cursor stays open across COMMIT or ROLLBACK.
class Use {
 public:
  explicit Use(const Stmt& s) noexcept : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  // Binds `value` in place (it must outlive step()); an empty value binds as NULL.
  Use& text(int index, std::string_view value) {
    const int rc = value.empty()
                       ? sqlite3_bind_null(s_, index)
                       : sqlite3_bind_text(s_, index, value.data(), static_cast<int>(value.size()),
                                           SQLITE_STATIC);
    if (rc != SQLITE_OK) fail("binding a value");
    return *this;
  }
  Use& integer(int index, std::int64_t value) {
    if (sqlite3_bind_int64(s_, index, value) != SQLITE_OK) fail("binding a value");
    return *this;
  }
  // Master ids; 0 (no master) binds as NULL.
  Use& id(int index, MasterId value) {
    const int rc = value == 0 ? sqlite3_bind_null(s_, index)
                              : sqlite3_bind_int64(s_, index, static_cast<std::int64_t>(value));
    if (rc != SQLITE_OK) fail("binding a value");
    return *this;
  }
  Use& real(int index, double value) {
    if (sqlite3_bind_double(s_, index, value) != SQLITE_OK) fail("binding a value");
    return *this;
  }
  // True for a row, false when done.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("executing a statement");
  }
  void run() {
    while (step()) {
    }
  }
  std::int64_t integer(int column) const noexcept { return sqlite3_column_int64(s_, column); }
  MasterId master(int column) const noexcept {
    return static_cast<MasterId>(sqlite3_column_int64(s_, column));
  }
  double real(int column) const noexcept { return sqlite3_column_double(s_, column); }
  // Valid until the next step or reset.
  std::string_view view(int column) const noexcept {
    const auto* p = sqlite3_column_text(s_, column);
    if (p == nullptr) return {};
    return {reinterpret_cast<const char*>(p),
            static_cast<std::size_t>(sqlite3_column_bytes(s_, column))};
  }
  std::string text(int column) const { return std::string(view(column)); }

 private:
  [[noreturn]] void fail(const char* what) { throw_sqlite(sqlite3_db_handle(s_), what); }
  sqlite3_stmt* s_;
};

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StoreError("MPI index: cannot read the schema file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string schema_step_name(int version) {
  char name[32];
  std::snprintf(name, sizeof(name), "mpi-schema-%04d.sql", version);
  return name;
}

// The decision log's columns in the order read_decision() expects.
// Read from "decisions d JOIN runs r ON r.run_no = d.run_no".
constexpr std::string_view kDecisionColumns =
    "d.seq, r.run_id, r.input_sha256, d.record_no, d.source, d.recipient_id, d.vax_event_id, "
    "d.record_type, d.decision, d.mpi_id, d.best_candidate, d.score, d.runner_up, "
    "d.runner_up_score, d.candidates, d.rule, d.comparison, d.model_version, d.replay_of, "
    "d.decided_at";
constexpr std::string_view kDecisionsJoinRuns = " FROM decisions d JOIN runs r ON r.run_no = d.run_no";

StoredDecision read_decision(const Use& row) {
  StoredDecision d;
  d.seq = row.integer(0);
  d.run_id = row.text(1);
  d.input_sha256 = row.text(2);
  d.record_no = row.integer(3);
  d.source = row.text(4);
  d.recipient_id = row.text(5);
  d.vax_event_id = row.text(6);
  d.record_type = row.text(7);
  d.decision = row.text(8);
  d.mpi_id = row.master(9);
  d.best_candidate = row.master(10);
  d.score = row.real(11);
  d.runner_up = row.master(12);
  d.runner_up_score = row.real(13);
  d.candidates = static_cast<std::uint32_t>(row.integer(14));
  d.rule = row.text(15);
  d.comparison = row.text(16);
  d.model_version = row.integer(17);
  d.replay_of = row.integer(18);
  d.decided_at = row.text(19);
  return d;
}

// Read from "reviews v JOIN decisions d ... JOIN runs r ...".
constexpr std::string_view kReviewColumns =
    "v.review_id, v.decision_seq, v.mpi_id, v.candidate_mpi_id, v.score, v.status, v.created_at, "
    "v.resolved_at, v.resolved_by, r.run_id, d.record_no, d.comparison";
constexpr std::string_view kReviewsJoin =
    " FROM reviews v JOIN decisions d ON d.seq = v.decision_seq JOIN runs r ON r.run_no = d.run_no";

ReviewItem read_review(const Use& row) {
  ReviewItem r;
  r.review_id = row.integer(0);
  r.decision_seq = row.integer(1);
  r.mpi_id = row.master(2);
  r.candidate = row.master(3);
  r.score = row.real(4);
  r.status = row.text(5);
  r.created_at = row.text(6);
  r.resolved_at = row.text(7);
  r.resolved_by = row.text(8);
  r.run_id = row.text(9);
  r.record_no = row.integer(10);
  r.comparison = row.text(11);
  return r;
}

std::string_view decision_text(Decision decision) {
  switch (decision) {
    case Decision::Linked:
      return "linked";
    case Decision::New:
      return "new";
    case Decision::Possible:
      return "possible";
  }
  return "new";
}

// Master ids as a SQL list "(1, 2, 3)"; they are integers, never text from outside.
std::string id_list(const std::vector<MasterId>& ids) {
  std::string list = "(";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) list += ", ";
    list += std::to_string(ids[i]);
  }
  return list + ")";
}

std::string id_text(MasterId id) { return format_mpi_id(id); }

}  // namespace

// ---- free functions ----------------------------------------------------------------------

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string comparison_text(const MatchResult& result) {
  std::string text;
  text.reserve(256);
  char weight[32];
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    const FieldComparison& c = result.comparison[i];
    if (c.level == 0) continue;  // missing on either side
    const auto field = static_cast<Field>(i);
    if (!text.empty()) text += ';';
    text.append(field_name(field)).append("=").append(level_name(field, c.level)).append(":");
    // "%+.2f" without printf's cost: this runs for every decision of a load.
    const double w = static_cast<double>(c.weight);
    if (!(w < 0)) text += '+';
    const auto [end, ec] = std::to_chars(weight, weight + sizeof(weight), w, std::chars_format::fixed, 2);
    text.append(weight, ec == std::errc() ? end : weight);
  }
  return text;
}

std::vector<ComparedField> parse_comparison(std::string_view text) {
  std::vector<ComparedField> fields;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find(';'), text.size());
    const std::string_view item = text.substr(0, end);
    text.remove_prefix(end == text.size() ? end : end + 1);
    const std::size_t eq = item.find('=');
    const std::size_t colon = item.rfind(':');
    if (eq == std::string_view::npos || colon == std::string_view::npos || colon < eq) continue;
    ComparedField field;
    field.field = std::string(item.substr(0, eq));
    field.level = std::string(item.substr(eq + 1, colon - eq - 1));
    std::string_view weight = item.substr(colon + 1);
    if (!weight.empty() && weight.front() == '+') weight.remove_prefix(1);
    try {
      field.weight = std::stod(std::string(weight));
    } catch (const std::exception&) {
      continue;
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

// ---- the store ---------------------------------------------------------------------------

struct MpiStore::Impl {
  StoreOptions options;
  sqlite3* db = nullptr;
  bool in_transaction = false;
  LoadRun run;              // the load in progress
  std::int64_t run_no = 0;  // its runs row, once written (0: not yet)
  // Hot-path statements; finalized in ~Impl before the connection closes.
  Stmt master_insert, value_insert, decision_insert, review_insert, replay_insert;

  explicit Impl(const StoreOptions& opts) : options(opts) {
    std::error_code ec;
    const bool exists = fs::exists(options.path, ec);
    if (!exists && (options.dry_run || !options.create))
      throw IndexMissing("MPI index: there is no index at " + options.path);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (!exists) flags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
      std::string message = "MPI index: cannot open " + options.path + ": " +
                            (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
      sqlite3_close(db);
      db = nullptr;
      throw StoreError(message);
    }
    try {
      configure();
      if (options.dry_run) {
        exec("BEGIN");  // one read transaction for the whole dry run, rolled back on close
        in_transaction = true;
      }
      apply_schema();
      prepare_statements();
    } catch (...) {
      close();
      throw;
    }
  }

  ~Impl() { close(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void close() noexcept {
    master_insert.reset();
    value_insert.reset();
    decision_insert.reset();
    review_insert.reset();
    replay_insert.reset();
    if (db == nullptr) return;
    if (in_transaction) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    in_transaction = false;
    sqlite3_close(db);
    db = nullptr;
  }

  void exec(std::string_view sql) {
    const std::string text(sql);
    if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      throw_sqlite(db, text.substr(0, text.find(' ')));
  }

  Stmt query(std::string_view sql) { return prepare(db, sql); }

  void configure() {
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    exec("PRAGMA cache_size = -" + std::to_string(options.cache_kib));
    if (options.dry_run) return;  // a dry run changes nothing, not even the journal mode
    // WAL: `vaxetl mpi explain` and `review` read while a load writes. synchronous=NORMAL in
    // WAL mode: a commit survives a process crash; a power loss may lose the last commits,
    // never half of one. foreign_keys stays off: the store writes only ids it holds.
    {
      const Stmt mode = query("PRAGMA journal_mode = WAL");
      Use use(mode);
      if (!use.step() || use.view(0) != "wal")
        throw StoreError("MPI index: the database refused WAL mode");
    }
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA journal_size_limit = 67108864");
  }

  int stored_schema_version() {
    {
      const Stmt has = query(
          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
      Use use(has);
      if (!use.step() || use.integer(0) == 0) return 0;
    }
    const Stmt version = query("SELECT coalesce(max(version), 0) FROM schema_version");
    Use use(version);
    return use.step() ? static_cast<int>(use.integer(0)) : 0;
  }

  int checked_schema_version() {
    const int version = stored_schema_version();
    if (version > kIndexSchemaVersion)
      throw StoreError("MPI index: " + options.path + " has schema version " +
                       std::to_string(version) + ", newer than this build supports (" +
                       std::to_string(kIndexSchemaVersion) + "); use a newer vaxetl");
    return version;
  }

  void run_script(const fs::path& path) {
    const std::string sql = read_text_file(path);
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "unknown error";
      sqlite3_free(error);
      throw StoreError("MPI index: applying " + path.string() + ": " + message);
    }
  }

  // A new index runs mpi-schema.sql (version 1), then every mpi-schema-NNNN.sql up to
  // kIndexSchemaVersion; an older one only the steps it lacks. One transaction: a failed upgrade
  // leaves the index as it was. An index that is current is only read, so opening it neither
  // waits for nor blocks a load in another process.
  void apply_schema() {
    const fs::path dir(options.data_dir);
    read_text_file(dir / "mpi-schema.sql");  // a wrong data dir is reported now, not on upgrade day
    if (checked_schema_version() == kIndexSchemaVersion) return;
    const bool own_transaction = !in_transaction;
    if (own_transaction) exec("BEGIN IMMEDIATE");
    try {
      int version = checked_schema_version();
      if (version == 0) {
        run_script(dir / "mpi-schema.sql");
        version = stored_schema_version();
      }
      for (int step = version + 1; step <= kIndexSchemaVersion; ++step) {
        run_script(dir / schema_step_name(step));
        if (stored_schema_version() != step)
          throw StoreError("MPI index: " + schema_step_name(step) +
                           " does not record schema version " + std::to_string(step));
      }
      if (own_transaction) exec("COMMIT");
    } catch (...) {
      if (own_transaction) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  void prepare_statements() {
    master_insert = prepare(db,
                            "INSERT INTO masters (mpi_id, status, created_run, created_at) "
                            "VALUES (?1, 'active', ?2, ?3)",
                            true);
    value_insert = prepare(db,
                           "INSERT INTO master_values (mpi_id, field, value, first_run) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (mpi_id, field, value) DO NOTHING",
                           true);
    decision_insert = prepare(
        db,
        "INSERT INTO decisions (run_no, record_no, source, recipient_id, vax_event_id, "
        "record_type, decision, mpi_id, best_candidate, score, runner_up, runner_up_score, "
        "candidates, rule, comparison, model_version, decided_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        true);
    review_insert = prepare(db,
                            "INSERT INTO reviews (decision_seq, mpi_id, candidate_mpi_id, score, "
                            "status, created_at) VALUES (?1, ?2, ?3, ?4, 'open', ?5)",
                            true);
    // A rerun repeats the original row, pointing at it; the record's fields are the same since
    // the input is the same file.
    replay_insert = prepare(
        db,
        "INSERT INTO decisions (run_no, record_no, source, recipient_id, vax_event_id, "
        "record_type, decision, mpi_id, best_candidate, score, runner_up, runner_up_score, "
        "candidates, rule, comparison, model_version, decided_at, replay_of) "
        "SELECT ?1, record_no, source, recipient_id, vax_event_id, record_type, decision, ?2, "
        "best_candidate, score, runner_up, runner_up_score, candidates, rule, comparison, "
        "model_version, ?3, seq FROM decisions WHERE seq = ?4",
        true);
  }

  void require_load(const char* what) const {
    if (options.dry_run)
      throw std::logic_error(std::string("MPI index: a dry run writes nothing (") + what + ")");
    if (!in_transaction)
      throw std::logic_error(std::string("MPI index: ") + what + " needs begin()");
  }

  // The load's runs row, written with its first change so that a load that changes nothing
  // leaves none.
  std::int64_t current_run(std::string_view at) {
    if (run_no != 0) return run_no;
    {
      const Stmt s = query(
          "INSERT INTO runs (run_id, input_sha256, started_at) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (run_id) DO NOTHING");
      Use use(s);
      use.text(1, run.run_id.empty() ? std::string_view("unknown") : std::string_view(run.run_id))
          .text(2, run.input_sha256.empty() ? std::string_view("-") : std::string_view(run.input_sha256))
          .text(3, at)
          .run();
    }
    const Stmt s = query("SELECT run_no FROM runs WHERE run_id = ?1");
    Use use(s);
    use.text(1, run.run_id.empty() ? std::string_view("unknown") : std::string_view(run.run_id));
    if (!use.step()) throw StoreError("MPI index: the load's runs row is missing");
    run_no = use.integer(0);
    return run_no;
  }

  void end_load() {
    in_transaction = false;
    run = {};
    run_no = 0;
  }

  std::int64_t insert_decision(const DecisionContext& c, std::string_view decision, MasterId mpi_id,
                               MasterId best, double score, MasterId runner_up,
                               double runner_up_score, std::uint32_t candidates,
                               std::string_view rule, std::string_view comparison,
                               std::int64_t model_version) {
    const std::int64_t run_number = current_run(c.decided_at);
    Use use(decision_insert);
    use.integer(1, run_number)
        .integer(2, c.record_no)
        .text(3, c.source)
        .text(4, c.recipient_id)
        .text(5, c.vax_event_id)
        .text(6, c.record_type)
        .text(7, decision)
        .id(8, mpi_id)
        .id(9, best)
        .real(10, score)
        .id(11, runner_up)
        .real(12, runner_up_score)
        .integer(13, candidates)
        .text(14, rule)
        .text(15, comparison)
        .integer(16, model_version)
        .text(17, c.decided_at)
        .run();
    return sqlite3_last_insert_rowid(db);
  }

  // Runs `body` in its own write transaction (operator actions).
  template <class Body>
  auto write_transaction(Body&& body) {
    if (options.dry_run) throw std::logic_error("MPI index: a dry run writes nothing");
    if (in_transaction) throw std::logic_error("MPI index: an operator action during a load");
    exec("BEGIN IMMEDIATE");
    in_transaction = true;
    try {
      auto result = body();
      exec("COMMIT");
      in_transaction = false;
      return result;
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      in_transaction = false;
      throw;
    }
  }

  std::optional<MasterInfo> master(MasterId id) {
    const Stmt s = query(
        "SELECT m.mpi_id, m.status, coalesce(m.merged_into, 0), coalesce(r.run_id, ''), "
        "m.created_at FROM masters m LEFT JOIN runs r ON r.run_no = m.created_run "
        "WHERE m.mpi_id = ?1");
    Use use(s);
    use.id(1, id);
    if (id == 0 || !use.step()) return std::nullopt;
    MasterInfo info;
    info.id = use.master(0);
    info.active = use.view(1) == "active";
    info.merged_into = use.master(2);
    info.created_run = use.text(3);
    info.created_at = use.text(4);
    return info;
  }

  MasterInfo existing_master(MasterId id, std::string_view role) {
    if (id == 0) throw Refused(std::string(role) + ": not an MPI id");
    auto info = master(id);
    if (!info)
      throw Refused(id_text(id) + " (" + std::string(role) +
                    ") is not in the index; check the id with `vaxetl mpi explain " + id_text(id) +
                    "` or `vaxetl mpi review`");
    return *info;
  }

  MasterId resolve(MasterId id) {
    const Stmt s = query("SELECT status, coalesce(merged_into, 0) FROM masters WHERE mpi_id = ?1");
    for (int hops = 0; hops < 10'000 && id != 0; ++hops) {
      Use use(s);
      use.id(1, id);
      if (!use.step()) return 0;
      if (use.view(0) == "active") return id;
      id = use.master(1);
    }
    throw StoreError("MPI index: the merges of a master form a cycle; the index needs repair");
  }

  std::int64_t log_action(std::string_view action, MasterId survivor, MasterId retired,
                          std::int64_t review_id, const Operator& by, std::string_view at) {
    const Stmt s = query(
        "INSERT INTO operator_actions (action, surviving_mpi_id, retired_mpi_id, review_id, "
        "performed_by, reason, performed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    Use use(s);
    use.text(1, action).id(2, survivor).id(3, retired);
    if (review_id != 0) use.integer(4, review_id);
    use.text(5, by.by.empty() ? std::string_view("unknown") : std::string_view(by.by))
        .text(6, by.reason.empty() ? std::string_view("(no reason given)")
                                   : std::string_view(by.reason))
        .text(7, at);
    use.run();
    return sqlite3_last_insert_rowid(db);
  }

  // The retired -> merged_into map of every retired master (few: operators retire them).
  std::unordered_map<MasterId, MasterId> retired_map() {
    std::unordered_map<MasterId, MasterId> map;
    // merged_into is set exactly for retired masters; its partial index holds only those.
    const Stmt s = query("SELECT mpi_id, merged_into FROM masters WHERE merged_into IS NOT NULL");
    Use use(s);
    while (use.step()) map.emplace(use.master(0), use.master(1));
    return map;
  }

  static MasterId resolve_in(const std::unordered_map<MasterId, MasterId>& retired, MasterId id) {
    for (int hops = 0; hops < 10'000; ++hops) {
      const auto found = retired.find(id);
      if (found == retired.end()) return id;
      id = found->second;
    }
    throw StoreError("MPI index: the merges of a master form a cycle; the index needs repair");
  }

  std::vector<MasterId> merged_into(MasterId id) {
    std::vector<MasterId> ids;
    const Stmt s = query(
        "WITH RECURSIVE absorbed (id) AS ("
        "  SELECT mpi_id FROM masters WHERE merged_into = ?1"
        "  UNION SELECT m.mpi_id FROM masters m JOIN absorbed a ON m.merged_into = a.id"
        ") SELECT id FROM absorbed ORDER BY id");
    Use use(s);
    use.id(1, id);
    while (use.step()) ids.push_back(use.master(0));
    return ids;
  }

  std::vector<StoredDecision> decisions_where(std::string_view where, auto&& bind) {
    std::string sql("SELECT ");
    sql.append(kDecisionColumns).append(kDecisionsJoinRuns).append(" WHERE ").append(where).append(" ORDER BY d.seq");
    const Stmt s = query(sql);
    Use use(s);
    bind(use);
    std::vector<StoredDecision> rows;
    while (use.step()) rows.push_back(read_decision(use));
    return rows;
  }
};

MpiStore::MpiStore(const StoreOptions& options) : impl_(std::make_unique<Impl>(options)) {}
MpiStore::~MpiStore() = default;

const std::string& MpiStore::path() const noexcept { return impl_->options.path; }
bool MpiStore::dry_run() const noexcept { return impl_->options.dry_run; }

void MpiStore::begin(const LoadRun& run) {
  if (impl_->options.dry_run) return;
  if (impl_->in_transaction) throw std::logic_error("MPI index: begin() during a load");
  impl_->exec("BEGIN IMMEDIATE");
  impl_->in_transaction = true;
  impl_->run = run;
  impl_->run_no = 0;
}

void MpiStore::commit() {
  impl_->require_load("commit");
  impl_->exec("COMMIT");
  impl_->end_load();
}

void MpiStore::rollback() noexcept {
  if (impl_->options.dry_run || !impl_->in_transaction) return;
  sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
  impl_->end_load();
}

bool MpiStore::in_transaction() const noexcept {
  return impl_->in_transaction && !impl_->options.dry_run;
}

LoadSummary MpiStore::load(Matcher& matcher) {
  LoadSummary summary;
  const auto retired = impl_->retired_map();
  MasterId max_id = 0;
  {
    const Stmt s = impl_->query("SELECT coalesce(max(mpi_id), 0) FROM masters");
    Use use(s);
    if (use.step()) max_id = use.master(0);
  }
  // Which masters got a value, so that valueless masters can be restored on their own.
  std::vector<bool> has_values(static_cast<std::size_t>(max_id) + 1, false);
  {
    // Key order (master, field, value): one sequential pass over the table's B-tree. A master's
    // values of one field come back sorted rather than in the order learned; the matcher
    // compares a record with each of them, so the order does not change a score.
    const Stmt s = impl_->query("SELECT mpi_id, field, value FROM master_values ORDER BY mpi_id, field, value");
    Use use(s);
    while (use.step()) {
      MasterId owner = use.master(0);
      if (!retired.empty()) owner = Impl::resolve_in(retired, owner);
      const std::int64_t field = use.integer(1);
      if (field < 0 || field >= static_cast<std::int64_t>(kFieldCount))
        throw StoreError("MPI index: master_values holds an unknown field number " +
                         std::to_string(field));
      matcher.restore_value(owner, static_cast<Field>(field), use.view(2));
      if (owner < has_values.size()) has_values[owner] = true;
      ++summary.values;
    }
  }
  {
    const Stmt s = impl_->query("SELECT mpi_id FROM masters WHERE status = 'active' ORDER BY mpi_id");
    Use use(s);
    while (use.step()) {
      const MasterId id = use.master(0);
      if (id >= has_values.size() || !has_values[id]) matcher.restore_master(id);
      ++summary.masters;
    }
  }
  summary.next_id = max_id + 1;
  matcher.set_next_id(summary.next_id);
  return summary;
}

std::optional<StoredModel> MpiStore::latest_model() {
  const Stmt s = impl_->query(
      "SELECT version, created_at, run_id, pairs, iterations, coalesce(match_share, 0), model "
      "FROM models ORDER BY version DESC LIMIT 1");
  Use use(s);
  if (!use.step()) return std::nullopt;
  StoredModel m;
  m.version = use.integer(0);
  m.created_at = use.text(1);
  m.run_id = use.text(2);
  m.pairs = static_cast<std::uint32_t>(use.integer(3));
  m.iterations = static_cast<std::uint32_t>(use.integer(4));
  m.match_share = use.real(5);
  try {
    m.model = Model::from_text(use.view(6));
  } catch (const std::invalid_argument& e) {
    throw StoreError("MPI index: model version " + std::to_string(m.version) +
                     " cannot be read: " + e.what());
  }
  return m;
}

void MpiStore::persist(std::span<const IndexChange> changes, std::string_view at) {
  impl_->require_load("persist");
  if (changes.empty()) return;
  const std::int64_t run_no = impl_->current_run(at);
  for (const IndexChange& change : changes) {
    if (change.kind == IndexChange::Kind::NewMaster) {
      Use use(impl_->master_insert);
      use.id(1, change.master).integer(2, run_no).text(3, at).run();
    } else {
      Use use(impl_->value_insert);
      use.id(1, change.master)
          .integer(2, static_cast<std::int64_t>(change.field))
          .text(3, change.value)
          .integer(4, run_no)
          .run();
    }
  }
}

std::int64_t MpiStore::append_decision(const DecisionContext& context, const MatchResult& result) {
  impl_->require_load("append_decision");
  const std::string comparison = result.best_candidate == 0 ? std::string() : comparison_text(result);
  const std::int64_t seq = impl_->insert_decision(
      context, decision_text(result.decision), result.mpi_id, result.best_candidate, result.score,
      result.runner_up, result.runner_up_score, result.candidates, result.rule, comparison,
      context.model_version);
  if (result.decision == Decision::Possible && result.best_candidate != 0) {
    Use use(impl_->review_insert);
    use.integer(1, seq)
        .id(2, result.mpi_id)
        .id(3, result.best_candidate)
        .real(4, result.score)
        .text(5, context.decided_at)
        .run();
  }
  return seq;
}

std::int64_t MpiStore::append_replay(const DecisionContext& context, std::int64_t original_seq,
                                     MasterId mpi_id_now) {
  impl_->require_load("append_replay");
  const std::int64_t run_no = impl_->current_run(context.decided_at);
  Use use(impl_->replay_insert);
  use.integer(1, run_no).id(2, mpi_id_now).text(3, context.decided_at).integer(4, original_seq);
  use.run();
  if (sqlite3_changes(impl_->db) != 1)
    throw StoreError("MPI index: decision " + std::to_string(original_seq) + " to repeat is not in the log");
  return sqlite3_last_insert_rowid(impl_->db);
}

std::int64_t MpiStore::save_model(const Model& model, const EstimationReport& report) {
  impl_->require_load("save_model");
  const std::string text = model.to_text();
  const std::string at = utc_timestamp();
  const Stmt s = impl_->query(
      "INSERT INTO models (version, created_at, run_id, pairs, iterations, match_share, model) "
      "VALUES ((SELECT coalesce(max(version), 0) + 1 FROM models), ?1, ?2, ?3, ?4, ?5, ?6)");
  Use use(s);
  use.text(1, at)
      .text(2, impl_->run.run_id)
      .integer(3, report.pairs)
      .integer(4, report.iterations)
      .real(5, report.match_share)
      .text(6, text)
      .run();
  return sqlite3_last_insert_rowid(impl_->db);
}

std::vector<PriorDecision> MpiStore::decisions_of_input(std::string_view input_sha256) {
  std::vector<PriorDecision> rows;
  if (input_sha256.empty()) return rows;
  const Stmt s = impl_->query(
      "SELECT d.record_no, d.seq, d.decision, d.score, d.mpi_id FROM decisions d "
      "JOIN runs r ON r.run_no = d.run_no WHERE r.input_sha256 = ?1 AND d.replay_of IS NULL "
      "ORDER BY d.record_no, d.seq");
  Use use(s);
  use.text(1, input_sha256);
  while (use.step()) {
    if (!rows.empty() && rows.back().record_no == use.integer(0)) continue;  // the first only
    PriorDecision d;
    d.record_no = use.integer(0);
    d.seq = use.integer(1);
    const std::string_view decision = use.view(2);
    d.decision = decision == "linked" ? Decision::Linked
                 : decision == "possible" ? Decision::Possible
                                          : Decision::New;
    d.score = use.real(3);
    d.mpi_id = use.master(4);
    rows.push_back(d);
  }
  if (!rows.empty()) {
    const auto retired = impl_->retired_map();
    for (PriorDecision& d : rows) d.mpi_id_now = Impl::resolve_in(retired, d.mpi_id);
  }
  return rows;
}

// ---- operators -----------------------------------------------------------------------------

OperatorResult MpiStore::merge(MasterId survivor, MasterId retired, const Operator& by) {
  return impl_->write_transaction([&] {
    const MasterInfo s = impl_->existing_master(survivor, "survivor");
    const MasterInfo r = impl_->existing_master(retired, "retired");
    if (survivor == retired)
      throw Refused("cannot merge " + id_text(survivor) + " into itself; name two different masters");
    if (!s.active)
      throw Refused(id_text(survivor) + " is retired (merged into " + id_text(s.merged_into) +
                    "); merge into the master it answers for: vaxetl mpi merge " +
                    id_text(impl_->resolve(survivor)) + " " + id_text(retired));
    if (!r.active)
      throw Refused(id_text(retired) + " is already merged into " + id_text(r.merged_into) +
                    "; to move it, unmerge it first: vaxetl mpi unmerge " +
                    id_text(r.merged_into) + " " + id_text(retired));
    const std::string at = utc_timestamp();
    OperatorResult result;
    result.action_id = impl_->log_action("merge", survivor, retired, 0, by, at);
    {
      const Stmt s1 = impl_->query(
          "UPDATE masters SET status = 'retired', merged_into = ?1 WHERE mpi_id = ?2");
      Use use(s1);
      use.id(1, survivor).id(2, retired).run();
    }
    {
      const Stmt s2 = impl_->query(
          "INSERT INTO aliases (retired_mpi_id, surviving_mpi_id, created_at, created_by, reason) "
          "VALUES (?1, ?2, ?3, ?4, ?5)");
      Use use(s2);
      use.id(1, retired)
          .id(2, survivor)
          .text(3, at)
          .text(4, by.by.empty() ? std::string_view("unknown") : std::string_view(by.by))
          .text(5, by.reason.empty() ? std::string_view("(no reason given)")
                                     : std::string_view(by.reason))
          .run();
    }
    // Open reviews whose two masters are one now are settled by this merge.
    const auto retired_now = impl_->retired_map();
    std::vector<std::int64_t> settled;
    {
      const Stmt open = impl_->query(
          "SELECT review_id, mpi_id, candidate_mpi_id FROM reviews WHERE status = 'open'");
      Use use(open);
      while (use.step())
        if (Impl::resolve_in(retired_now, use.master(1)) == Impl::resolve_in(retired_now, use.master(2)))
          settled.push_back(use.integer(0));
    }
    const Stmt close = impl_->query(
        "UPDATE reviews SET status = 'merged', resolved_at = ?1, resolved_by = ?2, "
        "resolved_action = ?3 WHERE review_id = ?4");
    for (const std::int64_t id : settled) {
      Use use(close);
      use.text(1, at)
          .text(2, by.by.empty() ? std::string_view("unknown") : std::string_view(by.by))
          .integer(3, result.action_id)
          .integer(4, id)
          .run();
    }
    result.reviews_resolved = static_cast<std::int64_t>(settled.size());
    return result;
  });
}

OperatorResult MpiStore::unmerge(MasterId survivor, MasterId retired, const Operator& by) {
  return impl_->write_transaction([&] {
    impl_->existing_master(survivor, "survivor");
    const MasterInfo r = impl_->existing_master(retired, "retired");
    if (r.active)
      throw Refused(id_text(retired) + " is not merged into any master; nothing to unmerge");
    if (r.merged_into != survivor)
      throw Refused(id_text(retired) + " is merged into " + id_text(r.merged_into) + ", not " +
                    id_text(survivor) + "; run: vaxetl mpi unmerge " + id_text(r.merged_into) +
                    " " + id_text(retired));
    const std::string at = utc_timestamp();
    const std::string_view who = by.by.empty() ? std::string_view("unknown") : std::string_view(by.by);
    const std::string_view why =
        by.reason.empty() ? std::string_view("(no reason given)") : std::string_view(by.reason);
    OperatorResult result;
    // The merge being undone: the newest merge of retired into survivor.
    std::int64_t merge_action = 0;
    {
      const Stmt s = impl_->query(
          "SELECT max(action_id) FROM operator_actions WHERE action = 'merge' AND "
          "surviving_mpi_id = ?1 AND retired_mpi_id = ?2");
      Use use(s);
      use.id(1, survivor).id(2, retired);
      if (use.step()) merge_action = use.integer(0);
    }
    result.action_id = impl_->log_action("unmerge", survivor, retired, 0, by, at);
    {
      const Stmt s = impl_->query(
          "UPDATE masters SET status = 'active', merged_into = NULL WHERE mpi_id = ?1");
      Use use(s);
      use.id(1, retired).run();
    }
    {
      const Stmt s = impl_->query(
          "UPDATE aliases SET ended_at = ?1, ended_by = ?2, end_reason = ?3 "
          "WHERE retired_mpi_id = ?4 AND surviving_mpi_id = ?5 AND ended_at IS NULL");
      Use use(s);
      use.text(1, at).text(2, who).text(3, why).id(4, retired).id(5, survivor).run();
    }
    if (merge_action != 0) {
      // The operator has now said the two are different people: the reviews the merge settled
      // are dismissed by this unmerge.
      const Stmt s = impl_->query(
          "UPDATE reviews SET status = 'dismissed', resolved_at = ?1, resolved_by = ?2, "
          "resolved_action = ?3 WHERE status = 'merged' AND resolved_action = ?4");
      Use use(s);
      use.text(1, at).text(2, who).integer(3, result.action_id).integer(4, merge_action).run();
      result.reviews_resolved = sqlite3_changes(impl_->db);
    }
    return result;
  });
}

OperatorResult MpiStore::dismiss(std::int64_t review_id, const Operator& by) {
  return impl_->write_transaction([&] {
    const auto item = review(review_id);
    if (!item)
      throw Refused("there is no review " + std::to_string(review_id) +
                    "; `vaxetl mpi review` lists the open ones");
    if (item->status != "open")
      throw Refused("review " + std::to_string(review_id) + " is already " + item->status +
                    " (by " + item->resolved_by + " at " + item->resolved_at +
                    "); nothing to dismiss");
    const std::string at = utc_timestamp();
    OperatorResult result;
    result.action_id = impl_->log_action("dismiss", item->candidate, item->mpi_id, review_id, by, at);
    const Stmt s = impl_->query(
        "UPDATE reviews SET status = 'dismissed', resolved_at = ?1, resolved_by = ?2, "
        "resolved_action = ?3 WHERE review_id = ?4");
    Use use(s);
    use.text(1, at)
        .text(2, by.by.empty() ? std::string_view("unknown") : std::string_view(by.by))
        .integer(3, result.action_id)
        .integer(4, review_id)
        .run();
    result.reviews_resolved = 1;
    return result;
  });
}

// ---- reading -------------------------------------------------------------------------------

MasterId MpiStore::resolve(MasterId id) { return id == 0 ? 0 : impl_->resolve(id); }

std::optional<MasterInfo> MpiStore::master(MasterId id) { return impl_->master(id); }

std::vector<MasterId> MpiStore::merged_into(MasterId id) { return impl_->merged_into(id); }

std::vector<StoredDecision> MpiStore::decisions_for_record(std::string_view run_id,
                                                           std::int64_t record_no) {
  return impl_->decisions_where("r.run_id = ?1 AND d.record_no = ?2", [&](Use& use) {
    use.text(1, run_id).integer(2, record_no);
  });
}

std::vector<StoredDecision> MpiStore::decisions_for_recipient(std::string_view source,
                                                              std::string_view recipient_id) {
  return impl_->decisions_where("d.source = ?1 AND d.recipient_id = ?2", [&](Use& use) {
    use.text(1, source).text(2, recipient_id);
  });
}

std::vector<StoredDecision> MpiStore::decisions_for_master(MasterId id) {
  std::vector<MasterId> ids = impl_->merged_into(id);
  ids.push_back(id);
  return impl_->decisions_where(std::string("d.mpi_id IN ").append(id_list(ids)), [](Use&) {});
}

std::optional<StoredDecision> MpiStore::decision(std::int64_t seq) {
  auto rows = impl_->decisions_where("d.seq = ?1", [&](Use& use) { use.integer(1, seq); });
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

bool MpiStore::has_run(std::string_view run_id) {
  const Stmt s = impl_->query("SELECT 1 FROM runs WHERE run_id = ?1");
  Use use(s);
  use.text(1, run_id);
  return use.step();
}

std::vector<AliasInfo> MpiStore::aliases_of(MasterId id) {
  const Stmt s = impl_->query(
      "SELECT alias_id, retired_mpi_id, surviving_mpi_id, created_at, created_by, reason, "
      "ended_at, ended_by, end_reason FROM aliases WHERE retired_mpi_id = ?1 OR "
      "surviving_mpi_id = ?1 ORDER BY alias_id");
  Use use(s);
  use.id(1, id);
  std::vector<AliasInfo> rows;
  while (use.step()) {
    AliasInfo a;
    a.alias_id = use.integer(0);
    a.retired = use.master(1);
    a.survivor = use.master(2);
    a.created_at = use.text(3);
    a.created_by = use.text(4);
    a.reason = use.text(5);
    a.ended_at = use.text(6);
    a.ended_by = use.text(7);
    a.end_reason = use.text(8);
    rows.push_back(std::move(a));
  }
  return rows;
}

std::vector<OperatorActionInfo> MpiStore::actions_on(MasterId id) {
  const Stmt s = impl_->query(
      "SELECT action_id, action, coalesce(surviving_mpi_id, 0), coalesce(retired_mpi_id, 0), "
      "coalesce(review_id, 0), performed_by, reason, performed_at FROM operator_actions "
      "WHERE surviving_mpi_id = ?1 OR retired_mpi_id = ?1 ORDER BY action_id");
  Use use(s);
  use.id(1, id);
  std::vector<OperatorActionInfo> rows;
  while (use.step()) {
    OperatorActionInfo a;
    a.action_id = use.integer(0);
    a.action = use.text(1);
    a.survivor = use.master(2);
    a.retired = use.master(3);
    a.review_id = use.integer(4);
    a.performed_by = use.text(5);
    a.reason = use.text(6);
    a.performed_at = use.text(7);
    rows.push_back(std::move(a));
  }
  return rows;
}

std::vector<ReviewItem> MpiStore::reviews(bool include_closed) {
  std::string sql("SELECT ");
  sql.append(kReviewColumns).append(kReviewsJoin);
  if (!include_closed) sql.append(" WHERE v.status = 'open'");
  sql.append(" ORDER BY v.review_id");
  const Stmt s = impl_->query(sql);
  Use use(s);
  std::vector<ReviewItem> rows;
  while (use.step()) rows.push_back(read_review(use));
  return rows;
}

std::optional<ReviewItem> MpiStore::review(std::int64_t review_id) {
  std::string sql("SELECT ");
  sql.append(kReviewColumns).append(kReviewsJoin).append(" WHERE v.review_id = ?1");
  const Stmt s = impl_->query(sql);
  Use use(s);
  use.integer(1, review_id);
  if (!use.step()) return std::nullopt;
  return read_review(use);
}

std::vector<MpiStore::FieldValueCount> MpiStore::value_counts(MasterId id) {
  std::vector<MasterId> ids = impl_->merged_into(id);
  ids.push_back(id);
  const Stmt s = impl_->query(
      std::string("SELECT field, sum(CASE WHEN mpi_id = ?1 THEN 1 ELSE 0 END), count(*) FROM "
                  "master_values WHERE mpi_id IN ")
          .append(id_list(ids))
          .append(" GROUP BY field ORDER BY field"));
  Use use(s);
  use.id(1, id);
  std::vector<FieldValueCount> rows;
  while (use.step()) {
    const std::int64_t field = use.integer(0);
    if (field < 0 || field >= static_cast<std::int64_t>(kFieldCount)) continue;
    rows.push_back({static_cast<Field>(field), use.integer(1), use.integer(2)});
  }
  return rows;
}

std::vector<std::pair<Field, std::string>> MpiStore::own_values(MasterId id) {
  const Stmt s = impl_->query(
      "SELECT field, value FROM master_values WHERE mpi_id = ?1 ORDER BY field, value");
  Use use(s);
  use.id(1, id);
  std::vector<std::pair<Field, std::string>> rows;
  while (use.step()) {
    const std::int64_t field = use.integer(0);
    if (field < 0 || field >= static_cast<std::int64_t>(kFieldCount)) continue;
    rows.emplace_back(static_cast<Field>(field), use.text(1));
  }
  return rows;
}

IndexCounts MpiStore::counts() {
  IndexCounts c;
  auto scalar = [&](std::string_view sql) {
    const Stmt s = impl_->query(sql);
    Use use(s);
    return use.step() ? use.integer(0) : 0;
  };
  {
    const Stmt s = impl_->query("SELECT status, count(*) FROM masters GROUP BY status");
    Use use(s);
    while (use.step()) (use.view(0) == "active" ? c.active_masters : c.retired_masters) = use.integer(1);
  }
  c.values = scalar("SELECT count(*) FROM master_values");
  {
    const Stmt s = impl_->query(
        "SELECT decision, replay_of IS NOT NULL, count(*) FROM decisions GROUP BY 1, 2");
    Use use(s);
    while (use.step()) {
      const std::int64_t n = use.integer(2);
      c.decisions += n;
      if (use.integer(1) != 0) {
        c.replayed += n;
        continue;
      }
      const std::string_view d = use.view(0);
      (d == "linked" ? c.linked : d == "new" ? c.created : c.possible) += n;
    }
  }
  {
    const Stmt s = impl_->query("SELECT status, count(*) FROM reviews GROUP BY status");
    Use use(s);
    while (use.step()) {
      const std::string_view status = use.view(0);
      (status == "open" ? c.open_reviews : status == "merged" ? c.merged_reviews : c.dismissed_reviews) =
          use.integer(1);
    }
  }
  c.active_aliases = scalar("SELECT count(*) FROM aliases WHERE ended_at IS NULL");
  c.operator_actions = scalar("SELECT count(*) FROM operator_actions");
  c.models = scalar("SELECT count(*) FROM models");
  c.latest_model_version = scalar("SELECT coalesce(max(version), 0) FROM models");
  return c;
}

}  // namespace vaxetl::mpi
