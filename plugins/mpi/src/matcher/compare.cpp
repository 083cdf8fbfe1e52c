// Phonetic codes, string similarity, the flat key map, value features and the per-field
// comparators.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>

#include "matcher/matcher_internal.hpp"

namespace vaxetl::mpi::detail {

std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_text(std::string_view text) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h ^ text.size());
}

// ---- FlatKeyMap ----

const std::uint32_t* FlatKeyMap::find(std::uint64_t key) const noexcept {
  if (keys_.empty()) return nullptr;
  for (std::size_t slot = mix64(key) & mask_;; slot = (slot + 1) & mask_) {
    if (keys_[slot] == key) return &values_[slot];
    if (keys_[slot] == 0) return nullptr;
  }
}

std::uint32_t* FlatKeyMap::find(std::uint64_t key) noexcept {
  return const_cast<std::uint32_t*>(static_cast<const FlatKeyMap*>(this)->find(key));
}

std::uint32_t& FlatKeyMap::get_or_insert(std::uint64_t key, std::uint32_t initial, bool* inserted) {
  if ((size_ + 1) * 10 > keys_.size() * 7) grow();
  for (std::size_t slot = mix64(key) & mask_;; slot = (slot + 1) & mask_) {
    if (keys_[slot] == key) {
      if (inserted) *inserted = false;
      return values_[slot];
    }
    if (keys_[slot] == 0) {
      keys_[slot] = key;
      values_[slot] = initial;
      ++size_;
      if (inserted) *inserted = true;
      return values_[slot];
    }
  }
}

void FlatKeyMap::grow() {
  const std::size_t capacity = keys_.empty() ? 64 : keys_.size() * 2;
  std::vector<std::uint64_t> old_keys(capacity, 0);
  std::vector<std::uint32_t> old_values(capacity, 0);
  old_keys.swap(keys_);
  old_values.swap(values_);
  mask_ = capacity - 1;
  for (std::size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] == 0) continue;
    std::size_t slot = mix64(old_keys[i]) & mask_;
    while (keys_[slot] != 0) slot = (slot + 1) & mask_;
    keys_[slot] = old_keys[i];
    values_[slot] = old_values[i];
  }
}

// ---- phonetics ----

namespace {
bool is_vowel(char c) { return c == 'A' || c == 'E' || c == 'I' || c == 'O' || c == 'U'; }
}  // namespace

void nysiis(std::string_view name, std::string& out) {
  out.clear();
  std::array<char, 72> buf{};
  std::size_t n = 0;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z' && n < 64) buf[n++] = c;
  }
  if (n == 0) return;
  auto starts = [&](const char* prefix) {
    const std::size_t len = std::strlen(prefix);
    return n >= len && std::memcmp(buf.data(), prefix, len) == 0;
  };
  auto ends = [&](const char* suffix) {
    const std::size_t len = std::strlen(suffix);
    return n >= len && std::memcmp(buf.data() + n - len, suffix, len) == 0;
  };
  // Leading and trailing translations.
  if (starts("MAC")) buf[1] = 'C';
  else if (starts("KN")) buf[0] = 'N';
  else if (starts("K")) buf[0] = 'C';
  else if (starts("PH") || starts("PF")) buf[0] = buf[1] = 'F';
  else if (starts("SCH")) buf[1] = buf[2] = 'S';
  if (ends("EE") || ends("IE")) {
    buf[n - 2] = 'Y';
    --n;
  } else if (ends("DT") || ends("RT") || ends("RD") || ends("NT") || ends("ND")) {
    buf[n - 2] = 'D';
    --n;
  }
  out.push_back(buf[0]);
  for (std::size_t i = 1; i < n; ++i) {
    std::array<char, 3> piece{buf[i], 0, 0};
    std::size_t piece_len = 1;
    const char c = buf[i];
    if (c == 'E' && i + 1 < n && buf[i + 1] == 'V') {
      piece = {'A', 'F', 0};
      piece_len = 2;
      ++i;
    } else if (is_vowel(c)) {
      piece[0] = 'A';
    } else if (c == 'Q') {
      piece[0] = 'G';
    } else if (c == 'Z') {
      piece[0] = 'S';
    } else if (c == 'M') {
      piece[0] = 'N';
    } else if (c == 'K') {
      piece[0] = (i + 1 < n && buf[i + 1] == 'N') ? 'N' : 'C';
    } else if (c == 'S' && i + 2 < n && buf[i + 1] == 'C' && buf[i + 2] == 'H') {
      piece = {'S', 'S', 'S'};
      piece_len = 3;
      i += 2;
    } else if (c == 'P' && i + 1 < n && buf[i + 1] == 'H') {
      piece = {'F', 'F', 0};
      piece_len = 2;
      ++i;
    } else if (c == 'H' && (!is_vowel(buf[i - 1]) || (i + 1 < n && !is_vowel(buf[i + 1])) || i + 1 == n)) {
      piece[0] = buf[i - 1];
    } else if (c == 'W' && is_vowel(buf[i - 1])) {
      piece[0] = buf[i - 1];
    }
    // The translated characters replace the source ones for the look-behind rules.
    for (std::size_t k = 0; k < piece_len; ++k) {
      const std::size_t at = i + 1 - piece_len + k;
      buf[at] = piece[k];
      if (out.back() != piece[k]) out.push_back(piece[k]);
    }
  }
  if (out.size() > 1 && out.back() == 'S') out.pop_back();
  if (out.size() > 2 && out[out.size() - 2] == 'A' && out.back() == 'Y') {
    out.erase(out.size() - 2, 1);
  }
  if (out.size() > 1 && out.back() == 'A') out.pop_back();
  if (out.size() > 6) out.resize(6);
}

std::uint16_t soundex(std::string_view name) noexcept {
  // Codes for A..Z: 0 = vowel-like (separates), 7 = H/W (does not separate).
  static constexpr std::array<char, 26> kCodes{
      '0', '1', '2', '3', '0', '1', '2', '7', '0', '2', '2', '4', '5',
      '5', '0', '1', '2', '6', '2', '3', '0', '1', '7', '2', '0', '2'};
  char first = 0;
  int digits[3] = {0, 0, 0};
  int count = 0;
  char previous = 0;
  for (char c : name) {
    if (c < 'A' || c > 'Z') continue;
    const char code = kCodes[static_cast<std::size_t>(c - 'A')];
    if (first == 0) {
      first = c;
      previous = code;
      continue;
    }
    if (code == '7') continue;
    if (code != '0' && code != previous && count < 3) digits[count++] = code - '0';
    previous = code;
  }
  if (first == 0) return 0;
  return static_cast<std::uint16_t>((first - 'A' + 1) * 1000 + digits[0] * 100 + digits[1] * 10 + digits[2]);
}

double jaro_winkler(std::string_view a, std::string_view b) noexcept {
  if (a.size() > 64) a = a.substr(0, 64);
  if (b.size() > 64) b = b.substr(0, 64);
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  const int la = static_cast<int>(a.size()), lb = static_cast<int>(b.size());
  const int window = std::max(0, std::max(la, lb) / 2 - 1);
  std::uint64_t matched_a = 0, matched_b = 0;
  int matches = 0;
  for (int i = 0; i < la; ++i) {
    const int lo = std::max(0, i - window), hi = std::min(lb - 1, i + window);
    for (int j = lo; j <= hi; ++j) {
      if ((matched_b >> j) & 1u) continue;
      if (a[static_cast<std::size_t>(i)] != b[static_cast<std::size_t>(j)]) continue;
      matched_a |= 1ULL << i;
      matched_b |= 1ULL << j;
      ++matches;
      break;
    }
  }
  if (matches == 0) return 0.0;
  int transpositions = 0;
  for (int i = 0, j = 0; i < la; ++i) {
    if (!((matched_a >> i) & 1u)) continue;
    while (!((matched_b >> j) & 1u)) ++j;
    if (a[static_cast<std::size_t>(i)] != b[static_cast<std::size_t>(j)]) ++transpositions;
    ++j;
  }
  const double m = matches;
  const double jaro = (m / la + m / lb + (m - transpositions / 2.0) / m) / 3.0;
  int prefix = 0;
  while (prefix < 4 && prefix < la && prefix < lb &&
         a[static_cast<std::size_t>(prefix)] == b[static_cast<std::size_t>(prefix)]) {
    ++prefix;
  }
  return jaro + prefix * 0.1 * (1.0 - jaro);
}

double jaro_winkler_at_least(std::string_view a, std::string_view b, double minimum) noexcept {
  if (a.size() > 64) a = a.substr(0, 64);
  if (b.size() > 64) b = b.substr(0, 64);
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  // Upper bound: at most the letters the two share can match (counted in 32 buckets, which
  // can only overcount), with no transpositions and the real common prefix.
  std::array<std::uint8_t, 32> counts{};
  for (char c : a) ++counts[static_cast<unsigned char>(c) & 31u];
  int shared = 0;
  for (char c : b) {
    auto& n = counts[static_cast<unsigned char>(c) & 31u];
    if (n > 0) {
      --n;
      ++shared;
    }
  }
  if (shared == 0) return 0.0;
  const double m = shared;
  const double jaro_max = (m / static_cast<double>(a.size()) + m / static_cast<double>(b.size()) + 1.0) / 3.0;
  int prefix = 0;
  while (prefix < 4 && prefix < static_cast<int>(a.size()) && prefix < static_cast<int>(b.size()) &&
         a[static_cast<std::size_t>(prefix)] == b[static_cast<std::size_t>(prefix)]) {
    ++prefix;
  }
  if (jaro_max + prefix * 0.1 * (1.0 - jaro_max) < minimum) return 0.0;
  return jaro_winkler(a, b);
}

bool one_typo_apart(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  std::size_t first = a.size(), differences = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    if (++differences > 2) return false;
    if (first == a.size()) first = i;
  }
  if (differences == 1) return true;
  return differences == 2 && first + 1 < a.size() && a[first] == b[first + 1] &&
         a[first + 1] == b[first];
}

// ---- features and comparators ----

void compute_features(Field field, ValueView& view, const ReferenceTables& tables,
                      std::string& scratch) {
  switch (field) {
    case Field::FirstName:
    case Field::MiddleName:
    case Field::LastName: {
      nysiis(view.text, scratch);
      view.phonetic = static_cast<std::uint32_t>(hash_text(scratch));
      nysiis(view.text.size() > 2 ? view.text.substr(1) : std::string_view(), scratch);
      view.phonetic_tail = static_cast<std::uint32_t>(hash_text(scratch));
      view.soundex = soundex(view.text);
      if (field == Field::FirstName) {
        auto it = tables.nickname_groups.find(view.text);
        view.nicknames = it == tables.nickname_groups.end()
                             ? std::span<const std::uint32_t>{}
                             : std::span<const std::uint32_t>(it->second);
      }
      break;
    }
    case Field::Street: {
      std::size_t digits = 0;
      while (digits < view.text.size() && digits < 255 && view.text[digits] != ' ') ++digits;
      const bool numbered = !view.text.empty() && view.text[0] >= '0' && view.text[0] <= '9';
      view.split = numbered ? static_cast<std::uint8_t>(digits) : 0;
      break;
    }
    case Field::Email: {
      const auto at = view.text.find('@');
      view.split = static_cast<std::uint8_t>(std::min<std::size_t>(at == std::string_view::npos ? 0 : at, 255));
      break;
    }
    default:
      break;
  }
}

std::uint8_t disagree_level(Field field) {
  switch (field) {
    case Field::FirstName: return level::kFirstDisagree;
    case Field::MiddleName: return level::kMiddleDisagree;
    case Field::LastName: return level::kLastDisagree;
    case Field::BirthDate: return level::kDateDisagree;
    case Field::Sex: return level::kSexDisagree;
    case Field::Street: return level::kStreetDisagree;
    case Field::City: return level::kCityDisagree;
    case Field::Zip: return level::kZipDisagree;
    case Field::Phone: return level::kPhoneDisagree;
    case Field::Email: return level::kEmailDisagree;
    case Field::Ssn: return level::kSsnDisagree;
    case Field::RecipientId: return level::kRidExact + 1;
  }
  return 0;
}

namespace {

bool share_group(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b) {
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (*i == *j) return true;
    if (*i < *j) ++i;
    else ++j;
  }
  return false;
}

// Two nine-digit numbers at most 2 apart.
bool consecutive_numbers(std::string_view a, std::string_view b) {
  const long x = digits_value(a), y = digits_value(b);
  return (x > y ? x - y : y - x) <= 2;
}

// Days since the epoch of a YYYYMMDD date (normalized upstream), if it is a calendar date.
std::optional<long> day_number(std::string_view date) {
  const std::chrono::year_month_day ymd{std::chrono::year{digits_value(date.substr(0, 4))},
                                        std::chrono::month{static_cast<unsigned>(digits_value(date.substr(4, 2)))},
                                        std::chrono::day{static_cast<unsigned>(digits_value(date.substr(6, 2)))}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

// Two YYYYMMDD dates at most kWithinYearDays apart. Most pairs of dates are years apart and
// never reach the calendar arithmetic (400 days can span year numbers two apart: 12-31 to 01-01).
bool within_a_year(std::string_view a, std::string_view b) {
  const int year_a = digits_value(a.substr(0, 4)), year_b = digits_value(b.substr(0, 4));
  if (year_a - year_b > 2 || year_b - year_a > 2) return false;
  const auto x = day_number(a), y = day_number(b);
  return x && y && (*x > *y ? *x - *y : *y - *x) <= level::kWithinYearDays;
}

bool is_initial_of(std::string_view initial, std::string_view name) {
  return initial.size() == 1 && !name.empty() && initial[0] == name[0];
}

// One name contains the other as a whole token (GARCIA LOPEZ / GARCIA), or, written without
// spaces, as a prefix or suffix of at least four letters (SMITHJONES / JONES).
bool partial_name(std::string_view a, std::string_view b) {
  if (a.size() < b.size()) std::swap(a, b);
  if (b.size() < 3) return false;
  for (std::size_t at = a.find(b); at != std::string_view::npos; at = a.find(b, at + 1)) {
    const bool starts = at == 0 || a[at - 1] == ' ';
    const bool ends = at + b.size() == a.size() || a[at + b.size()] == ' ';
    if (starts && ends) return true;
    if (b.size() >= 4 && ((at == 0) || (at + b.size() == a.size()))) return true;
  }
  return false;
}

bool same_phonetic(const ValueView& a, const ValueView& b, double jw) {
  return a.phonetic == b.phonetic || (a.soundex == b.soundex && a.soundex != 0 && jw >= 0.80);
}

bool same_id_or_text(const ValueView& a, const ValueView& b) {
  if (a.id != kNoValue && b.id != kNoValue) return a.id == b.id;
  return a.text == b.text;
}

}  // namespace

std::uint8_t compare_values(Field field, const ValueView& a, const ValueView& b) {
  using namespace level;
  if (field == Field::RecipientId) {
    // Only ids from the same source are comparable: "SRC|ID".
    const auto bar_a = a.text.find('|'), bar_b = b.text.find('|');
    if (a.text.substr(0, bar_a) != b.text.substr(0, bar_b)) return 0;
    return same_id_or_text(a, b) ? kRidExact : kRidDisagree;
  }
  if (same_id_or_text(a, b)) return kLevelExact;
  switch (field) {
    case Field::FirstName: {
      if (share_group(a.nicknames, b.nicknames)) return kFirstNickname;
      const double jw = jaro_winkler_at_least(a.text, b.text, 0.80);
      if (jw >= 0.92) return kFirstJw92;
      if (same_phonetic(a, b, jw)) return kFirstPhonetic;
      if (jw >= 0.85) return kFirstJw85;
      if (is_initial_of(a.text, b.text) || is_initial_of(b.text, a.text)) return kFirstInitial;
      return kFirstDisagree;
    }
    case Field::LastName: {
      const double jw = jaro_winkler_at_least(a.text, b.text, 0.80);
      if (jw >= 0.92) return kLastJw92;
      if (same_phonetic(a, b, jw)) return kLastPhonetic;
      if (jw >= 0.85) return kLastJw85;
      if (partial_name(a.text, b.text)) return kLastPartial;
      return kLastDisagree;
    }
    case Field::MiddleName: {
      if (is_initial_of(a.text, b.text) || is_initial_of(b.text, a.text)) return kMiddleInitial;
      if (jaro_winkler_at_least(a.text, b.text, 0.85) >= 0.85) return kMiddleJw85;
      return kMiddleDisagree;
    }
    case Field::BirthDate: {
      // YYYYMMDD
      const std::string_view x = a.text, y = b.text;
      if (x.size() != 8 || y.size() != 8) return kDateDisagree;
      const bool same_year = x.substr(0, 4) == y.substr(0, 4);
      if (same_year && x.substr(4, 2) == y.substr(6, 2) && x.substr(6, 2) == y.substr(4, 2)) {
        return kDateDayMonthSwap;
      }
      if (one_typo_apart(x, y)) return kDateOneDigit;
      if (same_year) return kDateYearOnly;
      // A year typed wrong along with a day or two, or a sibling born within the year: the
      // guards tell them apart (guard_rule), a parent is never this close.
      if (within_a_year(x, y)) return kDateWithinYear;
      return kDateDisagree;
    }
    case Field::Sex:
      return kSexDisagree;
    case Field::Street: {
      if (jaro_winkler_at_least(a.text, b.text, 0.92) >= 0.92) return kStreetJw92;
      if (a.split > 0 && a.split == b.split && a.text.substr(0, a.split) == b.text.substr(0, b.split) &&
          jaro_winkler_at_least(a.text.substr(a.split), b.text.substr(b.split), 0.80) >= 0.80) {
        return kStreetSameNumber;
      }
      return kStreetDisagree;
    }
    case Field::City: {
      const double jw = jaro_winkler_at_least(a.text, b.text, 0.85);
      if (jw >= 0.92) return kCityJw92;
      if (jw >= 0.85) return kCityJw85;
      return kCityDisagree;
    }
    case Field::Zip: {
      if (one_typo_apart(a.text, b.text)) return kZipOneDigit;
      if (a.text.substr(0, 3) == b.text.substr(0, 3)) return kZipPrefix;
      return kZipDisagree;
    }
    case Field::Phone: {
      if (one_typo_apart(a.text, b.text)) return kPhoneOneDigit;
      if (a.text.size() == 10 && b.text.size() == 10 && a.text.substr(3) == b.text.substr(3)) {
        return kPhoneLast7;
      }
      return kPhoneDisagree;
    }
    case Field::Email: {
      if (jaro_winkler_at_least(a.text, b.text, 0.92) >= 0.92) return kEmailJw92;
      if (a.split > 0 && a.split == b.split && a.text.substr(0, a.split) == b.text.substr(0, b.split)) {
        return kEmailSameUser;
      }
      return kEmailDisagree;
    }
    case Field::Ssn:
      // Twins and siblings born together are often issued consecutive numbers: a difference
      // of one or two is a sibling as likely as a typo, so it does not count as close.
      return one_typo_apart(a.text, b.text) && !consecutive_numbers(a.text, b.text) ? kSsnOneDigit
                                                                                      : kSsnDisagree;
    case Field::RecipientId:
      break;
  }
  return disagree_level(field);
}

}  // namespace vaxetl::mpi::detail
