// The C++ plugin SDK: write a source, transform or sink as an ordinary class, then export it
// with VAXETL_EXPORT_SOURCE / VAXETL_EXPORT_TRANSFORM / VAXETL_EXPORT_SINK.
//
//   class MySource : public vaxetl::sdk::Source {
//    public:
//     explicit MySource(const vaxetl::sdk::CreateContext& context);
//     ...
//   };
//   VAXETL_EXPORT_SOURCE(MySource, kMyPluginInfo)
//
// Every exported function is a noexcept trampoline: vaxetl::sdk::Error becomes its status and
// message, any other exception becomes VAXETL_INTERNAL with its what(). Exception messages
// reach operators' logs, so they must never contain a record value.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vaxetl/plugin_abi.h"
#include "vaxetl/sdk/canonical_record.hpp"

namespace vaxetl::sdk {

// Throw to end the current operation with a specific status.
class Error : public std::runtime_error {
 public:
  Error(vaxetl_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  vaxetl_status status() const noexcept { return status_; }

 private:
  vaxetl_status status_;
};

// Copies a view into a fixed NUL-terminated buffer for a C callback, without allocating;
// longer text is cut.
template <std::size_t N>
const char* copy_terminated(std::array<char, N>& buffer, std::string_view text) noexcept {
  const std::size_t n = text.size() < N - 1 ? text.size() : N - 1;
  if (n > 0) std::memcpy(buffer.data(), text.data(), n);  // an empty view may have no data
  buffer[n] = '\0';
  return buffer.data();
}

// Logging and per-record findings, through the host.
class Host {
 public:
  explicit Host(const vaxetl_host_api* api) : api_(api) {}

  void log(vaxetl_log_level level, const std::string& message) const {
    if (api_ != nullptr && api_->log != nullptr) api_->log(api_->context, level, message.c_str());
  }
  void debug(const std::string& message) const { log(VAXETL_LOG_DEBUG, message); }
  void info(const std::string& message) const { log(VAXETL_LOG_INFO, message); }
  void warn(const std::string& message) const { log(VAXETL_LOG_WARN, message); }

  // `field_name`, `code` and `message` must be NUL-terminated (string literals or buffers).
  void report(int64_t row, uint32_t field_position, const char* field_name, const char* code,
              vaxetl_severity severity, const char* message) const {
    if (api_ == nullptr || api_->report == nullptr) return;
    vaxetl_finding finding{};
    finding.struct_size = sizeof(finding);
    finding.row = row;
    finding.field_position = field_position;
    finding.field_name = field_name;
    finding.code = code;
    finding.severity = severity;
    finding.message = message;
    api_->report(api_->context, &finding);
  }

  // What a sink did with a live row. A host older than ABI 1.1 has no such callback: ignored.
  void outcome(int64_t row, vaxetl_record_outcome outcome) const {
    if (api_ == nullptr ||
        api_->struct_size < offsetof(vaxetl_host_api, record_outcome) + sizeof(api_->record_outcome) ||
        api_->record_outcome == nullptr)
      return;
    api_->record_outcome(api_->context, row, outcome);
  }

 private:
  const vaxetl_host_api* api_;
};

// A stage's configuration: the host has already checked keys, types and required fields
// against the plugin's field table and filled in defaults, so getters only convert.
class Config {
 public:
  Config(const vaxetl_config_entry* entries, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i)
      values_.emplace_back(entries[i].key, entries[i].value ? entries[i].value : "");
  }

  std::optional<std::string> find(std::string_view key) const {
    for (const auto& [k, v] : values_)
      if (k == key) return v;
    return std::nullopt;
  }
  std::string get_string(std::string_view key) const {
    auto value = find(key);
    if (!value) throw Error(VAXETL_INVALID_CONFIG, "missing config key '" + std::string(key) + "'");
    return *value;
  }
  int64_t get_int(std::string_view key) const {
    const std::string text = get_string(key);
    int64_t result = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
    if (ec != std::errc{} || end != text.data() + text.size())
      throw Error(VAXETL_INVALID_CONFIG, "config key '" + std::string(key) + "' is not an integer");
    return result;
  }
  bool get_bool(std::string_view key) const {
    const std::string text = get_string(key);
    if (text == "true") return true;
    if (text == "false") return false;
    throw Error(VAXETL_INVALID_CONFIG, "config key '" + std::string(key) + "' is not true/false");
  }
  double get_double(std::string_view key) const {
    const std::string text = get_string(key);
    try {
      std::size_t used = 0;
      const double result = std::stod(text, &used);
      if (used == text.size()) return result;
    } catch (const std::exception&) {
    }
    throw Error(VAXETL_INVALID_CONFIG, "config key '" + std::string(key) + "' is not a number");
  }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

struct RunInfo {
  std::string run_id;
  std::string pipeline_name;
  std::string input_path;
  std::string input_sha256;
  vaxetl_run_mode mode = VAXETL_MODE_LOAD;

  static RunInfo from(const vaxetl_run_info* run) {
    RunInfo info;
    if (run == nullptr) return info;
    info.run_id = run->run_id ? run->run_id : "";
    info.pipeline_name = run->pipeline_name ? run->pipeline_name : "";
    info.input_path = run->input_path ? run->input_path : "";
    info.input_sha256 = run->input_sha256 ? run->input_sha256 : "";
    info.mode = static_cast<vaxetl_run_mode>(run->mode);
    return info;
  }
};

// What a plugin's constructor receives.
struct CreateContext {
  Host host;
  Config config;
  std::string plugin_dir;
  std::string name;
  std::string version;

  // A data file shipped with the plugin: <plugin_dir>/<name>-<version>/<file>. An absolute
  // `file` is returned unchanged, so configuration can point elsewhere.
  std::string data_path(const std::string& file) const {
    if (!file.empty() && file.front() == '/') return file;
    return plugin_dir + "/" + name + "-" + version + "/" + file;
  }
};

// Static self-description; VAXETL_EXPORT_* copies it into the ABI descriptor.
struct PluginInfo {
  const char* name;
  const char* version;
  const char* description;
  const char* license;
  const char* origin;
  const vaxetl_config_field* config_fields;
  uint32_t config_field_count;
  const vaxetl_column* consumes;
  uint32_t consumes_count;
  const vaxetl_column* produces;
  uint32_t produces_count;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual void open(const RunInfo& run) = 0;
  virtual void schema(ArrowSchema* out) = 0;
  // Returns false at end of stream; otherwise fills `out` with 1..max_rows rows.
  virtual bool next_batch(uint32_t max_rows, ArrowArray* out) = 0;
  virtual void progress(uint64_t& bytes_done, uint64_t& bytes_total) const {
    bytes_done = 0;
    bytes_total = 0;
  }
  virtual void close() {}
  // After the input was refused (sdk::Error with VAXETL_INVALID_DATA): how many records of it
  // were never returned in a batch. Reading on to count them is fine: the input is refused.
  virtual uint64_t unreturned_records() { return 0; }
  // For message-protocol sources: the reply to one message (an HL7 ACK), validated on its own.
  // A source that answers messages overrides this AND declares
  //   static constexpr bool kAcknowledges = true;
  // so the SDK lists the function in the ABI table; the host then writes the replies as the
  // input's error file and uses them for MLLP.
  virtual void acknowledge(std::string_view message, std::string& reply) {
    (void)message;
    (void)reply;
    throw Error(VAXETL_INVALID_CONFIG, "this source does not acknowledge messages");
  }
};

class Transform {
 public:
  virtual ~Transform() = default;
  virtual void begin(const RunInfo& run, const ArrowSchema& input, ArrowSchema* out) = 0;
  virtual void process(const ArrowArray& input, ArrowArray* out) = 0;
  virtual void finish() {}
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void begin(const RunInfo& run, const ArrowSchema& schema) = 0;
  virtual void write(const ArrowArray& batch) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
};

// The columns a source of canonical records produces: the two metadata columns, then every
// canonical column, for the descriptor's `produces` table (keep the vector in a static).
inline std::vector<vaxetl_column> canonical_source_columns(const char* record_no_description,
                                                           const char* raw_description) {
  std::vector<vaxetl_column> columns;
  columns.push_back({canonical::kRecordNo.data(), "l", 0, record_no_description});
  columns.push_back({canonical::kRaw.data(), "u", 0, raw_description});
  for (const auto& name : canonical::kColumns) columns.push_back({name.data(), "u", 0, "canonical record column"});
  return columns;
}

namespace detail {

inline void set_error(vaxetl_error* err, std::string_view message) noexcept {
  if (err == nullptr) return;
  const std::size_t n = message.size() < VAXETL_ERROR_MESSAGE_SIZE - 1 ? message.size()
                                                                        : VAXETL_ERROR_MESSAGE_SIZE - 1;
  if (n > 0) std::memcpy(err->message, message.data(), n);
  err->message[n] = '\0';
}

// Runs `body`, turning any exception into a status and message for the host.
template <class Body>
vaxetl_status guarded(vaxetl_error* err, Body&& body) noexcept {
  try {
    return body();
  } catch (const Error& e) {
    set_error(err, e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_error(err, "out of memory");
    return VAXETL_FATAL;
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return VAXETL_INTERNAL;
  } catch (...) {
    set_error(err, "unknown exception");
    return VAXETL_INTERNAL;
  }
}

template <class Impl>
struct Instance {
  Host host;
  std::unique_ptr<Impl> impl;
};

template <class Impl>
Instance<Impl>& as(void* instance) {
  return *static_cast<Instance<Impl>*>(instance);
}

template <class Impl>
vaxetl_status create(const PluginInfo& info, const vaxetl_create_params* params, void** instance,
                     vaxetl_error* err) noexcept {
  return guarded(err, [&] {
    CreateContext context{Host(params->host), Config(params->config, params->config_count),
                          params->plugin_dir ? params->plugin_dir : ".", info.name, info.version};
    auto holder = std::make_unique<Instance<Impl>>(Instance<Impl>{context.host, nullptr});
    holder->impl = std::make_unique<Impl>(context);
    *instance = holder.release();
    return VAXETL_OK;
  });
}

template <class Impl>
void destroy(void* instance) noexcept {
  std::unique_ptr<Instance<Impl>>(static_cast<Instance<Impl>*>(instance)).reset();
}

template <class Impl>
struct SourceTrampolines {
  static const PluginInfo* info;
  static vaxetl_status create(const vaxetl_create_params* p, void** i, vaxetl_error* e) noexcept {
    return detail::create<Impl>(*info, p, i, e);
  }
  static vaxetl_status open(void* i, const vaxetl_run_info* run, vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->open(RunInfo::from(run)); return VAXETL_OK; });
  }
  static vaxetl_status schema(void* i, ArrowSchema* out, vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->schema(out); return VAXETL_OK; });
  }
  static vaxetl_status next(void* i, uint32_t max_rows, ArrowArray* out, vaxetl_error* e) noexcept {
    return guarded(e, [&] {
      return as<Impl>(i).impl->next_batch(max_rows, out) ? VAXETL_OK : VAXETL_END_OF_STREAM;
    });
  }
  static void progress(void* i, uint64_t* done, uint64_t* total) noexcept {
    try {
      as<Impl>(i).impl->progress(*done, *total);
    } catch (...) {
      *done = *total = 0;
    }
  }
  static void close(void* i) noexcept {
    try {
      as<Impl>(i).impl->close();
    } catch (...) {
    }
  }
  static uint64_t unreturned(void* i) noexcept {
    try {
      return as<Impl>(i).impl->unreturned_records();
    } catch (...) {
      return 0;
    }
  }
  static vaxetl_status acknowledge(void* i, const char* message, size_t length, char* out,
                                   size_t capacity, size_t* out_length, vaxetl_error* e) noexcept {
    return guarded(e, [&] {
      std::string reply;
      as<Impl>(i).impl->acknowledge(std::string_view(message, length), reply);
      if (reply.size() > capacity) throw Error(VAXETL_INTERNAL, "reply larger than the host's buffer");
      if (!reply.empty()) std::memcpy(out, reply.data(), reply.size());
      *out_length = reply.size();
      return VAXETL_OK;
    });
  }
  static constexpr auto acknowledge_entry() {
    if constexpr (requires { requires Impl::kAcknowledges; }) {
      return &acknowledge;
    } else {
      return static_cast<decltype(&acknowledge)>(nullptr);
    }
  }
  static constexpr vaxetl_source_api api{sizeof(vaxetl_source_api), &create, &destroy<Impl>,
                                         &open, &schema, &next, &progress, &close, &unreturned,
                                         acknowledge_entry()};
};

template <class Impl>
struct TransformTrampolines {
  static const PluginInfo* info;
  static vaxetl_status create(const vaxetl_create_params* p, void** i, vaxetl_error* e) noexcept {
    return detail::create<Impl>(*info, p, i, e);
  }
  static vaxetl_status begin(void* i, const vaxetl_run_info* run, const ArrowSchema* in,
                             ArrowSchema* out, vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->begin(RunInfo::from(run), *in, out); return VAXETL_OK; });
  }
  static vaxetl_status process(void* i, const ArrowArray* in, ArrowArray* out,
                               vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->process(*in, out); return VAXETL_OK; });
  }
  static vaxetl_status finish(void* i, vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->finish(); return VAXETL_OK; });
  }
  static constexpr vaxetl_transform_api api{sizeof(vaxetl_transform_api), &create, &destroy<Impl>,
                                            &begin, &process, &finish};
};

template <class Impl>
struct SinkTrampolines {
  static const PluginInfo* info;
  static vaxetl_status create(const vaxetl_create_params* p, void** i, vaxetl_error* e) noexcept {
    return detail::create<Impl>(*info, p, i, e);
  }
  static vaxetl_status begin(void* i, const vaxetl_run_info* run, const ArrowSchema* schema,
                             vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->begin(RunInfo::from(run), *schema); return VAXETL_OK; });
  }
  static vaxetl_status write(void* i, const ArrowArray* batch, vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->write(*batch); return VAXETL_OK; });
  }
  static vaxetl_status commit(void* i, vaxetl_error* e) noexcept {
    return guarded(e, [&] { as<Impl>(i).impl->commit(); return VAXETL_OK; });
  }
  static void rollback(void* i) noexcept { as<Impl>(i).impl->rollback(); }
  static constexpr vaxetl_sink_api api{sizeof(vaxetl_sink_api), &create, &destroy<Impl>, &begin,
                                       &write, &commit, &rollback};
};

template <class Impl> const PluginInfo* SourceTrampolines<Impl>::info = nullptr;
template <class Impl> const PluginInfo* TransformTrampolines<Impl>::info = nullptr;
template <class Impl> const PluginInfo* SinkTrampolines<Impl>::info = nullptr;

inline vaxetl_status fill_descriptor(const PluginInfo& info, vaxetl_plugin_kind kind,
                                     const vaxetl_source_api* source,
                                     const vaxetl_transform_api* transform,
                                     const vaxetl_sink_api* sink, vaxetl_plugin_descriptor* out,
                                     std::size_t out_size) noexcept {
  vaxetl_plugin_descriptor d{};
  d.struct_size = sizeof(d);
  d.abi_major = VAXETL_ABI_MAJOR;
  d.abi_minor = VAXETL_ABI_MINOR;
  d.kind = kind;
  d.name = info.name;
  d.version = info.version;
  d.description = info.description;
  d.license = info.license;
  d.origin = info.origin;
  d.config_fields = info.config_fields;
  d.config_field_count = info.config_field_count;
  d.consumes = info.consumes;
  d.consumes_count = info.consumes_count;
  d.produces = info.produces;
  d.produces_count = info.produces_count;
  d.source = source;
  d.transform = transform;
  d.sink = sink;
  // Write no more than the host's struct holds; tell it how much we wrote.
  const std::size_t n = out_size < sizeof(d) ? out_size : sizeof(d);
  d.struct_size = static_cast<uint32_t>(n);
  std::memcpy(out, &d, n);
  return VAXETL_OK;
}

}  // namespace detail
}  // namespace vaxetl::sdk

#define VAXETL_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

#define VAXETL_EXPORT_PLUGIN_IMPL_(Impl, info_object, kind, Trampolines, src, xf, snk)          \
  VAXETL_PLUGIN_EXPORT vaxetl_status vaxetl_plugin_entry(                                      \
      uint32_t, uint32_t, vaxetl_plugin_descriptor* out, size_t out_size) {                    \
    ::vaxetl::sdk::detail::Trampolines<Impl>::info = &(info_object);                           \
    return ::vaxetl::sdk::detail::fill_descriptor(info_object, kind, src, xf, snk, out,        \
                                                  out_size);                                   \
  }

#define VAXETL_EXPORT_SOURCE(Impl, info_object)                                                \
  VAXETL_EXPORT_PLUGIN_IMPL_(Impl, info_object, VAXETL_KIND_SOURCE, SourceTrampolines,         \
                             &::vaxetl::sdk::detail::SourceTrampolines<Impl>::api, nullptr,    \
                             nullptr)
#define VAXETL_EXPORT_TRANSFORM(Impl, info_object)                                             \
  VAXETL_EXPORT_PLUGIN_IMPL_(Impl, info_object, VAXETL_KIND_TRANSFORM, TransformTrampolines,   \
                             nullptr, &::vaxetl::sdk::detail::TransformTrampolines<Impl>::api, \
                             nullptr)
#define VAXETL_EXPORT_SINK(Impl, info_object)                                                  \
  VAXETL_EXPORT_PLUGIN_IMPL_(Impl, info_object, VAXETL_KIND_SINK, SinkTrampolines, nullptr,    \
                             nullptr, &::vaxetl::sdk::detail::SinkTrampolines<Impl>::api)

#define VAXETL_ARRAY_COUNT(array) static_cast<uint32_t>(sizeof(array) / sizeof((array)[0]))
