// The CVMS sink plugin: loads canonical records into the CVMS store (SQLite), one transaction
// per input file. Records the store cannot take (a vax_event_id already loaded with other
// content, or repeated within the file) are rejected with a reason; nothing else is.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "cvms_store.hpp"
#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/plugin.hpp"

namespace {

using vaxetl::sdk::Error;

const vaxetl_config_field kConfigFields[] = {
    {"database", VAXETL_CONFIG_PATH, VAXETL_CONFIG_REQUIRED, nullptr, nullptr,
     "the CVMS SQLite database file (created when absent)"},
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

class CvmsSink final : public vaxetl::sdk::Sink {
 public:
  explicit CvmsSink(const vaxetl::sdk::CreateContext& context) : host_(context.host) {
    vaxetl::cvms::StoreOptions options;
    options.database = context.config.get_string("database");
    options.products_path = context.data_path(context.config.get_string("products"));
    options.schema_path = context.data_path(context.config.get_string("schema"));
    options.cache_kib = static_cast<std::size_t>(context.config.get_int("cache_mib")) * 1024;
    options.busy_timeout_ms = static_cast<int>(context.config.get_int("busy_timeout_ms"));
    const auto parent = std::filesystem::path(options.database).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
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
    records_seen_ = 0;
    records_not_stored_ = 0;
    vaxetl::cvms::LoadInfo info;
    info.run_id = run.run_id;
    info.input_name = std::filesystem::path(run.input_path).filename().string();
    info.input_sha256 = run.input_sha256;
    info.validate_only = run.mode == VAXETL_MODE_VALIDATE;
    try {
      store_->begin(info);
    } catch (const vaxetl::cvms::StoreBusy& e) {
      throw Error(VAXETL_IO_ERROR, std::string("the CVMS store is busy with another load: ") + e.what());
    }
  }

  void write(const ArrowArray& batch) override {
    const vaxetl::sdk::BatchView view(batch);
    vaxetl::cvms::RecordValues values;
    for (int64_t row = 0; row < view.rows(); ++row) {
      ++records_seen_;
      if (!view.live(row)) {
        ++records_not_stored_;
        continue;
      }
      for (std::size_t i = 0; i < values.size(); ++i) values[i] = view.text(columns_[i], row);
      apply(row, values);
    }
  }

  void commit() override {
    vaxetl::cvms::LoadCounts counts;
    counts.records_read = records_seen_;
    counts.records_rejected = records_not_stored_;
    store_->commit(counts);
  }

  void rollback() noexcept override { store_->rollback(); }

 private:
  void apply(int64_t row, const vaxetl::cvms::RecordValues& values) {
    using vaxetl::cvms::ApplyOutcome;
    ApplyOutcome outcome;
    try {
      outcome = store_->apply(values);
    } catch (const std::invalid_argument&) {
      reject(row, "CVMS_KEY_MISSING",
             "the record lacks org_code, vax_event_id, vtrcks_prov_pin or recip_id; send all four");
      return;
    }
    switch (outcome) {
      case ApplyOutcome::Inserted:
      case ApplyOutcome::Unchanged:
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
    }
  }

  void reject(int64_t row, const char* code, const char* message) {
    ++records_not_stored_;
    host_.report(row, 0, kEventIdName, code, VAXETL_SEVERITY_ERROR, message);
  }

  static constexpr const char* kEventIdName = vaxetl::canonical::kColumns[kEventIdColumn].data();

  vaxetl::sdk::Host host_;
  std::unique_ptr<vaxetl::cvms::CvmsStore> store_;
  std::array<std::size_t, vaxetl::canonical::kColumns.size()> columns_{};
  uint64_t records_seen_ = 0;
  uint64_t records_not_stored_ = 0;
};

}  // namespace

VAXETL_EXPORT_SINK(CvmsSink, kInfo)
