// Throughput of the MPI index (not a test): one load's worth of decisions, new masters and
// values written in one transaction, then the whole index read back into a matcher.
//
//   mpi_store_bench <index-file | postgresql://...> [records-per-load] [loads]
//
// A SQLite file is removed first; a PostgreSQL database must be empty (a fresh one): the bench
// applies the mpi migrations to it, as `vaxetl db migrate` does. 200000 records give 150k masters.
//
// Each load writes `records` decisions (a quarter linked to an earlier master, the rest new
// masters with 10 values each) with a realistic comparison text, and commits; the index is
// then loaded into a fresh matcher. Figures go to docs/mpi-operations.md. To see what each side
// costs, SKIP_DECISIONS=1 writes no decisions and SKIP_VALUES=1 no masters or values.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <Poco/Data/Session.h>

#include "db/database.hpp"
#include "db/migrations.hpp"
#include "index_store/mpi_store.hpp"
#include "matcher/matcher.hpp"

namespace {

namespace mpi = vaxetl::mpi;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Distinct-looking synthetic values for master `id`, field by field.
std::string value(mpi::MasterId id, mpi::Field field) {
  char text[64];
  switch (field) {
    case mpi::Field::BirthDate:
      std::snprintf(text, sizeof(text), "%04d-%02d-%02d", 1920 + static_cast<int>(id % 90),
                    1 + static_cast<int>(id % 12), 1 + static_cast<int>(id % 28));
      break;
    case mpi::Field::Sex:
      return id % 2 ? "M" : "F";
    case mpi::Field::Zip:
      std::snprintf(text, sizeof(text), "%05d", 27000 + static_cast<int>(id % 2000));
      break;
    case mpi::Field::Phone:
      std::snprintf(text, sizeof(text), "919%07llu", static_cast<unsigned long long>(id % 10'000'000));
      break;
    default:
      std::snprintf(text, sizeof(text), "%s%llu", std::string(mpi::field_name(field)).c_str(),
                    static_cast<unsigned long long>(id * 2654435761ull % 1'000'003));
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: mpi_store_bench <index-file | postgresql://...> [records-per-load] [loads]\n");
    return 64;
  }
  const std::string path = argv[1];
  const long records = argc > 2 ? std::atol(argv[2]) : 200'000;
  const long loads = argc > 3 ? std::atol(argv[3]) : 1;
  const auto location = vaxetl::db::Location::parse(path);
  if (location.is_postgres()) {
    auto session = vaxetl::db::open_session(location);
    vaxetl::db::migrate(*session, vaxetl::db::Backend::PostgreSQL, "mpi",
                        std::string(MPI_DATA_DIR) + "/migrations/postgresql");
  } else {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path + "-wal", ec);
    std::filesystem::remove(path + "-shm", ec);
  }

  mpi::StoreOptions options;
  options.path = path;
  options.data_dir = MPI_DATA_DIR;
  const mpi::Field kFields[] = {mpi::Field::FirstName, mpi::Field::MiddleName, mpi::Field::LastName,
                                mpi::Field::BirthDate, mpi::Field::Sex,        mpi::Field::Street,
                                mpi::Field::City,      mpi::Field::Zip,        mpi::Field::Phone,
                                mpi::Field::RecipientId};
  const bool skip_decisions = std::getenv("SKIP_DECISIONS") != nullptr;
  const bool skip_values = std::getenv("SKIP_VALUES") != nullptr;
  mpi::MasterId next = 1;
  std::vector<mpi::IndexChange> changes;
  for (long load = 0; load < loads; ++load) {
    mpi::MpiStore store(options);
    const std::string run_id = "R-bench-" + std::to_string(load);
    const std::string at = mpi::utc_timestamp();
    const auto started = std::chrono::steady_clock::now();
    store.begin({run_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"});
    std::uint64_t values = 0;
    double persisting = 0;
    auto persist = [&] {
      const auto at_start = std::chrono::steady_clock::now();
      store.persist(changes, at);
      persisting += seconds_since(at_start);
    };
    changes.clear();
    for (long i = 0; i < records; ++i) {
      mpi::MatchResult result;
      const bool link = i % 4 == 0 && next > 1;
      if (link) {
        result.mpi_id = 1 + static_cast<mpi::MasterId>(i) % (next - 1);
        result.decision = mpi::Decision::Linked;
        result.best_candidate = result.mpi_id;
        result.score = 31.5;
        changes.push_back({mpi::IndexChange::Kind::AddValue, result.mpi_id, mpi::Field::Email,
                           "email" + std::to_string(i)});
        ++values;
      } else {
        result.mpi_id = next++;
        result.decision = mpi::Decision::New;
        result.best_candidate = i % 3 == 0 ? 0 : result.mpi_id - 1;
        result.score = -12.25;
        changes.push_back({mpi::IndexChange::Kind::NewMaster, result.mpi_id, mpi::Field::FirstName, ""});
        for (const mpi::Field field : kFields) {
          changes.push_back({mpi::IndexChange::Kind::AddValue, result.mpi_id, field, value(result.mpi_id, field)});
          ++values;
        }
      }
      result.candidates = result.best_candidate == 0 ? 0 : 3;
      for (std::size_t f = 0; f < 10; ++f) result.comparison[f] = {1, 4.5f};
      mpi::DecisionContext context;
      context.record_no = i + 2;
      context.source = "CAROLINAPHARM";
      const std::string recip = "MRN" + std::to_string(i);
      const std::string event = "EV" + std::to_string(i);
      context.recipient_id = recip;
      context.vax_event_id = event;
      context.decided_at = at;
      if (!skip_decisions) store.append_decision(context, result);
      if (changes.size() >= 50'000) {  // as the plugin does per batch
        if (!skip_values) persist();
        changes.clear();
      }
    }
    if (!skip_values) persist();
    const double written = seconds_since(started);
    const auto commit_start = std::chrono::steady_clock::now();
    store.commit();
    const double committing = seconds_since(commit_start);
    const double total = seconds_since(started);
    std::printf("load %ld: %ld decisions, %llu values, %llu masters in the index: written %.2f s "
                "(persist %.2f s), commit %.2f s, total %.2f s (%.0f decisions/s)\n",
                load + 1, records, static_cast<unsigned long long>(values),
                static_cast<unsigned long long>(next - 1), written, persisting, committing, total,
                records / total);
  }

  const auto tables = mpi::load_reference_tables(MPI_DATA_DIR);
  mpi::Matcher matcher(tables, mpi::Model::defaults());
  const auto started = std::chrono::steady_clock::now();
  mpi::MpiStore store(options);
  const mpi::LoadSummary summary = store.load(matcher);
  const double loaded = seconds_since(started);
  std::printf("loaded the index into a matcher: %llu masters, %llu values in %.2f s\n",
              static_cast<unsigned long long>(summary.masters),
              static_cast<unsigned long long>(summary.values), loaded);
  if (!location.is_postgres())
    std::printf("index file: %.1f MiB\n",
                static_cast<double>(std::filesystem::file_size(path)) / (1024.0 * 1024.0));
  return 0;
}
