// Which remote names a channel accepts, and how open_channel reads its settings.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "transport/transport.hpp"

namespace vaxetl::transport {
namespace {

TEST(SafeFileName, AcceptsProviderNames) {
  EXPECT_TRUE(is_safe_file_name("NCIR_VXU_20260101.hl7"));
  EXPECT_TRUE(is_safe_file_name("a"));
  EXPECT_TRUE(is_safe_file_name("cvrs-2026+01_02.txt"));
  EXPECT_TRUE(is_safe_file_name(std::string(255, 'x')));
}

TEST(SafeFileName, RefusesPathsDotNamesAndControlBytes) {
  EXPECT_FALSE(is_safe_file_name(""));
  EXPECT_FALSE(is_safe_file_name("."));
  EXPECT_FALSE(is_safe_file_name(".."));
  EXPECT_FALSE(is_safe_file_name("../x"));
  EXPECT_FALSE(is_safe_file_name("a/b"));
  EXPECT_FALSE(is_safe_file_name("a\\b"));
  EXPECT_FALSE(is_safe_file_name(".hidden"));
  EXPECT_FALSE(is_safe_file_name("-rf"));
  EXPECT_FALSE(is_safe_file_name("a\nb"));
  EXPECT_FALSE(is_safe_file_name(std::string("a\0b", 3)));
  EXPECT_FALSE(is_safe_file_name("a b"));
  EXPECT_FALSE(is_safe_file_name("caf\xc3\xa9"));
  EXPECT_FALSE(is_safe_file_name(std::string(256, 'x')));
}

TEST(OpenChannel, UnknownKindNamesTheKey) {
  ChannelConfig config{"p1", "ftp", {}};
  try {
    open_channel(config);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'kind'"), std::string::npos) << e.what();
  }
}

TEST(OpenChannel, FolderNeedsInboxAndRefusesUnknownKeys) {
  try {
    open_channel(ChannelConfig{"p1", "folder", {{"outbox", "/tmp/x"}}});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'inbox'"), std::string::npos) << e.what();
  }
  try {
    open_channel(ChannelConfig{"p1", "folder", {{"inbox", "/tmp/i"}, {"outbox", "/tmp/o"}, {"inbx", "/tmp/i"}}});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'inbx'"), std::string::npos) << e.what();
  }
  auto channel = open_channel(ChannelConfig{"p1", "folder", {{"inbox", "/tmp/i"}, {"outbox", "/tmp/o"}}});
  EXPECT_EQ(channel->kind(), "folder");
  EXPECT_EQ(channel->name(), "p1");
}

}  // namespace
}  // namespace vaxetl::transport
