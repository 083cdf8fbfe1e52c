#include "mllp/frame_decoder.hpp"

#include <algorithm>

namespace vaxetl::mllp {

std::string frame(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out.push_back(kStartBlock);
  out.append(message);
  out.push_back(kEndBlock);
  out.push_back(kCarriageReturn);
  return out;
}

FrameDecoder::FrameDecoder(std::size_t max_message_bytes) : max_bytes_(max_message_bytes) {}

void FrameDecoder::start_frame(std::vector<FrameEvent>& out) {
  flush_garbage(out);
  state_ = State::InFrame;
  body_.clear();
  frame_size_ = 0;
}

void FrameDecoder::append(std::string_view bytes) {
  // Keep everything up to the limit; past it keep only a prefix (enough for the MSH, so the
  // AR can still name MSH-10) and count the rest.
  const std::size_t keep_limit = frame_size_ + bytes.size() > max_bytes_
                                     ? std::min(max_bytes_, kOversizePrefix)
                                     : max_bytes_;
  if (body_.size() < keep_limit) {
    body_.append(bytes.substr(0, keep_limit - body_.size()));
  }
  if (body_.size() > keep_limit) body_.resize(keep_limit);
  frame_size_ += bytes.size();
}

void FrameDecoder::finish_frame(std::vector<FrameEvent>& out) {
  FrameEvent event;
  event.kind = frame_size_ > max_bytes_ ? FrameEvent::Kind::Oversize : FrameEvent::Kind::Message;
  event.size = frame_size_;
  event.data = std::move(body_);
  out.push_back(std::move(event));
  body_ = std::string();
  frame_size_ = 0;
  state_ = State::Idle;
}

void FrameDecoder::add_garbage(std::size_t count, std::vector<FrameEvent>& out) {
  garbage_ += count;
  // Report long runs in bounded pieces: a peer streaming unframed data gets answers.
  if (garbage_ >= max_bytes_) flush_garbage(out);
}

void FrameDecoder::flush_garbage(std::vector<FrameEvent>& out) {
  if (garbage_ == 0) return;
  FrameEvent event;
  event.kind = FrameEvent::Kind::Garbage;
  event.size = garbage_;
  out.push_back(std::move(event));
  garbage_ = 0;
}

void FrameDecoder::feed(std::string_view chunk, std::vector<FrameEvent>& out) {
  std::size_t i = 0;
  while (i < chunk.size()) {
    switch (state_) {
      case State::Idle: {
        const char c = chunk[i++];
        if (c == kStartBlock) {
          start_frame(out);
        } else if (c == '\r' || c == '\n') {
          // Many senders put CR or CRLF after the end block; that is noise, not an error.
        } else {
          add_garbage(1, out);
        }
        break;
      }
      case State::InFrame: {
        // Copy the run up to the next control byte in one go; this is the hot path.
        const std::size_t stop = chunk.find_first_of(std::string_view("\x0B\x1C", 2), i);
        const std::size_t end = stop == std::string_view::npos ? chunk.size() : stop;
        append(chunk.substr(i, end - i));
        i = end;
        if (i == chunk.size()) break;
        const char c = chunk[i++];
        if (c == kEndBlock) {
          state_ = State::SawEndBlock;
        } else {  // a start block inside a frame: the sender gave up on the frame and restarted
          FrameEvent event;
          event.kind = FrameEvent::Kind::AbortedFrame;
          event.size = frame_size_;
          out.push_back(std::move(event));
          start_frame(out);
        }
        break;
      }
      case State::SawEndBlock: {
        const char c = chunk[i];
        if (c == kCarriageReturn) {
          ++i;
          finish_frame(out);
        } else {
          // FS not followed by CR is not an end block; keep it as content and rescan c.
          append(std::string_view(&kEndBlock, 1));
          state_ = State::InFrame;
        }
        break;
      }
    }
  }
}

}  // namespace vaxetl::mllp
