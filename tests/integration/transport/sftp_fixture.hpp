// The SFTP tests' fixture: the test server's settings (tools/test-servers/sftp.sh), a remote
// directory of the test's own, and helpers. The server's files live in a local directory
// (VAXETL_TEST_SFTP_ROOT), so tests arrange and check the remote side directly on disk.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "transport/transport.hpp"
#include "transport_error_of.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl::transport {

namespace fs = std::filesystem;
using test::error_of;
using test::files_in;
using test::read_file;
using test::TempDir;
using test::write_file;

inline constexpr const char* kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// A valid ECDSA host key that is not the test server's.
inline constexpr const char* kOtherHostKey =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBWLAnsmhNf6SfgHl3LcrAGMwGAGy434v6IUOwH/"
    "EiUWakqbiOdUle2zUBKHiLvggj0biMpyKtY6jaLq8nd2kro=";

inline std::string sha256_hex(const std::string& path) {
  // Only for expectations: the channel computes its own with OpenSSL.
  std::string command = "sha256sum '" + path + "' > '" + path + ".sum'";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("sha256sum failed");
  return read_file(path + ".sum").substr(0, 64);
}

class SftpChannelTest : public ::testing::Test {
 protected:
  std::string host, port, user, key, known_hosts, root;
  std::string remote;  // this test's own directory on the server (also a local path)
  TempDir local;

  void SetUp() override {
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_HOST", host);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_PORT", port);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_USER", user);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_KEY", key);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_KNOWN_HOSTS", known_hosts);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_SFTP_ROOT", root);
    std::string pattern = root + "/t-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    remote = pattern;
    fs::create_directories(remote + "/in");
  }
  void TearDown() override {
    std::error_code ignored;
    if (!remote.empty()) fs::remove_all(remote, ignored);
  }

  std::map<std::string, std::string> settings() const {
    return {{"host", host},          {"port", port},           {"user", user},
            {"private_key", key},    {"known_hosts", known_hosts},
            {"inbox", remote + "/in"}, {"outbox", remote + "/out"}};
  }
  std::unique_ptr<Channel> open(std::map<std::string, std::string> overrides = {}) {
    auto s = settings();
    for (auto& [k, v] : overrides) s[k] = v;
    return open_channel(ChannelConfig{"provider1", "sftp", s});
  }
  static std::vector<InboxEntry> settled_listing(Channel& channel) {
    channel.list_ready();
    return channel.list_ready();
  }
};

}  // namespace vaxetl::transport
