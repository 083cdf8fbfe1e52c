#include <gtest/gtest.h>

#include <set>
#include <string>

#include "hl7/message.hpp"
#include "vxu/converter.hpp"
#include "vxu/generator.hpp"
#include "vxu_test_support.hpp"

namespace vaxetl::vxu {
namespace {

using testing::catalog;
using testing::kSamples;
using testing::kToday;
using testing::read_file;
using testing::replace;
using testing::valid_vxu;

class ConverterTest : public ::testing::Test {
 protected:
  void convert(const std::string& text, const std::string& org_code = "") {
    text_ = text;
    converter_ = std::make_unique<Converter>(catalog(), ConverterOptions{org_code, today_, false});
    converter_->convert(message_, message_.parse(text_));
  }
  std::string_view get(std::size_t row, std::string_view name) const {
    for (std::size_t i = 0; i < canonical::kColumns.size(); ++i)
      if (canonical::kColumns[i] == name) return converter_->row(row)[i];
    ADD_FAILURE() << "no column " << name;
    return {};
  }
  std::set<std::string> codes() const {
    std::set<std::string> out;
    for (const auto& f : converter_->findings()) out.emplace(f.code);
    return out;
  }
  const Finding* find(std::string_view code) const {
    for (const auto& f : converter_->findings())
      if (f.code == code) return &f;
    return nullptr;
  }

  ncvr::Date today_ = kToday;
  std::string text_;
  hl7::Message message_;
  std::unique_ptr<Converter> converter_;
};

TEST_F(ConverterTest, MapsEveryColumnOfAValidMessage) {
  convert(valid_vxu());
  ASSERT_EQ(converter_->row_count(), 1u);
  EXPECT_FALSE(converter_->row_rejected(0));
  // Only the unit-of-use NDC is worth a word.
  EXPECT_EQ(codes(), std::set<std::string>{std::string(codes::kNdcUnitOfUse)});

  EXPECT_EQ(get(0, "vax_event_id"), "EVT-0001");
  EXPECT_EQ(get(0, "action_code"), "A");
  EXPECT_EQ(get(0, "org_code"), "NCCLINIC001") << "MSH-4.1 when no org_code is configured";
  EXPECT_EQ(get(0, "vtrcks_prov_pin"), "NCA123456");
  EXPECT_EQ(get(0, "admin_name"), "Acme Pharmacy");
  EXPECT_EQ(get(0, "recip_id"), "MRN0001");
  EXPECT_EQ(get(0, "pprl_id"), "PPRL123");
  // PID-5.1 is the family name (pitfall P1).
  EXPECT_EQ(get(0, "recip_last_name"), "Doe");
  EXPECT_EQ(get(0, "recip_first_name"), "Jane");
  EXPECT_EQ(get(0, "recip_middle_name"), "Q");
  EXPECT_EQ(get(0, "recip_suffix"), "JR");
  EXPECT_EQ(get(0, "recip_dob"), "1980-05-17");
  EXPECT_EQ(get(0, "recip_sex"), "F");
  EXPECT_EQ(get(0, "recip_address_street"), "1 Main St");
  EXPECT_EQ(get(0, "recip_address_street_2"), "Apt 2");
  EXPECT_EQ(get(0, "recip_address_city"), "Raleigh");
  EXPECT_EQ(get(0, "recip_address_state"), "NC");
  EXPECT_EQ(get(0, "recip_address_zip"), "27601");
  EXPECT_EQ(get(0, "recip_address_county"), "37183");
  EXPECT_EQ(get(0, "recip_phone"), "9195550123");
  EXPECT_EQ(get(0, "recip_email"), "jane@example.org");
  EXPECT_EQ(get(0, "recip_race_1"), "2106-3");
  EXPECT_EQ(get(0, "recip_race_2"), "");
  EXPECT_EQ(get(0, "recip_ethnicity"), "2186-5");
  EXPECT_EQ(get(0, "recip_language"), "eng");
  EXPECT_EQ(get(0, "guardian_name"), "Doe, John");
  EXPECT_EQ(get(0, "admin_date"), "2021-03-15");
  EXPECT_EQ(get(0, "cvx"), "208");
  EXPECT_EQ(get(0, "mvx"), "PFR");
  EXPECT_EQ(get(0, "ndc"), "59267-1000-02") << "unit of use mapped to unit of sale";
  EXPECT_EQ(get(0, "ndc_as_sent"), "59267-1000-01");
  EXPECT_EQ(get(0, "lot_number"), "EN6201");
  EXPECT_EQ(get(0, "vax_expiration"), "2021-06-30");
  EXPECT_EQ(get(0, "vax_admin_site"), "LD");
  EXPECT_EQ(get(0, "vax_route"), "C28161");
  EXPECT_EQ(get(0, "dose_volume_ml"), "0.3");
  EXPECT_EQ(get(0, "vax_admin_provider_name"), "Pat Nurse");
  EXPECT_EQ(get(0, "vax_admin_provider_npi"), "1234567893");
  EXPECT_EQ(get(0, "vis_edition_date"), "2020-12-11");
  EXPECT_EQ(get(0, "vis_given_date"), "2021-03-15");
  EXPECT_EQ(get(0, "inventory_source"), "STATE");
  EXPECT_EQ(get(0, "vax_refusal"), "NO");
  EXPECT_EQ(get(0, "refusal_reason"), "");
  EXPECT_EQ(get(0, "cmorbid_status"), "YES");
  EXPECT_EQ(get(0, "serology"), "YES");
  EXPECT_EQ(get(0, "record_last_modified"), "2021-03-15T10:15:00");
  EXPECT_EQ(get(0, "dose_num"), "1");
  EXPECT_EQ(get(0, "dose_status"), "Dose One Administered");
  EXPECT_EQ(get(0, "vax_series_complete"), "NO");
  EXPECT_EQ(get(0, "responsible_org"), "NCCLINIC001");
  EXPECT_EQ(get(0, "admin_type"), "12");
  EXPECT_EQ(get(0, "admin_address_street"), "2 Oak St");
  EXPECT_EQ(get(0, "admin_address_street_2"), "Suite 1");
  EXPECT_EQ(get(0, "admin_address_city"), "Cary");
  EXPECT_EQ(get(0, "admin_address_state"), "NC");
  EXPECT_EQ(get(0, "admin_address_zip"), "27513");
  EXPECT_EQ(get(0, "admin_address_county"), "37183");
  EXPECT_EQ(get(0, "funding_source"), "VXC2");
  EXPECT_EQ(get(0, "funding_eligibility"), "V01");
  EXPECT_EQ(get(0, "information_source"), "00");
  EXPECT_EQ(get(0, "completion_status"), "CP");
  EXPECT_EQ(get(0, "ext_type"), "");
  EXPECT_EQ(get(0, "recip_priority_group"), "");
}

TEST_F(ConverterTest, ConfiguredOrgCodeWins) {
  convert(valid_vxu(), "ACMEPHARM");
  EXPECT_EQ(get(0, "org_code"), "ACMEPHARM");
}

TEST_F(ConverterTest, NdcFirstInRxa5IsReadToo) {
  convert(replace(valid_vxu(), "208^Pfizer^CVX^59267-1000-01^Pfizer vial^NDC", "59267-1000-02^Pfizer^NDC^208^Pfizer^CVX"));
  EXPECT_EQ(get(0, "cvx"), "208");
  EXPECT_EQ(get(0, "ndc"), "59267-1000-02");
  EXPECT_TRUE(codes().empty());
  // An NDC alone names its CVX through the catalog.
  convert(replace(valid_vxu(), "208^Pfizer^CVX^59267-1000-01^Pfizer vial^NDC", "59267-1000-02^Pfizer^NDC"));
  EXPECT_EQ(get(0, "cvx"), "208");
  EXPECT_FALSE(converter_->row_rejected(0));
}

TEST_F(ConverterTest, EscapedValuesAreDecoded) {
  convert(replace(valid_vxu(), "1 Main St^", "1 Main St \\T\\ Co^"));
  EXPECT_EQ(get(0, "recip_address_street"), "1 Main St & Co");
}

TEST_F(ConverterTest, EachOrderGroupIsOneRow) {
  std::string text = valid_vxu();
  text += "ORC|RE||EVT-0002^NCEHR\r"
          "RXA|0|1|20210405||208^Pfizer^CVX|0.3|mL||00|^Nurse^Pat|^^^Acme&NCA123456||||EN7000|20210730|PFR^Pfizer^MVX|||CP|A\r"
          "OBX|1|NM|30973-2^Dose number^LN|1|2||||||F\r";
  convert(text);
  ASSERT_EQ(converter_->row_count(), 2u);
  EXPECT_EQ(get(1, "vax_event_id"), "EVT-0002");
  EXPECT_EQ(get(1, "admin_date"), "2021-04-05");
  EXPECT_EQ(get(1, "dose_status"), "Dose Two Administered");
  EXPECT_EQ(get(1, "inventory_source"), "FEDERAL") << "no funding source: federal";
  EXPECT_EQ(get(1, "recip_last_name"), "Doe") << "the patient part is shared";
  EXPECT_EQ(get(1, "ndc"), "");
  EXPECT_EQ(get(0, "vax_event_id"), "EVT-0001");
  EXPECT_EQ(converter_->row_group(1), 2u);
}

TEST_F(ConverterTest, RefusalMapsToNotAdministered) {
  convert(replace(valid_vxu(), "|||CP|A\r", "|00^Parental decision^NIP002||RE|A\r"));
  EXPECT_EQ(get(0, "vax_refusal"), "YES");
  EXPECT_EQ(get(0, "refusal_reason"), "00");
  EXPECT_EQ(get(0, "completion_status"), "RE");
  EXPECT_EQ(get(0, "dose_status"), "Not Administered");
  convert(replace(valid_vxu(), "|||CP|A\r", "|||RE|A\r"));
  EXPECT_TRUE(codes().count(std::string(codes::kRequired))) << "RXA-18 required with RE";
  EXPECT_FALSE(converter_->row_rejected(0));
}

TEST_F(ConverterTest, DoseNumberAsNumberOrCode) {
  convert(replace(valid_vxu(), "|NM|30973-2^Dose number^LN|4|1|", "|CE|30973-2^Dose number^LN|4|2^^DCHDOSE|"));
  EXPECT_EQ(get(0, "dose_num"), "2");
  EXPECT_EQ(get(0, "dose_status"), "Dose Two Administered");
  convert(replace(valid_vxu(), "|NM|30973-2^Dose number^LN|4|1|", "|NM|30973-2^Dose number^LN|4|9|"));
  EXPECT_EQ(get(0, "dose_num"), "INV");
  EXPECT_EQ(get(0, "dose_status"), "");
  EXPECT_NE(find(codes::kValueInvalid), nullptr);
}

TEST_F(ConverterTest, DeleteActionComesThrough) {
  convert(replace(valid_vxu(), "|||CP|A\r", "|||CP|D\r"));
  EXPECT_EQ(get(0, "action_code"), "D");
  convert(replace(valid_vxu(), "|||CP|A\r", "|||CP|X\r"));
  EXPECT_TRUE(converter_->row_rejected(0));
  EXPECT_TRUE(codes().count(std::string(codes::kCodeUnknown)));
}

TEST_F(ConverterTest, HeaderFailuresStopReading) {
  convert(replace(valid_vxu(), "|2.5.1|", "|2.3.1|"));
  ASSERT_EQ(converter_->findings().size(), 1u);
  EXPECT_EQ(converter_->findings()[0].code, codes::kUnsupportedVersion);
  EXPECT_EQ(converter_->findings()[0].hl7_error, 203);
  EXPECT_TRUE(converter_->row_rejected(0));
  convert(replace(valid_vxu(), "VXU^V04", "ORU^R01"));
  EXPECT_EQ(converter_->findings()[0].code, codes::kUnsupportedType);
  convert(replace(valid_vxu(), "VXU^V04", "ADT^A01"));
  EXPECT_EQ(converter_->findings()[0].code, codes::kUnsupportedEvent) << "ADT, but not a demographic event";
  convert(replace(valid_vxu(), "VXU^V04", "VXU^V05"));
  EXPECT_EQ(converter_->findings()[0].code, codes::kUnsupportedEvent);
  convert(replace(valid_vxu(), "|MSG0001|P|", "|MSG0001|Q|"));
  EXPECT_EQ(converter_->findings()[0].code, codes::kUnsupportedProcessingId);
  convert("PID|1\r");
  EXPECT_EQ(converter_->findings()[0].code, codes::kNotHl7);
  EXPECT_EQ(converter_->row_count(), 1u);
}

TEST_F(ConverterTest, MissingPatientDataRejectsTheMessage) {
  convert(replace(valid_vxu(), "Doe^Jane^Q^JR^^^L", ""));
  EXPECT_TRUE(converter_->row_rejected(0));
  const Finding* name = find(codes::kRequired);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->location.segment, "PID");
  EXPECT_EQ(name->location.field, 5u);
  EXPECT_NE(find(codes::kSegmentMissing), nullptr) << "the PID cascade";

  convert(replace(valid_vxu(), "|19800517|", "|20991231|"));
  EXPECT_TRUE(converter_->row_rejected(0));
  EXPECT_NE(find(codes::kDateFuture), nullptr);
  convert(replace(valid_vxu(), "|19800517|", "|19800231|"));
  EXPECT_NE(find(codes::kDateInvalid), nullptr);
  convert(replace(valid_vxu(), "MRN0001^^^NCEHR^MR~", "~"));
  EXPECT_TRUE(converter_->row_rejected(0));
}

TEST_F(ConverterTest, OrderGroupErrorsRejectOnlyTheirRow) {
  std::string text = valid_vxu();
  text += "ORC|RE||EVT-0002^NCEHR\r"
          "RXA|0|1|20210405||85^hep B^CVX|999|||01|||||||||||CP|A\r";
  convert(text);
  ASSERT_EQ(converter_->row_count(), 2u);
  EXPECT_FALSE(converter_->row_rejected(0));
  EXPECT_TRUE(converter_->row_rejected(1));
  EXPECT_NE(find(codes::kNotCovid), nullptr);
  EXPECT_EQ(find(codes::kNotCovid)->group, 2u);
}

TEST_F(ConverterTest, PinAndEventIdAreRequired) {
  convert(replace(valid_vxu(), "Acme Pharmacy&nca123456", "Acme Pharmacy"));
  EXPECT_TRUE(converter_->row_rejected(0));
  convert(replace(valid_vxu(), "&nca123456", "&XY12"));
  EXPECT_NE(find(codes::kValueInvalid), nullptr);
  EXPECT_TRUE(converter_->row_rejected(0));
  convert(replace(valid_vxu(), "EVT-0001^NCEHR", ""));
  EXPECT_TRUE(converter_->row_rejected(0));
}

TEST_F(ConverterTest, NdcOfAnotherVaccineRejectsTheGroup) {
  convert(replace(valid_vxu(), "59267-1000-01", "80777-0273-99"));
  EXPECT_NE(find(codes::kNdcCvx), nullptr);
  EXPECT_TRUE(converter_->row_rejected(0));
  convert(replace(valid_vxu(), "59267-1000-01", "12345-6789-01"));
  EXPECT_NE(find(codes::kCodeUnknown), nullptr);
  EXPECT_FALSE(converter_->row_rejected(0)) << "an unknown NDC beside a CVX is ignored";
  EXPECT_EQ(get(0, "ndc"), "");
  EXPECT_EQ(get(0, "ndc_as_sent"), "12345-6789-01");
}

TEST_F(ConverterTest, NoOrderGroupIsADemographicUpdate) {
  // "Demographic-only feeds (ADT, VXU without a dose) update masters without creating
  // vaccinations": the recipient only, loadable.
  const std::string text = valid_vxu();
  convert(text.substr(0, text.find("ORC|")));
  ASSERT_EQ(converter_->row_count(), 1u);
  EXPECT_EQ(converter_->kind(), MessageKind::kDemographics);
  EXPECT_FALSE(converter_->row_rejected(0));
  EXPECT_TRUE(codes().empty());
  EXPECT_EQ(get(0, "record_type"), "DEMOGRAPHICS");
  EXPECT_EQ(get(0, "recip_id"), "MRN0001");
  EXPECT_EQ(get(0, "recip_last_name"), "Doe");
  EXPECT_EQ(get(0, "guardian_name"), "Doe, John");
  EXPECT_EQ(get(0, "vax_event_id"), "");
  EXPECT_EQ(get(0, "inventory_source"), "");
  EXPECT_EQ(get(0, "record_last_modified"), "");
  // Without its PID it is still rejected, as any VXU.
  convert(replace(text.substr(0, text.find("ORC|")), "Doe^Jane^Q^JR^^^L", ""));
  EXPECT_TRUE(converter_->row_rejected(0));
}

TEST_F(ConverterTest, VaccinationRowsSaySo) {
  convert(valid_vxu());
  EXPECT_EQ(converter_->kind(), MessageKind::kVaccination);
  EXPECT_EQ(get(0, "record_type"), "VACCINATION");
  convert(replace(valid_vxu(), "|2.5.1|", "|2.3.1|"));
  EXPECT_EQ(converter_->kind(), MessageKind::kRefused);
  EXPECT_EQ(get(0, "record_type"), "") << "a refused message states nothing";
}

TEST_F(ConverterTest, FindingMessagesCarryNoValues) {
  // Distinctive values; none may appear in any message.
  std::string text = replace(valid_vxu(), "Doe^Jane", "Zyxwv^Qwerty");
  text = replace(text, "|19800517|", "|20991231|");
  text = replace(text, "&nca123456", "&ZZTOP9");
  text = replace(text, "|||CP|A\r", "|||XX|Q\r");
  convert(text);
  ASSERT_GT(converter_->findings().size(), 3u);
  for (const auto& f : converter_->findings()) {
    for (const char* value : {"Zyxwv", "Qwerty", "20991231", "ZZTOP9", "XX"})
      EXPECT_EQ(f.message.find(value), std::string_view::npos) << f.code;
  }
}

TEST_F(ConverterTest, CdcCovidSampleMaps) {
  convert(read_file(kSamples + "CDCgov_CDC_IIS_Open_Tools__Adult_z22_New_Covid_vaccine.hl7"));
  ASSERT_EQ(converter_->row_count(), 1u);
  EXPECT_EQ(get(0, "recip_last_name"), "Winchester");
  EXPECT_EQ(get(0, "recip_first_name"), "Dorothy");
  EXPECT_EQ(get(0, "recip_race_2"), "2054-5");
  EXPECT_EQ(get(0, "recip_phone"), "2155551213");
  EXPECT_EQ(get(0, "vax_series_complete"), "NO");
  EXPECT_EQ(get(0, "funding_source"), "VXC1");
  EXPECT_EQ(get(0, "responsible_org"), "IIPEHRFAC");
  EXPECT_EQ(get(0, "admin_type"), "12");
  EXPECT_EQ(get(0, "record_last_modified"), "2019-07-01T08:22:40");
  EXPECT_EQ(get(0, "ext_type"), "I");
  // CVX 24 is a test substitute, not a COVID-19 vaccine: rejected for CVMS.
  EXPECT_TRUE(converter_->row_rejected(0));
  EXPECT_NE(find(codes::kNotCovid), nullptr);
}

TEST_F(ConverterTest, GeneratedMessagesAreClean) {
  today_ = ncvr::Date{2026, 1, 1};
  VxuGenerator generator;
  std::string text;
  std::size_t groups = 0;
  for (std::size_t i = 1; i <= 200; ++i) {
    text.clear();
    groups = generator.append(i, text);
    convert(text);
    ASSERT_EQ(converter_->row_count(), groups);
    for (const auto& f : converter_->findings()) ADD_FAILURE() << "message " << i << ": " << f.code << " " << f.message;
    ASSERT_FALSE(converter_->row_rejected(0));
    EXPECT_EQ(get(0, "vtrcks_prov_pin").substr(0, 3), "NCA");
  }
}

TEST_F(ConverterTest, GeneratedBadGroupsAreRejected) {
  today_ = ncvr::Date{2026, 1, 1};
  VxuGenerator generator(GeneratorOptions{7, 0.0, 1.0});
  std::string text;
  bool bad = false;
  generator.append(1, text, &bad);
  EXPECT_TRUE(bad);
  convert(text);
  EXPECT_TRUE(converter_->row_rejected(0));
}

}  // namespace
}  // namespace vaxetl::vxu
