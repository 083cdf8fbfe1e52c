#include "cvms_store.hpp"

#include <sqlite3.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <charconv>
#include <filesystem>
#include <cstring>
#include <unordered_map>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "vaxetl/sdk/text.hpp"

namespace vaxetl::cvms {
namespace {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

// Canonical column indexes the store reads by name.
constexpr std::size_t kEventId = column_index("vax_event_id");
constexpr std::size_t kActionCode = column_index("action_code");
constexpr std::size_t kOrgCode = column_index("org_code");
constexpr std::size_t kPin = column_index("vtrcks_prov_pin");
constexpr std::size_t kAdminName = column_index("admin_name");
constexpr std::size_t kRecipId = column_index("recip_id");
constexpr std::size_t kFirstDemographic = column_index("recip_first_name");
constexpr std::size_t kLastDemographic = column_index("guardian_name");
constexpr std::size_t kNdc = column_index("ndc");
constexpr std::size_t kLot = column_index("lot_number");
constexpr std::size_t kInventorySource = column_index("inventory_source");
constexpr std::size_t kRefusal = column_index("vax_refusal");
constexpr std::size_t kNdcAsSent = column_index("ndc_as_sent");
constexpr std::size_t kRecordType = column_index("record_type");

// Recipient demographics are the contiguous canonical columns recip_first_name..guardian_name;
// the recipients table names them exactly like the canonical columns.
static_assert(kLastDemographic - kFirstDemographic + 1 == 23);
static_assert(kFirstDemographic == kRecipId + 1);

// Vaccination columns stored as-is, in vaccinations-table order (names equal canonical names).
constexpr std::array<std::size_t, 39> kVaccinationColumns = {
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

std::uint64_t demographics_hash(const RecordValues& v) noexcept {
  std::uint64_t h = kSeed;
  for (std::size_t i = kFirstDemographic; i <= kLastDemographic; ++i) h = hash_value(h, v[i]);
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

}  // namespace

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

struct CvmsStore::Impl {
  Poco::Data::Session session;
  sqlite3* db = nullptr;
  // Declared after the session so they are finalized before it closes.
  Stmt org_select, org_insert;
  Stmt vax_insert, vax_probe, seen_insert, seen_clear;
  Stmt loc_select, loc_insert, loc_update, loc_delete;
  Stmt recip_select, recip_insert, recip_update, recip_delete;
  Stmt inventory_add;

  bool in_load = false;
  bool validate_only = false;
  std::int64_t load_id = 0;
  ApplyCounts counts;

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
  std::string recip_id;
  std::int64_t recip_org_id = 0, recipient_id = 0;
  std::uint64_t recip_demographics = 0;

  // STATE doses administered in this load, per "pin\x1f ndc\x1f lot", added to inventory in
  // one statement per key at commit (a file has a few hundred keys, not one per record).
  // Flushed early when it reaches kMaxPendingKeys, so memory stays bounded.
  static constexpr std::size_t kMaxPendingKeys = 65536;  // a few MiB at most
  std::unordered_map<std::string, std::int64_t> pending_doses;
  std::string inventory_key;  // reused buffer: no allocation for a key already pending

  explicit Impl(const StoreOptions& options) : session(open_session(options.database)) {
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
      return Poco::Data::Session(Poco::Data::SQLite::Connector::KEY, path);
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

  struct Product {
    std::string sale, use, cvx, mvx, name, note;
    int doses = 0;
  };

  // Refreshes the products table from the catalog; writes only when they differ.
  void load_products(const std::string& products_path) {
    std::vector<Product> products;
    try {
      const auto table = sdk::DataTable::load(products_path);
      const std::size_t c_cvx = table.column("cvx"), c_mvx = table.column("mvx"),
                        c_name = table.column("product"), c_sale = table.column("ndc_unit_of_sale"),
                        c_use = table.column("ndc_unit_of_use"),
                        c_doses = table.column("doses_per_vial");
      std::size_t c_note = table.columns().size();
      for (std::size_t i = 0; i < table.columns().size(); ++i)
        if (table.columns()[i] == "note") c_note = i;
      for (const auto& row : table.rows()) {
        Product p{row[c_sale], row[c_use], row[c_cvx], row[c_mvx], row[c_name],
                  c_note < row.size() ? row[c_note] : std::string(), 0};
        const std::string& d = row[c_doses];
        const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), p.doses);
        if (ec != std::errc() || end != d.data() + d.size() || p.doses <= 0 || p.sale.empty() ||
            p.use.empty() || p.cvx.empty() || p.mvx.empty() || p.name.empty())
          throw StoreError("a row lacks a product field or has a bad doses_per_vial");
        products.push_back(std::move(p));
      }
    } catch (const std::exception& e) {
      throw StoreError("CVMS store: product catalog " + products_path + ": " + e.what());
    }
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
                        "SELECT vaccination_id, content_hash, load_id FROM vaccinations "
                        "WHERE org_id = ?1 AND vax_event_id = ?2");
    // Stored events this load has seen (to flag a second copy in the same file). A TEMP table:
    // private to this connection, never written to the database file, and with
    // temp_store=FILE it spills to a temporary file instead of growing in memory.
    exec("CREATE TEMP TABLE IF NOT EXISTS load_seen (vaccination_id INTEGER PRIMARY KEY)");
    seen_insert = prepare(db, "INSERT OR IGNORE INTO temp.load_seen (vaccination_id) VALUES (?1)");
    seen_clear = prepare(db, "DELETE FROM temp.load_seen");

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
                           "WHERE org_id = ?1 AND recip_id = ?2");
    recip_insert = prepare(
        db, "INSERT INTO recipients (org_id, recip_id, demographics_hash, first_load_id, "
            "updated_load_id" + column_list(kFirstDemographic, kLastDemographic) +
                ") VALUES (?1, ?2, ?3, ?4, ?4" + placeholders(10, kDemographics) +
                ") ON CONFLICT (org_id, recip_id) DO NOTHING");
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

    inventory_add = prepare(db,
                            "INSERT INTO inventory (pin, ndc, lot_number, doses_administered) "
                            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (pin, ndc, lot_number) "
                            "DO UPDATE SET doses_administered = doses_administered + ?4");
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

  // The recipient row for org + recip_id, inserted when absent; `stale` as for locations.
  Resolved resolve_recipient(const RecordValues& v, std::int64_t org, std::uint64_t demographics) {
    const std::string_view id_value = v[kRecipId];
    if (recipient_id != 0 && org == recip_org_id && id_value == recip_id)
      return {recipient_id, false, recip_demographics != demographics};
    // Insert first: most recipients in a file are new, so the common case is one statement;
    // only a recipient already stored needs the lookup.
    Resolved r;
    std::uint64_t stored = demographics;
    {
      Use s(recip_insert.get());
      s.integer(1, org);
      s.text(2, id_value);
      bind_demographics(s, v, demographics);
      s.step();
    }
    if (sqlite3_changes(db) > 0) {
      r.id = sqlite3_last_insert_rowid(db);
      r.created = true;
    } else {
      Use s(recip_select.get());
      s.integer(1, org);
      s.text(2, id_value);
      if (!s.step()) throw StoreError("CVMS store: a stored recipient vanished during a load");
      r.id = s.column(0);
      stored = static_cast<std::uint64_t>(s.column(1));
      r.stale = stored != demographics;
    }
    recip_org_id = org;
    recip_id.assign(id_value);
    recip_demographics = stored;
    recipient_id = r.id;
    return r;
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

  void count_state_dose(const RecordValues& v) {
    inventory_key.assign(v[kPin]);
    inventory_key += '\x1f';
    inventory_key += v[kNdc];
    inventory_key += '\x1f';
    inventory_key += v[kLot];
    const auto found = pending_doses.find(inventory_key);
    if (found != pending_doses.end()) {
      ++found->second;
      return;
    }
    if (pending_doses.size() >= kMaxPendingKeys) flush_inventory();
    pending_doses.emplace(inventory_key, 1);
  }

  void flush_inventory() {
    for (const auto& [key, doses] : pending_doses) {
      const std::string_view k = key;
      const std::size_t a = k.find('\x1f');
      const std::size_t b = k.find('\x1f', a + 1);
      Use s(inventory_add.get());
      s.text(1, k.substr(0, a));
      s.text(2, k.substr(a + 1, b - a - 1));
      s.text(3, k.substr(b + 1));
      s.integer(4, doses);
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

  ApplyOutcome apply(const RecordValues& v) {
    if (!in_load) throw std::logic_error("CVMS store: apply() outside begin()/commit()");
    if (v[kRecordType] == "DEMOGRAPHICS") return apply_demographics(v);
    // Check everything the writes below rely on before writing anything, so that a rejected
    // record leaves the load exactly as it was.
    for (const std::size_t key : {kOrgCode, kEventId, kPin, kRecipId})
      if (v[key].empty())
        throw std::invalid_argument("CVMS store: record lacks " +
                                    std::string(canonical::kColumns[key]));
    const bool state_dose = v[kInventorySource] == "STATE" && v[kRefusal] != "YES";
    if (state_dose && (v[kNdc].empty() || v[kLot].empty()))
      throw std::invalid_argument("CVMS store: STATE dose lacks ndc or lot_number");

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
      if (state_dose) {
        count_state_dose(v);
        ++counts.state_doses;
      }
      ++counts.inserted;
      return ApplyOutcome::Inserted;
    }

    // The event is already stored: this record writes nothing. Undo rows created for it (a
    // resubmission naming a new PIN or recipient id), so a replay leaves no trace.
    if (recipient.created) {
      delete_row(recip_delete, recipient.id);
      forget_recipient();
    }
    if (location.created) {
      delete_row(loc_delete, location.id);
      forget_location(v[kPin]);
    }
    std::int64_t stored_id = 0, stored_load = 0;
    std::uint64_t stored_hash = 0;
    {
      Use s(vax_probe.get());
      s.integer(1, org);
      s.text(2, v[kEventId]);
      if (!s.step()) throw StoreError("CVMS store: a stored vaccination vanished during a load");
      stored_id = s.column(0);
      stored_hash = static_cast<std::uint64_t>(s.column(1));
      stored_load = s.column(2);
    }
    bool first_sight = stored_load != load_id;
    if (first_sight) {
      Use s(seen_insert.get());
      s.integer(1, stored_id);
      s.step();
      first_sight = sqlite3_changes(db) > 0;
    }
    if (!first_sight) {
      ++counts.duplicate;
      return ApplyOutcome::DuplicateInFile;
    }
    if (stored_hash == hash) {
      ++counts.unchanged;
      return ApplyOutcome::Unchanged;
    }
    ++counts.conflicting;
    return ApplyOutcome::ConflictsWithStored;
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
      {
        Use s(seen_clear.get());
        s.step();
      }
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
    if (validate_only) {
      rollback();
      return id;
    }
    flush_inventory();
    try {
      auto read = static_cast<Poco::Int64>(load.records_read);
      auto rejected = static_cast<Poco::Int64>(load.records_rejected);
      auto inserted = static_cast<Poco::Int64>(counts.inserted);
      auto unchanged = static_cast<Poco::Int64>(counts.unchanged);
      auto conflicting = static_cast<Poco::Int64>(counts.conflicting);
      auto duplicate = static_cast<Poco::Int64>(counts.duplicate);
      auto state = static_cast<Poco::Int64>(counts.state_doses);
      Poco::Int64 row = id;
      session << "UPDATE loads SET records_read = ?, records_rejected = ?, records_inserted = ?, "
                 "records_unchanged = ?, records_conflicting = ?, records_duplicate = ?, "
                 "state_doses = ?, committed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                 "WHERE load_id = ?",
          use(read), use(rejected), use(inserted), use(unchanged), use(conflicting),
          use(duplicate), use(state), use(row), now;
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

CvmsStore::CvmsStore(const StoreOptions& options) : impl_(std::make_unique<Impl>(options)) {}
CvmsStore::~CvmsStore() {
  if (impl_) impl_->rollback();
}
void CvmsStore::begin(const LoadInfo& info) { impl_->begin(info); }
ApplyOutcome CvmsStore::apply(const RecordValues& values) { return impl_->apply(values); }
std::int64_t CvmsStore::commit(const LoadCounts& counts) { return impl_->commit(counts); }
void CvmsStore::rollback() noexcept { impl_->rollback(); }
bool CvmsStore::in_load() const noexcept { return impl_->in_load; }
const ApplyCounts& CvmsStore::counts() const noexcept { return impl_->counts; }
std::optional<StoredLoad> CvmsStore::find_load(std::string_view input_sha256) {
  return impl_->find_load(input_sha256);
}

}  // namespace vaxetl::cvms
