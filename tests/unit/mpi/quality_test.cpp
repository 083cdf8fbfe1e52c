// Quality regression on small labelled sets copied into tests/fixtures/mpi (see SOURCES.md):
// EM from the data (no labels), records inserted in file order, pairwise F1 against the truth.
// Thresholds sit just under what the matcher achieves (docs/mpi-matching.md has the numbers).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "test_tables.hpp"

namespace vaxetl::mpi {
namespace {

struct Row {
  std::uint64_t truth = 0;
  std::vector<std::string> fields;
};

std::string trim(std::string text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\r')) text.erase(0, 1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

std::vector<std::vector<std::string>> read_rows(const std::string& name) {
  std::ifstream in(std::string(VAXETL_MPI_FIXTURE_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> fields(1);
    for (char c : line) {
      if (c == ',') fields.emplace_back();
      else fields.back().push_back(c);
    }
    for (auto& f : fields) f = trim(f);
    rows.push_back(std::move(fields));
  }
  return rows;
}

std::uint64_t number(std::string_view text) {
  std::uint64_t n = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

double pairwise_f1(const std::vector<PersonInput>& inputs, const std::vector<std::uint64_t>& truth) {
  const Model model = estimate_model(inputs, test::tables(), Model::defaults());
  Matcher matcher(test::tables(), model);
  std::map<std::uint64_t, double> by_predicted, by_truth;
  std::map<std::pair<std::uint64_t, std::uint64_t>, double> by_both;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const MasterId id = matcher.match(inputs[i]).mpi_id;
    by_predicted[id] += 1;
    by_truth[truth[i]] += 1;
    by_both[{id, truth[i]}] += 1;
  }
  auto pairs = [](double n) { return n * (n - 1) / 2; };
  double predicted = 0, actual = 0, correct = 0;
  for (const auto& [k, n] : by_predicted) predicted += pairs(n);
  for (const auto& [k, n] : by_truth) actual += pairs(n);
  for (const auto& [k, n] : by_both) correct += pairs(n);
  const double precision = predicted > 0 ? correct / predicted : 1, recall = actual > 0 ? correct / actual : 1;
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
}

TEST(MpiQuality, FebrlDataset1) {
  const auto rows = read_rows("febrl_dataset1.csv");
  ASSERT_EQ(rows.size(), 1000u);
  std::vector<std::string> streets(rows.size());
  std::vector<PersonInput> inputs;
  std::vector<std::uint64_t> truth;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), 11u);
    truth.push_back(number(r[0].substr(0, r[0].find('-', 4))));  // rec-<n>-org / rec-<n>-dup-<k>
    streets[i] = r[3].empty() ? r[4] : r[3] + std::string(" ") + r[4];
    PersonInput in;
    in.first_name = r[1];
    in.last_name = r[2];
    in.street = streets[i];
    in.street_2 = r[5];
    in.city = r[6];
    in.zip = r[7];
    in.state = r[8];
    in.birth_date = r[9];
    in.ssn = r[10];
    inputs.push_back(in);
  }
  const double f1 = pairwise_f1(inputs, truth);
  EXPECT_GE(f1, 0.99);  // the target
  RecordProperty("f1", std::to_string(f1));
}

TEST(MpiQuality, SplinkFake1000) {
  const auto rows = read_rows("splink_fake_1000.csv");
  ASSERT_EQ(rows.size(), 1000u);
  std::vector<PersonInput> inputs;
  std::vector<std::uint64_t> truth;
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 7u);
    PersonInput in;
    in.first_name = r[1];
    in.last_name = r[2];
    in.birth_date = r[3];
    in.city = r[4];
    in.email = r[5];
    inputs.push_back(in);
    truth.push_back(number(r[6]));
  }
  const double f1 = pairwise_f1(inputs, truth);
  EXPECT_GE(f1, 0.59);  // 0.506 before the near-DOB, transposition and blocking work
  RecordProperty("f1", std::to_string(f1));
}

}  // namespace
}  // namespace vaxetl::mpi
