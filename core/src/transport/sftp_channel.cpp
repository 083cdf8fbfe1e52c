#include "transport/sftp_channel.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "transport/curl_session.hpp"
#include "transport/local_files.hpp"
#include "transport/settings.hpp"

namespace vaxetl::transport {

namespace fs = std::filesystem;

namespace {

struct SftpSettings {
  std::string host;
  long port = 22;
  std::string user;
  std::string inbox, outbox, processing, done, parked;  // absolute remote directories
  bool verify_host_key = true;
  std::string known_hosts;
  std::string private_key, public_key;
  std::string passphrase;  // from passphrase_env
  std::string password;    // from password_env
  long connect_timeout_seconds = 20;
  long stall_timeout_seconds = 60;
};

struct RemoteStat {
  std::uint64_t size = 0;
  std::int64_t modified = 0;
};

// What the host-key callback saw, for an error message that says which case it was.
struct HostKeyVerdict {
  bool checked = false;
  curl_khmatch match = CURLKHMATCH_LAST;
};

int check_host_key(CURL*, const curl_khkey*, const curl_khkey*, curl_khmatch match, void* verdict_ptr) {
  auto* verdict = static_cast<HostKeyVerdict*>(verdict_ptr);
  verdict->checked = true;
  verdict->match = match;
  // Only a key that matches the known_hosts entry is accepted; never added, never replaced.
  return match == CURLKHMATCH_OK ? CURLKHSTAT_FINE : CURLKHSTAT_REJECT;
}

std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* target) {
  auto* text = static_cast<std::string*>(target);
  constexpr std::size_t kLimit = 16u << 20;  // a listing or a sidecar; never a whole file
  if (text->size() + size * count > kLimit) return 0;
  text->append(data, size * count);
  return size * count;
}

std::size_t write_to_file(char* data, std::size_t size, std::size_t count, void* file) {
  return std::fwrite(data, size, count, static_cast<std::FILE*>(file)) * size;
}

std::size_t read_from_file(char* data, std::size_t size, std::size_t count, void* file) {
  return std::fread(data, size, count, static_cast<std::FILE*>(file));
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string join(const std::string& dir, const std::string& name) {
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// A quoted path for CURLOPT_QUOTE commands (directories were checked for '"' and '\').
std::string quote_path(const std::string& path) { return "\"" + path + "\""; }

std::atomic<unsigned> temp_counter{0};

class SftpChannel final : public Channel {
 public:
  SftpChannel(std::string name, SftpSettings settings) : Channel(std::move(name)), s_(std::move(settings)) {
    detail::ensure_curl_initialized();
    curl_.reset(curl_easy_init());
    if (!curl_) throw std::runtime_error("libcurl could not create a handle");
    if (!s_.verify_host_key)
      spdlog::warn("channel {}: SFTP HOST KEY VERIFICATION IS OFF (host_key_check: off) for {}:{}; "
                   "any server answering there is trusted",
                   this->name(), s_.host, s_.port);
  }

  std::string kind() const override { return "sftp"; }
  std::string display() const override {
    return "sftp " + s_.user + "@" + s_.host + ":" + std::to_string(s_.port) + s_.inbox;
  }

  std::vector<InboxEntry> list_ready() override {
    auto [names, refused] = list_files(s_.inbox, /*missing_ok=*/false);
    if (refused > 0 && refused != refused_last_listing_)
      spdlog::warn("channel {}: {} remote inbox file name(s) refused as unsafe, left in place", name(), refused);
    refused_last_listing_ = refused;
    std::map<std::string, RemoteStat> current;
    std::vector<InboxEntry> ready;
    for (const auto& file_name : names) {
      auto stat = stat_remote(join(s_.inbox, file_name));
      if (!stat) continue;  // gone between the listing and now
      current[file_name] = *stat;
      auto before = previous_listing_.find(file_name);
      if (before == previous_listing_.end() || before->second.size != stat->size ||
          before->second.modified != stat->modified)
        continue;  // first sight, or still changing
      ready.push_back(InboxEntry{file_name, stat->size, stat->modified, "inbox"});
    }
    previous_listing_ = std::move(current);
    return oldest_first(std::move(ready));
  }

  std::vector<InboxEntry> in_processing() override {
    auto [names, refused] = list_files(s_.processing, /*missing_ok=*/true);
    std::vector<InboxEntry> entries;
    for (const auto& file_name : names)
      if (auto stat = stat_remote(join(s_.processing, file_name)))
        entries.push_back(InboxEntry{file_name, stat->size, stat->modified, "processing"});
    return oldest_first(std::move(entries));
  }

  Fetched fetch(const InboxEntry& entry, const fs::path& destination) override {
    if (!is_safe_file_name(entry.name)) throw TransportError("refused an unsafe remote file name", false);
    const std::string claimed = join(s_.processing, entry.name);
    const std::string sidecar = detail::sidecar_name(entry.name);
    if (entry.ref != "processing") claim(entry.name, claimed);
    // The sidecar follows its file; one left in the inbox by an interrupted claim is taken now.
    if (stat_remote(join(s_.inbox, sidecar)))
      quote({"*rm " + quote_path(join(s_.processing, sidecar)),
             "rename " + quote_path(join(s_.inbox, sidecar)) + " " + quote_path(join(s_.processing, sidecar))},
            "move the sidecar of " + entry.name);

    auto remote = stat_remote(claimed);
    if (!remote) throw TransportError(entry.name + " is not in processing on the server", false);
    fs::path part = destination;
    part += ".part";
    download_resuming(claimed, part, remote->size, entry.name);

    std::error_code error;
    auto local_size = fs::file_size(part, error);
    if (error || local_size != remote->size)
      throw TransportError(entry.name + ": downloaded " + std::to_string(error ? 0 : local_size) + " of " +
                               std::to_string(remote->size) + " bytes; the rest is fetched on the next try",
                           true);
    std::string digest = detail::sha256_of_file(part);
    if (stat_remote(join(s_.processing, sidecar))) {
      std::string text = get_small(join(s_.processing, sidecar), entry.name + ".sha256");
      detail::check_sidecar(entry.name, text, digest, part);
    }
    fs::rename(part, destination, error);
    if (error) throw TransportError("cannot rename the download of " + entry.name + ": " + error.message(), true);
    return Fetched{destination, digest, remote->size};
  }

  void settle(const InboxEntry& entry, Settlement how) override {
    if (!is_safe_file_name(entry.name)) throw TransportError("refused an unsafe remote file name", false);
    const std::string claimed = join(s_.processing, entry.name);
    if (!stat_remote(claimed)) return;  // settled before
    const std::string& area = how == Settlement::Done ? s_.done : s_.parked;
    std::string target = detail::free_settled_name(entry.name, [&](const std::string& candidate) {
      return stat_remote(join(area, candidate)).has_value() ||
             stat_remote(join(area, detail::sidecar_name(candidate))).has_value();
    });
    // The server's rename never replaces an existing file (SFTP v3), so a race ends in an error
    // here, not in a lost file; the next settle picks another name.
    quote({"*mkdir " + quote_path(area), "rename " + quote_path(claimed) + " " + quote_path(join(area, target))},
          "settle " + entry.name);
    const std::string sidecar = join(s_.processing, detail::sidecar_name(entry.name));
    if (stat_remote(sidecar))
      quote({"rename " + quote_path(sidecar) + " " + quote_path(join(area, detail::sidecar_name(target)))},
            "settle the sidecar of " + entry.name);
  }

  void send(const fs::path& local_file, std::string_view remote_name, const InboxEntry&) override {
    if (!is_safe_file_name(remote_name)) throw TransportError("refused an unsafe outbox file name", false);
    const std::string name_text(remote_name);
    const std::string target = join(s_.outbox, name_text);
    if (stat_remote(target))
      throw TransportError(name_text + " already exists in the remote outbox; not overwritten", false);
    const std::string temp = join(s_.outbox, "." + name_text + "." + std::to_string(::getpid()) + "." +
                                                 std::to_string(temp_counter++) + ".tmp");
    FilePtr file(std::fopen(local_file.c_str(), "rb"));
    if (!file) throw TransportError("cannot read the local file for " + name_text, false);
    std::error_code error;
    auto size = fs::file_size(local_file, error);
    prepare(url_for(temp));
    detail::CurlList rename_after({"rename " + quote_path(temp) + " " + quote_path(target)});
    curl_easy_setopt(curl_.get(), CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl_.get(), CURLOPT_READFUNCTION, read_from_file);
    curl_easy_setopt(curl_.get(), CURLOPT_READDATA, file.get());
    if (!error) curl_easy_setopt(curl_.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    curl_easy_setopt(curl_.get(), CURLOPT_FTP_CREATE_MISSING_DIRS, static_cast<long>(CURLFTP_CREATE_DIR));
    curl_easy_setopt(curl_.get(), CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(curl_.get(), CURLOPT_POSTQUOTE, rename_after.get());
    CURLcode code = curl_easy_perform(curl_.get());
    if (code == CURLE_OK) return;
    // Whatever failed, the temporary file must not stay behind.
    quote({"*rm " + quote_path(temp)}, "remove a temporary upload", /*throw_on_error=*/false);
    if (code == CURLE_QUOTE_ERROR && stat_remote(target))
      throw TransportError(name_text + " already exists in the remote outbox; not overwritten", false);
    throw_for(code, "send " + name_text);
  }

 private:
  struct CurlDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
  };

  std::string url_for(const std::string& path) const {
    std::string host = s_.host.find(':') != std::string::npos ? "[" + s_.host + "]" : s_.host;
    return "sftp://" + host + ":" + std::to_string(s_.port) + detail::url_encode_path(path);
  }

  // Resets the handle (the connection stays cached) and sets what every request needs.
  void prepare(const std::string& url) {
    CURL* h = curl_.get();
    curl_easy_reset(h);
    error_buffer_[0] = '\0';
    verdict_ = HostKeyVerdict{};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "sftp");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(h, CURLOPT_USERNAME, s_.user.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s_.connect_timeout_seconds);
    // A transfer that moves nothing for this long is cut (a total timeout would cut big files).
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s_.stall_timeout_seconds);
    if (!s_.private_key.empty()) {
      curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, static_cast<long>(CURLSSH_AUTH_PUBLICKEY));
      curl_easy_setopt(h, CURLOPT_SSH_PRIVATE_KEYFILE, s_.private_key.c_str());
      // Empty: libssh2 derives the public key from the private one.
      curl_easy_setopt(h, CURLOPT_SSH_PUBLIC_KEYFILE, s_.public_key.c_str());
      if (!s_.passphrase.empty()) curl_easy_setopt(h, CURLOPT_KEYPASSWD, s_.passphrase.c_str());
    } else {
      curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, static_cast<long>(CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD));
      curl_easy_setopt(h, CURLOPT_PASSWORD, s_.password.c_str());
    }
    if (s_.verify_host_key) {
      curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, s_.known_hosts.c_str());
      curl_easy_setopt(h, CURLOPT_SSH_KEYFUNCTION, check_host_key);
      curl_easy_setopt(h, CURLOPT_SSH_KEYDATA, &verdict_);
    }
  }

  [[noreturn]] void throw_for(CURLcode code, const std::string& what) const {
    if (verdict_.checked && verdict_.match != CURLKHMATCH_OK) {
      throw TransportError("channel " + name() + ": host key of " + s_.host + ":" + std::to_string(s_.port) +
                               (verdict_.match == CURLKHMATCH_MISMATCH
                                    ? " DIFFERS from the one in known_hosts: refused (server replaced, or "
                                      "someone in between)"
                                    : " is not in known_hosts: refused (add it after checking its fingerprint)"),
                           false);
    }
    std::string detail = error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(code);
    throw TransportError("channel " + name() + ": cannot " + what + ": " + detail,
                         detail::curl_code_is_transient(code));
  }

  std::optional<RemoteStat> stat_remote(const std::string& path) {
    prepare(url_for(path));
    curl_easy_setopt(curl_.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl_.get(), CURLOPT_FILETIME, 1L);
    CURLcode code = curl_easy_perform(curl_.get());
    if (code == CURLE_REMOTE_FILE_NOT_FOUND) return std::nullopt;
    if (code != CURLE_OK) throw_for(code, "look up a remote file");
    curl_off_t size = -1;
    curl_off_t modified = -1;
    curl_easy_getinfo(curl_.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
    curl_easy_getinfo(curl_.get(), CURLINFO_FILETIME_T, &modified);
    return RemoteStat{size < 0 ? 0 : static_cast<std::uint64_t>(size), modified < 0 ? 0 : modified};
  }

  void quote(const std::vector<std::string>& commands, const std::string& what, bool throw_on_error = true) {
    detail::CurlList list(commands);
    prepare(url_for("/"));
    curl_easy_setopt(curl_.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl_.get(), CURLOPT_QUOTE, list.get());
    CURLcode code = curl_easy_perform(curl_.get());
    if (code != CURLE_OK && throw_on_error) throw_for(code, what);
  }

  std::string get_small(const std::string& path, const std::string& what) {
    std::string text;
    prepare(url_for(path));
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEDATA, &text);
    CURLcode code = curl_easy_perform(curl_.get());
    if (code != CURLE_OK) throw_for(code, "read " + what);
    return text;
  }

  // Regular files in a remote directory with safe names (not temporary, not sidecars), from the
  // server's long listing; and how many names were refused.
  std::pair<std::vector<std::string>, std::size_t> list_files(const std::string& dir, bool missing_ok) {
    std::string listing;
    prepare(url_for(join(dir, "")));
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEDATA, &listing);
    CURLcode code = curl_easy_perform(curl_.get());
    if (code == CURLE_REMOTE_FILE_NOT_FOUND && missing_ok) return {};
    if (code != CURLE_OK) throw_for(code, "list " + dir);
    std::vector<std::string> names;
    std::size_t refused = 0;
    std::string_view rest = listing;
    while (!rest.empty()) {
      std::size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      auto name = regular_file_name(line);
      if (!name) continue;
      if (detail::is_temporary_name(*name) || detail::is_sidecar_name(*name)) continue;
      if (!is_safe_file_name(*name)) {
        ++refused;
        continue;
      }
      // Listed names are only candidates: each is looked up by its exact name before use, so a
      // name with a line break in it cannot pass for another file.
      if (std::find(names.begin(), names.end(), *name) == names.end()) names.emplace_back(*name);
    }
    return {names, refused};
  }

  // The name in an `ls -l` style line ("-rw-r--r-- 1 user group SIZE Mon DD HH:MM NAME") when
  // the line is a regular file; nullopt for directories, links and lines of another shape.
  static std::optional<std::string> regular_file_name(std::string_view line) {
    if (line.empty() || line.front() != '-') return std::nullopt;
    std::size_t pos = 0;
    for (int field = 0; field < 8; ++field) {
      while (pos < line.size() && line[pos] == ' ') ++pos;
      if (pos >= line.size()) return std::nullopt;
      while (pos < line.size() && line[pos] != ' ') ++pos;
    }
    if (pos >= line.size() || line[pos] != ' ') return std::nullopt;
    return std::string(line.substr(pos + 1));
  }

  static std::vector<InboxEntry> oldest_first(std::vector<InboxEntry> entries) {
    std::sort(entries.begin(), entries.end(), [](const InboxEntry& a, const InboxEntry& b) {
      return a.modified != b.modified ? a.modified < b.modified : a.name < b.name;
    });
    return entries;
  }

  // Renames inbox/NAME to processing/NAME on the server; never over a file still in processing.
  void claim(const std::string& file_name, const std::string& claimed) {
    if (stat_remote(claimed)) {
      if (!stat_remote(join(s_.inbox, file_name)))
        throw TransportError(file_name + " is no longer in the remote inbox (taken by another process?)", false);
      throw TransportError(file_name + " is still being processed under the same name; left in the inbox", true);
    }
    detail::CurlList list({"*mkdir " + quote_path(s_.processing),
                           "rename " + quote_path(join(s_.inbox, file_name)) + " " + quote_path(claimed)});
    prepare(url_for("/"));
    curl_easy_setopt(curl_.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl_.get(), CURLOPT_QUOTE, list.get());
    CURLcode code = curl_easy_perform(curl_.get());
    if (code == CURLE_OK) return;
    if (code == CURLE_QUOTE_ERROR) {
      if (!stat_remote(join(s_.inbox, file_name)))
        throw TransportError(file_name + " is no longer in the remote inbox (taken by another process?)", false);
      if (stat_remote(claimed))
        throw TransportError(file_name + " is still being processed under the same name; left in the inbox",
                             true);
    }
    throw_for(code, "move " + file_name + " to processing");
  }

  // Downloads `remote` into `part`, continuing a partial download already there.
  void download_resuming(const std::string& remote, const fs::path& part, std::uint64_t remote_size,
                         const std::string& file_name) {
    std::error_code error;
    std::uint64_t have = fs::exists(part, error) ? fs::file_size(part, error) : 0;
    if (error) have = 0;
    if (have == remote_size && have > 0) return;  // complete already; the checks follow
    bool resume = have > 0 && have < remote_size;
    FilePtr file(std::fopen(part.c_str(), resume ? "ab" : "wb"));
    if (!file) throw TransportError("cannot write the download of " + file_name, true);
    prepare(url_for(remote));
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEFUNCTION, write_to_file);
    curl_easy_setopt(curl_.get(), CURLOPT_WRITEDATA, file.get());
    if (resume) curl_easy_setopt(curl_.get(), CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(have));
    // A bigger buffer keeps more SFTP reads in flight (200 MB on loopback: ~32 -> ~55 MB/s).
    curl_easy_setopt(curl_.get(), CURLOPT_BUFFERSIZE, 512L * 1024);
    CURLcode code = curl_easy_perform(curl_.get());
    bool flushed = std::fflush(file.get()) == 0 && ::fsync(::fileno(file.get())) == 0;
    if (code != CURLE_OK) throw_for(code, "download " + file_name);
    if (!flushed) throw TransportError("cannot write the download of " + file_name, true);
    if (resume) spdlog::info("channel {}: {} resumed at byte {}", name(), file_name, have);
  }

  SftpSettings s_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  HostKeyVerdict verdict_;
  std::map<std::string, RemoteStat> previous_listing_;
  std::size_t refused_last_listing_ = 0;
};

std::string remote_dir(detail::SettingsReader& reader, const std::string& key, const std::string& fallback) {
  std::string dir = fallback.empty() ? reader.required(key) : reader.optional(key, fallback);
  if (dir.empty() || dir.front() != '/') reader.bad_value(key, "expected an absolute remote directory");
  for (char c : dir)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      reader.bad_value(key, "quotes, backslashes and control characters are not allowed");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

std::unique_ptr<Channel> open_sftp_channel(const ChannelConfig& config) {
  detail::SettingsReader reader(config);
  SftpSettings s;
  s.host = reader.required("host");
  s.port = static_cast<long>(reader.integer("port", 22, 1, 65535));
  s.user = reader.required("user");
  s.inbox = remote_dir(reader, "inbox", "");
  s.outbox = remote_dir(reader, "outbox", "");
  s.processing = remote_dir(reader, "processing", s.inbox + "/processing");
  s.done = remote_dir(reader, "done", s.inbox + "/done");
  s.parked = remote_dir(reader, "parked", s.inbox + "/parked");
  s.verify_host_key = reader.flag("host_key_check", true);
  if (s.verify_host_key) {
    s.known_hosts = reader.required("known_hosts");
  } else {
    reader.optional("known_hosts", "");
  }
  s.private_key = reader.optional("private_key", "");
  s.public_key = reader.optional("public_key", "");
  s.passphrase = reader.secret_from_env("passphrase_env");
  s.password = reader.secret_from_env("password_env");
  if (s.private_key.empty() && s.password.empty())
    reader.bad_value("private_key", "give private_key (key login) or password_env (password login)");
  if (!s.private_key.empty() && !s.password.empty())
    reader.bad_value("password_env", "give either private_key or password_env, not both");
  s.connect_timeout_seconds = static_cast<long>(reader.integer("connect_timeout_seconds", 20, 1, 600));
  s.stall_timeout_seconds = static_cast<long>(reader.integer("stall_timeout_seconds", 60, 1, 3600));
  reader.reject_unknown_keys();
  return std::make_unique<SftpChannel>(config.name, std::move(s));
}

}  // namespace vaxetl::transport
