// Config fields the COVID-19 record sources (NCVR, CVRS, VXU) share, declared once so all
// three spell, default and check them the same way.
#pragma once

#include <string>

#include "ncvr/value_checks.hpp"
#include "vaxetl/sdk/plugin.hpp"

namespace vaxetl::ncvr {

inline constexpr const char* kWarningOrError[] = {"warning", "error", nullptr};

inline constexpr vaxetl_config_field kUnitOfUseNdcField = {
    "unit_of_use_ndc", VAXETL_CONFIG_ENUM, 0, "warning", kWarningOrError,
    "a known unit-of-use NDC is mapped to its unit of sale; report it as a warning or reject it"};

inline constexpr vaxetl_config_field kAsOfDateField = {
    "as_of_date", VAXETL_CONFIG_STRING, 0, "", nullptr,
    "YYYY-MM-DD treated as today for the future-date rules (empty: today's date, UTC)"};

// The date the future-date rules compare with: as_of_date, or today (UTC) when empty.
inline Date as_of_date(const sdk::Config& config) {
  const std::string text = config.get_string(kAsOfDateField.name);
  if (text.empty()) return Date::today_utc();
  const auto date = parse_date(text);
  if (!date) throw sdk::Error(VAXETL_INVALID_CONFIG, "as_of_date must be YYYY-MM-DD");
  return *date;
}

}  // namespace vaxetl::ncvr
