// The local-folder channel: an inbox directory with processing/, done/ and parked/ areas and
// an outbox directory, all on one machine (or one shared mount). Claims are renames, so a
// file is taken once even when several daemons poll the same inbox.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "transport/transport.hpp"

namespace vaxetl::transport {

struct FolderSettings {
  std::filesystem::path inbox;
  std::filesystem::path outbox;
  std::filesystem::path processing;  // default inbox/processing
  std::filesystem::path done;        // default inbox/done
  std::filesystem::path parked;      // default inbox/parked
};

class FolderChannel final : public Channel {
 public:
  FolderChannel(std::string name, FolderSettings settings);

  std::string kind() const override { return "folder"; }
  std::string display() const override;
  std::vector<InboxEntry> list_ready() override;
  std::vector<InboxEntry> in_processing() override;
  Fetched fetch(const InboxEntry& entry, const std::filesystem::path& destination) override;
  void settle(const InboxEntry& entry, Settlement how) override;
  void send(const std::filesystem::path& local_file, std::string_view remote_name,
            const InboxEntry& in_reply_to) override;

 private:
  struct Seen {
    std::uintmax_t size = 0;
    std::int64_t modified_ns = 0;
  };
  FolderSettings settings_;
  std::map<std::string, Seen> previous_listing_;
  std::size_t refused_last_listing_ = 0;
};

std::unique_ptr<Channel> open_folder_channel(const ChannelConfig& config);

}  // namespace vaxetl::transport
