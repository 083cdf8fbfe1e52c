// The mpi transform in real pipelines: generated and hand-edited NCVR files (and HL7 ADT
// messages) go through the ncvr/vxu source, the mpi stage and a capturing test sink, run by the
// runner in process or by the vaxetl binary. The index is a real SQLite file read back here.
#include <sqlite3.h>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "runner.hpp"
#include "vaxetl_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using vaxetl::test::read_file;
using vaxetl::test::read_lines;
using vaxetl::test::split;
using vaxetl::test::TempDir;
using vaxetl::test::write_file;

constexpr const char* kToday = "2026-11-01";

// NCVR v7.2 field positions (0-based) the tests edit.
constexpr std::size_t kEventId = 0, kOrg = 2, kRecipId = 5, kFirst = 6, kMiddle = 7, kLast = 8,
                      kEmail = 19;

std::string join(const std::vector<std::string>& cells, char delimiter) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += delimiter;
    line += cells[i];
  }
  return line;
}

std::string upper(std::string text) {
  for (char& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

struct Captured {
  std::string event_id, recip_id, mpi_id, decision, score;
};

// Read access to the index.
class Index {
 public:
  explicit Index(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK) << path;
  }
  ~Index() { sqlite3_close(db_); }
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    std::vector<std::vector<std::string>> result;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const auto* p = sqlite3_column_text(stmt, c);
        row.emplace_back(p == nullptr ? "" : reinterpret_cast<const char*>(p));
      }
      result.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return result;
  }
  int64_t scalar(const std::string& sql) {
    const auto r = rows(sql);
    return r.empty() || r[0].empty() ? -1 : std::stoll(r[0][0]);
  }
  // Row counts of every table: if one moves, the index changed.
  std::vector<int64_t> fingerprint() {
    std::vector<int64_t> counts;
    for (const char* table : {"masters", "master_values", "aliases", "decisions", "reviews",
                              "operator_actions", "models"})
      counts.push_back(scalar(std::string("SELECT count(*) FROM ") + table));
    return counts;
  }

 private:
  sqlite3* db_ = nullptr;
};

struct PipelineSettings {
  std::string source = "ncvr";
  bool learn_model = true;
  bool fail_on_commit = false;
  int64_t fail_at_record = 0;
  bool keep_dry_run = false;
  int batch_size = 64;
};

class MpiPluginTest : public ::testing::Test {
 protected:
  std::string index_path() const { return dir_ / "var/mpi.sqlite"; }
  std::string output_path() const { return dir_ / "captured.tsv"; }

  std::string pipeline(const PipelineSettings& s = {}) const {
    std::ostringstream yaml;
    yaml << "name: mpi-it\n"
         << "plugin_paths: [\"" << VAXETL_PLUGIN_DIR << "\", \"" << MPI_FIXTURE_PLUGIN_DIR << "\"]\n"
         << "batch_size: " << s.batch_size << "\n"
         << "ledger: " << (dir_ / "var/ledger.sqlite") << "\n"
         << "error_dir: " << (dir_ / "var/errors") << "\n";
    if (s.source == "ncvr")
      yaml << "source:\n  plugin: ncvr\n  version: \"^7.2\"\n  config:\n    as_of_date: \"" << kToday << "\"\n";
    else
      yaml << "source:\n  plugin: vxu\n  version: \"^2.5\"\n  config:\n    org_code: ACMEPHARM\n"
           << "    as_of_date: \"" << kToday << "\"\n";
    yaml << "transforms:\n  - plugin: mpi\n    config:\n      index: " << index_path() << "\n"
         << "      learn_model: " << (s.learn_model ? "true" : "false") << "\n"
         << "      learn_min_pairs: 1\n"
         << "sink:\n  plugin: mpi_capture\n  config:\n    output: " << output_path() << "\n"
         << "    fail_on_commit: " << (s.fail_on_commit ? "true" : "false") << "\n"
         << "    fail_at_record: " << s.fail_at_record << "\n"
         << "    keep_dry_run: " << (s.keep_dry_run ? "true" : "false") << "\n";
    const std::string path = dir_ / ("pipeline-" + std::to_string(++pipelines_) + ".yaml");
    write_file(path, yaml.str());
    return path;
  }

  vaxetl::RunOutcome run(const std::string& pipeline_path, const std::string& input,
                         vaxetl_run_mode mode = VAXETL_MODE_LOAD, bool force = false) {
    std::error_code ec;
    fs::remove(output_path(), ec);
    const auto spec = vaxetl::parse_pipeline(pipeline_path, vaxetl::process_environment());
    vaxetl::PluginRegistry registry(vaxetl::plugin_search_path(spec));
    const auto bound = vaxetl::bind_pipeline(spec, registry);
    vaxetl::RunOptions options;
    options.mode = mode;
    options.force = force;
    return vaxetl::run_pipeline(bound, input, options);
  }

  std::string generate(int records, int seed, const std::string& extra = "",
                       const std::string& org = "CAROLINAPHARM") const {
    const std::string name = org + "COVID_2026010203040" + std::to_string(seed % 10) + "_CVMS_PROD_PHI_DIRECT_V1.txt";
    const std::string path = dir_ / name;
    const std::string command = std::string(VAXETL_BIN_DIR) + "/ncvr_gen --records " + std::to_string(records) +
                                " --seed " + std::to_string(seed) + " --org " + org + " --today " + kToday +
                                " --output " + path + " --error-rate 0 --warning-rate 0 " + extra + " > /dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return path;
  }

  // Writes an NCVR file from a header and data lines.
  std::string write_ncvr(const std::string& name, const std::string& header,
                         const std::vector<std::string>& lines) const {
    std::string text = header + "\n";
    for (const auto& line : lines) text += line + "\n";
    const std::string path = dir_ / name;
    write_file(path, text);
    return path;
  }

  std::map<int64_t, Captured> captured() const {
    std::map<int64_t, Captured> rows;
    const auto lines = read_lines(output_path());
    EXPECT_FALSE(lines.empty());
    for (std::size_t i = 1; i < lines.size(); ++i) {
      const auto cells = split(lines[i], '\t');
      EXPECT_EQ(cells.size(), 6u) << lines[i];
      if (cells.size() != 6) continue;
      rows[std::stoll(cells[0])] = {cells[1], cells[2], cells[3], cells[4], cells[5]};
    }
    return rows;
  }

  // record_no -> mpi_id of the decisions of one run.
  std::map<int64_t, std::string> decided_ids(const std::string& run_id) {
    Index index(index_path());
    std::map<int64_t, std::string> ids;
    for (const auto& row : index.rows("SELECT record_no, printf('MPI%010d', mpi_id) FROM decision_log WHERE run_id = '" +
                                      run_id + "'"))
      ids[std::stoll(row[0])] = row[1];
    return ids;
  }

  TempDir dir_;
  mutable int pipelines_ = 0;
};

TEST_F(MpiPluginTest, EveryLiveRecordLeavesWithAnIdADecisionAndAScore) {
  const std::string input = generate(300, 11);
  const auto outcome = run(pipeline(), input);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  ASSERT_EQ(outcome.record.counts.loaded, 300);
  const auto rows = captured();
  ASSERT_EQ(rows.size(), 300u);
  const std::regex id_form("MPI[0-9]{10}"), score_form("-?[0-9]+\\.[0-9]{2}");
  std::map<std::string, std::set<std::string>> ids_by_recipient;
  std::map<std::string, int> decisions;
  for (const auto& [record_no, row] : rows) {
    EXPECT_TRUE(std::regex_match(row.mpi_id, id_form)) << row.mpi_id;
    EXPECT_TRUE(std::regex_match(row.score, score_form)) << row.score;
    ++decisions[row.decision];
    ids_by_recipient[row.recip_id].insert(row.mpi_id);
  }
  for (const auto& [decision, n] : decisions)
    EXPECT_TRUE(decision == "linked" || decision == "new" || decision == "possible") << decision;
  // The generator repeats doses of earlier recipients: each recipient is one master.
  ASSERT_LT(ids_by_recipient.size(), rows.size()) << "the file should repeat some recipients";
  EXPECT_GT(decisions["linked"], 0);
  for (const auto& [recip, ids] : ids_by_recipient) EXPECT_EQ(ids.size(), 1u) << "recipient " << recip;

  // The index logged one decision per record and holds one master per distinct id.
  Index index(index_path());
  EXPECT_EQ(index.scalar("SELECT count(*) FROM decision_log WHERE run_id = '" + outcome.record.run_id + "'"), 300);
  std::set<std::string> distinct;
  for (const auto& [record_no, row] : rows) distinct.insert(row.mpi_id);
  EXPECT_EQ(index.scalar("SELECT count(*) FROM masters"), static_cast<int64_t>(distinct.size()));
  EXPECT_EQ(decided_ids(outcome.record.run_id).size(), 300u);
  for (const auto& [record_no, id] : decided_ids(outcome.record.run_id)) EXPECT_EQ(rows.at(record_no).mpi_id, id);
}

TEST_F(MpiPluginTest, TheSamePersonInAnotherFileGetsTheSameIdAndATwinAnother) {
  const std::string first = generate(200, 12);
  ASSERT_EQ(run(pipeline(), first).record.status, "succeeded");
  const auto first_rows = captured();
  const auto lines = read_lines(first);
  const std::string& header = lines.at(0);

  // Record 2's person, sent by another provider under its own id, names in capitals, no e-mail.
  auto same = split(lines.at(1), '|');
  const std::string person_id = first_rows.at(2).mpi_id;
  same[kEventId] = "EVOTHER0001";
  same[kOrg] = "OTHERCLINIC";
  same[kRecipId] = "OC-555";
  same[kFirst] = upper(same[kFirst]);
  same[kLast] = upper(same[kLast]);
  same[kEmail] = "";
  // A twin: same birth date, surname, address and phone, another first name, another id.
  auto twin = split(lines.at(1), '|');
  twin[kEventId] = "EVOTHER0002";
  twin[kOrg] = "OTHERCLINIC";
  twin[kRecipId] = "OC-556";
  twin[kFirst] = twin[kFirst] == "Thelonious" ? "Archibald" : "Thelonious";
  twin[kMiddle] = "";
  twin[kEmail] = "";
  const std::string second =
      write_ncvr("OTHERCLINICCOVID_20260103030405_CVMS_PROD_PHI_DIRECT_V1.txt", header,
                 {join(same, '|'), join(twin, '|')});
  const auto outcome = run(pipeline(), second);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  const auto rows = captured();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at(2).mpi_id, person_id) << "the same person across files is one master";
  EXPECT_EQ(rows.at(2).decision, "linked");
  EXPECT_NE(rows.at(3).mpi_id, person_id) << "a twin is not merged";
  EXPECT_NE(rows.at(3).decision, "linked");

  // The decision explains the link: best candidate, fields compared, no values.
  Index index(index_path());
  const auto decision = index.rows("SELECT decision, printf('MPI%010d', best_candidate), comparison, source "
                                   "FROM decision_log WHERE run_id = '" + outcome.record.run_id + "' AND record_no = 2");
  ASSERT_EQ(decision.size(), 1u);
  EXPECT_EQ(decision[0][0], "linked");
  EXPECT_EQ(decision[0][1], person_id);
  EXPECT_NE(decision[0][2].find("birth_date="), std::string::npos) << decision[0][2];
  EXPECT_EQ(decision[0][2].find(same[kLast]), std::string::npos) << decision[0][2];
  EXPECT_EQ(decision[0][3], "OTHERCLINIC");
}

TEST_F(MpiPluginTest, ARerunAfterTheSinkRolledBackGivesTheSameIdsAndNoNewMasters) {
  const std::string input = generate(300, 13);
  PipelineSettings failing;
  failing.fail_on_commit = true;
  const auto failed = run(pipeline(failing), input);
  ASSERT_EQ(failed.record.status, "failed");
  EXPECT_EQ(failed.exit_code, vaxetl::kExitRunFailed);
  EXPECT_FALSE(fs::exists(output_path()));
  // The host finished the mpi stage before the sink failed: the index kept the file.
  const auto first_ids = decided_ids(failed.record.run_id);
  ASSERT_EQ(first_ids.size(), 300u);
  const int64_t masters = Index(index_path()).scalar("SELECT count(*) FROM masters");

  const auto rerun = run(pipeline(), input);
  ASSERT_EQ(rerun.record.status, "succeeded") << rerun.record.message;
  auto rows = captured();
  ASSERT_EQ(rows.size(), 300u);
  for (const auto& [record_no, id] : first_ids) EXPECT_EQ(rows.at(record_no).mpi_id, id) << "record " << record_no;
  {
    Index index(index_path());
    EXPECT_EQ(index.scalar("SELECT count(*) FROM masters"), masters);
    EXPECT_EQ(index.scalar("SELECT count(*) FROM decision_log WHERE run_id = '" + rerun.record.run_id +
                           "' AND replay_of IS NOT NULL"),
              300);
  }

  // A forced rerun of the loaded file: the same again.
  const auto forced = run(pipeline(), input, VAXETL_MODE_LOAD, /*force=*/true);
  ASSERT_EQ(forced.record.status, "succeeded") << forced.record.message;
  rows = captured();
  for (const auto& [record_no, id] : first_ids) EXPECT_EQ(rows.at(record_no).mpi_id, id);
  EXPECT_EQ(Index(index_path()).scalar("SELECT count(*) FROM masters"), masters);
}

TEST_F(MpiPluginTest, ACrashBeforeFinishLeavesTheIndexAsItWas) {
  ASSERT_EQ(run(pipeline(), generate(100, 14)).record.status, "succeeded");
  const auto before = Index(index_path()).fingerprint();

  const std::string second = generate(300, 15);
  PipelineSettings crashing;
  crashing.fail_at_record = 250;  // several batches in: matched, logged, not finished
  const auto failed = run(pipeline(crashing), second);
  ASSERT_EQ(failed.record.status, "failed");
  EXPECT_EQ(Index(index_path()).fingerprint(), before);

  // The lock was released with the rollback: the same file loads now.
  const auto loaded = run(pipeline(), second);
  ASSERT_EQ(loaded.record.status, "succeeded") << loaded.record.message;
  EXPECT_GT(Index(index_path()).scalar("SELECT count(*) FROM masters"), before[0]);
}

TEST_F(MpiPluginTest, ADryRunMatchesButLeavesNoTrace) {
  const std::string first = generate(150, 16);
  PipelineSettings dry;
  dry.keep_dry_run = true;
  // Without an index: matched against an empty one, and no index file is created.
  const auto validated = run(pipeline(dry), first, VAXETL_MODE_VALIDATE);
  ASSERT_EQ(validated.record.status, "validated") << validated.record.message;
  EXPECT_EQ(captured().size(), 150u);
  EXPECT_FALSE(fs::exists(index_path()));

  ASSERT_EQ(run(pipeline(), first).record.status, "succeeded");
  const auto loaded_rows = captured();
  const std::string bytes_before = read_file(index_path());
  const auto before = Index(index_path()).fingerprint();

  // A second file holding record 2's person again: the dry run links it to the stored master.
  const auto lines = read_lines(first);
  auto again = split(lines.at(1), '|');
  again[kEventId] = "EVDRY0001";
  const std::string second = write_ncvr("CAROLINAPHARMCOVID_20260105030405_CVMS_PROD_PHI_DIRECT_V1.txt",
                                        lines.at(0), {join(again, '|'), lines.at(5)});
  const auto dry_run = run(pipeline(dry), second, VAXETL_MODE_VALIDATE);
  ASSERT_EQ(dry_run.record.status, "validated") << dry_run.record.message;
  const auto rows = captured();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at(2).mpi_id, loaded_rows.at(2).mpi_id);
  EXPECT_EQ(rows.at(2).decision, "linked");

  EXPECT_EQ(Index(index_path()).fingerprint(), before);
  EXPECT_TRUE(read_file(index_path()) == bytes_before) << "the index file changed";
  EXPECT_FALSE(fs::exists(index_path() + "-wal") && fs::file_size(index_path() + "-wal") > 0);
}

TEST_F(MpiPluginTest, RecordsRejectedUpstreamAreNotMatched) {
  const std::string input = generate(400, 17, "--error-rate 0.1");
  std::set<int64_t> rejected;
  const auto truth = read_lines(input + ".truth.tsv");
  for (std::size_t i = 1; i < truth.size(); ++i) {
    const auto cells = split(truth[i], '\t');
    if (cells.at(2) == "rejected") rejected.insert(std::stoll(cells[0]));
  }
  ASSERT_GT(rejected.size(), 10u);
  const auto outcome = run(pipeline(), input);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  EXPECT_EQ(outcome.record.counts.rejected, static_cast<int64_t>(rejected.size()));
  const auto decided = decided_ids(outcome.record.run_id);
  EXPECT_EQ(decided.size(), 400u - rejected.size());
  for (const int64_t line : rejected) EXPECT_FALSE(decided.count(line)) << "line " << line << " was matched";
  EXPECT_EQ(captured().size(), decided.size());
}

TEST_F(MpiPluginTest, ALoadLearnsAModelTheNextLoadUses) {
  const auto first = run(pipeline(), generate(300, 18));
  ASSERT_EQ(first.record.status, "succeeded");
  {
    Index index(index_path());
    ASSERT_EQ(index.scalar("SELECT count(*) FROM models"), 1);
    EXPECT_EQ(index.rows("SELECT run_id FROM models")[0][0], first.record.run_id);
    EXPECT_GT(index.scalar("SELECT pairs FROM models"), 0);
    EXPECT_EQ(index.scalar("SELECT count(*) FROM decisions WHERE model_version <> 0"), 0);
  }
  const auto second = run(pipeline(), generate(100, 19));
  ASSERT_EQ(second.record.status, "succeeded");
  Index index(index_path());
  EXPECT_EQ(index.scalar("SELECT count(*) FROM decision_log WHERE run_id = '" + second.record.run_id +
                         "' AND model_version = 1"),
            100);

  // learn_model: false keeps the model.
  PipelineSettings fixed;
  fixed.learn_model = false;
  ASSERT_EQ(run(pipeline(fixed), generate(100, 20)).record.status, "succeeded");
  EXPECT_EQ(Index(index_path()).scalar("SELECT count(*) FROM models"), 2);
}

TEST_F(MpiPluginTest, DemographicRecordsAreMatchedAndUpdateTheirMaster) {
  const auto adt = [](const std::string& event, const std::string& id, const std::string& street) {
    return "MSH|^~\\&|NCEHR|NCCLINIC001|CVMS|NCDHHS|20210316091500-0500||ADT^" + event + "|" + id +
           "|P|2.5.1|||AL|NE\rEVN|" + event + "|20210316091500\rPID|1||ADTMRN1^^^NCEHR^MR||Roe^Richard^A||"
           "20150302|M|||" + street + "^^Durham^NC^27701^USA^H^^37063\rPV1|1|O\r";
  };
  const std::string input = dir_ / "ACMEPHARMCOVID_20260102030405_CVMS_PROD_PHI_VXU_V1.hl7";
  write_file(input, adt("A04", "ADT1", "22 Elm St") + adt("A08", "ADT2", "9 Birch Ln"));
  PipelineSettings vxu;
  vxu.source = "vxu";
  const auto outcome = run(pipeline(vxu), input);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;
  const auto rows = captured();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.begin()->second.mpi_id, rows.rbegin()->second.mpi_id);
  EXPECT_EQ(rows.rbegin()->second.decision, "linked");

  Index index(index_path());
  EXPECT_EQ(index.scalar("SELECT count(*) FROM decisions WHERE record_type = 'DEMOGRAPHICS'"), 2);
  EXPECT_EQ(index.scalar("SELECT count(*) FROM masters"), 1);
  EXPECT_EQ(index.scalar("SELECT count(*) FROM master_values v JOIN fields f USING (field) "
                         "WHERE f.name = 'street'"),
            2)
      << "the A08's new address is learned by the master";
}

TEST_F(MpiPluginTest, NoRecordValueReachesTheLogs) {
  const std::string input = generate(600, 21, "--phi-markers");
  std::set<std::string> markers;
  const auto lines = read_lines(input);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = split(lines[i], '|');
    for (std::size_t f : {6u, 7u, 8u, 12u, 13u, 19u})
      if (f < fields.size() && fields[f].rfind("PHI", 0) == 0) markers.insert(fields[f]);
  }
  ASSERT_GT(markers.size(), 500u);

  // In process, at debug level.
  std::ostringstream captured_log;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured_log));
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  const auto outcome = run(pipeline(), input);
  spdlog::set_default_logger(previous);
  ASSERT_EQ(outcome.record.status, "succeeded") << outcome.record.message;

  // Through the command line, in both log formats (a forced rerun, then a dry run).
  const std::string log_file = dir_ / "cli.log";
  const std::string path = pipeline();
  for (const std::string& command : {" run " + path + " --force --log-format text",
                                    " validate " + path + " --log-format json"}) {
    const std::string line = std::string(VAXETL_BIN_DIR) + "/vaxetl" + command + " --log-level debug --input " +
                             input + " >> " + log_file + " 2>&1";
    EXPECT_EQ(std::system(line.c_str()), 0) << line;
  }
  // And the operator's tool over the index.
  const std::string explain = std::string(VAXETL_BIN_DIR) + "/vaxetl-mpi explain " + outcome.record.run_id +
                              ":2 --index " + index_path() + " >> " + log_file + " 2>&1";
  EXPECT_EQ(std::system(explain.c_str()), 0);
  const std::string logs = captured_log.str() + read_file(log_file);
  ASSERT_NE(logs.find("masters in the index"), std::string::npos) << "the mpi stage's line was captured";
  ASSERT_NE(logs.find("decision   "), std::string::npos) << "explain ran";
  for (const auto& marker : markers) EXPECT_EQ(logs.find(marker), std::string::npos) << "PHI in logs: " << marker;
  EXPECT_EQ(outcome.record.message.find("PHI"), std::string::npos);
  // The decision log explains without values.
  Index index(index_path());
  EXPECT_EQ(index.scalar("SELECT count(*) FROM decisions WHERE comparison LIKE '%PHI%' OR rule LIKE '%PHI%'"), 0);
}

}  // namespace
