// mpi_bench: the patient matcher over labelled record-linkage data (FEBRL 1-3, Splink
// fake_1000, NCVR 5-party at 0/20/40% corruption) and, when the generator is built, over a
// generated population of a million people. Prints pairwise precision, recall and F1, blocking
// pair completeness, candidates per record and records per second, with two baselines on the
// same data: the exact rule (first + last + DOB + sex) and the matcher with one blocking key.
//
// Usage: mpi_bench [--data DIR] [--only NAME] [--people N] [--day N] [--em-sample N]
//                  [--no-population] [--no-labelled]
// Not a test: no thresholds are asserted here; see docs/mpi-matching.md for the targets.
#include "mpi_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace vaxetl::mpi_bench {

mpi::PersonInput OwnedRecord::input() const {
  mpi::PersonInput in;
  in.source = source;
  in.recipient_id = recipient_id;
  in.first_name = first_name;
  in.middle_name = middle_name;
  in.last_name = last_name;
  in.suffix = suffix;
  in.birth_date = birth_date;
  in.sex = sex;
  in.street = street;
  in.street_2 = street_2;
  in.city = city;
  in.state = state;
  in.zip = zip;
  in.phone = phone;
  in.email = email;
  in.ssn = ssn;
  return in;
}

PairCounts pair_counts(const std::vector<std::uint64_t>& predicted, const std::vector<std::uint64_t>& truth) {
  std::unordered_map<std::uint64_t, double> by_predicted, by_truth;
  std::map<std::pair<std::uint64_t, std::uint64_t>, double> by_both;
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    by_predicted[predicted[i]] += 1;
    by_truth[truth[i]] += 1;
    by_both[{predicted[i], truth[i]}] += 1;
  }
  auto pairs = [](double n) { return n * (n - 1) / 2; };
  PairCounts counts;
  for (const auto& [k, n] : by_predicted) counts.predicted_pairs += pairs(n);
  for (const auto& [k, n] : by_truth) counts.true_pairs += pairs(n);
  for (const auto& [k, n] : by_both) counts.true_positive += pairs(n);
  return counts;
}

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split_csv_line(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back().push_back(c);
    }
  }
  return fields;
}

std::string trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return std::string(text);
}

// Rows after the header (a UTF-8 BOM is dropped).
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (line.empty() || line == "\r") continue;
    auto fields = split_csv_line(line);
    for (auto& f : fields) f = trim(f);
    rows.push_back(std::move(fields));
  }
  return rows;
}

std::uint64_t parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// FEBRL: rec-<n>-org / rec-<n>-dup-<k>; soc_sec_id -> ssn; street number + address_1 -> street.
std::vector<OwnedRecord> load_febrl(const std::string& path) {
  std::vector<OwnedRecord> records;
  for (const auto& row : read_csv(path)) {
    if (row.size() < 11) continue;
    OwnedRecord r;
    const std::string& id = row[0];
    const auto first_dash = id.find('-');
    const auto second_dash = id.find('-', first_dash + 1);
    r.truth = parse_u64(std::string_view(id).substr(first_dash + 1, second_dash - first_dash - 1));
    r.first_name = row[1];
    r.last_name = row[2];
    r.street = row[3];
    if (!r.street.empty()) r.street.push_back(' ');
    r.street.append(row[4]);
    r.street_2 = row[5];
    r.city = row[6];
    r.zip = row[7];
    r.state = row[8];
    r.birth_date = row[9];
    r.ssn = row[10];
    records.push_back(std::move(r));
  }
  return records;
}

// Splink fake_1000: unique_id, first_name, surname, dob, city, email, cluster.
std::vector<OwnedRecord> load_fake_1000(const std::string& path) {
  std::vector<OwnedRecord> records;
  for (const auto& row : read_csv(path)) {
    if (row.size() < 7) continue;
    OwnedRecord r;
    r.first_name = row[1];
    r.last_name = row[2];
    r.birth_date = row[3];
    r.city = row[4];
    r.email = row[5];
    r.truth = parse_u64(row[6]);
    records.push_back(std::move(r));
  }
  return records;
}

// NCVR 5-party: parties myp_0..myp_4 in order; rows are recid, givenname, surname, suburb,
// postcode whatever the header says. recid is the truth only; the party is the source.
std::vector<OwnedRecord> load_ncvr(const std::string& dir, int corruption) {
  std::vector<OwnedRecord> records;
  for (int party = 0; party < 5; ++party) {
    std::string path = dir;
    path.append("/ncvr_numrec_5000_modrec_2_ocp_").append(std::to_string(corruption));
    path.append("_myp_").append(std::to_string(party)).append("_nump_5.csv");
    for (const auto& row : read_csv(path)) {
      if (row.size() < 5) continue;
      OwnedRecord r;
      r.truth = parse_u64(row[0]);
      r.source = std::string("P").append(std::to_string(party));
      r.first_name = row[1];
      r.last_name = row[2];
      r.city = row[3];
      r.zip = row[4];
      records.push_back(std::move(r));
    }
  }
  return records;
}

struct RunResult {
  PairCounts pairs;
  double pair_completeness = -1;  // -1: not applicable
  double candidates_per_record = 0;
  double records_per_second = 0;
  std::size_t masters = 0;
};

// Inserts the records in order; pair completeness counts, for each record and each earlier
// record of the same entity, whether the master that earlier record went to was a candidate.
RunResult run_matcher(const std::vector<OwnedRecord>& records, const std::shared_ptr<const mpi::ReferenceTables>& tables,
                      const mpi::Model& model, const mpi::MatcherSettings& settings) {
  mpi::Matcher matcher(tables, model, settings);
  std::vector<std::uint64_t> predicted(records.size()), truth(records.size());
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> masters_of_entity;  // masters earlier records went to
  double covered = 0, comparable = 0, candidates = 0, seconds = 0;
  const bool diagnose = std::getenv("MPI_BENCH_DIAG") != nullptr;
  int missed_shown = 0;
  std::map<std::string, std::size_t> outcomes;
  std::vector<mpi::PersonInput> inputs;
  inputs.reserve(records.size());
  for (const auto& r : records) inputs.push_back(r.input());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto start = Clock::now();
    const mpi::MatchResult& result = matcher.match(inputs[i]);
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    predicted[i] = result.mpi_id;
    truth[i] = records[i].truth;
    candidates += result.candidates;
    auto& earlier = masters_of_entity[records[i].truth];
    if (diagnose) {
      const bool seen = !earlier.empty();
      const bool right = std::find(earlier.begin(), earlier.end(), result.mpi_id) != earlier.end();
      std::string outcome = result.decision == mpi::Decision::Linked ? (right ? "linked ok" : "linked WRONG")
                                                                     : std::string(mpi::decision_name(result.decision));
      if (!result.rule.empty()) outcome.append(" rule=").append(result.rule);
      outcome.append(seen ? " (entity seen)" : " (entity new)");
      ++outcomes[outcome];
      if (std::getenv("MPI_BENCH_DIAG_PAIRS") && ((seen && !right) || (!seen && result.decision == mpi::Decision::Linked))) {
        std::printf("  record %zu %s score %.1f runner-up %.1f:", i, outcome.c_str(), result.score, result.runner_up_score);
        for (std::size_t f = 0; f < mpi::kFieldCount; ++f) {
          if (result.comparison[f].level == 0) continue;
          const auto field = static_cast<mpi::Field>(f);
          std::printf(" %s=%s(%.1f)", std::string(mpi::field_name(field)).c_str(),
                      std::string(mpi::level_name(field, result.comparison[f].level)).c_str(),
                      result.comparison[f].weight);
        }
        std::printf("\n");
      }
    }
    const auto proposed = matcher.last_candidates();
    for (std::uint64_t master : earlier) {
      comparable += 1;
      if (std::find(proposed.begin(), proposed.end(), master) != proposed.end()) {
        covered += 1;
      } else if (std::getenv("MPI_BENCH_DIAG_MISSED") && missed_shown < 40) {
        ++missed_shown;
        std::printf("  missed: %s|%s|%s|%s|%s vs master %llu:", records[i].first_name.c_str(), records[i].last_name.c_str(),
                    records[i].birth_date.c_str(), records[i].city.c_str(), records[i].zip.c_str(),
                    static_cast<unsigned long long>(master));
        matcher.for_each_value(master, [](mpi::Field f, std::string_view v) {
          std::printf(" %s=%.*s", std::string(mpi::field_name(f)).c_str(), static_cast<int>(v.size()), v.data());
        });
        std::printf("\n");
      }
    }
    earlier.push_back(result.mpi_id);
  }
  for (const auto& [outcome, count] : outcomes) std::printf("  %-50s %zu\n", outcome.c_str(), count);
  RunResult out;
  out.pairs = pair_counts(predicted, truth);
  out.pair_completeness = comparable > 0 ? covered / comparable : 1.0;
  out.candidates_per_record = records.empty() ? 0 : candidates / static_cast<double>(records.size());
  out.records_per_second = seconds > 0 ? static_cast<double>(records.size()) / seconds : 0;
  out.masters = matcher.master_count();
  return out;
}

// Baseline: first + last + DOB + sex equal after normalization (missing DOB/sex compare as
// equal empty values; first and last must be present) -> same person.
RunResult run_exact_rule(const std::vector<OwnedRecord>& records, const std::shared_ptr<const mpi::ReferenceTables>& tables) {
  mpi::Matcher normalizer(tables, mpi::Model::defaults());
  std::map<std::string, std::uint64_t> cluster_of_key;
  std::vector<std::uint64_t> predicted(records.size()), truth(records.size());
  std::uint64_t next = 1;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::string first, last, dob, sex;
    normalizer.normalized_values(records[i].input(), [&](mpi::Field field, std::string_view value) {
      if (field == mpi::Field::FirstName) first = value;
      if (field == mpi::Field::LastName) last = value;
      if (field == mpi::Field::BirthDate) dob = value;
      if (field == mpi::Field::Sex) sex = value;
    });
    truth[i] = records[i].truth;
    if (first.empty() || last.empty()) {
      predicted[i] = next++;
      continue;
    }
    std::string key = first;
    key.append("|").append(last).append("|").append(dob).append("|").append(sex);
    auto [it, inserted] = cluster_of_key.emplace(key, next);
    if (inserted) ++next;
    predicted[i] = it->second;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  RunResult out;
  out.pairs = pair_counts(predicted, truth);
  out.records_per_second = seconds > 0 ? static_cast<double>(records.size()) / seconds : 0;
  return out;
}

void print_header() {
  std::printf("%-16s %-22s %9s %9s %9s %9s %9s %9s %11s\n", "dataset", "method", "precision", "recall",
              "F1", "pair_comp", "cand/rec", "masters", "records/s");
}

void print_line(const std::string& dataset, const std::string& method, const RunResult& r) {
  char completeness[16];
  if (r.pair_completeness < 0) std::snprintf(completeness, sizeof completeness, "%9s", "-");
  else std::snprintf(completeness, sizeof completeness, "%9.4f", r.pair_completeness);
  std::printf("%-16s %-22s %9.4f %9.4f %9.4f %s %9.2f %9zu %11.0f\n", dataset.c_str(), method.c_str(),
              r.pairs.precision(), r.pairs.recall(), r.pairs.f1(), completeness, r.candidates_per_record,
              r.masters, r.records_per_second);
  std::fflush(stdout);
}

void run_dataset(const std::string& name, const std::vector<OwnedRecord>& records,
                 const std::shared_ptr<const mpi::ReferenceTables>& tables) {
  std::vector<mpi::PersonInput> inputs;
  inputs.reserve(records.size());
  for (const auto& r : records) inputs.push_back(r.input());
  mpi::EstimationReport report;
  const auto em_start = Clock::now();
  const mpi::Model model = std::getenv("MPI_BENCH_NO_EM")
                               ? mpi::Model::defaults()
                               : mpi::estimate_model(inputs, tables, mpi::Model::defaults(), &report);
  const double em_seconds = std::chrono::duration<double>(Clock::now() - em_start).count();
  std::printf("%-16s EM: %u candidate pairs, %u iterations, match share %.4f, %.2f s (no labels used)\n",
              name.c_str(), report.pairs, report.iterations, report.match_share, em_seconds);
  if (std::getenv("MPI_BENCH_PRINT_MODEL")) std::printf("%s", model.to_text().c_str());
  print_line(name, "matcher", run_matcher(records, tables, model, {}));
  mpi::MatcherSettings single;
  single.single_blocking_key = true;
  print_line(name, "matcher, 1 key", run_matcher(records, tables, model, single));
  print_line(name, "exact rule", run_exact_rule(records, tables));
}

}  // namespace
}  // namespace vaxetl::mpi_bench

int main(int argc, char** argv) {
  using namespace vaxetl;
  std::string data_dir = std::string(VAXETL_SOURCE_DIR) + "/../shared/mpi-data";
  std::string only;
  std::uint64_t people = 1'000'000, day = 200'000, em_sample = 100'000;
  bool population = true, labelled = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--data") data_dir = value();
    else if (arg == "--only") only = value();
    else if (arg == "--people") people = std::stoull(value());
    else if (arg == "--day") day = std::stoull(value());
    else if (arg == "--em-sample") em_sample = std::stoull(value());
    else if (arg == "--no-population") population = false;
    else if (arg == "--no-labelled") labelled = false;
    else if (!arg.empty() && arg[0] != '-') data_dir = std::string(arg);
    else {
      std::fprintf(stderr, "usage: mpi_bench [--data DIR] [--only NAME] [--people N] [--day N] "
                           "[--em-sample N] [--no-population] [--no-labelled]\n");
      return 64;
    }
  }
  try {
    auto tables = mpi::load_reference_tables(VAXETL_MPI_DATA_DIR);
    if (labelled) {
      std::printf("mpi_bench: labelled data from %s\n", data_dir.c_str());
      std::printf("single-key baseline uses: %s\n",
                  mpi::blocking_keys_description(mpi::MatcherSettings{.single_blocking_key = true}).c_str());
      std::printf("pair_comp = share of (record, earlier record of the same entity) pairs whose earlier\n"
                  "record's master was among the record's candidates when it was inserted\n\n");
      mpi_bench::print_header();
      auto want = [&](const std::string& name) { return only.empty() || name.find(only) != std::string::npos; };
      for (int set = 1; set <= 3; ++set) {
        const std::string name = "febrl" + std::to_string(set);
        if (want(name)) {
          mpi_bench::run_dataset(name, mpi_bench::load_febrl(data_dir + "/febrl/dataset" + std::to_string(set) + ".csv"), tables);
        }
      }
      if (want("fake_1000")) mpi_bench::run_dataset("fake_1000", mpi_bench::load_fake_1000(data_dir + "/splink/fake_1000.csv"), tables);
      for (int corruption : {0, 20, 40}) {
        const std::string name = "ncvr5p_" + std::to_string(corruption);
        if (want(name)) mpi_bench::run_dataset(name, mpi_bench::load_ncvr(data_dir + "/ncvr-5party", corruption), tables);
      }
      std::printf("\n");
    }
    if (population && !mpi_bench::run_population(tables, people, day, em_sample)) {
      std::printf("generated population: skipped (vaxetl_mpi_population is not built)\n");
    }
    std::printf("peak RSS: %.0f MiB\n", mpi_bench::peak_rss_mib());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "mpi_bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
