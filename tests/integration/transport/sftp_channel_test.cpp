// The SFTP channel against a real OpenSSH server on loopback (tools/test-servers/sftp.sh).
#include <pwd.h>
#include <unistd.h>

#include "sftp_fixture.hpp"

namespace vaxetl::transport {
namespace {

TEST_F(SftpChannelTest, AFileStillGrowingIsNotReady) {
  auto channel = open();
  write_file(remote + "/in/a.txt", "abc");
  EXPECT_TRUE(channel->list_ready().empty()) << "first sight";
  auto ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].name, "a.txt");
  EXPECT_EQ(ready[0].size, 3u);
  EXPECT_GT(ready[0].modified, 0);
  write_file(remote + "/in/a.txt", "abcdef");
  EXPECT_TRUE(channel->list_ready().empty()) << "its size changed since the last listing";
  ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].size, 6u);
}

TEST_F(SftpChannelTest, FetchMovesChecksAndSettles) {
  auto channel = open();
  write_file(remote + "/in/a.txt", "abc");
  write_file(remote + "/in/a.txt.sha256", std::string(kAbcSha256) + "  a.txt\n");
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u) << "the sidecar is not a file of its own";
  Fetched fetched = channel->fetch(ready[0], local / "a.txt");
  EXPECT_EQ(fetched.sha256, kAbcSha256);
  EXPECT_EQ(fetched.size, 3u);
  EXPECT_EQ(read_file(local / "a.txt"), "abc");
  EXPECT_FALSE(fs::exists(local / "a.txt.part"));
  EXPECT_FALSE(fs::exists(remote + "/in/a.txt"));
  EXPECT_EQ(read_file(remote + "/in/processing/a.txt"), "abc");
  EXPECT_TRUE(fs::exists(remote + "/in/processing/a.txt.sha256"));
  EXPECT_TRUE(settled_listing(*channel).empty());

  auto unsettled = channel->in_processing();
  ASSERT_EQ(unsettled.size(), 1u);
  EXPECT_EQ(unsettled[0].name, "a.txt");
  channel->settle(unsettled[0], Settlement::Done);
  channel->settle(unsettled[0], Settlement::Done);  // idempotent
  EXPECT_EQ(read_file(remote + "/in/done/a.txt"), "abc");
  EXPECT_TRUE(fs::exists(remote + "/in/done/a.txt.sha256"));
  EXPECT_TRUE(channel->in_processing().empty());

  // The same name again later is kept beside the first, never over it.
  write_file(remote + "/in/a.txt", "second");
  ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  channel->fetch(ready[0], local / "a2.txt");
  channel->settle(ready[0], Settlement::Parked);
  channel->settle(ready[0], Settlement::Parked);
  EXPECT_EQ(read_file(remote + "/in/parked/a.txt"), "second");
  write_file(remote + "/in/a.txt", "third");
  ready = settled_listing(*channel);
  channel->fetch(ready.at(0), local / "a3.txt");
  channel->settle(ready[0], Settlement::Done);
  EXPECT_EQ(read_file(remote + "/in/done/a.txt"), "abc");
  EXPECT_EQ(read_file(remote + "/in/done/a.txt.1"), "third");
}

TEST_F(SftpChannelTest, ASidecarMismatchIsRefusedAndNothingIsLeftLocally) {
  auto channel = open();
  write_file(remote + "/in/b.txt", "abd");
  write_file(remote + "/in/b.txt.sha256", std::string(kAbcSha256) + "\n");
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  TransportError error = error_of([&] { channel->fetch(ready[0], local / "b.txt"); });
  EXPECT_FALSE(error.transient());
  EXPECT_NE(std::string(error.what()).find("sidecar"), std::string::npos) << error.what();
  EXPECT_FALSE(fs::exists(local / "b.txt"));
  EXPECT_FALSE(fs::exists(local / "b.txt.part"));
}

TEST_F(SftpChannelTest, ADownloadCutShortResumesFromThePartFile) {
  std::string content;
  for (int i = 0; content.size() < 300000; ++i) content += "line " + std::to_string(i) + "\n";
  write_file(remote + "/in/big.txt", content);
  std::string expected = sha256_hex(remote + "/in/big.txt");
  fs::remove(remote + "/in/big.txt.sum");
  auto channel = open();
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  // What an earlier, interrupted fetch left behind: the first 100000 bytes.
  write_file(local / "big.txt.part", content.substr(0, 100000));
  Fetched fetched = channel->fetch(ready[0], local / "big.txt");
  EXPECT_EQ(fetched.size, content.size());
  EXPECT_EQ(fetched.sha256, expected);
  EXPECT_EQ(read_file(local / "big.txt"), content);
}

TEST_F(SftpChannelTest, AResumedDownloadWithABadStartFailsTheSidecarCheckThenSucceedsAfresh) {
  std::string content(200000, 'x');
  write_file(remote + "/in/c.txt", content);
  std::string digest = sha256_hex(remote + "/in/c.txt");
  fs::remove(remote + "/in/c.txt.sum");
  write_file(remote + "/in/c.txt.sha256", digest + "\n");
  auto channel = open();
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  write_file(local / "c.txt.part", std::string(1000, 'y'));
  TransportError error = error_of([&] { channel->fetch(ready[0], local / "c.txt"); });
  EXPECT_FALSE(error.transient());
  EXPECT_FALSE(fs::exists(local / "c.txt.part")) << "a bad partial download is thrown away";
  auto unsettled = channel->in_processing();
  ASSERT_EQ(unsettled.size(), 1u);
  EXPECT_EQ(channel->fetch(unsettled[0], local / "c.txt").sha256, digest);
  EXPECT_EQ(read_file(local / "c.txt"), content);
}

TEST_F(SftpChannelTest, AnUnknownHostKeyIsRefused) {
  write_file(local / "empty_known_hosts", "");
  auto channel = open({{"known_hosts", local / "empty_known_hosts"}});
  TransportError error = error_of([&] { channel->list_ready(); });
  EXPECT_FALSE(error.transient());
  EXPECT_NE(std::string(error.what()).find("not in known_hosts"), std::string::npos) << error.what();
}

TEST_F(SftpChannelTest, AChangedHostKeyIsRefused) {
  write_file(local / "wrong_known_hosts", "[" + host + "]:" + port + " " + kOtherHostKey + "\n");
  auto channel = open({{"known_hosts", local / "wrong_known_hosts"}});
  write_file(remote + "/in/a.txt", "abc");
  TransportError error = error_of([&] { channel->list_ready(); });
  EXPECT_FALSE(error.transient());
  EXPECT_NE(std::string(error.what()).find("DIFFERS"), std::string::npos) << error.what();
  EXPECT_TRUE(fs::exists(remote + "/in/a.txt"));
}

TEST_F(SftpChannelTest, HostKeyCheckingOffIsExplicit) {
  auto s = settings();
  s.erase("known_hosts");
  EXPECT_THROW(open_channel(ChannelConfig{"provider1", "sftp", s}), std::invalid_argument)
      << "no known_hosts and no explicit opt-out";
  s["host_key_check"] = "off";
  auto channel = open_channel(ChannelConfig{"provider1", "sftp", s});
  write_file(remote + "/in/a.txt", "abc");
  EXPECT_EQ(settled_listing(*channel).size(), 1u);
}

TEST_F(SftpChannelTest, UnsafeRemoteNamesAreNeverFetchedNorUsedAsLocalPaths) {
  for (const char* name : {"a b.txt", "-x.txt", ".hidden", "bad\x01name.txt", "new\nline.txt", "caf\xc3\xa9.txt"})
    write_file(remote + "/in/" + name, "abc");
  fs::create_directories(remote + "/in/subdir");
  write_file(remote + "/secret.txt", "abc");
  fs::create_symlink(remote + "/secret.txt", remote + "/in/link.txt");
  write_file(remote + "/in/ok.txt", "abc");
  auto channel = open();
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].name, "ok.txt");

  for (const char* name : {"../secret.txt", "a/b", "..", ".hidden", "new\nline.txt"}) {
    InboxEntry entry{name, 3, 0, "inbox"};
    EXPECT_FALSE(error_of([&] { channel->fetch(entry, local / "x.txt"); }).transient()) << name;
    EXPECT_THROW(channel->settle(entry, Settlement::Done), TransportError) << name;
  }
  EXPECT_EQ(files_in(local.path()), std::vector<std::string>{});
  EXPECT_TRUE(fs::exists(remote + "/secret.txt"));
  EXPECT_TRUE(fs::exists(remote + "/in/.hidden"));
}

TEST_F(SftpChannelTest, OnlyOneOfTwoPollersClaimsAFile) {
  auto first = open();
  auto second = open();
  write_file(remote + "/in/a.txt", "abc");
  auto seen_by_first = settled_listing(*first);
  auto seen_by_second = settled_listing(*second);
  ASSERT_EQ(seen_by_first.size(), 1u);
  ASSERT_EQ(seen_by_second.size(), 1u);
  first->fetch(seen_by_first[0], local / "first.txt");
  EXPECT_FALSE(error_of([&] { second->fetch(seen_by_second[0], local / "second.txt"); }).transient());
  EXPECT_FALSE(fs::exists(local / "second.txt"));
}

TEST_F(SftpChannelTest, AFileInProcessingIsNeverReplacedByANewUpload) {
  auto channel = open();
  write_file(remote + "/in/a.txt", "first");
  auto ready = settled_listing(*channel);
  channel->fetch(ready.at(0), local / "a1.txt");
  write_file(remote + "/in/a.txt", "second");
  ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(error_of([&] { channel->fetch(ready[0], local / "a2.txt"); }).transient());
  EXPECT_EQ(read_file(remote + "/in/processing/a.txt"), "first");
  EXPECT_EQ(read_file(remote + "/in/a.txt"), "second");
}

TEST_F(SftpChannelTest, SendUploadsUnderATemporaryNameAndNeverOverwrites) {
  auto channel = open();
  write_file(local / "reply.txt", "error file");
  write_file(local / "other.txt", "other");
  InboxEntry origin{"a.txt", 3, 0, "inbox"};
  channel->send(local / "reply.txt", "a_ERR.txt", origin);
  EXPECT_EQ(read_file(remote + "/out/a_ERR.txt"), "error file");
  TransportError error = error_of([&] { channel->send(local / "other.txt", "a_ERR.txt", origin); });
  EXPECT_FALSE(error.transient());
  EXPECT_EQ(read_file(remote + "/out/a_ERR.txt"), "error file");
  EXPECT_EQ(files_in(remote + "/out"), std::vector<std::string>{"a_ERR.txt"}) << "no temporary file left";
  EXPECT_THROW(channel->send(local / "other.txt", "../escape.txt", origin), TransportError);
  EXPECT_FALSE(fs::exists(remote + "/escape.txt"));
}

TEST_F(SftpChannelTest, PasswordLoginFromTheEnvironment) {
  std::string password_user, password;
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_PASSWORD_USER", password_user);
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_PASSWORD", password);
  const struct passwd* account = ::getpwnam(password_user.c_str());
  ASSERT_NE(account, nullptr);
  write_file(remote + "/in/a.txt", "abc");
  write_file(local / "reply.txt", "reply");
  for (const std::string& path : {remote, remote + "/in", remote + "/in/a.txt"})
    ASSERT_EQ(::chown(path.c_str(), account->pw_uid, account->pw_gid), 0) << path;
  ::setenv("VAXETL_TEST_SFTP_PASSWORD_VALUE", password.c_str(), 1);
  ::setenv("VAXETL_TEST_SFTP_WRONG_PASSWORD", "not-the-password", 1);
  auto s = settings();
  s.erase("private_key");
  s["user"] = password_user;
  s["password_env"] = "VAXETL_TEST_SFTP_PASSWORD_VALUE";
  auto channel = open_channel(ChannelConfig{"provider1", "sftp", s});
  auto ready = settled_listing(*channel);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(channel->fetch(ready[0], local / "a.txt").sha256, kAbcSha256);
  channel->send(local / "reply.txt", "a_ERR.txt", ready[0]);
  EXPECT_EQ(read_file(remote + "/out/a_ERR.txt"), "reply");

  s["password_env"] = "VAXETL_TEST_SFTP_WRONG_PASSWORD";
  auto refused = open_channel(ChannelConfig{"provider1", "sftp", s});
  EXPECT_FALSE(error_of([&] { refused->list_ready(); }).transient());
  s["private_key"] = key;
  EXPECT_THROW(open_channel(ChannelConfig{"provider1", "sftp", s}), std::invalid_argument) << "key or password, not both";
}

TEST_F(SftpChannelTest, AServerThatIsNotThereIsATransientError) {
  auto channel = open({{"port", "1"}, {"connect_timeout_seconds", "5"}});
  EXPECT_TRUE(error_of([&] { channel->list_ready(); }).transient());
}

TEST_F(SftpChannelTest, AWrongClientKeyIsNotTransient) {
  std::string other_key = local / "other_key";
  std::string command = "ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -f '" + other_key + "' >/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto channel = open({{"private_key", other_key}});
  EXPECT_FALSE(error_of([&] { channel->list_ready(); }).transient());
}

}  // namespace
}  // namespace vaxetl::transport
