#include "transport/direct_channel.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "transport/curl_session.hpp"
#include "transport/local_files.hpp"
#include "transport/settings.hpp"
#include "transport/smime.hpp"

namespace vaxetl::transport {

namespace fs = std::filesystem;

namespace {

constexpr const char* kClaimed = "VaxetlClaimed";

enum class Tls { Implicit, StartTls, Off };

struct Endpoint {
  std::string host;
  long port = 0;
  Tls tls = Tls::Implicit;
  std::string user;
  std::string password;
};

struct DirectSettings {
  std::string address;  // ours; From of replies
  Endpoint imap, smtp;
  std::string mailbox, done_mailbox, parked_mailbox, rejected_mailbox;
  std::string tls_ca_file;
  std::string certificate, private_key, private_key_passphrase, trust_anchors;
  std::string recipient_certificates;  // optional directory of PEM certificates
  long connect_timeout_seconds = 20;
  long stall_timeout_seconds = 60;
};

// What list_ready()/in_processing() learnt about one message, without the file bytes.
struct MessageSummary {
  std::string sender;
  std::vector<std::pair<std::size_t, std::string>> files;  // attachment index, safe name
  std::map<std::size_t, std::uint64_t> sizes;
};

// InboxEntry::ref: "new;uid=N;part=I;from=ADDR" from list_ready(), "claimed;..." from in_processing().
struct MessageRef {
  bool claimed = false;
  std::uint32_t uid = 0;
  std::size_t part = 0;
  std::string from;
};

std::string make_ref(bool claimed, std::uint32_t uid, std::size_t part, const std::string& from) {
  return std::string(claimed ? "claimed" : "new") + ";uid=" + std::to_string(uid) + ";part=" + std::to_string(part) +
         ";from=" + from;
}

template <typename Number>
bool parse_number(std::string_view text, Number& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

MessageRef parse_ref(const std::string& ref) {
  MessageRef parsed;
  std::string_view rest = ref;
  bool ok = true;
  int fields = 0;
  while (!rest.empty()) {
    std::size_t end = rest.find(';');
    std::string_view item = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (item == "new" || item == "claimed") {
      parsed.claimed = item == "claimed";
      ++fields;
    } else if (item.rfind("uid=", 0) == 0) {
      ok = ok && parse_number(item.substr(4), parsed.uid);
      ++fields;
    } else if (item.rfind("part=", 0) == 0) {
      ok = ok && parse_number(item.substr(5), parsed.part);
      ++fields;
    } else if (item.rfind("from=", 0) == 0) {
      parsed.from = std::string(item.substr(5));
      ++fields;
    }
  }
  if (!ok || fields != 4 || parsed.uid == 0) throw TransportError("not a Direct channel entry", false);
  return parsed;
}

std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

struct UploadSource {
  const std::string* text;
  std::size_t offset = 0;
};

std::size_t read_from_string(char* buffer, std::size_t size, std::size_t count, void* source_ptr) {
  auto* source = static_cast<UploadSource*>(source_ptr);
  std::size_t n = std::min(size * count, source->text->size() - source->offset);
  std::copy_n(source->text->data() + source->offset, n, buffer);
  source->offset += n;
  return n;
}

// UIDs in "* SEARCH 1 2 3" lines.
std::vector<std::uint32_t> parse_search(const std::string& response) {
  std::vector<std::uint32_t> uids;
  std::istringstream lines(response);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string star, keyword;
    words >> star >> keyword;
    if (star != "*" || keyword != "SEARCH") continue;
    std::string word;
    while (words >> word) {
      std::uint32_t uid = 0;
      if (parse_number(std::string_view(word), uid)) uids.push_back(uid);
    }
  }
  std::sort(uids.begin(), uids.end());
  return uids;
}

// Flags in "* 3 FETCH (UID 7 FLAGS (\Seen VaxetlClaimed))"; nullopt when no FETCH line came back.
std::optional<std::set<std::string>> parse_flags(const std::string& response) {
  auto at = response.find("FLAGS (");
  if (at == std::string::npos) return std::nullopt;
  auto end = response.find(')', at);
  std::istringstream words(response.substr(at + 7, end - at - 7));
  std::set<std::string> flags;
  std::string word;
  while (words >> word) flags.insert(word);
  return flags;
}

std::string done_keyword(std::size_t part) { return "VaxetlDone" + std::to_string(part); }
std::string parked_keyword(std::size_t part) { return "VaxetlParked" + std::to_string(part); }

class DirectChannel final : public Channel {
 public:
  DirectChannel(std::string name, DirectSettings settings)
      : Channel(std::move(name)),
        s_(std::move(settings)),
        smime_(s_.certificate, s_.private_key, s_.private_key_passphrase, s_.trust_anchors) {
    detail::ensure_curl_initialized();
    curl_.reset(curl_easy_init());
    if (!curl_) throw std::runtime_error("libcurl could not create a handle");
    if (s_.address.empty()) s_.address = smime_.own_address();
    if (s_.address.empty())
      throw std::invalid_argument("channel '" + this->name() +
                                  "' (direct): key 'address': missing, and the certificate names no address");
    for (const Endpoint* endpoint : {&s_.imap, &s_.smtp})
      if (endpoint->tls == Tls::Off)
        spdlog::warn("channel {}: TLS IS OFF for {}:{}; the mail password and messages travel in the clear",
                     this->name(), endpoint->host, endpoint->port);
  }

  std::string kind() const override { return "direct"; }
  std::string display() const override {
    return "direct " + s_.address + " imap " + s_.imap.host + ":" + std::to_string(s_.imap.port) + "/" + s_.mailbox;
  }

  std::vector<InboxEntry> list_ready() override {
    std::vector<InboxEntry> ready;
    for (std::uint32_t uid : search(s_.mailbox, std::string("UNKEYWORD ") + kClaimed)) {
      auto summary = summarize(uid);
      if (!summary) continue;  // refused and moved aside, or gone
      for (const auto& [part, file_name] : summary->files)
        ready.push_back(InboxEntry{file_name, summary->sizes[part], 0, make_ref(false, uid, part, summary->sender)});
    }
    return ready;
  }

  std::vector<InboxEntry> in_processing() override {
    std::vector<InboxEntry> entries;
    for (std::uint32_t uid : search(s_.mailbox, std::string("KEYWORD ") + kClaimed)) {
      auto flags = fetch_flags(uid);
      if (!flags) continue;
      auto summary = summarize(uid);
      if (!summary) continue;
      for (const auto& [part, file_name] : summary->files)
        if (!flags->count(done_keyword(part)) && !flags->count(parked_keyword(part)))
          entries.push_back(InboxEntry{file_name, summary->sizes[part], 0, make_ref(true, uid, part, summary->sender)});
    }
    return entries;
  }

  Fetched fetch(const InboxEntry& entry, const fs::path& destination) override {
    if (!is_safe_file_name(entry.name)) throw TransportError("refused an unsafe attachment name", false);
    MessageRef ref = parse_ref(entry.ref);
    if (!ref.claimed) {
      auto flags = fetch_flags(ref.uid);
      if (!flags) throw TransportError(entry.name + ": its message is no longer in the mailbox", false);
      // The claim covers the whole message: its other files are ours to take too.
      if (flags->count(kClaimed) && !claimed_here_.count(ref.uid))
        throw TransportError(entry.name + ": its message was taken by another process", false);
      if (!flags->count(kClaimed))
        imap_command(s_.mailbox, "UID STORE " + std::to_string(ref.uid) + " +FLAGS (" + kClaimed + ")", "claim");
      claimed_here_.insert(ref.uid);
    }
    std::string raw = download(ref.uid);
    detail::OpenedMessage opened;
    try {
      opened = smime_.open(raw);
    } catch (const detail::MessageRefused& e) {
      throw TransportError(entry.name + ": " + e.what(), false);
    }
    remember_signer(opened);
    if (ref.part >= opened.attachments.size() || opened.attachments[ref.part].name != entry.name)
      throw TransportError(entry.name + ": not found in its message", false);
    const std::string& content = opened.attachments[ref.part].content;

    fs::path part = destination;
    part += ".part";
    {
      std::ofstream out(part, std::ios::binary | std::ios::trunc);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      if (!out.flush()) throw TransportError("cannot write the download of " + entry.name, true);
    }
    std::string digest = detail::sha256_of_file(part);
    std::error_code error;
    if (fs::file_size(part, error) != content.size() || error) {
      fs::remove(part, error);
      throw TransportError("cannot write the download of " + entry.name, true);
    }
    for (const auto& attachment : opened.attachments) {
      if (attachment.name != detail::sidecar_name(entry.name)) continue;
      detail::check_sidecar(entry.name, attachment.content, digest, part);
    }
    fs::rename(part, destination, error);
    if (error) throw TransportError("cannot rename the download of " + entry.name + ": " + error.message(), true);
    return Fetched{destination, digest, content.size()};
  }

  void settle(const InboxEntry& entry, Settlement how) override {
    if (!is_safe_file_name(entry.name)) throw TransportError("refused an unsafe attachment name", false);
    MessageRef ref = parse_ref(entry.ref);
    auto flags = fetch_flags(ref.uid);
    if (!flags) return;  // the message was moved on already
    const std::string keyword = how == Settlement::Done ? done_keyword(ref.part) : parked_keyword(ref.part);
    imap_command(s_.mailbox, "UID STORE " + std::to_string(ref.uid) + " +FLAGS (" + keyword + ")", "settle");
    flags->insert(keyword);
    auto summary = summarize(ref.uid);
    if (!summary) return;
    bool any_parked = false;
    for (const auto& [part, file_name] : summary->files) {
      if (flags->count(parked_keyword(part))) any_parked = true;
      else if (!flags->count(done_keyword(part))) return;  // a file of this message is still running
    }
    move_message(ref.uid, any_parked ? s_.parked_mailbox : s_.done_mailbox);
    summaries_.erase(ref.uid);
    claimed_here_.erase(ref.uid);
  }

  void send(const fs::path& local_file, std::string_view remote_name, const InboxEntry& in_reply_to) override {
    if (!is_safe_file_name(remote_name)) throw TransportError("refused an unsafe attachment name", false);
    MessageRef ref = parse_ref(in_reply_to.ref);
    std::string to = detail::mail_address_of(ref.from);
    if (to.empty()) throw TransportError("the file to reply to has no sender address", false);
    std::string certificate = recipient_certificate(to);
    std::ifstream in(local_file, std::ios::binary);
    if (!in) throw TransportError("cannot read the local file for " + std::string(remote_name), false);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string message;
    try {
      message = smime_.seal(s_.address, to, "vaxetl: " + std::string(remote_name), certificate,
                            {detail::MailAttachment{std::string(remote_name), content}});
    } catch (const std::exception& e) {
      throw TransportError(std::string(remote_name) + ": " + e.what(), false);
    }
    submit(to, message, std::string(remote_name));
  }

 private:
  struct CurlDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
  };

  std::string base_url(const Endpoint& endpoint, const char* plain, const char* secure) const {
    std::string host = endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host;
    return std::string(endpoint.tls == Tls::Implicit ? secure : plain) + "://" + host + ":" +
           std::to_string(endpoint.port);
  }
  std::string imap_url(const std::string& mailbox, const std::string& suffix = "") const {
    return base_url(s_.imap, "imap", "imaps") + (mailbox.empty() ? "/" : detail::url_encode_path("/" + mailbox)) +
           suffix;
  }

  void prepare(const std::string& url, const Endpoint& endpoint) {
    CURL* h = curl_.get();
    curl_easy_reset(h);
    error_buffer_[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps,smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s_.connect_timeout_seconds);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s_.stall_timeout_seconds);
    curl_easy_setopt(h, CURLOPT_USERNAME, endpoint.user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, endpoint.password.c_str());
    if (endpoint.tls == Tls::StartTls) curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (!s_.tls_ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, s_.tls_ca_file.c_str());
  }

  [[noreturn]] void throw_for(CURLcode code, const std::string& what) const {
    std::string detail = error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(code);
    throw TransportError("channel " + name() + ": cannot " + what + ": " + detail,
                         detail::curl_code_is_transient(code));
  }

  // Runs one IMAP command on `mailbox` (selected first) and returns its untagged responses.
  std::string imap_command(const std::string& mailbox, const std::string& command, const std::string& what,
                           bool throw_on_error = true) {
    std::string response;
    prepare(imap_url(mailbox), s_.imap);
    curl_easy_setopt(curl_.get(), CURLOPT_CUSTOMREQUEST, command.c_str());
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEDATA, &response);
    CURLcode code = curl_easy_perform(curl_.get());
    if (code != CURLE_OK && throw_on_error) throw_for(code, what);
    return response;
  }

  std::vector<std::uint32_t> search(const std::string& mailbox, const std::string& criteria) {
    return parse_search(imap_command(mailbox, "UID SEARCH " + criteria, "search " + mailbox));
  }

  std::optional<std::set<std::string>> fetch_flags(std::uint32_t uid) {
    return parse_flags(imap_command(s_.mailbox, "UID FETCH " + std::to_string(uid) + " FLAGS", "read flags"));
  }

  std::string download(std::uint32_t uid) {
    std::string raw;
    prepare(imap_url(s_.mailbox, ";UID=" + std::to_string(uid)), s_.imap);
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEDATA, &raw);
    CURLcode code = curl_easy_perform(curl_.get());
    if (code == CURLE_REMOTE_FILE_NOT_FOUND)
      throw TransportError("message UID " + std::to_string(uid) + " is no longer in the mailbox", false);
    if (code != CURLE_OK) throw_for(code, "download message UID " + std::to_string(uid));
    return raw;
  }

  void move_message(std::uint32_t uid, const std::string& target) {
    // CREATE fails when the mailbox exists; that is fine.
    imap_command("", "CREATE " + target, "create " + target, /*throw_on_error=*/false);
    imap_command(s_.mailbox, "UID MOVE " + std::to_string(uid) + " " + target, "move a message to " + target);
  }

  // Opens message `uid` once and remembers its files; a refused message is moved aside with its
  // reason and nullopt returned.
  std::optional<MessageSummary> summarize(std::uint32_t uid) {
    auto known = summaries_.find(uid);
    if (known != summaries_.end()) return known->second;
    std::string raw;
    try {
      raw = download(uid);
    } catch (const TransportError& e) {
      if (e.transient()) throw;
      return std::nullopt;  // gone meanwhile
    }
    try {
      detail::OpenedMessage opened = smime_.open(raw);
      remember_signer(opened);
      MessageSummary summary{opened.sender, {}, {}};
      std::size_t refused = 0;
      std::set<std::string> names;
      for (std::size_t i = 0; i < opened.attachments.size(); ++i) {
        const std::string& file_name = opened.attachments[i].name;
        if (detail::is_sidecar_name(file_name)) continue;
        if (!is_safe_file_name(file_name) || detail::is_temporary_name(file_name) || !names.insert(file_name).second) {
          ++refused;
          continue;
        }
        summary.files.emplace_back(i, file_name);
        summary.sizes[i] = opened.attachments[i].content.size();
      }
      if (refused > 0)
        spdlog::warn("channel {}: message UID {}: {} attachment name(s) refused as unsafe", name(), uid, refused);
      if (summary.files.empty()) throw detail::MessageRefused("VaxetlNoFiles", "no attachment with a safe file name");
      summaries_[uid] = summary;
      return summary;
    } catch (const detail::MessageRefused& refused) {
      spdlog::warn("channel {}: message UID {} moved to {} ({}): {}", name(), uid, s_.rejected_mailbox,
                   refused.keyword(), refused.what());
      imap_command(s_.mailbox, "UID STORE " + std::to_string(uid) + " +FLAGS (" + refused.keyword() + ")",
                   "mark a refused message");
      move_message(uid, s_.rejected_mailbox);
      return std::nullopt;
    }
  }

  void remember_signer(const detail::OpenedMessage& opened) {
    if (!opened.signer_certificate_pem.empty()) signer_certificates_[opened.sender] = opened.signer_certificate_pem;
  }

  // The certificate to encrypt a reply to `address` with: one seen on a verified message from
  // that address, else one from the recipient_certificates directory that names the address.
  std::string recipient_certificate(const std::string& address) {
    auto known = signer_certificates_.find(address);
    if (known != signer_certificates_.end()) return known->second;
    if (!s_.recipient_certificates.empty()) {
      std::error_code error;
      for (const auto& file : fs::directory_iterator(s_.recipient_certificates, error)) {
        std::ifstream in(file.path(), std::ios::binary);
        std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (detail::certificate_names_address(pem, address)) {
          signer_certificates_[address] = pem;
          return pem;
        }
      }
    }
    throw TransportError("no certificate to encrypt a reply to the sender (none seen, none in "
                         "recipient_certificates)",
                         false);
  }

  void submit(const std::string& to, const std::string& message, const std::string& file_name) {
    prepare(base_url(s_.smtp, "smtp", "smtps"), s_.smtp);
    std::string from = "<" + s_.address + ">";
    detail::CurlList recipients({"<" + to + ">"});
    UploadSource source{&message};
    curl_easy_setopt(curl_.get(), CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl_.get(), CURLOPT_MAIL_RCPT, recipients.get());
    curl_easy_setopt(curl_.get(), CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl_.get(), CURLOPT_READFUNCTION, read_from_string);
    curl_easy_setopt(curl_.get(), CURLOPT_READDATA, &source);
    curl_easy_setopt(curl_.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    CURLcode code = curl_easy_perform(curl_.get());
    if (code != CURLE_OK) throw_for(code, "send " + file_name);
  }

  DirectSettings s_;
  detail::Smime smime_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  std::map<std::uint32_t, MessageSummary> summaries_;
  std::set<std::uint32_t> claimed_here_;  // messages this object claimed (their UIDs)
  std::map<std::string, std::string> signer_certificates_;
};

Tls read_tls(detail::SettingsReader& reader, const std::string& key) {
  std::string value = reader.optional(key, "implicit");
  if (value == "implicit") return Tls::Implicit;
  if (value == "starttls") return Tls::StartTls;
  if (value == "off") return Tls::Off;
  reader.bad_value(key, "expected implicit, starttls or off");
}

std::string mailbox_name(detail::SettingsReader& reader, const std::string& key, const std::string& fallback) {
  std::string value = reader.optional(key, fallback);
  if (value.empty()) reader.bad_value(key, "empty");
  for (char c : value) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                   c == '_' || c == '-' || c == '/';
    if (!allowed) reader.bad_value(key, "use letters, digits and . _ - / only");
  }
  return value;
}

}  // namespace

std::unique_ptr<Channel> open_direct_channel(const ChannelConfig& config) {
  detail::SettingsReader reader(config);
  DirectSettings s;
  s.address = detail::mail_address_of(reader.optional("address", ""));
  s.imap.host = reader.required("imap_host");
  s.imap.tls = read_tls(reader, "imap_tls");
  s.imap.port = static_cast<long>(reader.integer("imap_port", s.imap.tls == Tls::Implicit ? 993 : 143, 1, 65535));
  s.imap.user = reader.required("user");
  s.imap.password = reader.secret_from_env("password_env");
  if (s.imap.password.empty()) reader.bad_value("password_env", "missing (the mailbox password's variable)");
  s.smtp.host = reader.optional("smtp_host", s.imap.host);
  s.smtp.tls = read_tls(reader, "smtp_tls");
  s.smtp.port = static_cast<long>(reader.integer("smtp_port", s.smtp.tls == Tls::Implicit ? 465 : 587, 1, 65535));
  s.smtp.user = reader.optional("smtp_user", s.imap.user);
  std::string smtp_password = reader.secret_from_env("smtp_password_env");
  s.smtp.password = smtp_password.empty() ? s.imap.password : smtp_password;
  s.mailbox = mailbox_name(reader, "mailbox", "INBOX");
  s.done_mailbox = mailbox_name(reader, "done_mailbox", "vaxetl-done");
  s.parked_mailbox = mailbox_name(reader, "parked_mailbox", "vaxetl-parked");
  s.rejected_mailbox = mailbox_name(reader, "rejected_mailbox", "vaxetl-rejected");
  s.tls_ca_file = reader.optional("tls_ca_file", "");
  s.certificate = reader.required("certificate");
  s.private_key = reader.required("private_key");
  s.private_key_passphrase = reader.secret_from_env("private_key_passphrase_env");
  s.trust_anchors = reader.required("trust_anchors");
  s.recipient_certificates = reader.optional("recipient_certificates", "");
  s.connect_timeout_seconds = static_cast<long>(reader.integer("connect_timeout_seconds", 20, 1, 600));
  s.stall_timeout_seconds = static_cast<long>(reader.integer("stall_timeout_seconds", 60, 1, 3600));
  reader.reject_unknown_keys();
  return std::make_unique<DirectChannel>(config.name, std::move(s));
}

}  // namespace vaxetl::transport
