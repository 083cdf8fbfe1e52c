#include <gtest/gtest.h>

#include <string>

#include "semver.hpp"

namespace vaxetl {
namespace {

Version v(const std::string& text) {
  auto parsed = Version::parse(text);
  if (!parsed) throw std::invalid_argument("bad version in test: " + text);
  return *parsed;
}

bool satisfies(const std::string& constraint, const std::string& version) {
  auto parsed = VersionConstraint::parse(constraint);
  if (!parsed) throw std::invalid_argument("bad constraint in test: " + constraint);
  return parsed->matches(v(version));
}

TEST(Version, ParsesThreeNumbers) {
  const auto version = Version::parse("7.12.3");
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ(version->major, 7);
  EXPECT_EQ(version->minor, 12);
  EXPECT_EQ(version->patch, 3);
  EXPECT_EQ(version->str(), "7.12.3");
}

TEST(Version, RefusesAnythingButMajorMinorPatch) {
  for (const char* text : {"", "1", "1.2", "1.2.3.4", "1.2.", ".1.2", "1..2", "a.b.c", "1.2.x",
                           "-1.2.3", "1.-2.3", "1.2.3-beta", "v1.2.3", " 1.2.3", "1.2.3 ",
                           "99999999999.0.0"}) {
    EXPECT_FALSE(Version::parse(text).has_value()) << "'" << text << "'";
  }
}

TEST(Version, OrdersNumericallyNotTextually) {
  EXPECT_LT(v("1.9.0"), v("1.10.0"));
  EXPECT_LT(v("1.10.9"), v("2.0.0"));
  EXPECT_LT(v("2.0.0"), v("2.0.1"));
  EXPECT_EQ(v("3.4.5"), v("3.4.5"));
}

TEST(VersionConstraint, CaretAllowsMinorAndPatchUpgrades) {
  EXPECT_TRUE(satisfies("^7.2", "7.2.0"));
  EXPECT_TRUE(satisfies("^7.2", "7.9.1"));
  EXPECT_FALSE(satisfies("^7.2", "7.1.9"));
  EXPECT_FALSE(satisfies("^7.2", "8.0.0"));
  EXPECT_TRUE(satisfies("^7", "7.0.0"));
  EXPECT_FALSE(satisfies("^7.2.3", "7.2.2"));
}

TEST(VersionConstraint, CaretOnZeroMajorPinsTheMinor) {
  EXPECT_TRUE(satisfies("^0.2", "0.2.7"));
  EXPECT_FALSE(satisfies("^0.2", "0.3.0"));
  EXPECT_FALSE(satisfies("^0.2.5", "0.2.4"));
}

TEST(VersionConstraint, TildeAllowsPatchUpgradesOnly) {
  EXPECT_TRUE(satisfies("~7.2", "7.2.0"));
  EXPECT_TRUE(satisfies("~7.2.1", "7.2.9"));
  EXPECT_FALSE(satisfies("~7.2.1", "7.2.0"));
  EXPECT_FALSE(satisfies("~7.2", "7.3.0"));
}

TEST(VersionConstraint, ExactMatchesOnlyThatVersion) {
  EXPECT_TRUE(satisfies("7.2.1", "7.2.1"));
  EXPECT_TRUE(satisfies("=7.2.1", "7.2.1"));
  EXPECT_FALSE(satisfies("7.2.1", "7.2.2"));
  EXPECT_TRUE(satisfies("7.2", "7.2.0"));  // missing parts read as 0
  EXPECT_FALSE(satisfies("7.2", "7.2.1"));
}

TEST(VersionConstraint, AtLeastHasNoUpperBound) {
  EXPECT_TRUE(satisfies(">=7.2", "7.2.0"));
  EXPECT_TRUE(satisfies(">=7.2", "12.0.0"));
  EXPECT_FALSE(satisfies(">=7.2", "7.1.99"));
}

TEST(VersionConstraint, EmptyAndStarMatchEverything) {
  for (const char* c : {"", "*"}) {
    EXPECT_TRUE(satisfies(c, "0.0.0")) << c;
    EXPECT_TRUE(satisfies(c, "99.99.99")) << c;
  }
}

TEST(VersionConstraint, KeepsItsText) {
  EXPECT_EQ(VersionConstraint::parse("^7.2")->text(), "^7.2");
  EXPECT_EQ(VersionConstraint::parse("")->text(), "");
}

TEST(VersionConstraint, RefusesMalformedConstraints) {
  for (const char* text : {"^", "~", ">=", "=", "^x", "~1.x", ">1.0", "<2", "^1.2.3.4", "1.2.",
                           "^-1", "latest", " ^1", "^ 1", "1.0 - 2.0", "^1,^2"}) {
    EXPECT_FALSE(VersionConstraint::parse(text).has_value()) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace vaxetl
