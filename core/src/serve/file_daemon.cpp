#include "serve/file_daemon.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <filesystem>
#include <optional>
#include <thread>

#include "ledger.hpp"
#include "nc_file_name.hpp"
#include "operations.hpp"
#include "runner.hpp"
#include "serve/child_run.hpp"
#include "serve/serve.hpp"

namespace vaxetl::daemon {

namespace fs = std::filesystem;

// Which files a pipeline takes: by its North Carolina file-name rule and format.
struct FileDaemon::Route {
  std::string pipeline_path;
  std::string name;
  bool nc_file_names = false;
  std::string file_format;
};

// Renews the lease of the file in hand every third of the lease, on its own thread, so a long
// run keeps its claim and a dead daemon's claim expires.
class FileDaemon::LeaseKeeper {
 public:
  LeaseKeeper(ClaimStore& claims, std::chrono::milliseconds lease)
      : claims_(claims), lease_(lease), thread_([this] { loop(); }) {}
  ~LeaseKeeper() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void hold(const ClaimKey& key) {
    std::lock_guard lock(mutex_);
    key_ = key;
  }
  void release() {
    std::lock_guard lock(mutex_);
    key_.reset();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!quit_) {
      wake_.wait_for(lock, lease_ / 3);
      if (quit_ || !key_) continue;
      const ClaimKey key = *key_;
      lock.unlock();
      bool renewed = true;
      try {
        renewed = claims_.renew(key, lease_);
      } catch (const std::exception& e) {
        spdlog::warn("cannot renew the claim on {}/{}: {}", key.channel, key.file_name, e.what());
      }
      lock.lock();
      // Released meanwhile (done, retrying, parked): not renewing it is right.
      if (!renewed && key_ && key_->channel == key.channel && key_->file_name == key.file_name)
        spdlog::error("claim on {}/{} was lost: another daemon took it over", key.channel, key.file_name);
    }
  }

  ClaimStore& claims_;
  std::chrono::milliseconds lease_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<ClaimKey> key_;
  bool quit_ = false;
  std::thread thread_;
};

namespace {

class HeldLease {
 public:
  template <class Keeper>
  HeldLease(Keeper& keeper, const ClaimKey& key) : release_([&keeper] { keeper.release(); }) {
    keeper.hold(key);
  }
  ~HeldLease() { release_(); }
  HeldLease(const HeldLease&) = delete;
  HeldLease& operator=(const HeldLease&) = delete;

 private:
  std::function<void()> release_;
};

std::chrono::milliseconds backoff_for(const RetrySettings& retry, int failures) {
  auto wait = retry.backoff;
  for (int i = 1; i < failures && wait < retry.max_backoff; ++i) wait *= 2;
  return std::min(wait, retry.max_backoff);
}

}  // namespace

FileDaemon::FileDaemon(DaemonConfig config) : config_(std::move(config)) {
  claims_ = std::make_unique<ClaimStore>(config_.database, daemon_owner_id());
  for (const auto& channel : config_.channels) channels_.push_back(transport::open_channel(channel));
  const EnvironmentLookup env = process_environment();
  for (const auto& path : config_.pipelines) {
    const PipelineSpec spec = pipeline_settings(path, env);
    routes_.push_back({path, spec.name, spec.nc_file_names, spec.file_format});
  }
  fs::create_directories(config_.work_dir);
  keeper_ = std::make_unique<LeaseKeeper>(*claims_, config_.lease);
  spdlog::info("vaxetl serve: daemon {} polling {} channels for {} pipelines; claims in {}", claims_->owner(),
               channels_.size(), routes_.size(), db::Location::parse(config_.database).display());
}

FileDaemon::~FileDaemon() = default;

std::string FileDaemon::route(const std::string& file_name, std::string& refusal) const {
  const nc::FileNameResult parsed = nc::parse_file_name(file_name);
  if (parsed.name) {
    const std::string format = nc::to_string(parsed.name->format);
    for (const auto& r : routes_)
      if (r.nc_file_names && (r.file_format.empty() || r.file_format == format)) return r.pipeline_path;
  }
  for (const auto& r : routes_)
    if (!r.nc_file_names) return r.pipeline_path;  // takes any name
  if (!parsed.name) {
    // A pipeline with the rule refuses the name whole and writes the error file to send back.
    for (const auto& r : routes_)
      if (r.nc_file_names) return r.pipeline_path;
  }
  refusal = parsed.name ? std::string("no configured pipeline takes ") + nc::to_string(parsed.name->format) + " files"
                        : "no configured pipeline takes this file name";
  return "";
}

std::size_t FileDaemon::poll_once(const std::atomic<bool>& stop) {
  std::size_t handled = 0;
  for (auto& channel : channels_) {
    if (stop.load()) break;
    std::vector<transport::InboxEntry> unsettled, ready;
    std::int64_t listed_at = 0;
    try {
      unsettled = channel->in_processing();
      listed_at = epoch_millis();
      ready = channel->list_ready();
    } catch (const std::exception& e) {
      spdlog::warn("channel {} ({}): cannot list files: {}", channel->name(), channel->display(), e.what());
      continue;
    }
    {
      std::int64_t oldest = 0;
      for (const auto& e : ready)
        if (e.modified > 0 && (oldest == 0 || e.modified < oldest)) oldest = e.modified;
      std::lock_guard lock(pending_mutex_);
      pending_[channel->name()] = {static_cast<std::int64_t>(ready.size()), oldest};
    }
    for (const auto* list : {&unsettled, &ready}) {
      for (const auto& entry : *list) {
        if (stop.load()) break;
        try {
          if (handle(*channel, entry, list == &unsettled, listed_at)) ++handled;
        } catch (const std::exception& e) {
          // The claim's lease runs out and the file is taken again (by this or another daemon).
          spdlog::error("channel {}: file {}: {}", channel->name(), entry.name, e.what());
        }
      }
    }
  }
  return handled;
}

bool FileDaemon::handle(transport::Channel& channel, const transport::InboxEntry& entry, bool unsettled,
                        std::int64_t listed_at) {
  const ClaimKey key{channel.name(), entry.name, entry.size};
  std::optional<Claim> claim;
  if (const auto existing = claims_->find(key);
      existing && (existing->state == ClaimState::Done || existing->state == ClaimState::Parked)) {
    if (unsettled) {
      // Ended, but a daemon died before moving it out of processing/: finish that step only.
      channel.settle(entry, existing->state == ClaimState::Done ? transport::Settlement::Done
                                                                : transport::Settlement::Parked);
      spdlog::info("channel {}: file {} was already {}; settled", channel.name(), entry.name,
                   to_string(existing->state));
      return false;
    }
    // In the inbox again. The row ended after this listing began (allowing for clocks that
    // differ by up to a lease): the listing may predate another daemon's fetch, so wait for the
    // next one. Otherwise the file left the inbox when it was fetched and this is a new upload
    // with the same name and size: claim it afresh; its run decides (already loaded: skipped).
    if (existing->updated_at + config_.lease.count() >= listed_at) return false;
    claim = claims_->reopen(*existing, config_.lease);
    if (!claim) return false;
    spdlog::info("channel {}: file {} uploaded again after it was {} (upload {} under this name and size)",
                 channel.name(), entry.name, to_string(existing->state), claim->generation + 1);
  } else {
    claim = claims_->try_claim(key, config_.lease);
    if (!claim) return false;
  }
  HeldLease held(*keeper_, key);
  if (claim->attempts > 0 || unsettled)
    spdlog::info("channel {}: file {} taken again (failed runs so far: {})", channel.name(), entry.name,
                 claim->attempts);
  work(channel, entry, *claim);
  return true;
}

void FileDaemon::work(transport::Channel& channel, const transport::InboxEntry& entry, Claim claim) {
  const ClaimKey& key = claim.key;
  const fs::path dir = fs::path(config_.work_dir) / channel.name();
  fs::create_directories(dir);
  const fs::path local = dir / entry.name;  // is_safe_file_name() holds for every entry

  // A run already judged the file (its daemon died before the end): only the rest is left.
  if (claim.run_id.empty()) {
    transport::Fetched fetched;
    try {
      fetched = channel.fetch(entry, local);
    } catch (const transport::TransportError& e) {
      fail(channel, entry, claim, std::string("fetch failed: ") + e.what());
      return;
    }
    claims_->record_fetched(key, fetched.sha256);
    std::string refusal;
    const std::string pipeline = route(entry.name, refusal);
    if (pipeline.empty()) {
      claim.attempts = config_.retry.attempts - 1;  // retrying cannot help
      fail(channel, entry, claim, refusal);
      return;
    }
    spdlog::info("channel {}: file {} ({} bytes, sha256 {}) -> {}", channel.name(), entry.name, fetched.size,
                 fetched.sha256.substr(0, 12), fs::path(pipeline).filename().string());
    const ChildResult result =
        run_child(config_.program.empty() ? self_executable() : fs::path(config_.program), {"run", pipeline, "--input", fetched.path.string(), "--no-progress"},
                  dir / (entry.name + ".report"), config_.run_timeout);
    std::error_code ec;
    fs::remove(dir / (entry.name + ".report"), ec);
    if (!result.exited() || (result.exit_code != kExitOk && result.exit_code != kExitInputRejected)) {
      fail(channel, entry, claim, result.describe());
      return;
    }
    spdlog::info("channel {}: file {}: run {} {} (received {}, loaded {}, rejected {}, held {})", channel.name(),
                 entry.name, result.run_id, result.status, result.received, result.loaded, result.rejected,
                 result.held);
    std::string reply = result.error_file;
    if (reply.empty() && result.status == "skipped") reply = earlier_reply(pipeline, claim, result.message);
    claims_->record_run(key, result.run_id, reply);
    claim.run_id = result.run_id;
    claim.reply_file = reply;
    claim.reply_sent = false;
    claim.reply_in_flight = false;
  }

  if (!claim.reply_file.empty() && !claim.reply_sent) {
    std::error_code ec;
    if (!fs::is_regular_file(claim.reply_file, ec)) {
      spdlog::warn("channel {}: file {}: its error file {} is gone; nothing sent back", channel.name(), entry.name,
                   fs::path(claim.reply_file).filename().string());
    } else {
      const std::string reply_name = fs::path(claim.reply_file).filename().string();
      claims_->mark_reply_in_flight(key);
      try {
        channel.send(claim.reply_file, reply_name, entry);
        spdlog::info("channel {}: file {}: sent {} back", channel.name(), entry.name, reply_name);
      } catch (const transport::TransportError& e) {
        if (e.transient() || !claim.reply_in_flight) {
          fail(channel, entry, claim, "the error file could not be sent back: " + std::string(e.what()));
          return;
        }
        // A daemon died during this very send: the name it took is this reply, delivered.
        spdlog::warn("channel {}: file {}: {} was being sent when its daemon died and is there already ({})",
                     channel.name(), entry.name, reply_name, e.what());
      }
    }
    claims_->mark_reply_sent(key);
  }
  // Done in the database first: a crash before the settle below leaves a done row, and the
  // next poll only settles the file.
  keeper_->release();
  claims_->mark_done(key);
  try {
    channel.settle(entry, transport::Settlement::Done);
  } catch (const transport::TransportError& e) {
    spdlog::warn("channel {}: file {}: done, but not yet moved to done/ ({}); the next poll does it",
                 channel.name(), entry.name, e.what());
  }
  std::error_code ec;
  fs::remove(local, ec);
}

std::string FileDaemon::earlier_reply(const std::string& pipeline, const Claim& claim,
                                      const std::string& message) const {
  const std::string& file_name = claim.key.file_name;
  // A run that found this content loaded already names that run ("... by run R...").
  const auto at = message.find("by run ");
  if (at == std::string::npos) return "";
  const auto start = at + 7;
  const std::string run_id = message.substr(start, message.find_first_of(" ;", start) - start);
  // The same bytes uploaded again: the provider has that run's reply from an earlier upload.
  if (!claim.previous_run_id.empty() && run_id == claim.previous_run_id) return "";
  try {
    Ledger ledger(pipeline_settings(pipeline, process_environment()).ledger);
    const auto earlier = ledger.find(run_id);
    // Only this very file's earlier run: its daemon died before sending the reply. The same
    // content under another name is another provider file with nothing new to say.
    // A run older than this upload's claim judged an earlier upload (its reply went back then),
    // e.g. contents A, B, then A again. Both times come from the clock of the daemon that claimed
    // this upload, and ledger times are ISO 8601 UTC of one width, so they compare as text.
    if (earlier && claim.generation > 0 &&
        earlier->started_at < Poco::DateTimeFormatter::format(Poco::Timestamp(claim.generation_at * 1000),
                                                              "%Y-%m-%dT%H:%M:%S.%iZ"))
      return "";
    if (earlier && earlier->input_name == file_name) return earlier->error_file;
  } catch (const std::exception& e) {
    spdlog::warn("cannot read the ledger for run {}: {}", run_id, e.what());
  }
  return "";
}

void FileDaemon::fail(transport::Channel& channel, const transport::InboxEntry& entry, const Claim& claim,
                      const std::string& reason) {
  keeper_->release();  // the row leaves this daemon's hands now
  const int failures = claim.attempts + 1;
  if (failures >= config_.retry.attempts) {
    claims_->park(claim.key, failures, reason);
    spdlog::error("channel {}: file {} parked after {} failed attempts: {}", channel.name(), entry.name, failures,
                  reason);
    try {
      channel.settle(entry, transport::Settlement::Parked);
    } catch (const transport::TransportError& e) {
      spdlog::warn("channel {}: file {}: parked, but not yet moved to parked/ ({})", channel.name(), entry.name,
                   e.what());
    }
    return;
  }
  const auto wait = backoff_for(config_.retry, failures);
  claims_->retry_later(claim.key, failures, epoch_millis() + wait.count(), reason);
  spdlog::warn("channel {}: file {} failed (attempt {} of {}): {}; next attempt in {} ms", channel.name(),
               entry.name, failures, config_.retry.attempts, reason, wait.count());
}

void FileDaemon::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    poll_once(stop);
    const auto deadline = std::chrono::steady_clock::now() + config_.poll_interval;
    while (!stop.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

QueueSnapshot FileDaemon::queue_snapshot() {
  QueueSnapshot snapshot;
  const auto counts = claims_->counts();
  const std::int64_t now_seconds = epoch_millis() / 1000;
  for (const auto& channel : channels_) {
    ChannelQueue queue;
    queue.channel = channel->name();
    {
      std::lock_guard lock(pending_mutex_);
      if (const auto it = pending_.find(channel->name()); it != pending_.end()) {
        queue.pending = it->second.first;
        if (it->second.second > 0) queue.oldest_pending_age_seconds = std::max<std::int64_t>(0, now_seconds - it->second.second);
      }
    }
    for (const auto& c : counts) {
      if (c.channel != queue.channel) continue;
      queue.in_progress = c.in_progress;
      queue.retrying = c.retrying;
      queue.parked = c.parked;
      queue.done = c.done;
    }
    snapshot.push_back(std::move(queue));
  }
  return snapshot;
}

int run_daemon(const DaemonConfig& config, const std::atomic<bool>& stop, const DaemonHooks& hooks) {
  FileDaemon daemon(config);
  // Before the MLLP thread: a page that cannot start (port taken, bad users file) stops the
  // daemon before anything runs. Its function outlives nothing it reads (declared after daemon).
  std::function<void()> stop_page;
  if (hooks.start_operator_page)
    stop_page = hooks.start_operator_page(config, [&daemon] { return daemon.queue_snapshot(); });
  std::thread mllp;
  int mllp_exit = kExitOk;
  if (!config.mllp_pipeline.empty()) {
    const PipelineSpec spec = parse_pipeline(config.mllp_pipeline, process_environment());
    PluginRegistry registry(plugin_search_path(spec));
    auto pipeline = std::make_shared<BoundPipeline>(bind_pipeline(spec, registry));
    const ServeSettings settings = ServeSettings::from(pipeline->spec);
    mllp = std::thread([pipeline, settings, &stop, &mllp_exit] {
      try {
        mllp_exit = vaxetl::serve(*pipeline, settings, stop);
      } catch (const std::exception& e) {
        spdlog::error("MLLP listener stopped: {}", e.what());
        mllp_exit = kExitRunFailed;
      }
    });
  }
  daemon.run(stop);
  spdlog::info("vaxetl serve: stopping; no file is in hand");
  if (mllp.joinable()) mllp.join();
  if (stop_page) stop_page();  // the page shows the queues until the last work is done
  return mllp_exit;
}

}  // namespace vaxetl::daemon
