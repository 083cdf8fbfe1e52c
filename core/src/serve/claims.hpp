// Claims: which daemon works on which file, through the database every daemon shares (one
// SQLite file on one machine, or one PostgreSQL for many). A file is one row, keyed by channel,
// file name and size; whoever inserts it, or takes over its expired lease, owns it until it is
// done, parked, or handed back for a retry. The owner renews its lease while it works, so a
// daemon that dies (SIGKILL, power) loses its files to the next poller once the lease expires.
// A done or parked row is claimed again only as a new upload (reopen), one generation later.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace Poco::Data {
class Session;
}

namespace vaxetl::daemon {

struct ClaimKey {
  std::string channel;
  std::string file_name;
  std::uint64_t size = 0;
};

enum class ClaimState { Claimed, Retrying, Done, Parked };
const char* to_string(ClaimState state) noexcept;

struct Claim {
  ClaimKey key;
  ClaimState state = ClaimState::Claimed;
  std::string owner;
  std::int64_t lease_until = 0;  // epoch ms
  int attempts = 0;              // failed runs so far
  std::int64_t next_attempt_at = 0;
  std::string reason;
  std::string sha256;
  std::string run_id;
  std::string reply_file;
  bool reply_sent = false;
  bool reply_in_flight = false;  // a send began and did not report back (its daemon died)
  std::int64_t first_seen_at = 0;
  std::int64_t updated_at = 0;
  int generation = 0;           // uploads seen under this key before this one
  std::int64_t generation_at = 0;  // when this upload was claimed afresh (epoch ms; 0: the first)
  std::string previous_run_id;  // the run that judged the previous upload
};

// Per channel, from the claim rows.
struct ClaimCounts {
  std::string channel;
  std::int64_t in_progress = 0;  // claimed, lease alive
  std::int64_t retrying = 0;
  std::int64_t parked = 0;
  std::int64_t done = 0;
};

// The daemon's identity in claim rows: host:pid:start (epoch ms).
std::string daemon_owner_id();
std::int64_t epoch_millis();

class ClaimStore {
 public:
  // Opens the database (migrating the claims table) as `owner`.
  ClaimStore(const std::string& location, std::string owner);
  ~ClaimStore();
  ClaimStore(const ClaimStore&) = delete;
  ClaimStore& operator=(const ClaimStore&) = delete;

  const std::string& owner() const noexcept { return owner_; }

  // Takes the file when nobody has it, when its owner's lease expired, or when its retry is
  // due. Exactly one of several concurrent callers wins. Returns the row as won.
  std::optional<Claim> try_claim(const ClaimKey& key, std::chrono::milliseconds lease);
  std::optional<Claim> find(const ClaimKey& key);
  // A done or parked row whose file was uploaded again: claims it afresh (no attempts, no run)
  // one generation later, when it is still at `seen.generation` and still done or parked.
  // Exactly one of several concurrent callers wins.
  std::optional<Claim> reopen(const Claim& seen, std::chrono::milliseconds lease);

  // Extends this owner's lease; false when the row is no longer this owner's.
  bool renew(const ClaimKey& key, std::chrono::milliseconds lease);
  void record_fetched(const ClaimKey& key, const std::string& sha256);
  // The run that judged the file and the reply to send back (empty: none).
  void record_run(const ClaimKey& key, const std::string& run_id, const std::string& reply_file);
  // Before a send: a daemon that finds this set knows the reply may already be there.
  void mark_reply_in_flight(const ClaimKey& key);
  void mark_reply_sent(const ClaimKey& key);
  void mark_done(const ClaimKey& key);
  // A failed run: hands the file back, to be claimed again at `next_attempt_at`.
  void retry_later(const ClaimKey& key, int attempts, std::int64_t next_attempt_at, const std::string& reason);
  void park(const ClaimKey& key, int attempts, const std::string& reason);

  std::vector<ClaimCounts> counts();
  std::vector<Claim> rows(const std::string& channel);

 private:
  std::optional<Claim> find_locked(const ClaimKey& key);
  // UPDATE ... SET <assignments> (binding `numbers`) on this owner's row of `key`; rows changed.
  std::size_t update_owned(const std::string& assignments, const std::vector<std::int64_t>& numbers,
                           const ClaimKey& key, const std::string& extra_condition = "");

  db::Location location_;
  std::string owner_;
  std::unique_ptr<Poco::Data::Session> session_;
  std::mutex mutex_;  // the daemon's loop and its lease keeper share the session
};

}  // namespace vaxetl::daemon
