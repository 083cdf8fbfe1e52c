// A plugin stage as the host drives it: its host callbacks, its instance, and the checks that
// turn a plugin's status into an error an operator can act on. Used by the runner and by
// `vaxetl serve`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_registry.hpp"
#include "vaxetl/sdk/plugin.hpp"

namespace vaxetl {

struct BoundStage;

const char* status_name(vaxetl_status status);

// A plugin call that did not succeed, with its status; the message is safe to log (plugins
// must keep PHI out). The SDK's error type already carries exactly that.
using StageFailure = sdk::Error;

struct Finding {
  int64_t row = 0;
  uint32_t field_position = 0;
  std::string field_name;
  std::string code;
  vaxetl_severity severity = VAXETL_SEVERITY_ERROR;
  std::string message;
};

// The host side of one stage: its callbacks and the findings it reported during a call.
class StageHost {
 public:
  explicit StageHost(const LoadedPlugin& plugin);
  StageHost(const StageHost&) = delete;
  StageHost& operator=(const StageHost&) = delete;

  const vaxetl_host_api* api() const noexcept { return &api_; }
  std::vector<Finding> take_findings() { return std::exchange(findings_, {}); }
  // (row, vaxetl_record_outcome) as a sink reported them during the last calls.
  std::vector<std::pair<int64_t, uint32_t>> take_outcomes() { return std::exchange(outcomes_, {}); }

 private:
  static void log(void* context, uint32_t level, const char* message);
  static void report(void* context, const vaxetl_finding* f);
  static void record_outcome(void* context, int64_t row, uint32_t outcome);

  std::string logger_name_;
  vaxetl_host_api api_{};
  std::vector<Finding> findings_;
  std::vector<std::pair<int64_t, uint32_t>> outcomes_;
};

// Checks a plugin call's status; anything but OK (and END_OF_STREAM where allowed) throws.
void check(const LoadedPlugin& plugin, const char* function, vaxetl_status status,
           const vaxetl_error& err, bool end_allowed = false);

// Repeats a call that answers RETRY a few times with growing pauses.
template <class Call>
vaxetl_status with_retry(Call&& call) {
  vaxetl_status status = call();
  for (int attempt = 0; status == VAXETL_RETRY && attempt < 4; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 << (2 * attempt)));
    status = call();
  }
  return status;
}

// A plugin instance, created from a bound stage and destroyed with this object.
class StageInstance {
 public:
  explicit StageInstance(const BoundStage& stage);
  ~StageInstance();
  StageInstance(const StageInstance&) = delete;
  StageInstance& operator=(const StageInstance&) = delete;

  const LoadedPlugin& plugin() const noexcept { return plugin_; }
  StageHost& host() noexcept { return host_; }
  void* handle() const noexcept { return instance_; }

 private:
  const LoadedPlugin& plugin_;
  StageHost host_;
  void* instance_ = nullptr;
};

// Whether a source plugin's function table, as the plugin filled it, reaches `member`: a
// plugin built against an older ABI minor has a shorter table.
template <class Member>
bool source_has(const vaxetl_source_api& api, Member vaxetl_source_api::*member, std::size_t offset) {
  return api.struct_size >= offset + sizeof(Member) && api.*member != nullptr;
}

}  // namespace vaxetl
