// Log setup for the vaxetl executable: human text on stderr, or one JSON object per line
// for log shippers. Log lines carry record numbers, field names and codes, never values.
#pragma once

#include <string>

namespace vaxetl {

enum class LogFormat { Text, Json };

// Throws std::invalid_argument for an unknown format or level name.
void configure_logging(const std::string& format, const std::string& level);

}  // namespace vaxetl
