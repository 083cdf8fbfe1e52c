// Semantic versions of plugins and the constraints pipelines use to pick one.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace vaxetl {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;

  static std::optional<Version> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Version&) const = default;
};

// "^7.2" (>=7.2.0, <8.0.0), "~7.2" (>=7.2.0, <7.3.0), "7.2.1" or "=7.2.1" (exact),
// ">=7.2" (at least), "*" or "" (any). Missing minor/patch parts read as 0.
class VersionConstraint {
 public:
  static std::optional<VersionConstraint> parse(std::string_view text);
  bool matches(const Version& version) const;
  const std::string& text() const noexcept { return text_; }

 private:
  enum class Kind { Any, Caret, Tilde, Exact, AtLeast };
  Kind kind_ = Kind::Any;
  Version base_;
  std::string text_;
};

}  // namespace vaxetl
