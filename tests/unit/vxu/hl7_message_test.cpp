#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "hl7/message.hpp"
#include "vxu_test_support.hpp"

namespace vaxetl::hl7 {
namespace {

using vxu::testing::kSamples;
using vxu::testing::read_file;

std::vector<std::string> split_all(std::string_view input) {
  std::vector<std::string> out;
  MessageSplitter splitter(input);
  std::string_view message;
  while (splitter.next(message)) out.emplace_back(message);
  return out;
}

TEST(Hl7Message, IndexesSegmentsAndFieldsWithMshNumbering) {
  const std::string text = "MSH|^~\\&|APP|FAC|||20210101||VXU^V04^VXU_V04|ID1|P|2.5.1\rPID|1||123^^^A^MR||Doe^Jane\r";
  Message m;
  ASSERT_EQ(m.parse(text), Message::Status::kOk);
  ASSERT_EQ(m.segment_count(), 2u);
  EXPECT_EQ(m.segment(0).id(), "MSH");
  EXPECT_EQ(m.msh(1).raw(), "|");
  EXPECT_EQ(m.msh(2).raw(), "^~\\&");
  EXPECT_EQ(m.msh(3).raw(), "APP");
  EXPECT_EQ(m.msh(9).component(2).raw(), "V04");
  EXPECT_EQ(m.msh(10).raw(), "ID1");
  EXPECT_EQ(m.msh(12).raw(), "2.5.1");
  EXPECT_TRUE(m.msh(13).empty()) << "an absent trailing field is empty";
  const Segment pid = m.segment(1);
  EXPECT_EQ(pid.id(), "PID");
  EXPECT_EQ(pid.field(1).raw(), "1");
  EXPECT_EQ(pid.field(3).component(4).raw(), "A");
  EXPECT_EQ(pid.field(5).component(1).raw(), "Doe");
  EXPECT_EQ(pid.field(5).component(2).raw(), "Jane");
  EXPECT_TRUE(pid.field(5).component(3).empty());
  EXPECT_TRUE(pid.field(99).empty());
  // Views point into the input: nothing was copied.
  EXPECT_GE(pid.field(5).raw().data(), text.data());
  EXPECT_LT(pid.field(5).raw().data(), text.data() + text.size());
}

TEST(Hl7Message, SplitsRepetitionsComponentsAndSubcomponents) {
  Message m;
  ASSERT_EQ(m.parse("MSH|^~\\&|A\rRXA|0|1|x|y|a^b&c&d^e~f^g|z\r"), Message::Status::kOk);
  const Value v = m.segment(1).field(5);
  EXPECT_EQ(v.repetition_count(), 2u);
  EXPECT_EQ(v.repetition(2).component(2).raw(), "g");
  EXPECT_EQ(v.component(2).raw(), "b&c&d") << "a field's component is its first repetition's";
  EXPECT_EQ(v.component(2).subcomponent(3).raw(), "d");
  EXPECT_EQ(v.at(2, 2).raw(), "c");
  EXPECT_EQ(v.subcomponent(1).raw(), "a");
  EXPECT_TRUE(v.repetition(3).empty());
  EXPECT_EQ(m.segment(1).field(4).repetition_count(), 1u);
  EXPECT_EQ(m.segment(1).field(7).repetition_count(), 0u);
}

TEST(Hl7Message, DecodesEscapesOnDemandIntoCallerBuffer) {
  Message m;
  ASSERT_EQ(m.parse("MSH|^~\\&|A\rNTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41420D\\g\\.br\\h\\H\\\r"),
            Message::Status::kOk);
  const Value v = m.segment(1).field(3);
  EXPECT_TRUE(v.has_escape());
  std::array<char, 64> buffer{};
  EXPECT_EQ(v.text(buffer), "a|b^c&d~e\\fAB\rg\\.br\\h\\H\\");
  // Without escapes the raw view comes back and the buffer is untouched.
  const Value plain = m.segment(0).field(3);
  EXPECT_EQ(plain.text(std::span<char>()).data(), plain.raw().data());
  // Malformed sequences stay as sent; a too-small buffer truncates, never overflows.
  const Delimiters d;
  std::array<char, 4> small{};
  EXPECT_EQ(unescape("\\Xzz\\", d, buffer), "\\Xzz\\");
  EXPECT_EQ(unescape("abc\\", d, buffer), "abc\\");
  EXPECT_EQ(unescape("abcdefgh", d, small), "abcd");
}

TEST(Hl7Message, EscapeRoundTrips) {
  const Delimiters d;
  const std::string_view text = "a|b^c&d~e\\f\rg";
  std::array<char, 64> escaped{};
  const std::size_t n = escape(text, d, escaped);
  ASSERT_LE(n, escaped.size());
  EXPECT_EQ(std::string_view(escaped.data(), n), "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D\\g");
  std::array<char, 64> back{};
  EXPECT_EQ(unescape(std::string_view(escaped.data(), n), d, back), text);
}

TEST(Hl7Message, DelimitersComeFromMsh) {
  Message m;
  ASSERT_EQ(m.parse("MSH#*!?%#A#B\rPID#1##x*y!z*w%v\r"), Message::Status::kOk);
  EXPECT_EQ(m.delimiters().field, '#');
  EXPECT_EQ(m.delimiters().component, '*');
  EXPECT_EQ(m.delimiters().repetition, '!');
  EXPECT_EQ(m.delimiters().escape, '?');
  EXPECT_EQ(m.delimiters().subcomponent, '%');
  const Value v = m.segment(1).field(3);
  EXPECT_EQ(v.component(2).raw(), "y");
  EXPECT_EQ(v.repetition(2).component(2).subcomponent(2).raw(), "v");
  EXPECT_EQ(m.parse("MSH||||A\r"), Message::Status::kBadDelimiters);
  EXPECT_EQ(m.parse("MSH|\r"), Message::Status::kBadDelimiters);
  EXPECT_EQ(m.parse("PID|1\r"), Message::Status::kNoMsh);
  EXPECT_EQ(m.parse("\r\n"), Message::Status::kEmpty);
  EXPECT_EQ(m.segment_count(), 0u);
}

TEST(Hl7Message, AcceptsCrLfCrlfAndBom) {
  const std::string body[] = {"MSH|^~\\&|A", "PID|1||X", "ORC|RE||E1", "RXA|0|1|20210101"};
  for (const std::string end : {"\r", "\n", "\r\n"}) {
    std::string text = "\xEF\xBB\xBF";
    for (const auto& s : body) text += s + end;
    Message m;
    ASSERT_EQ(m.parse(text), Message::Status::kOk) << "ending " << end.size();
    ASSERT_EQ(m.segment_count(), 4u);
    EXPECT_EQ(m.segment(3).field(3).raw(), "20210101") << "no terminator leaks into a field";
    EXPECT_EQ(m.msh(3).raw(), "A");
  }
}

TEST(Hl7Message, CountsSegmentOccurrencesForErrorLocations) {
  Message m;
  ASSERT_EQ(m.parse("MSH|^~\\&|A\rPID|1\rORC|RE\rRXA|0\rORC|RE\rRXA|0\rOBX|1\r"), Message::Status::kOk);
  EXPECT_EQ(m.segment(2).occurrence(), 1u);
  EXPECT_EQ(m.segment(4).occurrence(), 2u);
  EXPECT_EQ(m.segment(5).occurrence(), 2u);
  EXPECT_EQ(m.find("ORC"), 2u);
  EXPECT_EQ(m.find("ORC", 3), 4u);
  EXPECT_EQ(m.find("NK1"), m.segment_count());
}

TEST(Hl7Message, ReusesItsIndexAcrossMessages) {
  Message m;
  ASSERT_EQ(m.parse("MSH|^~\\&|A\rPID|1\rORC|RE\rRXA|0\r"), Message::Status::kOk);
  ASSERT_EQ(m.parse("MSH|^~\\&|B\rPID|2\r"), Message::Status::kOk);
  EXPECT_EQ(m.segment_count(), 2u);
  EXPECT_EQ(m.msh(3).raw(), "B");
  EXPECT_EQ(m.segment(1).field(1).raw(), "2");
}

TEST(Hl7Splitter, ReadsSingleAndManyMessages) {
  EXPECT_EQ(split_all("MSH|^~\\&|A\rPID|1\r").size(), 1u);
  const auto many = split_all("MSH|^~\\&|A\rPID|1\r\nMSH|^~\\&|B\rPID|2\r\n\n");
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[0].substr(0, 11), "MSH|^~\\&|A\r");
  EXPECT_EQ(many[1].substr(0, 11), "MSH|^~\\&|B\r");
  EXPECT_TRUE(split_all("").empty());
  EXPECT_TRUE(split_all("\r\n\r\n").empty());
}

TEST(Hl7Splitter, ReadsFhsBhsBatchesAndMllpFrames) {
  const std::string batch =
      "FHS|^~\\&|APP|FAC\rBHS|^~\\&|APP|FAC\rMSH|^~\\&|A\rPID|1\rMSH|^~\\&|B\rPID|2\rBTS|2\rFTS|1\r";
  MessageSplitter splitter(batch);
  std::vector<std::string> messages;
  std::string_view m;
  while (splitter.next(m)) messages.emplace_back(m);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1], "MSH|^~\\&|B\rPID|2\r") << "the trailer is not part of the last message";
  EXPECT_EQ(splitter.file_header().substr(0, 3), "FHS");
  EXPECT_EQ(splitter.batch_header().substr(0, 3), "BHS");
  EXPECT_TRUE(splitter.saw_batch_trailer());
  EXPECT_EQ(splitter.declared_batch_messages(), 2u);
  EXPECT_EQ(splitter.stray_lines(), 0u);

  const auto framed = split_all("\x0BMSH|^~\\&|A\rPID|1\r\x1C\r\x0BMSH|^~\\&|B\rPID|2\r\x1C\r");
  ASSERT_EQ(framed.size(), 2u);
  EXPECT_EQ(framed[0], "MSH|^~\\&|A\rPID|1\r");
  Message parsed;
  EXPECT_EQ(parsed.parse(framed[1]), Message::Status::kOk);
  EXPECT_EQ(parsed.segment_count(), 2u);
}

TEST(Hl7Splitter, ConcatenatedFilesKeepTheirBoms) {
  const auto messages = split_all("\xEF\xBB\xBFMSH|^~\\&|A\nPID|1\n\xEF\xBB\xBFMSH|^~\\&|B\nPID|2\n");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1], "MSH|^~\\&|B\nPID|2\n");
}

TEST(Hl7Splitter, CountsStrayLinesBeforeTheFirstMessage) {
  MessageSplitter splitter("garbage\rMSH|^~\\&|A\rPID|1\r");
  std::string_view m;
  ASSERT_TRUE(splitter.next(m));
  EXPECT_EQ(splitter.stray_lines(), 1u);
  EXPECT_FALSE(splitter.next(m));
}

// Every public sample parses whatever its line ends (CR, LF, CRLF, BOM).
TEST(Hl7Samples, EverySampleVxuParses) {
  struct Expect {
    const char* file;
    std::size_t messages;
  };
  const Expect samples[] = {
      {"CDCgov_CDC_IIS_Open_Tools__testgood.hl7", 33},
      {"CDCgov_CDC_IIS_Open_Tools__Adult_z22_New_Covid_vaccine.hl7", 1},
      {"CDCgov_CDC_IIS_Open_Tools__Adult_z22_non-vaccination_deferral.hl7", 1},
      {"CDCgov_CDC_IIS_Open_Tools__testencoding.hl7", 2},
      {"microsoft_FHIR-Converter__VXU.hl7", 1},
      {"microsoft_FHIR-Converter__IZ_1_1.1_Admin_Child_Max_Message.hl7", 1},
      {"microsoft_FHIR-Converter__VXU-V04-01.hl7", 1},
      {"immregistries_national-ig-text-working__IG_AppendixA_VXU1_basic.hl7", 1},
      {"immregistries_national-ig-text-working__IG_AppendixA_ACK_examples.hl7", 7},
  };
  for (const auto& sample : samples) {
    const std::string input = read_file(kSamples + sample.file);
    ASSERT_FALSE(input.empty()) << sample.file;
    const auto messages = split_all(input);
    EXPECT_EQ(messages.size(), sample.messages) << sample.file;
    Message m;
    for (const auto& text : messages) {
      ASSERT_EQ(m.parse(text), Message::Status::kOk) << sample.file;
      EXPECT_EQ(m.segment(0).id(), "MSH");
      EXPECT_GE(m.segment_count(), 2u) << sample.file;
      for (std::size_t i = 0; i < m.segment_count(); ++i) {
        const auto seg = m.segment(i).text();
        EXPECT_EQ(seg.find('\r'), std::string_view::npos) << sample.file;
        EXPECT_EQ(seg.find('\n'), std::string_view::npos) << sample.file;
      }
    }
  }
}

TEST(Hl7Samples, FhirConverterBomLfSampleFields) {
  const std::string input = read_file(kSamples + "microsoft_FHIR-Converter__VXU.hl7");
  ASSERT_EQ(input.substr(0, 3), "\xEF\xBB\xBF");
  Message m;
  ASSERT_EQ(m.parse(input), Message::Status::kOk);
  EXPECT_EQ(m.msh(9).component(1).raw(), "VXU");
  EXPECT_EQ(m.msh(12).raw(), "2.5.1");
  const std::size_t rxa = m.find("RXA");
  ASSERT_LT(rxa, m.segment_count());
  EXPECT_EQ(m.segment(rxa).field(5).component(3).raw(), "NDC") << "NIST puts the NDC first";
}

}  // namespace
}  // namespace vaxetl::hl7
