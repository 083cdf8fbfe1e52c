#include "transport/folder_channel.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <fstream>

#include <spdlog/spdlog.h>

#include "transport/local_files.hpp"
#include "transport/settings.hpp"

namespace vaxetl::transport {

namespace fs = std::filesystem;
using detail::rename_no_replace;

namespace {

// Permission and read-only problems stay until someone fixes them; anything else (a full
// disk, a share that went away) may pass.
bool transient_errno(int error) { return error != EACCES && error != EPERM && error != EROFS; }

[[noreturn]] void fail(const std::string& what, const std::error_code& error) {
  throw TransportError(what + ": " + error.message(),
                       error.category() == std::generic_category() ? transient_errno(error.value()) : true);
}

struct FileStat {
  std::uintmax_t size = 0;
  std::int64_t modified_ns = 0;
};

// Regular files only, never following a symlink: a link in the inbox is not a provider file.
std::optional<FileStat> regular_file_stat(const fs::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  return FileStat{static_cast<std::uintmax_t>(info.st_size),
                  static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

// Safe provider files in `dir` (not temporary names, not sidecars), and how many names were refused.
struct DirListing {
  std::vector<std::pair<std::string, FileStat>> files;
  std::size_t refused = 0;
};

DirListing list_dir(const fs::path& dir) {
  DirListing listing;
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error) fail("cannot list " + dir.string(), error);
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) fail("cannot list " + dir.string(), error);
    std::string name = it->path().filename().string();
    if (detail::is_temporary_name(name) || detail::is_sidecar_name(name)) continue;
    auto stat = regular_file_stat(it->path());
    if (!stat) continue;
    if (!is_safe_file_name(name)) {
      ++listing.refused;
      continue;
    }
    listing.files.emplace_back(std::move(name), *stat);
  }
  return listing;
}

std::vector<InboxEntry> oldest_first(std::vector<InboxEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const InboxEntry& a, const InboxEntry& b) {
    return a.modified != b.modified ? a.modified < b.modified : a.name < b.name;
  });
  return entries;
}

void ensure_dir(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) fail("cannot create " + dir.string(), error);
}

// Copies `from` to `to` (created or truncated), flushed to disk, returning the digest and size.
std::pair<std::string, std::uint64_t> copy_with_digest(const fs::path& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw TransportError("cannot read " + from.string(), true);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (out < 0) fail("cannot write " + to.string(), std::error_code(errno, std::generic_category()));
  detail::Sha256 digest;
  std::uint64_t size = 0;
  std::array<char, 1 << 16> buffer{};
  auto write_all = [&](const char* data, std::size_t length) {
    while (length > 0) {
      ssize_t written = ::write(out, data, length);
      if (written < 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        ::close(out);
        fail("cannot write " + to.string(), std::error_code(saved, std::generic_category()));
      }
      data += written;
      length -= static_cast<std::size_t>(written);
    }
  };
  while (in) {
    in.read(buffer.data(), buffer.size());
    std::size_t got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    digest.update(buffer.data(), got);
    write_all(buffer.data(), got);
    size += got;
  }
  bool read_failed = in.bad();
  bool synced = ::fsync(out) == 0;
  int sync_error = errno;
  ::close(out);
  if (read_failed) throw TransportError("cannot read " + from.string(), true);
  if (!synced) fail("cannot flush " + to.string(), std::error_code(sync_error, std::generic_category()));
  return {digest.hex(), size};
}

std::atomic<unsigned> temp_counter{0};

}  // namespace

FolderChannel::FolderChannel(std::string name, FolderSettings settings)
    : Channel(std::move(name)), settings_(std::move(settings)) {}

std::string FolderChannel::display() const {
  return "folder " + settings_.inbox.string() + " -> " + settings_.outbox.string();
}

std::vector<InboxEntry> FolderChannel::list_ready() {
  DirListing listing = list_dir(settings_.inbox);
  // Logged when the count changes, not on every poll.
  if (listing.refused > 0 && listing.refused != refused_last_listing_)
    spdlog::warn("channel {}: {} inbox file name(s) refused as unsafe, left in place", name(), listing.refused);
  std::map<std::string, Seen> current;
  std::vector<InboxEntry> ready;
  for (auto& [file_name, stat] : listing.files) {
    current[file_name] = Seen{stat.size, stat.modified_ns};
    // Ready only when the previous listing saw the same size and time: a provider still
    // writing would have changed one of them.
    auto before = previous_listing_.find(file_name);
    if (before == previous_listing_.end() || before->second.size != stat.size ||
        before->second.modified_ns != stat.modified_ns)
      continue;
    ready.push_back(InboxEntry{file_name, stat.size, stat.modified_ns / 1'000'000'000, "inbox"});
  }
  previous_listing_ = std::move(current);
  refused_last_listing_ = listing.refused;
  return oldest_first(std::move(ready));
}

std::vector<InboxEntry> FolderChannel::in_processing() {
  std::error_code error;
  if (!fs::exists(settings_.processing, error)) return {};
  DirListing listing = list_dir(settings_.processing);
  std::vector<InboxEntry> entries;
  for (auto& [file_name, stat] : listing.files)
    entries.push_back(InboxEntry{file_name, stat.size, stat.modified_ns / 1'000'000'000, "processing"});
  return oldest_first(std::move(entries));
}

Fetched FolderChannel::fetch(const InboxEntry& entry, const fs::path& destination) {
  if (!is_safe_file_name(entry.name)) throw TransportError("refused an unsafe file name", false);
  ensure_dir(settings_.processing);
  const fs::path claimed = settings_.processing / entry.name;
  const std::string sidecar = detail::sidecar_name(entry.name);
  if (entry.ref != "processing") {
    std::error_code error;
    if (!rename_no_replace(settings_.inbox / entry.name, claimed, error)) {
      if (error == std::errc::no_such_file_or_directory)
        throw TransportError(entry.name + " is no longer in the inbox (taken by another process?)", false);
      if (error == std::errc::file_exists)
        throw TransportError(entry.name + " is still being processed under the same name; left in the inbox",
                             true);
      fail("cannot move " + entry.name + " to processing", error);
    }
  }
  // The sidecar follows its file (a later attempt picks up one left behind by a crash).
  std::error_code sidecar_error;
  if (regular_file_stat(settings_.inbox / sidecar))
    fs::rename(settings_.inbox / sidecar, settings_.processing / sidecar, sidecar_error);

  auto claimed_stat = regular_file_stat(claimed);
  if (!claimed_stat) throw TransportError(entry.name + " is not in processing", false);
  fs::path part = destination;
  part += ".part";
  auto [digest, size] = copy_with_digest(claimed, part);
  std::error_code error;
  if (size != claimed_stat->size) {
    fs::remove(part, error);
    throw TransportError(entry.name + ": copied " + std::to_string(size) + " bytes, the file has " +
                             std::to_string(claimed_stat->size),
                         true);
  }
  if (regular_file_stat(settings_.processing / sidecar)) {
    std::ifstream in(settings_.processing / sidecar, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    detail::check_sidecar(entry.name, text, digest, part);
  }
  fs::rename(part, destination, error);
  if (error) fail("cannot rename the download of " + entry.name, error);
  return Fetched{destination, digest, size};
}

void FolderChannel::settle(const InboxEntry& entry, Settlement how) {
  if (!is_safe_file_name(entry.name)) throw TransportError("refused an unsafe file name", false);
  const fs::path claimed = settings_.processing / entry.name;
  if (!regular_file_stat(claimed)) return;  // settled before
  const fs::path& area = how == Settlement::Done ? settings_.done : settings_.parked;
  ensure_dir(area);
  for (;;) {
    std::string target = detail::free_settled_name(entry.name, [&](const std::string& candidate) {
      std::error_code ignored;
      return fs::exists(area / candidate, ignored) || fs::exists(area / detail::sidecar_name(candidate), ignored);
    });
    std::error_code error;
    if (rename_no_replace(claimed, area / target, error)) {
      const fs::path sidecar = settings_.processing / detail::sidecar_name(entry.name);
      if (regular_file_stat(sidecar)) fs::rename(sidecar, area / detail::sidecar_name(target), error);
      return;
    }
    if (error == std::errc::no_such_file_or_directory) return;  // another process settled it
    if (error != std::errc::file_exists) fail("cannot settle " + entry.name, error);
  }
}

void FolderChannel::send(const fs::path& local_file, std::string_view remote_name, const InboxEntry&) {
  if (!is_safe_file_name(remote_name)) throw TransportError("refused an unsafe outbox file name", false);
  ensure_dir(settings_.outbox);
  const fs::path target = settings_.outbox / std::string(remote_name);
  std::error_code error;
  if (fs::exists(target, error))
    throw TransportError(std::string(remote_name) + " already exists in the outbox; not overwritten", false);
  // A dot-name ending in .tmp: the provider's own listing skips it until the rename.
  const fs::path temp = settings_.outbox / ("." + std::string(remote_name) + "." + std::to_string(::getpid()) +
                                            "." + std::to_string(temp_counter++) + ".tmp");
  try {
    copy_with_digest(local_file, temp);
  } catch (...) {
    fs::remove(temp, error);
    throw;
  }
  if (!rename_no_replace(temp, target, error)) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    if (error == std::errc::file_exists)
      throw TransportError(std::string(remote_name) + " already exists in the outbox; not overwritten", false);
    fail("cannot place " + std::string(remote_name) + " in the outbox", error);
  }
}

std::unique_ptr<Channel> open_folder_channel(const ChannelConfig& config) {
  detail::SettingsReader reader(config);
  FolderSettings settings;
  settings.inbox = reader.required("inbox");
  settings.outbox = reader.required("outbox");
  settings.processing = reader.optional("processing", (settings.inbox / "processing").string());
  settings.done = reader.optional("done", (settings.inbox / "done").string());
  settings.parked = reader.optional("parked", (settings.inbox / "parked").string());
  reader.reject_unknown_keys();
  return std::make_unique<FolderChannel>(config.name, std::move(settings));
}

}  // namespace vaxetl::transport
