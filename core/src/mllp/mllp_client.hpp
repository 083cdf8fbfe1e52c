// A synchronous MLLP client: send one message, wait for its ACK (spec C.1). Used by the
// tests and the benchmark, and usable for a `send` command or smoke checks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "mllp/frame_decoder.hpp"

namespace Poco::Net {
class StreamSocket;
}

namespace vaxetl::mllp {

class MllpClient {
 public:
  // Connects at once; throws Poco::Exception when it cannot.
  MllpClient(const std::string& host, uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::seconds(10),
             std::size_t max_ack_bytes = 1 << 20);
  ~MllpClient();
  MllpClient(const MllpClient&) = delete;
  MllpClient& operator=(const MllpClient&) = delete;

  // Frames `message`, sends it and returns the next ACK (unframed).
  std::string send(std::string_view message);
  // Sends bytes as they are (for tests of framing errors and split writes).
  void send_raw(std::string_view bytes);
  // The next complete frame from the server; throws Poco::TimeoutException after the timeout
  // and std::runtime_error when the server closed the connection.
  std::string receive();
  // True when the server closes the connection within `wait` (nothing else arrives).
  bool wait_closed(std::chrono::milliseconds wait);

 private:
  std::unique_ptr<Poco::Net::StreamSocket> socket_;
  FrameDecoder decoder_;
  std::deque<std::string> ready_;
};

}  // namespace vaxetl::mllp
