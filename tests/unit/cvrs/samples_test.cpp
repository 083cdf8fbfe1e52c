// CDC's own sample files: testgood.txt has no errors and maps to the canonical values written in
// data/testgood-expected.tsv; testgoodv1.txt reads as v1.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cvrs_test_support.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::cvrs::testing {
namespace {

struct SampleRun {
  std::map<std::string, std::map<std::string, std::string>> records;  // event id -> column -> value
  std::map<std::string, Outcome> outcomes;
  std::vector<FindingList::Item> findings;
  std::map<std::string, std::string> holds;
  const Layout* layout = nullptr;
};

SampleRun read_sample(const std::string& path) {
  SampleRun run;
  sdk::LineReader reader(path);
  std::string_view line;
  EXPECT_TRUE(reader.next(line));
  const auto header = detect_layout(shipped_model(), line);
  EXPECT_FALSE(header.error) << header.error->message;
  run.layout = header.layout;
  RecordValidator validator(shipped_model(), kToday, test_options());
  validator.start_file(*header.layout);
  NormalizedRecord record;
  while (reader.next(line)) {
    if (sdk::trim(line).empty()) continue;
    FindingList findings;
    const Outcome outcome = validator.validate(line, record, findings);
    const std::string id(record.get("vax_event_id"));
    run.outcomes[id] = outcome;
    if (outcome == Outcome::kHeld) run.holds[id] = std::string(validator.hold_code());
    for (const auto& item : findings.items()) run.findings.push_back(item);
    auto& columns = run.records[id];
    for (std::size_t c = 0; c < canonical::kColumns.size(); ++c)
      columns[std::string(canonical::kColumns[c])] = std::string(record[c]);
  }
  return run;
}

TEST(CvrsSamples, TestGoodHasNoErrorsAndIsHeldAsMichigan) {
  const auto run = read_sample(kSamples + "testgood.txt");
  EXPECT_EQ(run.layout->version(), "2");
  EXPECT_EQ(run.records.size(), 33u);
  for (const auto& item : run.findings) {
    EXPECT_EQ(item.severity, Severity::kWarning) << item.code << " " << item.field_name << ": " << item.message;
    EXPECT_EQ(item.code, codes::kPlaceholderCode) << item.field_name;
  }
  // Every sample vaccination was given in Michigan: held, not loaded, not rejected. One row
  // names no administration state, county or ZIP at all: held as unknown.
  for (const auto& [id, outcome] : run.outcomes) {
    EXPECT_EQ(outcome, Outcome::kHeld) << id;
    EXPECT_EQ(run.holds.at(id), id == "good_admin_address_county_missing" ? codes::kAdminStateUnknown
                                                                         : codes::kNotNorthCarolina) << id;
  }
}

TEST(CvrsSamples, TestGoodMapsToTheExpectedCanonicalValues) {
  const auto run = read_sample(kSamples + "testgood.txt");
  std::ifstream expected(VAXETL_SOURCE_DIR "/tests/unit/cvrs/data/testgood-expected.tsv");
  ASSERT_TRUE(expected.good());
  std::string line;
  int checked = 0;
  while (std::getline(expected, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream cells(line);
    std::string id, column, value;
    std::getline(cells, id, '\t');
    std::getline(cells, column, '\t');
    std::getline(cells, value);
    if (id == "vax_event_id") continue;  // header
    ASSERT_TRUE(run.records.count(id)) << id;
    ASSERT_TRUE(run.records.at(id).count(column)) << column;
    EXPECT_EQ(run.records.at(id).at(column), value) << id << " " << column;
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(CvrsSamples, TestGoodV1ReadsAsV1) {
  const auto run = read_sample(kSamples + "testgoodv1.txt");
  EXPECT_EQ(run.layout->version(), "1");
  EXPECT_GT(run.records.size(), 30u);
  // Missed-appointment records (v1 only) need no vaccine fields. The sample's rows named
  // good_<field>_missing lack a field v2 requires: they are refused for that field alone, and
  // one row drops its last (empty) field's tab, which CVRS requires kept.
  for (const auto& [id, outcome] : run.outcomes) {
    if (id.empty()) continue;  // the field-count row: the validator does not split it
    if (id.rfind("good_", 0) == 0 && id.size() > 13 && id.substr(id.size() - 8) == "_missing") continue;
    EXPECT_NE(outcome, Outcome::kRejected) << id;
  }
  int field_count_errors = 0;
  for (const auto& item : run.findings) {
    field_count_errors += item.code == codes::kFieldCount;
    EXPECT_TRUE(item.code == codes::kFieldCount || item.code == codes::kPlaceholderCode || item.code == codes::kRequired)
        << item.code << " " << item.field_name;
  }
  EXPECT_EQ(field_count_errors, 1);
  EXPECT_EQ(run.records.at("good1_sample1").at("dose_status"), "Not Administered") << "a missed appointment";
  EXPECT_EQ(run.records.at("good1_sample1").at("admin_type"), "1");
}

}  // namespace
}  // namespace vaxetl::cvrs::testing
