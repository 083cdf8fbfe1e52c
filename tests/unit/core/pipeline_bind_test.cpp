// bind_pipeline against the fixture plugins: config keys, types, required keys and defaults,
// plugin kinds and column flow, each problem with file:line:column; describe() masks secrets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipeline.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

EnvironmentLookup no_environment() {
  return [](const std::string&) { return std::optional<std::string>(); };
}

class BindPipeline : public ::testing::Test {
 protected:
  // Writes the pipeline, parses it and binds it against the fixture plugins only.
  BoundPipeline bind(const std::string& text) {
    test::write_file(path_, text);
    PluginRegistry registry({test::fixture_plugin_dir()});
    return bind_pipeline(parse_pipeline(path_, no_environment()), registry);
  }
  std::vector<std::string> bind_problems(const std::string& text) {
    try {
      bind(text);
    } catch (const PipelineError& e) {
      return e.problems();
    }
    ADD_FAILURE() << "the pipeline bound without problems";
    return {};
  }
  static std::string config_value(const BoundStage& stage, const std::string& key) {
    for (const auto& [k, v] : stage.config)
      if (k == key) return v;
    return "<absent>";
  }

  test::TempDir dir_;
  const std::string path_ = dir_ / "p.yaml";
};

TEST_F(BindPipeline, BindsStagesToPluginsAndAppliesDefaults) {
  const BoundPipeline bound = bind(
      "source:\n"
      "  plugin: lines\n"
      "transforms:\n"
      "  - plugin: upper\n"
      "sink:\n"
      "  plugin: capture\n"
      "  config:\n"
      "    output: /tmp/out.tsv\n"
      "    format: csv\n");
  ASSERT_NE(bound.source.plugin, nullptr);
  EXPECT_EQ(bound.source.plugin->label(), "source 'lines' 1.0.0");
  ASSERT_EQ(bound.transforms.size(), 1u);
  EXPECT_EQ(bound.transforms[0].plugin->label(), "transform 'upper' 1.0.0");
  EXPECT_EQ(bound.sink.plugin->label(), "sink 'capture' 1.0.0");

  EXPECT_EQ(bound.source.config,
            (std::vector<std::pair<std::string, std::string>>{{"header_lines", "0"}}));
  EXPECT_TRUE(bound.transforms[0].config.empty());
  // Given values first, then defaults; an optional key without a default stays absent.
  EXPECT_EQ(bound.sink.config, (std::vector<std::pair<std::string, std::string>>{
                                   {"output", "/tmp/out.tsv"},
                                   {"format", "csv"},
                                   {"fail_on_commit", "false"}}));
  EXPECT_EQ(config_value(bound.sink, "password"), "<absent>");
}

TEST_F(BindPipeline, ReportsUnknownConfigKeyWithLineAndColumn) {
  EXPECT_EQ(bind_problems("source:\n"                    // 1
                          "  plugin: lines\n"            // 2
                          "  config:\n"                  // 3
                          "    colour: red\n"            // 4
                          "sink:\n"                      // 5
                          "  plugin: capture\n"          // 6
                          "  config:\n"                  // 7
                          "    output: /tmp/x\n"),       // 8
            (std::vector<std::string>{path_ +
                                      ":4:13: source: source 'lines' 1.0.0 has no config key "
                                      "'colour'; known keys: header_lines"}));
}

TEST_F(BindPipeline, ReportsUnknownConfigKeyOfPluginWithoutConfig) {
  EXPECT_EQ(bind_problems("source:\n"                    // 1
                          "  plugin: lines\n"            // 2
                          "transforms:\n"                // 3
                          "  - plugin: upper\n"          // 4
                          "    config:\n"                // 5
                          "      mode: loud\n"           // 6
                          "sink:\n"                      // 7
                          "  plugin: capture\n"          // 8
                          "  config:\n"                  // 9
                          "    output: /tmp/x\n"),       // 10
            (std::vector<std::string>{path_ +
                                      ":6:13: transforms[0]: transform 'upper' 1.0.0 has no "
                                      "config key 'mode'; known keys: (none)"}));
}

TEST_F(BindPipeline, ReportsValuesOfTheWrongTypeWithLineAndColumn) {
  EXPECT_EQ(bind_problems("source:\n"                          // 1
                          "  plugin: lines\n"                  // 2
                          "  config:\n"                        // 3
                          "    header_lines: two\n"            // 4
                          "sink:\n"                            // 5
                          "  plugin: capture\n"                // 6
                          "  config:\n"                        // 7
                          "    output: /tmp/x\n"               // 8
                          "    fail_on_commit: yes\n"          // 9
                          "    format: xml\n"),                // 10
            (std::vector<std::string>{
                path_ + ":4:19: source.config.header_lines must be an integer",
                path_ + ":9:21: sink.config.fail_on_commit must be a boolean (true or false)",
                path_ + ":10:13: sink.config.format must be one of: tsv, csv"}));
}

TEST_F(BindPipeline, AcceptsEveryAllowedValueOfTypedKeys) {
  for (const std::string format : {"tsv", "csv"}) {
    for (const std::string flag : {"true", "false"}) {
      const BoundPipeline bound = bind("source:\n"
                                       "  plugin: lines\n"
                                       "  config:\n"
                                       "    header_lines: -3\n"
                                       "sink:\n"
                                       "  plugin: capture\n"
                                       "  config:\n"
                                       "    output: /tmp/x\n"
                                       "    fail_on_commit: " + flag + "\n"
                                       "    format: " + format + "\n");
      EXPECT_EQ(config_value(bound.source, "header_lines"), "-3");
      EXPECT_EQ(config_value(bound.sink, "format"), format);
      EXPECT_EQ(config_value(bound.sink, "fail_on_commit"), flag);
    }
  }
}

TEST_F(BindPipeline, ReportsMissingRequiredKeyAtTheStage) {
  EXPECT_EQ(bind_problems("source:\n"                 // 1
                          "  plugin: lines\n"         // 2
                          "sink:\n"                   // 3
                          "  plugin: capture\n"       // 4
                          "  config:\n"               // 5
                          "    format: csv\n"),       // 6
            (std::vector<std::string>{path_ +
                                      ":4:3: sink: sink 'capture' 1.0.0 needs config key 'output' "
                                      "(file the committed rows are written to)"}));
}

TEST_F(BindPipeline, ReportsPluginOfTheWrongKind) {
  EXPECT_EQ(bind_problems("source:\n"                 // 1
                          "  plugin: capture\n"       // 2
                          "sink:\n"                   // 3
                          "  plugin: lines\n"),       // 4
            (std::vector<std::string>{
                path_ + ":2:3: source: plugin 'capture' is a sink, not a source",
                path_ + ":4:3: sink: plugin 'lines' is a source, not a sink"}));
}

TEST_F(BindPipeline, ReportsRequiredColumnNoEarlierStageProduces) {
  EXPECT_EQ(bind_problems("source:\n"                 // 1
                          "  plugin: lines\n"         // 2
                          "sink:\n"                   // 3
                          "  plugin: needs_mpi\n"),   // 4
            (std::vector<std::string>{path_ +
                                      ":4:3: sink: sink 'needs_mpi' 1.0.0 needs column 'mpi_id', "
                                      "which no earlier stage produces"}));
}

TEST_F(BindPipeline, ChecksColumnsOfEveryStageInOrder) {
  // `versioned` produces no columns, so both `upper` and `capture` lack `value`.
  EXPECT_EQ(bind_problems("source:\n"                 // 1
                          "  plugin: versioned\n"     // 2
                          "transforms:\n"             // 3
                          "  - plugin: upper\n"       // 4
                          "sink:\n"                   // 5
                          "  plugin: capture\n"       // 6
                          "  config:\n"               // 7
                          "    output: /tmp/x\n"),    // 8
            (std::vector<std::string>{
                path_ + ":4:5: transforms[0]: transform 'upper' 1.0.0 needs column 'value', which "
                        "no earlier stage produces",
                path_ + ":6:3: sink: sink 'capture' 1.0.0 needs column 'value', which no earlier "
                        "stage produces"}));
}

TEST_F(BindPipeline, ReportsInvalidVersionConstraint) {
  EXPECT_EQ(bind_problems("source:\n"                 // 1
                          "  plugin: versioned\n"     // 2
                          "  version: latest\n"       // 3
                          "sink:\n"                   // 4
                          "  plugin: needs_mpi\n"),   // 5
            (std::vector<std::string>{
                path_ + ":2:3: source.version 'latest' is not a version constraint (examples: "
                        "^7.2, ~7.2.1, 7.2.0, >=7.2, *)"}));
}

TEST_F(BindPipeline, ReportsUnknownPluginWithTheRegistryExplanation) {
  const std::vector<std::string> problems = bind_problems("source:\n"           // 1
                                                          "  plugin: nope\n"    // 2
                                                          "sink:\n"             // 3
                                                          "  plugin: capture\n" // 4
                                                          "  config:\n"         // 5
                                                          "    output: /x\n");  // 6
  ASSERT_EQ(problems.size(), 1u);
  const std::string expected_start = path_ + ":2:3: source: no plugin 'nope' matching version '*' "
                                             "was found. Paths tried, in order:\n  " +
                                     test::fixture_plugin_dir() + "\n";
  EXPECT_EQ(problems[0].substr(0, expected_start.size()), expected_start);
}

TEST_F(BindPipeline, DescribeMasksSecretValues) {
  const BoundPipeline bound = bind("name: masked\n"
                                   "source:\n"
                                   "  plugin: lines\n"
                                   "sink:\n"
                                   "  plugin: capture\n"
                                   "  config:\n"
                                   "    output: /tmp/out.tsv\n"
                                   "    password: hunter2-secret\n");
  EXPECT_EQ(config_value(bound.sink, "password"), "hunter2-secret");  // the plugin gets it
  const std::string text = describe(bound);
  EXPECT_EQ(text.find("hunter2-secret"), std::string::npos) << text;
  EXPECT_NE(text.find("\n    password: ********\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n    output: /tmp/out.tsv\n"), std::string::npos) << text;
  EXPECT_EQ(text.substr(0, text.find('\n')), "pipeline masked (" + path_ + ")");
  EXPECT_NE(text.find("  sink: sink 'capture' 1.0.0 from " + test::fixture_plugin("capture") + "\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace vaxetl
