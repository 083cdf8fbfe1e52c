// North Carolina's race and ethnicity gate (nc-rules.md, "Race and ethnicity data quality"):
// how a file's records count, and whether a production file loads, is held, or brings its
// paused provider back. Pure functions; the ledger keeps the counts and the provider's state.
#pragma once

#include <string>
#include <string_view>

#include "ledger.hpp"
#include "pipeline.hpp"

namespace vaxetl {

// A vaccination record's race and ethnicity, from canonical values (recip_race_1,
// recip_ethnicity): populated when both carry a value other than UNK ("DECLINED" counts as
// populated), unknown when either is UNK, missing otherwise.
enum class RaceEthnicityClass { Populated, Unknown, Missing };
RaceEthnicityClass classify_race_ethnicity(std::string_view race_1, std::string_view ethnicity) noexcept;

void count_record(RaceEthnicityCounts& counts, std::string_view race_1, std::string_view ethnicity) noexcept;

double populated_percent(const RaceEthnicityCounts& counts) noexcept;  // 100 when no records
double unknown_percent(const RaceEthnicityCounts& counts) noexcept;    // 0 when no records

struct GateVerdict {
  enum class Action {
    Load,             // load the file
    Hold,             // hold it (and pause the provider if it was active)
    ResumeProvider,   // a paused provider recovered: load its held files in order, then this
  };
  Action action = Action::Load;
  bool file_passes = true;
  bool window_passes = true;
  bool meets_goal = true;
  std::string summary;  // one line for the ledger and the error file; shares only, no PHI
};

// `file`: this file's counts; `window`: the provider's rolling window including this file.
// Only production files are ever held; for other environments the verdict says what would
// happen in production and the action is Load.
GateVerdict judge_race_ethnicity(const RaceEthnicityGateSpec& gate, const RaceEthnicityCounts& file,
                                 const RaceEthnicityCounts& window, bool production,
                                 bool provider_paused);

}  // namespace vaxetl
