#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mllp/frame_decoder.hpp"
#include "mllp/hl7_ack.hpp"
#include "mllp_test_support.hpp"

namespace {

using vaxetl::mllp::FrameDecoder;
using vaxetl::mllp::FrameEvent;
using Kind = FrameEvent::Kind;

std::string describe(const std::vector<FrameEvent>& events) {
  std::string out;
  for (const auto& e : events) {
    switch (e.kind) {
      case Kind::Message: out += "M"; break;
      case Kind::Oversize: out += "O"; break;
      case Kind::Garbage: out += "G"; break;
      case Kind::AbortedFrame: out += "A"; break;
    }
    out += mllp_test::cat("(", std::to_string(e.size), ":", e.data, ")");
  }
  return out;
}

std::vector<FrameEvent> decode(const std::vector<std::string_view>& chunks, std::size_t max) {
  FrameDecoder decoder(max);
  std::vector<FrameEvent> events;
  for (auto chunk : chunks) decoder.feed(chunk, events);
  decoder.flush_garbage(events);
  return events;
}

// A stream with every situation: frames, CRLF noise, garbage, a start block inside a frame,
// an FS not followed by CR, an oversize frame, and a partial frame at the end.
std::string sample_stream() {
  using vaxetl::mllp::frame;
  std::string s;
  s += frame("MSH|A\rPID|1");
  s += "\r\n";
  s += frame("MSH|B");
  s += "junk";
  s += frame("MSH|C");
  s += "\x0BPARTIAL";  // abandoned by the next start block
  s += frame("MSH|D\x1CX");
  s += frame(std::string(40, 'z'));  // over the limit of 32
  s += frame("MSH|E");
  s += "\x0Btail";  // never finished
  return s;
}

constexpr std::size_t kMax = 32;

const std::string kExpected = "M(11:MSH|A\rPID|1)M(5:MSH|B)G(4:)M(5:MSH|C)A(7:)M(7:MSH|D\x1CX)O(40:" +
                              std::string(kMax, 'z') + ")M(5:MSH|E)";

TEST(MllpFrameDecoder, DecodesEverySituationInOneChunk) {
  const std::string stream = sample_stream();
  EXPECT_EQ(describe(decode({stream}, kMax)), kExpected);
}

TEST(MllpFrameDecoder, SameEventsAtEverySplitPoint) {
  const std::string stream = sample_stream();
  const std::string_view s = stream;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    ASSERT_EQ(describe(decode({s.substr(0, i), s.substr(i)}, kMax)), kExpected) << "split at " << i;
  }
}

TEST(MllpFrameDecoder, SameEventsAtEveryPairOfSplitPoints) {
  const std::string stream = sample_stream();
  const std::string_view s = stream;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    for (std::size_t j = i; j <= s.size(); ++j) {
      ASSERT_EQ(describe(decode({s.substr(0, i), s.substr(i, j - i), s.substr(j)}, kMax)), kExpected)
          << "split at " << i << " and " << j;
    }
  }
}

TEST(MllpFrameDecoder, SameEventsByteByByte) {
  const std::string stream = sample_stream();
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view(stream).substr(i, 1));
  EXPECT_EQ(describe(decode(bytes, kMax)), kExpected);
}

TEST(MllpFrameDecoder, KeepsStateOfAnUnfinishedFrame) {
  FrameDecoder decoder(kMax);
  std::vector<FrameEvent> events;
  decoder.feed("\x0BMSH|", events);
  EXPECT_TRUE(decoder.in_frame());
  EXPECT_EQ(decoder.buffered_bytes(), 4u);
  decoder.feed("X\x1C", events);
  EXPECT_TRUE(events.empty());
  decoder.feed("\r", events);
  EXPECT_EQ(describe(events), "M(5:MSH|X)");
  EXPECT_FALSE(decoder.in_frame());
}

TEST(MllpFrameDecoder, LongGarbageIsReportedInBoundedPieces) {
  FrameDecoder decoder(8);
  std::vector<FrameEvent> events;
  decoder.feed(std::string(20, 'g'), events);
  EXPECT_EQ(describe(events), "G(8:)G(8:)");
  EXPECT_EQ(decoder.pending_garbage(), 4u);
  decoder.flush_garbage(events);
  EXPECT_EQ(describe(events), "G(8:)G(8:)G(4:)");
}

TEST(MllpFrameDecoder, OversizeKeepsOnlyAPrefix) {
  const std::size_t max = 10000;
  FrameDecoder decoder(max);
  std::vector<FrameEvent> events;
  decoder.feed(vaxetl::mllp::frame(std::string(50000, 'x')), events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Oversize);
  EXPECT_EQ(events[0].size, 50000u);
  EXPECT_EQ(events[0].data.size(), FrameDecoder::kOversizePrefix);
}

TEST(MllpAck, ParsesMshAndBuildsAck) {
  const std::string msg =
      "\xEF\xBB\xBFMSH|^~\\&|SEND|SFAC|RECV|RFAC|20260101||VXU^V04^VXU_V04|CTRL42|P|2.5.1\rPID|1";
  const auto msh = vaxetl::mllp::parse_msh(msg);
  ASSERT_TRUE(msh);
  EXPECT_EQ(msh->control_id, "CTRL42");
  EXPECT_EQ(msh->sending_application, "SEND");
  EXPECT_EQ(msh->message_type, "VXU^V04^VXU_V04");
  const std::string ack = vaxetl::mllp::build_ack(&*msh, vaxetl::mllp::AckCode::AA);
  EXPECT_EQ(ack.rfind("MSH|^~\\&|RECV|RFAC|SEND|SFAC|", 0), 0u) << ack;
  EXPECT_NE(ack.find("|ACK^V04^ACK|"), std::string::npos);
  const auto summary = vaxetl::mllp::read_ack(ack);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->code, "AA");
  EXPECT_EQ(summary->control_id, "CTRL42");
}

TEST(MllpAck, RejectsWhatIsNotHl7) {
  EXPECT_FALSE(vaxetl::mllp::parse_msh(""));
  EXPECT_FALSE(vaxetl::mllp::parse_msh("hello world"));
  EXPECT_FALSE(vaxetl::mllp::parse_msh("PID|1||x"));
  EXPECT_FALSE(vaxetl::mllp::parse_msh("MSH|^~\\&|A|B|C|D|T||VXU^V04||P|2.5.1"));  // no MSH-10
}

}  // namespace
