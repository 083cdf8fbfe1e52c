// Normalization of every field: case, accents, punctuation, suffixes, placeholders, formats.
#include <gtest/gtest.h>

#include "test_tables.hpp"

namespace vaxetl::mpi {
namespace {

using namespace detail;
const ReferenceTables& t() { return *test::tables(); }

std::string first(std::string_view in) {
  std::string out;
  normalize_first_name(in, t(), out);
  return out;
}
std::string last(std::string_view in, std::string* suffix_out = nullptr) {
  std::string out, suffix;
  normalize_last_name(in, t(), out, suffix);
  if (suffix_out) *suffix_out = suffix;
  return out;
}
template <typename Fn>
std::string norm(Fn fn, std::string_view in) {
  std::string out;
  const bool ok = fn(in, t(), out);
  EXPECT_EQ(ok, !out.empty());
  return out;
}

TEST(MpiNormalize, NamesAreUpperCaseAsciiWithAccentsFolded) {
  EXPECT_EQ(first("josé"), "JOSE");
  EXPECT_EQ(first("Zoë"), "ZOE");
  EXPECT_EQ(last("Müller"), "MULLER");
  EXPECT_EQ(last("Ångström"), "ANGSTROM");
  EXPECT_EQ(last("Straße"), "STRASSE");
  EXPECT_EQ(first("Ærin"), "AERIN");
  EXPECT_EQ(first("Fran\xE7" "ois"), "FRANCOIS");  // raw Latin-1 byte, not UTF-8
}

TEST(MpiNormalize, NamePunctuation) {
  EXPECT_EQ(last("O'Brien"), "OBRIEN");
  EXPECT_EQ(last("O\xE2\x80\x99" "Brien"), "OBRIEN");  // typographic apostrophe
  EXPECT_EQ(last("Smith-Jones"), "SMITH JONES");
  EXPECT_EQ(first("  mary   ann "), "MARY ANN");
  EXPECT_EQ(first("J."), "J");
  EXPECT_EQ(first("j0hn"), "JOHN");  // a digit in a name is a misread letter
  EXPECT_EQ(last("croc1<ett"), "CROCIETT");  // symbols inside a word are noise
  EXPECT_EQ(last("Smith 3"), "SMITH");
}

TEST(MpiNormalize, SuffixesSplitOffTheLastName) {
  std::string suffix;
  EXPECT_EQ(last("Smith Jr", &suffix), "SMITH");
  EXPECT_EQ(suffix, "JR");
  EXPECT_EQ(last("SMITH, SR.", &suffix), "SMITH");
  EXPECT_EQ(suffix, "SR");
  EXPECT_EQ(last("King III", &suffix), "KING");
  EXPECT_EQ(suffix, "III");
  EXPECT_EQ(last("Gates II", &suffix), "GATES");
  EXPECT_EQ(last("Henry IV", &suffix), "HENRY");
  EXPECT_EQ(last("Jr", &suffix), "JR");  // alone it is a name
  EXPECT_EQ(suffix, "");
}

TEST(MpiNormalize, NamePlaceholdersAreMissing) {
  for (const char* value : {"BABY BOY", "baby girl", "Unknown", "UNK", "TEST", "NFN", "FNU", "LNU", "NONE", "N/A"}) {
    EXPECT_EQ(first(value), "") << value;
  }
  EXPECT_EQ(first("Baby Girl Smith"), "");  // a placeholder first token
  EXPECT_EQ(last("lnu"), "");
  EXPECT_EQ(first("Babette"), "BABETTE");
}

TEST(MpiNormalize, Dates) {
  EXPECT_EQ(norm(normalize_date, "1971-06-24"), "19710624");
  EXPECT_EQ(norm(normalize_date, "19710624"), "19710624");
  EXPECT_EQ(norm(normalize_date, " 1971/06/24 "), "19710624");
  EXPECT_EQ(norm(normalize_date, "06/24/1971"), "19710624");
  EXPECT_EQ(norm(normalize_date, "1971-06-24T00:00:00"), "19710624");
  EXPECT_EQ(norm(normalize_date, "2000-02-29"), "20000229");
  EXPECT_EQ(norm(normalize_date, "1900-02-29"), "");  // not a leap year
  EXPECT_EQ(norm(normalize_date, "1971-13-01"), "");
  EXPECT_EQ(norm(normalize_date, "19710631"), "");
  EXPECT_EQ(norm(normalize_date, "1900-01-01"), "");  // placeholder
  EXPECT_EQ(norm(normalize_date, "19000101"), "");
  EXPECT_EQ(norm(normalize_date, "1850-05-05"), "");
  EXPECT_EQ(norm(normalize_date, "June 24"), "");
}

TEST(MpiNormalize, Sex) {
  std::string out;
  EXPECT_TRUE(normalize_sex("m", out));
  EXPECT_EQ(out, "M");
  EXPECT_TRUE(normalize_sex("Female", out));
  EXPECT_EQ(out, "F");
  EXPECT_FALSE(normalize_sex("U", out));
  EXPECT_FALSE(normalize_sex("X", out));
  EXPECT_EQ(out, "");
}

TEST(MpiNormalize, PhoneIsTenDigits) {
  EXPECT_EQ(norm(normalize_phone, "(919) 555-0123"), "9195550123");
  EXPECT_EQ(norm(normalize_phone, "+1 919 555 0123"), "9195550123");
  EXPECT_EQ(norm(normalize_phone, "919.555.0123 x12"), "9195550123");
  EXPECT_EQ(norm(normalize_phone, "555-0123"), "");
  for (const char* value : {"0000000000", "9999999999", "5555555555", "(555) 555-5555", "1234567890"}) {
    EXPECT_EQ(norm(normalize_phone, value), "") << value;
  }
}

TEST(MpiNormalize, ZipIsFiveDigits) {
  EXPECT_EQ(norm(normalize_zip, "27615"), "27615");
  EXPECT_EQ(norm(normalize_zip, "27615-1234"), "27615");
  EXPECT_EQ(norm(normalize_zip, "2134"), "02134");  // a spreadsheet dropped the leading zero
  EXPECT_EQ(norm(normalize_zip, "286q7"), "28697");  // misread digits
  EXPECT_EQ(norm(normalize_zip, "276"), "");
  EXPECT_EQ(norm(normalize_zip, "00000"), "");
  EXPECT_EQ(norm(normalize_zip, "99999"), "");
}

TEST(MpiNormalize, StreetUspsSuffixesAndDirectionals) {
  EXPECT_EQ(norm(normalize_street, "123 Main Street"), "123 MAIN ST");
  EXPECT_EQ(norm(normalize_street, "123 main st."), "123 MAIN ST");
  EXPECT_EQ(norm(normalize_street, "45 North Elm Avenue"), "45 N ELM AVE");
  EXPECT_EQ(norm(normalize_street, "45 Elm Ave Northwest"), "45 ELM AVE NW");
  EXPECT_EQ(norm(normalize_street, "9 Oak Boulevard Apt 4B"), "9 OAK BLVD");
  EXPECT_EQ(norm(normalize_street, "12 North Street"), "12 NORTH ST");  // a street named North
  EXPECT_EQ(norm(normalize_street, "P.O. Box 77"), "PO BOX 77");
  EXPECT_EQ(norm(normalize_street, "Unknown"), "");
}

TEST(MpiNormalize, CityStateEmail) {
  EXPECT_EQ(norm(normalize_city, "Saint Pauls"), "ST PAULS");
  EXPECT_EQ(norm(normalize_city, "winston-salem"), "WINSTON SALEM");
  EXPECT_EQ(norm(normalize_state, "North Carolina"), "NC");
  EXPECT_EQ(norm(normalize_state, "nc"), "NC");
  EXPECT_EQ(norm(normalize_state, "Narnia"), "");
  EXPECT_EQ(norm(normalize_email, " John.Doe@Example.ORG "), "john.doe@example.org");
  EXPECT_EQ(norm(normalize_email, "noemail@gmail.com"), "");
  EXPECT_EQ(norm(normalize_email, "none@none.com"), "");
  EXPECT_EQ(norm(normalize_email, "not-an-email"), "");
  EXPECT_EQ(norm(normalize_email, "a@b@c.com"), "");
}

TEST(MpiNormalize, Ssn) {
  EXPECT_EQ(norm(normalize_ssn, "123-45-6788"), "123456788");
  EXPECT_EQ(norm(normalize_ssn, "6988048"), "006988048");  // leading zeros lost
  for (const char* value : {"999-99-9999", "000000000", "123456789", "000-12-3456", "666-12-3456",
                            "912-12-3456", "123-00-4567", "123-45-0000", "XXX-XX-1234", "12345"}) {
    EXPECT_EQ(norm(normalize_ssn, value), "") << value;
  }
}

TEST(MpiNormalize, RecipientIdIsScopedBySource) {
  std::string out;
  EXPECT_TRUE(normalize_recipient_id("prv001", " mrn-0042 ", t(), out));
  EXPECT_EQ(out, "PRV001|MRN0042");
  EXPECT_FALSE(normalize_recipient_id("PRV001", "UNKNOWN", t(), out));
  EXPECT_FALSE(normalize_recipient_id("PRV001", "0", t(), out));
  EXPECT_FALSE(normalize_recipient_id("PRV001", "", t(), out));
}

TEST(MpiNormalize, MatcherNormalizedValuesNameTheFields) {
  Matcher matcher(test::tables(), Model::defaults());
  PersonInput record;
  record.first_name = "Baby Boy";
  record.last_name = "García Jr";
  record.birth_date = "2021-03-04";
  record.phone = "9999999999";
  record.zip = "27615-0001";
  std::vector<std::pair<Field, std::string>> seen;
  matcher.normalized_values(record, [&](Field f, std::string_view v) { seen.emplace_back(f, std::string(v)); });
  const std::vector<std::pair<Field, std::string>> expected{
      {Field::LastName, "GARCIA"}, {Field::BirthDate, "20210304"}, {Field::Zip, "27615"}};
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace vaxetl::mpi
