// Where provider files come from and where the replies go back: a channel is one provider drop
// point with an inbox (files to load) and an outbox (error files, ACK files, reports). Three
// kinds: a local folder, SFTP (libcurl) and Direct Secure Messaging (S/MIME mail: IMAP in, SMTP
// out). `vaxetl serve` polls channels; docs/transports.md is the operator's side.
//
// The protocol that keeps a half-uploaded or half-downloaded file from ever being processed:
//   1. list_ready() shows only complete uploads: never temporary names (*.part, *.tmp,
//      *.filepart, dot-files), and for SFTP and folders never a file whose size or time changed
//      since the previous listing (the provider may still be writing it).
//   2. fetch() first moves the remote file into the channel's processing/ area (a rename on the
//      server: the provider can no longer overwrite it, and a second daemon polling the same
//      server no longer sees it), then downloads it to `<destination>.part` (resuming a partial
//      download), checks the bytes (the size the server reports, and the provider's
//      NAME.sha256 sidecar when there is one), and only then renames it to `destination`.
//   3. settle() moves the remote file from processing/ to done/ (or parked/) once its run ended.
// A file found in processing/ by a restarted daemon is one it took and did not settle:
// in_processing() lists them so the daemon can finish them (the database claim says by whom).
// Direct has no directories: "processing/" is an IMAP keyword on the message, and settling
// moves the message to a done or parked mailbox once all its files are settled.
//
// Remote names are never trusted as paths: every name a channel returns or accepts passes
// is_safe_file_name(), and local paths are built only from such names.
//
// PHI: file names and sizes only, in logs and exceptions; never file contents.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::transport {

class TransportError : public std::runtime_error {
 public:
  // transient: a network or server problem worth retrying later (timeout, connection refused,
  // busy mailbox); false for a problem that retrying will not fix (host key mismatch, bad
  // credentials, a name refused, a checksum mismatch).
  TransportError(const std::string& message, bool transient)
      : std::runtime_error(message), transient_(transient) {}
  bool transient() const noexcept { return transient_; }

 private:
  bool transient_;
};

// A base name a provider may use: 1..255 bytes of letters, digits and ._-+ (no '/', no '\',
// no NUL or control bytes, not "." or "..", not starting with '.' or '-').
bool is_safe_file_name(std::string_view name) noexcept;

// A file waiting in an inbox (or taken into processing/).
struct InboxEntry {
  std::string name;         // the provider's base name; is_safe_file_name() holds
  std::uint64_t size = 0;   // bytes as the server reports them (0 when unknown, e.g. mail)
  std::int64_t modified = 0;  // seconds since the epoch; 0 when unknown
  std::string ref;          // the channel's own handle (remote path, IMAP UID and part)
};

struct Fetched {
  std::filesystem::path path;  // the complete, checked local file
  std::string sha256;          // hex digest of its bytes
  std::uint64_t size = 0;
};

enum class Settlement { Done, Parked };

// One channel's settings, as written in the serve configuration (docs/transports.md):
//   kind: folder | sftp | direct, and the kind's keys. Values that are secrets (passwords,
//   key passphrases) are given as the name of an environment variable holding them
//   (password_env:), never inline.
struct ChannelConfig {
  std::string name;  // the channel's name in the configuration (logs, metrics, claims)
  std::string kind;
  std::map<std::string, std::string> settings;
};

class Channel {
 public:
  virtual ~Channel() = default;

  const std::string& name() const noexcept { return name_; }
  virtual std::string kind() const = 0;
  // Where the channel points, for logs: host, port, directory or mailbox; never a secret.
  virtual std::string display() const = 0;

  // Files ready to take, oldest first. Names that fail is_safe_file_name() are not returned
  // (they are logged by count, and left where they are).
  virtual std::vector<InboxEntry> list_ready() = 0;
  // Files this channel moved into processing/ and has not settled.
  virtual std::vector<InboxEntry> in_processing() = 0;

  // Step 2 above. `entry` comes from list_ready() or in_processing() (then the move is
  // skipped). `destination` is a local path whose parent exists. Throws TransportError.
  virtual Fetched fetch(const InboxEntry& entry, const std::filesystem::path& destination) = 0;

  // Step 3 above. Idempotent: settling a file already settled does nothing.
  virtual void settle(const InboxEntry& entry, Settlement how) = 0;

  // Sends `local_file` back to the provider of `in_reply_to` under `remote_name`
  // (is_safe_file_name()). SFTP and folders: into the outbox directory, written under a
  // temporary name and renamed, never over an existing file (a name taken is a TransportError,
  // not an overwrite). Direct: one signed and encrypted S/MIME message with the file as its
  // attachment, to the address `in_reply_to` came from.
  virtual void send(const std::filesystem::path& local_file, std::string_view remote_name,
                    const InboxEntry& in_reply_to) = 0;

 protected:
  explicit Channel(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// Builds the channel a configuration describes. Throws std::invalid_argument naming the key
// for an unknown kind, a missing or unknown key, or a bad value.
std::unique_ptr<Channel> open_channel(const ChannelConfig& config);

}  // namespace vaxetl::transport
