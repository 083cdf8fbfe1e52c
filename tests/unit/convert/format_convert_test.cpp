// The NCVR -> CVRS / VXU converter that feeds the same vaccinations through every reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "format_convert.hpp"

namespace {

namespace fs = std::filesystem;
using vaxetl::convert::Format;

// One valid NCVR record (50 fields) with a county name, DECLINED ethnicity and a pipe-free
// but delimiter-rich street, so escaping and code mapping are exercised.
const char* kHeader =
    "vax_event_id|action_code|org_code|vtrcks_prov_pin|admin_name|recip_id|recip_first_name|recip_middle_name|"
    "recip_last_name|recip_suffix|recip_dob|recip_sex|recip_address_street|recip_address_street_2|"
    "recip_address_city|recip_address_county|recip_address_state|recip_address_zip|recip_phone|recip_email|"
    "recip_race_1|recip_race_2|recip_race_3|recip_race_4|recip_race_5|recip_race_6|recip_ethnicity|"
    "recip_language|guardian_name|admin_date|cvx|mvx|dose_status|ndc|lot_number|vax_expiration|"
    "vax_admin_site|vax_route|dose_volume_ml|vax_admin_provider_name|vax_admin_provider_npi|"
    "vis_edition_date|vis_given_date|inventory_source|vax_refusal|refusal_reason|cmorbid_status|serology|"
    "recip_priority_group|record_last_modified";
const char* kRecord =
    "EV1|A|ORG1|NCA123456|Clinic & Co|MRN1|Ann|B|O^Neil||1990-01-02|F|1 Main St~Apt||Raleigh|Wake|NC|27601|"
    "919-555-0100||2106-3||||||DECLINED|English||2021-03-04|208|PFR|Dose Two Administered|59267-1000-02|"
    "AB1234|2021-06|LD|IM|0.3|Jo Provider|1234567893|2021-01-01|2021-03-04|FEDERAL|NO||NO|UNK||";

class FormatConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("convert-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream(dir_ / "in.txt") << kHeader << "\n" << kRecord << "\n";
    std::ofstream(dir_ / "codes.tsv") << "set\tcode\tdescription\ncounty\t37183\tWake\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string convert(Format format) {
    vaxetl::convert::Options options;
    options.format = format;
    options.county_codes_path = (dir_ / "codes.tsv").string();
    std::FILE* out = std::fopen((dir_ / "out").c_str(), "wb");
    EXPECT_EQ(vaxetl::convert::convert_file((dir_ / "in.txt").string(), out, options), 1u);
    std::fclose(out);
    std::ifstream in(dir_ / "out");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

std::vector<std::string> split(const std::string& text, char delimiter) {
  std::vector<std::string> parts;
  std::string part;
  std::stringstream in(text);
  while (std::getline(in, part, delimiter)) parts.push_back(part);
  if (!text.empty() && text.back() == delimiter) parts.emplace_back();
  return parts;
}

TEST_F(FormatConvert, WritesCvrsV2RowsWithFipsCountySixCharacterPinAndPolForDeclined) {
  const auto lines = split(convert(Format::Cvrs), '\n');
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(split(lines[0], '\t').size(), 45u);
  const auto row = split(lines[1], '\t');
  ASSERT_EQ(row.size(), 45u);
  EXPECT_EQ(row[0], "EV1");
  EXPECT_EQ(row[1], "I");
  EXPECT_EQ(row[12], "37183");   // county name -> FIPS
  EXPECT_EQ(row[21], "POL");     // DECLINED ethnicity -> POL
  EXPECT_EQ(row[30], "2");       // dose_num from "Dose Two Administered"
  EXPECT_EQ(row[34], "123456");  // PIN without NCA
}

TEST_F(FormatConvert, WritesVxuWithFamilyNameFirstEscapedValuesAndOneOrderGroup) {
  const std::string text = convert(Format::Vxu);
  const auto segments = split(text, '\r');
  ASSERT_GE(segments.size(), 5u);
  EXPECT_EQ(segments[0].rfind("MSH|^~\\&|", 0), 0u);
  const auto pid = split(segments[1], '|');
  ASSERT_GT(pid.size(), 11u);
  EXPECT_EQ(pid[5], "O\\S\\Neil^Ann^B^^^^L");          // family first; ^ escaped
  EXPECT_EQ(pid[11].substr(0, 16), "1 Main St\\R\\Apt^");  // ~ escaped
  EXPECT_NE(text.find("ORC|RE||EV1^ORG1\r"), std::string::npos);
  EXPECT_NE(text.find("|208^^CVX^59267-1000-02^^NDC|"), std::string::npos);
  EXPECT_NE(text.find("Clinic \\T\\ Co&NCA123456"), std::string::npos);
  EXPECT_NE(text.find("ASKU^Asked but unknown^NullFlavor"), std::string::npos);
}

TEST(Hl7Escape, EscapesEveryDelimiter) {
  EXPECT_EQ(vaxetl::convert::hl7_escape("a|b^c~d\\e&f"), "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f");
}

}  // namespace
