#include "transport/settings.hpp"

#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace vaxetl::transport::detail {

void SettingsReader::bad_value(const std::string& key, const std::string& why) const {
  throw std::invalid_argument("channel '" + config_.name + "' (" + config_.kind + "): key '" + key +
                              "': " + why);
}

std::string SettingsReader::required(const std::string& key) {
  read_.insert(key);
  auto it = config_.settings.find(key);
  if (it == config_.settings.end() || it->second.empty()) bad_value(key, "missing");
  return it->second;
}

std::string SettingsReader::optional(const std::string& key, const std::string& fallback) {
  read_.insert(key);
  auto it = config_.settings.find(key);
  return it == config_.settings.end() ? fallback : it->second;
}

bool SettingsReader::flag(const std::string& key, bool fallback) {
  read_.insert(key);
  auto it = config_.settings.find(key);
  if (it == config_.settings.end()) return fallback;
  const std::string& v = it->second;
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  bad_value(key, "expected true or false");
}

std::int64_t SettingsReader::integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                                     std::int64_t max) {
  read_.insert(key);
  auto it = config_.settings.find(key);
  if (it == config_.settings.end()) return fallback;
  std::int64_t value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    bad_value(key, "expected a whole number");
  if (value < min || value > max)
    bad_value(key, "expected a number from " + std::to_string(min) + " to " + std::to_string(max));
  return value;
}

std::string SettingsReader::secret_from_env(const std::string& key) {
  std::string variable = optional(key, "");
  if (variable.empty()) return {};
  const char* value = std::getenv(variable.c_str());
  // The message names the variable, never its value.
  if (value == nullptr) bad_value(key, "environment variable " + variable + " is not set");
  return value;
}

void SettingsReader::reject_unknown_keys() const {
  for (const auto& [key, value] : config_.settings)
    if (!read_.count(key)) bad_value(key, "unknown key");
}

}  // namespace vaxetl::transport::detail
