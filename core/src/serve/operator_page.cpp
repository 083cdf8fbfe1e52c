#include "serve/operator_page.hpp"

#include <Poco/Exception.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "console.hpp"
#include "operations.hpp"
#include "serve/child_run.hpp"

namespace vaxetl::daemon {

namespace {

void add_once(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

console::ConsoleSettings console_settings(const DaemonConfig& config) {
  const HttpSettings& http = config.http;
  console::ConsoleSettings settings;
  settings.bind_address = http.bind;
  settings.port = http.port;
  settings.users_file = http.users_file;
  settings.tls_certificate = http.tls_certificate;
  settings.tls_private_key = http.tls_private_key;
  settings.runs_shown = http.runs_shown;
  settings.pipelines = config.pipelines;  // the page serves error files from their error_dir
  settings.error_dirs = http.error_dirs;
  settings.mpi_indexes = http.mpi_indexes;
  settings.ledger = http.ledger;
  const EnvironmentLookup env = process_environment();
  for (const auto& path : config.pipelines) {
    const PipelineSpec spec = pipeline_settings(path, env);
    if (settings.ledger.empty()) settings.ledger = spec.ledger;
    // The indexes that hold reviews an operator acts on; a NOPHI index lives for one run only.
    for (const char* environment : {"PROD", "PHI"}) {
      const auto it = spec.environments.find(environment);
      if (it == spec.environments.end()) continue;
      const auto index = it->second.find("mpi_index");
      if (index != it->second.end() && index->second.find("${") == std::string::npos)
        add_once(settings.mpi_indexes, index->second);
    }
  }
  if (settings.ledger.empty()) settings.ledger = default_ledger_location();
  settings.vaxetl_executable = config.program.empty() ? self_executable().string() : config.program;
  return settings;
}

std::vector<console::ChannelQueue> page_queues(const QueueSnapshot& snapshot) {
  std::vector<console::ChannelQueue> out;
  out.reserve(snapshot.size());
  for (const auto& queue : snapshot) {
    console::ChannelQueue page;
    page.channel = queue.channel;
    page.pending = queue.pending;
    page.in_progress = queue.in_progress;
    page.retrying = queue.retrying;
    page.parked = queue.parked;
    page.oldest_pending_age_seconds = static_cast<double>(queue.oldest_pending_age_seconds);
    out.push_back(std::move(page));
  }
  return out;
}

}  // namespace

std::function<void()> start_operator_page(const DaemonConfig& config, std::function<QueueSnapshot()> queues) {
  if (!config.http.enabled) return {};
  auto server = std::make_shared<console::ConsoleServer>(
      console_settings(config), [queues = std::move(queues)] { return page_queues(queues()); });
  const std::string& bind = config.http.bind;
  try {
    server->start();
  } catch (const Poco::Exception& e) {  // its what() is only the class name
    throw std::runtime_error("the operator page cannot listen on " + bind + ":" + std::to_string(config.http.port) +
                             ": " + e.displayText());
  }
  spdlog::info("vaxetl serve: operator page at {}://{}:{}/", server->tls() ? "https" : "http",
               bind.find(':') != std::string::npos ? "[" + bind + "]" : bind, server->port());
  return [server] { server->stop(); };
}

}  // namespace vaxetl::daemon
