// /metrics: the ledger's counts in Prometheus' text exposition format (version 0.0.4).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "console.hpp"

namespace vaxetl::console {

struct MetricsInput {
  std::string ledger;  // the run ledger's location
  bool ledger_up = false;
  std::vector<ChannelQueue> queues;
};

std::string render_metrics(const MetricsInput& input);

// A label value with \ " and newline escaped, as the format requires.
std::string escape_label_value(std::string_view value);

}  // namespace vaxetl::console
