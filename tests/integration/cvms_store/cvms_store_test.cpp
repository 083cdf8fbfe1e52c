// CvmsStore against real SQLite files in a temporary directory.
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cvms_store.hpp"
#include "cvms_test_support.hpp"
#include "vaxetl/sdk/text.hpp"

namespace {

using namespace cvms_test;
using vaxetl::cvms::column_index;

static_assert(column_index("vax_event_id") == 0);
static_assert(column_index("ndc_as_sent") == 50);

// SQLite's own schema files, versions and pragmas.
class SqliteStoreTest : public CvmsStoreTest {};

TEST_P(SqliteStoreTest, OpeningANewDatabaseAppliesTheSchemaAndLoadsTheProductCatalog) {
  CvmsStore store(options_);
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), vaxetl::cvms::kSchemaVersion);
  const auto catalog = vaxetl::sdk::DataTable::load(CVMS_PRODUCTS_FILE);
  EXPECT_EQ(count("products"), static_cast<std::int64_t>(catalog.rows().size()));
  EXPECT_EQ(scalar("SELECT doses_per_vial FROM products WHERE ndc_unit_of_sale = '80777-0273-99'"), 10);
  EXPECT_EQ(text("SELECT ndc_unit_of_use || ' ' || cvx || ' ' || mvx FROM products "
                 "WHERE ndc_unit_of_sale = '59267-1000-03'"),
            "59267-1000-01 208 PFR");
  EXPECT_EQ(text("PRAGMA journal_mode"), "wal");
}

TEST_P(SqliteStoreTest, ReopeningAnExistingDatabaseKeepsItsDataAndReappliesTheSchemaHarmlessly) {
  load_file("run-1", {state_dose("EV1")});
  const auto products = count("products");
  for (int i = 0; i < 2; ++i) {
    CvmsStore reopened(options_);
  }
  EXPECT_EQ(count("schema_version"), vaxetl::cvms::kSchemaVersion);  // one row per version
  EXPECT_EQ(count("products"), products);
  EXPECT_EQ(count("vaccinations"), 1);
  EXPECT_EQ(load_file("run-2", {state_dose("EV2")}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(count("vaccinations"), 2);
}

TEST_P(SqliteStoreTest, AVersionOneStoreIsUpgradedInPlaceKeepingItsRows) {
  // Build a version-1 store by hand from schema.sql alone, with one vaccination in it.
  {
    std::ifstream in(CVMS_SCHEMA_FILE);
    const std::string v1((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.database.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO loads (run_id, input_name, input_sha256, started_at) VALUES ('r', 'f', 'h', 'now');"
                           "INSERT INTO organizations (org_code, first_load_id) VALUES ('ORG', 1);"
                           "INSERT INTO locations (pin, name, org_id, first_load_id, updated_load_id) VALUES ('NCA000001', 'x', 1, 1, 1);"
                           "INSERT INTO recipients (org_id, recip_id, demographics_hash, first_load_id, updated_load_id) VALUES (1, 'R1', 0, 1, 1);"
                           "INSERT INTO vaccinations (org_id, vax_event_id, location_id, recipient_id, content_hash, load_id) VALUES (1, 'OLD1', 1, 1, 0, 1);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_EQ(scalar("SELECT max(version) FROM schema_version"), 1);
  { CvmsStore store(options_); }
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), vaxetl::cvms::kSchemaVersion);
  EXPECT_EQ(count("vaccinations"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccinations WHERE vax_event_id = 'OLD1' AND dose_num IS NULL"), 1);
  // The upgraded store takes the new columns.
  Record record = state_dose("EV-NEW");
  record["dose_num"] = "2";
  record["admin_type"] = "17";
  EXPECT_EQ(load_file("run-2", {record}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(text("SELECT dose_num || ' ' || admin_type FROM vaccinations WHERE vax_event_id = 'EV-NEW'"), "2 17");
}

TEST_P(CvmsStoreTest, ADemographicsRecordCreatesThenUpdatesTheRecipientWithoutAVaccination) {
  Record adt;
  adt["record_type"] = "DEMOGRAPHICS";
  adt["org_code"] = "ORG1";
  adt["recip_id"] = "MRN-ADT";
  adt["recip_last_name"] = "Lovelace";
  adt["recip_first_name"] = "Ada";
  EXPECT_EQ(load_file("run-1", {adt}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(load_file("run-2", {adt}), std::vector{ApplyOutcome::Unchanged});
  adt["recip_address_city"] = "Raleigh";
  adt["recip_first_name"] = "";  // not sent in the update: keeps the stored value
  EXPECT_EQ(load_file("run-3", {adt}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(count("vaccinations"), 0);
  EXPECT_EQ(count("recipients"), 1);
  EXPECT_EQ(text("SELECT recip_first_name || ' ' || recip_last_name || ' ' || recip_address_city FROM recipients"),
            "Ada Lovelace Raleigh");
}

TEST_P(CvmsStoreTest, ARedactedRecordKeepsTheIdentifiedDemographicsAlreadyStored) {
  Record identified = state_dose("EV-I", "MRN-J");
  identified["recip_first_name"] = "Grace";
  identified["recip_last_name"] = "Hopper";
  identified["recip_address_street"] = "1 Navy Way";
  ASSERT_EQ(load_file("run-1", {identified}), std::vector{ApplyOutcome::Inserted});
  Record redacted = state_dose("EV-R", "MRN-J");  // CVRS ext_type D: names and street redacted
  redacted["ext_type"] = "D";
  redacted["recip_first_name"] = "";
  redacted["recip_last_name"] = "";
  redacted["recip_address_street"] = "";
  ASSERT_EQ(load_file("run-2", {redacted}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(count("recipients"), 1);
  EXPECT_EQ(count("vaccinations"), 2);
  EXPECT_EQ(text("SELECT recip_first_name || ' ' || recip_last_name || ' ' || recip_address_street FROM recipients"),
            "Grace Hopper 1 Navy Way");
}

TEST_P(SqliteStoreTest, ADatabaseWithANewerSchemaVersionIsRefused) {
  { CvmsStore store(options_); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options_.database.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version (version) VALUES (99)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(CvmsStore{options_}, vaxetl::cvms::StoreError);
}

TEST_P(CvmsStoreTest, AMissingCatalogOrSchemaFileIsAStoreError) {
  StoreOptions bad = options_;
  bad.products_path = (dir_ / "absent.tsv").string();
  EXPECT_THROW(CvmsStore{bad}, vaxetl::cvms::StoreError);
  bad = options_;
  bad.schema_path = (dir_ / "absent.sql").string();
  EXPECT_THROW(CvmsStore{bad}, vaxetl::cvms::StoreError);
}

TEST_P(CvmsStoreTest, ANewRecordIsInsertedWithItsOrganizationLocationAndRecipient) {
  EXPECT_EQ(load_file("run-1", {state_dose("EV1")}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(count("organizations"), 1);
  EXPECT_EQ(text("SELECT org_code FROM organizations"), "ACMEPHARM");
  EXPECT_EQ(text("SELECT pin || '|' || name FROM locations"), "NCA123456|ACME PHARMACY #12");
  EXPECT_EQ(text("SELECT recip_id || '|' || recip_last_name || '|' || recip_dob FROM recipients"),
            "MRN001|DOE|1960-04-01");
  EXPECT_EQ(scalar("SELECT count(*) FROM recipients WHERE mpi_id IS NULL AND recip_middle_name IS NULL"), 1);
  EXPECT_EQ(text("SELECT v.vax_event_id || '|' || v.ndc || '|' || v.lot_number || '|' || "
                 "v.inventory_source || '|' || l.pin || '|' || r.recip_id || '|' || ld.run_id "
                 "FROM vaccinations v JOIN locations l USING (location_id) "
                 "JOIN recipients r USING (recipient_id) JOIN loads ld USING (load_id)"),
            "EV1|59267-1000-02|EW0182|STATE|NCA123456|MRN001|run-1");
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccinations WHERE refusal_reason IS NULL"), 1);
  EXPECT_EQ(scalar("SELECT reported_to_cdc FROM vaccinations"), 0);
}

TEST_P(CvmsStoreTest, RerunningTheSameRecordsInALaterLoadReportsUnchangedAndChangesNothing) {
  const std::vector<Record> file = {state_dose("EV1"), state_dose("EV2"), federal_dose("EV3"),
                                    refusal("EV4"), state_dose("EV5", "MRN002")};
  load_file("run-1", file);
  const auto recipients = count("recipients");
  const auto doses = administered();
  EXPECT_EQ(doses, 3);
  EXPECT_EQ(load_file("run-2", file), std::vector<ApplyOutcome>(file.size(), ApplyOutcome::Unchanged));
  EXPECT_EQ(count("vaccinations"), 5);
  EXPECT_EQ(count("recipients"), recipients);
  EXPECT_EQ(count("locations"), 1);
  EXPECT_EQ(administered(), doses);
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccinations WHERE load_id = "
                   "(SELECT load_id FROM loads WHERE run_id = 'run-1')"), 5);
  EXPECT_EQ(count("loads"), 2);
}

TEST_P(CvmsStoreTest, AStoredEventResentWithDifferentContentConflictsAndTheStoredRowIsKept) {
  load_file("run-1", {state_dose("EV1")});
  const Record changed = state_dose("EV1").with("lot_number", "FA7484");  // action A
  EXPECT_EQ(load_file("run-2", {changed}), std::vector{ApplyOutcome::ConflictsWithStored});
  EXPECT_EQ(text("SELECT lot_number FROM vaccinations"), "EW0182");
  EXPECT_EQ(administered("EW0182"), 1);
  EXPECT_EQ(administered("FA7484"), 0);
  EXPECT_EQ(scalar("SELECT records_conflicting FROM loads WHERE run_id = 'run-2'"), 1);
}

TEST_P(CvmsStoreTest, ActionCodeAndTheNdcAsSentDoNotMakeAResubmissionDifferent) {
  load_file("run-1", {state_dose("EV1")});
  const Record resent = state_dose("EV1").with("action_code", "U").with("ndc_as_sent", "59267-1000-01");
  EXPECT_EQ(load_file("run-2", {resent}), std::vector{ApplyOutcome::Unchanged});
}

TEST_P(CvmsStoreTest, TheSameEventTwiceInOneFileIsADuplicateInFile) {
  EXPECT_EQ(load_file("run-1", {state_dose("EV1"), state_dose("EV1"),
                                state_dose("EV1").with("lot_number", "FA7484")}),
            (std::vector{ApplyOutcome::Inserted, ApplyOutcome::DuplicateInFile,
                         ApplyOutcome::DuplicateInFile}));
  EXPECT_EQ(administered(), 1);
  // Also when the first copy in the file was already stored by an earlier load.
  EXPECT_EQ(load_file("run-2", {state_dose("EV1"), state_dose("EV1")}),
            (std::vector{ApplyOutcome::Unchanged, ApplyOutcome::DuplicateInFile}));
  EXPECT_EQ(load_file("run-3", {state_dose("EV1").with("lot_number", "FA7484"), state_dose("EV1")}),
            (std::vector{ApplyOutcome::ConflictsWithStored, ApplyOutcome::DuplicateInFile}));
  EXPECT_EQ(scalar("SELECT records_duplicate FROM loads WHERE run_id = 'run-1'"), 2);
}

TEST_P(CvmsStoreTest, AnEventSeenInAnEarlierBatchIsADuplicateAndTheNextLoadStartsAfresh) {
  load_file("run-1", {state_dose("EV1")});
  CvmsStore store(options_);
  for (const char* run : {"run-2", "run-3"}) {
    store.begin(load(run));
    EXPECT_EQ(apply_all(store, {state_dose("EV1")}), std::vector{ApplyOutcome::Unchanged}) << run;
    EXPECT_EQ(apply_all(store, {state_dose("EV1")}), std::vector{ApplyOutcome::DuplicateInFile}) << run;
    EXPECT_EQ(apply_all(store, {state_dose("EV9").with("action_code", "U")}),
              std::vector{ApplyOutcome::UnknownEvent}) << run;
    EXPECT_EQ(apply_all(store, {state_dose("EV9")}), std::vector{ApplyOutcome::DuplicateInFile}) << run;
    EXPECT_EQ(apply_all(store, {state_dose("EV2")}), std::vector{ApplyOutcome::Inserted}) << run;
    EXPECT_EQ(apply_all(store, {state_dose("EV2").with("action_code", "D")}),
              std::vector{ApplyOutcome::DuplicateInFile}) << run;
    store.rollback();  // run-3 must not remember what run-2 saw
  }
  store.begin(load("run-4"));
  EXPECT_EQ(apply_all(store, {state_dose("EV2")}), std::vector{ApplyOutcome::Inserted});
  store.commit({});
  store.begin(load("run-5"));
  EXPECT_EQ(apply_all(store, {state_dose("EV1")}), std::vector{ApplyOutcome::Unchanged});
  EXPECT_EQ(apply_all(store, {state_dose("EV2").with("action_code", "D")}), std::vector{ApplyOutcome::Voided});
  store.commit({});
  EXPECT_EQ(count("vaccinations"), 2);
}

TEST_P(CvmsStoreTest, EventIdsAreUniquePerOrganizationNotGlobally) {
  EXPECT_EQ(load_file("run-1", {state_dose("EV1"), state_dose("EV1").with("org_code", "OTHERORG")}),
            (std::vector{ApplyOutcome::Inserted, ApplyOutcome::Inserted}));
  EXPECT_EQ(count("organizations"), 2);
  EXPECT_EQ(count("recipients"), 2);  // recip_id is the organization's own identifier
}

TEST_P(CvmsStoreTest, AStateDoseAddsOneAdministeredDoseAtItsPinNdcAndLot) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2"), state_dose("EV3").with("lot_number", "FA7484"),
                      state_dose("EV4").with("vtrcks_prov_pin", "NCA654321")});
  EXPECT_EQ(administered("EW0182"), 2);
  EXPECT_EQ(administered("FA7484"), 1);
  EXPECT_EQ(scalar("SELECT doses_administered FROM inventory WHERE pin = 'NCA654321'"), 1);
  EXPECT_EQ(scalar("SELECT on_hand FROM inventory WHERE pin = 'NCA123456' AND lot_number = 'EW0182'"), -2);
  load_file("run-2", {state_dose("EV5")});
  EXPECT_EQ(administered("EW0182"), 3);
  EXPECT_EQ(scalar("SELECT state_doses FROM loads WHERE run_id = 'run-1'"), 4);
}

TEST_P(CvmsStoreTest, AFederalDoseIsStoredButNeverTouchesInventory) {
  EXPECT_EQ(load_file("run-1", {federal_dose("EV1")}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(count("vaccinations"), 1);
  EXPECT_EQ(count("inventory"), 0);
  EXPECT_EQ(scalar("SELECT reported_to_cdc FROM vaccinations"), 1);
}

TEST_P(CvmsStoreTest, ARefusalIsStoredButNeverTouchesInventory) {
  EXPECT_EQ(load_file("run-1", {refusal("EV1")}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(count("inventory"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccinations WHERE ndc IS NULL AND vax_refusal = 'YES'"), 1);
}

TEST_P(CvmsStoreTest, InventoryTotalsStayRightPastThePendingKeyLimit) {
  std::vector<Record> file;
  for (int i = 0; i < 5000; ++i)
    file.push_back(state_dose(numbered("EV", i)).with("lot_number", numbered("L", i % 4500)));
  load_file("run-1", file);
  EXPECT_EQ(count("inventory"), 4500);
  EXPECT_EQ(scalar("SELECT sum(doses_administered) FROM inventory"), 5000);
  EXPECT_EQ(scalar("SELECT doses_administered FROM inventory WHERE lot_number = 'L10'"), 2);
}

TEST_P(CvmsStoreTest, ARecipientWithSeveralDosesIsStoredOnce) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2", "MRN002"), state_dose("EV3")});
  load_file("run-2", {state_dose("EV4").with("dose_status", "Dose Two Administered")});
  EXPECT_EQ(count("recipients"), 2);
  EXPECT_EQ(scalar("SELECT count(DISTINCT recipient_id) FROM vaccinations "
                   "WHERE vax_event_id IN ('EV1', 'EV3', 'EV4')"), 1);
}

TEST_P(CvmsStoreTest, ANewDoseWithChangedDemographicsUpdatesTheRecipientButAReplayDoesNot) {
  load_file("run-1", {state_dose("EV1")});
  load_file("run-2", {state_dose("EV2").with("recip_address_street", "9 ELM ST")});
  EXPECT_EQ(text("SELECT recip_address_street FROM recipients"), "9 ELM ST");
  // Replaying the first file must not roll the address back.
  EXPECT_EQ(load_file("run-3", {state_dose("EV1")}), std::vector{ApplyOutcome::Unchanged});
  EXPECT_EQ(text("SELECT recip_address_street FROM recipients"), "9 ELM ST");
  EXPECT_EQ(count("recipients"), 1);
}

TEST_P(CvmsStoreTest, AResubmissionNamingANewRecipientOrLocationLeavesNoOrphanRows) {
  load_file("run-1", {state_dose("EV1")});
  const Record moved = state_dose("EV1", "MRN999").with("vtrcks_prov_pin", "NCA999999");
  EXPECT_EQ(load_file("run-2", {moved, state_dose("EV2")}),
            (std::vector{ApplyOutcome::ConflictsWithStored, ApplyOutcome::Inserted}));
  EXPECT_EQ(count("recipients"), 1);
  EXPECT_EQ(count("locations"), 1);
}

TEST_P(CvmsStoreTest, ValidateOnlyReportsTheOutcomesButLeavesNoRows) {
  CvmsStore store(options_);
  store.begin(load("run-1", /*validate_only=*/true));
  EXPECT_EQ(store.apply(state_dose("EV1").values()), ApplyOutcome::Inserted);
  EXPECT_EQ(store.apply(state_dose("EV1").values()), ApplyOutcome::DuplicateInFile);
  EXPECT_EQ(store.apply(federal_dose("EV2").values()), ApplyOutcome::Inserted);
  store.commit({.records_read = 3, .records_rejected = 0});
  EXPECT_FALSE(store.in_load());
  expect_no_load_rows();
  EXPECT_FALSE(store.find_load("sha-run-1").has_value());
  // The store is usable afterwards: the ids of the discarded load are not reused from caches.
  store.begin(load("run-2"));
  EXPECT_EQ(store.apply(state_dose("EV1").values()), ApplyOutcome::Inserted);
  store.commit({});
  EXPECT_EQ(count("vaccinations"), 1);
}

TEST_P(CvmsStoreTest, RollbackLeavesNoRowsAndTheStoreUsable) {
  CvmsStore store(options_);
  store.begin(load("run-1"));
  store.apply(state_dose("EV1").values());
  store.apply(state_dose("EV2", "MRN002").values());
  store.rollback();
  expect_no_load_rows();
  store.begin(load("run-2"));
  EXPECT_EQ(store.apply(state_dose("EV1").values()), ApplyOutcome::Inserted);
  store.commit({});
  EXPECT_EQ(count("vaccinations"), 1);
  EXPECT_EQ(count("recipients"), 1);
  EXPECT_EQ(administered(), 1);
}

TEST_P(CvmsStoreTest, DestroyingTheStoreWithoutCommitLeavesNoRows) {
  {
    CvmsStore store(options_);
    store.begin(load("run-1"));
    for (int i = 0; i < 100; ++i) store.apply(state_dose(numbered("EV", i)).values());
  }
  expect_no_load_rows();
  CvmsStore reopened(options_);
  EXPECT_FALSE(reopened.find_load("sha-run-1").has_value());
}

TEST_P(CvmsStoreTest, AProcessThatDiesMidLoadLeavesNoRows) {
  { CvmsStore created(options_); }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A tiny page cache makes the uncommitted load spill into the WAL before the "crash".
    StoreOptions small = options_;
    small.cache_kib = 64;
    CvmsStore store(small);
    store.begin(load("run-1"));
    for (int i = 0; i < 5000; ++i)
      store.apply(state_dose(numbered("EV", i), numbered("MRN", i)).values());
    _exit(0);  // no commit, no destructors: as if killed
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  CvmsStore reopened(options_);  // recovers the database
  expect_no_load_rows();
}

TEST_P(CvmsStoreTest, TheLoadsRowRecordsTheInputAndItsCountsInTheSameTransaction) {
  CvmsStore store(options_);
  store.begin(load("run-1"));
  store.apply(state_dose("EV1").values());
  store.apply(state_dose("EV1").values());
  store.apply(federal_dose("EV2").values());
  EXPECT_EQ(store.counts().inserted, 2u);
  EXPECT_EQ(store.counts().duplicate, 1u);
  const auto id = store.commit({.records_read = 5, .records_rejected = 2});
  EXPECT_EQ(text("SELECT run_id || '|' || input_name || '|' || input_sha256 || '|' || records_read || "
                 "'|' || records_rejected || '|' || records_inserted || '|' || records_unchanged || "
                 "'|' || records_conflicting || '|' || records_duplicate || '|' || state_doses "
                 "FROM loads"),
            "run-1|ACMEPHARMCOVID_20210315120000_CVMS_PROD_PHI_DIRECT_V1.txt|sha-run-1|5|2|2|0|0|1|1");
  EXPECT_EQ(scalar("SELECT count(*) FROM loads WHERE committed_at IS NOT NULL AND started_at IS NOT NULL"), 1);
  const auto found = store.find_load("sha-run-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->load_id, id);
  EXPECT_EQ(found->run_id, "run-1");
  EXPECT_EQ(found->records_read, 5u);
  EXPECT_EQ(found->records_inserted, 2u);
  EXPECT_FALSE(store.find_load("sha-unknown").has_value());
}

TEST_P(CvmsStoreTest, ARecordLackingAKeyIsRefusedWithoutDisturbingTheLoad) {
  CvmsStore store(options_);
  store.begin(load("run-1"));
  for (const char* key : {"org_code", "vax_event_id", "vtrcks_prov_pin", "recip_id"})
    EXPECT_THROW(store.apply(state_dose("EV1").with(key, "").values()), std::invalid_argument) << key;
  EXPECT_THROW(store.apply(state_dose("EV1").with("lot_number", "").values()), std::invalid_argument);
  EXPECT_EQ(store.apply(state_dose("EV1").values()), ApplyOutcome::Inserted);
  store.commit({});
  EXPECT_EQ(count("vaccinations"), 1);
}

TEST_P(CvmsStoreTest, CallsOutOfOrderAreLogicErrors) {
  CvmsStore store(options_);
  EXPECT_THROW(store.apply(state_dose("EV1").values()), std::logic_error);
  EXPECT_THROW(store.commit({}), std::logic_error);
  store.begin(load("run-1"));
  EXPECT_THROW(store.begin(load("run-2")), std::logic_error);
  store.rollback();
  store.rollback();  // harmless when nothing is open
}

TEST_P(CvmsStoreTest, ASecondWriterGetsStoreBusyWhileALoadIsOpen) {
  CvmsStore first(options_);
  first.begin(load("run-1"));
  first.apply(state_dose("EV1").values());
  StoreOptions impatient = options_;
  impatient.busy_timeout_ms = 50;
  CvmsStore second(impatient);
  EXPECT_THROW(second.begin(load("run-2")), vaxetl::cvms::StoreBusy);
  EXPECT_FALSE(second.in_load());
  first.commit({});
  second.begin(load("run-2"));
  EXPECT_EQ(second.apply(state_dose("EV1").values()), ApplyOutcome::Unchanged);
  second.commit({});
}

TEST_P(CvmsStoreTest, ContentHashCountsFieldBoundaries) {
  Record a = state_dose("EV1"), b = state_dose("EV1");
  a["recip_first_name"] = "AB";
  a["recip_middle_name"] = "";
  b["recip_first_name"] = "A";
  b["recip_middle_name"] = "B";
  EXPECT_NE(vaxetl::cvms::content_hash(a.values()), vaxetl::cvms::content_hash(b.values()));
  EXPECT_EQ(vaxetl::cvms::content_hash(a.values()), vaxetl::cvms::content_hash(a.values()));
}

CVMS_ON_BOTH_BACKENDS(CvmsStoreTest);
CVMS_ON_SQLITE_ONLY(SqliteStoreTest);

}  // namespace
