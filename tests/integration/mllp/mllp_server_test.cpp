#include <gtest/gtest.h>

#include <Poco/Net/NetException.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "mllp/hl7_ack.hpp"
#include "mllp/inbox_queue.hpp"
#include "mllp/mllp_client.hpp"
#include "mllp/mllp_server.hpp"
#include "mllp_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using vaxetl::mllp::InboxConfig;
using vaxetl::mllp::InboxQueue;
using vaxetl::mllp::MllpClient;
using vaxetl::mllp::MllpConfig;
using vaxetl::mllp::MllpServer;
using vaxetl::mllp::read_ack;

MllpConfig test_config() {
  MllpConfig c;
  c.port = 0;  // any free port
  c.idle_timeout = 5s;
  return c;
}

class MllpServerTest : public ::testing::Test {
 protected:
  void start(MllpConfig config = test_config(), vaxetl::mllp::Handler handler = {}) {
    queue_ = std::make_unique<InboxQueue>(InboxConfig(dir_.file("inbox.db")));
    server_ = std::make_unique<MllpServer>(config, *queue_, std::move(handler));
    server_->start();
  }
  std::unique_ptr<MllpClient> client() { return std::make_unique<MllpClient>("127.0.0.1", server_->port()); }
  void TearDown() override {
    if (server_) server_->stop();
  }

  mllp_test::ScratchDir dir_;
  std::unique_ptr<InboxQueue> queue_;
  std::unique_ptr<MllpServer> server_;
};

TEST_F(MllpServerTest, AcksWithControlIdAndQueuesTheMessage) {
  start();
  auto c = client();
  const std::string message = mllp_test::vxu("MSG0001");
  const auto ack = read_ack(c->send(message));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->code, "AA");
  EXPECT_EQ(ack->control_id, "MSG0001");
  const auto queued = queue_->list("queued", 10);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].control_id, "MSG0001");
  EXPECT_EQ(queued[0].message, message);
  EXPECT_EQ(queued[0].peer.rfind("127.0.0.1:", 0), 0u);
}

TEST_F(MllpServerTest, SixteenConcurrentSynchronousClients) {
  start();
  constexpr int kClients = 16;
  constexpr int kPerClient = 40;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      MllpClient c("127.0.0.1", server_->port());
      for (int i = 0; i < kPerClient; ++i) {
        const std::string id = mllp_test::cat("T", std::to_string(t), "-", std::to_string(i));
        const auto ack = read_ack(c.send(mllp_test::vxu(id)));
        if (ack && ack->code == "AA" && ack->control_id == id) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients * kPerClient);
  EXPECT_EQ(queue_->counts().queued, kClients * kPerClient);
  EXPECT_EQ(server_->stats().queued, static_cast<uint64_t>(kClients * kPerClient));
}

TEST_F(MllpServerTest, OversizeMessageGetsArAndConnectionStaysUsable) {
  MllpConfig config = test_config();
  config.max_message_bytes = 1024;
  start(config);
  auto c = client();
  const std::string big = mllp_test::vxu("BIG1", 40);
  ASSERT_GT(big.size(), 1024u);
  const auto ack = read_ack(c->send(big));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->code, "AR");
  EXPECT_EQ(ack->control_id, "BIG1");  // recovered from the kept prefix
  const auto next = read_ack(c->send(mllp_test::vxu("SMALL1")));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->code, "AA");
  EXPECT_EQ(queue_->counts().total(), 1);
}

TEST_F(MllpServerTest, GarbageBetweenFramesGetsArThenNextFrameWorks) {
  start();
  auto c = client();
  c->send_raw("this is not framed\r\n" + vaxetl::mllp::frame(mllp_test::vxu("AFTER1")));
  const auto garbage_ack = read_ack(c->receive());
  ASSERT_TRUE(garbage_ack);
  EXPECT_EQ(garbage_ack->code, "AR");
  EXPECT_EQ(garbage_ack->control_id, "");
  const auto ack = read_ack(c->receive());
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->code, "AA");
  EXPECT_EQ(ack->control_id, "AFTER1");
  EXPECT_EQ(queue_->counts().queued, 1);
}

TEST_F(MllpServerTest, UnframedMessageFromQuietSenderGetsAr) {
  start();
  auto c = client();
  c->send_raw(mllp_test::vxu("RAW1"));  // a sender that forgot MLLP, waiting for an answer
  const auto ack = read_ack(c->receive());
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->code, "AR");
  EXPECT_EQ(queue_->counts().total(), 0);
}

TEST_F(MllpServerTest, FrameWithoutMshGetsAr) {
  start();
  auto c = client();
  const auto ack = read_ack(c->send("hello"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->code, "AR");
  EXPECT_EQ(queue_->counts().total(), 0);
}

TEST_F(MllpServerTest, IdleTimeoutClosesSilentConnection) {
  MllpConfig config = test_config();
  config.idle_timeout = 300ms;
  start(config);
  auto c = client();
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(c->wait_closed(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 250ms);
  EXPECT_EQ(server_->stats().idle_closed, 1u);
}

TEST_F(MllpServerTest, MessageSplitAcrossManyWrites) {
  start();
  auto c = client();
  const std::string framed = vaxetl::mllp::frame(mllp_test::vxu("SPLIT1", 5));
  for (std::size_t i = 0; i < framed.size(); i += 7) {
    c->send_raw(std::string_view(framed).substr(i, 7));
    if (i % 70 == 0) std::this_thread::sleep_for(1ms);  // force separate TCP segments
  }
  const auto ack = read_ack(c->receive());
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->code, "AA");
  EXPECT_EQ(ack->control_id, "SPLIT1");
  EXPECT_EQ(queue_->list("queued", 1).at(0).message, mllp_test::vxu("SPLIT1", 5));
}

TEST_F(MllpServerTest, PipelinedFramesGetAcksInOrder) {
  start();
  auto c = client();
  std::string burst;
  for (int i = 0; i < 10; ++i) burst += vaxetl::mllp::frame(mllp_test::vxu(mllp_test::cat("P", std::to_string(i))));
  c->send_raw(burst);
  for (int i = 0; i < 10; ++i) {
    const auto ack = read_ack(c->receive());
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->control_id, mllp_test::cat("P", std::to_string(i)));
  }
}

TEST_F(MllpServerTest, CustomHandlerDecidesTheAck) {
  std::atomic<int64_t> seen_id{0};
  start(test_config(), [&](std::string_view message, const vaxetl::mllp::QueueReceipt& receipt) {
    seen_id = receipt.id;
    const auto msh = vaxetl::mllp::parse_msh(message);
    vaxetl::mllp::AckError error{"101^Required field missing^HL70357", "PID^1^7", "birth date missing"};
    return vaxetl::mllp::build_ack(msh ? &*msh : nullptr, vaxetl::mllp::AckCode::AE, &error);
  });
  auto c = client();
  const std::string ack = c->send(mllp_test::vxu("H1"));
  EXPECT_EQ(read_ack(ack)->code, "AE");
  EXPECT_NE(ack.find("ERR||PID^1^7|101^"), std::string::npos);
  EXPECT_EQ(seen_id.load(), 1);
}

TEST_F(MllpServerTest, StopAnswersReceivedMessagesAndClosesConnections) {
  start();
  auto c = client();
  EXPECT_EQ(read_ack(c->send(mllp_test::vxu("S1")))->code, "AA");
  server_->stop();
  EXPECT_TRUE(c->wait_closed(2s));
  EXPECT_EQ(server_->active_connections(), 0);
  EXPECT_EQ(queue_->counts().queued, 1);
  EXPECT_THROW(MllpClient("127.0.0.1", server_->port(), 500ms).send(mllp_test::vxu("S2")), std::exception);
}

// The durability promise: a message whose AA reached the sender is in the inbox even if the
// listener process is killed right after.
TEST(MllpCrashSafety, EveryAckedMessageSurvivesSigkill) {
  mllp_test::ScratchDir dir;
  const std::string path = dir.file("inbox.db");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    InboxQueue queue{InboxConfig(path)};
    MllpServer server(test_config(), queue);
    server.start();
    const uint16_t port = server.port();
    if (::write(fds[1], &port, sizeof(port)) != sizeof(port)) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  uint16_t port = 0;
  ASSERT_EQ(::read(fds[0], &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  ::close(fds[0]);

  std::mutex mutex;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      try {
        MllpClient c("127.0.0.1", port, 3s);
        for (int i = 0; !stop; ++i) {
          const std::string id = mllp_test::cat("K", std::to_string(t), "-", std::to_string(i));
          const auto ack = read_ack(c.send(mllp_test::vxu(id)));
          if (ack && ack->code == "AA") {
            std::lock_guard lock(mutex);
            acked.insert(id);
          }
        }
      } catch (const std::exception&) {
        // the listener was killed mid-conversation: expected
      }
    });
  }
  // Kill while the clients are still sending, so some messages are in flight.
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (acked.size() >= 300) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  stop = true;
  for (auto& t : clients) t.join();

  InboxQueue reopened{InboxConfig(path)};
  std::set<std::string> stored;
  for (const auto& m : reopened.list("queued", 1000000)) stored.insert(m.control_id);
  ASSERT_GE(acked.size(), 300u);
  for (const auto& id : acked) EXPECT_TRUE(stored.count(id)) << id << " was ACKed but is not in the inbox";
}

}  // namespace
