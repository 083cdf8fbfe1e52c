// Incremental MLLP frame decoder (HL7 v2.5.1 Appendix C): <VT> message <FS><CR>.
// TCP delivers bytes in arbitrary chunks, so the decoder keeps its state between feed()
// calls and produces the same events whatever the split points are.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::mllp {

inline constexpr char kStartBlock = 0x0B;  // VT
inline constexpr char kEndBlock = 0x1C;    // FS
inline constexpr char kCarriageReturn = 0x0D;

// Wraps an HL7 message in MLLP framing.
std::string frame(std::string_view message);

struct FrameEvent {
  enum class Kind {
    Message,        // a complete frame; `data` is the message without framing
    Oversize,       // a complete frame larger than the limit; `data` holds only its first bytes
    Garbage,        // bytes outside any frame; `data` is empty (the bytes may be PHI)
    AbortedFrame,   // a start block arrived inside a frame; the partial frame was dropped
  };
  Kind kind = Kind::Message;
  std::string data;
  std::size_t size = 0;  // full size in bytes: message, frame so far, or garbage run
};

class FrameDecoder {
 public:
  // Frames whose content exceeds max_message_bytes are reported as Oversize; only the first
  // kOversizePrefix bytes are kept, so a peer cannot make us buffer without bound.
  explicit FrameDecoder(std::size_t max_message_bytes);

  static constexpr std::size_t kOversizePrefix = 4096;

  // Appends the events completed by `chunk` to `out`.
  void feed(std::string_view chunk, std::vector<FrameEvent>& out);

  // Reports garbage seen since the last frame now, instead of waiting for the next start
  // block. The server calls this when the peer goes quiet, so a client that sent an unframed
  // message gets its AR without having to send anything else.
  void flush_garbage(std::vector<FrameEvent>& out);

  bool in_frame() const noexcept { return state_ != State::Idle; }
  std::size_t buffered_bytes() const noexcept { return body_.size(); }
  std::size_t pending_garbage() const noexcept { return garbage_; }

 private:
  enum class State { Idle, InFrame, SawEndBlock };

  void start_frame(std::vector<FrameEvent>& out);
  void append(std::string_view bytes);
  void finish_frame(std::vector<FrameEvent>& out);
  void add_garbage(std::size_t count, std::vector<FrameEvent>& out);

  std::size_t max_bytes_;
  State state_ = State::Idle;
  std::string body_;
  std::size_t frame_size_ = 0;  // content bytes seen in the current frame, kept or not
  std::size_t garbage_ = 0;     // garbage bytes not yet reported
};

}  // namespace vaxetl::mllp
