#include "plugin_registry.hpp"

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace vaxetl {

namespace fs = std::filesystem;

const char* kind_name(vaxetl_plugin_kind kind) {
  switch (kind) {
    case VAXETL_KIND_SOURCE:
      return "source";
    case VAXETL_KIND_TRANSFORM:
      return "transform";
    case VAXETL_KIND_SINK:
      return "sink";
  }
  return "unknown";
}

std::string LoadedPlugin::label() const {
  return std::string(kind_name(kind)) + " '" + name + "' " + version.str();
}

namespace {

std::string text_or_empty(const char* text) { return text ? text : ""; }

bool valid_plugin_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string abi_text(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

void check_abi(const std::string& path, const vaxetl_plugin_descriptor& d) {
  const std::string host = abi_text(VAXETL_ABI_MAJOR, VAXETL_ABI_MINOR);
  const std::string plugin = abi_text(d.abi_major, d.abi_minor);
  if (d.abi_major != VAXETL_ABI_MAJOR) {
    throw PluginError("plugin " + path + " was built for vaxetl plugin ABI " + plugin +
                      " but this vaxetl speaks ABI " + host +
                      " (major versions differ). Fix: install a build of the plugin for ABI " +
                      std::to_string(VAXETL_ABI_MAJOR) + ".x, or run a vaxetl release with ABI " +
                      std::to_string(d.abi_major) + ".x.");
  }
  if (d.abi_minor > VAXETL_ABI_MINOR) {
    throw PluginError("plugin " + path + " needs vaxetl plugin ABI " + plugin +
                      ", newer than this vaxetl's ABI " + host +
                      ". Fix: upgrade vaxetl to a release with ABI " + plugin +
                      " or later, or install a build of the plugin made for ABI " + host + ".");
  }
}

void check_function_table(const std::string& path, const LoadedPlugin& p) {
  const auto missing = [&](const char* what) {
    return PluginError("plugin " + path + " is incomplete: its " + kind_name(p.kind) +
                       " function table has no " + what + ". Fix: rebuild it with the vaxetl SDK.");
  };
  switch (p.kind) {
    case VAXETL_KIND_SOURCE:
      if (!p.source) throw missing("table");
      if (!p.source->create || !p.source->destroy || !p.source->open || !p.source->get_schema ||
          !p.source->next_batch)
        throw missing("create/destroy/open/get_schema/next_batch");
      break;
    case VAXETL_KIND_TRANSFORM:
      if (!p.transform) throw missing("table");
      if (!p.transform->create || !p.transform->destroy || !p.transform->begin ||
          !p.transform->process)
        throw missing("create/destroy/begin/process");
      break;
    case VAXETL_KIND_SINK:
      if (!p.sink) throw missing("table");
      if (!p.sink->create || !p.sink->destroy || !p.sink->begin || !p.sink->write ||
          !p.sink->commit || !p.sink->rollback)
        throw missing("create/destroy/begin/write/commit/rollback");
      break;
  }
}

std::vector<ColumnSpec> copy_columns(const vaxetl_column* columns, uint32_t count) {
  std::vector<ColumnSpec> result;
  for (uint32_t i = 0; columns != nullptr && i < count; ++i) {
    result.push_back({text_or_empty(columns[i].name), text_or_empty(columns[i].format),
                      (columns[i].flags & VAXETL_COLUMN_REQUIRED) != 0,
                      text_or_empty(columns[i].description)});
  }
  return result;
}

}  // namespace

std::shared_ptr<LoadedPlugin> load_plugin(const std::string& path) {
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    library->load(path, boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw PluginError("cannot load plugin " + path + ": " + e.what());
  }
  if (!library->has(VAXETL_PLUGIN_ENTRY_SYMBOL)) {
    throw PluginError(path + " is not a vaxetl plugin: it does not export '" +
                      VAXETL_PLUGIN_ENTRY_SYMBOL +
                      "'. Fix: export it with VAXETL_EXPORT_SOURCE/TRANSFORM/SINK from "
                      "<vaxetl/sdk/plugin.hpp>.");
  }
  auto entry = library->get<vaxetl_status(uint32_t, uint32_t, vaxetl_plugin_descriptor*, size_t)>(
      VAXETL_PLUGIN_ENTRY_SYMBOL);
  vaxetl_plugin_descriptor d{};
  const vaxetl_status status = entry(VAXETL_ABI_MAJOR, VAXETL_ABI_MINOR, &d, sizeof(d));
  check_abi(path, d);
  if (status != VAXETL_OK)
    throw PluginError("plugin " + path + " refused to describe itself (status " +
                      std::to_string(status) + ")");

  auto plugin = std::make_shared<LoadedPlugin>();
  plugin->path = path;
  plugin->directory = fs::path(path).parent_path().string();
  plugin->abi_major = d.abi_major;
  plugin->abi_minor = d.abi_minor;
  plugin->name = text_or_empty(d.name);
  if (!valid_plugin_name(plugin->name))
    throw PluginError("plugin " + path + " has a missing or invalid name (want [a-z0-9_]+)");
  auto version = Version::parse(text_or_empty(d.version));
  if (!version)
    throw PluginError("plugin " + path + " has a missing or invalid version (want MAJOR.MINOR.PATCH)");
  plugin->version = *version;
  if (d.kind < VAXETL_KIND_SOURCE || d.kind > VAXETL_KIND_SINK)
    throw PluginError("plugin " + path + " declares an unknown kind " + std::to_string(d.kind));
  plugin->kind = static_cast<vaxetl_plugin_kind>(d.kind);
  plugin->description = text_or_empty(d.description);
  if (plugin->description.empty())
    throw PluginError("plugin " + path + " has no description; every plugin must describe itself");
  plugin->license = text_or_empty(d.license);
  plugin->origin = text_or_empty(d.origin);
  for (uint32_t i = 0; d.config_fields != nullptr && i < d.config_field_count; ++i) {
    const vaxetl_config_field& f = d.config_fields[i];
    ConfigFieldSpec spec;
    spec.name = text_or_empty(f.name);
    if (spec.name.empty()) throw PluginError("plugin " + path + " has a config field without a name");
    // A type this host does not know, or one newer than the ABI the plugin declares, would be
    // validated and printed wrongly: refuse the plugin instead.
    const uint32_t newest_type = d.abi_minor >= 2 ? VAXETL_CONFIG_STORE : VAXETL_CONFIG_DOUBLE;
    if (f.type < VAXETL_CONFIG_STRING || f.type > newest_type)
      throw PluginError("plugin " + path + " config field " + spec.name + " has type " + std::to_string(f.type) +
                        ", unknown to plugin ABI " + abi_text(d.abi_major, d.abi_minor) +
                        (f.type == VAXETL_CONFIG_STORE ? " (VAXETL_CONFIG_STORE needs ABI 1.2)" : ""));
    spec.type = static_cast<vaxetl_config_type>(f.type);
    spec.required = (f.flags & VAXETL_CONFIG_REQUIRED) != 0;
    spec.secret = (f.flags & VAXETL_CONFIG_SECRET) != 0;
    if (f.default_value) spec.default_value = f.default_value;
    for (const char* const* v = f.allowed_values; v != nullptr && *v != nullptr; ++v)
      spec.allowed_values.emplace_back(*v);
    spec.description = text_or_empty(f.description);
    plugin->config_fields.push_back(std::move(spec));
  }
  plugin->consumes = copy_columns(d.consumes, d.consumes_count);
  plugin->produces = copy_columns(d.produces, d.produces_count);
  plugin->source = d.source;
  plugin->transform = d.transform;
  plugin->sink = d.sink;
  check_function_table(path, *plugin);
  plugin->library = std::move(library);
  return plugin;
}

PluginRegistry::PluginRegistry(std::vector<std::string> search_paths)
    : search_paths_(std::move(search_paths)) {}

std::vector<std::string> PluginRegistry::candidate_files(const std::string& name_prefix) const {
  std::vector<std::string> files;
  std::set<std::string> seen;
  for (const auto& dir : search_paths_) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<std::string> here;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();
      if (entry.path().extension() != ".so" || !file.starts_with(name_prefix)) continue;
      const std::string canonical = fs::weakly_canonical(entry.path(), ec).string();
      if (seen.insert(canonical).second) here.push_back(entry.path().string());
    }
    std::sort(here.begin(), here.end());
    files.insert(files.end(), here.begin(), here.end());
  }
  return files;
}

std::shared_ptr<LoadedPlugin> PluginRegistry::load_cached(const std::string& path) {
  for (const auto& p : loaded_)
    if (p->path == path) return p;
  auto plugin = load_plugin(path);
  loaded_.push_back(plugin);
  return plugin;
}

std::shared_ptr<LoadedPlugin> PluginRegistry::resolve(const std::string& name,
                                                      const VersionConstraint& constraint) {
  std::shared_ptr<LoadedPlugin> best;
  std::vector<std::string> notes;
  // File names are vaxetl_<name>-<version>.so; the descriptor has the final say.
  for (const auto& file : candidate_files("vaxetl_" + name + "-")) {
    try {
      auto plugin = load_cached(file);
      if (plugin->name != name) {
        notes.push_back(file + ": declares name '" + plugin->name + "'");
      } else if (!constraint.matches(plugin->version)) {
        notes.push_back(file + ": version " + plugin->version.str() + " does not satisfy '" +
                        constraint.text() + "'");
      } else if (!best || plugin->version > best->version) {
        best = plugin;
      }
    } catch (const PluginError& e) {
      notes.push_back(e.what());
    }
  }
  if (best) return best;
  std::string message = "no plugin '" + name + "' matching version '" +
                        (constraint.text().empty() ? "*" : constraint.text()) +
                        "' was found. Paths tried, in order:";
  for (const auto& dir : search_paths_) message += "\n  " + dir;
  if (!notes.empty()) {
    message += "\nCandidates refused:";
    for (const auto& note : notes) message += "\n  " + note;
  }
  message += "\nFix: install the plugin in one of these paths, or add its directory to the "
             "pipeline's plugin_paths or to VAXETL_PLUGIN_PATH.";
  throw PluginError(message);
}

std::vector<PluginListing> PluginRegistry::list() {
  std::vector<PluginListing> result;
  for (const auto& file : candidate_files("vaxetl_")) {
    PluginListing listing;
    listing.path = file;
    try {
      listing.plugin = load_cached(file);
    } catch (const PluginError& e) {
      listing.refusal = e.what();
    }
    result.push_back(std::move(listing));
  }
  return result;
}

std::vector<std::string> default_plugin_search_path() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("VAXETL_PLUGIN_PATH")) {
    std::string_view rest = env;
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const auto part = rest.substr(0, colon);
      if (!part.empty()) paths.emplace_back(part);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  boost::system::error_code ec;
  const auto program = boost::dll::program_location(ec);
  if (!ec) {
    paths.push_back((fs::path(program.string()).parent_path().parent_path() / VAXETL_PLUGIN_SUBDIR)
                        .lexically_normal()
                        .string());
  }
  const std::string installed = std::string(VAXETL_INSTALL_PREFIX) + "/" + VAXETL_PLUGIN_SUBDIR;
  if (std::find(paths.begin(), paths.end(), installed) == paths.end()) paths.push_back(installed);
  return paths;
}

}  // namespace vaxetl
