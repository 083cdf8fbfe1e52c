// The CVMS store: a SQLite or PostgreSQL database holding the vaccinations, recipients,
// locations and state inventory that loads have committed. docs/cvms-schema.md describes the
// tables. StoreOptions::database picks the backend (db::Location: a SQLite path, or a
// postgresql:// URL); every behaviour below is the same on both.
//
// Schema. SQLite: data (plugins/cvms_sink/data/schema.sql and schema-NNNN.sql) applied on every
// open. PostgreSQL: versioned migrations (data/migrations/postgresql/NNNN_*.sql, component
// "cvms_sink") applied only by `vaxetl db migrate PIPELINE` (db::migrate); opening a database
// with pending migrations throws StoreError saying so, and the store never changes the schema.
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
// Idempotency: a vaccination is keyed by org_code + vax_event_id. Its action_code says what the
// record asks for: A (or empty) adds it, U replaces the stored version, D voids it (see
// apply()). Applying the same record again in a later load is Unchanged and writes nothing, so
// rerunning a daily or a corrections file changes nothing but adding its loads row. Every U and
// D that changes a row keeps the version it replaced in vaccination_history.
//
// Inventory: STATE doses take from (PIN, unit-of-sale NDC, lot); receive() adds shipments. A
// dose given with nothing on hand still loads; the shortfall is recorded per load as a
// discrepancy (inventory_discrepancies), never silently. docs/inventory.md.
//
// Not thread-safe: one CvmsStore per thread. Several processes may open the same database;
// begin() takes SQLite's write lock (BEGIN IMMEDIATE), waiting up to StoreOptions::busy_timeout_ms,
// and throws StoreBusy if another load still holds it.
//
// PostgreSQL. Loads are serialized like SQLite's single writer: begin(), receive() and the
// merges take a transaction-scoped advisory lock (pg_advisory_xact_lock, one key for the
// store), waiting up to busy_timeout_ms (lock_timeout) before StoreBusy. Why a lock rather than
// row locks and retries: a batch is classified in memory against the keys it read (stored
// events, recipients, locations), then written set-based; a second writer between the read and
// the write would make the classification wrong (two loads both inserting one event or one
// recipient). Readers never wait: MVCC shows them the last committed state, never part of a load.
// The lock ends with the transaction, so a killed process releases it at once.
//
// Speed on PostgreSQL: no per-record round trip. apply_batch() looks up the batch's stored
// events, locations and recipients in one statement each, classifies every record in memory
// (the same rules as apply()), reserves ids with one nextval() call per table, and writes with
// COPY (new rows) and one set-based UPDATE ... FROM per kind of change. Inventory deltas
// accumulate in memory and are written at commit() in one statement. apply() is apply_batch()
// of one record (correct, but a round trip per record: loaders hand whole batches). Memory stays
// bounded whatever the file size: the events a load decided without writing (to flag a second
// copy) live in a session-private temporary table, like SQLite's temp.load_seen.
//
// PHI: no exception message contains a value from a record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vaxetl/sdk/canonical_record.hpp"

namespace vaxetl::cvms {

namespace detail {
class StoreBackend;
}

// The schema version this build writes (schema.sql's schema_version row). Opening a database
// whose version is newer throws StoreError.
inline constexpr int kSchemaVersion = 4;

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
  // A SQLite file path (created when absent) or a PostgreSQL URL (db::Location::parse).
  std::string database;
  std::string products_path;  // products.tsv (the COVID-19 product catalog)
  // schema.sql; its directory also holds migrations/postgresql/ (PostgreSQL's migrations).
  std::string schema_path;
  // SQLite page cache, KiB. Bounds the store's memory whatever the file size: a larger load
  // spills to the write-ahead log on disk.
  std::size_t cache_kib = 64 * 1024;
  int busy_timeout_ms = 30'000;  // wait this long for another writer before StoreBusy
  int page_size = 16384;          // bytes; applies when the database is created
};

struct MasterMergeResult {
  bool survivor_created = false;          // CVMS had no recipient for the survivor yet
  std::int64_t vaccinations_moved = 0;
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
  Inserted,             // new org_code + vax_event_id (action A): stored, STATE dose taken
                        // from inventory. For DEMOGRAPHICS: the recipient was created or changed
  Unchanged,            // the store already holds exactly this (same content; or a D for an
                        // event already voided): nothing written
  ConflictsWithStored,  // action A for an event stored with different content: the stored row
                        // is kept; send the record as a U in a corrections file
  DuplicateInFile,      // the same org_code + vax_event_id appeared earlier in this load,
                        // whatever either copy's action
  Updated,              // action U with new content: the row was replaced, the previous version
                        // is in vaccination_history, inventory follows
  Voided,               // action D: the row is kept with status 'voided', the previous version
                        // is in vaccination_history, a STATE dose is given back to inventory
  UnknownEvent,         // action U or D for an event the store does not hold: nothing written
  EventVoided,          // action A or U for an event a D voided earlier: nothing written; a
                        // voided vaccination cannot be re-added or changed
};

// One record of a batch: values as for apply(); the views need only stay valid for the call.
struct BatchRecord {
  RecordValues values{};
  std::string_view mpi_id = {};
};

// Outcome tallies of the current (or last) load.
struct ApplyCounts {
  std::uint64_t inserted = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t conflicting = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t updated = 0;
  std::uint64_t voided = 0;
  std::uint64_t unknown_event = 0;
  std::uint64_t event_voided = 0;
  std::uint64_t state_doses = 0;  // Inserted STATE doses that were counted against inventory
  std::uint64_t demographics = 0;  // DEMOGRAPHICS records applied (recipient only)
  // Filled by commit() (also for validate_only, then rolled back): the PIN + NDC + lot keys
  // this load took more doses from than were on hand before it, and the doses short in total.
  std::uint64_t short_keys = 0;
  std::uint64_t short_doses = 0;
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
// receive() refused a shipment (unknown or unit-of-use NDC, repeated reference, bad PIN, lot or
// vial count); nothing was written. The message says what to send instead. Not a StoreError:
// the store is fine, the request is not.
class ReceiptRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A shipment of state-allocated vaccine received at a location.
struct Receipt {
  std::string pin;         // VTrckS provider PIN: NCA + 6 letters or digits
  std::string ndc;         // unit-of-sale (carton) NDC, 5-4-2 with hyphens, as in products
  std::string lot_number;  // non-empty
  std::int64_t vials = 0;  // 1 .. kMaxVialsPerReceipt
  std::string reference = {};  // shipment or order reference; empty: none. Unique when given
};
inline constexpr std::int64_t kMaxVialsPerReceipt = 1'000'000;

struct ReceiptResult {
  std::int64_t receipt_id = 0;
  std::int64_t doses = 0;    // vials x the product's doses_per_vial
  std::int64_t on_hand = 0;  // the key's on_hand after this receipt
  std::string product;       // the catalog's product name
};

// One inventory row (PIN + unit-of-sale NDC + lot), with the product's name.
struct InventoryRow {
  std::string pin, ndc, product, lot_number;
  std::int64_t received = 0, administered = 0, on_hand = 0;
};

// A load that took more doses from a key than were on hand before it.
struct DiscrepancyLoad {
  std::int64_t load_id = 0;
  std::string run_id, input_name, committed_at;
  std::int64_t doses_short = 0;
};
// Every recorded shortfall of one key: the total, the key's on_hand now (a receipt after the
// discrepancy restores it), and the loads involved, oldest first.
struct Discrepancy {
  std::string pin, ndc, product, lot_number;
  std::int64_t doses_short = 0;
  std::int64_t on_hand = 0;
  std::vector<DiscrepancyLoad> loads;
};

// True for a VTrckS provider PIN as the store keys it: "NCA" followed by 6 upper-case letters
// or digits.
bool is_vtrcks_pin(std::string_view pin) noexcept;

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

  // Applies one validated, normalized record; the outcome says what happened (ApplyOutcome).
  //
  // DEMOGRAPHICS records (HL7 ADT, a VXU without a dose; need org_code and recip_id) only
  // insert or update their recipient: Inserted when that changed the store, Unchanged when not.
  //
  // Vaccination records, by action_code (empty means A):
  //   A  not stored: Inserted. Stored active: Unchanged (same content_hash) or
  //      ConflictsWithStored. Stored voided: EventVoided.
  //   U  not stored: UnknownEvent. Stored active: Unchanged (same content) or Updated. Stored
  //      voided: EventVoided.
  //   D  not stored: UnknownEvent. Stored active: Voided. Stored voided: Unchanged.
  //   Any action, the event already seen in this load: DuplicateInFile.
  // A and U need non-empty org_code, vax_event_id, vtrcks_prov_pin and recip_id, and a STATE
  // dose its ndc and lot_number; D needs org_code and vax_event_id. Otherwise, or for an
  // action_code other than A, U, D: std::invalid_argument, and the load stays usable.
  //
  // Inserted and Updated upsert the organization, location and recipient (a null demographic
  // value never erases a stored one). Inventory follows every change: an inserted STATE dose
  // (vax_refusal other than YES) takes one dose from (PIN, ndc, lot_number); a voided one gives
  // it back; an update gives back what the old version took and takes what the new one needs.
  // FEDERAL doses never touch inventory and are marked reported_to_cdc (the CDC already has
  // them from CVRS), for good once marked. Updated and Voided write the replaced version to
  // vaccination_history with this load's id.
  //
  // mpi_id: the master patient id the MPI stage gave the record (empty without one). With it,
  // the store keeps one recipient per master, whichever organizations sent the person under
  // whichever ids (each org_code + recip_id is kept in recipient_keys); without, one recipient
  // per org_code + recip_id.
  // A StoreError from SQLite leaves the load open: call rollback().
  ApplyOutcome apply(const RecordValues& values, std::string_view mpi_id = {});

  // Applies the records in order, with exactly the outcomes apply() would give one by one. An
  // entry is nullopt where apply() would have thrown std::invalid_argument: that record is
  // skipped and the load stays usable. A StoreError leaves the load open: call rollback().
  std::vector<std::optional<ApplyOutcome>> apply_batch(std::span<const BatchRecord> records);

  // Writes the inventory taken and given back, records the load's inventory discrepancies
  // (per PIN + NDC + lot, the doses taken beyond what was on hand before the load; see
  // ApplyCounts::short_keys/short_doses), writes the loads row's counts and commits. With
  // validate_only, does the same and rolls back. Returns the load id (validate_only: the id
  // the load would have had).
  std::int64_t commit(const LoadCounts& counts);

  // Abandons the open load, if any. Never throws.
  void rollback() noexcept;

  bool in_load() const noexcept;
  const ApplyCounts& counts() const noexcept;

  // The most recent committed load of an input with this digest, if the store holds it.
  std::optional<StoredLoad> find_load(std::string_view input_sha256);

  // ---- master patients (not during a load: std::logic_error) ---------------------------------

  // An operator merged master `retired_mpi_id` into `survivor_mpi_id` in the patient index
  // (vaxetl mpi merge): the retired master's vaccinations move to the survivor's recipient
  // (created as a copy of the retired one when CVMS has none), which is marked merged_into, and
  // the moves are recorded so unmerge_masters() moves exactly them back. Either master absent
  // from CVMS: nothing to do. One transaction each; std::invalid_argument for equal or empty ids.
  MasterMergeResult merge_masters(std::string_view survivor_mpi_id, std::string_view retired_mpi_id);
  MasterMergeResult unmerge_masters(std::string_view survivor_mpi_id,
                                    std::string_view retired_mpi_id);

  // ---- state inventory (not during a load: std::logic_error) -------------------------------

  // Receives a shipment in its own transaction: records it in inventory_receipts and adds
  // vials x doses_per_vial (from the products catalog) to the key's doses_received. Throws
  // ReceiptRefused for a malformed PIN, an empty lot, a vial count out of range, an NDC that
  // is a unit-of-use code (the message names the unit-of-sale NDCs to use instead) or not in
  // the catalog, or a reference already received; StoreBusy / StoreError as for a load.
  ReceiptResult receive(const Receipt& receipt);

  // Inventory rows, ordered by PIN, NDC and lot; only `pin`'s when it is not empty.
  std::vector<InventoryRow> inventory(std::string_view pin = {});

  // Recorded discrepancies per PIN + NDC + lot, ordered likewise; only `pin`'s when not empty.
  std::vector<Discrepancy> discrepancies(std::string_view pin = {});

 private:
  std::unique_ptr<detail::StoreBackend> impl_;
};

}  // namespace vaxetl::cvms
