// ADT demographic updates: ADT^A04, A08, A28 and A31 each give one DEMOGRAPHICS row carrying
// the recipient only, validated like a VXU's patient part with the same codes; other ADT
// events and other message types are refused (AR). The ACK echoes the event: ACK^A08^ACK.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "hl7/message.hpp"
#include "vxu/ack.hpp"
#include "vxu/converter.hpp"
#include "vxu_test_support.hpp"

namespace vaxetl::vxu {
namespace {

using testing::catalog;
using testing::kToday;
using testing::replace;
using testing::valid_adt;
using testing::valid_vxu;

class AdtTest : public ::testing::Test {
 protected:
  void convert(const std::string& text, const std::string& org_code = "") {
    text_ = text;
    converter_ = std::make_unique<Converter>(catalog(), ConverterOptions{org_code, kToday, false});
    converter_->convert(message_, message_.parse(text_));
  }
  std::string_view get(std::string_view name) const {
    for (std::size_t i = 0; i < canonical::kColumns.size(); ++i)
      if (canonical::kColumns[i] == name) return converter_->row(0)[i];
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
  std::string ack() const {
    const AckHeader header = reply_header(message_, "VAXETL", "NCDHHS", "20210316091501", "ACK1");
    std::string out;
    build_ack(header, message_.msh(10).raw(), converter_->findings(), out);
    return out;
  }

  std::string text_;
  hl7::Message message_;
  std::unique_ptr<Converter> converter_;
};

// The columns a DEMOGRAPHICS row may fill; every other one must be null.
const std::set<std::string> kRecipientColumns = {
    "org_code",          "recip_id",         "pprl_id",          "recip_first_name",
    "recip_middle_name", "recip_last_name",  "recip_suffix",     "recip_dob",
    "recip_sex",         "recip_address_street", "recip_address_street_2", "recip_address_city",
    "recip_address_county", "recip_address_state", "recip_address_zip", "recip_phone",
    "recip_email",       "recip_race_1",     "recip_race_2",     "recip_race_3",
    "recip_race_4",      "recip_race_5",     "recip_race_6",     "recip_ethnicity",
    "recip_language",    "guardian_name",    "record_type"};

TEST_F(AdtTest, MapsEachRecipientField) {
  convert(valid_adt("A04"));
  ASSERT_EQ(converter_->row_count(), 1u);
  EXPECT_EQ(converter_->kind(), MessageKind::kDemographics);
  EXPECT_TRUE(codes().empty());
  EXPECT_FALSE(converter_->row_rejected(0));
  EXPECT_EQ(converter_->row_group(0), 0u);

  EXPECT_EQ(get("record_type"), "DEMOGRAPHICS");
  EXPECT_EQ(get("org_code"), "NCCLINIC001") << "MSH-4.1 when no org_code is configured";
  EXPECT_EQ(get("recip_id"), "MRN0002") << "PID-3.1, first repetition";
  EXPECT_EQ(get("pprl_id"), "PPRL456") << "PID-3 repetition of type PPRL";
  EXPECT_EQ(get("recip_last_name"), "Roe") << "PID-5.1 is the family name";
  EXPECT_EQ(get("recip_first_name"), "Richard");
  EXPECT_EQ(get("recip_middle_name"), "A");
  EXPECT_EQ(get("recip_suffix"), "III");
  EXPECT_EQ(get("recip_dob"), "2015-03-02");
  EXPECT_EQ(get("recip_sex"), "M");
  EXPECT_EQ(get("recip_address_street"), "22 Elm St");
  EXPECT_EQ(get("recip_address_street_2"), "Unit B");
  EXPECT_EQ(get("recip_address_city"), "Durham");
  EXPECT_EQ(get("recip_address_state"), "NC");
  EXPECT_EQ(get("recip_address_zip"), "27701");
  EXPECT_EQ(get("recip_address_county"), "37063");
  EXPECT_EQ(get("recip_phone"), "9195550177");
  EXPECT_EQ(get("recip_email"), "rroe@example.org");
  EXPECT_EQ(get("recip_race_1"), "2054-5");
  EXPECT_EQ(get("recip_race_2"), "2106-3");
  EXPECT_EQ(get("recip_race_3"), "");
  EXPECT_EQ(get("recip_ethnicity"), "2135-2");
  EXPECT_EQ(get("recip_language"), "spa");
  EXPECT_EQ(get("guardian_name"), "Roe, Maria") << "NK1-2 as family, given";

  // Only the recipient: no vaccination column and no message metadata.
  for (std::size_t i = 0; i < canonical::kColumns.size(); ++i) {
    const std::string name(canonical::kColumns[i]);
    if (kRecipientColumns.count(name) == 0) {
      EXPECT_EQ(converter_->row(0)[i], "") << name;
    }
  }
}

TEST_F(AdtTest, ConfiguredOrgCodeWins) {
  convert(valid_adt("A08"), "ACMEPHARM");
  EXPECT_EQ(get("org_code"), "ACMEPHARM");
}

TEST_F(AdtTest, EachDemographicEventIsAccepted) {
  for (const std::string event : {"A04", "A08", "A28", "A31"}) {
    convert(valid_adt(event));
    EXPECT_EQ(converter_->row_count(), 1u) << event;
    EXPECT_EQ(converter_->kind(), MessageKind::kDemographics) << event;
    EXPECT_TRUE(codes().empty()) << event;
    EXPECT_FALSE(converter_->row_rejected(0)) << event;
    EXPECT_EQ(get("record_type"), "DEMOGRAPHICS") << event;
    EXPECT_EQ(get("recip_id"), "MRN0002") << event;
    // The reply names the event: ACK^A08^ACK, accepted.
    const std::string reply = ack();
    EXPECT_NE(reply.find("|ACK^" + event + "^ACK|ACK1|P|2.5.1|"), std::string::npos) << reply;
    EXPECT_NE(reply.find("\rMSA|AA|ADT0001\r"), std::string::npos) << reply;
    EXPECT_EQ(reply.find("ERR|"), std::string::npos) << reply;
  }
  convert(replace(valid_adt("A31"), "ADT^A31^ADT_A05", "adt^a31"));
  EXPECT_EQ(converter_->kind(), MessageKind::kDemographics) << "case and structure do not matter";
}

TEST_F(AdtTest, OtherEventsAndTypesAreRefused) {
  struct Refused {
    const char* type;
    std::string_view code;
    std::uint16_t hl7;
  };
  const Refused refused[] = {
      {"ADT^A01^ADT_A01", codes::kUnsupportedEvent, 201},  // admit an inpatient
      {"ADT^A03^ADT_A03", codes::kUnsupportedEvent, 201},  // discharge
      {"ADT^A40^ADT_A39", codes::kUnsupportedEvent, 201},  // merge: not a demographic update here
      {"ADT", codes::kUnsupportedEvent, 201},
      {"ORU^R01^ORU_R01", codes::kUnsupportedType, 200},
      {"QBP^Q11^QBP_Q11", codes::kUnsupportedType, 200},
      {"ACK^V04^ACK", codes::kUnsupportedType, 200},
  };
  for (const auto& r : refused) {
    convert(replace(valid_adt("A04"), "ADT^A04^ADT_A01", r.type));
    ASSERT_EQ(converter_->findings().size(), 1u) << r.type << ": nothing else is read";
    EXPECT_EQ(converter_->findings()[0].code, r.code) << r.type;
    EXPECT_EQ(converter_->findings()[0].hl7_error, r.hl7) << r.type;
    EXPECT_EQ(converter_->findings()[0].location.field, 9u) << r.type;
    EXPECT_EQ(converter_->kind(), MessageKind::kRefused) << r.type;
    ASSERT_EQ(converter_->row_count(), 1u);
    EXPECT_TRUE(converter_->row_rejected(0)) << r.type;
    EXPECT_EQ(get("record_type"), "") << r.type;
    EXPECT_EQ(ack_code(converter_->findings()), AckCode::kReject) << r.type;
    const std::string reply = ack();
    EXPECT_NE(reply.find("\rMSA|AR|ADT0001\r"), std::string::npos) << reply;
    std::string error = std::to_string(r.hl7);  // built in steps: gcc 12 -Wrestrict false positive
    error += "^unsupported ";
    EXPECT_NE(reply.find(error), std::string::npos) << reply;
  }
  convert(replace(valid_adt("A04"), "ADT^A04^ADT_A01", "ADT^A01^ADT_A01"));
  EXPECT_NE(ack().find("|ACK^A01^ACK|"), std::string::npos) << "the event is echoed";
  convert(replace(valid_adt("A04"), "ADT^A04^ADT_A01", "ADT^A0&1"));
  EXPECT_NE(ack().find("|ACK^V04^ACK|"), std::string::npos) << "a malformed event is not echoed";
}

TEST_F(AdtTest, HeaderRulesAreTheVxuOnes) {
  convert(replace(valid_adt("A08"), "|2.5.1|", "|2.3.1|"));
  EXPECT_EQ(converter_->findings()[0].code, codes::kUnsupportedVersion);
  convert(replace(valid_adt("A08"), "|ADT0001|P|", "|ADT0001|X|"));
  EXPECT_EQ(converter_->findings()[0].code, codes::kUnsupportedProcessingId);
  convert(replace(valid_adt("A08"), "|ADT0001|", "||"));
  EXPECT_TRUE(converter_->row_rejected(0)) << "MSH-10 is required";
}

TEST_F(AdtTest, PatientRulesAreTheVxuOnes) {
  const auto rejected_by = [&](const std::string& text, std::string_view code, std::uint32_t field) {
    convert(text);
    EXPECT_TRUE(converter_->row_rejected(0)) << code << " PID-" << field;
    const Finding* f = find(code);
    ASSERT_NE(f, nullptr) << code << " PID-" << field;
    EXPECT_EQ(f->scope, Scope::kMessage);
    EXPECT_EQ(f->location.segment, "PID");
    EXPECT_EQ(f->location.field, field);
    EXPECT_NE(find(codes::kSegmentMissing), nullptr) << "the PID cascade";
    EXPECT_EQ(ack_code(converter_->findings()), AckCode::kError);
    EXPECT_NE(ack().find("\rMSA|AE|ADT0001\r"), std::string::npos);
  };
  rejected_by(replace(valid_adt("A08"), "MRN0002^^^NCEHR^MR~", "~"), codes::kRequired, 3);
  rejected_by(replace(valid_adt("A08"), "Roe^Richard^A^III^^^L", ""), codes::kRequired, 5);
  rejected_by(replace(valid_adt("A08"), "|20150302|", "||"), codes::kRequired, 7);
  rejected_by(replace(valid_adt("A08"), "|20150302|", "|20150231|"), codes::kDateInvalid, 7);
  rejected_by(replace(valid_adt("A08"), "|20150302|", "|20991231|"), codes::kDateFuture, 7);

  // PID-8 outside table 0001: the field is ignored, the update still loads.
  convert(replace(valid_adt("A08"), "|20150302|M|", "|20150302|X|"));
  EXPECT_FALSE(converter_->row_rejected(0));
  ASSERT_NE(find(codes::kCodeUnknown), nullptr);
  EXPECT_EQ(find(codes::kCodeUnknown)->location.field, 8u);
  EXPECT_EQ(get("recip_sex"), "");
  EXPECT_EQ(ack_code(converter_->findings()), AckCode::kAccept) << "a warning only";

  // No PID at all: the message is rejected.
  std::string text = valid_adt("A28");
  const auto pid = text.find("PID|");
  text.erase(pid, text.find('\r', pid) + 1 - pid);
  convert(text);
  EXPECT_TRUE(converter_->row_rejected(0));
  EXPECT_NE(find(codes::kSegmentMissing), nullptr);
}

TEST_F(AdtTest, GuardianNeedsTheRelationship) {
  convert(replace(valid_adt("A31"), "|MTH^Mother^HL70063|", "||"));
  EXPECT_FALSE(converter_->row_rejected(0)) << "only the NK1 segment is rejected";
  ASSERT_NE(find(codes::kRequired), nullptr);
  EXPECT_EQ(find(codes::kRequired)->location.segment, "NK1");
  EXPECT_EQ(get("guardian_name"), "");
  EXPECT_EQ(ack_code(converter_->findings()), AckCode::kError) << "a rejected segment is an AE, as for VXU";
}

TEST_F(AdtTest, OrderSegmentsInAnAdtAreNotRead) {
  std::string text = valid_adt("A08");
  text += "ORC|RE||EVT-0009^NCEHR\r"
          "RXA|0|1|20210315||208^Pfizer^CVX|0.3|mL||00||^^^Acme&NCA123456||||EN6201||PFR|||CP|A\r";
  convert(text);
  ASSERT_EQ(converter_->row_count(), 1u);
  EXPECT_EQ(get("record_type"), "DEMOGRAPHICS");
  EXPECT_EQ(get("vax_event_id"), "");
  EXPECT_EQ(get("cvx"), "");
  EXPECT_TRUE(codes().empty());
}

TEST_F(AdtTest, MinimalAdtWithoutOptionalSegments) {
  // An A28 from a master patient index: MSH, EVN, PID, PV1 only; name and DOB only.
  convert("MSH|^~\\&|MPI|NCHOSP|CVMS|NCDHHS|202103170800||ADT^A28^ADT_A05|MPI77|T|2.5.1\r"
          "EVN||202103170800\r"
          "PID|1||H000123^^^NCHOSP^MR||Poe^Ann||19790101|F\r"
          "PV1|1|N\r");
  EXPECT_TRUE(codes().empty());
  EXPECT_FALSE(converter_->row_rejected(0));
  EXPECT_EQ(get("org_code"), "NCHOSP");
  EXPECT_EQ(get("recip_id"), "H000123");
  EXPECT_EQ(get("recip_first_name"), "Ann");
  EXPECT_EQ(get("recip_dob"), "1979-01-01");
  EXPECT_EQ(get("recip_phone"), "");
  EXPECT_EQ(get("guardian_name"), "");
  EXPECT_NE(ack().find("|ACK^A28^ACK|ACK1|T|"), std::string::npos) << "the processing id is echoed";
}

TEST_F(AdtTest, FindingMessagesCarryNoValues) {
  std::string text = replace(valid_adt("A08"), "Roe^Richard", "Zyxwv^Qwerty");
  text = replace(text, "|20150302|M|", "|20991231|Q|");
  text = replace(text, "|MTH^Mother^HL70063|", "||");
  convert(text);
  ASSERT_GE(converter_->findings().size(), 3u);
  const std::string reply = ack();
  for (const char* value : {"Zyxwv", "Qwerty", "20991231", "MRN0002", "Elm"}) {
    for (const auto& f : converter_->findings())
      EXPECT_EQ(f.message.find(value), std::string_view::npos) << f.code;
    EXPECT_EQ(reply.find(value), std::string::npos) << value;
  }
}

}  // namespace
}  // namespace vaxetl::vxu
