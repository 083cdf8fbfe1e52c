// The file daemon of `vaxetl serve CONFIG`: polls every channel, claims each file through the
// database (serve/claims.hpp), fetches it, runs its pipeline in a child process, sends the
// error file (or ACK file) back over the channel it came in on, and settles it. A failed run
// is retried with exponential backoff, then parked with a reason. docs/serve.md tells the
// file's lifecycle from the operator's side.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "serve/claims.hpp"
#include "serve/daemon_config.hpp"
#include "transport/transport.hpp"

namespace vaxetl::daemon {

// One channel's queue, for the operator page and /metrics.
struct ChannelQueue {
  std::string channel;
  std::int64_t pending = 0;      // ready in the inbox, not taken yet (this daemon's last poll)
  std::int64_t in_progress = 0;  // claimed by a live daemon
  std::int64_t retrying = 0;     // waiting for their next attempt (or for a dead owner's lease)
  std::int64_t parked = 0;
  std::int64_t done = 0;
  std::int64_t oldest_pending_age_seconds = 0;  // 0 when nothing is pending
};
using QueueSnapshot = std::vector<ChannelQueue>;

// How the rest of the program plugs into a running daemon.
struct DaemonHooks {
  // The operator page (core/src/console): called once before the first poll with the
  // configuration (its `http:` section) and a thread-safe function returning the queue; returns
  // the function that stops the page, called when the daemon stops. Unset: no page.
  std::function<std::function<void()>(const DaemonConfig&, std::function<QueueSnapshot()>)> start_operator_page;
};

class FileDaemon {
 public:
  // Opens the claims database and the channels, reads each pipeline's routing settings.
  explicit FileDaemon(DaemonConfig config);
  ~FileDaemon();
  FileDaemon(const FileDaemon&) = delete;
  FileDaemon& operator=(const FileDaemon&) = delete;

  // One pass over every channel: each unsettled or ready file this daemon can claim is taken
  // through to its end, one at a time; `stop` is checked between files. Returns files handled.
  std::size_t poll_once(const std::atomic<bool>& stop);
  // Polls until `stop`; the file in hand always finishes.
  void run(const std::atomic<bool>& stop);

  QueueSnapshot queue_snapshot();
  const DaemonConfig& config() const noexcept { return config_; }

 private:
  struct Route;
  class LeaseKeeper;

  // `listed_at`: when the listing that found `entry` began (epoch ms).
  bool handle(transport::Channel& channel, const transport::InboxEntry& entry, bool unsettled,
              std::int64_t listed_at);
  void work(transport::Channel& channel, const transport::InboxEntry& entry, Claim claim);
  void fail(transport::Channel& channel, const transport::InboxEntry& entry, const Claim& claim,
            const std::string& reason);
  std::string route(const std::string& file_name, std::string& refusal) const;
  // The error file of the run that already loaded this very file (a daemon died after that run
  // committed and before its claim recorded it), from the skipped run's message; "" if none.
  // The previous upload's run under the same claim key is not such a run: its reply was sent.
  std::string earlier_reply(const std::string& pipeline, const Claim& claim, const std::string& message) const;

  DaemonConfig config_;
  std::unique_ptr<ClaimStore> claims_;
  std::vector<std::unique_ptr<transport::Channel>> channels_;
  std::vector<Route> routes_;
  std::unique_ptr<LeaseKeeper> keeper_;
  std::mutex pending_mutex_;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> pending_;  // channel -> (count, oldest mtime)
};

// Runs the daemon (and the MLLP listener when configured) until `stop`. Returns an exit code.
int run_daemon(const DaemonConfig& config, const std::atomic<bool>& stop, const DaemonHooks& hooks = {});

}  // namespace vaxetl::daemon
