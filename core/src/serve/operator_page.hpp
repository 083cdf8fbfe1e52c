// The operator page (core/src/console) hosted by `vaxetl serve CONFIG` when the configuration
// has an `http:` section: the console's settings from that section and the pipelines, and the
// daemon's queues mapped onto the page's. Plugs into DaemonHooks::start_operator_page.
#pragma once

#include <functional>

#include "serve/daemon_config.hpp"
#include "serve/file_daemon.hpp"

namespace vaxetl::daemon {

// Starts the page when `config.http.enabled` (logs its URL) and returns the function that stops
// it; returns an empty function otherwise. Throws when the port is taken or the users file is
// unreadable or malformed.
std::function<void()> start_operator_page(const DaemonConfig& config, std::function<QueueSnapshot()> queues);

}  // namespace vaxetl::daemon
