// The race and ethnicity gate: how records count, and what a file's verdict is for each
// provider state and environment (nc-rules.md thresholds, configurable).
#include <gtest/gtest.h>

#include "race_ethnicity_gate.hpp"

namespace vaxetl {
namespace {

RaceEthnicityCounts counts(int64_t records, int64_t populated, int64_t unknown) {
  RaceEthnicityCounts c;
  c.records = records;
  c.populated = populated;
  c.unknown = unknown;
  return c;
}

RaceEthnicityGateSpec nc_gate() {
  RaceEthnicityGateSpec gate;
  gate.enabled = true;
  return gate;  // 97 / 3 to run, 99 / 1 goal, 50-record minimum
}

TEST(RaceEthnicityGate, DeclinedCountsAsPopulatedUnknownDoesNot) {
  EXPECT_EQ(classify_race_ethnicity("2106-3", "2186-5"), RaceEthnicityClass::Populated);
  EXPECT_EQ(classify_race_ethnicity("DECLINED", "DECLINED"), RaceEthnicityClass::Populated);
  EXPECT_EQ(classify_race_ethnicity("UNK", "2186-5"), RaceEthnicityClass::Unknown);
  EXPECT_EQ(classify_race_ethnicity("2106-3", "UNK"), RaceEthnicityClass::Unknown);
  EXPECT_EQ(classify_race_ethnicity("", "UNK"), RaceEthnicityClass::Unknown);
  EXPECT_EQ(classify_race_ethnicity("2106-3", ""), RaceEthnicityClass::Missing);
  EXPECT_EQ(classify_race_ethnicity("", ""), RaceEthnicityClass::Missing);

  RaceEthnicityCounts c;
  count_record(c, "2106-3", "2135-2");
  count_record(c, "UNK", "UNK");
  count_record(c, "", "");
  count_record(c, "DECLINED", "2186-5");
  EXPECT_EQ(c.records, 4);
  EXPECT_EQ(c.populated, 2);
  EXPECT_EQ(c.unknown, 1);
  EXPECT_DOUBLE_EQ(populated_percent(c), 50.0);
  EXPECT_DOUBLE_EQ(unknown_percent(c), 25.0);
  EXPECT_DOUBLE_EQ(populated_percent({}), 100.0);
  EXPECT_DOUBLE_EQ(unknown_percent({}), 0.0);
}

TEST(RaceEthnicityGate, ProductionFileAtTheThresholdLoadsBelowItIsHeld) {
  const auto at = counts(1000, 970, 30);
  auto verdict = judge_race_ethnicity(nc_gate(), at, at, true, false);
  EXPECT_EQ(verdict.action, GateVerdict::Action::Load);
  EXPECT_FALSE(verdict.meets_goal);
  EXPECT_NE(verdict.summary.find("passed, below the goal"), std::string::npos) << verdict.summary;

  const auto short_populated = counts(1000, 969, 10);
  verdict = judge_race_ethnicity(nc_gate(), short_populated, short_populated, true, false);
  EXPECT_EQ(verdict.action, GateVerdict::Action::Hold);
  EXPECT_FALSE(verdict.file_passes);
  EXPECT_NE(verdict.summary.find("96.90% populated"), std::string::npos) << verdict.summary;

  const auto too_unknown = counts(1000, 980, 31);
  EXPECT_EQ(judge_race_ethnicity(nc_gate(), too_unknown, too_unknown, true, false).action, GateVerdict::Action::Hold);

  const auto goal = counts(1000, 995, 5);
  verdict = judge_race_ethnicity(nc_gate(), goal, goal, true, false);
  EXPECT_TRUE(verdict.meets_goal);
  EXPECT_EQ(verdict.summary.rfind("passed:", 0), 0u) << verdict.summary;
}

TEST(RaceEthnicityGate, SmallFileIsJudgedByTheWindowAlone) {
  const auto small_bad = counts(20, 10, 10);
  EXPECT_EQ(judge_race_ethnicity(nc_gate(), small_bad, counts(2000, 1990, 12), true, false).action,
            GateVerdict::Action::Load);
  EXPECT_EQ(judge_race_ethnicity(nc_gate(), small_bad, counts(100, 80, 12), true, false).action,
            GateVerdict::Action::Hold);
}

TEST(RaceEthnicityGate, PausedProviderStaysHeldUntilFileAndWindowBothPass) {
  const auto good = counts(1000, 1000, 0);
  EXPECT_EQ(judge_race_ethnicity(nc_gate(), good, counts(1600, 1450, 150), true, true).action,
            GateVerdict::Action::Hold);
  const auto verdict = judge_race_ethnicity(nc_gate(), good, counts(3000, 2950, 50), true, true);
  EXPECT_EQ(verdict.action, GateVerdict::Action::ResumeProvider);
  EXPECT_NE(verdict.summary.find("recovered"), std::string::npos);
  const auto bad = counts(1000, 900, 100);
  EXPECT_EQ(judge_race_ethnicity(nc_gate(), bad, counts(30000, 29900, 100), true, true).action,
            GateVerdict::Action::Hold);
}

TEST(RaceEthnicityGate, OtherEnvironmentsAreReportedNeverHeld) {
  const auto bad = counts(1000, 800, 200);
  const auto verdict = judge_race_ethnicity(nc_gate(), bad, bad, false, true);
  EXPECT_EQ(verdict.action, GateVerdict::Action::Load);
  EXPECT_FALSE(verdict.file_passes);
  EXPECT_EQ(verdict.summary.rfind("would be held in production", 0), 0u) << verdict.summary;
}

TEST(RaceEthnicityGate, ThresholdsAreConfigurable) {
  RaceEthnicityGateSpec relaxed = nc_gate();
  relaxed.populated_min = 90;
  relaxed.unknown_max = 8;
  const auto file = counts(1000, 930, 70);
  EXPECT_EQ(judge_race_ethnicity(nc_gate(), file, file, true, false).action, GateVerdict::Action::Hold);
  EXPECT_EQ(judge_race_ethnicity(relaxed, file, file, true, false).action, GateVerdict::Action::Load);
  EXPECT_NE(judge_race_ethnicity(relaxed, file, file, true, false).summary.find("at least 90.00% populated"),
            std::string::npos);
}

}  // namespace
}  // namespace vaxetl
