#include "mllp/mllp_server.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "mllp/frame_decoder.hpp"

namespace vaxetl::mllp {

struct MllpServer::Shared {
  MllpConfig config;
  InboxQueue* queue = nullptr;
  Handler handler;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::atomic<uint64_t> connections{0}, messages{0}, queued{0}, rejected{0}, garbage_bytes{0},
      aborted_frames{0}, idle_closed{0};
};

namespace {

using Clock = std::chrono::steady_clock;

// How often a connection thread wakes to notice stop() and the idle deadline.
constexpr std::chrono::milliseconds kPollInterval{100};

class Connection : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket, std::shared_ptr<MllpServer::Shared> shared)
      : Poco::Net::TCPServerConnection(socket), shared_(std::move(shared)) {}

  void run() override {
    MllpServer::Shared& s = *shared_;
    ++s.active;
    ++s.connections;
    std::string peer = "?";
    const char* end_reason = "peer closed";
    try {
      Poco::Net::StreamSocket& sock = socket();
      peer = sock.peerAddress().toString();
      // ACKs are small and the sender waits for each one: Nagle would add delay per message.
      sock.setNoDelay(true);
      sock.setSendTimeout(Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(
                                             s.config.idle_timeout).count()));
      spdlog::info("mllp: connection from {}", peer);
      end_reason = serve(sock, peer);
    } catch (const Poco::Exception& e) {
      end_reason = "network error";
      spdlog::warn("mllp: connection from {}: {}", peer, e.displayText());
    } catch (const std::exception& e) {
      end_reason = "internal error";
      spdlog::error("mllp: connection from {}: {}", peer, e.what());
    }
    spdlog::info("mllp: connection from {} closed ({}): {} messages, {} bytes in", peer, end_reason,
                 messages_, bytes_in_);
    --s.active;
  }

 private:
  const char* serve(Poco::Net::StreamSocket& sock, const std::string& peer) {
    MllpServer::Shared& s = *shared_;
    FrameDecoder decoder(s.config.max_message_bytes);
    std::vector<FrameEvent> events;
    std::vector<char> buffer(64 * 1024);
    auto last_activity = Clock::now();
    while (!s.stopping.load(std::memory_order_relaxed)) {
      const auto idle_left = s.config.idle_timeout - (Clock::now() - last_activity);
      const auto wait = std::clamp(std::chrono::duration_cast<std::chrono::microseconds>(idle_left),
                                   std::chrono::microseconds(0),
                                   std::chrono::microseconds(kPollInterval));
      if (!sock.poll(Poco::Timespan(wait.count()), Poco::Net::Socket::SELECT_READ)) {
        // A quiet peer that sent unframed bytes is waiting for an answer: give it the AR now.
        decoder.flush_garbage(events);
        if (!events.empty()) handle(sock, peer, events);
        if (Clock::now() - last_activity >= s.config.idle_timeout) {
          ++s.idle_closed;
          return "idle timeout";
        }
        continue;
      }
      const int n = sock.receiveBytes(buffer.data(), static_cast<int>(buffer.size()));
      if (n <= 0) {
        if (decoder.in_frame())
          spdlog::warn("mllp: connection from {} closed inside a frame ({} bytes dropped)", peer,
                       decoder.buffered_bytes());
        return "peer closed";
      }
      last_activity = Clock::now();
      bytes_in_ += static_cast<uint64_t>(n);
      decoder.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), events);
      if (!events.empty()) handle(sock, peer, events);
    }
    return "server stopping";
  }

  struct Item {
    FrameEvent* event = nullptr;
    QueueReceipt receipt;
    std::optional<std::future<QueueReceipt>> commit;
  };

  // Answers every complete frame of this read. All messages are submitted before any is
  // awaited, so a client that pipelines frames has them committed in one transaction; the
  // ACKs still go out in frame order.
  void handle(Poco::Net::StreamSocket& sock, const std::string& peer, std::vector<FrameEvent>& events) {
    MllpServer::Shared& s = *shared_;
    std::vector<Item> items;
    items.reserve(events.size());
    for (FrameEvent& event : events) {
      Item item;
      item.event = &event;
      item.receipt.peer = peer;
      item.receipt.size = event.size;
      item.receipt.limit = s.config.max_message_bytes;
      switch (event.kind) {
        case FrameEvent::Kind::AbortedFrame:
          // No message was completed, so there is nothing to acknowledge.
          ++s.aborted_frames;
          spdlog::warn("mllp: {} sent a start block inside a frame; {} bytes dropped", peer, event.size);
          continue;
        case FrameEvent::Kind::Garbage:
          item.receipt.disposition = Disposition::Garbage;
          s.garbage_bytes += event.size;
          spdlog::warn("mllp: {} sent {} bytes outside MLLP framing", peer, event.size);
          break;
        case FrameEvent::Kind::Oversize: {
          ++s.messages;
          ++messages_;
          item.receipt.disposition = Disposition::Oversize;
          if (auto msh = parse_msh(event.data)) item.receipt.control_id = msh->control_id;
          spdlog::warn("mllp: {} control_id={} message of {} bytes exceeds the limit of {}", peer,
                       item.receipt.control_id, event.size, s.config.max_message_bytes);
          break;
        }
        case FrameEvent::Kind::Message: {
          ++s.messages;
          ++messages_;
          const auto msh = parse_msh(event.data);
          if (!msh) {
            item.receipt.disposition = Disposition::NotHl7;
            spdlog::warn("mllp: {} sent a {}-byte frame without a usable MSH", peer, event.size);
            break;
          }
          item.receipt.control_id = msh->control_id;
          try {
            item.commit = s.queue->submit(event.data, peer, msh->control_id);
          } catch (const QueueError& e) {
            item.receipt.disposition = Disposition::StoreFailed;
            spdlog::error("mllp: {} control_id={} not queued: {}", peer, msh->control_id, e.what());
          }
          break;
        }
      }
      items.push_back(std::move(item));
    }

    std::string out;
    for (Item& item : items) {
      if (item.commit) {
        try {
          QueueReceipt committed = item.commit->get();
          committed.limit = item.receipt.limit;
          item.receipt = std::move(committed);
          ++s.queued;
        } catch (const std::exception& e) {
          item.receipt.disposition = Disposition::StoreFailed;
          spdlog::error("mllp: {} control_id={} not queued: {}", peer, item.receipt.control_id, e.what());
        }
      }
      if (!item.receipt.queued()) ++s.rejected;
      out += frame(answer(*item.event, item.receipt, peer));
      spdlog::debug("mllp: {} control_id={} bytes={} {} id={}", peer, item.receipt.control_id,
                    item.receipt.size, to_string(item.receipt.disposition), item.receipt.id);
    }
    events.clear();
    send_all(sock, out);
  }

  std::string answer(const FrameEvent& event, const QueueReceipt& receipt, const std::string& peer) {
    const std::string_view message = event.data;
    try {
      std::string ack = shared_->handler ? shared_->handler(message, receipt) : default_ack(message, receipt);
      if (!ack.empty()) return ack;
      spdlog::error("mllp: {} control_id={}: handler returned no ACK", peer, receipt.control_id);
    } catch (const std::exception& e) {
      spdlog::error("mllp: {} control_id={}: handler failed: {}", peer, receipt.control_id, e.what());
    }
    // The message may already be queued; an AR makes the sender resend, which is safe because
    // processing deduplicates on MSH-10 (see docs/mllp.md), whereas a lost message is not.
    const auto msh = parse_msh(message);
    AckError error{"207^Application internal error^HL70357", "", "internal error; resend the message"};
    return build_ack(msh ? &*msh : nullptr, AckCode::AR, &error);
  }

  static void send_all(Poco::Net::StreamSocket& sock, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const int n = sock.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
      if (n <= 0) throw Poco::Net::NetException("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }

  std::shared_ptr<MllpServer::Shared> shared_;
  uint64_t messages_ = 0;
  uint64_t bytes_in_ = 0;
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactory(std::shared_ptr<MllpServer::Shared> shared) : shared_(std::move(shared)) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    // Poco's interface hands ownership of the returned connection to the TCPServer, which
    // deletes it when the connection ends.
    return std::make_unique<Connection>(socket, shared_).release();
  }

 private:
  std::shared_ptr<MllpServer::Shared> shared_;
};

}  // namespace

MllpServer::MllpServer(MllpConfig config, InboxQueue& queue, Handler handler)
    : queue_(queue), shared_(std::make_shared<Shared>()) {
  shared_->config = std::move(config);
  shared_->queue = &queue_;
  shared_->handler = std::move(handler);
  if (shared_->config.max_connections < 1) shared_->config.max_connections = 1;
}

MllpServer::~MllpServer() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("mllp: stop failed: {}", e.what());
  }
}

void MllpServer::start() {
  if (server_) return;
  const MllpConfig& c = shared_->config;
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(c.bind_address, c.port), c.backlog);
  port_ = socket.address().port();
  pool_ = std::make_unique<Poco::ThreadPool>(2, c.max_connections);
  auto params = Poco::makeAuto<Poco::Net::TCPServerParams>();
  params->setMaxThreads(c.max_connections);
  params->setMaxQueued(c.backlog);
  shared_->stopping = false;
  server_ = std::make_unique<Poco::Net::TCPServer>(Poco::makeShared<ConnectionFactory>(shared_),
                                                   *pool_, socket, params);
  server_->start();
  spdlog::info("mllp: listening on {}:{} (max message {} bytes, idle timeout {} ms, {} connections)",
               c.bind_address, port_, c.max_message_bytes, c.idle_timeout.count(), c.max_connections);
}

void MllpServer::stop() {
  if (!server_) return;
  shared_->stopping = true;
  server_->stop();   // no new connections; queued, not yet started ones are closed
  pool_->joinAll();  // each connection answers what it has fully received, then ends
  server_.reset();
  pool_.reset();
  queue_.flush();
  const MllpStats s = stats();
  spdlog::info("mllp: stopped: {} connections, {} messages, {} queued, {} rejected", s.connections,
               s.messages, s.queued, s.rejected);
}

uint16_t MllpServer::port() const noexcept { return port_; }

int MllpServer::active_connections() const noexcept { return shared_->active.load(); }

MllpStats MllpServer::stats() const noexcept {
  MllpStats s;
  s.connections = shared_->connections.load();
  s.messages = shared_->messages.load();
  s.queued = shared_->queued.load();
  s.rejected = shared_->rejected.load();
  s.garbage_bytes = shared_->garbage_bytes.load();
  s.aborted_frames = shared_->aborted_frames.load();
  s.idle_closed = shared_->idle_closed.load();
  return s;
}

}  // namespace vaxetl::mllp
