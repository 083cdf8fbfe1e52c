// S/MIME for Direct Secure Messaging (OpenSSL CMS): opening an incoming message (decrypt with
// our key, verify the signature against the trust anchors, check that the signer's certificate
// names the sender, pull out the attached files) and sealing a reply (sign with our key, then
// encrypt to the recipient's certificate). Internal to vaxetl_transport; tests use it to build
// messages too. No OpenSSL type appears here.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vaxetl::transport::detail {

struct MailAttachment {
  std::string name;     // as the sender gave it; callers check is_safe_file_name()
  std::string content;  // decoded bytes
};

struct OpenedMessage {
  std::string sender;                  // the From address, as user@domain
  std::string signer_certificate_pem;  // to encrypt the reply to
  std::vector<MailAttachment> attachments;
};

// Why a message was refused; `keyword` is an IMAP keyword naming the reason (set on the
// message when it is moved aside), the message says it for people. Neither holds content.
class MessageRefused : public std::runtime_error {
 public:
  MessageRefused(std::string keyword, const std::string& message)
      : std::runtime_error(message), keyword_(std::move(keyword)) {}
  const std::string& keyword() const noexcept { return keyword_; }

 private:
  std::string keyword_;
};

class Smime {
 public:
  // PEM files: our certificate and private key (passphrase may be empty), and the trust
  // anchors (one or more CA certificates) that senders' certificates must chain to.
  Smime(const std::string& certificate_file, const std::string& private_key_file, const std::string& passphrase,
        const std::string& trust_anchors_file);
  ~Smime();
  Smime(const Smime&) = delete;
  Smime& operator=(const Smime&) = delete;

  // Throws MessageRefused (not encrypted, not for our key, not signed, signature or chain
  // invalid, signer not the sender).
  OpenedMessage open(const std::string& raw_message) const;

  // A complete RFC 5322 message (CRLF line ends) from `from` to `to`: the attachments in a
  // multipart/mixed entity, signed (detached, multipart/signed), then encrypted (AES-256-CBC)
  // to `recipient_certificate_pem`.
  std::string seal(const std::string& from, const std::string& to, const std::string& subject,
                   const std::string& recipient_certificate_pem, const std::vector<MailAttachment>& attachments) const;

  const std::string& own_address() const noexcept { return own_address_; }

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string own_address_;  // the first e-mail address in our certificate, "" if none
};

// Whether a PEM certificate names `address` (subjectAltName rfc822Name or e-mail in the subject).
bool certificate_names_address(const std::string& certificate_pem, const std::string& address);

// The address in a From/To header value ("Name <a@b>" or "a@b"), lower-cased; "" when there is
// no plausible single address (CR, LF, spaces or quotes inside, no '@').
std::string mail_address_of(const std::string& header_value);

}  // namespace vaxetl::transport::detail
