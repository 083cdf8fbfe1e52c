// What only the PostgreSQL store has: migrations it refuses to run itself, a writer lock that
// lets concurrent loads through one after the other, a connection lost mid-load, COPY's
// escaping, and batches that decide exactly what apply() decides one record at a time.
#include <libpq-fe.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "cvms_test_support.hpp"
#include "vaxetl/sdk/text.hpp"

namespace cvms_test {
namespace {

using vaxetl::cvms::BatchRecord;
using vaxetl::cvms::StoreError;

class PgStoreTest : public CvmsStoreTest {
 protected:
  // Runs a statement as the test server's administrator, e.g. to end the store's connection.
  void admin(const std::string& sql) const {
    std::string url;
    const char* value = std::getenv("VAXETL_TEST_PG_ADMIN_URL");
    ASSERT_NE(value, nullptr);
    url = value;
    PGconn* connection = PQconnectdb(url.c_str());
    PGresult* result = PQexec(connection, sql.c_str());
    EXPECT_EQ(PQresultStatus(result), PGRES_TUPLES_OK) << PQerrorMessage(connection);
    PQclear(result);
    PQfinish(connection);
  }
};

TEST_P(PgStoreTest, ADatabaseWithPendingMigrationsIsRefusedAndLeftAlone) {
  vaxetl::test::PgScratchDatabase empty(std::getenv("VAXETL_TEST_PG_ADMIN_URL"));
  StoreOptions options = options_;
  options.database = empty.url();
  try {
    CvmsStore store(options);
    FAIL() << "a database without the store's migrations was opened";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("vaxetl db migrate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pending"), std::string::npos) << e.what();
  }
  // Nothing was created: the store applies no schema of its own.
  EXPECT_EQ(query(Backend::PostgreSQL, empty.url(),
                  "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
            (std::vector<std::vector<std::string>>{{"0"}}));
}

TEST_P(PgStoreTest, OpeningAMigratedDatabaseLoadsTheProductCatalogOnce) {
  { CvmsStore store(options_); }
  const auto catalog = vaxetl::sdk::DataTable::load(CVMS_PRODUCTS_FILE);
  EXPECT_EQ(count("products"), static_cast<std::int64_t>(catalog.rows().size()));
  EXPECT_EQ(scalar("SELECT doses_per_vial FROM products WHERE ndc_unit_of_sale = '80777-0273-99'"), 10);
  { CvmsStore again(options_); }
  EXPECT_EQ(count("products"), static_cast<std::int64_t>(catalog.rows().size()));
}

TEST_P(PgStoreTest, TwoConcurrentLoadsOfDifferentFilesBothLandWithTheRightInventory) {
  std::int64_t received = 0;
  {
    CvmsStore store(options_);
    received = store.receive({.pin = "NCA123456", .ndc = "59267-1000-02", .lot_number = "EW0182", .vials = 10}).doses;
  }
  ASSERT_GT(received, 0);
  ASSERT_EQ(scalar("SELECT on_hand FROM inventory"), received);
  const auto run = [&](const std::string& run_id, const std::string& prefix) {
    std::vector<Record> records;
    for (int i = 0; i < 400; ++i)
      records.push_back(state_dose(numbered(prefix.c_str(), i), numbered((prefix + "MRN").c_str(), i)));
    CvmsStore store(options_);
    store.begin(load(run_id));
    // Several batches, so the two loads would interleave without the writer lock.
    for (std::size_t from = 0; from < records.size(); from += 100) {
      const std::vector<Record> part(records.begin() + static_cast<std::ptrdiff_t>(from),
                                     records.begin() + static_cast<std::ptrdiff_t>(from + 100));
      for (const ApplyOutcome outcome : apply_all(store, part)) EXPECT_EQ(outcome, ApplyOutcome::Inserted);
    }
    store.commit({.records_read = records.size(), .records_rejected = 0});
  };
  std::thread first(run, "run-a", "A"), second(run, "run-b", "B");
  first.join();
  second.join();
  EXPECT_EQ(count("loads"), 2);
  EXPECT_EQ(count("vaccinations"), 800);
  EXPECT_EQ(count("recipients"), 800);
  EXPECT_EQ(count("locations"), 1);
  EXPECT_EQ(count("organizations"), 1);
  EXPECT_EQ(administered(), 800);
  EXPECT_EQ(scalar("SELECT on_hand FROM inventory"), received - 800);
  // Whichever came first took what was on hand; every other dose is a recorded shortfall.
  EXPECT_EQ(scalar("SELECT sum(doses_short) FROM inventory_discrepancies"), 800 - received);
  EXPECT_EQ(scalar("SELECT sum(inventory_short_doses) FROM loads"), 800 - received);
  EXPECT_EQ(scalar("SELECT count(*) FROM loads WHERE state_doses = 400 AND records_inserted = 400"), 2);
}

TEST_P(PgStoreTest, ALoadWhoseConnectionIsKilledBeforeCommitLeavesNothing) {
  CvmsStore store(options_);
  store.begin(load("run-1"));
  std::vector<Record> records;
  for (int i = 0; i < 300; ++i) records.push_back(state_dose(numbered("EV", i), numbered("MRN", i)));
  apply_all(store, records);
  // The server ends the store's session, as when the loading process is killed.
  admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + pg_->name() +
        "' AND pid <> pg_backend_pid()");
  EXPECT_THROW(store.commit({}), StoreError);
  store.rollback();
  expect_no_load_rows();
  // The lock went with the session: the next load runs at once.
  EXPECT_EQ(load_file("run-2", {state_dose("EV1")}), std::vector{ApplyOutcome::Inserted});
}

TEST_P(PgStoreTest, ValuesWithTabsBackslashesNewlinesQuotesAndNonAsciiArriveIntact) {
  Record tricky = state_dose("EV\t1\\\"{x,y}\"", "MRN\\N");
  tricky["admin_name"] = "ACME \"NORTH\", {annex}\\2";
  tricky["recip_first_name"] = "Zoë\tMarie";
  tricky["recip_last_name"] = "Nguyễn\\O'Brien";
  tricky["recip_address_street"] = "1 Main St\nApt 2\r\n";
  tricky["recip_address_city"] = "\\N";
  tricky["lot_number"] = "LOT\\t\t東京";
  tricky["vax_admin_provider_name"] = "NULL";
  EXPECT_EQ(load_file("run-1", {tricky}), std::vector{ApplyOutcome::Inserted});
  const auto stored = rows(
      "SELECT v.vax_event_id, l.name, r.recip_id, r.recip_first_name, r.recip_last_name, "
      "r.recip_address_street, r.recip_address_city, v.lot_number, v.vax_admin_provider_name "
      "FROM vaccinations v JOIN locations l USING (location_id) JOIN recipients r USING (recipient_id)");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0], (std::vector<std::string>{tricky["vax_event_id"], tricky["admin_name"],
                                                 tricky["recip_id"], tricky["recip_first_name"],
                                                 tricky["recip_last_name"], tricky["recip_address_street"],
                                                 tricky["recip_address_city"], tricky["lot_number"],
                                                 tricky["vax_admin_provider_name"]}));
  EXPECT_EQ(text("SELECT lot_number FROM inventory"), tricky["lot_number"]);
  // The lookups (array parameters) find every key again: a replay is unchanged, a new dose
  // joins the same recipient and location.
  EXPECT_EQ(load_file("run-2", {tricky, state_dose("EV2", "MRN\\N").with("admin_name", tricky["admin_name"])}),
            (std::vector{ApplyOutcome::Unchanged, ApplyOutcome::Inserted}));
  EXPECT_EQ(count("recipients"), 1);
  EXPECT_EQ(count("locations"), 1);
  EXPECT_EQ(load_file("run-3", {tricky.with("action_code", "D")}), std::vector{ApplyOutcome::Voided});
}

// The same records, one by one into SQLite and as one batch into PostgreSQL: the same outcomes
// and the same rows.
TEST_P(PgStoreTest, ABatchDecidesExactlyWhatApplyDecidesOneRecordAtATime) {
  Record adt;
  adt["record_type"] = "DEMOGRAPHICS";
  adt["org_code"] = "ACMEPHARM";
  adt["recip_id"] = "MRN001";
  adt["recip_address_city"] = "DURHAM";
  const std::vector<Record> first = {state_dose("EV1"), state_dose("EV2"), federal_dose("EV3"),
                                     refusal("EV4"), state_dose("EV5", "MRN002")};
  const std::vector<Record> second = {
      state_dose("EV1"),                                                   // unchanged
      state_dose("EV2").with("lot_number", "FA7484"),                      // conflict
      state_dose("EV2").with("action_code", "U").with("lot_number", "X"),  // duplicate
      state_dose("EV3").with("action_code", "U").with("vax_admin_site", "RD"),  // updated
      state_dose("EV4").with("action_code", "D"),                          // voided
      state_dose("EV9").with("action_code", "U"),                          // unknown
      state_dose("EV9"),                                                   // duplicate of unknown
      state_dose("EV6", "MRN003").with("vtrcks_prov_pin", "NCA999999"),    // new location + recipient
      state_dose("EV7", "MRN003").with("recip_phone", "9195550199"),       // same recipient, changed
      state_dose("EV8").with("action_code", "X"),                          // invalid
      adt,                                                                 // recipient update
      adt,                                                                 // unchanged
      state_dose("EV5", "MRN002").with("action_code", "D"),                // voided
      state_dose("EV5", "MRN002").with("action_code", "A"),                // duplicate
  };
  // SQLite, one record at a time.
  StoreOptions sqlite = options_;
  sqlite.database = (dir_ / "reference.db").string();
  std::vector<std::optional<ApplyOutcome>> expected;
  {
    CvmsStore store(sqlite);
    store.begin(load("run-1"));
    for (const Record& r : first) store.apply(r.values());
    store.commit({});
    store.begin(load("run-2"));
    for (const Record& r : second) {
      try {
        expected.emplace_back(store.apply(r.values()));
      } catch (const std::invalid_argument&) {
        expected.emplace_back(std::nullopt);
      }
    }
    store.commit({});
  }
  // PostgreSQL, each file as one batch.
  std::vector<std::optional<ApplyOutcome>> actual;
  {
    CvmsStore store(options_);
    store.begin(load("run-1"));
    apply_all(store, first);
    store.commit({});
    store.begin(load("run-2"));
    std::vector<BatchRecord> batch;
    for (const Record& r : second) batch.push_back({r.values(), {}});
    actual = store.apply_batch(batch);
    store.commit({});
  }
  EXPECT_EQ(actual, expected);
  // The rows: compare what both stores hold, column by column.
  const std::string vaccinations =
      "SELECT vax_event_id, l.pin, r.recip_id, lot_number, vax_admin_site, status, "
      "reported_to_cdc, coalesce(changed_load_id, 0) FROM vaccinations v JOIN locations l USING "
      "(location_id) JOIN recipients r USING (recipient_id) ORDER BY vax_event_id";
  const std::string recipients =
      "SELECT recip_id, recip_address_city, recip_phone, demographics_hash, updated_load_id "
      "FROM recipients ORDER BY recip_id";
  const std::string history = "SELECT vaccination_id, change, load_id, version_load_id, lot_number, "
                              "vax_admin_site FROM vaccination_history ORDER BY vaccination_id";
  const std::string inventory = "SELECT pin, lot_number, doses_administered FROM inventory ORDER BY 1, 2";
  const std::string loads = "SELECT records_inserted, records_unchanged, records_conflicting, "
                            "records_duplicate, records_updated, records_voided, "
                            "records_unknown_event, state_doses FROM loads ORDER BY load_id";
  for (const std::string& sql : {vaccinations, recipients, history, inventory, loads})
    EXPECT_EQ(query(Backend::PostgreSQL, options_.database, sql),
              query(Backend::SQLite, sqlite.database, sql))
        << sql;
}

CVMS_ON_POSTGRESQL_ONLY(PgStoreTest);

}  // namespace
}  // namespace cvms_test
