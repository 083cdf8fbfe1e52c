// SFTP login with a passphrase-protected key, in a test program of its own: libssh2 1.10
// (Debian 12) leaks a few bytes of OpenSSL state whenever it loads an encrypted private key, and
// the suppression below must not hide leaks in the other SFTP tests.
#include "sftp_fixture.hpp"

extern "C" __attribute__((visibility("default"))) const char* __lsan_default_suppressions() {
  return "leak:libcrypto.so\n";
}

namespace vaxetl::transport {
namespace {

TEST_F(SftpChannelTest, AKeyProtectedByAPassphraseFromTheEnvironment) {
  std::string protected_key = local / "protected_key";
  fs::copy_file(key, protected_key);
  std::string command = "ssh-keygen -q -p -P '' -N 'key secret' -f '" + protected_key + "' >/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0);
  ::setenv("VAXETL_TEST_SFTP_PASSPHRASE", "key secret", 1);
  ::setenv("VAXETL_TEST_SFTP_WRONG_PASSPHRASE", "not it", 1);
  write_file(remote + "/in/a.txt", "abc");
  auto channel = open({{"private_key", protected_key}, {"passphrase_env", "VAXETL_TEST_SFTP_PASSPHRASE"}});
  EXPECT_EQ(settled_listing(*channel).size(), 1u);
  auto wrong = open({{"private_key", protected_key}, {"passphrase_env", "VAXETL_TEST_SFTP_WRONG_PASSPHRASE"}});
  EXPECT_FALSE(error_of([&] { wrong->list_ready(); }).transient());
}

}  // namespace
}  // namespace vaxetl::transport
