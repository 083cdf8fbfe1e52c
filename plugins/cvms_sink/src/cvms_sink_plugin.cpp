// The CVMS sink plugin: loads canonical records into the CVMS store (SQLite or PostgreSQL), one
// transaction per input file, a batch at a time, applying each record's action code (A add, U update, D void). It tells the
// host what it did with every live row (added, updated, voided, unchanged; ABI 1.1) and
// rejects, with a reason, the records the store cannot take: an A conflicting with what is
// stored, a U or D for an unknown event, a change to a voided event, a repeat in the file.
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cvms_store.hpp"
#include "db/database.hpp"
#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/plugin.hpp"

namespace {

using vaxetl::sdk::Error;

const vaxetl_config_field kConfigFields[] = {
    {"database", VAXETL_CONFIG_STORE, VAXETL_CONFIG_REQUIRED, nullptr, nullptr,
     "the CVMS store: a SQLite database file (created when absent) or a PostgreSQL URL "
     "(postgresql://...; its schema comes from `vaxetl db migrate`)"},
    {"products", VAXETL_CONFIG_PATH, 0, "products.tsv", nullptr,
     "the COVID-19 product catalog (relative: the plugin's data directory)"},
    {"schema", VAXETL_CONFIG_PATH, 0, "schema.sql", nullptr,
     "the store schema (relative: the plugin's data directory)"},
    {"cache_mib", VAXETL_CONFIG_INT, 0, "64", nullptr,
     "SQLite page cache in MiB; bounds the sink's memory whatever the file size"},
    {"busy_timeout_ms", VAXETL_CONFIG_INT, 0, "30000", nullptr,
     "how long to wait for another process's load to finish before giving up"},
};

const std::vector<vaxetl_column>& consumed_columns() {
  static const std::vector<vaxetl_column> columns = [] {
    std::vector<vaxetl_column> result;
    for (const auto& name : vaxetl::canonical::kColumns)
      result.push_back({name.data(), "u", VAXETL_COLUMN_REQUIRED, "canonical record column"});
    // Optional: with the MPI stage before it, CVMS keeps one recipient per master.
    result.push_back({"mpi_id", "u", 0, "master patient id from the mpi transform"});
    return result;
  }();
  return columns;
}

const vaxetl::sdk::PluginInfo kInfo = {
    VAXETL_PLUGIN_NAME,
    VAXETL_PLUGIN_VERSION,
    "Loads canonical vaccination records into the CVMS store (organizations, locations, "
    "recipients, vaccinations, state inventory), one transaction per input file",
    "Apache-2.0",
    "vaxetl",
    kConfigFields,
    VAXETL_ARRAY_COUNT(kConfigFields),
    consumed_columns().data(),
    static_cast<uint32_t>(consumed_columns().size()),
    nullptr,
    0,
};

constexpr std::size_t kEventIdColumn = vaxetl::cvms::column_index("vax_event_id");
constexpr std::size_t kActionCodeColumn = vaxetl::cvms::column_index("action_code");

class CvmsSink final : public vaxetl::sdk::Sink {
 public:
  explicit CvmsSink(const vaxetl::sdk::CreateContext& context) : host_(context.host) {
    vaxetl::cvms::StoreOptions options;
    options.database = context.config.get_string("database");
    options.products_path = context.data_path(context.config.get_string("products"));
    options.schema_path = context.data_path(context.config.get_string("schema"));
    options.cache_kib = static_cast<std::size_t>(context.config.get_int("cache_mib")) * 1024;
    options.busy_timeout_ms = static_cast<int>(context.config.get_int("busy_timeout_ms"));
    vaxetl::db::Location location;
    try {
      location = vaxetl::db::Location::parse(options.database);
    } catch (const std::invalid_argument& e) {
      throw Error(VAXETL_IO_ERROR, std::string("cannot open the CVMS store: ") + e.what());
    }
    if (!location.is_postgres()) {  // a SQLite store is created where it is named
      const auto parent = std::filesystem::path(location.target).parent_path();
      std::error_code ec;
      if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    }
    try {
      store_ = std::make_unique<vaxetl::cvms::CvmsStore>(options);
    } catch (const vaxetl::cvms::StoreError& e) {
      throw Error(VAXETL_IO_ERROR, std::string("cannot open the CVMS store: ") + e.what());
    }
  }

  void begin(const vaxetl::sdk::RunInfo& run, const ArrowSchema& schema) override {
    const vaxetl::sdk::SchemaIndex index(schema);
    for (std::size_t i = 0; i < vaxetl::canonical::kColumns.size(); ++i)
      columns_[i] = index.column(vaxetl::canonical::kColumns[i]);
    mpi_column_ = index.has("mpi_id") ? std::optional<std::size_t>(index.column("mpi_id")) : std::nullopt;
    records_seen_ = 0;
    records_not_stored_ = 0;
    vaxetl::cvms::LoadInfo info;
    info.run_id = run.run_id;
    info.input_name = std::filesystem::path(run.input_path).filename().string();
    info.input_sha256 = run.input_sha256;
    info.validate_only = run.mode == VAXETL_MODE_VALIDATE;
    validate_only_ = info.validate_only;
    try {
      store_->begin(info);
    } catch (const vaxetl::cvms::StoreBusy& e) {
      throw Error(VAXETL_IO_ERROR, std::string("the CVMS store is busy with another load: ") + e.what());
    }
  }

  // The batch's live rows go to the store in one call (PostgreSQL writes them set-based).
  void write(const ArrowArray& batch) override {
    const vaxetl::sdk::BatchView view(batch);
    records_.clear();
    rows_.clear();
    for (int64_t row = 0; row < view.rows(); ++row) {
      ++records_seen_;
      if (!view.live(row)) {
        ++records_not_stored_;
        continue;
      }
      vaxetl::cvms::BatchRecord& record = records_.emplace_back();
      for (std::size_t i = 0; i < record.values.size(); ++i) record.values[i] = view.text(columns_[i], row);
      if (mpi_column_) record.mpi_id = view.text(*mpi_column_, row);
      rows_.push_back(row);
    }
    const auto outcomes = store_->apply_batch(records_);
    for (std::size_t i = 0; i < outcomes.size(); ++i) report(rows_[i], records_[i].values, outcomes[i]);
  }

  void commit() override {
    vaxetl::cvms::LoadCounts counts;
    counts.records_read = records_seen_;
    counts.records_rejected = records_not_stored_;
    const bool dry_run = validate_only_;
    store_->commit(counts);
    warn_about_shortfalls(dry_run);
  }

  void rollback() noexcept override { store_->rollback(); }

 private:
  void report(int64_t row, const vaxetl::cvms::RecordValues& values,
              std::optional<vaxetl::cvms::ApplyOutcome> applied) {
    using vaxetl::cvms::ApplyOutcome;
    const std::string_view action = values[kActionCodeColumn];
    if (!applied) {
      if (!action.empty() && action != "A" && action != "U" && action != "D")
        reject(row, "CVMS_BAD_ACTION_CODE", "action_code must be A (add), U (update) or D (delete)");
      else if (action == "D")
        reject(row, "CVMS_KEY_MISSING",
               "a delete (action D) needs org_code and vax_event_id to name the vaccination");
      else
        reject(row, "CVMS_KEY_MISSING",
               "the record lacks org_code, vax_event_id, vtrcks_prov_pin or recip_id, or is a "
               "STATE dose without ndc or lot_number; send them all");
      return;
    }
    switch (*applied) {
      case ApplyOutcome::Inserted:
        host_.outcome(row, VAXETL_OUTCOME_ADDED);
        return;
      case ApplyOutcome::Updated:
        host_.outcome(row, VAXETL_OUTCOME_UPDATED);
        return;
      case ApplyOutcome::Voided:
        host_.outcome(row, VAXETL_OUTCOME_VOIDED);
        return;
      case ApplyOutcome::Unchanged:
        host_.outcome(row, VAXETL_OUTCOME_UNCHANGED);
        return;
      case ApplyOutcome::ConflictsWithStored:
        reject(row, "CVMS_EVENT_CONFLICT",
               "this vax_event_id was already loaded for the organization with different "
               "content; to change a loaded vaccination send it with action U in a "
               "corrections file");
        return;
      case ApplyOutcome::DuplicateInFile:
        reject(row, "CVMS_DUPLICATE_EVENT",
               "this vax_event_id appears earlier in the same file; send each vaccination once "
               "per file");
        return;
      case ApplyOutcome::UnknownEvent:
        if (action == "D")
          reject(row, "CVMS_UNKNOWN_EVENT",
                 "nothing to void: no vaccination with this vax_event_id is stored for the "
                 "organization; check the vax_event_id of the dose to delete");
        else
          reject(row, "CVMS_UNKNOWN_EVENT",
                 "no vaccination with this vax_event_id is stored for the organization; send a "
                 "new dose with action A");
        return;
      case ApplyOutcome::EventVoided:
        reject(row, "CVMS_EVENT_VOIDED",
               "this vax_event_id was voided by a D correction; a voided vaccination cannot be "
               "re-added or changed; send the dose under a new vax_event_id with action A");
        return;
    }
  }

  // One line per load, counts and keys only (PINs, NDCs and lots are not PHI; which keys is
  // for `vaxetl inventory show --discrepancies`).
  void warn_about_shortfalls(bool dry_run) const {
    const auto& counts = store_->counts();
    if (counts.short_doses == 0) return;
    std::string message("CVMS inventory: ");
    message.append(dry_run ? "this load would take " : "this load took ")
        .append(std::to_string(counts.short_doses))
        .append(counts.short_doses == 1 ? " STATE dose" : " STATE doses")
        .append(" beyond what was on hand at ")
        .append(std::to_string(counts.short_keys))
        .append(counts.short_keys == 1 ? " location/product/lot key" : " location/product/lot keys")
        .append(dry_run ? " (validate only: nothing recorded)"
                        : "; the doses are loaded and the shortfall is recorded as a discrepancy")
        .append("; see vaxetl inventory show --discrepancies");
    host_.warn(message);
  }

  void reject(int64_t row, const char* code, const char* message) {
    ++records_not_stored_;
    host_.report(row, 0, kEventIdName, code, VAXETL_SEVERITY_ERROR, message);
  }

  static constexpr const char* kEventIdName = vaxetl::canonical::kColumns[kEventIdColumn].data();

  vaxetl::sdk::Host host_;
  std::unique_ptr<vaxetl::cvms::CvmsStore> store_;
  std::array<std::size_t, vaxetl::canonical::kColumns.size()> columns_{};
  std::optional<std::size_t> mpi_column_;  // the mpi transform's output, when it ran
  std::vector<vaxetl::cvms::BatchRecord> records_;  // reused per batch
  std::vector<int64_t> rows_;                       // each record's row in the batch
  uint64_t records_seen_ = 0;
  bool validate_only_ = false;
  uint64_t records_not_stored_ = 0;
};

}  // namespace

VAXETL_EXPORT_SINK(CvmsSink, kInfo)
