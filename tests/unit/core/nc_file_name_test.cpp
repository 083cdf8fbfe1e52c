// North Carolina CVMS file names (nc-rules.md): every pattern, and every way a name can fail.
#include <gtest/gtest.h>

#include <string>

#include "nc_file_name.hpp"

namespace {

using vaxetl::nc::Environment;
using vaxetl::nc::FileFormat;
using vaxetl::nc::parse_file_name;

struct Case {
  const char* name;
  FileFormat format;
  Environment environment;
  bool corrections;
};

class EveryPattern : public ::testing::TestWithParam<Case> {};

TEST_P(EveryPattern, IsRecognizedWithItsFormatEnvironmentOrgTimeAndVersion) {
  const Case& c = GetParam();
  const auto result = parse_file_name(c.name);
  ASSERT_TRUE(result.name) << result.error;
  EXPECT_EQ(result.name->format, c.format);
  EXPECT_EQ(result.name->environment, c.environment);
  EXPECT_EQ(result.name->corrections, c.corrections);
  EXPECT_EQ(result.name->org, "WAKEMED2");
  EXPECT_EQ(result.name->timestamp, "20210315083000");
  EXPECT_EQ(result.name->version, 3);
}

INSTANTIATE_TEST_SUITE_P(
    NcRules, EveryPattern,
    ::testing::Values(
        Case{"WAKEMED2COVID_20210315083000_CVMS_PROD_PHI_DIRECT_V3.txt", FileFormat::Ncvr, Environment::Prod, false},
        Case{"WAKEMED2COVID_20210315083000_CVMS_PROD_PHI_DIRECT_CORRECTIONS_V3.txt", FileFormat::Ncvr, Environment::Prod, true},
        Case{"WAKEMED2COVID_20210315083000_CVMS_PHI_DIRECT_V3.txt", FileFormat::Ncvr, Environment::PhiStaging, false},
        Case{"WAKEMED2COVID_20210315083000_CVMS_NOPHI_DIRECT_V3.txt", FileFormat::Ncvr, Environment::NoPhi, false},
        Case{"WAKEMED2COVID_20210315083000_CVMS_CVRS_PROD_PHI_V3.txt", FileFormat::Cvrs, Environment::Prod, false},
        Case{"WAKEMED2COVID_20210315083000_CVMS_CVRS_PHI_V3.txt", FileFormat::Cvrs, Environment::PhiStaging, false},
        Case{"WAKEMED2COVID_20210315083000_CVMS_CVRS_NOPHI_V3.txt", FileFormat::Cvrs, Environment::NoPhi, false},
        Case{"WAKEMED2COVID_20210315083000_CVMS_VXU_PROD_PHI_V3.txt", FileFormat::Vxu, Environment::Prod, false},
        Case{"WAKEMED2COVID_20210315083000_CVMS_VXU_PHI_V3.txt", FileFormat::Vxu, Environment::PhiStaging, false}));

void expect_refused(const std::string& name, const std::string& reason) {
  const auto result = parse_file_name(name);
  EXPECT_FALSE(result.name) << name;
  EXPECT_NE(result.error.find(reason), std::string::npos) << result.error;
  // Every refusal tells the sender what a good name looks like.
  EXPECT_NE(result.error.find("NC CVMS file names are ORGCOVID_YYYYMMDDHHMMSS_CVMS_"), std::string::npos);
}

TEST(NcFileName, RefusesEachMalformedPartWithAReason) {
  expect_refused("WAKEMEDCOVID_20210315083000_CVMS_PROD_PHI_DIRECT_V1.csv", "does not end in .txt");
  expect_refused("WAKEMED_20210315083000_CVMS_PROD_PHI_DIRECT_V1.txt", "no ORGNAMECOVID_ prefix");
  expect_refused("WakeMedCOVID_20210315083000_CVMS_PROD_PHI_DIRECT_V1.txt", "not upper-case letters and digits");
  expect_refused("COVID_20210315083000_CVMS_PROD_PHI_DIRECT_V1.txt", "not upper-case letters and digits");
  expect_refused("WAKEMEDCOVID_20210230083000_CVMS_PROD_PHI_DIRECT_V1.txt", "valid YYYYMMDDHHMMSS");
  expect_refused("WAKEMEDCOVID_20210315256000_CVMS_PROD_PHI_DIRECT_V1.txt", "valid YYYYMMDDHHMMSS");
  expect_refused("WAKEMEDCOVID_20210315083000_PROD_PHI_DIRECT_V1.txt", "lacks _CVMS_");
  expect_refused("WAKEMEDCOVID_20210315083000_CVMS_PROD_PHI_DIRECT.txt", "_V<n>");
  expect_refused("WAKEMEDCOVID_20210315083000_CVMS_PROD_PHI_DIRECT_V0.txt", "V0");
  expect_refused("WAKEMEDCOVID_20210315083000_CVMS_VXU_NOPHI_V1.txt", "no known kind and environment");
  expect_refused("WAKEMEDCOVID_20210315083000_CVMS_CVRS_PROD_PHI_CORRECTIONS_V1.txt", "no known kind and environment");
}

TEST(NcFileName, AcceptsALeapDayAndTheGeneratorsNames) {
  EXPECT_TRUE(parse_file_name("ORG1COVID_20240229235959_CVMS_PROD_PHI_DIRECT_V12.txt").name);
  EXPECT_FALSE(parse_file_name("ORG1COVID_20230229235959_CVMS_PROD_PHI_DIRECT_V12.txt").name);
  // tools/ncvr_gen names its files this way.
  EXPECT_TRUE(parse_file_name("CAROLINAPHARMCOVID_20261121143634_CVMS_PROD_PHI_DIRECT_V1.txt").name);
}

}  // namespace
