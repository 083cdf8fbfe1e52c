// Finds, loads and checks plugin shared libraries (Boost.DLL, RTLD_LOCAL, resolved at load).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "semver.hpp"
#include "vaxetl/plugin_abi.h"

namespace boost::dll {
class shared_library;
}

namespace vaxetl {

// A plugin problem the operator can act on (not found, refused, broken).
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConfigFieldSpec {
  std::string name;
  vaxetl_config_type type = VAXETL_CONFIG_STRING;
  bool required = false;
  bool secret = false;
  std::optional<std::string> default_value;
  std::vector<std::string> allowed_values;
  std::string description;
};

struct ColumnSpec {
  std::string name;
  std::string format;
  bool required = false;
  std::string description;
};

// A loaded, checked plugin. Function tables point into the library, which this object keeps
// loaded; everything else is copied out of the descriptor.
struct LoadedPlugin {
  std::string path;
  std::string directory;
  std::string name;
  Version version;
  vaxetl_plugin_kind kind = VAXETL_KIND_SOURCE;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::string description;
  std::string license;
  std::string origin;
  std::vector<ConfigFieldSpec> config_fields;
  std::vector<ColumnSpec> consumes;
  std::vector<ColumnSpec> produces;
  const vaxetl_source_api* source = nullptr;
  const vaxetl_transform_api* transform = nullptr;
  const vaxetl_sink_api* sink = nullptr;
  std::shared_ptr<boost::dll::shared_library> library;

  std::string label() const;  // e.g. "source 'ncvr' 7.2.0"
};

const char* kind_name(vaxetl_plugin_kind kind);

// Loads one library and checks its descriptor; throws PluginError saying what is wrong and
// how to fix it.
std::shared_ptr<LoadedPlugin> load_plugin(const std::string& path);

struct PluginListing {
  std::string path;
  std::shared_ptr<LoadedPlugin> plugin;  // null when refused
  std::string refusal;                   // why it was refused
};

class PluginRegistry {
 public:
  explicit PluginRegistry(std::vector<std::string> search_paths);

  // The highest version of `name` that satisfies `constraint`. Throws PluginError listing
  // every path tried and every candidate refused.
  std::shared_ptr<LoadedPlugin> resolve(const std::string& name, const VersionConstraint& constraint);

  // Every plugin library on the search path, loaded or with the reason it was refused.
  std::vector<PluginListing> list();

  const std::vector<std::string>& search_paths() const noexcept { return search_paths_; }

 private:
  std::vector<std::string> candidate_files(const std::string& name_prefix) const;
  std::shared_ptr<LoadedPlugin> load_cached(const std::string& path);

  std::vector<std::string> search_paths_;
  std::vector<std::shared_ptr<LoadedPlugin>> loaded_;
};

// The default search path after the pipeline's own plugin_paths: VAXETL_PLUGIN_PATH
// (colon-separated), then the install directory next to the executable, then the configured
// install prefix.
std::vector<std::string> default_plugin_search_path();

}  // namespace vaxetl
