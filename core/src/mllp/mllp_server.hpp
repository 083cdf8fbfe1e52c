// The MLLP listener: a Poco::Net::TCPServer that reads MLLP frames from many concurrent
// connections, commits each message to the durable InboxQueue, and answers one ACK per
// message, in order, only after the commit (spec C.1: original mode, synchronous).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mllp/hl7_ack.hpp"
#include "mllp/inbox_queue.hpp"

namespace Poco {
class ThreadPool;
namespace Net {
class TCPServer;
}
}  // namespace Poco

namespace vaxetl::mllp {

// Builds the ACK for one received frame. Called after the inbox commit for a queued message,
// and also for frames that were not queued (see receipt.disposition), so a single hook
// decides every answer. Returns the ACK message without MLLP framing; the server frames it.
// Called from connection threads concurrently: it must be thread-safe. An exception or an
// empty result becomes an AR (application internal error).
using Handler = std::function<std::string(std::string_view message, const QueueReceipt& receipt)>;

struct MllpConfig {
  std::string bind_address = "127.0.0.1";  // loopback unless told otherwise: HL7 carries PHI
  uint16_t port = 2575;                     // 0 picks a free port (see MllpServer::port())
  std::size_t max_message_bytes = 1 << 20;  // larger frames get AR and are not stored
  std::chrono::milliseconds idle_timeout{60000};  // a silent connection is closed after this
  int max_connections = 64;   // connection threads; further connections wait in the backlog
  int backlog = 64;
};

struct MllpStats {
  uint64_t connections = 0;      // accepted so far
  uint64_t messages = 0;         // complete frames received
  uint64_t queued = 0;           // committed to the inbox
  uint64_t rejected = 0;         // frames answered without being queued (incl. garbage runs)
  uint64_t garbage_bytes = 0;
  uint64_t aborted_frames = 0;   // partial frames dropped because a new start block came
  uint64_t idle_closed = 0;
};

class MllpServer {
 public:
  // An empty handler means default_ack (AA once queued, AR otherwise). `queue` must outlive
  // the server.
  MllpServer(MllpConfig config, InboxQueue& queue, Handler handler = {});
  ~MllpServer();  // stop()
  MllpServer(const MllpServer&) = delete;
  MllpServer& operator=(const MllpServer&) = delete;

  // Binds and starts accepting. Throws Poco::Exception when the address cannot be bound.
  void start();
  // Graceful: stops accepting, lets every connection finish the messages it has fully
  // received (they are queued and ACKed), closes the connections, then flushes the queue.
  // Partial frames are dropped unacknowledged, so their senders resend. Idempotent.
  void stop();

  uint16_t port() const noexcept;  // the bound port, valid after start()
  MllpStats stats() const noexcept;
  int active_connections() const noexcept;

  struct Shared;  // state shared with connection threads (defined in the .cpp)

 private:
  InboxQueue& queue_;
  std::shared_ptr<Shared> shared_;
  // Declared before server_: the server's dispatcher uses the pool, so it must go first.
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  uint16_t port_ = 0;
};

}  // namespace vaxetl::mllp
