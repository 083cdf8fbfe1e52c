// The configuration of a `vaxetl serve` daemon (docs/serve.md): where claims live, which
// channels to poll, which pipelines take which files, how failed runs are retried, and the
// optional MLLP listener and operator page.
//
//   database: ${VAXETL_SERVE_DB:-var/serve.sqlite}   # SQLite path or postgresql:// URL
//   work_dir: var/serve
//   poll_interval: 5s
//   lease: 60s              # a claim's lease, renewed while the file is worked on
//   run_timeout: 1h         # a child run that takes longer is killed (a failed attempt)
//   channels:
//     - name: carolina-pharmacy
//       kind: folder          # and the kind's keys (docs/transports.md)
//       inbox: /srv/drop/in
//       outbox: /srv/drop/out
//   pipelines: [ncvr-daily.yaml, cvrs-daily.yaml]   # relative to this file
//   retry: {attempts: 5, backoff: 30s, max: 1h}
//   mllp: {pipeline: vxu-mllp.yaml}                  # optional: today's MLLP listener
//   http:                                            # optional: the operator page
//     bind: 127.0.0.1
//     port: 8080           # 0: any free port (logged)
//     users: /etc/vaxetl/console-users                 # none: a read-only page
//     tls_certificate: console.pem                     # both or neither: HTTPS only
//     tls_private_key: console.key
//     error_dirs: [...]    # more than the pipelines' error_dir
//     mpi_indexes: [...]   # more than the pipelines' PROD/PHI mpi_index
//
// Durations are a number with ms, s, m or h. Every value may use ${VAR} and ${VAR:-default}.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "transport/transport.hpp"

namespace vaxetl::daemon {

struct RetrySettings {
  int attempts = 5;                              // failed runs before the file is parked
  std::chrono::milliseconds backoff{30'000};     // wait after the first failure, doubled each time
  std::chrono::milliseconds max_backoff{3'600'000};
};

// The operator page's section (core/src/console), hosted by the daemon.
struct HttpSettings {
  bool enabled = false;  // the configuration has an http: section
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port
  std::string users_file;  // empty: read-only page
  std::string tls_certificate;
  std::string tls_private_key;
  std::string ledger;  // empty: the first pipeline's ledger
  std::vector<std::string> error_dirs;
  std::vector<std::string> mpi_indexes;
  int runs_shown = 500;
};

struct DaemonConfig {
  std::string path;
  std::string database;  // claims: a SQLite path or a PostgreSQL URL (db::Location)
  std::string work_dir;  // local copies of files being run, child outputs
  std::chrono::milliseconds poll_interval{5'000};
  std::chrono::milliseconds lease{60'000};
  std::chrono::milliseconds run_timeout{3'600'000};
  std::vector<transport::ChannelConfig> channels;
  std::vector<std::string> pipelines;  // absolute paths, in routing order
  RetrySettings retry;
  std::string mllp_pipeline;           // empty: no MLLP listener
  HttpSettings http;  // the operator page, when enabled
  // The program each file runs in (`PROGRAM run PIPELINE --input FILE`); empty: this program.
  // Not a configuration key: a daemon embedded in another program (a test) sets it.
  std::string program;

  // Reads and checks the file. Throws PipelineError listing every problem as file:line:column
  // (unknown keys, missing required keys, bad values).
  static DaemonConfig load(const std::string& path, const EnvironmentLookup& env);
};

// True when the YAML file is a daemon configuration (it has `channels:` or `pipelines:`),
// false for a pipeline file (the MLLP-only `vaxetl serve PIPELINE` of earlier releases).
bool is_daemon_config(const std::string& path);

// "250ms", "30s", "5m", "1h" (a bare number is seconds). Throws std::invalid_argument.
std::chrono::milliseconds parse_duration(const std::string& text);

}  // namespace vaxetl::daemon
