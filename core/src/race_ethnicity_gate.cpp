#include "race_ethnicity_gate.hpp"

#include <cstdio>

namespace vaxetl {

RaceEthnicityClass classify_race_ethnicity(std::string_view race_1, std::string_view ethnicity) noexcept {
  if (race_1 == "UNK" || ethnicity == "UNK") return RaceEthnicityClass::Unknown;
  if (race_1.empty() || ethnicity.empty()) return RaceEthnicityClass::Missing;
  return RaceEthnicityClass::Populated;
}

void count_record(RaceEthnicityCounts& counts, std::string_view race_1, std::string_view ethnicity) noexcept {
  ++counts.records;
  switch (classify_race_ethnicity(race_1, ethnicity)) {
    case RaceEthnicityClass::Populated: ++counts.populated; break;
    case RaceEthnicityClass::Unknown: ++counts.unknown; break;
    case RaceEthnicityClass::Missing: break;
  }
}

double populated_percent(const RaceEthnicityCounts& counts) noexcept {
  if (counts.records == 0) return 100.0;
  return 100.0 * static_cast<double>(counts.populated) / static_cast<double>(counts.records);
}

double unknown_percent(const RaceEthnicityCounts& counts) noexcept {
  if (counts.records == 0) return 0.0;
  return 100.0 * static_cast<double>(counts.unknown) / static_cast<double>(counts.records);
}

namespace {

bool meets(const RaceEthnicityCounts& counts, double populated_min, double unknown_max) {
  return populated_percent(counts) >= populated_min && unknown_percent(counts) <= unknown_max;
}

std::string shares(const char* what, const RaceEthnicityCounts& counts) {
  char text[160];
  std::snprintf(text, sizeof(text), "%s %.2f%% populated, %.2f%% unknown of %lld records", what,
                populated_percent(counts), unknown_percent(counts),
                static_cast<long long>(counts.records));
  return text;
}

}  // namespace

GateVerdict judge_race_ethnicity(const RaceEthnicityGateSpec& gate, const RaceEthnicityCounts& file,
                                 const RaceEthnicityCounts& window, bool production,
                                 bool provider_paused) {
  GateVerdict verdict;
  // A small file says little on its own; the window judges it.
  verdict.file_passes = file.records < gate.min_records || meets(file, gate.populated_min, gate.unknown_max);
  verdict.window_passes = meets(window, gate.populated_min, gate.unknown_max);
  verdict.meets_goal = meets(file, gate.goal_populated, gate.goal_unknown_max);
  const bool passes = verdict.file_passes && verdict.window_passes;

  char thresholds[160];
  std::snprintf(thresholds, sizeof(thresholds),
                "production needs at least %.2f%% populated and at most %.2f%% unknown (goal %.2f%% / %.2f%%)",
                gate.populated_min, gate.unknown_max, gate.goal_populated, gate.goal_unknown_max);
  std::string summary = shares("file", file) + "; " + shares("window", window) + "; " + thresholds;

  if (!production) {
    verdict.action = GateVerdict::Action::Load;
    verdict.summary = std::string(passes ? "meets the production threshold" : "would be held in production") +
                      ": " + summary;
    return verdict;
  }
  if (provider_paused) {
    verdict.action = passes ? GateVerdict::Action::ResumeProvider : GateVerdict::Action::Hold;
    verdict.summary = std::string(passes ? "rate recovered, automation resumes" : "held: the provider is paused") +
                      ": " + summary;
    return verdict;
  }
  verdict.action = passes ? GateVerdict::Action::Load : GateVerdict::Action::Hold;
  verdict.summary = std::string(passes ? (verdict.meets_goal ? "passed" : "passed, below the goal")
                                       : "held: below the production threshold") +
                    ": " + summary;
  return verdict;
}

}  // namespace vaxetl
