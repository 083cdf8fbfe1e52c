// The SDK's text helpers that every reader's hot path uses.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "vaxetl/sdk/text.hpp"

namespace {

using vaxetl::sdk::LineReader;
using vaxetl::sdk::split_fields;

TEST(SplitFields, SplitsOnEveryDelimiterKeepingEmptyFields) {
  std::array<std::string_view, 8> out{};
  const std::size_t n = split_fields("a||bc|", '|', out.data(), out.size());
  ASSERT_EQ(n, 4u);
  EXPECT_EQ(out[0], "a");
  EXPECT_EQ(out[1], "");
  EXPECT_EQ(out[2], "bc");
  EXPECT_EQ(out[3], "");
}

TEST(SplitFields, EmptyLineIsOneEmptyField) {
  std::array<std::string_view, 2> out{};
  EXPECT_EQ(split_fields("", '|', out.data(), out.size()), 1u);
  EXPECT_EQ(out[0], "");
}

TEST(SplitFields, CountsFieldsBeyondCapacityWithoutWritingThem) {
  std::array<std::string_view, 3> out{};
  std::array<std::string_view, 1> guard{"untouched"};
  const std::size_t n = split_fields("1|2|3|4|5", '|', out.data(), out.size());
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(out[2], "3");
  EXPECT_EQ(guard[0], "untouched");
}

TEST(LineReader, ReadsLfAndCrlfLinesAndALastLineWithoutNewline) {
  const auto path = std::filesystem::temp_directory_path() / "vaxetl_line_reader_test.txt";
  std::ofstream(path, std::ios::binary) << "one\r\ntwo\nthree";
  LineReader reader(path.string(), 4);  // a tiny buffer forces refills and growth
  std::vector<std::string> lines;
  std::string_view line;
  while (reader.next(line)) lines.emplace_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(reader.line_number(), 3u);
  EXPECT_EQ(reader.bytes_consumed(), reader.total_bytes());
  std::filesystem::remove(path);
}

}  // namespace
