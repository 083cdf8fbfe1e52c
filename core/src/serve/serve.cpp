#include "serve/serve.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <thread>

#include <cstddef>
#include <mutex>

#include "ledger.hpp"
#include "mllp/hl7_ack.hpp"
#include "mllp/inbox_queue.hpp"
#include "mllp/mllp_server.hpp"
#include "runner.hpp"
#include "stage.hpp"

namespace vaxetl {

namespace fs = std::filesystem;

namespace {

template <class Number>
Number parse_number(const ConfigValue& value, Number low, Number high, std::vector<std::string>& problems) {
  Number parsed{};
  const auto [end, ec] = std::from_chars(value.value.data(), value.value.data() + value.value.size(), parsed);
  if (ec != std::errc{} || end != value.value.data() + value.value.size() || parsed < low || parsed > high) {
    problems.push_back(value.location.str() + ": mllp." + value.key + " must be an integer from " +
                       std::to_string(low) + " to " + std::to_string(high));
    return low;
  }
  return parsed;
}

// Loads one claimed batch through the pipeline and settles every message of it.
void load_batch(const BoundPipeline& pipeline, const ServeSettings& settings, mllp::InboxQueue& queue,
                const std::vector<mllp::InboxMessage>& batch) {
  fs::create_directories(settings.spool_dir);
  // Named by the inbox ids it holds, so each batch file is unique. Messages claimed again
  // after a crash are loaded again; the store counts the ones already there as unchanged.
  const std::string name = "MLLP_" + std::to_string(batch.front().id) + "-" +
                           std::to_string(batch.back().id) + "_" + std::to_string(batch.size()) + ".hl7";
  const fs::path path = fs::path(settings.spool_dir) / name;
  {
    std::ofstream out(path, std::ios::binary);
    for (const auto& message : batch) out << message.message << "\n";
    if (!out) throw std::runtime_error("cannot write the batch file " + path.string());
  }
  const RunOutcome outcome = run_pipeline(pipeline, path.string(), RunOptions{});
  const auto& record = outcome.record;
  const bool settled = record.status == "succeeded" || record.status == "skipped";
  std::vector<int64_t> ids;
  ids.reserve(batch.size());
  for (const auto& message : batch) ids.push_back(message.id);
  if (settled) {
    queue.mark_done(ids);
  } else {
    // Codes and run ids only: the reason is shown to operators.
    queue.mark_failed(ids, "run " + record.run_id + " ended " + record.status);
  }
  spdlog::info("mllp batch of {} messages: run {} {} (loaded {}, rejected {}, held {})", batch.size(),
               record.run_id, record.status, record.counts.loaded, record.counts.rejected, record.counts.held);
}

// Answers each queued message with the source plugin's own reply (for VXU: the IG's ACK with
// an ERR per finding). The ABI lets one instance serve one thread at a time, so connection
// threads borrow instances from a pool that grows to the number of concurrent callers.
class PluginAcknowledger {
 public:
  explicit PluginAcknowledger(const BoundStage& source) : source_(source) { give_back(make()); }

  bool available() const {
    return source_has(*source_.plugin->source, &vaxetl_source_api::acknowledge,
                      offsetof(vaxetl_source_api, acknowledge));
  }

  std::string reply(std::string_view message) {
    std::unique_ptr<Replier> replier = borrow();
    std::size_t length = 0;
    vaxetl_error err{};
    const vaxetl_status status = source_.plugin->source->acknowledge(
        replier->instance.handle(), message.data(), message.size(), replier->buffer.data(),
        replier->buffer.size(), &length, &err);
    std::string reply(replier->buffer.data(), status == VAXETL_OK ? length : 0);
    give_back(std::move(replier));
    check(*source_.plugin, "acknowledge", status, err);  // the server answers AR 207 to a throw
    return reply;
  }

 private:
  struct Replier {
    explicit Replier(const BoundStage& source) : instance(source), buffer(std::size_t{1} << 20) {}
    StageInstance instance;
    std::vector<char> buffer;
  };

  std::unique_ptr<Replier> make() { return std::make_unique<Replier>(source_); }

  std::unique_ptr<Replier> borrow() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto replier = std::move(idle_.back());
        idle_.pop_back();
        return replier;
      }
    }
    return make();  // every instance is busy: one more, kept for later
  }

  void give_back(std::unique_ptr<Replier> replier) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(replier));
  }

  const BoundStage& source_;
  std::vector<std::unique_ptr<Replier>> idle_;
  std::mutex mutex_;
};

}  // namespace

ServeSettings ServeSettings::from(const PipelineSpec& spec) {
  ServeSettings settings;
  std::vector<std::string> problems;
  for (const auto& value : spec.mllp) {
    if (value.key == "bind") settings.bind_address = value.value;
    else if (value.key == "port") settings.port = parse_number<uint16_t>(value, 0, 65535, problems);
    else if (value.key == "inbox") settings.inbox = value.value;
    else if (value.key == "spool_dir") settings.spool_dir = value.value;
    else if (value.key == "max_message_bytes")
      settings.max_message_bytes = parse_number<std::size_t>(value, 1024, std::size_t{64} << 20, problems);
    else if (value.key == "idle_timeout_ms")
      settings.idle_timeout = std::chrono::milliseconds(parse_number<int64_t>(value, 100, 3600000, problems));
    else if (value.key == "batch_interval_ms")
      settings.batch_interval = std::chrono::milliseconds(parse_number<int64_t>(value, 10, 3600000, problems));
    else if (value.key == "batch_messages")
      settings.batch_messages = parse_number<std::size_t>(value, 1, 1000000, problems);
    else
      problems.push_back(value.location.str() + ": unknown key mllp." + value.key +
                         "; known keys: bind, port, inbox, spool_dir, max_message_bytes, "
                         "idle_timeout_ms, batch_interval_ms, batch_messages");
  }
  if (!problems.empty()) throw PipelineError(problems);
  return settings;
}

int serve(const BoundPipeline& pipeline, const ServeSettings& settings, const std::atomic<bool>& stop) {
  mllp::InboxConfig inbox_config;
  inbox_config.path = settings.inbox;
  mllp::InboxQueue queue(inbox_config);
  // Messages a previous serve left mid-load are loaded again; the store makes that harmless.
  if (const std::size_t requeued = queue.requeue_stale(std::chrono::seconds(0)); requeued > 0)
    spdlog::warn("requeued {} messages a previous serve left unfinished", requeued);

  mllp::MllpConfig config;
  config.bind_address = settings.bind_address;
  config.port = settings.port;
  config.max_message_bytes = settings.max_message_bytes;
  config.idle_timeout = settings.idle_timeout;
  // A message is queued (durably) before the handler runs; the ACK then says what validation
  // found. Frames that were not queued keep the listener's own AR.
  PluginAcknowledger acknowledger(pipeline.source);
  mllp::Handler handler;
  if (acknowledger.available()) {
    handler = [&acknowledger](std::string_view message, const mllp::QueueReceipt& receipt) {
      if (!receipt.queued()) return mllp::default_ack(message, receipt);
      return acknowledger.reply(message);
    };
  } else {
    spdlog::warn("source {} has no acknowledge(): every queued message gets a plain AA",
                 pipeline.source.plugin->label());
  }
  mllp::MllpServer server(config, queue, handler);
  server.start();
  spdlog::info("vaxetl serve: pipeline {} listening for MLLP on {}:{}, inbox {}", pipeline.spec.name,
               settings.bind_address, server.port(), settings.inbox);

  int exit_code = kExitOk;
  auto drain = [&](bool until_empty) {
    for (;;) {
      const auto batch = queue.claim(settings.batch_messages);
      if (batch.empty()) return;
      try {
        load_batch(pipeline, settings, queue, batch);
      } catch (const std::exception& e) {
        spdlog::error("mllp batch load failed: {}", e.what());
        std::vector<int64_t> ids;
        for (const auto& message : batch) ids.push_back(message.id);
        queue.mark_failed(ids, "load error");
        exit_code = kExitRunFailed;
      }
      if (!until_empty) return;
    }
  };
  while (!stop.load()) {
    drain(false);
    const auto deadline = std::chrono::steady_clock::now() + settings.batch_interval;
    while (!stop.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  spdlog::info("vaxetl serve: stopping; loading what is queued");
  server.stop();
  queue.flush();
  drain(true);
  queue.close();
  return exit_code;
}

}  // namespace vaxetl
