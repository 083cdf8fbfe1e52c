// The interface CvmsStore forwards to: one implementation per database (SQLite in
// cvms_store.cpp, PostgreSQL in cvms_store_pg.cpp). Internal to the store library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cvms_store.hpp"

namespace vaxetl::cvms::detail {

// Canonical column indexes both stores read by name.
inline constexpr std::size_t kEventId = column_index("vax_event_id");
inline constexpr std::size_t kActionCode = column_index("action_code");
inline constexpr std::size_t kOrgCode = column_index("org_code");
inline constexpr std::size_t kPin = column_index("vtrcks_prov_pin");
inline constexpr std::size_t kAdminName = column_index("admin_name");
inline constexpr std::size_t kRecipId = column_index("recip_id");
inline constexpr std::size_t kFirstDemographic = column_index("recip_first_name");
inline constexpr std::size_t kLastDemographic = column_index("guardian_name");
inline constexpr std::size_t kNdc = column_index("ndc");
inline constexpr std::size_t kLot = column_index("lot_number");
inline constexpr std::size_t kInventorySource = column_index("inventory_source");
inline constexpr std::size_t kRefusal = column_index("vax_refusal");
inline constexpr std::size_t kRecordType = column_index("record_type");

// A dose counted against state inventory: STATE vaccine actually given (not refused).
inline bool takes_state_dose(const RecordValues& v) noexcept {
  return v[kInventorySource] == "STATE" && v[kRefusal] != "YES";
}

// receive()'s checks of the receipt's own fields, the same on every backend.
inline void check_receipt_fields(const Receipt& receipt) {
  if (!is_vtrcks_pin(receipt.pin))
    throw ReceiptRefused("the PIN must be NCA followed by 6 upper-case letters or digits");
  if (receipt.lot_number.empty()) throw ReceiptRefused("the lot number is empty");
  if (receipt.vials < 1 || receipt.vials > kMaxVialsPerReceipt)
    throw ReceiptRefused("the number of vials must be between 1 and " + std::to_string(kMaxVialsPerReceipt));
}

// receive() of an NDC that is not a catalog unit of sale: names the unit-of-sale NDCs to send
// instead when `unit_of_sale_ndcs` (" or "-joined) is not empty.
[[noreturn]] inline void refuse_receipt_ndc(std::string_view ndc, const std::string& unit_of_sale_ndcs) {
  if (!unit_of_sale_ndcs.empty())
    throw ReceiptRefused(std::string("NDC ")
                             .append(ndc)
                             .append(" is a unit-of-use (vial) code; inventory is received by "
                                     "the unit-of-sale (carton) NDC: ")
                             .append(unit_of_sale_ndcs));
  throw ReceiptRefused(std::string("NDC ")
                           .append(ndc)
                           .append(" is not a unit-of-sale NDC of the COVID-19 product catalog"));
}

// Vaccination columns stored as-is, in vaccinations-table order (names equal canonical names).
inline constexpr std::array<std::size_t, 39> kVaccinationColumns = {
    column_index("action_code"),
    column_index("admin_date"),
    column_index("cvx"),
    column_index("mvx"),
    column_index("dose_status"),
    column_index("ndc"),
    column_index("lot_number"),
    column_index("vax_expiration"),
    column_index("vax_admin_site"),
    column_index("vax_route"),
    column_index("dose_volume_ml"),
    column_index("vax_admin_provider_name"),
    column_index("vax_admin_provider_npi"),
    column_index("vis_edition_date"),
    column_index("vis_given_date"),
    column_index("inventory_source"),
    column_index("vax_refusal"),
    column_index("refusal_reason"),
    column_index("cmorbid_status"),
    column_index("serology"),
    column_index("recip_priority_group"),
    column_index("record_last_modified"),
    column_index("ndc_as_sent"),
    // Schema version 2: columns only CVRS and VXU carry.
    column_index("ext_type"),
    column_index("pprl_id"),
    column_index("dose_num"),
    column_index("vax_series_complete"),
    column_index("responsible_org"),
    column_index("admin_type"),
    column_index("admin_address_street"),
    column_index("admin_address_street_2"),
    column_index("admin_address_city"),
    column_index("admin_address_county"),
    column_index("admin_address_state"),
    column_index("admin_address_zip"),
    column_index("funding_source"),
    column_index("funding_eligibility"),
    column_index("information_source"),
    column_index("completion_status"),
};

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  virtual void begin(const LoadInfo& info) = 0;
  virtual ApplyOutcome apply(const RecordValues& values, std::string_view mpi_id) = 0;
  // Default: apply() per record, std::invalid_argument becoming nullopt.
  virtual std::vector<std::optional<ApplyOutcome>> apply_batch(std::span<const BatchRecord> records);
  virtual std::int64_t commit(const LoadCounts& counts) = 0;
  virtual void rollback() noexcept = 0;
  virtual std::optional<StoredLoad> find_load(std::string_view digest) = 0;
  virtual MasterMergeResult merge_masters(std::string_view survivor, std::string_view retired) = 0;
  virtual MasterMergeResult unmerge_masters(std::string_view survivor, std::string_view retired) = 0;
  virtual ReceiptResult receive(const Receipt& receipt) = 0;
  virtual std::vector<InventoryRow> inventory(std::string_view pin) = 0;
  virtual std::vector<Discrepancy> discrepancies(std::string_view pin) = 0;

  bool in_load = false;
  ApplyCounts counts;
};

// A product of the catalog (products.tsv).
struct CatalogProduct {
  std::string sale, use, cvx, mvx, name, note;
  int doses = 0;
};
// Reads and checks the catalog. Throws StoreError naming the file.
std::vector<CatalogProduct> read_product_catalog(const std::string& path);

// The recipient demographics hash (recip_first_name .. guardian_name), as the SQLite store
// computes it.
std::uint64_t demographics_hash(const RecordValues& values) noexcept;

// Why apply() would refuse the record with std::invalid_argument, or nullptr when it would not.
const char* invalid_reason(const RecordValues& values) noexcept;

// The PostgreSQL store (cvms_store_pg.cpp). `connection` is the libpq connection string.
std::unique_ptr<StoreBackend> open_postgres_store(const StoreOptions& options);

}  // namespace vaxetl::cvms::detail
