#include "stage.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include "pipeline.hpp"

namespace vaxetl {

const char* status_name(vaxetl_status status) {
  switch (status) {
    case VAXETL_OK: return "OK";
    case VAXETL_END_OF_STREAM: return "END_OF_STREAM";
    case VAXETL_RETRY: return "RETRY";
    case VAXETL_INVALID_CONFIG: return "INVALID_CONFIG";
    case VAXETL_INVALID_DATA: return "INVALID_DATA";
    case VAXETL_IO_ERROR: return "IO_ERROR";
    case VAXETL_INTERNAL: return "INTERNAL";
    case VAXETL_FATAL: return "FATAL";
  }
  return "UNKNOWN_STATUS";
}

StageHost::StageHost(const LoadedPlugin& plugin) : logger_name_("plugin." + plugin.name) {
  api_.struct_size = sizeof(api_);
  api_.abi_major = VAXETL_ABI_MAJOR;
  api_.abi_minor = VAXETL_ABI_MINOR;
  api_.context = this;
  api_.log = &StageHost::log;
  api_.report = &StageHost::report;
  api_.record_outcome = &StageHost::record_outcome;
}

void StageHost::record_outcome(void* context, int64_t row, uint32_t outcome) {
  static_cast<StageHost*>(context)->outcomes_.emplace_back(row, outcome);
}

void StageHost::log(void* context, uint32_t level, const char* message) {
  auto* self = static_cast<StageHost*>(context);
  const auto spd_level = level >= VAXETL_LOG_ERROR  ? spdlog::level::err
                         : level == VAXETL_LOG_WARN ? spdlog::level::warn
                         : level == VAXETL_LOG_INFO ? spdlog::level::info
                                                    : spdlog::level::debug;
  spdlog::log(spd_level, "[{}] {}", self->logger_name_, message ? message : "");
}

void StageHost::report(void* context, const vaxetl_finding* f) {
  if (f == nullptr) return;
  auto* self = static_cast<StageHost*>(context);
  Finding finding;
  finding.row = f->row;
  finding.field_position = f->field_position;
  finding.field_name = f->field_name ? f->field_name : "";
  finding.code = f->code ? f->code : "UNSPECIFIED";
  finding.severity = static_cast<vaxetl_severity>(f->severity);
  finding.message = f->message ? f->message : "";
  self->findings_.push_back(std::move(finding));
}

void check(const LoadedPlugin& plugin, const char* function, vaxetl_status status,
           const vaxetl_error& err, bool end_allowed) {
  if (status == VAXETL_OK || (end_allowed && status == VAXETL_END_OF_STREAM)) return;
  const std::string message(err.message, strnlen(err.message, sizeof(err.message)));
  if (message.empty()) {
    throw StageFailure(status, plugin.label() + " returned " + status_name(status) + " from " +
                                   function +
                                   " without an error message; this is a defect in the plugin, "
                                   "report it to its vendor" +
                                   (plugin.origin.empty() ? "" : " (" + plugin.origin + ")"));
  }
  throw StageFailure(status, plugin.label() + ": " + function + " failed (" +
                                 status_name(status) + "): " + message);
}

StageInstance::StageInstance(const BoundStage& stage) : plugin_(*stage.plugin), host_(plugin_) {
  std::vector<vaxetl_config_entry> entries;
  for (const auto& [key, value] : stage.config) entries.push_back({key.c_str(), value.c_str()});
  vaxetl_create_params params{};
  params.struct_size = sizeof(params);
  params.host = host_.api();
  params.config = entries.data();
  params.config_count = static_cast<uint32_t>(entries.size());
  params.plugin_dir = plugin_.directory.c_str();
  vaxetl_error err{};
  vaxetl_status status = VAXETL_INTERNAL;
  switch (plugin_.kind) {
    case VAXETL_KIND_SOURCE: status = plugin_.source->create(&params, &instance_, &err); break;
    case VAXETL_KIND_TRANSFORM: status = plugin_.transform->create(&params, &instance_, &err); break;
    case VAXETL_KIND_SINK: status = plugin_.sink->create(&params, &instance_, &err); break;
  }
  check(plugin_, "create", status, err);
}

StageInstance::~StageInstance() {
  if (instance_ == nullptr) return;
  switch (plugin_.kind) {
    case VAXETL_KIND_SOURCE:
      if (plugin_.source->close) plugin_.source->close(instance_);
      plugin_.source->destroy(instance_);
      break;
    case VAXETL_KIND_TRANSFORM: plugin_.transform->destroy(instance_); break;
    case VAXETL_KIND_SINK: plugin_.sink->destroy(instance_); break;
  }
}

}  // namespace vaxetl
