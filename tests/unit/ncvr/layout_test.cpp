#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ncvr/layout.hpp"
#include "ncvr_test_support.hpp"
#include "vaxetl/sdk/canonical_record.hpp"

namespace vaxetl::ncvr {
namespace {

using testing::kDataDir;
using testing::shipped_layout;

TEST(Layout, LoadsFiftyFieldsNamedLikeTheCanonicalColumns) {
  const Layout& layout = shipped_layout();
  ASSERT_EQ(layout.fields().size(), 50u);
  for (const FieldSpec& field : layout.fields()) {
    EXPECT_EQ(field.canonical_index, field.position - 1);
    EXPECT_EQ(field.name, canonical::kColumns[field.canonical_index]);
  }
  EXPECT_EQ(layout.find_field("dose_status")->position, 33u);
  EXPECT_EQ(layout.rules().eua_date, (Date{2020, 12, 11}));
  EXPECT_EQ(layout.rules().max_age_years, 120);
  EXPECT_EQ(layout.rules().refusal_first, 34u);
  EXPECT_EQ(layout.rules().refusal_last, 43u);
}

TEST(Layout, ShipsTheNorthCarolinaCountiesAndUspsStates) {
  const CodeSet* counties = shipped_layout().code_set("county");
  ASSERT_NE(counties, nullptr);
  EXPECT_EQ(counties->entries().size(), 100u);
  EXPECT_EQ(counties->find_code_or_description("new hanover"), "New Hanover");
  EXPECT_EQ(counties->find_code_or_description("37183"), "37183");
  const CodeSet* states = shipped_layout().code_set("state");
  ASSERT_NE(states, nullptr);
  for (const char* code : {"NC", "DC", "PR", "GU", "VI", "AS", "MP", "AA"})
    EXPECT_EQ(states->find_code(code), code);
  const CodeSet* routes = shipped_layout().code_set("route");
  for (const char* code : {"IM", "SC", "ID", "IN", "PO", "C28161", "C38299", "C38238", "C38284", "C38288"})
    EXPECT_EQ(routes->find_code(code), code);
}

TEST(Layout, MatchesCodesIgnoringCaseAndYieldsTheSetSpelling) {
  const CodeSet* statuses = shipped_layout().code_set("dose_status");
  ASSERT_NE(statuses, nullptr);
  EXPECT_EQ(statuses->find_code("dose one ADMINISTERED"), "Dose One Administered");
  EXPECT_EQ(statuses->find_code("Dose Nine Administered"), "");
}

// Writes a copy of the shipped layout with one line replaced, for the malformed-layout tests.
class MalformedLayout : public ::testing::Test {
 protected:
  std::string write_layout(const std::string& from, const std::string& to) {
    std::ifstream in(kDataDir + "/ncvr-v7.2.tsv");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    // One file per test and process: ctest runs these tests in parallel processes.
    const std::string path = ::testing::TempDir() + "/ncvr-malformed-layout-" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                             std::to_string(::getpid()) + ".tsv";
    std::ofstream(path) << text;
    return path;
  }

  std::string load_error(const std::string& layout_path) {
    LayoutFiles files = LayoutFiles::in_directory(kDataDir, "7.2");
    files.layout = layout_path;
    try {
      Layout::load(files);
    } catch (const LayoutError& error) {
      return error.what();
    }
    return "<loaded>";
  }
};

TEST_F(MalformedLayout, RefusesUnknownUsage) {
  const std::string error = load_error(write_layout("12\trecip_sex\tR\t", "12\trecip_sex\tX\t"));
  EXPECT_NE(error.find("unknown usage 'X'"), std::string::npos) << error;
  EXPECT_NE(error.find("recip_sex"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesUnknownType) {
  const std::string error = load_error(write_layout("\tR\tzip\t", "\tR\tpostcode\t"));
  EXPECT_NE(error.find("unknown type 'postcode'"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesPositionsOutOfOrder) {
  const std::string error = load_error(write_layout("12\trecip_sex", "13\trecip_sex"));
  EXPECT_NE(error.find("pos must be 12"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesUnknownCodeSet) {
  const std::string error = load_error(write_layout("\tsex\trecip_sex\t", "\tgender\trecip_sex\t"));
  EXPECT_NE(error.find("code_set 'gender'"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesNonNumericMaxLength) {
  const std::string error = load_error(write_layout("\tcode\t1\tsex", "\tcode\tone\tsex"));
  EXPECT_NE(error.find("max_len"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesUnknownCanonicalColumn) {
  const std::string error = load_error(write_layout("\tsex\trecip_sex\t", "\tsex\trecip_gender\t"));
  EXPECT_NE(error.find("canonical column 'recip_gender'"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesMissingColumn) {
  const std::string error = load_error(write_layout("\tcanonical\texpect\t", "\tcanonical\texpectation\t"));
  EXPECT_NE(error.find("lacks column 'expect'"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesMissingFile) {
  const std::string error = load_error(kDataDir + "/no-such-layout.tsv");
  EXPECT_NE(error.find("no-such-layout.tsv"), std::string::npos) << error;
}

TEST_F(MalformedLayout, RefusesMissingRuleParameter) {
  const std::string path = ::testing::TempDir() + "/ncvr-rules-missing.tsv";
  std::ofstream(path) << "parameter\tvalue\neua_date\t2020-12-11\n";
  LayoutFiles files = LayoutFiles::in_directory(kDataDir, "7.2");
  files.rule_parameters = path;
  try {
    Layout::load(files);
    FAIL() << "loaded rules without max_age_years";
  } catch (const LayoutError& error) {
    EXPECT_NE(std::string(error.what()).find("'max_age_years' is missing"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace vaxetl::ncvr
