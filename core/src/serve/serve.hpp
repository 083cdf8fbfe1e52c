// `vaxetl serve`: an MLLP listener that queues every HL7 message durably and ACKs it, and a
// loader that claims queued messages in batches and runs the pipeline over each batch as one
// input file. The batch file, the run ledger, the error file and the store's idempotency are
// those of any other run, so a crash between loading and marking done only reloads messages
// that are then Unchanged.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "pipeline.hpp"

namespace vaxetl {

struct ServeSettings {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 2575;
  std::string inbox = "var/mllp-inbox.sqlite";  // the durable queue
  std::string spool_dir = "var/mllp-batches";    // batch files handed to the pipeline
  std::size_t max_message_bytes = std::size_t{1} << 20;
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds batch_interval{1000};  // how often queued messages are loaded
  std::size_t batch_messages = 5000;                 // most messages per loaded batch

  // Reads the pipeline's `mllp:` section; throws PipelineError with file:line:column for an
  // unknown key or a bad value.
  static ServeSettings from(const PipelineSpec& spec);
};

// Runs until `stop` becomes true, then stops accepting, loads what was queued and returns.
// Returns a process exit code.
int serve(const BoundPipeline& pipeline, const ServeSettings& settings, const std::atomic<bool>& stop);

}  // namespace vaxetl
