// The Direct Secure Messaging channel: provider files arrive as attachments of S/MIME signed
// and encrypted mail in an IMAP mailbox (libcurl imaps:// or imap:// with STARTTLS); replies go
// out over SMTP (smtps:// or smtp:// with STARTTLS), signed and encrypted to the provider.
// Messages stay in the inbox mailbox while their files are processed (marked with IMAP
// keywords), and move to the done or parked mailbox once every file is settled; a message
// that is not encrypted to us, or whose signature does not verify against the trust anchors,
// is moved to the rejected mailbox with a keyword naming the reason. One thread at a time.
#pragma once

#include <memory>

#include "transport/transport.hpp"

namespace vaxetl::transport {

std::unique_ptr<Channel> open_direct_channel(const ChannelConfig& config);

}  // namespace vaxetl::transport
