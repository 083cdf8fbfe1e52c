// Throughput of CvmsStore::apply on synthetic records into a file database.
//   cvms_store_bench <db-file> [records=1000000] [--random-ids]
// Loads the records once (all Inserted), then again as a rerun (all Unchanged), each in one
// transaction, and prints records/s for each and the process's peak RSS.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cvms_store.hpp"

namespace {

using vaxetl::cvms::column_index;

struct Generator {
  // Reused buffers: one record's values, rewritten in place for every record.
  char event[32], recip[32], first[24], last[24], dob[16], street[48], pin[16], lot[16], phone[16];
  vaxetl::cvms::RecordValues values{};
  bool random_ids = false;

  static constexpr const char* kNdcs[] = {"59267-1000-02", "80777-0273-99", "59676-0580-15",
                                          "59267-1025-02"};
  static constexpr const char* kCvx[] = {"208", "207", "212", "217"};
  static constexpr const char* kMvx[] = {"PFR", "MOD", "JSN", "PFR"};

  const vaxetl::cvms::RecordValues& make(std::uint64_t i) {
    const std::uint64_t id =
        random_ids ? (i * 0x9E3779B97F4A7C15ull) >> 20 : i;  // a bijection on the low bits
    std::snprintf(event, sizeof event, "EV%012llu", static_cast<unsigned long long>(id));
    const std::uint64_t person = i / 2;  // two doses per recipient, adjacent
    std::snprintf(recip, sizeof recip, "MRN%010llu", static_cast<unsigned long long>(person));
    std::snprintf(first, sizeof first, "FIRST%llu", static_cast<unsigned long long>(person % 997));
    std::snprintf(last, sizeof last, "LASTNAME%llu", static_cast<unsigned long long>(person % 9973));
    std::snprintf(dob, sizeof dob, "19%02u-%02u-%02u", static_cast<unsigned>(30 + person % 60),
                  static_cast<unsigned>(1 + person % 12), static_cast<unsigned>(1 + person % 28));
    std::snprintf(street, sizeof street, "%llu MAIN STREET", static_cast<unsigned long long>(person % 5000));
    std::snprintf(pin, sizeof pin, "NCA%06llu", static_cast<unsigned long long>((i / 500) % 40));
    const std::size_t product = (i / 1000) % 4;
    std::snprintf(lot, sizeof lot, "LOT%04llu", static_cast<unsigned long long>((i / 3000) % 25));
    std::snprintf(phone, sizeof phone, "919555%04llu", static_cast<unsigned long long>(person % 10000));
    const bool refusal = i % 97 == 0;
    auto set = [&](std::size_t index, std::string_view value) { values[index] = value; };
    set(column_index("vax_event_id"), event);
    set(column_index("action_code"), "A");
    set(column_index("org_code"), "ACMEPHARMACY");
    set(column_index("vtrcks_prov_pin"), pin);
    set(column_index("admin_name"), "ACME PHARMACY STORE");
    set(column_index("recip_id"), recip);
    set(column_index("recip_first_name"), first);
    set(column_index("recip_last_name"), last);
    set(column_index("recip_dob"), dob);
    set(column_index("recip_sex"), person % 2 ? "F" : "M");
    set(column_index("recip_address_street"), street);
    set(column_index("recip_address_city"), "RALEIGH");
    set(column_index("recip_address_county"), "37183");
    set(column_index("recip_address_state"), "NC");
    set(column_index("recip_address_zip"), "27601");
    set(column_index("recip_phone"), phone);
    set(column_index("recip_race_1"), "2106-3");
    set(column_index("recip_ethnicity"), "2186-5");
    set(column_index("admin_date"), "2021-03-15");
    set(column_index("cvx"), kCvx[product]);
    set(column_index("mvx"), kMvx[product]);
    set(column_index("dose_status"), refusal ? "Not Administered" : "Dose One Administered");
    set(column_index("ndc"), refusal ? "" : kNdcs[product]);
    set(column_index("lot_number"), refusal ? "" : lot);
    set(column_index("vax_expiration"), refusal ? "" : "2021-08");
    set(column_index("vax_admin_site"), refusal ? "" : "LD");
    set(column_index("vax_route"), refusal ? "" : "C28161");
    set(column_index("dose_volume_ml"), refusal ? "" : "0.3");
    set(column_index("vax_admin_provider_name"), "JANE PHARMACIST");
    set(column_index("inventory_source"), i % 10 < 7 ? "STATE" : "FEDERAL");
    set(column_index("vax_refusal"), refusal ? "YES" : "NO");
    set(column_index("refusal_reason"), refusal ? "03" : "");
    set(column_index("cmorbid_status"), "UNK");
    set(column_index("serology"), "UNK");
    set(column_index("record_last_modified"), "2021-03-15T10:11:12");
    set(column_index("ndc_as_sent"), refusal ? "" : kNdcs[product]);
    return values;
  }
};

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double run(vaxetl::cvms::CvmsStore& store, Generator& gen, std::uint64_t records,
           const char* run_id) {
  const double cpu_start = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  store.begin({.run_id = run_id, .input_name = "bench.txt", .input_sha256 = "00", .validate_only = false});
  for (std::uint64_t i = 0; i < records; ++i) store.apply(gen.make(i));
  store.commit({.records_read = records, .records_rejected = 0});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_start;
  const auto& c = store.counts();
  std::printf("%s: %llu records in %.2f s = %.0f records/s wall, %.0f records/s of CPU time "
              "(inserted %llu, unchanged %llu, state doses %llu), peak RSS %ld MiB\n",
              run_id, static_cast<unsigned long long>(records), seconds, records / seconds,
              records / cpu,
              static_cast<unsigned long long>(c.inserted), static_cast<unsigned long long>(c.unchanged),
              static_cast<unsigned long long>(c.state_doses), peak_rss_kib() / 1024);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <db-file> [records] [--random-ids]\n", argv[0]);
    return 2;
  }
  const std::uint64_t records = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;
  Generator gen;
  gen.random_ids = argc > 3 && std::strcmp(argv[3], "--random-ids") == 0;
  {
    // Generation cost alone, to read the store's share of the time.
    const auto start = std::chrono::steady_clock::now();
    std::size_t sink = 0;
    for (std::uint64_t i = 0; i < records; ++i) sink += gen.make(i)[0].size();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("generation alone: %.2f s (%zu)\n", s, sink);
  }
  vaxetl::cvms::CvmsStore store({.database = argv[1], .products_path = CVMS_PRODUCTS_FILE,
                                 .schema_path = CVMS_SCHEMA_FILE});
  run(store, gen, records, "first-load");
  run(store, gen, records, "rerun");
  return 0;
}
