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

// Where a file goes (nc-rules.md "Environments and test files"): production, staging with PHI
// (HIE validation), or QA/UAT without real patients.
enum class Environment { kProd, kPhi, kNophi };
// "PROD", "PHI", "NOPHI" (case-sensitive); false for anything else.
bool parse_environment(std::string_view text, Environment& out) noexcept;

// The cases a corrections file mixes; each names what the line does to the base file's event
// and what the CVMS store must report (docs/generator.md "Corrections files").
enum CorrectionCase : int {
  kAddFixed,       // A of an event the base file had REJECTED, now valid: added
  kUpdate,         // U of a loaded event with one value changed: updated
  kUpdateSame,     // U identical to the loaded event: unchanged
  kDelete,         // D of a loaded event: voided
  kUpdateUnknown,  // U of an event id never sent: rejected CVMS_UNKNOWN_EVENT
  kDeleteUnknown,  // D of an event id never sent: rejected CVMS_UNKNOWN_EVENT
  kAddConflict,    // A of a loaded event with one value changed: rejected CVMS_EVENT_CONFLICT
  kAddSame,        // A identical to the loaded event: unchanged
  kCaseCount
};
inline constexpr std::array<std::string_view, kCaseCount> kCaseNames = {
    "add-fixed",      "update",         "update-same",  "delete",
    "update-unknown", "delete-unknown", "add-conflict", "add-same"};
// Default weights of the mix (out of 100).
inline constexpr std::array<double, kCaseCount> kDefaultMix = {10, 30, 10, 15, 5, 5, 10, 15};
// Expected outcomes of a corrections line, as the truth file spells them.
inline constexpr std::array<std::string_view, 5> kOutcomes = {"added", "updated", "voided",
                                                              "unchanged", "rejected"};
// Parses "add-fixed=10,update=30,..." (weights >= 0; a case not named gets 0). Throws
// std::invalid_argument naming the problem.
std::array<double, kCaseCount> parse_mix(std::string_view text);

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
  Environment environment = Environment::kProd;  // only picks the generated file name

  // Race/ethnicity quality. Both negative (the default): the historical distribution (race_1
  // UNK 1%, DECLINED 1%; ethnicity UNK 1%, DECLINED 1%, independently). Either set: share of
  // recipients (so of otherwise-valid records) with race_1 and/or ethnicity UNK, resp. with
  // race_1 and/or ethnicity DECLINED and neither UNK; the unset one then counts as 0.02.
  double race_unknown_rate = -1;
  double race_declined_rate = -1;
  // Admin dates fall in the last N days before `today` (never before 2021-01-01); 0: the
  // historical spread (half in 2021, half over 2021-01-01..today-1).
  unsigned admin_days = 0;

  // Corrections mode: the records are corrections of a base daily file that is regenerated
  // (streamed, twice) from these same Options with records = base_records, seed = base_seed.
  // `records` is then the number of corrections lines and `seed` drives the picks and changes.
  bool corrections = false;
  std::uint64_t base_records = 1000;
  std::uint64_t base_seed = 1;
  std::array<double, kCaseCount> mix = kDefaultMix;
  double corrections_error_rate = 0.0;  // share of corrections lines with one injected error

  std::string lots_out;  // CLI only: where generate()'s `lots` stream goes; empty: none
};

// The Options that regenerate the base daily file of a corrections run.
Options base_options(const Options& corrections);

struct Summary {
  std::uint64_t records = 0;
  std::uint64_t rejected = 0;  // records with an injected error
  std::uint64_t warnings = 0;  // loaded records with an injected warning
  std::uint64_t refusals = 0;  // valid refusal records
  std::uint64_t repeats = 0;   // records for a recipient seen earlier in the file
  std::array<std::uint64_t, kErrorCodes.size()> error_counts{};
  std::array<std::uint64_t, kWarningCodes.size()> warning_counts{};
  // Race/ethnicity over ALL records written (rejected ones too), from the values in the file:
  // populated = race_1 and ethnicity each a code or DECLINED; unknown = race_1 or ethnicity
  // UNK; a record with a blank or invalid race_1/ethnicity and no UNK is neither.
  std::uint64_t race_populated = 0;
  std::uint64_t race_unknown = 0;
  // The same over the records expected to load.
  std::uint64_t race_populated_loaded = 0;
  std::uint64_t race_unknown_loaded = 0;
  // Corrections mode: lines per case and per expected outcome (kOutcomes order).
  std::array<std::uint64_t, kCaseCount> case_counts{};
  std::array<std::uint64_t, kOutcomes.size()> outcome_counts{};
  // The lots stream: keys listed and the sum of their doses (a net change in corrections mode,
  // which can be negative).
  std::uint64_t lot_keys = 0;
  std::int64_t lot_doses = 0;
};

// The NCVR file name of nc-rules.md:
//   PROD         <ORG>COVID_<ts>_CVMS_PROD_PHI_DIRECT_V<n>.txt
//   PHI          <ORG>COVID_<ts>_CVMS_PHI_DIRECT_V<n>.txt
//   NOPHI        <ORG>COVID_<ts>_CVMS_NOPHI_DIRECT_V<n>.txt
//   corrections  <ORG>COVID_<ts>_CVMS_PROD_PHI_DIRECT_CORRECTIONS_V<n>.txt (PROD only: throws
//                std::invalid_argument for corrections in another environment)
std::string file_name_for_org(std::string_view org, std::string_view timestamp,
                              unsigned version = 1, Environment environment = Environment::kProd,
                              bool corrections = false);

// Throws std::invalid_argument for rates outside [0,1], error+warning+refusal > 1, an org
// that is not A-Z0-9, race unknown+declined > 1, corrections outside PROD, an empty mix.
void validate(const Options& options);

// Streams the data file to `data`, the truth TSV to `truth` and the STATE lots TSV to `lots`
// (any may be null to skip it). With options.corrections, writes a corrections file of the
// base file named by base_options(options); memory stays bounded (the base is regenerated,
// never held). Throws std::runtime_error when the base has too few records of a kind the mix
// asks for.
//
// Daily truth:       line vax_event_id expected codes
// Corrections truth: line vax_event_id expected codes action case base_line changed
// Lots:              vtrcks_prov_pin ndc lot_number doses   (sorted; normalized as the loader
//                    stores them: NCA + 6, unit-of-sale NDC 5-4-2; daily mode: every STATE
//                    non-refusal dose expected to load; corrections mode: the net change in
//                    STATE doses administered per key, +1 for an added or updated line's
//                    new version, -1 for the base version of an updated or voided line;
//                    keys netting 0 are left out)
Summary generate(const Options& options, const Catalog& catalog, std::FILE* data,
                 std::FILE* truth, std::FILE* lots = nullptr);

// Convenience for tests and small runs: the whole output in memory.
struct InMemory {
  std::string data;
  std::string truth;
  std::string lots;
  Summary summary;
};
InMemory generate_to_memory(const Options& options, const Catalog& catalog);

// The command line: parses argv, writes the files, prints a one-line summary (no PHI) to
// stdout. Returns the process exit code (0 ok, 2 usage error, 1 run-time failure).
int run_cli(int argc, char** argv);

}  // namespace vaxetl::ncvr_gen
