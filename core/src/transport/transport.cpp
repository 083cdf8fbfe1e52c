#include "transport/transport.hpp"

#include "transport/direct_channel.hpp"
#include "transport/folder_channel.hpp"
#include "transport/sftp_channel.hpp"

namespace vaxetl::transport {

bool is_safe_file_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 255) return false;
  if (name.front() == '.' || name.front() == '-') return false;
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                   c == '_' || c == '-' || c == '+';
    if (!allowed) return false;
  }
  return true;
}

std::unique_ptr<Channel> open_channel(const ChannelConfig& config) {
  if (config.name.empty()) throw std::invalid_argument("a channel needs a name");
  if (config.kind == "folder") return open_folder_channel(config);
  if (config.kind == "sftp") return open_sftp_channel(config);
  if (config.kind == "direct") return open_direct_channel(config);
  throw std::invalid_argument("channel '" + config.name + "': key 'kind': unknown kind '" + config.kind +
                              "' (expected folder, sftp or direct)");
}

}  // namespace vaxetl::transport
