// The daemon's configuration: the shipped sample loads, unknown keys and bad values are refused
// with file:line:column, ${VAR:-default} is applied, durations read as written.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "serve/daemon_config.hpp"
#include "vaxetl_test_support.hpp"

namespace {

using vaxetl::daemon::DaemonConfig;

vaxetl::EnvironmentLookup lookup(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

std::string all_problems(const std::string& path, const vaxetl::EnvironmentLookup& env) {
  try {
    DaemonConfig::load(path, env);
  } catch (const vaxetl::PipelineError& e) {
    std::string text;
    for (const auto& p : e.problems()) text += p + "\n";
    return text;
  }
  return "";
}

TEST(DaemonConfig, ShippedSampleLoads) {
  vaxetl::test::TempDir home;
  const auto config = DaemonConfig::load(std::string(VAXETL_SOURCE_DIR) + "/pipelines/serve.yaml",
                                         lookup({{"VAXETL_HOME", home.path()}}));
  EXPECT_EQ(config.database, home / "serve.sqlite");
  EXPECT_EQ(config.work_dir, home / "serve");
  ASSERT_EQ(config.channels.size(), 1u);
  EXPECT_EQ(config.channels[0].name, "local-drop");
  EXPECT_EQ(config.channels[0].kind, "folder");
  EXPECT_EQ(config.channels[0].settings.at("inbox"), home / "drop/inbox");
  ASSERT_EQ(config.pipelines.size(), 3u);
  EXPECT_EQ(config.pipelines[0], std::string(VAXETL_SOURCE_DIR) + "/pipelines/ncvr-daily.yaml");
  EXPECT_EQ(config.mllp_pipeline, std::string(VAXETL_SOURCE_DIR) + "/pipelines/vxu-mllp.yaml");
  EXPECT_EQ(config.retry.attempts, 5);
  EXPECT_EQ(config.retry.backoff, std::chrono::minutes(1));
  EXPECT_EQ(config.retry.max_backoff, std::chrono::hours(1));
  EXPECT_EQ(config.poll_interval, std::chrono::seconds(10));
  EXPECT_EQ(config.run_timeout, std::chrono::hours(2));
  // The operator page, on loopback, read-only until a users file is configured.
  EXPECT_TRUE(config.http.enabled);
  EXPECT_EQ(config.http.bind, "127.0.0.1");
  EXPECT_EQ(config.http.port, 8080);
  EXPECT_TRUE(config.http.users_file.empty());
  EXPECT_TRUE(vaxetl::daemon::is_daemon_config(std::string(VAXETL_SOURCE_DIR) + "/pipelines/serve.yaml"));
  EXPECT_FALSE(vaxetl::daemon::is_daemon_config(std::string(VAXETL_SOURCE_DIR) + "/pipelines/vxu-mllp.yaml"));
}

TEST(DaemonConfig, UnknownKeysAndBadValuesAreRefusedWithFileAndLine) {
  vaxetl::test::TempDir dir;
  const std::string path = dir / "serve.yaml";
  vaxetl::test::write_file(path,
                           std::string("database: ${CLAIMS_DB:-") + dir / "claims.sqlite" + "}\n"
                           "poll_interval: soon\n"
                           "retyr: {attempts: 3}\n"
                           "retry:\n"
                           "  attempts: 0\n"
                           "  backof: 1s\n"
                           "channels:\n"
                           "  - name: drop\n"
                           "    kind: carrier-pigeon\n"
                           "pipelines: [missing.yaml]\n"
                           "http:\n"
                           "  bind: 127.0.0.1\n"
                           "  prot: 8080\n"
                           "  port: 99999\n"
                           "  tls_certificate: console.pem\n");
  const std::string problems = all_problems(path, lookup({}));
  EXPECT_NE(problems.find(path + ":13:3: unknown key http.prot"), std::string::npos) << problems;
  EXPECT_NE(problems.find(path + ":14:9: http.port must be an integer from 0 to 65535"), std::string::npos) << problems;
  EXPECT_NE(problems.find("http.tls_certificate and http.tls_private_key go together"), std::string::npos) << problems;
  EXPECT_NE(problems.find(path + ":2:16: poll_interval: 'soon' is not a duration"), std::string::npos) << problems;
  EXPECT_NE(problems.find(path + ":3:1: unknown key 'retyr'"), std::string::npos) << problems;
  EXPECT_NE(problems.find(path + ":5:13: retry.attempts must be an integer from 1 to 100"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find(path + ":6:3: unknown key retry.backof"), std::string::npos) << problems;
  EXPECT_NE(problems.find(path + ":8:5: channel drop: "), std::string::npos) << problems;
  EXPECT_NE(problems.find(path + ":10:13: pipeline file not found: " + dir / "missing.yaml"), std::string::npos)
      << problems;
}

TEST(DaemonConfig, VariablesAndDefaultsAreApplied) {
  vaxetl::test::TempDir dir;
  const std::string path = dir / "serve.yaml";
  vaxetl::test::write_file(path, "database: ${CLAIMS_DB:-fallback.sqlite}\nlease: ${LEASE:-90s}\nchannels: []\n");
  auto config = DaemonConfig::load(path, lookup({{"CLAIMS_DB", "postgresql://serve@db/claims"}}));
  EXPECT_EQ(config.database, "postgresql://serve@db/claims");
  EXPECT_EQ(config.lease, std::chrono::seconds(90));
  EXPECT_TRUE(config.channels.empty());
}

TEST(DaemonConfig, Durations) {
  using vaxetl::daemon::parse_duration;
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("30"), std::chrono::seconds(30));
  EXPECT_EQ(parse_duration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(parse_duration("2h"), std::chrono::hours(2));
  EXPECT_THROW(parse_duration("2 h"), std::invalid_argument);
  EXPECT_THROW(parse_duration("-1s"), std::invalid_argument);
  EXPECT_THROW(parse_duration("400d"), std::invalid_argument);
}

}  // namespace
