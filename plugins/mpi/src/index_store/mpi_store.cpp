#include "mpi_store.hpp"

#include <Poco/Data/Session.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "db/database.hpp"
#include "db/migrations.hpp"

namespace vaxetl::mpi {
namespace {

namespace fs = std::filesystem;

// The advisory lock a PostgreSQL load or operator action holds until its transaction ends: the
// bytes of "vaxetmpi", so it does not collide with another component's lock in a shared database.
constexpr std::int64_t kPostgresIndexLock = 0x76617865746d7069;
// Decision numbers reserved per round trip on PostgreSQL (decisions are written by COPY, so the
// store hands out their seq itself, from the table's identity sequence).
constexpr int kSeqBlock = 4096;
// Pending decision rows kept in memory before they are sent (COPY) on PostgreSQL.
constexpr std::size_t kPendingFlushBytes = 8u << 20;

// ---- thin RAII over the sqlite3 C API and libpq ------------------------------------------

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};

// A statement on either backend: a prepared SQLite statement, or PostgreSQL SQL whose ?N
// markers became $N, executed with its parameters when first stepped.
struct Stmt {
  std::unique_ptr<sqlite3_stmt, StmtDeleter> lite;
  PGconn* pg = nullptr;
  std::string pg_sql;
  int pg_params = 0;
  void reset() noexcept { lite.reset(); }
};

struct PgResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// sqlite3_errmsg names tables, columns and constraints, never bound values.
[[noreturn]] void throw_sqlite(sqlite3* db, std::string_view what) {
  const int rc = sqlite3_extended_errcode(db);
  std::string message("MPI index: ");
  message.append(what).append(": ").append(sqlite3_errmsg(db));
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) throw StoreBusy(message);
  throw StoreError(message);
}

// Only the server's primary message: its DETAIL may quote a row's values (a duplicate key).
// A lock wait past lock_timeout (the busy timeout) or a deadlock is StoreBusy, like SQLite's.
[[noreturn]] void throw_pg(PGconn* pg, const PGresult* result, std::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string text = primary != nullptr ? primary : PQerrorMessage(pg);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::string message("MPI index: ");
  message.append(what).append(": ").append(text);
  const std::string_view code = state != nullptr ? state : "";
  if (code == "55P03" || code == "40P01" || code == "40001") throw StoreBusy(message);
  throw StoreError(message);
}

// "?N" -> "$N" outside quotes; sets `count` to the highest N.
std::string postgres_markers(std::string_view sql, int& count) {
  std::string out;
  out.reserve(sql.size());
  count = 0;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      int n = 0;
      std::size_t j = i + 1;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') n = n * 10 + (sql[j++] - '0');
      count = std::max(count, n);
      out += '$';
      out.append(sql.substr(i + 1, j - i - 1));
      i = j - 1;
      continue;
    }
    out += c;
  }
  return out;
}

PgResult pg_exec(PGconn* pg, const std::string& sql, std::string_view what) {
  PgResult result(PQexec(pg, sql.c_str()));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_pg(pg, result.get(), what);
  return result;
}

std::string double_text(double value) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
  return ec == std::errc() ? std::string(text, end) : std::string("0");
}

template <class Int>
Int parse_int(std::string_view text) {
  Int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

double parse_double(std::string_view text) {
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// One execution of a statement: binds, steps, reads columns, and (SQLite) resets the statement
// when the scope ends (also on exceptions), so no cursor stays open across COMMIT or ROLLBACK.
// On PostgreSQL the statement runs at the first step() with the bound parameters as text, and
// its rows are read from the result; an empty text or master id 0 is NULL on both.
class Use {
 public:
  explicit Use(const Stmt& s) : s_(s.lite.get()), stmt_(s) {
    if (s_ == nullptr) params_.resize(static_cast<std::size_t>(s.pg_params));
  }
  ~Use() {
    if (s_ == nullptr) return;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  // SQLite binds `value` in place (it must outlive step()); an empty value binds as NULL.
  Use& text(int index, std::string_view value) {
    if (s_ == nullptr) return param(index, value.empty() ? std::nullopt : std::optional(std::string(value)));
    const int rc = value.empty()
                       ? sqlite3_bind_null(s_, index)
                       : sqlite3_bind_text(s_, index, value.data(), static_cast<int>(value.size()),
                                           SQLITE_STATIC);
    if (rc != SQLITE_OK) fail("binding a value");
    return *this;
  }
  Use& integer(int index, std::int64_t value) {
    if (s_ == nullptr) return param(index, std::to_string(value));
    if (sqlite3_bind_int64(s_, index, value) != SQLITE_OK) fail("binding a value");
    return *this;
  }
  // Master ids; 0 (no master) binds as NULL.
  Use& id(int index, MasterId value) {
    if (s_ == nullptr) return param(index, value == 0 ? std::nullopt : std::optional(std::to_string(value)));
    const int rc = value == 0 ? sqlite3_bind_null(s_, index)
                              : sqlite3_bind_int64(s_, index, static_cast<std::int64_t>(value));
    if (rc != SQLITE_OK) fail("binding a value");
    return *this;
  }
  Use& real(int index, double value) {
    if (s_ == nullptr) return param(index, double_text(value));
    if (sqlite3_bind_double(s_, index, value) != SQLITE_OK) fail("binding a value");
    return *this;
  }
  // True for a row, false when done.
  bool step() {
    if (s_ == nullptr) {
      if (!result_) execute();
      return ++row_ < PQntuples(result_.get());
    }
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("executing a statement");
  }
  void run() {
    while (step()) {
    }
  }
  // Rows the statement changed (after run()).
  std::int64_t changes() const {
    if (s_ != nullptr) return sqlite3_changes(sqlite3_db_handle(s_));
    return result_ ? parse_int<std::int64_t>(PQcmdTuples(result_.get())) : 0;
  }
  std::int64_t integer(int column) const noexcept {
    if (s_ == nullptr) return parse_int<std::int64_t>(view(column));
    return sqlite3_column_int64(s_, column);
  }
  MasterId master(int column) const noexcept { return static_cast<MasterId>(integer(column)); }
  double real(int column) const noexcept {
    if (s_ == nullptr) return parse_double(view(column));
    return sqlite3_column_double(s_, column);
  }
  // Valid until the next step or reset.
  std::string_view view(int column) const noexcept {
    if (s_ == nullptr) {
      if (PQgetisnull(result_.get(), row_, column)) return {};
      return {PQgetvalue(result_.get(), row_, column),
              static_cast<std::size_t>(PQgetlength(result_.get(), row_, column))};
    }
    const auto* p = sqlite3_column_text(s_, column);
    if (p == nullptr) return {};
    return {reinterpret_cast<const char*>(p),
            static_cast<std::size_t>(sqlite3_column_bytes(s_, column))};
  }
  std::string text(int column) const { return std::string(view(column)); }

 private:
  Use& param(int index, std::optional<std::string> value) {
    if (index < 1 || static_cast<std::size_t>(index) > params_.size())
      throw std::logic_error("MPI index: a parameter the statement does not have");
    params_[static_cast<std::size_t>(index) - 1] = std::move(value);
    return *this;
  }
  void execute() {
    std::vector<const char*> values;
    values.reserve(params_.size());
    for (const auto& p : params_) values.push_back(p ? p->c_str() : nullptr);
    result_.reset(PQexecParams(stmt_.pg, stmt_.pg_sql.c_str(), static_cast<int>(values.size()),
                               nullptr, values.data(), nullptr, nullptr, 0));
    const auto status = PQresultStatus(result_.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      throw_pg(stmt_.pg, result_.get(), "executing a statement");
  }
  [[noreturn]] void fail(const char* what) { throw_sqlite(sqlite3_db_handle(s_), what); }

  sqlite3_stmt* s_;
  const Stmt& stmt_;
  std::vector<std::optional<std::string>> params_;
  PgResult result_;
  int row_ = -1;
};

// Rows for COPY ... FROM STDIN in PostgreSQL's text format.
class CopyRows {
 public:
  CopyRows& text(std::string_view value) {  // empty: NULL, as the statements bind it
    if (value.empty()) return null();
    return raw(value);
  }
  CopyRows& raw(std::string_view value) {  // empty stays an empty string
    separate();
    for (const char c : value) {
      switch (c) {
        case '\\': buffer_ += "\\\\"; break;
        case '\t': buffer_ += "\\t"; break;
        case '\n': buffer_ += "\\n"; break;
        case '\r': buffer_ += "\\r"; break;
        default: buffer_ += c;
      }
    }
    return *this;
  }
  CopyRows& integer(std::int64_t value) {
    separate();
    char text[24];
    const auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
    buffer_.append(text, end);
    return *this;
  }
  CopyRows& id(MasterId value) { return value == 0 ? null() : integer(static_cast<std::int64_t>(value)); }
  CopyRows& real(double value) {
    separate();
    buffer_ += double_text(value);
    return *this;
  }
  CopyRows& null() {
    separate();
    buffer_ += "\\N";
    return *this;
  }
  void end_row() {
    buffer_ += '\n';
    fresh_ = true;
    ++rows_;
  }
  bool empty() const noexcept { return rows_ == 0; }
  std::size_t rows() const noexcept { return rows_; }
  std::size_t bytes() const noexcept { return buffer_.size(); }
  const std::string& data() const noexcept { return buffer_; }
  void clear() noexcept {
    buffer_.clear();
    fresh_ = true;
    rows_ = 0;
  }

 private:
  void separate() {
    if (!fresh_) buffer_ += '\t';
    fresh_ = false;
  }
  std::string buffer_;
  bool fresh_ = true;
  std::size_t rows_ = 0;
};

// COPY ... FROM STDIN: the rows in 1 MiB messages; returns the rows the server took.
std::int64_t copy_in(PGconn* pg, const std::string& copy_sql, const CopyRows& rows, std::string_view what) {
  if (rows.empty()) return 0;
  {
    PgResult start(PQexec(pg, copy_sql.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) throw_pg(pg, start.get(), what);
  }
  const std::string& data = rows.data();
  constexpr std::size_t kChunk = 1u << 20;
  bool sent = true;
  for (std::size_t at = 0; at < data.size() && sent; at += kChunk) {
    const std::size_t n = std::min(kChunk, data.size() - at);
    sent = PQputCopyData(pg, data.data() + at, static_cast<int>(n)) == 1;
  }
  PQputCopyEnd(pg, sent ? nullptr : "the client could not send the rows");
  PgResult end(PQgetResult(pg));
  const bool ok = PQresultStatus(end.get()) == PGRES_COMMAND_OK;
  std::int64_t taken = ok ? parse_int<std::int64_t>(PQcmdTuples(end.get())) : 0;
  // Drain to the end of the command so that the connection is ready for the next one.
  PgResult last;
  while (PgResult more{PQgetResult(pg)}) last = std::move(more);
  if (!ok) throw_pg(pg, end.get(), what);
  return taken;
}

// The fields of a COPY ... TO STDOUT text row, unescaped; a NULL field is empty.
void split_copy_row(std::string_view line, std::vector<std::string>& fields) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::size_t n = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = std::min(line.find('\t', start), line.size());
    const std::string_view raw = line.substr(start, tab - start);
    if (fields.size() <= n) fields.emplace_back();
    std::string& field = fields[n++];
    field.clear();
    if (raw != "\\N") {
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\' || i + 1 == raw.size()) {
          field += raw[i];
          continue;
        }
        const char e = raw[++i];
        switch (e) {
          case 't': field += '\t'; break;
          case 'n': field += '\n'; break;
          case 'r': field += '\r'; break;
          case 'b': field += '\b'; break;
          case 'f': field += '\f'; break;
          case 'v': field += '\v'; break;
          default:
            if (e >= '0' && e <= '7') {  // \NNN octal
              int value = e - '0';
              for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k)
                value = value * 8 + (raw[++i] - '0');
              field += static_cast<char>(value);
            } else {
              field += e;  // \\ and any other escaped character stand for themselves
            }
        }
      }
    }
    if (tab == line.size()) break;
    start = tab + 1;
  }
  fields.resize(n);
}

// COPY (query) TO STDOUT: one streaming query; `on_row` gets each row's fields.
template <class OnRow>
void copy_out(PGconn* pg, const std::string& query, std::string_view what, OnRow&& on_row) {
  {
    PgResult start(PQexec(pg, ("COPY (" + query + ") TO STDOUT").c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_OUT) throw_pg(pg, start.get(), what);
  }
  std::vector<std::string> fields;
  char* line = nullptr;
  int length = 0;
  std::exception_ptr failure;
  while ((length = PQgetCopyData(pg, &line, 0)) > 0) {
    if (!failure) {
      try {
        split_copy_row(std::string_view(line, static_cast<std::size_t>(length)), fields);
        on_row(fields);
      } catch (...) {
        failure = std::current_exception();  // read to the end so the connection stays usable
      }
    }
    PQfreemem(line);
  }
  PgResult end(PQgetResult(pg));
  const bool ok = length == -1 && PQresultStatus(end.get()) == PGRES_COMMAND_OK;
  PgResult last;
  while (PgResult more{PQgetResult(pg)}) last = std::move(more);
  if (!ok) throw_pg(pg, end.get(), what);
  if (failure) std::rethrow_exception(failure);
}

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
  db::Location location;
  std::string shown;  // the location for messages: a PostgreSQL password never appears
  sqlite3* db = nullptr;
  std::unique_ptr<Poco::Data::Session> session;  // PostgreSQL
  PGconn* pg = nullptr;                          // the connection under `session`
  bool in_transaction = false;
  LoadRun run;              // the load in progress
  std::int64_t run_no = 0;  // its runs row, once written (0: not yet)
  // Hot-path statements (SQLite); finalized in close() before the connection closes.
  Stmt master_insert, value_insert, decision_insert, review_insert, replay_insert;
  // PostgreSQL: a load's decisions, replays and reviews wait here and go in by COPY, before any
  // other statement runs and at commit; their seq numbers come from reserved blocks.
  CopyRows pending_decisions, pending_replays, pending_reviews;
  std::vector<std::int64_t> reserved_seqs;
  std::size_t next_reserved = 0;
  // PostgreSQL: the masters this load created; no stored value can belong to them yet.
  std::unordered_set<MasterId> created_masters;

  explicit Impl(const StoreOptions& opts) : options(opts), location(parse_location(opts.path)) {
    if (location.is_postgres()) {
      shown = location.display();
      open_postgres();
      return;
    }
    shown = options.path;
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

  static db::Location parse_location(const std::string& text) {
    try {
      return db::Location::parse(text);
    } catch (const std::invalid_argument& e) {
      throw StoreError(std::string("MPI index: ") + e.what());
    }
  }

  bool postgres() const noexcept { return pg != nullptr; }

  // PostgreSQL applies nothing on open: its schema is migrated by `vaxetl db migrate` (an
  // operator's step, with the migration lock), and an index with pending migrations is refused.
  void open_postgres() {
    try {
      session = db::open_session(location, options.busy_timeout_ms);
    } catch (const std::exception& e) {
      throw StoreError(std::string("MPI index: ") + e.what());  // names display(), never a password
    }
    pg = static_cast<PGconn*>(db::postgres_connection(*session));
    if (pg == nullptr) throw StoreError("MPI index: " + shown + " did not open a PostgreSQL session");
    PQsetNoticeProcessor(pg, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
    try {
      check_migrations();
      exec("SET search_path TO mpi");
      if (options.dry_run) {
        // One snapshot for the whole dry run; the server itself refuses writes in it.
        exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        in_transaction = true;
      }
    } catch (...) {
      close();
      throw;
    }
  }

  fs::path migrations_dir() const { return fs::path(options.data_dir) / "migrations" / "postgresql"; }

  void check_migrations() {
    db::MigrationStatus status;
    try {
      status = db::migration_status(*session, db::Backend::PostgreSQL, "mpi", migrations_dir());
    } catch (const db::MigrationError& e) {
      throw StoreError(std::string("MPI index: ") + shown + ": " + e.what());
    } catch (const std::exception& e) {
      throw StoreError(std::string("MPI index: reading the migrations of ") + shown + ": " + e.what());
    }
    if (status.pending.empty()) return;
    std::string names;
    for (const auto& name : status.pending) names.append(names.empty() ? "" : ", ").append(name);
    throw StoreError("MPI index: " + shown + " has pending migrations for component mpi (at version " +
                     std::to_string(status.applied) + " of " + std::to_string(status.latest) +
                     "; pending: " + names + "); run `vaxetl db migrate PIPELINE` first");
  }

  void close() noexcept {
    master_insert.reset();
    value_insert.reset();
    decision_insert.reset();
    review_insert.reset();
    replay_insert.reset();
    drop_pending();
    if (pg != nullptr) {
      if (in_transaction) PgResult(PQexec(pg, "ROLLBACK"));
      in_transaction = false;
      pg = nullptr;
      try {
        session.reset();
      } catch (...) {
        // closing a broken connection: nothing left to do
      }
      return;
    }
    if (db == nullptr) return;
    if (in_transaction) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    in_transaction = false;
    sqlite3_close(db);
    db = nullptr;
  }

  void drop_pending() noexcept {
    pending_decisions.clear();
    pending_replays.clear();
    pending_reviews.clear();
    reserved_seqs.clear();
    next_reserved = 0;
  }

  void exec(std::string_view sql) {
    const std::string text(sql);
    if (postgres()) {
      flush_pending();
      pg_exec(pg, text, text.substr(0, text.find(' ')));
      return;
    }
    if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      throw_sqlite(db, text.substr(0, text.find(' ')));
  }

  void rollback_quietly() noexcept {
    if (postgres()) {
      drop_pending();
      PgResult(PQexec(pg, "ROLLBACK"));
    } else {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  // The single writer: SQLite's BEGIN IMMEDIATE; on PostgreSQL a transaction holding the
  // index's advisory lock (released by COMMIT, ROLLBACK or the connection's end), waited for
  // up to the busy timeout (the session's lock_timeout). READ COMMITTED, so that what the
  // previous holder committed is seen once the lock is ours.
  void begin_write() {
    if (!postgres()) {
      exec("BEGIN IMMEDIATE");
      return;
    }
    exec("BEGIN ISOLATION LEVEL READ COMMITTED");
    try {
      pg_exec(pg, "SELECT pg_advisory_xact_lock(" + std::to_string(kPostgresIndexLock) + ")",
              "waiting for the index's write lock");
    } catch (...) {
      rollback_quietly();
      throw;
    }
  }

  Stmt query(std::string_view sql) {
    Stmt s;
    if (postgres()) {
      flush_pending();
      s.pg = pg;
      s.pg_sql = postgres_markers(sql, s.pg_params);
      return s;
    }
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), 0, &raw, nullptr) != SQLITE_OK)
      throw_sqlite(db, "preparing a statement");
    s.lite.reset(raw);
    return s;
  }

  Stmt prepare_persistent(std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &raw, nullptr) != SQLITE_OK)
      throw_sqlite(db, "preparing a statement");
    Stmt s;
    s.lite.reset(raw);
    return s;
  }

  // ---- PostgreSQL: pending rows --------------------------------------------------------------

  std::int64_t next_decision_seq() {
    if (next_reserved == reserved_seqs.size()) {
      reserved_seqs.clear();
      next_reserved = 0;
      const PgResult r = pg_exec(
          pg,
          "SELECT nextval(pg_get_serial_sequence('mpi.decisions', 'seq')) FROM generate_series(1, " +
              std::to_string(kSeqBlock) + ")",
          "reserving decision numbers");
      for (int i = 0; i < PQntuples(r.get()); ++i)
        reserved_seqs.push_back(parse_int<std::int64_t>(PQgetvalue(r.get(), i, 0)));
    }
    return reserved_seqs[next_reserved++];
  }

  void flush_pending_if_large() {
    if (pending_decisions.bytes() + pending_replays.bytes() >= kPendingFlushBytes) flush_pending();
  }

  // Decisions first (reviews name them), then replays (copies of earlier decisions), reviews.
  void flush_pending() {
    if (pending_decisions.empty() && pending_replays.empty() && pending_reviews.empty()) return;
    CopyRows decisions = std::move(pending_decisions), replays = std::move(pending_replays),
             reviews = std::move(pending_reviews);
    pending_decisions.clear();
    pending_replays.clear();
    pending_reviews.clear();
    copy_in(pg,
            "COPY decisions (seq, run_no, record_no, source, recipient_id, vax_event_id, "
            "record_type, decision, mpi_id, best_candidate, score, runner_up, runner_up_score, "
            "candidates, rule, comparison, model_version, decided_at) FROM STDIN",
            decisions, "writing decisions");
    if (!replays.empty()) {
      pg_exec(pg,
              "CREATE TEMP TABLE IF NOT EXISTS mpi_replay_batch (seq bigint, run_no bigint, "
              "mpi_id bigint, decided_at text, replay_of bigint)",
              "preparing replays");
      copy_in(pg, "COPY mpi_replay_batch FROM STDIN", replays, "writing replays");
      const PgResult inserted = pg_exec(
          pg,
          "INSERT INTO decisions (seq, run_no, record_no, source, recipient_id, vax_event_id, "
          "record_type, decision, mpi_id, best_candidate, score, runner_up, runner_up_score, "
          "candidates, rule, comparison, model_version, decided_at, replay_of) "
          "SELECT b.seq, b.run_no, d.record_no, d.source, d.recipient_id, d.vax_event_id, "
          "d.record_type, d.decision, b.mpi_id, d.best_candidate, d.score, d.runner_up, "
          "d.runner_up_score, d.candidates, d.rule, d.comparison, d.model_version, b.decided_at, "
          "d.seq FROM mpi_replay_batch b JOIN decisions d ON d.seq = b.replay_of ORDER BY b.seq",
          "writing replays");
      pg_exec(pg, "TRUNCATE mpi_replay_batch", "writing replays");
      if (parse_int<std::size_t>(PQcmdTuples(inserted.get())) != replays.rows())
        throw StoreError("MPI index: a decision to repeat is not in the log");
    }
    copy_in(pg,
            "COPY reviews (decision_seq, mpi_id, candidate_mpi_id, score, status, created_at) "
            "FROM STDIN",
            reviews, "writing reviews");
  }

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
    if (own_transaction) begin_write();
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
    master_insert = prepare_persistent(
                            "INSERT INTO masters (mpi_id, status, created_run, created_at) "
                            "VALUES (?1, 'active', ?2, ?3)");
    value_insert = prepare_persistent(
                           "INSERT INTO master_values (mpi_id, field, value, first_run) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (mpi_id, field, value) DO NOTHING");
    decision_insert = prepare_persistent(
        "INSERT INTO decisions (run_no, record_no, source, recipient_id, vax_event_id, "
        "record_type, decision, mpi_id, best_candidate, score, runner_up, runner_up_score, "
        "candidates, rule, comparison, model_version, decided_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) "
        "RETURNING seq");
    review_insert = prepare_persistent(
                            "INSERT INTO reviews (decision_seq, mpi_id, candidate_mpi_id, score, "
                            "status, created_at) VALUES (?1, ?2, ?3, ?4, 'open', ?5)");
    // A rerun repeats the original row, pointing at it; the record's fields are the same since
    // the input is the same file.
    replay_insert = prepare_persistent(
        "INSERT INTO decisions (run_no, record_no, source, recipient_id, vax_event_id, "
        "record_type, decision, mpi_id, best_candidate, score, runner_up, runner_up_score, "
        "candidates, rule, comparison, model_version, decided_at, replay_of) "
        "SELECT ?1, record_no, source, recipient_id, vax_event_id, record_type, decision, ?2, "
        "best_candidate, score, runner_up, runner_up_score, candidates, rule, comparison, "
        "model_version, ?3, seq FROM decisions WHERE seq = ?4 RETURNING seq");
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
    created_masters.clear();
  }

  std::int64_t insert_decision(const DecisionContext& c, std::string_view decision, MasterId mpi_id,
                               MasterId best, double score, MasterId runner_up,
                               double runner_up_score, std::uint32_t candidates,
                               std::string_view rule, std::string_view comparison,
                               std::int64_t model_version) {
    const std::int64_t run_number = current_run(c.decided_at);
    if (postgres()) {
      const std::int64_t seq = next_decision_seq();
      pending_decisions.integer(seq).integer(run_number).integer(c.record_no).text(c.source)
          .text(c.recipient_id).text(c.vax_event_id).text(c.record_type).text(decision).id(mpi_id)
          .id(best).real(score).id(runner_up).real(runner_up_score).integer(candidates).text(rule)
          .text(comparison).integer(model_version).text(c.decided_at).end_row();
      flush_pending_if_large();
      return seq;
    }
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
        .text(17, c.decided_at);
    if (!use.step()) throw StoreError("MPI index: a decision was not written");
    return use.integer(0);
  }

  // Runs `body` in its own write transaction (operator actions).
  template <class Body>
  auto write_transaction(Body&& body) {
    if (options.dry_run) throw std::logic_error("MPI index: a dry run writes nothing");
    if (in_transaction) throw std::logic_error("MPI index: an operator action during a load");
    begin_write();
    in_transaction = true;
    try {
      auto result = body();
      exec("COMMIT");
      in_transaction = false;
      return result;
    } catch (...) {
      rollback_quietly();
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
        "performed_by, reason, performed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING action_id");
    Use use(s);
    use.text(1, action).id(2, survivor).id(3, retired);
    if (review_id != 0) use.integer(4, review_id);
    use.text(5, by.by.empty() ? std::string_view("unknown") : std::string_view(by.by))
        .text(6, by.reason.empty() ? std::string_view("(no reason given)")
                                   : std::string_view(by.reason))
        .text(7, at);
    if (!use.step()) throw StoreError("MPI index: an operator action was not logged");
    return use.integer(0);
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

const std::string& MpiStore::path() const noexcept { return impl_->shown; }
bool MpiStore::dry_run() const noexcept { return impl_->options.dry_run; }

void MpiStore::begin(const LoadRun& run) {
  if (impl_->options.dry_run) return;
  if (impl_->in_transaction) throw std::logic_error("MPI index: begin() during a load");
  impl_->begin_write();
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
  impl_->rollback_quietly();
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
  // Key order (master, field, value): one sequential pass over the table's B-tree. A master's
  // values of one field come back sorted rather than in the order learned; the matcher
  // compares a record with each of them, so the order does not change a score.
  const std::string values_sql = "SELECT mpi_id, field, value FROM master_values ORDER BY mpi_id, field, value";
  const std::string masters_sql = "SELECT mpi_id FROM masters WHERE status = 'active' ORDER BY mpi_id";
  auto restore_value = [&](MasterId owner, std::int64_t field, std::string_view value) {
    if (!retired.empty()) owner = Impl::resolve_in(retired, owner);
    if (field < 0 || field >= static_cast<std::int64_t>(kFieldCount))
      throw StoreError("MPI index: master_values holds an unknown field number " + std::to_string(field));
    matcher.restore_value(owner, static_cast<Field>(field), value);
    if (owner < has_values.size()) has_values[owner] = true;
    ++summary.values;
  };
  auto restore_master = [&](MasterId id) {
    if (id >= has_values.size() || !has_values[id]) matcher.restore_master(id);
    ++summary.masters;
  };
  if (impl_->postgres()) {
    // Two streaming COPY queries: no result set of a million rows is held in memory.
    impl_->flush_pending();
    copy_out(impl_->pg, values_sql, "reading master_values", [&](const std::vector<std::string>& row) {
      if (row.size() != 3) throw StoreError("MPI index: master_values came back malformed");
      restore_value(parse_int<MasterId>(row[0]), parse_int<std::int64_t>(row[1]), row[2]);
    });
    copy_out(impl_->pg, masters_sql, "reading masters", [&](const std::vector<std::string>& row) {
      if (row.size() != 1) throw StoreError("MPI index: masters came back malformed");
      restore_master(parse_int<MasterId>(row[0]));
    });
  } else {
    {
      const Stmt s = impl_->query(values_sql);
      Use use(s);
      while (use.step()) restore_value(use.master(0), use.integer(1), use.view(2));
    }
    const Stmt s = impl_->query(masters_sql);
    Use use(s);
    while (use.step()) restore_master(use.master(0));
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
  if (impl_->postgres()) {
    // COPY: new masters straight into their table (ids are unique under the write lock). A value
    // learned twice is stored once: the values of masters this load created go straight in too,
    // without duplicates (the matcher reports a value once per load; one sent again in a later
    // call would fail the load on the primary key, never be stored twice); values of older
    // masters go through a temporary table that skips those already stored.
    CopyRows masters, values, new_values;
    using NewValue = std::tuple<MasterId, int, std::string_view>;
    std::vector<NewValue> of_new_masters;
    for (const IndexChange& change : changes) {
      if (change.kind == IndexChange::Kind::NewMaster) {
        masters.id(change.master).integer(run_no).text(at).end_row();
        impl_->created_masters.insert(change.master);
      } else if (impl_->created_masters.count(change.master) != 0) {
        of_new_masters.emplace_back(change.master, static_cast<int>(change.field), change.value);
      } else {
        values.id(change.master).integer(static_cast<std::int64_t>(change.field)).raw(change.value)
            .integer(run_no).end_row();
      }
    }
    std::sort(of_new_masters.begin(), of_new_masters.end());
    of_new_masters.erase(std::unique(of_new_masters.begin(), of_new_masters.end()), of_new_masters.end());
    for (const auto& [id, field, value] : of_new_masters)
      new_values.id(id).integer(field).raw(value).integer(run_no).end_row();
    impl_->flush_pending();
    PGconn* pg = impl_->pg;
    copy_in(pg, "COPY masters (mpi_id, created_run, created_at) FROM STDIN", masters, "writing masters");
    copy_in(pg, "COPY master_values (mpi_id, field, value, first_run) FROM STDIN", new_values,
            "writing values");
    if (!values.empty()) {
      pg_exec(pg,
              "CREATE TEMP TABLE IF NOT EXISTS mpi_value_batch (mpi_id bigint, field integer, "
              "value text COLLATE \"C\", first_run bigint)",
              "preparing values");
      copy_in(pg, "COPY mpi_value_batch FROM STDIN", values, "writing values");
      // An anti-join instead of ON CONFLICT DO NOTHING: the same result under the write lock
      // (no other writer inserts meanwhile), without a speculative insertion per row (measured
      // 40% faster for 1.5M values); sorted, so the primary key grows in order.
      pg_exec(pg,
              "INSERT INTO master_values (mpi_id, field, value, first_run) "
              "SELECT DISTINCT ON (b.mpi_id, b.field, b.value) b.mpi_id, b.field, b.value, b.first_run "
              "FROM mpi_value_batch b WHERE NOT EXISTS (SELECT 1 FROM master_values v WHERE "
              "v.mpi_id = b.mpi_id AND v.field = b.field AND v.value = b.value) "
              "ORDER BY b.mpi_id, b.field, b.value",
              "writing values");
      pg_exec(pg, "TRUNCATE mpi_value_batch", "writing values");
    }
    return;
  }
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
    if (impl_->postgres()) {
      impl_->pending_reviews.integer(seq).id(result.mpi_id).id(result.best_candidate)
          .real(result.score).raw("open").text(context.decided_at).end_row();
      return seq;
    }
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
  if (impl_->postgres()) {
    // Copied from the original row when the pending rows are sent; a missing original is
    // reported then (at the latest by commit()).
    const std::int64_t seq = impl_->next_decision_seq();
    impl_->pending_replays.integer(seq).integer(run_no).id(mpi_id_now).text(context.decided_at)
        .integer(original_seq).end_row();
    impl_->flush_pending_if_large();
    return seq;
  }
  Use use(impl_->replay_insert);
  use.integer(1, run_no).id(2, mpi_id_now).text(3, context.decided_at).integer(4, original_seq);
  if (!use.step())
    throw StoreError("MPI index: decision " + std::to_string(original_seq) + " to repeat is not in the log");
  return use.integer(0);
}

std::int64_t MpiStore::save_model(const Model& model, const EstimationReport& report) {
  impl_->require_load("save_model");
  const std::string text = model.to_text();
  const std::string at = utc_timestamp();
  const Stmt s = impl_->query(
      "INSERT INTO models (version, created_at, run_id, pairs, iterations, match_share, model) "
      "VALUES ((SELECT coalesce(max(version), 0) + 1 FROM models), ?1, ?2, ?3, ?4, ?5, ?6) "
      "RETURNING version");
  Use use(s);
  use.text(1, at)
      .text(2, impl_->run.run_id)
      .integer(3, report.pairs)
      .integer(4, report.iterations)
      .real(5, report.match_share)
      .text(6, text);
  if (!use.step()) throw StoreError("MPI index: the model was not stored");
  return use.integer(0);
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
      result.reviews_resolved = use.changes();
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
        "SELECT decision, CASE WHEN replay_of IS NULL THEN 0 ELSE 1 END, count(*) FROM decisions "
        "GROUP BY 1, 2");
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
