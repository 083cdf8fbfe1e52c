// `vaxetl serve CONFIG` over a folder channel, as real processes: two daemons share the files,
// a daemon killed with SIGKILL loses its file to the next one, crashing runs are retried then
// parked, SIGTERM finishes the file in hand. Claims on SQLite and on PostgreSQL.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "daemon_support.hpp"
#include "pg_scratch_database.hpp"
#include "serve/claims.hpp"
#include "serve/file_daemon.hpp"
#include "vaxetl_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using vaxetl::daemon::ClaimState;
using vaxetl::daemon::ClaimStore;
using vaxetl::test::ServeProcess;
using vaxetl::test::wait_until;

enum class Backend { SQLite, PostgreSQL };

struct HttpAnswer {
  int status = 0;
  std::string body;
};

HttpAnswer http_get(std::uint16_t port, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::ostringstream body;
  body << in.rdbuf();
  return {static_cast<int>(response.getStatus()), body.str()};
}

struct DaemonSetup {
  std::string lease = "60s";
  std::string run_timeout = "120s";
  int attempts = 3;
  std::string source = "lines";  // "throws": every run fails (exit 70)
};

class DaemonTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::PostgreSQL) {
      std::string admin;
      VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
      pg_ = std::make_unique<vaxetl::test::PgScratchDatabase>(admin);
      claims_location_ = pg_->url();
    } else {
      claims_location_ = dir_ / "claims.sqlite";
    }
    fs::create_directories(inbox());
    fs::create_directories(outbox());
  }

  std::string inbox() const { return dir_ / "inbox"; }
  std::string outbox() const { return dir_ / "outbox"; }
  std::string ledger() const { return dir_ / "var/ledger.sqlite"; }

  // `extra`: more configuration, e.g. an http: section.
  std::string write_config(const DaemonSetup& setup, const std::string& extra = "") {
    vaxetl::test::PipelineOptions options;
    options.source = setup.source;
    const auto pipeline = vaxetl::test::write_fixture_pipeline(dir_, options);
    const std::string path = dir_ / "serve.yaml";
    vaxetl::test::write_file(path, "database: " + claims_location_ + "\n"
                                   "work_dir: " + dir_ / "work" + "\n"
                                   "poll_interval: 50ms\n"
                                   "lease: " + setup.lease + "\n"
                                   "run_timeout: " + setup.run_timeout + "\n"
                                   "channels:\n"
                                   "  - name: drop\n"
                                   "    kind: folder\n"
                                   "    inbox: " + inbox() + "\n"
                                   "    outbox: " + outbox() + "\n"
                                   "pipelines:\n"
                                   "  - " + pipeline.file + "\n"
                                   "retry:\n"
                                   "  attempts: " + std::to_string(setup.attempts) + "\n"
                                   "  backoff: 50ms\n"
                                   "  max: 200ms\n" + extra);
    return path;
  }

  // A file of `lines` records, its own content (event ids carry the name); every tenth record
  // is rejected (BAD), so each run has an error file.
  void drop(const std::string& name, int lines) {
    std::string text;
    for (int i = 1; i <= lines; ++i)
      text += name + "-E" + std::to_string(i) + (i % 10 == 0 ? " BAD value" : std::string(" value ") + std::to_string(i)) + "\n";
    vaxetl::test::write_file(dir_ / (std::string("staging-") + name), text);
    fs::rename(dir_ / (std::string("staging-") + name), inbox() + std::string("/") + name);  // appears whole
  }

  std::vector<vaxetl::daemon::Claim> claims() {
    return ClaimStore(claims_location_, "test:0:0").rows("drop");
  }
  std::size_t count_in(const std::string& dir) { return vaxetl::test::files_in(dir).size(); }
  std::string log(const std::string& name) const { return dir_ / name; }

  // Every file ran to the end exactly once: one successful run each in the ledger.
  void expect_each_loaded_once(const std::vector<std::string>& names) {
    const auto runs = vaxetl::test::ledger_runs(ledger());
    for (const auto& name : names) {
      const auto it = runs.find(name);
      ASSERT_NE(it, runs.end()) << name << " never ran";
      EXPECT_EQ(it->second.count("succeeded") ? it->second.at("succeeded") : 0, 1) << name;
      EXPECT_EQ(it->second.count("skipped"), 0u) << name << " ran again after it was loaded";
    }
  }

  vaxetl::test::TempDir dir_;
  std::unique_ptr<vaxetl::test::PgScratchDatabase> pg_;
  std::string claims_location_;
};

TEST_P(DaemonTest, TwoDaemonsProcessEachFileOnceAndSendErrorFilesBack) {
  const std::string config = write_config({});
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) {
    names.push_back(std::string("F") + std::to_string(100 + i) + ".txt");
    drop(names.back(), 30);
  }
  ServeProcess a(config, log("a.log"));
  ServeProcess b(config, log("b.log"));
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == names.size(); }))
      << "see " << log("a.log") << " and " << log("b.log");
  EXPECT_EQ(a.stop(), 0);
  EXPECT_EQ(b.stop(), 0);

  expect_each_loaded_once(names);
  const auto rows = claims();
  ASSERT_EQ(rows.size(), names.size());
  for (const auto& row : rows) {
    EXPECT_EQ(row.state, ClaimState::Done) << row.key.file_name;
    EXPECT_FALSE(row.run_id.empty());
    EXPECT_TRUE(row.reply_sent);
    EXPECT_EQ(row.sha256.size(), 64u);
  }
  // One error file per input, named after it (nc-rules.md), in the channel's outbox.
  const auto replies = vaxetl::test::files_in(outbox());
  ASSERT_EQ(replies.size(), names.size());
  for (const auto& name : names) {
    const auto match = std::count_if(replies.begin(), replies.end(), [&](const std::string& r) {
      return r.rfind(name + "_", 0) == 0 && r.size() > 10 && r.substr(r.size() - 10) == "_error.txt";
    });
    EXPECT_EQ(match, 1) << name;
  }
  EXPECT_EQ(count_in(inbox() + "/processing"), 0u);
}

TEST_P(DaemonTest, FileOfAKilledDaemonIsTakenOverAndLoadedOnce) {
  const std::string config = write_config({.lease = "1s"});
  const std::vector<std::string> names = {"BIG.txt", "SMALL1.txt", "SMALL2.txt"};
  drop(names[0], 400000);
  drop(names[1], 20);
  drop(names[2], 20);
  auto first = std::make_unique<ServeProcess>(config, log("first.log"));
  const pid_t first_pid = first->pid();
  std::string in_hand;
  ASSERT_TRUE(wait_until([&] {
    for (const auto& row : claims())
      if (row.state == ClaimState::Claimed) {
        in_hand = row.key.file_name;
        return true;
      }
    return false;
  })) << "see " << log("first.log");
  EXPECT_EQ(first->kill_now(), 128 + SIGKILL);

  ServeProcess second(config, log("second.log"));
  const pid_t second_pid = second.pid();
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == names.size(); })) << "see " << log("second.log");
  EXPECT_EQ(second.stop(), 0);

  expect_each_loaded_once(names);
  for (const auto& row : claims()) {
    EXPECT_EQ(row.state, ClaimState::Done) << row.key.file_name;
    if (row.key.file_name == in_hand) {
      // Taken over from the dead daemon: the row names the second one now.
      EXPECT_EQ(row.owner.find(std::string(":") + std::to_string(first_pid) + ":"), std::string::npos) << row.owner;
      EXPECT_NE(row.owner.find(std::string(":") + std::to_string(second_pid) + ":"), std::string::npos)
          << row.owner;
    }
  }
}

TEST_P(DaemonTest, CrashingRunsAreRetriedWithBackoffThenParkedWithAReason) {
  const std::string config = write_config({.attempts = 3, .source = "throws"});
  drop("DOOMED.txt", 5);
  ServeProcess daemon(config, log("serve.log"));
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/parked") == 1; })) << "see " << log("serve.log");
  // The failing child never took the daemon down.
  EXPECT_TRUE(daemon.running());
  EXPECT_EQ(daemon.stop(), 0);
  const auto rows = claims();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, ClaimState::Parked);
  EXPECT_EQ(rows[0].attempts, 3);
  EXPECT_NE(rows[0].reason.find("exited with code 70"), std::string::npos) << rows[0].reason;
  const auto runs = vaxetl::test::ledger_runs(ledger());
  ASSERT_EQ(runs.count("DOOMED.txt"), 1u);
  EXPECT_EQ(runs.at("DOOMED.txt").at("failed"), 3);
  EXPECT_EQ(count_in(outbox()), 0u);  // nothing judged, nothing sent back
}

TEST_P(DaemonTest, RunThatOutlivesItsTimeoutIsKilledAndParked) {
  const std::string config = write_config({.run_timeout = "1ms", .attempts = 2});
  drop("SLOW.txt", 50000);
  ServeProcess daemon(config, log("serve.log"));
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/parked") == 1; })) << "see " << log("serve.log");
  EXPECT_EQ(daemon.stop(), 0);
  const auto rows = claims();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, ClaimState::Parked);
  EXPECT_EQ(rows[0].attempts, 2);
  EXPECT_NE(rows[0].reason.find("timeout"), std::string::npos) << rows[0].reason;
}

TEST_P(DaemonTest, SigtermFinishesTheFileInHandAndTakesNoOther) {
  const std::string config = write_config({});
  drop("A-BIG.txt", 400000);
  ServeProcess daemon(config, log("serve.log"));
  ASSERT_TRUE(wait_until([&] {
    const auto rows = claims();
    return !rows.empty() && rows[0].state == ClaimState::Claimed;
  })) << "see " << log("serve.log");
  drop("B-LATER.txt", 10);  // arrives while the first is in hand
  EXPECT_EQ(daemon.stop(), 0);
  const auto rows = claims();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key.file_name, "A-BIG.txt");
  EXPECT_EQ(rows[0].state, ClaimState::Done);
  expect_each_loaded_once({"A-BIG.txt"});
  EXPECT_EQ(vaxetl::test::files_in(inbox() + "/done"), std::vector<std::string>{"A-BIG.txt"});
  EXPECT_TRUE(fs::exists(inbox() + "/B-LATER.txt"));
}

// A daemon died after the file's run committed and before its claim recorded the run: the
// next run is skipped by the ledger, and the first run's error file still goes back.
TEST_P(DaemonTest, FileLoadedBeforeItsClaimRecordedTheRunStillGetsItsErrorFileBack) {
  const std::string config = write_config({});
  drop("LOADED.txt", 30);
  // The first run, as the dead daemon's child made it: same file name, same bytes.
  fs::create_directories(dir_ / "first-run");
  fs::copy_file(inbox() + "/LOADED.txt", dir_ / "first-run/LOADED.txt");
  ASSERT_EQ(std::system((std::string(VAXETL_EXECUTABLE) + " run " + dir_ / "fixture_pipeline.yaml" + " --input " +
                         dir_ / "first-run/LOADED.txt" + " > /dev/null 2>&1").c_str()), 0);
  const auto first_reply = vaxetl::test::files_in(dir_ / "var/errors");
  ASSERT_EQ(first_reply.size(), 1u);

  ServeProcess daemon(config, log("serve.log"));
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == 1; })) << "see " << log("serve.log");
  EXPECT_EQ(daemon.stop(), 0);
  const auto runs = vaxetl::test::ledger_runs(ledger());
  EXPECT_EQ(runs.at("LOADED.txt").at("succeeded"), 1);
  EXPECT_EQ(runs.at("LOADED.txt").at("skipped"), 1);
  EXPECT_EQ(vaxetl::test::files_in(outbox()), first_reply);
  const auto rows = claims();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, ClaimState::Done);
  EXPECT_TRUE(rows[0].reply_sent);
}

// The queue the operator page shows, from a daemon embedded in this test.
TEST_P(DaemonTest, QueueSnapshotCountsPendingDoneAndParked) {
  write_config({.attempts = 1});
  auto loaded = vaxetl::daemon::DaemonConfig::load(dir_ / "serve.yaml", vaxetl::process_environment());
  loaded.program = VAXETL_EXECUTABLE;
  vaxetl::daemon::FileDaemon daemon(loaded);
  drop("ONE.txt", 5);
  drop("TWO.txt", 5);
  vaxetl::test::write_file(inbox() + "/MALFORMED.txt", "MALFORMED\n");
  std::atomic<bool> stop{false};
  EXPECT_EQ(daemon.poll_once(stop), 0u);  // a file is taken once two listings agree on it
  auto snapshot = daemon.queue_snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].channel, "drop");
  EXPECT_EQ(snapshot[0].done, 0);
  EXPECT_EQ(daemon.poll_once(stop), 3u);
  snapshot = daemon.queue_snapshot();
  EXPECT_EQ(snapshot[0].pending, 3);  // as listed at the start of that poll
  EXPECT_EQ(snapshot[0].done, 3);     // a file refused whole was judged: done, its error file sent
  EXPECT_EQ(snapshot[0].in_progress, 0);
  EXPECT_EQ(snapshot[0].parked, 0);
  EXPECT_EQ(daemon.poll_once(stop), 0u);
  EXPECT_EQ(daemon.queue_snapshot()[0].pending, 0);
  EXPECT_EQ(count_in(outbox()), 3u);
}

// A provider uploads a file with the same name and size after the first was settled: it is
// claimed and run again (not left in the inbox forever). The same bytes end skipped, with no
// second reply; changed bytes of the same size load.
TEST_P(DaemonTest, SameNameAndSizeUploadedAgainAfterItWasSettledIsRunAgain) {
  const std::string config = write_config({.lease = "1s"});
  drop("AGAIN.txt", 30);
  ServeProcess daemon(config, log("serve.log"));
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == 1; })) << "see " << log("serve.log");
  const std::string first_run = claims().at(0).run_id;

  drop("AGAIN.txt", 30);  // the very same bytes
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == 2; })) << "see " << log("serve.log");
  auto runs = vaxetl::test::ledger_runs(ledger());
  EXPECT_EQ(runs["AGAIN.txt"]["succeeded"], 1);
  EXPECT_EQ(runs["AGAIN.txt"]["skipped"], 1);
  auto rows = claims();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, ClaimState::Done);
  EXPECT_EQ(rows[0].generation, 1);
  EXPECT_EQ(rows[0].previous_run_id, first_run);
  EXPECT_FALSE(rows[0].run_id.empty());
  EXPECT_NE(rows[0].run_id, first_run);
  EXPECT_EQ(count_in(outbox()), 1u);  // the provider has the first upload's error file

  // Same name, same size, one byte changed: loaded.
  std::string changed = vaxetl::test::read_file(inbox() + "/done/AGAIN.txt");
  changed[changed.find("value 1")] = 'V';
  vaxetl::test::write_file(dir_ / "staging-changed", changed);
  fs::rename(dir_ / "staging-changed", inbox() + "/AGAIN.txt");
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == 3; })) << "see " << log("serve.log");
  runs = vaxetl::test::ledger_runs(ledger());
  EXPECT_EQ(runs["AGAIN.txt"]["succeeded"], 2);
  EXPECT_EQ(runs["AGAIN.txt"]["skipped"], 1);
  EXPECT_EQ(count_in(outbox()), 2u);

  // The first bytes once more: skipped as the first upload's content, whose reply went back
  // long ago; it is not sent again (its name is taken in the outbox) and the file is done.
  drop("AGAIN.txt", 30);
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == 4; })) << "see " << log("serve.log");
  EXPECT_EQ(daemon.stop(), 0);
  runs = vaxetl::test::ledger_runs(ledger());
  EXPECT_EQ(runs["AGAIN.txt"]["succeeded"], 2);
  EXPECT_EQ(runs["AGAIN.txt"]["skipped"], 2);
  rows = claims();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].generation, 3);
  EXPECT_EQ(rows[0].state, ClaimState::Done);
  EXPECT_EQ(rows[0].attempts, 0);
  EXPECT_EQ(count_in(outbox()), 2u);
  EXPECT_FALSE(fs::exists(inbox() + "/AGAIN.txt"));
  EXPECT_EQ(count_in(inbox() + "/processing"), 0u);
}

// A daemon died after the claim became done and before the file left processing/: the file is
// only settled. It is not a new upload, and nothing runs again.
TEST_P(DaemonTest, DoneClaimWhoseFileIsStillInProcessingIsSettledWithoutANewRun) {
  const std::string config = write_config({.lease = "1s"});
  drop("SETTLED.txt", 10);
  fs::create_directories(inbox() + "/processing");
  fs::rename(inbox() + "/SETTLED.txt", inbox() + "/processing/SETTLED.txt");
  {
    ClaimStore dead(claims_location_, "dead-host:1:1");
    const vaxetl::daemon::ClaimKey key{"drop", "SETTLED.txt", fs::file_size(inbox() + "/processing/SETTLED.txt")};
    ASSERT_TRUE(dead.try_claim(key, std::chrono::minutes(1)));
    dead.record_run(key, "RUN-EARLIER", "");
    dead.mark_done(key);
  }
  ServeProcess daemon(config, log("serve.log"));
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == 1; })) << "see " << log("serve.log");
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(vaxetl::test::ledger_runs(ledger()).count("SETTLED.txt"), 0u);
  const auto rows = claims();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, ClaimState::Done);
  EXPECT_EQ(rows[0].generation, 0);
  EXPECT_EQ(rows[0].run_id, "RUN-EARLIER");
  EXPECT_EQ(count_in(inbox() + "/processing"), 0u);
}

// `vaxetl serve` with an http: section hosts the operator page: health, and the queue gauges of
// its channel (a file another daemon holds is pending here and in progress), until SIGTERM.
TEST_P(DaemonTest, HostsTheOperatorPageWithTheQueueOfItsChannels) {
  const std::string config = write_config({}, "http:\n  bind: 127.0.0.1\n  port: 0\n");
  drop("LOADED.txt", 10);  // once loaded, the ledger exists and /healthz answers 200
  drop("HELD.txt", 10);
  ClaimStore holder(claims_location_, "other-host:1:1");
  ASSERT_TRUE(holder.try_claim({"drop", "HELD.txt", fs::file_size(inbox() + "/HELD.txt")}, std::chrono::minutes(10)));

  ServeProcess daemon(config, log("serve.log"));
  std::uint16_t port = 0;
  const std::regex url(R"(operator page at http://127\.0\.0\.1:([0-9]+)/)");
  ASSERT_TRUE(wait_until([&] {
    std::smatch match;
    const std::string text = vaxetl::test::read_file(log("serve.log"));
    if (!std::regex_search(text, match, url)) return false;
    port = static_cast<std::uint16_t>(std::stoi(match[1].str()));
    return true;
  })) << "see " << log("serve.log");
  ASSERT_TRUE(wait_until([&] { return count_in(inbox() + "/done") == 1; })) << "see " << log("serve.log");

  const HttpAnswer health = http_get(port, "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  std::string metrics;
  const bool queued = wait_until([&] {
    metrics = http_get(port, "/metrics").body;
    return metrics.find("vaxetl_queue_depth{channel=\"drop\",state=\"pending\"} 1\n") != std::string::npos;
  });
  EXPECT_TRUE(queued) << metrics;
  EXPECT_NE(metrics.find("vaxetl_queue_depth{channel=\"drop\",state=\"in_progress\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("vaxetl_queue_depth{channel=\"drop\",state=\"parked\"} 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vaxetl_inbox_oldest_pending_age_seconds{channel=\"drop\"}"), std::string::npos) << metrics;
  EXPECT_NE(http_get(port, "/").body.find("drop"), std::string::npos);

  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_THROW(http_get(port, "/healthz"), Poco::Net::NetException);  // the page stopped with it
  EXPECT_TRUE(fs::exists(inbox() + "/HELD.txt"));  // never taken from its holder
}

// A page that cannot start (its port is taken) stops the daemon before it takes any file.
TEST_P(DaemonTest, OperatorPageThatCannotStartStopsTheDaemonBeforeAnyFile) {
  // Without SO_REUSEADDR/SO_REUSEPORT, so nobody else can bind the port while it is held.
  Poco::Net::ServerSocket taken;
  taken.bind(Poco::Net::SocketAddress("127.0.0.1", 0), false, false);
  taken.listen();
  const std::string config =
      write_config({}, "http:\n  bind: 127.0.0.1\n  port: " + std::to_string(taken.address().port()) + "\n");
  drop("WAITING.txt", 10);
  ServeProcess daemon(config, log("serve.log"));
  ASSERT_TRUE(wait_until([&] { return !daemon.running(); })) << "see " << log("serve.log");
  EXPECT_EQ(daemon.stop(), 70);
  EXPECT_NE(vaxetl::test::read_file(log("serve.log")).find("the operator page cannot listen on 127.0.0.1:"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(inbox() + "/WAITING.txt"));
  EXPECT_TRUE(claims().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, DaemonTest, ::testing::Values(Backend::SQLite, Backend::PostgreSQL),
                         [](const auto& info) { return info.param == Backend::SQLite ? "SQLite" : "PostgreSQL"; });

}  // namespace
