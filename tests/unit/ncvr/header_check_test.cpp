#include <gtest/gtest.h>

#include "ncvr/header_check.hpp"
#include "ncvr_test_support.hpp"

namespace vaxetl::ncvr {
namespace {

using testing::RecordBuilder;
using testing::shipped_layout;

std::string layout_header(char delimiter = '|') {
  std::string header;
  for (const FieldSpec& field : shipped_layout().fields()) {
    if (!header.empty()) header += delimiter;
    header += field.name;
  }
  return header;
}

std::string_view code_of(const std::optional<FileError>& error) {
  return error ? error->code : std::string_view("<none>");
}

TEST(HeaderCheck, AcceptsTheLayoutFieldNames) {
  EXPECT_EQ(code_of(check_header(shipped_layout(), layout_header())), "<none>");
}

TEST(HeaderCheck, ComparesNamesIgnoringCaseAndBlanks) {
  std::string header = layout_header();
  for (char& c : header) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  header.replace(0, std::string("VAX_EVENT_ID").size(), "  Vax_Event_Id ");
  EXPECT_EQ(code_of(check_header(shipped_layout(), header)), "<none>");
}

TEST(HeaderCheck, AcceptsByteOrderMarkAndTrailingCarriageReturn) {
  EXPECT_EQ(code_of(check_header(shipped_layout(), "\xEF\xBB\xBF" + layout_header() + "\r")), "<none>");
}

TEST(HeaderCheck, RejectsFileWithoutLines) {
  EXPECT_EQ(code_of(check_header(shipped_layout(), std::nullopt)), "NCVR_FILE_EMPTY");
}

TEST(HeaderCheck, RejectsRecordAsFirstLineAsMissingHeader) {
  const auto error = check_header(shipped_layout(), RecordBuilder().line());
  EXPECT_EQ(code_of(error), "NCVR_HEADER_MISSING");
  EXPECT_EQ(code_of(check_header(shipped_layout(), "")), "NCVR_HEADER_MISSING");
}

TEST(HeaderCheck, RejectsWrongNameNamingItsPosition) {
  std::string header = layout_header();
  header.replace(header.find("recip_first_name"), 16, "first_name");
  const auto error = check_header(shipped_layout(), header);
  ASSERT_EQ(code_of(error), "NCVR_HEADER_MISMATCH");
  EXPECT_NE(error->message.find("position 7"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("recip_first_name"), std::string::npos) << error->message;
}

TEST(HeaderCheck, RejectsMissingTrailingName) {
  std::string header = layout_header();
  header.erase(header.rfind('|'));
  const auto error = check_header(shipped_layout(), header);
  ASSERT_EQ(code_of(error), "NCVR_HEADER_MISMATCH");
  EXPECT_NE(error->message.find("49"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("record_last_modified"), std::string::npos) << error->message;
}

TEST(HeaderCheck, RejectsTabOrCommaDelimitedHeader) {
  EXPECT_EQ(code_of(check_header(shipped_layout(), layout_header('\t'))), "NCVR_DELIMITER");
  EXPECT_EQ(code_of(check_header(shipped_layout(), layout_header(','))), "NCVR_DELIMITER");
}

TEST(HeaderCheck, RejectsNulBytesAndInvalidUtf8) {
  std::string utf16;
  for (const char c : layout_header()) {
    utf16 += c;
    utf16 += '\0';
  }
  EXPECT_EQ(code_of(check_header(shipped_layout(), utf16)), "NCVR_ENCODING");
  EXPECT_EQ(code_of(check_header(shipped_layout(), "vax_event_id\xFF|" + layout_header())), "NCVR_ENCODING");
}

TEST(HeaderCheck, NeverEchoesTheFirstLine) {
  const std::string distinctive = "ZQXJVPHI";
  for (const std::string& line : {RecordBuilder().set("recip_last_name", distinctive).line(),
                                  "vax_event_id|" + distinctive, distinctive + "\t" + distinctive}) {
    const auto error = check_header(shipped_layout(), line);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->message.find(distinctive), std::string::npos) << error->message;
  }
}

}  // namespace
}  // namespace vaxetl::ncvr
