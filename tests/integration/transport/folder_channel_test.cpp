// The folder channel on real directories: stability across listings, rename claims, checksums,
// settling and sends that never overwrite.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "transport/transport.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl::transport {
namespace {

namespace fs = std::filesystem;
using test::files_in;
using test::read_file;
using test::TempDir;
using test::write_file;

// SHA-256 of "abc".
constexpr const char* kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

class FolderChannelTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::string inbox = dir / "in";
  std::string outbox = dir / "out";
  std::string work = dir / "work";

  void SetUp() override {
    fs::create_directories(inbox);
    fs::create_directories(work);
  }

  std::unique_ptr<Channel> open() {
    return open_channel(ChannelConfig{"provider1", "folder", {{"inbox", inbox}, {"outbox", outbox}}});
  }

  // Lists until the files have been seen unchanged twice.
  static std::vector<InboxEntry> settled_listing(Channel& channel) {
    channel.list_ready();
    return channel.list_ready();
  }
};

TEST_F(FolderChannelTest, FileIsReadyOnlyOnceUnchangedBetweenListings) {
  auto channel = open();
  write_file(inbox + "/a.txt", "abc");
  EXPECT_TRUE(channel->list_ready().empty()) << "first sight: the provider may still be writing";
  auto ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].name, "a.txt");
  EXPECT_EQ(ready[0].size, 3u);

  write_file(inbox + "/a.txt", "abcdef");  // still growing
  EXPECT_TRUE(channel->list_ready().empty());
  ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].size, 6u);
}

TEST_F(FolderChannelTest, TemporaryUnsafeAndSpecialEntriesAreNeverListed) {
  auto channel = open();
  for (const char* name : {".hidden", "x.part", "x.tmp", "x.filepart", "x.sha256", "bad name", "-dash", "new\nline"})
    write_file(inbox + "/" + name, "abc");
  fs::create_directories(inbox + "/subdir");
  write_file(dir / "secret", "abc");
  fs::create_symlink(dir / "secret", inbox + "/link.txt");
  write_file(inbox + "/good.txt", "abc");
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].name, "good.txt");
}

TEST_F(FolderChannelTest, FetchClaimsIntoProcessingAndChecksTheBytes) {
  auto channel = open();
  write_file(inbox + "/a.txt", "abc");
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  Fetched fetched = channel->fetch(ready[0], work + "/a.txt");
  EXPECT_EQ(fetched.sha256, kAbcSha256);
  EXPECT_EQ(fetched.size, 3u);
  EXPECT_EQ(fetched.path, fs::path(work + "/a.txt"));
  EXPECT_EQ(read_file(work + "/a.txt"), "abc");
  EXPECT_FALSE(fs::exists(work + "/a.txt.part"));
  EXPECT_FALSE(fs::exists(inbox + "/a.txt"));
  EXPECT_EQ(read_file(inbox + "/processing/a.txt"), "abc");
  EXPECT_TRUE(settled_listing(*channel).empty());

  auto unsettled = channel->in_processing();
  ASSERT_EQ(unsettled.size(), 1u);
  EXPECT_EQ(unsettled[0].name, "a.txt");
  // A restarted daemon fetches again from processing/.
  Fetched again = channel->fetch(unsettled[0], work + "/again.txt");
  EXPECT_EQ(again.sha256, kAbcSha256);
}

TEST_F(FolderChannelTest, SidecarDigestMustMatch) {
  auto channel = open();
  write_file(inbox + "/good.txt", "abc");
  write_file(inbox + "/good.txt.sha256", std::string(kAbcSha256) + "  good.txt\n");
  write_file(inbox + "/bad.txt", "abd");
  write_file(inbox + "/bad.txt.sha256", std::string(kAbcSha256) + "\n");
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 2u);
  for (const auto& entry : ready) {
    if (entry.name == "good.txt") {
      EXPECT_EQ(channel->fetch(entry, work + "/good.txt").sha256, kAbcSha256);
    } else {
      try {
        channel->fetch(entry, work + "/bad.txt");
        FAIL() << "a checksum mismatch must be refused";
      } catch (const TransportError& e) {
        EXPECT_FALSE(e.transient());
        EXPECT_NE(std::string(e.what()).find("sidecar"), std::string::npos) << e.what();
      }
      EXPECT_FALSE(fs::exists(work + "/bad.txt"));
      EXPECT_FALSE(fs::exists(work + "/bad.txt.part"));
    }
  }
  EXPECT_TRUE(fs::exists(inbox + "/processing/good.txt.sha256"));
}

TEST_F(FolderChannelTest, OnlyOneOfTwoPollersClaimsAFile) {
  auto first = open();
  auto second = open();
  write_file(inbox + "/a.txt", "abc");
  auto seen_by_first = settled_listing(*first);
  auto seen_by_second = settled_listing(*second);
  ASSERT_EQ(seen_by_first.size(), 1u);
  ASSERT_EQ(seen_by_second.size(), 1u);
  first->fetch(seen_by_first[0], work + "/first.txt");
  try {
    second->fetch(seen_by_second[0], work + "/second.txt");
    FAIL() << "the second poller must not get the file";
  } catch (const TransportError& e) {
    EXPECT_FALSE(e.transient());
  }
  EXPECT_FALSE(fs::exists(work + "/second.txt"));
}

TEST_F(FolderChannelTest, AFileBeingProcessedIsNeverReplacedByANewUpload) {
  auto channel = open();
  write_file(inbox + "/a.txt", "first");
  auto ready = settled_listing(*channel);
  channel->fetch(ready.at(0), work + "/a1.txt");
  write_file(inbox + "/a.txt", "second");
  ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  try {
    channel->fetch(ready[0], work + "/a2.txt");
    FAIL() << "the name is taken in processing/";
  } catch (const TransportError& e) {
    EXPECT_TRUE(e.transient()) << "it can be taken once the first one is settled";
  }
  EXPECT_EQ(read_file(inbox + "/processing/a.txt"), "first");
  EXPECT_EQ(read_file(inbox + "/a.txt"), "second");
}

TEST_F(FolderChannelTest, SettleMovesOnceAndKeepsEarlierFilesOfTheSameName) {
  auto channel = open();
  for (const char* content : {"one", "two"}) {
    write_file(inbox + "/a.txt", content);
    auto ready = settled_listing(*channel);
    ASSERT_EQ(ready.size(), 1u);
    channel->fetch(ready[0], work + "/a.txt");
    channel->settle(ready[0], Settlement::Done);
    channel->settle(ready[0], Settlement::Done);  // idempotent
  }
  EXPECT_EQ(read_file(inbox + "/done/a.txt"), "one");
  EXPECT_EQ(read_file(inbox + "/done/a.txt.1"), "two");
  EXPECT_TRUE(channel->in_processing().empty());

  write_file(inbox + "/b.txt", "bad");
  auto ready = settled_listing(*channel);
  channel->fetch(ready.at(0), work + "/b.txt");
  channel->settle(ready[0], Settlement::Parked);
  EXPECT_EQ(read_file(inbox + "/parked/b.txt"), "bad");
}

TEST_F(FolderChannelTest, SendNeverOverwritesAndLeavesNoTemporaryFile) {
  auto channel = open();
  write_file(work + "/reply.txt", "error file");
  write_file(work + "/other.txt", "other");
  InboxEntry origin{"a.txt", 3, 0, "inbox"};
  channel->send(work + "/reply.txt", "a_ERR.txt", origin);
  EXPECT_EQ(read_file(outbox + "/a_ERR.txt"), "error file");
  try {
    channel->send(work + "/other.txt", "a_ERR.txt", origin);
    FAIL() << "a name taken must not be overwritten";
  } catch (const TransportError& e) {
    EXPECT_FALSE(e.transient());
  }
  EXPECT_EQ(read_file(outbox + "/a_ERR.txt"), "error file");
  EXPECT_EQ(files_in(outbox), std::vector<std::string>{"a_ERR.txt"});
  EXPECT_THROW(channel->send(work + "/other.txt", "../escape.txt", origin), TransportError);
  EXPECT_FALSE(fs::exists(dir / "escape.txt"));
}

TEST_F(FolderChannelTest, UnsafeNamesAreNeverUsedAsPaths) {
  auto channel = open();
  write_file(dir / "outside.txt", "abc");
  InboxEntry escape{"../outside.txt", 3, 0, "inbox"};
  EXPECT_THROW(channel->fetch(escape, work + "/x.txt"), TransportError);
  EXPECT_THROW(channel->settle(escape, Settlement::Done), TransportError);
  EXPECT_TRUE(fs::exists(dir / "outside.txt"));
  EXPECT_FALSE(fs::exists(work + "/x.txt"));
}

}  // namespace
}  // namespace vaxetl::transport
