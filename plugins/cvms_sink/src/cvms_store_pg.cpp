// The CVMS store on PostgreSQL: the same rules as the SQLite store (cvms_store.hpp), written a
// batch at a time. Per batch: one lookup per kind of stored row (events, organizations,
// locations, recipients), classification in memory, ids reserved with one nextval() per table,
// then COPY for new rows and one UPDATE ... FROM per kind of change. Everything runs on the
// libpq connection under the Poco session, in one transaction per load.
#include <libpq-fe.h>

#include <Poco/Data/Session.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "db/database.hpp"
#include "db/migrations.hpp"
#include "store_backend.hpp"

namespace vaxetl::cvms::detail {
namespace {

constexpr std::size_t kDemographicCount = kLastDemographic - kFirstDemographic + 1;

// The advisory lock every writer of one CVMS database takes for its transaction (loads,
// receipts, merges). An arbitrary constant no other vaxetl component uses.
constexpr const char* kWriterLock = "SELECT pg_advisory_xact_lock(7306157351216070657)";

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;
using Params = std::vector<std::optional<std::string>>;

std::string column_list(std::size_t first, std::size_t last, const char* prefix = "") {
  std::string list;
  for (std::size_t i = first; i <= last; ++i) {
    list += ", ";
    list += prefix;
    list += canonical::kColumns[i];
  }
  return list;
}

std::string vaccination_columns(const char* prefix = "") {
  std::string list;
  for (const std::size_t c : kVaccinationColumns) {
    list += ", ";
    list += prefix;
    list += canonical::kColumns[c];
  }
  return list;
}

// COPY ... FROM STDIN text format: tab-separated, \N for null (an empty canonical value), and
// backslash, tab, newline and carriage return escaped inside values.
class CopyRows {
 public:
  void text(std::string_view value) {
    separate();
    if (value.empty()) {
      data_ += "\\N";
      return;
    }
    std::size_t from = 0;
    for (;;) {
      const std::size_t special = value.find_first_of("\\\t\n\r", from);
      if (special == std::string_view::npos) {
        data_.append(value.substr(from));
        return;
      }
      data_.append(value.substr(from, special - from));
      switch (value[special]) {
        case '\\': data_ += "\\\\"; break;
        case '\t': data_ += "\\t"; break;
        case '\n': data_ += "\\n"; break;
        default: data_ += "\\r"; break;
      }
      from = special + 1;
    }
  }
  void integer(std::int64_t value) {
    separate();
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof(buffer), value).ptr;
    data_.append(buffer, end);
  }
  void end_row() {
    data_ += '\n';
    first_ = true;
    ++rows_;
  }
  const std::string& data() const noexcept { return data_; }
  std::size_t rows() const noexcept { return rows_; }
  void clear() {
    data_.clear();
    rows_ = 0;
    first_ = true;
  }

 private:
  void separate() {
    if (!first_) data_ += '\t';
    first_ = false;
  }
  std::string data_;
  std::size_t rows_ = 0;
  bool first_ = true;
};

// A PostgreSQL array literal ({"a","b",NULL}) for a text[] parameter; empty values are NULL.
class TextArray {
 public:
  void add(std::string_view value) {
    text_ += text_.empty() ? "{" : ",";
    if (value.empty()) {
      text_ += "NULL";
      return;
    }
    text_ += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }
  std::string literal() const { return text_.empty() ? "{}" : text_ + "}"; }
  bool empty() const noexcept { return text_.empty(); }

 private:
  std::string text_;
};

std::string int_array(const std::vector<std::int64_t>& values) {
  std::string text = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  return text + "}";
}

std::int64_t to_int(const char* text) {
  std::int64_t value = 0;
  std::from_chars(text, text + std::char_traits<char>::length(text), value);
  return value;
}

struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};
template <class Value>
using TextMap = std::unordered_map<std::string, Value, TextHash, std::equal_to<>>;

enum class Kind { Invalid, Demographics, Add, Update, Delete };

// A stored event a record of the batch names.
struct StoredEvent {
  std::int64_t id = 0, org = 0;
  std::uint64_t hash = 0;
  bool voided = false;
  bool took_state_dose = false;
  std::string pin, ndc, lot;
};

// A location as this load knows it; a negative id is a row reserved but not written yet.
struct LocationState {
  std::int64_t id = 0;
  std::string name;
  std::int64_t org = 0;
  bool is_new = false, dirty = false;
};

// A recipient as this batch knows it: stored (values: what to overlay, null keeps the stored
// value) or new (values: the row to insert).
struct RecipientState {
  std::int64_t id = 0;
  std::uint64_t hash = 0;
  bool is_new = false, dirty = false;
  std::int64_t org = 0;
  std::string recip_id, mpi_id;
  std::array<std::string, kDemographicCount> values{};
};

class PgStore final : public StoreBackend {
 public:
  explicit PgStore(const StoreOptions& options) : busy_timeout_ms_(options.busy_timeout_ms) {
    db::Location location;
    try {
      location = db::Location::parse(options.database);
      display_ = location.display();
      session_ = db::open_session(location);
    } catch (const std::exception& e) {
      throw StoreError(std::string("CVMS store: ") + e.what());
    }
    conn_ = static_cast<PGconn*>(db::postgres_connection(*session_));
    if (conn_ == nullptr) throw StoreError("CVMS store: no PostgreSQL connection for " + display_);
    check_migrations(std::filesystem::path(options.schema_path).parent_path() / "migrations" /
                     "postgresql");
    exec("setting the client encoding", "SET client_encoding = 'UTF8'");
    create_staging_tables();
    load_products(options.products_path);
  }

  // ---- loads ---------------------------------------------------------------------------

  void begin(const LoadInfo& info) override {
    if (in_load) throw std::logic_error("CVMS store: begin() while a load is open");
    clear_load_state();
    counts = ApplyCounts{};
    exec("starting the load", "BEGIN");
    in_load = true;
    validate_only_ = info.validate_only;
    try {
      take_writer_lock();
      const Result row = exec("recording the load",
                              "INSERT INTO loads (run_id, input_name, input_sha256, started_at) "
                              "VALUES ($1, $2, $3, cvms_now()) RETURNING load_id",
                              {info.run_id, info.input_name, info.input_sha256});
      load_id_ = to_int(PQgetvalue(row.get(), 0, 0));
    } catch (...) {
      rollback();
      throw;
    }
  }

  ApplyOutcome apply(const RecordValues& values, std::string_view mpi_id) override {
    if (!in_load) throw std::logic_error("CVMS store: apply() outside begin()/commit()");
    if (const char* reason = invalid_reason(values)) throw std::invalid_argument(reason);
    const BatchRecord record{values, mpi_id};
    return *apply_batch(std::span<const BatchRecord>(&record, 1)).front();
  }

  std::vector<std::optional<ApplyOutcome>> apply_batch(std::span<const BatchRecord> records) override {
    if (!in_load) throw std::logic_error("CVMS store: apply() outside begin()/commit()");
    Batch batch(records);
    classify_events(batch);
    resolve_organizations(batch);
    resolve_locations(batch);
    resolve_recipients(batch);
    plan_writes(batch);
    write(batch);
    return std::move(batch.outcomes);
  }

  std::int64_t commit(const LoadCounts& load) override {
    if (!in_load) throw std::logic_error("CVMS store: commit() without begin()");
    const std::int64_t id = load_id_;
    flush_inventory();  // also for a dry run: it reports the discrepancies a load would record
    {
      const Result totals = exec("reading the load's discrepancies",
                                 "SELECT count(*), coalesce(sum(doses_short), 0) FROM "
                                 "inventory_discrepancies WHERE load_id = $1",
                                 {std::to_string(id)});
      counts.short_keys = static_cast<std::uint64_t>(to_int(PQgetvalue(totals.get(), 0, 0)));
      counts.short_doses = static_cast<std::uint64_t>(to_int(PQgetvalue(totals.get(), 0, 1)));
    }
    if (validate_only_) {
      rollback();
      return id;
    }
    const auto n = [](std::uint64_t v) { return std::optional<std::string>(std::to_string(v)); };
    exec("recording the load",
         "UPDATE loads SET records_read = $1, records_rejected = $2, records_inserted = $3, "
         "records_unchanged = $4, records_conflicting = $5, records_duplicate = $6, "
         "state_doses = $7, records_updated = $8, records_voided = $9, "
         "records_unknown_event = $10, records_event_voided = $11, inventory_short_doses = $12, "
         "committed_at = cvms_now() WHERE load_id = $13",
         {n(load.records_read), n(load.records_rejected), n(counts.inserted), n(counts.unchanged),
          n(counts.conflicting), n(counts.duplicate), n(counts.state_doses), n(counts.updated),
          n(counts.voided), n(counts.unknown_event), n(counts.event_voided), n(counts.short_doses),
          std::to_string(id)});
    exec("committing the load", "COMMIT");
    in_load = false;
    clear_load_state();
    return id;
  }

  void rollback() noexcept override {
    if (!in_load) return;
    in_load = false;
    clear_load_state();
    // On a broken connection the server has dropped the transaction already.
    Result ignored(PQexec(conn_, "ROLLBACK"));
  }

  std::optional<StoredLoad> find_load(std::string_view digest) override {
    const Result rows = exec("reading loads",
                             "SELECT load_id, run_id, input_name, input_sha256, committed_at, "
                             "records_read, records_inserted FROM loads WHERE input_sha256 = $1 "
                             "AND committed_at IS NOT NULL ORDER BY load_id DESC LIMIT 1",
                             {std::string(digest)});
    if (PQntuples(rows.get()) == 0) return std::nullopt;
    StoredLoad found;
    found.load_id = to_int(PQgetvalue(rows.get(), 0, 0));
    found.run_id = PQgetvalue(rows.get(), 0, 1);
    found.input_name = PQgetvalue(rows.get(), 0, 2);
    found.input_sha256 = PQgetvalue(rows.get(), 0, 3);
    found.committed_at = PQgetvalue(rows.get(), 0, 4);
    found.records_read = static_cast<std::uint64_t>(to_int(PQgetvalue(rows.get(), 0, 5)));
    found.records_inserted = static_cast<std::uint64_t>(to_int(PQgetvalue(rows.get(), 0, 6)));
    return found;
  }

  // ---- master patients -------------------------------------------------------------------

  MasterMergeResult merge_masters(std::string_view survivor, std::string_view retired) override {
    outside_load("merge_masters()");
    if (survivor.empty() || retired.empty() || survivor == retired)
      throw std::invalid_argument("merging needs two different master ids");
    return in_transaction([&] {
      MasterMergeResult result;
      const std::int64_t retired_row = recipient_of_master(retired);
      if (retired_row == 0) return result;
      std::int64_t survivor_row = recipient_of_master(survivor);
      if (survivor_row != 0) {
        const Result merged = exec("reading merges",
                                   "SELECT 1 FROM recipients WHERE recipient_id = $1 AND "
                                   "merged_into = $2",
                                   {std::to_string(retired_row), std::to_string(survivor_row)});
        if (PQntuples(merged.get()) > 0) return result;
      }
      if (survivor_row == 0) {
        const std::string columns = column_list(kFirstDemographic, kLastDemographic);
        const Result copy = exec(
            "creating the survivor's recipient",
            "INSERT INTO recipients (org_id, recip_id, demographics_hash, first_load_id, "
            "updated_load_id, mpi_id" + columns + ") SELECT org_id, recip_id, demographics_hash, "
            "first_load_id, updated_load_id, $2" + columns +
                " FROM recipients WHERE recipient_id = $1 RETURNING recipient_id",
            {std::to_string(retired_row), std::string(survivor)});
        survivor_row = to_int(PQgetvalue(copy.get(), 0, 0));
        result.survivor_created = true;
      }
      const std::string survivor_id = std::to_string(survivor_row), retired_id = std::to_string(retired_row);
      const Result merge = exec("recording the merge",
                                "INSERT INTO recipient_merges (survivor_recipient_id, "
                                "retired_recipient_id) VALUES ($1, $2) RETURNING merge_id",
                                {survivor_id, retired_id});
      const std::string merge_id = PQgetvalue(merge.get(), 0, 0);
      const Result moves = exec("recording the merge",
                                "INSERT INTO recipient_merge_moves (merge_id, vaccination_id) "
                                "SELECT $1, vaccination_id FROM vaccinations WHERE recipient_id = $2",
                                {merge_id, retired_id});
      result.vaccinations_moved = to_int(PQcmdTuples(moves.get()));
      exec("moving vaccinations", "UPDATE vaccinations SET recipient_id = $1 WHERE recipient_id = $2",
           {survivor_id, retired_id});
      exec("marking the merge", "UPDATE recipients SET merged_into = $1 WHERE recipient_id = $2",
           {survivor_id, retired_id});
      return result;
    });
  }

  MasterMergeResult unmerge_masters(std::string_view survivor, std::string_view retired) override {
    outside_load("unmerge_masters()");
    return in_transaction([&] {
      MasterMergeResult result;
      const std::int64_t survivor_row = recipient_of_master(survivor);
      const std::int64_t retired_row = recipient_of_master(retired);
      if (survivor_row == 0 || retired_row == 0) return result;
      const std::string survivor_id = std::to_string(survivor_row), retired_id = std::to_string(retired_row);
      const Result found = exec("reading merges",
                                "SELECT max(merge_id) FROM recipient_merges WHERE "
                                "survivor_recipient_id = $1 AND retired_recipient_id = $2 AND "
                                "unmerged_at IS NULL",
                                {survivor_id, retired_id});
      if (PQgetisnull(found.get(), 0, 0)) return result;  // never merged in CVMS
      const std::string merge_id = PQgetvalue(found.get(), 0, 0);
      // Exactly the vaccinations the merge moved go back; doses loaded since stay.
      const Result back = exec("moving vaccinations back",
                               "UPDATE vaccinations SET recipient_id = $1 WHERE recipient_id = $2 "
                               "AND vaccination_id IN (SELECT vaccination_id FROM "
                               "recipient_merge_moves WHERE merge_id = $3)",
                               {retired_id, survivor_id, merge_id});
      result.vaccinations_moved = to_int(PQcmdTuples(back.get()));
      exec("clearing the merge", "UPDATE recipients SET merged_into = NULL WHERE recipient_id = $1",
           {retired_id});
      exec("clearing the merge", "UPDATE recipient_merges SET unmerged_at = cvms_now() WHERE merge_id = $1",
           {merge_id});
      return result;
    });
  }

  // ---- state inventory -------------------------------------------------------------------

  ReceiptResult receive(const Receipt& receipt) override {
    outside_load("receive()");
    check_receipt_fields(receipt);
    return in_transaction([&] { return record_receipt(receipt); });
  }

  std::vector<InventoryRow> inventory(std::string_view pin) override {
    outside_load("inventory()");
    const Result rows = exec("reading inventory",
                             "SELECT i.pin, i.ndc, coalesce(p.name, ''), i.lot_number, "
                             "i.doses_received, i.doses_administered, i.on_hand "
                             "FROM inventory i LEFT JOIN products p ON p.ndc_unit_of_sale = i.ndc "
                             "WHERE $1::text IS NULL OR i.pin = $1 "
                             "ORDER BY i.pin, i.ndc, i.lot_number",
                             {optional_text(pin)});
    std::vector<InventoryRow> result;
    for (int r = 0; r < PQntuples(rows.get()); ++r)
      result.push_back({PQgetvalue(rows.get(), r, 0), PQgetvalue(rows.get(), r, 1),
                        PQgetvalue(rows.get(), r, 2), PQgetvalue(rows.get(), r, 3),
                        to_int(PQgetvalue(rows.get(), r, 4)), to_int(PQgetvalue(rows.get(), r, 5)),
                        to_int(PQgetvalue(rows.get(), r, 6))});
    return result;
  }

  std::vector<Discrepancy> discrepancies(std::string_view pin) override {
    outside_load("discrepancies()");
    const Result rows = exec(
        "reading discrepancies",
        "SELECT d.pin, d.ndc, coalesce(p.name, ''), d.lot_number, coalesce(i.on_hand, 0), "
        "d.load_id, l.run_id, l.input_name, coalesce(l.committed_at, ''), d.doses_short "
        "FROM inventory_discrepancies d JOIN loads l ON l.load_id = d.load_id "
        "LEFT JOIN products p ON p.ndc_unit_of_sale = d.ndc "
        "LEFT JOIN inventory i ON i.pin = d.pin AND i.ndc = d.ndc AND i.lot_number = d.lot_number "
        "WHERE $1::text IS NULL OR d.pin = $1 "
        "ORDER BY d.pin, d.ndc, d.lot_number, d.load_id",
        {optional_text(pin)});
    std::vector<Discrepancy> result;
    for (int r = 0; r < PQntuples(rows.get()); ++r) {
      const auto value = [&](int c) { return std::string(PQgetvalue(rows.get(), r, c)); };
      std::string key_pin = value(0), ndc = value(1), lot = value(3);
      if (result.empty() || result.back().pin != key_pin || result.back().ndc != ndc ||
          result.back().lot_number != lot)
        result.push_back({std::move(key_pin), std::move(ndc), value(2), std::move(lot), 0,
                          to_int(PQgetvalue(rows.get(), r, 4)), {}});
      Discrepancy& key = result.back();
      const std::int64_t short_by = to_int(PQgetvalue(rows.get(), r, 9));
      key.loads.push_back({to_int(PQgetvalue(rows.get(), r, 5)), value(6), value(7), value(8), short_by});
      key.doses_short += short_by;
    }
    return result;
  }

 private:
  // ---- one batch -------------------------------------------------------------------------

  struct Batch {
    explicit Batch(std::span<const BatchRecord> r) : records(r), outcomes(r.size()), kinds(r.size()),
                                                     stored(r.size()), first_in_batch(r.size(), -1) {}
    std::span<const BatchRecord> records;
    std::vector<std::optional<ApplyOutcome>> outcomes;
    std::vector<Kind> kinds;
    std::vector<std::optional<StoredEvent>> stored;
    // For a DuplicateInFile record: the index of the record of this batch that came first, or
    // -1 when an earlier batch had the event.
    std::vector<std::ptrdiff_t> first_in_batch;
    // Records that write (Inserted, Updated, Voided, DEMOGRAPHICS), in order, and A records of
    // a stored event under a master (they note the provider key, as apply() does).
    std::vector<std::size_t> writers, key_only;
    TextMap<RecipientState> recipients;

    // Planned writes.
    std::vector<LocationState*> new_locations;
    std::vector<std::int64_t> history_ids;
    TextArray history_changes;
    std::vector<std::int64_t> voids;
    struct VaxRow {
      std::size_t record;
      std::int64_t org;
      const LocationState* location;  // ids are reserved after planning
      const RecipientState* recipient;
      std::int64_t stored_id;
    };
    std::vector<VaxRow> inserts, updates;
    std::vector<RecipientState*> new_recipients;
    struct Key {
      std::int64_t org;
      std::string recip_id;
      RecipientState* recipient;
    };
    std::vector<Key> keys;
  };

  static std::string event_key(const RecordValues& v) {
    std::string key(v[kOrgCode]);
    key += '\x1f';
    key.append(v[kEventId]);
    return key;
  }

  // Duplicates within the batch first, then one lookup that says for every other event whether
  // this load saw it already (inserted, updated or voided by this load; or refused or unchanged,
  // kept in the session's cvms_seen table, so memory stays bounded whatever the file size) and
  // what the store holds; then each record's outcome by its action.
  void classify_events(Batch& b) {
    TextMap<std::size_t> in_batch;
    TextArray orgs, events;
    std::vector<std::size_t> looked_up;
    std::vector<char> after_unknown(b.records.size(), 0);
    for (std::size_t i = 0; i < b.records.size(); ++i) {
      const RecordValues& v = b.records[i].values;
      if (invalid_reason(v) != nullptr) {
        b.kinds[i] = Kind::Invalid;
        continue;
      }
      if (v[kRecordType] == "DEMOGRAPHICS") {
        b.kinds[i] = Kind::Demographics;
        b.writers.push_back(i);
        continue;
      }
      const std::string_view action = v[kActionCode];
      b.kinds[i] = action == "U" ? Kind::Update : action == "D" ? Kind::Delete : Kind::Add;
      std::string key = event_key(v);
      if (const auto earlier = in_batch.find(key); earlier != in_batch.end()) {
        b.outcomes[i] = ApplyOutcome::DuplicateInFile;
        b.first_in_batch[i] = static_cast<std::ptrdiff_t>(earlier->second);
        ++counts.duplicate;
        continue;
      }
      in_batch.emplace(std::move(key), i);
      orgs.add(v[kOrgCode]);
      events.add(v[kEventId]);
      looked_up.push_back(i);
    }
    std::vector<char> seen(b.records.size(), 0);
    if (!looked_up.empty()) {
      const Result rows = exec(
          "looking up stored events",
          // One index probe per key whatever the table's size: the LIMIT keeps the planner
          // from turning the lateral lookup into a hash join over all of vaccinations.
          "SELECT k.i, v.vaccination_id, v.content_hash, v.status = 'voided', l.pin, v.ndc, "
          "v.lot_number, (v.inventory_source = 'STATE' AND coalesce(v.vax_refusal, '') <> 'YES' "
          "AND v.ndc IS NOT NULL AND v.lot_number IS NOT NULL), o.org_id, "
          "(v.load_id = $3 OR v.changed_load_id IS NOT DISTINCT FROM $3), s.unstored "
          "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(org_code, vax_event_id, i) "
          "LEFT JOIN organizations o ON o.org_code = k.org_code "
          "LEFT JOIN LATERAL (SELECT * FROM vaccinations x WHERE x.org_id = o.org_id AND "
          "x.vax_event_id = k.vax_event_id LIMIT 1) v ON true "
          "LEFT JOIN locations l ON l.location_id = v.location_id "
          "LEFT JOIN LATERAL (SELECT unstored FROM cvms_seen y WHERE y.org_code = k.org_code AND "
          "y.vax_event_id = k.vax_event_id LIMIT 1) s ON true "
          "WHERE v.vaccination_id IS NOT NULL OR s.unstored IS NOT NULL",
          {orgs.literal(), events.literal(), std::to_string(load_id_)});
      for (int r = 0; r < PQntuples(rows.get()); ++r) {
        const auto i = looked_up[static_cast<std::size_t>(to_int(PQgetvalue(rows.get(), r, 0)) - 1)];
        const bool touched = !PQgetisnull(rows.get(), r, 1) && *PQgetvalue(rows.get(), r, 9) == 't';
        if (!PQgetisnull(rows.get(), r, 10) || touched) {
          seen[i] = 1;
          after_unknown[i] = !PQgetisnull(rows.get(), r, 10) && *PQgetvalue(rows.get(), r, 10) == 't';
          continue;
        }
        StoredEvent e;
        e.id = to_int(PQgetvalue(rows.get(), r, 1));
        e.hash = static_cast<std::uint64_t>(to_int(PQgetvalue(rows.get(), r, 2)));
        e.voided = *PQgetvalue(rows.get(), r, 3) == 't';
        e.pin = PQgetvalue(rows.get(), r, 4);
        e.ndc = PQgetvalue(rows.get(), r, 5);
        e.lot = PQgetvalue(rows.get(), r, 6);
        e.took_state_dose = *PQgetvalue(rows.get(), r, 7) == 't';
        e.org = to_int(PQgetvalue(rows.get(), r, 8));
        b.stored[i] = std::move(e);
      }
    }
    // Events this load decides without writing them are remembered in cvms_seen.
    CopyRows remembered;
    for (const std::size_t i : looked_up) {
      const RecordValues& v = b.records[i].values;
      if (seen[i]) {
        b.outcomes[i] = ApplyOutcome::DuplicateInFile;
        ++counts.duplicate;
        continue;
      }
      const auto& stored = b.stored[i];
      const Kind kind = b.kinds[i];
      if (!stored) {
        if (kind == Kind::Add) {
          b.writers.push_back(i);  // Inserted
        } else {
          b.outcomes[i] = ApplyOutcome::UnknownEvent;
          ++counts.unknown_event;
        }
      } else if (kind == Kind::Delete) {
        if (stored->voided) {
          b.outcomes[i] = ApplyOutcome::Unchanged;
          ++counts.unchanged;
        } else {
          b.writers.push_back(i);  // Voided
        }
      } else if (stored->voided) {
        b.outcomes[i] = ApplyOutcome::EventVoided;
        ++counts.event_voided;
      } else if (stored->hash == content_hash(v)) {
        b.outcomes[i] = ApplyOutcome::Unchanged;
        ++counts.unchanged;
      } else if (kind == Kind::Add) {
        b.outcomes[i] = ApplyOutcome::ConflictsWithStored;
        ++counts.conflicting;
      } else {
        b.writers.push_back(i);  // Updated
      }
      if (b.outcomes[i]) {
        remembered.text(v[kOrgCode]);
        remembered.text(v[kEventId]);
        remembered.text(*b.outcomes[i] == ApplyOutcome::UnknownEvent ? "t" : "f");
        remembered.end_row();
      }
    }
    copy_in("remembering events", "COPY cvms_seen (org_code, vax_event_id, unstored) FROM STDIN", remembered);
    std::sort(b.writers.begin(), b.writers.end());
    // An A that writes nothing still notes its provider key under the master, unless an
    // unknown U or D of the same event came first (apply() stops before the recipient then).
    for (std::size_t i = 0; i < b.records.size(); ++i) {
      if (b.first_in_batch[i] >= 0) {
        const auto first = static_cast<std::size_t>(b.first_in_batch[i]);
        after_unknown[i] = after_unknown[first] || b.outcomes[first] == ApplyOutcome::UnknownEvent;
      }
      if (b.kinds[i] != Kind::Add || b.records[i].mpi_id.empty() || !b.outcomes[i]) continue;
      if (!after_unknown[i]) b.key_only.push_back(i);
    }
  }

  // Organizations of the records that write, found or inserted in one statement.
  void resolve_organizations(const Batch& b) {
    TextArray missing;
    std::unordered_set<std::string_view> asked;
    const auto ask = [&](std::size_t i) {
      const std::string_view code = b.records[i].values[kOrgCode];
      if (b.stored[i] || orgs_.contains(code) || !asked.insert(code).second) return;
      missing.add(code);
    };
    for (const std::size_t i : b.writers)
      if (b.kinds[i] == Kind::Demographics || b.kinds[i] == Kind::Add) ask(i);
    for (const std::size_t i : b.key_only) ask(i);
    if (missing.empty()) return;
    const Result rows = exec(
        "recording organizations",
        "WITH added AS (INSERT INTO organizations (org_code, first_load_id) SELECT code, $2 FROM "
        "unnest($1::text[]) AS code ON CONFLICT (org_code) DO NOTHING RETURNING org_id, org_code) "
        "SELECT org_id, org_code FROM added UNION ALL "
        "SELECT org_id, org_code FROM organizations WHERE org_code = ANY($1::text[])",
        {missing.literal(), std::to_string(load_id_)});
    for (int r = 0; r < PQntuples(rows.get()); ++r)
      orgs_[PQgetvalue(rows.get(), r, 1)] = to_int(PQgetvalue(rows.get(), r, 0));
  }

  std::int64_t org_of(const Batch& b, std::size_t i) const {
    if (b.stored[i]) return b.stored[i]->org;
    const auto it = orgs_.find(b.records[i].values[kOrgCode]);
    if (it == orgs_.end()) throw StoreError("CVMS store: an organization vanished during a load");
    return it->second;
  }

  void resolve_locations(const Batch& b) {
    TextArray missing;
    std::unordered_set<std::string_view> asked;
    for (const std::size_t i : b.writers) {
      if (b.kinds[i] == Kind::Demographics || b.kinds[i] == Kind::Delete) continue;
      const std::string_view pin = b.records[i].values[kPin];
      if (locations_.contains(pin) || !asked.insert(pin).second) continue;
      missing.add(pin);
    }
    if (missing.empty()) return;
    const Result rows = exec("looking up locations",
                             "SELECT location_id, pin, coalesce(name, ''), org_id FROM locations "
                             "WHERE pin = ANY($1::text[])",
                             {missing.literal()});
    for (int r = 0; r < PQntuples(rows.get()); ++r)
      locations_[PQgetvalue(rows.get(), r, 1)] = {to_int(PQgetvalue(rows.get(), r, 0)),
                                                  PQgetvalue(rows.get(), r, 2),
                                                  to_int(PQgetvalue(rows.get(), r, 3)), false, false};
  }

  static std::string recipient_key(std::int64_t org, std::string_view recip_id, std::string_view mpi_id) {
    if (!mpi_id.empty()) return "M" + std::string(mpi_id);
    std::string key = "O" + std::to_string(org);
    key += '\x1f';
    key.append(recip_id);
    return key;
  }

  // The stored recipients the batch's writing records name, in one statement.
  void resolve_recipients(Batch& b) {
    std::vector<std::int64_t> orgs;
    TextArray recip_ids, masters;
    std::unordered_set<std::string> asked;
    const auto ask = [&](std::size_t i) {
      const BatchRecord& r = b.records[i];
      const std::int64_t org = org_of(b, i);
      if (!asked.insert(recipient_key(org, r.values[kRecipId], r.mpi_id)).second) return;
      if (r.mpi_id.empty()) {
        orgs.push_back(org);
        recip_ids.add(r.values[kRecipId]);
      } else {
        masters.add(r.mpi_id);
      }
    };
    for (const std::size_t i : b.writers)
      if (b.kinds[i] != Kind::Delete) ask(i);
    for (const std::size_t i : b.key_only) ask(i);
    if (asked.empty()) return;
    const Result rows = exec(
        "looking up recipients",
        // Index probes per key, as for the events (the LIMIT keeps them probes).
        "SELECT r.recipient_id, r.demographics_hash, r.org_id, r.recip_id, '' FROM "
        "unnest($1::bigint[], $2::text[]) AS k(org_id, recip_id) CROSS JOIN LATERAL (SELECT * "
        "FROM recipients s WHERE s.org_id = k.org_id AND s.recip_id = k.recip_id AND s.mpi_id "
        "IS NULL LIMIT 1) r "
        "UNION ALL SELECT r.recipient_id, r.demographics_hash, r.org_id, r.recip_id, r.mpi_id "
        "FROM unnest($3::text[]) AS k(mpi_id) CROSS JOIN LATERAL (SELECT * FROM recipients s "
        "WHERE s.mpi_id = k.mpi_id LIMIT 1) r",
        {int_array(orgs), recip_ids.literal(), masters.literal()});
    for (int r = 0; r < PQntuples(rows.get()); ++r) {
      RecipientState state;
      state.id = to_int(PQgetvalue(rows.get(), r, 0));
      state.hash = static_cast<std::uint64_t>(to_int(PQgetvalue(rows.get(), r, 1)));
      state.org = to_int(PQgetvalue(rows.get(), r, 2));
      state.recip_id = PQgetvalue(rows.get(), r, 3);
      state.mpi_id = PQgetvalue(rows.get(), r, 4);
      b.recipients.emplace(recipient_key(state.org, state.recip_id, state.mpi_id), std::move(state));
    }
  }

  // The record's location: created when absent, updated when its name or organization differ.
  LocationState& location_for(Batch& b, const RecordValues& v, std::int64_t org) {
    auto it = locations_.find(v[kPin]);
    if (it == locations_.end()) {
      it = locations_.emplace(std::string(v[kPin]), LocationState{0, std::string(v[kAdminName]), org, true, false}).first;
      b.new_locations.push_back(&it->second);
      return it->second;
    }
    LocationState& l = it->second;
    if (l.name != v[kAdminName] || l.org != org) {
      l.name.assign(v[kAdminName]);
      l.org = org;
      if (!l.is_new) l.dirty = true;
    }
    return l;
  }

  // The record's recipient: created when absent; when its demographics differ, the record's
  // non-null values replace the stored ones (a null keeps what is stored).
  RecipientState& recipient_for(Batch& b, const BatchRecord& r, std::int64_t org, bool& created,
                                bool& changed) {
    const RecordValues& v = r.values;
    const std::uint64_t hash = demographics_hash(v);
    auto [it, inserted] = b.recipients.try_emplace(recipient_key(org, v[kRecipId], r.mpi_id));
    RecipientState& state = it->second;
    created = inserted;
    changed = false;
    if (inserted) {
      state.is_new = true;
      state.hash = hash;
      state.org = org;
      state.recip_id.assign(v[kRecipId]);
      state.mpi_id.assign(r.mpi_id);
      for (std::size_t c = 0; c < kDemographicCount; ++c) state.values[c].assign(v[kFirstDemographic + c]);
      b.new_recipients.push_back(&state);
    } else if (state.hash != hash) {
      for (std::size_t c = 0; c < kDemographicCount; ++c)
        if (!v[kFirstDemographic + c].empty()) state.values[c].assign(v[kFirstDemographic + c]);
      state.hash = hash;
      if (!state.is_new) state.dirty = true;
      changed = true;
    }
    if (!r.mpi_id.empty()) b.keys.push_back({org, std::string(v[kRecipId]), &state});
    return state;
  }

  void count_doses(std::string_view pin, std::string_view ndc, std::string_view lot, std::int64_t doses) {
    std::string key(pin);
    key += '\x1f';
    key.append(ndc);
    key += '\x1f';
    key.append(lot);
    pending_doses_[key] += doses;
  }

  // In record order, exactly as apply() decides them one by one.
  void plan_writes(Batch& b) {
    std::size_t next_key_only = 0;
    const auto note_keys_before = [&](std::size_t limit) {
      for (; next_key_only < b.key_only.size() && b.key_only[next_key_only] < limit; ++next_key_only) {
        const std::size_t i = b.key_only[next_key_only];
        const BatchRecord& r = b.records[i];
        const auto it = b.recipients.find(recipient_key(0, {}, r.mpi_id));
        if (it != b.recipients.end()) b.keys.push_back({org_of(b, i), std::string(r.values[kRecipId]), &it->second});
      }
    };
    for (const std::size_t i : b.writers) {
      note_keys_before(i);
      const BatchRecord& r = b.records[i];
      const RecordValues& v = r.values;
      bool created = false, changed = false;
      switch (b.kinds[i]) {
        case Kind::Demographics: {
          recipient_for(b, r, org_of(b, i), created, changed);
          ++counts.demographics;
          if (created || changed) {
            b.outcomes[i] = ApplyOutcome::Inserted;
          } else {
            b.outcomes[i] = ApplyOutcome::Unchanged;
            ++counts.unchanged;
          }
          break;
        }
        case Kind::Add:
        case Kind::Update: {
          const std::int64_t org = org_of(b, i);
          LocationState& location = location_for(b, v, org);
          RecipientState& recipient = recipient_for(b, r, org, created, changed);
          if (b.kinds[i] == Kind::Add) {
            b.inserts.push_back({i, org, &location, &recipient, 0});
            if (takes_state_dose(v)) {
              count_doses(v[kPin], v[kNdc], v[kLot], 1);
              ++counts.state_doses;
            }
            b.outcomes[i] = ApplyOutcome::Inserted;
            ++counts.inserted;
          } else {
            const StoredEvent& stored = *b.stored[i];
            b.history_ids.push_back(stored.id);
            b.history_changes.add("updated");
            b.updates.push_back({i, org, &location, &recipient, stored.id});
            if (stored.took_state_dose) count_doses(stored.pin, stored.ndc, stored.lot, -1);
            if (takes_state_dose(v)) count_doses(v[kPin], v[kNdc], v[kLot], 1);
            b.outcomes[i] = ApplyOutcome::Updated;
            ++counts.updated;
          }
          break;
        }
        case Kind::Delete: {
          const StoredEvent& stored = *b.stored[i];
          b.history_ids.push_back(stored.id);
          b.history_changes.add("voided");
          b.voids.push_back(stored.id);
          if (stored.took_state_dose) count_doses(stored.pin, stored.ndc, stored.lot, -1);
          b.outcomes[i] = ApplyOutcome::Voided;
          ++counts.voided;
          break;
        }
        case Kind::Invalid:
          break;
      }
    }
    note_keys_before(b.records.size());
  }

  std::vector<std::int64_t> reserve_ids(const char* sequence, std::size_t n) {
    std::vector<std::int64_t> ids;
    if (n == 0) return ids;
    const Result rows = exec("reserving ids",
                             std::string("SELECT nextval('") + sequence + "') FROM generate_series(1, $1)",
                             {std::to_string(n)});
    for (int r = 0; r < PQntuples(rows.get()); ++r) ids.push_back(to_int(PQgetvalue(rows.get(), r, 0)));
    if (ids.size() != n) throw StoreError("CVMS store: reserving ids returned too few rows");
    return ids;
  }

  void write(Batch& b) {
    const std::string load = std::to_string(load_id_);
    const auto location_ids = reserve_ids("locations_location_id_seq", b.new_locations.size());
    for (std::size_t k = 0; k < b.new_locations.size(); ++k) b.new_locations[k]->id = location_ids[k];
    const auto recipient_ids = reserve_ids("recipients_recipient_id_seq", b.new_recipients.size());
    for (std::size_t k = 0; k < b.new_recipients.size(); ++k) b.new_recipients[k]->id = recipient_ids[k];

    // History first: it keeps the versions the updates and voids below replace.
    if (!b.history_ids.empty())
      exec("recording history",
           "INSERT INTO vaccination_history (vaccination_id, change, load_id, version_load_id, "
           "location_id, recipient_id, content_hash, reported_to_cdc" + vaccination_columns() +
               ") SELECT v.vaccination_id, c.change, $3, coalesce(v.changed_load_id, v.load_id), "
               "v.location_id, v.recipient_id, v.content_hash, v.reported_to_cdc" +
               vaccination_columns("v.") +
               " FROM unnest($1::bigint[], $2::text[]) AS c(id, change) JOIN vaccinations v ON "
               "v.vaccination_id = c.id",
           {int_array(b.history_ids), b.history_changes.literal(), load});

    // Locations: new rows, then changed names or organizations.
    CopyRows rows;
    std::vector<std::int64_t> changed_ids, changed_orgs;
    TextArray changed_names;
    for (auto& [pin, l] : locations_) {
      if (l.is_new) {
        rows.integer(l.id);
        rows.text(pin);
        rows.text(l.name);
        rows.integer(l.org);
        rows.integer(load_id_);
        rows.integer(load_id_);
        rows.end_row();
      } else if (l.dirty) {
        changed_ids.push_back(l.id);
        changed_names.add(l.name);
        changed_orgs.push_back(l.org);
      }
      l.is_new = l.dirty = false;
    }
    copy_in("writing locations",
            "COPY locations (location_id, pin, name, org_id, first_load_id, updated_load_id) FROM STDIN", rows);
    if (!changed_ids.empty())
      exec("updating locations",
           "UPDATE locations l SET name = c.name, org_id = c.org_id, updated_load_id = $4 FROM "
           "unnest($1::bigint[], $2::text[], $3::bigint[]) AS c(id, name, org_id) "
           "WHERE l.location_id = c.id",
           {int_array(changed_ids), changed_names.literal(), int_array(changed_orgs), load});

    // Recipients: new rows, then changed demographics (a null keeps the stored value).
    const std::string demographics = column_list(kFirstDemographic, kLastDemographic);
    rows.clear();
    for (const RecipientState* r : b.new_recipients) {
      rows.integer(r->id);
      rows.integer(r->org);
      rows.text(r->recip_id);
      rows.integer(static_cast<std::int64_t>(r->hash));
      rows.text(r->mpi_id);
      rows.integer(load_id_);
      rows.integer(load_id_);
      for (const std::string& value : r->values) rows.text(value);
      rows.end_row();
    }
    copy_in("writing recipients",
            "COPY recipients (recipient_id, org_id, recip_id, demographics_hash, mpi_id, "
            "first_load_id, updated_load_id" + demographics + ") FROM STDIN",
            rows);
    rows.clear();
    for (const auto& [key, r] : b.recipients) {
      if (!r.dirty) continue;
      rows.integer(r.id);
      rows.integer(static_cast<std::int64_t>(r.hash));
      for (const std::string& value : r.values) rows.text(value);
      rows.end_row();
    }
    if (rows.rows() > 0) {
      std::string sets;
      for (std::size_t c = kFirstDemographic; c <= kLastDemographic; ++c) {
        const std::string column(canonical::kColumns[c]);
        sets += ", " + column + " = coalesce(c." + column + ", r." + column + ")";
      }
      exec("staging recipients", "TRUNCATE cvms_recipient_changes");
      copy_in("staging recipients",
              "COPY cvms_recipient_changes (recipient_id, demographics_hash" + demographics + ") FROM STDIN",
              rows);
      exec("updating recipients",
           "UPDATE recipients r SET demographics_hash = c.demographics_hash, updated_load_id = $1" +
               sets + " FROM cvms_recipient_changes c WHERE r.recipient_id = c.recipient_id",
           {load});
    }

    // Provider keys under masters.
    if (!b.keys.empty()) {
      std::vector<std::int64_t> key_orgs, key_recipients;
      TextArray key_ids;
      for (const auto& k : b.keys) {
        key_orgs.push_back(k.org);
        key_ids.add(k.recip_id);
        key_recipients.push_back(k.recipient->id);
      }
      exec("recording recipient keys",
           "INSERT INTO recipient_keys (org_id, recip_id, recipient_id, first_load_id) "
           "SELECT DISTINCT k.org_id, k.recip_id, k.recipient_id, $4::bigint FROM "
           "unnest($1::bigint[], $2::text[], $3::bigint[]) AS k(org_id, recip_id, recipient_id) "
           "ON CONFLICT DO NOTHING",
           {int_array(key_orgs), key_ids.literal(), int_array(key_recipients), load});
    }

    // Vaccinations: new rows, then replaced versions, then voids.
    rows.clear();
    for (const auto& row : b.inserts) {
      const RecordValues& v = b.records[row.record].values;
      rows.integer(row.org);
      rows.text(v[kEventId]);
      rows.integer(row.location->id);
      rows.integer(row.recipient->id);
      rows.integer(static_cast<std::int64_t>(content_hash(v)));
      rows.integer(v[kInventorySource] == "FEDERAL" ? 1 : 0);
      rows.integer(load_id_);
      for (const std::size_t c : kVaccinationColumns) rows.text(v[c]);
      rows.end_row();
    }
    copy_in("writing vaccinations",
            "COPY vaccinations (org_id, vax_event_id, location_id, recipient_id, content_hash, "
            "reported_to_cdc, load_id" + vaccination_columns() + ") FROM STDIN",
            rows);
    if (!b.updates.empty()) {
      rows.clear();
      for (const auto& row : b.updates) {
        const RecordValues& v = b.records[row.record].values;
        rows.integer(row.stored_id);
        rows.integer(row.location->id);
        rows.integer(row.recipient->id);
        rows.integer(static_cast<std::int64_t>(content_hash(v)));
        rows.integer(v[kInventorySource] == "FEDERAL" ? 1 : 0);
        for (const std::size_t c : kVaccinationColumns) rows.text(v[c]);
        rows.end_row();
      }
      std::string sets;
      for (const std::size_t c : kVaccinationColumns) {
        const std::string column(canonical::kColumns[c]);
        sets += ", " + column + " = c." + column;
      }
      exec("staging vaccinations", "TRUNCATE cvms_vaccination_changes");
      copy_in("staging vaccinations",
              "COPY cvms_vaccination_changes (vaccination_id, location_id, recipient_id, "
              "content_hash, reported_to_cdc" + vaccination_columns() + ") FROM STDIN",
              rows);
      // Once reported to the CDC, always (a FEDERAL dose corrected to STATE).
      exec("updating vaccinations",
           "UPDATE vaccinations v SET location_id = c.location_id, recipient_id = c.recipient_id, "
           "content_hash = c.content_hash, reported_to_cdc = greatest(v.reported_to_cdc, "
           "c.reported_to_cdc), changed_load_id = $1" + sets +
               " FROM cvms_vaccination_changes c WHERE v.vaccination_id = c.vaccination_id",
           {load});
    }
    if (!b.voids.empty())
      exec("voiding vaccinations",
           "UPDATE vaccinations SET status = 'voided', changed_load_id = $2 "
           "WHERE vaccination_id = ANY($1::bigint[])",
           {int_array(b.voids), load});
  }

  // Writes the load's inventory changes with one COPY and one upsert; a key that took more than
  // it had on hand before the load records the shortfall as a discrepancy (as the SQLite store
  // does), computed here from the on_hand the upsert returns.
  void flush_inventory() {
    CopyRows rows;
    for (const auto& [key, doses] : pending_doses_) {
      if (doses == 0) continue;
      const std::string_view k = key;
      const std::size_t a = k.find('\x1f');
      const std::size_t c = k.find('\x1f', a + 1);
      rows.text(k.substr(0, a));
      rows.text(k.substr(a + 1, c - a - 1));
      rows.text(k.substr(c + 1));
      rows.integer(doses);
      rows.end_row();
    }
    if (rows.rows() == 0) {
      pending_doses_.clear();
      return;
    }
    exec("staging inventory", "TRUNCATE cvms_inventory_deltas");
    copy_in("staging inventory", "COPY cvms_inventory_deltas (pin, ndc, lot_number, doses) FROM STDIN", rows);
    const Result after = exec("writing inventory",
                              "INSERT INTO inventory AS i (pin, ndc, lot_number, doses_administered) "
                              "SELECT pin, ndc, lot_number, doses FROM cvms_inventory_deltas "
                              "ON CONFLICT (pin, ndc, lot_number) DO UPDATE SET doses_administered = "
                              "i.doses_administered + excluded.doses_administered "
                              "RETURNING pin, ndc, lot_number, on_hand");
    rows.clear();
    std::string key;
    for (int r = 0; r < PQntuples(after.get()); ++r) {
      key.assign(PQgetvalue(after.get(), r, 0));
      key += '\x1f';
      key.append(PQgetvalue(after.get(), r, 1));
      key += '\x1f';
      key.append(PQgetvalue(after.get(), r, 2));
      const auto taken = pending_doses_.find(key);
      if (taken == pending_doses_.end() || taken->second <= 0) continue;
      const std::int64_t doses = taken->second;
      const std::int64_t on_hand_before = to_int(PQgetvalue(after.get(), r, 3)) + doses;
      const std::int64_t short_by = doses - std::clamp<std::int64_t>(on_hand_before, 0, doses);
      if (short_by <= 0) continue;
      rows.integer(load_id_);
      rows.text(PQgetvalue(after.get(), r, 0));
      rows.text(PQgetvalue(after.get(), r, 1));
      rows.text(PQgetvalue(after.get(), r, 2));
      rows.integer(short_by);
      rows.end_row();
    }
    pending_doses_.clear();
    copy_in("recording discrepancies",
            "COPY inventory_discrepancies (load_id, pin, ndc, lot_number, doses_short) FROM STDIN", rows);
  }

  void clear_load_state() noexcept {
    orgs_.clear();
    locations_.clear();
    pending_doses_.clear();
    load_id_ = 0;
  }

  // ---- opening -----------------------------------------------------------------------------

  void check_migrations(const std::filesystem::path& directory) {
    db::MigrationStatus status;
    try {
      status = db::migration_status(*session_, db::Backend::PostgreSQL, "cvms_sink", directory);
    } catch (const std::exception& e) {
      throw StoreError(std::string("CVMS store: ") + e.what());
    }
    if (!status.pending.empty())
      throw StoreError("CVMS store: the PostgreSQL database " + display_ + " is at cvms_sink schema " +
                       std::to_string(status.applied) + " of " + std::to_string(status.latest) +
                       " (" + std::to_string(status.pending.size()) +
                       " pending migrations); run `vaxetl db migrate PIPELINE` first");
  }

  // Session-private staging tables for set-based updates (never written to the database).
  void create_staging_tables() {
    exec("creating staging tables",
         "CREATE TEMP TABLE IF NOT EXISTS cvms_recipient_changes AS SELECT recipient_id, "
         "demographics_hash" + column_list(kFirstDemographic, kLastDemographic) +
             " FROM recipients WITH NO DATA");
    exec("creating staging tables",
         "CREATE TEMP TABLE IF NOT EXISTS cvms_vaccination_changes AS SELECT vaccination_id, "
         "location_id, recipient_id, content_hash, reported_to_cdc" + vaccination_columns() +
             " FROM vaccinations WITH NO DATA");
    // Events a load saw without writing them (unchanged, conflicting, refused): a second copy
    // in the same file is a duplicate. Rows vanish when the load's transaction ends.
    exec("creating staging tables",
         "CREATE TEMP TABLE IF NOT EXISTS cvms_seen (org_code text NOT NULL, vax_event_id text "
         "NOT NULL, unstored boolean NOT NULL, PRIMARY KEY (org_code, vax_event_id)) "
         "ON COMMIT DELETE ROWS");
    exec("creating staging tables",
         "CREATE TEMP TABLE IF NOT EXISTS cvms_inventory_deltas (pin text NOT NULL, ndc text NOT "
         "NULL, lot_number text NOT NULL, doses bigint NOT NULL)");
  }

  void load_products(const std::string& path) {
    const std::vector<CatalogProduct> products = read_product_catalog(path);
    const Result stored = exec("reading products",
                               "SELECT ndc_unit_of_sale, ndc_unit_of_use, cvx, mvx, name, "
                               "doses_per_vial, coalesce(note, '') FROM products");
    std::unordered_map<std::string, std::string> rows;
    const auto describe = [](auto&& field) {
      std::string text;
      for (int c = 1; c < 7; ++c) text.append(field(c)).push_back('\x1f');
      return text;
    };
    for (int r = 0; r < PQntuples(stored.get()); ++r)
      rows[PQgetvalue(stored.get(), r, 0)] =
          describe([&](int c) { return std::string(PQgetvalue(stored.get(), r, c)); });
    const auto matches = [&](const CatalogProduct& p) {
      const auto it = rows.find(p.sale);
      const std::string fields[] = {p.use, p.cvx, p.mvx, p.name, std::to_string(p.doses), p.note};
      return it != rows.end() && it->second == describe([&](int c) { return fields[c - 1]; });
    };
    if (std::all_of(products.begin(), products.end(), matches)) return;
    exec("refreshing products", "BEGIN");
    try {
      for (const CatalogProduct& p : products)
        exec("refreshing products",
             "INSERT INTO products (ndc_unit_of_sale, ndc_unit_of_use, cvx, mvx, name, "
             "doses_per_vial, note) VALUES ($1, $2, $3, $4, $5, $6, nullif($7, '')) "
             "ON CONFLICT (ndc_unit_of_sale) DO UPDATE SET ndc_unit_of_use = "
             "excluded.ndc_unit_of_use, cvx = excluded.cvx, mvx = excluded.mvx, name = "
             "excluded.name, doses_per_vial = excluded.doses_per_vial, note = excluded.note",
             {p.sale, p.use, p.cvx, p.mvx, p.name, std::to_string(p.doses), p.note});
      exec("refreshing products", "COMMIT");
    } catch (...) {
      Result ignored(PQexec(conn_, "ROLLBACK"));
      throw;
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  void outside_load(const char* what) const {
    if (in_load) throw std::logic_error(std::string("CVMS store: ") + what + " during a load");
  }

  static std::optional<std::string> optional_text(std::string_view text) {
    if (text.empty()) return std::nullopt;
    return std::string(text);
  }

  // Waits up to busy_timeout_ms for the writer lock, then StoreBusy.
  void take_writer_lock() {
    exec("waiting for the writer lock",
         "SET LOCAL lock_timeout = " + std::to_string(std::max(busy_timeout_ms_, 1)));
    exec("waiting for the writer lock", kWriterLock);
    exec("waiting for the writer lock", "SET LOCAL lock_timeout = 0");
  }

  template <class Body>
  std::invoke_result_t<Body&> in_transaction(Body body) {
    exec("starting a transaction", "BEGIN");
    try {
      take_writer_lock();
      auto result = body();
      exec("committing", "COMMIT");
      return result;
    } catch (...) {
      Result ignored(PQexec(conn_, "ROLLBACK"));
      throw;
    }
  }

  std::int64_t recipient_of_master(std::string_view mpi_id) {
    const Result row = exec("reading recipients", "SELECT recipient_id FROM recipients WHERE mpi_id = $1",
                            {std::string(mpi_id)});
    return PQntuples(row.get()) > 0 ? to_int(PQgetvalue(row.get(), 0, 0)) : 0;
  }

  ReceiptResult record_receipt(const Receipt& receipt) {
    ReceiptResult result;
    const Result product = exec("reading products",
                                "SELECT name, doses_per_vial FROM products WHERE ndc_unit_of_sale = $1",
                                {receipt.ndc});
    if (PQntuples(product.get()) == 0) refuse_ndc(receipt.ndc);
    result.product = PQgetvalue(product.get(), 0, 0);
    const std::int64_t doses_per_vial = to_int(PQgetvalue(product.get(), 0, 1));
    if (!receipt.reference.empty()) {
      const Result earlier = exec("reading receipts",
                                  "SELECT receipt_id, received_at FROM inventory_receipts "
                                  "WHERE reference = $1",
                                  {receipt.reference});
      if (PQntuples(earlier.get()) > 0)
        throw ReceiptRefused(std::string("shipment reference ")
                                 .append(receipt.reference)
                                 .append(" was already received (receipt ")
                                 .append(PQgetvalue(earlier.get(), 0, 0))
                                 .append(" at ")
                                 .append(PQgetvalue(earlier.get(), 0, 1))
                                 .append("); each shipment is received once"));
    }
    result.doses = receipt.vials * doses_per_vial;
    const Result inserted = exec("recording the receipt",
                                 "INSERT INTO inventory_receipts (pin, ndc, lot_number, vials, "
                                 "doses_per_vial, doses, reference) VALUES ($1, $2, $3, $4, $5, "
                                 "$6, $7) RETURNING receipt_id",
                                 {receipt.pin, receipt.ndc, receipt.lot_number,
                                  std::to_string(receipt.vials), std::to_string(doses_per_vial),
                                  std::to_string(result.doses), optional_text(receipt.reference)});
    result.receipt_id = to_int(PQgetvalue(inserted.get(), 0, 0));
    const Result added = exec("recording the receipt",
                              "INSERT INTO inventory AS i (pin, ndc, lot_number, doses_received) "
                              "VALUES ($1, $2, $3, $4) ON CONFLICT (pin, ndc, lot_number) DO UPDATE "
                              "SET doses_received = i.doses_received + excluded.doses_received "
                              "RETURNING on_hand",
                              {receipt.pin, receipt.ndc, receipt.lot_number, std::to_string(result.doses)});
    result.on_hand = to_int(PQgetvalue(added.get(), 0, 0));
    return result;
  }

  [[noreturn]] void refuse_ndc(const std::string& ndc) {
    const Result sale = exec("reading products",
                             "SELECT ndc_unit_of_sale FROM products WHERE ndc_unit_of_use = $1 "
                             "ORDER BY ndc_unit_of_sale",
                             {ndc});
    std::string suggestions;
    for (int r = 0; r < PQntuples(sale.get()); ++r) {
      if (!suggestions.empty()) suggestions += " or ";
      suggestions += PQgetvalue(sale.get(), r, 0);
    }
    refuse_receipt_ndc(ndc, suggestions);
  }

  // The server's message without values: data errors (class 22) quote the offending value, so
  // only their SQLSTATE is kept. Lock and serialization failures are StoreBusy.
  [[noreturn]] void fail(std::string_view what, const PGresult* result) const {
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state != nullptr ? state : "";
    std::string message = "CVMS store (" + display_ + "): " + std::string(what) + ": ";
    if (sqlstate.starts_with("22")) {
      message += "invalid data";
    } else {
      const char* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
      std::string text = primary != nullptr ? primary : PQerrorMessage(conn_);
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      message += text;
    }
    if (!sqlstate.empty()) message += " (SQLSTATE " + sqlstate + ")";
    if (sqlstate == "55P03" || sqlstate == "40P01" || sqlstate == "40001") throw StoreBusy(message);
    throw StoreError(message);
  }

  Result exec(std::string_view what, const std::string& sql, const Params& params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    Result result(params.empty() ? PQexec(conn_, sql.c_str())
                                 : PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                                                nullptr, values.data(), nullptr, nullptr, 0));
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(what, result.get());
    return result;
  }

  void copy_in(std::string_view what, const std::string& sql, const CopyRows& rows) {
    if (rows.rows() == 0) return;
    {
      const Result start(PQexec(conn_, sql.c_str()));
      if (PQresultStatus(start.get()) != PGRES_COPY_IN) fail(what, start.get());
    }
    const std::string& data = rows.data();
    constexpr std::size_t kChunk = 1 << 20;
    bool sent = true;
    for (std::size_t at = 0; sent && at < data.size(); at += kChunk)
      sent = PQputCopyData(conn_, data.data() + at, static_cast<int>(std::min(kChunk, data.size() - at))) == 1;
    if (PQputCopyEnd(conn_, sent ? nullptr : "client failed to send the rows") != 1) sent = false;
    Result end(PQgetResult(conn_));
    const bool ok = sent && PQresultStatus(end.get()) == PGRES_COMMAND_OK;
    Result failure = ok ? Result() : std::move(end);
    while (Result more{PQgetResult(conn_)}) {
    }
    if (!ok) fail(what, failure.get());
  }

  std::unique_ptr<Poco::Data::Session> session_;
  PGconn* conn_ = nullptr;  // owned by the session
  std::string display_;
  int busy_timeout_ms_ = 30'000;
  bool validate_only_ = false;
  std::int64_t load_id_ = 0;
  // Per load, cleared at begin, commit and rollback (a rolled-back load's ids are gone).
  TextMap<std::int64_t> orgs_;             // org_code -> org_id
  TextMap<LocationState> locations_;       // pin -> row (a state has tens to thousands)
  TextMap<std::int64_t> pending_doses_;    // pin \x1f ndc \x1f lot -> doses taken (- given back)
};

}  // namespace

std::unique_ptr<StoreBackend> open_postgres_store(const StoreOptions& options) {
  return std::make_unique<PgStore>(options);
}

}  // namespace vaxetl::cvms::detail
