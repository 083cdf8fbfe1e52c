#include <gtest/gtest.h>

#include <map>
#include <string>

#include "pipeline.hpp"

namespace vaxetl {
namespace {

EnvironmentLookup env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

std::string interpolate_error(const std::string& text, const EnvironmentLookup& lookup) {
  try {
    interpolate(text, lookup);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "'" << text << "' interpolated without error";
  return {};
}

TEST(Interpolate, ReplacesVariables) {
  const auto lookup = env({{"HOME_DIR", "/srv/vax"}, {"N", "3"}});
  EXPECT_EQ(interpolate("${HOME_DIR}/in/${N}.txt", lookup), "/srv/vax/in/3.txt");
  EXPECT_EQ(interpolate("${N}${N}", lookup), "33");
}

TEST(Interpolate, LeavesTextWithoutVariablesAlone) {
  const auto lookup = env({});
  EXPECT_EQ(interpolate("plain text: {braces} $ alone, $X and a trailing $", lookup),
            "plain text: {braces} $ alone, $X and a trailing $");
  EXPECT_EQ(interpolate("", lookup), "");
}

TEST(Interpolate, UsesDefaultWhenUnsetOrEmpty) {
  const auto lookup = env({{"SET", "value"}, {"EMPTY", ""}});
  EXPECT_EQ(interpolate("${UNSET:-fallback}", lookup), "fallback");
  EXPECT_EQ(interpolate("${EMPTY:-fallback}", lookup), "fallback");
  EXPECT_EQ(interpolate("${SET:-fallback}", lookup), "value");
  EXPECT_EQ(interpolate("${UNSET:-}", lookup), "");
  EXPECT_EQ(interpolate("${UNSET:-a:-b}", lookup), "a:-b");
}

// A store per environment: ${VAXETL_LEDGER:-${VAXETL_HOME:-var}/ledger.sqlite}.
TEST(Interpolate, DefaultsNest) {
  const std::string ledger = "${VAXETL_LEDGER:-${VAXETL_HOME:-var}/ledger.sqlite}";
  EXPECT_EQ(interpolate(ledger, env({})), "var/ledger.sqlite");
  EXPECT_EQ(interpolate(ledger, env({{"VAXETL_HOME", "/srv/vax"}})), "/srv/vax/ledger.sqlite");
  EXPECT_EQ(interpolate(ledger, env({{"VAXETL_HOME", "/srv/vax"}, {"VAXETL_LEDGER", "postgresql://db/ledger"}})),
            "postgresql://db/ledger");
  EXPECT_EQ(interpolate("${A:-${B:-${C:-c}}-x}/${B:-b}", env({{"C", "3"}})), "3-x/b");
  EXPECT_EQ(interpolate("${A:-$${B}}", env({})), "${B}");  // $$ stays a literal dollar in a default
}

// A default that is not used is not evaluated: its unset variables are no error.
TEST(Interpolate, AnUnusedDefaultIsNotEvaluated) {
  EXPECT_EQ(interpolate("${SET:-${UNSET}/x}", env({{"SET", "v"}})), "v");
  EXPECT_EQ(interpolate_error("${UNSET_A:-${UNSET_B}/x}", env({})),
            "environment variable UNSET_B is not set; set it or write ${UNSET_B:-default}");
}

TEST(Interpolate, UnterminatedNestedReferenceIsAnError) {
  EXPECT_EQ(interpolate_error("${A:-${B:-x}", env({})), "unterminated '${' (write $$ for a literal dollar sign)");
  EXPECT_EQ(interpolate_error("${A:-x", env({})), "unterminated '${' (write $$ for a literal dollar sign)");
}

TEST(Interpolate, EmptyValueWithoutDefaultStaysEmpty) {
  EXPECT_EQ(interpolate("[${EMPTY}]", env({{"EMPTY", ""}})), "[]");
}

TEST(Interpolate, DoubleDollarIsLiteralDollar) {
  const auto lookup = env({{"X", "x"}});
  EXPECT_EQ(interpolate("cost $$5", lookup), "cost $5");
  EXPECT_EQ(interpolate("$${X}", lookup), "${X}");
  EXPECT_EQ(interpolate("$$$${X}", lookup), "$${X}");
  EXPECT_EQ(interpolate("$$${X}", lookup), "$x");
}

TEST(Interpolate, UnsetVariableWithoutDefaultIsNamed) {
  EXPECT_EQ(interpolate_error("in/${VAX_INPUT_DIR}/x", env({})),
            "environment variable VAX_INPUT_DIR is not set; set it or write "
            "${VAX_INPUT_DIR:-default}");
}

TEST(Interpolate, UnterminatedReferenceIsAnError) {
  EXPECT_EQ(interpolate_error("${HOME", env({{"HOME", "/h"}})),
            "unterminated '${' (write $$ for a literal dollar sign)");
}

TEST(Interpolate, EmptyNameIsAnError) {
  EXPECT_EQ(interpolate_error("${}", env({})), "empty variable name in '${}'");
  EXPECT_EQ(interpolate_error("${:-x}", env({})), "empty variable name in '${}'");
}

TEST(Interpolate, ProcessEnvironmentReadsRealVariables) {
  ::setenv("VAXETL_TEST_INTERPOLATE", "from-env", 1);
  ::unsetenv("VAXETL_TEST_INTERPOLATE_UNSET");
  const auto lookup = process_environment();
  EXPECT_EQ(interpolate("${VAXETL_TEST_INTERPOLATE}", lookup), "from-env");
  EXPECT_EQ(interpolate("${VAXETL_TEST_INTERPOLATE_UNSET:-d}", lookup), "d");
  ::unsetenv("VAXETL_TEST_INTERPOLATE");
}

}  // namespace
}  // namespace vaxetl
