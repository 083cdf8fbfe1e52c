// mpi_bench, generated population: an index of N base people, then a day of records
// (returning people with errors, new people, twins and relatives) matched against it.
#include "mpi_bench.hpp"

#include <algorithm>

#ifdef VAXETL_MPI_BENCH_POPULATION
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>

#include "population.hpp"
#endif

namespace vaxetl::mpi_bench {

#ifndef VAXETL_MPI_BENCH_POPULATION
bool run_population(const std::shared_ptr<const mpi::ReferenceTables>&, std::uint64_t, std::uint64_t,
                    std::uint64_t) {
  return false;
}
#else
namespace {

OwnedRecord owned(mpi_gen::PersonRecord&& r) {
  OwnedRecord o;
  o.truth = r.person_id;
  o.relation = std::move(r.relation);
  o.errors = std::move(r.errors);
  o.source = std::move(r.source);
  o.recipient_id = std::move(r.recipient_id);
  o.first_name = std::move(r.first_name);
  o.middle_name = std::move(r.middle_name);
  o.last_name = std::move(r.last_name);
  o.suffix = std::move(r.suffix);
  o.birth_date = std::move(r.birth_date);
  o.sex = std::move(r.sex);
  o.street = std::move(r.street);
  o.street_2 = std::move(r.street_2);
  o.city = std::move(r.city);
  o.state = std::move(r.state);
  o.zip = std::move(r.zip);
  o.phone = std::move(r.phone);
  o.email = std::move(r.email);
  o.ssn = std::move(r.ssn);
  return o;
}

using Clock = std::chrono::steady_clock;

// Diagnostics (MPI_BENCH_DIAG=1): level patterns of wrong links, by the truth relation.
struct WrongLinks {
  bool on = std::getenv("MPI_BENCH_DIAG") != nullptr;
  std::unordered_map<mpi::MasterId, std::uint64_t> truth_of_master;  // the person who created it
  std::map<std::string, std::size_t> patterns;
  void note(const mpi::MatchResult& result, std::uint64_t truth, const std::string& relation,
            const std::string& errors) {
    if (!on) return;
    if (result.decision != mpi::Decision::Linked) {
      truth_of_master.emplace(result.mpi_id, truth);
      return;
    }
    const auto it = truth_of_master.find(result.mpi_id);
    if (it == truth_of_master.end() || it->second == truth) return;
    std::string pattern = relation.empty() ? "unrelated" : relation.substr(0, relation.find(':'));
    pattern.append(" [").append(errors).append("]");
    for (std::size_t f = 0; f < mpi::kFieldCount; ++f) {
      if (result.comparison[f].level == 0) continue;
      const auto field = static_cast<mpi::Field>(f);
      pattern.append(" ").append(mpi::field_name(field)).append("=").append(mpi::level_name(field, result.comparison[f].level));
    }
    ++patterns[pattern];
  }
  void print() const {
    if (!on) return;
    // MPI_BENCH_DIAG=all lists every pattern (to compare two runs), else the 40 most common.
    const std::size_t kPatternsShown = std::string_view(std::getenv("MPI_BENCH_DIAG")) == "all" ? SIZE_MAX : 40;
    std::vector<std::pair<std::size_t, std::string>> sorted;
    for (const auto& [p, n] : patterns) sorted.emplace_back(n, p);
    std::sort(sorted.rbegin(), sorted.rend());
    for (std::size_t i = 0; i < sorted.size() && i < kPatternsShown; ++i) std::printf("    %5zu %s\n", sorted[i].first, sorted[i].second.c_str());
  }
};

}  // namespace

bool run_population(const std::shared_ptr<const mpi::ReferenceTables>& tables, std::uint64_t people,
                    std::uint64_t day_records, std::uint64_t em_sample) {
  mpi_gen::PopulationOptions options;
  options.people = people;
  options.day_records = day_records;
  mpi_gen::PopulationGenerator generator(options, mpi_gen::default_reference_dir());
  std::printf("generated population: %llu base people, %llu day records\n",
              static_cast<unsigned long long>(people), static_cast<unsigned long long>(day_records));

  // EM sample (no labels): the first em_sample base records and the first em_sample day
  // records, from a generator of their own; the base and the day are then streamed (the bench
  // keeps no record, so peak RSS is the index's).
  std::vector<OwnedRecord> em_records;
  {
    mpi_gen::PopulationGenerator sampler(options, mpi_gen::default_reference_dir());
    mpi_gen::PersonRecord record;
    for (std::uint64_t i = 0; i < em_sample && sampler.next_base(record); ++i) em_records.push_back(owned(std::move(record)));
    for (std::uint64_t i = 0; i < em_sample && sampler.next_day(record); ++i) em_records.push_back(owned(std::move(record)));
  }
  std::vector<mpi::PersonInput> sample;
  for (const auto& r : em_records) sample.push_back(r.input());
  mpi::EstimationReport report;
  const auto em_start = Clock::now();
  const mpi::Model model = mpi::estimate_model(sample, tables, mpi::Model::defaults(), &report);
  std::printf("  EM over %zu records: %u pairs, %u iterations, match share %.4f, %.1f s\n", sample.size(),
              report.pairs, report.iterations, report.match_share,
              std::chrono::duration<double>(Clock::now() - em_start).count());
  sample.clear();
  sample.shrink_to_fit();
  em_records.clear();
  em_records.shrink_to_fit();

  mpi::Matcher matcher(tables, model);
  std::vector<std::uint64_t> predicted, truth;
  predicted.reserve(people + day_records);
  truth.reserve(people + day_records);
  mpi_gen::PersonRecord generated;
  const auto build_start = Clock::now();
  std::size_t base_linked = 0;
  WrongLinks wrong;
  std::size_t base_count = 0;
  while (generator.next_base(generated)) {
    const OwnedRecord r = owned(std::move(generated));
    ++base_count;
    const auto& result = matcher.match(r.input());
    wrong.note(result, r.truth, r.relation, r.errors);
    base_linked += result.decision == mpi::Decision::Linked;
    predicted.push_back(result.mpi_id);
    truth.push_back(r.truth);
  }
  matcher.clear_changes();
  const double build_seconds = std::chrono::duration<double>(Clock::now() - build_start).count();
  const auto stats = matcher.stats();
  const double rss_after_build = peak_rss_mib();
  std::printf("  index: %zu masters from %zu base records in %.1f s (%.0f records/s), %zu linked to an "
              "earlier base record\n", stats.masters, base_count, build_seconds,
              static_cast<double>(base_count) / build_seconds, base_linked);
  std::printf("  index memory: %.0f MiB counted (%.0f bytes/master), %zu values, %zu keys (%zu generic); "
              "peak RSS so far %.0f MiB\n", static_cast<double>(stats.memory_bytes) / 1048576.0,
              static_cast<double>(stats.memory_bytes) / static_cast<double>(std::max<std::size_t>(stats.masters, 1)),
              stats.values, stats.blocking_keys, stats.generic_keys, rss_after_build);

  const auto base_pairs = pair_counts(predicted, truth);
  std::size_t linked = 0, possible = 0, fresh = 0;
  double candidates = 0, seconds = 0;
  std::unordered_map<std::string_view, std::size_t> rules;
  std::size_t day_count = 0;
  while (generator.next_day(generated)) {
    const OwnedRecord r = owned(std::move(generated));
    ++day_count;
    const auto input = r.input();
    const auto start = Clock::now();
    const auto& result = matcher.match(input);
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    wrong.note(result, r.truth, r.relation, r.errors);
    matcher.clear_changes();
    candidates += result.candidates;
    linked += result.decision == mpi::Decision::Linked;
    possible += result.decision == mpi::Decision::Possible;
    fresh += result.decision == mpi::Decision::New;
    if (!result.rule.empty()) ++rules[result.rule];
    predicted.push_back(result.mpi_id);
    truth.push_back(r.truth);
  }
  const auto all = pair_counts(predicted, truth);
  std::printf("  day: %zu records in %.1f s = %.0f records/s against %zu masters; %.2f candidates/record\n",
              day_count, seconds, static_cast<double>(day_count) / seconds, stats.masters,
              candidates / static_cast<double>(std::max<std::size_t>(day_count, 1)));
  std::printf("  decisions: %zu linked, %zu possible, %zu new;", linked, possible, fresh);
  for (const auto& [rule, count] : rules) std::printf(" %.*s=%zu", static_cast<int>(rule.size()), rule.data(), count);
  std::printf("\n  base only: precision %.5f recall %.5f (predicted pairs %.0f)\n", base_pairs.precision(),
              base_pairs.recall(), base_pairs.predicted_pairs);
  std::printf("  base + day pairwise: precision %.5f recall %.5f F1 %.5f (true pairs %.0f, predicted %.0f, "
              "correct %.0f)\n", all.precision(), all.recall(), all.f1(), all.true_pairs, all.predicted_pairs,
              all.true_positive);
  wrong.print();
  std::printf("  peak RSS %.0f MiB\n", peak_rss_mib());
  return true;
}
#endif

}  // namespace vaxetl::mpi_bench
