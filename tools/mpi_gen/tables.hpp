// mpi_gen's reference tables (tools/mpi_gen/data, see data/SOURCES.md), read once per generator
// and shared read-only. Internal to the library.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vaxetl::mpi_gen::detail {

// A counter-based generator: the stream is a pure function of (seed, stream, counter), so a
// person or a day record can be redrawn from its id alone. SplitMix64 underneath.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter);
  std::uint64_t next();
  double uniform();                          // [0, 1)
  std::uint64_t below(std::uint64_t bound);  // [0, bound), bound > 0
  bool chance(double probability) { return uniform() < probability; }

 private:
  std::uint64_t state_;
};
std::uint64_t mix64(std::uint64_t value);

// Values drawn in proportion to their weights in O(1) (Walker/Vose alias method): add() all
// values, then finish() once before the first draw.
template <typename T>
class WeightedTable {
 public:
  void add(T value, std::uint64_t weight) {
    if (weight == 0) return;
    values_.push_back(std::move(value));
    weights_.push_back(weight);
  }
  void finish();
  const T& draw(Rng& rng) const {
    const std::size_t slot = static_cast<std::size_t>(rng.below(values_.size()));
    return values_[rng.uniform() < keep_[slot] ? slot : alias_[slot]];
  }
  bool empty() const { return values_.empty(); }
  std::size_t size() const { return values_.size(); }
  const T& at(std::size_t index) const { return values_[index]; }

 private:
  std::vector<T> values_;
  std::vector<std::uint64_t> weights_;
  std::vector<double> keep_;          // probability of keeping the slot's own value
  std::vector<std::uint32_t> alias_;  // the value drawn otherwise
};

// Appends `value` in decimal, zero-padded to `width` digits.
void append_number(std::string& out, std::uint64_t value, int width = 0);

struct Place {
  std::string city;
  std::vector<std::string> zips;
  std::vector<std::string> area_codes;  // the first is the original code, later ones overlays
};

// One phonetic substitution (pseudopeople_phonetic_variations.csv, unconditional rules only).
struct PhoneticRule {
  enum class Where : std::uint8_t { All, Start, End, Middle } where;
  std::string from;  // lower case
  std::string to;    // lower case, may be empty ('@' in the table)
};

struct Tables {
  std::array<WeightedTable<std::string>, 2> first_names;  // [0] male, [1] female; Title case
  std::array<std::vector<std::string>, 2> first_name_list;  // distinct, for the rare tail
  WeightedTable<std::string> surnames;
  std::vector<std::string> surname_list;
  WeightedTable<std::string> streets;  // "MALLORY LN": upper case, USPS abbreviation last
  WeightedTable<int> ages;             // age in whole years in 2020
  WeightedTable<std::uint32_t> places; // index into place_list
  std::vector<Place> place_list;
  std::unordered_map<std::string, std::vector<std::string>> nicknames;  // lower -> lower
  std::array<std::string, 128> qwerty_neighbours;  // lower-case letter -> neighbouring letters
  std::vector<std::pair<std::string, std::string>> ocr;  // letters only, as in the table
  std::vector<PhoneticRule> phonetic;
  std::unordered_map<std::string, std::string> suffix_long_form;  // "AVE" -> "AVENUE"

  static Tables load(const std::string& directory);  // throws std::runtime_error
};

}  // namespace vaxetl::mpi_gen::detail
