// One recipient per master patient: with the MPI stage's mpi_id, CVMS keeps one recipient row
// per master whichever providers sent the person, and operators' merges move doses between
// masters and back.
#include <fstream>
#include <iterator>

#include "cvms_test_support.hpp"

namespace cvms_test {
namespace {

using vaxetl::cvms::MasterMergeResult;

class MasterRecipientTest : public CvmsStoreTest {
 protected:
  // Loads (record, mpi_id) pairs as one committed file.
  std::vector<ApplyOutcome> load_with_masters(
      const std::string& run_id, const std::vector<std::pair<Record, std::string>>& records) {
    CvmsStore store(options_);
    store.begin(load(run_id));
    std::vector<Record> batch;
    std::vector<std::string> masters;
    for (const auto& [record, mpi_id] : records) {
      batch.push_back(record);
      masters.push_back(mpi_id);
    }
    const auto outcomes = apply_all(store, batch, masters);
    store.commit({.records_read = records.size(), .records_rejected = 0});
    return outcomes;
  }
  std::int64_t doses_of(const std::string& mpi_id) const {
    return scalar("SELECT count(*) FROM vaccinations v JOIN recipients r USING (recipient_id) "
                  "WHERE r.mpi_id = '" + mpi_id + "'");
  }
};

// SQLite's schema upgrades.
class SqliteMasterRecipientTest : public MasterRecipientTest {};

TEST_P(MasterRecipientTest, OneMasterSentByTwoProvidersUnderTheirOwnIdsIsOneRecipient) {
  const Record pharmacy = state_dose("EV1", "MRN001");
  const Record clinic = state_dose("EV2", "C-77").with("org_code", "CLINIC9");
  EXPECT_EQ(load_with_masters("run-1", {{pharmacy, "MPI0000000001"}, {clinic, "MPI0000000001"}}),
            (std::vector{ApplyOutcome::Inserted, ApplyOutcome::Inserted}));
  EXPECT_EQ(count("recipients"), 1);
  EXPECT_EQ(doses_of("MPI0000000001"), 2);
  // Both providers' own ids find the person.
  std::string keys;
  for (const auto& row : rows("SELECT o.org_code || ':' || k.recip_id FROM recipient_keys k "
                              "JOIN organizations o USING (org_id) ORDER BY k.recip_id"))
    keys += (keys.empty() ? "" : ",") + row[0];
  EXPECT_EQ(keys, "CLINIC9:C-77,ACMEPHARM:MRN001");
}

TEST_P(MasterRecipientTest, OneProviderIdTheIndexSplitsBetweenTwoPeopleIsTwoRecipients) {
  const Record twin_a = state_dose("EV1", "FAMILY-1");
  const Record twin_b = state_dose("EV2", "FAMILY-1").with("recip_first_name", "JOAN");
  load_with_masters("run-1", {{twin_a, "MPI0000000001"}, {twin_b, "MPI0000000002"}});
  EXPECT_EQ(count("recipients"), 2);
  EXPECT_EQ(doses_of("MPI0000000001"), 1);
  EXPECT_EQ(doses_of("MPI0000000002"), 1);
}

TEST_P(MasterRecipientTest, WithoutTheMpiStageARecipientIsStillOnePerProviderId) {
  load_file("run-1", {state_dose("EV1", "MRN001"), state_dose("EV2", "MRN001"),
                      state_dose("EV3", "MRN002")});
  EXPECT_EQ(count("recipients"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM recipients WHERE mpi_id IS NOT NULL"), 0);
  EXPECT_EQ(count("recipient_keys"), 0);
}

TEST_P(MasterRecipientTest, ReplayingAFileWithMastersChangesNothing) {
  const std::vector<std::pair<Record, std::string>> file = {
      {state_dose("EV1", "MRN001"), "MPI0000000001"}, {state_dose("EV2", "MRN002"), "MPI0000000002"}};
  load_with_masters("run-1", file);
  EXPECT_EQ(load_with_masters("run-2", file),
            (std::vector{ApplyOutcome::Unchanged, ApplyOutcome::Unchanged}));
  EXPECT_EQ(count("recipients"), 2);
  EXPECT_EQ(count("recipient_keys"), 2);
}

TEST_P(MasterRecipientTest, AResubmissionUnderANewMasterLeavesNoOrphanRecipientOrKey) {
  load_with_masters("run-1", {{state_dose("EV1", "MRN001"), "MPI0000000001"}});
  // The same dose again, under a master the index made for it this time: nothing is written.
  EXPECT_EQ(load_with_masters("run-2", {{state_dose("EV1", "MRN001"), "MPI0000000005"}}),
            std::vector{ApplyOutcome::Unchanged});
  EXPECT_EQ(count("recipients"), 1);
  EXPECT_EQ(count("recipient_keys"), 1);
}

TEST_P(MasterRecipientTest, AMergeMovesTheRetiredMastersDosesAndAnUnmergeMovesExactlyThoseBack) {
  load_with_masters("run-1", {{state_dose("EV1", "MRN001"), "MPI0000000001"},
                              {state_dose("EV2", "MRN002"), "MPI0000000002"},
                              {state_dose("EV3", "MRN002"), "MPI0000000002"}});
  MasterMergeResult merged;
  {
    CvmsStore store(options_);
    merged = store.merge_masters("MPI0000000001", "MPI0000000002");
  }
  EXPECT_FALSE(merged.survivor_created);
  EXPECT_EQ(merged.vaccinations_moved, 2);
  EXPECT_EQ(doses_of("MPI0000000001"), 3);
  EXPECT_EQ(doses_of("MPI0000000002"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM recipients WHERE mpi_id = 'MPI0000000002' AND merged_into IS NOT NULL"), 1);
  // A dose loaded for the survivor after the merge stays with it on unmerge.
  load_with_masters("run-2", {{state_dose("EV4", "MRN002"), "MPI0000000001"}});
  MasterMergeResult unmerged;
  {
    CvmsStore store(options_);
    unmerged = store.unmerge_masters("MPI0000000001", "MPI0000000002");
  }
  EXPECT_EQ(unmerged.vaccinations_moved, 2);
  EXPECT_EQ(doses_of("MPI0000000001"), 2);
  EXPECT_EQ(doses_of("MPI0000000002"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM recipients WHERE merged_into IS NOT NULL"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM recipient_merges WHERE unmerged_at IS NOT NULL"), 1);
  // Unmerging again has nothing left to give back.
  CvmsStore store(options_);
  EXPECT_EQ(store.unmerge_masters("MPI0000000001", "MPI0000000002").vaccinations_moved, 0);
}

TEST_P(MasterRecipientTest, MergingIntoAMasterCvmsDoesNotHoldYetCreatesItsRecipient) {
  load_with_masters("run-1", {{state_dose("EV1", "MRN001"), "MPI0000000002"}});
  CvmsStore store(options_);
  const MasterMergeResult merged = store.merge_masters("MPI0000000009", "MPI0000000002");
  EXPECT_TRUE(merged.survivor_created);
  EXPECT_EQ(merged.vaccinations_moved, 1);
  EXPECT_EQ(doses_of("MPI0000000009"), 1);
  EXPECT_EQ(text("SELECT recip_last_name FROM recipients WHERE mpi_id = 'MPI0000000009'"), "DOE");
}

TEST_P(MasterRecipientTest, MergesAreRefusedForEqualIdsAndDuringALoad) {
  CvmsStore store(options_);
  EXPECT_THROW(store.merge_masters("MPI0000000001", "MPI0000000001"), std::invalid_argument);
  EXPECT_EQ(store.merge_masters("MPI0000000001", "MPI0000000404").vaccinations_moved, 0);
  store.begin(load("run-1"));
  EXPECT_THROW(store.merge_masters("MPI0000000001", "MPI0000000002"), std::logic_error);
  store.rollback();
}

TEST_P(SqliteMasterRecipientTest, AVersionThreeStoreIsUpgradedKeepingRecipientsAndTheirDoses) {
  {
    auto read = [](const std::string& path) {
      std::ifstream in(path);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const std::string dir = fs::path(CVMS_SCHEMA_FILE).parent_path().string();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.database.c_str(), &db), SQLITE_OK);
    for (const std::string& file : {std::string(CVMS_SCHEMA_FILE), dir + "/schema-0002.sql", dir + "/schema-0003.sql"})
      ASSERT_EQ(sqlite3_exec(db, read(file).c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << file;
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO loads (run_id, input_name, input_sha256, started_at) VALUES ('r', 'f', 'h', 'now');"
                           "INSERT INTO organizations (org_code, first_load_id) VALUES ('ACMEPHARM', 1);"
                           "INSERT INTO locations (pin, name, org_id, first_load_id, updated_load_id) VALUES ('NCA123456', 'x', 1, 1, 1);"
                           "INSERT INTO recipients (org_id, recip_id, recip_last_name, demographics_hash, first_load_id, updated_load_id) "
                           "VALUES (1, 'MRN001', 'DOE', 0, 1, 1);"
                           "INSERT INTO vaccinations (org_id, vax_event_id, location_id, recipient_id, content_hash, load_id) VALUES (1, 'OLD1', 1, 1, 0, 1);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_EQ(scalar("SELECT max(version) FROM schema_version"), 3);
  { CvmsStore store(options_); }
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), vaxetl::cvms::kSchemaVersion);
  EXPECT_EQ(text("SELECT r.recip_last_name FROM vaccinations v JOIN recipients r USING (recipient_id)"), "DOE");
  // The old recipient is still found by its provider id: a new dose joins it.
  load_file("run-2", {state_dose("EV-NEW", "MRN001")});
  EXPECT_EQ(count("recipients"), 1);
  // The views over the rebuilt table still work.
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccination_changes"), 0);
}

CVMS_ON_BOTH_BACKENDS(MasterRecipientTest);
CVMS_ON_SQLITE_ONLY(SqliteMasterRecipientTest);

}  // namespace
}  // namespace cvms_test
