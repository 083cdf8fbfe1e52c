#include <gtest/gtest.h>

#include "ncvr/value_checks.hpp"

namespace vaxetl::ncvr {
namespace {

std::string normalized_ndc(std::string_view text) {
  std::array<char, 13> out{};
  return normalize_ndc(text, out) ? std::string(out.data(), out.size()) : std::string("<invalid>");
}

TEST(ValueChecks, ParsesRealCalendarDatesOnly) {
  EXPECT_TRUE(parse_date("2020-02-29"));
  EXPECT_FALSE(parse_date("2021-02-29"));
  EXPECT_FALSE(parse_date("1900-02-29"));
  EXPECT_TRUE(parse_date("2000-02-29"));
  EXPECT_FALSE(parse_date("2021-13-01"));
  EXPECT_FALSE(parse_date("2021-04-31"));
  EXPECT_FALSE(parse_date("2021-4-01"));
  EXPECT_FALSE(parse_date("20210401"));
  EXPECT_FALSE(parse_date("0000-01-01"));
}

TEST(ValueChecks, ReadsMonthOnlyExpiryAsEndOfMonth) {
  const auto expiry = parse_expiry("2021-02");
  ASSERT_TRUE(expiry);
  EXPECT_FALSE(Date({2021, 2, 28}) > *expiry);
  EXPECT_TRUE(Date({2021, 3, 1}) > *expiry);
  EXPECT_FALSE(parse_expiry("2021-13"));
  EXPECT_TRUE(parse_expiry("2021-02-28"));
}

TEST(ValueChecks, CountsAgeInWholeYears) {
  EXPECT_EQ(age_in_years({1901, 3, 15}, {2021, 3, 15}), 120);
  EXPECT_EQ(age_in_years({1901, 3, 16}, {2021, 3, 15}), 119);
  EXPECT_EQ(age_in_years({2000, 2, 29}, {2021, 2, 28}), 20);
  EXPECT_EQ(age_in_years({2000, 2, 29}, {2021, 3, 1}), 21);
}

TEST(ValueChecks, NormalizesTenDigitNdcFormsToElevenDigits) {
  EXPECT_EQ(normalized_ndc("59267-1000-02"), "59267-1000-02");
  EXPECT_EQ(normalized_ndc("0069-2025-10"), "00069-2025-10");   // 4-4-2
  EXPECT_EQ(normalized_ndc("80777-273-99"), "80777-0273-99");   // 5-3-2
  EXPECT_EQ(normalized_ndc("59676-0580-5"), "59676-0580-05");   // 5-4-1
  EXPECT_EQ(normalized_ndc("59267100002"), "59267-1000-02");    // 11 plain digits
  EXPECT_EQ(normalized_ndc("5926710002"), "<invalid>");         // 10 plain digits: ambiguous
  EXPECT_EQ(normalized_ndc("592671-000-02"), "<invalid>");
  EXPECT_EQ(normalized_ndc("59267-1000"), "<invalid>");
  EXPECT_EQ(normalized_ndc("59267-1000-0A"), "<invalid>");
}

TEST(ValueChecks, NormalizesPinToNcaPlusSix) {
  std::array<char, 9> pin{};
  ASSERT_TRUE(normalize_pin("123456", pin));
  EXPECT_EQ(std::string(pin.data(), 9), "NCA123456");
  ASSERT_TRUE(normalize_pin("nca12ab56", pin));
  EXPECT_EQ(std::string(pin.data(), 9), "NCA12AB56");
  EXPECT_FALSE(normalize_pin("NCB123456", pin));
  EXPECT_FALSE(normalize_pin("12345", pin));
  EXPECT_FALSE(normalize_pin("12-456", pin));
}

TEST(ValueChecks, NormalizesPhoneToTenNanpDigits) {
  std::array<char, 10> phone{};
  ASSERT_TRUE(normalize_phone("(919) 555-0123", phone));
  EXPECT_EQ(std::string(phone.data(), 10), "9195550123");
  ASSERT_TRUE(normalize_phone("+1 919.555.0123", phone));
  EXPECT_EQ(std::string(phone.data(), 10), "9195550123");
  EXPECT_FALSE(normalize_phone("555-0123", phone));
  EXPECT_FALSE(normalize_phone("119-555-0123", phone));  // area code starts with 1
  EXPECT_FALSE(normalize_phone("919-155-0123", phone));  // exchange starts with 1
  EXPECT_FALSE(normalize_phone("919-555-0123 x12", phone));
}

TEST(ValueChecks, ChecksNpiLuhnWithPrefix80840) {
  EXPECT_TRUE(npi_check_digit_ok("1234567893"));
  EXPECT_FALSE(npi_check_digit_ok("1234567890"));
  EXPECT_TRUE(is_npi_shape("1234567893"));
  EXPECT_FALSE(is_npi_shape("123456789"));
}

TEST(ValueChecks, FindsControlCharactersAndInvalidUtf8) {
  EXPECT_EQ(count_utf8_chars("Jos\xC3\xA9"), 4u);
  EXPECT_EQ(count_utf8_chars("\xE2\x82\xAC\xF0\x9F\x92\x89"), 2u);
  EXPECT_FALSE(count_utf8_chars("a\tb"));
  EXPECT_FALSE(count_utf8_chars("a\rb"));
  EXPECT_FALSE(count_utf8_chars(std::string_view("a\0b", 3)));
  EXPECT_FALSE(count_utf8_chars("\x7F"));
  EXPECT_FALSE(count_utf8_chars("\xFF"));
  EXPECT_FALSE(count_utf8_chars("\xC3"));          // truncated
  EXPECT_FALSE(count_utf8_chars("\xC0\xAF"));      // overlong
  EXPECT_FALSE(count_utf8_chars("\xED\xA0\x80"));  // surrogate
}

TEST(ValueChecks, AcceptsSimpleShapes) {
  EXPECT_TRUE(is_zip("27601"));
  EXPECT_TRUE(is_zip("27601-1234"));
  EXPECT_FALSE(is_zip("2760"));
  EXPECT_FALSE(is_zip("276011234"));
  EXPECT_TRUE(is_email("jane@example.org"));
  EXPECT_FALSE(is_email("jane.example.org"));
  EXPECT_FALSE(is_email("jane@example"));
  EXPECT_FALSE(is_email("ja ne@example.org"));
  EXPECT_TRUE(is_decimal("0.3"));
  EXPECT_TRUE(is_decimal(".25"));
  EXPECT_FALSE(is_decimal("0.3mL"));
  EXPECT_FALSE(is_decimal("."));
  EXPECT_TRUE(is_timestamp("2021-03-15T10:20:30"));
  EXPECT_FALSE(is_timestamp("2021-03-15 10:20:30"));
  EXPECT_FALSE(is_timestamp("2021-03-15T24:00:00"));
  EXPECT_TRUE(is_lot_number("EN-6201"));
  EXPECT_FALSE(is_lot_number("EN_6201"));
}

}  // namespace
}  // namespace vaxetl::ncvr
