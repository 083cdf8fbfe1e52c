// For a source that answers each message (HL7), the error file returned to the provider is
// the sequence of ACKs, one per message in input order, and the operators' findings file is
// written beside it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "runner.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

TEST(AckFile, AVxuFileGetsOneAckPerMessageInOrderAndAFindingsFileBesideIt) {
  const fs::path dir = fs::temp_directory_path() / ("vaxetl-ackfile-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string bin = VAXETL_BIN_DIR;
  ASSERT_EQ(std::system((bin + "/ncvr_gen --records 6 --seed 9 --error-rate 0 --warning-rate 0 --output " +
                         (dir / "n.txt").string() + " > /dev/null").c_str()), 0);
  const fs::path input = dir / "CAROLINAPHARMCOVID_20260101000000_CVMS_VXU_PROD_PHI_V1.txt";
  ASSERT_EQ(std::system((bin + "/vaxetl_convert --to vxu --input " + (dir / "n.txt").string() + " --output " +
                         input.string() + " > /dev/null").c_str()), 0);
  // Message 3 names a vaccine that is not COVID-19: its ACK must be AE with an ERR.
  auto messages = lines_of(input);
  ASSERT_EQ(messages.size(), 6u);
  const auto cvx_at = messages[2].find("^^CVX");
  const auto cvx_start = messages[2].rfind('|', cvx_at) + 1;
  messages[2].replace(cvx_start, cvx_at - cvx_start, "08");
  {
    std::ofstream out(input, std::ios::binary);
    for (const auto& m : messages) out << m << "\n";
  }
  const fs::path pipeline = dir / "vxu.yaml";
  std::ofstream(pipeline) << "name: ack-file\n"
                          << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\"]\n"
                          << "ledger: " << (dir / "ledger.sqlite").string() << "\n"
                          << "error_dir: " << (dir / "errors").string() << "\n"
                          << "source:\n  plugin: vxu\n  config:\n    org_code: CAROLINAPHARM\n"
                          << "sink:\n  plugin: cvms_sink\n  config:\n    database: " << (dir / "cvms.sqlite").string() << "\n";
  const auto spec = vaxetl::parse_pipeline(pipeline.string(), vaxetl::process_environment());
  vaxetl::PluginRegistry registry(vaxetl::plugin_search_path(spec));
  const auto outcome = vaxetl::run_pipeline(vaxetl::bind_pipeline(spec, registry), input.string(), {});
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  EXPECT_EQ(outcome.record.counts.loaded, 5);
  EXPECT_EQ(outcome.record.counts.rejected, 1);

  // The error file: named per nc-rules.md, six ACKs acknowledging messages 1..6 in order.
  const fs::path ack_file = outcome.record.error_file;
  EXPECT_NE(ack_file.filename().string().find(input.filename().string() + "_"), std::string::npos);
  EXPECT_TRUE(ack_file.filename().string().ends_with("_error.txt")) << ack_file;
  const auto acks = lines_of(ack_file);
  ASSERT_EQ(acks.size(), 6u);
  for (std::size_t i = 0; i < acks.size(); ++i) {
    const std::string expected_msa = (i == 2 ? "MSA|AE|" : "MSA|AA|") + std::to_string(i + 1) + "\r";
    EXPECT_NE(acks[i].find(expected_msa), std::string::npos) << "ACK " << i + 1 << ": " << acks[i];
  }
  EXPECT_NE(acks[2].find("\rERR|"), std::string::npos) << acks[2];

  // The operators' findings file is beside it, with the pipe-delimited header.
  bool findings_found = false;
  for (const auto& entry : fs::directory_iterator(dir / "errors")) {
    if (!entry.path().filename().string().ends_with("_findings.txt")) continue;
    findings_found = true;
    EXPECT_EQ(lines_of(entry.path()).front(),
              "line|vax_event_id|field_position|field_name|severity|code|message|original_record");
  }
  EXPECT_TRUE(findings_found);
  fs::remove_all(dir);
}

}  // namespace
