#include "pipeline.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>
#include <type_traits>

#include "db/database.hpp"
#include "yaml_config_reader.hpp"

namespace vaxetl {

namespace fs = std::filesystem;

std::string SourceLocation::str() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {

std::string join_lines(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& p : problems) {
    if (!text.empty()) text += "\n";
    text += p;
  }
  return text;
}

}  // namespace

PipelineError::PipelineError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

EnvironmentLookup with_run_variables(EnvironmentLookup base, RunVariables variables) {
  return [base = std::move(base), variables = std::move(variables)](const std::string& name)
             -> std::optional<std::string> {
    if (auto it = variables.find(name); it != variables.end()) return it->second;
    if (name.starts_with("file.") || name.starts_with("run.")) return std::nullopt;
    return base(name);
  };
}

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    return std::nullopt;
  };
}

namespace {

// Reads text with ${NAME}, ${NAME:-default} and $$ up to the end, or up to the '}' that closes
// the reference it is the default of (stop_at_brace). A default may itself hold references,
// ${A:-${B:-var}/x}; it is only evaluated (and its unset variables only refused) when used.
class Interpolator {
 public:
  Interpolator(std::string_view text, const EnvironmentLookup& env) : text_(text), env_(env) {}

  std::string text(bool stop_at_brace, bool evaluate) {
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (stop_at_brace && c == '}') return out;
      if (c != '$' || pos_ + 1 >= text_.size()) {
        out += c;
        ++pos_;
      } else if (text_[pos_ + 1] == '$') {
        out += '$';
        pos_ += 2;
      } else if (text_[pos_ + 1] != '{') {
        out += c;
        ++pos_;
      } else {
        pos_ += 2;
        out += reference(evaluate);
      }
    }
    if (stop_at_brace) throw std::invalid_argument("unterminated '${' (write $$ for a literal dollar sign)");
    return out;
  }

 private:
  // After "${": NAME, then "}" or ":-" default "}".
  std::string reference(bool evaluate) {
    const std::size_t name_start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '}' && text_.substr(pos_, 2) != ":-") ++pos_;
    if (pos_ >= text_.size()) throw std::invalid_argument("unterminated '${' (write $$ for a literal dollar sign)");
    const std::string name(text_.substr(name_start, pos_ - name_start));
    if (name.empty()) throw std::invalid_argument("empty variable name in '${}'");
    const bool has_default = text_[pos_] == ':';
    std::optional<std::string> value;
    if (evaluate) value = env_(name);
    const bool use_value = value && (!value->empty() || !has_default);
    std::string fallback;
    if (has_default) {
      pos_ += 2;
      fallback = text(true, evaluate && !use_value);
    }
    ++pos_;  // the closing '}'
    if (!evaluate) return "";
    if (use_value) return *value;
    if (has_default) return fallback;
    throw std::invalid_argument("environment variable " + name + " is not set; set it or write ${" + name +
                                ":-default}");
  }

  std::string_view text_;
  const EnvironmentLookup& env_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string interpolate(const std::string& text, const EnvironmentLookup& env) {
  return Interpolator(text, env).text(false, true);
}

namespace {

class Parser : YamlConfigReader {
 public:
  Parser(std::string path, EnvironmentLookup env) : YamlConfigReader(std::move(path), std::move(env)) {}

  PipelineSpec parse() {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path_);
    } catch (const YAML::BadFile&) {
      throw PipelineError({path_ + ": cannot read the pipeline file"});
    } catch (const YAML::ParserException& e) {
      throw PipelineError({at(e.mark).str() + ": YAML syntax error: " + e.msg});
    }
    PipelineSpec spec;
    spec.path = path_;
    if (!root.IsMap()) {
      problem(root, "a pipeline must be a mapping with source, transforms and sink");
      throw PipelineError(problems_);
    }
    static const std::set<std::string> known = {
        "name",   "description", "plugin_paths", "batch_size", "ledger",
        "error_dir", "source",   "transforms",   "sink",       "mllp",
        "file_names", "file_format", "environments", "race_ethnicity_gate", "held_dir"};
    for (const auto& item : root) {
      const std::string key = item.first.as<std::string>();
      if (!known.count(key))
        problem(item.first, "unknown key '" + key +
                                "'; known keys: name, description, plugin_paths, batch_size, "
                                "ledger, error_dir, held_dir, file_names, file_format, environments, "
                                "race_ethnicity_gate, source, transforms, sink, mllp");
    }
    const std::string base_dir = fs::path(path_).parent_path().string();
    route_environment(spec, root);  // first: every later value may use ${env.KEY}
    spec.name = scalar(root["name"], "name", fs::path(path_).stem().string());
    spec.description = scalar(root["description"], "description", "");
    spec.ledger = scalar(root["ledger"], "ledger", "var/ledger.sqlite");
    spec.error_dir = scalar(root["error_dir"], "error_dir", "var/errors");
    spec.held_dir = scalar(root["held_dir"], "held_dir", "var/held");
    race_ethnicity_gate(spec, root);
    const std::string batch = scalar(root["batch_size"], "batch_size", "10000");
    int64_t batch_size = 0;
    const auto [end, ec] = std::from_chars(batch.data(), batch.data() + batch.size(), batch_size);
    if (ec != std::errc{} || end != batch.data() + batch.size() || batch_size < 1 ||
        batch_size > 1000000) {
      problem(root["batch_size"], "batch_size must be an integer from 1 to 1000000");
    } else {
      spec.batch_size = static_cast<uint32_t>(batch_size);
    }
    if (const auto paths = root["plugin_paths"]) {
      if (!paths.IsSequence()) {
        problem(paths, "plugin_paths must be a list of directories");
      } else {
        for (const auto& p : paths) {
          std::string dir = scalar(p, "plugin_paths entry", "");
          if (!dir.empty() && fs::path(dir).is_relative())
            dir = (fs::path(base_dir.empty() ? "." : base_dir) / dir).lexically_normal().string();
          if (!dir.empty()) spec.plugin_paths.push_back(dir);
        }
      }
    }
    if (const auto mllp = root["mllp"]) {
      spec.mllp_location = location(mllp);
      if (!mllp.IsMap()) {
        problem(mllp, "mllp must be a mapping of option: value");
      } else {
        for (const auto& item : mllp) {
          ConfigValue value;
          value.key = item.first.as<std::string>();
          value.location = location(item.second.IsNull() ? item.first : item.second);
          value.value = scalar(item.second, "mllp." + value.key, "");
          spec.mllp.push_back(std::move(value));
        }
      }
    }
    spec.source = stage(root, "source");
    spec.sink = stage(root, "sink");
    if (const auto transforms = root["transforms"]) {
      if (!transforms.IsSequence()) {
        problem(transforms, "transforms must be a list of stages");
      } else {
        for (std::size_t i = 0; i < transforms.size(); ++i)
          spec.transforms.push_back(
              stage_node(transforms[i], "transforms[" + std::to_string(i) + "]"));
      }
    }
    if (!problems_.empty()) throw PipelineError(problems_);
    return spec;
  }

 private:

  StageSpec stage(const YAML::Node& root, const std::string& role) {
    const auto node = root[role];
    if (!node) {
      problems_.push_back(path_ + ":1:1: the pipeline has no " + role + " stage");
      return {};
    }
    return stage_node(node, role);
  }

  StageSpec stage_node(const YAML::Node& node, const std::string& role) {
    StageSpec stage;
    stage.role = role;
    stage.location = location(node);
    if (!node.IsMap()) {
      problem(node, role + " must be a mapping with plugin, version and config");
      return stage;
    }
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      if (key != "plugin" && key != "version" && key != "config")
        problem(item.first, role + ": unknown key '" + key + "'; known keys: plugin, version, config");
    }
    stage.plugin = scalar(node["plugin"], role + ".plugin", "");
    if (stage.plugin.empty()) problem(node, role + " names no plugin (add 'plugin: <name>')");
    stage.version_constraint = scalar(node["version"], role + ".version", "*");
    if (const auto config = node["config"]) {
      if (!config.IsMap() && !config.IsNull()) {
        problem(config, role + ".config must be a mapping of option: value");
      } else if (config.IsMap()) {
        for (const auto& item : config) {
          ConfigValue value;
          value.key = item.first.as<std::string>();
          value.location = location(item.second.IsNull() ? item.first : item.second);
          value.value = scalar(item.second, role + ".config." + value.key, "");
          stage.config.push_back(std::move(value));
        }
      }
    }
    return stage;
  }

  // ${env.KEY}: the routed environment's values, once the environments section is read.
  void route_environment(PipelineSpec& spec, const YAML::Node& root) {
    if (const auto node = root["file_names"]) {
      const std::string policy = scalar(node, "file_names", "any");
      if (policy == "nc-cvms") spec.nc_file_names = true;
      else if (policy != "any") problem(node, "file_names must be nc-cvms or any");
    }
    if (const auto node = root["file_format"]) {
      spec.file_format = scalar(node, "file_format", "");
      if (spec.file_format != "NCVR" && spec.file_format != "CVRS" && spec.file_format != "VXU")
        problem(node, "file_format must be NCVR, CVRS or VXU");
    }
    if (const auto node = root["environments"]) {
      if (!node.IsMap()) {
        problem(node, "environments must map PROD, PHI and NOPHI to their settings");
      } else {
        for (const auto& item : node) {
          const std::string name = item.first.as<std::string>();
          if (name != "PROD" && name != "PHI" && name != "NOPHI") {
            problem(item.first, "unknown environment '" + name + "'; known: PROD, PHI, NOPHI");
            continue;
          }
          if (!item.second.IsMap()) {
            problem(item.second, "environments." + name + " must be a mapping of key: value");
            continue;
          }
          for (const auto& entry : item.second) {
            const std::string key = entry.first.as<std::string>();
            spec.environments[name][key] =
                scalar(entry.second, "environments." + name + "." + key, "");
          }
        }
      }
    }
    if (spec.nc_file_names) {
      for (const char* name : {"PROD", "PHI", "NOPHI"})
        if (!spec.environments.count(name))
          problem(root["file_names"], std::string("file_names: nc-cvms routes files by environment; "
                                                  "add environments.") + name);
    }
    const auto chosen = env_("file.environment");
    if (!chosen) return;
    const auto settings = spec.environments.find(*chosen);
    if (settings == spec.environments.end()) return;
    env_ = [base = env_, values = settings->second](const std::string& name) -> std::optional<std::string> {
      if (name.starts_with("env.")) {
        if (auto it = values.find(name.substr(4)); it != values.end()) return it->second;
        return std::nullopt;
      }
      return base(name);
    };
  }

  void race_ethnicity_gate(PipelineSpec& spec, const YAML::Node& root) {
    const auto node = root["race_ethnicity_gate"];
    if (!node) return;
    RaceEthnicityGateSpec& gate = spec.race_ethnicity_gate;
    gate.enabled = true;
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      problem(node, "race_ethnicity_gate must be a mapping of setting: value");
      return;
    }
    static const std::set<std::string> known = {"populated_min", "unknown_max", "goal_populated",
                                                "goal_unknown_max", "window_days", "min_records",
                                                "enabled"};
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      if (!known.count(key))
        problem(item.first, "race_ethnicity_gate: unknown key '" + key +
                                "'; known keys: enabled, populated_min, unknown_max, "
                                "goal_populated, goal_unknown_max, window_days, min_records");
    }
    auto percent = [&](const char* key, double& out) {
      const auto value = node[key];
      if (!value) return;
      const std::string text = scalar(value, std::string("race_ethnicity_gate.") + key, "");
      double parsed = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      if (ec != std::errc{} || end != text.data() + text.size() || parsed < 0 || parsed > 100)
        problem(value, std::string("race_ethnicity_gate.") + key + " must be a percentage from 0 to 100");
      else
        out = parsed;
    };
    auto count = [&](const char* key, auto& out, int64_t low, int64_t high) {
      const auto value = node[key];
      if (!value) return;
      const std::string text = scalar(value, std::string("race_ethnicity_gate.") + key, "");
      int64_t parsed = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      if (ec != std::errc{} || end != text.data() + text.size() || parsed < low || parsed > high)
        problem(value, std::string("race_ethnicity_gate.") + key + " must be an integer from " +
                           std::to_string(low) + " to " + std::to_string(high));
      else
        out = static_cast<std::remove_reference_t<decltype(out)>>(parsed);
    };
    if (const auto enabled = node["enabled"]) {
      const std::string text = scalar(enabled, "race_ethnicity_gate.enabled", "true");
      if (text != "true" && text != "false") problem(enabled, "race_ethnicity_gate.enabled must be true or false");
      gate.enabled = text != "false";
    }
    percent("populated_min", gate.populated_min);
    percent("unknown_max", gate.unknown_max);
    percent("goal_populated", gate.goal_populated);
    percent("goal_unknown_max", gate.goal_unknown_max);
    count("window_days", gate.window_days, 1, 366);
    count("min_records", gate.min_records, 0, 1000000000);
  }

};

// With its article: the tail of "<key> must be ...".
const char* type_name(vaxetl_config_type type) {
  switch (type) {
    case VAXETL_CONFIG_STRING: return "a string";
    case VAXETL_CONFIG_INT: return "an integer";
    case VAXETL_CONFIG_BOOL: return "a boolean (true or false)";
    case VAXETL_CONFIG_ENUM: return "one of";
    case VAXETL_CONFIG_PATH: return "a path";
    case VAXETL_CONFIG_DOUBLE: return "a number";
    case VAXETL_CONFIG_STORE: return "a store location (SQLite path or PostgreSQL URL)";
  }
  return "a valid value";
}

bool value_has_type(const ConfigFieldSpec& field, const std::string& value) {
  switch (field.type) {
    case VAXETL_CONFIG_INT: {
      int64_t parsed = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      return ec == std::errc{} && end == value.data() + value.size();
    }
    case VAXETL_CONFIG_DOUBLE: {
      double parsed = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      return ec == std::errc{} && end == value.data() + value.size();
    }
    case VAXETL_CONFIG_BOOL:
      return value == "true" || value == "false";
    case VAXETL_CONFIG_ENUM:
      return std::find(field.allowed_values.begin(), field.allowed_values.end(), value) !=
             field.allowed_values.end();
    default:
      return true;
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

void bind_config(BoundStage& stage, std::vector<std::string>& problems) {
  const LoadedPlugin& plugin = *stage.plugin;
  std::vector<std::string> known;
  for (const auto& f : plugin.config_fields) known.push_back(f.name);
  for (const auto& value : stage.spec.config) {
    auto field = std::find_if(plugin.config_fields.begin(), plugin.config_fields.end(),
                              [&](const ConfigFieldSpec& f) { return f.name == value.key; });
    if (field == plugin.config_fields.end()) {
      problems.push_back(value.location.str() + ": " + stage.spec.role + ": " + plugin.label() +
                         " has no config key '" + value.key + "'; known keys: " +
                         (known.empty() ? "(none)" : join(known)));
      continue;
    }
    if (field->required && value.value.empty()) {
      problems.push_back(value.location.str() + ": " + stage.spec.role + ".config." + value.key +
                         " is required and may not be empty (" + field->description + ")");
      continue;
    }
    if (!value_has_type(*field, value.value)) {
      std::string message = value.location.str() + ": " + stage.spec.role + ".config." +
                            value.key + " must be " + type_name(field->type);
      if (field->type == VAXETL_CONFIG_ENUM) message += ": " + join(field->allowed_values);
      problems.push_back(message);
      continue;
    }
    stage.config.emplace_back(value.key, value.value);
  }
  for (const auto& field : plugin.config_fields) {
    const bool given = std::any_of(stage.config.begin(), stage.config.end(),
                                   [&](const auto& kv) { return kv.first == field.name; });
    const bool mentioned = std::any_of(stage.spec.config.begin(), stage.spec.config.end(),
                                       [&](const ConfigValue& v) { return v.key == field.name; });
    if (given || mentioned) continue;
    if (field.default_value) {
      stage.config.emplace_back(field.name, *field.default_value);
    } else if (field.required) {
      problems.push_back(stage.spec.location.str() + ": " + stage.spec.role + ": " +
                         plugin.label() + " needs config key '" + field.name + "' (" +
                         field.description + ")");
    }
  }
}

}  // namespace

PipelineSpec parse_pipeline(const std::string& path, const EnvironmentLookup& env) {
  return Parser(path, env).parse();
}

std::vector<std::string> plugin_search_path(const PipelineSpec& spec) {
  std::vector<std::string> paths = spec.plugin_paths;
  for (auto& p : default_plugin_search_path())
    if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(std::move(p));
  return paths;
}

BoundPipeline bind_pipeline(const PipelineSpec& spec, PluginRegistry& registry) {
  BoundPipeline bound;
  bound.spec = spec;
  std::vector<std::string> problems;

  auto bind = [&](const StageSpec& stage_spec, vaxetl_plugin_kind kind) {
    BoundStage stage;
    stage.spec = stage_spec;
    auto constraint = VersionConstraint::parse(stage_spec.version_constraint);
    if (!constraint) {
      problems.push_back(stage_spec.location.str() + ": " + stage_spec.role + ".version '" +
                         stage_spec.version_constraint +
                         "' is not a version constraint (examples: ^7.2, ~7.2.1, 7.2.0, >=7.2, *)");
      return stage;
    }
    try {
      stage.plugin = registry.resolve(stage_spec.plugin, *constraint);
    } catch (const PluginError& e) {
      problems.push_back(stage_spec.location.str() + ": " + stage_spec.role + ": " + e.what());
      return stage;
    }
    if (stage.plugin->kind != kind) {
      problems.push_back(stage_spec.location.str() + ": " + stage_spec.role + ": plugin '" +
                         stage_spec.plugin + "' is a " + kind_name(stage.plugin->kind) +
                         ", not a " + kind_name(kind));
      stage.plugin.reset();
      return stage;
    }
    bind_config(stage, problems);
    return stage;
  };

  bound.source = bind(spec.source, VAXETL_KIND_SOURCE);
  for (const auto& t : spec.transforms) bound.transforms.push_back(bind(t, VAXETL_KIND_TRANSFORM));
  bound.sink = bind(spec.sink, VAXETL_KIND_SINK);

  // Column flow: every required column must come from an earlier stage.
  if (bound.source.plugin) {
    std::vector<std::string> available;
    for (const auto& c : bound.source.plugin->produces) available.push_back(c.name);
    auto check = [&](const BoundStage& stage) {
      if (!stage.plugin) return;
      for (const auto& column : stage.plugin->consumes) {
        if (!column.required) continue;
        if (std::find(available.begin(), available.end(), column.name) == available.end())
          problems.push_back(stage.spec.location.str() + ": " + stage.spec.role + ": " +
                             stage.plugin->label() + " needs column '" + column.name +
                             "', which no earlier stage produces");
      }
      for (const auto& column : stage.plugin->produces)
        if (std::find(available.begin(), available.end(), column.name) == available.end())
          available.push_back(column.name);
    };
    for (const auto& t : bound.transforms) check(t);
    check(bound.sink);
  }
  if (!problems.empty()) throw PipelineError(problems);
  return bound;
}

namespace {

// A store location as it may be printed: a PostgreSQL URL without its password.
std::string shown_store(const std::string& value) {
  try {
    return db::Location::parse(value).display();
  } catch (const std::invalid_argument&) {
    return value;
  }
}

}  // namespace

std::string describe(const BoundPipeline& pipeline) {
  std::string text = "pipeline " + pipeline.spec.name + " (" + pipeline.spec.path + ")\n";
  auto stage_text = [&](const BoundStage& stage) {
    text += "  " + stage.spec.role + ": " + stage.plugin->label() + " from " + stage.plugin->path + "\n";
    for (const auto& [key, value] : stage.config) {
      bool secret = false;
      bool store = false;
      for (const auto& f : stage.plugin->config_fields)
        if (f.name == key) {
          secret = f.secret;
          store = f.type == VAXETL_CONFIG_STORE;
        }
      text += "    " + key + ": " + (secret ? std::string("********") : store ? shown_store(value) : value) + "\n";
    }
  };
  stage_text(pipeline.source);
  for (const auto& t : pipeline.transforms) stage_text(t);
  stage_text(pipeline.sink);
  text += "  batch_size: " + std::to_string(pipeline.spec.batch_size) + "\n";
  text += "  ledger: " + shown_store(pipeline.spec.ledger) + "\n";
  text += "  error_dir: " + pipeline.spec.error_dir + "\n";
  return text;
}

}  // namespace vaxetl
