// Action codes A, U and D against real SQLite stores: every outcome, the history a change
// leaves, inventory following corrections, dry runs, reruns, and the upgrade to schema 3.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cvms_store.hpp"
#include "cvms_test_support.hpp"

namespace {

using namespace cvms_test;

constexpr const char* kCorrectionsFile =
    "ACMEPHARMCOVID_20210316120000_CVMS_PROD_PHI_DIRECT_CORRECTIONS_V1.txt";

class CorrectionsTest : public CvmsStoreTest {
 protected:
  // Loads `records` as a corrections file (its own input name) and returns the outcomes.
  std::vector<ApplyOutcome> load_corrections(const std::string& run_id,
                                             const std::vector<Record>& records,
                                             bool validate_only = false) {
    CvmsStore store(options_);
    store.begin({.run_id = run_id, .input_name = kCorrectionsFile, .input_sha256 = "sha-" + run_id,
                 .validate_only = validate_only});
    const auto outcomes = apply_all(store, records);
    store.commit({.records_read = records.size(), .records_rejected = 0});
    return outcomes;
  }

  // Every row of every table but loads, in a fixed order: "nothing changed" means equal.
  std::string snapshot() const {
    std::string dump;
    for (const char* table : {"organizations", "locations", "recipients", "vaccinations",
                              "vaccination_history", "inventory", "inventory_receipts",
                              "inventory_discrepancies"}) {
      dump += table;
      dump += ":\n";
      for (const auto& row : rows(std::string("SELECT * FROM ").append(table).append(" ORDER BY 1, 2, 3"))) {
        for (const auto& value : row) dump.append(value).append("|");
        dump.append("\n");
      }
    }
    return dump;
  }

  std::int64_t administered_at(const std::string& lot) const { return administered(lot); }
};

// SQLite's schema upgrades.
class SqliteCorrectionsTest : public CorrectionsTest {};

Record with_action(Record r, const char* action) { return r.with("action_code", action); }

TEST_P(CorrectionsTest, AnEmptyActionCodeMeansAdd) {
  EXPECT_EQ(load_file("run-1", {state_dose("EV1").with("action_code", "")}),
            std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(count("vaccinations"), 1);
}

TEST_P(CorrectionsTest, AnAddOfAVoidedEventIsRefusedAsVoidedAndWritesNothing) {
  load_file("run-1", {state_dose("EV1")});
  load_corrections("run-2", {with_action(state_dose("EV1"), "D")});
  const auto before = snapshot();
  // The original daily file replayed, and a new version under the voided id: both refused.
  EXPECT_EQ(load_file("run-3", {state_dose("EV1")}), std::vector{ApplyOutcome::EventVoided});
  EXPECT_EQ(load_file("run-4", {state_dose("EV1").with("lot_number", "FA7484")}),
            std::vector{ApplyOutcome::EventVoided});
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(scalar("SELECT records_event_voided FROM loads WHERE run_id = 'run-3'"), 1);
}

TEST_P(CorrectionsTest, AnUpdateOfAnUnknownEventIsRefusedAndCreatesNothing) {
  EXPECT_EQ(load_corrections("run-1", {with_action(state_dose("EV1"), "U")}),
            std::vector{ApplyOutcome::UnknownEvent});
  // Not even the organization, location or recipient the record names.
  for (const char* table : {"organizations", "locations", "recipients", "vaccinations", "inventory"})
    EXPECT_EQ(count(table), 0) << table;
  load_file("run-2", {state_dose("EV1")});
  EXPECT_EQ(load_corrections("run-3", {with_action(state_dose("EV2"), "U")}),
            std::vector{ApplyOutcome::UnknownEvent});
  EXPECT_EQ(count("vaccinations"), 1);
  EXPECT_EQ(scalar("SELECT records_unknown_event FROM loads WHERE run_id = 'run-3'"), 1);
}

TEST_P(CorrectionsTest, AnUpdateWithTheStoredContentIsUnchanged) {
  load_file("run-1", {state_dose("EV1")});
  const auto before = snapshot();
  EXPECT_EQ(load_corrections("run-2", {with_action(state_dose("EV1"), "U")}),
            std::vector{ApplyOutcome::Unchanged});
  EXPECT_EQ(snapshot(), before);
}

TEST_P(CorrectionsTest, AnUpdateReplacesTheRowAndKeepsThePreviousVersionInHistory) {
  load_file("run-1", {state_dose("EV1")});
  const std::int64_t first_load = scalar("SELECT load_id FROM loads WHERE run_id = 'run-1'");
  const std::int64_t old_hash = scalar("SELECT content_hash FROM vaccinations");
  const Record corrected = with_action(state_dose("EV1"), "U")
                               .with("lot_number", "FA7484")
                               .with("admin_date", "2021-03-16")
                               .with("vax_admin_site", "RD");
  EXPECT_EQ(load_corrections("run-2", {corrected}), std::vector{ApplyOutcome::Updated});
  const std::int64_t corrections_load = scalar("SELECT load_id FROM loads WHERE run_id = 'run-2'");

  EXPECT_EQ(count("vaccinations"), 1);
  EXPECT_EQ(text("SELECT lot_number || '|' || admin_date || '|' || vax_admin_site || '|' || "
                 "action_code || '|' || status FROM vaccinations"),
            "FA7484|2021-03-16|RD|U|active");
  EXPECT_EQ(scalar("SELECT load_id FROM vaccinations"), first_load);  // who inserted it
  EXPECT_EQ(scalar("SELECT changed_load_id FROM vaccinations"), corrections_load);
  EXPECT_EQ(scalar("SELECT content_hash FROM vaccinations"),
            static_cast<std::int64_t>(vaxetl::cvms::content_hash(corrected.values())));

  // What it replaced, and which file and run replaced it.
  ASSERT_EQ(count("vaccination_history"), 1);
  EXPECT_EQ(text("SELECT change || '|' || lot_number || '|' || admin_date || '|' || vax_admin_site "
                 "|| '|' || action_code || '|' || ndc || '|' || inventory_source FROM "
                 "vaccination_history"),
            "updated|EW0182|2021-03-15|LD|A|59267-1000-02|STATE");
  EXPECT_EQ(scalar("SELECT content_hash FROM vaccination_history"), old_hash);
  EXPECT_EQ(scalar("SELECT version_load_id FROM vaccination_history"), first_load);
  EXPECT_EQ(scalar("SELECT load_id FROM vaccination_history"), corrections_load);
  EXPECT_EQ(scalar("SELECT h.vaccination_id = v.vaccination_id AND h.location_id = v.location_id "
                   "AND h.recipient_id = v.recipient_id FROM vaccination_history h, vaccinations v"),
            1);
  EXPECT_EQ(text("SELECT run_id || '|' || input_name FROM vaccination_changes"),
            std::string("run-2|") + kCorrectionsFile);
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccination_history WHERE changed_at LIKE '2%Z'"), 1);
  EXPECT_EQ(scalar("SELECT records_updated FROM loads WHERE run_id = 'run-2'"), 1);

  // A second update: the history's previous version is the first update, written by run-2.
  EXPECT_EQ(load_corrections("run-3", {corrected.with("vax_admin_site", "LA")}),
            std::vector{ApplyOutcome::Updated});
  EXPECT_EQ(count("vaccination_history"), 2);
  EXPECT_EQ(text("SELECT vax_admin_site || '|' || version_load_id FROM vaccination_history "
                 "ORDER BY history_id DESC LIMIT 1"),
            "RD|" + std::to_string(corrections_load));
}

TEST_P(CorrectionsTest, AnUpdateOfAVoidedEventIsRefused) {
  load_file("run-1", {state_dose("EV1")});
  load_corrections("run-2", {with_action(state_dose("EV1"), "D")});
  const auto before = snapshot();
  EXPECT_EQ(load_corrections("run-3", {with_action(state_dose("EV1").with("lot_number", "FA7484"), "U")}),
            std::vector{ApplyOutcome::EventVoided});
  EXPECT_EQ(load_corrections("run-4", {with_action(state_dose("EV1"), "U")}),
            std::vector{ApplyOutcome::EventVoided});
  EXPECT_EQ(snapshot(), before);
}

TEST_P(CorrectionsTest, ADeleteOfAnUnknownEventIsRefused) {
  load_file("run-1", {state_dose("EV1")});
  const auto before = snapshot();
  EXPECT_EQ(load_corrections("run-2", {with_action(state_dose("EV2"), "D"),
                                       with_action(state_dose("EV1").with("org_code", "OTHERORG"), "D")}),
            (std::vector{ApplyOutcome::UnknownEvent, ApplyOutcome::UnknownEvent}));
  EXPECT_EQ(snapshot(), before);
}

TEST_P(CorrectionsTest, ADeleteVoidsTheRowKeepsItAndRecordsTheVoidedVersion) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2")});
  // A delete needs only the organization and the event id.
  Record sparse;
  sparse["action_code"] = "D";
  sparse["org_code"] = "ACMEPHARM";
  sparse["vax_event_id"] = "EV1";
  EXPECT_EQ(load_corrections("run-2", {sparse}), std::vector{ApplyOutcome::Voided});
  EXPECT_EQ(count("vaccinations"), 2);
  EXPECT_EQ(text("SELECT status || '|' || lot_number || '|' || action_code FROM vaccinations "
                 "WHERE vax_event_id = 'EV1'"),
            "voided|EW0182|A");
  EXPECT_EQ(text("SELECT status FROM vaccinations WHERE vax_event_id = 'EV2'"), "active");
  EXPECT_EQ(scalar("SELECT changed_load_id FROM vaccinations WHERE vax_event_id = 'EV1'"),
            scalar("SELECT load_id FROM loads WHERE run_id = 'run-2'"));
  EXPECT_EQ(text("SELECT change || '|' || lot_number || '|' || run_id || '|' || input_name "
                 "FROM vaccination_changes"),
            std::string("voided|EW0182|run-2|") + kCorrectionsFile);
  EXPECT_EQ(scalar("SELECT records_voided FROM loads WHERE run_id = 'run-2'"), 1);
}

TEST_P(CorrectionsTest, ADeleteOfAnAlreadyVoidedEventIsUnchanged) {
  load_file("run-1", {state_dose("EV1")});
  load_corrections("run-2", {with_action(state_dose("EV1"), "D")});
  const auto before = snapshot();
  EXPECT_EQ(load_corrections("run-3", {with_action(state_dose("EV1"), "D")}),
            std::vector{ApplyOutcome::Unchanged});
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(count("vaccination_history"), 1);
}

TEST_P(CorrectionsTest, TheSameEventTwiceInOneLoadIsADuplicateWhateverTheActions) {
  // Added, then corrected in the same file.
  EXPECT_EQ(load_file("run-1", {state_dose("EV1"), with_action(state_dose("EV1").with("lot_number", "FA7484"), "U"),
                                with_action(state_dose("EV1"), "D")}),
            (std::vector{ApplyOutcome::Inserted, ApplyOutcome::DuplicateInFile,
                         ApplyOutcome::DuplicateInFile}));
  EXPECT_EQ(text("SELECT lot_number || '|' || status FROM vaccinations"), "EW0182|active");
  // Stored before: a U then a D, a D then an A.
  EXPECT_EQ(load_corrections("run-2", {with_action(state_dose("EV1").with("lot_number", "FA7484"), "U"),
                                       with_action(state_dose("EV1"), "D")}),
            (std::vector{ApplyOutcome::Updated, ApplyOutcome::DuplicateInFile}));
  EXPECT_EQ(load_file("run-3", {state_dose("EV2")}), std::vector{ApplyOutcome::Inserted});
  EXPECT_EQ(load_corrections("run-4", {with_action(state_dose("EV2"), "D"), state_dose("EV2")}),
            (std::vector{ApplyOutcome::Voided, ApplyOutcome::DuplicateInFile}));
  // Unknown events: the second copy is a duplicate too, whether it corrects or adds.
  EXPECT_EQ(load_corrections("run-5", {with_action(state_dose("EV9"), "U"), with_action(state_dose("EV9"), "D"),
                                       state_dose("EV9")}),
            (std::vector{ApplyOutcome::UnknownEvent, ApplyOutcome::DuplicateInFile,
                         ApplyOutcome::DuplicateInFile}));
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccinations WHERE vax_event_id = 'EV9'"), 0);
  EXPECT_EQ(scalar("SELECT records_duplicate FROM loads WHERE run_id = 'run-5'"), 2);
  EXPECT_EQ(text("SELECT lot_number FROM vaccinations WHERE vax_event_id = 'EV1'"), "FA7484");
}

TEST_P(CorrectionsTest, AnUpdateChangesTheRecipientsDemographicsButANullKeepsAStoredValue) {
  load_file("run-1", {state_dose("EV1")});
  Record corrected = with_action(state_dose("EV1"), "U");
  corrected["recip_address_street"] = "9 ELM ST";
  corrected["recip_phone"] = "";  // not sent: keeps the stored phone
  EXPECT_EQ(load_corrections("run-2", {corrected}), std::vector{ApplyOutcome::Updated});
  EXPECT_EQ(text("SELECT recip_address_street || '|' || recip_phone FROM recipients"),
            "9 ELM ST|9195550100");
  EXPECT_EQ(scalar("SELECT updated_load_id FROM recipients"),
            scalar("SELECT load_id FROM loads WHERE run_id = 'run-2'"));
}

TEST_P(CorrectionsTest, AnUpdateCanMoveTheDoseToAnotherLocationAndRecipient) {
  load_file("run-1", {state_dose("EV1")});
  const Record moved = with_action(state_dose("EV1", "MRN777"), "U").with("vtrcks_prov_pin", "NCA654321");
  EXPECT_EQ(load_corrections("run-2", {moved}), std::vector{ApplyOutcome::Updated});
  EXPECT_EQ(text("SELECT l.pin || '|' || r.recip_id FROM vaccinations v JOIN locations l USING "
                 "(location_id) JOIN recipients r USING (recipient_id)"),
            "NCA654321|MRN777");
  EXPECT_EQ(text("SELECT l.pin || '|' || r.recip_id FROM vaccination_history h JOIN locations l "
                 "USING (location_id) JOIN recipients r USING (recipient_id)"),
            "NCA123456|MRN001");
  // The dose moved between locations' inventory.
  EXPECT_EQ(administered(), 0);
  EXPECT_EQ(scalar("SELECT doses_administered FROM inventory WHERE pin = 'NCA654321'"), 1);
}

TEST_P(CorrectionsTest, VoidingAStateDoseGivesItBackToInventory) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2")});
  EXPECT_EQ(administered(), 2);
  load_corrections("run-2", {with_action(state_dose("EV1"), "D")});
  EXPECT_EQ(administered(), 1);
  EXPECT_EQ(scalar("SELECT on_hand FROM inventory"), -1);
}

TEST_P(CorrectionsTest, UpdatingAStateDoseGivesBackTheOldLotAndTakesTheNewOne) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2")});
  EXPECT_EQ(load_corrections("run-2", {with_action(state_dose("EV1").with("lot_number", "FA7484"), "U")}),
            std::vector{ApplyOutcome::Updated});
  EXPECT_EQ(administered("EW0182"), 1);
  EXPECT_EQ(administered("FA7484"), 1);
  // A change that does not touch the key leaves inventory as it was.
  EXPECT_EQ(load_corrections("run-3", {with_action(state_dose("EV2").with("vax_admin_site", "RD"), "U")}),
            std::vector{ApplyOutcome::Updated});
  EXPECT_EQ(administered("EW0182"), 1);
  EXPECT_EQ(scalar("SELECT sum(doses_administered) FROM inventory"), 2);
}

TEST_P(CorrectionsTest, CorrectingBetweenStateFederalAndRefusalMovesInventoryOnlyForStateDoses) {
  load_file("run-1", {state_dose("EV1"), federal_dose("EV2"), refusal("EV3")});
  EXPECT_EQ(administered(), 1);
  // STATE -> FEDERAL gives the dose back; FEDERAL -> STATE takes one; a refusal that turns
  // out to be a STATE dose takes one.
  EXPECT_EQ(load_corrections("run-2", {with_action(federal_dose("EV1"), "U"), with_action(state_dose("EV2"), "U"),
                                       with_action(state_dose("EV3"), "U")}),
            (std::vector{ApplyOutcome::Updated, ApplyOutcome::Updated, ApplyOutcome::Updated}));
  EXPECT_EQ(administered(), 2);
  // Once reported to the CDC, always: EV2 was FEDERAL when loaded.
  EXPECT_EQ(scalar("SELECT reported_to_cdc FROM vaccinations WHERE vax_event_id = 'EV2'"), 1);
  EXPECT_EQ(scalar("SELECT reported_to_cdc FROM vaccinations WHERE vax_event_id = 'EV1'"), 1);
  EXPECT_EQ(scalar("SELECT reported_to_cdc FROM vaccinations WHERE vax_event_id = 'EV3'"), 0);
  // A STATE dose corrected to a refusal gives its dose back.
  EXPECT_EQ(load_corrections("run-3", {with_action(refusal("EV3"), "U")}), std::vector{ApplyOutcome::Updated});
  EXPECT_EQ(administered(), 1);
}

TEST_P(CorrectionsTest, FederalDosesNeverTouchInventoryWhenUpdatedOrVoided) {
  load_file("run-1", {federal_dose("EV1"), federal_dose("EV2")});
  EXPECT_EQ(load_corrections("run-2", {with_action(federal_dose("EV1").with("lot_number", "FA7484"), "U"),
                                       with_action(federal_dose("EV2"), "D")}),
            (std::vector{ApplyOutcome::Updated, ApplyOutcome::Voided}));
  EXPECT_EQ(count("inventory"), 0);
  EXPECT_EQ(count("inventory_discrepancies"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccinations WHERE reported_to_cdc = 1"), 2);
}

TEST_P(CorrectionsTest, VoidingARefusalTouchesNoInventory) {
  load_file("run-1", {refusal("EV1")});
  EXPECT_EQ(load_corrections("run-2", {with_action(refusal("EV1"), "D")}), std::vector{ApplyOutcome::Voided});
  EXPECT_EQ(count("inventory"), 0);
}

TEST_P(CorrectionsTest, AValidateOnlyCorrectionsLoadReportsTheSameOutcomesAndChangesNothing) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2"), state_dose("EV3"), state_dose("EV4")});
  load_corrections("run-2", {with_action(state_dose("EV4"), "D")});
  const std::vector<Record> corrections = {
      with_action(state_dose("EV1").with("lot_number", "FA7484"), "U"),  // Updated
      with_action(state_dose("EV2"), "D"),                               // Voided
      with_action(state_dose("EV3"), "U"),                               // Unchanged
      with_action(state_dose("EV4"), "U"),                               // EventVoided
      with_action(state_dose("EV5"), "D"),                               // UnknownEvent
      with_action(state_dose("EV2"), "D"),                               // DuplicateInFile
      state_dose("EV6"),                                                 // Inserted
  };
  const auto before = snapshot();
  const auto loads = count("loads");
  const auto dry = load_corrections("run-dry", corrections, /*validate_only=*/true);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(count("loads"), loads);
  const auto real = load_corrections("run-3", corrections);
  EXPECT_EQ(dry, real);
  EXPECT_EQ(real, (std::vector{ApplyOutcome::Updated, ApplyOutcome::Voided, ApplyOutcome::Unchanged,
                               ApplyOutcome::EventVoided, ApplyOutcome::UnknownEvent,
                               ApplyOutcome::DuplicateInFile, ApplyOutcome::Inserted}));
  EXPECT_NE(snapshot(), before);
}

TEST_P(CorrectionsTest, RerunningACorrectionsLoadChangesNothing) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2"), federal_dose("EV3")});
  const std::vector<Record> corrections = {
      with_action(state_dose("EV1").with("lot_number", "FA7484"), "U"),
      with_action(state_dose("EV2"), "D"),
      with_action(federal_dose("EV3").with("vax_admin_site", "RD"), "U"),
  };
  EXPECT_EQ(load_corrections("run-2", corrections),
            (std::vector{ApplyOutcome::Updated, ApplyOutcome::Voided, ApplyOutcome::Updated}));
  const auto after_first = snapshot();
  EXPECT_EQ(load_corrections("run-3", corrections), std::vector<ApplyOutcome>(3, ApplyOutcome::Unchanged));
  EXPECT_EQ(snapshot(), after_first);
  EXPECT_EQ(text("SELECT records_unchanged || '|' || records_updated || '|' || records_voided FROM "
                 "loads WHERE run_id = 'run-3'"),
            "3|0|0");
}

TEST_P(CorrectionsTest, TheLoadsRowCountsEveryCorrectionOutcome) {
  load_file("run-1", {state_dose("EV1"), state_dose("EV2"), state_dose("EV3")});
  load_corrections("run-2", {with_action(state_dose("EV3"), "D")});
  CvmsStore store(options_);
  store.begin({.run_id = "run-3", .input_name = kCorrectionsFile, .input_sha256 = "sha-3"});
  for (const Record& r : {with_action(state_dose("EV1").with("lot_number", "FA7484"), "U"),
                          with_action(state_dose("EV2"), "D"), with_action(state_dose("EV3"), "U"),
                          with_action(state_dose("EV4"), "U"), with_action(state_dose("EV5"), "D")})
    store.apply(r.values());
  const auto& counts = store.counts();
  EXPECT_EQ(counts.updated, 1u);
  EXPECT_EQ(counts.voided, 1u);
  EXPECT_EQ(counts.event_voided, 1u);
  EXPECT_EQ(counts.unknown_event, 2u);
  store.commit({.records_read = 5, .records_rejected = 3});
  EXPECT_EQ(text("SELECT records_read || '|' || records_rejected || '|' || records_updated || '|' "
                 "|| records_voided || '|' || records_event_voided || '|' || records_unknown_event "
                 "FROM loads WHERE run_id = 'run-3'"),
            "5|3|1|1|1|2");
}

TEST_P(CorrectionsTest, ABadActionCodeOrAMissingKeyIsRefusedWithoutDisturbingTheLoad) {
  load_file("run-1", {state_dose("EV1")});
  CvmsStore store(options_);
  store.begin(load("run-2"));
  EXPECT_THROW(store.apply(state_dose("EV1").with("action_code", "X").values()), std::invalid_argument);
  EXPECT_THROW(store.apply(with_action(state_dose("EV1"), "D").with("vax_event_id", "").values()),
               std::invalid_argument);
  EXPECT_THROW(store.apply(with_action(state_dose("EV1"), "U").with("recip_id", "").values()),
               std::invalid_argument);
  EXPECT_THROW(store.apply(with_action(state_dose("EV1"), "U").with("lot_number", "").values()),
               std::invalid_argument);
  EXPECT_EQ(store.apply(with_action(state_dose("EV1"), "D").values()), ApplyOutcome::Voided);
  store.commit({});
}

TEST_P(SqliteCorrectionsTest, AVersionTwoStoreIsUpgradedKeepingItsDataAndItsShortfalls) {
  // A version-2 store built from the shipped steps, with a load of three STATE doses and one
  // FEDERAL dose written as version 2 would have written them.
  {
    auto read = [](const std::string& path) {
      std::ifstream in(path);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const std::string dir = fs::path(CVMS_SCHEMA_FILE).parent_path().string();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.database.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, read(CVMS_SCHEMA_FILE).c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, read(dir + "/schema-0002.sql").c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO products (ndc_unit_of_sale, ndc_unit_of_use, cvx, mvx, name, doses_per_vial) "
                           "VALUES ('59267-1000-02', '59267-1000-01', '208', 'PFR', 'Pfizer', 5);"
                           "INSERT INTO loads (run_id, input_name, input_sha256, started_at, committed_at, state_doses) "
                           "VALUES ('old-run', 'OLD.txt', 'h', 'then', 'then', 3);"
                           "INSERT INTO organizations (org_code, first_load_id) VALUES ('ACMEPHARM', 1);"
                           "INSERT INTO locations (pin, name, org_id, first_load_id, updated_load_id) "
                           "VALUES ('NCA123456', 'x', 1, 1, 1);"
                           "INSERT INTO recipients (org_id, recip_id, demographics_hash, first_load_id, updated_load_id) "
                           "VALUES (1, 'MRN001', 0, 1, 1);"
                           "INSERT INTO vaccinations (org_id, vax_event_id, location_id, recipient_id, ndc, lot_number, "
                           "inventory_source, vax_refusal, content_hash, reported_to_cdc, load_id) VALUES "
                           "(1, 'OLD1', 1, 1, '59267-1000-02', 'EW0182', 'STATE', 'NO', 0, 0, 1),"
                           "(1, 'OLD2', 1, 1, '59267-1000-02', 'EW0182', 'STATE', 'NO', 0, 0, 1),"
                           "(1, 'OLD3', 1, 1, '59267-1000-02', 'EW0182', 'STATE', 'NO', 0, 0, 1),"
                           "(1, 'OLD4', 1, 1, '59267-1000-02', 'EW0182', 'FEDERAL', 'NO', 0, 1, 1);"
                           "INSERT INTO inventory (pin, ndc, lot_number, doses_administered) "
                           "VALUES ('NCA123456', '59267-1000-02', 'EW0182', 3);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_EQ(scalar("SELECT max(version) FROM schema_version"), 2);
  { CvmsStore store(options_); }
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), vaxetl::cvms::kSchemaVersion);
  EXPECT_EQ(count("vaccinations"), 4);
  EXPECT_EQ(scalar("SELECT count(*) FROM vaccinations WHERE status = 'active' AND changed_load_id IS NULL"), 4);
  EXPECT_EQ(text("SELECT doses_received || '|' || doses_administered || '|' || on_hand FROM inventory"),
            "0|3|-3");
  // The three doses version 2 took with nothing received are recorded as the old load's shortfall.
  EXPECT_EQ(text("SELECT load_id || '|' || pin || '|' || lot_number || '|' || doses_short "
                 "FROM inventory_discrepancies"),
            "1|NCA123456|EW0182|3");
  EXPECT_EQ(scalar("SELECT inventory_short_doses FROM loads"), 3);
  EXPECT_EQ(scalar("SELECT records_updated + records_voided FROM loads"), 0);
  // The upgraded rows take corrections.
  EXPECT_EQ(load_corrections("run-2", {with_action(state_dose("OLD1"), "D")}), std::vector{ApplyOutcome::Voided});
  EXPECT_EQ(scalar("SELECT doses_administered FROM inventory"), 2);
  EXPECT_EQ(text("SELECT change || '|' || version_load_id FROM vaccination_history"), "voided|1");
}

CVMS_ON_BOTH_BACKENDS(CorrectionsTest);
CVMS_ON_SQLITE_ONLY(SqliteCorrectionsTest);

}  // namespace
