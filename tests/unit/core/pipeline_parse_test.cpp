// parse_pipeline: structure errors carry file:line:column; values are interpolated; relative
// plugin paths are resolved against the pipeline file's directory.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

EnvironmentLookup env(std::map<std::string, std::string> values = {}) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// The problems parse_pipeline reports for `path`, or a test failure if it parses.
std::vector<std::string> parse_problems(const std::string& path, const EnvironmentLookup& lookup = env()) {
  try {
    parse_pipeline(path, lookup);
  } catch (const PipelineError& e) {
    return e.problems();
  }
  ADD_FAILURE() << path << " parsed without problems";
  return {};
}

const std::string kMinimalStages =
    "source:\n"
    "  plugin: lines\n"
    "sink:\n"
    "  plugin: capture\n";

class ParsePipeline : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ / name;
    test::write_file(path, text);
    return path;
  }
  test::TempDir dir_;
};

TEST_F(ParsePipeline, ReadsAllTopLevelSettings) {
  const std::string path = write("p.yaml",
                                 "name: nightly\n"
                                 "description: the nightly load\n"
                                 "batch_size: 250\n"
                                 "ledger: /var/lib/vaxetl/ledger.sqlite\n"
                                 "error_dir: /var/lib/vaxetl/errors\n"
                                 "source:\n"
                                 "  plugin: lines\n"
                                 "  version: ^1.0\n"
                                 "  config:\n"
                                 "    header_lines: 2\n"
                                 "transforms:\n"
                                 "  - plugin: upper\n"
                                 "sink:\n"
                                 "  plugin: capture\n"
                                 "  config:\n"
                                 "    output: /tmp/out.tsv\n"
                                 "    format: csv\n");
  const PipelineSpec spec = parse_pipeline(path, env());
  EXPECT_EQ(spec.path, path);
  EXPECT_EQ(spec.name, "nightly");
  EXPECT_EQ(spec.description, "the nightly load");
  EXPECT_EQ(spec.batch_size, 250u);
  EXPECT_EQ(spec.ledger, "/var/lib/vaxetl/ledger.sqlite");
  EXPECT_EQ(spec.error_dir, "/var/lib/vaxetl/errors");
  EXPECT_EQ(spec.source.role, "source");
  EXPECT_EQ(spec.source.plugin, "lines");
  EXPECT_EQ(spec.source.version_constraint, "^1.0");
  ASSERT_EQ(spec.source.config.size(), 1u);
  EXPECT_EQ(spec.source.config[0].key, "header_lines");
  EXPECT_EQ(spec.source.config[0].value, "2");
  EXPECT_EQ(spec.source.config[0].location.str(), path + ":10:19");
  EXPECT_EQ(spec.source.location.str(), path + ":7:3");
  ASSERT_EQ(spec.transforms.size(), 1u);
  EXPECT_EQ(spec.transforms[0].role, "transforms[0]");
  EXPECT_EQ(spec.transforms[0].plugin, "upper");
  EXPECT_EQ(spec.transforms[0].version_constraint, "*");
  EXPECT_EQ(spec.sink.plugin, "capture");
  ASSERT_EQ(spec.sink.config.size(), 2u);
  EXPECT_EQ(spec.sink.config[1].key, "format");
  EXPECT_EQ(spec.sink.config[1].value, "csv");
}

TEST_F(ParsePipeline, AppliesDefaultsForOmittedSettings) {
  const std::string path = write("daily_feed.yaml", kMinimalStages);
  const PipelineSpec spec = parse_pipeline(path, env());
  EXPECT_EQ(spec.name, "daily_feed");
  EXPECT_EQ(spec.description, "");
  EXPECT_EQ(spec.batch_size, 10000u);
  EXPECT_EQ(spec.ledger, "var/ledger.sqlite");
  EXPECT_EQ(spec.error_dir, "var/errors");
  EXPECT_TRUE(spec.plugin_paths.empty());
  EXPECT_TRUE(spec.transforms.empty());
  EXPECT_EQ(spec.source.version_constraint, "*");
}

TEST_F(ParsePipeline, ReportsUnknownTopLevelKeyWithLineAndColumn) {
  const std::string path = write("p.yaml",
                                 "name: p\n"                // 1
                                 "source:\n"                // 2
                                 "  plugin: lines\n"        // 3
                                 "error_directory: /x\n"    // 4
                                 "sink:\n"                  // 5
                                 "  plugin: capture\n");    // 6
  EXPECT_EQ(parse_problems(path),
            (std::vector<std::string>{
                path + ":4:1: unknown key 'error_directory'; known keys: name, description, "
                       "plugin_paths, batch_size, ledger, error_dir, held_dir, file_names, file_format, "
                       "environments, race_ethnicity_gate, source, transforms, sink, mllp"}));
}

TEST_F(ParsePipeline, ReportsUnknownStageKeyWithLineAndColumn) {
  const std::string path = write("p.yaml",
                                 "source:\n"                // 1
                                 "  plugin: lines\n"        // 2
                                 "  confg:\n"               // 3
                                 "    header_lines: 1\n"    // 4
                                 "transforms:\n"            // 5
                                 "  - plugin: upper\n"      // 6
                                 "    verison: ^1\n"        // 7
                                 "sink:\n"                  // 8
                                 "  plugin: capture\n");    // 9
  EXPECT_EQ(parse_problems(path),
            (std::vector<std::string>{
                path + ":3:3: source: unknown key 'confg'; known keys: plugin, version, config",
                path + ":7:5: transforms[0]: unknown key 'verison'; known keys: plugin, version, "
                       "config"}));
}

TEST_F(ParsePipeline, ReportsMissingStagesAndPluginNames) {
  const std::string path = write("p.yaml",
                                 "name: p\n"             // 1
                                 "source:\n"             // 2
                                 "  version: ^1\n");     // 3
  EXPECT_EQ(parse_problems(path),
            (std::vector<std::string>{
                path + ":3:3: source names no plugin (add 'plugin: <name>')",
                path + ":1:1: the pipeline has no sink stage"}));
}

TEST_F(ParsePipeline, AcceptsBatchSizeFromOneToOneMillion) {
  for (const std::string size : {"1", "1000000"}) {
    const std::string path = write("p.yaml", "batch_size: " + size + "\n" + kMinimalStages);
    EXPECT_EQ(parse_pipeline(path, env()).batch_size, static_cast<uint32_t>(std::stoul(size)));
  }
}

TEST_F(ParsePipeline, RefusesBatchSizeOutOfRangeOrNotAnInteger) {
  for (const std::string size : {"0", "-1", "1000001", "10k", "2.5", "99999999999999999999"}) {
    const std::string path = write("p.yaml",
                                   "name: p\n"                          // 1
                                   "batch_size: " + size + "\n" +       // 2
                                   kMinimalStages);
    EXPECT_EQ(parse_problems(path),
              (std::vector<std::string>{path +
                                        ":2:13: batch_size must be an integer from 1 to 1000000"}))
        << "batch_size " << size;
  }
}

TEST_F(ParsePipeline, ResolvesRelativePluginPathsAgainstPipelineDirectory) {
  const std::string path = write("conf/pipelines/p.yaml",
                                 "plugin_paths:\n"
                                 "  - plugins\n"
                                 "  - ../shared/./plugins\n"
                                 "  - /opt/vaxetl/plugins\n"
                                 "  - ${PLUGIN_HOME}/extra\n" + kMinimalStages);
  const PipelineSpec spec = parse_pipeline(path, env({{"PLUGIN_HOME", "/srv/plugins"}}));
  EXPECT_EQ(spec.plugin_paths,
            (std::vector<std::string>{dir_ / "conf/pipelines/plugins", dir_ / "conf/shared/plugins",
                                      "/opt/vaxetl/plugins", "/srv/plugins/extra"}));
}

TEST_F(ParsePipeline, RefusesPluginPathsThatAreNotAList) {
  const std::string path = write("p.yaml",
                                 "plugin_paths: /opt/plugins\n" + kMinimalStages);
  EXPECT_EQ(parse_problems(path),
            (std::vector<std::string>{path + ":1:15: plugin_paths must be a list of directories"}));
}

TEST_F(ParsePipeline, InterpolatesValuesAndNamesUnsetVariables) {
  const std::string path = write("p.yaml",
                                 "name: ${PIPELINE_NAME:-fallback}\n"    // 1
                                 "source:\n"                             // 2
                                 "  plugin: lines\n"                     // 3
                                 "sink:\n"                               // 4
                                 "  plugin: capture\n"                   // 5
                                 "  config:\n"                           // 6
                                 "    output: ${OUT_DIR}/x.tsv\n"        // 7
                                 "    format: $${literal}\n");           // 8
  const PipelineSpec spec = parse_pipeline(path, env({{"OUT_DIR", "/data"}}));
  EXPECT_EQ(spec.name, "fallback");
  EXPECT_EQ(spec.sink.config[0].value, "/data/x.tsv");
  EXPECT_EQ(spec.sink.config[1].value, "${literal}");

  EXPECT_EQ(parse_problems(path),
            (std::vector<std::string>{
                path + ":7:13: sink.config.output: environment variable OUT_DIR is not set; set it "
                       "or write ${OUT_DIR:-default}"}));
}

TEST_F(ParsePipeline, ReportsYamlSyntaxErrorWithPosition) {
  const std::string path = write("p.yaml",
                                 "source:\n"
                                 "  plugin: [lines\n");
  const std::vector<std::string> problems = parse_problems(path);
  ASSERT_EQ(problems.size(), 1u);
  const std::string prefix = path + ":";
  EXPECT_EQ(problems[0].substr(0, prefix.size()), prefix);
  EXPECT_NE(problems[0].find(": YAML syntax error: "), std::string::npos) << problems[0];
}

TEST_F(ParsePipeline, ReportsUnreadableFile) {
  const std::string path = dir_ / "missing.yaml";
  EXPECT_EQ(parse_problems(path),
            (std::vector<std::string>{path + ": cannot read the pipeline file"}));
}

TEST_F(ParsePipeline, RefusesDocumentThatIsNotAMapping) {
  const std::string path = write("p.yaml", "- source\n- sink\n");
  EXPECT_EQ(parse_problems(path),
            (std::vector<std::string>{
                path + ":1:1: a pipeline must be a mapping with source, transforms and sink"}));
}

}  // namespace
}  // namespace vaxetl

namespace vaxetl {
namespace {

const std::string kRouted =
    "file_names: nc-cvms\n"
    "file_format: NCVR\n"
    "environments:\n"
    "  PROD: {store: /data/prod.sqlite}\n"
    "  PHI: {store: /data/staging.sqlite}\n"
    "  NOPHI: {store: \"${run.scratch}/nophi.sqlite\"}\n"
    "source:\n"
    "  plugin: lines\n"
    "  config:\n"
    "    org: ${file.org}\n"
    "sink:\n"
    "  plugin: capture\n"
    "  config:\n"
    "    output: ${env.store}\n";

TEST_F(ParsePipeline, RoutedValuesComeFromTheFilesEnvironment) {
  const std::string path = write("routed.yaml", kRouted);
  for (const auto& [environment, store] : std::map<std::string, std::string>{
           {"PROD", "/data/prod.sqlite"}, {"PHI", "/data/staging.sqlite"}, {"NOPHI", "/scratch/1/nophi.sqlite"}}) {
    const PipelineSpec spec = parse_pipeline(
        path, with_run_variables(env(), {{"file.environment", environment}, {"file.org", "ACME"}, {"run.scratch", "/scratch/1"}}));
    EXPECT_TRUE(spec.nc_file_names);
    EXPECT_EQ(spec.file_format, "NCVR");
    ASSERT_EQ(spec.sink.config.size(), 1u);
    EXPECT_EQ(spec.sink.config[0].value, store) << environment;
    EXPECT_EQ(spec.source.config[0].value, "ACME");
  }
}

TEST_F(ParsePipeline, RunVariablesNeverComeFromTheProcessEnvironment) {
  // A stray file.org in the environment must not stand in for a file's route.
  const std::string path = write("routed.yaml", kRouted);
  const auto problems = parse_problems(path, with_run_variables(env({{"file.org", "STRAY"}}), {{"file.environment", "PROD"}, {"run.scratch", "/s"}}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("file.org is not set"), std::string::npos) << problems[0];
}

TEST_F(ParsePipeline, RoutingNeedsEveryEnvironmentAndKnownNames) {
  const std::string path = write("bad.yaml",
                                 "file_names: nc-cvms\n"
                                 "file_format: HL7\n"
                                 "environments:\n"
                                 "  PROD: {store: a}\n"
                                 "  QA: {store: b}\n" + kMinimalStages);
  const auto problems = parse_problems(path);
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_NE(problems[0].find(":2:14: file_format must be NCVR, CVRS or VXU"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find(":5:3: unknown environment 'QA'; known: PROD, PHI, NOPHI"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("add environments.PHI"), std::string::npos) << problems[2];
  EXPECT_NE(problems[3].find("add environments.NOPHI"), std::string::npos) << problems[3];
}

TEST_F(ParsePipeline, ReadsTheRaceEthnicityGate) {
  PipelineSpec spec = parse_pipeline(write("g.yaml",
                                           "race_ethnicity_gate:\n"
                                           "  populated_min: 95.5\n"
                                           "  unknown_max: 4\n"
                                           "  window_days: 14\n"
                                           "  min_records: 0\n" + kMinimalStages),
                                     env());
  EXPECT_TRUE(spec.race_ethnicity_gate.enabled);
  EXPECT_DOUBLE_EQ(spec.race_ethnicity_gate.populated_min, 95.5);
  EXPECT_DOUBLE_EQ(spec.race_ethnicity_gate.unknown_max, 4);
  EXPECT_DOUBLE_EQ(spec.race_ethnicity_gate.goal_populated, 99);
  EXPECT_EQ(spec.race_ethnicity_gate.window_days, 14);
  EXPECT_EQ(spec.race_ethnicity_gate.min_records, 0);
  spec = parse_pipeline(write("none.yaml", kMinimalStages), env());
  EXPECT_FALSE(spec.race_ethnicity_gate.enabled);

  const auto problems = parse_problems(write("bad-gate.yaml",
                                             "race_ethnicity_gate:\n"
                                             "  populated_min: 120\n"
                                             "  window_days: 0\n"
                                             "  unknown: 3\n" + kMinimalStages));
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find(":4:3: race_ethnicity_gate: unknown key 'unknown'"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find(":2:18: race_ethnicity_gate.populated_min must be a percentage from 0 to 100"),
            std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find(":3:16: race_ethnicity_gate.window_days must be an integer from 1 to 366"),
            std::string::npos) << problems[2];
}

}  // namespace
}  // namespace vaxetl
