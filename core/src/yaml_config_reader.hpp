// What the pipeline parser and the serve configuration share when reading a YAML file: every
// problem is collected as "file:line:column: message" and reported together, and every scalar
// goes through ${VAR} interpolation.
#pragma once

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pipeline.hpp"

namespace vaxetl {

class YamlConfigReader {
 protected:
  YamlConfigReader(std::string path, EnvironmentLookup env) : path_(std::move(path)), env_(std::move(env)) {}

  SourceLocation location(const YAML::Node& node) const { return at(node.Mark()); }
  SourceLocation at(const YAML::Mark& mark) const { return SourceLocation{path_, mark.line + 1, mark.column + 1}; }

  void problem(const YAML::Node& node, const std::string& message) {
    problems_.push_back(location(node).str() + ": " + message);
  }

  // A scalar value after interpolation, or `fallback` when absent (or wrong, with a problem).
  std::string scalar(const YAML::Node& node, const std::string& what, const std::string& fallback) {
    if (!node || node.IsNull()) return fallback;
    if (!node.IsScalar()) {
      problem(node, what + " must be a single value, not a list or mapping");
      return fallback;
    }
    try {
      return interpolate(node.Scalar(), env_);
    } catch (const std::invalid_argument& e) {
      problem(node, what + ": " + e.what());
      return fallback;
    }
  }

  std::string path_;
  EnvironmentLookup env_;
  std::vector<std::string> problems_;
};

}  // namespace vaxetl
