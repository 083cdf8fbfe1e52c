// The operator's page: an HTTP(S) server (Poco::Net behind a pimpl) with /healthz, /metrics in
// Prometheus text format, and a server-rendered HTML page of today's runs, held providers,
// possible patient matches and the daemon's queues, with the actions rerun and resume behind a
// login. `vaxetl serve` hosts it; `vaxetl console` runs it alone. docs/operator-page.md is the
// operator's side. No page, metric or log line carries PHI: orgs, run ids, codes and counts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace vaxetl::console {

// One inbound channel of the daemon (an SFTP inbox, a Direct mailbox, the MLLP queue).
struct ChannelQueue {
  std::string channel;
  int64_t pending = 0;
  int64_t in_progress = 0;
  int64_t retrying = 0;
  int64_t parked = 0;
  double oldest_pending_age_seconds = 0;  // 0 when nothing is pending
};
// The daemon's queues right now; empty (or no function) when the console runs alone.
using QueueSnapshot = std::function<std::vector<ChannelQueue>()>;

struct ConsoleSettings {
  std::string bind_address = "127.0.0.1";  // loopback unless an operator decides otherwise
  uint16_t port = 0;                       // 0: any free port (see ConsoleServer::port())
  std::string tls_certificate;             // PEM files; both set: HTTPS only
  std::string tls_private_key;
  std::string users_file;                  // name:pbkdf2-sha256$iter$salt$hash; empty: read-only page
  std::string ledger;                      // the run ledger's location
  std::vector<std::string> pipelines;      // their error_dir settings are where error files are served from
  std::vector<std::string> error_dirs;     // more directories error files may be served from
  std::vector<std::string> mpi_indexes;    // patient indexes whose open reviews are shown
  std::string vaxetl_executable;           // runs `rerun`, `resume` and `mpi review`
  int runs_shown = 500;                    // at most this many of today's runs on the page
};

class ConsoleServer {
 public:
  // Reads the users file and the pipelines' error directories; throws std::runtime_error for a
  // file it cannot read or a malformed users line (naming the line, never its hash).
  explicit ConsoleServer(ConsoleSettings settings, QueueSnapshot queues = {});
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  void start();  // binds and serves on background threads; throws when the address is taken
  void stop();   // stops accepting and waits for requests in progress
  uint16_t port() const;  // the bound port (the chosen one when settings.port was 0)
  bool tls() const;

  struct Impl;  // the Poco side (console.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

// A users-file line for `name` with `password`: name:pbkdf2-sha256$iterations$salt$hash, salt
// and hash in hex. Throws std::invalid_argument for a name with ':' or whitespace.
std::string hash_user_line(const std::string& name, const std::string& password, int iterations = 600000);

// Adds or replaces `name` in the users file (created with mode 0600).
void set_user_password(const std::string& users_file, const std::string& name, const std::string& password);

}  // namespace vaxetl::console
