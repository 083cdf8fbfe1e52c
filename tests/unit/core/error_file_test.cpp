#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "error_file.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

namespace fs = std::filesystem;

TEST(ErrorFileName, FormatsUtcTimeWithMilliseconds) {
  // 1700000000 s after the epoch is 2023-11-14 22:13:20 UTC.
  EXPECT_EQ(ErrorFileWriter::file_name("NCVR_20231114.txt", 1700000000123),
            "NCVR_20231114.txt_2023-11-14_22.13.20.123_error.txt");
  EXPECT_EQ(ErrorFileWriter::file_name("in.txt", 1700000000005),
            "in.txt_2023-11-14_22.13.20.005_error.txt");
  EXPECT_EQ(ErrorFileWriter::file_name("in.txt", 0), "in.txt_1970-01-01_00.00.00.000_error.txt");
  // 951782400 s is 2000-02-29 00:00:00 UTC (a leap day); 999 ms stays in that second.
  EXPECT_EQ(ErrorFileWriter::file_name("a", 951782400999), "a_2000-02-29_00.00.00.999_error.txt");
}

TEST(ErrorFileWriter, WritesHeaderAndOneLinePerFinding) {
  test::TempDir dir;
  ErrorFileWriter writer(dir / "errors", "input.txt");
  writer.add(3, "EV3", 7, "recip_dob", 'E', "DOB_FORMAT", "date must be YYYY-MM-DD", "EV3|x|y");
  writer.add(9, "", 0, "", 'H', "HELD", "held for review", "");
  EXPECT_EQ(writer.lines_written(), 2u);
  const std::string path = writer.publish();
  EXPECT_EQ(path, writer.path());
  EXPECT_EQ(fs::path(path).parent_path().string(), dir / "errors");
  EXPECT_TRUE(std::regex_match(fs::path(path).filename().string(),
                               std::regex(R"(input\.txt_\d{4}-\d{2}-\d{2}_\d{2}\.\d{2}\.\d{2}\.\d{3}_error\.txt)")))
      << path;
  EXPECT_EQ(test::read_lines(path),
            (std::vector<std::string>{std::string(ErrorFileWriter::kHeader),
                                      "3|EV3|7|recip_dob|E|DOB_FORMAT|date must be YYYY-MM-DD|EV3|x|y",
                                      "9||||H|HELD|held for review|"}));
}

TEST(ErrorFileWriter, ReplacesDelimitersInCellsButKeepsPipesInOriginalRecord) {
  test::TempDir dir;
  ErrorFileWriter writer(dir.path(), "in.txt");
  writer.add(12, "E|1\n", 2, "field|name", 'W', "CO|DE\r", "line one\nline|two",
             "a|b|c\r\nnext\nrow");
  const std::string path = writer.publish();
  EXPECT_EQ(test::read_file(path), std::string(ErrorFileWriter::kHeader) + "\n" +
                                       "12|E 1 |2|field name|W|CO DE |line one line two|a|b|c  next row\n");
}

TEST(ErrorFileWriter, ShowsOnlyTheCompleteFile) {
  test::TempDir dir;
  ErrorFileWriter writer(dir.path(), "in.txt");
  writer.add(1, "", 0, "", 'E', "X", "m", "r");
  // Before publish only a hidden partial file exists.
  const auto before = test::files_in(dir.path());
  ASSERT_EQ(before.size(), 1u);
  std::string partial = ".";
  partial += fs::path(writer.path()).filename().string();
  partial += ".partial";
  EXPECT_EQ(before[0], partial);
  EXPECT_FALSE(fs::exists(writer.path()));
  const std::string path = writer.publish();
  EXPECT_EQ(test::files_in(dir.path()), (std::vector<std::string>{fs::path(path).filename().string()}));
  EXPECT_EQ(writer.publish(), path);  // idempotent
}

TEST(ErrorFileWriter, RemovesPartialFileWhenNeverPublished) {
  test::TempDir dir;
  {
    ErrorFileWriter writer(dir.path(), "in.txt");
    writer.add(1, "", 0, "", 'E', "X", "m", "r");
  }
  EXPECT_TRUE(test::files_in(dir.path()).empty());
}

}  // namespace
}  // namespace vaxetl
