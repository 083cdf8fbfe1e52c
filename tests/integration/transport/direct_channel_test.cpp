// The Direct channel against a real mail server on loopback (tools/test-servers/mail.sh):
// Dovecot IMAP and submission over TLS, OpenSMTPD delivering. Each test reads its own mailbox
// (messages are put there with IMAP APPEND), so tests run in parallel; replies really travel
// over SMTP to the provider's mailbox.
#include <gtest/gtest.h>

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "transport/local_files.hpp"
#include "transport/smime.hpp"
#include "transport/transport.hpp"
#include "transport_error_of.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl::transport {
namespace {

namespace fs = std::filesystem;
using detail::MailAttachment;
using detail::Smime;
using test::error_of;
using test::read_file;
using test::TempDir;
using test::write_file;

std::string random_tag() {
  std::random_device device;
  std::uniform_int_distribution<unsigned long> digits(0, 0xffffffffUL);
  char buffer[20];
  std::snprintf(buffer, sizeof buffer, "%08lx", digits(device));
  return std::string("t") + buffer;
}

std::size_t to_string_sink(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct Upload {
  const std::string* text;
  std::size_t at = 0;
};
std::size_t from_string_source(char* buffer, std::size_t size, std::size_t count, void* in) {
  auto* upload = static_cast<Upload*>(in);
  std::size_t n = std::min(size * count, upload->text->size() - upload->at);
  std::copy_n(upload->text->data() + upload->at, n, buffer);
  upload->at += n;
  return n;
}

// A plain IMAP client for arranging and checking mailboxes (libcurl, implicit TLS).
class ImapProbe {
 public:
  ImapProbe(std::string base_url, std::string user, std::string password, std::string ca)
      : base_(std::move(base_url)), user_(std::move(user)), password_(std::move(password)), ca_(std::move(ca)) {}

  void create(const std::string& mailbox) { run(base_ + "/", "CREATE " + mailbox, nullptr); }
  void append(const std::string& mailbox, const std::string& message) { run(base_ + "/" + mailbox, "", &message); }
  std::size_t count(const std::string& mailbox, const std::string& criteria = "ALL") {
    std::string response = run(base_ + "/" + mailbox, "UID SEARCH " + criteria, nullptr);
    auto at = response.find("* SEARCH");
    if (at == std::string::npos) return 0;
    std::istringstream words(response.substr(at + 8, response.find('\n', at) - at - 8));
    std::size_t n = 0;
    std::string word;
    while (words >> word) ++n;
    return n;
  }

 private:
  std::string run(const std::string& url, const std::string& command, const std::string* upload) {
    CURL* curl = curl_easy_init();
    std::string response;
    Upload source{upload};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, user_.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, password_.c_str());
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca_.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, to_string_sink);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    if (!command.empty()) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, command.c_str());
    if (upload != nullptr) {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, from_string_source);
      curl_easy_setopt(curl, CURLOPT_READDATA, &source);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload->size()));
    }
    CURLcode code = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    if (code != CURLE_OK) throw std::runtime_error(std::string("IMAP probe: ") + curl_easy_strerror(code));
    return response;
  }

  std::string base_, user_, password_, ca_;
};

class DirectChannelTest : public ::testing::Test {
 protected:
  std::string host, imap_port, imaps_port, smtp_port, smtps_port, tls_ca, user, password, peer_user, peer_password;
  std::string anchor, cert, key, peer_cert, peer_key, rogue_cert, rogue_key;
  std::string box;  // this test's own inbox mailbox
  TempDir local;
  std::unique_ptr<ImapProbe> ours;

  void SetUp() override {
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_HOST", host);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_IMAP_PORT", imap_port);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_IMAPS_PORT", imaps_port);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_SMTP_PORT", smtp_port);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_SMTPS_PORT", smtps_port);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_TLS_CA", tls_ca);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_USER", user);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_PASSWORD", password);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_PEER_USER", peer_user);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_PEER_PASSWORD", peer_password);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_ANCHOR", anchor);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_CERT", cert);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_KEY", key);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_PEER_CERT", peer_cert);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_PEER_KEY", peer_key);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_ROGUE_CERT", rogue_cert);
    VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_MAIL_ROGUE_KEY", rogue_key);
    ::setenv("VAXETL_TEST_DIRECT_PASSWORD", password.c_str(), 1);
    ::setenv("VAXETL_TEST_DIRECT_PEER_PASSWORD", peer_password.c_str(), 1);
    box = random_tag();
    ours = std::make_unique<ImapProbe>("imaps://" + host + ":" + imaps_port, user, password, tls_ca);
    ours->create(box);
  }

  std::map<std::string, std::string> settings() const {
    return {{"imap_host", host},
            {"imap_port", imaps_port},
            {"smtp_port", smtp_port},
            {"smtp_tls", "starttls"},
            {"user", user},
            {"password_env", "VAXETL_TEST_DIRECT_PASSWORD"},
            {"tls_ca_file", tls_ca},
            {"certificate", cert},
            {"private_key", key},
            {"trust_anchors", anchor},
            {"mailbox", box},
            {"done_mailbox", box + "-done"},
            {"parked_mailbox", box + "-parked"},
            {"rejected_mailbox", box + "-rejected"}};
  }
  std::unique_ptr<Channel> open(std::map<std::string, std::string> overrides = {}) {
    auto s = settings();
    for (auto& [k, v] : overrides) s[k] = v;
    return open_channel(ChannelConfig{"provider1-direct", "direct", s});
  }

  // A message from the provider to us, signed with `signer_cert`/`signer_key`, encrypted to us.
  std::string provider_message(const std::vector<MailAttachment>& files, const std::string& signer_cert,
                               const std::string& signer_key, const std::string& from = "provider@direct.test") {
    Smime sender(signer_cert, signer_key, "", anchor);
    return sender.seal(from, "vaxetl@direct.test", "files", read_file(cert), files);
  }

};

constexpr const char* kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST_F(DirectChannelTest, ASignedEncryptedFileIsFetchedCheckedAndSettled) {
  ours->append(box, provider_message({{"vxu1.hl7", "abc"}, {"vxu1.hl7.sha256", std::string(kAbcSha256) + "\n"}},
                                     peer_cert, peer_key));
  auto channel = open();
  auto ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 1u) << "the sidecar is not a file of its own";
  EXPECT_EQ(ready[0].name, "vxu1.hl7");
  EXPECT_EQ(ready[0].size, 3u);
  Fetched fetched = channel->fetch(ready[0], local / "vxu1.hl7");
  EXPECT_EQ(fetched.sha256, kAbcSha256);
  EXPECT_EQ(read_file(local / "vxu1.hl7"), "abc");
  EXPECT_FALSE(fs::exists(local / "vxu1.hl7.part"));
  EXPECT_TRUE(channel->list_ready().empty()) << "a claimed message is not offered again";
  // A fresh channel (a restarted daemon) finds it in processing.
  auto restarted = open();
  EXPECT_TRUE(restarted->list_ready().empty());
  auto unsettled = restarted->in_processing();
  ASSERT_EQ(unsettled.size(), 1u);
  EXPECT_EQ(unsettled[0].name, "vxu1.hl7");
  EXPECT_EQ(restarted->fetch(unsettled[0], local / "again.hl7").sha256, kAbcSha256);
  restarted->settle(unsettled[0], Settlement::Done);
  restarted->settle(unsettled[0], Settlement::Done);  // idempotent
  EXPECT_TRUE(restarted->in_processing().empty());
  EXPECT_EQ(ours->count(box), 0u);
  EXPECT_EQ(ours->count(box + "-done"), 1u);
}

TEST_F(DirectChannelTest, AMessageMovesOnOnlyWhenAllItsFilesAreSettled) {
  ours->append(box, provider_message({{"a.txt", "one"}, {"b.txt", "two"}}, peer_cert, peer_key));
  auto channel = open();
  auto ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 2u);
  for (const auto& entry : ready) EXPECT_EQ(read_file(channel->fetch(entry, local / entry.name).path), entry.name == "a.txt" ? "one" : "two");
  channel->settle(ready[0], Settlement::Done);
  EXPECT_EQ(ours->count(box), 1u) << "one file of the message is still being processed";
  EXPECT_EQ(channel->in_processing().size(), 1u);
  channel->settle(ready[1], Settlement::Parked);
  EXPECT_EQ(ours->count(box), 0u);
  EXPECT_EQ(ours->count(box + "-parked"), 1u);
}

TEST_F(DirectChannelTest, MessagesThatFailTheChecksAreMovedAsideWithTheReason) {
  // Signed by a certificate that does not chain to the trust anchor.
  ours->append(box, provider_message({{"rogue.txt", "x"}}, rogue_cert, rogue_key));
  // Signed by the provider, but claiming to come from someone else.
  ours->append(box, provider_message({{"spoof.txt", "x"}}, peer_cert, peer_key, "other@direct.test"));
  // Not encrypted at all.
  ours->append(box,
               "From: <provider@direct.test>\r\nTo: <vaxetl@direct.test>\r\nSubject: plain\r\n"
               "Content-Type: text/plain\r\n\r\nhello\r\n");
  // Encrypted to someone else (the provider's own certificate).
  Smime sender(peer_cert, peer_key, "", anchor);
  ours->append(box, sender.seal("provider@direct.test", "vaxetl@direct.test", "x", read_file(peer_cert),
                                {{"other.txt", "x"}}));
  // Only unsafe attachment names.
  ours->append(box, provider_message({{"../escape.txt", "x"}, {".hidden", "x"}}, peer_cert, peer_key));

  auto channel = open();
  EXPECT_TRUE(channel->list_ready().empty());
  EXPECT_EQ(ours->count(box), 0u);
  std::string rejected = box + "-rejected";
  EXPECT_EQ(ours->count(rejected), 5u);
  EXPECT_EQ(ours->count(rejected, "KEYWORD VaxetlBadSignature"), 1u);
  EXPECT_EQ(ours->count(rejected, "KEYWORD VaxetlSignerNotSender"), 1u);
  EXPECT_EQ(ours->count(rejected, "KEYWORD VaxetlNotEncrypted"), 1u);
  EXPECT_EQ(ours->count(rejected, "KEYWORD VaxetlUndecryptable"), 1u);
  EXPECT_EQ(ours->count(rejected, "KEYWORD VaxetlNoFiles"), 1u);
  EXPECT_TRUE(test::files_in(local.path()).empty());
}

TEST_F(DirectChannelTest, AMessageMadeByTheOpensslToolIsAccepted) {
  // Another S/MIME implementation (the openssl command) builds the message.
  write_file(local / "entity.txt",
             "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\nfile attached\n"
             "--b1\nContent-Type: text/plain; name=\"cvrs.txt\"\nContent-Disposition: attachment; "
             "filename=\"cvrs.txt\"\n\nline one\nline two\n--b1--\n");
  std::string command = "openssl cms -sign -in '" + local / "entity.txt" + "' -signer '" + peer_cert + "' -inkey '" +
                        peer_key + "' | openssl cms -encrypt -aes256 -from provider@direct.test -to " +
                        "vaxetl@direct.test -subject files -out '" + local / "message.eml" + "' '" + cert + "'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::string message = read_file(local / "message.eml");
  fs::remove(local / "entity.txt");
  fs::remove(local / "message.eml");
  ours->append(box, message);
  auto channel = open();
  auto ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].name, "cvrs.txt");
  std::string content = read_file(channel->fetch(ready[0], local / "cvrs.txt").path);
  EXPECT_NE(content.find("line one"), std::string::npos);
  EXPECT_NE(content.find("line two"), std::string::npos);
}

TEST_F(DirectChannelTest, AReplyTravelsSignedAndEncryptedToTheProvider) {
  ours->append(box, provider_message({{"vxu2.hl7", "abc"}}, peer_cert, peer_key));
  auto channel = open({{"imap_port", imap_port}, {"imap_tls", "starttls"}});
  auto ready = channel->list_ready();
  ASSERT_EQ(ready.size(), 1u);
  channel->fetch(ready[0], local / "vxu2.hl7");
  const std::string reply_name = random_tag() + "_ERR.txt";
  write_file(local / "reply.txt", "error line 1\nerror line 2\n");
  channel->send(local / "reply.txt", reply_name, ready[0]);

  // The provider's side: its own mailbox, its own key, the same trust anchor.
  auto provider = open_channel(ChannelConfig{
      "provider-side", "direct",
      {{"imap_host", host}, {"imap_port", imaps_port}, {"smtp_port", smtps_port}, {"user", peer_user},
       {"password_env", "VAXETL_TEST_DIRECT_PEER_PASSWORD"}, {"tls_ca_file", tls_ca}, {"certificate", peer_cert},
       {"private_key", peer_key}, {"trust_anchors", anchor}, {"done_mailbox", "received"},
       {"rejected_mailbox", "refused"}}});
  std::optional<InboxEntry> reply;
  for (int attempt = 0; attempt < 60 && !reply; ++attempt) {  // delivery goes through the SMTP queue
    for (const auto& entry : provider->list_ready())
      if (entry.name == reply_name) reply = entry;
    if (!reply) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(reply.has_value()) << "the reply never reached the provider's mailbox";
  EXPECT_EQ(read_file(provider->fetch(*reply, local / "got.txt").path), "error line 1\nerror line 2\n");
  provider->settle(*reply, Settlement::Done);
}

TEST_F(DirectChannelTest, OnlyOneOfTwoPollersClaimsAMessage) {
  ours->append(box, provider_message({{"a.txt", "abc"}}, peer_cert, peer_key));
  auto first = open();
  auto second = open();
  auto seen_by_first = first->list_ready();
  auto seen_by_second = second->list_ready();
  ASSERT_EQ(seen_by_first.size(), 1u);
  ASSERT_EQ(seen_by_second.size(), 1u);
  first->fetch(seen_by_first[0], local / "first.txt");
  EXPECT_FALSE(error_of([&] { second->fetch(seen_by_second[0], local / "second.txt"); }).transient());
  EXPECT_FALSE(fs::exists(local / "second.txt"));
  EXPECT_TRUE(second->list_ready().empty());
  EXPECT_EQ(second->in_processing().size(), 1u) << "a restarted daemon would find it there";
}

TEST_F(DirectChannelTest, AServerCertificateFromAnotherCaIsRefused) {
  auto channel = open({{"tls_ca_file", anchor}});
  EXPECT_FALSE(error_of([&] { channel->list_ready(); }).transient());
}

TEST_F(DirectChannelTest, AWrongPasswordIsNotTransient) {
  ::setenv("VAXETL_TEST_DIRECT_WRONG", "not-the-password", 1);
  auto channel = open({{"password_env", "VAXETL_TEST_DIRECT_WRONG"}});
  EXPECT_FALSE(error_of([&] { channel->list_ready(); }).transient());
}

TEST_F(DirectChannelTest, SettingsNameTheirProblem) {
  auto s = settings();
  s["password_env"] = "VAXETL_TEST_DIRECT_UNSET_VARIABLE";
  ::unsetenv("VAXETL_TEST_DIRECT_UNSET_VARIABLE");
  try {
    open_channel(ChannelConfig{"p", "direct", s});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("VAXETL_TEST_DIRECT_UNSET_VARIABLE"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(password), std::string::npos);
  }
  s = settings();
  s["imap_tls"] = "maybe";
  EXPECT_THROW(open_channel(ChannelConfig{"p", "direct", s}), std::invalid_argument);
  s = settings();
  s["trust_anchors"] = local / "missing.pem";
  EXPECT_THROW(open_channel(ChannelConfig{"p", "direct", s}), std::invalid_argument);
}

}  // namespace
}  // namespace vaxetl::transport
