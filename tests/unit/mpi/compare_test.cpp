// Phonetic codes, Jaro-Winkler, and the agreement levels of every field.
#include <gtest/gtest.h>

#include "test_tables.hpp"

namespace vaxetl::mpi {
namespace {

using namespace detail;

std::string code(std::string_view name) {
  std::string out;
  nysiis(name, out);
  return out;
}

TEST(MpiPhonetic, NysiisGroupsSoundAlikes) {
  EXPECT_EQ(code("SMITH"), "SNAT");
  EXPECT_EQ(code("STEPHEN"), code("STEVEN"));
  EXPECT_EQ(code("JONATHAN"), code("JOHNATHON"));
  EXPECT_EQ(code("KNIGHT"), code("NIGHT"));
  EXPECT_EQ(code("PHILLIPS"), code("FILLIPS"));
  EXPECT_EQ(code("CATHERINE"), code("KATHERINE"));
  EXPECT_EQ(code("MACDONALD"), code("MCDONALD"));
  EXPECT_EQ(code("SCHMIDT"), code("SSMIDT"));
  EXPECT_NE(code("SMITH"), code("JONES"));
  EXPECT_NE(code("MARY"), code("MARK"));
  EXPECT_LE(code("WOLFESCHLEGELSTEINHAUSEN").size(), 6u);
  EXPECT_EQ(code(""), "");
  EXPECT_EQ(code("JOHNSON").front(), 'J');
}

std::uint16_t sx(char letter, int digits) { return static_cast<std::uint16_t>((letter - 'A' + 1) * 1000 + digits); }

TEST(MpiPhonetic, SoundexStandardValues) {
  EXPECT_EQ(soundex("ROBERT"), sx('R', 163));
  EXPECT_EQ(soundex("SMITH"), soundex("SMYTH"));
  EXPECT_EQ(soundex("RUPERT"), sx('R', 163));
  EXPECT_EQ(soundex("ASHCRAFT"), sx('A', 261));
  EXPECT_EQ(soundex("TYMCZAK"), sx('T', 522));
  EXPECT_EQ(soundex("PFISTER"), sx('P', 236));
  EXPECT_EQ(soundex("LEE"), sx('L', 0));
  EXPECT_EQ(soundex(""), 0);
}

TEST(MpiSimilarity, JaroWinklerKnownValues) {
  EXPECT_NEAR(jaro_winkler("MARTHA", "MARHTA"), 0.9611, 1e-4);
  EXPECT_NEAR(jaro_winkler("DWAYNE", "DUANE"), 0.84, 1e-4);
  EXPECT_NEAR(jaro_winkler("DIXON", "DICKSONX"), 0.8133, 1e-4);
  EXPECT_DOUBLE_EQ(jaro_winkler("SAME", "SAME"), 1.0);
  EXPECT_DOUBLE_EQ(jaro_winkler("ABC", "XYZ"), 0.0);
  EXPECT_DOUBLE_EQ(jaro_winkler("", "A"), 0.0);
  // The bounded form returns the same value when it can reach the minimum, else 0.
  EXPECT_NEAR(jaro_winkler_at_least("MARTHA", "MARHTA", 0.9), 0.9611, 1e-4);
  EXPECT_DOUBLE_EQ(jaro_winkler_at_least("JONES", "WASHINGTON", 0.8), 0.0);
}

TEST(MpiSimilarity, OneTypoApart) {
  EXPECT_TRUE(one_typo_apart("19710624", "19710524"));
  EXPECT_TRUE(one_typo_apart("19710624", "19170624"));  // adjacent swap
  EXPECT_FALSE(one_typo_apart("19710624", "19710624"));
  EXPECT_FALSE(one_typo_apart("19710624", "19810634"));
  EXPECT_FALSE(one_typo_apart("1971", "19710"));
}

// A value as the matcher sees it, features computed.
struct V {
  V(Field field, std::string_view text) : owned(text) {
    view.text = owned;
    std::string scratch;
    compute_features(field, view, *test::tables(), scratch);
  }
  std::string owned;
  ValueView view;
};

std::string level(Field field, std::string_view a, std::string_view b) {
  V x(field, a), y(field, b);
  return std::string(level_name(field, compare_values(field, x.view, y.view)));
}

TEST(MpiLevels, FirstName) {
  EXPECT_EQ(level(Field::FirstName, "WILLIAM", "WILLIAM"), "exact");
  EXPECT_EQ(level(Field::FirstName, "WILLIAM", "BILL"), "nickname");
  EXPECT_EQ(level(Field::FirstName, "ELIZABETH", "BETSY"), "nickname");
  EXPECT_EQ(level(Field::FirstName, "MARTHA", "MARHTA"), "jw_92");
  EXPECT_EQ(level(Field::FirstName, "KATHERINE", "CATHERINE"), "jw_92");
  EXPECT_EQ(level(Field::FirstName, "PHILLIP", "FILIP"), "phonetic");       // NYSIIS FALAP
  EXPECT_EQ(level(Field::FirstName, "DWAYNE", "DUANE"), "phonetic");        // Soundex D500, JW 0.84
  EXPECT_EQ(level(Field::FirstName, "MARTHA", "MARTINA"), "jw_85");
  EXPECT_EQ(level(Field::FirstName, "J", "JOHN"), "initial");
  EXPECT_EQ(level(Field::FirstName, "JOHN", "MARY"), "disagree");
}

TEST(MpiLevels, LastNameAndMiddle) {
  EXPECT_EQ(level(Field::LastName, "SMITH", "SMITH"), "exact");
  EXPECT_EQ(level(Field::LastName, "JOHNSON", "JOHNSTON"), "jw_92");
  EXPECT_EQ(level(Field::LastName, "LOPEZ GARCIA", "GARCIA"), "partial");
  EXPECT_EQ(level(Field::LastName, "GARCIA LOPEZ", "GARCIA"), "jw_85");
  EXPECT_EQ(level(Field::LastName, "SMITH", "WASHINGTON"), "disagree");
  EXPECT_EQ(level(Field::MiddleName, "ANN", "ANN"), "exact");
  EXPECT_EQ(level(Field::MiddleName, "A", "ANN"), "initial");
  EXPECT_EQ(level(Field::MiddleName, "ANN", "ANNE"), "jw_85");
  EXPECT_EQ(level(Field::MiddleName, "ANN", "ROSE"), "disagree");
}

TEST(MpiLevels, BirthDate) {
  EXPECT_EQ(level(Field::BirthDate, "19710624", "19710624"), "exact");
  EXPECT_EQ(level(Field::BirthDate, "19710305", "19710503"), "day_month_swap");
  EXPECT_EQ(level(Field::BirthDate, "19710624", "19710524"), "one_digit");
  EXPECT_EQ(level(Field::BirthDate, "19710624", "19170624"), "one_digit");
  EXPECT_EQ(level(Field::BirthDate, "19710624", "19711130"), "year_only");
  // About a year apart across a year's end: a year typed wrong with a day or two.
  EXPECT_EQ(level(Field::BirthDate, "19770913", "19760915"), "within_year");
  EXPECT_EQ(level(Field::BirthDate, "19781231", "19800101"), "within_year");  // 366 days
  EXPECT_EQ(level(Field::BirthDate, "19600101", "19610201"), "within_year");  // before the epoch, over a leap year
  EXPECT_EQ(level(Field::BirthDate, "19780819", "19790925"), "disagree");     // 402 days
  EXPECT_EQ(level(Field::BirthDate, "19780819", "19890817"), "disagree");     // a sibling years apart
  EXPECT_EQ(level(Field::BirthDate, "19710624", "19850101"), "disagree");
}

TEST(MpiLevels, AddressPhoneEmailSsnSexRecipient) {
  EXPECT_EQ(level(Field::Sex, "F", "F"), "exact");
  EXPECT_EQ(level(Field::Sex, "F", "M"), "disagree");
  EXPECT_EQ(level(Field::Street, "123 MAIN ST", "123 MAIN ST"), "exact");
  EXPECT_EQ(level(Field::Street, "123 MAIN ST", "123 MAIM ST"), "jw_92");
  EXPECT_EQ(level(Field::Street, "12 ELM ST", "12 ELMS RD"), "same_number");
  EXPECT_EQ(level(Field::Street, "123 MAIN ST", "9 OAK AVE"), "disagree");
  EXPECT_EQ(level(Field::City, "RALEIGH", "RALIEGH"), "jw_92");
  EXPECT_EQ(level(Field::City, "RALEIGH", "DURHAM"), "disagree");
  EXPECT_EQ(level(Field::Zip, "27615", "27615"), "exact");
  EXPECT_EQ(level(Field::Zip, "27615", "27616"), "one_digit");
  EXPECT_EQ(level(Field::Zip, "27615", "27699"), "prefix");
  EXPECT_EQ(level(Field::Zip, "27615", "28801"), "disagree");
  EXPECT_EQ(level(Field::Phone, "9195550123", "9195550132"), "one_digit");
  EXPECT_EQ(level(Field::Phone, "9195550123", "9845550123"), "last_7");
  EXPECT_EQ(level(Field::Phone, "9195550123", "7045551999"), "disagree");
  EXPECT_EQ(level(Field::Email, "robert255@smith.net", "roberta25@smith.net"), "jw_92");
  EXPECT_EQ(level(Field::Email, "rob@gmail.com", "rob@yahoo.com"), "same_user");
  EXPECT_EQ(level(Field::Email, "rob@gmail.com", "zed@yahoo.com"), "disagree");
  EXPECT_EQ(level(Field::Ssn, "123456788", "123456788"), "exact");
  EXPECT_EQ(level(Field::Ssn, "123456788", "123456798"), "one_digit");
  EXPECT_EQ(level(Field::Ssn, "123456788", "128456788"), "one_digit");
  EXPECT_EQ(level(Field::Ssn, "123456788", "123456878"), "one_digit");  // adjacent digits swapped
  // Consecutive numbers (twins are often issued them) are not a typo of each other.
  EXPECT_EQ(level(Field::Ssn, "123456788", "123456789"), "disagree");
  EXPECT_EQ(level(Field::Ssn, "123456788", "123456786"), "disagree");
  EXPECT_EQ(level(Field::Ssn, "123456788", "123456787"), "disagree");
  EXPECT_EQ(level(Field::Ssn, "123456788", "555443333"), "disagree");
  EXPECT_EQ(level(Field::RecipientId, "A|1", "A|1"), "exact");
  EXPECT_EQ(level(Field::RecipientId, "A|1", "A|2"), "disagree");
  EXPECT_EQ(level(Field::RecipientId, "A|1", "B|1"), "missing");  // other sources: not comparable
}

TEST(MpiLevels, NamesAndCountsAreStable) {
  EXPECT_EQ(field_name(Field::BirthDate), "birth_date");
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    const auto field = static_cast<Field>(f);
    EXPECT_EQ(field_from_name(field_name(field)), field);
    EXPECT_EQ(level_name(field, 0), "missing");
    EXPECT_EQ(level_name(field, static_cast<std::uint8_t>(level_count(field) - 1)), "disagree");
    EXPECT_EQ(level_name(field, disagree_level(field)), "disagree");
  }
  EXPECT_FALSE(field_from_name("shoe_size").has_value());
  EXPECT_EQ(level_count(Field::FirstName), 10u);
  EXPECT_EQ(format_mpi_id(42), "MPI0000000042");
  EXPECT_EQ(parse_mpi_id("MPI0000000042"), 42u);
  EXPECT_FALSE(parse_mpi_id("MPI").has_value());
  EXPECT_FALSE(parse_mpi_id("XYZ0000000042").has_value());
  EXPECT_EQ(decision_name(Decision::Possible), "possible");
}

}  // namespace
}  // namespace vaxetl::mpi
