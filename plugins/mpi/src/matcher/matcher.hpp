// The patient matcher: normalizes a person record, finds candidate masters through several
// blocking keys, scores each with Fellegi-Sunter weights over graded agreement levels, decides
// linked / new / possible match, and learns the record's values into the index.
//
// This is the contract between the matcher (matcher/), the persisted index (index_store/), the
// transform plugin, the `vaxetl-mpi` tool and the benchmark. It holds no Poco, SQLite or Boost.
//
// Determinism: one Matcher is driven from one thread; the same records in the same order over
// the same restored index give the same ids, decisions and scores.
// PHI: nothing here logs. Exceptions name fields and rules, never values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::mpi {

// The fields compared. The order is part of the stored model's format: append only.
enum class Field : std::uint8_t {
  FirstName,
  MiddleName,
  LastName,
  BirthDate,
  Sex,
  Street,       // house number + street name, USPS-normalized
  City,
  Zip,          // 5 digits
  Phone,        // 10 digits
  Email,
  Ssn,          // 9 digits
  RecipientId,  // "<source>|<recipient id>": a provider's own stable id for the person
};
inline constexpr std::size_t kFieldCount = 12;

// Stable lower-case names ("first_name", "birth_date", ...) used in the stored model, the
// decision log and `vaxetl mpi explain`.
std::string_view field_name(Field field);
std::optional<Field> field_from_name(std::string_view name);

// One incoming record as the source sent it. Views are valid for the call only. Empty means
// not sent. Placeholders (BABY BOY, UNKNOWN, 999-99-9999, 0000000000, ...) count as not sent.
struct PersonInput {
  std::string_view source;        // the sending provider (org code); scopes recipient_id
  std::string_view recipient_id;  // the provider's own stable id for the person (MRN)
  std::string_view first_name;
  std::string_view middle_name;
  std::string_view last_name;
  std::string_view suffix;
  std::string_view birth_date;  // YYYY-MM-DD or YYYYMMDD
  std::string_view sex;         // M, F, U (or MALE, FEMALE, ...)
  std::string_view street;
  std::string_view street_2;
  std::string_view city;
  std::string_view state;
  std::string_view zip;
  std::string_view phone;
  std::string_view email;
  std::string_view ssn;
};

// A master's id. 0 means none. Users see it as text (format_mpi_id): "MPI" + 10 digits.
using MasterId = std::uint64_t;
std::string format_mpi_id(MasterId id);
std::optional<MasterId> parse_mpi_id(std::string_view text);

enum class Decision : std::uint8_t {
  Linked,    // joined an existing master
  New,       // clearly nobody known: a new master
  Possible,  // a new master, plus a review item against `best_candidate`; never blocks a load
};
std::string_view decision_name(Decision decision);  // "linked", "new", "possible"

// How one field of the record agreed with the best candidate master (the best level over all
// values that master has seen). Level 0 is always "missing" (either side empty), weight 0.
struct FieldComparison {
  std::uint8_t level = 0;
  float weight = 0;  // log2(m/u) for the level, after frequency adjustment
};
// Stable level names per field: "missing", "exact", "nickname", "jw_92", "jw_85", "phonetic",
// "transposed", "day_month_swap", "one_digit", "year_only", "prefix", "disagree", ...
std::string_view level_name(Field field, std::uint8_t level);
std::size_t level_count(Field field);

struct MatchResult {
  MasterId mpi_id = 0;  // the master the record now belongs to
  Decision decision = Decision::New;
  double score = 0;           // total weight against best_candidate (0 with no candidate)
  MasterId best_candidate = 0;
  double runner_up_score = 0;
  MasterId runner_up = 0;
  std::uint32_t candidates = 0;  // masters scored
  std::array<FieldComparison, kFieldCount> comparison{};  // against best_candidate
  // A rule that overrode the score ("" when the score decided): "twins_guard",
  // "recipient_id_conflict", "too_little_data", "ambiguous_runner_up", ...
  std::string_view rule;
};

// m and u per agreement level of each field, the prior, and the decision thresholds.
struct FieldModel {
  std::vector<double> m;  // indexed by level; m[0] (missing) is unused
  std::vector<double> u;
};
struct Model {
  std::array<FieldModel, kFieldCount> fields;
  double prior_match = 1e-4;     // probability that a candidate pair is a match
  double link_threshold = 12.0;  // total weight at or above which a record may link
  double new_threshold = 4.0;    // below this, clearly nobody: a new master
  double runner_up_margin = 4.0; // best must beat the runner-up (a different master) by this
  std::uint32_t em_pairs = 0;    // candidate pairs the last estimation used (0: defaults)
  std::uint32_t em_iterations = 0;

  static Model defaults();
  // Text form stored with the index: one "field level m u" line per level plus settings lines.
  std::string to_text() const;
  static Model from_text(std::string_view text);  // throws std::invalid_argument
};

// Tables read once from the plugin's data directory (copies of ../shared/mpi-data tables).
struct ReferenceTables;
std::shared_ptr<const ReferenceTables> load_reference_tables(const std::string& data_dir);

struct MatcherSettings {
  std::uint32_t generic_key_cap = 200;     // a blocking key with more masters stops proposing
  std::uint32_t max_candidates = 64;       // masters scored per record at most
  std::uint32_t max_values_per_field = 8;  // distinct values a master keeps per field
  bool single_blocking_key = false;        // baseline for the benchmark: one key only
};
// The blocking keys in use, for reports: e.g. "phonetic first+last" for the single-key baseline.
std::string blocking_keys_description(const MatcherSettings& settings);

struct EstimationReport {
  std::uint32_t pairs = 0;
  std::uint32_t iterations = 0;
  double match_share = 0;  // estimated share of candidate pairs that are matches
};

// A change to the index, in the order made, for the store to persist.
struct IndexChange {
  enum class Kind : std::uint8_t { NewMaster, AddValue };
  Kind kind;
  MasterId master;
  Field field;          // AddValue only
  std::string value;    // AddValue only: the normalized value
};

class Matcher {
 public:
  Matcher(std::shared_ptr<const ReferenceTables> tables, Model model, MatcherSettings settings = {});
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Restoring a persisted index. `value` is normalized as stored. Ids above next_id() move it.
  void restore_value(MasterId master, Field field, std::string_view value);
  void restore_master(MasterId master);  // a master with no values yet
  void set_next_id(MasterId next);
  MasterId next_id() const;

  // Matches one record and learns it: a link adds the record's new values to the master; new
  // and possible create a master. The result stays valid until the next call.
  const MatchResult& match(const PersonInput& record);
  // Scores without changing the index (explain, review).
  const MatchResult& score_only(const PersonInput& record);

  // Changes since the last clear_changes(), in order.
  std::span<const IndexChange> changes() const;
  void clear_changes();

  // An operator's merge: every value of `retired` moves to `survivor`; `retired` stops being
  // proposed. Unmerge is done by the store (which knows each value's origin) and a re-restore.
  void merge(MasterId survivor, MasterId retired);

  // Learning m and u from the daily stream: while on, match() keeps the level vectors of the
  // pairs it scored (a bounded, deterministic sample, no values); reestimate() runs EM over them
  // starting from the current model and returns the new model (the caller stores it with the
  // index and uses it from the next run).
  void collect_comparisons(bool on);
  Model reestimate(EstimationReport* report = nullptr) const;

  std::size_t master_count() const;
  const Model& model() const;
  void for_each_value(MasterId master,
                      const std::function<void(Field, std::string_view)>& visit) const;

  // Normalizes `record` the way the index stores values, calling visit per non-empty field.
  void normalized_values(const PersonInput& record,
                         const std::function<void(Field, std::string_view)>& visit) const;

  // The masters scored by the last match() or score_only(), best score first (for the
  // benchmark's pair completeness and for review tools).
  std::span<const MasterId> last_candidates() const;

  // Size of the index, for capacity planning and the benchmark.
  struct Stats {
    std::size_t masters = 0;          // active masters
    std::size_t values = 0;           // distinct interned values over all fields
    std::size_t blocking_keys = 0;    // distinct blocking keys
    std::size_t generic_keys = 0;     // keys that reached their cap and stopped proposing
    std::size_t memory_bytes = 0;     // approximate heap held by the index
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend Model estimate_model(std::span<const PersonInput> records,
                              std::shared_ptr<const ReferenceTables> tables, const Model& start,
                              EstimationReport* report, MatcherSettings settings);
};

// Estimates m and u with EM over the candidate pairs blocking proposes among `records` (an
// unlabelled sample, e.g. a day's file), starting from `start`; u for exact agreement comes
// from value frequencies. Deterministic.
Model estimate_model(std::span<const PersonInput> records,
                     std::shared_ptr<const ReferenceTables> tables, const Model& start,
                     EstimationReport* report = nullptr, MatcherSettings settings = {});

}  // namespace vaxetl::mpi
