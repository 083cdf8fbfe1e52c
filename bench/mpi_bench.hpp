// mpi_bench: shared pieces of the patient-matching benchmark (labelled data sets and the
// generated population): owned records, pairwise scoring and result lines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "matcher/matcher.hpp"

namespace vaxetl::mpi_bench {

// A record with owned text; input() views it for the matcher.
struct OwnedRecord {
  std::uint64_t truth = 0;  // entity id (never given to the matcher)
  std::string source, recipient_id, first_name, middle_name, last_name, suffix, birth_date, sex,
      street, street_2, city, state, zip, phone, email, ssn;
  std::string relation, errors;  // generated population only: truth notes for diagnostics
  mpi::PersonInput input() const;
};

// Pairwise counts between a predicted clustering and the truth.
struct PairCounts {
  double predicted_pairs = 0, true_pairs = 0, true_positive = 0;
  double precision() const { return predicted_pairs > 0 ? true_positive / predicted_pairs : 1.0; }
  double recall() const { return true_pairs > 0 ? true_positive / true_pairs : 1.0; }
  double f1() const {
    const double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }
};
// predicted[i] and truth[i] label record i.
PairCounts pair_counts(const std::vector<std::uint64_t>& predicted, const std::vector<std::uint64_t>& truth);

// Peak resident set size of this process in MiB (VmHWM).
double peak_rss_mib();

// Runs the generated-population part (bench/mpi_bench_population.cpp); returns false when the
// generator library is not built in.
bool run_population(const std::shared_ptr<const mpi::ReferenceTables>& tables, std::uint64_t people,
                    std::uint64_t day_records, std::uint64_t em_sample);

}  // namespace vaxetl::mpi_bench
