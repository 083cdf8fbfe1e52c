// Claims through the database, on SQLite and on PostgreSQL: one winner per file among daemons
// racing for it, takeover of an expired lease, retries only when due, done files never again.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_scratch_database.hpp"
#include "serve/claims.hpp"
#include "vaxetl_test_support.hpp"

namespace {

using vaxetl::daemon::Claim;
using vaxetl::daemon::ClaimKey;
using vaxetl::daemon::ClaimState;
using vaxetl::daemon::ClaimStore;
using namespace std::chrono_literals;

enum class Backend { SQLite, PostgreSQL };

class ClaimsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::PostgreSQL) {
      std::string admin;
      VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
      pg_ = std::make_unique<vaxetl::test::PgScratchDatabase>(admin);
      location_ = pg_->url();
    } else {
      location_ = dir_ / "claims.sqlite";
    }
  }
  std::unique_ptr<ClaimStore> store(const std::string& owner) { return std::make_unique<ClaimStore>(location_, owner); }

  vaxetl::test::TempDir dir_;
  std::unique_ptr<vaxetl::test::PgScratchDatabase> pg_;
  std::string location_;
};

const ClaimKey kFile{"pharmacy", "ABCCOVID_20260101120000_CVMS_PROD_PHI_DIRECT_V1.txt", 1234};

TEST_P(ClaimsTest, OnlyOneDaemonWinsAFreshFile) {
  auto a = store("host:1:1");
  auto b = store("host:2:1");
  const auto won = a->try_claim(kFile, 60s);
  ASSERT_TRUE(won.has_value());
  EXPECT_EQ(won->state, ClaimState::Claimed);
  EXPECT_EQ(won->owner, "host:1:1");
  EXPECT_FALSE(b->try_claim(kFile, 60s).has_value());
  // The same name with another size is another file.
  EXPECT_TRUE(b->try_claim({kFile.channel, kFile.file_name, 99}, 60s).has_value());
}

TEST_P(ClaimsTest, ExpiredLeaseIsTakenOverAndTheOldOwnerCannotRenew) {
  auto dead = store("host:1:1");
  ASSERT_TRUE(dead->try_claim(kFile, 1ms).has_value());
  std::this_thread::sleep_for(20ms);
  auto heir = store("host:2:1");
  const auto taken = heir->try_claim(kFile, 60s);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->owner, "host:2:1");
  EXPECT_FALSE(dead->renew(kFile, 60s));
  EXPECT_TRUE(heir->renew(kFile, 60s));
}

TEST_P(ClaimsTest, LiveLeaseIsNotTakenOver) {
  auto a = store("host:1:1");
  ASSERT_TRUE(a->try_claim(kFile, 60s).has_value());
  ASSERT_TRUE(a->renew(kFile, 60s));
  EXPECT_FALSE(store("host:2:1")->try_claim(kFile, 60s).has_value());
}

// A file uploaded again with the same name and size after its claim ended: one of two daemons
// that saw the ended row reopens it, one generation on, with nothing left of the first run but
// its id; a row in hand is not reopened.
TEST_P(ClaimsTest, EndedClaimIsReopenedOnceForANewUpload) {
  auto a = store("host:1:1");
  auto b = store("host:2:1");
  ASSERT_TRUE(a->try_claim(kFile, 60s).has_value());
  ASSERT_FALSE(b->reopen(*b->find(kFile), 60s).has_value());  // claimed, not ended
  a->record_fetched(kFile, "abc123");
  a->record_run(kFile, "R1", "/tmp/x_error.txt");
  a->mark_reply_sent(kFile);
  a->mark_done(kFile);
  const Claim seen_by_a = *a->find(kFile);
  const Claim seen_by_b = *b->find(kFile);
  const auto won = b->reopen(seen_by_b, 60s);
  ASSERT_TRUE(won.has_value());
  EXPECT_FALSE(a->reopen(seen_by_a, 60s).has_value());  // the same upload, taken already
  EXPECT_EQ(won->state, ClaimState::Claimed);
  EXPECT_EQ(won->owner, "host:2:1");
  EXPECT_EQ(won->generation, 1);
  EXPECT_EQ(won->previous_run_id, "R1");
  EXPECT_TRUE(won->run_id.empty());
  EXPECT_TRUE(won->reply_file.empty());
  EXPECT_TRUE(won->sha256.empty());
  EXPECT_FALSE(won->reply_sent);
  EXPECT_EQ(won->attempts, 0);

  const ClaimKey parked{"pharmacy", "PARKED.txt", 5};
  ASSERT_TRUE(a->try_claim(parked, 60s).has_value());
  a->park(parked, 3, "the run crashed (signal 6)");
  const auto again = a->reopen(*a->find(parked), 60s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempts, 0);
  EXPECT_TRUE(again->reason.empty());
  EXPECT_EQ(again->generation, 1);
}

TEST_P(ClaimsTest, DoneAndParkedFilesAreNeverClaimedAgainEvenAfterARestart) {
  const ClaimKey parked{"pharmacy", "PARKED.txt", 5};
  {
    auto a = store("host:1:1");
    ASSERT_TRUE(a->try_claim(kFile, 1ms).has_value());
    a->record_fetched(kFile, "abc123");
    a->record_run(kFile, "R1", "/tmp/x_error.txt");
    a->mark_reply_sent(kFile);
    a->mark_done(kFile);
    ASSERT_TRUE(a->try_claim(parked, 1ms).has_value());
    a->park(parked, 3, "the run crashed (signal 6)");
  }
  std::this_thread::sleep_for(20ms);
  auto restarted = store("host:1:2");
  EXPECT_FALSE(restarted->try_claim(kFile, 60s).has_value());
  EXPECT_FALSE(restarted->try_claim(parked, 60s).has_value());
  const auto row = restarted->find(kFile);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->state, ClaimState::Done);
  EXPECT_EQ(row->sha256, "abc123");
  EXPECT_EQ(row->run_id, "R1");
  EXPECT_TRUE(row->reply_sent);
  const auto parked_row = restarted->find(parked);
  ASSERT_TRUE(parked_row.has_value());
  EXPECT_EQ(parked_row->state, ClaimState::Parked);
  EXPECT_EQ(parked_row->attempts, 3);
  EXPECT_EQ(parked_row->reason, "the run crashed (signal 6)");
}

TEST_P(ClaimsTest, RetryIsClaimedOnlyOnceDueAndKeepsItsAttempts) {
  auto a = store("host:1:1");
  ASSERT_TRUE(a->try_claim(kFile, 60s).has_value());
  a->retry_later(kFile, 1, vaxetl::daemon::epoch_millis() + 3'600'000, "the run exited with code 70");
  auto b = store("host:2:1");
  EXPECT_FALSE(b->try_claim(kFile, 60s).has_value());
  ASSERT_TRUE(a->try_claim({kFile.channel, kFile.file_name, kFile.size}, 60s) == std::nullopt);

  const ClaimKey due{"pharmacy", "DUE.txt", 7};
  ASSERT_TRUE(a->try_claim(due, 60s).has_value());
  a->retry_later(due, 2, vaxetl::daemon::epoch_millis() - 1, "the run exited with code 70");
  const auto again = b->try_claim(due, 60s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->owner, "host:2:1");
  EXPECT_EQ(again->attempts, 2);
  EXPECT_EQ(again->reason, "the run exited with code 70");
}

TEST_P(ClaimsTest, CountsPerChannel) {
  auto a = store("host:1:1");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a->try_claim({"one", std::string("F") + std::to_string(i), 1}, 60s));
  a->mark_done({"one", "F0", 1});
  a->park({"one", "F1", 1}, 5, "x");
  ASSERT_TRUE(a->try_claim({"two", "G", 1}, 60s));
  a->retry_later({"two", "G", 1}, 1, vaxetl::daemon::epoch_millis() + 100000, "y");
  const auto counts = a->counts();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].channel, "one");
  EXPECT_EQ(counts[0].done, 1);
  EXPECT_EQ(counts[0].parked, 1);
  EXPECT_EQ(counts[0].in_progress, 1);
  EXPECT_EQ(counts[1].channel, "two");
  EXPECT_EQ(counts[1].retrying, 1);
  EXPECT_EQ(counts[1].in_progress, 0);
}

// Four daemons' worth of connections race for the same 40 files: each file has one winner.
TEST_P(ClaimsTest, RacingOwnersWinEachFileExactlyOnce) {
  constexpr int kFiles = 40;
  constexpr int kOwners = 4;
  store("host:0:0");  // migrate once before the race, as the first daemon would
  std::vector<std::vector<std::string>> won(kOwners);
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  for (int owner = 0; owner < kOwners; ++owner) {
    threads.emplace_back([&, owner] {
      try {
        auto mine = store(std::string("host:") + std::to_string(owner + 1) + ":1");
        for (int i = 0; i < kFiles; ++i) {
          const ClaimKey key{"race", std::string("FILE") + std::to_string(i), 10};
          if (mine->try_claim(key, 60s)) won[owner].push_back(key.file_name);
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_FALSE(failed);
  std::map<std::string, int> winners;
  for (const auto& list : won)
    for (const auto& name : list) ++winners[name];
  EXPECT_EQ(winners.size(), static_cast<std::size_t>(kFiles));
  for (const auto& [name, count] : winners) EXPECT_EQ(count, 1) << name;
}

INSTANTIATE_TEST_SUITE_P(Backends, ClaimsTest, ::testing::Values(Backend::SQLite, Backend::PostgreSQL),
                         [](const auto& info) { return info.param == Backend::SQLite ? "SQLite" : "PostgreSQL"; });

}  // namespace
