// The shipped data files load, agree with the CDC header lines, and header detection picks the
// right version or names the right refusal code.
#include <fstream>
#include <string>

#include "cvrs_test_support.hpp"

namespace vaxetl::cvrs::testing {
namespace {

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

TEST(CvrsModel, ShipsV2With45FieldsAndV1With47) {
  const Model& model = shipped_model();
  EXPECT_EQ(model.layout("2").fields().size(), 45u);
  EXPECT_EQ(model.layout("1").fields().size(), 47u);
  EXPECT_EQ(model.layout("2").fields().front().name, "vax_event_id");
  EXPECT_EQ(model.layout("2").fields().back().name, "serology");
  EXPECT_EQ(model.layout("1").find("vax_prov_suffix")->canonical_index, FieldSpec::kNoColumn);
}

TEST(CvrsModel, LayoutMatchesTheMachineReadableSpecification) {
  // The CDC spec CSV lists each v2 variable as "<number>,<element>,<variable>,...".
  std::ifstream in(kSamples + "CVRS_v2_spec_with_HL7_mapping.csv");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  for (const auto& field : shipped_model().layout("2").fields())
    EXPECT_NE(text.find("," + field.name + ","), std::string::npos) << field.name;
}

TEST(CvrsModel, StatesKnowFipsAndZip3) {
  const Model& model = shipped_model();
  EXPECT_EQ(model.state_of_fips(37), "NC");
  EXPECT_EQ(model.state_of_fips(26), "MI");
  EXPECT_EQ(model.state_of_zip3(276), "NC");
  EXPECT_EQ(model.state_of_zip3(290), "SC");
  EXPECT_EQ(model.state_of_zip3(90), "");
  EXPECT_EQ(model.state("nc")->fips, 37);
}

TEST(CvrsModel, BrokenDataFilesAreRefusedWithTheFileNamed) {
  EXPECT_THROW(Model("/nonexistent", kProducts), LayoutError);
}

TEST(CvrsHeader, PicksV2AndV1ByTheirNames) {
  const Model& model = shipped_model();
  auto result = detect_layout(model, first_line_of(kSamples + "testgood.txt"));
  ASSERT_NE(result.layout, nullptr);
  EXPECT_EQ(result.layout->version(), "2");
  result = detect_layout(model, first_line_of(kSamples + "testgoodv1.txt"));
  ASSERT_NE(result.layout, nullptr);
  EXPECT_EQ(result.layout->version(), "1");
}

TEST(CvrsHeader, NamesAreCaseInsensitiveAndABomIsAccepted) {
  std::string upper = first_line_of(kSamples + "testgood.txt");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_NE(detect_layout(shipped_model(), upper).layout, nullptr);
  EXPECT_NE(detect_layout(shipped_model(), "\xEF\xBB\xBF" + upper).layout, nullptr);
}

TEST(CvrsHeader, MissingNamesAreRefusedNamingThem) {
  const auto result = detect_layout(shipped_model(), first_line_of(kSamples + "testMissingHeaders.txt"));
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, codes::kHeaderMissing);
  EXPECT_NE(result.error->message.find("recip_race_2"), std::string::npos) << result.error->message;
  EXPECT_NE(result.error->message.find("recip_race_6"), std::string::npos);
}

TEST(CvrsHeader, NotACvrsFile) {
  auto result = detect_layout(shipped_model(), first_line_of(kSamples + "notacvrs.txt"));
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, codes::kNotCvrs);
  result = detect_layout(shipped_model(), std::nullopt);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, codes::kFileEmpty);
}

TEST(CvrsHeader, WrongDelimiterUnknownNameAndOrder) {
  std::string line = first_line_of(kSamples + "testgood.txt");
  std::string piped = line;
  for (char& c : piped) c = c == '\t' ? '|' : c;
  auto result = detect_layout(shipped_model(), piped);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, codes::kDelimiter);

  result = detect_layout(shipped_model(), line + "\tshoe_size");
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, codes::kHeaderUnknown);

  std::string swapped = line;
  swapped.replace(swapped.find("ext_type"), 8, "XXXXXXXX");
  swapped.replace(swapped.find("recip_id"), 8, "ext_type");
  swapped.replace(swapped.find("XXXXXXXX"), 8, "recip_id");
  result = detect_layout(shipped_model(), swapped);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, codes::kHeaderOrder);
  EXPECT_NE(result.error->message.find("position 2"), std::string::npos) << result.error->message;
}

}  // namespace
}  // namespace vaxetl::cvrs::testing
