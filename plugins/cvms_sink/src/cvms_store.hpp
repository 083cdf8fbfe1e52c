// The CVMS store: a SQLite database holding the vaccinations, recipients, locations and state
// inventory that loads have committed. docs/cvms-schema.md describes the tables; the schema
// itself is data (plugins/cvms_sink/data/schema.sql) applied on every open.
//
// One input file is one transaction:
//
//   vaxetl::cvms::CvmsStore store({.database = "cvms.db", .products_path = ..., .schema_path = ...});
//   store.begin({.run_id = ..., .input_name = ..., .input_sha256 = ..., .validate_only = false});
//   for (each accepted record) outcome = store.apply(values);   // values indexed like kColumns
//   store.commit({.records_read = n, .records_rejected = r});  // or rollback() on failure
//
// Nothing of a file is visible to other connections until commit(); a crash, an exception or
// destroying the store before commit() leaves the database as it was before begin(). With
// LoadInfo::validate_only, commit() rolls back: apply() reports the same outcomes as a real
// load would, and the database is unchanged.
//
// Idempotency: a vaccination is keyed by org_code + vax_event_id and written once. Applying it
// again in a later load is Unchanged (same content) or ConflictsWithStored (different content)
// and writes nothing; inventory, recipients and locations are only touched when a vaccination
// is Inserted, so rerunning a file changes nothing but adding its loads row.
//
// Not thread-safe: one CvmsStore per thread. Several processes may open the same database;
// begin() takes SQLite's write lock (BEGIN IMMEDIATE), waiting up to StoreOptions::busy_timeout_ms,
// and throws StoreBusy if another load still holds it.
//
// PHI: no exception message contains a value from a record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "vaxetl/sdk/canonical_record.hpp"

namespace vaxetl::cvms {

// The schema version this build writes (schema.sql's schema_version row). Opening a database
// whose version is newer throws StoreError.
inline constexpr int kSchemaVersion = 2;

// Index of a canonical column by name, at compile time: an unknown name fails to compile.
//   constexpr std::size_t kPin = column_index("vtrcks_prov_pin");
consteval std::size_t column_index(std::string_view name) {
  for (std::size_t i = 0; i < canonical::kColumns.size(); ++i)
    if (canonical::kColumns[i] == name) return i;
  throw std::invalid_argument("not a canonical column");  // not a constant expression: error
}

// One record's values, indexed like canonical::kColumns; empty means null. The views need only
// stay valid for the duration of apply().
using RecordValues = std::array<std::string_view, canonical::kColumns.size()>;

struct StoreOptions {
  std::string database;       // SQLite file path; created when absent
  std::string products_path;  // products.tsv (the COVID-19 product catalog)
  std::string schema_path;    // schema.sql
  // SQLite page cache, KiB. Bounds the store's memory whatever the file size: a larger load
  // spills to the write-ahead log on disk.
  std::size_t cache_kib = 64 * 1024;
  int busy_timeout_ms = 30'000;  // wait this long for another writer before StoreBusy
  int page_size = 16384;          // bytes; applies when the database is created
};

struct LoadInfo {
  std::string run_id;        // the vaxetl run; one run may load several files
  std::string input_name;    // the input file's name as received
  std::string input_sha256;  // hex digest of the input file's bytes
  bool validate_only = false;
};

// What the caller knows about the file that the store does not see; written to the loads row.
struct LoadCounts {
  std::uint64_t records_read = 0;      // records in the input file
  std::uint64_t records_rejected = 0;  // records rejected or held before reaching the store
};

enum class ApplyOutcome {
  Inserted,             // new org_code + vax_event_id: stored (and STATE inventory counted)
  Unchanged,            // already stored by an earlier load with identical content
  ConflictsWithStored,  // already stored by an earlier load with different content: the
                        // stored row is kept; send the record as a U in a corrections file
  DuplicateInFile,      // the same org_code + vax_event_id appeared earlier in this load
};

// Outcome tallies of the current (or last) load.
struct ApplyCounts {
  std::uint64_t inserted = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t conflicting = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t state_doses = 0;  // Inserted STATE doses that were counted against inventory
  std::uint64_t demographics = 0;  // DEMOGRAPHICS records applied (recipient only)
};

// A committed load, as recorded in the loads table.
struct StoredLoad {
  std::int64_t load_id = 0;
  std::string run_id, input_name, input_sha256, committed_at;
  std::uint64_t records_read = 0, records_inserted = 0;
};

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Another connection holds the write lock past the busy timeout; the load may be retried.
class StoreBusy : public StoreError {
 public:
  using StoreError::StoreError;
};

// The vaccination content hash: a fast non-cryptographic 64-bit hash of every canonical value
// (its length, then its bytes) except action_code and ndc_as_sent, which say how the record
// was sent rather than what happened. Stored as a signed 64-bit integer. Exposed for tests
// and tools; changing it needs a schema version, since stored hashes would no longer match.
std::uint64_t content_hash(const RecordValues& values) noexcept;

class CvmsStore {
 public:
  // Opens or creates the database, applies the schema (idempotent), and refreshes the products
  // table from the catalog. Throws StoreError (bad schema version, unreadable files, SQLite).
  explicit CvmsStore(const StoreOptions& options);
  ~CvmsStore();  // rolls back a load that was not committed
  CvmsStore(const CvmsStore&) = delete;
  CvmsStore& operator=(const CvmsStore&) = delete;

  // Starts one transaction for one input file. Throws std::logic_error when a load is already
  // open, StoreBusy when the write lock cannot be taken.
  void begin(const LoadInfo& info);

  // A record with record_type DEMOGRAPHICS (HL7 ADT, a VXU without a dose) only inserts or
  // updates its recipient (needs org_code and recip_id): Inserted when that changed the store,
  // Unchanged when not. A null demographic value never erases a stored one, for any record:
  // a redacted CVRS record keeps the identified demographics already stored.
  // Applies one validated, normalized record. Requires non-empty org_code, vax_event_id,
  // vtrcks_prov_pin and recip_id (std::invalid_argument otherwise; the load stays usable).
  // On Inserted: upserts the organization, location and recipient, inserts the vaccination,
  // and, for inventory_source STATE with vax_refusal other than YES, adds one administered dose
  // to inventory (PIN, ndc, lot_number), creating that row when absent. FEDERAL doses never
  // touch inventory and are marked reported_to_cdc (the CDC already has them from CVRS).
  // A StoreError from SQLite leaves the load open: call rollback().
  ApplyOutcome apply(const RecordValues& values);

  // Writes the loads row's counts and commits; with validate_only, rolls back instead.
  // Returns the load id (validate_only: the id the load would have had).
  std::int64_t commit(const LoadCounts& counts);

  // Abandons the open load, if any. Never throws.
  void rollback() noexcept;

  bool in_load() const noexcept;
  const ApplyCounts& counts() const noexcept;

  // The most recent committed load of an input with this digest, if the store holds it.
  std::optional<StoredLoad> find_load(std::string_view input_sha256);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vaxetl::cvms
