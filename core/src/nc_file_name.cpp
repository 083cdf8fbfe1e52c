#include "nc_file_name.hpp"

#include <array>
#include <charconv>

namespace vaxetl::nc {

namespace {

// The part after ORGNAMECOVID_YYYYMMDDHHMMSS_CVMS_ and before _V<n>.txt, per nc-rules.md.
struct Pattern {
  std::string_view middle;
  FileFormat format;
  Environment environment;
  bool corrections;
};

constexpr std::array<Pattern, 9> kPatterns = {{
    {"PROD_PHI_DIRECT", FileFormat::Ncvr, Environment::Prod, false},
    {"PROD_PHI_DIRECT_CORRECTIONS", FileFormat::Ncvr, Environment::Prod, true},
    {"PHI_DIRECT", FileFormat::Ncvr, Environment::PhiStaging, false},
    {"NOPHI_DIRECT", FileFormat::Ncvr, Environment::NoPhi, false},
    {"CVRS_PROD_PHI", FileFormat::Cvrs, Environment::Prod, false},
    {"CVRS_PHI", FileFormat::Cvrs, Environment::PhiStaging, false},
    {"CVRS_NOPHI", FileFormat::Cvrs, Environment::NoPhi, false},
    {"VXU_PROD_PHI", FileFormat::Vxu, Environment::Prod, false},
    {"VXU_PHI", FileFormat::Vxu, Environment::PhiStaging, false},
}};

constexpr std::string_view kAccepted =
    "ORGCOVID_YYYYMMDDHHMMSS_CVMS_{PROD_PHI_DIRECT | PROD_PHI_DIRECT_CORRECTIONS | PHI_DIRECT | "
    "NOPHI_DIRECT | CVRS_PROD_PHI | CVRS_PHI | CVRS_NOPHI | VXU_PROD_PHI | VXU_PHI}_V<n>.txt, "
    "where ORG is upper-case letters and digits";

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool upper_alnum(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

int number(std::string_view digits) noexcept {
  int value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

bool valid_timestamp(std::string_view t) noexcept {
  if (t.size() != 14 || !all_digits(t)) return false;
  const int year = number(t.substr(0, 4)), month = number(t.substr(4, 2)), day = number(t.substr(6, 2));
  const int hour = number(t.substr(8, 2)), minute = number(t.substr(10, 2)), second = number(t.substr(12, 2));
  if (year < 2020 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

FileNameResult refuse(const std::string& why) {
  return {std::nullopt, "the file name " + why + "; NC CVMS file names are " + std::string(kAccepted)};
}

}  // namespace

const char* to_string(FileFormat format) noexcept {
  switch (format) {
    case FileFormat::Ncvr: return "NCVR";
    case FileFormat::Cvrs: return "CVRS";
    case FileFormat::Vxu: return "VXU";
  }
  return "?";
}

const char* to_string(Environment environment) noexcept {
  switch (environment) {
    case Environment::Prod: return "PROD";
    case Environment::PhiStaging: return "PHI";
    case Environment::NoPhi: return "NOPHI";
  }
  return "?";
}

FileNameResult parse_file_name(std::string_view name) {
  // File names are never echoed into messages: only their parts' rules (no PHI in names is
  // expected, but a misnamed file could be anything).
  if (!name.ends_with(".txt")) return refuse("does not end in .txt");
  std::string_view rest = name.substr(0, name.size() - 4);

  const std::size_t covid = rest.find("COVID_");
  if (covid == std::string_view::npos) return refuse("has no ORGNAMECOVID_ prefix");
  const std::string_view org = rest.substr(0, covid);
  if (!upper_alnum(org)) return refuse("has an organization part that is not upper-case letters and digits");
  rest.remove_prefix(covid + 6);

  if (rest.size() < 15 || rest[14] != '_' || !valid_timestamp(rest.substr(0, 14)))
    return refuse("has no valid YYYYMMDDHHMMSS time after the organization");
  const std::string_view timestamp = rest.substr(0, 14);
  rest.remove_prefix(15);

  if (!rest.starts_with("CVMS_")) return refuse("lacks _CVMS_ after the time");
  rest.remove_prefix(5);

  const std::size_t version_at = rest.rfind("_V");
  if (version_at == std::string_view::npos || !all_digits(rest.substr(version_at + 2)))
    return refuse("does not end in _V<n> (the sender's file version) before .txt");
  const int version = number(rest.substr(version_at + 2));
  if (version < 1) return refuse("has version V0; versions start at V1");
  const std::string_view middle = rest.substr(0, version_at);

  for (const Pattern& pattern : kPatterns) {
    if (pattern.middle != middle) continue;
    FileName result;
    result.format = pattern.format;
    result.environment = pattern.environment;
    result.corrections = pattern.corrections;
    result.org = std::string(org);
    result.timestamp = std::string(timestamp);
    result.version = version;
    return {result, {}};
  }
  return refuse("names no known kind and environment between _CVMS_ and _V<n>");
}

}  // namespace vaxetl::nc
