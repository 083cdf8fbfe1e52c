#include "semver.hpp"

#include <charconv>

namespace vaxetl {

namespace {

// Reads up to three dot-separated numbers; parts not given stay 0.
std::optional<Version> parse_partial(std::string_view text) {
  Version version;
  int* parts[] = {&version.major, &version.minor, &version.patch};
  std::size_t part = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (p < end && part < 3) {
    const auto [next, ec] = std::from_chars(p, end, *parts[part]);
    if (ec != std::errc{} || *parts[part] < 0) return std::nullopt;
    ++part;
    p = next;
    if (p == end) break;
    if (*p != '.') return std::nullopt;
    ++p;
    if (p == end) return std::nullopt;
  }
  if (part == 0 || p != end) return std::nullopt;
  return version;
}

}  // namespace

std::optional<Version> Version::parse(std::string_view text) {
  // A full version needs all three parts.
  int dots = 0;
  for (char c : text) dots += c == '.';
  if (dots != 2) return std::nullopt;
  return parse_partial(text);
}

std::string Version::str() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<VersionConstraint> VersionConstraint::parse(std::string_view text) {
  VersionConstraint constraint;
  constraint.text_ = std::string(text);
  if (text.empty() || text == "*") return constraint;
  std::string_view rest = text;
  if (rest.starts_with(">=")) {
    constraint.kind_ = Kind::AtLeast;
    rest.remove_prefix(2);
  } else if (rest.front() == '^') {
    constraint.kind_ = Kind::Caret;
    rest.remove_prefix(1);
  } else if (rest.front() == '~') {
    constraint.kind_ = Kind::Tilde;
    rest.remove_prefix(1);
  } else {
    constraint.kind_ = Kind::Exact;
    if (rest.front() == '=') rest.remove_prefix(1);
  }
  auto base = parse_partial(rest);
  if (!base) return std::nullopt;
  constraint.base_ = *base;
  return constraint;
}

bool VersionConstraint::matches(const Version& v) const {
  switch (kind_) {
    case Kind::Any:
      return true;
    case Kind::Exact:
      return v == base_;
    case Kind::AtLeast:
      return v >= base_;
    case Kind::Caret:
      // 0.x releases may break on a minor, as semver allows.
      if (base_.major == 0) return v >= base_ && v.major == 0 && v.minor == base_.minor;
      return v >= base_ && v.major == base_.major;
    case Kind::Tilde:
      return v >= base_ && v.major == base_.major && v.minor == base_.minor;
  }
  return false;
}

}  // namespace vaxetl
