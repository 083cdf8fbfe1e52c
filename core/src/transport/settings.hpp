// Reads one channel's settings map: required and optional keys, typed values, and a final
// check that no key was left unread (a misspelt key is an error, not a silent default).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "transport/transport.hpp"

namespace vaxetl::transport::detail {

class SettingsReader {
 public:
  explicit SettingsReader(const ChannelConfig& config) : config_(config) {}

  std::string required(const std::string& key);
  std::string optional(const std::string& key, const std::string& fallback);
  bool flag(const std::string& key, bool fallback);
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  // The value of the environment variable named by `key` (e.g. password_env), or "" when the
  // key is absent. The variable must exist when the key is given.
  std::string secret_from_env(const std::string& key);
  // Throws std::invalid_argument for the first key that no call above read.
  void reject_unknown_keys() const;

  [[noreturn]] void bad_value(const std::string& key, const std::string& why) const;

 private:
  const ChannelConfig& config_;
  std::set<std::string> read_;
};

}  // namespace vaxetl::transport::detail
