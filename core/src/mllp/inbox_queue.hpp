// The durable inbox: every message the MLLP listener accepts is committed here (SQLite, WAL,
// synchronous=FULL) before its ACK leaves, so an acknowledged message survives a crash.
// Writes go through one writer thread that commits whatever arrived meanwhile in a single
// transaction (group commit): one fsync serves every connection that was waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace vaxetl::mllp {

// What happened to one frame received by the listener.
enum class Disposition {
  Queued,       // committed to the inbox
  NotHl7,       // no MSH segment or no MSH-10: not stored
  Oversize,     // larger than the configured maximum: not stored
  Garbage,      // bytes between frames: not stored
  StoreFailed,  // the inbox could not commit it: not stored, the sender should resend
};

const char* to_string(Disposition d) noexcept;

struct QueueReceipt {
  Disposition disposition = Disposition::Queued;
  int64_t id = 0;            // inbox row id when queued
  std::string received_at;   // ISO 8601 UTC
  std::string peer;          // "address:port"
  std::string control_id;    // MSH-10, empty when unknown
  std::size_t size = 0;      // bytes of the frame (or of the garbage run)
  std::size_t limit = 0;     // the maximum message size in force (for the Oversize AR text)
  bool queued() const noexcept { return disposition == Disposition::Queued; }
};

class QueueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct InboxConfig {
  InboxConfig() = default;
  explicit InboxConfig(std::string sqlite_path) : path(std::move(sqlite_path)) {}

  std::string path;               // SQLite file; parent directories are created
  std::size_t max_batch = 512;     // most messages per transaction
  // How long the writer lingers after the first pending message to gather more. Zero commits
  // at once; batches still form on their own while the previous commit is syncing.
  std::chrono::microseconds commit_delay{0};
  std::chrono::milliseconds busy_timeout{30000};  // other processes may hold the write lock
};

struct InboxMessage {
  int64_t id = 0;
  std::string received_at;
  std::string peer;
  std::string control_id;
  std::string message;
  std::string state;
  int64_t attempts = 0;
  std::string reason;
};

struct InboxCounts {
  int64_t queued = 0;
  int64_t processing = 0;
  int64_t done = 0;
  int64_t failed = 0;
  int64_t total() const noexcept { return queued + processing + done + failed; }
};

class InboxQueue {
 public:
  explicit InboxQueue(InboxConfig config);
  ~InboxQueue();  // close()
  InboxQueue(const InboxQueue&) = delete;
  InboxQueue& operator=(const InboxQueue&) = delete;

  // Hands a message to the writer thread. The future becomes ready once the row is committed
  // durably (receipt with id), or holds a QueueError if the commit failed. Throws QueueError
  // after close().
  std::future<QueueReceipt> submit(std::string_view message, std::string_view peer,
                                   std::string_view control_id);
  // submit() and wait.
  QueueReceipt enqueue(std::string_view message, std::string_view peer, std::string_view control_id);

  // Waits until everything submitted so far is committed (or failed).
  void flush();
  // Refuses new submissions, commits what is pending and stops the writer. Idempotent.
  void close();

  // Claims up to `max` queued messages, oldest first: state becomes 'processing' and attempts
  // goes up by one. The UPDATE checks the state inside an IMMEDIATE transaction, so several
  // processes claiming from the same file never get the same message.
  std::vector<InboxMessage> claim(std::size_t max);
  // processing -> done / failed. False when the row is not in 'processing' (not claimed, or
  // already finished by someone else).
  bool mark_done(int64_t id);
  bool mark_failed(int64_t id, std::string_view reason);  // reason: codes, never PHI
  // The same for a whole claimed batch, in one transaction (one fsync, one short write lock
  // that the group-commit writer waits for once, not per message). Returns rows changed.
  std::size_t mark_done(std::span<const int64_t> ids);
  std::size_t mark_failed(std::span<const int64_t> ids, std::string_view reason);
  // processing -> queued for rows claimed longer than `older_than` ago (their worker died).
  std::size_t requeue_stale(std::chrono::seconds older_than);

  InboxCounts counts();
  std::vector<InboxMessage> list(std::string_view state, std::size_t limit);  // oldest first
  const std::string& path() const noexcept { return config_.path; }
  // Transactions the writer has committed: messages / commits is the group-commit batch size.
  uint64_t commits() const noexcept { return commits_.load(); }

 private:
  struct Pending {
    std::string message;
    QueueReceipt receipt;
    std::promise<QueueReceipt> promise;
  };
  struct Db;  // the SQLite connection and prepared statements (keeps sqlite3.h out of here)

  void writer_loop();
  void commit_batch(std::vector<Pending>& batch);

  InboxConfig config_;
  std::unique_ptr<Db> writer_db_;  // used only by the writer thread
  std::unique_ptr<Db> reader_db_;  // claim/mark/counts, guarded by reader_mutex_
  std::mutex reader_mutex_;

  std::mutex close_mutex_;  // serialises close() so the writer is joined exactly once
  std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable committed_cv_;
  std::deque<Pending> pending_;
  uint64_t submitted_ = 0;  // sequence numbers, for flush()
  uint64_t completed_ = 0;
  bool closing_ = false;
  std::atomic<uint64_t> commits_{0};
  std::thread writer_;
};

}  // namespace vaxetl::mllp
