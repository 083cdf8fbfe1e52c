// Every HL7 sample in tests/fixtures/samples/ through the converter, row by row, against the
// expected canonical values written down in data/sample_rows.tsv: for each row its finding
// codes, whether it is rejected, and the value of every non-null column (a column not listed
// must be null). The CDC samples use placeholder CVX codes (902, 24 ...) and the NIST / IG
// ones non-COVID vaccines, so they are rejected as VXU_NOT_COVID: their rows are still
// compared as mapped. Broken samples (HL7 2.8, a bad segment id, ACKs) are listed with the
// codes they must produce.
//
// After a deliberate mapping change, VAXETL_WRITE_SAMPLE_ROWS=<file> writes the actual lines
// to <file>; review the difference against the sample text field by field before copying it
// over data/sample_rows.tsv.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "hl7/message.hpp"
#include "vxu/converter.hpp"
#include "vxu_test_support.hpp"

namespace vaxetl::vxu {
namespace {

using testing::catalog;
using testing::kSamples;
using testing::read_file;

constexpr ncvr::Date kSamplesToday{2026, 1, 1};

// Every sample holding HL7 v2 messages. The order-group fragments of the IG are not
// messages: each is loaded inside kFragmentHeader (an MSH and a PID).
const char* const kSampleFiles[] = {
    "CDCgov_CDC_IIS_Open_Tools__testgood.hl7",
    "CDCgov_CDC_IIS_Open_Tools__testencoding.hl7",
    "CDCgov_CDC_IIS_Open_Tools__Adult_z22_New_Covid_vaccine.hl7",
    "CDCgov_CDC_IIS_Open_Tools__Adult_z22_non-vaccination_deferral.hl7",
    "CDCgov_CDC_IIS_Open_Tools__Adult_z22_non-vaccination_missed_appointment.hl7",
    "CDCgov_CDC_IIS_Open_Tools__Adult_z22_serologic_evidence_covid.hl7",
    "immregistries_national-ig-text-working__IG_AppendixA_VXU1_basic.hl7",
    "immregistries_national-ig-text-working__IG_AppendixA_ACK_examples.hl7",
    "immregistries_national-ig-text-working__IG_AppendixA_order_group_fragments.txt",
    "microsoft_FHIR-Converter__VXU.hl7",
    "microsoft_FHIR-Converter__IZ_1_1.1_Admin_Child_Max_Message.hl7",
    "microsoft_FHIR-Converter__VXU-V04-01.hl7",
    "microsoft_FHIR-Converter__VXU-V04-02.hl7",
};

const std::string kFragments = "immregistries_national-ig-text-working__IG_AppendixA_order_group_fragments.txt";
const std::string kFragmentHeader =
    "MSH|^~\\&|MYEHR|DCS|MYIIS||20090531145259||VXU^V04^VXU_V04|FRAGMENT|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r"
    "PID|1||432155^^^DCS^MR||Patient^Johnny^New^^^^L||20090214|M\r";

// The messages of a sample file, as the plugin would see them.
std::vector<std::string> messages_of(const std::string& file) {
  const std::string input = read_file(kSamples + file);
  std::vector<std::string> out;
  if (file == kFragments) {
    // Fragments are separated by blank lines.
    std::string current;
    std::istringstream in(input);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        if (!current.empty()) out.push_back(kFragmentHeader + current);
        current.clear();
      } else {
        for (char& c : line)
          if (c == '\r') c = '\r';
        current += line + "\r";
      }
    }
    if (!current.empty()) out.push_back(kFragmentHeader + current);
    return out;
  }
  hl7::MessageSplitter splitter(input);
  std::string_view m;
  while (splitter.next(m)) out.emplace_back(m);
  return out;
}

// Tabs, line ends, backslashes and bytes outside printable ASCII are written as escapes.
std::string encode(std::string_view value) {
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      out += hex;
    } else out += ch;
  }
  return out;
}

// One row as a TSV line: file, message (1-based), row (1-based), codes, rejected, then
// column=value for every non-null column in canonical order.
std::vector<std::string> actual_lines() {
  std::vector<std::string> lines;
  hl7::Message message;
  Converter converter(catalog(), ConverterOptions{"", kSamplesToday, false});
  for (const std::string file : kSampleFiles) {
    const auto messages = messages_of(file);
    EXPECT_FALSE(messages.empty()) << file;
    for (std::size_t m = 0; m < messages.size(); ++m) {
      converter.convert(message, message.parse(messages[m]));
      for (std::size_t r = 0; r < converter.row_count(); ++r) {
        std::set<std::string> codes;
        const std::size_t group = converter.row_group(r);
        for (const auto& f : converter.findings())
          if (f.group == group || f.group == 0) codes.emplace(f.code);
        std::string line = file + "\t" + std::to_string(m + 1) + "\t" + std::to_string(r + 1) + "\tcodes=";
        bool first = true;
        for (const auto& code : codes) {
          if (!first) line += ',';
          line += code;
          first = false;
        }
        line += converter.row_rejected(r) ? "\trejected=yes" : "\trejected=no";
        const CanonicalRow& row = converter.row(r);
        for (std::size_t c = 0; c < row.size(); ++c) {
          if (row[c].empty()) continue;
          line += '\t';
          line += canonical::kColumns[c];
          line += '=';
          line += encode(row[c]);
        }
        lines.push_back(line);
      }
    }
  }
  return lines;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

TEST(VxuSamples, EveryRowHasItsExpectedCanonicalValues) {
  const std::vector<std::string> actual = actual_lines();
  if (const char* out = std::getenv("VAXETL_WRITE_SAMPLE_ROWS")) {
    std::ofstream file(out, std::ios::binary);
    for (const auto& line : actual) file << line << "\n";
  }

  // Expected: key (file, message, row) -> fields after the key.
  std::map<std::string, std::vector<std::string>> expected;
  std::ifstream in(VAXETL_SOURCE_DIR "/tests/unit/vxu/data/sample_rows.tsv", std::ios::binary);
  ASSERT_TRUE(in) << "tests/unit/vxu/data/sample_rows.tsv";
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto fields = fields_of(line);
    ASSERT_GE(fields.size(), 5u) << line;
    const std::string key = fields[0] + " message " + fields[1] + " row " + fields[2];
    ASSERT_EQ(expected.count(key), 0u) << "duplicate " << key;
    expected[key] = std::vector<std::string>(fields.begin() + 3, fields.end());
  }

  std::set<std::string> seen;
  for (const auto& line : actual) {
    const auto fields = fields_of(line);
    const std::string key = fields[0] + " message " + fields[1] + " row " + fields[2];
    seen.insert(key);
    const auto it = expected.find(key);
    if (it == expected.end()) {
      ADD_FAILURE() << "no expected values for " << key << ":\n" << line;
      continue;
    }
    // Field by field, both ways: every expected column=value present, nothing else non-null.
    const std::set<std::string> got(fields.begin() + 3, fields.end());
    const std::set<std::string> want(it->second.begin(), it->second.end());
    for (const auto& w : want)
      if (got.count(w) == 0) ADD_FAILURE() << key << ": expected " << w;
    for (const auto& g : got)
      if (want.count(g) == 0) ADD_FAILURE() << key << ": unexpected " << g;
  }
  for (const auto& [key, fields] : expected)
    if (seen.count(key) == 0) ADD_FAILURE() << "expected row not produced: " << key;
}

TEST(VxuSamples, EverySampleFileIsCovered) {
  // A new HL7 sample dropped into the folder must be added here (and to the TSV).
  std::set<std::string> listed(std::begin(kSampleFiles), std::end(kSampleFiles));
  const std::string sources = read_file(kSamples + "SOURCES.md");
  for (const std::string name : {"testgood.hl7", "testencoding.hl7", "Adult_z22", "VXU1_basic",
                                 "ACK_examples", "order_group_fragments", "VXU.hl7", "IZ_1_1",
                                 "VXU-V04-01", "VXU-V04-02"}) {
    bool found = false;
    for (const auto& file : listed) found |= file.find(name) != std::string::npos;
    EXPECT_TRUE(found) << name;
  }
  EXPECT_NE(sources.find("Adult z22 serologic evidence covid"), std::string::npos);
}

}  // namespace
}  // namespace vaxetl::vxu
