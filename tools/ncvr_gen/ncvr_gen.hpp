// ncvr_gen: a streaming generator of synthetic NCVR v7.2 files with a ground-truth sidecar.
//
// The generator writes a header line (the 50 layout field names) and then one pipe-delimited
// record per line. A share of the records carries exactly one injected error or warning; the
// sidecar TSV lists, for every record, the line it is on, its vax_event_id, whether a correct
// validator must load or reject it, and the injected code. Output is a pure function of the
// Options (same seed, same bytes); memory stays constant whatever the record count.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::ncvr_gen {

// Error codes shared with the NCVR validator. An injected error triggers exactly one of them.
inline constexpr std::array<std::string_view, 17> kErrorCodes = {
    "NCVR_REQUIRED",        "NCVR_FIELD_COUNT",    "NCVR_TOO_LONG",      "NCVR_FORMAT",
    "NCVR_CODE",            "NCVR_DATE_FUTURE",    "NCVR_DATE_ORDER",    "NCVR_AGE",
    "NCVR_ADMIN_BEFORE_EUA", "NCVR_MVX_CVX",       "NCVR_JANSSEN_DOSE",  "NCVR_NDC_CVX",
    "NCVR_REFUSAL_FIELDS",  "NCVR_CONDITIONAL",    "NCVR_RACE_EXTRA",    "NCVR_COUNTY_STATE",
    "NCVR_NPI_CHECK"};
// Warning codes: the record still loads.
inline constexpr std::array<std::string_view, 2> kWarningCodes = {"NCVR_NDC_UNIT_OF_USE",
                                                                  "NCVR_EXPIRED_LOT"};

inline constexpr std::size_t kFieldCount = 50;

// A calendar date as days since 1970-01-01 (proleptic Gregorian).
using Days = std::int32_t;
Days days_from_civil(int year, unsigned month, unsigned day) noexcept;
void civil_from_days(Days days, int& year, unsigned& month, unsigned& day) noexcept;
// Parses a strict YYYY-MM-DD that names a real date; returns false otherwise.
bool parse_date(std::string_view text, Days& out) noexcept;
std::string format_date(Days days);

// True for a 10-digit NPI whose last digit is the Luhn check digit over "80840" + digits 1-9.
bool npi_valid(std::string_view npi) noexcept;
// The check digit that makes "80840" + nine digits pass Luhn.
int npi_check_digit(std::string_view first_nine) noexcept;

struct Product {
  std::string cvx;
  std::string mvx;
  std::string name;
  std::string ndc_unit_of_sale;
  std::string ndc_unit_of_use;  // may be empty
};

// Run-time reference data: the product catalog and the layout's field names.
struct Catalog {
  std::vector<Product> products;
  std::vector<std::string> field_names;  // in layout order; must be 50

  // Reads products.tsv (columns cvx, mvx, product, ndc_unit_of_sale, ndc_unit_of_use) and the
  // layout TSV (columns pos, name). Throws std::runtime_error naming the problem.
  static Catalog load(const std::string& products_path, const std::string& layout_path);
};

// Defaults compiled in from VAXETL_NCVR_DATA_DIR (the repo's plugins/ncvr/data).
std::string default_products_path();
std::string default_layout_path();

struct Options {
  std::uint64_t records = 1000;
  std::uint64_t seed = 1;
  std::string org = "CAROLINAPHARM";
  double error_rate = 0.05;
  double warning_rate = 0.02;
  double repeat_rate = 0.2;
  double federal_rate = 0.3;
  double refusal_rate = 0.01;
  // Share of records spelling a valid value in the layout's alternative form: the PIN as the
  // 6 characters alone, the NDC in 10-digit 5-4-1 form (both "normalized" by the layout).
  double alt_form_rate = 0.0;
  bool phi_markers = false;
  bool crlf = false;
  Days today = days_from_civil(2026, 11, 1);
  std::string products_path;  // empty: default_products_path()
  std::string layout_path;    // empty: default_layout_path()
  std::string output;         // file, or an existing directory (file named by file_name_for_org)
  std::string truth;          // empty: <output>.truth.tsv
  std::string file_time;      // YYYYMMDDHHMMSS for a generated file name; empty: now (UTC)
  unsigned file_version = 1;
};

struct Summary {
  std::uint64_t records = 0;
  std::uint64_t rejected = 0;  // records with an injected error
  std::uint64_t warnings = 0;  // loaded records with an injected warning
  std::uint64_t refusals = 0;  // valid refusal records
  std::uint64_t repeats = 0;   // records for a recipient seen earlier in the file
  std::array<std::uint64_t, kErrorCodes.size()> error_counts{};
  std::array<std::uint64_t, kWarningCodes.size()> warning_counts{};
};

// `<ORG>COVID_<YYYYMMDDHHMMSS>_CVMS_PROD_PHI_DIRECT_V<version>.txt` (nc-rules.md).
std::string file_name_for_org(std::string_view org, std::string_view timestamp,
                              unsigned version = 1);

// Throws std::invalid_argument for rates outside [0,1], error+warning+refusal > 1, or an org
// that is not A-Z0-9.
void validate(const Options& options);

// Streams the data file to `data` and the truth TSV to `truth` (either may be null to skip it).
Summary generate(const Options& options, const Catalog& catalog, std::FILE* data,
                 std::FILE* truth);

// Convenience for tests and small runs: the whole output in memory.
struct InMemory {
  std::string data;
  std::string truth;
  Summary summary;
};
InMemory generate_to_memory(const Options& options, const Catalog& catalog);

// The command line: parses argv, writes the files, prints a one-line summary (no PHI) to
// stdout. Returns the process exit code (0 ok, 2 usage error, 1 run-time failure).
int run_cli(int argc, char** argv);

}  // namespace vaxetl::ncvr_gen
