// The operator's page over HTTP(S), with Poco's client: health, metrics against a ledger the
// test filled, the overview's numbers, logins, CSRF, the actions through the real vaxetl
// binary, error files only from the error directories, loopback binding and TLS.
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include <cstdlib>
#include <regex>

#include "console_test_support.hpp"
#include "metrics.hpp"
#include "pg_scratch_database.hpp"

namespace vaxetl::console::test {
namespace {

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

class ConsoleHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { filled = fill_ledger(dir); }

  ConsoleSettings settings(bool with_users = true) const {
    ConsoleSettings s;
    s.ledger = filled.ledger;
    s.error_dirs = {filled.error_dir};
    if (with_users) s.users_file = filled.users_file;
    s.vaxetl_executable = VAXETL_EXECUTABLE;
    return s;
  }

  std::unique_ptr<ConsoleServer> start(ConsoleSettings s, QueueSnapshot queues = {}) {
    auto server = std::make_unique<ConsoleServer>(std::move(s), std::move(queues));
    server->start();
    client.port = server->port();
    return server;
  }

  TempDir dir;
  FilledLedger filled;
  Client client;
};

TEST_F(ConsoleHttpTest, HealthzAnswersOkWhenTheLedgerAnswers) {
  auto server = start(settings());
  const Reply reply = client.send("GET", "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok\n");
}

TEST_F(ConsoleHttpTest, HealthzAnswers503WithoutALedger) {
  auto s = settings();
  s.ledger = dir / "nowhere/ledger.sqlite";
  auto server = start(s);
  EXPECT_EQ(client.send("GET", "/healthz").status, 503);
  const Reply metrics = client.send("GET", "/metrics");
  EXPECT_NE(metrics.body.find("\nvaxetl_ledger_up 0\n"), std::string::npos) << metrics.body;
  EXPECT_FALSE(std::filesystem::exists(dir / "nowhere")) << "a health check must not create a ledger";
}

TEST_F(ConsoleHttpTest, MetricsAreValidPrometheusTextWithTheLedgersNumbers) {
  auto server = start(settings(), [] {
    return std::vector<ChannelQueue>{{"sftp-nchc", 3, 1, 2, 1, 42.5}};
  });
  const Reply reply = client.send("GET", "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(reply.content_type.find("text/plain; version=0.0.4"), std::string::npos);
  const std::string& m = reply.body;
  auto has = [&](const std::string& line) {
    EXPECT_NE(m.find("\n" + line + "\n"), std::string::npos) << "missing: " << line << "\n" << m;
  };
  has("vaxetl_ledger_up 1");
  has("# TYPE vaxetl_files gauge");
  has("vaxetl_files{org=\"ORGA\",status=\"succeeded\"} 2");
  has("vaxetl_files{org=\"ORGB\",status=\"held\"} 1");
  has("# TYPE vaxetl_records_total counter");
  has("vaxetl_records_total{org=\"ORGA\",outcome=\"received\"} 510");
  has("vaxetl_records_total{org=\"ORGA\",outcome=\"loaded\"} 486");
  has("vaxetl_records_total{org=\"ORGA\",outcome=\"rejected\"} 24");
  has("vaxetl_records_total{org=\"ORGB\",outcome=\"held\"} 300");
  // The org needs escaping: quote and backslash.
  has("vaxetl_files{org=\"Q\\\"X\\\\Y\",status=\"failed\"} 1");
  // ORGA's runs took 12 s and 1 s.
  has("# TYPE vaxetl_run_duration_seconds histogram");
  has("vaxetl_run_duration_seconds_bucket{org=\"ORGA\",le=\"5\"} 1");
  has("vaxetl_run_duration_seconds_bucket{org=\"ORGA\",le=\"15\"} 2");
  has("vaxetl_run_duration_seconds_bucket{org=\"ORGA\",le=\"+Inf\"} 2");
  has("vaxetl_run_duration_seconds_sum{org=\"ORGA\"} 13");
  has("vaxetl_run_duration_seconds_count{org=\"ORGA\"} 2");
  has("# TYPE vaxetl_findings_total counter");
  has("vaxetl_findings_total{org=\"ORGA\",code=\"NCVR_AGE\"} 20");
  has("vaxetl_findings_total{org=\"ORGA\",code=\"NCVR_NDC_UNIT_OF_USE\"} 4");
  has("vaxetl_provider_paused{org=\"ORGB\"} 1");
  has("vaxetl_provider_paused{org=\"ORGA\"} 0");
  has("vaxetl_provider_held_files{org=\"ORGB\"} 1");
  has("vaxetl_provider_race_ethnicity_unknown_ratio{org=\"ORGB\"} 0.10000000000000001");
  has("vaxetl_queue_depth{channel=\"sftp-nchc\",state=\"pending\"} 3");
  has("vaxetl_queue_depth{channel=\"sftp-nchc\",state=\"parked\"} 1");
  has("vaxetl_inbox_oldest_pending_age_seconds{channel=\"sftp-nchc\"} 42.5");

  // Every sample belongs to a family declared with HELP and TYPE before it, and no line names
  // an input file (the file names are not PHI, but they are not labels either).
  std::set<std::string> declared;
  std::istringstream lines(m);
  const std::regex help(R"(^# HELP ([a-z_]+) \S.*$)"), type(R"(^# TYPE ([a-z_]+) (gauge|counter|histogram|summary)$)");
  const std::regex sample(R"(^([a-z_]+)(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [-+0-9.eE]+(Inf)?$)");
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_match(line, match, help)) continue;
    if (std::regex_match(line, match, type)) {
      declared.insert(match[1]);
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, match, sample)) << "not a sample line: " << line;
    std::string family = match[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (!declared.count(family) && family.ends_with(suffix)) family.resize(family.size() - std::strlen(suffix));
    EXPECT_TRUE(declared.count(family)) << "undeclared family: " << line;
    EXPECT_EQ(line.find("COVID_"), std::string::npos) << line;
  }
}

// The same health, metrics and page on a ledger in PostgreSQL (a scratch database of its own).
TEST(ConsoleOnPostgresqlTest, HealthMetricsAndPageReadAPostgresqlLedger) {
  std::string admin_url;
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin_url);
  vaxetl::test::PgScratchDatabase database(admin_url);
  TempDir dir;
  const FilledLedger filled = fill_ledger(dir, database.url());
  ConsoleSettings s;
  s.ledger = filled.ledger;
  s.error_dirs = {filled.error_dir};
  s.vaxetl_executable = VAXETL_EXECUTABLE;
  ConsoleServer server(s);
  server.start();
  Client client;
  client.port = server.port();
  EXPECT_EQ(client.send("GET", "/healthz").body, "ok\n");
  const std::string metrics = client.send("GET", "/metrics").body;
  for (const char* line : {"vaxetl_ledger_up 1", "vaxetl_files{org=\"ORGA\",status=\"succeeded\"} 2",
                           "vaxetl_records_total{org=\"ORGA\",outcome=\"loaded\"} 486",
                           "vaxetl_findings_total{org=\"ORGA\",code=\"NCVR_AGE\"} 20",
                           "vaxetl_run_duration_seconds_sum{org=\"ORGA\"} 13", "vaxetl_provider_paused{org=\"ORGB\"} 1"})
    EXPECT_NE(metrics.find(std::string("\n") + line + "\n"), std::string::npos) << line << "\n" << metrics;
  const std::string page = client.send("GET", "/").body;
  EXPECT_NE(page.find("<td class=\"n received\">510</td>"), std::string::npos) << page;
  EXPECT_NE(page.find("<td class=\"n populated\">90.00%</td>"), std::string::npos) << page;
  EXPECT_NE(page.find("id=\"ledger\">ledger: postgresql://"), std::string::npos) << "the page names the ledger it reads";
}

TEST_F(ConsoleHttpTest, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST_F(ConsoleHttpTest, PageShowsTodaysRunsAndHeldProvidersWithoutActionsBeforeLogin) {
  auto server = start(settings());
  const Reply reply = client.send("GET", "/");
  ASSERT_EQ(reply.status, 200);
  const std::string& page = reply.body;
  EXPECT_NE(page.find("<tr id=\"org-ORGA\"><td>ORGA</td><td class=\"n runs\">2</td><td class=\"n received\">510</td>"
                      "<td class=\"n loaded\">486</td><td class=\"n rejected\">24</td><td class=\"n held\">0</td>"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("<tr id=\"held-ORGB\"><td>ORGB</td><td class=\"paused\">paused</td><td class=\"n held-files\">1"
                      "</td><td class=\"n populated\">90.00%</td><td class=\"n unknown\">10.00%</td>"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("id=\"held-ORGC\""), std::string::npos);
  EXPECT_EQ(page.find("id=\"held-ORGA\""), std::string::npos) << "an active provider with nothing held is not listed";
  EXPECT_NE(page.find("Q&quot;X\\Y"), std::string::npos) << "names are escaped";
  EXPECT_EQ(page.find("Q\"X"), std::string::npos);
  EXPECT_NE(page.find("href=\"/errors/" + filled.run_a + "\""), std::string::npos);
  EXPECT_EQ(page.find("action=\"/actions/"), std::string::npos) << "no action forms before login";
  EXPECT_EQ(page.find("COVID_2026"), std::string::npos) << "input paths stay off the page";
  EXPECT_NE(page.find("id=\"no-queues\""), std::string::npos);
}

TEST_F(ConsoleHttpTest, ActionsRequireALogin) {
  auto server = start(settings());
  const Reply reply = client.send("POST", "/actions/resume", "org=ORGC&csrf=x");
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(Ledger(filled.ledger).provider("ORGC").status, "paused");
  EXPECT_EQ(client.send("GET", "/errors/" + filled.run_a).status, 401) << "error files quote records: login first";
}

TEST_F(ConsoleHttpTest, LoginSetsAStrictHttpOnlyCookieAndShowsTheForms) {
  auto server = start(settings());
  const Reply reply = client.login(kUser, kPassword);
  EXPECT_EQ(reply.status, 303);
  EXPECT_EQ(reply.location, "/");
  EXPECT_NE(reply.set_cookie.find("HttpOnly"), std::string::npos) << reply.set_cookie;
  EXPECT_NE(reply.set_cookie.find("SameSite=Strict"), std::string::npos) << reply.set_cookie;
  EXPECT_EQ(lower(reply.set_cookie).find("secure"), std::string::npos) << "plain HTTP: no Secure flag";
  const Reply page = client.send("GET", "/");
  EXPECT_NE(page.body.find("id=\"resume-ORGB\""), std::string::npos);
  EXPECT_NE(page.body.find("action=\"/actions/rerun\""), std::string::npos);
  EXPECT_FALSE(client.csrf_token().empty());
}

TEST_F(ConsoleHttpTest, BadPasswordsAreRefusedAndThenRateLimited) {
  auto server = start(settings());
  EXPECT_EQ(client.login("mallory", kPassword).status, 401);
  for (int i = 1; i < 5; ++i) EXPECT_EQ(client.login(kUser, "wrong password " + std::to_string(i)).status, 401);
  EXPECT_TRUE(client.cookie.empty());
  // Five failures from this address: even the right password waits now.
  const Reply locked = client.login(kUser, kPassword);
  EXPECT_EQ(locked.status, 429);
  EXPECT_TRUE(client.cookie.empty());
}

TEST_F(ConsoleHttpTest, ActionsRefuseAMissingOrWrongCsrfToken) {
  auto server = start(settings());
  ASSERT_EQ(client.login(kUser, kPassword).status, 303);
  EXPECT_EQ(client.send("POST", "/actions/resume", "org=ORGC").status, 403);
  EXPECT_EQ(client.send("POST", "/actions/resume", "org=ORGC&csrf=" + std::string(64, '0')).status, 403);
  EXPECT_EQ(Ledger(filled.ledger).provider("ORGC").status, "paused");
  const std::string csrf = client.csrf_token();
  EXPECT_EQ(client.send("POST", "/actions/resume", "org=..%2Fetc&csrf=" + csrf).status, 400);
}

TEST_F(ConsoleHttpTest, ResumeRunsVaxetlAndShowsItsExit) {
  auto server = start(settings());
  ASSERT_EQ(client.login(kUser, kPassword).status, 303);
  const Reply reply = client.send("POST", "/actions/resume", "org=ORGC&csrf=" + client.csrf_token());
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.body.find("<b id=\"action-exit\">0</b>"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("provider ORGC resumed; held files loaded: 0"), std::string::npos) << reply.body;
  EXPECT_EQ(Ledger(filled.ledger).provider("ORGC").status, "active");
}

TEST_F(ConsoleHttpTest, RerunRunsVaxetlAndShowsTheNewRun) {
  // A real run of the fixture pipeline (lines -> upper -> capture) into the same ledger.
  vaxetl::test::PipelineOptions options;
  const auto pipeline = vaxetl::test::write_fixture_pipeline(dir, options);
  ASSERT_EQ(pipeline.ledger, filled.ledger);
  write_file(dir / "input.txt", "one\ntwo\n");
  const std::string command = std::string(VAXETL_EXECUTABLE) + " run " + pipeline.file + " --input " +
                              (dir / "input.txt") + " --no-progress > " + (dir / "run.out") + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << vaxetl::test::read_file(dir / "run.out");
  std::smatch m;
  const std::string run_out = vaxetl::test::read_file(dir / "run.out");
  ASSERT_TRUE(std::regex_search(run_out, m, std::regex("run: +(R\\S+)")));
  const std::string original = m[1];

  auto server = start(settings());
  ASSERT_EQ(client.login(kUser, kPassword).status, 303);
  const Reply reply = client.send("POST", "/actions/rerun", "run_id=" + original + "&csrf=" + client.csrf_token());
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.body.find("<b id=\"action-exit\">0</b>"), std::string::npos) << reply.body;
  ASSERT_TRUE(std::regex_search(reply.body, m, std::regex("<li class=\"new-run\">(R[^<]+)</li>"))) << reply.body;
  const auto rerun = Ledger(filled.ledger).find(m[1]);
  ASSERT_TRUE(rerun.has_value());
  EXPECT_EQ(rerun->rerun_of, original);
  EXPECT_EQ(rerun->status, "succeeded");
  EXPECT_EQ(rerun->counts.received, 2);

  // An unknown run: vaxetl says so (exit 74), and no run is shown.
  const Reply unknown = client.send("POST", "/actions/rerun", "run_id=R20990101T000000Z-00000000&csrf=" + client.csrf_token());
  EXPECT_NE(unknown.body.find("<b id=\"action-exit\">74</b>"), std::string::npos) << unknown.body;
  EXPECT_NE(unknown.body.find("id=\"action-no-run\""), std::string::npos);
}

TEST_F(ConsoleHttpTest, ErrorFilesComeOnlyFromTheErrorDirectories) {
  auto server = start(settings());
  ASSERT_EQ(client.login(kUser, kPassword).status, 303);
  const Reply ok = client.send("GET", "/errors/" + filled.run_a);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.rfind("line|vax_event_id|", 0), 0u);
  EXPECT_EQ(client.send("GET", "/errors/" + filled.run_outside).status, 404) << "recorded outside the error dir";
  EXPECT_EQ(client.send("GET", "/errors/..%2F..%2F..%2Fetc%2Fpasswd").status, 404);
  EXPECT_EQ(client.send("GET", "/errors/../../etc/passwd").status, 404);
  EXPECT_EQ(client.send("GET", "/errors/" + filled.run_b).status, 404) << "a run without an error file";
}

TEST_F(ConsoleHttpTest, BindsToLoopbackOnlyByDefault) {
  EXPECT_EQ(ConsoleSettings{}.bind_address, "127.0.0.1");
  auto server = start(settings());
  EXPECT_EQ(client.send("GET", "/healthz").status, 200);
  // 127.0.0.2 is this machine too, but not the address the console listens on.
  Poco::Net::StreamSocket socket;
  EXPECT_THROW(socket.connect(Poco::Net::SocketAddress("127.0.0.2", server->port()), Poco::Timespan(5, 0)),
               Poco::Net::NetException);
}

TEST_F(ConsoleHttpTest, ASecondPageOnAPortInUseFailsInsteadOfSharingIt) {
  auto first = start(settings());
  ConsoleSettings same_port = settings();
  same_port.port = first->port();
  ConsoleServer second(std::move(same_port), {});
  EXPECT_ANY_THROW(second.start());
  EXPECT_EQ(client.send("GET", "/healthz").status, 200);  // the first still answers
}

TEST_F(ConsoleHttpTest, WithoutAUsersFileThePageIsReadOnly) {
  auto server = start(settings(false));
  EXPECT_EQ(client.send("GET", "/login").status, 404);
  EXPECT_EQ(client.send("POST", "/login", "user=alice&password=x").status, 404);
  EXPECT_EQ(client.send("POST", "/actions/resume", "org=ORGC&csrf=x").status, 403);
  const Reply page = client.send("GET", "/");
  EXPECT_NE(page.body.find("read-only"), std::string::npos);
  EXPECT_EQ(page.body.find("action=\"/actions/"), std::string::npos);
}

TEST_F(ConsoleHttpTest, ServesHttpsWithAGeneratedCertificate) {
  const std::string cert = dir / "cert.pem", key = dir / "key.pem";
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
                              " -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
                              ">/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto s = settings();
  s.tls_certificate = cert;
  s.tls_private_key = key;
  auto server = start(s);
  EXPECT_TRUE(server->tls());

  Poco::Net::initializeSSL();
  client.host = "localhost";
  client.tls = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", cert, Poco::Net::Context::VERIFY_STRICT);
  const Reply health = client.send("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const Reply login = client.login(kUser, kPassword);
  EXPECT_EQ(login.status, 303);
  EXPECT_NE(lower(login.set_cookie).find("; secure"), std::string::npos) << login.set_cookie;

  // Plain HTTP to the TLS port gets no page.
  Client plain;
  plain.port = server->port();
  EXPECT_ANY_THROW(plain.send("GET", "/healthz"));
}

TEST_F(ConsoleHttpTest, VaxetlConsoleSetsPasswordsAndServesUntilSigterm) {
  const std::string users = dir / "operators";
  const std::string vaxetl = VAXETL_EXECUTABLE;
  const std::string set_bob = "printf '%s\\n' 'a long enough passphrase' | " + vaxetl + " console passwd " + users + " bob";
  ASSERT_EQ(std::system(set_bob.c_str()), 0);
  const std::string short_one = "printf 'short\\n' | " + vaxetl + " console passwd " + users + " eve 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(short_one.c_str())), 64);
  const std::string line = vaxetl::test::read_file(users);
  EXPECT_TRUE(std::regex_match(line, std::regex("bob:pbkdf2-sha256\\$600000\\$[0-9a-f]{32}\\$[0-9a-f]{64}\n"))) << line;
  EXPECT_EQ(std::filesystem::status(users).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);

  Poco::Pipe out;
  Poco::ProcessHandle console = Poco::Process::launch(
      vaxetl, {"console", "--ledger", filled.ledger, "--users", users, "--error-dir", filled.error_dir}, nullptr, &out,
      nullptr);
  struct Stop {  // the console never outlives the test, whatever fails
    Poco::ProcessHandle& handle;
    ~Stop() {
      if (Poco::Process::isRunning(handle)) Poco::Process::kill(handle);
    }
  } stop{console};
  Poco::PipeInputStream from_console(out);
  std::string first;
  std::getline(from_console, first);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(first, m, std::regex("console: http://127\\.0\\.0\\.1:(\\d+)/"))) << "[" << first << "]";
  client.port = static_cast<uint16_t>(std::stoi(m[1]));
  EXPECT_EQ(client.send("GET", "/healthz").status, 200);
  EXPECT_EQ(client.login("bob", "a long enough passphrase").status, 303);
  EXPECT_EQ(client.send("GET", "/errors/" + filled.run_a).status, 200);
  Poco::Process::requestTermination(console.id());
  EXPECT_EQ(console.wait(), 0);
}

}  // namespace
}  // namespace vaxetl::console::test
