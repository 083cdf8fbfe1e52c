#include "ncvr/value_checks.hpp"

#include <chrono>
#include <cstring>

namespace vaxetl::ncvr {
namespace {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool is_alnum(char c) noexcept { return is_digit(c) || is_alpha(c); }
constexpr char to_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

constexpr bool all_digits(std::string_view s) noexcept {
  for (const char c : s)
    if (!is_digit(c)) return false;
  return !s.empty();
}

// Value of `count` digits at `text[at]`; the caller has checked they are digits.
constexpr int digits_value(std::string_view text, std::size_t at, std::size_t count) noexcept {
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) value = value * 10 + (text[at + i] - '0');
  return value;
}

constexpr bool is_leap(int year) noexcept {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

constexpr int days_in_month(int year, int month) noexcept {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// Non-zero exactly when one of the 8 bytes is a control character, DEL or not ASCII (the set
// bits need not say which: a borrow only starts at a byte that is itself below 0x20).
constexpr std::uint64_t non_printable_ascii_bytes(std::uint64_t word) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHighBits = 0x8080808080808080ull;
  const std::uint64_t below_space = (word - 0x20 * kOnes) & ~word & kHighBits;
  const std::uint64_t xor_del = word ^ (0x7F * kOnes);
  const std::uint64_t del = (xor_del - kOnes) & ~xor_del & kHighBits;
  return (word & kHighBits) | below_space | del;
}

// The digit at `text[at]` as 0-9, or a value above 9 for any other character.
constexpr unsigned digit_at(std::string_view text, std::size_t at) noexcept {
  return static_cast<unsigned>(static_cast<unsigned char>(text[at])) - '0';
}

// YYYY-MM at the start of `text` (at least 7 characters). Year 0000 is nobody's year.
bool parse_year_month(std::string_view text, Date& out) noexcept {
  const unsigned y0 = digit_at(text, 0), y1 = digit_at(text, 1), y2 = digit_at(text, 2),
                 y3 = digit_at(text, 3), m0 = digit_at(text, 5), m1 = digit_at(text, 6);
  if ((y0 > 9) | (y1 > 9) | (y2 > 9) | (y3 > 9) | (m0 > 9) | (m1 > 9) | (text[4] != '-')) return false;
  out.year = static_cast<int>(y0 * 1000 + y1 * 100 + y2 * 10 + y3);
  out.month = static_cast<int>(m0 * 10 + m1);
  return out.year > 0 && out.month >= 1 && out.month <= 12;
}

}  // namespace

Date Date::today_utc() noexcept {
  const auto now = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day ymd{now};
  return Date{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
              static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

std::optional<Date> parse_date(std::string_view text) noexcept {
  Date date;
  if (text.size() != 10 || text[7] != '-' || !parse_year_month(text, date)) return std::nullopt;
  const unsigned d0 = digit_at(text, 8), d1 = digit_at(text, 9);
  if ((d0 > 9) | (d1 > 9)) return std::nullopt;
  date.day = static_cast<int>(d0 * 10 + d1);
  if (date.day < 1 || date.day > days_in_month(date.year, date.month)) return std::nullopt;
  return date;
}

std::optional<Date> parse_expiry(std::string_view text) noexcept {
  if (text.size() == 10) return parse_date(text);
  Date date;
  if (text.size() != 7 || !parse_year_month(text, date)) return std::nullopt;
  date.day = 31;
  return date;
}

int age_in_years(const Date& birth, const Date& on) noexcept {
  int age = on.year - birth.year;
  if (on.month < birth.month || (on.month == birth.month && on.day < birth.day)) --age;
  return age;
}

bool is_timestamp(std::string_view text) noexcept {
  if (text.size() != 19 || text[10] != 'T' || text[13] != ':' || text[16] != ':') return false;
  if (!parse_date(text.substr(0, 10))) return false;
  for (const std::size_t i : {11, 12, 14, 15, 17, 18})
    if (!is_digit(text[i])) return false;
  return digits_value(text, 11, 2) < 24 && digits_value(text, 14, 2) < 60 &&
         digits_value(text, 17, 2) < 60;
}

bool is_printable_ascii(std::string_view text) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  std::uint64_t flags = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i, sizeof word);
    flags |= non_printable_ascii_bytes(word);
  }
  for (; i < text.size(); ++i) flags |= (bytes[i] < 0x20 || bytes[i] >= 0x7F) ? 1u : 0u;
  return flags == 0;
}

std::optional<std::size_t> count_utf8_chars(std::string_view text) noexcept {
  std::size_t chars = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    if (i + 8 <= size) {
      std::uint64_t word;
      std::memcpy(&word, bytes + i, sizeof word);
      if (non_printable_ascii_bytes(word) == 0) {
        i += 8;
        chars += 8;
        continue;
      }
    }
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      if (lead < 0x20 || lead == 0x7F) return std::nullopt;
      ++i;
      ++chars;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code_point = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      code_point = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code_point = lead & 0x07u;
    } else {
      return std::nullopt;  // continuation byte as lead, overlong C0/C1, or beyond U+10FFFF
    }
    if (i + length > size) return std::nullopt;
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned char next = bytes[i + k];
      if ((next & 0xC0u) != 0x80u) return std::nullopt;
      code_point = (code_point << 6) | (next & 0x3Fu);
    }
    const bool overlong = (length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000);
    const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
    if (overlong || surrogate || code_point > 0x10FFFF) return std::nullopt;
    i += length;
    ++chars;
  }
  return chars;
}

bool has_whitespace(std::string_view text) noexcept {
  return text.find(' ') != std::string_view::npos;
}

bool is_upper_alnum(std::string_view text) noexcept {
  for (const char c : text)
    if (!is_digit(c) && !(c >= 'A' && c <= 'Z')) return false;
  return !text.empty();
}

bool is_lot_number(std::string_view text) noexcept {
  for (const char c : text)
    if (!is_alnum(c) && c != '-') return false;
  return !text.empty();
}

bool is_zip(std::string_view text) noexcept {
  if (text.size() == 5) return all_digits(text);
  return text.size() == 10 && text[5] == '-' && all_digits(text.substr(0, 5)) &&
         all_digits(text.substr(6));
}

bool is_email(std::string_view text) noexcept {
  const std::size_t at = text.find('@');
  if (at == 0 || at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos)
    return false;
  const std::string_view domain = text.substr(at + 1);
  const std::size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == domain.size() || domain.front() == '.')
    return false;
  for (const char c : text)
    if (c == ' ' || c == ',' || c == ';' || c == '<' || c == '>') return false;
  return true;
}

bool is_decimal(std::string_view text) noexcept {
  bool seen_digit = false;
  bool seen_point = false;
  for (const char c : text) {
    if (is_digit(c)) {
      seen_digit = true;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      return false;
    }
  }
  return seen_digit;
}

bool normalize_pin(std::string_view text, std::array<char, 9>& out) noexcept {
  if (text.size() == 9) {
    if (to_upper(text[0]) != 'N' || to_upper(text[1]) != 'C' || to_upper(text[2]) != 'A')
      return false;
    text.remove_prefix(3);
  }
  if (text.size() != 6) return false;
  out[0] = 'N';
  out[1] = 'C';
  out[2] = 'A';
  for (std::size_t i = 0; i < 6; ++i) {
    if (!is_alnum(text[i])) return false;
    out[3 + i] = to_upper(text[i]);
  }
  return true;
}

bool normalize_phone(std::string_view text, std::array<char, 10>& out) noexcept {
  std::array<char, 11> digits{};
  std::size_t count = 0;
  for (const char c : text) {
    if (is_digit(c)) {
      if (count == digits.size()) return false;
      digits[count++] = c;
    } else if (c != '(' && c != ')' && c != '-' && c != '.' && c != ' ' && c != '+') {
      return false;
    }
  }
  std::size_t first = 0;
  if (count == 11 && digits[0] == '1') first = 1;  // country code
  else if (count != 10) return false;
  if (digits[first] < '2' || digits[first + 3] < '2') return false;
  for (std::size_t i = 0; i < 10; ++i) out[i] = digits[first + i];
  return true;
}

bool normalize_ndc(std::string_view text, std::array<char, 13>& out) noexcept {
  // Segment lengths as sent; each short segment gets the leading zero the 11-digit form has.
  std::string_view labeler, product, package;
  if (text.size() == 11 && all_digits(text)) {
    labeler = text.substr(0, 5);
    product = text.substr(5, 4);
    package = text.substr(9, 2);
  } else {
    const std::size_t first = text.find('-');
    const std::size_t second = first == std::string_view::npos ? first : text.find('-', first + 1);
    if (second == std::string_view::npos || text.find('-', second + 1) != std::string_view::npos)
      return false;
    labeler = text.substr(0, first);
    product = text.substr(first + 1, second - first - 1);
    package = text.substr(second + 1);
    if (!all_digits(labeler) || !all_digits(product) || !all_digits(package)) return false;
    const bool full = labeler.size() == 5 && product.size() == 4 && package.size() == 2;
    const bool ten_digit = (labeler.size() == 4 && product.size() == 4 && package.size() == 2) ||
                           (labeler.size() == 5 && product.size() == 3 && package.size() == 2) ||
                           (labeler.size() == 5 && product.size() == 4 && package.size() == 1);
    if (!full && !ten_digit) return false;
  }
  auto put = [&out](std::size_t at, std::size_t width, std::string_view segment) {
    const std::size_t pad = width - segment.size();
    for (std::size_t i = 0; i < pad; ++i) out[at + i] = '0';
    for (std::size_t i = 0; i < segment.size(); ++i) out[at + pad + i] = segment[i];
  };
  put(0, 5, labeler);
  out[5] = '-';
  put(6, 4, product);
  out[10] = '-';
  put(11, 2, package);
  return true;
}

std::uint64_t ndc_key(std::string_view normalized) noexcept {
  std::uint64_t key = 0;
  for (const char c : normalized)
    if (is_digit(c)) key = key * 10 + static_cast<std::uint64_t>(c - '0');
  return key;
}

bool is_npi_shape(std::string_view text) noexcept { return text.size() == 10 && all_digits(text); }

bool npi_check_digit_ok(std::string_view npi) noexcept {
  // Luhn over the 15 digits "80840" + NPI, doubling every second digit from the right.
  constexpr std::string_view kPrefix = "80840";
  int sum = 0;
  bool doubled = false;
  auto add = [&sum, &doubled](char c) {
    int digit = c - '0';
    if (doubled) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    doubled = !doubled;
  };
  for (std::size_t i = npi.size(); i-- > 0;) add(npi[i]);
  for (std::size_t i = kPrefix.size(); i-- > 0;) add(kPrefix[i]);
  return sum % 10 == 0;
}

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  return true;
}

}  // namespace vaxetl::ncvr
