// Internals of the matcher shared by its translation units and its unit tests: reference
// tables, normalization, phonetic codes, string similarity, per-field comparators, the flat
// 64-bit hash map used for blocking, and the level numbering of each field.
// Not part of the contract (matcher.hpp); nothing outside plugins/mpi/src/matcher and
// tests/unit/mpi should include it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "matcher/matcher.hpp"

namespace vaxetl::mpi {

namespace detail {

// Heterogeneous lookup (string_view into string keys) without building a std::string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

// 64-bit hashing: FNV-1a over the bytes, finished with the splitmix64 mixer.
std::uint64_t mix64(std::uint64_t x) noexcept;
std::uint64_t hash_text(std::string_view text) noexcept;
inline std::uint64_t hash_combine(std::uint64_t seed, std::uint64_t value) noexcept {
  return mix64(seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2)));
}

// Open-addressing map from a non-zero 64-bit key to a 32-bit value (linear probing, power of
// two capacity, grows at 70% load). No erase: the matcher never removes a key.
class FlatKeyMap {
 public:
  const std::uint32_t* find(std::uint64_t key) const noexcept;
  std::uint32_t* find(std::uint64_t key) noexcept;
  // Returns the value slot for `key`, inserting `initial` when absent.
  std::uint32_t& get_or_insert(std::uint64_t key, std::uint32_t initial, bool* inserted = nullptr);
  std::size_t size() const noexcept { return size_; }
  std::size_t memory_bytes() const noexcept {
    return keys_.capacity() * sizeof(std::uint64_t) + values_.capacity() * sizeof(std::uint32_t);
  }
  static std::uint64_t nonzero(std::uint64_t key) noexcept { return key == 0 ? 1 : key; }

 private:
  void grow();
  std::vector<std::uint64_t> keys_;  // 0 = empty slot
  std::vector<std::uint32_t> values_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
};

}  // namespace detail

// Reference tables: nickname groups, USPS street suffixes, name suffixes, states and the
// placeholder values that count as "not sent".
struct ReferenceTables {
  detail::StringMap<std::vector<std::uint32_t>> nickname_groups;  // NAME -> group ids (sorted)
  detail::StringMap<std::string> street_suffixes;                 // AVENUE -> AVE
  detail::StringMap<std::string> directionals;                    // NORTH -> N
  detail::StringMap<std::string> unit_designators;                // APT, SUITE, ... (value unused)
  detail::StringSet name_suffixes;                                // JR, SR, II, III, IV, ...
  detail::StringMap<std::string> states;                          // NORTH CAROLINA -> NC
  // Placeholders, normalized form, by kind: "name", "name_prefix", "date", "phone", "ssn",
  // "zip", "email", "email_user", "recipient_id", "street", "city".
  detail::StringMap<detail::StringSet> placeholders;
  std::uint32_t nickname_group_count = 0;

  bool is_placeholder(std::string_view kind, std::string_view normalized) const;
};

namespace detail {

// ---- normalization (each returns false and leaves `out` empty when the value is missing,
// malformed or a placeholder) ----

// Upper-case ASCII with Latin-1 letters folded (UTF-8 or raw Latin-1 bytes); every other byte
// becomes a separator; runs of separators become one space; trimmed. Apostrophes vanish
// (O'BRIEN -> OBRIEN). Digits kept when keep_digits.
void fold_upper(std::string_view in, std::string& out, bool keep_digits);

bool normalize_first_name(std::string_view in, const ReferenceTables& tables, std::string& out);
bool normalize_middle_name(std::string_view in, const ReferenceTables& tables, std::string& out);
// Splits a trailing suffix (JR, SR, II, ...) off the last name into `suffix` (may stay empty).
bool normalize_last_name(std::string_view in, const ReferenceTables& tables, std::string& out,
                         std::string& suffix);
bool normalize_date(std::string_view in, const ReferenceTables& tables, std::string& out);  // YYYYMMDD
bool normalize_sex(std::string_view in, std::string& out);                                  // M or F
bool normalize_phone(std::string_view in, const ReferenceTables& tables, std::string& out);  // 10 digits
bool normalize_zip(std::string_view in, const ReferenceTables& tables, std::string& out);    // 5 digits
bool normalize_street(std::string_view in, const ReferenceTables& tables, std::string& out);
bool normalize_city(std::string_view in, const ReferenceTables& tables, std::string& out);
bool normalize_state(std::string_view in, const ReferenceTables& tables, std::string& out);  // 2 letters
bool normalize_email(std::string_view in, const ReferenceTables& tables, std::string& out);
bool normalize_ssn(std::string_view in, const ReferenceTables& tables, std::string& out);  // 9 digits
bool normalize_recipient_id(std::string_view source, std::string_view id,
                            const ReferenceTables& tables, std::string& out);  // SOURCE|ID

// The number a run of ASCII digits stands for (up to 9 digits; callers pass digits only).
int digits_value(std::string_view digits) noexcept;

// ---- phonetics and similarity ----
// NYSIIS (original rules, key truncated to 6 characters). Letters A-Z only.
void nysiis(std::string_view name, std::string& out);
// Soundex packed as letter * 1000 + the three digits (0 when the name has no letter).
std::uint16_t soundex(std::string_view name) noexcept;
// Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters); compares the first 64 bytes.
double jaro_winkler(std::string_view a, std::string_view b) noexcept;
// jaro_winkler(a, b) when it can reach `minimum`, else 0 (a cheap bound skips most pairs of
// clearly different values).
double jaro_winkler_at_least(std::string_view a, std::string_view b, double minimum) noexcept;
// Same length and either one position differs or two adjacent positions are swapped.
bool one_typo_apart(std::string_view a, std::string_view b) noexcept;

// ---- values and their precomputed features ----
inline constexpr std::uint32_t kNoValue = 0xFFFFFFFFu;

struct ValueView {
  std::string_view text;
  std::uint32_t id = kNoValue;  // interned id in the field's value store, if any
  std::uint32_t phonetic = 0;   // names: 32-bit hash of the NYSIIS key
  std::uint32_t phonetic_tail = 0;  // names: the same without the first letter (OCR-proof start)
  std::uint16_t soundex = 0;    // names
  std::uint8_t split = 0;       // street: length of the house number; email: position of '@'
  std::span<const std::uint32_t> nicknames;  // first name: nickname group ids
};

// Fills the features of `view` (text set) for `field`.
void compute_features(Field field, ValueView& view, const ReferenceTables& tables,
                      std::string& scratch);

// Level numbers per field (0 is always "missing").
namespace level {
enum First : std::uint8_t { kFirstExact = 1, kFirstNickname, kFirstJw92, kFirstPhonetic, kFirstJw85,
                            kFirstMiddle, kFirstInitial, kFirstTransposed, kFirstDisagree };
enum Last : std::uint8_t { kLastExact = 1, kLastJw92, kLastPhonetic, kLastJw85, kLastPartial,
                           kLastTransposed, kLastDisagree };
enum Middle : std::uint8_t { kMiddleExact = 1, kMiddleInitial, kMiddleJw85, kMiddleDisagree };
enum Date : std::uint8_t { kDateExact = 1, kDateDayMonthSwap, kDateOneDigit, kDateYearOnly,
                           kDateWithinYear, kDateDisagree };
// "within_year": not the same year but at most this many days apart.
inline constexpr long kWithinYearDays = 400;
enum Sex : std::uint8_t { kSexExact = 1, kSexDisagree };
enum Street : std::uint8_t { kStreetExact = 1, kStreetJw92, kStreetSameNumber, kStreetDisagree };
enum City : std::uint8_t { kCityExact = 1, kCityJw92, kCityJw85, kCityDisagree };
enum Zip : std::uint8_t { kZipExact = 1, kZipOneDigit, kZipPrefix, kZipDisagree };
enum Phone : std::uint8_t { kPhoneExact = 1, kPhoneOneDigit, kPhoneLast7, kPhoneDisagree };
enum Email : std::uint8_t { kEmailExact = 1, kEmailJw92, kEmailSameUser, kEmailDisagree };
enum Ssn : std::uint8_t { kSsnExact = 1, kSsnOneDigit, kSsnDisagree };
enum RecipientId : std::uint8_t { kRidExact = 1, kRidDisagree };
}  // namespace level

inline constexpr std::uint8_t kLevelExact = 1;
std::uint8_t disagree_level(Field field);

// The level of two present values of `field` (never 0, except RecipientId of different sources,
// which are not comparable). Cross-field levels (transposed, middle-as-first) are not produced.
std::uint8_t compare_values(Field field, const ValueView& a, const ValueView& b);

}  // namespace detail
}  // namespace vaxetl::mpi
