// Allocation-free checks of single NCVR values. Each takes the field as received (already
// trimmed) and answers whether its shape is valid; normalizers write into caller buffers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vaxetl::ncvr {

// A calendar date. YYYY-MM expirations use day 0 as "the whole month": see expiry_end().
struct Date {
  int year = 0;
  int month = 0;
  int day = 0;

  // Orders dates; also orders a month-only expiry against dates once expiry_end() applied.
  constexpr int ordinal() const noexcept { return year * 10000 + month * 100 + day; }
  friend constexpr bool operator==(const Date& a, const Date& b) noexcept {
    return a.ordinal() == b.ordinal();
  }
  friend constexpr auto operator<=>(const Date& a, const Date& b) noexcept {
    return a.ordinal() <=> b.ordinal();
  }
  // Today's date in UTC. UTC is ahead of US time, so a dose given "today" in North Carolina
  // is never in the future by this clock.
  static Date today_utc() noexcept;
};

// YYYY-MM-DD naming a real calendar day (leap years included).
std::optional<Date> parse_date(std::string_view text) noexcept;
// YYYY-MM-DD, or YYYY-MM meaning the last day of that month (returned with day 31: the
// comparison with any date of that month then says "not after").
std::optional<Date> parse_expiry(std::string_view text) noexcept;
// Whole years from `birth` to `on` (the birthday counts on its day; Feb 29 on Mar 1).
int age_in_years(const Date& birth, const Date& on) noexcept;

// YYYY-MM-DDTHH:MM:SS with a real date and time.
bool is_timestamp(std::string_view text) noexcept;

// Scans for control characters (C0, DEL) and invalid UTF-8. Returns the number of code
// points, or nullopt when the text has either problem.
std::optional<std::size_t> count_utf8_chars(std::string_view text) noexcept;

// True when every byte is printable ASCII (0x20-0x7E): then the text is valid UTF-8, free of
// control characters, and has as many characters as bytes.
bool is_printable_ascii(std::string_view text) noexcept;

// True when `text` contains a space (control characters are caught by count_utf8_chars).
bool has_whitespace(std::string_view text) noexcept;
bool is_upper_alnum(std::string_view text) noexcept;
// Letters, digits and hyphens only.
bool is_lot_number(std::string_view text) noexcept;
// 99999 or 99999-9999.
bool is_zip(std::string_view text) noexcept;
// local@domain.tld with no spaces and one '@'.
bool is_email(std::string_view text) noexcept;
// Digits with at most one decimal point and at least one digit: 0.3, .5, 1.
bool is_decimal(std::string_view text) noexcept;

// PIN: NCA + 6 letters/digits, or the 6 alone; case-insensitive. Writes "NCA" + 6 upper-case.
bool normalize_pin(std::string_view text, std::array<char, 9>& out) noexcept;
// A 10-digit NANP number once ( ) - . space and a leading +1/1 are dropped; area code and
// exchange start with 2-9.
bool normalize_phone(std::string_view text, std::array<char, 10>& out) noexcept;

// NDC in any of 5-4-2, 4-4-2, 5-3-2, 5-4-1 (hyphenated) or 11 plain digits. A plain 10-digit
// NDC is refused: which segment lacks its leading zero cannot be known. Writes 5-4-2.
bool normalize_ndc(std::string_view text, std::array<char, 13>& out) noexcept;
// The 11 digits of a normalized 5-4-2 NDC as one number: the catalog's lookup key.
std::uint64_t ndc_key(std::string_view normalized_5_4_2) noexcept;

// 10 digits.
bool is_npi_shape(std::string_view text) noexcept;
// The NPI check digit (Luhn over 80840 + the 10 digits). Call only with is_npi_shape true.
bool npi_check_digit_ok(std::string_view npi) noexcept;

// ASCII case-insensitive equality.
bool equals_ignore_case(std::string_view a, std::string_view b) noexcept;

}  // namespace vaxetl::ncvr
