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
