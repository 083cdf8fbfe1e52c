#include "mllp/inbox_queue.hpp"

#include <sqlite3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "ledger.hpp"  // utc_timestamp_iso

namespace vaxetl::mllp {

const char* to_string(Disposition d) noexcept {
  switch (d) {
    case Disposition::Queued: return "queued";
    case Disposition::NotHl7: return "not-hl7";
    case Disposition::Oversize: return "oversize";
    case Disposition::Garbage: return "garbage";
    case Disposition::StoreFailed: return "store-failed";
  }
  return "?";
}

namespace {

// The SQLite C API is used directly rather than Poco::Data: the writer reuses one prepared
// INSERT for every row, binds the message as a BLOB without copies, and controls exactly
// when BEGIN IMMEDIATE / COMMIT happen, which is the whole point of group commit.
struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw QueueError("inbox: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw QueueError(std::string("inbox: ") + sql + ": " + text);
  }
}

StmtPtr prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK)
    fail(db, std::string("prepare ") + sql);
  return StmtPtr(raw);
}

void bind_text(sqlite3_stmt* s, int index, std::string_view value) {
  sqlite3_bind_text(s, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
}

std::string column_text(sqlite3_stmt* s, int index) {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(s, index));
  return bytes ? std::string(bytes, static_cast<std::size_t>(sqlite3_column_bytes(s, index))) : std::string();
}

// Resets a statement on scope exit, so an exception never leaves it mid-step (which would
// keep a read transaction open and block checkpoints).
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* s) : s_(s) {}
  ~StmtUse() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  sqlite3_stmt* get() const noexcept { return s_; }

 private:
  sqlite3_stmt* s_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if the scope is left by an exception.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { exec(db_, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    exec(db_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  bool done_ = false;
};

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS inbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"  // never reused, so an id names one message forever
    " received_at TEXT NOT NULL,"
    " peer TEXT NOT NULL,"
    " control_id TEXT NOT NULL,"
    " message BLOB NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'queued'"
    "   CHECK (state IN ('queued', 'processing', 'done', 'failed')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL DEFAULT '',"
    " updated_at TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS inbox_by_state ON inbox (state, id);";

constexpr const char* kColumns = "id, received_at, peer, control_id, message, state, attempts, reason";

InboxMessage read_row(sqlite3_stmt* s) {
  InboxMessage m;
  m.id = sqlite3_column_int64(s, 0);
  m.received_at = column_text(s, 1);
  m.peer = column_text(s, 2);
  m.control_id = column_text(s, 3);
  m.message = column_text(s, 4);
  m.state = column_text(s, 5);
  m.attempts = sqlite3_column_int64(s, 6);
  m.reason = column_text(s, 7);
  return m;
}

}  // namespace

struct InboxQueue::Db {
  DbPtr db;
  StmtPtr insert;

  Db(const InboxConfig& config, bool writer) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(config.path.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    db.reset(raw);
    if (rc != SQLITE_OK) fail(raw, "open " + config.path);
    sqlite3_busy_timeout(db.get(), static_cast<int>(config.busy_timeout.count()));
    exec(db.get(), "PRAGMA journal_mode = WAL");
    // FULL: the WAL is fsynced at every commit, so a committed (and ACKed) message survives
    // power loss, not only a process crash.
    exec(db.get(), "PRAGMA synchronous = FULL");
    if (writer) {
      exec(db.get(), kSchema);
      insert = prepare(db.get(),
                       "INSERT INTO inbox (received_at, peer, control_id, message, updated_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?1)");
    }
  }
};

InboxQueue::InboxQueue(InboxConfig config) : config_(std::move(config)) {
  if (config_.max_batch == 0) config_.max_batch = 1;
  const auto parent = std::filesystem::path(config_.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  writer_db_ = std::make_unique<Db>(config_, true);
  reader_db_ = std::make_unique<Db>(config_, false);
  writer_ = std::thread([this] { writer_loop(); });
}

InboxQueue::~InboxQueue() { close(); }

std::future<QueueReceipt> InboxQueue::submit(std::string_view message, std::string_view peer,
                                             std::string_view control_id) {
  Pending p;
  p.message.assign(message);
  p.receipt.disposition = Disposition::Queued;
  p.receipt.received_at = utc_timestamp_iso();
  p.receipt.peer.assign(peer);
  p.receipt.control_id.assign(control_id);
  p.receipt.size = message.size();
  auto future = p.promise.get_future();
  {
    std::lock_guard lock(mutex_);
    if (closing_) throw QueueError("inbox: closed");
    pending_.push_back(std::move(p));
    ++submitted_;
  }
  wake_writer_.notify_one();
  return future;
}

QueueReceipt InboxQueue::enqueue(std::string_view message, std::string_view peer,
                                 std::string_view control_id) {
  return submit(message, peer, control_id).get();
}

void InboxQueue::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = submitted_;
  committed_cv_.wait(lock, [&] { return completed_ >= target; });
}

void InboxQueue::close() {
  std::lock_guard close_lock(close_mutex_);
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_writer_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void InboxQueue::writer_loop() {
  std::vector<Pending> batch;
  batch.reserve(config_.max_batch);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_writer_.wait(lock, [&] { return closing_ || !pending_.empty(); });
      if (pending_.empty()) return;  // closing and nothing left
      if (config_.commit_delay.count() > 0 && !closing_) {
        const auto deadline = std::chrono::steady_clock::now() + config_.commit_delay;
        wake_writer_.wait_until(lock, deadline, [&] {
          return closing_ || pending_.size() >= config_.max_batch;
        });
      }
      const std::size_t n = std::min(pending_.size(), config_.max_batch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    commit_batch(batch);
    const std::size_t n = batch.size();
    batch.clear();
    {
      std::lock_guard lock(mutex_);
      completed_ += n;
    }
    committed_cv_.notify_all();
  }
}

void InboxQueue::commit_batch(std::vector<Pending>& batch) {
  sqlite3* db = writer_db_->db.get();
  sqlite3_stmt* insert = writer_db_->insert.get();
  try {
    Transaction tx(db);
    for (auto& p : batch) {
      StmtUse use(insert);
      bind_text(insert, 1, p.receipt.received_at);
      bind_text(insert, 2, p.receipt.peer);
      bind_text(insert, 3, p.receipt.control_id);
      sqlite3_bind_blob(insert, 4, p.message.data(), static_cast<int>(p.message.size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) fail(db, "insert");
      p.receipt.id = sqlite3_last_insert_rowid(db);
    }
    tx.commit();
    ++commits_;
  } catch (const std::exception& e) {
    // Nothing of this batch is stored: every waiting connection answers AR so its sender
    // resends. The message text is not logged (PHI); the SQLite error is.
    spdlog::error("mllp inbox: commit of {} messages failed: {}", batch.size(), e.what());
    for (auto& p : batch) p.promise.set_exception(std::make_exception_ptr(QueueError(e.what())));
    return;
  }
  for (auto& p : batch) p.promise.set_value(std::move(p.receipt));
}

std::vector<InboxMessage> InboxQueue::claim(std::size_t max) {
  std::vector<InboxMessage> out;
  if (max == 0) return out;
  std::lock_guard lock(reader_mutex_);
  sqlite3* db = reader_db_->db.get();
  const std::string now = utc_timestamp_iso();
  Transaction tx(db);
  {
    // The state check is repeated in the outer WHERE: the claim is one statement under the
    // write lock, so a row another process claimed first is simply not returned.
    const std::string sql = std::string(
        "UPDATE inbox SET state = 'processing', attempts = attempts + 1, updated_at = ?1"
        " WHERE state = 'queued' AND id IN"
        " (SELECT id FROM inbox WHERE state = 'queued' ORDER BY id LIMIT ?2) RETURNING ") + kColumns;
    StmtPtr stmt = prepare(db, sql.c_str());
    bind_text(stmt.get(), 1, now);
    sqlite3_bind_int64(stmt.get(), 2, static_cast<sqlite3_int64>(max));
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) out.push_back(read_row(stmt.get()));
    if (rc != SQLITE_DONE) fail(db, "claim");
  }
  tx.commit();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

namespace {
bool finish_row(sqlite3* db, int64_t id, const char* state, std::string_view reason) {
  StmtPtr stmt = prepare(db,
                         "UPDATE inbox SET state = ?1, reason = ?2, updated_at = ?3"
                         " WHERE id = ?4 AND state = 'processing'");
  const std::string now = utc_timestamp_iso();
  bind_text(stmt.get(), 1, state);
  bind_text(stmt.get(), 2, reason);
  bind_text(stmt.get(), 3, now);
  sqlite3_bind_int64(stmt.get(), 4, id);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) fail(db, "update state");
  return sqlite3_changes(db) == 1;
}
}  // namespace

bool InboxQueue::mark_done(int64_t id) {
  std::lock_guard lock(reader_mutex_);
  return finish_row(reader_db_->db.get(), id, "done", "");
}

bool InboxQueue::mark_failed(int64_t id, std::string_view reason) {
  std::lock_guard lock(reader_mutex_);
  return finish_row(reader_db_->db.get(), id, "failed", reason);
}

namespace {

std::size_t finish_rows(sqlite3* db, std::span<const int64_t> ids, const char* state, std::string_view reason) {
  exec(db, "BEGIN IMMEDIATE");
  std::size_t changed = 0;
  try {
    for (const int64_t id : ids) changed += finish_row(db, id, state, reason) ? 1 : 0;
    exec(db, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return changed;
}

}  // namespace

std::size_t InboxQueue::mark_done(std::span<const int64_t> ids) {
  std::lock_guard lock(reader_mutex_);
  return finish_rows(reader_db_->db.get(), ids, "done", "");
}

std::size_t InboxQueue::mark_failed(std::span<const int64_t> ids, std::string_view reason) {
  std::lock_guard lock(reader_mutex_);
  return finish_rows(reader_db_->db.get(), ids, "failed", reason);
}

std::size_t InboxQueue::requeue_stale(std::chrono::seconds older_than) {
  std::lock_guard lock(reader_mutex_);
  sqlite3* db = reader_db_->db.get();
  // updated_at is fixed-width ISO 8601 UTC, so text comparison orders it by time.
  StmtPtr stmt = prepare(db,
                         "UPDATE inbox SET state = 'queued', updated_at = ?1"
                         " WHERE state = 'processing' AND updated_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2)");
  const std::string now = utc_timestamp_iso();
  const std::string offset = "-" + std::to_string(older_than.count()) + " seconds";
  bind_text(stmt.get(), 1, now);
  bind_text(stmt.get(), 2, offset);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) fail(db, "requeue");
  return static_cast<std::size_t>(sqlite3_changes(db));
}

InboxCounts InboxQueue::counts() {
  std::lock_guard lock(reader_mutex_);
  sqlite3* db = reader_db_->db.get();
  StmtPtr stmt = prepare(db, "SELECT state, COUNT(*) FROM inbox GROUP BY state");
  InboxCounts c;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const std::string state = column_text(stmt.get(), 0);
    const int64_t n = sqlite3_column_int64(stmt.get(), 1);
    if (state == "queued") c.queued = n;
    else if (state == "processing") c.processing = n;
    else if (state == "done") c.done = n;
    else if (state == "failed") c.failed = n;
  }
  if (rc != SQLITE_DONE) fail(db, "counts");
  return c;
}

std::vector<InboxMessage> InboxQueue::list(std::string_view state, std::size_t limit) {
  std::lock_guard lock(reader_mutex_);
  sqlite3* db = reader_db_->db.get();
  const std::string sql =
      std::string("SELECT ") + kColumns + " FROM inbox WHERE state = ?1 ORDER BY id LIMIT ?2";
  StmtPtr stmt = prepare(db, sql.c_str());
  bind_text(stmt.get(), 1, state);
  sqlite3_bind_int64(stmt.get(), 2, static_cast<sqlite3_int64>(limit));
  std::vector<InboxMessage> out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) out.push_back(read_row(stmt.get()));
  if (rc != SQLITE_DONE) fail(db, "list");
  return out;
}

}  // namespace vaxetl::mllp
