#include "transport/smime.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/StreamCopier.h>

#include "transport/local_files.hpp"

namespace vaxetl::transport::detail {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct CmsFree {
  void operator()(CMS_ContentInfo* c) const { CMS_ContentInfo_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cms = std::unique_ptr<CMS_ContentInfo, CmsFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The most recent OpenSSL error as text (library reasons only: never data).
std::string openssl_error() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

Bio memory_bio(const std::string& data) {
  Bio bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) throw std::bad_alloc();
  return bio;
}

Bio empty_bio() {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio) throw std::bad_alloc();
  return bio;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

Bio file_bio(const std::string& path, const char* what) {
  Bio bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) throw std::invalid_argument(std::string("cannot read the ") + what + " file " + path);
  return bio;
}

Cert certificate_from_pem(const std::string& pem) {
  Bio bio = memory_bio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw std::invalid_argument("not a PEM certificate: " + openssl_error());
  return cert;
}

std::string certificate_pem(X509* cert) {
  Bio out = empty_bio();
  if (PEM_write_bio_X509(out.get(), cert) != 1) throw std::runtime_error("cannot write a certificate");
  return bio_text(out.get());
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The value of the first `name:` header of a raw message (folded lines joined).
std::string header_value(const std::string& raw, const std::string& name) {
  std::istringstream in(raw);
  std::string line, value;
  bool in_header = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      if (in_header) value += line;
      continue;
    }
    if (in_header) return value;
    auto colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == name) {
      in_header = true;
      value = line.substr(colon + 1);
    }
  }
  return in_header ? value : std::string();
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) throw std::runtime_error("no random bytes");
  return to_hex(buffer.data(), bytes);
}

std::string base64_lines(const std::string& data) {
  std::string out;
  constexpr std::size_t kChunk = 57;  // 57 bytes -> 76 base64 characters per line
  std::array<unsigned char, 80> encoded{};
  for (std::size_t at = 0; at < data.size(); at += kChunk) {
    std::size_t n = std::min(kChunk, data.size() - at);
    int length = EVP_EncodeBlock(encoded.data(), reinterpret_cast<const unsigned char*>(data.data() + at),
                                 static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(length));
    out += "\r\n";
  }
  return out;
}

std::string with_crlf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 60);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

std::string header_safe(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return text;
}

// Collects the parts that carry a file name (Content-Disposition filename, or Content-Type name).
class AttachmentCollector : public Poco::Net::PartHandler {
 public:
  std::vector<MailAttachment> attachments;

  void handlePart(const Poco::Net::MessageHeader& header, std::istream& stream) override {
    std::string name = parameter(header, "Content-Disposition", "filename");
    if (name.empty()) name = parameter(header, "Content-Type", "name");
    std::string content;
    Poco::StreamCopier::copyToString(stream, content);
    if (!name.empty()) attachments.push_back(MailAttachment{name, std::move(content)});
  }

 private:
  static std::string parameter(const Poco::Net::MessageHeader& header, const std::string& field,
                               const std::string& key) {
    if (!header.has(field)) return {};
    std::string value;
    Poco::Net::NameValueCollection parameters;
    Poco::Net::MessageHeader::splitParameters(header.get(field), value, parameters);
    return parameters.get(key, "");
  }
};

}  // namespace

struct Smime::Keys {
  Cert certificate;
  Pkey private_key;
  std::unique_ptr<X509_STORE, StoreFree> anchors;
};

Smime::Smime(const std::string& certificate_file, const std::string& private_key_file, const std::string& passphrase,
             const std::string& trust_anchors_file)
    : keys_(std::make_unique<Keys>()) {
  Bio cert_bio = file_bio(certificate_file, "certificate");
  keys_->certificate.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!keys_->certificate) throw std::invalid_argument("no PEM certificate in " + certificate_file);
  Bio key_bio = file_bio(private_key_file, "private key");
  keys_->private_key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr,
                                                   const_cast<char*>(passphrase.c_str())));
  if (!keys_->private_key)
    throw std::invalid_argument("cannot load the private key " + private_key_file + " (wrong passphrase?)");
  if (X509_check_private_key(keys_->certificate.get(), keys_->private_key.get()) != 1)
    throw std::invalid_argument("the private key " + private_key_file + " does not match " + certificate_file);
  keys_->anchors.reset(X509_STORE_new());
  if (!keys_->anchors || X509_STORE_load_file(keys_->anchors.get(), trust_anchors_file.c_str()) != 1)
    throw std::invalid_argument("cannot load trust anchors from " + trust_anchors_file);
  ERR_clear_error();
  STACK_OF(OPENSSL_STRING)* emails = X509_get1_email(keys_->certificate.get());
  if (emails != nullptr && sk_OPENSSL_STRING_num(emails) > 0) own_address_ = lower(sk_OPENSSL_STRING_value(emails, 0));
  X509_email_free(emails);
}

Smime::~Smime() = default;

OpenedMessage Smime::open(const std::string& raw_message) const {
  OpenedMessage opened;
  opened.sender = mail_address_of(header_value(raw_message, "from"));
  if (opened.sender.empty()) throw MessageRefused("VaxetlNoSender", "the message has no usable From address");

  Bio in = memory_bio(raw_message);
  Cms enveloped(SMIME_read_CMS(in.get(), nullptr));
  if (!enveloped || OBJ_obj2nid(CMS_get0_type(enveloped.get())) != NID_pkcs7_enveloped) {
    ERR_clear_error();
    throw MessageRefused("VaxetlNotEncrypted", "the message is not S/MIME encrypted");
  }
  Bio decrypted = empty_bio();
  if (CMS_decrypt(enveloped.get(), keys_->private_key.get(), keys_->certificate.get(), nullptr, decrypted.get(),
                  CMS_BINARY) != 1)
  {
    ERR_clear_error();
    throw MessageRefused("VaxetlUndecryptable", "the message is not encrypted to our certificate (cannot decrypt)");
  }

  BIO* detached_content = nullptr;
  Cms signed_data(SMIME_read_CMS(decrypted.get(), &detached_content));
  Bio detached(detached_content);
  if (!signed_data || OBJ_obj2nid(CMS_get0_type(signed_data.get())) != NID_pkcs7_signed) {
    ERR_clear_error();
    throw MessageRefused("VaxetlNotSigned", "the decrypted message is not S/MIME signed");
  }
  Bio content = empty_bio();
  if (CMS_verify(signed_data.get(), nullptr, keys_->anchors.get(), detached.get(), content.get(), CMS_BINARY) != 1)
    throw MessageRefused("VaxetlBadSignature",
                         "the signature does not verify against the trust anchors: " + openssl_error());
  STACK_OF(X509)* signers = CMS_get0_signers(signed_data.get());
  X509* signer = signers != nullptr && sk_X509_num(signers) > 0 ? sk_X509_value(signers, 0) : nullptr;
  bool names_sender = signer != nullptr &&
                      X509_check_email(signer, opened.sender.data(), opened.sender.size(), 0) == 1;
  if (signer != nullptr) opened.signer_certificate_pem = certificate_pem(signer);
  sk_X509_free(signers);
  if (!names_sender)
    throw MessageRefused("VaxetlSignerNotSender", "the signer's certificate does not name the From address");

  std::istringstream entity(bio_text(content.get()));
  Poco::Net::MailMessage message;
  AttachmentCollector collector;
  try {
    message.read(entity, collector);
  } catch (const Poco::Exception& e) {
    throw MessageRefused("VaxetlBadMime", "the signed content is not readable MIME: " + e.displayText());
  }
  opened.attachments = std::move(collector.attachments);
  return opened;
}

std::string Smime::seal(const std::string& from, const std::string& to, const std::string& subject,
                        const std::string& recipient_certificate_pem,
                        const std::vector<MailAttachment>& attachments) const {
  const std::string boundary = "vaxetl-" + random_hex(12);
  std::string entity = "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
  entity += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  entity += std::to_string(attachments.size()) + " file(s) attached.\r\n";
  for (const auto& attachment : attachments) {
    const std::string name = header_safe(attachment.name);
    entity += "--" + boundary + "\r\n";
    entity += "Content-Type: application/octet-stream; name=\"" + name + "\"\r\n";
    entity += "Content-Transfer-Encoding: base64\r\n";
    entity += "Content-Disposition: attachment; filename=\"" + name + "\"\r\n\r\n";
    entity += base64_lines(attachment.content);
  }
  entity += "--" + boundary + "--\r\n";

  // Sign (detached, so any mail reader shows the structure), then encrypt the signed entity.
  // Streaming: the digest is computed while SMIME_write_CMS copies the content out.
  constexpr int kSignFlags = CMS_DETACHED | CMS_BINARY | CMS_STREAM;
  Bio to_sign = memory_bio(entity);
  Cms signed_data(CMS_sign(keys_->certificate.get(), keys_->private_key.get(), nullptr, to_sign.get(), kSignFlags));
  if (!signed_data) throw std::runtime_error("S/MIME signing failed: " + openssl_error());
  Bio signed_out = empty_bio();
  if (SMIME_write_CMS(signed_out.get(), signed_data.get(), to_sign.get(), kSignFlags) != 1)
    throw std::runtime_error("S/MIME signing failed: " + openssl_error());
  const std::string signed_entity = bio_text(signed_out.get());

  Cert recipient = certificate_from_pem(recipient_certificate_pem);
  std::unique_ptr<STACK_OF(X509), X509StackFree> recipients(sk_X509_new_null());
  if (!recipients || sk_X509_push(recipients.get(), recipient.get()) == 0) throw std::bad_alloc();
  recipient.release();  // owned by the stack now
  Bio to_encrypt = memory_bio(signed_entity);
  Cms enveloped(CMS_encrypt(recipients.get(), to_encrypt.get(), EVP_aes_256_cbc(), CMS_BINARY));
  if (!enveloped) throw std::runtime_error("S/MIME encryption failed: " + openssl_error());
  Bio encrypted_out = empty_bio();
  if (SMIME_write_CMS(encrypted_out.get(), enveloped.get(), nullptr, 0) != 1)
    throw std::runtime_error("S/MIME encryption failed: " + openssl_error());

  std::array<char, 64> date{};
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(date.data(), date.size(), "%a, %d %b %Y %H:%M:%S +0000", &utc);
  std::string domain = from.substr(from.find('@') + 1);
  std::string message = "From: <" + header_safe(from) + ">\r\n";
  message += "To: <" + header_safe(to) + ">\r\n";
  message += "Subject: " + header_safe(subject) + "\r\n";
  message += "Date: " + std::string(date.data()) + "\r\n";
  message += "Message-ID: <" + random_hex(16) + "@" + header_safe(domain) + ">\r\n";
  message += with_crlf(bio_text(encrypted_out.get()));
  return message;
}

bool certificate_names_address(const std::string& certificate_pem, const std::string& address) {
  Bio bio = memory_bio(certificate_pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert && X509_check_email(cert.get(), address.data(), address.size(), 0) == 1;
}

std::string mail_address_of(const std::string& header_value) {
  std::string address = header_value;
  auto open = address.rfind('<');
  if (open != std::string::npos) {
    auto close = address.find('>', open);
    if (close == std::string::npos) return {};
    address = address.substr(open + 1, close - open - 1);
  }
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  address.erase(address.begin(), std::find_if(address.begin(), address.end(), not_space));
  address.erase(std::find_if(address.rbegin(), address.rend(), not_space).base(), address.end());
  if (address.empty() || std::count(address.begin(), address.end(), '@') != 1 || address.front() == '@' ||
      address.back() == '@')
    return {};
  for (char c : address)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == ',' ||
        c == ';' || c == '\\')
      return {};
  return lower(address);
}

}  // namespace vaxetl::transport::detail
