// VXU end to end: a generated file of VXU messages (some with a second order group, some with
// a group whose vaccine is not COVID-19) through the vxu source and the real cvms_sink into
// SQLite. Every order group is one record: the counts must add up to the generator's, the
// store must hold exactly the loaded ones, and a rerun must change nothing.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "runner.hpp"
#include "vxu/generator.hpp"

namespace {

namespace fs = std::filesystem;

class Store {
 public:
  explicit Store(const fs::path& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  ~Store() { sqlite3_close(db_); }
  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    int64_t value = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  }
  std::vector<int64_t> fingerprint() {
    return {scalar("SELECT COUNT(*) FROM vaccinations"), scalar("SELECT COUNT(*) FROM recipients"),
            scalar("SELECT COUNT(*) FROM locations"), scalar("SELECT COUNT(*) FROM inventory"),
            scalar("SELECT COALESCE(SUM(doses_administered), 0) FROM inventory")};
  }

 private:
  sqlite3* db_ = nullptr;
};

class VxuPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vaxetl-vxu-e2e-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "inbox");
    pipeline_path_ = dir_ / "vxu-daily.yaml";
    std::ofstream(pipeline_path_)
        << "name: vxu-e2e\n"
        << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\"]\n"
        << "batch_size: 97\n"  // small and odd: a message's rows straddle batches
        << "ledger: " << (dir_ / "ledger.sqlite").string() << "\n"
        << "error_dir: " << (dir_ / "errors").string() << "\n"
        << "source:\n  plugin: vxu\n  version: \"^2.5\"\n  config:\n    org_code: ACMEPHARM\n"
        << "    as_of_date: \"2026-01-01\"\n"
        << "sink:\n  plugin: cvms_sink\n  version: \"^1.0\"\n  config:\n"
        << "    database: " << (dir_ / "cvms.sqlite").string() << "\n";
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  struct Generated {
    fs::path path;
    int64_t messages = 0;
    int64_t groups = 0;
    int64_t bad_groups = 0;
  };

  // Writes `messages` messages with CR segment ends; every 50th message with CRLF instead,
  // and the file in an FHS/BHS batch envelope when `batch` is set.
  Generated generate(int64_t messages, bool batch) {
    Generated g;
    g.path = dir_ / "inbox" / "ACMEPHARM_20260102030405_VXU.hl7";
    vaxetl::vxu::VxuGenerator generator(vaxetl::vxu::GeneratorOptions{99, 0.25, 0.05});
    std::string text;
    if (batch) text += "FHS|^~\\&|NCEHR|ACME\rBHS|^~\\&|NCEHR|ACME\r";
    for (int64_t i = 1; i <= messages; ++i) {
      std::string message;
      bool bad = false;
      g.groups += static_cast<int64_t>(generator.append(static_cast<std::size_t>(i), message, &bad));
      g.bad_groups += bad;
      if (i % 50 == 0) {
        std::string crlf;
        for (char c : message) crlf += c == '\r' ? std::string("\r\n") : std::string(1, c);
        message = crlf;
      }
      text += message;
    }
    if (batch) text += "BTS|" + std::to_string(messages) + "\rFTS|1\r";
    std::ofstream(g.path, std::ios::binary) << text;
    g.messages = messages;
    return g;
  }

  vaxetl::RunOutcome run(const fs::path& input, vaxetl::RunOptions options = {}) {
    const auto spec = vaxetl::parse_pipeline(pipeline_path_.string(), vaxetl::process_environment());
    vaxetl::PluginRegistry registry(vaxetl::plugin_search_path(spec));
    const auto bound = vaxetl::bind_pipeline(spec, registry);
    return vaxetl::run_pipeline(bound, input.string(), options);
  }

  fs::path dir_;
  fs::path pipeline_path_;
};

TEST_F(VxuPipelineTest, EveryOrderGroupIsOneRecordAndTheCountsAddUp) {
  const Generated g = generate(1500, true);
  ASSERT_GT(g.groups, g.messages) << "some messages carry two doses";
  ASSERT_GT(g.bad_groups, 0);

  const auto outcome = run(g.path);
  const auto& counts = outcome.record.counts;
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  EXPECT_EQ(counts.received, g.groups);
  EXPECT_EQ(counts.received, counts.loaded + counts.rejected + counts.held);
  EXPECT_EQ(counts.rejected, g.bad_groups);
  EXPECT_EQ(counts.loaded, g.groups - g.bad_groups);
  EXPECT_EQ(outcome.findings_by_code.count("VXU_NOT_COVID"), 1u);
  EXPECT_EQ(outcome.findings_by_code.at("VXU_NOT_COVID"), g.bad_groups);

  Store store(dir_ / "cvms.sqlite");
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM vaccinations"), counts.loaded);
  EXPECT_LE(store.scalar("SELECT COUNT(*) FROM recipients"), g.messages);
  EXPECT_GT(store.scalar("SELECT COALESCE(SUM(doses_administered), 0) FROM inventory"), 0)
      << "state-funded (VXC2) doses count against inventory";
}

TEST_F(VxuPipelineTest, RerunningTheSameFileChangesNothing) {
  const Generated g = generate(600, false);
  const auto first = run(g.path);
  ASSERT_EQ(first.record.status, "succeeded") << first.record.message;
  const auto before = Store(dir_ / "cvms.sqlite").fingerprint();
  EXPECT_EQ(before[0], first.record.counts.loaded);

  const auto second = run(g.path);
  EXPECT_EQ(second.record.status, "skipped");
  EXPECT_EQ(Store(dir_ / "cvms.sqlite").fingerprint(), before);

  vaxetl::RunOptions force;
  force.force = true;
  const auto forced = run(g.path, force);
  EXPECT_EQ(forced.record.status, "succeeded") << forced.record.message;
  EXPECT_EQ(forced.record.counts.loaded, first.record.counts.loaded);
  EXPECT_EQ(forced.record.counts.rejected, first.record.counts.rejected);
  EXPECT_EQ(Store(dir_ / "cvms.sqlite").fingerprint(), before);
}

TEST_F(VxuPipelineTest, ErrorFileIsOneAckPerMessageAndTheFindingsFileQuotesTheMessage) {
  const Generated g = generate(200, false);
  const auto outcome = run(g.path);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  // The error file returned to the provider: one ACK per message, in order.
  std::ifstream acks(outcome.record.error_file, std::ios::binary);
  int64_t ack_count = 0;
  int64_t ae = 0;
  for (std::string line; std::getline(acks, line);) {
    if (line.empty()) continue;
    ++ack_count;
    EXPECT_EQ(line.rfind("MSH|^~\\&|VAXETL|NCDHHS|", 0), 0u) << line;
    EXPECT_NE(line.find("|ACK^V04^ACK|"), std::string::npos) << line;
    ae += line.find("\rMSA|AE|") != std::string::npos;
  }
  EXPECT_EQ(ack_count, g.messages);
  EXPECT_EQ(ae, g.bad_groups) << "a message with a rejected group is an AE";

  // The operators' findings file beside it quotes the message.
  fs::path findings;
  for (const auto& entry : fs::directory_iterator(dir_ / "errors"))
    if (entry.path().filename().string().ends_with("_findings.txt")) findings = entry.path();
  ASSERT_FALSE(findings.empty());
  std::ifstream in(findings);
  std::string header;
  std::getline(in, header);
  std::string line;
  int64_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_NE(line.find("|VXU_"), std::string::npos) << line;
    EXPECT_NE(line.find("MSH|^~\\&|"), std::string::npos) << "the original message is quoted";
  }
  EXPECT_GE(lines, g.bad_groups);
}

// ADT demographic updates in the same file as VXUs: each is one DEMOGRAPHICS record that
// inserts or updates its recipient and stores no vaccination; ADT^A01 is refused.
TEST_F(VxuPipelineTest, AdtMessagesUpdateRecipientsWithoutVaccinations) {
  Generated g = generate(100, false);
  std::string text;
  {
    std::ifstream in(g.path, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto adt = [](const std::string& event, const std::string& id, const std::string& mrn,
                      const std::string& street) {
    return "MSH|^~\\&|NCEHR|NCCLINIC001|CVMS|NCDHHS|20210316091500-0500||ADT^" + event + "|" + id +
           "|P|2.5.1|||AL|NE\rEVN|" + event + "|20210316091500\rPID|1||" + mrn +
           "^^^NCEHR^MR||Roe^Richard^A||20150302|M|||" + street +
           "^^Durham^NC^27701^USA^H^^37063\rNK1|1|Roe^Maria|MTH^Mother^HL70063\rPV1|1|O\r";
  };
  text += adt("A04", "ADT1", "ADTMRN1", "22 Elm St");
  text += adt("A28", "ADT2", "ADTMRN2", "5 Pine Rd");
  text += adt("A08", "ADT3", "ADTMRN1", "9 Birch Ln");  // moves recipient ADTMRN1
  text += adt("A31", "ADT4", "ADTMRN2", "5 Pine Rd");   // unchanged
  text += adt("A01", "ADT5", "ADTMRN3", "1 Oak St");    // admit: refused
  std::ofstream(g.path, std::ios::binary) << text;

  const auto outcome = run(g.path);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  const auto& counts = outcome.record.counts;
  EXPECT_EQ(counts.received, g.groups + 5);
  EXPECT_EQ(counts.rejected, g.bad_groups + 1);
  EXPECT_EQ(outcome.findings_by_code.at("VXU_UNSUPPORTED_EVENT"), 1);

  Store store(dir_ / "cvms.sqlite");
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM vaccinations"), g.groups - g.bad_groups)
      << "a DEMOGRAPHICS record stores no vaccination";
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM recipients WHERE recip_id LIKE 'ADTMRN%'"), 2);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM recipients WHERE recip_id = 'ADTMRN1' AND "
                         "recip_address_street = '9 Birch Ln'"),
            1)
      << "the A08 updated the address";
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM vaccinations v JOIN recipients r USING (recipient_id) "
                         "WHERE r.recip_id LIKE 'ADTMRN%'"),
            0);

  // The ACKs: ACK^A04 .. ACK^A31 accepted, the A01 refused.
  std::ifstream acks(outcome.record.error_file, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(acks, line);)
    if (!line.empty()) lines.push_back(line);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(g.messages + 5));
  const char* const expected[] = {"|ACK^A04^ACK|", "|ACK^A28^ACK|", "|ACK^A08^ACK|", "|ACK^A31^ACK|", "|ACK^A01^ACK|"};
  for (std::size_t i = 0; i < 5; ++i) {
    const std::string& ack = lines[static_cast<std::size_t>(g.messages) + i];
    EXPECT_NE(ack.find(expected[i]), std::string::npos) << ack;
    EXPECT_NE(ack.find(i < 4 ? "\rMSA|AA|ADT" : "\rMSA|AR|ADT5"), std::string::npos) << ack;
  }
}

}  // namespace
