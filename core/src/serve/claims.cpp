#include "serve/claims.hpp"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <unistd.h>

#include <map>

#include "db/built_in_migrations.hpp"
#include <stdexcept>

namespace vaxetl::daemon {

using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::now;

namespace {

constexpr const char* kColumns =
    "channel, file_name, size, state, owner, lease_until, attempts, next_attempt_at, reason, sha256, "
    "run_id, reply_file, reply_sent, first_seen_at, updated_at, generation, generation_at, previous_run_id";

ClaimState state_from(const std::string& text) {
  if (text == "retrying") return ClaimState::Retrying;
  if (text == "done") return ClaimState::Done;
  if (text == "parked") return ClaimState::Parked;
  return ClaimState::Claimed;
}

Claim claim_from(const Poco::Data::RecordSet& rows, std::size_t row) {
  auto text = [&](std::size_t column) {
    const Poco::Dynamic::Var& value = rows.value(column, row);
    return value.isEmpty() ? std::string() : value.convert<std::string>();
  };
  auto number = [&](std::size_t column) {
    const Poco::Dynamic::Var& value = rows.value(column, row);
    return value.isEmpty() ? std::int64_t{0} : value.convert<Poco::Int64>();
  };
  Claim claim;
  claim.key.channel = text(0);
  claim.key.file_name = text(1);
  claim.key.size = static_cast<std::uint64_t>(number(2));
  claim.state = state_from(text(3));
  claim.owner = text(4);
  claim.lease_until = number(5);
  claim.attempts = static_cast<int>(number(6));
  claim.next_attempt_at = number(7);
  claim.reason = text(8);
  claim.sha256 = text(9);
  claim.run_id = text(10);
  claim.reply_file = text(11);
  claim.reply_sent = number(12) == 1;
  claim.reply_in_flight = number(12) == 2;
  claim.first_seen_at = number(13);
  claim.updated_at = number(14);
  claim.generation = static_cast<int>(number(15));
  claim.generation_at = number(16);
  claim.previous_run_id = text(17);
  return claim;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown-host";
  return name;
}

}  // namespace

const char* to_string(ClaimState state) noexcept {
  switch (state) {
    case ClaimState::Claimed: return "claimed";
    case ClaimState::Retrying: return "retrying";
    case ClaimState::Done: return "done";
    case ClaimState::Parked: return "parked";
  }
  return "claimed";
}

std::int64_t epoch_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string daemon_owner_id() {
  static const std::int64_t started = epoch_millis();
  return host_name() + ":" + std::to_string(::getpid()) + ":" + std::to_string(started);
}

ClaimStore::ClaimStore(const std::string& location, std::string owner)
    : location_(db::Location::parse(location)), owner_(std::move(owner)) {
  session_ = db::open_session(location_);
  db::migrate(*session_, location_.backend, "serve", db::built_in_migrations("serve", location_.backend));
}

ClaimStore::~ClaimStore() = default;

std::optional<Claim> ClaimStore::try_claim(const ClaimKey& key, std::chrono::milliseconds lease) {
  std::lock_guard lock(mutex_);
  const std::int64_t at = epoch_millis();
  const std::int64_t until = at + lease.count();
  const auto size = static_cast<Poco::Int64>(key.size);
  try {
    // Both statements are one atomic step each: SQLite has one writer at a time, and
    // PostgreSQL re-checks an UPDATE's WHERE on the row it locked, so one caller wins.
    Poco::Data::Statement insert(*session_);
    insert << db::bind_markers(location_.backend,
                               "INSERT INTO serve_claims (channel, file_name, size, state, owner, lease_until, "
                               "first_seen_at, updated_at) VALUES (?, ?, ?, 'claimed', ?, ?, ?, ?) "
                               "ON CONFLICT (channel, file_name, size) DO NOTHING"),
        bind(key.channel), bind(key.file_name), bind(size), bind(owner_), bind(until), bind(at), bind(at);
    bool won = insert.execute() == 1;
    if (!won) {
      Poco::Data::Statement take(*session_);
      take << db::bind_markers(location_.backend,
                               "UPDATE serve_claims SET state = 'claimed', owner = ?, lease_until = ?, updated_at = ? "
                               "WHERE channel = ? AND file_name = ? AND size = ? AND "
                               "((state = 'claimed' AND lease_until < ?) OR (state = 'retrying' AND next_attempt_at <= ?))"),
          bind(owner_), bind(until), bind(at), bind(key.channel), bind(key.file_name), bind(size), bind(at), bind(at);
      won = take.execute() == 1;
    }
    if (!won) return std::nullopt;
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("claims " + location_.display() + ": " + e.displayText());
  }
  return find_locked(key);
}

std::optional<Claim> ClaimStore::reopen(const Claim& seen, std::chrono::milliseconds lease) {
  std::lock_guard lock(mutex_);
  const ClaimKey& key = seen.key;
  const std::int64_t at = epoch_millis();
  try {
    // The generation in the WHERE makes this a compare-and-set: a second daemon that saw the
    // same done row finds it claimed, one generation on, and changes nothing.
    Poco::Data::Statement take(*session_);
    take << db::bind_markers(location_.backend,
                             "UPDATE serve_claims SET state = 'claimed', owner = ?, lease_until = ?, "
                             "generation = generation + 1, generation_at = ?, previous_run_id = run_id, attempts = 0, "
                             "next_attempt_at = 0, reason = '', sha256 = '', run_id = '', reply_file = '', "
                             "reply_sent = 0, updated_at = ? WHERE channel = ? AND file_name = ? AND size = ? AND "
                             "state IN ('done', 'parked') AND generation = ?"),
        bind(owner_), bind(at + lease.count()), bind(at), bind(at), bind(key.channel), bind(key.file_name),
        bind(static_cast<Poco::Int64>(key.size)), bind(seen.generation);
    if (take.execute() != 1) return std::nullopt;
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("claims " + location_.display() + ": " + e.displayText());
  }
  return find_locked(key);
}

std::optional<Claim> ClaimStore::find(const ClaimKey& key) {
  std::lock_guard lock(mutex_);
  return find_locked(key);
}

std::optional<Claim> ClaimStore::find_locked(const ClaimKey& key) {
  try {
    Poco::Data::Statement select(*session_);
    select << db::bind_markers(location_.backend, std::string("SELECT ") + kColumns +
                                                      " FROM serve_claims WHERE channel = ? AND file_name = ? AND size = ?"),
        bind(key.channel), bind(key.file_name), bind(static_cast<Poco::Int64>(key.size));
    select.execute();
    Poco::Data::RecordSet rows(select);
    if (rows.rowCount() == 0) return std::nullopt;
    return claim_from(rows, 0);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("claims " + location_.display() + ": " + e.displayText());
  }
}

bool ClaimStore::renew(const ClaimKey& key, std::chrono::milliseconds lease) {
  const std::int64_t at = epoch_millis();
  return update_owned("lease_until = ?, updated_at = ?", {at + lease.count(), at}, key, " AND state = 'claimed'") == 1;
}

void ClaimStore::record_fetched(const ClaimKey& key, const std::string& sha256) {
  std::lock_guard lock(mutex_);
  Poco::Data::Statement update(*session_);
  update << db::bind_markers(location_.backend,
                             "UPDATE serve_claims SET sha256 = ?, updated_at = ? "
                             "WHERE channel = ? AND file_name = ? AND size = ? AND owner = ?"),
      bind(sha256), bind(epoch_millis()), bind(key.channel), bind(key.file_name),
      bind(static_cast<Poco::Int64>(key.size)), bind(owner_);
  update.execute();
}

void ClaimStore::record_run(const ClaimKey& key, const std::string& run_id, const std::string& reply_file) {
  std::lock_guard lock(mutex_);
  Poco::Data::Statement update(*session_);
  update << db::bind_markers(location_.backend,
                             "UPDATE serve_claims SET run_id = ?, reply_file = ?, reply_sent = 0, updated_at = ? "
                             "WHERE channel = ? AND file_name = ? AND size = ? AND owner = ?"),
      bind(run_id), bind(reply_file), bind(epoch_millis()), bind(key.channel), bind(key.file_name),
      bind(static_cast<Poco::Int64>(key.size)), bind(owner_);
  update.execute();
}

void ClaimStore::mark_reply_in_flight(const ClaimKey& key) {
  update_owned("reply_sent = 2, updated_at = ?", {epoch_millis()}, key);
}

void ClaimStore::mark_reply_sent(const ClaimKey& key) {
  update_owned("reply_sent = 1, updated_at = ?", {epoch_millis()}, key);
}

void ClaimStore::mark_done(const ClaimKey& key) {
  update_owned("state = 'done', lease_until = 0, reason = '', updated_at = ?", {epoch_millis()}, key);
}

void ClaimStore::retry_later(const ClaimKey& key, int attempts, std::int64_t next_attempt_at,
                             const std::string& reason) {
  std::lock_guard lock(mutex_);
  Poco::Data::Statement update(*session_);
  update << db::bind_markers(location_.backend,
                             "UPDATE serve_claims SET state = 'retrying', lease_until = 0, attempts = ?, "
                             "next_attempt_at = ?, reason = ?, updated_at = ? "
                             "WHERE channel = ? AND file_name = ? AND size = ? AND owner = ?"),
      bind(attempts), bind(next_attempt_at), bind(reason), bind(epoch_millis()), bind(key.channel),
      bind(key.file_name), bind(static_cast<Poco::Int64>(key.size)), bind(owner_);
  update.execute();
}

void ClaimStore::park(const ClaimKey& key, int attempts, const std::string& reason) {
  std::lock_guard lock(mutex_);
  Poco::Data::Statement update(*session_);
  update << db::bind_markers(location_.backend,
                             "UPDATE serve_claims SET state = 'parked', lease_until = 0, attempts = ?, reason = ?, "
                             "updated_at = ? WHERE channel = ? AND file_name = ? AND size = ? AND owner = ?"),
      bind(attempts), bind(reason), bind(epoch_millis()), bind(key.channel), bind(key.file_name),
      bind(static_cast<Poco::Int64>(key.size)), bind(owner_);
  update.execute();
}

std::vector<ClaimCounts> ClaimStore::counts() {
  std::lock_guard lock(mutex_);
  const std::int64_t at = epoch_millis();
  Poco::Data::Statement select(*session_);
  select << db::bind_markers(location_.backend,
                             "SELECT channel, state, CASE WHEN state = 'claimed' AND lease_until < ? THEN 1 ELSE 0 END, "
                             "COUNT(*) FROM serve_claims GROUP BY channel, state, 3 ORDER BY channel"),
      bind(at);
  select.execute();
  Poco::Data::RecordSet rows(select);
  std::map<std::string, ClaimCounts> by_channel;
  for (std::size_t row = 0; row < rows.rowCount(); ++row) {
    const std::string channel = rows.value(0, row).convert<std::string>();
    const ClaimState state = state_from(rows.value(1, row).convert<std::string>());
    const bool expired = rows.value(2, row).convert<Poco::Int64>() != 0;
    const std::int64_t count = rows.value(3, row).convert<Poco::Int64>();
    ClaimCounts& c = by_channel[channel];
    c.channel = channel;
    switch (state) {
      // An expired claim is waiting for a takeover: it is no longer in anybody's hands.
      case ClaimState::Claimed: (expired ? c.retrying : c.in_progress) += count; break;
      case ClaimState::Retrying: c.retrying += count; break;
      case ClaimState::Parked: c.parked += count; break;
      case ClaimState::Done: c.done += count; break;
    }
  }
  std::vector<ClaimCounts> out;
  for (auto& [name, c] : by_channel) out.push_back(std::move(c));
  return out;
}

std::vector<Claim> ClaimStore::rows(const std::string& channel) {
  std::lock_guard lock(mutex_);
  Poco::Data::Statement select(*session_);
  select << db::bind_markers(location_.backend, std::string("SELECT ") + kColumns +
                                                    " FROM serve_claims WHERE channel = ? ORDER BY first_seen_at, file_name"),
      bind(channel);
  select.execute();
  Poco::Data::RecordSet rows(select);
  std::vector<Claim> out;
  for (std::size_t row = 0; row < rows.rowCount(); ++row) out.push_back(claim_from(rows, row));
  return out;
}

std::size_t ClaimStore::update_owned(const std::string& assignments, const std::vector<std::int64_t>& numbers,
                                     const ClaimKey& key, const std::string& extra_condition) {
  std::lock_guard lock(mutex_);
  try {
    Poco::Data::Statement update(*session_);
    update << db::bind_markers(location_.backend,
                               "UPDATE serve_claims SET " + assignments +
                                   " WHERE channel = ? AND file_name = ? AND size = ? AND owner = ?" + extra_condition);
    for (const std::int64_t number : numbers) update, bind(number);
    update, bind(key.channel), bind(key.file_name), bind(static_cast<Poco::Int64>(key.size)), bind(owner_);
    return update.execute();
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("claims " + location_.display() + ": " + e.displayText());
  }
}

}  // namespace vaxetl::daemon
