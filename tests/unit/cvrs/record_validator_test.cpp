// One test per rule: each sends the baseline with one change and expects the rule's code, so a
// broken rule fails its test.
#include <string>

#include "cvrs_test_support.hpp"

namespace vaxetl::cvrs::testing {
namespace {

class CvrsRecordValidatorTest : public ::testing::Test {
 protected:
  CvrsRecordValidatorTest() : validator_(shipped_model(), kToday, test_options()) {}

  Result run(const std::string& line) {
    line_ = line;  // the record's views point into the line
    if (one_file_per_record_) validator_.start_file(shipped_model().layout("2"));
    Result result;
    result.outcome = validator_.validate(line_, record_, result.findings);
    result.hold_code = std::string(validator_.hold_code());
    return result;
  }
  Result run(const RecordBuilder& builder) { return run(builder.line()); }

  RecordValidator validator_;
  bool one_file_per_record_ = true;  // so reusing the baseline's event id is no duplicate
  NormalizedRecord record_;
  std::string line_;
};

TEST_F(CvrsRecordValidatorTest, BaselineIsAcceptedAndMappedToCanonical) {
  const auto result = run(RecordBuilder());
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
  EXPECT_TRUE(result.findings.items().empty()) << result.codes();
  EXPECT_EQ(record_.get("vax_event_id"), "EVT-0001");
  EXPECT_EQ(record_.get("action_code"), "A");
  EXPECT_EQ(record_.get("org_code"), "TESTORG");
  EXPECT_EQ(record_.get("vtrcks_prov_pin"), "NCA123456");
  EXPECT_EQ(record_.get("recip_first_name"), "Jane");
  EXPECT_EQ(record_.get("recip_last_name"), "Doe");
  EXPECT_EQ(record_.get("inventory_source"), "FEDERAL");
  EXPECT_EQ(record_.get("dose_status"), "Dose One Administered");
  EXPECT_EQ(record_.get("ndc"), "59267-1000-02");
  EXPECT_EQ(record_.get("ndc_as_sent"), "59267-1000-02");
  EXPECT_EQ(record_.get("admin_type"), "17");
  EXPECT_EQ(record_.get("admin_address_state"), "NC");
  EXPECT_EQ(record_.get("recip_suffix"), "");
}

TEST_F(CvrsRecordValidatorTest, CodesTakeTheirSetsSpellingAndPolBecomesDeclined) {
  const auto result = run(RecordBuilder().set("recip_race_1", "pol").set("recip_ethnicity", "POL")
                              .set("vax_series_complete", "no").set("ext_type", "i").set("recip_sex", "f"));
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
  EXPECT_EQ(record_.get("recip_race_1"), "DECLINED");
  EXPECT_EQ(record_.get("recip_ethnicity"), "DECLINED");
  EXPECT_EQ(record_.get("vax_series_complete"), "NO");
  EXPECT_EQ(record_.get("ext_type"), "I");
  EXPECT_EQ(record_.get("recip_sex"), "F");
}

TEST_F(CvrsRecordValidatorTest, DoseStatusDerivesFromDoseNumAndRefusal) {
  run(RecordBuilder().set("dose_num", "2"));
  EXPECT_EQ(record_.get("dose_status"), "Dose Two Administered");
  run(RecordBuilder().set("dose_num", "4"));
  EXPECT_EQ(record_.get("dose_status"), "Additional Dose Administered");
  run(RecordBuilder().set("dose_num", "UNK"));
  EXPECT_EQ(record_.get("dose_status"), "");
  const auto refused = run(RecordBuilder().refused());
  EXPECT_EQ(refused.outcome, Outcome::kAccepted) << refused.codes();
  EXPECT_EQ(record_.get("dose_status"), "Not Administered");
  EXPECT_EQ(record_.get("vax_refusal"), "YES");
}

TEST_F(CvrsRecordValidatorTest, FieldCount) {
  const auto result = run(RecordBuilder().line() + "\textra");
  EXPECT_EQ(result.outcome, Outcome::kRejected);
  EXPECT_TRUE(result.has(codes::kFieldCount));
}

TEST_F(CvrsRecordValidatorTest, Required) {
  const auto result = run(RecordBuilder().set("recip_dob", ""));
  EXPECT_EQ(result.outcome, Outcome::kRejected);
  EXPECT_TRUE(result.has(codes::kRequired)) << result.codes();
  // dose_num is required on a vaccination but not on a refusal.
  EXPECT_TRUE(run(RecordBuilder().set("dose_num", "")).has(codes::kRequired));
  EXPECT_FALSE(run(RecordBuilder().refused()).has(codes::kRequired));
  // cvx stays required on a refusal.
  EXPECT_TRUE(run(RecordBuilder().refused().set("cvx", "")).has(codes::kRequired));
}

TEST_F(CvrsRecordValidatorTest, RefusalFields) {
  const auto result = run(RecordBuilder().refused().set("lot_number", "EN6201"));
  EXPECT_EQ(result.outcome, Outcome::kRejected);
  EXPECT_TRUE(result.has(codes::kRefusalFields)) << result.codes();
  EXPECT_FALSE(run(RecordBuilder().set("lot_number", "EN6201")).has(codes::kRefusalFields));
}

TEST_F(CvrsRecordValidatorTest, TooLong) {
  EXPECT_TRUE(run(RecordBuilder().set("admin_name", std::string(256, 'a'))).has(codes::kTooLong));
  EXPECT_FALSE(run(RecordBuilder().set("admin_name", std::string(255, 'a'))).has(codes::kTooLong));
  // Characters, not bytes: 255 two-byte characters fit.
  std::string accented;
  for (int i = 0; i < 255; ++i) accented += "\xC3\xA9";
  EXPECT_FALSE(run(RecordBuilder().set("admin_name", accented)).has(codes::kTooLong));
}

TEST_F(CvrsRecordValidatorTest, Encoding) {
  EXPECT_TRUE(run(RecordBuilder().set("admin_name", "Acme\xFF")).has(codes::kEncoding));
  EXPECT_TRUE(run(RecordBuilder().set("admin_name", "Acme\x01")).has(codes::kEncoding));
}

TEST_F(CvrsRecordValidatorTest, Format) {
  EXPECT_TRUE(run(RecordBuilder().set("vax_event_id", "EVT 1")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("recip_dob", "05/17/1980")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("admin_date", "2021-02-30")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("vax_expiration", "2021/06")).has(codes::kFormat));
  EXPECT_FALSE(run(RecordBuilder().set("vax_expiration", "2021-06")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("recip_address_zip", "2760")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("recip_address_county", "Wake")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("recip_address_county", "99183")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("vtrcks_prov_pin", "12345")).has(codes::kFormat));
  EXPECT_TRUE(run(RecordBuilder().set("ndc", "5926710002")).has(codes::kFormat));
}

TEST_F(CvrsRecordValidatorTest, Code) {
  EXPECT_TRUE(run(RecordBuilder().set("ext_type", "X")).has(codes::kCode));
  EXPECT_TRUE(run(RecordBuilder().set("recip_sex", "X")).has(codes::kCode));
  EXPECT_TRUE(run(RecordBuilder().set("recip_race_2", "ASIAN")).has(codes::kCode));
  EXPECT_TRUE(run(RecordBuilder().set("admin_type", "29")).has(codes::kCode));
  EXPECT_TRUE(run(RecordBuilder().set("admin_type", "PH")).has(codes::kCode)) << "a v1 site type in a v2 file";
  EXPECT_TRUE(run(RecordBuilder().set("dose_num", "7")).has(codes::kCode));
  EXPECT_TRUE(run(RecordBuilder().set("recip_address_state", "XX")).has(codes::kCode));
  EXPECT_TRUE(run(RecordBuilder().set("cvx", "03")).has(codes::kCode));
  EXPECT_FALSE(run(RecordBuilder().set("admin_type", "UNK")).has(codes::kCode));
}

TEST_F(CvrsRecordValidatorTest, RedactedModelNeedsTheRedactedWord) {
  const auto ok = run(RecordBuilder().redacted());
  EXPECT_EQ(ok.outcome, Outcome::kAccepted) << ok.codes();
  EXPECT_EQ(record_.get("recip_first_name"), "") << "Redacted becomes null";
  EXPECT_EQ(record_.get("recip_address_city"), "");
  EXPECT_TRUE(run(RecordBuilder().redacted().set("recip_last_name", "Doe")).has(codes::kRedacted));
  EXPECT_TRUE(run(RecordBuilder().redacted().set("recip_address_street_2", "")).has(codes::kRedacted));
  EXPECT_TRUE(run(RecordBuilder().redacted("P").set("pprl_id", "abc").set("recip_first_name", "Jane")).has(codes::kRedacted));
  // The identified model allows both the values and the word.
  const auto identified = run(RecordBuilder().set("recip_first_name", "Redacted"));
  EXPECT_FALSE(identified.has(codes::kRedacted));
  EXPECT_EQ(record_.get("recip_first_name"), "");
}

TEST_F(CvrsRecordValidatorTest, PprlId) {
  const auto pprl = run(RecordBuilder().redacted("P").set("pprl_id", "h4sh"));
  EXPECT_EQ(pprl.outcome, Outcome::kAccepted) << pprl.codes();
  EXPECT_EQ(record_.get("pprl_id"), "h4sh");
  EXPECT_TRUE(run(RecordBuilder().redacted("P")).has(codes::kPprlId));
  EXPECT_TRUE(run(RecordBuilder().set("pprl_id", "h4sh")).has(codes::kPprlId));
  EXPECT_TRUE(run(RecordBuilder().redacted("D").set("pprl_id", "h4sh")).has(codes::kPprlId));
}

TEST_F(CvrsRecordValidatorTest, CountyState) {
  EXPECT_TRUE(run(RecordBuilder().set("recip_address_county", "45045")).has(codes::kCountyState));
  EXPECT_TRUE(run(RecordBuilder().set("admin_address_county", "26081")).has(codes::kCountyState));
}

TEST_F(CvrsRecordValidatorTest, ZipStateIsAWarning) {
  const auto result = run(RecordBuilder().set("recip_address_zip", "29601"));
  EXPECT_TRUE(result.has(codes::kZipState, Severity::kWarning)) << result.codes();
  EXPECT_EQ(result.outcome, Outcome::kAccepted);
  EXPECT_TRUE(run(RecordBuilder().set("admin_address_zip", "49504-1234")).has(codes::kZipState));
  // Military ZIP3s are not in the table: no check.
  EXPECT_FALSE(run(RecordBuilder().set("recip_address_zip", "09001")).has(codes::kZipState));
}

TEST_F(CvrsRecordValidatorTest, DateFuture) {
  EXPECT_TRUE(run(RecordBuilder().set("admin_date", "2021-06-02")).has(codes::kDateFuture));
  EXPECT_TRUE(run(RecordBuilder().set("recip_dob", "2021-06-02")).has(codes::kDateFuture));
  EXPECT_FALSE(run(RecordBuilder().set("admin_date", "2021-06-01")).has(codes::kDateFuture));
}

TEST_F(CvrsRecordValidatorTest, DateOrder) {
  EXPECT_TRUE(run(RecordBuilder().set("recip_dob", "2021-03-15")).has(codes::kDateOrder));
  EXPECT_TRUE(run(RecordBuilder().set("recip_dob", "2021-04-01")).has(codes::kDateOrder));
  EXPECT_FALSE(run(RecordBuilder().set("recip_dob", "2021-03-14")).has(codes::kDateOrder));
}

TEST_F(CvrsRecordValidatorTest, DuplicateEventIdWithinAFile) {
  one_file_per_record_ = false;
  EXPECT_EQ(run(RecordBuilder()).outcome, Outcome::kAccepted);
  EXPECT_EQ(run(RecordBuilder().set("vax_event_id", "EVT-0002")).outcome, Outcome::kAccepted);
  const auto again = run(RecordBuilder());
  EXPECT_TRUE(again.has(codes::kDuplicateEvent));
  EXPECT_EQ(again.outcome, Outcome::kRejected);
  // A new file starts afresh.
  validator_.start_file(shipped_model().layout("2"));
  EXPECT_FALSE(run(RecordBuilder()).has(codes::kDuplicateEvent));
}

TEST_F(CvrsRecordValidatorTest, TooManyRecordsWarnsOnce) {
  one_file_per_record_ = false;
  const std::size_t limit = shipped_model().rules().max_records;
  RecordBuilder builder;
  int warnings = 0;
  for (std::size_t i = 0; i < limit + 3; ++i) {
    std::string id = std::to_string(i);  // not "E" + ...: gcc 12 -Wrestrict false positive
    id.insert(0, 1, 'E');
    builder.set("vax_event_id", id);
    const auto result = run(builder);
    warnings += result.has(codes::kTooManyRecords, Severity::kWarning);
    ASSERT_FALSE(result.has(codes::kDuplicateEvent)) << i;
  }
  EXPECT_EQ(warnings, 1);
}

TEST_F(CvrsRecordValidatorTest, NdcNormalizationAndUnitOfUse) {
  auto result = run(RecordBuilder().set("ndc", "59267-1000-2"));  // 5-4-1
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
  EXPECT_EQ(record_.get("ndc"), "59267-1000-02");
  EXPECT_EQ(record_.get("ndc_as_sent"), "59267-1000-2");
  result = run(RecordBuilder().set("cvx", "207").set("mvx", "MOD").set("ndc", "80777-273-99"));  // 5-3-2
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
  EXPECT_EQ(record_.get("ndc"), "80777-0273-99");
  result = run(RecordBuilder().set("ndc", "59267-1000-01"));
  EXPECT_TRUE(result.has(codes::kNdcUnitOfUse, Severity::kWarning));
  EXPECT_EQ(result.outcome, Outcome::kAccepted);
  EXPECT_EQ(record_.get("ndc"), "59267-1000-02");
  EXPECT_EQ(record_.get("ndc_as_sent"), "59267-1000-01");

  ValidatorOptions strict = test_options();
  strict.unit_of_use_is_error = true;
  RecordValidator strict_validator(shipped_model(), kToday, strict);
  FindingList findings;
  const std::string line = RecordBuilder().set("ndc", "59267-1000-01").line();
  EXPECT_EQ(strict_validator.validate(line, record_, findings), Outcome::kRejected);
}

TEST_F(CvrsRecordValidatorTest, NdcCvx) {
  EXPECT_TRUE(run(RecordBuilder().set("ndc", "00006-4047-41")).has(codes::kNdcCvx)) << "not a COVID product";
  EXPECT_TRUE(run(RecordBuilder().set("ndc", "80777-0273-99")).has(codes::kNdcCvx)) << "Moderna NDC, Pfizer CVX";
}

TEST_F(CvrsRecordValidatorTest, MvxCvx) {
  EXPECT_TRUE(run(RecordBuilder().set("mvx", "MOD")).has(codes::kMvxCvx));
  EXPECT_FALSE(run(RecordBuilder().set("mvx", "UNK")).has(codes::kMvxCvx));
}

TEST_F(CvrsRecordValidatorTest, PlaceholderCodes) {
  const auto result = run(RecordBuilder().set("cvx", "901").set("mvx", "AAA").set("ndc", "99999-9999-01"));
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
  EXPECT_TRUE(result.has(codes::kPlaceholderCode, Severity::kWarning));
  EXPECT_EQ(result.findings.items().size(), 3u) << result.codes();

  ValidatorOptions strict = test_options();
  strict.placeholder_is_error = true;
  RecordValidator strict_validator(shipped_model(), kToday, strict);
  FindingList findings;
  const std::string line = RecordBuilder().set("cvx", "901").set("ndc", "").set("mvx", "").line();
  EXPECT_EQ(strict_validator.validate(line, record_, findings), Outcome::kRejected);
}

TEST_F(CvrsRecordValidatorTest, NonNorthCarolinaAdministrationIsHeld) {
  auto result = run(RecordBuilder().set("admin_address_state", "SC").set("admin_address_county", "45045")
                        .set("admin_address_zip", "29601"));
  EXPECT_EQ(result.outcome, Outcome::kHeld) << result.codes();
  EXPECT_EQ(result.hold_code, codes::kNotNorthCarolina);
  // With the state empty, the county decides, then the ZIP.
  result = run(RecordBuilder().set("vax_event_id", "E2").set("admin_address_state", "").set("admin_address_county", "45045")
                   .set("admin_address_zip", ""));
  EXPECT_EQ(result.outcome, Outcome::kHeld);
  result = run(RecordBuilder().set("vax_event_id", "E3").set("admin_address_state", "").set("admin_address_county", "")
                   .set("admin_address_zip", "29601"));
  EXPECT_EQ(result.outcome, Outcome::kHeld);
  result = run(RecordBuilder().set("vax_event_id", "E4").set("admin_address_state", "").set("admin_address_county", "")
                   .set("admin_address_zip", "27601"));
  EXPECT_EQ(result.outcome, Outcome::kAccepted);
  // The recipient's home state does not matter.
  result = run(RecordBuilder().set("vax_event_id", "E5").set("recip_address_state", "SC").set("recip_address_county", "45045")
                   .set("recip_address_zip", "29601"));
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
}

TEST_F(CvrsRecordValidatorTest, UnknownAdministrationStateIsHeldUnlessThePinSaysNc) {
  RecordBuilder nowhere;
  nowhere.set("admin_address_state", "").set("admin_address_county", "").set("admin_address_zip", "");
  auto result = run(nowhere);
  EXPECT_EQ(result.outcome, Outcome::kHeld);
  EXPECT_EQ(result.hold_code, codes::kAdminStateUnknown);
  result = run(nowhere.set("vax_event_id", "E2").set("vtrcks_prov_pin", "NCA123456"));
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
}

TEST_F(CvrsRecordValidatorTest, MessagesNeverQuoteTheValue) {
  const auto result = run(RecordBuilder().set("recip_last_name", std::string(300, 'Z')).set("vax_event_id", "SECRET 1")
                              .set("recip_dob", "SECRETDOB").set("recip_sex", "SECRETSEX"));
  ASSERT_GE(result.findings.items().size(), 4u);
  for (const auto& item : result.findings.items()) {
    EXPECT_EQ(item.message.find("SECRET"), std::string::npos) << item.message;
    EXPECT_EQ(item.message.find("ZZZ"), std::string::npos) << item.message;
    EXPECT_NE(item.message.find("send"), std::string::npos) << "says what to send: " << item.message;
  }
}

TEST_F(CvrsRecordValidatorTest, CrlfAndBlanksAroundValuesAreTolerated) {
  const auto result = run(RecordBuilder().set("recip_sex", " F ").set("cvx", "208 "));
  EXPECT_EQ(result.outcome, Outcome::kAccepted) << result.codes();
  EXPECT_EQ(record_.get("recip_sex"), "F");
}

}  // namespace
}  // namespace vaxetl::cvrs::testing
