// The SFTP channel (libcurl sftp://): the provider's inbox and outbox directories on a remote
// SSH server, with processing/, done/ and parked/ areas beside the inbox on that server.
// Host keys are checked against a known_hosts file unless the configuration turns that off
// explicitly. One channel object is used by one thread at a time (it keeps one connection).
#pragma once

#include <memory>

#include "transport/transport.hpp"

namespace vaxetl::transport {

std::unique_ptr<Channel> open_sftp_channel(const ChannelConfig& config);

}  // namespace vaxetl::transport
