#include <gtest/gtest.h>

#include <fstream>

#include "ncvr/record_validator.hpp"
#include "ncvr_test_support.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::ncvr {
namespace {

using testing::RecordBuilder;

class RecordValidatorTest : public testing::ValidatorFixture {};

// ---- the baseline and what it normalizes ---------------------------------------------------

TEST_F(RecordValidatorTest, AcceptsBaselineRecordWithoutFindings) {
  EXPECT_TRUE(validate(RecordBuilder())) << describe();
  EXPECT_TRUE(findings_.items().empty()) << describe();
  EXPECT_EQ(record_.get("recip_last_name"), "Doe");
  EXPECT_EQ(record_.get("ndc"), "59267-1000-02");
  EXPECT_EQ(record_.get("ndc_as_sent"), "59267-1000-02");
  EXPECT_EQ(record_.get("recip_suffix"), "");
  EXPECT_EQ(record_.get("recip_race_2"), "");
}

TEST_F(RecordValidatorTest, AcceptsRefusedDoseWithAdministrationFieldsEmpty) {
  EXPECT_TRUE(validate(RecordBuilder().refused())) << describe();
  EXPECT_TRUE(findings_.items().empty()) << describe();
  EXPECT_EQ(record_.get("ndc_as_sent"), "");
}

TEST_F(RecordValidatorTest, AcceptsEmptyRequiredIfKnownAndOptionalFields) {
  RecordBuilder builder;
  for (const char* name : {"recip_address_county", "recip_phone", "vax_admin_site", "vax_route",
                           "recip_middle_name", "recip_email", "vax_admin_provider_npi",
                           "record_last_modified", "dose_volume_ml"})
    builder.set(name, "");
  EXPECT_TRUE(validate(builder)) << describe();
}

TEST_F(RecordValidatorTest, UpperCasesCodesToTheCodeSetSpelling) {
  ASSERT_TRUE(validate(RecordBuilder()
                           .set("recip_sex", "f")
                           .set("recip_address_state", "nc")
                           .set("dose_status", "dose one administered")
                           .set("mvx", "pfr")
                           .set("inventory_source", "state")))
      << describe();
  EXPECT_EQ(record_.get("recip_sex"), "F");
  EXPECT_EQ(record_.get("recip_address_state"), "NC");
  EXPECT_EQ(record_.get("dose_status"), "Dose One Administered");
  EXPECT_EQ(record_.get("mvx"), "PFR");
  EXPECT_EQ(record_.get("inventory_source"), "STATE");
}

TEST_F(RecordValidatorTest, TrimsBlanksAroundValues) {
  ASSERT_TRUE(validate(RecordBuilder().set("recip_sex", " F ").set("recip_last_name", "  Doe"))) << describe();
  EXPECT_EQ(record_.get("recip_last_name"), "Doe");
  EXPECT_EQ(record_.get("recip_sex"), "F");
}

TEST_F(RecordValidatorTest, NormalizesSixCharacterPinToNcaPrefix) {
  ASSERT_TRUE(validate(RecordBuilder().set("vtrcks_prov_pin", "12ab56"))) << describe();
  EXPECT_EQ(record_.get("vtrcks_prov_pin"), "NCA12AB56");
}

TEST_F(RecordValidatorTest, NormalizesPhoneToTenDigits) {
  ASSERT_TRUE(validate(RecordBuilder().set("recip_phone", "(919) 555-0123"))) << describe();
  EXPECT_EQ(record_.get("recip_phone"), "9195550123");
}

TEST_F(RecordValidatorTest, NormalizesTenDigitNdcToElevenDigitsAndKeepsWhatWasSent) {
  ASSERT_TRUE(validate(RecordBuilder().set("cvx", "207").set("mvx", "MOD").set("ndc", "80777-273-99")))
      << describe();
  EXPECT_EQ(record_.get("ndc"), "80777-0273-99");
  EXPECT_EQ(record_.get("ndc_as_sent"), "80777-273-99");
}

TEST_F(RecordValidatorTest, NormalizesPlainElevenDigitNdc) {
  ASSERT_TRUE(validate(RecordBuilder().set("ndc", "59267100003"))) << describe();
  EXPECT_EQ(record_.get("ndc"), "59267-1000-03");
}

TEST_F(RecordValidatorTest, NormalizesNcCountyNameToItsFipsCode) {
  ASSERT_TRUE(validate(RecordBuilder().set("recip_address_county", "new hanover county"))) << describe();
  EXPECT_EQ(record_.get("recip_address_county"), "37129");
  ASSERT_TRUE(validate(RecordBuilder().set("recip_address_county", "37183"))) << describe();
  EXPECT_EQ(record_.get("recip_address_county"), "37183");
}

// ---- NCVR_FIELD_COUNT ----------------------------------------------------------------------

TEST_F(RecordValidatorTest, RejectsWrongFieldCountAndSkipsFieldChecks) {
  std::string line = RecordBuilder().set("recip_sex", "X").line();
  line.erase(line.rfind('|'));  // 49 fields, and an invalid sex that must not be reported
  EXPECT_FALSE(validate(line));
  expect_only("NCVR_FIELD_COUNT", 0);
  const std::string& message = findings_.items().front().message;
  EXPECT_NE(message.find("49"), std::string::npos) << message;
  EXPECT_NE(message.find("50"), std::string::npos) << message;
}

TEST_F(RecordValidatorTest, RejectsPipeInsideValueAsFieldCount) {
  EXPECT_FALSE(validate(RecordBuilder().set("admin_name", "Acme | Raleigh")));
  expect_only("NCVR_FIELD_COUNT", 0);
}

// ---- NCVR_REQUIRED / NCVR_CONDITIONAL / NCVR_REFUSAL_FIELDS --------------------------------

TEST_F(RecordValidatorTest, RejectsEmptyRequiredField) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_last_name", "")));
  expect_only("NCVR_REQUIRED", 9);
  EXPECT_FALSE(validate(RecordBuilder().set("recip_last_name", "   ")));
  expect_only("NCVR_REQUIRED", 9);
}

TEST_F(RecordValidatorTest, RejectsAdministeredDoseWithoutNdc) {
  EXPECT_FALSE(validate(RecordBuilder().set("ndc", "")));
  expect_only("NCVR_REQUIRED", 34);
}

TEST_F(RecordValidatorTest, RejectsRefusedDoseWithoutRefusalReason) {
  EXPECT_FALSE(validate(RecordBuilder().refused().set("refusal_reason", "")));
  expect_only("NCVR_CONDITIONAL", 46);
}

TEST_F(RecordValidatorTest, RejectsRefusedDoseWithLotNumber) {
  EXPECT_FALSE(validate(RecordBuilder().refused().set("lot_number", "EN6201")));
  expect_only("NCVR_REFUSAL_FIELDS", 35);
}

TEST_F(RecordValidatorTest, RejectsRefusedDoseWithVisGivenDate) {
  EXPECT_FALSE(validate(RecordBuilder().refused().set("vis_given_date", "2021-03-15")));
  expect_only("NCVR_REFUSAL_FIELDS", 43);
}

TEST_F(RecordValidatorTest, RejectsRefusedDoseNotMarkedNotAdministered) {
  EXPECT_FALSE(validate(RecordBuilder().refused().set("dose_status", "Dose One Administered")));
  expect_only("NCVR_REFUSAL_FIELDS", 33);
}

TEST_F(RecordValidatorTest, AcceptsRefusedJanssenDoseAsNotAdministered) {
  EXPECT_TRUE(validate(RecordBuilder().refused().set("cvx", "212").set("mvx", "JSN"))) << describe();
}

// ---- NCVR_TOO_LONG -------------------------------------------------------------------------

TEST_F(RecordValidatorTest, RejectsValueLongerThanMaxLength) {
  EXPECT_TRUE(validate(RecordBuilder().set("recip_first_name", std::string(50, 'A')))) << describe();
  EXPECT_FALSE(validate(RecordBuilder().set("recip_first_name", std::string(51, 'A'))));
  expect_only("NCVR_TOO_LONG", 7);
}

TEST_F(RecordValidatorTest, CountsMaxLengthInCharactersNotBytes) {
  std::string accented;
  for (int i = 0; i < 50; ++i) accented += "\xC3\xA9";  // é, two bytes
  EXPECT_TRUE(validate(RecordBuilder().set("recip_first_name", accented))) << describe();
}

// ---- NCVR_FORMAT ---------------------------------------------------------------------------

struct BadValue {
  const char* field;
  const char* value;
  std::size_t position;
};

class RejectsMalformedValue : public testing::ValidatorFixture,
                              public ::testing::WithParamInterface<BadValue> {};

TEST_P(RejectsMalformedValue, AsFormatAtItsPosition) {
  const BadValue& bad = GetParam();
  EXPECT_FALSE(validate(RecordBuilder().set(bad.field, bad.value)));
  expect_only("NCVR_FORMAT", bad.position);
}

INSTANTIATE_TEST_SUITE_P(
    NcvrFormat, RejectsMalformedValue,
    ::testing::Values(BadValue{"vax_event_id", "EVT 0001", 1}, BadValue{"org_code", "acme", 3},
                      BadValue{"vtrcks_prov_pin", "NCB123456", 4}, BadValue{"recip_id", "MRN 1", 6},
                      BadValue{"recip_first_name", "Ja\tne", 7}, BadValue{"recip_first_name", "Jan\xFF", 7},
                      BadValue{"recip_last_name", "Do\x01e", 9}, BadValue{"recip_dob", "1980-02-30", 11},
                      BadValue{"recip_dob", "05/17/1980", 11}, BadValue{"recip_address_zip", "2760", 18},
                      BadValue{"recip_phone", "555-0123", 19}, BadValue{"recip_phone", "019-555-0123", 19},
                      BadValue{"recip_email", "jane.example.org", 20}, BadValue{"admin_date", "2021-3-15", 30},
                      BadValue{"ndc", "5926710002", 34}, BadValue{"ndc", "59267-1000", 34},
                      BadValue{"lot_number", "EN 6201", 35}, BadValue{"lot_number", "EN_6201", 35},
                      BadValue{"vax_expiration", "06/2021", 36}, BadValue{"dose_volume_ml", "0.3mL", 39},
                      BadValue{"vax_admin_provider_npi", "123456789", 41},
                      BadValue{"vis_edition_date", "2020-12-32", 42},
                      BadValue{"record_last_modified", "2021-03-15 10:20:30", 50}),
    // Named by field and index, so ctest's names stay the same from build to build.
    [](const ::testing::TestParamInfo<BadValue>& info) {
      return std::string(info.param.field) + "_" + std::to_string(info.index);
    });

TEST_F(RecordValidatorTest, FlagsCarriageReturnLeftInTheRecord) {
  // Line ends are the reader's job; a CR that reaches the validator is a control character.
  EXPECT_FALSE(validate(RecordBuilder().line() + "\r"));
  expect_only("NCVR_FORMAT", 50);
}

TEST_F(RecordValidatorTest, ValidatesCrlfFileReadThroughLineReader) {
  const std::string path = ::testing::TempDir() + "/ncvr-crlf.txt";
  {
    std::ofstream file(path, std::ios::binary);
    file << RecordBuilder().line() << "\r\n" << RecordBuilder().set("recip_sex", "M").line() << "\r\n";
  }
  sdk::LineReader reader(path);
  std::string_view line;
  int records = 0;
  while (reader.next(line)) {
    ++records;
    EXPECT_TRUE(reader.last_line_had_cr());
    EXPECT_TRUE(validate(std::string(line))) << describe();
  }
  EXPECT_EQ(records, 2);
}

// ---- NCVR_CODE -----------------------------------------------------------------------------

TEST_F(RecordValidatorTest, RejectsValueOutsideCodeSet) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_sex", "X")));
  expect_only("NCVR_CODE", 12);
  EXPECT_FALSE(validate(RecordBuilder().set("recip_address_state", "ZZ")));
  expect_only("NCVR_CODE", 17);
  EXPECT_FALSE(validate(RecordBuilder().set("cvx", "140")));  // influenza, not COVID-19
  expect_only("NCVR_CODE", 31);
  EXPECT_FALSE(validate(RecordBuilder().set("dose_status", "Dose Three Administered")));
  expect_only("NCVR_CODE", 33);
  EXPECT_FALSE(validate(RecordBuilder().set("vax_route", "IV")));
  expect_only("NCVR_CODE", 38);
  EXPECT_FALSE(validate(RecordBuilder().set("vax_refusal", "Y")));
  expect_only("NCVR_CODE", 45);
}

TEST_F(RecordValidatorTest, RejectsUnknownAsAdditionalRace) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_race_2", "UNK")));
  expect_only("NCVR_CODE", 22);
}

TEST_F(RecordValidatorTest, AcceptsNcitRouteAndAdditionalRaces) {
  EXPECT_TRUE(validate(RecordBuilder().set("vax_route", "C28161").set("recip_race_2", "2054-5")))
      << describe();
}

// ---- dates ---------------------------------------------------------------------------------

TEST_F(RecordValidatorTest, RejectsBirthDateInTheFuture) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_dob", "2030-01-01")));
  expect_only("NCVR_DATE_FUTURE", 11);
}

TEST_F(RecordValidatorTest, RejectsAdminDateInTheFuture) {
  EXPECT_FALSE(validate(RecordBuilder().set("admin_date", "2021-06-02").set("vis_given_date", "")));
  expect_only("NCVR_DATE_FUTURE", 30);
  EXPECT_TRUE(validate(RecordBuilder().set("admin_date", "2021-06-01"))) << describe();
}

TEST_F(RecordValidatorTest, RejectsBirthDateAfterAdminDate) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_dob", "2021-03-16")));
  expect_only("NCVR_DATE_ORDER", 11);
}

TEST_F(RecordValidatorTest, AcceptsBirthDateEqualToAdminDate) {
  EXPECT_TRUE(validate(RecordBuilder().set("recip_dob", "2021-03-15"))) << describe();
}

TEST_F(RecordValidatorTest, AcceptsRecipientAgedExactly120) {
  EXPECT_TRUE(validate(RecordBuilder().set("recip_dob", "1901-03-15"))) << describe();
  EXPECT_TRUE(validate(RecordBuilder().set("recip_dob", "1900-03-16"))) << describe();  // 121 tomorrow
}

TEST_F(RecordValidatorTest, RejectsRecipientOlderThan120) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_dob", "1900-03-15")));
  expect_only("NCVR_AGE", 11);
}

TEST_F(RecordValidatorTest, RejectsAdminDateBeforeFirstEua) {
  EXPECT_FALSE(validate(RecordBuilder().set("admin_date", "2020-12-10")));
  expect_only("NCVR_ADMIN_BEFORE_EUA", 30);
  EXPECT_NE(findings_.items().front().message.find("2020-12-11"), std::string::npos);
  EXPECT_TRUE(validate(RecordBuilder().set("admin_date", "2020-12-11"))) << describe();
}

TEST_F(RecordValidatorTest, WarnsWhenDoseGivenAfterLotExpired) {
  EXPECT_TRUE(validate(RecordBuilder().set("vax_expiration", "2021-03-14")));
  expect_only("NCVR_EXPIRED_LOT", 36, Severity::kWarning);
}

TEST_F(RecordValidatorTest, ReadsMonthOnlyExpiryAsTheEndOfThatMonth) {
  EXPECT_TRUE(validate(RecordBuilder().set("vax_expiration", "2021-03"))) << describe();
  EXPECT_TRUE(findings_.items().empty()) << describe();
  EXPECT_TRUE(validate(RecordBuilder().set("vax_expiration", "2021-02")));
  expect_only("NCVR_EXPIRED_LOT", 36, Severity::kWarning);
}

// ---- products ------------------------------------------------------------------------------

TEST_F(RecordValidatorTest, RejectsManufacturerThatDoesNotMakeTheCvx) {
  EXPECT_FALSE(validate(RecordBuilder().set("mvx", "MOD")));
  expect_only("NCVR_MVX_CVX", 32);
  EXPECT_NE(findings_.items().front().message.find("PFR"), std::string::npos);
}

TEST_F(RecordValidatorTest, RejectsJanssenDoseOtherThanDoseOne) {
  RecordBuilder janssen;
  janssen.set("cvx", "212").set("mvx", "JSN").set("ndc", "59676-0580-15");
  EXPECT_TRUE(validate(janssen)) << describe();
  EXPECT_FALSE(validate(janssen.set("dose_status", "Booster Dose Administered")));
  expect_only("NCVR_JANSSEN_DOSE", 33);
}

TEST_F(RecordValidatorTest, RejectsNdcThatIsNoCovidProduct) {
  EXPECT_FALSE(validate(RecordBuilder().set("ndc", "49281-0400-10")));
  expect_only("NCVR_NDC_CVX", 34);
}

TEST_F(RecordValidatorTest, RejectsNdcOfAnotherCvx) {
  EXPECT_FALSE(validate(RecordBuilder().set("ndc", "80777-0273-99")));
  expect_only("NCVR_NDC_CVX", 34);
  EXPECT_NE(findings_.items().front().message.find("59267-1000-02"), std::string::npos);
}

TEST_F(RecordValidatorTest, MapsUnitOfUseNdcToUnitOfSaleWithWarning) {
  EXPECT_TRUE(validate(RecordBuilder().set("ndc", "59267-1000-01")));
  expect_only("NCVR_NDC_UNIT_OF_USE", 34, Severity::kWarning);
  EXPECT_EQ(record_.get("ndc"), "59267-1000-02");
  EXPECT_EQ(record_.get("ndc_as_sent"), "59267-1000-01");
}

TEST_F(RecordValidatorTest, MapsTenDigitUnitOfUseNdc) {
  EXPECT_TRUE(validate(RecordBuilder().set("cvx", "212").set("mvx", "JSN").set("ndc", "59676-0580-5")));
  expect_only("NCVR_NDC_UNIT_OF_USE", 34, Severity::kWarning);
  EXPECT_EQ(record_.get("ndc"), "59676-0580-15");
  EXPECT_EQ(record_.get("ndc_as_sent"), "59676-0580-5");
}

TEST_F(RecordValidatorTest, RejectsUnitOfUseNdcWhenConfiguredAsError) {
  ValidatorOptions strict;
  strict.unit_of_use_is_error = true;
  EXPECT_FALSE(validate(RecordBuilder().set("ndc", "59267-1000-01"), strict));
  expect_only("NCVR_NDC_UNIT_OF_USE", 34, Severity::kError);
}

// ---- race, county, NPI ---------------------------------------------------------------------

TEST_F(RecordValidatorTest, RejectsAdditionalRaceWhenFirstIsUnknownOrDeclined) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_race_1", "UNK").set("recip_race_2", "2028-9")));
  expect_only("NCVR_RACE_EXTRA", 22);
  EXPECT_FALSE(validate(RecordBuilder().set("recip_race_1", "declined").set("recip_race_4", "2028-9")));
  expect_only("NCVR_RACE_EXTRA", 24);
  EXPECT_TRUE(validate(RecordBuilder().set("recip_race_1", "DECLINED"))) << describe();
}

TEST_F(RecordValidatorTest, RejectsNcAddressWithCountyOutsideNc) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_address_county", "Fairfax")));
  expect_only("NCVR_COUNTY_STATE", 16);
  EXPECT_FALSE(validate(RecordBuilder().set("recip_address_county", "51059")));
  expect_only("NCVR_COUNTY_STATE", 16);
}

TEST_F(RecordValidatorTest, RejectsNcCountyFipsWithAnotherState) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_address_state", "VA").set("recip_address_county", "37183")));
  expect_only("NCVR_COUNTY_STATE", 16);
}

TEST_F(RecordValidatorTest, AcceptsCountyNameSharedWithAnotherState) {
  // Union County exists in NC and in SC: a name alone cannot prove a mismatch.
  EXPECT_TRUE(validate(RecordBuilder().set("recip_address_state", "SC").set("recip_address_county", "Union")))
      << describe();
}

TEST_F(RecordValidatorTest, RejectsNpiFailingCheckDigit) {
  EXPECT_FALSE(validate(RecordBuilder().set("vax_admin_provider_npi", "1234567890")));
  expect_only("NCVR_NPI_CHECK", 41);
}

// ---- several findings, messages ------------------------------------------------------------

TEST_F(RecordValidatorTest, ReportsEveryFindingOfARecord) {
  EXPECT_FALSE(validate(RecordBuilder()
                            .set("recip_sex", "X")
                            .set("recip_address_zip", "ABCDE")
                            .set("mvx", "MOD")
                            .set("ndc", "59267-1000-01")
                            .set("recip_first_name", "")));
  ASSERT_EQ(findings_.items().size(), 5u) << describe();
  const std::pair<std::size_t, std::string_view> expected[] = {
      {7, "NCVR_REQUIRED"}, {12, "NCVR_CODE"}, {18, "NCVR_FORMAT"}, {32, "NCVR_MVX_CVX"}, {34, "NCVR_NDC_UNIT_OF_USE"}};
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    EXPECT_EQ(findings_.items()[i].position, expected[i].first) << describe();
    EXPECT_EQ(findings_.items()[i].code, expected[i].second) << describe();
  }
}

TEST_F(RecordValidatorTest, NamesTheFieldInEveryFinding) {
  EXPECT_FALSE(validate(RecordBuilder().set("recip_sex", "X")));
  ASSERT_EQ(findings_.items().size(), 1u);
  EXPECT_EQ(findings_.items().front().field_name, "recip_sex");
  EXPECT_NE(findings_.items().front().message.find("M, F or U"), std::string::npos);
}

TEST_F(RecordValidatorTest, NeverPutsTheValueInAMessage) {
  const std::string distinctive = "ZQXJV";
  const std::string long_value = distinctive + std::string(60, 'Q');
  const RecordBuilder bad_records[] = {
      RecordBuilder().set("recip_first_name", long_value),
      RecordBuilder().set("recip_last_name", distinctive + "\x01"),
      RecordBuilder().set("recip_dob", distinctive),
      RecordBuilder().set("recip_sex", distinctive),
      RecordBuilder().set("recip_address_zip", distinctive),
      RecordBuilder().set("recip_email", distinctive),
      RecordBuilder().set("recip_phone", distinctive),
      RecordBuilder().set("vax_event_id", distinctive + " 1"),
      RecordBuilder().set("recip_address_county", distinctive),
      RecordBuilder().set("lot_number", distinctive + "_1"),
      RecordBuilder().set("vtrcks_prov_pin", distinctive),
      RecordBuilder().set("ndc", distinctive),
      RecordBuilder().set("mvx", "MOD"),
      RecordBuilder().set("ndc", "80777-0273-99"),
      RecordBuilder().set("recip_dob", "1890-01-01"),
      RecordBuilder().refused().set("lot_number", distinctive),
  };
  std::size_t messages = 0;
  for (const RecordBuilder& record : bad_records) {
    validate(record);
    ASSERT_FALSE(findings_.items().empty()) << record.line();
    for (const auto& finding : findings_.items()) {
      ++messages;
      EXPECT_EQ(finding.message.find(distinctive), std::string::npos) << finding.message;
      EXPECT_EQ(finding.message.find("MOD"), std::string::npos) << finding.message;
      EXPECT_EQ(finding.message.find("80777-0273-99"), std::string::npos) << finding.message;
      EXPECT_EQ(finding.message.find("1890"), std::string::npos) << finding.message;
    }
  }
  EXPECT_GE(messages, std::size(bad_records));
}

TEST_F(RecordValidatorTest, ReusesOneNormalizedRecordAcrossRecords) {
  RecordValidator validator(testing::shipped_layout(), testing::shipped_catalog(), testing::kToday);
  const std::string first = RecordBuilder().set("recip_phone", "(919) 555-0123").line();
  const std::string second = RecordBuilder().set("recip_phone", "").line();
  ASSERT_TRUE(validator.validate(first, record_, findings_));
  EXPECT_EQ(record_.get("recip_phone"), "9195550123");
  ASSERT_TRUE(validator.validate(second, record_, findings_));
  EXPECT_EQ(record_.get("recip_phone"), "");
}

TEST_F(RecordValidatorTest, RefusesLayoutAndCatalogThatDisagree) {
  const std::string path = ::testing::TempDir() + "/ncvr-products-short.tsv";
  std::ofstream(path) << "cvx\tmvx\tproduct\tndc_unit_of_sale\tndc_unit_of_use\tdoses_per_vial\tnote\n"
                      << "208\tPFR\tA\t59267-1000-02\t59267-1000-01\t5\t\n";
  const ProductCatalog partial = ProductCatalog::load(path);
  EXPECT_THROW(RecordValidator(testing::shipped_layout(), partial, testing::kToday), LayoutError);
}

}  // namespace
}  // namespace vaxetl::ncvr
