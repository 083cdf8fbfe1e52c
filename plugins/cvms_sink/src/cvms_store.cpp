#include "cvms_store.hpp"

#include "db/database.hpp"
#include "store_backend.hpp"

#include <sqlite3.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "vaxetl/sdk/text.hpp"

namespace vaxetl::cvms {
namespace {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

// The column indexes and rules both stores share (store_backend.hpp), and this store's own.
using namespace detail;
constexpr std::size_t kNdcAsSent = column_index("ndc_as_sent");

// Recipient demographics are the contiguous canonical columns recip_first_name..guardian_name;
// the recipients table names them exactly like the canonical columns.
static_assert(kLastDemographic - kFirstDemographic + 1 == 23);
static_assert(kFirstDemographic == kRecipId + 1);


// The content hash: per value, its length then its bytes 8 at a time (the tail zero-padded), each
// word folded in with a 64x64->128-bit multiply (as in wyhash). Fast enough to run on every
// record (8 bytes per multiply where FNV-1a takes one). Not a cryptographic hash: it tells an
// identical resubmission from a changed one, it does not resist deliberate collisions.
constexpr std::uint64_t kSeed = 0x243f6a8885a308d3ull;
constexpr std::uint64_t kK0 = 0xa0761d6478bd642full;
constexpr std::uint64_t kK1 = 0xe7037ed1a0b428dbull;

inline std::uint64_t fold(std::uint64_t a, std::uint64_t b) noexcept {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t hash_value(std::uint64_t h, std::string_view value) noexcept {
  const char* p = value.data();
  std::size_t n = value.size();
  h = fold(h ^ kK0 ^ n, kK1);
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    h = fold(h ^ kK0 ^ word, kK1);
  }
  if (n > 0) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, n);
    h = fold(h ^ kK0 ^ word, kK1);
  }
  return h;
}

// ---- raw sqlite3 statements for the per-record path -------------------------------------
//
// Why not Poco statements here: Poco::Data binds through its AbstractBinder per value and
// copies every string into its own storage on each execute(); the per-record path would pay
// several allocations per column. sqlite3_bind_text with SQLITE_STATIC binds the caller's
// string_views in place, and the statements are prepared once (SQLITE_PREPARE_PERSISTENT) and
// reset after every step. The handle is the Poco session's own connection, so these run in
// the transaction Poco opened. Measured numbers are in docs/cvms-schema.md.

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

[[noreturn]] void throw_sqlite(sqlite3* db, const char* what) {
  // sqlite3_errmsg names tables, columns and constraints, never bound values.
  const int rc = sqlite3_extended_errcode(db);
  std::string message = std::string("CVMS store: ") + what + ": " + sqlite3_errmsg(db);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) throw StoreBusy(message);
  throw StoreError(message);
}

Stmt prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &raw, nullptr) != SQLITE_OK)
    throw_sqlite(db, "preparing a statement");
  return Stmt(raw);
}

// Resets a statement when the scope ends, on success and on exceptions alike, so that no
// statement keeps a cursor open across COMMIT or ROLLBACK.
class Use {
 public:
  explicit Use(sqlite3_stmt* s) noexcept : s_(s) {}
  ~Use() { sqlite3_reset(s_); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  // Empty values bind as NULL.
  void text(int index, std::string_view value) {
    const int rc = value.empty() ? sqlite3_bind_null(s_, index)
                                 : sqlite3_bind_text(s_, index, value.data(),
                                                     static_cast<int>(value.size()), SQLITE_STATIC);
    if (rc != SQLITE_OK) fail("binding a value");
  }
  void integer(int index, std::int64_t value) {
    if (sqlite3_bind_int64(s_, index, value) != SQLITE_OK) fail("binding a value");
  }
  // Returns true for a row, false when done.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("executing a statement");
  }
  std::int64_t column(int index) const noexcept { return sqlite3_column_int64(s_, index); }
  // A copy: the column's text is only valid until the next step or reset.
  std::string column_text(int index) const {
    const auto* text = sqlite3_column_text(s_, index);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<std::size_t>(sqlite3_column_bytes(s_, index)));
  }

 private:
  [[noreturn]] void fail(const char* what) { throw_sqlite(sqlite3_db_handle(s_), what); }
  sqlite3_stmt* s_;
};

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StoreError(std::string("CVMS store: cannot read the ") + what + ": " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string column_list(std::size_t first, std::size_t last) {
  std::string list;
  for (std::size_t i = first; i <= last; ++i) {
    list += ", ";
    list += canonical::kColumns[i];
  }
  return list;
}

std::string placeholders(int first, int count) {
  std::string list;
  for (int i = 0; i < count; ++i) list += ", ?" + std::to_string(first + i);
  return list;
}

enum class Action { Add, Update, Delete };

Action parse_action(std::string_view code) {
  if (code.empty() || code == "A") return Action::Add;
  if (code == "U") return Action::Update;
  if (code == "D") return Action::Delete;
  throw std::invalid_argument("CVMS store: action_code is not A, U or D");
}

// What a dose takes from state inventory: STATE vaccine actually administered (a refusal
// administered nothing; FEDERAL vaccine is never in CVMS inventory).

}  // namespace

bool is_vtrcks_pin(std::string_view pin) noexcept {
  if (pin.size() != 9 || !pin.starts_with("NCA")) return false;
  return std::all_of(pin.begin() + 3, pin.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
}

std::uint64_t content_hash(const RecordValues& values) noexcept {
  // action_code, ndc_as_sent and record_type describe how the record was sent (A or U, unit
  // of use or of sale, how the format frames it), not what happened: a resubmission that
  // differs only there is the same event.
  std::uint64_t h = kSeed;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i == kActionCode || i == kNdcAsSent || i == kRecordType) continue;
    h = hash_value(h, values[i]);
  }
  return h;
}

// The SQLite store (the embedded default).
struct SqliteStore final : detail::StoreBackend {
  Poco::Data::Session session;
  sqlite3* db = nullptr;
  // Declared after the session so they are finalized before it closes.
  Stmt org_select, org_insert;
  Stmt vax_insert, vax_probe, seen_insert, seen_clear;
  Stmt vax_probe_full, vax_update, vax_void, history_insert;
  Stmt unstored_seen_select, unstored_seen_insert, unstored_seen_clear;
  Stmt loc_select, loc_insert, loc_update, loc_delete;
  Stmt recip_select, recip_insert, recip_update, recip_delete;
  Stmt recip_select_mpi, recip_insert_mpi, key_insert, key_delete;
  Stmt inventory_add, discrepancy_add, discrepancy_totals;

  bool validate_only = false;
  std::int64_t load_id = 0;
  // Caches of what the database holds. Organization and recipient: one entry, the previous
  // record's (a recipient's doses tend to come together). Locations: every PIN seen, up to
  // kMaxCachedLocations (a provider has tens to hundreds of sites, and records of different
  // sites interleave), cleared when full so memory stays bounded whatever the file size.
  // Cleared at begin() and rollback, since a rolled-back load's ids are gone.
  std::string org_code;
  std::int64_t org_id = 0;
  struct CachedLocation {
    std::int64_t id = 0;
    std::string name;
    std::int64_t org = 0;
  };
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  static constexpr std::size_t kMaxCachedLocations = 4096;
  std::unordered_map<std::string, CachedLocation, TextHash, std::equal_to<>> locations;
  // The previous record's recipient: by org + recip_id, or by mpi_id when the MPI stage set it
  // (recip_by_mpi; recip_id then holds the mpi_id). key_org/key_recip_id: the provider key last
  // recorded in recipient_keys for it.
  std::string recip_id;
  std::int64_t recip_org_id = 0, recipient_id = 0;
  std::uint64_t recip_demographics = 0;
  bool recip_by_mpi = false;
  std::int64_t key_org = 0;
  std::string key_recip_id;
  // The mpi_id of the record being applied (empty: no MPI stage).
  std::string_view current_mpi_id;

  // STATE doses administered in this load, per "pin\x1f ndc\x1f lot", added to inventory in
  // one statement per key at commit (a file has a few hundred keys, not one per record).
  // Flushed early when it reaches kMaxPendingKeys, so memory stays bounded.
  static constexpr std::size_t kMaxPendingKeys = 65536;  // a few MiB at most
  // A correction gives doses back with a negative count; at flush, a key whose net count
  // takes more than was on hand before the load records the shortfall as a discrepancy.
  std::unordered_map<std::string, std::int64_t> pending_doses;
  std::string inventory_key;  // reused buffer: no allocation for a key already pending

  // Events refused as unknown (a U or D for an event not stored) in this load, kept in
  // temp.load_seen_unstored so that a second copy is still a duplicate. Usually none, so the
  // add path checks the table only when this is not zero.
  std::uint64_t unstored_seen = 0;

  explicit SqliteStore(const StoreOptions& options) : session(open_session(options.database)) {
    db = Poco::Data::SQLite::Utility::dbHandle(session);
    if (db == nullptr) throw StoreError("CVMS store: no SQLite handle");
    configure(options);
    apply_schema(options.schema_path);
    load_products(options.products_path);
    prepare_statements();
  }

  static Poco::Data::Session open_session(const std::string& path) {
    static std::once_flag registered;
    std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
    try {
      // Poco waits out its whole login timeout (60 s by default) before reporting a file that
      // cannot be opened; opening a SQLite file takes no time, so fail fast instead.
      constexpr std::size_t kOpenTimeoutSeconds = 5;
      return Poco::Data::Session(Poco::Data::SQLite::Connector::KEY, path, kOpenTimeoutSeconds);
    } catch (const Poco::Exception& e) {
      throw StoreError("CVMS store: cannot open the database " + path + ": " + e.displayText());
    }
  }

  void exec(const std::string& sql) {
    try {
      session << sql, now;
    } catch (const Poco::Data::SQLite::DBLockedException& e) {
      throw StoreBusy("CVMS store: database is locked: " + e.displayText());
    } catch (const Poco::Data::SQLite::TableLockedException& e) {
      throw StoreBusy("CVMS store: database is locked: " + e.displayText());
    } catch (const Poco::Exception& e) {
      throw StoreError("CVMS store: " + e.displayText());
    }
  }

  void configure(const StoreOptions& options) {
    // WAL: readers (reports, the MPI stage) are not blocked by a load in progress.
    // synchronous=NORMAL: in WAL mode a commit is durable against a process crash and stays
    //   consistent after a power loss (the last commits may be lost, never half of one).
    // cache_size: bounds page-cache memory; a larger transaction spills to the WAL file.
    // temp_store=FILE: the per-load set of already-stored events seen (load_seen) can reach
    //   the file's size; in a temporary file it is bounded by its page cache, not by RAM.
    // journal_size_limit: truncate the WAL after a checkpoint instead of keeping a file the
    //   size of the largest load.
    exec("PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms));
    // page_size: only takes effect on a new database. Larger pages mean fewer B-tree splits
    //   and less per-page overhead for the wide vaccination and recipient rows.
    exec("PRAGMA page_size = " + std::to_string(options.page_size));
    std::string mode;
    try {
      session << "PRAGMA journal_mode = WAL", into(mode), now;
    } catch (const Poco::Exception& e) {
      throw StoreError("CVMS store: cannot set WAL mode: " + e.displayText());
    }
    if (mode != "wal") throw StoreError("CVMS store: the database refused WAL mode (" + mode + ")");
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA cache_size = -" + std::to_string(options.cache_kib));
    exec("PRAGMA temp_store = FILE");
    exec("PRAGMA journal_size_limit = 67108864");
    // foreign_keys=OFF: the schema declares every reference, but checking them costs six
    //   index lookups per inserted vaccination. The store writes only ids it has just read or
    //   inserted, and the NDC the reader checked against the same catalog; the tests run
    //   PRAGMA foreign_key_check after every scenario to hold the store to that.
    exec("PRAGMA foreign_keys = OFF");
  }

  int stored_schema_version() {
    int has_versions = 0;
    session << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        into(has_versions), now;
    if (has_versions == 0) return 0;
    int version = 0;
    session << "SELECT coalesce(max(version), 0) FROM schema_version", into(version), now;
    return version;
  }

  // Opening a store that is up to date only reads, so it neither waits for nor blocks a load
  // in progress in another process; the write lock is taken only to create or upgrade it.
  // A new store runs schema.sql (version 1), then every schema-NNNN.sql up to kSchemaVersion;
  // an older store runs only the steps it lacks. All in one transaction: a failed upgrade
  // leaves the store as it was.
  void apply_schema(const std::string& schema_path) {
    // Read even when the store is current: a wrong schema path is a configuration error to
    // report now, not on the day a new store is created.
    read_file(schema_path, "schema file");
    try {
      if (check_schema_version() == kSchemaVersion) return;
      exec("BEGIN IMMEDIATE");
    } catch (const Poco::Exception& e) {
      throw StoreError("CVMS store: reading the schema version: " + e.displayText());
    }
    try {
      int version = check_schema_version();
      if (version == 0) {
        run_script(schema_path);
        version = stored_schema_version();
      }
      const std::string directory = std::filesystem::path(schema_path).parent_path().string();
      for (int step = version + 1; step <= kSchemaVersion; ++step) {
        char name[32];
        std::snprintf(name, sizeof(name), "schema-%04d.sql", step);
        run_script((std::filesystem::path(directory) / name).string());
        if (stored_schema_version() != step)
          throw StoreError("CVMS store: " + std::string(name) + " does not record schema version " +
                           std::to_string(step));
      }
      exec("COMMIT");
    } catch (...) {
      try { exec("ROLLBACK"); } catch (...) {}
      throw;
    }
  }

  // A schema file holds several statements; sqlite3_exec runs them in order (a Poco statement
  // runs one).
  void run_script(const std::string& path) {
    const std::string sql = read_file(path, "schema file");
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "unknown error";
      sqlite3_free(error);
      throw StoreError("CVMS store: applying " + path + ": " + message);
    }
  }

  int check_schema_version() {
    const int version = stored_schema_version();
    if (version > kSchemaVersion)
      throw StoreError("CVMS store: database schema version " + std::to_string(version) +
                       " is newer than this build supports (" + std::to_string(kSchemaVersion) +
                       ")");
    return version;
  }

  using Product = detail::CatalogProduct;

  // Refreshes the products table from the catalog; writes only when they differ.
  void load_products(const std::string& products_path) {
    std::vector<Product> products = detail::read_product_catalog(products_path);
    try {
      if (products_match(products)) return;
      exec("BEGIN IMMEDIATE");
      try {
        for (Product& p : products)
          session << "INSERT INTO products (ndc_unit_of_sale, ndc_unit_of_use, cvx, mvx, name, "
                     "doses_per_vial, note) VALUES (?, ?, ?, ?, ?, ?, nullif(?, '')) "
                     "ON CONFLICT (ndc_unit_of_sale) DO UPDATE SET ndc_unit_of_use = "
                     "excluded.ndc_unit_of_use, cvx = excluded.cvx, mvx = excluded.mvx, name = "
                     "excluded.name, doses_per_vial = excluded.doses_per_vial, note = "
                     "excluded.note",
              use(p.sale), use(p.use), use(p.cvx), use(p.mvx), use(p.name), use(p.doses),
              use(p.note), now;
        exec("COMMIT");
      } catch (...) {
        try { exec("ROLLBACK"); } catch (...) {}
        throw;
      }
    } catch (const Poco::Exception& e) {
      throw StoreError("CVMS store: loading the product catalog: " + e.displayText());
    }
  }

  // True when every catalog row is stored exactly (products absent from the catalog are kept:
  // stored vaccinations may refer to them).
  bool products_match(std::vector<Product>& products) {
    for (Product& p : products) {
      int same = 0;
      session << "SELECT count(*) FROM products WHERE ndc_unit_of_sale = ? AND ndc_unit_of_use = ? "
                 "AND cvx = ? AND mvx = ? AND name = ? AND doses_per_vial = ? "
                 "AND coalesce(note, '') = ?",
          use(p.sale), use(p.use), use(p.cvx), use(p.mvx), use(p.name), use(p.doses),
          use(p.note), into(same), now;
      if (same == 0) return false;
    }
    return true;
  }

  void prepare_statements() {
    org_select = prepare(db, "SELECT org_id FROM organizations WHERE org_code = ?1");
    org_insert = prepare(db, "INSERT INTO organizations (org_code, first_load_id) VALUES (?1, ?2)");

    {
      std::string columns, values;
      int param = 10;
      for (const std::size_t c : kVaccinationColumns) {
        columns += ", ";
        columns += canonical::kColumns[c];
        values += ", ?" + std::to_string(param++);
      }
      // DO NOTHING on the unique key: a new event is inserted in one statement; only an event
      // already stored needs the probe below.
      vax_insert = prepare(db,
                           "INSERT INTO vaccinations (org_id, vax_event_id, location_id, "
                           "recipient_id, content_hash, reported_to_cdc, load_id" +
                               columns + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7" + values +
                               ") ON CONFLICT (org_id, vax_event_id) DO NOTHING");
    }
    vax_probe = prepare(db,
                        "SELECT vaccination_id, content_hash, load_id, status = 'voided' "
                        "FROM vaccinations WHERE org_id = ?1 AND vax_event_id = ?2");
    // Corrections also need what the stored version took from inventory, to give it back.
    vax_probe_full = prepare(db,
                             "SELECT v.vaccination_id, v.content_hash, v.load_id, "
                             "v.status = 'voided', l.pin, v.ndc, v.lot_number, "
                             "(v.inventory_source = 'STATE' AND coalesce(v.vax_refusal, '') <> "
                             "'YES' AND v.ndc IS NOT NULL AND v.lot_number IS NOT NULL) "
                             "FROM vaccinations v JOIN locations l ON l.location_id = v.location_id "
                             "WHERE v.org_id = ?1 AND v.vax_event_id = ?2");
    {
      std::string columns, sets;
      int param = 10;
      for (const std::size_t c : kVaccinationColumns) {
        const std::string column(canonical::kColumns[c]);
        columns += ", " + column;
        sets += ", " + column + " = ?" + std::to_string(param++);
      }
      history_insert = prepare(db,
                               "INSERT INTO vaccination_history (vaccination_id, change, load_id, "
                               "version_load_id, location_id, recipient_id, content_hash, "
                               "reported_to_cdc" + columns + ") SELECT vaccination_id, ?2, ?3, "
                               "coalesce(changed_load_id, load_id), location_id, recipient_id, "
                               "content_hash, reported_to_cdc" + columns +
                                   " FROM vaccinations WHERE vaccination_id = ?1");
      // Once reported to the CDC, always: a FEDERAL dose corrected to STATE is still one the
      // CDC already has.
      vax_update = prepare(db,
                           "UPDATE vaccinations SET location_id = ?2, recipient_id = ?3, "
                           "content_hash = ?4, reported_to_cdc = max(reported_to_cdc, ?5), "
                           "changed_load_id = ?6" + sets + " WHERE vaccination_id = ?1");
    }
    vax_void = prepare(db,
                       "UPDATE vaccinations SET status = 'voided', changed_load_id = ?2 "
                       "WHERE vaccination_id = ?1");
    // Stored events this load has seen (to flag a second copy in the same file). A TEMP table:
    // private to this connection, never written to the database file, and with
    // temp_store=FILE it spills to a temporary file instead of growing in memory.
    exec("CREATE TEMP TABLE IF NOT EXISTS load_seen (vaccination_id INTEGER PRIMARY KEY)");
    seen_insert = prepare(db, "INSERT OR IGNORE INTO temp.load_seen (vaccination_id) VALUES (?1)");
    seen_clear = prepare(db, "DELETE FROM temp.load_seen");
    exec("CREATE TEMP TABLE IF NOT EXISTS load_seen_unstored (org_code TEXT NOT NULL, "
         "vax_event_id TEXT NOT NULL, PRIMARY KEY (org_code, vax_event_id)) WITHOUT ROWID");
    unstored_seen_select = prepare(db,
                                   "SELECT 1 FROM temp.load_seen_unstored "
                                   "WHERE org_code = ?1 AND vax_event_id = ?2");
    unstored_seen_insert = prepare(db,
                                   "INSERT OR IGNORE INTO temp.load_seen_unstored "
                                   "(org_code, vax_event_id) VALUES (?1, ?2)");
    unstored_seen_clear = prepare(db, "DELETE FROM temp.load_seen_unstored");

    loc_select = prepare(db, "SELECT location_id, name, org_id FROM locations WHERE pin = ?1");
    loc_insert = prepare(db,
                         "INSERT INTO locations (pin, name, org_id, first_load_id, "
                         "updated_load_id) VALUES (?1, ?2, ?3, ?4, ?4)");
    loc_update = prepare(db,
                         "UPDATE locations SET name = ?2, org_id = ?3, updated_load_id = ?4 "
                         "WHERE location_id = ?1");
    loc_delete = prepare(db, "DELETE FROM locations WHERE location_id = ?1");

    constexpr int kDemographics = static_cast<int>(kLastDemographic - kFirstDemographic + 1);
    recip_select = prepare(db,
                           "SELECT recipient_id, demographics_hash FROM recipients "
                           "WHERE org_id = ?1 AND recip_id = ?2 AND mpi_id IS NULL");
    recip_insert = prepare(
        db, "INSERT INTO recipients (org_id, recip_id, demographics_hash, first_load_id, "
            "updated_load_id" + column_list(kFirstDemographic, kLastDemographic) +
                ") VALUES (?1, ?2, ?3, ?4, ?4" + placeholders(10, kDemographics) +
                ") ON CONFLICT (org_id, recip_id) WHERE mpi_id IS NULL DO NOTHING");
    // One row per master when the MPI stage names it (schema version 4).
    recip_select_mpi = prepare(db,
                               "SELECT recipient_id, demographics_hash FROM recipients "
                               "WHERE mpi_id = ?1");
    recip_insert_mpi = prepare(
        db, "INSERT INTO recipients (org_id, recip_id, demographics_hash, first_load_id, "
            "updated_load_id, mpi_id" + column_list(kFirstDemographic, kLastDemographic) +
                ") VALUES (?1, ?2, ?3, ?4, ?4, ?5" + placeholders(10, kDemographics) +
                ") ON CONFLICT (mpi_id) WHERE mpi_id IS NOT NULL DO NOTHING");
    key_insert = prepare(db,
                         "INSERT INTO recipient_keys (org_id, recip_id, recipient_id, "
                         "first_load_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
    key_delete = prepare(db, "DELETE FROM recipient_keys WHERE recipient_id = ?1");
    {
      std::string sets;
      int param = 10;
      // A value the record does not carry (null) keeps the stored one: a redacted CVRS record
      // must not erase the identified demographics the provider sent as VXU or NCVR, and an
      // ADT update names only what changed.
      for (std::size_t i = kFirstDemographic; i <= kLastDemographic; ++i) {
        const std::string column(canonical::kColumns[i]);
        sets += ", " + column + " = coalesce(?" + std::to_string(param++) + ", " + column + ")";
      }
      recip_update = prepare(db,
                             "UPDATE recipients SET demographics_hash = ?3, updated_load_id = ?4" +
                                 sets + " WHERE recipient_id = ?1");
    }
    recip_delete = prepare(db, "DELETE FROM recipients WHERE recipient_id = ?1");

    // RETURNING on_hand: the shortfall check costs no extra statement per key.
    inventory_add = prepare(db,
                            "INSERT INTO inventory (pin, ndc, lot_number, doses_administered) "
                            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (pin, ndc, lot_number) "
                            "DO UPDATE SET doses_administered = doses_administered + ?4 "
                            "RETURNING on_hand");
    discrepancy_add = prepare(db,
                              "INSERT INTO inventory_discrepancies (load_id, pin, ndc, lot_number, "
                              "doses_short) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
                              "(load_id, pin, ndc, lot_number) DO UPDATE SET doses_short = "
                              "doses_short + ?5");
    discrepancy_totals = prepare(db,
                                 "SELECT count(*), coalesce(sum(doses_short), 0) FROM "
                                 "inventory_discrepancies WHERE load_id = ?1");
  }

  void clear_caches() noexcept {
    org_code.clear();
    org_id = 0;
    forget_location();
    forget_recipient();
    pending_doses.clear();
  }
  void forget_location() noexcept { locations.clear(); }
  void forget_location(std::string_view code) {
    if (auto it = locations.find(code); it != locations.end()) locations.erase(it);
  }
  void remember_location(std::string_view code, std::string_view name, std::int64_t org,
                         std::int64_t id) {
    if (locations.size() >= kMaxCachedLocations) locations.clear();
    CachedLocation& entry = locations[std::string(code)];
    entry.id = id;
    entry.name.assign(name);
    entry.org = org;
  }
  void forget_recipient() noexcept {
    recip_id.clear();
    recip_org_id = recipient_id = 0;
    recip_demographics = 0;
    recip_by_mpi = false;
    key_org = 0;
    key_recip_id.clear();
  }

  std::int64_t resolve_org(std::string_view code) {
    if (org_id != 0 && code == org_code) return org_id;
    std::int64_t id = 0;
    {
      Use s(org_select.get());
      s.text(1, code);
      if (s.step()) id = s.column(0);
    }
    if (id == 0) {
      // Kept even when the record turns out not to be inserted: an organization row is just
      // its code, and the same code would be added by the next load anyway.
      Use s(org_insert.get());
      s.text(1, code);
      s.integer(2, load_id);
      s.step();
      id = sqlite3_last_insert_rowid(db);
    }
    org_code.assign(code);
    org_id = id;
    return id;
  }

  // The location row for a PIN, inserted when absent. `stale` says the stored name or
  // organization differs from the record's: the caller updates it once the vaccination is
  // known to be new, so that replaying an old file never rewrites reference data.
  struct Resolved {
    std::int64_t id = 0;
    bool created = false;
    bool stale = false;
  };

  Resolved resolve_location(std::string_view code, std::string_view name, std::int64_t org) {
    if (auto it = locations.find(code);
        it != locations.end() && it->second.name == name && it->second.org == org)
      return {it->second.id, false, false};
    Resolved r;
    {
      Use s(loc_select.get());
      s.text(1, code);
      if (s.step()) {
        r.id = s.column(0);
        const auto* stored = reinterpret_cast<const char*>(sqlite3_column_text(loc_select.get(), 1));
        const std::string_view stored_name =
            stored != nullptr ? std::string_view(stored, static_cast<std::size_t>(sqlite3_column_bytes(
                                                             loc_select.get(), 1)))
                              : std::string_view();
        r.stale = stored_name != name || s.column(2) != org;
      }
    }
    if (r.id == 0) {
      Use s(loc_insert.get());
      s.text(1, code);
      s.text(2, name);
      s.integer(3, org);
      s.integer(4, load_id);
      s.step();
      r.id = sqlite3_last_insert_rowid(db);
      r.created = true;
    }
    if (r.stale) {
      forget_location(code);  // the cache only ever describes what is stored
    } else {
      remember_location(code, name, org, r.id);
    }
    return r;
  }

  void update_location(std::int64_t id, std::string_view code, std::string_view name,
                       std::int64_t org) {
    Use s(loc_update.get());
    s.integer(1, id);
    s.text(2, name);
    s.integer(3, org);
    s.integer(4, load_id);
    s.step();
    remember_location(code, name, org, id);
  }

  void bind_demographics(Use& s, const RecordValues& v, std::uint64_t demographics) {
    s.integer(3, static_cast<std::int64_t>(demographics));
    s.integer(4, load_id);
    int param = 10;
    for (std::size_t i = kFirstDemographic; i <= kLastDemographic; ++i) s.text(param++, v[i]);
  }

  // The recipient row, inserted when absent; `stale` as for locations. With an mpi_id, the row
  // of that master (one per master, whichever provider sent the person), and the provider's
  // org + recip_id is recorded in recipient_keys; without, the row of org + recip_id.
  Resolved resolve_recipient(const RecordValues& v, std::int64_t org, std::uint64_t demographics) {
    const std::string_view id_value = v[kRecipId];
    const bool by_mpi = !current_mpi_id.empty();
    const std::string_view cache_key = by_mpi ? current_mpi_id : id_value;
    if (recipient_id != 0 && by_mpi == recip_by_mpi && cache_key == recip_id &&
        (by_mpi || org == recip_org_id)) {
      if (by_mpi) record_key(org, id_value, recipient_id);
      return {recipient_id, false, recip_demographics != demographics};
    }
    // Insert first: most recipients in a file are new, so the common case is one statement;
    // only a recipient already stored needs the lookup.
    Resolved r;
    std::uint64_t stored = demographics;
    Stmt& insert = by_mpi ? recip_insert_mpi : recip_insert;
    {
      Use s(insert.get());
      s.integer(1, org);
      s.text(2, id_value);
      if (by_mpi) s.text(5, current_mpi_id);
      bind_demographics(s, v, demographics);
      s.step();
    }
    if (sqlite3_changes(db) > 0) {
      r.id = sqlite3_last_insert_rowid(db);
      r.created = true;
    } else {
      Use s(by_mpi ? recip_select_mpi.get() : recip_select.get());
      if (by_mpi) {
        s.text(1, current_mpi_id);
      } else {
        s.integer(1, org);
        s.text(2, id_value);
      }
      if (!s.step()) throw StoreError("CVMS store: a stored recipient vanished during a load");
      r.id = s.column(0);
      stored = static_cast<std::uint64_t>(s.column(1));
      r.stale = stored != demographics;
    }
    recip_org_id = org;
    recip_id.assign(cache_key);
    recip_by_mpi = by_mpi;
    recip_demographics = stored;
    recipient_id = r.id;
    key_org = 0;
    key_recip_id.clear();
    if (by_mpi) record_key(org, id_value, r.id);
    return r;
  }

  // Notes that a master's record came under this provider key (once per key and recipient).
  void record_key(std::int64_t org, std::string_view id_value, std::int64_t recipient) {
    if (org == key_org && id_value == key_recip_id) return;
    Use s(key_insert.get());
    s.integer(1, org);
    s.text(2, id_value);
    s.integer(3, recipient);
    s.integer(4, load_id);
    s.step();
    key_org = org;
    key_recip_id.assign(id_value);
  }

  void update_recipient(std::int64_t id, const RecordValues& v, std::uint64_t demographics) {
    Use s(recip_update.get());
    s.integer(1, id);
    bind_demographics(s, v, demographics);
    s.step();
    recip_demographics = demographics;
  }

  void delete_row(Stmt& statement, std::int64_t id) {
    Use s(statement.get());
    s.integer(1, id);
    s.step();
  }

  // Adds `doses` (negative: gives back) to the pending count of (pin, ndc, lot).
  void count_doses(std::string_view pin, std::string_view ndc, std::string_view lot,
                   std::int64_t doses) {
    inventory_key.assign(pin);
    inventory_key += '\x1f';
    inventory_key += ndc;
    inventory_key += '\x1f';
    inventory_key += lot;
    const auto found = pending_doses.find(inventory_key);
    if (found != pending_doses.end()) {
      found->second += doses;
      return;
    }
    if (pending_doses.size() >= kMaxPendingKeys) flush_inventory();
    pending_doses.emplace(inventory_key, doses);
  }

  // Writes the pending counts. A key that took doses beyond what it had on hand before the
  // load gets a discrepancy row for the difference: the doses were given and are loaded, but
  // CVMS never received them. Exact per key whatever the order of flushes, as long as takes
  // and give-backs of one key are not split across an early flush (more than
  // kMaxPendingKeys keys in one load).
  void flush_inventory() {
    for (const auto& [key, doses] : pending_doses) {
      if (doses == 0) continue;
      const std::string_view k = key;
      const std::size_t a = k.find('\x1f');
      const std::size_t b = k.find('\x1f', a + 1);
      const std::string_view pin = k.substr(0, a), ndc = k.substr(a + 1, b - a - 1),
                             lot = k.substr(b + 1);
      std::int64_t on_hand_after = 0;
      {
        Use s(inventory_add.get());
        s.text(1, pin);
        s.text(2, ndc);
        s.text(3, lot);
        s.integer(4, doses);
        if (!s.step()) throw StoreError("CVMS store: the inventory upsert returned no row");
        on_hand_after = s.column(0);
      }
      if (doses <= 0) continue;
      const std::int64_t on_hand_before = on_hand_after + doses;
      const std::int64_t short_by = doses - std::clamp<std::int64_t>(on_hand_before, 0, doses);
      if (short_by <= 0) continue;
      Use s(discrepancy_add.get());
      s.integer(1, load_id);
      s.text(2, pin);
      s.text(3, ndc);
      s.text(4, lot);
      s.integer(5, short_by);
      s.step();
    }
    pending_doses.clear();
  }

  // A DEMOGRAPHICS record (HL7 ADT, a VXU without a dose): the recipient only, inserted or
  // updated, no vaccination.
  ApplyOutcome apply_demographics(const RecordValues& v) {
    for (const std::size_t key : {kOrgCode, kRecipId})
      if (v[key].empty())
        throw std::invalid_argument("CVMS store: record lacks " + std::string(canonical::kColumns[key]));
    const std::int64_t org = resolve_org(v[kOrgCode]);
    const std::uint64_t demographics = demographics_hash(v);
    const Resolved recipient = resolve_recipient(v, org, demographics);
    ++counts.demographics;
    if (recipient.created) return ApplyOutcome::Inserted;
    if (!recipient.stale) {
      ++counts.unchanged;
      return ApplyOutcome::Unchanged;
    }
    update_recipient(recipient.id, v, demographics);
    return ApplyOutcome::Inserted;
  }

  static void require(const RecordValues& v, std::initializer_list<std::size_t> keys) {
    for (const std::size_t key : keys)
      if (v[key].empty())
        throw std::invalid_argument("CVMS store: record lacks " +
                                    std::string(canonical::kColumns[key]));
  }

  ApplyOutcome apply(const RecordValues& v, std::string_view mpi_id) {
    if (!in_load) throw std::logic_error("CVMS store: apply() outside begin()/commit()");
    current_mpi_id = mpi_id;
    if (v[kRecordType] == "DEMOGRAPHICS") return apply_demographics(v);
    // Check everything the writes below rely on before writing anything, so that a rejected
    // record leaves the load exactly as it was.
    const Action action = parse_action(v[kActionCode]);
    if (action == Action::Delete) {
      require(v, {kOrgCode, kEventId});  // a void names the event; the rest is not used
      return apply_delete(v);
    }
    require(v, {kOrgCode, kEventId, kPin, kRecipId});
    if (takes_state_dose(v) && (v[kNdc].empty() || v[kLot].empty()))
      throw std::invalid_argument("CVMS store: STATE dose lacks ndc or lot_number");
    return action == Action::Update ? apply_update(v) : apply_add(v);
  }

  // The stored version of an event, as a correction needs it.
  struct StoredEvent {
    std::int64_t id = 0, load = 0;
    std::uint64_t hash = 0;
    bool voided = false;
    bool took_state_dose = false;  // what to give back to inventory when it changes
    std::string pin, ndc, lot;
  };

  // The organization's id when stored (a correction never creates one), or 0.
  std::int64_t find_org(std::string_view code) {
    if (org_id != 0 && code == org_code) return org_id;
    Use s(org_select.get());
    s.text(1, code);
    if (!s.step()) return 0;
    org_code.assign(code);
    org_id = s.column(0);
    return org_id;
  }

  std::optional<StoredEvent> probe_event(std::int64_t org, std::string_view event_id) {
    if (org == 0) return std::nullopt;
    Use s(vax_probe_full.get());
    s.integer(1, org);
    s.text(2, event_id);
    if (!s.step()) return std::nullopt;
    StoredEvent e;
    e.id = s.column(0);
    e.hash = static_cast<std::uint64_t>(s.column(1));
    e.load = s.column(2);
    e.voided = s.column(3) != 0;
    e.pin = s.column_text(4);
    e.ndc = s.column_text(5);
    e.lot = s.column_text(6);
    e.took_state_dose = s.column(7) != 0;
    return e;
  }

  // False when this load already applied (or refused) a record for the stored event.
  bool first_sight_of_stored(std::int64_t vaccination_id, std::int64_t stored_load) {
    if (stored_load == load_id) return false;  // inserted by this very load
    Use s(seen_insert.get());
    s.integer(1, vaccination_id);
    s.step();
    return sqlite3_changes(db) > 0;
  }

  bool seen_unstored(const RecordValues& v) {
    if (unstored_seen == 0) return false;
    Use s(unstored_seen_select.get());
    s.text(1, v[kOrgCode]);
    s.text(2, v[kEventId]);
    return s.step();
  }

  // A U or D for an event the store does not hold: UnknownEvent, or DuplicateInFile when
  // this load already saw the same event.
  ApplyOutcome refuse_unknown(const RecordValues& v) {
    {
      Use s(unstored_seen_insert.get());
      s.text(1, v[kOrgCode]);
      s.text(2, v[kEventId]);
      s.step();
    }
    if (sqlite3_changes(db) == 0) return duplicate_in_file();
    ++unstored_seen;
    ++counts.unknown_event;
    return ApplyOutcome::UnknownEvent;
  }

  void write_history(std::int64_t vaccination_id, const char* change) {
    Use s(history_insert.get());
    s.integer(1, vaccination_id);
    s.text(2, change);
    s.integer(3, load_id);
    s.step();
    if (sqlite3_changes(db) != 1)
      throw StoreError("CVMS store: a stored vaccination vanished during a load");
  }

  ApplyOutcome duplicate_in_file() {
    ++counts.duplicate;
    return ApplyOutcome::DuplicateInFile;
  }

  // The stored event a U or D changes, or nothing with `ended` saying why the record ends
  // first: the same event earlier in this load, or an event the store never held.
  std::optional<StoredEvent> change_target(const RecordValues& v, ApplyOutcome& ended) {
    if (seen_unstored(v)) {
      ended = duplicate_in_file();
      return std::nullopt;
    }
    auto stored = probe_event(find_org(v[kOrgCode]), v[kEventId]);
    if (!stored) {
      ended = refuse_unknown(v);
      return std::nullopt;
    }
    if (!first_sight_of_stored(stored->id, stored->load)) {
      ended = duplicate_in_file();
      return std::nullopt;
    }
    return stored;
  }

  ApplyOutcome apply_add(const RecordValues& v) {
    if (seen_unstored(v)) return duplicate_in_file();
    const std::int64_t org = resolve_org(v[kOrgCode]);
    const std::uint64_t hash = content_hash(v);
    const std::uint64_t demographics = demographics_hash(v);
    const Resolved location = resolve_location(v[kPin], v[kAdminName], org);
    const Resolved recipient = resolve_recipient(v, org, demographics);

    {
      Use s(vax_insert.get());
      s.integer(1, org);
      s.text(2, v[kEventId]);
      s.integer(3, location.id);
      s.integer(4, recipient.id);
      s.integer(5, static_cast<std::int64_t>(hash));
      s.integer(6, v[kInventorySource] == "FEDERAL" ? 1 : 0);
      s.integer(7, load_id);
      int param = 10;
      for (const std::size_t c : kVaccinationColumns) s.text(param++, v[c]);
      s.step();
    }
    if (sqlite3_changes(db) > 0) {
      if (location.stale) update_location(location.id, v[kPin], v[kAdminName], org);
      if (recipient.stale) update_recipient(recipient.id, v, demographics);
      if (takes_state_dose(v)) {
        count_doses(v[kPin], v[kNdc], v[kLot], 1);
        ++counts.state_doses;
      }
      ++counts.inserted;
      return ApplyOutcome::Inserted;
    }

    // The event is already stored: this record writes nothing. Undo rows created for it (a
    // resubmission naming a new PIN or recipient id), so a replay leaves no trace.
    if (recipient.created) {
      delete_row(key_delete, recipient.id);
      delete_row(recip_delete, recipient.id);
      forget_recipient();
    }
    if (location.created) {
      delete_row(loc_delete, location.id);
      forget_location(v[kPin]);
    }
    std::int64_t stored_id = 0, stored_load = 0;
    std::uint64_t stored_hash = 0;
    bool voided = false;
    {
      Use s(vax_probe.get());
      s.integer(1, org);
      s.text(2, v[kEventId]);
      if (!s.step()) throw StoreError("CVMS store: a stored vaccination vanished during a load");
      stored_id = s.column(0);
      stored_hash = static_cast<std::uint64_t>(s.column(1));
      stored_load = s.column(2);
      voided = s.column(3) != 0;
    }
    if (!first_sight_of_stored(stored_id, stored_load)) return duplicate_in_file();
    if (voided) {
      ++counts.event_voided;
      return ApplyOutcome::EventVoided;
    }
    if (stored_hash == hash) {
      ++counts.unchanged;
      return ApplyOutcome::Unchanged;
    }
    ++counts.conflicting;
    return ApplyOutcome::ConflictsWithStored;
  }

  ApplyOutcome apply_update(const RecordValues& v) {
    ApplyOutcome ended{};
    const auto stored = change_target(v, ended);
    if (!stored) return ended;
    if (stored->voided) {
      ++counts.event_voided;
      return ApplyOutcome::EventVoided;
    }
    const std::uint64_t hash = content_hash(v);
    if (hash == stored->hash) {
      ++counts.unchanged;
      return ApplyOutcome::Unchanged;
    }
    // A real change: the new version's location and recipient are written like an insert's.
    const std::int64_t org = org_id;  // find_org cached it
    const std::uint64_t demographics = demographics_hash(v);
    const Resolved location = resolve_location(v[kPin], v[kAdminName], org);
    const Resolved recipient = resolve_recipient(v, org, demographics);
    if (location.stale) update_location(location.id, v[kPin], v[kAdminName], org);
    if (recipient.stale) update_recipient(recipient.id, v, demographics);

    write_history(stored->id, "updated");
    {
      Use s(vax_update.get());
      s.integer(1, stored->id);
      s.integer(2, location.id);
      s.integer(3, recipient.id);
      s.integer(4, static_cast<std::int64_t>(hash));
      s.integer(5, v[kInventorySource] == "FEDERAL" ? 1 : 0);
      s.integer(6, load_id);
      int param = 10;
      for (const std::size_t c : kVaccinationColumns) s.text(param++, v[c]);
      s.step();
    }
    if (stored->took_state_dose) count_doses(stored->pin, stored->ndc, stored->lot, -1);
    if (takes_state_dose(v)) count_doses(v[kPin], v[kNdc], v[kLot], 1);
    ++counts.updated;
    return ApplyOutcome::Updated;
  }

  ApplyOutcome apply_delete(const RecordValues& v) {
    ApplyOutcome ended{};
    const auto stored = change_target(v, ended);
    if (!stored) return ended;
    if (stored->voided) {
      ++counts.unchanged;
      return ApplyOutcome::Unchanged;
    }
    write_history(stored->id, "voided");
    {
      Use s(vax_void.get());
      s.integer(1, stored->id);
      s.integer(2, load_id);
      s.step();
    }
    if (stored->took_state_dose) count_doses(stored->pin, stored->ndc, stored->lot, -1);
    ++counts.voided;
    return ApplyOutcome::Voided;
  }

  void begin(const LoadInfo& info) {
    if (in_load) throw std::logic_error("CVMS store: begin() while a load is open");
    clear_caches();
    counts = ApplyCounts{};
    // BEGIN IMMEDIATE rather than Poco's Session::begin() (BEGIN DEFERRED): the write lock is
    // taken now, so a concurrent load waits here (busy timeout) instead of failing mid-file
    // when its first write tries to upgrade the lock.
    exec("BEGIN IMMEDIATE");
    in_load = true;
    validate_only = info.validate_only;
    try {
      for (Stmt* clear : {&seen_clear, &unstored_seen_clear}) {
        Use s(clear->get());
        s.step();
      }
      unstored_seen = 0;
      std::string run = info.run_id, name = info.input_name, digest = info.input_sha256;
      session << "INSERT INTO loads (run_id, input_name, input_sha256, started_at) "
                 "VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
          use(run), use(name), use(digest), now;
      load_id = sqlite3_last_insert_rowid(db);
    } catch (const Poco::Exception& e) {
      rollback();
      throw StoreError("CVMS store: recording the load: " + e.displayText());
    } catch (...) {
      rollback();
      throw;
    }
  }

  std::int64_t commit(const LoadCounts& load) {
    if (!in_load) throw std::logic_error("CVMS store: commit() without begin()");
    const std::int64_t id = load_id;
    // Also for a validate-only load: a dry run reports the discrepancies a load would record.
    flush_inventory();
    {
      Use s(discrepancy_totals.get());
      s.integer(1, id);
      s.step();
      counts.short_keys = static_cast<std::uint64_t>(s.column(0));
      counts.short_doses = static_cast<std::uint64_t>(s.column(1));
    }
    if (validate_only) {
      rollback();
      return id;
    }
    try {
      auto read = static_cast<Poco::Int64>(load.records_read);
      auto rejected = static_cast<Poco::Int64>(load.records_rejected);
      auto inserted = static_cast<Poco::Int64>(counts.inserted);
      auto unchanged = static_cast<Poco::Int64>(counts.unchanged);
      auto conflicting = static_cast<Poco::Int64>(counts.conflicting);
      auto duplicate = static_cast<Poco::Int64>(counts.duplicate);
      auto state = static_cast<Poco::Int64>(counts.state_doses);
      auto updated = static_cast<Poco::Int64>(counts.updated);
      auto voided = static_cast<Poco::Int64>(counts.voided);
      auto unknown = static_cast<Poco::Int64>(counts.unknown_event);
      auto event_voided = static_cast<Poco::Int64>(counts.event_voided);
      auto short_doses = static_cast<Poco::Int64>(counts.short_doses);
      Poco::Int64 row = id;
      session << "UPDATE loads SET records_read = ?, records_rejected = ?, records_inserted = ?, "
                 "records_unchanged = ?, records_conflicting = ?, records_duplicate = ?, "
                 "state_doses = ?, records_updated = ?, records_voided = ?, "
                 "records_unknown_event = ?, records_event_voided = ?, "
                 "inventory_short_doses = ?, committed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                 "WHERE load_id = ?",
          use(read), use(rejected), use(inserted), use(unchanged), use(conflicting),
          use(duplicate), use(state), use(updated), use(voided), use(unknown),
          use(event_voided), use(short_doses), use(row), now;
    } catch (const Poco::Exception& e) {
      throw StoreError("CVMS store: recording the load: " + e.displayText());
    }
    exec("COMMIT");
    in_load = false;
    return id;
  }

  void rollback() noexcept {
    if (!in_load) return;
    in_load = false;
    clear_caches();
    try {
      exec("ROLLBACK");
    } catch (...) {
      // The transaction is gone either way (e.g. SQLite already rolled it back after an I/O
      // error); nothing more can be done here.
    }
  }

  // ---- state inventory ---------------------------------------------------------------------

  void outside_load(const char* what) const {
    if (in_load) throw std::logic_error(std::string("CVMS store: ") + what + " during a load");
  }

  // ---- operators' merges of two masters (vaxetl mpi merge / unmerge) ------------------------

  template <class Body>
  auto in_transaction(Body body) {
    exec("BEGIN IMMEDIATE");
    try {
      auto result = body();
      exec("COMMIT");
      return result;
    } catch (...) {
      try { exec("ROLLBACK"); } catch (...) {}
      throw;
    }
  }

  // The recipient row of a master, 0 when CVMS has none.
  std::int64_t recipient_of_master(std::string_view mpi_id) {
    const Stmt find = prepare(db, "SELECT recipient_id FROM recipients WHERE mpi_id = ?1");
    Use s(find.get());
    s.text(1, mpi_id);
    return s.step() ? s.column(0) : 0;
  }

  bool already_merged(std::int64_t retired_row, std::int64_t survivor_row) {
    const Stmt find = prepare(db, "SELECT 1 FROM recipients WHERE recipient_id = ?1 AND "
                                  "merged_into = ?2");
    Use s(find.get());
    s.integer(1, retired_row);
    s.integer(2, survivor_row);
    return s.step();
  }

  MasterMergeResult merge_masters(std::string_view survivor, std::string_view retired) {
    outside_load("merge_masters()");
    if (survivor.empty() || retired.empty() || survivor == retired)
      throw std::invalid_argument("merging needs two different master ids");
    return in_transaction([&] {
      MasterMergeResult result;
      const std::int64_t retired_row = recipient_of_master(retired);
      if (retired_row == 0) return result;  // CVMS holds nothing of the retired master
      std::int64_t survivor_row = recipient_of_master(survivor);
      if (survivor_row != 0 && already_merged(retired_row, survivor_row)) return result;
      if (survivor_row == 0) {
        // The survivor has no doses in CVMS yet: its row starts as a copy of the retired one.
        const Stmt copy = prepare(
            db, "INSERT INTO recipients (org_id, recip_id, demographics_hash, first_load_id, "
                "updated_load_id, mpi_id" + column_list(kFirstDemographic, kLastDemographic) +
                    ") SELECT org_id, recip_id, demographics_hash, first_load_id, "
                    "updated_load_id, ?2" + column_list(kFirstDemographic, kLastDemographic) +
                    " FROM recipients WHERE recipient_id = ?1");
        Use s(copy.get());
        s.integer(1, retired_row);
        s.text(2, survivor);
        s.step();
        survivor_row = sqlite3_last_insert_rowid(db);
        result.survivor_created = true;
      }
      std::int64_t merge_id = 0;
      {
        const Stmt insert = prepare(db,
                                    "INSERT INTO recipient_merges (survivor_recipient_id, "
                                    "retired_recipient_id) VALUES (?1, ?2)");
        Use s(insert.get());
        s.integer(1, survivor_row);
        s.integer(2, retired_row);
        s.step();
        merge_id = sqlite3_last_insert_rowid(db);
      }
      {
        const Stmt moves = prepare(db,
                                   "INSERT INTO recipient_merge_moves (merge_id, vaccination_id) "
                                   "SELECT ?1, vaccination_id FROM vaccinations "
                                   "WHERE recipient_id = ?2");
        Use s(moves.get());
        s.integer(1, merge_id);
        s.integer(2, retired_row);
        s.step();
        result.vaccinations_moved = sqlite3_changes(db);
      }
      {
        const Stmt move = prepare(db, "UPDATE vaccinations SET recipient_id = ?1 "
                                      "WHERE recipient_id = ?2");
        Use s(move.get());
        s.integer(1, survivor_row);
        s.integer(2, retired_row);
        s.step();
      }
      {
        const Stmt mark = prepare(db, "UPDATE recipients SET merged_into = ?1 "
                                      "WHERE recipient_id = ?2");
        Use s(mark.get());
        s.integer(1, survivor_row);
        s.integer(2, retired_row);
        s.step();
      }
      return result;
    });
  }

  MasterMergeResult unmerge_masters(std::string_view survivor, std::string_view retired) {
    outside_load("unmerge_masters()");
    return in_transaction([&] {
      MasterMergeResult result;
      const std::int64_t survivor_row = recipient_of_master(survivor);
      const std::int64_t retired_row = recipient_of_master(retired);
      if (survivor_row == 0 || retired_row == 0) return result;
      std::int64_t merge_id = 0;
      {
        const Stmt find = prepare(db,
                                  "SELECT max(merge_id) FROM recipient_merges WHERE "
                                  "survivor_recipient_id = ?1 AND retired_recipient_id = ?2 "
                                  "AND unmerged_at IS NULL");
        Use s(find.get());
        s.integer(1, survivor_row);
        s.integer(2, retired_row);
        if (s.step()) merge_id = s.column(0);
      }
      if (merge_id == 0) return result;  // never merged in CVMS: nothing to give back
      {
        // Exactly the vaccinations the merge moved go back; doses loaded since stay.
        const Stmt back = prepare(db,
                                  "UPDATE vaccinations SET recipient_id = ?1 WHERE recipient_id "
                                  "= ?2 AND vaccination_id IN (SELECT vaccination_id FROM "
                                  "recipient_merge_moves WHERE merge_id = ?3)");
        Use s(back.get());
        s.integer(1, retired_row);
        s.integer(2, survivor_row);
        s.integer(3, merge_id);
        s.step();
        result.vaccinations_moved = sqlite3_changes(db);
      }
      exec("UPDATE recipients SET merged_into = NULL WHERE recipient_id = " +
           std::to_string(retired_row));
      exec("UPDATE recipient_merges SET unmerged_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
           "WHERE merge_id = " + std::to_string(merge_id));
      return result;
    });
  }

  ReceiptResult receive(const Receipt& receipt) {
    outside_load("receive()");
    check_receipt_fields(receipt);
    exec("BEGIN IMMEDIATE");
    try {
      ReceiptResult result = record_receipt(receipt);
      exec("COMMIT");
      return result;
    } catch (...) {
      try { exec("ROLLBACK"); } catch (...) {}
      throw;
    }
  }

  ReceiptResult record_receipt(const Receipt& receipt) {
    ReceiptResult result;
    std::int64_t doses_per_vial = 0;
    {
      const Stmt product = prepare(db, "SELECT name, doses_per_vial FROM products "
                                       "WHERE ndc_unit_of_sale = ?1");
      Use s(product.get());
      s.text(1, receipt.ndc);
      if (s.step()) {
        result.product = s.column_text(0);
        doses_per_vial = s.column(1);
      }
    }
    if (doses_per_vial == 0) refuse_ndc(receipt.ndc);
    if (!receipt.reference.empty()) {
      const Stmt earlier = prepare(db, "SELECT receipt_id, received_at FROM inventory_receipts "
                                       "WHERE reference = ?1");
      Use s(earlier.get());
      s.text(1, receipt.reference);
      if (s.step())
        throw ReceiptRefused(std::string("shipment reference ")
                                 .append(receipt.reference)
                                 .append(" was already received (receipt ")
                                 .append(std::to_string(s.column(0)))
                                 .append(" at ")
                                 .append(s.column_text(1))
                                 .append("); each shipment is received once"));
    }
    result.doses = receipt.vials * doses_per_vial;
    {
      const Stmt insert = prepare(db,
                                  "INSERT INTO inventory_receipts (pin, ndc, lot_number, vials, "
                                  "doses_per_vial, doses, reference) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      Use s(insert.get());
      s.text(1, receipt.pin);
      s.text(2, receipt.ndc);
      s.text(3, receipt.lot_number);
      s.integer(4, receipt.vials);
      s.integer(5, doses_per_vial);
      s.integer(6, result.doses);
      s.text(7, receipt.reference);
      s.step();
      result.receipt_id = sqlite3_last_insert_rowid(db);
    }
    {
      const Stmt add = prepare(db,
                               "INSERT INTO inventory (pin, ndc, lot_number, doses_received) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (pin, ndc, lot_number) "
                               "DO UPDATE SET doses_received = doses_received + ?4 "
                               "RETURNING on_hand");
      Use s(add.get());
      s.text(1, receipt.pin);
      s.text(2, receipt.ndc);
      s.text(3, receipt.lot_number);
      s.integer(4, result.doses);
      if (!s.step()) throw StoreError("CVMS store: the inventory upsert returned no row");
      result.on_hand = s.column(0);
    }
    return result;
  }

  // Inventory is kept by unit-of-sale NDC: a vial's (unit-of-use) code is the common mistake,
  // so name the carton codes to use instead.
  [[noreturn]] void refuse_ndc(const std::string& ndc) {
    const Stmt sale = prepare(db, "SELECT ndc_unit_of_sale FROM products "
                                  "WHERE ndc_unit_of_use = ?1 ORDER BY ndc_unit_of_sale");
    std::string suggestions;
    Use s(sale.get());
    s.text(1, ndc);
    while (s.step()) {
      if (!suggestions.empty()) suggestions += " or ";
      suggestions += s.column_text(0);
    }
    refuse_receipt_ndc(ndc, suggestions);
  }

  std::vector<InventoryRow> inventory(std::string_view pin) {
    outside_load("inventory()");
    const Stmt select = prepare(db,
                                "SELECT i.pin, i.ndc, coalesce(p.name, ''), i.lot_number, "
                                "i.doses_received, i.doses_administered, i.on_hand "
                                "FROM inventory i LEFT JOIN products p ON p.ndc_unit_of_sale = i.ndc "
                                "WHERE ?1 IS NULL OR i.pin = ?1 "
                                "ORDER BY i.pin, i.ndc, i.lot_number");
    std::vector<InventoryRow> rows;
    Use s(select.get());
    s.text(1, pin);
    while (s.step())
      rows.push_back({s.column_text(0), s.column_text(1), s.column_text(2), s.column_text(3),
                      s.column(4), s.column(5), s.column(6)});
    return rows;
  }

  std::vector<Discrepancy> discrepancies(std::string_view pin) {
    outside_load("discrepancies()");
    const Stmt select = prepare(
        db,
        "SELECT d.pin, d.ndc, coalesce(p.name, ''), d.lot_number, coalesce(i.on_hand, 0), "
        "d.load_id, l.run_id, l.input_name, coalesce(l.committed_at, ''), d.doses_short "
        "FROM inventory_discrepancies d JOIN loads l ON l.load_id = d.load_id "
        "LEFT JOIN products p ON p.ndc_unit_of_sale = d.ndc "
        "LEFT JOIN inventory i ON i.pin = d.pin AND i.ndc = d.ndc AND i.lot_number = d.lot_number "
        "WHERE ?1 IS NULL OR d.pin = ?1 "
        "ORDER BY d.pin, d.ndc, d.lot_number, d.load_id");
    std::vector<Discrepancy> result;
    Use s(select.get());
    s.text(1, pin);
    while (s.step()) {
      std::string key_pin = s.column_text(0), ndc = s.column_text(1), lot = s.column_text(3);
      if (result.empty() || result.back().pin != key_pin || result.back().ndc != ndc ||
          result.back().lot_number != lot)
        result.push_back({std::move(key_pin), std::move(ndc), s.column_text(2), std::move(lot), 0,
                          s.column(4), {}});
      Discrepancy& key = result.back();
      key.loads.push_back({s.column(5), s.column_text(6), s.column_text(7), s.column_text(8),
                           s.column(9)});
      key.doses_short += s.column(9);
    }
    return result;
  }

  std::optional<StoredLoad> find_load(std::string_view digest) {
    std::string key(digest);
    Poco::Data::Statement select(session);
    StoredLoad found;
    Poco::Int64 id = 0, read = 0, inserted = 0;
    select << "SELECT load_id, run_id, input_name, input_sha256, committed_at, records_read, "
              "records_inserted FROM loads WHERE input_sha256 = ? AND committed_at IS NOT NULL "
              "ORDER BY load_id DESC LIMIT 1",
        use(key), into(id), into(found.run_id), into(found.input_name), into(found.input_sha256),
        into(found.committed_at), into(read), into(inserted);
    try {
      if (select.execute() == 0) return std::nullopt;
    } catch (const Poco::Exception& e) {
      throw StoreError("CVMS store: reading loads: " + e.displayText());
    }
    found.load_id = id;
    found.records_read = static_cast<std::uint64_t>(read);
    found.records_inserted = static_cast<std::uint64_t>(inserted);
    return found;
  }
};

namespace detail {

std::vector<CatalogProduct> read_product_catalog(const std::string& path) {
  std::vector<CatalogProduct> products;
  try {
    const auto table = sdk::DataTable::load(path);
    const std::size_t c_cvx = table.column("cvx"), c_mvx = table.column("mvx"),
                      c_name = table.column("product"), c_sale = table.column("ndc_unit_of_sale"),
                      c_use = table.column("ndc_unit_of_use"), c_doses = table.column("doses_per_vial");
    std::size_t c_note = table.columns().size();
    for (std::size_t i = 0; i < table.columns().size(); ++i)
      if (table.columns()[i] == "note") c_note = i;
    for (const auto& row : table.rows()) {
      CatalogProduct p{row[c_sale], row[c_use], row[c_cvx], row[c_mvx], row[c_name],
                       c_note < row.size() ? row[c_note] : std::string(), 0};
      const std::string& d = row[c_doses];
      const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), p.doses);
      if (ec != std::errc() || end != d.data() + d.size() || p.doses <= 0 || p.sale.empty() ||
          p.use.empty() || p.cvx.empty() || p.mvx.empty() || p.name.empty())
        throw StoreError("a row lacks a product field or has a bad doses_per_vial");
      products.push_back(std::move(p));
    }
  } catch (const std::exception& e) {
    throw StoreError("CVMS store: product catalog " + path + ": " + e.what());
  }
  return products;
}

std::uint64_t demographics_hash(const RecordValues& v) noexcept {
  std::uint64_t h = kSeed;
  for (std::size_t i = kFirstDemographic; i <= kLastDemographic; ++i) h = hash_value(h, v[i]);
  return h;
}

const char* invalid_reason(const RecordValues& v) noexcept {
  if (v[kRecordType] == "DEMOGRAPHICS") {
    if (v[kOrgCode].empty()) return "CVMS store: record lacks org_code";
    if (v[kRecipId].empty()) return "CVMS store: record lacks recip_id";
    return nullptr;
  }
  const std::string_view code = v[kActionCode];
  if (!(code.empty() || code == "A" || code == "U" || code == "D"))
    return "CVMS store: action_code is not A, U or D";
  if (v[kOrgCode].empty()) return "CVMS store: record lacks org_code";
  if (v[kEventId].empty()) return "CVMS store: record lacks vax_event_id";
  if (code == "D") return nullptr;
  if (v[kPin].empty()) return "CVMS store: record lacks vtrcks_prov_pin";
  if (v[kRecipId].empty()) return "CVMS store: record lacks recip_id";
  if (takes_state_dose(v) && (v[kNdc].empty() || v[kLot].empty()))
    return "CVMS store: STATE dose lacks ndc or lot_number";
  return nullptr;
}

std::vector<std::optional<ApplyOutcome>> StoreBackend::apply_batch(
    std::span<const BatchRecord> records) {
  std::vector<std::optional<ApplyOutcome>> outcomes;
  outcomes.reserve(records.size());
  for (const BatchRecord& record : records) {
    try {
      outcomes.emplace_back(apply(record.values, record.mpi_id));
    } catch (const std::invalid_argument&) {
      outcomes.emplace_back(std::nullopt);
    }
  }
  return outcomes;
}

}  // namespace detail

namespace {
std::unique_ptr<detail::StoreBackend> open_store(const StoreOptions& options) {
  db::Location location;
  try {
    location = db::Location::parse(options.database);
  } catch (const std::invalid_argument& e) {
    throw StoreError(std::string("CVMS store: ") + e.what());
  }
  if (location.is_postgres()) return detail::open_postgres_store(options);
  StoreOptions sqlite = options;
  sqlite.database = location.target;  // without a "sqlite:" prefix
  return std::make_unique<SqliteStore>(sqlite);
}
}  // namespace

CvmsStore::CvmsStore(const StoreOptions& options) : impl_(open_store(options)) {}
CvmsStore::~CvmsStore() {
  if (impl_) impl_->rollback();
}
void CvmsStore::begin(const LoadInfo& info) { impl_->begin(info); }
ApplyOutcome CvmsStore::apply(const RecordValues& values, std::string_view mpi_id) {
  return impl_->apply(values, mpi_id);
}
std::vector<std::optional<ApplyOutcome>> CvmsStore::apply_batch(std::span<const BatchRecord> records) {
  return impl_->apply_batch(records);
}
std::int64_t CvmsStore::commit(const LoadCounts& counts) { return impl_->commit(counts); }
void CvmsStore::rollback() noexcept { impl_->rollback(); }
bool CvmsStore::in_load() const noexcept { return impl_->in_load; }
const ApplyCounts& CvmsStore::counts() const noexcept { return impl_->counts; }
std::optional<StoredLoad> CvmsStore::find_load(std::string_view input_sha256) {
  return impl_->find_load(input_sha256);
}
ReceiptResult CvmsStore::receive(const Receipt& receipt) { return impl_->receive(receipt); }
MasterMergeResult CvmsStore::merge_masters(std::string_view survivor_mpi_id,
                                           std::string_view retired_mpi_id) {
  return impl_->merge_masters(survivor_mpi_id, retired_mpi_id);
}
MasterMergeResult CvmsStore::unmerge_masters(std::string_view survivor_mpi_id,
                                             std::string_view retired_mpi_id) {
  return impl_->unmerge_masters(survivor_mpi_id, retired_mpi_id);
}
std::vector<InventoryRow> CvmsStore::inventory(std::string_view pin) {
  return impl_->inventory(pin);
}
std::vector<Discrepancy> CvmsStore::discrepancies(std::string_view pin) {
  return impl_->discrepancies(pin);
}

}  // namespace vaxetl::cvms
