#include "mllp/mllp_client.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <stdexcept>
#include <vector>

namespace vaxetl::mllp {

namespace {
Poco::Timespan to_timespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(ms).count());
}
}  // namespace

MllpClient::MllpClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                       std::size_t max_ack_bytes)
    : socket_(std::make_unique<Poco::Net::StreamSocket>()), decoder_(max_ack_bytes) {
  socket_->connect(Poco::Net::SocketAddress(host, port), to_timespan(timeout));
  socket_->setNoDelay(true);  // one small frame per round trip: do not wait for Nagle
  socket_->setReceiveTimeout(to_timespan(timeout));
  socket_->setSendTimeout(to_timespan(timeout));
}

MllpClient::~MllpClient() = default;

void MllpClient::send_raw(std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const int n = socket_->sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
    if (n <= 0) throw std::runtime_error("mllp client: send failed");
    sent += static_cast<std::size_t>(n);
  }
}

std::string MllpClient::send(std::string_view message) {
  send_raw(frame(message));
  return receive();
}

std::string MllpClient::receive() {
  std::vector<FrameEvent> events;
  char buffer[4096];
  while (ready_.empty()) {
    const int n = socket_->receiveBytes(buffer, sizeof(buffer));
    if (n <= 0) throw std::runtime_error("mllp client: connection closed by the server");
    decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(n)), events);
    for (auto& e : events)
      if (e.kind == FrameEvent::Kind::Message) ready_.push_back(std::move(e.data));
    events.clear();
  }
  std::string ack = std::move(ready_.front());
  ready_.pop_front();
  return ack;
}

bool MllpClient::wait_closed(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!socket_->poll(to_timespan(left), Poco::Net::Socket::SELECT_READ)) return false;
    try {
      if (socket_->receiveBytes(buffer, sizeof(buffer)) <= 0) return true;
    } catch (const Poco::Net::NetException&) {
      return true;  // reset by the server also means closed
    }
  }
  return false;
}

}  // namespace vaxetl::mllp
