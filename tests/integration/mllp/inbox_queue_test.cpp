#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "mllp/inbox_queue.hpp"
#include "mllp_test_support.hpp"

namespace {

using vaxetl::mllp::InboxConfig;
using vaxetl::mllp::InboxQueue;

TEST(MllpInboxQueue, EnqueueClaimAndFinish) {
  mllp_test::ScratchDir dir;
  InboxQueue queue(InboxConfig{dir.file("inbox.db")});
  for (int i = 0; i < 5; ++i) {
    const auto receipt = queue.enqueue(mllp_test::vxu(mllp_test::cat("C", std::to_string(i))), "127.0.0.1:1",
                                       mllp_test::cat("C", std::to_string(i)));
    EXPECT_TRUE(receipt.queued());
    EXPECT_EQ(receipt.id, i + 1);
  }
  EXPECT_EQ(queue.counts().queued, 5);

  const auto first = queue.claim(3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].control_id, "C0");
  EXPECT_EQ(first[2].control_id, "C2");
  EXPECT_EQ(first[0].state, "processing");
  EXPECT_EQ(first[0].attempts, 1);
  EXPECT_EQ(first[1].message, mllp_test::vxu("C1"));

  EXPECT_EQ(queue.claim(10).size(), 2u);
  EXPECT_TRUE(queue.claim(10).empty());

  EXPECT_TRUE(queue.mark_done(first[0].id));
  EXPECT_FALSE(queue.mark_done(first[0].id));  // already done
  EXPECT_TRUE(queue.mark_failed(first[1].id, "VXU-101"));
  const auto failed = queue.list("failed", 10);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].reason, "VXU-101");

  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(queue.requeue_stale(std::chrono::seconds(0)), 3u);
  const auto counts = queue.counts();
  EXPECT_EQ(counts.queued, 3);
  EXPECT_EQ(counts.done, 1);
  EXPECT_EQ(counts.failed, 1);
  EXPECT_EQ(queue.claim(10).front().attempts, 2);
}

TEST(MllpInboxQueue, ConcurrentClaimersNeverShareAMessage) {
  mllp_test::ScratchDir dir;
  const std::string path = dir.file("inbox.db");
  constexpr int kMessages = 400;
  {
    InboxQueue queue(InboxConfig{path});
    std::vector<std::future<vaxetl::mllp::QueueReceipt>> pending;
    for (int i = 0; i < kMessages; ++i) pending.push_back(queue.submit("MSH|x", "p", std::to_string(i)));
    for (auto& f : pending) f.get();
  }
  // Separate InboxQueue objects have separate SQLite connections, as separate processes would.
  std::vector<std::vector<int64_t>> claimed(4);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      InboxQueue queue(InboxConfig{path});
      for (;;) {
        const auto batch = queue.claim(7);
        if (batch.empty()) break;
        for (const auto& m : batch) claimed[static_cast<std::size_t>(w)].push_back(m.id);
      }
    });
  }
  for (auto& t : workers) t.join();
  std::set<int64_t> all;
  std::size_t total = 0;
  for (const auto& ids : claimed) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kMessages));
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kMessages));
}

TEST(MllpInboxQueue, CloseCommitsPendingAndRefusesMore) {
  mllp_test::ScratchDir dir;
  const std::string path = dir.file("inbox.db");
  InboxConfig config{path};
  config.commit_delay = std::chrono::milliseconds(50);
  {
    InboxQueue queue(config);
    auto f = queue.submit("MSH|x", "p", "1");
    queue.close();
    EXPECT_GT(f.get().id, 0);
    EXPECT_THROW(queue.submit("MSH|x", "p", "2"), vaxetl::mllp::QueueError);
  }
  InboxQueue reopened(InboxConfig{path});
  EXPECT_EQ(reopened.counts().queued, 1);
}

}  // namespace
