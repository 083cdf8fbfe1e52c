#include "serve/daemon_config.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "yaml_config_reader.hpp"

namespace vaxetl::daemon {

namespace fs = std::filesystem;

namespace {

class ConfigReader : YamlConfigReader {
 public:
  ConfigReader(std::string path, const EnvironmentLookup& env) : YamlConfigReader(std::move(path), env) {}

  DaemonConfig read() {
    DaemonConfig config;
    config.path = fs::absolute(path_).string();
    YAML::Node root;
    try {
      root = YAML::LoadFile(path_);
    } catch (const YAML::BadFile&) {
      throw PipelineError({path_ + ": cannot read the serve configuration"});
    } catch (const YAML::Exception& e) {
      throw PipelineError({at(e.mark).str() + ": " + e.msg});
    }
    if (!root.IsMap()) throw PipelineError({path_ + ":1:1: a serve configuration is a mapping"});
    const fs::path base = fs::path(config.path).parent_path();
    const std::set<std::string> known = {"database", "work_dir", "poll_interval", "lease", "run_timeout",
                                         "channels", "pipelines", "retry", "mllp", "http"};
    for (const auto& item : root) {
      const std::string key = item.first.as<std::string>();
      if (!known.count(key))
        problem(item.first, "unknown key '" + key +
                                "'; known keys: database, work_dir, poll_interval, lease, run_timeout, "
                                "channels, pipelines, retry, mllp, http");
    }
    config.database = scalar(root["database"], "database", "");
    if (config.database.empty()) problems_.push_back(path_ + ":1:1: database: is required (a SQLite path or a postgresql:// URL)");
    config.work_dir = resolve(base, scalar(root["work_dir"], "work_dir", "var/serve"));
    config.poll_interval = duration(root["poll_interval"], "poll_interval", config.poll_interval);
    config.lease = duration(root["lease"], "lease", config.lease);
    config.run_timeout = duration(root["run_timeout"], "run_timeout", config.run_timeout);
    if (config.lease < std::chrono::seconds(1)) problem(root["lease"], "lease must be at least 1s");

    read_channels(root["channels"], config);
    read_pipelines(root["pipelines"], base, config);
    read_retry(root["retry"], config);
    if (const auto mllp = root["mllp"]; mllp) {
      if (!mllp.IsMap()) {
        problem(mllp, "mllp must be a mapping with pipeline: (a pipeline file with an mllp: section)");
      } else {
        only_keys(mllp, "mllp", {"pipeline"});
        const std::string pipeline = scalar(mllp["pipeline"], "mllp.pipeline", "");
        if (pipeline.empty()) problem(mllp, "mllp.pipeline is required");
        else config.mllp_pipeline = resolve(base, pipeline);
      }
    }
    read_http(root["http"], base, config);
    if (!problems_.empty()) throw PipelineError(problems_);
    return config;
  }

 private:
  void read_channels(const YAML::Node& node, DaemonConfig& config) {
    if (!node) return;
    if (!node.IsSequence()) {
      problem(node, "channels must be a list of channels (name, kind and the kind's keys)");
      return;
    }
    std::set<std::string> names;
    for (const auto& item : node) {
      if (!item.IsMap()) {
        problem(item, "a channel is a mapping with name, kind and the kind's keys");
        continue;
      }
      transport::ChannelConfig channel;
      for (const auto& entry : item) {
        const std::string key = entry.first.as<std::string>();
        const std::string value = scalar(entry.second, "channels." + key, "");
        if (key == "name") channel.name = value;
        else if (key == "kind") channel.kind = value;
        else channel.settings[key] = value;
      }
      if (channel.name.empty() || channel.kind.empty()) {
        problem(item, "a channel needs name: and kind: (folder, sftp or direct)");
        continue;
      }
      // The name is a key of claim rows and a directory under work_dir.
      if (!transport::is_safe_file_name(channel.name)) {
        problem(item["name"], "channel name '" + channel.name + "' must be letters, digits and ._-+");
        continue;
      }
      if (!names.insert(channel.name).second) {
        problem(item["name"], "channel name '" + channel.name + "' is used twice");
        continue;
      }
      // The channel checks its own keys now, not at the first poll.
      try {
        transport::open_channel(channel);
      } catch (const std::exception& e) {
        problem(item, "channel " + channel.name + ": " + e.what());
        continue;
      }
      config.channels.push_back(std::move(channel));
    }
  }

  void read_pipelines(const YAML::Node& node, const fs::path& base, DaemonConfig& config) {
    if (!node) return;
    if (!node.IsSequence()) {
      problem(node, "pipelines must be a list of pipeline files");
      return;
    }
    for (const auto& item : node) {
      const std::string file = scalar(item, "pipelines[]", "");
      if (file.empty()) continue;
      const std::string path = resolve(base, file);
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) problem(item, "pipeline file not found: " + path);
      else config.pipelines.push_back(path);
    }
  }

  void read_http(const YAML::Node& node, const fs::path& base, DaemonConfig& config) {
    if (!node) return;
    if (!node.IsMap()) {
      problem(node, "http must be a mapping (bind, port, users, tls_certificate, tls_private_key, ...)");
      return;
    }
    HttpSettings& http = config.http;
    http.enabled = true;
    only_keys(node, "http", {"bind", "port", "users", "tls_certificate", "tls_private_key", "ledger", "error_dirs",
                             "mpi_indexes", "runs_shown"});
    http.bind = scalar(node["bind"], "http.bind", http.bind);
    http.port = static_cast<std::uint16_t>(integer(node["port"], "http.port", 0, 65535, http.port));
    http.runs_shown = integer(node["runs_shown"], "http.runs_shown", 1, 100000, http.runs_shown);
    http.users_file = resolve(base, scalar(node["users"], "http.users", ""));
    http.tls_certificate = resolve(base, scalar(node["tls_certificate"], "http.tls_certificate", ""));
    http.tls_private_key = resolve(base, scalar(node["tls_private_key"], "http.tls_private_key", ""));
    if (http.tls_certificate.empty() != http.tls_private_key.empty())
      problem(node, "http.tls_certificate and http.tls_private_key go together: both or neither");
    // A store location may be a URL: only a plain path is made relative to this file.
    const std::string ledger = scalar(node["ledger"], "http.ledger", "");
    http.ledger = ledger.find("://") == std::string::npos ? resolve(base, ledger) : ledger;
    http.error_dirs = paths(node["error_dirs"], "http.error_dirs", base);
    for (const auto& index : paths(node["mpi_indexes"], "http.mpi_indexes", base)) http.mpi_indexes.push_back(index);
  }

  std::vector<std::string> paths(const YAML::Node& node, const std::string& what, const fs::path& base) {
    std::vector<std::string> out;
    if (!node) return out;
    if (!node.IsSequence()) {
      problem(node, what + " must be a list");
      return out;
    }
    for (const auto& item : node) {
      const std::string value = scalar(item, what + "[]", "");
      if (!value.empty()) out.push_back(value.find("://") == std::string::npos ? resolve(base, value) : value);
    }
    return out;
  }

  int integer(const YAML::Node& node, const std::string& what, int low, int high, int fallback) {
    const std::string text = scalar(node, what, "");
    if (text.empty()) return fallback;
    int parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec != std::errc{} || end != text.data() + text.size() || parsed < low || parsed > high) {
      problem(node, what + " must be an integer from " + std::to_string(low) + " to " + std::to_string(high));
      return fallback;
    }
    return parsed;
  }

  void read_retry(const YAML::Node& node, DaemonConfig& config) {
    if (!node) return;
    if (!node.IsMap()) {
      problem(node, "retry must be a mapping with attempts, backoff and max");
      return;
    }
    only_keys(node, "retry", {"attempts", "backoff", "max"});
    const std::string attempts = scalar(node["attempts"], "retry.attempts", "");
    if (!attempts.empty()) {
      int parsed = 0;
      const auto [end, ec] = std::from_chars(attempts.data(), attempts.data() + attempts.size(), parsed);
      if (ec != std::errc{} || end != attempts.data() + attempts.size() || parsed < 1 || parsed > 100)
        problem(node["attempts"], "retry.attempts must be an integer from 1 to 100");
      else config.retry.attempts = parsed;
    }
    config.retry.backoff = duration(node["backoff"], "retry.backoff", config.retry.backoff);
    config.retry.max_backoff = duration(node["max"], "retry.max", config.retry.max_backoff);
  }

  void only_keys(const YAML::Node& node, const std::string& section, const std::set<std::string>& keys) {
    std::string list;
    for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      if (!keys.count(key)) problem(item.first, "unknown key " + section + "." + key + "; known keys: " + list);
    }
  }

  std::chrono::milliseconds duration(const YAML::Node& node, const std::string& what,
                                     std::chrono::milliseconds fallback) {
    const std::string text = scalar(node, what, "");
    if (text.empty()) return fallback;
    try {
      return parse_duration(text);
    } catch (const std::invalid_argument& e) {
      problem(node, what + ": " + e.what());
      return fallback;
    }
  }

  static std::string resolve(const fs::path& base, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    return (base / path).lexically_normal().string();
  }

};

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& text) {
  const std::string_view view(text);
  int64_t number = 0;
  const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), number);
  if (ec != std::errc{} || end == view.data() || number < 0)
    throw std::invalid_argument("'" + text + "' is not a duration (e.g. 500ms, 30s, 5m, 1h)");
  const std::string_view unit(end, static_cast<std::size_t>(view.data() + view.size() - end));
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else throw std::invalid_argument("'" + text + "' is not a duration (e.g. 500ms, 30s, 5m, 1h)");
  if (number > int64_t{366} * 24 * 3'600'000 / scale)
    throw std::invalid_argument("'" + text + "' is longer than a year");
  return std::chrono::milliseconds(number * scale);
}

DaemonConfig DaemonConfig::load(const std::string& path, const EnvironmentLookup& env) {
  return ConfigReader(path, env).read();
}

bool is_daemon_config(const std::string& path) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    return root.IsMap() && (root["channels"] || root["pipelines"]);
  } catch (const YAML::Exception&) {
    return false;  // the pipeline parser reports it with its location
  }
}

}  // namespace vaxetl::daemon
