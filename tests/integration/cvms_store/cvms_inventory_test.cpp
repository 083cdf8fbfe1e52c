// State inventory in real SQLite stores: receipts priced from the catalog, refusals, and the
// discrepancies a load records when it takes more than was on hand.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cvms_store.hpp"
#include "cvms_test_support.hpp"

namespace {

using namespace cvms_test;
using vaxetl::cvms::Receipt;
using vaxetl::cvms::ReceiptRefused;

class InventoryTest : public CvmsStoreTest {
 protected:
  vaxetl::cvms::ReceiptResult receive(const std::string& lot, std::int64_t vials,
                                      const std::string& reference = "",
                                      const std::string& ndc = "59267-1000-02",
                                      const std::string& pin = "NCA123456") {
    CvmsStore store(options_);
    return store.receive({.pin = pin, .ndc = ndc, .lot_number = lot, .vials = vials, .reference = reference});
  }

  // The refusal's message, or "<accepted>".
  std::string refusal_of(const Receipt& receipt) {
    CvmsStore store(options_);
    try {
      store.receive(receipt);
    } catch (const ReceiptRefused& e) {
      return e.what();
    }
    return "<accepted>";
  }

  // Loads `records` and returns the store's counts after commit.
  vaxetl::cvms::ApplyCounts load_counts(const std::string& run_id, const std::vector<Record>& records,
                                        bool validate_only = false) {
    CvmsStore store(options_);
    store.begin(load(run_id, validate_only));
    apply_all(store, records);
    store.commit({.records_read = records.size(), .records_rejected = 0});
    return store.counts();
  }

  std::int64_t on_hand(const std::string& lot = "EW0182") const {
    return scalar("SELECT on_hand FROM inventory WHERE pin = 'NCA123456' AND lot_number = '" + lot + "'");
  }
  std::int64_t load_id(const std::string& run_id) const {
    return scalar("SELECT load_id FROM loads WHERE run_id = '" + run_id + "'");
  }
};

std::vector<Record> doses(int from, int to, const std::string& lot = "EW0182") {
  std::vector<Record> records;
  for (int i = from; i < to; ++i) records.push_back(state_dose(numbered("EV", i)).with("lot_number", lot));
  return records;
}

TEST_P(InventoryTest, AReceiptAddsVialsTimesTheCatalogsDosesPerVial) {
  const auto pfizer = receive("EW0182", 3, "SHIP-1");
  EXPECT_EQ(pfizer.doses, 15);  // 5 doses per vial
  EXPECT_EQ(pfizer.on_hand, 15);
  EXPECT_EQ(pfizer.product, "Pfizer-BioNTech (195MDV) COVID-19 Vaccine");
  const auto moderna = receive("MOD1", 2, "", "80777-0273-99");
  EXPECT_EQ(moderna.doses, 20);  // 10 doses per vial
  EXPECT_EQ(receive("EW0182", 1).on_hand, 20);
  EXPECT_EQ(text("SELECT pin || '|' || ndc || '|' || lot_number || '|' || vials || '|' || "
                 "doses_per_vial || '|' || doses || '|' || reference FROM inventory_receipts "
                 "WHERE receipt_id = " + std::to_string(pfizer.receipt_id)),
            "NCA123456|59267-1000-02|EW0182|3|5|15|SHIP-1");
  EXPECT_EQ(scalar("SELECT count(*) FROM inventory_receipts WHERE received_at LIKE '2%Z'"), 3);
  EXPECT_EQ(scalar("SELECT doses_received FROM inventory WHERE lot_number = 'EW0182'"), 20);
}

TEST_P(InventoryTest, AUnitOfUseNdcIsRefusedNamingTheUnitOfSaleNdcsToUse) {
  EXPECT_EQ(refusal_of({.pin = "NCA123456", .ndc = "59267-1000-01", .lot_number = "EW0182", .vials = 1}),
            "NDC 59267-1000-01 is a unit-of-use (vial) code; inventory is received by the "
            "unit-of-sale (carton) NDC: 59267-1000-02 or 59267-1000-03");
  EXPECT_EQ(refusal_of({.pin = "NCA123456", .ndc = "80777-0273-10", .lot_number = "L", .vials = 1}),
            "NDC 80777-0273-10 is a unit-of-use (vial) code; inventory is received by the "
            "unit-of-sale (carton) NDC: 80777-0273-99");
  EXPECT_EQ(count("inventory_receipts"), 0);
  EXPECT_EQ(count("inventory"), 0);
}

TEST_P(InventoryTest, AnNdcOutsideTheCatalogIsRefused) {
  EXPECT_EQ(refusal_of({.pin = "NCA123456", .ndc = "12345-6789-01", .lot_number = "L", .vials = 1}),
            "NDC 12345-6789-01 is not a unit-of-sale NDC of the COVID-19 product catalog");
  EXPECT_EQ(count("inventory_receipts"), 0);
}

TEST_P(InventoryTest, TheSameShipmentReferenceCannotBeReceivedTwice) {
  receive("EW0182", 2, "SHIP-7");
  const std::string refused =
      refusal_of({.pin = "NCA654321", .ndc = "59267-1000-02", .lot_number = "OTHER", .vials = 9,
                  .reference = "SHIP-7"});
  EXPECT_TRUE(refused.starts_with("shipment reference SHIP-7 was already received (receipt 1 at ")) << refused;
  EXPECT_EQ(count("inventory_receipts"), 1);
  EXPECT_EQ(on_hand(), 10);
  // Receipts without a reference are never taken for repeats.
  receive("EW0182", 1);
  receive("EW0182", 1);
  EXPECT_EQ(on_hand(), 20);
}

TEST_P(InventoryTest, AMalformedPinLotOrVialCountIsRefused) {
  for (const char* pin : {"NCA12345", "nca123456", "XYZ123456", "NCA12345!"})
    EXPECT_EQ(refusal_of({.pin = pin, .ndc = "59267-1000-02", .lot_number = "L", .vials = 1}),
              "the PIN must be NCA followed by 6 upper-case letters or digits")
        << pin;
  EXPECT_EQ(refusal_of({.pin = "NCA123456", .ndc = "59267-1000-02", .lot_number = "", .vials = 1}),
            "the lot number is empty");
  for (const std::int64_t vials : {std::int64_t{0}, std::int64_t{-3}, vaxetl::cvms::kMaxVialsPerReceipt + 1})
    EXPECT_EQ(refusal_of({.pin = "NCA123456", .ndc = "59267-1000-02", .lot_number = "L", .vials = vials}),
              "the number of vials must be between 1 and 1000000");
  EXPECT_EQ(count("inventory_receipts"), 0);
}

TEST_P(InventoryTest, AReceiptAtAPinWithNoLoadedDosesNeedsNoLocationRow) {
  receive("EW0182", 1, "", "59267-1000-02", "NCA0000AB");
  EXPECT_EQ(count("locations"), 0);
  EXPECT_EQ(scalar("SELECT on_hand FROM inventory WHERE pin = 'NCA0000AB'"), 5);
}

TEST_P(InventoryTest, InventoryCallsDuringALoadAreLogicErrors) {
  CvmsStore store(options_);
  store.begin(load("run-1"));
  EXPECT_THROW(store.receive({.pin = "NCA123456", .ndc = "59267-1000-02", .lot_number = "L", .vials = 1}),
               std::logic_error);
  EXPECT_THROW(store.inventory(), std::logic_error);
  EXPECT_THROW(store.discrepancies(), std::logic_error);
  store.rollback();
}

TEST_P(InventoryTest, DosesCoveredByReceiptsRecordNoDiscrepancy) {
  receive("EW0182", 2);  // 10 doses
  const auto counts = load_counts("run-1", doses(0, 10));
  EXPECT_EQ(counts.short_keys, 0u);
  EXPECT_EQ(counts.short_doses, 0u);
  EXPECT_EQ(on_hand(), 0);
  EXPECT_EQ(count("inventory_discrepancies"), 0);
  EXPECT_EQ(scalar("SELECT inventory_short_doses FROM loads"), 0);
}

TEST_P(InventoryTest, DosesBeyondWhatIsOnHandStillLoadAndTheShortfallIsRecordedPerLoad) {
  receive("EW0182", 1);  // 5 doses
  const auto first = load_counts("run-1", doses(0, 7));
  EXPECT_EQ(count("vaccinations"), 7);  // the vaccinations happened: all loaded
  EXPECT_EQ(first.inserted, 7u);
  EXPECT_EQ(first.short_keys, 1u);
  EXPECT_EQ(first.short_doses, 2u);
  EXPECT_EQ(on_hand(), -2);
  EXPECT_EQ(text("SELECT load_id || '|' || pin || '|' || ndc || '|' || lot_number || '|' || doses_short "
                 "FROM inventory_discrepancies"),
            std::to_string(load_id("run-1")) + "|NCA123456|59267-1000-02|EW0182|2");
  EXPECT_EQ(scalar("SELECT inventory_short_doses FROM loads WHERE run_id = 'run-1'"), 2);

  // With on hand already below zero, every dose taken is short; another lot with nothing
  // received at all is a second key.
  std::vector<Record> second = doses(7, 8);
  second.push_back(state_dose("EV100").with("lot_number", "FA7484"));
  const auto counts = load_counts("run-2", second);
  EXPECT_EQ(counts.short_keys, 2u);
  EXPECT_EQ(counts.short_doses, 2u);
  EXPECT_EQ(scalar("SELECT doses_short FROM inventory_discrepancies WHERE load_id = " +
                   std::to_string(load_id("run-2")) + " AND lot_number = 'EW0182'"),
            1);
  EXPECT_EQ(scalar("SELECT inventory_short_doses FROM loads WHERE run_id = 'run-2'"), 2);

  // Receiving the missing shipment restores on hand; the discrepancy record stays.
  EXPECT_EQ(receive("EW0182", 1).on_hand, 2);
  CvmsStore store(options_);
  const auto found = store.discrepancies();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].lot_number, "EW0182");
  EXPECT_EQ(found[0].doses_short, 3);
  EXPECT_EQ(found[0].on_hand, 2);
  EXPECT_EQ(found[0].product, "Pfizer-BioNTech (195MDV) COVID-19 Vaccine");
  ASSERT_EQ(found[0].loads.size(), 2u);
  EXPECT_EQ(found[0].loads[0].run_id, "run-1");
  EXPECT_EQ(found[0].loads[0].doses_short, 2);
  EXPECT_EQ(found[0].loads[0].input_name, "ACMEPHARMCOVID_20210315120000_CVMS_PROD_PHI_DIRECT_V1.txt");
  EXPECT_FALSE(found[0].loads[0].committed_at.empty());
  EXPECT_EQ(found[0].loads[1].run_id, "run-2");
  EXPECT_EQ(found[0].loads[1].doses_short, 1);
  EXPECT_EQ(found[1].lot_number, "FA7484");
  EXPECT_EQ(found[1].on_hand, -1);
}

TEST_P(InventoryTest, FederalDosesAndRefusalsNeverCauseADiscrepancy) {
  const auto counts = load_counts("run-1", {federal_dose("EV1"), refusal("EV2")});
  EXPECT_EQ(counts.short_doses, 0u);
  EXPECT_EQ(count("inventory_discrepancies"), 0);
}

TEST_P(InventoryTest, AGiveBackInTheSameLoadOffsetsATake) {
  receive("EW0182", 1);  // 5
  load_counts("run-1", doses(0, 5));  // on hand 0
  // Voiding one dose and adding another at the same key: net zero, nothing short.
  const auto counts = load_counts("run-2", {state_dose("EV0").with("action_code", "D"), state_dose("EV9")});
  EXPECT_EQ(counts.voided, 1u);
  EXPECT_EQ(counts.inserted, 1u);
  EXPECT_EQ(counts.short_doses, 0u);
  EXPECT_EQ(on_hand(), 0);
  // A voided dose alone gives one back.
  load_counts("run-3", {state_dose("EV1").with("action_code", "D")});
  EXPECT_EQ(on_hand(), 1);
}

TEST_P(InventoryTest, AnUpdateTakingFromAnEmptyLotRecordsItsShortfall) {
  receive("EW0182", 1);
  load_counts("run-1", doses(0, 1));
  const auto counts = load_counts("run-2", {state_dose("EV0").with("action_code", "U").with("lot_number", "FA7484")});
  EXPECT_EQ(counts.updated, 1u);
  EXPECT_EQ(counts.short_doses, 1u);
  EXPECT_EQ(on_hand("EW0182"), 5);
  EXPECT_EQ(on_hand("FA7484"), -1);
}

TEST_P(InventoryTest, AValidateOnlyLoadReportsTheShortfallButRecordsNothing) {
  receive("EW0182", 1);
  const auto counts = load_counts("run-dry", doses(0, 8), /*validate_only=*/true);
  EXPECT_EQ(counts.short_keys, 1u);
  EXPECT_EQ(counts.short_doses, 3u);
  EXPECT_EQ(count("inventory_discrepancies"), 0);
  EXPECT_EQ(count("vaccinations"), 0);
  EXPECT_EQ(on_hand(), 5);
}

TEST_P(InventoryTest, TheShortfallIsRightPastThePendingKeyLimit) {
  // More keys than the in-memory tally holds, so it is flushed during the load.
  std::vector<Record> file;
  for (int i = 0; i < 70000; ++i) file.push_back(state_dose(numbered("EV", i)).with("lot_number", numbered("L", i)));
  receive("L5", 1);
  const auto counts = load_counts("run-1", file);
  EXPECT_EQ(counts.short_keys, 69999u);
  EXPECT_EQ(counts.short_doses, 69999u);
  EXPECT_EQ(scalar("SELECT sum(doses_short) FROM inventory_discrepancies"), 69999);
}

TEST_P(InventoryTest, ListingInventoryNamesProductsAndFiltersByPin) {
  receive("EW0182", 2);
  receive("MOD1", 1, "", "80777-0273-99", "NCA654321");
  load_counts("run-1", doses(0, 3));
  CvmsStore store(options_);
  const auto all = store.inventory();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].pin, "NCA123456");
  EXPECT_EQ(all[0].received, 10);
  EXPECT_EQ(all[0].administered, 3);
  EXPECT_EQ(all[0].on_hand, 7);
  EXPECT_EQ(all[1].product, "Moderna (10MDV) COVID-19 Vaccine");
  EXPECT_EQ(all[1].lot_number, "MOD1");
  const auto one = store.inventory("NCA654321");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].on_hand, 10);
  EXPECT_TRUE(store.inventory("NCA999999").empty());
  EXPECT_TRUE(store.discrepancies().empty());
}

CVMS_ON_BOTH_BACKENDS(InventoryTest);

}  // namespace
